//! The TextMate grammar in `editors/rxguard.tmLanguage.json`, run over the real packs.
//!
//! The grammar is loaded and every regex (`match`, `begin`, `end`) compiled with fancy-regex: the
//! grammar keeps to what both Oniguruma and fancy-regex accept. A small tokenizer implements the
//! part of TextMate's semantics the grammar uses: at each position the open region's `end` and
//! its patterns are searched, the earliest match wins (on a tie, `end` first, then the patterns
//! in order); `begin`/`end` regions nest and span lines; `name`, `contentName`, `captures`,
//! `beginCaptures` and `endCaptures` give the scopes. Every line of `rules/` and
//! `tests/data/bad_packs/` is then checked against a plain reading of the line (its strings,
//! template holes, comment and words), and a few hand-written lines against expected scopes.

use fancy_regex::Regex;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::ops::Range;
use std::path::Path;

const GRAMMAR: &str = "editors/rxguard.tmLanguage.json";

// ---------------------------------------------------------------- the grammar

/// Scope names by capture group, in group order.
type CaptureNames = Vec<(usize, String)>;

enum Rule {
    Match {
        re: Regex,
        name: Option<String>,
        captures: CaptureNames,
    },
    Region {
        begin: Regex,
        end: Regex,
        name: Option<String>,
        content_name: Option<String>,
        begin_captures: CaptureNames,
        end_captures: CaptureNames,
        patterns: Vec<usize>,
    },
}

struct Grammar {
    scope: String,
    rules: Vec<Rule>,
    root: Vec<usize>,
}

/// Turns the JSON into rules, resolving `#name` includes from the repository (no recursive
/// includes: the grammar has none).
struct Loader<'a> {
    repository: &'a Map<String, Value>,
    rules: Vec<Option<Rule>>,
    included: HashMap<String, Vec<usize>>,
}

impl Loader<'_> {
    fn patterns(&mut self, list: Option<&Value>) -> Vec<usize> {
        let list = list
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        list.iter().flat_map(|p| self.pattern(p)).collect()
    }

    fn pattern(&mut self, p: &Value) -> Vec<usize> {
        if let Some(include) = p.get("include").and_then(Value::as_str) {
            let key = include
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("unsupported include {include}"));
            if let Some(ids) = self.included.get(key) {
                return ids.clone();
            }
            let repository = self.repository;
            let entry = repository
                .get(key)
                .unwrap_or_else(|| panic!("no repository entry `{key}`"));
            let ids = self.pattern(entry);
            self.included.insert(key.to_string(), ids.clone());
            return ids;
        }
        if p.get("match").is_none() && p.get("begin").is_none() {
            return self.patterns(p.get("patterns"));
        }
        let id = self.rules.len();
        self.rules.push(None);
        let rule = if p.get("match").is_some() {
            Rule::Match {
                re: regex(p, "match"),
                name: text(p, "name"),
                captures: capture_names(p, "captures"),
            }
        } else {
            let captures = capture_names(p, "captures");
            let or_captures = |key| Some(capture_names(p, key)).filter(|c| !c.is_empty());
            Rule::Region {
                begin: regex(p, "begin"),
                end: regex(p, "end"),
                name: text(p, "name"),
                content_name: text(p, "contentName"),
                begin_captures: or_captures("beginCaptures").unwrap_or_else(|| captures.clone()),
                end_captures: or_captures("endCaptures").unwrap_or(captures),
                patterns: self.patterns(p.get("patterns")),
            }
        };
        self.rules[id] = Some(rule);
        vec![id]
    }
}

fn regex(p: &Value, key: &str) -> Regex {
    let source = p[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string"));
    Regex::new(source).unwrap_or_else(|e| panic!("fancy-regex rejects {source:?}: {e}"))
}

fn text(p: &Value, key: &str) -> Option<String> {
    p.get(key).and_then(Value::as_str).map(str::to_string)
}

fn capture_names(p: &Value, key: &str) -> CaptureNames {
    let Some(map) = p.get(key).and_then(Value::as_object) else {
        return Vec::new();
    };
    let by_group: BTreeMap<usize, String> = map
        .iter()
        .map(|(group, c)| {
            let name = c["name"].as_str().expect("a capture has a name");
            (
                group.parse().expect("a capture group number"),
                name.to_string(),
            )
        })
        .collect();
    by_group.into_iter().collect()
}

fn load_grammar() -> Grammar {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GRAMMAR);
    let json: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let empty = Map::new();
    let mut loader = Loader {
        repository: json["repository"].as_object().unwrap_or(&empty),
        rules: Vec::new(),
        included: HashMap::new(),
    };
    let root = loader.patterns(json.get("patterns"));
    let rules = loader.rules.into_iter().map(Option::unwrap).collect();
    let scope = json["scopeName"].as_str().unwrap().to_string();
    Grammar { scope, rules, root }
}

// ---------------------------------------------------------------- the tokenizer

/// A byte range of a line and its scopes, outermost first.
struct Token {
    range: Range<usize>,
    scopes: Vec<String>,
}

/// An open region: its rule, the scopes of its `begin`/`end` and those of its content.
struct Frame {
    rule: usize,
    outer: Vec<String>,
    inner: Vec<String>,
}

