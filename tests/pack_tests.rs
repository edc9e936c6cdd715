//! The tests written inside the bundled packs: all pass, there are enough of them, and every
//! rule is tested firing, decided false, and as a data gap.

use rxguard::Engine;
use rxguard::ir::Expect;

#[test]
fn every_test_written_in_the_bundled_packs_passes() {
    let engine = Engine::bundled_with_tests().unwrap();
    let outcomes = rxguard::testing::run(&engine);
    let failures: String = outcomes
        .iter()
        .filter(|o| !o.passed())
        .map(|o| rxguard::testing::render_failures(o, &engine.graph().sources))
        .collect();
    assert!(failures.is_empty(), "{failures}");
    assert!(outcomes.len() >= 150, "{} tests", outcomes.len());
}

#[test]
fn every_bundled_rule_is_tested_firing_not_firing_and_as_a_data_gap() {
    let engine = Engine::bundled_with_tests().unwrap();
    let program = &engine.graph().program;
    let mut seen = vec![[false; 3]; program.rules.len()];
    for e in program.tests.iter().flat_map(|t| &t.expects) {
        match e.kind {
            Expect::Fires { rule, .. } => seen[rule][0] = true,
            Expect::No(rule) => seen[rule][1] = true,
            Expect::Gap(rule) => seen[rule][2] = true,
            Expect::Superseded(_) | Expect::Unrecognized(_) => {}
        }
    }
    let missing: Vec<String> = program
        .rules
        .iter()
        .zip(&seen)
        .filter(|(_, s)| s.contains(&false))
        .map(|(r, s)| format!("{} (fires {}, no {}, gap {})", r.name, s[0], s[1], s[2]))
        .collect();
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn an_engine_for_checking_patients_skips_the_tests_but_keeps_the_same_pack_hashes() {
    let checking = Engine::bundled().unwrap();
    let testing = Engine::bundled_with_tests().unwrap();
    assert!(checking.graph().program.tests.is_empty());
    assert!(!testing.graph().program.tests.is_empty());
    let hashes = |e: &Engine| e.packs().iter().map(|p| p.hash.clone()).collect::<Vec<_>>();
    assert_eq!(hashes(&checking), hashes(&testing));
}

#[test]
fn a_pack_hash_covers_its_text_and_the_packs_it_uses() {
    let hashes = |vocabulary: &str, pack: &str| -> Vec<String> {
        Engine::from_sources([
            ("v.rules".to_string(), vocabulary.to_string()),
            ("p.rules".to_string(), pack.to_string()),
        ])
        .unwrap()
        .packs()
        .iter()
        .map(|p| p.hash.clone())
        .collect()
    };
    let vocabulary = "pack v \"V\" version \"1\"\ndrug baclofen { atc \"M03BX01\" }\n";
    let pack = "pack p \"P\" version \"1\"\nuse v\nrule r {\n  severity minor\n  when taking(baclofen)\n  summary \"s\"\n  message \"m\"\n  cite \"c\"\n}\n";
    let base = hashes(vocabulary, pack);
    assert!(
        base.iter()
            .all(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    assert_eq!(
        hashes(vocabulary, pack),
        base,
        "the same text gives the same hash"
    );
    let edited_rule = hashes(vocabulary, &pack.replace("minor", "major"));
    assert_eq!(edited_rule[0], base[0]);
    assert_ne!(edited_rule[1], base[1]);
    let edited_vocabulary = hashes(&vocabulary.replace("M03BX01", "M03BX02"), pack);
    assert_ne!(edited_vocabulary[0], base[0]);
    assert_ne!(
        edited_vocabulary[1], base[1],
        "a pack's hash covers the packs it uses"
    );
}
