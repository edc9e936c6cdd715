//! The canonical layout of a pack. The formatter changes only whitespace outside strings and
//! comments, so a formatted pack parses to the same items; it never joins lines, and splits only
//! a rule's line longer than [`MAX_WIDTH`], before an `and` or `or` at its outermost level (then
//! the next level, for a part still too long), so every line it writes is short or has no place
//! to break, and formatting twice gives what formatting once gave.
//!
//! The layout: two spaces per block level; one space between tokens, none inside parentheses,
//! before `,` `:` `;` or between a function and its `(`; the fields of a rule, a lab, a drug or a
//! condition block aligned after their longest keyword; a continued expression aligned under the
//! field's value; consecutive one-line `drug` or `condition` declarations with their `{` in one
//! column; a table's quantities in one column; at most one blank line in a row, one before and after every rule and test; two spaces
//! before a comment that ends a line; one newline at the end.

/// The widest line a rule's field is left at, when it has an `and` or `or` to break before.
pub const MAX_WIDTH: usize = 100;

/// The tokens of a text outside comments, in order: what formatting must not change.
pub fn tokens(text: &str) -> Vec<String> {
    lex_lines(text)
        .into_iter()
        .flat_map(|l| l.tokens.into_iter().map(|t| t.text))
        .collect()
}

/// The comments of a text, in order.
pub fn comments(text: &str) -> Vec<String> {
    lex_lines(text)
        .into_iter()
        .filter_map(|l| l.comment)
        .collect()
}

