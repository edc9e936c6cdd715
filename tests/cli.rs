//! The `rxguard` binary: its output on the example patients, exit codes, bad input, and
//! byte-identical output whatever the thread count and chunk size.

mod common;

use common::rxguard;
use std::process::{Command, Output};

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The records of an NDJSON report.
fn records(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn check_prints_findings_for_the_example_patients() {
    let out = rxguard(
        &["check", "examples/patients.ndjson", "--as-of", "2026-11-01"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    insta::assert_snapshot!(without_hashes(&text(&out.stdout)));
}

/// The report with each pack hash (16 hex digits after "1.0.0, ") replaced by `[hash]`: the
/// hash changes with every edit of a pack and has its own tests.
fn without_hashes(report: &str) -> String {
    report
        .lines()
        .map(|l| match l.rfind(", ") {
            Some(i)
                if l.ends_with(')')
                    && l[i + 2..l.len() - 1].len() == 16
                    && l[i + 2..l.len() - 1].bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                format!("{}, [hash])", &l[..i])
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn fail_on_turns_a_severity_into_exit_code_one() {
    let out = rxguard(
        &[
            "check",
            "examples/patients.ndjson",
            "--as-of",
            "2026-11-01",
            "--fail-on",
            "contraindicated",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let quiet =
        b"{\"id\":\"q\",\"age\":40,\"medications\":[{\"text\":\"Metformin 500 mg tablet\"}]}\n";
    let out = rxguard(
        &["check", "-", "--as-of", "2026-11-01", "--fail-on", "minor"],
        Some(quiet),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn a_broken_line_is_reported_by_number_and_the_rest_is_checked() {
    let good = std::fs::read_to_string("examples/patients.ndjson").unwrap();
    let mut lines: Vec<&str> = good.lines().take(6).collect();
    lines.insert(3, "{\"id\": \"broken\", \"medications\": [");
    lines.insert(5, "{\"id\": \"typo\", \"medicatons\": []}");
    let input = lines.join("\n") + "\n";
    let out = rxguard(
        &["check", "-", "--as-of", "2026-11-01", "--format", "ndjson"],
        Some(input.as_bytes()),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a rejected record makes the exit code 2"
    );
    let records = records(&out);
    assert_eq!(records.len(), 8);
    let errors: Vec<(u64, &str)> = records
        .iter()
        .filter(|r| r.get("error").is_some())
        .map(|r| (r["line"].as_u64().unwrap(), r["error"].as_str().unwrap()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].0, 4);
    assert!(errors[0].1.contains("EOF"), "{}", errors[0].1);
    assert_eq!(errors[1].0, 6);
    assert!(
        errors[1].1.contains("unknown field `medicatons`"),
        "{}",
        errors[1].1
    );
    let summary: serde_json::Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
    assert_eq!(summary["summary"]["records_read"], 8);
    assert_eq!(summary["summary"]["evaluated"], 6);
    assert_eq!(summary["summary"]["rejected"], 2);
}

#[test]
fn lint_reports_three_separate_mistakes_with_positions() {
    let out = rxguard(&["lint", "tests/data/bad_packs/three_mistakes.rules"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for position in [
        "three_mistakes.rules:19:3",
        "three_mistakes.rules:27:37",
        "three_mistakes.rules:36:33",
    ] {
        assert!(err.contains(position), "missing {position} in\n{err}");
    }
    insta::assert_snapshot!(err);
}

#[test]
fn lint_accepts_the_bundled_packs() {
    let out = rxguard(&["lint", "rules"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn graph_prints_dot_with_shared_nodes() {
    let out = rxguard(&["graph"], None);
    let dot = text(&out.stdout);
    assert!(dot.starts_with("digraph rxguard {"));
    assert!(dot.contains("rule baclofen_with_cns_depressant"));
    assert!(
        dot.contains("fillcolor"),
        "hash-consed nodes shared by several rules are drawn filled"
    );
}

#[test]
fn usage_errors_exit_with_two() {
    assert_eq!(
        rxguard(&["check", "--as-of", "yesterday"], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        rxguard(&["check", "no/such/file.ndjson"], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        rxguard(
            &[
                "check",
                "--rules",
                "tests/data/bad_packs/missing_cite.rules",
                "examples/patients.ndjson"
            ],
            None
        )
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn output_is_identical_whatever_the_threads_and_chunk_size() {
    let generated = rxguard(&["gen", "--patients", "10000", "--seed", "7"], None);
    assert_eq!(
        generated.stdout.iter().filter(|&&b| b == b'\n').count(),
        10_000
    );
    let run = |threads: &str, chunk: &str| {
        let out = rxguard(
            &[
                "check",
                "-",
                "--as-of",
                "2026-11-01",
                "--format",
                "ndjson",
                "--threads",
                threads,
                "--chunk-size",
                chunk,
            ],
            Some(&generated.stdout),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        out.stdout
    };
    let reference = run("1", "1000");
    for (threads, chunk) in [("2", "1000"), ("1", "1"), ("2", "1"), ("2", "7")] {
        assert!(
            run(threads, chunk) == reference,
            "threads {threads}, chunk {chunk} differ"
        );
    }
    let findings = text(&reference).matches("\"rule\":").count();
    assert!(
        findings > 1000,
        "the generated patients exercise the rules ({findings} findings)"
    );
}

#[test]
fn a_single_pretty_printed_record_is_read_whole() {
    let out = rxguard(
        &[
            "check",
            "tests/data/patients/baclofen_oral_85mg.json",
            "--as-of",
            "2026-11-01",
            "--format",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["records_read"], 1);
    assert_eq!(
        doc["records"][0]["report"]["findings"][0]["rule"],
        "baclofen_oral_above_max_dose"
    );
}

#[test]
fn a_line_that_is_not_utf8_is_rejected_and_the_rest_checked() {
    let mut input = b"{\"id\":\"a\",\"age\":40,\"medications\":[]}\n".to_vec();
    input.extend_from_slice(b"{\"id\":\"\xff\xfe\"}\n");
    input.extend_from_slice(b"{\"id\":\"c\",\"age\":40,\"medications\":[]}\n");
    let out = rxguard(
        &["check", "-", "--as-of", "2026-11-01", "--format", "ndjson"],
        Some(&input),
    );
    assert_eq!(out.status.code(), Some(2));
    let records = records(&out);
    assert_eq!(records.len(), 3);
    assert_eq!(records[1]["line"], 2);
    assert!(
        records[1]["error"]
            .as_str()
            .unwrap()
            .contains("not valid UTF-8")
    );
    assert_eq!(records[2]["report"]["patient"], "c");
}

#[test]
fn a_broken_first_line_does_not_turn_the_file_into_one_document() {
    let input = b"{\"id\": \"broken\", \"medications\": [\n{\"id\":\"b\",\"age\":40,\"medications\":[]}\n{\"id\":\"c\",\"age\":40,\"medications\":[]}\n";
    let out = rxguard(
        &["check", "-", "--as-of", "2026-11-01", "--format", "ndjson"],
        Some(input),
    );
    let records = records(&out);
    assert_eq!(records.len(), 3, "{}", text(&out.stdout));
    assert_eq!(
        (
            records[0]["line"].as_u64(),
            records[0].get("error").is_some()
        ),
        (Some(1), true)
    );
    assert_eq!(records[2]["report"]["patient"], "c");
}

#[test]
fn a_json_array_reports_each_record_at_its_line() {
    let input = b"[\n  {\"id\": \"a\", \"age\": 40},\n  {\"id\": \"b\", \"age\": 41, \"medications\": 3}\n]\n";
    let out = rxguard(
        &["check", "-", "--as-of", "2026-11-01", "--format", "ndjson"],
        Some(input),
    );
    let records = records(&out);
    assert_eq!(records.len(), 2);
    assert_eq!(
        (records[0]["line"].as_u64(), records[1]["line"].as_u64()),
        (Some(2), Some(3))
    );
    assert!(records[1]["error"].is_string());
}

#[test]
fn test_reports_each_failed_expectation_where_it_is_written() {
    let out = rxguard(
        &["test", "tests/data/pack_tests/one_passes_one_fails.rules"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(text(&out.stdout));
}

#[test]
fn test_passes_on_the_bundled_packs_with_at_least_150_tests() {
    for args in [&["test"][..], &["test", "rules/"][..]] {
        let out = rxguard(args, None);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        let last = stdout.lines().last().unwrap();
        let passed: usize = last.split(' ').next().unwrap().parse().unwrap();
        assert!(passed >= 150, "{last}");
        assert!(last.ends_with(" passed, 0 failed"), "{last}");
    }
}

#[test]
fn the_committed_rule_catalogue_is_current() {
    let out = rxguard(&["doc", "rules/", "-o", "docs/rules.md", "--check"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A DOT graph with its node ids (`n398`) renumbered in order of first appearance: the ids are
/// positions in the whole compiled graph, which any new declaration in the packs shifts; the
/// snapshot is about the rule's nodes and edges.
fn renumbered(dot: &str) -> String {
    let mut ids: Vec<String> = Vec::new();
    let mut out = String::with_capacity(dot.len());
    let mut rest = dot;
    while let Some(at) = rest
        .find(" n")
        .or_else(|| rest.starts_with('n').then_some(0))
    {
        let skip = usize::from(rest[at..].starts_with(' '));
        let start = at + skip + 1;
        let digits = rest[start..].bytes().take_while(u8::is_ascii_digit).count();
        let follows = rest[start + digits..].chars().next();
        if digits == 0 || !matches!(follows, Some(' ' | ';' | '\n') | None) {
            out.push_str(&rest[..start]);
            rest = &rest[start..];
            continue;
        }
        let id = &rest[start..start + digits];
        let k = ids.iter().position(|x| x == id).unwrap_or_else(|| {
            ids.push(id.to_string());
            ids.len() - 1
        });
        out.push_str(&rest[..start]);
        out.push_str(&k.to_string());
        rest = &rest[start + digits..];
    }
    out.push_str(rest);
    out
}

#[test]
fn graph_draws_one_rule_and_what_it_depends_on() {
    let out = rxguard(&["graph", "--rule", "baclofen_renal_elderly"], None);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(renumbered(&text(&out.stdout)));
    let typo = rxguard(&["graph", "--rule", "baclofen_renal_eldrly"], None);
    assert_eq!(typo.status.code(), Some(2));
    assert!(text(&typo.stderr).contains("did you mean `baclofen_renal_elderly`?"));
}

#[test]
fn graph_as_svg_through_graphviz_or_a_clear_message() {
    let graphviz = Command::new("dot").arg("-V").output().is_ok();
    let out = rxguard(
        &[
            "graph",
            "rules/",
            "--format",
            "svg",
            "--rule",
            "opioid_with_benzodiazepine",
        ],
        None,
    );
    if graphviz {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let svg = text(&out.stdout);
        assert!(
            svg.contains("<svg") && svg.contains("opioid_with_benzodiazepine"),
            "{svg}"
        );
    } else {
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("Graphviz"));
    }
    let missing = Command::new(env!("CARGO_BIN_EXE_rxguard"))
        .args(["graph", "--format", "svg"])
        .env("RXGUARD_DOT", "/nonexistent/dot")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let message = text(&missing.stderr);
    assert!(
        message.contains("needs Graphviz") && message.contains("--format dot"),
        "{message}"
    );
}

#[test]
fn explain_answers_for_one_rule_or_all_of_them() {
    let out = rxguard(
        &[
            "explain",
            "--all",
            "--as-of",
            "2026-11-01",
            "tests/data/patients/epilepsy_baclofen.json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rules = text(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("Rule "))
        .count();
    assert!(rules >= 44, "{rules}");
    let json = rxguard(
        &[
            "explain",
            "--rule",
            "baclofen_in_epilepsy",
            "--format",
            "json",
            "--as-of",
            "2026-11-01",
            "tests/data/patients/epilepsy_baclofen.json",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["rules"][0]["outcome"], "fired");
    let typo = rxguard(
        &[
            "explain",
            "--rule",
            "baclofen_in_epilepsi",
            "tests/data/patients/epilepsy_baclofen.json",
        ],
        None,
    );
    assert_eq!(typo.status.code(), Some(2));
    assert!(text(&typo.stderr).contains("did you mean `baclofen_in_epilepsy`?"));
}

#[test]
fn mutation_testing_reports_the_mutants_no_test_kills() {
    let out = rxguard(
        &["test", "--mutate", "tests/data/pack_tests/weak_tests.rules"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(text(&out.stdout));
}

#[test]
fn check_reads_a_fhir_bundle_and_writes_detected_issues() {
    for input in [None, Some("fhir")] {
        let mut args = vec![
            "check",
            "--as-of",
            "2026-11-01",
            "--format",
            "fhir",
            "tests/data/fhir/oxycodone_draft_lorazepam_active.json",
        ];
        if let Some(i) = input {
            args.extend(["--input", i]);
        }
        let out = rxguard(&args, None);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let bundle: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
        assert_eq!(bundle["resourceType"], "Bundle");
        let issues = bundle["entry"].as_array().unwrap();
        assert!(
            issues
                .iter()
                .any(|e| e["resource"]["implicated"][0]["reference"]
                    == "MedicationRequest/draft-oxy")
        );
    }
    let cds = rxguard(
        &[
            "check",
            "--as-of",
            "2026-11-01",
            "--format",
            "cds-hooks",
            "tests/data/fhir/oxycodone_draft_lorazepam_active.json",
        ],
        None,
    );
    let cards: serde_json::Value = serde_json::from_str(text(&cds.stdout).trim()).unwrap();
    assert!(!cards["cards"].as_array().unwrap().is_empty());
    // A record that is not FHIR, read as FHIR, is rejected with its line.
    let forced = rxguard(
        &["check", "--input", "fhir", "--format", "fhir", "-"],
        Some(b"{\"id\": \"p\"}\n"),
    );
    assert_eq!(forced.status.code(), Some(2));
    assert!(text(&forced.stdout).contains("OperationOutcome"));
}
