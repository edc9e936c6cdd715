//! Prefetch read by what each value is, not by its key: an EHR configured for another CDS
//! service sends that service's keys (`item1`, `item2`, ...), and the data is the same.
//!
//! Each value is one of:
//! - a Patient (a read of `Patient/{{context.patientId}}`): age and sex;
//! - a Bundle (usually a searchset) of MedicationRequest, MedicationStatement, Condition or
//!   Observation, with the Medication resources a search may `_include`: the section of its
//!   entries' type, or, when it has no entries, the type its `self` link searched;
//! - an OperationOutcome, or a Bundle holding an error OperationOutcome: that prefetch failed, so
//!   it provides no section (a data gap, never an empty list);
//! - `null`: the EHR found nothing. Only under one of rxguard's own keys does that say which
//!   section is empty; under another key it says nothing.
//!
//! Several values of one type are merged. A section is *provided* (so a condition it does not
//! list is absent, not unknown) only by a complete list: a search Bundle without a `next` page,
//! not narrowed to some codes (for medications and conditions), or `null` under our own key. A
//! narrowed or partial list, or a single resource, is read for what it holds, and the section
//! stays unknown. Any other value (a Practitioner, an Encounter, a string) is not about the
//! medication safety of the patient and is left aside.
//!
//! Every Patient must be the patient of `context.patientId`, and so must every resource whose
//! `subject` (or `patient`) names a Patient: another patient's data is refused (400), never mixed
//! into the cards.

use super::Refusal;
use axum::http::StatusCode;
use serde_json::{Map, Value};

/// rxguard's own prefetch keys, those of the templates of discovery.
pub(crate) const PATIENT: &str = "patient";
pub(crate) const MEDICATIONS: &str = "medications";
pub(crate) const STATEMENTS: &str = "statements";
pub(crate) const CONDITIONS: &str = "conditions";
pub(crate) const OBSERVATIONS: &str = "observations";

/// Our own keys and the section each names (what `null` under it means).
const OWN_KEYS: [(&str, Section); 5] = [
    (PATIENT, Section::Patient),
    (MEDICATIONS, Section::Medications),
    (STATEMENTS, Section::Medications),
    (CONDITIONS, Section::Conditions),
    (OBSERVATIONS, Section::Labs),
];

/// The resource type each of our own keys asks for, in the order of discovery.
pub(crate) const OWN_TYPES: [(&str, &str); 5] = [
    (PATIENT, "Patient"),
    (MEDICATIONS, "MedicationRequest"),
    (STATEMENTS, "MedicationStatement"),
    (CONDITIONS, "Condition"),
    (OBSERVATIONS, "Observation"),
];

/// A part of the patient record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Section {
    Patient,
    Medications,
    Conditions,
    Labs,
}

impl Section {
    /// The section a resource type belongs to; `None` for types not read.
    fn of(resource_type: &str) -> Option<Section> {
        match resource_type {
            "Patient" => Some(Section::Patient),
            "MedicationRequest" | "MedicationStatement" => Some(Section::Medications),
            "Condition" => Some(Section::Conditions),
            "Observation" => Some(Section::Labs),
            _ => None,
        }
    }

    pub(crate) fn singular(self) -> &'static str {
        match self {
            Section::Patient => "patient",
            Section::Medications => "medication",
            Section::Conditions => "condition",
            Section::Labs => "lab result",
        }
    }
}

/// What the prefetch gave, merged over its keys.
#[derive(Default)]
pub(crate) struct Prefetch {
    /// The resources read (Patient, the clinical resources, and the Medications they reference).
    pub(crate) resources: Vec<Value>,
    /// Sections given as complete lists (possibly empty).
    pub(crate) medications: bool,
    pub(crate) conditions: bool,
    pub(crate) labs: bool,
    /// What the cards must say about keys that could not be fully used: `(key, why)`.
    pub(crate) notes: Vec<(String, Note)>,
}

/// Why a prefetch key gave less than a section.
pub(crate) enum Note {
    /// The EHR could not fetch it (what its OperationOutcome says).
    Unavailable(String),
    /// Not prefetched, and not read from the FHIR server either (why).
    NotFetched(String),
    /// A narrowed or incomplete list of this section.
    Partial(Section, String),
}

impl Prefetch {
    fn provide(&mut self, section: Section) {
        match section {
            Section::Patient => {}
            Section::Medications => self.medications = true,
            Section::Conditions => self.conditions = true,
            Section::Labs => self.labs = true,
        }
    }

