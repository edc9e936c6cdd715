//! Tests written in packs: each `test` block becomes a [`TestCase`] whose patient is a record of
//! the same form as real input, so a test's medications go through the real resolver.

use super::{Checker, Decl};
use crate::diagnostic::{Diagnostic, Span, suggestion};
use crate::ir::*;
use crate::patient::{
    ConditionRecord, ConditionStatus, Dose, EntrySource, LabRecord, LabValue, MedicationRecord,
    MedicationStatus, Patient, Sex,
};
use crate::route::Route;
use crate::syntax::ast::{
    ExpectDecl, Ident, Item, LabRef, MedAttr, Str, TestDecl, TestExpect, TestFact, TestValue,
};
use crate::units::{self, Dimension};
use std::borrow::Cow;
use std::collections::HashMap;

const STATUSES: [(&str, MedicationStatus); 9] = [
    ("active", MedicationStatus::Active),
    ("on-hold", MedicationStatus::OnHold),
    ("draft", MedicationStatus::Draft),
    ("stopped", MedicationStatus::Stopped),
    ("completed", MedicationStatus::Completed),
    ("cancelled", MedicationStatus::Cancelled),
    ("entered-in-error", MedicationStatus::EnteredInError),
    ("not-taken", MedicationStatus::NotTaken),
    ("proposed", MedicationStatus::Proposed),
];

const CONDITION_STATUSES: [(&str, ConditionStatus); 8] = [
    ("active", ConditionStatus::Active),
    ("recurrence", ConditionStatus::Recurrence),
    ("relapse", ConditionStatus::Relapse),
    ("inactive", ConditionStatus::Inactive),
    ("remission", ConditionStatus::Remission),
    ("resolved", ConditionStatus::Resolved),
    ("refuted", ConditionStatus::Refuted),
    ("entered-in-error", ConditionStatus::EnteredInError),
];

const SEXES: [(&str, Sex); 4] = [
    ("female", Sex::Female),
    ("male", Sex::Male),
    ("other", Sex::Other),
    ("unknown", Sex::Unknown),
];

fn owned(s: &str) -> Cow<'static, str> {
    Cow::Owned(s.to_string())
}

fn bad(span: Span, message: String, help: impl Into<String>) -> Diagnostic {
    Diagnostic::error("E060", span, message).with_help(help)
}

/// A word from a fixed table, or a diagnostic with the closest word.
fn word<T: Copy>(table: &[(&str, T)], ident: &Ident, what: &str) -> Result<T, Diagnostic> {
    if let Some((_, v)) = table.iter().find(|(w, _)| *w == ident.name) {
        return Ok(*v);
    }
    let names: Vec<&str> = table.iter().map(|(w, _)| *w).collect();
    let help = suggestion(&ident.name, names.iter().copied(), || {
        format!("{what} is one of: {}", names.join(", "))
    });
    Err(bad(
        ident.span,
        format!("unknown {what} `{}`", ident.name),
        help,
    ))
}

