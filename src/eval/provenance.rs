//! Building the report after evaluation: provenance for the rules that fired, reasons for the
//! data gaps, unrecognized entries, and what could not be read. Runs once per patient, after the
//! hot path, and only walks the rules that fired or ended in a gap.

mod status;

use super::{Memo, Outcome, Scratch, predicates, value};
use crate::compile::{Node, NodeId, RuleGraph};
use crate::ir::{Derivation, Dosing, Piece, Quantifier, RuleId, SetRef, Template, Type};
use crate::patient::{
    DailyDose, EntryState, LabProblem, MedFact, Patient, PatientFacts, ResolvedBy,
};
use crate::report::*;
use crate::units::Dimension;
use crate::value::{Tri, Value};

mod unrecognized_conditions;

/// The report of the patient whose evaluation is in `scratch`.
pub fn report(g: &RuleGraph, scratch: &mut Scratch, patient: &Patient<'_>) -> PatientReport {
    let Scratch {
        facts,
        memo,
        outcomes,
        evaluated,
        ..
    } = scratch;
    let cx = Cx {
        g,
        f: facts,
        patient,
    };
    let mut report = PatientReport {
        patient: patient.id.to_string(),
        as_of: facts.as_of,
        not_screened: None,
        findings: Vec::new(),
        data_gaps: Vec::new(),
        unrecognized: Vec::new(),
        unrecognized_conditions: Vec::new(),
        notes: Vec::new(),
        superseded: Vec::new(),
        withheld: Vec::new(),
    };
    for &r in evaluated.iter() {
        match outcomes.get(memo.generation, r) {
            Outcome::Fired(severity) if g.program.rules[r].withheld => {
                report.withheld.push(Withheld {
                    rule: g.program.rules[r].name.clone(),
                    severity,
                    profile: g
                        .program
                        .profile
                        .as_ref()
                        .map_or_else(String::new, |p| p.name.clone()),
                })
            }
            Outcome::Fired(severity) => report.findings.push(cx.finding(memo, r, severity)),
            Outcome::DataGap => report.data_gaps.push(cx.gap(memo, r)),
            Outcome::Superseded(by) => report.superseded.push(Superseded {
                rule: g.program.rules[r].name.clone(),
                by: g.program.rules[by].name.clone(),
            }),
            _ => {}
        }
    }
    report
        .findings
        .sort_by(|a, b| (a.severity, &a.rule).cmp(&(b.severity, &b.rule)));
    let generation = memo.generation;
    report.unrecognized = cx.unrecognized(|r| outcomes.get(generation, r));
    report.unrecognized_conditions = cx.unrecognized_conditions(|r| outcomes.get(generation, r));
    report.notes = cx.notes();
    report
}

/// Why a leaf predicate is unknown for this patient, in words (shared with `explain`).
pub(crate) fn unknown_reason(
    g: &RuleGraph,
    f: &PatientFacts,
    patient: &Patient<'_>,
    node: &Node,
) -> Option<String> {
    Cx { g, f, patient }.leaf_reason(node)
}

/// A medication entry as the report names it (shared with `explain`).
pub(crate) fn entry_ref(
    g: &RuleGraph,
    f: &PatientFacts,
    patient: &Patient<'_>,
    m: &MedFact,
) -> EntryRef {
    Cx { g, f, patient }.entry(m)
}

struct Cx<'a> {
    g: &'a RuleGraph,
    f: &'a PatientFacts,
    patient: &'a Patient<'a>,
}