    /// Whether anything usable was sent at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.resources.is_empty() && !self.medications && !self.conditions && !self.labs
    }
}

/// `context.patientId`, bare (`123`) or as a reference (`Patient/123`), as the bare id.
pub(crate) fn patient_id(context_id: &str) -> Result<&str, Refusal> {
    let id = context_id.trim();
    let id = id.strip_prefix("Patient/").unwrap_or(id);
    if id.is_empty() || id.contains('/') {
        return Err(bad_request(format!(
            "context.patientId `{context_id}` is neither a Patient id nor `Patient/<id>`"
        )));
    }
    Ok(id)
}

/// The resource types of [`OWN_TYPES`] for which the prefetch holds data (an empty search
/// counts; a failure does not), whatever their keys.
pub(crate) fn answered(prefetch: &Map<String, Value>) -> Vec<&'static str> {
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in prefetch {
        let own = OWN_TYPES.iter().find(|(k, _)| k == key).map(|(_, t)| *t);
        match resource_type(value) {
            None if value.is_null() => seen.extend(own),
            Some("Bundle") => {
                let resources: Vec<&Value> = bundle_resources(value).collect();
                if resources.iter().any(|r| is_error_outcome(r)) {
                    continue;
                }
                seen.extend(resources.iter().filter_map(|r| resource_type(r)));
                let searched = self_link(value).map(searched_type);
                seen.extend(searched.or(own.filter(|_| resources.is_empty())));
            }
            Some(kind) => seen.push(kind),
            None => {}
        }
    }
    OWN_TYPES
        .iter()
        .map(|(_, t)| *t)
        .filter(|t| seen.contains(t))
        .collect()
}

fn bundle_resources(bundle: &Value) -> impl Iterator<Item = &Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("resource"))
}

/// Reads every prefetch value for the patient `patient`.
pub(crate) fn read(prefetch: &Map<String, Value>, patient: &str) -> Result<Prefetch, Refusal> {
    let mut read = Prefetch::default();
    for (key, value) in prefetch {
        let own = OWN_KEYS.iter().find(|(k, _)| k == key).map(|(_, s)| *s);
        read_value(&mut read, key, value, own, patient)?;
    }
    Ok(read)
}

fn read_value(
    read: &mut Prefetch,
    key: &str,
    value: &Value,
    own: Option<Section>,
    patient: &str,
) -> Result<(), Refusal> {
    if value.is_null() {
        // Nothing found: a section only when the key says which.
        if let Some(section) = own {
            read.provide(section);
        }
        return Ok(());
    }
    match resource_type(value) {
        Some("OperationOutcome") => {
            read.notes
                .push((key.to_string(), Note::Unavailable(diagnostics(value))));
        }
        Some("Bundle") => read_bundle(read, key, value, own, patient)?,
        Some(kind) => {
            let Some(section) = Section::of(kind) else {
                return Ok(());
            };
            take(read, key, value, patient)?;
            if section != Section::Patient {
                let why = format!("one {kind}, not a search of them");
                read.notes
                    .push((key.to_string(), Note::Partial(section, why)));
            }
        }
        None => {}
    }
    Ok(())
}

fn read_bundle(
    read: &mut Prefetch,
    key: &str,
    bundle: &Value,
    own: Option<Section>,
    patient: &str,
) -> Result<(), Refusal> {
    let resources: Vec<&Value> = bundle_resources(bundle).collect();
    if let Some(failure) = resources.iter().find(|r| is_error_outcome(r)) {
        let why = Note::Unavailable(diagnostics(failure));
        read.notes.push((key.to_string(), why));
        return Ok(());
    }
    let mut sections: Vec<Section> = Vec::new();
    for resource in &resources {
        let kind = resource_type(resource).unwrap_or_default();
        if let Some(section) = Section::of(kind) {
            if section != Section::Patient && !sections.contains(&section) {
                sections.push(section);
            }
        } else if kind != "Medication" {
            continue;
        }
        take(read, key, resource, patient)?;
    }
    let searched = self_link(bundle).and_then(|url| Section::of(searched_type(url)));
    if sections.is_empty() {
        sections.extend(searched.or(own));
    }
    for section in sections {
        match incomplete(bundle, section) {
            Some(why) => read
                .notes
                .push((key.to_string(), Note::Partial(section, why))),
            None => read.provide(section),
        }
    }
    Ok(())
}

