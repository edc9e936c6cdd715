//! Hostile input: rule packs and patient records built to crash, hang or confuse the engine.
//! Each must end in diagnostics or a rejected record, never a panic or a hang.

use proptest::prelude::*;
use rxguard::Engine;
use rxguard::date::Date;
use rxguard::eval::Scratch;

fn compile(text: &str) -> Result<Engine, rxguard::diagnostic::Diagnostics> {
    Engine::from_sources([("hostile.rules".to_string(), text.to_string())])
}

#[test]
fn deep_nesting_in_every_position_is_refused() {
    let depth = 100_000;
    let cases = [
        format!(
            "pack p \"P\" version \"1\"\nrule r {{\n  when {}true{}\n}}\n",
            "(".repeat(depth),
            ")".repeat(depth)
        ),
        format!(
            "pack p \"P\" version \"1\"\nrule r {{\n  when {}true\n}}\n",
            "not ".repeat(depth)
        ),
        format!(
            "pack p \"P\" version \"1\"\nclass c = {}x{}\n",
            "(".repeat(depth),
            ")".repeat(depth)
        ),
        format!(
            "pack p \"P\" version \"1\"\nrule r {{\n  message \"{{{}}}\"\n}}\n",
            "(".repeat(depth)
        ),
        format!(
            "pack p \"P\" version \"1\"\nrule r {{\n  when {}true\n}}\n",
            "(".repeat(depth)
        ),
    ];
    for case in cases {
        let d = compile(&case).expect_err("must be refused");
        assert!(
            d.items
                .iter()
                .any(|d| matches!(d.code, "E002" | "E003" | "E001")),
            "{:?}",
            d.items.iter().map(|d| d.code).collect::<Vec<_>>()
        );
    }
}

#[test]
fn long_operator_chains_are_refused_and_reasonable_ones_accepted() {
    let rule = |n: usize| {
        let terms: Vec<String> = (0..n).map(|i| format!("age > {i}")).collect();
        format!(
            "pack p \"P\" version \"1\"\nrule r {{\n  severity minor\n  when {}\n  summary \"s\"\n  message \"m\"\n  cite \"c\"\n}}\n",
            terms.join(" or ")
        )
    };
    assert!(compile(&rule(100)).is_ok());
    let d = compile(&rule(20_000)).expect_err("too many operators");
    assert_eq!(d.items.iter().map(|d| d.code).collect::<Vec<_>>(), ["E003"]);
}

#[test]
fn a_thousand_syntax_errors_are_all_reported() {
    let text: String = std::iter::once("pack p \"P\" version \"1\"\n".to_string())
        .chain((0..1000).map(|i| format!("rule r{i} {{\n  when (\n}}\n")))
        .collect();
    let d = compile(&text).expect_err("broken");
    let codes: Vec<&str> = d.items.iter().map(|d| d.code).collect();
    assert_eq!(codes.len(), rxguard::check::MAX_DIAGNOSTICS + 1);
    assert!(
        codes[..rxguard::check::MAX_DIAGNOSTICS]
            .iter()
            .all(|c| *c == "E001")
    );
    assert_eq!(
        d.items.last().map(|d| d.message.as_str()),
        Some("800 more errors not shown")
    );
}

