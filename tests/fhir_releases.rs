//! FHIR R4, R4B and R5 medications as each release writes them, and the releases that are not
//! read refused by name; FHIR statuses, intents and adherence read as the record means them.

use rxguard::Engine;
use rxguard::date::Date;
use rxguard::engine::InputError;
use rxguard::eval::Scratch;
use rxguard::report::PatientReport;

fn day(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("tests/data/fhir/{name}.json")).unwrap()
}

fn check_at(name: &str, as_of: &str) -> Result<PatientReport, InputError> {
    Engine::bundled()
        .unwrap()
        .check_fhir(&mut Scratch::default(), &fixture(name), day(as_of))
}

fn report(name: &str, as_of: &str) -> PatientReport {
    check_at(name, as_of).unwrap()
}

fn fired(r: &PatientReport) -> Vec<&str> {
    r.findings.iter().map(|f| f.rule.as_str()).collect()
}

fn gaps(r: &PatientReport) -> Vec<&str> {
    r.data_gaps.iter().map(|g| g.rule.as_str()).collect()
}

fn notes(r: &PatientReport) -> Vec<&str> {
    r.notes.iter().map(|n| n.problem.as_str()).collect()
}

#[test]
fn r5_codeable_reference_medications_are_identified_by_concept_and_by_reference() {
    let r = report("r5_codeable_reference_medications", "2026-11-01");
    assert!(r.unrecognized.is_empty(), "{:?}", r.unrecognized);
    // oxycodone (medication.concept) with lorazepam (medication.reference to a contained
    // Medication), with gabapentin: one CNS-depressant burden finding for a 76-year-old, in
    // place of the opioid-benzodiazepine and opioid-gabapentinoid rules.
    let f = fired(&r);
    assert!(f.contains(&"opioid_cns_depressant_burden"), "{f:?}");
    let superseded: Vec<&str> = r.superseded.iter().map(|s| s.rule.as_str()).collect();
    assert!(
        superseded.contains(&"opioid_with_benzodiazepine_elderly"),
        "{superseded:?}"
    );
    // The R5 statement taking gabapentin counts; the one not taking zolpidem does not.
    assert!(
        superseded.contains(&"opioid_with_gabapentinoid_elderly"),
        "{superseded:?}"
    );
    // Beers' three CNS-active drugs: the same three, named on the burden card.
    assert!(
        superseded.contains(&"cns_active_three_or_more"),
        "{superseded:?}"
    );
    let burden = r
        .findings
        .iter()
        .find(|f| f.rule == "opioid_cns_depressant_burden")
        .unwrap();
    assert!(
        !burden.message.to_lowercase().contains("zolpidem"),
        "{}",
        burden.message
    );
    assert!(
        burden
            .message
            .contains("antidepressants and antiepileptics included: 3"),
        "{}",
        burden.message
    );
    let mut ids: Vec<&str> = burden.medications.iter().map(|m| m.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "MedicationRequest/lzp",
            "MedicationRequest/oxy",
            "MedicationStatement/gaba"
        ]
    );
}

#[test]
fn an_egfr_written_in_ml_per_min_under_a_per_bsa_loinc_code_is_read_with_a_note() {
    let r = report("r5_codeable_reference_medications", "2026-11-01");
    let note = notes(&r)
        .into_iter()
        .find(|n| n.contains("62238-1"))
        .expect("a note on the eGFR unit");
    assert!(
        note.contains("\"mL/min\"") && note.contains("mL/min/1.73m2"),
        "{note}"
    );
    // The value is read: no note says the eGFR cannot be converted.
    assert!(!notes(&r).iter().any(|n| n.contains("cannot be converted")));
}

#[test]
fn r4b_and_r5_give_the_same_findings_for_the_same_drugs() {
    let r4b = report("r4b_declared_medications", "2026-11-01");
    let f = fired(&r4b);
    assert!(f.contains(&"opioid_with_benzodiazepine_elderly"), "{f:?}");
    assert!(r4b.unrecognized.is_empty());
}

#[test]
fn dstu2_and_stu3_are_refused_naming_the_release() {
    let dstu2 = check_at("dstu2_medication_order", "2026-11-01").unwrap_err();
    let text = dstu2.to_string();
    assert!(
        text.contains("DSTU2") && text.contains("MedicationOrder"),
        "{text}"
    );
    assert!(text.contains("R4, R4B and R5"), "{text}");
    let stu3 = check_at("stu3_declared", "2026-11-01")
        .unwrap_err()
        .to_string();
    assert!(stu3.contains("STU3 (3.0.2)"), "{stu3}");
}