/// Formats one pack's text.
pub fn format(text: &str) -> String {
    let lines: Vec<Line> = lex_lines(text);
    let mut out: Vec<String> = Vec::new();
    let mut depth: usize = 0;
    // The keyword of the block each level is in (`rule`, `lab`, `patient`...).
    let mut blocks: Vec<String> = Vec::new();
    let mut field_width = 0;
    // The open parentheses of the current field's expression at the start of the line.
    let mut field_depth: i64 = 0;
    for line in &lines {
        if line.tokens.is_empty() {
            out.push(match &line.comment {
                Some(c) => format!("{}{c}", indent(depth)),
                None => String::new(),
            });
            continue;
        }
        let closes_first = line.tokens[0].text == "}";
        let level = if closes_first {
            depth.saturating_sub(1)
        } else {
            depth
        };
        if level == 0 {
            field_width = 0;
        }
        let first = line.tokens[0].text.as_str();
        let block = blocks.last().map(String::as_str).unwrap_or("");
        let widths = field_keywords(block);
        let mut text = String::new();
        if let Some(width) = widths.filter(|_| level == 1 && !closes_first) {
            if width.contains(&first) {
                field_depth = 0;
                field_width = width.iter().map(|k| k.len()).max().unwrap_or(0);
                text.push_str(&indent(level));
                text.push_str(&format!("{first:field_width$}"));
                if line.tokens.len() > 1 {
                    text.push(' ');
                    text.push_str(&join(&line.tokens[1..]));
                }
            } else if field_width > 0 {
                // A continued field: aligned under the value, two spaces further in for each
                // parenthesis still open.
                text.push_str(&indent(level));
                text.push_str(&" ".repeat(field_width + 1 + nested(field_depth)));
                text.push_str(&join(&line.tokens));
            } else {
                text.push_str(&indent(level));
                text.push_str(&join(&line.tokens));
            }
        } else {
            text.push_str(&indent(level));
            text.push_str(&join(&line.tokens));
        }
        let breakable = block == "rule" && level == 1 && !closes_first && field_width > 0;
        let mut pieces = if breakable && text.chars().count() > MAX_WIDTH {
            let column = indent(level).len() + field_width + 1;
            let keywords = widths.unwrap_or(&[]);
            break_long(&text, &line.tokens, column, field_depth, keywords)
        } else {
            vec![text]
        };
        if breakable {
            field_depth += balance(&line.tokens);
        }
        if let (Some(c), Some(last)) = (&line.comment, pieces.last_mut()) {
            last.push_str("  ");
            last.push_str(c);
        }
        out.extend(pieces);
        // Track the blocks opened and closed on this line.
        for (i, t) in line.tokens.iter().enumerate() {
            match t.text.as_str() {
                "{" => {
                    let opener = line.tokens[..i]
                        .iter()
                        .rev()
                        .find(|t| t.kind == Kind::Word)
                        .map_or("", |t| t.text.as_str());
                    let kind = if depth == 0 {
                        line.tokens[0].text.clone()
                    } else {
                        opener.to_string()
                    };
                    blocks.push(kind);
                    depth += 1;
                }
                "}" => {
                    blocks.pop();
                    depth = depth.saturating_sub(1);
                }
                _ => {}
            }
        }
    }
    let out = align_one_liners(out);
    let out = align_table_entries(out);
    let out = blank_lines(out);
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// Two spaces per open parenthesis.
fn nested(depth: i64) -> usize {
    2 * usize::try_from(depth.max(0)).unwrap_or(0)
}

/// Parentheses opened minus closed.
fn balance(tokens: &[Token]) -> i64 {
    tokens
        .iter()
        .map(|t| match t.text.as_str() {
            "(" | "[" => 1,
            ")" | "]" => -1,
            _ => 0,
        })
        .sum()
}

/// A rule's line longer than [`MAX_WIDTH`], broken before `and` and `or`: the expression's
/// tokens (after the field keyword, when the line starts with one) are split at the connectives
/// of the outermost parenthesis level on the line, the parts packed greedily into lines under
/// the field's value (two spaces further in per open parenthesis); a part still too long is
/// split at the next level in the same way.
fn break_long(
    text: &str,
    tokens: &[Token],
    column: usize,
    depth: i64,
    keywords: &[&str],
) -> Vec<String> {
    let keyword = usize::from(keywords.contains(&tokens[0].text.as_str()));
    let expr = &tokens[keyword..];
    let mut lines = Vec::new();
    pack_parts(expr, depth, column, &mut lines);
    if lines.len() <= 1 {
        return vec![text.to_string()];
    }
    // The first part keeps the line's own start: its indentation and field keyword.
    let prefix = &text[..text.len().saturating_sub(join(expr).len())];
    lines
        .into_iter()
        .enumerate()
        .map(|(i, (part, depth))| match i {
            0 => format!("{prefix}{part}"),
            _ => format!("{}{part}", " ".repeat(column + nested(depth))),
        })
        .collect()
}

/// Splits `tokens` (starting `depth` parentheses deep) before the `and`/`or` of their outermost
/// level and packs the parts into lines that end by [`MAX_WIDTH`], each with the depth it starts
/// at, splitting a part that does not fit one level deeper.
fn pack_parts(tokens: &[Token], depth: i64, column: usize, out: &mut Vec<(String, i64)>) {
    let mut level = depth;
    let mut breaks: Vec<(usize, i64)> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 && t.kind == Kind::Word && (t.text == "and" || t.text == "or") {
            breaks.push((i, level));
        }
        level += balance(std::slice::from_ref(t));
    }
    let Some(outer) = breaks.iter().map(|b| b.1).min() else {
        out.push((join(tokens), depth));
        return;
    };
    let mut cuts: Vec<(usize, i64)> = breaks.into_iter().filter(|b| b.1 == outer).collect();
    cuts.push((tokens.len(), outer));
    let fits = |from: usize, to: usize, at: i64| {
        column + nested(at) + join(&tokens[from..to]).chars().count() <= MAX_WIDTH
    };
    let (mut start, mut start_depth) = (0, depth);
    let mut line: Option<(usize, usize, i64)> = None;
    for (cut, cut_depth) in cuts {
        let part = (start, cut, start_depth);
        (start, start_depth) = (cut, cut_depth);
        line = match line {
            Some((from, _, at)) if fits(from, cut, at) => Some((from, cut, at)),
            Some((from, to, at)) => {
                emit(&tokens[from..to], at, column, out);
                Some(part)
            }
            None => Some(part),
        };
    }
    if let Some((from, to, at)) = line {
        emit(&tokens[from..to], at, column, out);
    }
}

