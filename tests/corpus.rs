//! Records nobody here wrote: a Synthea FHIR R4 corpus (tests/data/synthea/) and the Eunomia
//! OMOP CDM extract (tests/data/eunomia/), checked by the built binary as an integrator would run
//! it, and compared with an oracle written apart from the engine (tools/oracle/oracle.py, its
//! own drug and code lists), whose committed verdicts CI keeps current.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::process::Command;
use std::sync::OnceLock;

use flate2::read::GzDecoder;
use serde_json::Value;

const SYNTHEA: &str = "tests/data/synthea/synthea-r4.ndjson.gz";
const VERDICTS: &str = "tests/data/synthea/oracle-verdicts.tsv";
const RISK_TEXTS: &str = "tests/data/synthea/oracle-risk-texts.tsv";
const IRRELEVANT: &str = "tests/data/synthea/conditions-irrelevant.tsv";
/// The corpus's reference date: Synthea wrote every record up to this day.
const SYNTHEA_AS_OF: &str = "2026-11-01";
/// The day tools/omop/omop_to_records.py shifts every Eunomia snapshot to.
const EUNOMIA_AS_OF: &str = "2019-07-01";

/// The engine's verdict on a problem whose rule another card superseded.
const SUPERSEDED: &str = "superseded (true or undecided)";

/// The rxguard rules that state each of the oracle's problems.
const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "opioid_benzodiazepine",
        &[
            "opioid_with_benzodiazepine",
            "opioid_with_benzodiazepine_elderly",
        ],
    ),
    ("cns_three_or_more", &["cns_active_three_or_more"]),
    (
        "tramadol_seizure_disorder",
        &["tramadol_in_seizure_disorder"],
    ),
    ("baclofen_egfr_below_60", &["baclofen_renal_elderly"]),
];

fn gunzip(path: &str) -> String {
    let mut text = String::new();
    GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// `rxguard check --format json` over one NDJSON input, parsed.
fn check(ndjson: &str, as_of: &str) -> Value {
    let mut file = tempfile::NamedTempFile::with_suffix(".ndjson").unwrap();
    file.write_all(ndjson.as_bytes()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rxguard"))
        .args(["check", "--as-of", as_of, "--format", "json"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "rxguard check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn synthea_lines() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| gunzip(SYNTHEA))
}

fn synthea_report() -> &'static Value {
    static REPORT: OnceLock<Value> = OnceLock::new();
    REPORT.get_or_init(|| check(synthea_lines(), SYNTHEA_AS_OF))
}

fn records(report: &Value) -> impl Iterator<Item = &Value> {
    report["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["report"])
}

fn bundles() -> impl Iterator<Item = Value> {
    synthea_lines()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
}

fn resources(bundle: &Value) -> impl Iterator<Item = &Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
}

/// The rows of a committed TSV (comment lines and the header skipped), as column -> value.
fn tsv(path: &str) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split('\t').map(str::to_string))
                .collect()
        })
        .collect()
}

/// The engine's answer to each oracle problem for one patient: yes (a finding of one of its
/// rules, shown or superseded by another card), unknown (a data gap of one of them), no; None when the patient was not screened.
fn engine_verdicts(report: &Value) -> Option<BTreeMap<&'static str, &'static str>> {
    if report.get("not_screened").is_some_and(|v| !v.is_null()) {
        return None;
    }
    let rules = |key: &str| -> BTreeSet<String> {
        report[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["rule"].as_str().map(str::to_string))
            .collect()
    };
    let found = rules("findings");
    // A superseded rule was true or undecided, and another card of the patient carries its
    // problem: the oracle may say either.
    let superseded = rules("superseded");
    let gaps = rules("data_gaps");
    let verdicts = CATEGORIES.iter().map(|(category, ids)| {
        let verdict = if ids.iter().any(|id| found.contains(*id)) {
            "yes"
        } else if ids.iter().any(|id| superseded.contains(*id)) {
            SUPERSEDED
        } else if ids.iter().any(|id| gaps.contains(*id)) {
            "unknown"
        } else {
            "no"
        };
        (*category, verdict)
    });
    Some(verdicts.collect())
}

