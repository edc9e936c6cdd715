//! The patient record as read from JSON. Strings borrow from the input where they can.
//! Unknown fields are rejected: a misspelt field must not silently drop data.

use serde::Deserialize;
use std::borrow::Cow;

/// One patient, as documented in `docs/patients.md`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patient<'a> {
    /// The patient's identifier.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
    #[serde(default, borrow)]
    pub birth_date: Option<Cow<'a, str>>,
    /// Age in years, when no birth date is known.
    #[serde(default)]
    pub age: Option<u32>,
    /// Sex.
    #[serde(default)]
    pub sex: Option<Sex>,
    /// Weight in kilograms.
    #[serde(default)]
    pub weight_kg: Option<f64>,
    /// Height in centimetres.
    #[serde(default)]
    pub height_cm: Option<f64>,
    /// Conditions: absent (or null) means unknown, `[]` means none.
    #[serde(default, borrow)]
    pub conditions: Option<Vec<ConditionRecord<'a>>>,
    /// Lab results: absent (or null) means unknown, `[]` means none.
    #[serde(default, borrow)]
    pub labs: Option<Vec<LabRecord<'a>>>,
    /// Medications: absent (or null) means unknown, `[]` means none.
    #[serde(default, borrow)]
    pub medications: Option<Vec<MedicationRecord<'a>>>,
    /// Deceased: `true`, or the day of death. A patient deceased on or before `as_of` is not
    /// screened (counted as skipped).
    #[serde(default, borrow)]
    pub deceased: Option<Deceased<'a>>,
}

/// Whether, or since when, the patient is deceased (FHIR `Patient.deceased[x]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Deceased<'a> {
    /// Deceased (`true`) or not (`false`), the day not known.
    Flag(bool),
    /// The day of death, `YYYY-MM-DD` (a FHIR dateTime is read by its day).
    Day(#[serde(borrow)] Cow<'a, str>),
}

/// Sex, for Cockcroft-Gault and for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Other.
    Other,
    /// Not known.
    Unknown,
}

/// A condition: coded (ICD-10-CM, SNOMED CT, or a system the vocabulary does not read), or
/// written as text only. One that the vocabulary cannot read is reported, never dropped.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionRecord<'a> {
    /// The entry's identifier (echoed in findings' facts).
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    /// The code; absent for a condition written as text only.
    #[serde(default, borrow)]
    pub code: Option<Cow<'a, str>>,
    /// The code system as written: `icd10`, `snomed`, or the name of another system (`icd9`,
    /// a FHIR system URI, a local name). Required with a code.
    #[serde(default, borrow)]
    pub system: Option<Cow<'a, str>>,
    /// Clinical status (default active).
    #[serde(default)]
    pub status: ConditionStatus,
    /// The condition as written.
    #[serde(default, borrow)]
    pub text: Option<Cow<'a, str>>,
}

impl ConditionRecord<'_> {
    /// The code system as the vocabulary reads it.
    pub fn code_system(&self) -> CodeSystem {
        self.system
            .as_deref()
            .map_or(CodeSystem::Other, CodeSystem::named)
    }

    /// The code with its system, when the vocabulary reads that system.
    pub fn read_code(&self) -> Option<(CodeSystem, &str)> {
        let code = self
            .code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())?;
        match self.code_system() {
            CodeSystem::Other => None,
            system => Some((system, code)),
        }
    }

    /// How a list names the entry: its code when the vocabulary reads its system, else the
    /// system and code as written, else its text in quotes.
    pub fn label(&self) -> String {
        match (self.read_code(), self.code.as_deref(), self.text.as_deref()) {
            (Some((_, code)), _, _) => code.to_string(),
            (None, Some(code), _) => format!("{} {code}", self.system.as_deref().unwrap_or("?")),
            (None, None, text) => format!("\"{}\"", text.unwrap_or_default()),
        }
    }
}

/// Condition code systems, as the vocabulary reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSystem {
    /// ICD-10-CM.
    Icd10,
    /// SNOMED CT.
    Snomed,
    /// Any other system (ICD-9-CM, WHO ICD-10, a local code): not read by the vocabulary.
    Other,
}