impl Checker<'_> {
    pub(super) fn define_tests(&mut self, pack: PackId, items: &[Item]) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for item in items {
            let Item::Test(test) = item else { continue };
            if let Some(first) = seen.insert(&test.name.value, test.name.span) {
                let at = self.sources.location(first);
                self.error(
                    Diagnostic::error(
                        "E011",
                        test.name.span,
                        format!("a second test named \"{}\"", test.name.value),
                    )
                    .with_help(format!("the first is at {at}; give each test its own name")),
                );
            }
            if let Some(case) = self.test_case(pack, test) {
                self.program.tests.push(case);
            }
        }
    }

    fn test_case(&mut self, pack: PackId, test: &TestDecl) -> Option<TestCase> {
        let as_of = self.one(
            &test.as_of,
            test,
            "as_of",
            "add `as_of 2026-11-01`: tests pin their date",
        );
        let patient = self.one(
            &test.patients,
            test,
            "patient",
            "add `patient { age 70; med \"...\" }`",
        );
        if test.expects.is_empty() {
            self.error(
                Diagnostic::error("E040", test.name.span, "a test without `expect`").with_help(
                    "say what must hold: `expect RULE`, `expect no RULE`, `expect gap RULE`",
                ),
            );
        }
        let expects: Vec<Option<Expectation>> =
            test.expects.iter().map(|e| self.expectation(e)).collect();
        let (as_of, as_of_span) = as_of?;
        let Some(as_of) = *as_of else {
            self.error(bad(
                *as_of_span,
                "not a calendar date".into(),
                "write a real day, YYYY-MM-DD",
            ));
            return None;
        };
        let (facts, _) = patient?;
        let medication_spans = facts
            .iter()
            .filter_map(|f| match f {
                TestFact::Med { text, .. } => Some(text.span),
                _ => None,
            })
            .collect();
        let patient = match self.patient(pack, &test.name.value, facts) {
            Ok(p) => p,
            Err(errors) => {
                self.errors.extend(errors);
                return None;
            }
        };
        Some(TestCase {
            name: test.name.value.clone(),
            pack,
            span: test.span,
            as_of,
            patient,
            medication_spans,
            expects: expects.into_iter().collect::<Option<_>>()?,
        })
    }

    /// The one field of a kind a test must have.
    fn one<'t, T>(
        &mut self,
        fields: &'t [(T, Span)],
        test: &TestDecl,
        keyword: &str,
        help: &str,
    ) -> Option<&'t (T, Span)> {
        match fields {
            [] => {
                self.error(
                    Diagnostic::error(
                        "E040",
                        test.name.span,
                        format!("test \"{}\" has no `{keyword}`", test.name.value),
                    )
                    .with_help(help.to_string()),
                );
                None
            }
            [one] => Some(one),
            [_, second, ..] => {
                self.error(
                    Diagnostic::error(
                        "E041",
                        second.1,
                        format!("a second `{keyword}` in one test"),
                    )
                    .with_help("keep one"),
                );
                None
            }
        }
    }

    fn expectation(&mut self, e: &TestExpect) -> Option<Expectation> {
        let kind = match &e.kind {
            ExpectDecl::Fires {
                rule,
                severity,
                contains,
            } => {
                let rule = self.lookup_rule(None, rule);
                let severity = match severity {
                    Some(s) => Some(self.severity(s)?),
                    None => None,
                };
                Expect::Fires {
                    rule: rule?,
                    severity,
                    contains: contains.iter().map(|s| s.value.clone()).collect(),
                }
            }
            ExpectDecl::No(r) => Expect::No(self.lookup_rule(None, r)?),
            ExpectDecl::Gap(r) => Expect::Gap(self.lookup_rule(None, r)?),
            ExpectDecl::Superseded(r) => Expect::Superseded(self.lookup_rule(None, r)?),
            ExpectDecl::Unrecognized(s) => Expect::Unrecognized(s.value.clone()),
        };
        Some(Expectation { kind, span: e.span })
    }

    /// The test patient as a record of our input format, or every mistake in it.
    fn patient(
        &mut self,
        pack: PackId,
        name: &str,
        facts: &[TestFact],
    ) -> Result<Patient<'static>, Vec<Diagnostic>> {
        let mut errors: Vec<Diagnostic> = Vec::new();
        let mut p = Patient {
            id: owned(name),
            birth_date: None,
            age: None,
            sex: None,
            weight_kg: None,
            height_cm: None,
            conditions: Some(Vec::new()),
            labs: Some(Vec::new()),
            medications: Some(Vec::new()),
            deceased: None,
        };
        let mut unknown: Vec<&Ident> = Vec::new();
        // A mistake already reported elsewhere (an unknown lab name).
        let mut failed = false;
        for fact in facts {
            let result = match fact {
                TestFact::Unknown(section) => {
                    match section.name.as_str() {
                        "conditions" => p.conditions = None,
                        "labs" => p.labs = None,
                        _ => p.medications = None,
                    }
                    unknown.push(section);
                    Ok(())
                }
                TestFact::Age(n, span) => {
                    if n.fract() == 0.0 && (0.0..=150.0).contains(n) {
                        p.age = Some(*n as u32);
                        Ok(())
                    } else {
                        Err(bad(
                            *span,
                            format!("age {n} is not a whole number of years"),
                            "write completed years, such as `age 65`",
                        ))
                    }
                }
                TestFact::Born(b, _) => {
                    p.birth_date = Some(owned(b));
                    Ok(())
                }
                TestFact::Sex(s) => word(&SEXES, s, "sex").map(|v| p.sex = Some(v)),
                TestFact::Weight(q) => self
                    .test_quantity(q, Dimension::Weight, "a weight, such as `weight 70 kg`")
                    .map(|kg| p.weight_kg = Some(kg)),
                TestFact::Height(q) => self
                    .test_quantity(q, Dimension::Length, "a height, such as `height 170 cm`")
                    .map(|cm| p.height_cm = Some(cm)),
                TestFact::Condition {
                    system,
                    code,
                    status,
                } => condition(system.as_ref(), code, status.as_ref())
                    .map(|c| p.conditions.get_or_insert_with(Vec::new).push(c)),
                TestFact::Lab {
                    lab,
                    value,
                    unit,
                    date,
                    span,
                } => match self.test_lab(pack, lab, value, unit.as_ref(), *date, *span) {
                    Ok(l) => {
                        p.labs.get_or_insert_with(Vec::new).push(l);
                        Ok(())
                    }
                    Err(Some(e)) => Err(e),
                    Err(None) => {
                        failed = true;
                        Ok(())
                    }
                },
                TestFact::Med { text, attrs } => medication(text, attrs)
                    .map(|m| p.medications.get_or_insert_with(Vec::new).push(m)),
            };
            if let Err(e) = result {
                errors.push(e);
            }
        }
        for section in unknown {
            let listed = match section.name.as_str() {
                "conditions" => p.conditions.as_ref().is_some_and(|c| !c.is_empty()),
                "labs" => p.labs.as_ref().is_some_and(|c| !c.is_empty()),
                _ => p.medications.as_ref().is_some_and(|c| !c.is_empty()),
            };
            if listed {
                errors.push(bad(
                    section.span,
                    format!("`{} unknown` in a patient that lists some", section.name),
                    "a section is either unknown (absent) or listed (possibly empty), not both",
                ));
            }
        }
        if errors.is_empty() && !failed {
            Ok(p)
        } else {
            Err(errors)
        }
    }

    fn test_quantity(
        &mut self,
        q: &crate::syntax::ast::Expr,
        dimension: Dimension,
        help: &str,
    ) -> Result<f64, Diagnostic> {
        use crate::syntax::ast::ExprKind;
        let ExprKind::Number(value, Some(unit)) = &q.kind else {
            return Err(bad(q.span, "a quantity needs its unit".into(), help));
        };
        match units::lookup(&unit.name) {
            Some(u) if u.dimension == dimension => Ok(value * u.factor),
            None => Err(super::vocab::unknown_unit(unit)),
            Some(_) => Err(Diagnostic::error(
                "E021",
                unit.span,
                format!("`{}` is not {}", unit.name, dimension.describe()),
            )
            .with_help(help.to_string())),
        }
    }

    fn test_lab(
        &mut self,
        pack: PackId,
        lab: &LabRef,
        value: &TestValue,
        unit: Option<&Ident>,
        date: Option<crate::date::Date>,
        span: Span,
    ) -> Result<LabRecord<'static>, Option<Diagnostic>> {
        let (loinc, canonical) = match lab {
            LabRef::Loinc(code) => (code.value.clone(), None),
            LabRef::Name(name) => {
                let Some(Decl::Lab(id)) =
                    self.lookup(pack, name, "a lab", |d| matches!(d, Decl::Lab(_)))
                else {
                    // Reported by the lookup.
                    return Err(None);
                };
                let def = &self.program.labs[id];
                let Some(first) = def.loinc.first() else {
                    return Err(Some(bad(
                        name.span,
                        format!("lab `{}` has no LOINC code", name.name),
                        "write the result's LOINC code in quotes",
                    )));
                };
                (first.clone(), Some(def.dimension.canonical_unit()))
            }
        };
        let unit = match (unit, canonical) {
            (Some(u), _) => u.name.clone(),
            (None, Some(c)) => c.to_string(),
            (None, None) => {
                return Err(Some(bad(
                    span,
                    "a lab given by LOINC code needs its unit".into(),
                    "write the unit before `on`, such as `1.2 mg/dL`",
                )));
            }
        };
        let Some(date) = date else {
            return Err(Some(bad(
                span,
                "the result's date is not a calendar day".into(),
                "write a real day, YYYY-MM-DD",
            )));
        };
        let value = match value {
            TestValue::Number(n, _) => LabValue::Number(*n),
            TestValue::Text(t) => LabValue::Text(owned(&t.value)),
        };
        Ok(LabRecord {
            id: None,
            loinc: Cow::Owned(loinc),
            value,
            unit: Cow::Owned(unit),
            date: Cow::Owned(date.to_string()),
        })
    }
}

