//! The records that once gave a false all-clear, each checked through the command line as an
//! integrator would run it: every one now gives a finding, a data gap, a note or a clear error.
//! The deeper checks of each case live in the test file named beside it; this table keeps the
//! whole list in one place, so that a case that goes silent again is seen here first.

use std::path::Path;
use std::process::{Command, Output};

const AS_OF: &str = "2026-11-01";

fn rxguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rxguard"))
        .args(["check", "--as-of", AS_OF])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One case: what the issue reported, the input, and what the text report must now say.
struct Case {
    what: &'static str,
    file: &'static str,
    says: &'static [&'static str],
}

const FIXTURES: &[Case] = &[
    Case {
        what: "tramadol with SNOMED CT seizure disorder (tests/conditions.rs)",
        file: "tests/data/fhir/tramadol_snomed_seizure_disorder.json",
        says: &["Rule: tramadol_in_seizure_disorder", "epilepsy (128613002)"],
    },
    Case {
        what: "quetiapine at 80 with SNOMED CT Alzheimer's disease (tests/conditions.rs)",
        file: "tests/data/fhir/quetiapine_snomed_alzheimer_80yo.json",
        says: &[
            "Rule: dementia_sedative_or_anticholinergic_elderly",
            "dementia (26929004)",
        ],
    },
    Case {
        what: "baclofen with SNOMED CT dialysis at 72 (tests/conditions.rs)",
        file: "tests/data/fhir/baclofen_snomed_dialysis_72yo.json",
        says: &[
            "Rule: baclofen_renal_elderly",
            "dialysis (46177005, 105502003)",
        ],
    },
    Case {
        what: "methadone and alprazolam with SNOMED CT opioid abuse (tests/conditions.rs)",
        file: "tests/data/fhir/methadone_alprazolam_snomed_opioid_abuse.json",
        says: &[
            "Rule: moud_with_cns_depressant ",
            "opioid_with_benzodiazepine (superseded by moud_with_cns_depressant)",
            "Rule: opioid_without_naloxone",
        ],
    },
    Case {
        what: "a deceased patient (tests/fhir.rs)",
        file: "tests/data/fhir/deceased_opioid_benzodiazepine.json",
        says: &[
            "not screened: the patient is deceased",
            "1 records read = 0 evaluated + 1 skipped + 0 rejected",
        ],
    },
    Case {
        what: "blood creatinine under LOINC 38483-4 (tests/fhir.rs)",
        file: "tests/data/fhir/gabapentin_blood_creatinine_38483_4.json",
        says: &[
            "Rule: gabapentin_above_renal_max",
            "crcl by Cockcroft-Gault from creatinine 2 mg/dL",
        ],
    },
    Case {
        what: "baclofen 10 mg tablets, 9 tablets four times a day (tests/fhir.rs)",
        file: "tests/data/fhir/baclofen_nine_tablets_norco.json",
        says: &[
            "Rule: baclofen_oral_above_max_dose",
            "9 tablet x 10 mg = 90 mg per dose x 4/day = 360 mg/day on",
        ],
    },
    Case {
        what: "an R5 Bundle, medication.concept and .reference (tests/fhir_releases.rs)",
        file: "tests/data/fhir/r5_codeable_reference_medications.json",
        says: &[
            "Rule: opioid_cns_depressant_burden",
            "0 unrecognized medications",
        ],
    },
    Case {
        what: "a DSTU2 MedicationOrder (tests/fhir_releases.rs)",
        file: "tests/data/fhir/dstu2_medication_order.json",
        says: &[
            "REJECTED",
            "FHIR DSTU2 is not read",
            "0 evaluated + 0 skipped + 1 rejected",
        ],
    },
    Case {
        what: "two entries sharing an id, a drug renewed 29 times (tests/fhir.rs)",
        file: "tests/data/fhir/shared_id_and_oxycodone_renewed_29_times.json",
        says: &[
            "MedicationRequest/1 Baclofen 10 mg tablet",
            "MedicationRequest/1 lorazepam 1 mg tablet",
        ],
    },
];

