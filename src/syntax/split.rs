//! Splits a pack's text into top-level items before parsing, and guards size and nesting.
//!
//! Each item is parsed on its own, so one syntax error does not hide the next item's. An item
//! starts on a line whose first word is a top-level keyword, either at column 1 or outside any
//! braces; a missing `}` therefore swallows at most the indented lines after it.

use crate::diagnostic::{Diagnostic, SourceId, Span};

/// Largest pack text accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 1 << 20;
/// Deepest nesting of brackets accepted in one item or template hole.
pub const MAX_DEPTH: usize = 64;

const TOP_LEVEL: &[&str] = &[
    "pack",
    "use",
    "drug",
    "class",
    "condition",
    "lab",
    "table",
    "rule",
    "test",
];

/// One top-level item's text and where it starts.
#[derive(Debug, Clone, Copy)]
pub struct ItemText<'a> {
    /// The item's text.
    pub text: &'a str,
    /// Byte offset of `text` in the source.
    pub offset: usize,
}

impl ItemText<'_> {
    /// A `test` block (skipped when only the rules are wanted).
    pub fn is_test(&self) -> bool {
        self.text
            .strip_prefix("test")
            .is_some_and(|rest| rest.starts_with([' ', '\t']))
    }
}

/// Splits `source` into items. Fails when the source is too large.
pub fn split(source: &str, id: SourceId) -> Result<Vec<ItemText<'_>>, Diagnostic> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::error(
            "E002",
            Span::new(id, 0, 0),
            format!(
                "the pack is {} bytes; the limit is {MAX_SOURCE_BYTES}",
                source.len()
            ),
        )
        .with_help("split it into several packs"));
    }
    let mut starts = Vec::new();
    let mut depth: i64 = 0;
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indented = trimmed.len() != line.len();
        if starts_with_keyword(trimmed) && (!indented || depth <= 0) {
            starts.push(offset);
            depth = 0;
        }
        depth += brace_balance(line);
        offset += line.len();
    }
    let mut items = Vec::with_capacity(starts.len() + 1);
    if starts.first().is_none_or(|&s| s > 0)
        && !is_blank(&source[..starts.first().copied().unwrap_or(source.len())])
    {
        starts.insert(0, 0);
    }
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(source.len());
        items.push(ItemText {
            text: &source[start..end],
            offset: start,
        });
    }
    Ok(items)
}

/// The line opens a declaration: a top-level keyword followed by a space (so a continuation
/// line such as `lab(egfr) < 60` does not split a rule).
fn starts_with_keyword(line: &str) -> bool {
    TOP_LEVEL.iter().any(|k| {
        line.strip_prefix(k)
            .is_some_and(|rest| rest.starts_with([' ', '\t']))
    })
}

/// True when the text holds nothing but whitespace and comments.
fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#')
    })
}

/// `{` minus `}` on a line, outside strings and comments.
fn brace_balance(line: &str) -> i64 {
    let mut balance = 0;
    for_each_code_char(line, |c, _| match c {
        '{' => balance += 1,
        '}' => balance -= 1,
        _ => {}
    });
    balance
}

/// Calls `f` with each character outside strings and comments, and its byte offset.
fn for_each_code_char(text: &str, mut f: impl FnMut(char, usize)) {
    let mut in_string = false;
    let mut in_comment = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_comment {
            in_comment = c != '\n';
        } else if in_string {
            in_string = escaped || (c != '"' && c != '\n');
            escaped = !escaped && c == '\\';
        } else if c == '#' {
            in_comment = true;
        } else if c == '"' {
            in_string = true;
        } else {
            f(c, i);
        }
    }
}

/// Most operators (`and`, `or`, `not`, comparisons, `+`, `-`) accepted in one item or template
/// hole; every `-` counts, the two of each date included, so no chain can slip past. Expressions are trees as deep as their operator chains, and every later stage walks
/// them recursively: this bound keeps every walk far inside any thread's stack.
pub const MAX_OPERATORS: usize = 256;

