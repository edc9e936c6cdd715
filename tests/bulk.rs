//! FHIR Bulk Data: the same patients as Bundle files, as NDJSON of Bundles and as a bulk export
//! (per-type NDJSON, one file compressed, Medications in their own file) give the same findings,
//! one hash; a manifest names the files; bad lines are rejected with file:line; memory holds one
//! bucket, and the bucket budget does not change what is found.

use rxguard::batch::{BatchOptions, DEFAULT_MAX_RECORD_BYTES, RecordOutcome, Summary};
use rxguard::bulk::{BulkOptions, write::BulkWriter};
use rxguard::date::Date;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const AS_OF: &str = "2026-11-01";

fn rxguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rxguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The findings, data gaps and unrecognized entries of every patient of an NDJSON report,
/// sorted by patient: one hash for "the same findings".
fn findings_hash(out: &Output) -> (String, usize) {
    let mut reports: Vec<(String, String)> = text(&out.stdout)
        .lines()
        .map(|l| {
            let r: Value = serde_json::from_str(l).unwrap();
            let report = &r["report"];
            assert!(report.is_object(), "a rejected record: {r}");
            let kept = json!([
                report["findings"],
                report["data_gaps"],
                report["unrecognized"]
            ]);
            (
                report["patient"].as_str().unwrap().to_string(),
                kept.to_string(),
            )
        })
        .collect();
    reports.sort();
    let mut h = Sha256::new();
    for (patient, kept) in &reports {
        h.update(patient.as_bytes());
        h.update(kept.as_bytes());
    }
    (format!("{:x}", h.finalize()), reports.len())
}

fn check(input: &[&str]) -> Output {
    let mut args = vec!["check", "--as-of", AS_OF, "--format", "ndjson"];
    args.extend_from_slice(input);
    rxguard(&args)
}