/// One packed line: as it is when it fits, else split one level deeper. A line too long is one
/// part, whose own connectives are all deeper, so this ends.
fn emit(tokens: &[Token], depth: i64, column: usize, out: &mut Vec<(String, i64)>) {
    let text = join(tokens);
    if column + nested(depth) + text.chars().count() <= MAX_WIDTH {
        out.push((text, depth));
        return;
    }
    let mut inner = Vec::new();
    pack_parts(tokens, depth, column, &mut inner);
    if inner.len() <= 1 {
        out.push((text, depth));
    } else {
        out.extend(inner);
    }
}

/// The entries of a `table` block with their quantities in one column.
fn align_table_entries(lines: Vec<String>) -> Vec<String> {
    let mut out = lines.clone();
    let mut i = 0;
    while i < lines.len() {
        if !(lines[i].starts_with("table ") && lines[i].trim_end().ends_with('{')) {
            i += 1;
            continue;
        }
        let end = (i + 1..lines.len())
            .find(|&k| lines[k].starts_with('}'))
            .unwrap_or(lines.len());
        let entry = |l: &str| -> Option<usize> {
            let body = l.strip_prefix("  ")?;
            if body.starts_with(['#', ' ']) || body.is_empty() {
                return None;
            }
            body.find(' ')
        };
        let width = (i + 1..end)
            .filter_map(|k| entry(&lines[k]))
            .max()
            .unwrap_or(0);
        for k in i + 1..end {
            if let Some(name_end) = entry(&lines[k]) {
                let line = &lines[k];
                let rest = line[2 + name_end..].trim_start();
                out[k] = format!(
                    "  {}{} {rest}",
                    &line[2..2 + name_end],
                    " ".repeat(width - name_end)
                );
            }
        }
        i = end;
    }
    out
}

/// The field keywords of a block, when its fields are aligned.
fn field_keywords(block: &str) -> Option<&'static [&'static str]> {
    match block {
        "rule" => Some(&[
            "severity",
            "when",
            "unless",
            "downgrade",
            "summary",
            "message",
            "advise",
            "cite",
            "supersedes",
            "override",
        ]),
        "lab" => Some(&["loinc", "unit", "within", "computed"]),
        "drug" => Some(&["rxnorm", "atc", "brand", "synonym"]),
        "condition" => Some(&["icd10", "snomed"]),
        _ => None,
    }
}

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Word,
    Number,
    Str,
    Punct,
}

#[derive(Clone, Debug)]
struct Token {
    text: String,
    kind: Kind,
    /// Directly followed by the next token in the source (no whitespace between).
    glued: bool,
}

#[derive(Clone, Debug, Default)]
struct Line {
    tokens: Vec<Token>,
    /// A comment ending the line, from `#`, trailing spaces removed.
    comment: Option<String>,
}

/// Splits the text into lines of tokens. Strings are single tokens; a comment ends its line.
fn lex_lines(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    for raw in text.lines() {
        let mut line = Line::default();
        let chars: Vec<(usize, char)> = raw.char_indices().collect();
        let mut i = 0;
        while i < chars.len() {
            let (at, c) = chars[i];
            let start = i;
            let kind = if c.is_whitespace() {
                i += 1;
                if let Some(last) = line.tokens.last_mut() {
                    last.glued = false;
                }
                continue;
            } else if c == '#' {
                line.comment = Some(raw[at..].trim_end().to_string());
                break;
            } else if c == '"' {
                i += 1;
                let mut escaped = false;
                while i < chars.len() {
                    let ch = chars[i].1;
                    i += 1;
                    if escaped {
                        escaped = false;
                    } else if ch == '\\' {
                        escaped = true;
                    } else if ch == '"' {
                        break;
                    }
                }
                Kind::Str
            } else if c.is_ascii_digit() {
                i += 1;
                while i < chars.len()
                    && (chars[i].1.is_ascii_digit()
                        || (chars[i].1 == '.' || chars[i].1 == '-')
                            && chars.get(i + 1).is_some_and(|n| n.1.is_ascii_digit()))
                {
                    i += 1;
                }
                Kind::Number
            } else if c.is_alphabetic() || c == '_' || c == '%' {
                i += 1;
                while i < chars.len() {
                    let ch = chars[i].1;
                    let dash_word =
                        ch == '-' && chars.get(i + 1).is_some_and(|n| n.1.is_ascii_alphabetic());
                    if ch.is_alphanumeric() || "_./%".contains(ch) || dash_word {
                        i += 1;
                    } else {
                        break;
                    }
                }
                Kind::Word
            } else {
                i += 1;
                let two: String = chars[start..(start + 2).min(chars.len())]
                    .iter()
                    .map(|x| x.1)
                    .collect();
                if ["<=", ">=", "==", "!="].contains(&two.as_str()) {
                    i += 1;
                }
                Kind::Punct
            };
            let end = chars.get(i).map_or(raw.len(), |x| x.0);
            line.tokens.push(Token {
                text: raw[at..end].to_string(),
                kind,
                glued: true,
            });
        }
        if let Some(last) = line.tokens.last_mut() {
            last.glued = false;
        }
        lines.push(line);
    }
    lines
}

