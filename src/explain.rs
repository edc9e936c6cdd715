//! `explain`: one rule for one patient, as the tree of its conditions with the value of every
//! node, what each predicate read, and why the rule fired, did not fire, was superseded, was
//! suppressed by an exception or ended a data gap. "Why not" is said as plainly as "why".

use crate::compile::{Node, RuleGraph};
use crate::eval::{Outcome, oracle};
use crate::ir::*;
use crate::patient::{ConditionRecord, EntryState, Patient, PatientFacts};
use crate::value::{Tri, Value};
use serde::Serialize;

/// Explanations of rules for one patient.
#[derive(Clone, Debug, Serialize)]
pub struct PatientExplanation {
    /// The patient's id.
    pub patient: String,
    /// The evaluation date.
    pub as_of: crate::date::Date,
    /// One explanation per rule asked about.
    pub rules: Vec<Explanation>,
}

impl PatientExplanation {
    /// Explains `rules` for `patient` at `as_of`.
    pub fn new(
        g: &RuleGraph,
        patient: &Patient<'_>,
        as_of: crate::date::Date,
        rules: &[RuleId],
    ) -> Result<PatientExplanation, crate::patient::RecordError> {
        let mut facts = PatientFacts::default();
        facts.build(patient, &g.vocabulary, as_of)?;
        Ok(PatientExplanation {
            patient: patient.id.to_string(),
            as_of,
            rules: rules
                .iter()
                .map(|&r| explain(g, &facts, patient, r))
                .collect(),
        })
    }

    /// For a person.
    pub fn render_text(&self) -> String {
        let mut out = format!("Patient {}, as of {}\n\n", self.patient, self.as_of);
        for x in &self.rules {
            out.push_str(&render_text(x));
            out.push('\n');
        }
        out
    }
}

/// How one rule came out for one patient, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    /// The rule.
    pub rule: String,
    /// Its pack.
    pub pack: String,
    /// `fired`, `not fired`, `suppressed`, `superseded` or `data gap`.
    pub outcome: &'static str,
    /// The severity it fired with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// The reason, in one sentence.
    pub because: String,
    /// The `when` condition.
    pub when: Step,
    /// The `unless` exceptions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unless: Vec<Step>,
    /// The downgrades, with the severity each lowers to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub downgrades: Vec<(Severity, Step)>,
}

/// One node of a condition: its text, its value, what it read and its parts.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// The expression as written.
    pub expr: String,
    /// `true`, `false`, `unknown`, or a number with its unit, or a date.
    pub value: String,
    /// What a predicate read from the patient's record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<String>,
    /// Why the value is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_because: Option<String>,
    /// The parts of the expression.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Step>,
    #[serde(skip)]
    tri: Tri,
    /// `and`, `or`, `not`: explained by their parts.
    #[serde(skip)]
    connective: bool,
    /// `not`: its part decides the opposite way.
    #[serde(skip)]
    negation: bool,
    /// A number, date or truth value written in the rule: not worth a line of its own.
    #[serde(skip)]
    literal: bool,
}

/// Explains rule `r` for a patient whose facts are built.
pub fn explain(g: &RuleGraph, f: &PatientFacts, patient: &Patient<'_>, r: RuleId) -> Explanation {
    let x = Explainer { g, f, patient };
    let def = &g.program.rules[r];
    let outcomes = oracle::outcomes(g, f);
    let when = x.step(&def.when);
    let unless: Vec<Step> = def.unless.iter().map(|u| x.step(u)).collect();
    let downgrades: Vec<(Severity, Step)> = def
        .downgrades
        .iter()
        .map(|(s, e)| (*s, x.step(e)))
        .collect();
    let (outcome, severity, because) = match outcomes[r] {
        Outcome::Fired(s) => {
            let lowered = downgrades
                .iter()
                .filter(|(_, d)| d.tri == Tri::True)
                .map(|(to, d)| format!("; lowered to {} because {} is true", to.name(), d.expr))
                .collect::<String>();
            let open = unless
                .iter()
                .filter(|u| u.tri == Tri::Unknown)
                .map(|u| {
                    format!(
                        "; the exception `{}` could not be decided ({})",
                        u.expr,
                        causes(u).join("; ")
                    )
                })
                .collect::<String>();
            (
                "fired",
                Some(s),
                format!("{}{lowered}{open}", causes(&when).join("; ")),
            )
        }
        Outcome::Suppressed(i) => (
            "suppressed",
            None,
            format!(
                "its condition holds, but the exception `{}` is true",
                unless[i].expr
            ),
        ),
        Outcome::Superseded(by) => (
            "superseded",
            None,
            format!(
                "{}, but `{}` fired and supersedes it",
                if when.tri == Tri::Unknown {
                    "its condition could not be decided"
                } else {
                    "its condition holds"
                },
                g.program.rules[by].name
            ),
        ),
        Outcome::DataGap => (
            "data gap",
            None,
            format!("it could not be decided: {}", causes(&when).join("; ")),
        ),
        Outcome::NotFired | Outcome::Skipped => ("not fired", None, causes(&when).join("; ")),
    };
    Explanation {
        rule: def.name.clone(),
        pack: g.program.packs[def.pack].name.clone(),
        outcome,
        severity,
        because,
        when,
        unless,
        downgrades,
    }
}

