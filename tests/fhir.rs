//! FHIR R4 in and out: Bundles as EHRs send them (clinical-drug RxNorm codes with their display
//! names, contained and bundled Medications, extensions and resources the engine does not read),
//! DetectedIssues whose references resolve into the Bundle, and CDS Hooks cards.

use rxguard::Engine;
use rxguard::date::Date;
use rxguard::eval::Scratch;
use rxguard::fhir::{Resources, cards, detected_issues};
use serde_json::Value;

fn as_of() -> Date {
    Date::parse("2026-11-01").unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("tests/data/fhir/{name}.json")).unwrap()
}

fn report(name: &str) -> rxguard::report::PatientReport {
    Engine::bundled()
        .unwrap()
        .check_fhir(&mut Scratch::default(), &fixture(name), as_of())
        .unwrap()
}

/// The `Type/id` of every resource in a Bundle.
fn references(bundle: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(bundle).unwrap();
    v["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["resource"]["resourceType"].as_str().unwrap(),
                e["resource"]["id"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn detected_issues_point_at_resources_of_the_bundle() {
    for name in [
        "oxycodone_draft_lorazepam_active",
        "baclofen_low_egfr_no_conditions",
    ] {
        let report = report(name);
        assert!(!report.findings.is_empty(), "{name}");
        let issues = detected_issues(&report);
        let known = references(&fixture(name));
        let mut pointed = 0;
        for entry in issues["entry"].as_array().unwrap() {
            let issue = &entry["resource"];
            assert_eq!(issue["resourceType"], "DetectedIssue");
            assert!(["high", "moderate", "low"].contains(&issue["severity"].as_str().unwrap()));
            let targets = issue["implicated"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| r["reference"].as_str().unwrap().to_string())
                .chain(
                    issue["evidence"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|e| {
                            e["detail"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|d| d["reference"].as_str().unwrap().to_string())
                                .collect::<Vec<_>>()
                        }),
                );
            for t in targets {
                assert!(
                    known.contains(&t),
                    "{name}: {t} is not in the Bundle {known:?}"
                );
                pointed += 1;
            }
        }
        assert!(pointed > 0, "{name}");
    }
}

#[test]
fn a_clinical_drug_code_resolves_by_its_display_name_and_the_dispense_period_is_not_the_taking_window()
 {
    let report = report("oxycodone_draft_lorazepam_active");
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    assert!(
        rules.contains(&"opioid_with_benzodiazepine_elderly"),
        "{rules:?}"
    );
    assert!(report.unrecognized.is_empty(), "{:?}", report.unrecognized);
    // The completed extended-release order ended in March (its dosage bounds): not taken now,
    // so only one oxycodone entry is named.
    let finding = report
        .findings
        .iter()
        .find(|f| f.rule == "opioid_with_benzodiazepine_elderly")
        .unwrap();
    let named: Vec<&str> = finding.medications.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        named,
        [
            "MedicationRequest/draft-oxy",
            "MedicationRequest/lorazepam-1"
        ]
    );
}

#[test]
fn a_section_with_no_resource_is_absent_not_empty() {
    let report = report("baclofen_low_egfr_no_conditions");
    let gaps: Vec<&str> = report.data_gaps.iter().map(|g| g.rule.as_str()).collect();
    assert!(gaps.contains(&"baclofen_in_epilepsy"), "{gaps:?}");
    let renal = report
        .findings
        .iter()
        .find(|f| f.rule == "baclofen_renal_elderly")
        .unwrap();
    let lab = renal.facts.iter().find(|f| f.fact == "lab").unwrap();
    assert_eq!(lab.entries, ["Observation/egfr-7"]);
}

#[test]
fn what_cannot_be_read_is_named_and_what_is_unknown_is_ignored() {
    let engine = Engine::bundled().unwrap();
    let mut scratch = Scratch::default();
    let bad = r#"{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "m9", "status": "active", "dosageInstruction": "twice a day"}}]}"#;
    let err = engine
        .check_fhir(&mut scratch, bad, as_of())
        .unwrap_err()
        .to_string();
    assert!(err.contains("MedicationRequest/m9"), "{err}");
    let no_drug = r#"{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "somethingNew": {"x": 1}}}]}"#;
    let report = engine.check_fhir(&mut scratch, no_drug, as_of()).unwrap();
    assert_eq!(report.unrecognized.len(), 1);
    assert_eq!(report.unrecognized[0].entry.id, "MedicationRequest/m1");
    assert!(Resources::parse("[1, 2]").is_err());
}

#[test]
fn cds_hooks_cards_carry_the_indicator_summary_and_source() {
    let report = report("oxycodone_draft_lorazepam_active");
    let all = cards(&report, None);
    let cards_list = all["cards"].as_array().unwrap();
    assert_eq!(cards_list.len(), report.findings.len());
    for c in cards_list {
        assert!(c["summary"].as_str().unwrap().chars().count() < 140);
        assert!(["critical", "warning", "info"].contains(&c["indicator"].as_str().unwrap()));
        assert!(!c["source"]["label"].as_str().unwrap().is_empty());
        assert!(c["uuid"].as_str().unwrap().len() == 36);
    }
    // Only the findings that involve the draft order.
    let draft = ["MedicationRequest/draft-oxy".to_string()];
    let for_order = cards(&report, Some(&draft));
    let rules: Vec<&str> = for_order["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["source"]["topic"]["code"].as_str().unwrap())
        .collect();
    assert!(!rules.contains(&"benzodiazepine_elderly"), "{rules:?}");
    assert!(
        rules.contains(&"opioid_with_benzodiazepine_elderly"),
        "{rules:?}"
    );
}

#[test]
fn a_dose_in_tablets_takes_its_strength_from_the_name_per_ingredient() {
    let engine = Engine::bundled().unwrap();
    let mut scratch = Scratch::default();
    let report = engine
        .check_fhir(
            &mut scratch,
            &fixture("baclofen_nine_tablets_norco"),
            as_of(),
        )
        .unwrap();
    // 9 tablets of 10 mg four times a day: 360 mg/day, a finding, not a data gap.
    let max = report
        .findings
        .iter()
        .find(|f| f.rule == "baclofen_oral_above_max_dose")
        .expect("the oral maximum is exceeded");
    let daily = max.facts.iter().find(|f| f.fact == "daily_dose").unwrap();
    assert_eq!(
        (daily.value.as_str(), daily.entries.as_slice()),
        ("360", &["MedicationRequest/bac-tabs".to_string()][..])
    );
    let conversion = max
        .facts
        .iter()
        .find(|f| f.fact == "dose_conversion")
        .unwrap();
    assert_eq!(
        conversion.value,
        "9 tablet x 10 mg = 90 mg per dose x 4/day = 360 mg/day"
    );
    // The sentence carries its unit; the fact has none of its own, so no output says it twice.
    assert_eq!(conversion.unit, None);
    assert!(
        !report
            .data_gaps
            .iter()
            .any(|g| g.rule == "baclofen_oral_above_max_dose")
    );
    // No dose is left unknown: every entry's strength was read.
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert!(report.unrecognized.is_empty(), "{:?}", report.unrecognized);
    // Each ingredient of a combination has its own daily dose.
    let facts = &scratch.facts;
    let vocab = &engine.graph().program;
    let id = |name: &str| vocab.drugs.iter().position(|d| d.name == name).unwrap();
    let dose = |entry: usize, drug: &str| match facts.dose_of(&facts.meds[entry], id(drug)).daily {
        rxguard::patient::DailyDose::Known(x) => x,
        other => panic!("{drug} in entry {entry}: {other:?}"),
    };
    // Norco 10-325, 1 tablet every 6 hours.
    assert_eq!(dose(1, "hydrocodone"), 40.0);
    assert_eq!(dose(1, "acetaminophen"), 1300.0);
    // Oxycodone 5 MG / Acetaminophen 325 MG, 2 tablets twice a day.
    assert_eq!(dose(2, "oxycodone"), 20.0);
    assert_eq!(dose(2, "acetaminophen"), 1300.0);
}
