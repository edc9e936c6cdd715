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

use fancy_regex::{Regex, RegexInput, RegexSet, RegexSetOptions};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, LazyLock};

const GRAMMAR: &str = "editors/rxguard.tmLanguage.json";

// ---------------------------------------------------------------- the grammar

/// Scope names by capture group, in group order.
type CaptureNames = Vec<(usize, String)>;

enum Rule {
    Match {
        re: Arc<Regex>,
        name: Option<String>,
        captures: CaptureNames,
    },
    Region {
        begin: Arc<Regex>,
        end: Arc<Regex>,
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
    /// What is tried outside every region, and inside each region (by rule).
    root: Scanner,
    scanners: Vec<Option<Scanner>>,
}

/// The regexes tried at one place, in priority order: a region's `end` first, then the
/// patterns. A fancy-regex `RegexSet` finds the earliest position where one matches and yields
/// the matches there in that order: the first one is TextMate's choice.
struct Scanner {
    set: RegexSet,
    steps: Vec<Step>,
}

#[derive(Clone, Copy)]
enum Step {
    End,
    Match(usize),
    Begin(usize),
}

/// Turns the JSON into rules, resolving `#name` includes from the repository (the grammar has no
/// recursive includes, so none are supported).
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
            let specific = |key| Some(capture_names(p, key)).filter(|c| !c.is_empty());
            Rule::Region {
                begin: regex(p, "begin"),
                end: regex(p, "end"),
                name: text(p, "name"),
                content_name: text(p, "contentName"),
                begin_captures: specific("beginCaptures").unwrap_or_else(|| captures.clone()),
                end_captures: specific("endCaptures").unwrap_or(captures),
                patterns: self.patterns(p.get("patterns")),
            }
        };
        self.rules[id] = Some(rule);
        vec![id]
    }
}

fn regex(p: &Value, key: &str) -> Arc<Regex> {
    let source = p[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string"));
    let re = Regex::new(source).unwrap_or_else(|e| panic!("fancy-regex rejects {source:?}: {e}"));
    Arc::new(re)
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
            let group = group.parse().expect("a capture group number");
            (group, name.to_string())
        })
        .collect();
    by_group.into_iter().collect()
}

fn grammar_json() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GRAMMAR);
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// The grammar, loaded once for all the tests.
static GRAMMAR_RULES: LazyLock<Grammar> = LazyLock::new(load_grammar);

fn load_grammar() -> Grammar {
    let json = grammar_json();
    let empty = Map::new();
    let mut loader = Loader {
        repository: json["repository"].as_object().unwrap_or(&empty),
        rules: Vec::new(),
        included: HashMap::new(),
    };
    let root = loader.patterns(json.get("patterns"));
    let rules: Vec<Rule> = loader.rules.into_iter().map(Option::unwrap).collect();
    let scanner = |end: Option<&Arc<Regex>>, patterns: &[usize]| {
        let mut regexes: Vec<Arc<Regex>> = end.into_iter().cloned().collect();
        let mut steps: Vec<Step> = end.iter().map(|_| Step::End).collect();
        for &id in patterns {
            let (re, step) = match &rules[id] {
                Rule::Match { re, .. } => (re, Step::Match(id)),
                Rule::Region { begin, .. } => (begin, Step::Begin(id)),
            };
            regexes.push(Arc::clone(re));
            steps.push(step);
        }
        let set = RegexSet::from_regexes(regexes, RegexSetOptions::default()).unwrap();
        Scanner { set, steps }
    };
    let scanners = rules
        .iter()
        .map(|rule| match rule {
            Rule::Region { end, patterns, .. } => Some(scanner(Some(end), patterns)),
            Rule::Match { .. } => None,
        })
        .collect();
    let root = scanner(None, &root);
    let scope = json["scopeName"].as_str().unwrap().to_string();
    Grammar {
        scope,
        rules,
        root,
        scanners,
    }
}

// ---------------------------------------------------------------- the tokenizer

/// A byte range of a line and its scopes, outermost first.
struct Token<'g> {
    range: Range<usize>,
    scopes: Vec<&'g str>,
}

/// An open region: its rule, the scopes of its `begin`/`end` and those of its content.
struct Frame<'g> {
    rule: usize,
    outer: Vec<&'g str>,
    inner: Vec<&'g str>,
}