/// Keeps a resource, once it is known to be about this patient.
fn take(read: &mut Prefetch, key: &str, resource: &Value, patient: &str) -> Result<(), Refusal> {
    let kind = resource_type(resource).unwrap_or_default();
    if kind == "Patient" {
        let id = resource["id"].as_str().unwrap_or_default();
        if id != patient {
            return Err(bad_request(format!(
                "prefetch `{key}` holds Patient `{id}`, not the patient of context.patientId \
                 (`{patient}`)"
            )));
        }
    } else if let Some(other) = other_patient(resource, patient) {
        return Err(bad_request(format!(
            "prefetch `{key}` holds {kind}/{} of Patient `{other}`, not of the patient of \
             context.patientId (`{patient}`)",
            resource["id"].as_str().unwrap_or_default()
        )));
    }
    read.resources.push(resource.clone());
    Ok(())
}

/// The Patient id a resource's `subject` or `patient` reference names, when it is not
/// `patient`. References that do not name a Patient by id (contained, logical) are not judged.
fn other_patient<'a>(resource: &'a Value, patient: &str) -> Option<&'a str> {
    let reference = ["subject", "patient"]
        .iter()
        .find_map(|field| resource[field]["reference"].as_str())?;
    let path = reference.split("/_history/").next().unwrap_or(reference);
    let mut segments = path.rsplit('/');
    let id = segments.next()?;
    (segments.next() == Some("Patient") && id != patient).then_some(id)
}

/// Why a search Bundle is not the whole of its section, if it is not.
fn incomplete(bundle: &Value, section: Section) -> Option<String> {
    let links = bundle["link"].as_array().into_iter().flatten();
    if links
        .filter_map(|l| l["relation"].as_str())
        .any(|r| r == "next")
    {
        return Some("only the first page of a search (it has a `next` link)".into());
    }
    // A lab is judged by its latest value, and an Observation search is narrowed to codes by
    // design; medications and conditions searched for some codes are not the whole list.
    if matches!(section, Section::Medications | Section::Conditions)
        && let Some(url) = self_link(bundle)
        && let Some(parameter) = narrowing_parameter(url)
    {
        return Some(format!(
            "a search narrowed by `{parameter}`, not every {}",
            section.singular()
        ));
    }
    None
}

/// Search parameters that keep a medication or condition list whole (for this patient).
const WHOLE_LIST_PARAMETERS: [&str; 14] = [
    "patient",
    "subject",
    "status",
    "clinical-status",
    "verification-status",
    "category",
    "intent",
    "_include",
    "_revinclude",
    "_sort",
    "_count",
    "_total",
    "_format",
    "_pretty",
];

/// The first search parameter of `url` that narrows the list, if any.
fn narrowing_parameter(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split('=').next())
        .filter(|name| !name.is_empty())
        .find(|name| {
            let bare = name.split(':').next().unwrap_or(name);
            !WHOLE_LIST_PARAMETERS.contains(&bare)
        })
}

fn self_link(bundle: &Value) -> Option<&str> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "self")?
        .get("url")?
        .as_str()
}

/// The resource type a search URL searches (`.../fhir/Condition?patient=1` -> `Condition`).
fn searched_type(url: &str) -> &str {
    let path = url.split('?').next().unwrap_or(url);
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

fn resource_type(value: &Value) -> Option<&str> {
    value.get("resourceType").and_then(Value::as_str)
}

/// An OperationOutcome that reports an error (a search's warnings ride along as `information`
/// or `warning` outcomes and do not make it fail).
fn is_error_outcome(resource: &Value) -> bool {
    resource_type(resource) == Some("OperationOutcome")
        && resource["issue"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| matches!(i["severity"].as_str(), Some("error" | "fatal")))
}

/// What an OperationOutcome says.
fn diagnostics(outcome: &Value) -> String {
    let said: Vec<&str> = outcome["issue"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i["diagnostics"]
                .as_str()
                .or_else(|| i["details"]["text"].as_str())
                .or_else(|| i["code"].as_str())
        })
        .collect();
    if said.is_empty() {
        "an OperationOutcome".into()
    } else {
        said.join("; ")
    }
}

