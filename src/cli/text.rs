//! The report as text for a pharmacist: grouped by patient, most severe first.

use rxguard::Engine;
use rxguard::batch::{RecordOutcome, Summary};
use rxguard::date::Date;
use rxguard::ir::Severity;
use rxguard::report::{Fact, PatientReport, UnrecognizedCondition};
use std::fmt::Write as _;

/// Whether to colour.
#[derive(Clone, Copy)]
pub struct Style {
    /// ANSI colours on.
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn severity_label(s: Severity, style: Style) -> String {
    let (code, word) = match s {
        Severity::Contraindicated => ("1;31", "CONTRAINDICATED"),
        Severity::Major => ("31", "MAJOR"),
        Severity::Moderate => ("33", "MODERATE"),
        Severity::Minor => ("36", "MINOR"),
    };
    style.paint(code, &format!("{word:<16}"))
}

/// The opening lines: date and packs.
pub fn header(engine: &Engine, as_of: Date, style: Style) -> String {
    let packs: Vec<String> = engine
        .packs()
        .iter()
        .map(|p| format!("{} {}", p.name, p.version))
        .collect();
    format!(
        "{}\n\n",
        style.paint(
            "1",
            &format!(
                "rxguard check, as of {as_of}; packs: {}{}",
                packs.join(", "),
                engine
                    .graph()
                    .program
                    .profile
                    .as_ref()
                    .map(|p| format!("; site profile: {} ({})", p.name, p.hash))
                    .unwrap_or_default()
            )
        )
    )
}

/// One record.
pub fn record(o: &RecordOutcome, style: Style) -> String {
    match &o.result {
        Ok(report) => patient(report, o, style),
        Err(e) => format!(
            "{} {}:{}: {e}\n\n",
            style.paint("1;31", "REJECTED"),
            o.input,
            o.line
        ),
    }
}

fn patient(r: &PatientReport, o: &RecordOutcome, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  ({}:{})",
        style.paint("1", &format!("Patient {}", r.patient)),
        o.input,
        o.line
    );
    if let Some(skip) = &r.not_screened {
        let when = skip.date.map(|d| format!(" ({d})")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  not screened: the patient is {}{when}\n",
            skip.reason
        );
        return out;
    }
    if r.findings.is_empty()
        && r.data_gaps.is_empty()
        && r.unrecognized.is_empty()
        && r.unrecognized_conditions.is_empty()
    {
        let _ = writeln!(out, "  no findings");
    }
    let pad = " ".repeat(18);
    for f in &r.findings {
        let downgraded = f
            .downgraded_from
            .map(|s| format!(" (lowered from {})", s.name()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}{}{downgraded}",
            severity_label(f.severity, style),
            f.summary
        );
        let _ = writeln!(out, "{pad}{}", f.message);
        if let Some(advice) = &f.advice {
            let _ = writeln!(out, "{pad}Advice: {advice}");
        }
        if !f.medications.is_empty() {
            let meds: Vec<String> = f
                .medications
                .iter()
                .map(|m| format!("{} {}", m.id, m.text))
                .collect();
            let _ = writeln!(out, "{pad}Medications: {}", meds.join("; "));
        }
        if !f.facts.is_empty() {
            let facts: Vec<String> = f.facts.iter().map(fact).collect();
            let _ = writeln!(out, "{pad}Facts: {}", facts.join("; "));
        }
        for e in &f.undecided_exceptions {
            let _ = writeln!(out, "{pad}Exception not decided: {e}");
        }
        let _ = writeln!(
            out,
            "{pad}Rule: {} ({} {}, {})",
            f.rule, f.pack.name, f.pack.version, f.pack.hash
        );
        let _ = writeln!(out, "{pad}Source: {}", f.cite.join("; "));
    }
    for g in &r.data_gaps {
        let _ = writeln!(
            out,
            "  {}{} could not be decided: {}",
            style.paint("35", &format!("{:<16}", "DATA GAP")),
            g.rule,
            g.reasons.join("; ")
        );
    }
    for u in &r.unrecognized {
        let what = if u.identified.is_empty() {
            "not identified".to_string()
        } else {
            format!(
                "identified as {} except: {}",
                u.identified.join(", "),
                u.words.join(" ")
            )
        };
        let could = if u.could_change.is_empty() {
            String::new()
        } else {
            format!("; could change: {}", u.could_change.join(", "))
        };
        let _ = writeln!(
            out,
            "  {}{} \"{}\": {what}{could}",
            style.paint("35", &format!("{:<16}", "UNRECOGNIZED")),
            u.entry.id,
            u.entry.text
        );
    }
    for u in &r.unrecognized_conditions {
        let _ = writeln!(out, "  {}", unrecognized_condition(u, style));
    }
    for n in &r.notes {
        let entry = n
            .entry
            .as_ref()
            .map(|e| format!("{} \"{}\": ", e.id, e.text))
            .unwrap_or_default();
        let _ = writeln!(out, "  {:<16}{entry}{}", "NOTE", n.problem);
    }
    for w in &r.withheld {
        let _ = writeln!(
            out,
            "  {:<16}{} ({}, withheld by the site profile {})",
            "WITHHELD",
            w.rule,
            w.severity.name(),
            w.profile
        );
    }
    for s in &r.superseded {
        let _ = writeln!(
            out,
            "  {:<16}{} (superseded by {})",
            "SUPERSEDED", s.rule, s.by
        );
    }
    out.push('\n');
    out
}

