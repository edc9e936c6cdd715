//! The compiled evaluator (hash-consed nodes, memo, trigger index) against the oracle (a naive
//! walk of the checked IR) on thousands of generated patients: the same outcome for every rule.

use rxguard::Engine;
use rxguard::date::Date;
use rxguard::eval::{self, Outcome, Scratch, oracle};
use rxguard::patient::Patient;

#[test]
fn compiled_evaluation_agrees_with_the_oracle() {
    let engine = Engine::bundled().unwrap();
    let g = engine.graph();
    let as_of = Date::parse(rxguard::synth::AS_OF).unwrap();
    let mut scratch = Scratch::default();
    let (mut fired, mut gaps, mut skipped) = (0, 0, 0);
    for (i, line) in rxguard::synth::ndjson(5_000, 11).enumerate() {
        let patient: Patient<'_> = serde_json::from_str(&line).unwrap();
        scratch.facts.build(&patient, &g.vocabulary, as_of).unwrap();
        eval::evaluate(g, &mut scratch);
        let expected = oracle::outcomes(g, &scratch.facts);
        for (r, (&got, &want)) in scratch.outcomes.iter().zip(&expected).enumerate() {
            let got = if got == Outcome::Skipped {
                Outcome::NotFired
            } else {
                got
            };
            assert_eq!(got, want, "patient {i}, rule {}", g.program.rules[r].name);
            fired += usize::from(matches!(got, Outcome::Fired(_)));
            gaps += usize::from(got == Outcome::DataGap);
        }
        skipped += scratch
            .outcomes
            .iter()
            .filter(|o| **o == Outcome::Skipped)
            .count();
    }
    assert!(
        fired > 1_000 && gaps > 100,
        "the generated patients exercise the rules: {fired} fired, {gaps} gaps"
    );
    assert!(
        skipped > 50_000,
        "the trigger index skips most rules for most patients: {skipped} skipped"
    );
}