/// The groups of a match, as byte ranges.
type Groups = Vec<Option<Range<usize>>>;

impl Grammar {
    fn tokenize(&self, text: &str) -> Vec<Vec<Token<'_>>> {
        let mut stack = Vec::new();
        text.lines()
            .map(|line| self.tokenize_line(line, &mut stack))
            .collect()
    }

    fn tokenize_line<'g>(&'g self, line: &str, stack: &mut Vec<Frame<'g>>) -> Vec<Token<'g>> {
        let root = vec![self.scope.as_str()];
        let mut tokens = Vec::new();
        let mut pos = 0;
        for _ in 0..=4 * line.len() + 16 {
            let (scopes, scanner) = match stack.last() {
                Some(frame) => (&frame.inner, self.scanners[frame.rule].as_ref().unwrap()),
                None => (&root, &self.root),
            };
            let input = RegexInput::new(line).from_pos(pos);
            let Some(mut matches) = scanner.set.find_input(input).expect("the regexes run") else {
                push(&mut tokens, pos..line.len(), scopes);
                return tokens;
            };
            let found = matches.next().unwrap().expect("the regexes run");
            let step = scanner.steps[found.pattern()];
            let found = found.captures();
            let groups: Groups = (0..found.len())
                .map(|i| found.get(i).map(|m| m.range()))
                .collect();
            let whole = groups[0].clone().unwrap();
            push(&mut tokens, pos..whole.start, scopes);
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
                        emit(&mut tokens, &groups, &with(scopes, name), captures);
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
                        let outer = with(scopes, name);
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

fn with<'g>(scopes: &[&'g str], name: &'g Option<String>) -> Vec<&'g str> {
    scopes.iter().copied().chain(name.as_deref()).collect()
}

fn push<'g>(tokens: &mut Vec<Token<'g>>, range: Range<usize>, scopes: &[&'g str]) {
    if !range.is_empty() {
        let scopes = scopes.to_vec();
        tokens.push(Token { range, scopes });
    }
}

/// The tokens of a match: each piece gets the names of the capture groups that contain it.
fn emit<'g>(
    tokens: &mut Vec<Token<'g>>,
    groups: &Groups,
    base: &[&'g str],
    names: &'g CaptureNames,
) {
    let whole = groups[0].clone().unwrap();
    let spans: Vec<(Range<usize>, &str)> = names
        .iter()
        .filter_map(|(i, name)| Some((groups.get(*i)?.clone()?, name.as_str())))
        .collect();
    let mut cuts: Vec<usize> = spans.iter().flat_map(|(r, _)| [r.start, r.end]).collect();
    cuts.extend([whole.start, whole.end]);
    cuts.retain(|c| (whole.start..=whole.end).contains(c));
    cuts.sort_unstable();
    cuts.dedup();
    for piece in cuts.windows(2) {
        let inside = spans
            .iter()
            .filter(|(r, _)| r.start <= piece[0] && piece[1] <= r.end);
        let scopes: Vec<&str> = base
            .iter()
            .copied()
            .chain(inside.map(|(_, name)| *name))
            .collect();
        push(tokens, piece[0]..piece[1], &scopes);
    }
}

/// The tokens that overlap `range`.
fn tokens_over<'t, 'g>(tokens: &'t [Token<'g>], range: &Range<usize>) -> &'t [Token<'g>] {
    let first = tokens.partition_point(|t| t.range.end <= range.start);
    let last = tokens.partition_point(|t| t.range.start < range.end);
    &tokens[first..last.max(first)]
}