/// Hand-written Bundles for what generated ones lack: a Medication shared by two patients and
/// referred to by full URL, a contained Medication, a reference to a Medication no file has.
fn edge_bundles() -> Vec<Value> {
    let shared = json!({"resourceType": "Medication", "id": "oxy-5",
        "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1049621", "display": "oxycodone hydrochloride 5 MG Oral Tablet"}]}});
    let patient = |id: &str| json!({"resourceType": "Patient", "id": id, "birthDate": "1948-02-01", "gender": "female"});
    let request = |id: &str, patient: &str, medication: Value| {
        let mut r = json!({"resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
            "subject": {"reference": format!("urn:uuid:{patient}")},
            "dosageInstruction": [{"timing": {"code": {"coding": [{"code": "qid"}]}},
                "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}]}]});
        for (k, v) in medication.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };
    let lorazepam = json!({"medicationCodeableConcept": {"text": "Lorazepam 1 mg tablet"}});
    let bundle = |resources: Vec<Value>| {
        json!({"resourceType": "Bundle", "type": "collection",
            "entry": resources.into_iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()})
    };
    vec![
        bundle(vec![
            patient("edge-1"),
            shared.clone(),
            request(
                "r1",
                "edge-1",
                json!({"medicationReference": {"reference": "https://ehr.example/fhir/Medication/oxy-5"}}),
            ),
            request("r2", "edge-1", lorazepam.clone()),
        ]),
        bundle(vec![
            patient("edge-2"),
            shared,
            request(
                "r3",
                "edge-2",
                json!({"medicationReference": {"reference": "Medication/oxy-5"}}),
            ),
            request(
                "r4",
                "edge-2",
                json!({"medicationReference": {"reference": "#c1"},
                "contained": [{"resourceType": "Medication", "id": "c1", "code": {"text": "Diazepam 5 mg tablet"}}]}),
            ),
        ]),
        bundle(vec![
            patient("edge-3"),
            request(
                "r5",
                "edge-3",
                json!({"medicationReference": {"reference": "Medication/nowhere"}}),
            ),
            request("r6", "edge-3", lorazepam),
        ]),
    ]
}

/// The three forms of the same Bundles in `dir`: Bundle files, NDJSON of Bundles, a bulk export.
fn three_forms(dir: &Path, bundles: &[Value]) -> (Vec<String>, String, PathBuf) {
    let files: Vec<String> = bundles
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let path = dir.join(format!("bundle-{i}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(b).unwrap()).unwrap();
            path.display().to_string()
        })
        .collect();
    let ndjson = dir.join("bundles.ndjson");
    let lines: String = bundles.iter().map(|b| format!("{b}\n")).collect();
    std::fs::write(&ndjson, lines).unwrap();
    let bulk = dir.join("bulk");
    let mut writer = BulkWriter::create(&bulk, &["Observation"]).unwrap();
    for b in bundles {
        writer.bundle(b).unwrap();
    }
    let manifest = writer.finish().unwrap();
    assert!(bulk.join("Observation.ndjson.gz").exists());
    assert!(manifest.exists());
    (files, ndjson.display().to_string(), bulk)
}

#[test]
fn bundles_ndjson_of_bundles_and_a_bulk_export_give_one_hash() {
    let dir = tempfile::tempdir().unwrap();
    let mut bundles: Vec<Value> = rxguard::synth::bundles(300, 7).collect();
    bundles.extend(edge_bundles());
    let (files, ndjson, bulk) = three_forms(dir.path(), &bundles);
    let file_args: Vec<&str> = files.iter().map(String::as_str).collect();
    let as_files = check(&file_args);
    assert_eq!(
        as_files.status.code(),
        Some(0),
        "{}",
        text(&as_files.stderr)
    );
    let as_ndjson = check(&[&ndjson]);
    let bulk_arg = bulk.display().to_string();
    let as_bulk = check(&["--bulk", &bulk_arg]);
    assert_eq!(as_bulk.status.code(), Some(0), "{}", text(&as_bulk.stderr));
    let (hash, n) = findings_hash(&as_files);
    assert_eq!(n, 303);
    assert_eq!(findings_hash(&as_ndjson), (hash.clone(), n));
    assert_eq!(findings_hash(&as_bulk), (hash.clone(), n));
    // The manifest names the same files.
    let manifest = bulk.join("manifest.json").display().to_string();
    assert_eq!(findings_hash(&check(&["--bulk", &manifest])), (hash, n));
    // Findings were made, and the shared Medication was found from both patients.
    let reports: Vec<Value> = text(&as_bulk.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let edge = |id: &str| {
        reports
            .iter()
            .find(|r| r["report"]["patient"] == id)
            .unwrap()["report"]
            .clone()
    };
    for id in ["edge-1", "edge-2"] {
        let report = edge(id);
        let rules: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["rule"].as_str())
            .collect();
        assert!(
            rules
                .iter()
                .any(|r| r.contains("opioid") && r.contains("benzodiazepine")),
            "{id}: {rules:?}"
        );
    }
    // A Medication no file holds is not silently dropped: the entry is unrecognized.
    let unrecognized = edge("edge-3")["unrecognized"].to_string();
    assert!(
        unrecognized.contains("MedicationRequest/r5"),
        "{unrecognized}"
    );
}

#[test]
fn the_report_order_is_fixed_whatever_the_bucket_budget() {
    let dir = tempfile::tempdir().unwrap();
    let bundles: Vec<Value> = rxguard::synth::bundles(200, 3).collect();
    let (_, _, bulk) = three_forms(dir.path(), &bundles);
    let bulk = bulk.display().to_string();
    let big = check(&["--bulk", &bulk]);
    let small = check(&["--bulk", &bulk, "--bucket-mib", "1", "--threads", "1"]);
    assert_eq!(big.stdout, small.stdout);
    let ids: Vec<String> = text(&big.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["report"]["patient"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut by_hash = ids.clone();
    by_hash.sort_by_key(|id| (rxguard::bulk::spill::patient_hash(id), id.clone()));
    assert_eq!(ids, by_hash);
}

#[test]
fn memory_holds_one_bucket_of_at_most_twice_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let bulk = dir.path().join("bulk");
    let mut writer = BulkWriter::create(&bulk, &[]).unwrap();
    for b in rxguard::synth::bundles(3_000, 11) {
        writer.bundle(&b).unwrap();
    }
    writer.finish().unwrap();
    let engine = rxguard::Engine::bundled().unwrap();
    let run = |bucket_bytes: u64| {
        let options = BulkOptions {
            batch: BatchOptions {
                as_of: Date::parse(AS_OF).unwrap(),
                input: rxguard::engine::InputKind::Fhir,
                chunk_size: 1024,
                pool: None,
                max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            },
            bucket_bytes,
            temp_dir: Some(dir.path().to_path_buf()),
        };
        let mut out = Vec::new();
        let mut summary = Summary::default();
        let render = |o: &RecordOutcome| format!("{:?}\n", o.result);
        let stats =
            rxguard::bulk::run(&engine, &bulk, &options, &render, &mut out, &mut summary).unwrap();
        (stats, summary, out)
    };
    let (roomy, roomy_summary, roomy_out) = run(1 << 30);
    assert_eq!(roomy.buckets, 1);
    assert_eq!(roomy.splits, 0);
    assert_eq!(roomy_summary.evaluated, 3_000);
    // About 18 MB of resources: 512 buckets (the most files opened at once) of ~35 KB, over
    // twice an 8 KiB budget, so every bucket is split before it is loaded. (A debug build is
    // slow: 10^4 and 10^6 patients are measured by hand in release, see docs/bulk.md.)
    let budget = 8 << 10;
    let (tight, tight_summary, tight_out) = run(budget);
    assert_eq!(tight.buckets, 512);
    assert!(tight.splits >= 512, "{tight:?}");
    assert!(tight.largest_bucket <= 2 * budget, "{tight:?}");
    assert!(tight.largest_bucket > 0);
    assert_eq!(tight_summary, roomy_summary);
    assert_eq!(tight_out, roomy_out);
    assert_eq!(tight.lines, roomy.lines);
    // The bucket files are gone once read.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir() && e.file_name() != "bulk")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn bad_lines_are_rejected_by_file_and_line_and_the_rest_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let bulk = dir.path().join("bulk");
    std::fs::create_dir(&bulk).unwrap();
    let write = |name: &str, text: &[u8]| std::fs::write(bulk.join(name), text).unwrap();
    write(
        "Patient.ndjson",
        b"\xEF\xBB\xBF{\"resourceType\": \"Patient\", \"id\": \"p1\", \"birthDate\": \"1950-01-01\"}\n\n{\"resourceType\": \"Patient\", \"birthDate\": \"1950-01-01\"}\n{\"resourceType\": \"Patient\", \"id\": \"p2\"\n",
    );
    let long = format!(
        "{{\"resourceType\": \"Observation\", \"subject\": {{\"reference\": \"Patient/p1\"}}, \"x\": \"{}\"}}",
        "a".repeat(300)
    );
    write(
        "Observation.ndjson",
        format!(
            "{{\"resourceType\": \"Observation\", \"id\": \"o1\", \"status\": \"final\"}}\n{long}\n{{\"id\": \"o3\"}}\n"
        )
        .as_bytes(),
    );
    write(
        "MedicationRequest.ndjson",
        b"{\"resourceType\": \"MedicationRequest\", \"id\": \"m1\", \"status\": \"active\", \"subject\": {\"reference\": \"Patient/p1\"}, \"medicationCodeableConcept\": {\"text\": \"Oxycodone 5 mg tablet\"}}\n\xff\xfe\n",
    );
    write("Encounter.ndjson", b"{\"resourceType\": \"Encounter\"}\n");
    write("notes.txt", b"not read");
    let path = bulk.display().to_string();
    let out = rxguard(&[
        "check",
        "--as-of",
        AS_OF,
        "--format",
        "json",
        "--max-record-bytes",
        "200",
        "--bulk",
        &path,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let at = |file: &str, line: u64| {
        doc["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["input"] == bulk.join(file).display().to_string() && r["line"] == line)
            .and_then(|r| r["error"].as_str())
            .unwrap_or_else(|| panic!("no error at {file}:{line}: {doc}"))
            .to_string()
    };
    assert!(at("Patient.ndjson", 3).contains("without an `id`"));
    assert!(at("Patient.ndjson", 4).contains("not JSON"));
    assert!(at("Observation.ndjson", 1).contains("without a patient reference"));
    assert!(at("Observation.ndjson", 2).contains("over the limit of 200 bytes"));
    assert!(at("Observation.ndjson", 3).contains("no `resourceType`"));
    assert!(at("MedicationRequest.ndjson", 2).contains("not valid UTF-8"));
    let summary = &doc["summary"];
    assert_eq!(summary["evaluated"], 1);
    assert_eq!(summary["rejected"], 6);
    assert_eq!(summary["records_read"], 7);
    let p1 = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["report"]["patient"] == "p1")
        .unwrap();
    assert_eq!(
        p1["input"],
        bulk.join("Patient.ndjson").display().to_string()
    );
    assert_eq!(p1["line"], 1);
    let err = text(&out.stderr);
    assert!(err.contains("Encounter.ndjson was not read"), "{err}");
}

#[test]
fn an_export_that_cannot_be_read_is_one_rejected_record_in_a_whole_report() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        r#"{"transactionTime": "2026-01-01T00:00:00Z", "requiresAccessToken": false,
        "output": [{"type": "Patient", "url": "https://x.example/Patient.ndjson"}],
        "error": [{"type": "OperationOutcome", "url": "https://x.example/err.ndjson"}]}"#,
    )
    .unwrap();
    // The manifest's Patient file was not downloaded.
    let path = manifest.display().to_string();
    let out = rxguard(&[
        "check", "--as-of", AS_OF, "--format", "json", "--bulk", &path,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["rejected"], 1);
    assert!(
        doc["records"][0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot read")
    );
    assert!(text(&out.stderr).contains("err.ndjson was not read"));
    // A folder without NDJSON files, and an empty export.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let path = empty.display().to_string();
    let out = rxguard(&[
        "check", "--as-of", AS_OF, "--format", "json", "--bulk", &path,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["records"][0]["error"]
            .as_str()
            .unwrap()
            .contains("no .ndjson")
    );
    std::fs::write(empty.join("Patient.ndjson"), "").unwrap();
    let out = rxguard(&["check", "--as-of", AS_OF, "--bulk", &path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("holds no records"));
}