fn bad_request(reason: String) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read_one(key: &str, value: Value) -> Prefetch {
        let map = json!({ key: value });
        read(map.as_object().unwrap(), "p1").unwrap_or_else(|r| panic!("{r:?}"))
    }

    fn searchset(url: &str, resources: Vec<Value>) -> Value {
        let entry: Vec<Value> = resources
            .into_iter()
            .map(|r| json!({"resource": r}))
            .collect();
        json!({"resourceType": "Bundle", "type": "searchset",
               "link": [{"relation": "self", "url": url}], "entry": entry})
    }

    fn condition() -> Value {
        json!({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}})
    }

    #[test]
    fn patient_ids_bare_or_as_references() {
        assert_eq!(patient_id("123").unwrap(), "123");
        assert_eq!(patient_id("Patient/123").unwrap(), "123");
        assert!(patient_id("Practitioner/123").is_err());
        assert!(patient_id("Patient/").is_err());
        assert!(patient_id("").is_err());
    }

    #[test]
    fn a_bundle_is_the_section_of_its_entries_whatever_its_key() {
        let read = read_one(
            "item4",
            searchset("Condition?patient=p1", vec![condition()]),
        );
        assert!(read.conditions && !read.medications && !read.labs);
        assert_eq!(read.resources.len(), 1);
    }

    #[test]
    fn an_empty_search_is_the_section_its_self_link_searched() {
        let read = read_one(
            "item4",
            searchset("https://ehr.example.org/fhir/Condition?patient=p1", vec![]),
        );
        assert!(read.conditions);
        let unknown = read_one(
            "item4",
            json!({"resourceType": "Bundle", "type": "searchset"}),
        );
        assert!(unknown.is_empty());
        let own = read_one("conditions", json!({"resourceType": "Bundle"}));
        assert!(own.conditions);
    }

    #[test]
    fn null_names_a_section_only_under_our_own_key() {
        assert!(read_one("conditions", Value::Null).conditions);
        assert!(read_one("item4", Value::Null).is_empty());
    }

    #[test]
    fn narrowed_paged_or_single_resources_do_not_provide_the_section() {
        let narrowed = read_one(
            "dx",
            searchset("Condition?patient=p1&code=44054006", vec![condition()]),
        );
        assert!(!narrowed.conditions);
        assert_eq!(narrowed.resources.len(), 1, "what it holds is still read");
        let mut paged = searchset("Condition?patient=p1", vec![condition()]);
        paged["link"]
            .as_array_mut()
            .unwrap()
            .push(json!({"relation": "next", "url": "Condition?page=2"}));
        assert!(!read_one("dx", paged).conditions);
        assert!(!read_one("dx", condition()).conditions);
        // Observations are narrowed to codes by design.
        let labs = searchset(
            "Observation?patient=p1&code=http://loinc.org|62238-1",
            vec![json!({"resourceType": "Observation", "id": "o1"})],
        );
        assert!(read_one("labs", labs).labs);
    }

    #[test]
    fn failed_prefetch_provides_nothing() {
        let outcome = json!({"resourceType": "OperationOutcome",
                             "issue": [{"severity": "error", "diagnostics": "timed out"}]});
        let read = read_one("item4", outcome.clone());
        assert!(read.is_empty());
        assert!(matches!(&read.notes[0].1, Note::Unavailable(why) if why == "timed out"));
        let read = read_one("item4", searchset("Condition?patient=p1", vec![outcome]));
        assert!(!read.conditions && read.resources.is_empty());
        // A warning riding along with the results is not a failure.
        let warning = json!({"resourceType": "OperationOutcome",
                             "issue": [{"severity": "warning", "diagnostics": "slow"}]});
        let read = read_one(
            "item4",
            searchset("Condition?patient=p1", vec![condition(), warning]),
        );
        assert!(read.conditions);
    }

    #[test]
    fn another_patients_data_is_refused() {
        let mut other = condition();
        other["subject"]["reference"] = json!("https://ehr.example.org/fhir/Patient/p2/_history/3");
        let map = json!({"item4": searchset("Condition?patient=p2", vec![other])});
        let refusal = read(map.as_object().unwrap(), "p1").err().unwrap();
        assert!(format!("{refusal:?}").contains("Patient `p2`"));
        let map = json!({"item1": {"resourceType": "Patient", "id": "p2"}});
        assert!(read(map.as_object().unwrap(), "p1").is_err());
        let map = json!({"item1": {"resourceType": "Patient", "id": "p1"},
                         "user": "123", "enc": {"resourceType": "Encounter", "id": "e"}});
        let read = read(map.as_object().unwrap(), "p1").unwrap();
        assert_eq!(read.resources.len(), 1, "only the Patient is read");
    }
}