/// The groups of a match, as byte ranges.
type Groups = Vec<Option<Range<usize>>>;

enum Step {
    End,
    Match(usize),
    Begin(usize),
}

impl Grammar {
    fn tokenize(&self, text: &str) -> Vec<Vec<Token>> {
        let mut stack = Vec::new();
        text.lines()
            .map(|line| self.tokenize_line(line, &mut stack))
            .collect()
    }

    fn tokenize_line(&self, line: &str, stack: &mut Vec<Frame>) -> Vec<Token> {
        let root = vec![self.scope.clone()];
        let mut tokens = Vec::new();
        let mut pos = 0;
        // The last search of each regex (a rule's `match`/`begin`, or its `end`) on this line: as
        // `pos` only grows, a match found from an earlier position is still the answer when it
        // starts at or after `pos`, and so is no match.
        let mut cache: Vec<[Option<Option<Range<usize>>>; 2]> =
            vec![[None, None]; self.rules.len()];
        for _ in 0..=4 * line.len() + 16 {
            let (scopes, end, patterns) = match stack.last() {
                Some(frame) => match &self.rules[frame.rule] {
                    Rule::Region { end, patterns, .. } => (
                        frame.inner.clone(),
                        Some((frame.rule, end)),
                        patterns.as_slice(),
                    ),
                    Rule::Match { .. } => unreachable!("a frame is a region"),
                },
                None => (root.clone(), None, self.root.as_slice()),
            };
            let mut search = |id: usize, is_end: bool, re: &Regex| -> Option<Range<usize>> {
                let slot = &mut cache[id][usize::from(is_end)];
                if let Some(hit) = slot {
                    if hit.as_ref().is_none_or(|m| m.start >= pos) {
                        return hit.clone();
                    }
                }
                let t = std::time::Instant::now();
                let found = re.find_from_pos(line, pos).expect("regex runs");
                RX.fetch_add(
                    t.elapsed().as_nanos() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                NRX.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                PER.lock()
                    .unwrap()
                    .entry(re.as_str().to_string())
                    .or_insert((0, 0))
                    .0 += t.elapsed().as_nanos() as u64;
                let found = found.map(|m| m.range());
                *slot = Some(found.clone());
                found
            };
            let mut best = end.and_then(|(id, re)| Some((Step::End, re, search(id, true, re)?)));
            for &id in patterns {
                let (re, step) = match &self.rules[id] {
                    Rule::Match { re, .. } => (re, Step::Match(id)),
                    Rule::Region { begin, .. } => (begin, Step::Begin(id)),
                };
                if let Some(m) = search(id, false, re) {
                    if best.as_ref().is_none_or(|(_, _, b)| m.start < b.start) {
                        best = Some((step, re, m));
                    }
                }
            }
            let Some((step, re, _)) = best else {
                push(&mut tokens, pos..line.len(), &scopes);
                return tokens;
            };
            // Only the winner's groups are needed.
            let found = re
                .captures_from_pos(line, pos)
                .expect("regex runs")
                .unwrap();
            let groups: Groups = (0..found.len())
                .map(|i| found.get(i).map(|m| m.range()))
                .collect();
            let whole = groups[0].clone().unwrap();
            push(&mut tokens, pos..whole.start, &scopes);
            match step {
                Step::End => {
                    let frame = stack.pop().unwrap();
                    if let Rule::Region { end_captures, .. } = &self.rules[frame.rule] {
                        emit(&mut tokens, &groups, &frame.outer, end_captures);
                    }
                }
                Step::Match(id) => {
                    if let Rule::Match { name, captures, .. } = &self.rules[id] {
                        assert!(!whole.is_empty(), "empty match of rule {id} in {line:?}");
                        emit(&mut tokens, &groups, &with(&scopes, name), captures);
                    }
                }
                Step::Begin(id) => {
                    if let Rule::Region {
                        name,
                        content_name,
                        begin_captures,
                        ..
                    } = &self.rules[id]
                    {
                        let outer = with(&scopes, name);
                        emit(&mut tokens, &groups, &outer, begin_captures);
                        let inner = with(&outer, content_name);
                        stack.push(Frame {
                            rule: id,
                            outer,
                            inner,
                        });
                    }
                }
            }
            pos = whole.end;
        }
        panic!("the tokenizer loops on {line:?}");
    }
}

fn with(scopes: &[String], name: &Option<String>) -> Vec<String> {
    scopes.iter().cloned().chain(name.clone()).collect()
}

fn push(tokens: &mut Vec<Token>, range: Range<usize>, scopes: &[String]) {
    if !range.is_empty() {
        let scopes = scopes.to_vec();
        tokens.push(Token { range, scopes });
    }
}

/// The tokens of a match: each piece gets the names of the capture groups that contain it.
fn emit(tokens: &mut Vec<Token>, groups: &Groups, base: &[String], names: &CaptureNames) {
    let whole = groups[0].clone().unwrap();
    let spans: Vec<(Range<usize>, &str)> = names
        .iter()
        .filter_map(|(i, name)| Some((groups.get(*i)?.clone()?, name.as_str())))
        .collect();
    let mut cuts: Vec<usize> = spans.iter().flat_map(|(r, _)| [r.start, r.end]).collect();
    cuts.extend([whole.start, whole.end]);
    cuts.retain(|c| whole.contains(c) || *c == whole.end);
    cuts.sort_unstable();
    cuts.dedup();
    for piece in cuts.windows(2) {
        let inside = spans
            .iter()
            .filter(|(r, _)| r.start <= piece[0] && piece[1] <= r.end);
        let scopes: Vec<String> = base
            .iter()
            .cloned()
            .chain(inside.map(|(_, name)| name.to_string()))
            .collect();
        push(tokens, piece[0]..piece[1], &scopes);
    }
}

fn scopes_at(tokens: &[Token], byte: usize) -> &[String] {
    let i = tokens.partition_point(|t| t.range.end <= byte);
    tokens
        .get(i)
        .filter(|t| t.range.contains(&byte))
        .map_or(&[], |t| &t.scopes)
}

/// `selector` is a scope or a prefix of it ending at a dot: `keyword.other` selects
/// `keyword.other.field.rxguard`.
fn has(scopes: &[String], selector: &str) -> bool {
    scopes.iter().any(|s| {
        s.strip_prefix(selector)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

/// The first of `selectors` (space-separated; `!scope` means "not scope") that `scopes` fail.
fn failed<'s>(scopes: &[String], selectors: &'s str) -> Option<&'s str> {
    selectors
        .split_whitespace()
        .find(|selector| match selector.strip_prefix('!') {
            Some(absent) => has(scopes, absent),
            None => !has(scopes, selector),
        })
}

// ---------------------------------------------------------------- a plain reading of a line

const RULE_FIELDS: &[&str] = &[
    "severity",
    "when",
    "unless",
    "downgrade",
    "to",
    "summary",
    "message",
    "advise",
    "cite",
    "supersedes",
    "override",
];
const SEVERITIES: &[&str] = &["contraindicated", "major", "moderate", "minor"];
const LOGICAL: &[&str] = &["and", "or", "not", "except"];
const FUNCTIONS: &[&str] = &[
    "taking",
    "new",
    "count",
    "has",
    "had",
    "lab",
    "daily_dose",
    "route",
    "stopped",
    "tapered",
    "reduced",
    "drugs",
    "cockcroft_gault",
];
const ROUTES: &[&str] = &[
    "oral",
    "intrathecal",
    "intravenous",
    "intramuscular",
    "subcutaneous",
    "transdermal",
    "sublingual",
    "buccal",
    "rectal",
    "nasal",
    "topical",
    "inhaled",
    "epidural",
    "systemic",
];
const UNITS: &[&str] = &[
    "mg",
    "g",
    "mcg",
    "mg/day",
    "mcg/day",
    "mL/min",
    "mL/min/1.73m2",
    "mg/dL",
    "kg",
    "days",
    "day",
    "years",
    "year",
];
const VOCABULARY_FIELDS: &[&str] = &[
    "rxnorm", "atc", "synonym", "brand", "icd10", "snomed", "loinc", "unit", "within", "computed",
    "route",
];
const TEST_WORDS: &[&str] = &[
    "as_of",
    "patient",
    "expect",
    "no",
    "gap",
    "superseded",
    "unrecognized",
    "contains",
    "severity",
    "message",
];
const FACTS: &[&str] = &[
    "age",
    "born",
    "sex",
    "weight",
    "condition",
    "lab",
    "med",
    "from",
    "to",
    "on",
    "medications",
    "conditions",
    "labs",
    "unknown",
];
const STATUSES: &[&str] = &[
    "active",
    "on-hold",
    "draft",
    "stopped",
    "completed",
    "cancelled",
    "entered-in-error",
    "not-taken",
    "recurrence",
    "relapse",
    "inactive",
    "remission",
    "resolved",
    "refuted",
    "prn",
    "statement",
];
const OTHER_WORDS: &[&str] = &[
    "pack", "use", "drug", "class", "rule", "test", "version", "age", "as_of", "true", "false",
    "id",
];
/// Scopes that an ordinary name (a drug, a class, a rule...) and the text of a string never get.
const PLAIN: &str =
    "!keyword !support !storage !constant !variable.parameter !variable.language !comment";

/// What a plain reading finds on a line: strings (with their quotes), template holes (the text
/// between the braces, and whether the `}` is there), the comment, and the code: the line with
/// strings (but not hole contents) and the comment blanked.
struct Lexed {
    strings: Vec<Range<usize>>,
    holes: Vec<(Range<usize>, bool)>,
    comment: Option<usize>,
    code: String,
}

fn lex(line: &str, template: bool) -> Lexed {
    #[derive(Clone, Copy)]
    enum State {
        Code,
        Str(usize),
        Hole(usize, usize),
    }
    let mut strings = Vec::new();
    let mut holes = Vec::new();
    let mut comment = None;
    let mut state = State::Code;
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        state = match (state, c) {
            (State::Code, '"') => State::Str(i),
            (State::Code, '#') => {
                comment = Some(i);
                break;
            }
            (State::Str(s), '\\') => {
                chars.next();
                State::Str(s)
            }
            (State::Str(s), '"') | (State::Hole(s, _), '"') => {
                if let State::Hole(_, h) = state {
                    holes.push((h + 1..i, false));
                }
                strings.push(s..i + 1);
                State::Code
            }
            (State::Str(s), '{') if template => State::Hole(s, i),
            (State::Hole(s, h), '}') => {
                holes.push((h + 1..i, true));
                State::Str(s)
            }
            (other, _) => other,
        };
    }
    match state {
        State::Str(s) => strings.push(s..line.len()),
        State::Hole(s, h) => {
            holes.push((h + 1..line.len(), false));
            strings.push(s..line.len());
        }
        State::Code => {}
    }
    let mut code = line.as_bytes().to_vec();
    for r in strings.iter().chain(comment.map(|c| c..line.len()).iter()) {
        code[r.clone()].fill(b' ');
    }
    for (r, _) in &holes {
        code[r.clone()].copy_from_slice(&line.as_bytes()[r.clone()]);
    }
    let code = String::from_utf8(code).unwrap();
    Lexed {
        strings,
        holes,
        comment,
        code,
    }
}

/// Where a line is: which kind of block it belongs to.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Block {
    Top,
    Rule,
    Test,
    Patient,
    Vocabulary,
}

