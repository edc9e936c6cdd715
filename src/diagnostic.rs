//! Diagnostics: what a stage found wrong in a rule pack, with the span it points at.
//!
//! The library keeps spans as byte ranges plus a source id and renders them as plain text or
//! JSON; the command line renders them with colour. Every stage gathers all its errors.

use serde::Serialize;
use std::fmt::Write as _;

/// Which loaded source text a span points into.
pub type SourceId = u32;

/// A byte range in one source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The source text.
    pub source: SourceId,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from byte offsets.
    pub fn new(source: SourceId, start: usize, end: usize) -> Span {
        Span {
            source,
            start: clamp_u32(start),
            end: clamp_u32(end),
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            source: self.source,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The span moved right by `offset` bytes (for text parsed out of a larger source).
    pub fn shifted(self, offset: usize) -> Span {
        let offset = clamp_u32(offset);
        Span {
            source: self.source,
            start: self.start.saturating_add(offset),
            end: self.end.saturating_add(offset),
        }
    }
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A named source text: a rule pack file, or a bundled pack.
#[derive(Clone, Debug)]
pub struct Source {
    /// The name shown in diagnostics (a path, or `rules/vocabulary.rules` for bundled packs).
    pub name: String,
    /// The text.
    pub text: String,
}

/// Every source text an engine was compiled from, indexed by [`SourceId`].
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    sources: Vec<Source>,
}

impl SourceMap {
    /// Adds a source and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> SourceId {
        self.sources.push(Source {
            name: name.into(),
            text: text.into(),
        });
        clamp_u32(self.sources.len() - 1)
    }

    /// The source with this id.
    pub fn get(&self, id: SourceId) -> Option<&Source> {
        self.sources.get(id as usize)
    }

    /// All sources, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (SourceId, &Source)> {
        self.sources
            .iter()
            .enumerate()
            .map(|(i, s)| (clamp_u32(i), s))
    }

    /// `file:line` of a span's start, for pointing at a first declaration.
    pub fn location(&self, span: Span) -> String {
        let (line, _) = self.line_col(span.source, span.start);
        let file = self.get(span.source).map_or("", |s| s.name.as_str());
        format!("{file}:{line}")
    }

    /// `file:line:col` of a span's start.
    pub fn position(&self, span: Span) -> String {
        let (line, col) = self.line_col(span.source, span.start);
        let file = self.get(span.source).map_or("", |s| s.name.as_str());
        format!("{file}:{line}:{col}")
    }

    /// The text a span covers (empty when it is out of range).
    pub fn text_of(&self, span: Span) -> &str {
        self.get(span.source)
            .and_then(|s| s.text.get(span.start as usize..span.end as usize))
            .unwrap_or("")
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: SourceId, offset: u32) -> (usize, usize) {
        let Some(source) = self.get(id) else {
            return (0, 0);
        };
        let offset = floor_char_boundary(&source.text, offset as usize);
        let before = &source.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The pack cannot be used.
    Error,
    /// The pack works but something is likely wrong.
    Warning,
}

/// One problem found in a rule pack.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Stable code, such as `E010`, listed in `docs/language.md`.
    pub code: &'static str,
    /// Error or warning.
    pub level: Level,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where.
    pub span: Span,
    /// A short label under the caret.
    pub label: Option<String>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A warning: the pack works, but something in it is likely wrong.
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            level: Level::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    /// An error: the pack cannot be used.
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            level: Level::Error,
            message: message.into(),
            span,
            label: None,
            help: None,
        }
    }

    /// Adds a label shown under the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Renders as plain text: `file:line:col: error[E010]: message`, the source line, a caret
    /// under the span, and the help line.
    pub fn render_plain(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        let Some(source) = sources.get(self.span.source) else {
            let _ = writeln!(
                out,
                "{}[{}]: {}",
                level_word(self.level),
                self.code,
                self.message
            );
            return out;
        };
        let (line, col) = sources.line_col(self.span.source, self.span.start);
        let _ = writeln!(
            out,
            "{}:{line}:{col}: {}[{}]: {}",
            source.name,
            level_word(self.level),
            self.code,
            self.message
        );
        let text = source
            .text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("");
        let gutter = line.to_string();
        let _ = writeln!(out, "{} |", " ".repeat(gutter.len()));
        let _ = writeln!(out, "{gutter} | {text}");
        let width = caret_width(text, col, self.span, sources);
        let _ = write!(
            out,
            "{} | {}{}",
            " ".repeat(gutter.len()),
            " ".repeat(col - 1),
            "^".repeat(width)
        );
        if let Some(label) = &self.label {
            let _ = write!(out, " {label}");
        }
        out.push('\n');
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{} = help: {help}", " ".repeat(gutter.len()));
        }
        out
    }

    /// The diagnostic as a JSON-serialisable record with resolved positions.
    pub fn to_json(&self, sources: &SourceMap) -> DiagnosticJson {
        let (line, column) = sources.line_col(self.span.source, self.span.start);
        let (end_line, end_column) = sources.line_col(self.span.source, self.span.end);
        DiagnosticJson {
            code: self.code,
            level: self.level,
            message: self.message.clone(),
            file: sources
                .get(self.span.source)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            line,
            column,
            end_line,
            end_column,
            label: self.label.clone(),
            help: self.help.clone(),
        }
    }
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
    }
}