#[test]
fn an_r4_bundle_with_an_r5_medication_is_refused_as_mixed() {
    let mut v: serde_json::Value =
        serde_json::from_str(&fixture("r4b_declared_medications")).unwrap();
    v["entry"][1]["resource"]["medication"] = serde_json::json!({"concept": {"text": "x"}});
    v["entry"][1]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("medicationCodeableConcept");
    let e = Engine::bundled()
        .unwrap()
        .check_fhir(&mut Scratch::default(), &v.to_string(), day("2026-11-01"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mixes") && e.contains("R4B") && e.contains("R5"),
        "{e}"
    );
}

#[test]
fn a_patient_deceased_on_as_of_is_not_screened_and_the_day_before_is() {
    let dead = report("deceased_opioid_benzodiazepine", "2026-11-01");
    let skip = dead.not_screened.as_ref().expect("not screened");
    assert_eq!(skip.reason, "deceased");
    assert_eq!(skip.date, Some(day("2026-11-01")));
    assert!(dead.findings.is_empty() && dead.data_gaps.is_empty());
    let alive = report("deceased_opioid_benzodiazepine", "2026-10-31");
    assert!(alive.not_screened.is_none());
    assert!(fired(&alive).contains(&"opioid_with_benzodiazepine_elderly"));
}

#[test]
fn an_open_order_is_taken_on_day_365_and_history_on_day_366() {
    // Lorazepam ordered 2025-11-01, active with no end, beside a current oxycodone.
    let day_365 = report("open_order_written_2025_11_01", "2026-11-01");
    assert!(fired(&day_365).contains(&"opioid_with_benzodiazepine_elderly"));
    assert!(!notes(&day_365).iter().any(|n| n.contains("horizon")));
    let day_366 = report("open_order_written_2025_11_01", "2026-11-02");
    assert!(!fired(&day_366).contains(&"opioid_with_benzodiazepine_elderly"));
    let note = notes(&day_366)
        .into_iter()
        .find(|n| n.contains("horizon"))
        .expect("the provenance says why");
    assert!(
        note.contains("2025-11-01") && note.contains("365-day") && note.contains("2026-11-01"),
        "{note}"
    );
    // It ended by 2026-11-01 at the latest, on a day not known: within the 14-day withdrawal
    // window the stop is undecided, past it decided.
    assert!(gaps(&day_366).contains(&"benzodiazepine_abrupt_stop"));
    let later = report("open_order_written_2025_11_01", "2026-11-16");
    assert!(!gaps(&later).contains(&"benzodiazepine_abrupt_stop"));
    assert!(!fired(&later).contains(&"benzodiazepine_abrupt_stop"));
}

#[test]
fn the_horizon_is_a_site_setting() {
    let at = day("2026-11-02");
    let bundle = fixture("open_order_written_2025_11_01");
    let rules = |engine: Engine| {
        let r = engine
            .check_fhir(&mut Scratch::default(), &bundle, at)
            .unwrap();
        fired(&r).contains(&"opioid_with_benzodiazepine_elderly")
    };
    let off = Engine::builder()
        .order_horizon_days(Some(0))
        .build()
        .unwrap();
    assert!(rules(off), "no horizon: the old order is taken");
    let longer = Engine::builder()
        .order_horizon_days(Some(366))
        .build()
        .unwrap();
    assert!(rules(longer));
    let profile =
        rxguard::profile::Profile::parse("name = \"p\"\n[status]\norder_horizon_days = 400\n")
            .unwrap();
    assert!(rules(
        Engine::builder().profile(profile.clone()).build().unwrap()
    ));
    // The builder's setting wins over the profile's.
    let both = Engine::builder()
        .profile(profile)
        .order_horizon_days(Some(365))
        .build()
        .unwrap();
    assert!(!rules(both));
}

#[test]
fn plans_and_proposals_are_not_orders_and_are_named() {
    let r = report("intent_plan_and_proposal", "2026-11-01");
    let f = fired(&r);
    assert!(!f.iter().any(|f| f.contains("benzodiazepine")), "{f:?}");
    let named: Vec<&str> = r
        .notes
        .iter()
        .filter(|n| n.problem.contains("not an order"))
        .filter_map(|n| n.entry.as_ref().map(|e| e.id.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            "MedicationRequest/lzp-plan",
            "MedicationRequest/lzp-proposal"
        ]
    );
}

#[test]
fn a_hold_is_taking_for_interactions_and_an_interruption_after_two_days() {
    // Baclofen on hold since 2026-10-30 (R5 statusChanged), oxycodone active.
    let held_2_days = report("r5_baclofen_on_hold_since_2026_10_30", "2026-11-01");
    let f = fired(&held_2_days);
    assert!(f.contains(&"baclofen_with_cns_depressant"), "{f:?}");
    assert!(f.contains(&"baclofen_oral_abrupt_stop"), "{f:?}");
    let stop = held_2_days
        .findings
        .iter()
        .find(|f| f.rule == "baclofen_oral_abrupt_stop")
        .unwrap();
    assert_eq!(stop.facts[0].date, Some(day("2026-10-30")));
    let held_1_day = report("r5_baclofen_on_hold_since_2026_10_30", "2026-10-31");
    let f = fired(&held_1_day);
    assert!(f.contains(&"baclofen_with_cns_depressant"), "{f:?}");
    assert!(!f.contains(&"baclofen_oral_abrupt_stop"), "{f:?}");
    assert!(!gaps(&held_1_day).contains(&"baclofen_oral_abrupt_stop"));
    assert!(
        notes(&held_1_day)
            .iter()
            .any(|n| n.contains("under the 2-day limit"))
    );
}

#[test]
fn entries_sharing_an_id_are_both_read_and_a_renewed_drug_is_named_once() {
    let r = report("shared_id_and_oxycodone_renewed_29_times", "2026-11-01");
    let with = r
        .findings
        .iter()
        .find(|f| f.rule == "opioid_cns_depressant_burden")
        .expect("oxycodone with baclofen and lorazepam: the CNS-depressant burden");
    // Both MedicationRequest/1 (baclofen and lorazepam) are there.
    let shared: Vec<&str> = with
        .medications
        .iter()
        .filter(|m| m.id == "MedicationRequest/1")
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(shared, ["Baclofen 10 mg tablet", "lorazepam 1 mg tablet"]);
    // 29 oxycodone entries, one name in the message.
    assert_eq!(
        with.message
            .matches("oxycodone hydrochloride 5 MG Oral Tablet")
            .count(),
        1,
        "{}",
        with.message
    );
    assert_eq!(
        with.medications
            .iter()
            .filter(|m| m.id.starts_with("MedicationRequest/oxy-"))
            .count(),
        29
    );
    let repeated = notes(&r)
        .into_iter()
        .find(|n| n.contains("shared by"))
        .expect("the repeated id is reported");
    assert!(repeated.contains("MedicationRequest/1") && repeated.contains("2 medication"));
}

#[test]
fn medication_resources_sharing_an_id_are_all_read() {
    let bundle = serde_json::json!({
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1950-01-01"}},
            {"resource": {"resourceType": "Medication", "id": "m", "code": {"text": "oxycodone 5 mg tablet"}}},
            {"resource": {"resourceType": "Medication", "id": "m", "code": {"text": "lorazepam 1 mg tablet"}}},
            {"resource": {"resourceType": "MedicationRequest", "id": "r", "status": "active", "intent": "order",
                          "medicationReference": {"reference": "Medication/m"}}},
        ]
    });
    let r = Engine::bundled()
        .unwrap()
        .check_fhir(
            &mut Scratch::default(),
            &bundle.to_string(),
            day("2026-11-01"),
        )
        .unwrap();
    assert!(
        fired(&r).contains(&"opioid_with_benzodiazepine_elderly"),
        "{:?}",
        fired(&r)
    );
}

