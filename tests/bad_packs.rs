//! Every bad pack in `tests/data/bad_packs/` against its rendered diagnostics. The first line of
//! each file says which codes it must produce; the snapshot holds the full rendering.

mod common;

use rxguard::Engine;
use std::fs;

#[test]
fn bad_packs_report_their_codes() {
    insta::glob!("data/bad_packs/*.rules", |path| {
        let text = fs::read_to_string(path).unwrap();
        let name = format!("bad_packs/{}", path.file_name().unwrap().to_string_lossy());
        let diagnostics = match Engine::from_sources_with_tests([(name, text.clone())]) {
            Ok(_) => panic!("{} compiled without errors", path.display()),
            Err(d) => d,
        };
        let codes: Vec<String> = diagnostics
            .items
            .iter()
            .map(|d| d.code.to_string())
            .collect();
        assert_eq!(codes, common::expected_codes(&text), "{}", path.display());
        insta::assert_snapshot!(diagnostics.render_plain());
    });
}

#[test]
fn an_oversized_pack_is_refused_before_parsing() {
    let huge = format!(
        "pack big \"Big\" version \"1\"\n{}",
        "# padding\n".repeat(200_000)
    );
    let d = Engine::from_sources([("big.rules".to_string(), huge)]).unwrap_err();
    assert_eq!(d.items.iter().map(|d| d.code).collect::<Vec<_>>(), ["E002"]);
}

#[test]
fn a_use_cycle_between_two_packs_is_spelled_out() {
    let a = "pack a \"A\" version \"1\"\nuse b\n".to_string();
    let b = "pack b \"B\" version \"1\"\nuse a\n".to_string();
    let d =
        Engine::from_sources([("a.rules".to_string(), a), ("b.rules".to_string(), b)]).unwrap_err();
    let messages: Vec<&str> = d.items.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages, ["packs use each other in a cycle: a -> b -> a"]);
}

#[test]
fn diagnostics_are_also_json_lines() {
    let text = fs::read_to_string("tests/data/bad_packs/three_mistakes.rules").unwrap();
    let d = Engine::from_sources([("three_mistakes.rules".to_string(), text)]).unwrap_err();
    let lines: Vec<serde_json::Value> = d
        .render_json_lines()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert!(
            line["line"].as_u64().unwrap() > 0 && line["column"].as_u64().unwrap() > 0,
            "{line}"
        );
        assert!(line["help"].is_string(), "{line}");
    }
}