/// Every patient where the engine and the oracle disagree, with both answers.
fn disagreements(report: &Value, verdicts: &[BTreeMap<String, String>]) -> Vec<String> {
    let by_patient: BTreeMap<String, &Value> = records(report)
        .map(|r| (r["patient"].as_str().unwrap().to_string(), r))
        .collect();
    let mut out = Vec::new();
    for row in verdicts {
        let patient = &row["patient"];
        let Some(report) = by_patient.get(patient) else {
            out.push(format!("{patient}: no report"));
            continue;
        };
        match (row["screened"].as_str(), engine_verdicts(report)) {
            ("deceased", None) => {}
            ("deceased", Some(_)) => out.push(format!("{patient}: deceased, yet screened")),
            (_, None) => out.push(format!("{patient}: alive, yet not screened")),
            (_, Some(engine)) => {
                for (category, verdict) in engine {
                    let oracle = row[category].as_str();
                    let agrees = if verdict == SUPERSEDED {
                        matches!(oracle, "yes" | "unknown")
                    } else {
                        oracle == verdict
                    };
                    if !agrees {
                        out.push(format!(
                            "{patient} {category}: oracle {oracle}, engine {verdict} ({})",
                            row["evidence"]
                        ));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_oracle_judged_every_patient_of_the_corpus() {
    let patients: BTreeSet<String> = bundles()
        .filter_map(|b| {
            resources(&b)
                .find(|r| r["resourceType"] == "Patient")
                .and_then(|p| p["id"].as_str().map(str::to_string))
        })
        .collect();
    let judged: BTreeSet<String> = tsv(VERDICTS)
        .into_iter()
        .map(|r| r["patient"].clone())
        .collect();
    assert!(patients.len() >= 150, "{} patients", patients.len());
    assert_eq!(patients, judged);
    // The corpus is meant to exercise the problems: at least some of them occur in it.
    let yes = |c: &str| tsv(VERDICTS).iter().filter(|r| r[c] == "yes").count();
    assert!(yes("cns_three_or_more") + yes("opioid_benzodiazepine") > 0);
}

#[test]
fn every_patient_has_one_report() {
    let report = synthea_report();
    assert_eq!(report["summary"]["rejected"], 0);
    assert_eq!(records(report).count(), bundles().count());
}

#[test]
fn the_oracle_agrees_on_every_patient() {
    let wrong = disagreements(synthea_report(), &tsv(VERDICTS));
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The Synthea corpus holds few patients with each problem (no baclofen at all): the oracle also
/// judges a generated population of FHIR Bundles, rich in each problem and in the records'
/// corners (draft orders, partial birth dates, results written ">60", lists left out, hospice).
#[test]
fn the_oracle_agrees_on_a_generated_population() {
    let bundles = Command::new(env!("CARGO_BIN_EXE_rxguard"))
        .args([
            "gen",
            "--patients",
            "1500",
            "--seed",
            "1",
            "--format",
            "fhir",
        ])
        .output()
        .unwrap();
    assert!(bundles.status.success());
    let ndjson = String::from_utf8(bundles.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("generated.ndjson");
    std::fs::write(&input, &ndjson).unwrap();
    let oracle = Command::new("python3")
        .arg("tools/oracle/oracle.py")
        .arg(&input)
        .args(["--as-of", SYNTHEA_AS_OF, "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        oracle.status.success(),
        "{}",
        String::from_utf8_lossy(&oracle.stderr)
    );
    let verdicts = tsv(dir.path().join("oracle-verdicts.tsv").to_str().unwrap());
    assert_eq!(verdicts.len(), 1500);
    for problem in [
        "opioid_benzodiazepine",
        "cns_three_or_more",
        "tramadol_seizure_disorder",
        "baclofen_egfr_below_60",
    ] {
        let yes = verdicts.iter().filter(|r| r[problem] == "yes").count();
        assert!(yes >= 3, "only {yes} patients with {problem}");
    }
    let wrong = disagreements(&check(&ndjson, SYNTHEA_AS_OF), &verdicts);
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The text rxguard reads of a medication entry: the concept's text, else its first display.
fn medication_text(res: &Value) -> Option<String> {
    let concept = res
        .get("medicationCodeableConcept")
        .or_else(|| res.get("medication").and_then(|m| m.get("concept")))?;
    concept["text"]
        .as_str()
        .or_else(|| concept["coding"][0]["display"].as_str())
        .map(str::to_string)
}

fn unrecognized_texts(report: &Value) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in records(report) {
        for u in r["unrecognized"].as_array().into_iter().flatten() {
            let text = u["entry"]["text"].as_str().unwrap_or("").to_string();
            *counts.entry(text).or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn no_medication_of_a_risk_class_is_unrecognized() {
    let risk: BTreeMap<String, String> = tsv(RISK_TEXTS)
        .into_iter()
        .map(|r| (r["text"].clone(), r["ingredients"].clone()))
        .collect();
    assert!(
        risk.len() >= 10,
        "the oracle found {} risk texts",
        risk.len()
    );
    let missed: Vec<String> = unrecognized_texts(synthea_report())
        .into_iter()
        .filter_map(|(text, n)| risk.get(&text).map(|i| format!("{n} x {text} ({i})")))
        .collect();
    assert!(
        missed.is_empty(),
        "unrecognized risk drugs:\n{}",
        missed.join("\n")
    );
}

#[test]
fn distinct_unrecognized_texts_are_under_5_percent() {
    let texts: BTreeSet<String> = bundles()
        .flat_map(|b| {
            resources(&b)
                .filter_map(medication_text)
                .collect::<Vec<_>>()
        })
        .collect();
    let unknown = unrecognized_texts(synthea_report());
    let rate = unknown.len() as f64 / texts.len() as f64;
    assert!(
        rate < 0.05,
        "{} of {} distinct medication texts unrecognized ({:.1}%): {:?}",
        unknown.len(),
        texts.len(),
        rate * 100.0,
        unknown.keys().collect::<Vec<_>>()
    );
}

#[test]
fn every_condition_is_matched_known_irrelevant_or_reported() {
    let engine = rxguard::Engine::bundled().unwrap();
    let declared = &engine.graph().program.conditions;
    let matched = |system: &str, code: &str| {
        declared.iter().any(|c| match system {
            "http://snomed.info/sct" => c.snomed.iter().any(|s| s == code),
            "http://hl7.org/fhir/sid/icd-10-cm" => {
                let code = code.replace('.', "").to_uppercase();
                c.icd10.iter().any(|p| code.starts_with(p.as_str()))
            }
            _ => false,
        })
    };
    let irrelevant: BTreeSet<(String, String)> = tsv(IRRELEVANT)
        .into_iter()
        .inspect(|r| assert!(!r["reason"].trim().is_empty(), "{r:?} has no reason"))
        .map(|r| (r["system"].clone(), r["code"].clone()))
        .collect();
    let mut reported = BTreeSet::new();
    for r in records(synthea_report()) {
        for u in r["unrecognized_conditions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(code) = u["code"].as_str() {
                reported.insert(code.to_string());
            }
        }
    }
    let mut unaccounted = BTreeSet::new();
    let mut both = BTreeSet::new();
    for b in bundles() {
        for c in resources(&b).filter(|r| r["resourceType"] == "Condition") {
            for coding in c["code"]["coding"].as_array().into_iter().flatten() {
                let system = coding["system"].as_str().unwrap_or("").to_string();
                let code = coding["code"].as_str().unwrap_or("").to_string();
                let display = coding["display"].as_str().unwrap_or("");
                let listed = irrelevant.contains(&(system.clone(), code.clone()));
                if matched(&system, &code) && listed {
                    both.insert(format!("{code} {display}"));
                } else if !matched(&system, &code) && !listed && !reported.contains(&code) {
                    unaccounted.insert(format!("{system} {code} {display}"));
                }
            }
        }
    }
    // A code the packs read must not also be called irrelevant: the review would be wrong.
    assert!(
        both.is_empty(),
        "matched, yet listed as irrelevant: {both:?}"
    );
    assert!(
        unaccounted.is_empty(),
        "{} conditions neither matched, nor reviewed as irrelevant, nor reported:\n{}",
        unaccounted.len(),
        unaccounted.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// The Eunomia tables as rxguard records, by the stdlib-only converter.
fn eunomia_records() -> String {
    let out = Command::new("python3")
        .args(["tools/omop/omop_to_records.py", "tests/data/eunomia"])
        .args(["--as-of", EUNOMIA_AS_OF])
        .output()
        .expect("python3 runs tools/omop/omop_to_records.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn drug_exposures() -> usize {
    gunzip("tests/data/eunomia/drug_exposure.csv.gz")
        .lines()
        .count()
        - 1
}

#[test]
fn eunomia_converts_to_one_record_per_person_with_every_drug_exposure() {
    let ndjson = eunomia_records();
    let medications: usize = ndjson
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["medications"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(ndjson.lines().count(), 2694);
    assert_eq!(medications, drug_exposures());
    let report = check(&ndjson, EUNOMIA_AS_OF);
    assert_eq!(report["summary"]["rejected"], 0);
    assert_eq!(report["summary"]["records_read"], 2694);
}

#[test]
fn eunomia_unrecognized_entries_are_under_2_percent_of_drug_exposures() {
    let report = check(&eunomia_records(), EUNOMIA_AS_OF);
    let unknown = unrecognized_texts(&report);
    let n: usize = unknown.values().sum();
    let rate = n as f64 / drug_exposures() as f64;
    let mut top: Vec<_> = unknown.into_iter().collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.1));
    top.truncate(20);
    assert!(
        rate < 0.02,
        "{n} of {} drug exposures unrecognized ({:.2}%); most frequent: {top:?}",
        drug_exposures(),
        rate * 100.0
    );
}
