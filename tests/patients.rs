//! The bundled packs over the fixture patients in `tests/data/patients/`, one snapshot each.
//! Each snapshot is a clinical claim: read it before accepting it.

use rxguard::Engine;
use rxguard::date::Date;
use rxguard::eval::Scratch;

fn as_of() -> Date {
    Date::parse("2026-11-01").unwrap()
}

#[test]
fn fixture_patients_against_the_bundled_packs() {
    let engine = Engine::bundled().unwrap();
    let mut scratch = Scratch::default();
    insta::glob!("data/patients/*.json", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let mut report = engine
            .check_json(&mut scratch, &text, as_of())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // The pack hash changes with every edit of a pack, tests included; the snapshots hold
        // the clinical claims, and the hash has its own tests.
        for f in &mut report.findings {
            assert_eq!(f.pack.hash.len(), 16);
            f.pack.hash = "[hash]".into();
        }
        insta::assert_yaml_snapshot!(report);
    });
}

#[test]
fn there_are_at_least_forty_named_scenarios() {
    let count = std::fs::read_dir("tests/data/patients")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert!(count >= 40, "{count}");
}

#[test]
fn every_rules_file_is_bundled() {
    let mut on_disk: Vec<String> = std::fs::read_dir("rules")
        .unwrap()
        .map(|e| format!("rules/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".rules"))
        .collect();
    on_disk.sort();
    let mut bundled: Vec<String> = rxguard::bundled::PACKS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    bundled.sort();
    assert_eq!(on_disk, bundled);
}