/// The leaves that decided a step's value: for false, the false parts of an `and` (all parts of
/// an `or`); for unknown, the unknown leaves with their reasons; for true, the true parts.
fn causes(step: &Step) -> Vec<String> {
    let mut out = Vec::new();
    collect_causes(step, step.tri, &mut out);
    out
}

fn collect_causes(step: &Step, want: Tri, out: &mut Vec<String>) {
    if step.connective {
        let want_part = if step.negation { !want } else { want };
        let deciding: Vec<&Step> = step.parts.iter().filter(|p| p.tri == want_part).collect();
        if !deciding.is_empty() {
            for p in deciding {
                collect_causes(p, want_part, out);
            }
            return;
        }
    }
    if want == Tri::Unknown && step.unknown_because.is_none() {
        let unknown: Vec<&Step> = step
            .parts
            .iter()
            .filter(|p| p.tri == Tri::Unknown)
            .collect();
        if !unknown.is_empty() {
            for p in unknown {
                collect_causes(p, Tri::Unknown, out);
            }
            return;
        }
    }
    out.push(match (want, &step.unknown_because) {
        (Tri::Unknown, Some(why)) => format!("`{}` is unknown: {why}", step.expr),
        _ if step.read.is_empty() => format!("`{}` is {}", step.expr, step.value),
        _ => format!(
            "`{}` is {} ({})",
            step.expr,
            step.value,
            step.read.join("; ")
        ),
    });
}

struct Explainer<'a> {
    g: &'a RuleGraph,
    f: &'a PatientFacts,
    patient: &'a Patient<'a>,
}

