//! Lints: warnings about packs that compile but are likely wrong. Each has a code, a span and a
//! help line, in the same style as the errors.
//!
//! | code | warning |
//! |---|---|
//! | W001 | a class, condition or lab that nothing uses |
//! | W002 | a rule that can never fire (contradictory bounds, a class without members) |
//! | W003 | two rules with the same condition |
//! | W004 | a `supersedes` that can never apply (the two rules cannot both fire) |
//! | W005 | a message or advice that shows a value the rule does not read |
//! | W006 | a condition with codes in one code system only (ICD-10-CM or SNOMED CT) |

use crate::compile::{Node, NodeId, RuleGraph};
use crate::diagnostic::Diagnostic;
use crate::ir::*;
use crate::syntax::ast::{ClassExpr, Item};
use std::collections::{HashMap, HashSet};

/// Every warning for the engine's packs, in source order.
pub fn lint(g: &RuleGraph) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    unused(g, &mut out);
    never_fires(g, &mut out);
    same_condition(g, &mut out);
    supersession_never_applies(g, &mut out);
    unbound_holes(g, &mut out);
    one_code_system(g, &mut out);
    out.sort_by_key(|d| (d.span.source, d.span.start));
    out
}

/// The leaves read by a node, once each.
fn leaves(g: &RuleGraph, root: NodeId, out: &mut Vec<NodeId>) {
    let mut stack = vec![root];
    let mut seen = HashSet::new();
    while let Some(n) = stack.pop() {
        if !seen.insert(n) {
            continue;
        }
        let node = &g.nodes[n as usize];
        let mut children = node.children().peekable();
        if children.peek().is_none() {
            out.push(n);
        }
        stack.extend(children);
    }
}

/// The roots of a rule's conditions: `when`, `unless` and downgrades.
fn condition_roots(g: &RuleGraph, rule: RuleId) -> Vec<NodeId> {
    let r = &g.rules[rule];
    std::iter::once(r.when)
        .chain(r.unless.iter().copied())
        .chain(r.downgrades.iter().map(|d| d.1))
        .collect()
}

fn unused(g: &RuleGraph, out: &mut Vec<Diagnostic>) {
    let p = &g.program;
    let mut classes = HashSet::new();
    let mut conditions = HashSet::new();
    let mut labs = HashSet::new();
    for rule in 0..g.rules.len() {
        let mut read = Vec::new();
        for root in condition_roots(g, rule)
            .into_iter()
            .chain(g.rules[rule].holes.iter().copied())
        {
            leaves(g, root, &mut read);
        }
        for n in read {
            match g.nodes[n as usize] {
                Node::Taking(s)
                | Node::TakingBy(s, _)
                | Node::New(s)
                | Node::Count(s, _)
                | Node::Drugs(s, _)
                | Node::Reduced(s, _) => {
                    if let SetRef::Class(c) = s {
                        classes.insert(c);
                    }
                }
                Node::Has(c) | Node::Had(c) => {
                    conditions.insert(c);
                }
                Node::Lab(l, _) => {
                    labs.insert(l);
                }
                _ => {}
            }
        }
    }
    // Classes a quantifier ranges over.
    for rule in &p.rules {
        let roots = std::iter::once(&rule.when)
            .chain(rule.unless.iter())
            .chain(rule.downgrades.iter().map(|d| &d.1));
        for root in roots {
            quantified_domains(root, &mut |domain| {
                if let Some(c) = p.classes.iter().position(|c| c.name == domain) {
                    classes.insert(c);
                }
            });
        }
    }
    // A lab another lab is derived from is used by it.
    for lab in &p.labs {
        if let Some(derivation) = lab.computed {
            labs.insert(derivation.input());
        }
    }
    // Classes named inside other classes' definitions.
    let names: HashMap<&str, ClassId> = p
        .classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    for (id, source) in g.sources.iter() {
        let (ast, _) = crate::syntax::parse_pack_with(id, &source.text, false);
        for item in &ast.items {
            if let Item::Class(c) = item {
                class_names(&c.expr, &mut |n| {
                    if let Some(&id) = names.get(n) {
                        classes.insert(id);
                    }
                });
            }
        }
    }
    let help = "use it in a rule, or remove it";
    for (i, c) in p.classes.iter().enumerate() {
        if !classes.contains(&i) {
            out.push(
                Diagnostic::warning("W001", c.span, format!("class `{}` is never used", c.name))
                    .with_help(help),
            );
        }
    }
    for (i, c) in p.conditions.iter().enumerate() {
        if !conditions.contains(&i) {
            out.push(
                Diagnostic::warning(
                    "W001",
                    c.span,
                    format!("condition `{}` is never used", c.name),
                )
                .with_help(help),
            );
        }
    }
    for (i, l) in p.labs.iter().enumerate() {
        if !labs.contains(&i) {
            out.push(
                Diagnostic::warning("W001", l.span, format!("lab `{}` is never used", l.name))
                    .with_help(help),
            );
        }
    }
    for (i, t) in p.tables.iter().enumerate() {
        if !p.rules.iter().any(|r| r.tables.contains(&i)) {
            out.push(
                Diagnostic::warning("W001", t.span, format!("table `{}` is never used", t.name))
                    .with_help(help),
            );
        }
    }
}

