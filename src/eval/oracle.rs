//! The oracle: a naive tree walk of the checked IR, with no hash-consing, no memo and no
//! trigger index. It shares only the leaf semantics with the compiled evaluator; a differential
//! test holds the two to the same outcomes on thousands of generated patients.

use super::{Outcome, arithmetic, compare, predicates, scale};
use crate::compile::{Node, RuleGraph};
use crate::ir::{Quantifier, TExpr, TKind};
use crate::patient::PatientFacts;
use crate::value::{Tri, Value};

/// Evaluates an expression of the checked IR directly.
pub fn eval(g: &RuleGraph, f: &PatientFacts, e: &TExpr) -> Value {
    if let Some(node) = crate::compile::leaf(&e.kind) {
        return predicates::leaf(&node, f, &g.vocabulary, None);
    }
    match &e.kind {
        TKind::DailyDose(d, r, on) => {
            let on = on.as_ref().map(|on| eval(g, f, on));
            predicates::leaf(&Node::DailyDose(*d, *r, None), f, &g.vocabulary, on)
        }
        TKind::Not(a) => Value::Bool(!eval(g, f, a).tri()),
        TKind::And(a, b) => Value::Bool(eval(g, f, a).tri().and(eval(g, f, b).tri())),
        TKind::Or(a, b) => Value::Bool(eval(g, f, a).tri().or(eval(g, f, b).tri())),
        TKind::Cmp(op, a, b) => compare(*op, eval(g, f, a), eval(g, f, b)),
        TKind::Add(a, b) => arithmetic(eval(g, f, a), eval(g, f, b), true),
        TKind::Sub(a, b) => arithmetic(eval(g, f, a), eval(g, f, b), false),
        TKind::Scale(a, k) => scale(eval(g, f, a), *k),
        TKind::Quantified(q) if q.quantifier == Quantifier::Sum => q.branches.iter().fold(
            Value::Num(crate::value::Interval::point(0.0)),
            |acc, (_, body)| arithmetic(acc, eval(g, f, body), true),
        ),
        // Every branch evaluated, none skipped: the compiled evaluator's skipping of the
        // ingredients a patient does not have is what the differential test holds to this.
        TKind::Quantified(q) => {
            let values = q.branches.iter().map(|(_, body)| eval(g, f, body).tri());
            Value::Bool(match q.quantifier {
                Quantifier::Any => values.fold(Tri::False, Tri::or),
                Quantifier::All => values.fold(Tri::True, Tri::and),
                Quantifier::Sum => Tri::Unknown,
            })
        }
        // `leaf` above took every other kind.
        _ => Value::Unknown,
    }
}

/// Every rule's outcome by the oracle. A rule's superseders are found from the checked rules'
/// own `supersedes` lists and decided first, by recursion (supersession is acyclic); nothing is
/// taken from the compiled graph's order. A rule the compiled evaluator skips appears here as
/// `NotFired`.
pub fn outcomes(g: &RuleGraph, f: &PatientFacts) -> Vec<Outcome> {
    let mut out: Vec<Option<Outcome>> = vec![None; g.program.rules.len()];
    for r in 0..out.len() {
        outcome(g, f, r, &mut out);
    }
    out.into_iter()
        .map(|o| o.unwrap_or(Outcome::NotFired))
        .collect()
}

fn outcome(g: &RuleGraph, f: &PatientFacts, r: usize, out: &mut Vec<Option<Outcome>>) -> Outcome {
    if let Some(o) = out[r] {
        return o;
    }
    let def = &g.program.rules[r];
    let superseders: Vec<usize> = (0..g.program.rules.len())
        .filter(|&s| g.program.rules[s].supersedes.contains(&r))
        .collect();
    let superseded_by = superseders
        .into_iter()
        .find(|&s| matches!(outcome(g, f, s, out), Outcome::Fired(_)));
    let when = eval(g, f, &def.when).tri();
    let o = if def.disabled || when == Tri::False {
        Outcome::NotFired
    } else if let Some(i) = def
        .unless
        .iter()
        .position(|u| eval(g, f, u).tri() == Tri::True)
    {
        Outcome::Suppressed(i)
    } else if let Some(by) = superseded_by {
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
    out[r] = Some(o);
    o
}