/// The reference regexes used to read the code of a line.
struct Reading {
    word: Regex,
    declaration: Regex,
    comparison: Regex,
    arithmetic: Regex,
    date: Regex,
    quantity: Regex,
    lab_unit: Regex,
}

impl Reading {
    fn new() -> Reading {
        let re = |s: &str| Regex::new(s).unwrap();
        Reading {
            word: re(r"(?<![\w./-])[A-Za-z_][A-Za-z0-9_]*(?:-[a-z]+)*(?![\w/-])"),
            declaration: re(r"^(pack|use|drug|class|condition|lab|rule)\s+([a-z][a-z0-9_]*)"),
            comparison: re(r"<=|>=|==|!=|<|>"),
            arithmetic: re(r"(?<=\s)[+-](?=\s)"),
            date: re(r"(?<![\w-])\d{4}-\d{2}-\d{2}(?![\w-])"),
            quantity: re(r"(?<![\w.-])(\d+(?:\.\d+)?)(?![\w.-])(?:[ \t]+([A-Za-z%][\w/.%]*))?"),
            lab_unit: re(r"\bunit[ \t]+(\S+)"),
        }
    }
}

/// The maximal runs of `range` whose bytes pass `keep`.
fn runs(range: Range<usize>, keep: impl Fn(&usize) -> bool) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for b in range.filter(keep) {
        match out.last_mut() {
            Some(last) if last.end == b => last.end = b + 1,
            _ => out.push(b..b + 1),
        }
    }
    out
}

