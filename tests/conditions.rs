//! Conditions as other people's records code them: SNOMED CT only (US Core, Synthea), ICD-9-CM,
//! a local code, text only. A condition in either system the vocabulary reads gives the same
//! findings; one in any other system is reported as an unrecognized condition with the rules it
//! could change, in the report, the text and JSON outputs and the batch summary, never dropped.

use rxguard::Engine;
use rxguard::date::Date;
use rxguard::eval::Scratch;
use rxguard::report::PatientReport;
use serde_json::{Value, json};
use std::process::Command;

fn as_of() -> Date {
    Date::parse("2026-11-01").unwrap()
}

fn fhir(name: &str) -> PatientReport {
    let text = std::fs::read_to_string(format!("tests/data/fhir/{name}.json")).unwrap();
    Engine::bundled()
        .unwrap()
        .check_fhir(&mut Scratch::default(), &text, as_of())
        .unwrap()
}

fn own(record: &Value) -> Result<PatientReport, rxguard::InputError> {
    Engine::bundled()
        .unwrap()
        .check_json(&mut Scratch::default(), &record.to_string(), as_of())
}

fn fired(r: &PatientReport, rule: &str) -> bool {
    r.findings.iter().any(|f| f.rule == rule)
}

fn gap(r: &PatientReport, rule: &str) -> bool {
    r.data_gaps.iter().any(|g| g.rule == rule)
}

#[test]
fn tramadol_with_a_snomed_seizure_disorder_fires() {
    let r = fhir("tramadol_snomed_seizure_disorder");
    let f = r
        .findings
        .iter()
        .find(|f| f.rule == "tramadol_in_seizure_disorder")
        .expect("tramadol_in_seizure_disorder");
    assert_eq!(f.severity.name(), "major");
    assert!(r.unrecognized_conditions.is_empty());
}

#[test]
fn quetiapine_at_80_with_snomed_alzheimer_disease_fires() {
    let r = fhir("quetiapine_snomed_alzheimer_80yo");
    assert!(
        fired(&r, "dementia_sedative_or_anticholinergic_elderly"),
        "{r:#?}"
    );
    assert!(r.data_gaps.is_empty(), "{:?}", r.data_gaps);
}

#[test]
fn baclofen_on_dialysis_coded_in_snomed_fires_without_an_egfr() {
    let r = fhir("baclofen_snomed_dialysis_72yo");
    assert!(fired(&r, "baclofen_renal_elderly"), "{r:#?}");
    assert!(!gap(&r, "baclofen_renal_elderly"));
    assert!(r.superseded.iter().any(|s| s.rule == "baclofen_dialysis"));
}

#[test]
fn methadone_for_snomed_opioid_abuse_with_a_benzodiazepine_gets_the_moderate_moud_card() {
    let r = fhir("methadone_alprazolam_snomed_opioid_abuse");
    let f = r
        .findings
        .iter()
        .find(|f| f.rule == "moud_with_cns_depressant")
        .expect("moud_with_cns_depressant");
    assert_eq!(f.severity.name(), "moderate");
    assert!(
        r.superseded
            .iter()
            .any(|s| s.rule == "opioid_with_benzodiazepine" && s.by == "moud_with_cns_depressant")
    );
}

#[test]
fn an_icd9_seizure_condition_is_reported_not_silently_dropped() {
    let r = fhir("tramadol_icd9_and_text_conditions");
    // No finding can be made from an ICD-9-CM code, but the report says what it could change.
    assert!(!fired(&r, "tramadol_in_seizure_disorder"));
    let ids: Vec<&str> = r
        .unrecognized_conditions
        .iter()
        .map(|u| u.entry.id.as_str())
        .collect();
    // The ICD-9-CM and the text-only conditions; not the hypertension also coded in SNOMED CT,
    // not the refuted one.
    assert_eq!(ids, ["Condition/epilepsy-icd9", "Condition/seizures-text"]);
    let icd9 = &r.unrecognized_conditions[0];
    assert_eq!(
        icd9.system.as_deref(),
        Some("http://hl7.org/fhir/sid/icd-9-cm")
    );
    assert_eq!(icd9.code.as_deref(), Some("345.90"));
    assert!(icd9.entry.text.starts_with("Epilepsy, unspecified"));
    assert!(
        icd9.could_change
            .contains(&"tramadol_in_seizure_disorder".to_string()),
        "{:?}",
        icd9.could_change
    );
    let text = &r.unrecognized_conditions[1];
    assert_eq!((text.system.as_deref(), text.code.as_deref()), (None, None));
    assert_eq!(text.entry.text, "seizures since childhood, on no treatment");
}

fn record(conditions: Value, meds: Value) -> Value {
    json!({ "id": "c1", "age": 70, "conditions": conditions, "medications": meds })
}

fn tramadol() -> Value {
    json!([{ "text": "Tramadol 50 mg tablet", "dose": { "value": 50, "unit": "mg" },
             "frequency": "q6h", "route": "oral" }])
}