/// Words after which `(` opens a group, not a call's arguments.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "when",
    "unless",
    "downgrade",
    "to",
    "except",
    "severity",
    "summary",
    "message",
    "advise",
    "cite",
    "supersedes",
    "override",
];

/// The tokens of a line with canonical spaces between them.
fn join(tokens: &[Token]) -> String {
    let mut out = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 && space_between(&tokens[..i], t) {
            out.push(' ');
        }
        out.push_str(&t.text);
    }
    out
}

fn space_between(before: &[Token], b: &Token) -> bool {
    let Some(a) = before.last() else {
        return false;
    };
    if a.text == "-" && negative_sign(before) {
        return false;
    }
    match (a.text.as_str(), b.text.as_str()) {
        ("(" | "[", _) | (_, ")" | "]" | "," | ":" | ";") => false,
        (_, "[") => a.kind != Kind::Word,
        ("{", "}") => false,
        (_, "(") => a.kind != Kind::Word || KEYWORDS.contains(&a.text.as_str()),
        _ => true,
    }
}

/// A `-` written against a number where no value precedes it: the sign of a negative number.
fn negative_sign(before: &[Token]) -> bool {
    let (Some(minus), prev) = (
        before.last(),
        before.len().checked_sub(2).map(|i| &before[i]),
    ) else {
        return false;
    };
    let value_before = prev.is_some_and(|p| {
        matches!(p.kind, Kind::Number | Kind::Str)
            || p.text == ")"
            || (p.kind == Kind::Word && !KEYWORDS.contains(&p.text.as_str()))
    });
    minus.glued && !value_before
}

/// Consecutive one-line `drug` (or `condition`) declarations with their `{` in one column.
fn align_one_liners(lines: Vec<String>) -> Vec<String> {
    let head = |l: &str| -> Option<(String, usize)> {
        let kind = ["drug ", "condition "]
            .into_iter()
            .find(|k| l.starts_with(k))?;
        let brace = l.find(" {")?;
        l.trim_end().ends_with('}').then_some(())?;
        let name_end = l[kind.len()..].find(' ').map(|i| i + kind.len())?;
        (name_end <= brace).then(|| (kind.to_string(), name_end))
    };
    let mut out = lines.clone();
    let mut i = 0;
    while i < lines.len() {
        let Some((kind, _)) = head(&lines[i]) else {
            i += 1;
            continue;
        };
        let mut j = i;
        while j < lines.len() && head(&lines[j]).is_some_and(|(k, _)| k == kind) {
            j += 1;
        }
        let width = (i..j)
            .filter_map(|k| head(&lines[k]))
            .map(|(_, e)| e)
            .max()
            .unwrap_or(0);
        for (k, line) in lines.iter().enumerate().take(j).skip(i) {
            if let Some((_, name_end)) = head(line) {
                let rest = line[name_end..].trim_start();
                out[k] = format!(
                    "{}{} {rest}",
                    &line[..name_end],
                    " ".repeat(width - name_end)
                );
            }
        }
        i = j;
    }
    out
}