/// Every match of `re` in `text`: the ranges of `group`.
fn ranges(re: &Regex, text: &str, group: usize) -> Vec<Range<usize>> {
    re.captures_iter(text)
        .filter_map(|c| c.unwrap().get(group).map(|m| m.range()))
        .collect()
}

// ---------------------------------------------------------------- the checks over the packs

struct Checker<'a> {
    place: String,
    line: &'a str,
    tokens: &'a [Token],
    failures: &'a mut Vec<String>,
    counts: &'a mut BTreeMap<&'static str, usize>,
}

impl Checker<'_> {
    /// Every byte of `range` passes `selectors` (see [`failed`]).
    fn expect(&mut self, what: &'static str, range: Range<usize>, selectors: &str) {
        *self.counts.entry(what).or_default() += 1;
        for b in range.clone() {
            let scopes = scopes_at(self.tokens, b);
            if let Some(selector) = failed(scopes, selectors) {
                self.failures.push(format!(
                    "{}:{}: {what}: {:?} fails `{selector}`; scopes there: {scopes:?}",
                    self.place,
                    b + 1,
                    &self.line[range],
                ));
                return;
            }
        }
    }
}

fn check_line(c: &mut Checker, reading: &Reading, block: Block, lexed: &Lexed, first_word: &str) {
    let line = c.line;
    let code = lexed.code.as_str();
    // A hole with its braces.
    let in_hole = |b: &usize| {
        lexed
            .holes
            .iter()
            .any(|(r, closed)| (r.start - 1..r.end + usize::from(*closed)).contains(b))
    };

    // Comments: from `#` to the end of the line, and nothing else there; none before it.
    let comment_start = lexed.comment.unwrap_or(line.len());
    if let Some(at) = lexed.comment {
        c.expect("comment", at..line.len(), "comment.line.number-sign");
        c.expect("comment", at..at + 1, "punctuation.definition.comment");
        for b in at + 1..line.len() {
            let scopes = scopes_at(c.tokens, b);
            if !has(&scopes[scopes.len().saturating_sub(1)..], "comment.line") {
                let place = format!("{}:{}", c.place, b + 1);
                c.failures.push(format!(
                    "{place}: comment text has another scope: {scopes:?}"
                ));
                break;
            }
        }
    }
    c.expect("no comment before `#`", 0..comment_start, "!comment");

    // Strings: string scope throughout, never a keyword or anything else outside the holes.
    for s in &lexed.strings {
        c.expect("string", s.clone(), "string.quoted.double");
        for part in runs(s.clone(), |b| !in_hole(b)) {
            c.expect("string text", part, &format!("{PLAIN} !meta.embedded"));
        }
    }
    for part in runs(0..comment_start, |b| {
        !lexed.strings.iter().any(|s| s.contains(b))
    }) {
        c.expect("code", part, "!string");
    }
    for (r, closed) in &lexed.holes {
        c.expect(
            "hole",
            r.start - 1..r.start,
            "punctuation.section.embedded.begin",
        );
        c.expect("hole", r.clone(), "meta.embedded");
        c.expect("hole", r.clone(), "string.quoted.double");
        if *closed {
            c.expect("hole", r.end..r.end + 1, "punctuation.section.embedded.end");
        }
    }

    // Words of the code.
    for w in ranges(&reading.word, code, 0) {
        let word = &line[w.clone()];
        let argument = code[w.end..].trim_start().starts_with(':');
        let call = code[w.end..].trim_start().starts_with('(');
        if argument {
            c.expect("named argument", w, "variable.parameter");
        } else if call && FUNCTIONS.contains(&word) {
            c.expect("function", w, "support.function");
        } else if SEVERITIES.contains(&word) {
            c.expect("severity", w, "constant.language.severity");
        } else if ROUTES.contains(&word) {
            c.expect("route", w, "constant.language.route");
        } else if LOGICAL.contains(&word) {
            c.expect("logical operator", w, "keyword.operator.logical");
        } else if block == Block::Rule && RULE_FIELDS.contains(&word) {
            c.expect("rule field", w, "keyword.other");
        } else if block == Block::Test && TEST_WORDS.contains(&word) {
            c.expect("test word", w, "keyword.other");
        } else if block == Block::Patient && STATUSES.contains(&word) {
            c.expect("status", w, "constant.language.status");
        } else if block == Block::Patient && FACTS.contains(&word) {
            c.expect("patient fact", w, "keyword.other");
        } else if block == Block::Vocabulary && VOCABULARY_FIELDS.contains(&word) {
            c.expect("vocabulary field", w, "keyword.other");
        } else if block == Block::Rule && ["as_of", "age"].contains(&word) {
            c.expect("built-in value", w, "variable.language");
        } else if ![
            RULE_FIELDS,
            FUNCTIONS,
            VOCABULARY_FIELDS,
            TEST_WORDS,
            FACTS,
            STATUSES,
            UNITS,
            OTHER_WORDS,
        ]
        .concat()
        .contains(&word)
        {
            c.expect("ordinary name", w, PLAIN);
        }
    }

    // Operators, dates, numbers and units.
    for r in ranges(&reading.comparison, code, 0) {
        c.expect("comparison", r, "keyword.operator.comparison");
    }
    for r in ranges(&reading.arithmetic, code, 0) {
        c.expect("arithmetic", r, "keyword.operator.arithmetic");
    }
    for r in ranges(&reading.date, code, 0) {
        c.expect("date", r, "constant.numeric.date");
    }
    for q in reading.quantity.captures_iter(code) {
        let q = q.unwrap();
        c.expect("number", q.get(1).unwrap().range(), "constant.numeric");
        if let Some(unit) = q.get(2) {
            if UNITS.contains(&unit.as_str()) {
                c.expect("unit", unit.range(), "keyword.other.unit");
            } else {
                c.expect("not a unit", unit.range(), "!keyword.other.unit");
            }
        }
    }

    // Declarations at the start of a line, and what is particular to each kind of block.
    if let Some(d) = reading.declaration.captures(line).unwrap() {
        c.expect("declaration", d.get(1).unwrap().range(), "storage.type");
        c.expect("declared name", d.get(2).unwrap().range(), "entity.name");
    }
    if first_word == "test" && line.starts_with("test") {
        c.expect("declaration", 0..4, "storage.type");
        if let Some(name) = lexed.strings.first() {
            let inside = name.start + 1..name.end - 1;
            c.expect("test name", inside.clone(), "entity.name.section.test");
            c.expect("test name", inside, "string.quoted.double");
        }
    }
    if first_word == "class" {
        for (i, _) in code.match_indices(['|', '=']) {
            c.expect("class operator", i..i + 1, "keyword.operator");
        }
    }
    if block == Block::Vocabulary {
        for r in ranges(&reading.lab_unit, code, 1) {
            let unit = &line[r.clone()];
            let expected = if UNITS.contains(&unit) { "" } else { "!" };
            c.expect("lab unit", r, &format!("{expected}keyword.other.unit"));
        }
    }
}