#[test]
fn every_fixture_case_is_reported() {
    for case in FIXTURES {
        let out = rxguard(&[case.file]);
        let text = stdout(&out);
        for want in case.says {
            assert!(
                text.contains(want),
                "{}: the report does not say {want:?}:\n{text}",
                case.what
            );
        }
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

const OLD_ORDER: &str = r#"{"id": "old-1", "birth_date": "1950-01-01", "sex": "male", "conditions": [], "medications": [{"id": "m1", "text": "Oxycodone 5 mg tablet", "dose": {"value": 5, "unit": "mg"}, "frequency": "q6h", "route": "oral", "status": "active", "start": "1998-03-01", "source": "request"}, {"id": "m2", "text": "Lorazepam 1 mg tablet", "dose": {"value": 1, "unit": "mg"}, "frequency": "bid", "route": "oral", "status": "active", "start": "2026-10-01", "source": "request"}]}"#;

const EGFR_ML_MIN: &str = r#"{"id": "egfr-1", "birth_date": "1956-01-01", "sex": "female", "conditions": [], "labs": [{"loinc": "62238-1", "value": 42, "unit": "mL/min", "date": "2026-10-01"}], "medications": [{"id": "m1", "text": "Baclofen 10 mg tablet", "dose": {"value": 10, "unit": "mg"}, "frequency": "tid", "route": "oral", "status": "active", "start": "2026-06-01"}]}"#;

const AMOXICILLIN_CLAVULANATE: &str = r#"{"id": "amox-1", "birth_date": "1950-01-01", "sex": "male", "conditions": [], "medications": [{"id": "m1", "text": "amoxicillin / clavulanate", "status": "active", "start": "2026-10-01"}]}"#;

#[test]
fn an_open_order_from_1998_is_history_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "old.ndjson", OLD_ORDER.as_bytes());
    let text = stdout(&rxguard(&[&file]));
    assert!(
        text.contains("an open order of 1998-03-01 with no end, older than the 365-day horizon"),
        "{text}"
    );
    assert!(!text.contains("opioid_with_benzodiazepine"), "{text}");
}

#[test]
fn an_egfr_per_1_73_m2_code_written_in_ml_per_min_is_read_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "egfr.ndjson", EGFR_ML_MIN.as_bytes());
    let text = stdout(&rxguard(&[&file]));
    assert!(text.contains("Rule: baclofen_renal_elderly"), "{text}");
    assert!(text.contains("eGFR 42 mL/min/1.73m2"), "{text}");
    assert!(
        text.contains("is written with the unit \"mL/min\"; its LOINC code is defined per 1.73 m2"),
        "{text}"
    );
    assert!(text.contains("0 data gaps"), "{text}");
}

#[test]
fn a_byte_order_mark_does_not_lose_the_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(OLD_ORDER.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(EGFR_ML_MIN.as_bytes());
    let file = write(dir.path(), "bom.ndjson", &bytes);
    let text = stdout(&rxguard(&[&file]));
    assert!(text.contains("Patient old-1"), "{text}");
    assert!(
        text.contains("2 records read = 2 evaluated + 0 skipped + 0 rejected"),
        "{text}"
    );
}

#[test]
fn an_unreadable_file_among_several_is_a_rejected_record_and_json_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.ndjson", EGFR_ML_MIN.as_bytes());
    let missing = dir.path().join("missing.ndjson");
    let missing = missing.to_string_lossy();
    let out = rxguard(&["--format", "json", &missing, &good]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(report["summary"]["records_read"], 2);
    assert_eq!(report["summary"]["rejected"], 1);
    assert_eq!(report["summary"]["evaluated"], 1);
}

#[test]
fn amoxicillin_clavulanate_is_both_ingredients() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "amox.ndjson",
        AMOXICILLIN_CLAVULANATE.as_bytes(),
    );
    let out = rxguard(&["--format", "json", &file]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["unrecognized"], 0, "{report}");
}

/// "Nothing found" and "could not check" must look different in every format: a patient whose
/// condition list is missing gets data gaps in the FHIR and CDS Hooks outputs too.
#[test]
fn the_fhir_and_cds_hooks_formats_show_the_data_gaps() {
    let file = "tests/data/fhir/baclofen_low_egfr_no_conditions.json";
    let fhir = stdout(&rxguard(&["--format", "fhir", file]));
    assert!(
        fhir.contains("\"resourceType\":\"OperationOutcome\""),
        "{fhir}"
    );
    assert!(fhir.contains("baclofen_in_epilepsy"), "{fhir}");
    let cards = stdout(&rxguard(&["--format", "cds-hooks", file]));
    assert!(cards.contains("\"indicator\":\"info\""), "{cards}");
    assert!(cards.contains("baclofen_in_epilepsy"), "{cards}");
    assert!(cards.contains("\"patient\""), "{cards}");
}
