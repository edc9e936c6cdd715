//! Inputs as other tools leave them: byte-order marks, unreadable files among good ones, empty
//! exports, repeated patient ids and record lines too long to hold. Each is reported, in every
//! output format, and the rest is checked.

use serde_json::Value;
use std::path::Path;
mod common;

use common::rxguard;

const AS_OF: &str = "2026-11-01";
const EXAMPLES: &str = "examples/patients.ndjson";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `check --format json` on these files: the whole output parsed as one document.
fn check_json(files: &[&str], extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["check", "--as-of", AS_OF, "--format", "json"];
    args.extend_from_slice(extra);
    args.extend_from_slice(files);
    let out = rxguard(&args, None);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the JSON output is not one document ({e}):\n{}",
            text(&out.stdout)
        )
    });
    (out.status.code(), doc, text(&out.stderr))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

fn with_bom(bytes: &[u8]) -> Vec<u8> {
    let mut v = b"\xEF\xBB\xBF".to_vec();
    v.extend_from_slice(bytes);
    v
}

fn reconciles(summary: &Value) {
    let n = |k: &str| summary[k].as_u64().unwrap_or(0);
    assert_eq!(
        n("records_read"),
        n("evaluated") + n("rejected") + n("skipped"),
        "{summary}"
    );
}

#[test]
fn a_byte_order_mark_does_not_lose_the_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(EXAMPLES).unwrap();
    let bommed = write(dir.path(), "bom.ndjson", &with_bom(&plain));
    let (code, doc, _) = check_json(&[&bommed], &[]);
    assert_eq!(code, Some(0));
    let (_, reference, _) = check_json(&[EXAMPLES], &[]);
    assert_eq!(doc["summary"], reference["summary"]);
    assert_eq!(doc["summary"]["evaluated"], 28);
    assert_eq!(doc["records"][0]["report"]["patient"], "ex-01");
    // Standard input too, and a single pretty-printed record.
    let out = rxguard(
        &["check", "--as-of", AS_OF, "--format", "ndjson", "-"],
        Some(&with_bom(&plain)),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 28);
    let first: Value =
        serde_json::from_slice(plain.split(|&b| b == b'\n').next().unwrap()).unwrap();
    let pretty = serde_json::to_vec_pretty(&first).unwrap();
    let one = write(dir.path(), "one.json", &with_bom(&pretty));
    let (code, doc, _) = check_json(&[&one], &[]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["records"][0]["report"]["patient"], "ex-01");
}

#[test]
fn a_byte_order_mark_in_a_rule_pack_is_not_a_syntax_error() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("rules").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "rules") {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            write(dir.path(), &name, &with_bom(&std::fs::read(&path).unwrap()));
        }
    }
    let packs = dir.path().display().to_string();
    let lint = rxguard(&["lint", &packs], None);
    assert_eq!(lint.status.code(), Some(0), "{}", text(&lint.stderr));
    let (code, doc, err) = check_json(&[EXAMPLES], &["--rules", &packs]);
    assert_eq!(code, Some(0), "{err}");
    let (_, reference, _) = check_json(&[EXAMPLES], &[]);
    assert_eq!(doc["summary"], reference["summary"]);
    let fmt = rxguard(&["fmt", "--check", &packs], None);
    assert_eq!(fmt.status.code(), Some(0), "{}", text(&fmt.stdout));
}

#[test]
fn unreadable_files_are_rejected_records_and_the_rest_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.ndjson").display().to_string();
    let folder = dir.path().join("a-folder");
    std::fs::create_dir(&folder).unwrap();
    let folder = folder.display().to_string();
    let binary = write(dir.path(), "binary.ndjson", b"\xff\xfe{\x00\"\x00\n");
    let files = [EXAMPLES, &missing, &folder, &binary, EXAMPLES];
    let (code, doc, _) = check_json(&files, &[]);
    assert_eq!(code, Some(2));
    let summary = &doc["summary"];
    reconciles(summary);
    assert_eq!(summary["evaluated"], 56);
    assert_eq!(summary["rejected"], 3);
    let errors: Vec<(String, String)> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            Some((
                r["input"].as_str()?.to_string(),
                r["error"].as_str()?.to_string(),
            ))
        })
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors[0].0, missing);
    assert!(errors[0].1.contains("cannot read"), "{errors:?}");
    assert_eq!(errors[1].0, folder);
    assert!(errors[2].1.contains("not valid UTF-8"), "{errors:?}");
    // The text report says the same, and ends with the summary.
    let out = rxguard(&["check", "--as-of", AS_OF, EXAMPLES, &missing], None);
    assert_eq!(out.status.code(), Some(2));
    let report = text(&out.stdout);
    assert!(report.contains(&format!("REJECTED {missing}:0: cannot read")));
    assert!(report.contains("Summary: 29 records read = 28 evaluated + 0 skipped + 1 rejected"));
}

