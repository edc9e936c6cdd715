//! Every lint on a corpus of packs that compile but are likely wrong: the first line of each
//! file in `tests/data/lint_packs/` names the warnings it must produce; the snapshot holds them
//! rendered. The bundled packs have none.

mod common;

use rxguard::Engine;
use rxguard::diagnostic::Diagnostics;

#[test]
fn each_lint_pack_gives_its_warnings() {
    insta::glob!("data/lint_packs/*.rules", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let name = format!("lint_packs/{}", path.file_name().unwrap().to_string_lossy());
        let engine = Engine::from_sources_with_tests([(name, text.clone())])
            .unwrap_or_else(|d| panic!("{}", d.render_plain()));
        let warnings = rxguard::lint::lint(engine.graph());
        let codes: Vec<String> = warnings.iter().map(|d| d.code.to_string()).collect();
        assert_eq!(codes, common::expected_codes(&text), "{}", path.display());
        let rendered = Diagnostics {
            sources: engine.graph().sources.clone(),
            items: warnings,
        };
        insta::assert_snapshot!(rendered.render_plain());
    });
}

#[test]
fn the_bundled_packs_have_no_warnings() {
    let engine = Engine::bundled_with_tests().unwrap();
    let warnings = rxguard::lint::lint(engine.graph());
    let rendered = Diagnostics {
        sources: engine.graph().sources.clone(),
        items: warnings,
    };
    assert!(rendered.items.is_empty(), "{}", rendered.render_plain());
}

#[test]
fn warnings_are_json_lines_for_editors() {
    let text = std::fs::read_to_string("tests/data/lint_packs/unused_and_same.rules").unwrap();
    let engine = Engine::from_sources_with_tests([("p.rules".to_string(), text)]).unwrap();
    let rendered = Diagnostics {
        sources: engine.graph().sources.clone(),
        items: rxguard::lint::lint(engine.graph()),
    }
    .render_json_lines();
    let first: serde_json::Value = serde_json::from_str(rendered.lines().next().unwrap()).unwrap();
    assert_eq!(first["code"], "W001");
    assert_eq!(first["level"], "warning");
    assert_eq!(first["file"], "p.rules");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(7), Some(7))
    );
    assert_eq!(first["end_column"].as_u64(), Some(12));
    assert!(first["help"].is_string());
}
