//! Site profiles: a hospital disables or re-grades bundled rules without editing the packs, and
//! every finding names the profile and its hash.

use rxguard::Engine;
use rxguard::date::Date;
use rxguard::eval::Scratch;
use rxguard::profile::Profile;

const PATIENT: &str = r#"{"id": "p", "age": 60, "conditions": [], "labs": [],
  "medications": [
    {"text": "Baclofen 10 mg tablet", "dose": {"value": 10, "unit": "mg"}, "frequency": "tid", "route": "oral"},
    {"text": "Lisinopril 10 mg tablet", "dose": {"value": 10, "unit": "mg"}, "frequency": "daily", "route": "oral"},
    {"text": "Tramadol 50 mg tablet", "dose": {"value": 50, "unit": "mg"}, "frequency": "q6h", "route": "oral"},
    {"text": "Quetiapine 25 mg tablet", "dose": {"value": 25, "unit": "mg"}, "frequency": "qhs", "route": "oral"}
  ]}"#;

fn rules(engine: &Engine) -> Vec<(String, String)> {
    let report = engine
        .check_json(
            &mut Scratch::default(),
            PATIENT,
            Date::parse("2026-11-01").unwrap(),
        )
        .unwrap();
    report
        .findings
        .iter()
        .map(|f| (f.rule.clone(), f.severity.name().to_string()))
        .collect()
}

#[test]
fn a_profile_disables_and_regrades_and_is_named_in_findings() {
    let text = std::fs::read_to_string("examples/site_profile.toml").unwrap();
    let profile = Profile::parse(&text).unwrap();
    let plain = Engine::bundled().unwrap();
    let site = Engine::builder().profile(profile).build().unwrap();
    let before = rules(&plain);
    let after = rules(&site);
    assert!(
        before
            .iter()
            .any(|(r, _)| r == "baclofen_with_antihypertensive")
    );
    assert!(
        !after
            .iter()
            .any(|(r, _)| r == "baclofen_with_antihypertensive")
    );
    assert!(before.contains(&("tramadol_with_seizure_cofactor".into(), "moderate".into())));
    assert!(after.contains(&("tramadol_with_seizure_cofactor".into(), "major".into())));
    let report = site
        .check_json(
            &mut Scratch::default(),
            PATIENT,
            Date::parse("2026-11-01").unwrap(),
        )
        .unwrap();
    let named = report.findings[0].profile.as_ref().unwrap();
    assert_eq!(named.name, "Example Hospital pharmacy");
    assert_eq!(named.hash.len(), 16);
    assert!(
        Engine::bundled()
            .unwrap()
            .check_json(
                &mut Scratch::default(),
                PATIENT,
                Date::parse("2026-11-01").unwrap()
            )
            .unwrap()
            .findings[0]
            .profile
            .is_none()
    );
}

#[test]
fn a_profile_naming_an_unknown_rule_or_severity_is_refused() {
    let unknown =
        Profile::parse("name = \"x\"\n[rules.baclofen_with_antihypertensiv]\nenabled = false\n")
            .unwrap();
    let err = Engine::builder()
        .profile(unknown)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("did you mean `baclofen_with_antihypertensive`?"),
        "{err}"
    );
    let severity =
        Profile::parse("name = \"x\"\n[rules.baclofen_with_lithium]\nseverity = \"severe\"\n")
            .unwrap();
    assert!(Engine::builder().profile(severity).build().is_err());
    assert!(Profile::parse("name = \"x\"\nunknown_key = 1\n").is_err());
}