#[test]
fn an_input_without_records_is_a_warning_and_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.ndjson", b"");
    let blank = write(dir.path(), "blank.ndjson", b"\xEF\xBB\xBF\n  \n\n");
    let (code, doc, err) = check_json(&[&empty], &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!("warning: {empty} holds no records")),
        "{err}"
    );
    assert_eq!(doc["summary"]["empty_inputs"][0], empty.as_str());
    assert_eq!(doc["summary"]["records_read"], 0);
    let out = rxguard(&["check", "--as-of", AS_OF, EXAMPLES, &blank], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).contains(&format!("Warning: {blank} holds no records")));
    let out = rxguard(&["check", "--as-of", AS_OF, "-"], Some(b""));
    assert_eq!(out.status.code(), Some(2));
    // One record is enough to be an input.
    let one = write(
        dir.path(),
        "one.ndjson",
        br#"{"id": "p1", "birth_date": "1950-01-01"}"#,
    );
    let (code, doc, _) = check_json(&[&one], &[]);
    assert_eq!(code, Some(0), "{doc}");
    assert!(doc["summary"].get("empty_inputs").is_none());
}

#[test]
fn repeated_patient_ids_are_reported_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.ndjson",
        b"{\"id\": \"p1\", \"age\": 70}\n{\"id\": \"p2\", \"age\": 71}\n{\"id\": \"p1\", \"age\": 72}\n",
    );
    let b = write(dir.path(), "b.ndjson", b"{\"id\": \"p2\", \"age\": 73}\n");
    let (code, doc, _) = check_json(&[&a, &b], &[]);
    assert_eq!(code, Some(0));
    let summary = &doc["summary"];
    assert_eq!(summary["repeated_ids"], 2);
    assert_eq!(summary["repeats"][0]["id"], "p1");
    assert_eq!(summary["repeats"][0]["line"], 3);
    assert_eq!(summary["repeats"][1]["input"], b.as_str());
    let out = rxguard(&["check", "--as-of", AS_OF, &a, &b], None);
    let report = text(&out.stdout);
    assert!(report.contains("2 record(s) repeat the patient id of an earlier record:"));
    assert!(report.contains(&format!("{a}:3  p1")), "{report}");
    for format in ["ndjson", "fhir", "cds-hooks"] {
        let out = rxguard(&["check", "--as-of", AS_OF, "--format", format, &a], None);
        let summary: Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
        assert_eq!(summary["summary"]["repeated_ids"], 1, "{format}");
    }
    // Distinct ids: none.
    let (_, doc, _) = check_json(&[EXAMPLES], &[]);
    assert_eq!(doc["summary"]["repeated_ids"], 0);
}

#[test]
fn a_line_over_the_limit_is_rejected_by_number_and_one_at_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let short = r#"{"id": "p1", "age": 70}"#;
    let long = r#"{"id": "p2", "age": 70} "#; // one byte longer
    let file = write(
        dir.path(),
        "lines.ndjson",
        format!("{short}\n{long}\n{short}\r\n").as_bytes(),
    );
    let limit = short.len().to_string();
    let (code, doc, _) = check_json(&[&file], &["--max-record-bytes", &limit]);
    assert_eq!(code, Some(2));
    let records = doc["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[1]["line"], 2);
    let error = records[1]["error"].as_str().unwrap();
    assert!(error.contains(&format!("{} bytes, over the limit of {limit}", long.len())));
    // The third line's carriage return counts as a byte of its line.
    assert_eq!(records[0]["report"]["patient"], "p1");
    assert!(records[2]["error"].is_string(), "{}", records[2]);
    reconciles(&doc["summary"]);
    // The default limit, 16 MiB: a 17 MiB line is passed over and the next line is read.
    let huge = format!(
        "{{\"id\": \"p3\", \"age\": 70, \"x\": \"{}\"}}",
        "a".repeat(17 << 20)
    );
    let file = write(
        dir.path(),
        "huge.ndjson",
        format!("{huge}\n{short}\n").as_bytes(),
    );
    let (code, doc, _) = check_json(&[&file], &[]);
    assert_eq!(code, Some(2));
    assert_eq!(doc["records"][0]["line"], 1);
    assert!(
        doc["records"][0]["error"]
            .as_str()
            .unwrap()
            .contains("over the limit of 16777216 bytes")
    );
    assert_eq!(doc["records"][1]["report"]["patient"], "p1");
}