#[test]
fn blood_creatinine_38483_4_gives_a_cockcroft_gault_clearance() {
    let r = report("gabapentin_blood_creatinine_38483_4", "2026-11-01");
    let f = r
        .findings
        .iter()
        .find(|f| f.rule == "gabapentin_above_renal_max")
        .expect("CrCl (140 - 80) x 70 / (72 x 2.0) = 29.2 mL/min");
    let crcl = f.facts.iter().find(|x| x.fact == "lab").unwrap();
    assert_eq!(crcl.value, "29.17");
    assert_eq!(crcl.entries, ["Observation/cr"]);
}

#[test]
fn body_height_in_inches_adjusts_the_clearance_to_body_surface() {
    // The latest height (66.9 in = 169.9 cm, not the 150 cm of 2019) and 70 kg make a body
    // surface of 1.818 m2 (Mosteller); Cockcroft-Gault gives (140 - 50) x 70 / (72 x 1.5) =
    // 58.33 mL/min, so 55.52 mL/min/1.73 m2: 3000 mg/day is above the 2000 of the 50-80 row.
    let r = report("levetiracetam_height_in_inches", "2026-11-01");
    let f = r
        .findings
        .iter()
        .find(|f| f.rule == "levetiracetam_above_renal_max")
        .unwrap_or_else(|| panic!("{:?}", fired(&r)));
    let lab = f.facts.iter().find(|x| x.fact == "lab").unwrap();
    assert_eq!(lab.value, "55.52");
    assert_eq!(lab.entries, ["Observation/cr"]);
    assert!(lab.about.contains("height 169.93 cm"), "{}", lab.about);
    assert!(lab.about.contains("body surface 1.82 m2"), "{}", lab.about);
}