#[test]
fn our_format_accepts_other_systems_and_text_and_reports_them() {
    let r = own(&record(
        json!([
            { "code": "345.90", "system": "icd9", "text": "Epilepsy, unspecified" },
            { "text": "fits as a child" },
            { "code": "I10", "system": "icd10" }
        ]),
        tramadol(),
    ))
    .unwrap();
    let listed: Vec<(&str, Option<&str>)> = r
        .unrecognized_conditions
        .iter()
        .map(|u| (u.entry.id.as_str(), u.system.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [("condition #1", Some("icd9")), ("condition #2", None)]
    );
    assert!(
        r.unrecognized_conditions[0]
            .could_change
            .contains(&"tramadol_in_seizure_disorder".to_string())
    );
}

#[test]
fn system_names_are_read_whatever_their_spelling() {
    for system in [
        "snomed",
        "SNOMED",
        "sct",
        "http://snomed.info/sct",
        "http://snomed.info/sct/",
        "http://snomed.info/sct/731000124108",
        "urn:oid:2.16.840.1.113883.6.96",
    ] {
        let r = own(&record(
            json!([{ "code": "128613002", "system": system }]),
            tramadol(),
        ))
        .unwrap();
        assert!(fired(&r, "tramadol_in_seizure_disorder"), "{system}");
        assert!(r.unrecognized_conditions.is_empty(), "{system}");
    }
    for system in [
        "icd10",
        "ICD-10-CM",
        "http://hl7.org/fhir/sid/icd-10-cm",
        "urn:oid:2.16.840.1.113883.6.90",
    ] {
        let r = own(&record(
            json!([{ "code": "G40.909", "system": system }]),
            tramadol(),
        ))
        .unwrap();
        assert!(fired(&r, "tramadol_in_seizure_disorder"), "{system}");
    }
    // WHO ICD-10 is not ICD-10-CM: reported, not guessed.
    let r = own(&record(
        json!([{ "code": "G40.9", "system": "icd-10" }]),
        tramadol(),
    ))
    .unwrap();
    assert!(!fired(&r, "tramadol_in_seizure_disorder"));
    assert_eq!(r.unrecognized_conditions.len(), 1);
}

#[test]
fn the_same_entry_read_in_snomed_is_not_also_reported() {
    let r = own(&record(
        json!([
            { "id": "c-7", "code": "345.90", "system": "icd9" },
            { "id": "c-7", "code": "84757009", "system": "snomed" }
        ]),
        tramadol(),
    ))
    .unwrap();
    assert!(fired(&r, "tramadol_in_seizure_disorder"));
    assert!(r.unrecognized_conditions.is_empty());
}

#[test]
fn an_unrecognized_condition_names_the_exceptions_it_could_trigger() {
    // Beers fires at 82; an ICD-9-CM palliative care code (V66.7) could be the hospice exception.
    let r = own(&json!({ "id": "c2", "age": 82, "conditions": [
            { "code": "V66.7", "system": "icd9", "text": "Encounter for palliative care" }
        ], "labs": [], "medications": [
            { "text": "Zolpidem 5 mg tablet", "dose": { "value": 5, "unit": "mg" }, "frequency": "qhs", "route": "oral" }
        ] }))
    .unwrap();
    let u = &r.unrecognized_conditions[0];
    for f in &r.findings {
        let has_condition_exception = f.rule.ends_with("_elderly");
        assert_eq!(
            u.could_change.contains(&f.rule),
            has_condition_exception,
            "{}: {:?}",
            f.rule,
            u.could_change
        );
    }
    assert!(!r.findings.is_empty());
}

#[test]
fn an_exception_is_named_only_when_a_condition_could_make_it_hold() {
    let with = |opioid: &str| {
        own(&json!({ "id": "c3", "age": 45, "conditions": [
                { "code": "304.00", "system": "icd9", "text": "Opioid type dependence" }
            ], "labs": [], "medications": [
                { "text": opioid, "dose": { "value": 60, "unit": "mg" }, "frequency": "daily", "route": "oral" },
                { "text": "Lorazepam 0.5 mg tablet", "dose": { "value": 0.5, "unit": "mg" }, "frequency": "bid", "route": "oral" }
            ] }))
        .unwrap()
    };
    // With methadone, opioid use disorder would make it the MOUD finding: the ICD-9-CM code could.
    let r = with("Methadone 10 mg tablet");
    assert!(fired(&r, "opioid_with_benzodiazepine"));
    assert!(
        r.unrecognized_conditions[0]
            .could_change
            .contains(&"moud_with_cns_depressant".to_string())
    );
    // With oxycodone, no condition makes it MOUD.
    let r = with("Oxycodone 5 mg tablet");
    assert!(fired(&r, "opioid_with_benzodiazepine"));
    assert!(
        !r.unrecognized_conditions[0]
            .could_change
            .contains(&"moud_with_cns_depressant".to_string())
    );
}

#[test]
fn a_code_without_its_system_or_an_empty_condition_is_a_rejected_record() {
    let e = own(&record(json!([{ "code": "G40.909" }]), tramadol())).unwrap_err();
    assert!(e.to_string().contains("conditions[0].system"), "{e}");
    let e = own(&record(json!([{ "status": "active" }]), tramadol())).unwrap_err();
    assert!(e.to_string().contains("conditions[0]"), "{e}");
}

#[test]
fn the_text_and_json_outputs_and_the_summary_count_them() {
    let bin = env!("CARGO_BIN_EXE_rxguard");
    let file = "tests/data/fhir/tramadol_icd9_and_text_conditions.json";
    let out = Command::new(bin)
        .args(["check", "--as-of", "2026-11-01", file])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("UNRECOGNIZED    Condition/epilepsy-icd9 \"Epilepsy, unspecified"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.contains("Condition/epilepsy-icd9")
            && l.contains("could change: ")
            && l.contains("tramadol_in_seizure_disorder")),
        "{text}"
    );
    assert!(text.contains("2 unrecognized conditions"), "{text}");
    assert!(!text.contains("no findings"), "{text}");
    let out = Command::new(bin)
        .args(["check", "--as-of", "2026-11-01", "--format", "json", file])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["unrecognized_conditions"], 2);
    let report = &doc["records"][0]["report"];
    assert_eq!(
        report["unrecognized_conditions"][0]["code"], "345.90",
        "{report}"
    );
    assert_eq!(
        report["unrecognized_conditions"][1]["entry"]["text"],
        "seizures since childhood, on no treatment"
    );
}
