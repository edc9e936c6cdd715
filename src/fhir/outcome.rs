//! What a check could not do, in FHIR and CDS Hooks terms: an OperationOutcome per patient
//! beside the DetectedIssues, and the info card the CDS Hooks service and `--format cds-hooks`
//! both return. Without them "nothing found" and "could not check" would look the same.
//!
//! Issue codes are from the FHIR IssueType code system (http://hl7.org/fhir/issue-type, R4
//! `codesystem-issue-type`, the same codes in R4B and R5): `incomplete` for a rule left
//! undecided by missing data, `code-invalid` for an entry whose code or text was not
//! understood, `informational` for what was read otherwise than written and for a patient not
//! screened. Severities are `warning` (a check may be missing) and `information`.

use crate::report::PatientReport;
use serde_json::{Value, json};

fn issue(severity: &str, code: &str, diagnostics: String) -> Value {
    json!({"severity": severity, "code": code, "diagnostics": diagnostics})
}

/// The report's data gaps, unrecognized medications and conditions, notes and skip as an
/// OperationOutcome. A
/// patient with nothing to say gets one informational issue saying so, never an empty outcome.
pub fn operation_outcome(report: &PatientReport) -> Value {
    let mut issues = Vec::new();
    if let Some(skip) = &report.not_screened {
        issues.push(issue(
            "information",
            "informational",
            not_screened_text(skip),
        ));
    }
    for gap in &report.data_gaps {
        issues.push(issue(
            "warning",
            "incomplete",
            format!(
                "{} ({}, {}) could not be decided: {}",
                gap.rule,
                gap.pack,
                gap.severity.name(),
                gap.reasons.join("; ")
            ),
        ));
    }
    for u in &report.unrecognized {
        issues.push(issue("warning", "code-invalid", unrecognized_text(u)));
    }
    for c in &report.unrecognized_conditions {
        issues.push(issue("warning", "code-invalid", condition_text(c)));
    }
    for n in &report.notes {
        let about = n
            .entry
            .as_ref()
            .map(|e| format!("{} '{}': ", e.id, e.text))
            .unwrap_or_default();
        issues.push(issue(
            "information",
            "informational",
            format!("{about}{}", n.problem),
        ));
    }
    if issues.is_empty() {
        issues.push(issue(
            "information",
            "informational",
            "every rule that could apply was decided, and every entry was identified".into(),
        ));
    }
    json!({
        "resourceType": "OperationOutcome",
        "id": crate::fhir::stable_uuid(&report.patient, "rxguard:outcome"),
        "issue": issues,
    })
}

fn not_screened_text(skip: &crate::patient::NotScreened) -> String {
    match skip.date {
        Some(d) => format!("not screened: the patient is {} ({d})", skip.reason),
        None => format!("not screened: the patient is {}", skip.reason),
    }
}

fn unrecognized_text(u: &crate::report::Unrecognized) -> String {
    let part = if u.identified.is_empty() {
        "not identified as any ingredient".to_string()
    } else {
        format!(
            "identified in part ({}); not identified: {}",
            u.identified.join(", "),
            u.words.join(" ")
        )
    };
    let could = if u.could_change.is_empty() {
        String::new()
    } else {
        format!("; it could change {}", u.could_change.join(", "))
    };
    format!("{} '{}' is {part}{could}", u.entry.id, u.entry.text)
}

fn condition_text(c: &crate::report::UnrecognizedCondition) -> String {
    let coded = match (&c.system, &c.code) {
        (Some(system), Some(code)) => format!(" ({system} {code})"),
        (None, Some(code)) => format!(" ({code})"),
        _ => String::new(),
    };
    let could = if c.could_change.is_empty() {
        String::new()
    } else {
        format!("; it could change {}", c.could_change.join(", "))
    };
    format!(
        "condition {} '{}'{coded} is in no code system the vocabulary reads{could}",
        c.entry.id, c.entry.text
    )
}

/// One info card for what could not be checked: the patient not screened, rules left as data
/// gaps, medications and conditions not identified, and the caller's own `lines` (prefetch the EHR could not
/// give). With `only`, unrecognized entries only among those ids (the draft orders). `None`
/// when everything was checked.
pub fn gap_card(
    report: &PatientReport,
    mut lines: Vec<String>,
    only: Option<&[String]>,
) -> Option<Value> {
    if let Some(skip) = &report.not_screened {
        lines.push(format!("- {}", not_screened_text(skip)));
    }
    for gap in &report.data_gaps {
        lines.push(format!(
            "- `{}` ({}, {}): {}",
            gap.rule,
            gap.pack,
            gap.severity.name(),
            gap.reasons.join("; ")
        ));
    }
    for u in &report.unrecognized {
        if only.is_none_or(|ids| ids.contains(&u.entry.id)) {
            lines.push(format!(
                "- \"{}\" is not identified as any ingredient: it was not checked",
                u.entry.text
            ));
        }
    }
    for c in &report.unrecognized_conditions {
        lines.push(format!(
            "- The condition \"{}\" is in no code system rxguard reads: it was not checked",
            c.entry.text
        ));
    }
    if lines.is_empty() {
        return None;
    }
    Some(json!({
        "uuid": crate::fhir::stable_uuid(&report.patient, "rxguard:data-gaps"),
        "summary": "Some checks could not be run",
        "indicator": "info",
        "detail": format!(
            "These checks could not be decided with the data sent, so their absence from the \
             cards is not an all-clear:\n\n{}",
            lines.join("\n")
        ),
        "source": {"label": "rxguard", "topic": {"code": "data-gaps", "system": "urn:rxguard"}},
    }))
}