/// `selector` is a scope or a prefix of it ending at a dot: `keyword.other` selects
/// `keyword.other.field.rxguard`.
fn has(scopes: &[&str], selector: &str) -> bool {
    scopes.iter().any(|s| {
        s.strip_prefix(selector)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

/// The first of `selectors` (separated by one space; `!scope` means "not scope") that `scopes`
/// fail.
fn failed<'s>(scopes: &[&str], selectors: &'s str) -> Option<&'s str> {
    selectors
        .split(' ')
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
    "stop_date",
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
const DECLARATIONS: &[&str] = &[
    "pack",
    "table",
    "use",
    "drug",
    "class",
    "condition",
    "lab",
    "rule",
    "test",
];
const OTHER_WORDS: &[&str] = &["version", "age", "as_of", "true", "false", "id", "icd10"];

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
            (State::Str(s), '"') => {
                strings.push(s..i + 1);
                State::Code
            }
            (State::Hole(s, h), '"') => {
                holes.push((h + 1..i, false));
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

/// The pieces of code: runs of letters, digits and `_ . / % -` (words, numbers, dates, units),
/// runs of `< > = !`, and single other characters; blanks separate them.
fn pieces(code: &str) -> Vec<Range<usize>> {
    let unit_char = |c: u8| c.is_ascii_alphanumeric() || b"_./%-".contains(&c);
    let operator_char = |c: u8| b"<>=!".contains(&c);
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let run =
            |class: &dyn Fn(u8) -> bool| i + bytes[i..].iter().take_while(|&&c| class(c)).count();
        let end = if unit_char(bytes[i]) {
            run(&unit_char)
        } else if operator_char(bytes[i]) {
            run(&operator_char)
        } else {
            i + code[i..].chars().next().unwrap().len_utf8()
        };
        if !bytes[i].is_ascii_whitespace() {
            out.push(i..end);
        }
        i = end;
    }
    out
}

fn is_number(s: &str) -> bool {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    match s.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(s),
    }
}

fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([4, 2, 2]) && parts.iter().all(|p| is_number(p))
}

/// `name`, `name_2`, `on-hold`: a letter or `_`, then letters, digits and `_`, parts joined by `-`.
fn is_word(s: &str) -> bool {
    let part = |p: &str| {
        p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
    };
    s.split('-').all(part)
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

// ---------------------------------------------------------------- the checks over the packs

struct Checker<'a, 'g> {
    place: String,
    line: &'a str,
    tokens: &'a [Token<'g>],
    failures: &'a mut Vec<String>,
    counts: &'a mut BTreeMap<&'static str, usize>,
}

impl Checker<'_, '_> {
    /// Every byte of `range` passes `selectors` (see [`failed`]).
    fn expect(&mut self, what: &'static str, range: Range<usize>, selectors: &str) {
        *self.counts.entry(what).or_default() += 1;
        for t in tokens_over(self.tokens, &range) {
            if let Some(selector) = failed(&t.scopes, selectors) {
                self.fail(
                    t.range.start.max(range.start),
                    format!(
                        "{what}: {:?} fails `{selector}`; scopes: {:?}",
                        &self.line[range], t.scopes
                    ),
                );
                return;
            }
        }
    }

    fn fail(&mut self, byte: usize, message: String) {
        let column = self.line[..byte].chars().count() + 1;
        let place = &self.place;
        self.failures.push(format!("{place}:{column}: {message}"));
    }
}

