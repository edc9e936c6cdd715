//! Medication texts as other people's systems write them (RxNorm clinical-drug and pack names,
//! combination products, brands in brackets, vaccines by their CVX names) resolve to every
//! ingredient with the bundled vocabulary, and strengths go to the right ingredient.

use rxguard::Engine;
use rxguard::date::Date;
use rxguard::eval::Scratch;
use rxguard::patient::DailyDose;

/// The ingredient names of one entry, and whether the report calls it unrecognized.
fn resolve(
    engine: &Engine,
    text: &str,
    dose: Option<(f64, &str, &str)>,
) -> (Vec<String>, bool, Vec<Option<f64>>) {
    let dose = dose.map_or(String::new(), |(v, unit, freq)| {
        format!(r#", "dose": {{"value": {v}, "unit": "{unit}"}}, "frequency": "{freq}""#)
    });
    let record = format!(
        r#"{{"id": "p", "age": 50, "conditions": [], "labs": [], "medications": [{{"id": "m1", "text": {}{dose}, "route": "oral"}}]}}"#,
        serde_json::to_string(text).unwrap()
    );
    let mut scratch = Scratch::default();
    let report = engine
        .check_json(&mut scratch, &record, Date::parse("2026-11-01").unwrap())
        .unwrap();
    let facts = &scratch.facts;
    let m = &facts.meds[0];
    let names = facts
        .drugs_of(m)
        .iter()
        .map(|&d| engine.graph().program.drugs[d].name.clone())
        .collect();
    let doses = facts
        .drugs_of(m)
        .iter()
        .map(|&d| match facts.dose_of(m, d).daily {
            DailyDose::Known(x) => Some(x),
            _ => None,
        })
        .collect();
    (names, !report.unrecognized.is_empty(), doses)
}

#[test]
fn combination_products_resolve_to_every_ingredient() {
    let engine = Engine::bundled().unwrap();
    for (text, expected) in [
        (
            "amoxicillin / clavulanate",
            &["amoxicillin", "clavulanate"][..],
        ),
        (
            "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet",
            &["amoxicillin", "clavulanate"],
        ),
        ("Augmentin 875 mg-125 mg", &["amoxicillin", "clavulanate"]),
        (
            "{28 (norethindrone 1 MG / ethinyl estradiol 0.035 MG Oral Tablet) } Pack",
            &["norethindrone", "ethinyl_estradiol"],
        ),
        (
            "{7 (Inert Ingredients 1 MG Oral Tablet) / 21 (Mestranol 0.05 MG / Norethindrone 1 MG Oral Tablet) } Pack [Norinyl 1+50 28 Day]",
            &["inert_ingredients", "mestranol", "norethindrone"],
        ),
        (
            "Oxycodone Hydrochloride 5 MG / Acetaminophen 325 MG Oral Tablet",
            &["oxycodone", "acetaminophen"],
        ),
        (
            "Acetaminophen 21.7 MG/ML / Dextromethorphan Hydrobromide 1 MG/ML / doxylamine succinate 0.417 MG/ML Oral Solution",
            &["acetaminophen", "dextromethorphan", "doxylamine"],
        ),
        (
            "Piperacillin 4000 MG / tazobactam 500 MG Injection",
            &["piperacillin", "tazobactam"],
        ),
        ("Diazepam 5 MG [Valium]", &["diazepam"]),
        ("poliovirus vaccine, inactivated", &["poliovirus_vaccine"]),
        (
            "NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector",
            &["epinephrine"],
        ),
    ] {
        let (names, unrecognized, _) = resolve(&engine, text, None);
        assert_eq!(names, expected, "{text}");
        assert!(!unrecognized, "{text}");
    }
}

/// Pack brands as Synthea writes them, with no ingredient in the text: each resolves to every
/// ingredient its RxNorm pack name lists.
#[test]
fn contraceptive_pack_brands_resolve_to_every_ingredient() {
    let engine = Engine::bundled().unwrap();
    for (text, expected) in [
        ("Camila 28 Day Pack", &["norethindrone"][..]),
        ("Norinyl 1+50 28 Day Pack", &["mestranol", "norethindrone"]),
        (
            "Ortho Tri-Cyclen 28 Day Pack",
            &["ethinyl_estradiol", "norgestimate"],
        ),
        (
            "Estrostep Fe 28 Day Pack",
            &["ethinyl_estradiol", "norethindrone", "ferrous_fumarate"],
        ),
        (
            "Seasonique 91 Day Pack",
            &["ethinyl_estradiol", "levonorgestrel"],
        ),
        ("Natazia 28 Day Pack", &["estradiol", "dienogest"]),
        ("Mestranol / Norethynodrel", &["mestranol", "norethynodrel"]),
        (
            "insulin isophane, human 70 UNT/ML / insulin, regular, human 30 UNT/ML Injectable Suspension [Humulin]",
            &["insulin_isophane", "insulin_regular"],
        ),
        (
            "Insulin Lispro 100 UNT/ML Injectable Solution [Humalog]",
            &["insulin_lispro"],
        ),
        ("Clindamycin 300mg", &["clindamycin"]),
    ] {
        let (mut names, unrecognized, _) = resolve(&engine, text, None);
        let mut expected: Vec<&str> = expected.to_vec();
        names.sort();
        expected.sort();
        assert_eq!(names, expected, "{text}");
        assert!(!unrecognized, "{text}");
    }
}

#[test]
fn an_unknown_word_outside_the_brackets_is_still_reported() {
    let engine = Engine::bundled().unwrap();
    let (names, unrecognized, _) = resolve(&engine, "amoxicillin / zorblatin 500 MG [Foo]", None);
    assert_eq!(names, ["amoxicillin"]);
    assert!(unrecognized);
    // A bracket alone identifies nothing: reported.
    let (names, unrecognized, _) = resolve(&engine, "[Zorblatin 28 Day]", None);
    assert!(names.is_empty() && unrecognized);
}

#[test]
fn strengths_go_to_their_own_ingredient() {
    let engine = Engine::bundled().unwrap();
    // RxNorm orders ingredients alphabetically: the 7.5 mg is hydrocodone's.
    let (names, _, doses) = resolve(
        &engine,
        "Acetaminophen 325 MG / Hydrocodone Bitartrate 7.5 MG Oral Tablet",
        Some((2.0, "tablet", "q6h")),
    );
    assert_eq!(names, ["acetaminophen", "hydrocodone"]);
    assert_eq!(doses, [Some(2600.0), Some(60.0)]);
    // A brand naming both, strengths in the label's order.
    let (names, _, doses) = resolve(&engine, "Norco 10-325", Some((1.0, "tablet", "q6h")));
    assert_eq!(names, ["hydrocodone", "acetaminophen"]);
    assert_eq!(doses, [Some(40.0), Some(1300.0)]);
    // A strength per mL, a dose in mL.
    let (_, _, doses) = resolve(
        &engine,
        "Nitrofurantoin 5 MG/ML Oral Suspension",
        Some((10.0, "mL", "qid")),
    );
    assert_eq!(doses, [Some(200.0)]);
    // A mass dose of a combination cannot be split: unknown, not guessed.
    let (_, _, doses) = resolve(&engine, "Norco 10-325", Some((10.0, "mg", "q6h")));
    assert_eq!(doses, [None, None]);
}
