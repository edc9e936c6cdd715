//! The formatter: one canonical layout, comments kept, idempotent, and meaning-preserving (the
//! formatted pack compiles to the same graph), on the bundled packs, a corpus of messy packs and
//! generated packs with scrambled whitespace.

mod common;

use proptest::prelude::*;
use rxguard::Engine;
use rxguard::fmt::format;

/// The compiled graph of `pack` with the bundled vocabulary, as DOT (names and structure, no
/// positions), or the diagnostics.
fn graph(name: &str, pack: &str) -> Result<String, String> {
    let vocabulary = rxguard::bundled::PACKS[0];
    let mut sources = vec![(name.to_string(), pack.to_string())];
    if pack.contains("\nuse vocabulary") {
        sources.insert(0, (vocabulary.0.to_string(), vocabulary.1.to_string()));
    }
    Engine::from_sources_with_tests(sources)
        .map(|e| e.graph().to_dot())
        .map_err(|d| d.render_plain())
}

#[test]
fn the_bundled_packs_are_formatted() {
    for (name, text) in rxguard::bundled::PACKS {
        assert_eq!(
            format(text),
            *text,
            "{name} is not formatted: run `rxguard fmt rules/`"
        );
    }
}

#[test]
fn messy_packs_format_to_their_snapshots_and_keep_their_meaning() {
    insta::glob!("data/fmt/*.rules", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let formatted = format(&text);
        insta::assert_snapshot!(formatted);
        assert_eq!(format(&formatted), formatted, "not idempotent");
        assert_eq!(
            rxguard::fmt::comments(&formatted),
            rxguard::fmt::comments(&text)
        );
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(graph(&name, &formatted), graph(&name, &text));
        assert!(graph(&name, &text).is_ok(), "{:?}", graph(&name, &text));
    });
}

/// The text with the whitespace between tokens scrambled: runs of spaces of random lengths,
/// random indentation, trailing spaces and extra blank lines. Line breaks stay where they are,
/// and a minus sign stays against the number it negates.
fn scramble(text: &str, seed: u64) -> String {
    let mut rng = common::Rng(seed | 1);
    let mut out = String::new();
    for line in text.lines() {
        if rng.below(6) == 0 {
            out.push('\n');
        }
        out.push_str(&" ".repeat(rng.below(5)));
        let mut in_string = false;
        let mut in_comment = false;
        let mut prev = ' ';
        for c in line.chars() {
            if c == '"' && prev != '\\' && !in_comment {
                in_string = !in_string;
            }
            in_comment |= c == '#' && !in_string;
            if in_comment {
                out.push(c);
                prev = c;
                continue;
            }
            if !in_string && c == ' ' {
                if prev != ' ' {
                    out.push_str(&" ".repeat(1 + rng.below(3)));
                }
            } else if !in_string && "(,".contains(c) && rng.below(2) == 0 {
                out.push(c);
                out.push(' ');
            } else {
                out.push(c);
            }
            prev = c;
        }
        out.push_str(&" ".repeat(rng.below(3)));
        out.push('\n');
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn formatting_generated_packs_is_idempotent_and_keeps_the_graph(seed in 1u64..u64::MAX, mess in 1u64..u64::MAX) {
        let pack = common::random_pack(seed, 8);
        let messy = scramble(&pack, mess);
        let formatted = format(&messy);
        prop_assert_eq!(format(&formatted), formatted.clone());
        prop_assert_eq!(graph("random.rules", &formatted), graph("random.rules", &pack));
    }

    #[test]
    fn formatting_scrambled_bundled_packs_gives_them_back(which in 0usize..5, mess in 1u64..u64::MAX) {
        let (name, text) = rxguard::bundled::PACKS[which];
        let formatted = format(&scramble(text, mess));
        prop_assert_eq!(rxguard::fmt::tokens(&formatted), rxguard::fmt::tokens(text), "{}", name);
        prop_assert_eq!(rxguard::fmt::comments(&formatted), rxguard::fmt::comments(text));
    }
}