#[test]
fn hostile_patient_records_are_rejected_not_fatal() {
    let engine = Engine::bundled().unwrap();
    let mut scratch = Scratch::default();
    let as_of = Date::parse("2026-11-01").unwrap();
    let deep = format!(
        "{{\"id\":\"x\",\"medications\":{}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let rejected = [
        deep.as_str(),
        "{\"id\":\"x\",\"birth_date\":\"0000-00-00\"}",
        "{\"id\":\"x\",\"birth_date\":\"9999-12-31\"}",
        "{\"id\":\"x\",\"birth_date\":\"123é56\"}",
        "{\"id\":\"x\",\"birth_date\":\"é961\"}",
        "{\"id\":\"x\",\"labs\":[{\"loinc\":\"62238-1\",\"value\":1e999,\"unit\":\"mL/min/1.73m2\",\"date\":\"2026-01-01\"}]}",
        "{\"id\":\"x\",\"medications\":[{\"text\":\"baclofen\",\"start\":\"2026-02-30\"}]}",
        "{\"id\":\"x\",\"age\":4294967296}",
        "[]",
        "null",
        "",
    ];
    for case in rejected {
        assert!(
            engine.check_json(&mut scratch, case, as_of).is_err(),
            "{case:.80}"
        );
    }
    let checked = [
        "{\"id\":\"x\",\"medications\":[{\"text\":\"\\u0000\\u00e9\\u4e2d\"}]}".to_string(),
        "{\"id\":\"x\",\"medications\":[{\"text\":\"baclofen\",\"dose\":{\"value\":-5,\"unit\":\"mg\"},\"frequency\":\"tid\"}]}".to_string(),
        "{\"id\":\"x\",\"medications\":[{\"text\":\"baclofen\",\"dose\":{\"value\":1e308,\"unit\":\"g\"},\"frequency\":\"q2h\",\"route\":\"oral\"}]}".to_string(),
        format!("{{\"id\":\"x\",\"medications\":[{{\"text\":\"{}\"}}]}}", "baclofen ".repeat(100_000)),
        format!("{{\"id\":\"x\",\"conditions\":[{{\"code\":\"{}\",\"system\":\"icd10\"}}]}}", "G".repeat(100_000)),
    ];
    for case in &checked {
        let report = engine
            .check_json(&mut scratch, case, as_of)
            .unwrap_or_else(|e| panic!("{case:.80}: {e}"));
        assert_eq!(report.patient, "x");
    }
}

/// A baclofen order renewed 50,000 times, each entry alike: the daily dose is the sum of every
/// order (two orders alike are two therapies), the message stays one line, and the
/// merging of duplicate therapies is linear (a pairwise merge took minutes on this record).
#[test]
fn fifty_thousand_renewals_are_summed_and_named_once() {
    let engine = Engine::bundled().unwrap();
    let entry = |i: usize| {
        format!(
            r#"{{"id": "m{i}", "text": "Baclofen 10 mg tablet", "dose": {{"value": 10, "unit": "mg"}}, "frequency": "tid", "route": "oral", "status": "active", "start": "2026-10-01", "source": "request"}}"#
        )
    };
    let meds: Vec<String> = (0..50_001).map(entry).collect();
    let record = format!(
        r#"{{"id": "renewed", "age": 50, "conditions": [], "labs": [], "medications": [{}]}}"#,
        meds.join(",")
    );
    let report = engine
        .check_json(
            &mut Scratch::default(),
            &record,
            Date::parse("2026-11-01").unwrap(),
        )
        .unwrap();
    let max = report
        .findings
        .iter()
        .find(|f| f.rule == "baclofen_oral_above_max_dose")
        .expect("50,001 orders of 30 mg a day exceed 80 mg a day");
    let daily = max.facts.iter().find(|f| f.fact == "daily_dose").unwrap();
    assert_eq!(daily.value, "1500030");
    assert!(max.message.len() < 200, "{}", max.message);
    assert_eq!(max.medications.len(), 50_001);
}

/// A statement of use mirrors one order, not every order alike: two orders of 10 mg three times
/// a day and one statement of the same are 60 mg a day, whatever their order in the record.
#[test]
fn a_statement_mirrors_one_order_only() {
    let engine = Engine::bundled().unwrap();
    let entry = |id: &str, source: &str| {
        format!(
            r#"{{"id": "{id}", "text": "Baclofen 10 mg tablet", "dose": {{"value": 10, "unit": "mg"}}, "frequency": "tid", "route": "oral", "status": "active", "start": "2026-10-01", "source": "{source}"}}"#
        )
    };
    for order in [["r1", "s1", "r2"], ["s1", "r1", "r2"], ["r1", "r2", "s1"]] {
        let meds: Vec<String> = order
            .iter()
            .map(|id| {
                entry(
                    id,
                    if id.starts_with('s') {
                        "statement"
                    } else {
                        "request"
                    },
                )
            })
            .collect();
        let record = format!(
            r#"{{"id": "p", "age": 50, "conditions": [], "labs": [], "medications": [{}]}}"#,
            meds.join(",")
        );
        let mut scratch = Scratch::default();
        engine
            .check_json(&mut scratch, &record, Date::parse("2026-11-01").unwrap())
            .unwrap();
        let baclofen = engine
            .graph()
            .program
            .drugs
            .iter()
            .position(|d| d.name == "baclofen")
            .unwrap();
        let total = rxguard::eval::predicates::daily_dose(
            &scratch.facts,
            baclofen,
            rxguard::route::Route::Oral,
            scratch.facts.as_of,
        );
        assert_eq!(total, Some(60.0), "{order:?}");
    }
}

