//! FHIR R4, R4B and R5 in, and out: a Bundle (Patient, MedicationRequest, MedicationStatement, Medication,
//! Condition, Observation) read into a patient record of our own format, and findings written as
//! DetectedIssue resources or CDS Hooks cards.
//!
//! A small serde model of just the fields read: everything else, extensions included, is
//! ignored, never rejected. A medication that cannot be identified is kept as an entry and
//! reported as unrecognized, never guessed. Entry ids are FHIR references (`MedicationRequest/12`,
//! `Observation/egfr-1`, `Condition/c1`), so findings point back into the Bundle.

use crate::date::Date;
use crate::ir::Severity;
use crate::patient::{
    CodeSystem, ConditionRecord, ConditionStatus, Deceased, Dose, EntrySource, LabRecord, LabValue,
    MedicationRecord, MedicationStatus, Patient, Sex,
};
use crate::report::PatientReport;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;

mod outcome;
mod version;

pub use outcome::{gap_card, operation_outcome};
pub use version::FhirVersion;

/// Code systems as FHIR names them.
pub mod system {
    /// RxNorm.
    pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
    /// WHO ATC.
    pub const ATC: &str = "http://www.whocc.no/atc";
    /// ICD-10-CM.
    pub const ICD10CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
    /// SNOMED CT.
    pub const SNOMED: &str = "http://snomed.info/sct";
    /// LOINC.
    pub const LOINC: &str = "http://loinc.org";
}

