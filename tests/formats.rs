//! Every output format says what it could not check: a patient not screened, data gaps and
//! unrecognized entries are in text, JSON, NDJSON, FHIR (an OperationOutcome per patient) and
//! CDS Hooks (the info card, each line naming its patient), and the summary reconciles as
//! records read = evaluated + skipped + rejected.

use std::process::{Command, Output, Stdio};

fn rxguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rxguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Four records of our own format: deceased (flag), deceased the day after `as_of` (screened),
/// alive with an unrecognized drug, a condition coded in ICD-9-CM only and a data gap, and one
/// that cannot be read.
const PANEL: &str = "tests/data/formats/panel.ndjson";

fn check(format: &str, file: &str) -> Output {
    rxguard(&["check", "--as-of", "2026-11-01", "--format", format, file])
}

#[test]
fn the_summary_reconciles_read_evaluated_skipped_rejected_in_every_format() {
    let path = PANEL;
    let out = check("text", path);
    assert_eq!(out.status.code(), Some(2), "a rejected record exits 2");
    let report = text(&out.stdout);
    assert!(
        report.contains("Summary: 4 records read = 2 evaluated + 1 skipped + 1 rejected"),
        "{report}"
    );
    assert!(
        report.contains("Patient dead") && report.contains("not screened: the patient is deceased")
    );
    assert!(
        report.contains("deceased: `yesterday` is not a date"),
        "{report}"
    );
    let json: serde_json::Value = serde_json::from_slice(&check("json", path).stdout).unwrap();
    let s = &json["summary"];
    assert_eq!(
        (
            s["records_read"].as_u64(),
            s["evaluated"].as_u64(),
            s["skipped"].as_u64(),
            s["rejected"].as_u64()
        ),
        (Some(4), Some(2), Some(1), Some(1))
    );
    assert_eq!(
        json["records"][0]["report"]["not_screened"]["reason"],
        "deceased"
    );
    assert!(json["records"][1]["report"]["not_screened"].is_null());
    for format in ["ndjson", "fhir", "cds-hooks"] {
        let out = check(format, path);
        let summary: serde_json::Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
        assert_eq!(summary["summary"]["skipped"], 1, "{format}");
        assert_eq!(summary["summary"]["evaluated"], 2, "{format}");
        assert_eq!(lines(&out).len(), 4, "{format}: one line per record");
    }
}

#[test]
fn fhir_output_adds_an_operation_outcome_per_patient() {
    let out = check("fhir", PANEL);
    let bundles = lines(&out);
    let outcome = |b: &serde_json::Value| -> serde_json::Value {
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"].clone())
            .find(|r| r["resourceType"] == "OperationOutcome")
            .expect("an OperationOutcome in every patient's Bundle")
    };
    let issues = |b: &serde_json::Value| outcome(b)["issue"].as_array().unwrap().clone();
    let dead = issues(&bundles[0]);
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0]["severity"].as_str(), dead[0]["code"].as_str()),
        (Some("information"), Some("informational"))
    );
    assert!(
        dead[0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("deceased")
    );
    let alive = issues(&bundles[2]);
    let unrecognized = alive
        .iter()
        .find(|i| i["code"] == "code-invalid")
        .expect("the unrecognized entry");
    assert_eq!(unrecognized["severity"], "warning");
    assert!(
        unrecognized["diagnostics"]
            .as_str()
            .unwrap()
            .contains("Zorblatine")
    );
    let condition = alive
        .iter()
        .filter(|i| i["code"] == "code-invalid")
        .find(|i| i["diagnostics"].as_str().unwrap().contains("345.90"))
        .expect("the condition coded in ICD-9-CM only");
    assert_eq!(condition["severity"], "warning");
    let gap = alive
        .iter()
        .find(|i| i["code"] == "incomplete")
        .expect("a data gap: conditions and labs were not given");
    assert_eq!(gap["severity"], "warning");
    assert!(
        gap["diagnostics"]
            .as_str()
            .unwrap()
            .contains("could not be decided")
    );
    // A patient with everything decided still gets an outcome saying so.
    let clear = check("fhir", "tests/data/formats/all_decided.json");
    assert_eq!(clear.status.code(), Some(0));
    let said = issues(&lines(&clear)[0]);
    assert_eq!(said.len(), 1);
    assert_eq!(said[0]["code"], "informational");
    assert!(
        said[0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("every rule")
    );
}

#[test]
fn cds_hooks_lines_name_their_patient_and_carry_the_info_card() {
    let out = check("cds-hooks", PANEL);
    let answers = lines(&out);
    let patients: Vec<&serde_json::Value> = answers.iter().map(|a| &a["patient"]).collect();
    assert_eq!(
        patients,
        [
            &serde_json::json!("dead"),
            &serde_json::json!("dies-tomorrow"),
            &serde_json::json!("alive"),
            &serde_json::Value::Null
        ]
    );
    let info = |a: &serde_json::Value| {
        a["cards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["source"]["topic"]["code"] == "data-gaps")
            .cloned()
    };
    let dead = info(&answers[0]).expect("not screened is said");
    assert!(dead["detail"].as_str().unwrap().contains("deceased"));
    let alive = info(&answers[2]).expect("the info card");
    assert_eq!(alive["indicator"], "info");
    let detail = alive["detail"].as_str().unwrap();
    assert!(
        detail.contains("Zorblatine") && detail.contains("could not be decided"),
        "{detail}"
    );
    assert!(detail.contains("Epilepsy, unspecified"), "{detail}");
    // The patient who dies after as_of is screened: the opioid-benzodiazepine card is there.
    assert!(
        answers[1]["cards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["source"]["topic"]["code"] == "opioid_with_benzodiazepine_elderly")
    );
    assert!(answers[3]["error"].as_str().unwrap().contains("deceased"));
}

#[test]
fn the_command_line_sets_the_horizon_and_the_hold_limit() {
    let path = "tests/data/fhir/open_order_written_2025_11_01.json";
    let run = |extra: &[&str]| {
        let mut args = vec!["check", "--as-of", "2026-11-02", "--format", "json", path];
        args.extend_from_slice(extra);
        let v: serde_json::Value = serde_json::from_slice(&rxguard(&args).stdout).unwrap();
        v["summary"]["by_rule"]["opioid_with_benzodiazepine_elderly"].as_u64()
    };
    assert_eq!(run(&[]), None, "day 366: history");
    assert_eq!(run(&["--order-horizon-days", "366"]), Some(1));
    assert_eq!(run(&["--order-horizon-days", "0"]), Some(1));
    let hold = "tests/data/fhir/r5_baclofen_on_hold_since_2026_10_30.json";
    let stops = |limit: &str| {
        let out = rxguard(&[
            "check",
            "--as-of",
            "2026-11-01",
            "--format",
            "json",
            "--on-hold-days",
            limit,
            hold,
        ]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["summary"]["by_rule"]["baclofen_oral_abrupt_stop"].as_u64()
    };
    assert_eq!(stops("2"), Some(1));
    assert_eq!(stops("3"), None);
}