/// `UNRECOGNIZED    condition #2 "Seizure disorder" (ICD-9-CM 345.90): a code system the
/// vocabulary does not read; could change: ...`
fn unrecognized_condition(u: &UnrecognizedCondition, style: Style) -> String {
    let coded = match (&u.system, &u.code) {
        (Some(system), Some(code)) => format!(" ({system} {code})"),
        _ => String::new(),
    };
    let what = if u.code.is_some() {
        "condition in a code system the vocabulary does not read"
    } else {
        "condition written as text only"
    };
    let could = if u.could_change.is_empty() {
        String::new()
    } else {
        format!("; could change: {}", u.could_change.join(", "))
    };
    format!(
        "{}{} \"{}\"{coded}: {what}{could}",
        style.paint("35", &format!("{:<16}", "UNRECOGNIZED")),
        u.entry.id,
        u.entry.text
    )
}

fn fact(f: &Fact) -> String {
    let unit = f.unit.map(|u| format!(" {u}")).unwrap_or_default();
    let date = f.date.map(|d| format!(" on {d}")).unwrap_or_default();
    let entries = if f.entries.is_empty() {
        String::new()
    } else {
        format!(" [{}]", f.entries.join(", "))
    };
    match f.fact {
        "condition" => format!("{} ({})", f.about, f.value),
        "stop" => format!("{} stopped{date}{entries}", f.about),
        "count" => format!("{} {} drug(s) taken", f.value, f.about),
        "dose_reduced" => format!("{} {}{entries}", f.about, f.value),
        _ => format!("{} {}{unit}{date}{entries}", f.about, f.value),
    }
}

/// The closing summary.
pub fn summary(s: &Summary, style: Style) -> String {
    let c = &s.findings;
    let line1 = format!(
        "Summary: {} records read = {} evaluated + {} skipped + {} rejected",
        s.records_read, s.evaluated, s.skipped, s.rejected
    );
    let line2 = format!(
        "{} findings ({} contraindicated, {} major, {} moderate, {} minor) in {} patients; {} data gaps; {} unrecognized medications",
        s.total_findings(),
        c.contraindicated,
        c.major,
        c.moderate,
        c.minor,
        s.patients_with_findings,
        s.data_gaps,
        s.unrecognized
    );
    let mut out = format!("{}\n{line2}\n", style.paint("1", &line1));
    if s.unrecognized_conditions > 0 {
        let _ = writeln!(
            out,
            "{} unrecognized conditions (coded in a system the vocabulary does not read, or text only)",
            s.unrecognized_conditions
        );
    }
    for name in &s.empty_inputs {
        let _ = writeln!(
            out,
            "{}",
            style.paint("33", &format!("Warning: {name} holds no records"))
        );
    }
    if s.repeated_ids > 0 {
        let _ = writeln!(
            out,
            "{} record(s) repeat the patient id of an earlier record:",
            s.repeated_ids
        );
        for r in &s.repeats {
            let _ = writeln!(out, "  {}:{}  {}", r.input, r.line, r.id);
        }
        if s.repeats.len() < s.repeated_ids {
            let _ = writeln!(out, "  ... and {} more", s.repeated_ids - s.repeats.len());
        }
    }
    for (title, counts) in [
        ("Patients by rule:", &s.by_rule),
        ("Data gaps by rule:", &s.gaps_by_rule),
    ] {
        if counts.is_empty() {
            continue;
        }
        let mut rows: Vec<(&String, &usize)> = counts.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let _ = writeln!(out, "{title}");
        for (rule, n) in rows {
            let _ = writeln!(out, "  {n:>8}  {rule}");
        }
    }
    out
}
