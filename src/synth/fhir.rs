//! A patient record of our own format written as the FHIR R4 Bundle an EHR would send: Patient,
//! Condition, Observation (labs and body weight), MedicationRequest / MedicationStatement, and
//! shared Medication resources. Every second medication entry names its drug through a
//! `medicationReference` to a Medication resource (id from the drug's words, so patients taking
//! one drug share one Medication), the others through `medicationCodeableConcept`, so that both
//! ways, and the resolution of Medications across a bulk export, are exercised.

use crate::fhir::system;
use serde_json::{Map, Value, json};

/// The Bundle (type `collection`) of a record in our own format. Fields the FHIR reader reads
/// are carried over; an `age` without a birth date cannot be written in FHIR and is left out.
pub fn bundle(record: &Value) -> Value {
    let id = record
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let mut entries = vec![patient(record, id)];
    let subject = json!({"reference": format!("Patient/{id}")});
    for (i, c) in list(record, "conditions").enumerate() {
        entries.push(condition(c, &format!("{id}-c{}", i + 1), &subject));
    }
    for (i, lab) in list(record, "labs").enumerate() {
        entries.push(observation(lab, &format!("{id}-l{}", i + 1), &subject));
    }
    for (field, what, loinc, display, unit) in [
        ("weight_kg", "weight", "29463-7", "Body weight", "kg"),
        ("height_cm", "height", "8302-2", "Body height", "cm"),
    ] {
        if let Some(value) = record.get(field).and_then(Value::as_f64) {
            entries.push(json!({
                "resourceType": "Observation", "id": format!("{id}-{what}"), "status": "final",
                "code": {"coding": [{"system": system::LOINC, "code": loinc, "display": display}]},
                "subject": subject,
                "effectiveDateTime": "2026-01-01",
                "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
            }));
        }
    }
    let mut shared: Vec<String> = Vec::new();
    for (i, m) in list(record, "medications").enumerate() {
        let entry_id = format!(
            "{id}-{}",
            m.get("id")
                .and_then(Value::as_str)
                .unwrap_or(&format!("m{}", i + 1))
        );
        let (resource, medication) = medication_use(m, &entry_id, &subject, i % 2 == 1);
        if let Some(medication) = medication {
            let mid = medication["id"].as_str().unwrap_or("").to_string();
            if !shared.contains(&mid) {
                shared.push(mid);
                entries.push(medication);
            }
        }
        entries.push(resource);
    }
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": entries.into_iter().map(|r| json!({"resource": r})).collect::<Vec<_>>(),
    })
}

fn list<'a>(record: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    record
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn patient(record: &Value, id: &str) -> Value {
    let mut p = Map::new();
    p.insert("resourceType".into(), json!("Patient"));
    p.insert("id".into(), json!(id));
    if let Some(born) = text(record, "birth_date") {
        p.insert("birthDate".into(), json!(born));
    }
    if let Some(sex) = text(record, "sex") {
        p.insert("gender".into(), json!(sex));
    }
    Value::Object(p)
}

fn condition(c: &Value, id: &str, subject: &Value) -> Value {
    let system = match text(c, "system") {
        Some("snomed") => system::SNOMED,
        _ => system::ICD10CM,
    };
    let mut coding = json!({"system": system, "code": text(c, "code").unwrap_or("")});
    if let Some(words) = text(c, "text") {
        coding["display"] = json!(words);
    }
    let mut r = json!({
        "resourceType": "Condition", "id": id, "subject": subject,
        "code": {"coding": [coding]},
    });
    match text(c, "status").unwrap_or("active") {
        status @ ("refuted" | "entered-in-error") => {
            r["verificationStatus"] = json!({"coding": [{"code": status}]});
        }
        status => r["clinicalStatus"] = json!({"coding": [{"code": status}]}),
    }
    r
}