static RX: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static NRX: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static PER: std::sync::LazyLock<std::sync::Mutex<HashMap<String, (u64, u64)>>> =
    std::sync::LazyLock::new(Default::default);
static TOK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
fn unsafe_time(t0: std::time::Instant) {
    TOK.fetch_add(
        t0.elapsed().as_micros() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
}
#[test]
fn the_grammar_highlights_every_line_of_the_packs() {
    let start = std::time::Instant::now();
    let grammar = load_grammar();
    let reading = Reading::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["rules", "tests/data/bad_packs"] {
        for entry in fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rules") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 40, "found only {} packs", files.len());

    let mut failures = Vec::new();
    let mut counts = BTreeMap::new();
    for path in &files {
        let source = fs::read_to_string(path).unwrap();
        let t0 = std::time::Instant::now();
        let tokens = grammar.tokenize(&source);
        unsafe_time(t0);
        let name = path.strip_prefix(root).unwrap().display().to_string();
        let (mut depth, mut current, mut in_patient) = (0usize, Block::Top, false);
        for (n, (line, tokens)) in source.lines().zip(&tokens).enumerate() {
            let first_word = line.split_whitespace().next().unwrap_or("");
            if depth == 0 {
                current = match first_word {
                    "rule" => Block::Rule,
                    "test" => Block::Test,
                    "drug" | "condition" | "lab" => Block::Vocabulary,
                    _ => Block::Top,
                };
            }
            in_patient |= current == Block::Test && first_word == "patient";
            let block = if in_patient { Block::Patient } else { current };
            let template = block == Block::Rule && ["message", "advise"].contains(&first_word);
            let lexed = lex(line, template);
            let mut checker = Checker {
                place: format!("{name}:{}", n + 1),
                line,
                tokens,
                failures: &mut failures,
                counts: &mut counts,
            };
            check_line(&mut checker, &reading, block, &lexed, first_word);
            if template {
                *counts.entry("template line").or_default() += 1;
            }

            // Hole braces are blanked in the code: these are the blocks'.
            let opened = lexed.code.matches('{').count();
            depth = (depth + opened).saturating_sub(lexed.code.matches('}').count());
            if depth <= 1 {
                in_patient = false;
            }
            if depth == 0 {
                current = Block::Top;
            }
        }
    }

    for (what, n) in &counts {
        println!("{n:6} {what}");
    }
    let mut v: Vec<_> = PER
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (v.0, k.clone()))
        .collect();
    v.sort();
    for (t, k) in v.iter().rev().take(12) {
        println!("{:8}us {}", t / 1000, &k[..k.len().min(90)]);
    }
    println!(
        "regex {}us n={}",
        RX.load(std::sync::atomic::Ordering::Relaxed) / 1000,
        NRX.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "total {:?} tokenize {}us",
        start.elapsed(),
        TOK.load(std::sync::atomic::Ordering::Relaxed)
    );
    // Every kind of check ran, on more than a handful of places.
    let kinds = [
        "comment",
        "string",
        "string text",
        "hole",
        "template line",
        "declaration",
        "declared name",
        "test name",
        "function",
        "named argument",
        "logical operator",
        "comparison",
        "arithmetic",
        "date",
        "number",
        "unit",
        "not a unit",
        "route",
        "severity",
        "rule field",
        "built-in value",
        "test word",
        "patient fact",
        "status",
        "vocabulary field",
        "lab unit",
        "class operator",
        "ordinary name",
    ];
    for what in kinds {
        let n = counts.get(what).copied().unwrap_or(0);
        assert!(n >= 5, "only {n} checks of `{what}`");
    }
    assert!(
        failures.is_empty(),
        "{} failure(s), the first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(300)].join("\n")
    );
}

// ---------------------------------------------------------------- hand-written lines

/// Tokenizes `source` and checks each `(fragment, selectors)`: the fragment is searched from the
/// end of the previous one, and every byte of it must have each selector (or, with `!`, lack it).
fn check(source: &str, expected: &[(&str, &str)]) {
    let grammar = load_grammar();
    let lines: Vec<&str> = source.lines().collect();
    let tokens = grammar.tokenize(source);
    let line_of = |offset: usize| {
        let mut start = 0;
        for (n, line) in lines.iter().enumerate() {
            if offset < start + line.len() + 1 {
                return (n, offset - start);
            }
            start += line.len() + 1;
        }
        panic!("offset {offset} is past the end");
    };
    let mut cursor = 0;
    for (fragment, selectors) in expected {
        let at = cursor
            + source[cursor..]
                .find(fragment)
                .unwrap_or_else(|| panic!("{fragment:?} not found after byte {cursor}"));
        let (n, column) = line_of(at);
        for b in column..column + fragment.len() {
            let scopes = scopes_at(&tokens[n], b);
            if let Some(selector) = failed(scopes, selectors) {
                panic!(
                    "line {}: {fragment:?} fails `{selector}`: {scopes:?}",
                    n + 1
                );
            }
        }
        cursor = at + fragment.len();
    }
}

/// The exact scopes of the first byte of `fragment`.
fn scopes_of(source: &str, line: usize, fragment: &str) -> Vec<String> {
    let tokens = load_grammar().tokenize(source);
    let text = source.lines().nth(line).unwrap();
    let column = text.find(fragment).unwrap();
    scopes_at(&tokens[line], column).to_vec()
}

#[test]
fn the_grammar_file_is_a_textmate_grammar_for_rules_files() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GRAMMAR);
    let json: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(json["scopeName"], "source.rxguard");
    assert_eq!(json["fileTypes"], serde_json::json!(["rules"]));
    let grammar = load_grammar();
    let regexes: usize = grammar
        .rules
        .iter()
        .map(|r| match r {
            Rule::Match { .. } => 1,
            Rule::Region { .. } => 2,
        })
        .sum();
    assert!(regexes > 40, "only {regexes} regexes compiled");
}