#[test]
fn date_arithmetic_in_rules_cannot_overflow() {
    let text = "pack p \"P\" version \"1\"\nrule r {\n  severity minor\n  when as_of - 36500 days < 2026-01-01 and 2026-01-01 + 36500 days > as_of\n  summary \"s\"\n  message \"m\"\n  cite \"c\"\n}\n";
    let engine = compile(text).unwrap();
    let report = engine
        .check_json(
            &mut Scratch::default(),
            "{\"id\":\"x\"}",
            Date::parse("2026-11-01").unwrap(),
        )
        .unwrap();
    assert_eq!(report.findings.len(), 1);
    // A date moved by an absurd duration saturates at the calendar's ends.
    let huge = compile(&text.replace("36500 days <", "99999999999999999999 days <")).unwrap();
    let report = huge
        .check_json(
            &mut Scratch::default(),
            "{\"id\":\"x\"}",
            Date::parse("2026-11-01").unwrap(),
        )
        .unwrap();
    assert_eq!(report.findings.len(), 1);
    // A look-back window is a bounded number of days.
    let window = "pack p \"P\" version \"1\"\ndrug d { atc \"M03BX01\" }\nrule r {\n  severity minor\n  when stopped(d, route: oral, within: 99999999999 days)\n  summary \"s\"\n  message \"m\"\n  cite \"c\"\n}\n";
    assert_eq!(compile(window).unwrap_err().items[0].code, "E021");
}

#[test]
fn minus_chains_cannot_slip_past_the_operator_limit() {
    let chain = format!(
        "pack p \"P\" version \"1\"\nrule r {{\n  when count(x){}>=0\n}}\n",
        "-1".repeat(300_000)
    );
    let codes: Vec<&str> = compile(&chain)
        .unwrap_err()
        .items
        .iter()
        .map(|d| d.code)
        .collect();
    assert!(codes == ["E003"] || codes == ["E002"], "{codes:?}");
    let chain = format!(
        "pack p \"P\" version \"1\"\nrule r {{\n  when count(x){}>=0\n}}\n",
        "-1".repeat(1_000)
    );
    assert_eq!(
        compile(&chain)
            .unwrap_err()
            .items
            .iter()
            .map(|d| d.code)
            .collect::<Vec<_>>(),
        ["E003"]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_pack_text_never_panics(text in "\\PC{0,400}") {
        let _ = compile(&text);
    }

    #[test]
    fn pack_shaped_noise_never_panics(body in prop::collection::vec(prop::sample::select(vec![
        "rule", "r", "{", "}", "(", ")", "when", "taking", "and", "or", "not", "age", ">=", "65", "mg/day",
        "\"s\"", "severity", "major", "class", "c", "=", "|", "except", "atc", "\"N02A\"", "drug", "x", ",", ":",
        "route", "oral", "\n", "summary", "message", "\"{age}\"", "cite", "supersedes", "lab", "within", "14", "days",
    ]), 0..120)) {
        let text = format!("pack p \"P\" version \"1\"\n{}", body.join(" "));
        let _ = compile(&text);
    }

    #[test]
    fn arbitrary_patient_json_never_panics(json in "\\PC{0,300}") {
        let engine = Engine::bundled().unwrap();
        let _ = engine.check_json(&mut Scratch::default(), &json, Date::parse("2026-11-01").unwrap());
    }
}