impl Cx<'_> {
    fn entry(&self, m: &MedFact) -> EntryRef {
        let record = self
            .patient
            .medications
            .as_ref()
            .and_then(|v| v.get(m.entry));
        EntryRef {
            id: record
                .and_then(|r| r.id.as_deref())
                .map_or_else(|| format!("#{}", m.entry + 1), str::to_string),
            text: record.map(|r| r.text.to_string()).unwrap_or_default(),
            position: m.entry + 1,
        }
    }

    fn finding(&self, memo: &mut Memo, r: RuleId, severity: crate::ir::Severity) -> Finding {
        let def = &self.g.program.rules[r];
        let rule = &self.g.rules[r];
        let pack = &self.g.program.packs[def.pack];
        let mut medications = Vec::new();
        let mut facts = Vec::new();
        self.walk(memo, rule.when, &mut medications, &mut facts);
        for &(_, cond) in &rule.downgrades {
            if value(self.g, self.f, memo, cond).tri() == Tri::True {
                self.walk(memo, cond, &mut medications, &mut facts);
            }
        }
        medications.sort();
        medications.dedup();
        self.relation_facts(&medications, &mut facts);
        let mut unique: Vec<Fact> = Vec::with_capacity(facts.len());
        for f in facts {
            if !unique.contains(&f) {
                unique.push(f);
            }
        }
        let facts = unique;
        let mut undecided = Vec::new();
        for (i, &u) in rule.unless.iter().enumerate() {
            if value(self.g, self.f, memo, u).tri() == Tri::Unknown {
                undecided.push(format!(
                    "unless {}: {}",
                    self.expr_text(def.unless[i].span),
                    self.reasons(memo, u).join("; ")
                ));
            }
        }
        for (i, &(to, cond)) in rule.downgrades.iter().enumerate() {
            if value(self.g, self.f, memo, cond).tri() == Tri::Unknown {
                undecided.push(format!(
                    "downgrade to {} when {}: {}",
                    to.name(),
                    self.expr_text(def.downgrades[i].1.span),
                    self.reasons(memo, cond).join("; ")
                ));
            }
        }
        let mut holes = rule.holes.iter().copied();
        let message = self.render(memo, &def.message, &mut holes);
        let advice = def
            .advise
            .as_ref()
            .map(|t| self.render(memo, t, &mut holes));
        Finding {
            rule: def.name.clone(),
            pack: PackRef {
                name: pack.name.clone(),
                version: pack.version.clone(),
                hash: pack.hash.clone(),
            },
            severity,
            downgraded_from: (severity != def.severity).then_some(def.severity),
            profile: self.g.program.profile.clone(),
            summary: def.summary.clone(),
            message,
            advice,
            cite: def.cite.clone(),
            medications,
            facts,
            undecided_exceptions: undecided,
            override_reasons: def.overrides.clone(),
        }
    }

    /// The source text of an expression, as its author wrote it.
    fn expr_text(&self, span: crate::diagnostic::Span) -> String {
        let text = self
            .g
            .sources
            .get(span.source)
            .and_then(|s| s.text.get(span.start as usize..span.end as usize));
        text.map_or_else(String::new, |t| {
            t.split_whitespace().collect::<Vec<_>>().join(" ")
        })
    }

    /// Collects the entries and facts of the evaluated leaves under `n`.
    fn walk(&self, memo: &mut Memo, n: NodeId, meds: &mut Vec<EntryRef>, facts: &mut Vec<Fact>) {
        let Some(v) = memo.get(n) else { return };
        let node = &self.g.nodes[n as usize];
        if let Node::Quantified(..) = node
            && v.tri() == Tri::True
        {
            // Only the ingredients that made it true: the other branches explain nothing.
            for child in node.children() {
                if memo.get(child).is_some_and(|c| c.tri() == Tri::True) {
                    self.walk(memo, child, meds, facts);
                }
            }
            return;
        }
        if let Node::Or(a, b) = *node
            && v.tri() == Tri::True
        {
            // Every side that holds explains the finding, not only the one evaluation stopped
            // at: both are evaluated here (a finding's cold path), and the false one is not.
            for side in [a, b] {
                if super::value(self.g, self.f, memo, side).tri() == Tri::True {
                    self.walk(memo, side, meds, facts);
                }
            }
            return;
        }
        for child in node.children() {
            self.walk(memo, child, meds, facts);
        }
        let p = &self.g.program;
        match *node {
            Node::Taking(s) | Node::Count(s, _) => {
                let dosing = match *node {
                    Node::Count(_, dosing) => dosing,
                    _ => Dosing::Any,
                };
                meds.extend(
                    self.entries_in(s, |m| m.state == EntryState::Taking && dosing.reads(m.prn)),
                );
                // A count of none names nothing the patient takes: not a fact of the finding.
                if let (Node::Count(..), Value::Num(x)) = (node, v)
                    && x.hi > 0.0
                {
                    facts.push(fact(
                        "count",
                        set_name(self.g, s),
                        x.to_string(),
                        None,
                        None,
                        Vec::new(),
                    ));
                }
            }
            Node::New(s) => meds.extend(self.entries_in(s, |m| m.draft)),
            Node::Age => {
                if let Value::Num(x) = v {
                    facts.push(fact(
                        "age",
                        "age".into(),
                        x.to_string(),
                        Some("years"),
                        None,
                        Vec::new(),
                    ));
                }
            }
            Node::Has(c) | Node::Had(c) if v.tri() == Tri::True => {
                facts.push(fact(
                    "condition",
                    p.conditions[c].name.clone(),
                    self.condition_codes(c),
                    None,
                    None,
                    self.condition_ids(c),
                ));
            }
            Node::Lab(l, w) => {
                if let Some(lab) = predicates::latest_lab(self.f, l, w)
                    && let Ok(x) = lab.value
                {
                    facts.push(fact(
                        "lab",
                        self.lab_name(lab),
                        x.to_string(),
                        Some(p.labs[l].dimension.canonical_unit()),
                        Some(lab.date),
                        self.patient
                            .labs
                            .iter()
                            .flatten()
                            .nth(lab.entry)
                            .and_then(|r| r.id.as_ref())
                            .map(|id| vec![id.to_string()])
                            .unwrap_or_default(),
                    ));
                }
            }
            Node::DailyDose(d, r, on) => {
                let date = on
                    .and_then(|o| memo.get(o))
                    .and_then(|v| {
                        if let Value::Date(d) = v {
                            Some(d)
                        } else {
                            None
                        }
                    })
                    .unwrap_or(self.f.as_of);
                // A dose the record says nothing of ("at least 0"), or of a drug it has no entry
                // of (a part of a sum), is no fact to show.
                if let Value::Num(x) = v
                    && !(x.lo == 0.0 && x.hi.is_infinite())
                    && predicates::entries_of(self.f, d).next().is_some()
                {
                    let summed = predicates::dose_entries(self.f, d, r, date);
                    let entries: Vec<EntryRef> = summed.iter().map(|m| self.entry(m)).collect();
                    let about = format!("{} ({})", p.drugs[d].name, r.name());
                    facts.push(fact(
                        "daily_dose",
                        about,
                        x.to_string(),
                        Some("mg/day"),
                        Some(date),
                        entries.iter().map(|e| e.id.clone()).collect(),
                    ));
                    self.conversions(d, &summed, &entries, date, facts);
                    meds.extend(entries);
                }
            }
            Node::Reduced(s, w) if v.tri() == Tri::True => {
                let then = self.f.as_of.add_days(-w);
                let (_, found) = predicates::reduced(self.f, &self.g.vocabulary, s, w);
                if let Some((d, r)) = found {
                    let now = predicates::daily_dose(self.f, d, r, self.f.as_of);
                    let before = predicates::daily_dose(self.f, d, r, then);
                    let mut entries: Vec<EntryRef> = Vec::new();
                    for date in [then, self.f.as_of] {
                        for m in predicates::dose_entries(self.f, d, r, date) {
                            let e = self.entry(m);
                            if !entries.contains(&e) {
                                entries.push(e);
                            }
                        }
                    }
                    let show =
                        |x: Option<f64>| x.map_or_else(|| "?".into(), crate::value::format_number);
                    facts.push(fact(
                        "dose_reduced",
                        format!("{} ({})", p.drugs[d].name, r.name()),
                        format!(
                            "{} mg/day, down from {} mg/day on {then}",
                            show(now),
                            show(before)
                        ),
                        Some("mg/day"),
                        Some(self.f.as_of),
                        entries.iter().map(|e| e.id.clone()).collect(),
                    ));
                    meds.extend(entries);
                }
            }
            Node::TakingBy(s, routes) if v.tri() == Tri::True => {
                meds.extend(
                    predicates::taken_entries(self.f, &self.g.vocabulary, s)
                        .filter(|m| m.route.is_some_and(|r| routes.contains(r)))
                        .map(|m| self.entry(m)),
                );
            }
            Node::RouteIs(d, r) if v.tri() == Tri::True => {
                meds.extend(
                    predicates::entries_of(self.f, d)
                        .filter(|m| m.state == EntryState::Taking && m.route == Some(r))
                        .map(|m| self.entry(m)),
                );
            }
            // The stop, with its day and the entries that ended: the same fact whether the rule
            // asked whether the drug stopped or on which day.
            Node::Stopped(d, r, _) | Node::StopDate(d, r)
                if v.tri() == Tri::True || matches!(v, Value::Date(_)) =>
            {
                let ended: Vec<EntryRef> = predicates::entries_of(self.f, d)
                    .filter(|m| m.route == Some(r) && predicates::ended_on(m).is_some())
                    .map(|m| self.entry(m))
                    .collect();
                if let Ok(Some(end)) = predicates::stop_date(self.f, d, r) {
                    facts.push(fact(
                        "stop",
                        format!("{} ({})", p.drugs[d].name, r.name()),
                        "stopped".into(),
                        None,
                        Some(end),
                        ended.iter().map(|e| e.id.clone()).collect(),
                    ));
                }
                meds.extend(ended);
            }
            _ => {}
        }
    }

    fn entries_in(&self, s: SetRef, keep: impl Fn(&MedFact) -> bool) -> Vec<EntryRef> {
        let bit = self.g.vocabulary.bit(s);
        self.f
            .meds
            .iter()
            .filter(|m| {
                keep(m)
                    && self
                        .f
                        .drugs_of(m)
                        .iter()
                        .any(|&d| self.g.vocabulary.drug_bits[d].get(bit))
            })
            .map(|m| self.entry(m))
            .collect()
    }

    /// A lab's name in a fact; a derived value names its method and inputs.
    fn lab_name(&self, lab: &crate::patient::LabFact) -> String {
        let def = &self.g.program.labs[lab.lab];
        let creatinine = match def.computed.filter(|_| lab.derived) {
            None => return def.name.clone(),
            Some(Derivation::PerBodySurface { clearance }) => {
                return self.per_body_surface_name(lab, clearance);
            }
            Some(Derivation::CockcroftGault { creatinine }) => creatinine,
        };
        let scr = self
            .f
            .labs
            .iter()
            .find(|l| l.lab == creatinine && !l.derived && l.entry == lab.entry)
            .and_then(|l| l.value.ok())
            .map_or_else(|| "?".to_string(), |v| v.to_string());
        let sex = match self.f.sex {
            Some(crate::patient::Sex::Female) => "female",
            Some(crate::patient::Sex::Male) => "male",
            _ => "sex not given (female to male range)",
        };
        format!(
            "{} by Cockcroft-Gault from {} {scr} mg/dL of {}, weight {} kg, age {}, {sex}",
            def.name,
            self.g.program.labs[creatinine].name,
            lab.date,
            self.f
                .weight_kg
                .map_or_else(|| "?".into(), crate::value::format_number),
            self.f.age.map_or_else(|| "?".into(), |a| a.to_string()),
        )
    }

    /// "crcl_bsa: crcl 80 mL/min (reported 2026-10-01) x 1.73 / body surface 1.82 m2
    /// (Mosteller: ...)", a computed clearance with its own derivation.
    fn per_body_surface_name(&self, lab: &crate::patient::LabFact, clearance: usize) -> String {
        let from = self
            .f
            .labs
            .iter()
            .find(|l| l.lab == clearance && l.entry == lab.entry && l.value.is_ok());
        let name = &self.g.program.labs[clearance].name;
        let (from_value, how) = from.map_or_else(
            || ("?".to_string(), String::new()),
            |l| {
                let value = l.value.map(|v| v.to_string()).unwrap_or_default();
                let how = if l.derived {
                    let full = self.lab_name(l);
                    let how = full.strip_prefix(name.as_str()).unwrap_or(&full).trim();
                    format!(" ({how})")
                } else {
                    format!(" (reported {})", l.date)
                };
                (value, how)
            },
        );
        let number = |x: Option<f64>| x.map_or_else(|| "?".into(), crate::value::format_number);
        let surface = match self.f.height_cm.zip(self.f.weight_kg) {
            Some((h, w)) => format!(
                "{} m2 (Mosteller: height {} cm, weight {} kg)",
                crate::value::format_number(
                    (crate::patient::body_surface_mosteller(h, w) * 100.0).round() / 100.0
                ),
                crate::value::format_number(h),
                crate::value::format_number(w),
            ),
            None => format!(
                "{}, any adult's ({} not given: height {} cm, weight {} kg)",
                adult_body_surface(),
                self.missing_measures().0,
                number(self.f.height_cm),
                number(self.f.weight_kg),
            ),
        };
        format!(
            "{}: {name} {from_value} mL/min{how} x 1.73 / body surface {surface}",
            self.g.program.labs[lab.lab].name,
        )
    }

    /// The ids of the condition records that match `c`.
    fn condition_ids(&self, c: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for rec in self.patient.conditions.iter().flatten() {
            let mut hit = false;
            if let Some((system, code)) = rec.read_code() {
                self.g
                    .vocabulary
                    .match_condition(system, code, |id| hit |= id == c);
            }
            if let (true, Some(id)) = (hit, &rec.id) {
                ids.push(id.to_string());
            }
        }
        ids
    }

    fn condition_codes(&self, c: usize) -> String {
        let mut codes = Vec::new();
        for rec in self.patient.conditions.iter().flatten() {
            let mut hit = false;
            if let Some((system, code)) = rec.read_code() {
                self.g
                    .vocabulary
                    .match_condition(system, code, |id| hit |= id == c);
            }
            if let (true, Some(code)) = (hit, &rec.code) {
                codes.push(code.to_string());
            }
        }
        codes.join(", ")
    }

    fn gap(&self, memo: &mut Memo, r: RuleId) -> DataGap {
        let def = &self.g.program.rules[r];
        DataGap {
            rule: def.name.clone(),
            pack: self.g.program.packs[def.pack].name.clone(),
            severity: def.severity,
            reasons: self.reasons(memo, self.g.rules[r].when),
        }
    }

    /// Why node `n` is unknown: the unknown leaves under it, in words.
    fn reasons(&self, memo: &mut Memo, n: NodeId) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_reasons(memo, n, &mut out);
        // A reason met twice (one missing lab under several dose rows) is said once, in the
        // order first met. The lists are a handful long.
        let mut kept = 0;
        for i in 0..out.len() {
            if !out[..kept].contains(&out[i]) {
                out.swap(kept, i);
                kept += 1;
            }
        }
        out.truncate(kept);
        if out.is_empty() {
            out.push("an input the rule reads is missing".into());
        }
        out
    }

    fn collect_reasons(&self, memo: &mut Memo, n: NodeId, out: &mut Vec<String>) {
        let v = value(self.g, self.f, memo, n);
        if v != Value::Unknown
            && v.tri() != Tri::Unknown
            && !matches!(v, Value::Num(_) | Value::Date(_))
        {
            return;
        }
        let node = &self.g.nodes[n as usize];
        let children: Vec<NodeId> = node.children().collect();
        if let Node::Cmp(..) = node
            && let (Some(Value::Num(a)), Some(Value::Num(b))) =
                (memo.get(children[0]), memo.get(children[1]))
        {
            let what = crate::compile::describe_value(self.g, &self.g.nodes[children[0] as usize]);
            let mut doses = Vec::new();
            self.open_doses(memo, children[0], &mut doses);
            if let Some(why) = self.open_body_surface(children[0]) {
                doses.push(why);
            }
            if doses.is_empty() {
                out.push(format!("{what} is {a}, which cannot be compared with {b}"));
            } else {
                out.push(format!(
                    "{what} is {a}, which cannot be compared with {b}, because {}",
                    doses.join("; ")
                ));
            }
            return;
        }
        if children.is_empty() {
            if (v == Value::Unknown || v.tri() == Tri::Unknown && matches!(v, Value::Bool(_)))
                && let Some(reason) = self.leaf_reason(node)
            {
                out.push(reason);
            }
            return;
        }
        for c in children {
            self.collect_reasons(memo, c, out);
        }
    }

    /// Why a clearance per body surface is a range: the height or weight it needs is not given.
    fn open_body_surface(&self, n: NodeId) -> Option<String> {
        let Node::Lab(l, w) = self.g.nodes[n as usize] else {
            return None;
        };
        let lab = predicates::latest_lab(self.f, l, w)?;
        let per_surface = matches!(
            self.g.program.labs[l].computed,
            Some(Derivation::PerBodySurface { .. })
        );
        if !(lab.derived && per_surface) || self.f.height_cm.zip(self.f.weight_kg).is_some() {
            return None;
        }
        let (missing, verb) = self.missing_measures();
        Some(format!(
            "the patient's {missing} {verb} not given, so the body surface is any adult's, {}",
            adult_body_surface()
        ))
    }

    /// Which of height and weight the record lacks, with its verb.
    fn missing_measures(&self) -> (&'static str, &'static str) {
        match (self.f.height_cm, self.f.weight_kg) {
            (None, None) => ("height and weight", "are"),
            (None, _) => ("height", "is"),
            _ => ("weight", "is"),
        }
    }

    /// Why the daily doses under a numeric node are ranges rather than numbers: an entry's
    /// strength or frequency not known exactly.
    fn open_doses(&self, memo: &mut Memo, n: NodeId, out: &mut Vec<String>) {
        let node = &self.g.nodes[n as usize];
        if let Node::DailyDose(d, r, None) = *node {
            if let Value::Num(x) = value(self.g, self.f, memo, n)
                && x.as_point().is_none()
            {
                let reason = self.dose_reason(d, r);
                if !out.contains(&reason) {
                    out.push(reason);
                }
            }
            return;
        }
        let children: Vec<NodeId> = node.children().collect();
        for c in children {
            self.open_doses(memo, c, out);
        }
    }

    fn leaf_reason(&self, node: &Node) -> Option<String> {
        let p = &self.g.program;
        let f = self.f;
        Some(match *node {
            Node::Taking(_)
            | Node::New(_)
            | Node::Count(..)
            | Node::RouteIs(..)
            | Node::Stopped(..)
            | Node::Tapered(..)
            | Node::StopDate(..)
            | Node::Reduced(..)
            | Node::TakingBy(..)
            | Node::DailyDose(..)
                if !f.meds_provided =>
            {
                "the medication list was not provided".into()
            }
            Node::Has(_) | Node::Had(_) => "the condition list was not provided".into(),
            Node::Age => "neither a birth date nor an age was given".into(),
            Node::Lab(l, w) => {
                let name = &p.labs[l].name;
                if !f.labs_provided {
                    "lab results were not provided".into()
                } else {
                    match predicates::latest_lab(f, l, w) {
                        None => match predicates::underivable_lab(f, l, w) {
                            Some(lab) => format!(
                                "no {name} result in the {w} days up to {}, and {}: {}",
                                f.as_of,
                                match p.labs[l].computed {
                                    Some(Derivation::PerBodySurface { clearance }) => format!(
                                        "the {} of {} cannot give one per 1.73 m2 of body surface",
                                        p.labs[clearance].name, lab.date
                                    ),
                                    _ => format!(
                                        "the creatinine of {} cannot give one by Cockcroft-Gault",
                                        lab.date
                                    ),
                                },
                                match lab.value {
                                    Err(LabProblem::Missing(what)) =>
                                        format!("the patient's {what} is not given"),
                                    _ => "its value cannot be read".to_string(),
                                }
                            ),
                            None if p.labs[l].computed.is_some() => format!(
                                "no {name} result, nor a {} to compute it from, in the {w} days up to {}",
                                match p.labs[l].computed {
                                    Some(Derivation::PerBodySurface { clearance }) => {
                                        let from = &p.labs[clearance];
                                        match from.computed {
                                            Some(_) => format!(
                                                "{} (or a serum creatinine for it)",
                                                from.name
                                            ),
                                            None => from.name.clone(),
                                        }
                                    }
                                    _ => "serum creatinine".to_string(),
                                },
                                f.as_of
                            ),
                            None => format!("no {name} result in the {w} days up to {}", f.as_of),
                        },
                        Some(lab) => match lab.value {
                            Err(LabProblem::Unit) => format!(
                                "the {name} of {} is in a unit that cannot be converted to {}",
                                lab.date,
                                p.labs[l].dimension.canonical_unit()
                            ),
                            _ => format!("the {name} value of {} cannot be read", lab.date),
                        },
                    }
                }
            }
            Node::DailyDose(d, r, _) => self.dose_reason(d, r),
            Node::TakingBy(s, routes) => {
                let unclear: Vec<String> = predicates::taken_entries(f, &self.g.vocabulary, s)
                    .filter(|m| m.route.is_none())
                    .map(|m| format!("'{}'", self.entry(m).text))
                    .collect();
                format!(
                    "the route of {} is not given (the rule reads {} use)",
                    unclear.join(", "),
                    routes.name()
                )
            }
            Node::Reduced(s, w) => {
                let bit = self.g.vocabulary.bit(s);
                let drugs: Vec<&str> = f
                    .taking_drugs
                    .iter()
                    .filter(|&&d| self.g.vocabulary.drug_bits[d].get(bit))
                    .map(|&d| p.drugs[d].name.as_str())
                    .collect();
                format!(
                    "the daily doses of {} now and on {} are not both known (a dose, route or start date is missing)",
                    drugs.join(", "),
                    f.as_of.add_days(-w)
                )
            }
            Node::RouteIs(d, _) => {
                let unclear: Vec<String> = predicates::entries_of(f, d)
                    .filter(|m| m.state == EntryState::Taking && m.route.is_none())
                    .map(|m| format!("'{}'", self.entry(m).text))
                    .collect();
                format!("the route of {} is not given", unclear.join(", "))
            }
            Node::StopDate(d, r) if matches!(predicates::stop_date(f, d, r), Ok(None)) => {
                if predicates::entries_of(f, d)
                    .any(|m| m.state == EntryState::Taking && m.route == Some(r))
                {
                    format!(
                        "{} ({}) is still taken: it has not stopped",
                        p.drugs[d].name,
                        r.name()
                    )
                } else {
                    format!("no entry of {} ({}) has ended", p.drugs[d].name, r.name())
                }
            }
            Node::Stopped(d, ..) | Node::StopDate(d, _)
                if predicates::entries_of(f, d).any(|m| m.beyond_horizon) =>
            {
                let lapsed: Vec<String> = predicates::entries_of(f, d)
                    .filter(|m| m.beyond_horizon)
                    .map(|m| format!("'{}'", self.entry(m).text))
                    .collect();
                format!(
                    "{} is an open order older than the horizon for open orders: it ended on a day the record does not give, so whether it stopped within the window is unknown",
                    lapsed.join(", ")
                )
            }
            Node::Stopped(d, ..) | Node::Tapered(d, ..) | Node::StopDate(d, _)
                if predicates::entries_of(f, d).any(|m| m.hold_undated) =>
            {
                let held: Vec<String> = predicates::entries_of(f, d)
                    .filter(|m| m.hold_undated)
                    .map(|m| format!("'{}'", self.entry(m).text))
                    .collect();
                format!(
                    "{} is on hold since a day the record does not give, so whether it was interrupted long enough to count as stopped is unknown",
                    held.join(", ")
                )
            }
            Node::Stopped(d, ..) | Node::Tapered(d, ..) | Node::StopDate(d, _) => {
                let unclear: Vec<String> = predicates::entries_of(f, d)
                    .filter(|m| {
                        m.route.is_none() || (m.state == EntryState::History && m.end.is_none())
                    })
                    .map(|m| format!("'{}'", self.entry(m).text))
                    .collect();
                format!(
                    "the route or end date of {} is not given",
                    if unclear.is_empty() {
                        p.drugs[d].name.clone()
                    } else {
                        unclear.join(", ")
                    }
                )
            }
            _ => return None,
        })
    }

    /// How each summed entry's dose in units of the form became mg of `d`.
    fn conversions(
        &self,
        d: usize,
        summed: &[&MedFact],
        entries: &[EntryRef],
        date: crate::date::Date,
        facts: &mut Vec<Fact>,
    ) {
        for (m, e) in summed.iter().zip(entries) {
            if let Some(c) = self.f.dose_of(m, d).conversion {
                facts.push(fact(
                    "dose_conversion",
                    format!("{} in '{}'", self.g.program.drugs[d].name, e.text),
                    // The description ends in its own unit: "... = 360 mg/day".
                    c.describe(),
                    None,
                    Some(date),
                    vec![e.id.clone()],
                ));
            }
        }
    }

    /// How the finding's entries resolved through the site's RxNorm relation table.
    fn relation_facts(&self, medications: &[EntryRef], facts: &mut Vec<Fact>) {
        for m in &self.f.meds {
            if m.by != ResolvedBy::RxnormRelation {
                continue;
            }
            let e = self.entry(m);
            if !medications.iter().any(|x| x.id == e.id) {
                continue;
            }
            let code = self
                .patient
                .medications
                .as_ref()
                .and_then(|v| v.get(m.entry))
                .and_then(|r| r.rxnorm.as_deref())
                .unwrap_or("")
                .trim();
            let names: Vec<&str> = self
                .f
                .drugs_of(m)
                .iter()
                .map(|&d| self.g.program.drugs[d].name.as_str())
                .collect();
            let word = if names.len() == 1 {
                "ingredient"
            } else {
                "ingredients"
            };
            facts.push(fact(
                "identified",
                e.text.clone(),
                format!(
                    "resolved by RxNorm code {code} through the relation table to {word} {}",
                    names.join(", ")
                ),
                None,
                None,
                vec![e.id],
            ));
        }
    }

    fn dose_reason(&self, d: usize, r: crate::route::Route) -> String {
        let name = &self.g.program.drugs[d].name;
        let now = || {
            predicates::entries_of(self.f, d).filter(|m| {
                m.route == Some(r)
                    && predicates::taken_on(m, self.f.as_of, self.f.as_of) == Tri::True
            })
        };
        if let (Some(active), Some(draft)) =
            (predicates::unrenewed(r, now()), now().find(|m| m.draft))
        {
            return format!(
                "the draft order '{}' is another release form than '{}', taken now: it may replace \
                 it or be taken with it, so the {name} dose is at least the draft's",
                self.entry(draft).text,
                self.entry(active).text
            );
        }
        for m in predicates::entries_of(self.f, d) {
            let e = self.entry(m);
            if m.route.is_none() {
                return format!(
                    "the route of '{}' is not given, so its {name} dose cannot be counted as {}",
                    e.text,
                    r.name()
                );
            }
            match self.f.dose_of(m, d).daily {
                DailyDose::Unknown(problem) if m.route == Some(r) => {
                    return format!(
                        "the daily dose of '{}' is unknown: {}",
                        e.text,
                        problem.describe()
                    );
                }
                DailyDose::NotGiven if m.route == Some(r) => {
                    return format!("'{}' has no dose", e.text);
                }
                _ => {}
            }
        }
        format!(
            "the daily dose of {name} ({}) cannot be computed from the dates given",
            r.name()
        )
    }

    fn render(
        &self,
        memo: &mut Memo,
        t: &Template,
        holes: &mut impl Iterator<Item = NodeId>,
    ) -> String {
        let mut out = String::new();
        for piece in &t.pieces {
            match piece {
                Piece::Text(s) => out.push_str(s),
                Piece::Hole(e) => {
                    let Some(n) = holes.next() else { continue };
                    out.push_str(&self.render_hole(memo, n, e.ty));
                }
            }
        }
        out
    }

    fn render_hole(&self, memo: &mut Memo, n: NodeId, ty: Type) -> String {
        let node = &self.g.nodes[n as usize];
        if let Node::Drugs(s, dosing) = *node {
            // A drug renewed many times is named once.
            let mut names: Vec<String> = Vec::new();
            for e in self.entries_in(s, |m| m.state == EntryState::Taking && dosing.reads(m.prn)) {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(&e.text)) {
                    names.push(e.text);
                }
            }
            return if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            };
        }
        let v = value(self.g, self.f, memo, n);
        let text = match (v, ty) {
            (Value::Bool(t), _) => match t {
                Tri::True => "yes".into(),
                Tri::False => "no".into(),
                Tri::Unknown => "unknown".into(),
            },
            (Value::Num(x), Type::Quantity(Dimension::Age)) => x.to_string(),
            (Value::Num(x), Type::Quantity(dim)) => quantity_text(x, dim),
            (Value::Num(x), _) => x.to_string(),
            (Value::Date(d), _) => d.to_string(),
            (Value::Unknown, _) => "unknown".into(),
        };
        if let (Node::Lab(l, w), Value::Num(_)) = (node, v)
            && let Some(lab) = predicates::latest_lab(self.f, *l, *w)
        {
            return format!("{text} ({})", lab.date);
        }
        text
    }

    fn unrecognized(&self, outcome: impl Fn(RuleId) -> Outcome) -> Vec<Unrecognized> {
        let mut out = Vec::new();
        let mut could_change: Option<Vec<String>> = None;
        for m in &self.f.meds {
            if m.state == EntryState::Invisible
                || (m.by != ResolvedBy::Unrecognized && m.leftover.is_empty())
            {
                continue;
            }
            let could_change = could_change
                .get_or_insert_with(|| {
                    self.g
                        .rules
                        .iter()
                        .enumerate()
                        .filter(|(r, rule)| {
                            rule.reads_medications
                                && !self.g.program.rules[*r].disabled
                                && !matches!(outcome(*r), Outcome::Fired(_))
                                && self.open_without(rule.when, crate::compile::reads_medications)
                                    != Tri::False
                        })
                        .map(|(r, _)| self.g.program.rules[r].name.clone())
                        .collect()
                })
                .clone();
            let identified = self
                .f
                .drugs_of(m)
                .iter()
                .map(|&d| self.g.program.drugs[d].name.clone())
                .collect();
            let words = if m.leftover.is_empty() {
                vec![self.entry(m).text]
            } else {
                m.leftover.clone()
            };
            out.push(Unrecognized {
                entry: self.entry(m),
                identified,
                words,
                could_change,
            });
        }
        out
    }

    /// The value of `n` if every predicate that `reads` (the medication predicates, say) were
    /// unknown: false means no such entry, known or not, could make the rule fire for this
    /// patient.
    fn open_without(&self, n: NodeId, reads: fn(&[Node], NodeId) -> bool) -> Tri {
        let node = &self.g.nodes[n as usize];
        let mut children = node.children();
        let mut child = || {
            children
                .next()
                .map_or(Tri::Unknown, |c| self.open_without(c, reads))
        };
        match node {
            Node::Not(_) => !child(),
            Node::And(..) => child().and(child()),
            Node::Or(..) => child().or(child()),
            Node::Quantified(q, branches) => {
                let values = branches.iter().map(|b| self.open_without(b.body, reads));
                match q {
                    Quantifier::Any => values.fold(Tri::False, Tri::or),
                    Quantifier::All => values.fold(Tri::True, Tri::and),
                    // A number, not a condition: only ever under a comparison, which reads
                    // the medication list through it and is unknown above.
                    Quantifier::Sum => Tri::Unknown,
                }
            }
            _ if reads(&self.g.nodes, n) => Tri::Unknown,
            _ => self.plain(n).tri(),
        }
    }

    /// Evaluates `n` without the memo (cold path).
    fn plain(&self, n: NodeId) -> Value {
        let node = &self.g.nodes[n as usize];
        match *node {
            Node::Not(a) => Value::Bool(!self.plain(a).tri()),
            Node::And(a, b) => Value::Bool(self.plain(a).tri().and(self.plain(b).tri())),
            Node::Or(a, b) => Value::Bool(self.plain(a).tri().or(self.plain(b).tri())),
            Node::Cmp(op, a, b) => super::compare(op, self.plain(a), self.plain(b)),
            Node::Add(a, b) => super::arithmetic(self.plain(a), self.plain(b), true),
            Node::Sub(a, b) => super::arithmetic(self.plain(a), self.plain(b), false),
            Node::Scale(a, k) => super::scale(self.plain(a), f64::from_bits(k)),
            Node::Quantified(Quantifier::Sum, ref branches) => {
                super::sum(branches, self.f, |b| self.plain(b))
            }
            Node::DailyDose(_, _, Some(on)) => {
                predicates::leaf(node, self.f, &self.g.vocabulary, Some(self.plain(on)))
            }
            Node::Quantified(q, ref branches) => {
                Value::Bool(super::quantified(q, branches, self.f, |b| {
                    self.plain(b).tri()
                }))
            }
            _ => predicates::leaf(node, self.f, &self.g.vocabulary, None),
        }
    }

    fn notes(&self) -> Vec<Note> {
        let mut notes = Vec::new();
        for m in &self.f.meds {
            if matches!(m.state, EntryState::Invisible | EntryState::History)
                || self.f.drugs_of(m).is_empty()
            {
                continue;
            }
            if m.route_unreadable {
                notes.push(Note {
                    entry: Some(self.entry(m)),
                    problem:
                        "the route is not recognised; rules that need the route treat it as unknown"
                            .into(),
                });
            }
            if let Some(problem) = self.f.dose_problem(m) {
                notes.push(Note {
                    entry: Some(self.entry(m)),
                    problem: format!("{}; its daily dose is unknown", problem.describe()),
                });
            }
        }
        for lab in self.f.labs.iter().filter(|l| !l.derived) {
            if let Err(problem) = lab.value {
                let name = &self.g.program.labs[lab.lab].name;
                let what = match problem {
                    LabProblem::Unit => format!(
                        "cannot be converted to {}",
                        self.g.program.labs[lab.lab].dimension.canonical_unit()
                    ),
                    LabProblem::Value | LabProblem::Missing(_) => {
                        "is not a number or a range such as \">60\"".into()
                    }
                };
                notes.push(Note {
                    entry: None,
                    problem: format!("the {name} result of {} {what}; it is not used", lab.date),
                });
            }
        }
        self.status_notes(&mut notes);
        notes
    }
}