/// The domains of the quantifiers in `e`, nested ones included.
fn quantified_domains(e: &crate::ir::TExpr, f: &mut impl FnMut(&str)) {
    if let crate::ir::TKind::Quantified(q) = &e.kind {
        f(&q.domain);
    }
    for c in e.children() {
        quantified_domains(c, f);
    }
}

fn class_names(e: &ClassExpr, f: &mut impl FnMut(&str)) {
    match e {
        ClassExpr::Name(n) => f(&n.name),
        ClassExpr::Atc(_) => {}
        ClassExpr::Union(items) => items.iter().for_each(|i| class_names(i, f)),
        ClassExpr::Except(a, b) => {
            class_names(a, f);
            class_names(b, f);
        }
    }
}

/// What a conjunction says about numeric subjects: for each subject node, the interval it must
/// fall in; plus the atoms it requires true and false.
#[derive(Default, Clone)]
struct Bounds {
    ranges: HashMap<NodeId, Range>,
    required: HashSet<NodeId>,
    negated: HashSet<NodeId>,
}

#[derive(Clone, Copy, Debug)]
struct Range {
    lo: f64,
    lo_in: bool,
    hi: f64,
    hi_in: bool,
}

impl Range {
    const ALL: Range = Range {
        lo: f64::NEG_INFINITY,
        lo_in: false,
        hi: f64::INFINITY,
        hi_in: false,
    };

    fn meet(self, o: Range) -> Range {
        let (lo, lo_in) = if o.lo > self.lo || (o.lo == self.lo && !o.lo_in) {
            (o.lo, o.lo_in)
        } else {
            (self.lo, self.lo_in)
        };
        let (hi, hi_in) = if o.hi < self.hi || (o.hi == self.hi && !o.hi_in) {
            (o.hi, o.hi_in)
        } else {
            (self.hi, self.hi_in)
        };
        Range {
            lo,
            lo_in,
            hi,
            hi_in,
        }
    }

    fn is_empty(self) -> bool {
        self.lo > self.hi || (self.lo == self.hi && !(self.lo_in && self.hi_in))
    }
}

impl Bounds {
    /// The bounds of the `and` chain under `root`.
    fn of(g: &RuleGraph, root: NodeId) -> Bounds {
        let mut b = Bounds::default();
        b.add(g, root);
        b
    }

    fn add(&mut self, g: &RuleGraph, n: NodeId) {
        match g.nodes[n as usize] {
            Node::And(a, c) => {
                self.add(g, a);
                self.add(g, c);
            }
            Node::Not(a) => {
                self.negated.insert(a);
            }
            Node::Cmp(op, a, c) => {
                let number = |x: NodeId| match g.nodes[x as usize] {
                    Node::Number(bits) => Some(f64::from_bits(bits)),
                    _ => None,
                };
                let (subject, op, v) = match (number(a), number(c)) {
                    (None, Some(v)) => (a, op, v),
                    (Some(v), None) => (c, op.flipped(), v),
                    _ => return,
                };
                let r = match op {
                    CmpOp::Lt => Range {
                        hi: v,
                        hi_in: false,
                        ..Range::ALL
                    },
                    CmpOp::Le => Range {
                        hi: v,
                        hi_in: true,
                        ..Range::ALL
                    },
                    CmpOp::Gt => Range {
                        lo: v,
                        lo_in: false,
                        ..Range::ALL
                    },
                    CmpOp::Ge => Range {
                        lo: v,
                        lo_in: true,
                        ..Range::ALL
                    },
                    CmpOp::Eq => Range {
                        lo: v,
                        lo_in: true,
                        hi: v,
                        hi_in: true,
                    },
                    CmpOp::Ne => return,
                };
                let natural = natural_range(g, subject);
                let entry = self.ranges.entry(subject).or_insert(natural);
                *entry = entry.meet(r);
                self.required.insert(n);
            }
            _ => {
                self.required.insert(n);
            }
        }
    }

