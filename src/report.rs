//! What a check reports for one patient: findings with provenance, data gaps, unrecognized
//! medications and the dose, route and lab problems met on the way.

use crate::date::Date;
use crate::ir::Severity;
use serde::Serialize;

/// The report of one patient.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PatientReport {
    /// The patient's id.
    pub patient: String,
    /// The evaluation date.
    pub as_of: Date,
    /// Why the patient was not screened (deceased on or before `as_of`): no rule was evaluated,
    /// and the batch counts the record as skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_screened: Option<crate::patient::NotScreened>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Rules that could not be decided, with why.
    pub data_gaps: Vec<DataGap>,
    /// Medication entries not identified as any ingredient (or only in part).
    pub unrecognized: Vec<Unrecognized>,
    /// Conditions coded only in systems the vocabulary does not read, or written as text only:
    /// they could be any condition, so they are listed with the rules they could change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unrecognized_conditions: Vec<UnrecognizedCondition>,
    /// Doses, routes and lab results that could not be read.
    pub notes: Vec<Note>,
    /// Findings replaced by a finding of a superseding rule.
    pub superseded: Vec<Superseded>,
    /// Findings a site profile withholds (`shown = false`): the rule fired, and what it
    /// supersedes stays superseded, but the site chose not to show it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<Withheld>,
}

/// A rule that fired.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// The rule's name.
    pub rule: String,
    /// Its pack.
    pub pack: PackRef,
    /// Severity after any downgrade.
    pub severity: Severity,
    /// The severity before a downgrade, when one applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downgraded_from: Option<Severity>,
    /// The site profile in force, when one is (its settings may have re-graded this rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<crate::profile::ProfileRef>,
    /// The card summary.
    pub summary: String,
    /// The rendered message.
    pub message: String,
    /// The rendered advice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    /// Sources.
    pub cite: Vec<String>,
    /// The patient's entries that made it true.
    pub medications: Vec<EntryRef>,
    /// The facts compared.
    pub facts: Vec<Fact>,
    /// Exceptions (`unless`, `downgrade`) that could not be decided: the finding stands.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undecided_exceptions: Vec<String>,
    /// Override reasons the rule offers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub override_reasons: Vec<String>,
}

/// A pack's identity in a finding.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PackRef {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Content hash of the pack, the packs it uses and the engine version.
    pub hash: String,
}

/// One of the patient's medication entries.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryRef {
    /// The entry's id (`#N` for the N-th entry when the record gives none).
    pub id: String,
    /// As written.
    pub text: String,
    /// Its position in its list of the record (medications, conditions; 1-based): entries that
    /// share an id stay distinct.
    #[serde(skip)]
    pub position: usize,
}

/// A fact a rule compared.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Fact {
    /// What kind: `age`, `lab`, `daily_dose`, `dose_conversion`, `identified`, `count`,
    /// `condition`, `stop`, `route`.
    pub fact: &'static str,
    /// What it is about (a lab, a drug and route, a class, a condition).
    pub about: String,
    /// The value.
    pub value: String,
    /// Its unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    /// The date it was measured or happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    /// The entries summed or read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<String>,
}

/// A rule that could not be decided.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DataGap {
    /// The rule.
    pub rule: String,
    /// Its pack's name.
    pub pack: String,
    /// Its severity, had it fired.
    pub severity: Severity,
    /// What was missing.
    pub reasons: Vec<String>,
}

/// An entry not identified.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Unrecognized {
    /// The entry.
    pub entry: EntryRef,
    /// Ingredients identified in it, when it was identified in part.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identified: Vec<String>,
    /// The words not identified.
    pub words: Vec<String>,
    /// The rules that read medications and did not fire: this entry could have changed them.
    pub could_change: Vec<String>,
}

/// A condition the vocabulary cannot read.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnrecognizedCondition {
    /// The entry (`condition #N` when the record gives no id), with its text as written (its
    /// system and code when it has no text).
    pub entry: EntryRef,
    /// The code system as written, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The code as written, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The rules that read conditions and that this condition could have changed: made to fire,
    /// decided, suppressed or downgraded.
    pub could_change: Vec<String>,
}

/// A problem with one part of the record that did not stop the check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Note {
    /// The entry concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryRef>,
    /// What could not be read and what follows.
    pub problem: String,
}

/// A finding dropped because a superseding rule fired.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Superseded {
    /// The superseded rule.
    pub rule: String,
    /// The rule that fired instead.
    pub by: String,
}

/// A finding that fired and that the site profile withholds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Withheld {
    /// The rule that fired.
    pub rule: String,
    /// The severity it fired with.
    pub severity: Severity,
    /// The profile that withholds it.
    pub profile: String,
}

impl PatientReport {
    /// The report of a patient who is not screened.
    pub fn not_screened(patient: &str, as_of: Date, why: crate::patient::NotScreened) -> Self {
        PatientReport {
            patient: patient.to_string(),
            as_of,
            not_screened: Some(why),
            findings: Vec::new(),
            data_gaps: Vec::new(),
            unrecognized: Vec::new(),
            unrecognized_conditions: Vec::new(),
            notes: Vec::new(),
            superseded: Vec::new(),
            withheld: Vec::new(),
        }
    }

    /// The most severe finding's severity.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).min()
    }
}