fn check_line(c: &mut Checker, block: Block, lexed: &Lexed, first_word: &str) {
    let line = c.line;
    let code = lexed.code.as_str();

    // The tokens cover the line, in order.
    let mut end = 0;
    for t in c.tokens {
        if t.range.start != end {
            c.fail(end, "the tokens leave a gap".into());
        }
        end = t.range.end;
    }
    if end != line.len() {
        c.fail(end, "the tokens stop before the end of the line".into());
    }

    // Comments: from `#` to the end of the line and nothing else there; none before.
    let comment_start = lexed.comment.unwrap_or(line.len());
    if let Some(at) = lexed.comment {
        c.expect("comment", at..line.len(), "comment.line.number-sign");
        c.expect("comment", at..at + 1, "punctuation.definition.comment");
        for t in tokens_over(c.tokens, &(at + 1..line.len())) {
            if !t
                .scopes
                .last()
                .is_some_and(|s| s.starts_with("comment.line"))
            {
                let message = format!("comment text with another scope: {:?}", t.scopes);
                c.fail(t.range.start, message);
            }
        }
    }
    c.expect("no comment before `#`", 0..comment_start, "!comment");

    // Strings: the string scope throughout, and nothing else outside the holes; holes are
    // embedded expressions with their braces; no string scope outside the quotes.
    let string_text = format!("{PLAIN} !meta.embedded");
    for s in &lexed.strings {
        c.expect("string", s.clone(), "string.quoted.double");
        let mut from = s.start;
        for (hole, closed) in lexed.holes.iter().filter(|(h, _)| s.contains(&h.start)) {
            c.expect("string text", from..hole.start - 1, &string_text);
            from = hole.end + usize::from(*closed);
        }
        c.expect("string text", from..s.end, &string_text);
    }
    let mut from = 0;
    for s in &lexed.strings {
        c.expect("code", from..s.start, "!string");
        from = s.end;
    }
    c.expect("code", from..comment_start, "!string");
    for (hole, closed) in &lexed.holes {
        let open = hole.start - 1..hole.start;
        c.expect(
            "hole",
            open,
            "punctuation.section.embedded.begin meta.embedded",
        );
        c.expect("hole", hole.clone(), "meta.embedded string.quoted.double");
        if *closed {
            let close = hole.end..hole.end + 1;
            c.expect("hole", close, "punctuation.section.embedded.end");
        }
    }

    // The pieces of code, with what follows each.
    let pieces = pieces(code);
    for (n, p) in pieces.iter().enumerate() {
        let piece = &line[p.clone()];
        let next = pieces.get(n + 1).map_or("", |q| &line[q.clone()]);
        let next_is_adjacent = pieces.get(n + 1).is_some_and(|q| {
            code[p.end..q.start]
                .bytes()
                .all(|b| b == b' ' || b == b'\t')
        });
        let segment_start = n == 0 || ["{", ";"].contains(&&line[pieces[n - 1].clone()]);
        let p = p.clone();
        if is_date(piece) {
            c.expect("date", p, "constant.numeric.date");
        } else if is_number(piece) {
            c.expect("number", p, "constant.numeric");
            if next_is_adjacent && next.starts_with(|c: char| c.is_ascii_alphabetic()) {
                let unit = pieces[n + 1].clone();
                if UNITS.contains(&next) {
                    c.expect("unit", unit, "keyword.other.unit");
                } else {
                    c.expect("not a unit", unit, "!keyword.other.unit");
                }
            }
        } else if ["<", "<=", ">", ">=", "==", "!="].contains(&piece) {
            c.expect("comparison", p, "keyword.operator.comparison");
        } else if ["+", "-"].contains(&piece) {
            c.expect("arithmetic", p, "keyword.operator.arithmetic");
        } else if !is_word(piece) {
            // a unit (checked after its number), punctuation
        } else if next == ":" && !(n == 1 && first_word == "table") {
            c.expect("named argument", p, "variable.parameter");
        } else if next == "(" && FUNCTIONS.contains(&piece) {
            c.expect("function", p, "support.function");
        } else if SEVERITIES.contains(&piece) {
            c.expect("severity", p, "constant.language.severity");
        } else if ROUTES.contains(&piece) {
            c.expect("route", p, "constant.language.route");
        } else if LOGICAL.contains(&piece) {
            c.expect("logical operator", p, "keyword.operator.logical");
        } else if n == 0 && line.starts_with(piece) && DECLARATIONS.contains(&piece) {
            c.expect("declaration", p, "storage.type");
            let name = pieces.get(1).filter(|_| is_word(next) && piece != "test");
            if let Some(name) = name {
                c.expect("declared name", name.clone(), "entity.name");
            }
        } else if block == Block::Rule && RULE_FIELDS.contains(&piece) {
            c.expect("rule field", p, "keyword.other");
        } else if block == Block::Rule && ["as_of", "age"].contains(&piece) {
            c.expect("built-in value", p, "variable.language");
        } else if block == Block::Test && TEST_WORDS.contains(&piece) {
            c.expect("test word", p, "keyword.other");
        } else if block == Block::Patient && STATUSES.contains(&piece) {
            c.expect("status", p, "constant.language.status");
        } else if block == Block::Patient
            && FACTS.contains(&piece)
            && (segment_start || ["from", "to", "on"].contains(&piece))
        {
            // A fact's first word, or a word inside one (`from`, `to` and `on` never name).
            c.expect("patient fact", p, "keyword.other");
        } else if block == Block::Vocabulary && VOCABULARY_FIELDS.contains(&piece) {
            c.expect("vocabulary field", p, "keyword.other");
            if piece == "unit" && next_is_adjacent {
                let unit = pieces[n + 1].clone();
                let absent = if UNITS.contains(&next) { "" } else { "!" };
                c.expect("lab unit", unit, &format!("{absent}keyword.other.unit"));
            }
        } else if first_word == "class" && piece == "atc" {
            c.expect("vocabulary field", p, "keyword.other");
        } else if first_word == "pack" && piece == "version" {
            c.expect("version", p, "keyword.other");
        } else if ![
            RULE_FIELDS,
            FUNCTIONS,
            VOCABULARY_FIELDS,
            TEST_WORDS,
            FACTS,
            STATUSES,
            UNITS,
            DECLARATIONS,
            OTHER_WORDS,
        ]
        .iter()
        .any(|known| known.contains(&piece))
        {
            c.expect("ordinary name", p, PLAIN);
        }
    }

    // What is particular to some lines.
    if first_word == "test"
        && line.starts_with("test")
        && let Some(name) = lexed.strings.first()
    {
        let inside = name.start + 1..name.end - 1;
        c.expect(
            "test name",
            inside,
            "entity.name.section.test string.quoted.double",
        );
    }
    if first_word == "class" {
        for (i, _) in code.match_indices(['|', '=']) {
            c.expect("class operator", i..i + 1, "keyword.operator");
        }
    }
}