#[test]
fn a_rule_with_expressions_and_a_template() {
    check(
        r#"# a comment with "quotes" and rule x {
rule r_one {
  severity major  # trailing
  when     taking(opioid) and not has(epilepsy) or count(opioid) >= 2
  unless   daily_dose(baclofen, route: oral, on: as_of - 3 days) > 80 mg/day
  downgrade to minor when lab(egfr, within: 90 days) < 60 mL/min/1.73m2
  summary  "no {holes} here, and # no comment"
  message  "Dose \{x\} is {daily_dose(baclofen, route: oral)} # still string"
  cite     "A source"  # a comment
}"#,
        &[
            (
                "#",
                "comment.line.number-sign punctuation.definition.comment",
            ),
            (
                "rule x {",
                "comment.line !storage !punctuation.section.block",
            ),
            ("rule", "storage.type.rule !comment"),
            ("r_one", "entity.name.function.rule"),
            ("{", "punctuation.section.block.begin"),
            ("severity", "keyword.other.field"),
            ("major", "constant.language.severity"),
            ("# trailing", "comment.line"),
            ("when", "keyword.other.field"),
            ("taking", "support.function"),
            ("opioid", "!keyword !support !constant"),
            ("and", "keyword.operator.logical"),
            ("not", "keyword.operator.logical"),
            ("has", "support.function"),
            ("or", "keyword.operator.logical"),
            ("count", "support.function"),
            (">=", "keyword.operator.comparison"),
            ("2", "constant.numeric"),
            ("unless", "keyword.other.field"),
            ("daily_dose", "support.function"),
            ("route", "variable.parameter !support"),
            ("oral", "constant.language.route"),
            ("on", "variable.parameter"),
            ("as_of", "variable.language"),
            ("-", "keyword.operator.arithmetic"),
            ("3", "constant.numeric"),
            ("days", "keyword.other.unit"),
            (">", "keyword.operator.comparison"),
            ("80", "constant.numeric !keyword"),
            ("mg/day", "keyword.other.unit"),
            ("downgrade", "keyword.other.field"),
            ("to", "keyword.other.field"),
            ("minor", "constant.language.severity"),
            ("when", "keyword.other.field"),
            ("lab", "support.function"),
            ("within", "variable.parameter"),
            ("90", "constant.numeric"),
            ("days", "keyword.other.unit"),
            ("<", "keyword.operator.comparison"),
            ("60", "constant.numeric"),
            ("mL/min/1.73m2", "keyword.other.unit"),
            ("summary", "keyword.other.field"),
            (
                "no {holes} here, and # no comment",
                "string.quoted.double !meta.embedded !keyword !comment",
            ),
            ("message", "keyword.other.field !string"),
            (
                "\"",
                "string.quoted.double punctuation.definition.string.begin",
            ),
            ("Dose ", "string.quoted.double !meta.embedded"),
            (
                "\\{",
                "constant.character.escape !punctuation.section.embedded",
            ),
            ("\\}", "constant.character.escape"),
            ("{", "punctuation.section.embedded.begin meta.embedded"),
            ("daily_dose", "meta.embedded support.function"),
            ("route", "meta.embedded variable.parameter"),
            ("oral", "meta.embedded constant.language.route"),
            ("}", "punctuation.section.embedded.end"),
            (
                " # still string",
                "string.quoted.double !comment !meta.embedded",
            ),
            ("\"", "punctuation.definition.string.end"),
            ("cite", "keyword.other.field"),
            ("A source", "string.quoted.double"),
            ("# a comment", "comment.line !string"),
            ("}", "punctuation.section.block.end"),
        ],
    );
}