/// Where `text` first exceeds [`MAX_DEPTH`] bracket nesting or [`MAX_OPERATORS`] operators, and
/// which limit it broke. Strings and comments are skipped when `code` is true (items), read when
/// false (template holes).
pub fn too_deep(text: &str, code: bool) -> Option<(usize, &'static str)> {
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut at = None;
    let mut word = String::new();
    let mut prev = ' ';
    let mut visit = |c: char, i: usize| {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            if matches!(word.as_str(), "and" | "or" | "not") {
                operators += 1;
            }
            word.clear();
        }
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            '<' | '>' | '!' | '+' => operators += 1,
            '=' if prev != '<' && prev != '>' && prev != '!' && prev != '=' => operators += 1,
            '-' => operators += 1,
            _ => {}
        }
        prev = c;
        if at.is_none() {
            if depth > MAX_DEPTH {
                at = Some((i, "brackets"));
            } else if operators > MAX_OPERATORS {
                at = Some((i, "operators"));
            }
        }
    };
    if code {
        for_each_code_char(text, &mut visit);
    } else {
        text.char_indices().for_each(|(i, c)| visit(c, i));
    }
    if at.is_none()
        && matches!(word.as_str(), "and" | "or" | "not")
        && operators + 1 > MAX_OPERATORS
    {
        at = Some((text.len().saturating_sub(1), "operators"));
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<&str> {
        split(source, 0)
            .unwrap()
            .iter()
            .map(|i| i.text.trim())
            .collect()
    }

    #[test]
    fn splits_at_top_level_keywords() {
        let src =
            "pack a \"A\" version \"1\"\nuse vocabulary\n\nrule x {\n  when true\n}\nrule y {\n}\n";
        assert_eq!(texts(src).len(), 4);
    }

    #[test]
    fn a_missing_brace_does_not_swallow_the_next_item_at_column_one() {
        let src = "rule x {\n  when (\nrule y {\n  severity major\n}\n";
        assert_eq!(
            texts(src),
            vec!["rule x {\n  when (", "rule y {\n  severity major\n}"]
        );
    }

    #[test]
    fn keywords_inside_strings_and_blocks_do_not_split() {
        let src = "rule x {\n  message \"rule of thumb\"\n  # rule in a comment\n}\n";
        assert_eq!(texts(src).len(), 1);
    }

    #[test]
    fn a_continuation_line_starting_with_a_function_does_not_split() {
        let src = "rule x {\n  when taking(baclofen) and\nlab(egfr) < 60 mL/min/1.73m2\n}\n";
        assert_eq!(texts(src).len(), 1);
    }

    #[test]
    fn leading_junk_is_its_own_item() {
        assert_eq!(texts("garbage here\nrule x {}\n").len(), 2);
    }

    #[test]
    fn nesting_is_measured_outside_strings() {
        let deep = format!("{}{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert_eq!(too_deep(&deep, true), Some((MAX_DEPTH, "brackets")));
        assert_eq!(too_deep(&format!("\"{deep}\""), true), None);
    }

    #[test]
    fn operator_chains_are_bounded() {
        let chain = |n: usize, op: &str| {
            (0..n)
                .map(|i| format!("age > {i}"))
                .collect::<Vec<_>>()
                .join(op)
        };
        assert_eq!(too_deep(&chain(100, " or "), true), None);
        assert!(too_deep(&chain(200, " or "), true).is_some_and(|(_, why)| why == "operators"));
        assert!(too_deep(&"not ".repeat(MAX_OPERATORS + 1), true).is_some());
        assert_eq!(
            too_deep("as_of - 3 days and 2026-11-01 > as_of", true),
            None
        );
    }

    #[test]
    fn oversized_sources_are_refused() {
        let big = "#".repeat(MAX_SOURCE_BYTES + 1);
        assert_eq!(split(&big, 0).unwrap_err().code, "E002");
    }
}