/// A bundle of one patient on scheduled morphine and oxycodone, the oxycodone's dosage
/// carrying `prn` (the as-needed element as the release writes it, or nothing).
fn two_opioids(fhir_version: &str, prn: &str) -> String {
    // R5 writes the drug as a CodeableReference, R4 as medicationCodeableConcept.
    let key = if fhir_version.starts_with('5') {
        "medication"
    } else {
        "medicationCodeableConcept"
    };
    let request = |id: &str, code: &str, display: &str, extra: &str| {
        let concept = format!(
            r#"{{"coding": [{{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "{code}", "display": "{display}"}}], "text": "{display}"}}"#
        );
        let drug = if key == "medication" {
            format!(r#"{{"concept": {concept}}}"#)
        } else {
            concept
        };
        format!(
            r#"{{"resource": {{"resourceType": "MedicationRequest", "id": "{id}", "status": "active",
              "intent": "order", "authoredOn": "2026-10-01", "subject": {{"reference": "Patient/p1"}},
              "{key}": {drug},
              "dosageInstruction": [{{"timing": {{"repeat": {{"frequency": 1, "period": 6, "periodUnit": "h"}}}},
                "route": {{"coding": [{{"system": "http://snomed.info/sct", "code": "26643006"}}]}}{extra},
                "doseAndRate": [{{"doseQuantity": {{"value": 5, "unit": "mg"}}}}]}}]}}}}"#
        )
    };
    let morphine = request("m1", "892494", "morphine sulfate 15 MG Oral Tablet", "");
    let oxycodone = request(
        "o1",
        "1049621",
        "oxycodone hydrochloride 5 MG Oral Tablet",
        prn,
    );
    format!(
        r#"{{"resourceType": "Bundle", "type": "collection", "meta": {{"profile": []}},
          "entry": [
            {{"resource": {{"resourceType": "CapabilityStatement", "fhirVersion": "{fhir_version}",
              "status": "active", "kind": "instance", "date": "2026-10-01", "format": ["json"]}}}},
            {{"resource": {{"resourceType": "Patient", "id": "p1", "birthDate": "1976-05-01"}}}},
            {morphine}, {oxycodone}]}}"#
    )
}

fn check_bundle(bundle: &str) -> PatientReport {
    Engine::bundled()
        .unwrap()
        .check_fhir(&mut Scratch::default(), bundle, day("2026-11-01"))
        .unwrap()
}

#[test]
fn an_opioid_taken_as_needed_is_read_as_needed_in_each_release_way_of_writing_it() {
    // Written on a schedule (no as-needed element, or asNeededBoolean false): two scheduled opioids.
    for prn in ["", r#", "asNeededBoolean": false"#] {
        let r = check_bundle(&two_opioids("4.0.1", prn));
        assert!(
            fired(&r).contains(&"opioid_with_another_opioid"),
            "{prn}: {:?}",
            fired(&r)
        );
    }
    // As needed: R4's boolean or its reason, R5's boolean or its reasons. The breakthrough opioid
    // is not a second scheduled one.
    for (release, prn) in [
        ("4.0.1", r#", "asNeededBoolean": true"#),
        (
            "4.0.1",
            r#", "asNeededCodeableConcept": {"text": "breakthrough pain"}"#,
        ),
        ("5.0.0", r#", "asNeeded": true"#),
        (
            "5.0.0",
            r#", "asNeededFor": [{"text": "breakthrough pain"}]"#,
        ),
    ] {
        let r = check_bundle(&two_opioids(release, prn));
        assert!(r.unrecognized.is_empty(), "{prn}: {:?}", r.unrecognized);
        assert!(
            !fired(&r).contains(&"opioid_with_another_opioid"),
            "{release} {prn}: {:?}",
            fired(&r)
        );
    }
}