fn condition(
    system: Option<&Ident>,
    code: &Str,
    status: Option<&Ident>,
) -> Result<ConditionRecord<'static>, Diagnostic> {
    let system = match system.map(|s| s.name.as_str()) {
        Some("snomed") => "snomed",
        _ => "icd10",
    };
    let status = match status {
        Some(s) => word(&CONDITION_STATUSES, s, "condition status")?,
        None => ConditionStatus::Active,
    };
    Ok(ConditionRecord {
        id: None,
        code: Some(owned(&code.value)),
        system: Some(std::borrow::Cow::Borrowed(system)),
        status,
        text: None,
    })
}

/// A test medication as a record: its words are read the way the record fields are.
fn medication(text: &Str, attrs: &[MedAttr]) -> Result<MedicationRecord<'static>, Diagnostic> {
    let mut m = MedicationRecord {
        id: None,
        text: owned(&text.value),
        rxnorm: None,
        atc: None,
        dose: None,
        frequency: None,
        prn: false,
        route: None,
        status: MedicationStatus::Active,
        status_changed: None,
        start: None,
        end: None,
        source: None,
    };
    for attr in attrs {
        match attr {
            MedAttr::Dose(value, unit) => {
                m.dose = Some(Dose {
                    value: *value,
                    unit: owned(&unit.name),
                })
            }
            MedAttr::From(date, span) | MedAttr::To(date, span) | MedAttr::Held(date, span) => {
                let Some(date) = date else {
                    return Err(bad(
                        *span,
                        "not a calendar date".into(),
                        "write a real day, YYYY-MM-DD",
                    ));
                };
                let slot = match attr {
                    MedAttr::From(..) => &mut m.start,
                    MedAttr::Held(..) => &mut m.status_changed,
                    _ => &mut m.end,
                };
                *slot = Some(Cow::Owned(date.to_string()));
            }
            MedAttr::Code(field, value) => {
                let slot = match field.name.as_str() {
                    "rxnorm" => &mut m.rxnorm,
                    "atc" => &mut m.atc,
                    _ => &mut m.id,
                };
                *slot = Some(owned(&value.value));
            }
            MedAttr::Text(frequency) => m.frequency = Some(owned(&frequency.value)),
            MedAttr::Word(w) => med_word(&mut m, w)?,
        }
    }
    Ok(m)
}

