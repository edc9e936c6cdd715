//! The compiled evaluator (hash-consed nodes, memo, trigger index, fixed order) against the
//! oracle (a naive walk of the checked IR with its own supersession order) on thousands of
//! generated patients: the bundled packs, and randomly generated packs whose expressions use
//! every predicate, flipped comparisons, `not`, `or`, `unless`, `downgrade` and `supersedes`.

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

/// A small deterministic generator (xorshift) for rule expressions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const DRUGS: &[&str] = &[
    "baclofen",
    "oxycodone",
    "gabapentin",
    "lorazepam",
    "alprazolam",
    "tramadol",
    "bupropion",
    "clozapine",
    "levetiracetam",
    "zolpidem",
    "morphine",
    "pregabalin",
];
const CLASSES: &[&str] = &[
    "opioid",
    "benzodiazepine",
    "gabapentinoid",
    "cns_active",
    "z_drug",
    "antipsychotic",
    "strong_anticholinergic",
    "antiepileptic",
];
const CONDITIONS: &[&str] = &[
    "epilepsy",
    "dialysis",
    "falls_history",
    "opioid_use_disorder",
    "dementia",
];
const OPS: &[&str] = &["<", "<=", ">", ">=", "==", "!="];
const ROUTES: &[&str] = &["oral", "intrathecal"];

fn comparison(rng: &mut Rng, subject: String, threshold: String) -> String {
    let op = rng.pick(OPS);
    // Half the time the threshold comes first, which the trigger derivation must flip.
    if rng.below(2) == 0 {
        format!("{subject} {op} {threshold}")
    } else {
        format!("{threshold} {op} {subject}")
    }
}

fn predicate(rng: &mut Rng) -> String {
    let drug = rng.pick(DRUGS);
    let route = rng.pick(ROUTES);
    let (a, b) = (rng.below(100), rng.below(60));
    match rng.below(15) {
        0 => format!("taking({})", rng.pick(CLASSES)),
        1 => format!("taking({drug})"),
        2 => format!("new({})", rng.pick(CLASSES)),
        3 => comparison(
            rng,
            format!("count({})", CLASSES[0..4][drug.len() % 4]),
            format!("{}", drug.len() % 4),
        ),
        4 => comparison(rng, "age".into(), format!("{}", 40 + a / 2)),
        5 => format!("has({})", rng.pick(CONDITIONS)),
        6 => format!("had({})", rng.pick(CONDITIONS)),
        7 => comparison(rng, "lab(egfr)".into(), format!("{} mL/min/1.73m2", 15 + a)),
        8 => comparison(
            rng,
            format!("daily_dose({drug}, route: {route})"),
            format!("{a} mg/day"),
        ),
        9 => comparison(
            rng,
            format!("daily_dose({drug}, route: oral, on: as_of - {b} days)"),
            format!("{} mg/day", a / 2),
        ),
        10 => format!("route({drug}) == {route}"),
        11 => format!(
            "stopped({drug}, route: {route}, within: {} days)",
            rng.below(40)
        ),
        12 => format!("tapered({drug}, route: {route})"),
        13 => format!(
            "reduced({}, within: {} days)",
            rng.pick(CLASSES),
            1 + rng.below(60)
        ),
        _ => comparison(rng, "lab(crcl)".into(), format!("{} mL/min", 15 + a)),
    }
}

fn expression(rng: &mut Rng, depth: usize) -> String {
    if depth == 0 {
        return predicate(rng);
    }
    match rng.below(5) {
        0 => format!("not ({})", expression(rng, depth - 1)),
        1 => format!(
            "({}) or ({})",
            expression(rng, depth - 1),
            expression(rng, depth - 1)
        ),
        2 | 3 => format!(
            "({}) and ({})",
            expression(rng, depth - 1),
            expression(rng, depth - 1)
        ),
        _ => predicate(rng),
    }
}

fn random_pack(seed: u64, rules: usize) -> String {
    let mut rng = Rng(seed | 1);
    let mut text = String::from("pack random \"Random rules\" version \"0\"\nuse vocabulary\n");
    for r in 0..rules {
        text.push_str(&format!(
            "rule r{r} {{\n  severity major\n  when {}\n",
            expression(&mut rng, 3)
        ));
        if rng.below(3) == 0 {
            text.push_str(&format!("  unless {}\n", expression(&mut rng, 1)));
        }
        if rng.below(4) == 0 {
            text.push_str(&format!(
                "  downgrade to moderate when {}\n",
                expression(&mut rng, 1)
            ));
        }
        if r > 0 && rng.below(3) == 0 {
            text.push_str(&format!("  supersedes r{}\n", rng.below(r)));
        }
        text.push_str("  summary \"s\"\n  message \"m {drugs(opioid)} {age} {lab(egfr)}\"\n  cite \"test\"\n}\n");
    }
    text
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