    fn meet(&self, o: &Bounds) -> Bounds {
        let mut b = self.clone();
        for (k, r) in &o.ranges {
            let e = b.ranges.entry(*k).or_insert(Range::ALL);
            *e = e.meet(*r);
        }
        b.required.extend(o.required.iter().copied());
        b.negated.extend(o.negated.iter().copied());
        b
    }

    /// Why the conjunction can never hold, if it cannot.
    fn contradiction(&self, g: &RuleGraph) -> Option<String> {
        for (subject, r) in &self.ranges {
            if r.is_empty() {
                return Some(format!(
                    "the bounds on {} cannot all hold",
                    crate::compile::describe(g, &g.nodes[*subject as usize])
                ));
            }
        }
        if let Some(n) = self.required.iter().find(|n| self.negated.contains(n)) {
            return Some(format!(
                "it requires both {0} and not {0}",
                crate::compile::describe(g, &g.nodes[*n as usize])
            ));
        }
        for &n in &self.required {
            if let Node::Taking(SetRef::Class(c)) | Node::New(SetRef::Class(c)) =
                g.nodes[n as usize]
                && g.program.classes[c].members.is_empty()
            {
                return Some(format!(
                    "class `{}` has no members",
                    g.program.classes[c].name
                ));
            }
        }
        None
    }
}

/// What a subject can be at all: a count is between 0 and the class's size, the rest are not
/// negative.
fn natural_range(g: &RuleGraph, subject: NodeId) -> Range {
    match g.nodes[subject as usize] {
        Node::Count(s, _) => Range {
            lo: 0.0,
            lo_in: true,
            hi: match s {
                SetRef::Drug(_) => 1.0,
                SetRef::Class(c) => g.program.classes[c].members.len() as f64,
            },
            hi_in: true,
        },
        Node::Age | Node::Lab(..) | Node::DailyDose(..) => Range {
            lo: 0.0,
            lo_in: true,
            ..Range::ALL
        },
        _ => Range::ALL,
    }
}

fn never_fires(g: &RuleGraph, out: &mut Vec<Diagnostic>) {
    for (id, rule) in g.program.rules.iter().enumerate() {
        if let Some(why) = Bounds::of(g, g.rules[id].when).contradiction(g) {
            out.push(
                Diagnostic::warning(
                    "W002",
                    rule.when.span,
                    format!("rule `{}` can never fire: {why}", rule.name),
                )
                .with_help("check the thresholds and the classes the condition names"),
            );
        }
    }
    for c in &g.program.classes {
        if c.members.is_empty() {
            out.push(
                Diagnostic::warning("W002", c.span, format!("class `{}` has no members", c.name))
                    .with_help("an ATC prefix or an `except` may have removed every drug"),
            );
        }
    }
}

fn same_condition(g: &RuleGraph, out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<(NodeId, Vec<NodeId>), RuleId> = HashMap::new();
    for (id, rule) in g.program.rules.iter().enumerate() {
        let key = (g.rules[id].when, g.rules[id].unless.clone());
        if let Some(&other) = first.get(&key) {
            let o = &g.program.rules[other];
            out.push(
                Diagnostic::warning(
                    "W003",
                    rule.when.span,
                    format!(
                        "rule `{}` has the same condition as `{}`",
                        rule.name, o.name
                    ),
                )
                .with_help(format!(
                    "one clinical problem, one finding: merge them, or make one supersede the other (`{}` is at {})",
                    o.name,
                    g.sources.location(o.span)
                )),
            );
        } else {
            first.insert(key, id);
        }
    }
}

fn supersession_never_applies(g: &RuleGraph, out: &mut Vec<Diagnostic>) {
    for (id, rule) in g.program.rules.iter().enumerate() {
        let mine = Bounds::of(g, g.rules[id].when);
        for &other in &rule.supersedes {
            let theirs = Bounds::of(g, g.rules[other].when);
            if let Some(why) = mine.meet(&theirs).contradiction(g) {
                out.push(
                    Diagnostic::warning(
                        "W004",
                        rule.span,
                        format!(
                            "`{}` supersedes `{}`, but the two can never fire together: {why}",
                            rule.name, g.program.rules[other].name
                        ),
                    )
                    .with_help(
                        "supersession only acts when both fire; remove it or fix the conditions",
                    ),
                );
            }
        }
    }
}