impl Explainer<'_> {
    fn text(&self, e: &TExpr) -> String {
        self.g
            .sources
            .text_of(e.span)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn step(&self, e: &TExpr) -> Step {
        let value = oracle::eval(self.g, self.f, e);
        if let TKind::Quantified(q) = &e.kind {
            return self.quantified(e, q, value);
        }
        let negation = matches!(e.kind, TKind::Not(_));
        let (parts, connective) = match &e.kind {
            TKind::And(..) | TKind::Or(..) => {
                let mut parts = Vec::new();
                self.flatten(e, &mut parts);
                (parts, true)
            }
            TKind::Not(a) => (vec![self.step(a)], true),
            TKind::Cmp(_, a, b) | TKind::Add(a, b) | TKind::Sub(a, b) => {
                (vec![self.step(a), self.step(b)], false)
            }
            TKind::Scale(a, _) => (vec![self.step(a)], false),
            // A dose on a computed day shows how the day was reached (`stop_date(...) - 28 days`).
            TKind::DailyDose(_, _, Some(on))
                if !matches!(on.kind, TKind::Date(_) | TKind::AsOf) =>
            {
                (vec![self.step(on)], false)
            }
            _ => (Vec::new(), false),
        };
        let node = match &e.kind {
            // A dose on a day that is not known is unknown for that day's reason (its part).
            TKind::DailyDose(_, _, Some(on))
                if !matches!(oracle::eval(self.g, self.f, on), Value::Date(_)) =>
            {
                None
            }
            TKind::DailyDose(d, r, _) => Some(Node::DailyDose(*d, *r, None)),
            kind => crate::compile::leaf(kind),
        };
        let unknown_because = match (value, &node) {
            (Value::Unknown | Value::Bool(Tri::Unknown), Some(n)) => {
                crate::eval::unknown_reason(self.g, self.f, self.patient, n)
            }
            _ => None,
        };
        Step {
            expr: self.text(e),
            value: show(value, e.ty),
            read: self.read(e, value),
            unknown_because,
            parts: parts.into_iter().filter(|p| !p.literal).collect(),
            tri: match value {
                Value::Bool(t) => t,
                Value::Unknown => Tri::Unknown,
                _ => Tri::True,
            },
            connective,
            negation,
            literal: matches!(e.kind, TKind::Number(_) | TKind::Date(_) | TKind::Bool(_)),
        }
    }

    /// A quantifier: one part per ingredient the patient's record holds (every ingredient when
    /// the medication list is absent), and one line for the others, false (for `sum`, zero)
    /// without them.
    fn quantified(&self, e: &TExpr, q: &Quantified, value: Value) -> Step {
        let p = &self.g.program;
        let table = p.tables.iter().find(|t| t.name == q.domain);
        let mut parts = Vec::new();
        let mut absent = 0;
        for (drug, body) in &q.branches {
            if self.f.meds_provided && !self.f.visible.get(*drug) {
                absent += 1;
                continue;
            }
            let mut step = self.step(body);
            let quantity = table
                .and_then(|t| t.get(*drug))
                .map_or_else(String::new, |v| {
                    let unit = match table.map_or("", |t| t.unit()) {
                        "" => String::new(),
                        u => format!(" {u}"),
                    };
                    format!(
                        ", {}[{}] = {}{unit}",
                        q.domain,
                        q.var,
                        crate::value::format_number(v)
                    )
                });
            step.expr = format!(
                "[{} = {}{quantity}] {}",
                q.var, p.drugs[*drug].name, step.expr
            );
            parts.push(step);
        }
        if absent > 0 {
            let sum = q.quantifier == crate::ir::Quantifier::Sum;
            parts.push(Step {
                expr: format!(
                    "[{} = the {absent} other ingredients of {}]",
                    q.var, q.domain
                ),
                value: if sum { "0" } else { "false" }.into(),
                read: vec!["not in the patient's medication entries".into()],
                unknown_because: None,
                parts: Vec::new(),
                tri: if sum { Tri::True } else { Tri::False },
                connective: false,
                negation: false,
                literal: false,
            });
        }
        Step {
            expr: self.text(e),
            value: show(value, e.ty),
            read: Vec::new(),
            unknown_because: None,
            parts,
            tri: value.tri(),
            connective: true,
            negation: false,
            literal: false,
        }
    }

    /// The operands of a chain of one connective, flattened (`a and b and c`).
    fn flatten(&self, e: &TExpr, out: &mut Vec<Step>) {
        match &e.kind {
            TKind::And(a, b) => {
                for x in [a, b] {
                    if matches!(x.kind, TKind::And(..)) {
                        self.flatten(x, out);
                    } else {
                        out.push(self.step(x));
                    }
                }
            }
            TKind::Or(a, b) => {
                for x in [a, b] {
                    if matches!(x.kind, TKind::Or(..)) {
                        self.flatten(x, out);
                    } else {
                        out.push(self.step(x));
                    }
                }
            }
            _ => out.push(self.step(e)),
        }
    }

    /// What a predicate read from the record, in words.
    fn read(&self, e: &TExpr, value: Value) -> Vec<String> {
        let g = self.g;
        let f = self.f;
        let entries = |s: SetRef, want: &dyn Fn(&crate::patient::MedFact) -> bool| -> Vec<String> {
            let bit = g.vocabulary.bit(s);
            f.meds
                .iter()
                .filter(|m| {
                    want(m)
                        && f.drugs_of(m)
                            .iter()
                            .any(|&d| g.vocabulary.drug_bits[d].get(bit))
                })
                .map(|m| self.entry(m))
                .collect()
        };
        let none = |what: &str| {
            vec![format!(
                "no {what} among the patient's {} medication entries",
                f.meds.len()
            )]
        };
        match &e.kind {
            TKind::Count(s, dosing) if *dosing != Dosing::Any => {
                let found = entries(*s, &|m| {
                    m.state == EntryState::Taking && dosing.reads(m.prn)
                });
                if found.is_empty() && f.meds_provided {
                    none(&format!(
                        "{} being taken{}",
                        set_name(g, *s),
                        dosing.words()
                    ))
                } else {
                    found
                }
            }
            TKind::Taking(s)
            | TKind::Count(s, _)
            | TKind::TakingBy(s, _)
            | TKind::Reduced(s, _) => {
                let found = entries(*s, &|m| m.state == EntryState::Taking);
                if found.is_empty() && f.meds_provided {
                    none(&format!("{} being taken", set_name(g, *s)))
                } else {
                    found
                }
            }
            TKind::New(s) => {
                let found = entries(*s, &|m| m.draft);
                if found.is_empty() && f.meds_provided {
                    none(&format!("draft order for {}", set_name(g, *s)))
                } else {
                    found
                }
            }
            TKind::RouteIs(d, _)
            | TKind::Stopped(d, ..)
            | TKind::Tapered(d, ..)
            | TKind::StopDate(d, _)
            | TKind::DailyDose(d, ..) => {
                let found = entries(SetRef::Drug(*d), &|m| m.state != EntryState::Invisible);
                if found.is_empty() && f.meds_provided {
                    none(&format!("entry of {}", g.program.drugs[*d].name))
                } else {
                    found
                }
            }
            TKind::Has(c) | TKind::Had(c) => self.conditions(*c),
            TKind::Lab(l, w) => match crate::eval::predicates::latest_lab(f, *l, *w) {
                Some(lab) => vec![format!(
                    "{} {} on {}{}",
                    g.program.labs[*l].name,
                    show(value, e.ty),
                    lab.date,
                    if lab.derived {
                        " (by Cockcroft-Gault)"
                    } else {
                        ""
                    }
                )],
                None => Vec::new(),
            },
            TKind::Age => match self.patient.birth_date.as_deref() {
                Some(b) => vec![format!("born {b}")],
                None => self
                    .patient
                    .age
                    .map(|a| vec![format!("age given as {a}")])
                    .unwrap_or_default(),
            },
            _ => Vec::new(),
        }
    }

    fn conditions(&self, c: ConditionId) -> Vec<String> {
        let def = &self.g.program.conditions[c];
        let Some(list) = &self.patient.conditions else {
            return Vec::new();
        };
        let mut matched = Vec::new();
        for rec in list {
            let mut hit = false;
            if let Some((system, code)) = rec.read_code() {
                self.g
                    .vocabulary
                    .match_condition(system, code, |id| hit |= id == c);
            }
            if hit {
                matched.push(format!(
                    "{} ({})",
                    rec.label(),
                    format!("{:?}", rec.status).to_lowercase()
                ));
            }
        }
        if matched.is_empty() {
            let codes: Vec<String> = def
                .icd10
                .iter()
                .map(|p| format!("ICD-10-CM {p}*"))
                .chain(def.snomed.iter().map(|s| format!("SNOMED CT {s}")))
                .collect();
            let listed: Vec<String> = list.iter().map(ConditionRecord::label).collect();
            vec![format!(
                "no condition coded {} among the patient's conditions ({})",
                codes.join(", "),
                if listed.is_empty() {
                    "none".to_string()
                } else {
                    listed.join(", ")
                }
            )]
        } else {
            matched
        }
    }

    fn entry(&self, m: &crate::patient::MedFact) -> String {
        let e = crate::eval::entry_ref(self.g, self.f, self.patient, m);
        format!("{} \"{}\"", e.id, e.text)
    }
}

