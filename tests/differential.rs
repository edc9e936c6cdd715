//! The compiled evaluator (hash-consed nodes, memo, trigger index, fixed order) against the
//! oracle (a naive walk of the checked IR with its own supersession order) on thousands of
//! generated patients: the bundled packs, and randomly generated packs whose expressions use
//! every predicate, flipped comparisons, `not`, `or`, `unless`, `downgrade` and `supersedes`.

mod common;

use common::random_pack;
use rxguard::Engine;
use rxguard::date::Date;
use rxguard::eval::{self, Outcome, Scratch, oracle};
use rxguard::patient::Patient;

/// Compares both evaluators on `patients` generated patients; returns (fired, gaps, skipped).
fn agree(engine: &Engine, patients: u64, seed: u64) -> (usize, usize, usize) {
    let g = engine.graph();
    let as_of = Date::parse(rxguard::synth::AS_OF).unwrap();
    let mut scratch = Scratch::default();
    let (mut fired, mut gaps, mut skipped) = (0, 0, 0);
    for (i, line) in rxguard::synth::ndjson(patients, seed).enumerate() {
        let patient: Patient<'_> = serde_json::from_str(&line).unwrap();
        scratch.facts.build(&patient, &g.vocabulary, as_of).unwrap();
        eval::evaluate(g, &mut scratch);
        let expected = oracle::outcomes(g, &scratch.facts);
        for (r, &want) in expected.iter().enumerate() {
            let got = scratch.outcome(r);
            skipped += usize::from(got == Outcome::Skipped);
            // A skipped rule must be one the oracle decides false.
            let got = if got == Outcome::Skipped {
                Outcome::NotFired
            } else {
                got
            };
            assert_eq!(
                got, want,
                "patient {i} ({line}), rule {}",
                g.program.rules[r].name
            );
            fired += usize::from(matches!(got, Outcome::Fired(_)));
            gaps += usize::from(got == Outcome::DataGap);
        }
    }
    (fired, gaps, skipped)
}

#[test]
fn the_bundled_packs_agree_with_the_oracle() {
    let (fired, gaps, skipped) = agree(&Engine::bundled().unwrap(), 5_000, 11);
    assert!(
        fired > 1_000 && gaps > 100,
        "the patients exercise the rules: {fired} fired, {gaps} gaps"
    );
    assert!(
        skipped > 50_000,
        "the trigger index skips most rules: {skipped} skipped"
    );
}

#[test]
fn random_packs_agree_with_the_oracle() {
    let vocabulary = rxguard::bundled::PACKS[0];
    let mut totals = (0, 0, 0);
    for seed in 1..=6u64 {
        let pack = random_pack(seed * 7919, 60);
        let engine = Engine::from_sources([
            (vocabulary.0.to_string(), vocabulary.1.to_string()),
            ("random.rules".to_string(), pack.clone()),
        ])
        .unwrap_or_else(|d| panic!("{}\n{pack}", d.render_plain()));
        let (fired, gaps, skipped) = agree(&engine, 400, seed);
        totals = (totals.0 + fired, totals.1 + gaps, totals.2 + skipped);
    }
    let (fired, gaps, skipped) = totals;
    assert!(
        fired > 500 && gaps > 500 && skipped > 500,
        "random rules fire, gap and are skipped: {totals:?}"
    );
}