#[test]
fn vocabulary_classes_and_packs() {
    check(
        r#"pack demo "Demo pack" version "1.0.0"
use vocabulary
drug baclofen { rxnorm "1292" atc "M03BX01" brand "Gablofen" route intrathecal synonym "x" }
class opioid = atc "N02A" | codeine except (tramadol | morphine)
condition epilepsy { icd10 "G40" snomed "84757009" }
lab egfr {
  loinc  "62238-1"
  unit   mL/min/1.73m2
  within 365 days
  computed cockcroft_gault(creatinine)
}"#,
        &[
            ("pack", "storage.type.pack"),
            ("demo", "entity.name.namespace"),
            ("Demo pack", "string.quoted.double"),
            ("version", "keyword.other"),
            ("1.0.0", "string.quoted.double !constant"),
            ("use", "storage.type.use"),
            ("vocabulary", "entity.name.namespace"),
            ("drug", "storage.type.drug"),
            ("baclofen", "entity.name.type.drug"),
            ("rxnorm", "keyword.other.field"),
            ("1292", "string.quoted.double !constant.numeric"),
            ("atc", "keyword.other.field"),
            ("brand", "keyword.other.field"),
            ("route", "keyword.other.field !support"),
            ("intrathecal", "constant.language.route"),
            ("synonym", "keyword.other.field"),
            ("}", "punctuation.section.block.end"),
            ("class", "storage.type.class"),
            ("opioid", "entity.name.type.class"),
            ("=", "keyword.operator.assignment"),
            ("atc", "keyword.other"),
            ("|", "keyword.operator"),
            ("codeine", "!keyword !entity"),
            ("except", "keyword.operator.logical"),
            ("condition", "storage.type.condition"),
            ("epilepsy", "entity.name.type.condition"),
            ("icd10", "keyword.other.field"),
            ("snomed", "keyword.other.field"),
            ("lab", "storage.type.lab !support"),
            ("egfr", "entity.name.type.lab"),
            ("loinc", "keyword.other.field"),
            ("unit", "keyword.other.field"),
            ("mL/min/1.73m2", "keyword.other.unit"),
            ("within", "keyword.other.field !variable.parameter"),
            ("365", "constant.numeric"),
            ("days", "keyword.other.unit"),
            ("computed", "keyword.other.field"),
            ("cockcroft_gault", "support.function"),
            ("creatinine", "!keyword !support"),
        ],
    );
}

