//! A site's RxNorm relation table: clinical and branded drug codes resolve through it to their
//! ingredients (RXNREL.RRF rows and an OMOP concept_ancestor export), and faulty files are
//! refused with their line numbers.

use rxguard::Engine;
use rxguard::date::Date;
use rxguard::eval::Scratch;
use rxguard::patient::{RelationError, RelationSummary, RxnormRelations};
use std::process::Command;

fn table(name: &str) -> RxnormRelations {
    RxnormRelations::from_path(std::path::Path::new(&format!("tests/data/rxnorm/{name}"))).unwrap()
}

/// A 70-year-old taking lorazepam and an entry known only by its RxNorm code: the text names
/// no ingredient.
fn patient(code: &str) -> String {
    format!(
        r#"{{"id": "p1", "age": 70, "conditions": [], "labs": [], "medications": [
          {{"id": "m1", "text": "Tab 1 from the pharmacy", "rxnorm": "{code}", "route": "oral"}},
          {{"id": "m2", "text": "Lorazepam 1 mg tablet", "dose": {{"value": 1, "unit": "mg"}}, "frequency": "bid", "route": "oral"}}
        ]}}"#
    )
}

fn check(engine: &Engine, record: &str) -> rxguard::report::PatientReport {
    engine
        .check_json(
            &mut Scratch::default(),
            record,
            Date::parse("2026-11-01").unwrap(),
        )
        .unwrap()
}

#[test]
fn a_clinical_drug_code_resolves_through_the_omop_export_to_every_ingredient() {
    let engine = Engine::builder()
        .rxnorm(table("eunomia_drug_ingredients.csv"))
        .build()
        .unwrap();
    // 1049221: Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet.
    let report = check(&engine, &patient("1049221"));
    let finding = report
        .findings
        .iter()
        .find(|f| f.rule == "opioid_with_benzodiazepine_elderly")
        .expect("oxycodone with lorazepam at 70");
    let identified = finding
        .facts
        .iter()
        .find(|f| f.fact == "identified")
        .unwrap();
    assert_eq!(
        identified.value,
        "resolved by RxNorm code 1049221 through the relation table to ingredients acetaminophen, oxycodone"
    );
    assert_eq!(identified.entries, ["m1"]);
    assert!(report.unrecognized.is_empty(), "{:?}", report.unrecognized);
    // Every drug code of the Eunomia sample leads to ingredients the vocabulary declares.
    assert_eq!(
        engine.rxnorm_relations(),
        Some(&RelationSummary {
            codes: 96,
            unknown_ingredients: 0,
            codes_without_known_ingredient: 0,
        })
    );
}

#[test]
fn without_the_table_the_same_code_is_unrecognized() {
    let report = check(&Engine::bundled().unwrap(), &patient("1049221"));
    assert_eq!(report.unrecognized.len(), 1);
    assert_eq!(report.unrecognized[0].entry.id, "m1");
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.rule == "opioid_with_benzodiazepine_elderly")
    );
}

#[test]
fn rxnrel_rows_are_followed_from_a_branded_drug_to_its_ingredients() {
    let engine = Engine::builder()
        .rxnorm(table("rxnrel_sample.rrf"))
        .build()
        .unwrap();
    // 90000001 (a branded drug of the sample) tradename_of 1049221 consists_of two components.
    let report = check(&engine, &patient("90000001"));
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "opioid_with_benzodiazepine_elderly")
    );
    assert_eq!(
        engine.rxnorm_relations(),
        Some(&RelationSummary {
            codes: 4,
            unknown_ingredients: 1,
            codes_without_known_ingredient: 1,
        })
    );
    // A code whose only ingredient the vocabulary does not know stays unrecognized.
    let report = check(&engine, &patient("90000021"));
    assert_eq!(report.unrecognized.len(), 1);
}

#[test]
fn a_faulty_table_is_refused_with_its_line_numbers() {
    let err = RxnormRelations::from_path(std::path::Path::new("tests/data/rxnorm/faulty.csv"))
        .unwrap_err();
    let RelationError::Lines(lines) = &err else {
        panic!("{err}");
    };
    assert_eq!(lines.iter().map(|l| l.line).collect::<Vec<_>>(), [3, 4]);
    let out = Command::new(env!("CARGO_BIN_EXE_rxguard"))
        .args([
            "check",
            "--rxnorm",
            "tests/data/rxnorm/faulty.csv",
            "examples/patients.ndjson",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("faulty.csv") && stderr.contains("line 3") && stderr.contains("line 4"),
        "{stderr}"
    );
}

#[test]
fn the_cli_says_what_the_table_gave() {
    let out = Command::new(env!("CARGO_BIN_EXE_rxguard"))
        .args([
            "check",
            "--rxnorm",
            "tests/data/rxnorm/rxnrel_sample.rrf",
            "--as-of",
            "2026-11-01",
            "examples/patients.ndjson",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("4 drug codes resolve") && stderr.contains("1 ingredient codes"),
        "{stderr}"
    );
}