/// Carets for the part of the span on its first line (at least one).
fn caret_width(line_text: &str, col: usize, span: Span, sources: &SourceMap) -> usize {
    let (end_line, end_col) = sources.line_col(span.source, span.end);
    let (start_line, _) = sources.line_col(span.source, span.start);
    let line_len = line_text.chars().count() + 1;
    let end = if end_line == start_line {
        end_col
    } else {
        line_len
    };
    end.saturating_sub(col).max(1)
}

/// A diagnostic with its position resolved, for `--format json` and editors.
#[derive(Clone, Debug, Serialize)]
pub struct DiagnosticJson {
    /// Stable code.
    pub code: &'static str,
    /// Error or warning.
    pub level: Level,
    /// What is wrong.
    pub message: String,
    /// Source name.
    pub file: String,
    /// One-based line of the start.
    pub line: usize,
    /// One-based column of the start, in characters.
    pub column: usize,
    /// One-based line of the end.
    pub end_line: usize,
    /// One-based column of the end.
    pub end_column: usize,
    /// The label under the caret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// All the diagnostics of a failed compilation, with the sources they point into.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{} error(s) in the rule packs", self.errors().count())]
pub struct Diagnostics {
    /// The sources.
    pub sources: SourceMap,
    /// Every diagnostic, in source order.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// The errors (not the warnings).
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.level == Level::Error)
    }

    /// Every diagnostic rendered as plain text, separated by blank lines.
    pub fn render_plain(&self) -> String {
        self.items
            .iter()
            .map(|d| d.render_plain(&self.sources))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every diagnostic as JSON lines, one object per line.
    pub fn render_json_lines(&self) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&serde_json::to_string(&d.to_json(&self.sources)).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

/// A help line: "did you mean `x`?" when a candidate is close to `name`, else `otherwise`.
pub fn suggestion<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    otherwise: impl FnOnce() -> String,
) -> String {
    did_you_mean(name, candidates).map_or_else(otherwise, |s| format!("did you mean `{s}`?"))
}

/// The closest candidate to `name` by edit distance, for "did you mean" (never used to resolve).
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.len() / 3).max(1);
    if name.len() > 64 {
        return None;
    }
    candidates
        .into_iter()
        .filter(|c| c.len().abs_diff(name.len()) <= limit)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_in_characters() {
        let mut map = SourceMap::default();
        let id = map.add("a.rules", "ab\ncé d");
        assert_eq!(map.line_col(id, 0), (1, 1));
        assert_eq!(map.line_col(id, 3), (2, 1));
        assert_eq!(map.line_col(id, 7), (2, 4));
    }

    #[test]
    fn suggestions_are_close_names_only() {
        let names = ["baclofen", "opioid", "benzodiazepine"];
        assert_eq!(did_you_mean("baclofn", names), Some("baclofen"));
        assert_eq!(did_you_mean("zzz", names), None);
    }

    #[test]
    fn plain_rendering_has_position_caret_and_help() {
        let mut map = SourceMap::default();
        let id = map.add("p.rules", "rule x {\n  when taking(baclofn)\n}");
        let d = Diagnostic::error("E010", Span::new(id, 23, 30), "unknown name `baclofn`")
            .with_help("did you mean `baclofen`?");
        let text = d.render_plain(&map);
        assert!(text.starts_with("p.rules:2:15: error[E010]"), "{text}");
        assert!(text.contains("^^^^^^^"), "{text}");
        assert!(text.contains("= help: did you mean `baclofen`?"), "{text}");
    }
}