/// A template hole that shows a value the rule's conditions do not read: it would print
/// "unknown", or drugs that have nothing to do with the finding.
fn unbound_holes(g: &RuleGraph, out: &mut Vec<Diagnostic>) {
    for (id, rule) in g.program.rules.iter().enumerate() {
        let mut read = Vec::new();
        for root in condition_roots(g, id) {
            leaves(g, root, &mut read);
        }
        let sets: Vec<Vec<DrugId>> = read.iter().filter_map(|&n| drugs_read(g, n)).collect();
        let holes = rule
            .message
            .pieces
            .iter()
            .chain(rule.advise.iter().flat_map(|a| a.pieces.iter()));
        for piece in holes {
            let Piece::Hole(e) = piece else { continue };
            if let Some(what) = unbound(g, e, &read, &sets) {
                out.push(
                    Diagnostic::warning(
                        "W005",
                        e.span,
                        format!(
                            "the message shows {what}, which the rule's conditions do not read"
                        ),
                    )
                    .with_help("show what the rule compares, or add it to the condition"),
                );
            }
        }
    }
}

/// The ingredients a leaf reads, for leaves about medications.
fn drugs_read(g: &RuleGraph, n: NodeId) -> Option<Vec<DrugId>> {
    match g.nodes[n as usize] {
        Node::Taking(s)
        | Node::TakingBy(s, _)
        | Node::New(s)
        | Node::Count(s, _)
        | Node::Reduced(s, _) => Some(members(g, s)),
        Node::DailyDose(d, ..)
        | Node::RouteIs(d, _)
        | Node::Stopped(d, ..)
        | Node::Tapered(d, ..)
        | Node::StopDate(d, _) => Some(vec![d]),
        _ => None,
    }
}

fn members(g: &RuleGraph, s: SetRef) -> Vec<DrugId> {
    match s {
        SetRef::Drug(d) => vec![d],
        SetRef::Class(c) => g.program.classes[c].members.clone(),
    }
}

fn unbound(g: &RuleGraph, hole: &TExpr, read: &[NodeId], sets: &[Vec<DrugId>]) -> Option<String> {
    let reads = |want: &dyn Fn(&Node) -> bool| read.iter().any(|&n| want(&g.nodes[n as usize]));
    let overlaps = |s: SetRef| {
        let same = |n: &Node| matches!(n, Node::Taking(x) | Node::TakingBy(x, _) | Node::New(x) | Node::Count(x, _) | Node::Reduced(x, _) if *x == s);
        if reads(&same) {
            return true;
        }
        let m = members(g, s);
        sets.iter().any(|set| {
            set.iter()
                .any(|d| m.binary_search(d).is_ok() || m.contains(d))
        })
    };
    match &hole.kind {
        TKind::Age if !reads(&|n| matches!(n, Node::Age)) => Some("the age".into()),
        TKind::Lab(l, _) if !reads(&|n| matches!(n, Node::Lab(x, _) if x == l)) => {
            Some(format!("lab `{}`", g.program.labs[*l].name))
        }
        TKind::DailyDose(d, r, _)
            if !reads(&|n| matches!(n, Node::DailyDose(x, y, _) if x == d && y == r)) =>
        {
            Some(format!(
                "the {} daily dose of `{}`",
                r.name(),
                g.program.drugs[*d].name
            ))
        }
        TKind::Drugs(s, _) | TKind::Count(s, _) if !overlaps(*s) => Some(format!(
            "the patient's `{}`",
            match s {
                SetRef::Drug(d) => g.program.drugs[*d].name.clone(),
                SetRef::Class(c) => g.program.classes[*c].name.clone(),
            }
        )),
        _ => None,
    }
}

/// A condition declared in one code system only: records coded in the other system (US Core
/// and Synthea write SNOMED CT, claims write ICD-10-CM) never match it, and say nothing.
fn one_code_system(g: &RuleGraph, out: &mut Vec<Diagnostic>) {
    for c in &g.program.conditions {
        let (missing, help) = match (c.icd10.is_empty(), c.snomed.is_empty()) {
            (false, true) => (
                "SNOMED CT",
                "add its SNOMED CT concepts (`snomed \"ID\"`); ids match exactly, so list the descendants records carry",
            ),
            (true, false) => (
                "ICD-10-CM",
                "add its ICD-10-CM codes (`icd10 \"PREFIX\"`); a prefix matches every code under it",
            ),
            _ => continue,
        };
        out.push(
            Diagnostic::warning(
                "W006",
                c.span,
                format!(
                    "condition `{}` has no {missing} code: records coded in {missing} never match it",
                    c.name
                ),
            )
            .with_help(help),
        );
    }
}