#[test]
fn a_test_block() {
    check(
        r#"test "a \"quoted\" name" {
  as_of 2026-11-01
  patient {
    age 70; sex female; weight 60 kgs      # kgs is no unit
    condition snomed "84757009" resolved
    lab "2160-0" 1.1 mg/dL on 2026-10-01
    med "Baclofen 10 mg tablet" 10 mg tid oral from 2026-01-05 to 2026-02-01 on-hold
    medications unknown
  }
  expect no r_one
  expect r_two severity minor message contains "and {not} a hole"
  expect unrecognized "Grandma's tonic"
}"#,
        &[
            ("test", "storage.type.test"),
            (
                r#"a \"quoted\" name"#,
                "entity.name.section.test string.quoted.double",
            ),
            ("as_of", "keyword.other !variable"),
            ("2026-11-01", "constant.numeric.date"),
            ("patient", "keyword.other"),
            ("age", "keyword.other.fact !variable.language"),
            ("70", "constant.numeric"),
            (";", "punctuation.terminator"),
            ("sex", "keyword.other.fact"),
            ("female", "!keyword !constant"),
            ("weight", "keyword.other.fact"),
            ("60", "constant.numeric"),
            ("kgs", "!keyword.other.unit"),
            ("# kgs is no unit", "comment.line"),
            ("condition", "keyword.other.fact !storage"),
            ("snomed", "keyword.other.field"),
            ("resolved", "constant.language.status"),
            ("lab", "keyword.other.fact !storage !support"),
            ("2160-0", "string.quoted.double !constant"),
            ("1.1", "constant.numeric"),
            ("mg/dL", "keyword.other.unit"),
            ("on", "keyword.other.fact"),
            ("2026-10-01", "constant.numeric.date"),
            ("med", "keyword.other.fact"),
            (
                "Baclofen 10 mg tablet",
                "string.quoted.double !constant !keyword",
            ),
            ("10", "constant.numeric"),
            ("mg", "keyword.other.unit"),
            ("tid", "!keyword !constant"),
            ("oral", "constant.language.route"),
            ("from", "keyword.other.fact"),
            ("2026-01-05", "constant.numeric.date"),
            ("to", "keyword.other.fact"),
            ("on-hold", "constant.language.status !keyword"),
            ("medications", "keyword.other.fact"),
            ("unknown", "keyword.other.fact"),
            ("}", "punctuation.section.block.end meta.patient"),
            ("expect", "keyword.other.test !meta.patient"),
            ("no", "keyword.other.test"),
            ("r_one", "!keyword"),
            ("severity", "keyword.other"),
            ("minor", "constant.language.severity"),
            ("message", "keyword.other"),
            ("contains", "keyword.other"),
            (
                "and {not} a hole",
                "string.quoted.double !meta.embedded !keyword",
            ),
            ("unrecognized", "keyword.other.test"),
            ("Grandma's tonic", "string.quoted.double"),
            ("}", "punctuation.section.block.end meta.test"),
        ],
    );
}

#[test]
fn mistakes_do_not_spill_over() {
    let source = r#"rule broken {
  when     daily_dose(baclofen, route: oral) > 80 mg/d
  advise   "Reduce {daily_dose(baclofen, route: oral) and reassess."
  cite     "never closed
  summary  "x"
rule next_one {
  severity minor
}
drug after { atc "X" }"#;
    check(
        source,
        &[
            ("mg/d", "!keyword.other.unit"),
            ("{", "punctuation.section.embedded.begin"),
            ("daily_dose", "meta.embedded support.function"),
            ("and reassess.", "meta.embedded string.quoted.double"),
            ("\"", "punctuation.definition.string.end !meta.embedded"),
            ("never closed", "string.quoted.double"),
            ("summary", "keyword.other.field !string"),
            ("rule", "storage.type.rule"),
            ("after", "entity.name.type.drug"),
        ],
    );
    // The rule left open ends where the next one starts; the next one ends at its `}`.
    let expected = [
        "source.rxguard",
        "meta.rule.rxguard",
        "entity.name.function.rule.rxguard",
    ];
    assert_eq!(scopes_of(source, 5, "next_one"), expected);
    let expected = [
        "source.rxguard",
        "meta.drug.rxguard",
        "entity.name.type.drug.rxguard",
    ];
    assert_eq!(scopes_of(source, 8, "after"), expected);
}