#[test]
fn a_card_cannot_be_lowered_below_a_card_it_replaces() {
    let lowered = "name = \"x\"\n[rules.opioid_cns_depressant_burden]\nseverity = \"minor\"\n";
    let err = Engine::builder()
        .profile(Profile::parse(lowered).unwrap())
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`opioid_cns_depressant_burden` (minor) would take the place of")
            && err.contains("(major), which it supersedes"),
        "{err}"
    );
    // Lowered together with every major card it replaces, or raised: accepted.
    let mut together = String::from(lowered);
    for covered in [
        "opioid_with_benzodiazepine",
        "opioid_with_benzodiazepine_elderly",
        "opioid_with_gabapentinoid",
        "opioid_with_gabapentinoid_elderly",
        "opioid_with_other_cns_depressant",
        "opioid_with_another_opioid",
        "gabapentinoid_with_cns_depressant",
        "baclofen_with_cns_depressant",
        "cns_active_three_or_more",
    ] {
        together.push_str(&format!("[rules.{covered}]\nseverity = \"minor\"\n"));
    }
    assert!(
        Engine::builder()
            .profile(Profile::parse(&together).unwrap())
            .build()
            .is_ok()
    );
    // Raising a card that another takes the place of is the same mistake from below.
    let raised = "name = \"x\"\n[rules.tramadol_with_seizure_cofactor]\nseverity = \"major\"\n";
    let err = Engine::builder()
        .profile(Profile::parse(raised).unwrap())
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`tramadol_and_bupropion_with_seizure_cofactor` (moderate)"),
        "{err}"
    );
    let alike = format!(
        "{raised}[rules.tramadol_and_bupropion_with_seizure_cofactor]\nseverity = \"major\"\n"
    );
    assert!(
        Engine::builder()
            .profile(Profile::parse(&alike).unwrap())
            .build()
            .is_ok()
    );
}

#[test]
fn a_disabled_rule_is_never_evaluated_not_even_as_a_data_gap() {
    let profile =
        Profile::parse("name = \"x\"\n[rules.baclofen_with_antihypertensive]\nenabled = false\n")
            .unwrap();
    let site = Engine::builder().profile(profile).build().unwrap();
    let absent = r#"{"id": "p", "age": 60}"#;
    let as_of = Date::parse("2026-11-01").unwrap();
    let gaps = |e: &Engine| -> Vec<String> {
        e.check_json(&mut Scratch::default(), absent, as_of)
            .unwrap()
            .data_gaps
            .into_iter()
            .map(|g| g.rule)
            .collect()
    };
    assert!(
        gaps(&Engine::bundled().unwrap()).contains(&"baclofen_with_antihypertensive".to_string())
    );
    assert!(!gaps(&site).contains(&"baclofen_with_antihypertensive".to_string()));
}

const HOSPICE: &str = r#"{"id": "h", "age": 81,
  "conditions": [{"code": "Z51.5", "system": "icd10", "status": "active"}], "labs": [],
  "medications": [
    {"text": "Morphine sulfate 15 mg tablet", "dose": {"value": 15, "unit": "mg"}, "frequency": "q4h", "route": "oral"},
    {"text": "Lorazepam 0.5 mg tablet", "dose": {"value": 0.5, "unit": "mg"}, "frequency": "q6h", "route": "oral"}
  ]}"#;

fn hospice_report(profile: &str) -> rxguard::report::PatientReport {
    let engine = Engine::builder()
        .profile(Profile::parse(profile).unwrap())
        .build()
        .unwrap();
    engine
        .check_json(
            &mut Scratch::default(),
            HOSPICE,
            Date::parse("2026-11-01").unwrap(),
        )
        .unwrap()
}

#[test]
fn a_profile_withholds_the_comfort_care_card_and_its_supersession_holds() {
    let shown = hospice_report("name = \"default\"\n");
    let fired: Vec<&str> = shown.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(fired, ["cns_depressants_in_comfort_care"]);
    assert_eq!(shown.findings[0].severity.name(), "minor");

    let withheld = hospice_report(
        "name = \"Hospice unit\"\n[rules.cns_depressants_in_comfort_care]\nshown = false\n",
    );
    assert!(withheld.findings.is_empty(), "{:?}", withheld.findings);
    assert_eq!(withheld.withheld.len(), 1);
    assert_eq!(withheld.withheld[0].rule, "cns_depressants_in_comfort_care");
    assert_eq!(withheld.withheld[0].profile, "Hospice unit");
    assert!(withheld.superseded.iter().any(
        |s| s.rule == "opioid_with_benzodiazepine" && s.by == "cns_depressants_in_comfort_care"
    ));
    let json = serde_json::to_value(&withheld).unwrap();
    assert_eq!(json["withheld"][0]["severity"], "minor");

    // Turning the rule off is another thing: the boxed-warning card it replaced comes back.
    let disabled = hospice_report(
        "name = \"Hospice unit\"\n[rules.cns_depressants_in_comfort_care]\nenabled = false\n",
    );
    let fired: Vec<&str> = disabled.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(fired, ["opioid_with_benzodiazepine"]);
    assert!(disabled.withheld.is_empty());
}
