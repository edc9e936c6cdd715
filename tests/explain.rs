//! `explain` on fixture patients: a rule that fired, one that did not because a condition is
//! missing, one superseded, one suppressed by its exception, one lowered by a downgrade and one
//! left a data gap. Each snapshot is read as the answer a pharmacist would get.

use rxguard::Engine;
use rxguard::date::Date;
use rxguard::explain::PatientExplanation;
use rxguard::patient::Patient;

fn explain(rule: &str, fixture: &str) -> PatientExplanation {
    let engine = Engine::bundled().unwrap();
    let g = engine.graph();
    let text = std::fs::read_to_string(format!("tests/data/patients/{fixture}.json")).unwrap();
    let patient: Patient<'_> = serde_json::from_str(&text).unwrap();
    let r = g.program.rules.iter().position(|r| r.name == rule).unwrap();
    PatientExplanation::new(g, &patient, Date::parse("2026-11-01").unwrap(), &[r]).unwrap()
}

#[test]
fn why_not_names_the_missing_condition() {
    let x = explain("baclofen_in_epilepsy", "baclofen_oxycodone_70yo");
    assert_eq!(x.rules[0].outcome, "not fired");
    assert!(
        x.rules[0].because.contains("`has(epilepsy)` is false"),
        "{}",
        x.rules[0].because
    );
    assert!(x.rules[0].because.contains("G40"), "{}", x.rules[0].because);
    insta::assert_snapshot!(x.render_text());
}

#[test]
fn fired() {
    insta::assert_snapshot!(explain("baclofen_in_epilepsy", "epilepsy_baclofen").render_text());
}

#[test]
fn superseded() {
    let x = explain("baclofen_dialysis", "baclofen_dialysis_68yo");
    assert_eq!(x.rules[0].outcome, "superseded");
    insta::assert_snapshot!(x.render_text());
}

#[test]
fn suppressed_by_its_exception() {
    let x = explain("cns_active_three_or_more", "three_cns_end_of_life_80yo");
    assert_eq!(x.rules[0].outcome, "suppressed");
    insta::assert_snapshot!(x.render_text());
}

#[test]
fn lowered_by_a_downgrade() {
    let x = explain(
        "gabapentinoid_with_cns_depressant",
        "gabapentin_sertraline_40yo",
    );
    assert_eq!(x.rules[0].severity, Some(rxguard::ir::Severity::Moderate));
    insta::assert_snapshot!(x.render_text());
}

#[test]
fn a_data_gap_says_which_data_is_missing() {
    let x = explain("baclofen_renal_elderly", "labs_absent_baclofen_70yo");
    assert_eq!(x.rules[0].outcome, "data gap");
    assert!(x.rules[0].because.contains("lab results were not provided"));
    insta::assert_json_snapshot!(x);
}