/// At most one blank line in a row, none at the start or inside the edges of a block, and one
/// before each top-level `rule` or `test` (with its leading comments) and after its closing `}`.
fn blank_lines(lines: Vec<String>) -> Vec<String> {
    let is_blank = |l: &String| l.trim().is_empty();
    let top_block = |l: &String| l.starts_with("rule ") || l.starts_with("test ");
    let mut out: Vec<String> = Vec::new();
    let mut in_rule_or_test = false;
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if !line.starts_with([' ', '#', '}']) && !line.is_empty() {
            in_rule_or_test = top_block(line);
        }
        if is_blank(line) {
            let prev_opens = out.last().is_some_and(|p| p.trim_end().ends_with('{'));
            let next_closes = lines[i + 1..]
                .iter()
                .find(|l| !is_blank(l))
                .is_some_and(|n| n.trim_start().starts_with('}'));
            if !out.is_empty() && !out.last().is_some_and(is_blank) && !prev_opens && !next_closes {
                out.push(String::new());
            }
            i += 1;
            continue;
        }
        // A top-level rule or test, with the comment lines directly above it.
        if line.starts_with('#') || top_block(line) {
            let mut k = i;
            while k < lines.len() && lines[k].starts_with('#') {
                k += 1;
            }
            let after_code = out
                .last()
                .is_some_and(|l| !is_blank(l) && !l.starts_with('#'));
            if k < lines.len() && top_block(&lines[k]) && after_code {
                out.push(String::new());
            }
        }
        out.push(line.clone());
        if line == "}" && in_rule_or_test && lines.get(i + 1).is_some_and(|n| !is_blank(n)) {
            out.push(String::new());
        }
        i += 1;
    }
    while out.last().is_some_and(is_blank) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_and_indentation_become_canonical() {
        let messy = "rule  r{\nseverity major\n    when taking( a )and(lab(egfr)<60 mL/min/1.73m2)\n  message \"x  {drugs(a)}\"   # why\n}\n";
        let want = "rule r {\n  severity   major\n  when       taking(a) and (lab(egfr) < 60 mL/min/1.73m2)\n  message    \"x  {drugs(a)}\"  # why\n}\n";
        assert_eq!(format(messy), want);
        assert_eq!(format(want), want);
    }

    #[test]
    fn negative_numbers_and_dates_keep_their_meaning() {
        let text = "rule r {\n  when as_of - 3 days > 2026-01-01 and age > -1\n}\n";
        assert_eq!(format(text), text.replace("when as_of", "when       as_of"));
    }

    #[test]
    fn tables_line_up_and_read_without_spaces() {
        let text = "table w: days {\n  a 14 days\n    bcd   7 days  # short\n}\nrule r {\n  when w [ a ] > 1 days\n}\n";
        let want = "table w: days {\n  a   14 days\n  bcd 7 days  # short\n}\n\nrule r {\n  when       w[a] > 1 days\n}\n";
        assert_eq!(format(text), want);
        assert_eq!(format(want), want);
    }

    #[test]
    fn long_rule_lines_break_before_their_outermost_connectives() {
        let cond = |i: usize| format!("taking(drug_number_{i})");
        let parts: Vec<String> = (0..8).map(cond).collect();
        let text = format!(
            "rule r {{\n  when       has(x) and ({}) and age > 3  # why\n}}\n",
            parts.join(" or ")
        );
        let formatted = format(&text);
        assert!(
            formatted.lines().all(|l| l.chars().count() <= MAX_WIDTH),
            "{formatted}"
        );
        assert_eq!(format(&formatted), formatted);
        assert_eq!(tokens(&formatted), tokens(&text));
        assert_eq!(comments(&formatted), comments(&text));
        assert!(
            formatted.contains("\n             and age > 3  # why\n"),
            "{formatted}"
        );
        let unbreakable = format!("rule r {{\n  when       taking({})\n}}\n", "x".repeat(120));
        assert_eq!(format(&unbreakable), unbreakable);
    }

    #[test]
    fn one_line_declarations_line_up() {
        let text = "drug a { atc \"N01\" }\ndrug bcd {}\n";
        assert_eq!(format(text), "drug a   { atc \"N01\" }\ndrug bcd {}\n");
    }
}