fn observation(lab: &Value, id: &str, subject: &Value) -> Value {
    let mut r = json!({
        "resourceType": "Observation", "id": id, "status": "final", "subject": subject,
        "code": {"coding": [{"system": system::LOINC, "code": text(lab, "loinc").unwrap_or("")}]},
    });
    if let Some(date) = text(lab, "date") {
        r["effectiveDateTime"] = json!(date);
    }
    match lab.get("value") {
        Some(Value::Number(n)) => {
            let unit = text(lab, "unit").unwrap_or("");
            r["valueQuantity"] = json!({"value": n, "unit": unit, "code": unit});
        }
        Some(Value::String(s)) => r["valueString"] = json!(s),
        _ => {}
    }
    r
}

/// A MedicationRequest (or a MedicationStatement, for a statement or a drug not taken), and the
/// Medication it refers to when `by_reference`.
fn medication_use(
    m: &Value,
    id: &str,
    subject: &Value,
    by_reference: bool,
) -> (Value, Option<Value>) {
    let status = text(m, "status").unwrap_or("active");
    let statement = text(m, "source") == Some("statement") || status == "not-taken";
    let kind = if statement {
        "MedicationStatement"
    } else {
        "MedicationRequest"
    };
    let words = text(m, "text").unwrap_or("");
    let mut code = json!({"text": words});
    let mut coding = Vec::new();
    if let Some(rxnorm) = text(m, "rxnorm") {
        coding.push(json!({"system": system::RXNORM, "code": rxnorm, "display": words}));
    }
    if let Some(atc) = text(m, "atc") {
        coding.push(json!({"system": system::ATC, "code": atc}));
    }
    if !coding.is_empty() {
        code["coding"] = Value::Array(coding);
    }
    let mut r = json!({"resourceType": kind, "id": id, "status": status, "subject": subject});
    let medication = if by_reference {
        let mid = medication_id(words);
        r["medicationReference"] = json!({"reference": format!("Medication/{mid}")});
        Some(json!({"resourceType": "Medication", "id": mid, "code": code}))
    } else {
        r["medicationCodeableConcept"] = code;
        None
    };
    if kind == "MedicationRequest" {
        r["intent"] = json!("order");
        r["dosageInstruction"] = json!([dosage(m)]);
    } else {
        r["dosage"] = json!([dosage(m)]);
    }
    (r, medication)
}

fn dosage(m: &Value) -> Value {
    let mut d = Map::new();
    let mut timing = Map::new();
    if let Some(f) = text(m, "frequency") {
        timing.insert("code".into(), json!({"coding": [{"code": f}], "text": f}));
    }
    let mut bounds = Map::new();
    for (ours, theirs) in [("start", "start"), ("end", "end")] {
        if let Some(day) = text(m, ours) {
            bounds.insert(theirs.into(), json!(day));
        }
    }
    if !bounds.is_empty() {
        timing.insert("repeat".into(), json!({"boundsPeriod": bounds}));
    }
    if !timing.is_empty() {
        d.insert("timing".into(), Value::Object(timing));
    }
    if m.get("prn").and_then(Value::as_bool) == Some(true) {
        d.insert("asNeededBoolean".into(), json!(true));
    }
    if let Some(route) = text(m, "route") {
        d.insert("route".into(), json!({"text": route}));
    }
    if let Some(dose) = m.get("dose") {
        d.insert(
            "doseAndRate".into(),
            json!([{"doseQuantity": {"value": dose.get("value"), "unit": dose.get("unit")}}]),
        );
    }
    Value::Object(d)
}

/// A Medication id from a drug's words: `Gabapentin 300 mg capsule` → `gabapentin-300-mg-capsule`.
fn medication_id(words: &str) -> String {
    let mut id = String::with_capacity(words.len());
    for c in words.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id = id.trim_end_matches('-');
    // FHIR ids are at most 64 characters.
    id.get(..64).unwrap_or(id).trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medication_ids_are_fhir_ids() {
        assert_eq!(
            medication_id("Gabapentin 300 mg capsule"),
            "gabapentin-300-mg-capsule"
        );
        assert_eq!(
            medication_id("  Tylenol #3 (codeine/APAP) "),
            "tylenol-3-codeine-apap"
        );
        assert!(medication_id(&"x ".repeat(100)).len() <= 64);
    }
}