fn med_word(m: &mut MedicationRecord<'static>, w: &Ident) -> Result<(), Diagnostic> {
    let word = w.name.as_str();
    if let Some((_, status)) = STATUSES.iter().find(|(s, _)| *s == word) {
        m.status = *status;
    } else if word == "prn" {
        m.prn = true;
    } else if word == "statement" || word == "request" {
        m.source = Some(if word == "statement" {
            EntrySource::Statement
        } else {
            EntrySource::Request
        });
    } else if Route::from_record(word).is_some() {
        m.route = Some(owned(word));
    } else if crate::patient::frequency_per_day(word).is_some() {
        m.frequency = Some(owned(word));
    } else {
        let known = STATUSES
            .iter()
            .map(|(s, _)| *s)
            .chain(crate::route::ROUTES.iter().map(|r| r.name()))
            .chain([
                "prn",
                "statement",
                "request",
                "daily",
                "bid",
                "tid",
                "qid",
                "q6h",
                "q8h",
                "q12h",
            ]);
        let help = suggestion(word, known, || {
            "a medication detail is a dose (10 mg), a frequency (tid, q6h), a route (oral), a status (draft, stopped), prn, statement, `from DATE` or `to DATE`".to_string()
        });
        return Err(bad(
            w.span,
            format!("unknown medication detail `{word}`"),
            help,
        ));
    }
    Ok(())
}
