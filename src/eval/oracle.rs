//! The oracle: a naive tree walk of the checked IR, with no hash-consing, no memo and no
//! trigger index. It shares only the leaf semantics with the compiled evaluator; a differential
//! test holds the two to the same outcomes on thousands of generated patients.

use super::{Outcome, arithmetic, compare, predicates};
use crate::compile::{Node, RuleGraph};
use crate::ir::{TExpr, TKind};
use crate::patient::PatientFacts;
use crate::value::{Interval, Tri, Value};

/// Evaluates an expression of the checked IR directly.
pub fn eval(g: &RuleGraph, f: &PatientFacts, e: &TExpr) -> Value {
    let leaf = |node: Node| predicates::leaf(&node, f, &g.vocabulary, None);
    match &e.kind {
        TKind::Bool(b) => Value::Bool(Tri::from_bool(*b)),
        TKind::Number(n) => Value::Num(Interval::point(*n)),
        TKind::Date(d) => Value::Date(*d),
        TKind::AsOf => Value::Date(f.as_of),
        TKind::Age => leaf(Node::Age),
        TKind::Taking(s) => leaf(Node::Taking(*s)),
        TKind::New(s) => leaf(Node::New(*s)),
        TKind::Count(s) => leaf(Node::Count(*s)),
        TKind::Has(c) => leaf(Node::Has(*c)),
        TKind::Had(c) => leaf(Node::Had(*c)),
        TKind::Lab(l, w) => leaf(Node::Lab(*l, *w)),
        TKind::DailyDose(d, r, on) => {
            let on = on.as_ref().map(|on| eval(g, f, on));
            predicates::leaf(&Node::DailyDose(*d, *r, None), f, &g.vocabulary, on)
        }
        TKind::RouteIs(d, r) => leaf(Node::RouteIs(*d, *r)),
        TKind::Stopped(d, r, w) => leaf(Node::Stopped(*d, *r, *w)),
        TKind::Tapered(d, r) => leaf(Node::Tapered(*d, *r)),
        TKind::Drugs(_) => Value::Unknown,
        TKind::Not(a) => Value::Bool(!eval(g, f, a).tri()),
        TKind::And(a, b) => Value::Bool(eval(g, f, a).tri().and(eval(g, f, b).tri())),
        TKind::Or(a, b) => Value::Bool(eval(g, f, a).tri().or(eval(g, f, b).tri())),
        TKind::Cmp(op, a, b) => compare(*op, eval(g, f, a), eval(g, f, b)),
        TKind::Add(a, b) => arithmetic(eval(g, f, a), eval(g, f, b), true),
        TKind::Sub(a, b) => arithmetic(eval(g, f, a), eval(g, f, b), false),
    }
}

/// Every rule's outcome by the oracle, with `Skipped` for rules that are decided false (the
/// compiled evaluator may skip those without evaluating them).
pub fn outcomes(g: &RuleGraph, f: &PatientFacts) -> Vec<Outcome> {
    let mut out = vec![Outcome::NotFired; g.program.rules.len()];
    for &r in &g.order {
        let def = &g.program.rules[r];
        let when = eval(g, f, &def.when).tri();
        out[r] = if when == Tri::False {
            Outcome::NotFired
        } else if let Some(i) = def
            .unless
            .iter()
            .position(|u| eval(g, f, u).tri() == Tri::True)
        {
            Outcome::Suppressed(i)
        } else if let Some(&by) = g.rules[r]
            .superseded_by
            .iter()
            .find(|&&by| matches!(out[by], Outcome::Fired(_)))
        {
            Outcome::Superseded(by)
        } else if when == Tri::Unknown {
            Outcome::DataGap
        } else {
            let severity = def
                .downgrades
                .iter()
                .filter(|(_, c)| eval(g, f, c).tri() == Tri::True)
                .map(|(s, _)| *s)
                .fold(def.severity, Ord::max);
            Outcome::Fired(severity)
        };
    }
    out
}