impl CodeSystem {
    /// The system a record names: `icd10` (also `icd-10-cm`, `icd10cm`, the FHIR URI and its OID
    /// `urn:oid:2.16.840.1.113883.6.90`) or `snomed` (also `sct`, `snomedct`, `snomed-ct`, the
    /// FHIR URI, an edition URI under it, and the OID `urn:oid:2.16.840.1.113883.6.96`), in any
    /// case and with a trailing `/`; anything else is another system. WHO ICD-10 (`icd-10`) is not
    /// ICD-10-CM: its codes differ.
    pub fn named(name: &str) -> CodeSystem {
        const ICD10: [&str; 5] = [
            "icd10",
            "icd-10-cm",
            "icd10cm",
            crate::fhir::system::ICD10CM,
            "urn:oid:2.16.840.1.113883.6.90",
        ];
        const SNOMED: [&str; 6] = [
            "snomed",
            "sct",
            "snomedct",
            "snomed-ct",
            crate::fhir::system::SNOMED,
            "urn:oid:2.16.840.1.113883.6.96",
        ];
        let name = name.trim().trim_end_matches('/');
        let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(name));
        let snomed_edition = name
            .get(..23)
            .is_some_and(|p| p.eq_ignore_ascii_case("http://snomed.info/sct/"));
        if is(&ICD10) {
            CodeSystem::Icd10
        } else if is(&SNOMED) || snomed_edition {
            CodeSystem::Snomed
        } else {
            CodeSystem::Other
        }
    }
}

/// A condition's clinical status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionStatus {
    /// Current.
    #[default]
    Active,
    /// Come back.
    Recurrence,
    /// Come back.
    Relapse,
    /// Not current.
    Inactive,
    /// In remission.
    Remission,
    /// Resolved.
    Resolved,
    /// Ruled out.
    Refuted,
    /// Recorded by mistake.
    EnteredInError,
}

impl ConditionStatus {
    /// Counts for `has`.
    pub fn is_current(self) -> bool {
        matches!(
            self,
            ConditionStatus::Active | ConditionStatus::Recurrence | ConditionStatus::Relapse
        )
    }

    /// Counts for `had`.
    pub fn is_past_or_current(self) -> bool {
        !matches!(
            self,
            ConditionStatus::Refuted | ConditionStatus::EnteredInError
        )
    }
}

/// A lab result.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabRecord<'a> {
    /// The result's identifier (echoed in findings' facts).
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    /// LOINC code.
    #[serde(borrow)]
    pub loinc: Cow<'a, str>,
    /// A number, or a range written as text (`">60"`).
    #[serde(borrow)]
    pub value: LabValue<'a>,
    /// The unit as written.
    #[serde(borrow)]
    pub unit: Cow<'a, str>,
    /// `YYYY-MM-DD`.
    #[serde(borrow)]
    pub date: Cow<'a, str>,
}

/// A lab value: a number or a textual range.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum LabValue<'a> {
    /// A number.
    Number(f64),
    /// Text such as `">60"`.
    Text(#[serde(borrow)] Cow<'a, str>),
}

/// A medication entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicationRecord<'a> {
    /// The entry's identifier.
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    /// The medication as written.
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    /// RxNorm code (ingredient or clinical drug).
    #[serde(default, borrow)]
    pub rxnorm: Option<Cow<'a, str>>,
    /// ATC code.
    #[serde(default, borrow)]
    pub atc: Option<Cow<'a, str>>,
    /// The dose per administration (or a rate per day).
    #[serde(default, borrow)]
    pub dose: Option<Dose<'a>>,
    /// How often (`tid`, `q6h`, ...).
    #[serde(default, borrow)]
    pub frequency: Option<Cow<'a, str>>,
    /// As needed.
    #[serde(default)]
    pub prn: bool,
    /// Route as written.
    #[serde(default, borrow)]
    pub route: Option<Cow<'a, str>>,
    /// Status (default active).
    #[serde(default)]
    pub status: MedicationStatus,
    /// The day the status took effect (read for `on-hold`: the day the hold began).
    #[serde(default, borrow)]
    pub status_changed: Option<Cow<'a, str>>,
    /// First day.
    #[serde(default, borrow)]
    pub start: Option<Cow<'a, str>>,
    /// Last day (inclusive).
    #[serde(default, borrow)]
    pub end: Option<Cow<'a, str>>,
    /// Where the entry came from.
    #[serde(default)]
    pub source: Option<EntrySource>,
}

/// A dose as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dose<'a> {
    /// The amount.
    pub value: f64,
    /// The unit as written.
    #[serde(borrow)]
    pub unit: Cow<'a, str>,
}

/// A medication's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MedicationStatus {
    /// Being taken.
    #[default]
    Active,
    /// Paused: counted as taking for interactions, and as an interruption for withdrawal rules
    /// once held longer than the site's on-hold limit.
    OnHold,
    /// Being ordered now.
    Draft,
    /// Stopped.
    Stopped,
    /// Course completed.
    Completed,
    /// Cancelled before it started.
    Cancelled,
    /// Recorded by mistake.
    EnteredInError,
    /// Not taken.
    NotTaken,
    /// Proposed or planned, not ordered (FHIR MedicationRequest intent `proposal` or `plan`):
    /// never read by a rule, and named in the report.
    Proposed,
}

/// Where a medication entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntrySource {
    /// An order.
    Request,
    /// A statement of use (including over-the-counter).
    Statement,
}