/// Why a FHIR input cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FhirError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// JSON, but not a Bundle or a resource of the kinds read.
    #[error("{0}")]
    Shape(String),
    /// A FHIR release that is not read (DSTU2, STU3, R6), or releases mixed in one input.
    #[error("{0}")]
    Version(String),
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Coding {
    system: Option<String>,
    code: Option<String>,
    display: Option<String>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct CodeableConcept {
    coding: Vec<Coding>,
    text: Option<String>,
}

impl CodeableConcept {
    fn code(&self, system: &str) -> Option<&str> {
        self.coding
            .iter()
            .find(|c| c.system.as_deref() == Some(system))
            .and_then(|c| c.code.as_deref())
    }

    fn first_code(&self) -> Option<&str> {
        self.coding.iter().find_map(|c| c.code.as_deref())
    }

    fn words(&self) -> Option<&str> {
        self.text
            .as_deref()
            .or_else(|| self.coding.iter().find_map(|c| c.display.as_deref()))
    }
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Reference {
    reference: Option<String>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Period {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Quantity {
    value: Option<f64>,
    unit: Option<String>,
    code: Option<String>,
}

impl Quantity {
    fn unit(&self) -> Option<&str> {
        self.code.as_deref().or(self.unit.as_deref())
    }
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Repeat {
    bounds_period: Option<Period>,
    frequency: Option<f64>,
    period: Option<f64>,
    period_unit: Option<String>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Timing {
    repeat: Option<Repeat>,
    code: Option<CodeableConcept>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct DoseAndRate {
    dose_quantity: Option<Quantity>,
    rate_quantity: Option<Quantity>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Dosage {
    timing: Option<Timing>,
    as_needed_boolean: Option<bool>,
    /// R4: the reason a PRN medication is taken (present means as needed).
    as_needed_codeable_concept: Option<serde_json::Value>,
    /// R5: `asNeeded` is the boolean, `asNeededFor` the reasons (present means as needed).
    as_needed: Option<bool>,
    as_needed_for: Vec<serde_json::Value>,
    route: Option<CodeableConcept>,
    dose_and_rate: Vec<DoseAndRate>,
}

/// Taken as needed (PRN): `asNeededBoolean` (R4), `asNeeded` (R5), or a reason for taking it
/// as needed (`asNeededCodeableConcept` in R4, `asNeededFor` in R5).
fn as_needed(d: &Dosage) -> bool {
    d.as_needed_boolean.or(d.as_needed).unwrap_or(false)
        || d.as_needed_codeable_concept.is_some()
        || !d.as_needed_for.is_empty()
}

/// R5's CodeableReference: a concept, a reference, or both.
#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct CodeableReference {
    concept: Option<CodeableConcept>,
    reference: Option<Reference>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Extension {
    url: Option<String>,
    value_date_time: Option<String>,
}

/// R5 MedicationStatement.adherence.
#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Adherence {
    code: Option<CodeableConcept>,
}

/// R5's MedicationRequest.statusChanged, carried in R4 by the cross-version extension.
const STATUS_CHANGED_EXTENSION: &str =
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-MedicationRequest.statusChanged";

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct MedicationUse {
    id: Option<String>,
    status: Option<String>,
    // R4, R4B
    medication_codeable_concept: Option<CodeableConcept>,
    medication_reference: Option<Reference>,
    // R5
    medication: Option<CodeableReference>,
    status_changed: Option<String>,
    adherence: Option<Adherence>,
    extension: Vec<Extension>,
    // MedicationRequest
    intent: Option<String>,
    // MedicationRequest
    dosage_instruction: Vec<Dosage>,
    authored_on: Option<String>,
    // MedicationStatement
    dosage: Vec<Dosage>,
    effective_period: Option<Period>,
    effective_date_time: Option<String>,
    contained: Vec<Value>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Medication {
    id: Option<String>,
    code: Option<CodeableConcept>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct FhirPatient {
    id: Option<String>,
    birth_date: Option<String>,
    gender: Option<String>,
    deceased_boolean: Option<bool>,
    deceased_date_time: Option<String>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Condition {
    id: Option<String>,
    clinical_status: Option<CodeableConcept>,
    verification_status: Option<CodeableConcept>,
    code: Option<CodeableConcept>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase", default)]
struct Observation {
    id: Option<String>,
    status: Option<String>,
    code: Option<CodeableConcept>,
    value_quantity: Option<Quantity>,
    value_string: Option<String>,
    effective_date_time: Option<String>,
    effective_period: Option<Period>,
    issued: Option<String>,
}

/// Which sections of the record the input provides. Absent sections make the rules that read
/// them undecided (data gaps) instead of false.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sections {
    /// Medication requests or statements were given (possibly none).
    pub medications: bool,
    /// Conditions were given.
    pub conditions: bool,
    /// Observations were given.
    pub labs: bool,
}

/// FHIR resources, as read.
#[derive(Debug, Default, Clone)]
pub struct Resources {
    list: Vec<Value>,
    /// Bundles' own elements (their `meta`, `fhirVersion`), for the release they declare.
    bundles: Vec<Value>,
}

impl Resources {
    /// The resources of a Bundle (its entries' `resource`), or a single resource.
    pub fn parse(json: &str) -> Result<Resources, FhirError> {
        let v: Value = serde_json::from_str(json).map_err(|e| FhirError::Json(e.to_string()))?;
        Resources::from_value(v)
    }

    /// The same, from a parsed value.
    pub fn from_value(v: Value) -> Result<Resources, FhirError> {
        let mut r = Resources::default();
        r.add(v)?;
        Ok(r)
    }

    /// Adds a resource, or every entry of a Bundle; `null` adds nothing.
    pub fn add(&mut self, v: Value) -> Result<(), FhirError> {
        match v.get("resourceType").and_then(Value::as_str) {
            Some("Bundle") => {
                let mut head = serde_json::Map::new();
                for key in ["resourceType", "meta", "fhirVersion"] {
                    if let Some(x) = v.get(key) {
                        head.insert(key.into(), x.clone());
                    }
                }
                self.bundles.push(Value::Object(head));
                for entry in v
                    .get("entry")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(res) = entry.get("resource") {
                        self.add(res.clone())?;
                    }
                }
                Ok(())
            }
            Some(_) => {
                self.list.push(v);
                Ok(())
            }
            None if v.is_null() => Ok(()),
            None => Err(FhirError::Shape(
                "not a FHIR resource: no `resourceType`".into(),
            )),
        }
    }

    fn of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.list
            .iter()
            .filter(move |v| v.get("resourceType").and_then(Value::as_str) == Some(kind))
    }

    /// Whether a resource of this type was given.
    pub fn has(&self, kind: &str) -> bool {
        self.of(kind).next().is_some()
    }

    /// The sections a plain Bundle provides: a section is given when a resource of its kind is.
    pub fn sections(&self) -> Sections {
        Sections {
            medications: self.has("MedicationRequest") || self.has("MedicationStatement"),
            conditions: self.has("Condition"),
            labs: self.has("Observation"),
        }
    }

    /// The FHIR release these resources are written in, or why they cannot be read.
    pub fn version(&self) -> Result<FhirVersion, FhirError> {
        version::detect(&self.bundles, &self.list)
    }

    /// The patient record these resources describe, in our own format.
    pub fn patient(&self, sections: Sections) -> Result<Patient<'static>, FhirError> {
        let release = self.version()?;
        let fhir_patient: FhirPatient = match self.of("Patient").next() {
            Some(p) => typed(p, "Patient")?,
            None => FhirPatient::default(),
        };
        // Medications by id; several resources may share one id, and none hides another.
        let mut medications_by_id: HashMap<String, Vec<Medication>> = HashMap::new();
        for m in self
            .of("Medication")
            .filter_map(|m| serde_json::from_value::<Medication>(m.clone()).ok())
        {
            if let Some(id) = m.id.clone() {
                medications_by_id
                    .entry(format!("Medication/{id}"))
                    .or_default()
                    .push(m);
            }
        }
        let mut meds = Vec::new();
        for (kind, source) in [
            ("MedicationRequest", EntrySource::Request),
            ("MedicationStatement", EntrySource::Statement),
        ] {
            for v in self.of(kind) {
                let m: MedicationUse = typed(v, kind)?;
                meds.push(medication(&m, kind, source, &medications_by_id, release));
            }
        }
        let mut conditions = Vec::new();
        for v in self.of("Condition") {
            let c: Condition = typed(v, "Condition")?;
            conditions.extend(condition(&c));
        }
        let mut labs = Vec::new();
        let mut weight: Option<(String, f64)> = None;
        let mut height: Option<(String, f64)> = None;
        for v in self.of("Observation") {
            let o: Observation = typed(v, "Observation")?;
            if matches!(o.status.as_deref(), Some("cancelled" | "entered-in-error")) {
                continue;
            }
            let loinc = o.code.as_ref().and_then(|c| c.code(system::LOINC));
            let date = o
                .effective_date_time
                .clone()
                .or_else(|| o.effective_period.as_ref().and_then(|p| p.start.clone()))
                .or_else(|| o.issued.clone())
                .map(|d| day(&d));
            match (loinc, date) {
                (Some(code), Some(date)) if BODY_WEIGHT_LOINC.contains(&code) => {
                    latest(
                        &mut weight,
                        date,
                        o.value_quantity.as_ref().and_then(kilograms),
                    );
                }
                (Some(code), Some(date)) if BODY_HEIGHT_LOINC.contains(&code) => {
                    latest(
                        &mut height,
                        date,
                        o.value_quantity.as_ref().and_then(centimetres),
                    );
                }
                (Some(code), Some(date)) => {
                    let value = match (&o.value_quantity, &o.value_string) {
                        (Some(q), _) if q.value.is_some() => {
                            LabValue::Number(q.value.unwrap_or(f64::NAN))
                        }
                        (_, Some(s)) => LabValue::Text(Cow::Owned(s.clone())),
                        _ => continue,
                    };
                    labs.push(LabRecord {
                        id: o
                            .id
                            .as_ref()
                            .map(|id| Cow::Owned(format!("Observation/{id}"))),
                        loinc: Cow::Owned(code.to_string()),
                        value,
                        unit: Cow::Owned(
                            o.value_quantity
                                .as_ref()
                                .and_then(Quantity::unit)
                                .unwrap_or("")
                                .to_string(),
                        ),
                        date: Cow::Owned(date),
                    });
                }
                _ => {}
            }
        }
        Ok(Patient {
            id: Cow::Owned(fhir_patient.id.unwrap_or_else(|| "unknown".into())),
            birth_date: fhir_patient.birth_date.map(Cow::Owned),
            age: None,
            sex: fhir_patient.gender.as_deref().map(|g| match g {
                "female" => Sex::Female,
                "male" => Sex::Male,
                "other" => Sex::Other,
                _ => Sex::Unknown,
            }),
            weight_kg: weight.map(|w| w.1),
            height_cm: height.map(|h| h.1),
            conditions: sections.conditions.then_some(conditions),
            labs: sections.labs.then_some(labs),
            medications: sections.medications.then_some(meds),
            deceased: match (
                fhir_patient.deceased_date_time,
                fhir_patient.deceased_boolean,
            ) {
                (Some(when), _) => Some(Deceased::Day(Cow::Owned(day(&when)))),
                (None, Some(flag)) => Some(Deceased::Flag(flag)),
                (None, None) => None,
            },
        })
    }
}

fn typed<T: serde::de::DeserializeOwned>(v: &Value, kind: &str) -> Result<T, FhirError> {
    let id = v.get("id").and_then(Value::as_str).unwrap_or("?");
    serde_json::from_value(v.clone())
        .map_err(|e| FhirError::Shape(format!("{kind}/{id} cannot be read: {e}")))
}

/// The day of a FHIR date or dateTime (`2026-10-01T08:00:00Z` → `2026-10-01`).
fn day(s: &str) -> String {
    s.get(..10).unwrap_or(s).to_string()
}

/// Keeps the latest of dated measurements (a later or same-day one replaces the one kept).
fn latest(kept: &mut Option<(String, f64)>, date: String, value: Option<f64>) {
    if let Some(v) = value
        && kept.as_ref().is_none_or(|(d, _)| *d <= date)
    {
        *kept = Some((date, v));
    }
}

/// Body weight by LOINC: 29463-7 Body weight, 3141-9 Body weight Measured.
pub(crate) const BODY_WEIGHT_LOINC: [&str; 2] = ["29463-7", "3141-9"];

/// Body height by LOINC: 8302-2 Body height, the code of the FHIR Body Height profile.
pub(crate) const BODY_HEIGHT_LOINC: [&str; 1] = ["8302-2"];

/// A body height in cm, from the units the FHIR Body Height profile allows (UCUM `cm`,
/// `[in_i]`) and their plain spellings.
fn centimetres(q: &Quantity) -> Option<f64> {
    let v = q.value?;
    match q.unit()? {
        "cm" => Some(v),
        "m" => Some(v * 100.0),
        "[in_i]" | "in" | "[in_us]" => Some(v * 2.54),
        _ => None,
    }
}

fn kilograms(q: &Quantity) -> Option<f64> {
    let v = q.value?;
    match q.unit()? {
        "kg" => Some(v),
        "g" => Some(v / 1000.0),
        "[lb_av]" | "lb" | "lbs" => Some(v * 0.453_592_37),
        _ => None,
    }
}

fn medication(
    m: &MedicationUse,
    kind: &str,
    source: EntrySource,
    bundled: &HashMap<String, Vec<Medication>>,
    release: FhirVersion,
) -> MedicationRecord<'static> {
    let id = format!("{kind}/{}", m.id.as_deref().unwrap_or("?"));
    let concept = drug(m, bundled, release).unwrap_or_default();
    let text = concept
        .words()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{id} without a medication"));
    let status = medication_status(m, kind, release);
    let dosage = if kind == "MedicationRequest" {
        m.dosage_instruction.first()
    } else {
        m.dosage.first()
    };
    let bounds = dosage
        .and_then(|d| d.timing.as_ref())
        .and_then(|t| t.repeat.as_ref())
        .and_then(|r| r.bounds_period.clone());
    // The taking window: the dosage's bounds, else the resource's own dates; never the
    // dispense validity period.
    let (start, end) = match (bounds, kind) {
        (Some(b), _) => (b.start, b.end),
        (None, "MedicationRequest") => (m.authored_on.clone(), None),
        (None, _) => match &m.effective_period {
            Some(p) => (p.start.clone(), p.end.clone()),
            None => (m.effective_date_time.clone(), None),
        },
    };
    let status_changed = m.status_changed.clone().or_else(|| {
        m.extension
            .iter()
            .find(|e| e.url.as_deref() == Some(STATUS_CHANGED_EXTENSION))
            .and_then(|e| e.value_date_time.clone())
    });
    let (dose, frequency) = dosage.map(dose_and_frequency).unwrap_or((None, None));
    MedicationRecord {
        id: Some(Cow::Owned(id)),
        text: Cow::Owned(text),
        rxnorm: concept
            .code(system::RXNORM)
            .map(|c| Cow::Owned(c.to_string())),
        atc: concept.code(system::ATC).map(|c| Cow::Owned(c.to_string())),
        dose,
        frequency: frequency.map(Cow::Owned),
        prn: dosage.is_some_and(as_needed),
        route: dosage
            .and_then(|d| d.route.as_ref())
            .and_then(route)
            .map(|r| Cow::Owned(r.to_string())),
        status,
        status_changed: status_changed.map(|s| Cow::Owned(day(&s))),
        start: start.map(|s| Cow::Owned(day(&s))),
        end: end.map(|s| Cow::Owned(day(&s))),
        source: Some(source),
    }
}

/// The drug of a request or statement: a code in the resource, a contained Medication, or one
/// in the Bundle. R4 writes `medicationCodeableConcept` / `medicationReference`, R5 one
/// CodeableReference `medication` (`concept` / `reference`).
fn drug(
    m: &MedicationUse,
    bundled: &HashMap<String, Vec<Medication>>,
    release: FhirVersion,
) -> Option<CodeableConcept> {
    let (concept, reference) = if release.is_r5() {
        let cr = m.medication.as_ref();
        (
            cr.and_then(|c| c.concept.clone()),
            cr.and_then(|c| c.reference.as_ref()),
        )
    } else {
        (
            m.medication_codeable_concept.clone(),
            m.medication_reference.as_ref(),
        )
    };
    concept.or_else(|| {
        let r = reference?.reference.as_deref()?;
        if let Some(local) = r.strip_prefix('#') {
            m.contained
                .iter()
                .filter_map(|c| serde_json::from_value::<Medication>(c.clone()).ok())
                .find(|c| c.id.as_deref() == Some(local))
                .and_then(|c| c.code)
        } else {
            let key = r.rsplit('/').next().unwrap_or("");
            shared(bundled.get(&format!("Medication/{key}"))?)
        }
    })
}

/// The code of the Medication a reference names. Several Medication resources sharing that id
/// are all read: their names joined, so that every drug among them is identified (or the entry
/// reported), never only the first.
fn shared(candidates: &[Medication]) -> Option<CodeableConcept> {
    let codes: Vec<&CodeableConcept> = candidates.iter().filter_map(|c| c.code.as_ref()).collect();
    let first = *codes.first()?;
    let mut words: Vec<&str> = Vec::new();
    for c in &codes {
        let w = c.words().unwrap_or("?");
        if !words.contains(&w) {
            words.push(w);
        }
    }
    if words.len() == 1 {
        return Some(first.clone());
    }
    Some(CodeableConcept {
        coding: Vec::new(),
        text: Some(words.join(" / ")),
    })
}

/// Our status from a request's `status` and `intent`, or a statement's `status` (and R5's
/// `adherence`). See the table in `docs/patients.md`.
fn medication_status(m: &MedicationUse, kind: &str, release: FhirVersion) -> MedicationStatus {
    let status = m.status.as_deref().unwrap_or("active");
    if kind == "MedicationRequest"
        && matches!(m.intent.as_deref(), Some("proposal" | "plan" | "option"))
        && !matches!(status, "entered-in-error" | "cancelled")
    {
        return MedicationStatus::Proposed;
    }
    if kind == "MedicationStatement" && release.is_r5() && status != "entered-in-error" {
        return adherence_status(m);
    }
    match status {
        "on-hold" => MedicationStatus::OnHold,
        "draft" => MedicationStatus::Draft,
        "stopped" => MedicationStatus::Stopped,
        // R5 requests: `ended`, the parent of stopped, completed and cancelled.
        "completed" | "ended" => MedicationStatus::Completed,
        "cancelled" => MedicationStatus::Cancelled,
        "entered-in-error" => MedicationStatus::EnteredInError,
        "not-taken" | "intended" => MedicationStatus::NotTaken,
        _ => MedicationStatus::Active,
    }
}

/// An R5 statement's status says only whether the record is finished (`recorded`, `draft`);
/// whether the drug is taken is its `adherence` (codes of
/// http://hl7.org/fhir/CodeSystem/medication-statement-adherence). With no adherence the
/// statement's dates decide, as for an R4 statement of status `unknown`.
fn adherence_status(m: &MedicationUse) -> MedicationStatus {
    let code = m
        .adherence
        .as_ref()
        .and_then(|a| a.code.as_ref())
        .and_then(CodeableConcept::first_code);
    match code {
        Some(c) if c.starts_with("on-hold") => MedicationStatus::OnHold,
        Some(c) if c.starts_with("stopped") => MedicationStatus::Stopped,
        Some("not-taking") => MedicationStatus::NotTaken,
        _ => MedicationStatus::Active,
    }
}

fn dose_and_frequency(d: &Dosage) -> (Option<Dose<'static>>, Option<String>) {
    let dr = d.dose_and_rate.first();
    let quantity = dr
        .and_then(|x| x.dose_quantity.clone())
        .or_else(|| dr.and_then(|x| x.rate_quantity.clone()));
    let dose = quantity.and_then(|q| {
        Some(Dose {
            value: q.value?,
            unit: Cow::Owned(q.unit()?.to_string()),
        })
    });
    let timing = d.timing.as_ref();
    let coded = timing
        .and_then(|t| t.code.as_ref())
        .and_then(CodeableConcept::first_code)
        .map(str::to_lowercase)
        .filter(|c| crate::patient::frequency_per_day(c).is_some());
    let repeated = timing.and_then(|t| t.repeat.as_ref()).and_then(|r| {
        let per = r.frequency.unwrap_or(1.0);
        let period = r.period?;
        let days = match r.period_unit.as_deref()? {
            "h" => period / 24.0,
            "d" => period,
            "wk" => period * 7.0,
            _ => return None,
        };
        let per_day = per / days;
        let named = [
            (1.0, "daily"),
            (2.0, "bid"),
            (3.0, "tid"),
            (4.0, "qid"),
            (6.0, "q4h"),
            (8.0, "q3h"),
            (12.0, "q2h"),
            (0.5, "q48h"),
            (1.0 / 3.0, "q72h"),
            (1.0 / 7.0, "weekly"),
        ];
        named
            .iter()
            .find(|(n, _)| (n - per_day).abs() < 1e-9)
            .map(|(_, s)| s.to_string())
            .or_else(|| Some(format!("{per} per {period} {}", r.period_unit.as_deref()?)))
    });
    (dose, coded.or(repeated))
}

/// A route from SNOMED CT route codes, else from the words of the route.
fn route(c: &CodeableConcept) -> Option<&'static str> {
    let by_code = match c.code(system::SNOMED) {
        Some("26643006") => Some("oral"),
        Some("72607000") => Some("intrathecal"),
        Some("47625008") => Some("intravenous"),
        Some("78421000") => Some("intramuscular"),
        Some("34206005") => Some("subcutaneous"),
        Some("45890007") => Some("transdermal"),
        Some("37839007") => Some("sublingual"),
        Some("54471007") => Some("buccal"),
        Some("37161004") => Some("rectal"),
        Some("46713006") => Some("nasal"),
        Some("6064005") => Some("topical"),
        Some("447694001") => Some("inhaled"),
        _ => None,
    };
    by_code.or_else(|| {
        let words = c.words()?.to_lowercase();
        let first = words.split_whitespace().next()?;
        crate::route::Route::from_record(first).map(|r| r.name())
    })
}

/// A Condition as records: one per coding in a system the vocabulary reads (ICD-10-CM, SNOMED
/// CT). When none is, the Condition is kept as one entry with its first code and its text
/// (ICD-9-CM, a local code, text only), so the report lists it as unrecognized.
fn condition(c: &Condition) -> Vec<ConditionRecord<'static>> {
    let status = condition_status(c);
    let id = c.id.as_ref().map(|id| format!("Condition/{id}"));
    let entry = |system: Option<&str>, code: Option<&str>, text: Option<&str>| ConditionRecord {
        id: id.clone().map(Cow::Owned),
        code: code.map(|c| Cow::Owned(c.to_string())),
        system: system.map(|s| Cow::Owned(s.to_string())),
        status,
        text: text.map(|t| Cow::Owned(t.to_string())),
    };
    let codings = c.code.iter().flat_map(|code| code.coding.iter());
    let read: Vec<ConditionRecord<'static>> = codings
        .clone()
        .filter_map(|coding| {
            let system = coding.system.as_deref()?;
            let code = coding.code.as_deref().filter(|c| !c.trim().is_empty())?;
            (CodeSystem::named(system) != CodeSystem::Other)
                .then(|| entry(Some(system), Some(code), coding.display.as_deref()))
        })
        .collect();
    if !read.is_empty() {
        return read;
    }
    let first = codings
        .clone()
        .find(|coding| coding.code.as_deref().is_some_and(|c| !c.trim().is_empty()));
    let text = c.code.as_ref().and_then(CodeableConcept::words);
    let record = match (first, text) {
        (Some(coding), text) => entry(
            Some(coding.system.as_deref().unwrap_or(NO_SYSTEM)),
            coding.code.as_deref(),
            text.or(coding.display.as_deref()),
        ),
        (None, Some(text)) => entry(None, None, Some(text)),
        (None, None) => entry(None, None, Some(NO_CODE)),
    };
    vec![record]
}

/// The system named for a coding that gives none.
const NO_SYSTEM: &str = "(no system)";
/// The text of a Condition with neither a code nor a text.
const NO_CODE: &str = "(Condition with no code and no text)";

fn condition_status(c: &Condition) -> ConditionStatus {
    let verification = c
        .verification_status
        .as_ref()
        .and_then(CodeableConcept::first_code);
    let clinical = c
        .clinical_status
        .as_ref()
        .and_then(CodeableConcept::first_code);
    match (verification, clinical) {
        (Some("refuted"), _) => ConditionStatus::Refuted,
        (Some("entered-in-error"), _) => ConditionStatus::EnteredInError,
        (_, Some("recurrence")) => ConditionStatus::Recurrence,
        (_, Some("relapse")) => ConditionStatus::Relapse,
        (_, Some("inactive")) => ConditionStatus::Inactive,
        (_, Some("remission")) => ConditionStatus::Remission,
        (_, Some("resolved")) => ConditionStatus::Resolved,
        _ => ConditionStatus::Active,
    }
}

/// FHIR DetectedIssue severity.
pub fn issue_severity(s: Severity) -> &'static str {
    match s {
        Severity::Contraindicated | Severity::Major => "high",
        Severity::Moderate => "moderate",
        Severity::Minor => "low",
    }
}

/// CDS Hooks card indicator.
pub fn card_indicator(s: Severity) -> &'static str {
    match s {
        Severity::Contraindicated => "critical",
        Severity::Major | Severity::Moderate => "warning",
        Severity::Minor => "info",
    }
}

/// A stable UUID (version 8 layout) for a finding or card: the same patient and topic (a rule's
/// name, say) always give the same id.
pub fn stable_uuid(patient: &str, rule: &str) -> String {
    let hash = |seed: u64| {
        let mut h = seed;
        for b in patient.bytes().chain([0]).chain(rule.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    let (a, b) = (hash(0xcbf2_9ce4_8422_2325), hash(0x8422_2325_cbf2_9ce4));
    // A version-8 (custom) UUID layout.
    format!(
        "{:08x}-{:04x}-8{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// A report as a Bundle (type `collection`) of DetectedIssue resources.
pub fn detected_issues(report: &PatientReport) -> Value {
    let entries: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let id = stable_uuid(&report.patient, &f.rule);
            let implicated: Vec<Value> = f
                .medications
                .iter()
                .filter(|m| m.id.contains('/'))
                .map(|m| json!({"reference": m.id, "display": m.text}))
                .collect();
            let evidence: Vec<Value> = f
                .facts
                .iter()
                .flat_map(|fact| fact.entries.iter())
                .filter(|e| e.starts_with("Observation/") || e.starts_with("Condition/"))
                .map(|e| json!({"detail": [{"reference": e}]}))
                .collect();
            let mut issue = json!({
                "resourceType": "DetectedIssue",
                "id": id,
                "status": "final",
                "code": {
                    "coding": [{"system": "urn:rxguard:rule", "code": f.rule, "display": f.summary}],
                    "text": f.summary,
                },
                "severity": issue_severity(f.severity),
                "patient": {"reference": format!("Patient/{}", report.patient)},
                "identifiedDateTime": report.as_of.to_string(),
                "detail": format!("{} Sources: {}.", f.message, f.cite.join("; ")),
            });
            if !implicated.is_empty() {
                issue["implicated"] = Value::Array(implicated);
            }
            if !evidence.is_empty() {
                issue["evidence"] = Value::Array(evidence);
            }
            if let Some(advice) = &f.advice {
                issue["mitigation"] = json!([{"action": {"text": advice}}]);
            }
            json!({"fullUrl": format!("urn:uuid:{id}"), "resource": issue})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "collection", "entry": entries})
}

/// A report as CDS Hooks cards. With `only_involving`, cards only for findings that name one of
/// those entries (the draft orders of order-select and order-sign).
pub fn cards(report: &PatientReport, only_involving: Option<&[String]>) -> Value {
    let cards: Vec<Value> = report
        .findings
        .iter()
        .filter(|f| {
            only_involving.is_none_or(|ids| f.medications.iter().any(|m| ids.contains(&m.id)))
        })
        .map(|f| {
            let mut detail = f.message.clone();
            if let Some(a) = &f.advice {
                detail.push_str(&format!("\n\n**What to do:** {a}"));
            }
            if !f.facts.is_empty() {
                let facts: Vec<String> = f
                    .facts
                    .iter()
                    .map(|x| {
                        format!(
                            "{} {}{}",
                            x.about,
                            x.value,
                            x.unit.map(|u| format!(" {u}")).unwrap_or_default()
                        )
                    })
                    .collect();
                detail.push_str(&format!("\n\n**Facts:** {}", facts.join("; ")));
            }
            let summary: String = f.summary.chars().take(139).collect();
            json!({
                "uuid": stable_uuid(&report.patient, &f.rule),
                "summary": summary,
                "indicator": card_indicator(f.severity),
                "detail": detail,
                "source": {"label": f.cite.join("; "), "topic": {"code": f.rule, "system": "urn:rxguard:rule"}},
                "overrideReasons": f.override_reasons.iter().map(|r| json!({"code": r, "display": r})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "cards": cards })
}

/// Whether a JSON record is obviously FHIR (it names a `resourceType`).
pub fn looks_like_fhir(json: &str) -> bool {
    json.trim_start().starts_with('{') && json.contains("\"resourceType\"")
}

/// The evaluation date as FHIR writes a date.
pub fn fhir_date(d: Date) -> String {
    d.to_string()
}
