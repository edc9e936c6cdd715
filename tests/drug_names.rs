//! Medication texts as other people's systems write them (RxNorm clinical-drug and pack names,
//! combination products, brands in brackets, vaccines by their CVX names) resolve to every
//! ingredient with the bundled vocabulary, and strengths go to the right ingredient.

use rxguard::Engine;
use rxguard::date::Date;
use rxguard::eval::Scratch;
use rxguard::patient::DailyDose;
use rxguard::report::PatientReport;

/// One patient with one medication entry written `text` (and `fields`, JSON members after it),
/// checked: the report, and the scratch holding the patient's facts.
fn check_one(engine: &Engine, text: &str, fields: &str) -> (PatientReport, Scratch) {
    let record = format!(
        r#"{{"id": "p", "age": 50, "conditions": [], "labs": [], "medications": [{{"id": "m1", "text": {}{fields}}}]}}"#,
        serde_json::to_string(text).unwrap()
    );
    let mut scratch = Scratch::default();
    let report = engine
        .check_json(&mut scratch, &record, Date::parse("2026-11-01").unwrap())
        .unwrap();
    (report, scratch)
}

/// The ingredient names of one entry, and whether the report calls it unrecognized.
fn resolve(
    engine: &Engine,
    text: &str,
    dose: Option<(f64, &str, &str)>,
) -> (Vec<String>, bool, Vec<Option<f64>>) {
    let dose = dose.map_or(String::new(), |(v, unit, freq)| {
        format!(r#", "dose": {{"value": {v}, "unit": "{unit}"}}, "frequency": "{freq}""#)
    });
    let (report, scratch) = check_one(engine, text, &format!(r#"{dose}, "route": "oral""#));
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
        assert_resolves_to(&engine, text, expected);
    }
}

/// `text` resolves to exactly the ingredients `expected` (in any order), nothing left over.
fn assert_resolves_to(engine: &Engine, text: &str, expected: &[&str]) {
    let (mut names, unrecognized, _) = resolve(engine, text, None);
    let mut expected = expected.to_vec();
    names.sort();
    expected.sort();
    assert_eq!(names, expected, "{text}");
    assert!(!unrecognized, "{text}");
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
    // A mass dose of a combination that is one ingredient's strength per tablet is that many
    // tablets; any other mass cannot be split: unknown, not guessed.
    let (_, _, doses) = resolve(&engine, "Norco 10-325", Some((10.0, "mg", "q6h")));
    assert_eq!(doses, [Some(40.0), Some(1300.0)]);
    let (_, _, doses) = resolve(&engine, "Norco 10-325", Some((7.0, "mg", "q6h")));
    assert_eq!(doses, [None, None]);
}

/// Brands that name their ingredients nowhere in the text: each resolves to every ingredient it
/// holds, and to nothing else.
#[test]
fn brands_resolve_to_every_ingredient_they_hold() {
    let engine = Engine::bundled().unwrap();
    for (text, expected) in [
        (
            "Bactrim DS 800-160 mg tablet",
            &["sulfamethoxazole", "trimethoprim"][..],
        ),
        (
            "Fioricet capsule",
            &["butalbital", "acetaminophen", "caffeine"],
        ),
        (
            "Esgic 50-325-40",
            &["butalbital", "acetaminophen", "caffeine"],
        ),
        (
            "Tussionex Pennkinetic 5 mL",
            &["hydrocodone", "chlorpheniramine"],
        ),
        ("Tussionex suspension", &["hydrocodone", "chlorpheniramine"]),
        ("Tuxarin ER 54.3-8 mg", &["codeine", "chlorpheniramine"]),
        ("Valtoco 10 mg", &["diazepam"]),
        ("Nayzilam 5 mg", &["midazolam"]),
        ("Diastat AcuDial 10 mg", &["diazepam"]),
        ("Diastat 2.5 mg", &["diazepam"]),
        ("Klonopin wafers 0.5 mg", &["clonazepam"]),
        ("Klonopin 1 mg wafer", &["clonazepam"]),
        ("Zolpimist 5 mg", &["zolpidem"]),
        ("Tylenol PM caplet", &["acetaminophen", "diphenhydramine"]),
        (
            "NyQuil 30 mL",
            &["acetaminophen", "dextromethorphan", "doxylamine"],
        ),
        (
            "Vicks NyQuil",
            &["acetaminophen", "dextromethorphan", "doxylamine"],
        ),
        ("Unisom SleepTabs 25 mg", &["doxylamine"]),
        ("Unisom SleepGels 50 mg", &["diphenhydramine"]),
        ("Unisom SleepMelts", &["diphenhydramine"]),
        ("Unisom PM Pain", &["acetaminophen", "diphenhydramine"]),
        ("Dramamine 50 mg", &["dimenhydrinate"]),
        ("Dramamine Less Drowsy 25 mg", &["meclizine"]),
        ("Xtampza ER 13.5 mg", &["oxycodone"]),
        ("RoxyBond 5 mg tablet", &["oxycodone"]),
        ("Tylenol #3", &["acetaminophen", "codeine"]),
        ("Tylenol #4 tablet", &["acetaminophen", "codeine"]),
        ("Tylenol 3", &["acetaminophen", "codeine"]),
        ("Tylenol No. 3 tablet", &["acetaminophen", "codeine"]),
        ("Tylenol w/ Codeine No. 4", &["acetaminophen", "codeine"]),
        ("Tylenol-Codeine #3", &["acetaminophen", "codeine"]),
        ("Tylenol 325 mg tablet", &["acetaminophen"]),
        ("Tylenol Extra Strength 500 mg", &["acetaminophen"]),
        ("Oxaydo 7.5 mg tablet", &["oxycodone"]),
        ("Qdolo 5 mg/mL oral solution", &["tramadol"]),
        ("Spritam 1000 mg tablet for suspension", &["levetiracetam"]),
        ("Elepsia XR 1500 mg", &["levetiracetam"]),
        ("Septra DS tablet", &["sulfamethoxazole", "trimethoprim"]),
        ("Primaxin I.V. 500 mg", &["cilastatin", "imipenem"]),
        ("Duramorph 1 mg/mL", &["morphine"]),
        ("Aristada 882 mg", &["aripiprazole"]),
        ("Aristada Initio 675 mg", &["aripiprazole"]),
        ("Lybalvi 10-10 mg", &["olanzapine", "samidorphan"]),
        (
            "olanzapine and samidorphan L-malate tablet",
            &["olanzapine", "samidorphan"],
        ),
        ("Caplyta 42 mg", &["lumateperone"]),
        ("Chantix 1 mg", &["varenicline"]),
        ("Chantix 0.5 mg tablet", &["varenicline"]),
        ("meropenem 1 g", &["meropenem"]),
        ("Merrem 1 g IV", &["meropenem"]),
        ("Merrem I.V. 500 mg", &["meropenem"]),
        ("daridorexant 50 mg", &["daridorexant"]),
        ("Quviviq 25 mg", &["daridorexant"]),
        ("droperidol 0.625 mg", &["droperidol"]),
        ("remifentanil 1 mg", &["remifentanil"]),
        ("Ultiva 1 mg", &["remifentanil"]),
        ("Librax capsule", &["chlordiazepoxide", "clidinium"]),
        ("Limbitrol DS", &["chlordiazepoxide", "amitriptyline"]),
        ("Limbitrol 5-12.5", &["chlordiazepoxide", "amitriptyline"]),
        ("Contrave 8-90 mg", &["naltrexone", "bupropion"]),
        ("Auvelity 45-105 mg", &["dextromethorphan", "bupropion"]),
        ("Symbyax 6-25 mg", &["olanzapine", "fluoxetine"]),
        ("Cobenfy 50-20 mg", &["xanomeline", "trospium"]),
        ("Norgesic", &["orphenadrine", "aspirin", "caffeine"]),
        ("Lorcet 10-325", &["hydrocodone", "acetaminophen"]),
        ("Lorcet Plus", &["hydrocodone", "acetaminophen"]),
        ("Lorcet HD", &["hydrocodone", "acetaminophen"]),
        ("Apadaz 6.12-325 mg", &["benzhydrocodone", "acetaminophen"]),
        ("Seglentis 56-44 mg", &["celecoxib", "tramadol"]),
        ("Vivitrol 380 mg", &["naltrexone"]),
        ("Inspra 25 mg", &["eplerenone"]),
        ("Midamor 5 mg", &["amiloride"]),
        ("Dyrenium 50 mg", &["triamterene"]),
        (
            "Maxzide 37.5-25 mg",
            &["triamterene", "hydrochlorothiazide"],
        ),
        (
            "Dyazide 37.5-25 mg",
            &["triamterene", "hydrochlorothiazide"],
        ),
        (
            "Aldactazide 25-25 mg",
            &["spironolactone", "hydrochlorothiazide"],
        ),
        ("Tekturna 150 mg", &["aliskiren"]),
        ("Entresto 49-51 mg", &["sacubitril", "valsartan"]),
        (
            "sacubitril/valsartan 24-26 mg",
            &["sacubitril", "valsartan"],
        ),
        ("Sectral 200 mg", &["acebutolol"]),
        ("Diuril 250 mg/5 mL", &["chlorothiazide"]),
        ("Emsam 6 mg/24 hr", &["selegiline"]),
    ] {
        assert_resolves_to(&engine, text, expected);
    }
}

/// "Unisom" names two products of different ingredients (SleepTabs are doxylamine, SleepGels
/// diphenhydramine): alone it is reported, not guessed.
#[test]
fn a_brand_name_shared_by_different_ingredients_is_not_guessed() {
    let engine = Engine::bundled().unwrap();
    let (names, unrecognized, _) = resolve(&engine, "Unisom 25 mg at bedtime", None);
    assert!(names.is_empty(), "{names:?}");
    assert!(unrecognized);
}

/// Order words of form and administration leave no word over.
#[test]
fn administration_words_are_no_leftovers() {
    let engine = Engine::bundled().unwrap();
    for (text, expected) in [
        ("meropenem 1 g IV infusion", "meropenem"),
        ("morphine 2 mg IV", "morphine"),
        (
            "clonazepam 0.25 mg orally disintegrating wafer",
            "clonazepam",
        ),
        ("Suboxone 8 mg-2 mg sublingual strip", "buprenorphine"),
        ("buprenorphine 8 MG Sublingual Strips", "buprenorphine"),
        ("EpiPen 0.3 mg auto-injector", "epinephrine"),
        ("hydrocodone polistirex 10 mg/5 mL", "hydrocodone"),
        ("aripiprazole lauroxil 441 mg", "aripiprazole"),
    ] {
        let (names, unrecognized, _) = resolve(&engine, text, None);
        assert!(names.iter().any(|n| n == expected), "{text}: {names:?}");
        assert!(!unrecognized, "{text}");
    }
}

/// The route of an entry whose record writes none.
fn implied_route(engine: &Engine, text: &str) -> Option<rxguard::route::Route> {
    check_one(engine, text, "").1.facts.meds[0].route
}

#[test]
fn brands_of_one_route_imply_it() {
    use rxguard::route::Route;
    let engine = Engine::bundled().unwrap();
    for (text, route) in [
        ("Valtoco 10 mg", Some(Route::Nasal)),
        ("Nayzilam 5 mg", Some(Route::Nasal)),
        ("Diastat AcuDial 10 mg", Some(Route::Rectal)),
        ("Diastat 2.5 mg", Some(Route::Rectal)),
        ("Zolpimist 5 mg", Some(Route::Oral)),
        ("Aristada 882 mg", Some(Route::Intramuscular)),
        ("Ultiva 1 mg", Some(Route::Intravenous)),
        ("Vivitrol 380 mg", Some(Route::Intramuscular)),
        ("Emsam 6 mg/24 hr", Some(Route::Transdermal)),
        // Contrave is naltrexone by mouth: the depot's route is Vivitrol's alone.
        ("Contrave 8-90 mg", None),
        // Duramorph is given intravenously, epidurally or intrathecally: no one route.
        ("Duramorph 1 mg/mL", None),
        // Valium tablets, Abilify tablets: the brand alone says nothing of the route.
        ("Valium 5 mg", None),
    ] {
        assert_eq!(implied_route(&engine, text), route, "{text}");
    }
}