#[test]
fn the_grammar_highlights_every_line_of_the_packs() {
    let grammar = &*GRAMMAR_RULES;
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
        let tokens = grammar.tokenize(&source);
        let name = path.strip_prefix(root).unwrap().display().to_string();
        // The block a line is in, from its first word and the braces of the lines before it.
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
            if template {
                *counts.entry("template line").or_default() += 1;
            }
            let lexed = lex(line, template);
            let mut checker = Checker {
                place: format!("{name}:{}", n + 1),
                line,
                tokens,
                failures: &mut failures,
                counts: &mut counts,
            };
            check_line(&mut checker, block, &lexed, first_word);

            // Hole braces are blanked in the code: these are the blocks' braces.
            depth += lexed.code.matches('{').count();
            depth = depth.saturating_sub(lexed.code.matches('}').count());
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
    // Every kind of check ran, in more than a handful of places.
    for what in [
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
        "version",
        "ordinary name",
    ] {
        let n = counts.get(what).copied().unwrap_or(0);
        assert!(n >= 5, "only {n} checks of `{what}`");
    }
    assert!(
        failures.is_empty(),
        "{} failure(s), the first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(30)].join("\n")
    );
}

// ---------------------------------------------------------------- hand-written lines

/// Tokenizes `source` and checks each `(fragment, selectors)`: the fragment is searched from the
/// end of the previous one, and every byte of it must pass the selectors (see [`failed`]).
fn check(source: &str, expected: &[(&str, &str)]) {
    let grammar = &*GRAMMAR_RULES;
    let tokens = grammar.tokenize(source);
    let mut line_starts = vec![0];
    line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
    let mut cursor = 0;
    for (fragment, selectors) in expected {
        let at = cursor
            + source[cursor..]
                .find(fragment)
                .unwrap_or_else(|| panic!("{fragment:?} not found after byte {cursor}"));
        let n = line_starts.partition_point(|&s| s <= at) - 1;
        let column = at - line_starts[n];
        for t in tokens_over(&tokens[n], &(column..column + fragment.len())) {
            if let Some(selector) = failed(&t.scopes, selectors) {
                let scopes = &t.scopes;
                panic!(
                    "line {}: {fragment:?} fails `{selector}`: {scopes:?}",
                    n + 1
                );
            }
        }
        cursor = at + fragment.len();
    }
}

/// The scopes of the first byte of `fragment` on line `n` (from 0).
fn scopes_of(source: &str, n: usize, fragment: &str) -> Vec<String> {
    let grammar = &*GRAMMAR_RULES;
    let tokens = grammar.tokenize(source);
    let column = source.lines().nth(n).unwrap().find(fragment).unwrap();
    let token = tokens_over(&tokens[n], &(column..column + 1));
    token[0].scopes.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_grammar_file_is_a_textmate_grammar_for_rules_files() {
    let json = grammar_json();
    assert_eq!(json["scopeName"], "source.rxguard");
    assert_eq!(json["fileTypes"], serde_json::json!(["rules"]));
    let regexes: usize = GRAMMAR_RULES
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
    // The rule left open ends where the next one starts; that one ends at its `}`.
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