fn set_name(g: &RuleGraph, s: SetRef) -> String {
    match s {
        SetRef::Drug(d) => g.program.drugs[d].name.clone(),
        SetRef::Class(c) => format!("class {}", g.program.classes[c].name),
    }
}

fn show(v: Value, ty: Type) -> String {
    match v {
        Value::Bool(t) => match t {
            Tri::True => "true",
            Tri::False => "false",
            Tri::Unknown => "unknown",
        }
        .into(),
        Value::Num(x) => match ty {
            Type::Quantity(dim) => format!("{x} {}", dim.canonical_unit()),
            _ => x.to_string(),
        },
        Value::Date(d) => d.to_string(),
        Value::Unknown => "unknown".into(),
    }
}

/// Renders an explanation for a person.
pub fn render_text(x: &Explanation) -> String {
    let mut out = format!(
        "Rule {} ({}): {}{}\n  because {}\n",
        x.rule,
        x.pack,
        x.outcome.to_uppercase(),
        x.severity
            .map(|s| format!(" ({})", s.name()))
            .unwrap_or_default(),
        x.because
    );
    tree(&mut out, "when", &x.when, 1);
    for u in &x.unless {
        tree(&mut out, "unless", u, 1);
    }
    for (s, d) in &x.downgrades {
        tree(&mut out, &format!("downgrade to {} when", s.name()), d, 1);
    }
    out
}

fn tree(out: &mut String, label: &str, step: &Step, depth: usize) {
    let pad = "  ".repeat(depth);
    let mut line = format!(
        "{pad}{label}{}{}  = {}",
        if label.is_empty() { "" } else { " " },
        step.expr,
        step.value
    );
    if !step.read.is_empty() {
        line.push_str(&format!("   [{}]", step.read.join("; ")));
    }
    if let Some(why) = &step.unknown_because {
        line.push_str(&format!("   (unknown: {why})"));
    }
    out.push_str(&line);
    out.push('\n');
    for p in &step.parts {
        tree(out, "", p, depth + 1);
    }
}