fn fact(
    kind: &'static str,
    about: String,
    value: String,
    unit: Option<&'static str>,
    date: Option<crate::date::Date>,
    entries: Vec<String>,
) -> Fact {
    Fact {
        fact: kind,
        about,
        value,
        unit,
        date,
        entries,
    }
}

fn set_name(g: &RuleGraph, s: SetRef) -> String {
    match s {
        SetRef::Drug(d) => g.program.drugs[d].name.clone(),
        SetRef::Class(c) => g.program.classes[c].name.clone(),
    }
}

/// A quantity in its canonical unit, except a daily dose under 1 mg a day, shown in mcg/day: an
/// intrathecal 801 mcg/day reads as written, not as "0.8 mg/day".
fn quantity_text(x: crate::value::Interval, dim: Dimension) -> String {
    if dim == Dimension::MassPerDay && x.hi < 1.0 && x.lo > 0.0 {
        let mcg = crate::value::Interval {
            lo: x.lo * 1000.0,
            hi: x.hi * 1000.0,
            ..x
        };
        return format!("{mcg} mcg/day");
    }
    format!("{x} {}", dim.canonical_unit())
}

/// The body surface taken for an adult of unknown height or weight, in words ("1 to 3.5 m2").
fn adult_body_surface() -> String {
    let (small, large) = crate::patient::ADULT_BODY_SURFACE_M2;
    format!(
        "{} to {} m2",
        crate::value::format_number(small),
        crate::value::format_number(large)
    )
}
