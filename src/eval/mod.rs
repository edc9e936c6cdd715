//! Evaluation: one patient against the rule graph.
//!
//! From the patient's drug-and-class bits, the trigger index names the candidate rules; their
//! nodes are evaluated on demand into memo slots stamped with a generation counter, so nothing
//! is reset per patient and nothing is allocated per rule. Kleene logic throughout: a rule whose
//! `when` is unknown is a data gap. Provenance is gathered afterwards, only for the rules that
//! fired or ended in a gap.

pub mod oracle;
pub mod predicates;
mod provenance;

use crate::compile::{Node, NodeId, RuleGraph};
use crate::ir::{RuleId, Severity};
use crate::patient::PatientFacts;
use crate::value::{Interval, Tri, Value};

/// How one rule ended for one patient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not a candidate: its trigger set does not meet the patient's medications.
    Skipped,
    /// Decided false.
    NotFired,
    /// Fired, at this severity.
    Fired(Severity),
    /// `when` was unknown.
    DataGap,
    /// `when` was true, and the `unless` at this index was true.
    Suppressed(usize),
    /// `when` was true, but a superseding rule fired.
    Superseded(RuleId),
}

/// Per-thread memory reused from one patient to the next.
#[derive(Debug, Default)]
pub struct Scratch {
    /// The current patient's facts.
    pub facts: PatientFacts,
    memo: Memo,
    candidates: Vec<RuleId>,
    outcomes: Outcomes,
    /// Candidate rules of the current patient, in evaluation order.
    pub evaluated: Vec<RuleId>,
}

/// Outcomes by rule, valid for the current patient only when stamped with its generation, so
/// nothing proportional to the number of rules is reset per patient.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    stamps: Vec<u32>,
    values: Vec<Outcome>,
}

impl Outcomes {
    fn get(&self, generation: u32, r: RuleId) -> Outcome {
        if self.stamps.get(r) == Some(&generation) {
            self.values[r]
        } else {
            Outcome::Skipped
        }
    }

    fn set(&mut self, generation: u32, r: RuleId, outcome: Outcome) {
        self.stamps[r] = generation;
        self.values[r] = outcome;
    }

    fn fit(&mut self, rules: usize) {
        if self.stamps.len() != rules {
            self.stamps = vec![0; rules];
            self.values = vec![Outcome::Skipped; rules];
        }
    }
}

impl Scratch {
    /// How rule `r` ended for the patient last evaluated.
    pub fn outcome(&self, r: RuleId) -> Outcome {
        self.outcomes.get(self.memo.generation, r)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Memo {
    generation: u32,
    stamps: Vec<u32>,
    values: Vec<Value>,
}

impl Memo {
    /// Starts a patient: a new generation invalidates every memo slot and outcome at once.
    fn start(&mut self, nodes: usize, outcomes: &mut Outcomes, rules: usize) {
        outcomes.fit(rules);
        if self.stamps.len() != nodes {
            self.stamps = vec![0; nodes];
            self.values = vec![Value::Unknown; nodes];
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamps.fill(0);
            outcomes.stamps.fill(0);
            self.generation = 1;
        }
    }

    /// The memoised value of a node, if it was computed for this patient.
    pub(crate) fn get(&self, n: NodeId) -> Option<Value> {
        (self.stamps[n as usize] == self.generation).then(|| self.values[n as usize])
    }
}

/// Evaluates node `n`, memoised.
pub(crate) fn value(g: &RuleGraph, f: &PatientFacts, memo: &mut Memo, n: NodeId) -> Value {
    if let Some(v) = memo.get(n) {
        return v;
    }
    let v = compute(g, f, memo, n);
    memo.stamps[n as usize] = memo.generation;
    memo.values[n as usize] = v;
    v
}

fn compute(g: &RuleGraph, f: &PatientFacts, memo: &mut Memo, n: NodeId) -> Value {
    let node = &g.nodes[n as usize];
    match *node {
        Node::Not(a) => Value::Bool(!value(g, f, memo, a).tri()),
        Node::And(a, b) => {
            let x = value(g, f, memo, a).tri();
            if x == Tri::False {
                Value::Bool(Tri::False)
            } else {
                Value::Bool(x.and(value(g, f, memo, b).tri()))
            }
        }
        Node::Or(a, b) => {
            let x = value(g, f, memo, a).tri();
            if x == Tri::True {
                Value::Bool(Tri::True)
            } else {
                Value::Bool(x.or(value(g, f, memo, b).tri()))
            }
        }
        Node::Cmp(op, a, b) => compare(op, value(g, f, memo, a), value(g, f, memo, b)),
        Node::Add(a, b) => arithmetic(value(g, f, memo, a), value(g, f, memo, b), true),
        Node::Sub(a, b) => arithmetic(value(g, f, memo, a), value(g, f, memo, b), false),
        Node::Scale(a, k) => scale(value(g, f, memo, a), f64::from_bits(k)),
        Node::Quantified(crate::ir::Quantifier::Sum, ref branches) => {
            sum(branches, f, |b| value(g, f, memo, b))
        }
        Node::DailyDose(_, _, Some(on)) => {
            let on = value(g, f, memo, on);
            predicates::leaf(node, f, &g.vocabulary, Some(on))
        }
        Node::Quantified(q, ref branches) => {
            Value::Bool(quantified(q, branches, f, |b| value(g, f, memo, b).tri()))
        }
        _ => predicates::leaf(node, f, &g.vocabulary, None),
    }
}

/// `sum`: the branches' values added, a branch whose trigger bits the patient lacks counted as
/// zero without being evaluated; unknown as soon as one branch is.
pub(crate) fn sum(
    branches: &[crate::compile::Branch],
    f: &PatientFacts,
    mut body: impl FnMut(NodeId) -> Value,
) -> Value {
    let mut acc = Value::Num(Interval::point(0.0));
    for branch in branches {
        if branch_absent(branch, f) {
            continue;
        }
        acc = arithmetic(acc, body(branch.body), true);
        if acc == Value::Unknown {
            break;
        }
    }
    acc
}

/// `x * k`: a number times a factor, unknown when the number is.
pub fn scale(v: Value, k: f64) -> Value {
    match v {
        Value::Num(x) => Value::Num(x.times(k)),
        _ => Value::Unknown,
    }
}

/// Kleene `or` (`any`) or `and` (`all`) over the branches, stopping at the first deciding one.
/// A branch whose trigger bits the patient lacks is false without evaluating its body, so only
/// the ingredients in the patient's record cost anything; with the medication list absent every
/// branch is evaluated (each is then unknown, not false).
pub(crate) fn quantified(
    q: crate::ir::Quantifier,
    branches: &[crate::compile::Branch],
    f: &PatientFacts,
    mut body: impl FnMut(NodeId) -> Tri,
) -> Tri {
    let (decides, mut acc) = match q {
        crate::ir::Quantifier::Any => (Tri::True, Tri::False),
        crate::ir::Quantifier::All => (Tri::False, Tri::True),
        // A sum is not a condition: its node is evaluated by `sum`.
        crate::ir::Quantifier::Sum => return Tri::Unknown,
    };
    for branch in branches {
        let v = if branch_absent(branch, f) {
            Tri::False
        } else {
            body(branch.body)
        };
        acc = match q {
            crate::ir::Quantifier::All => acc.and(v),
            _ => acc.or(v),
        };
        if acc == decides {
            break;
        }
    }
    acc
}

/// The branch's body is false for this patient without being evaluated: the medication list
/// is provided and holds none of the drugs and classes the body needs.
pub(crate) fn branch_absent(branch: &crate::compile::Branch, f: &PatientFacts) -> bool {
    f.meds_provided
        && branch
            .needs
            .as_deref()
            .is_some_and(|bits| !bits.iter().any(|&b| f.visible.get(b)))
}

/// A comparison of two values, unknown when either is, or when a range straddles the other.
pub fn compare(op: crate::ir::CmpOp, a: Value, b: Value) -> Value {
    use crate::ir::CmpOp::*;
    let (a, b) = match (a, b) {
        (Value::Num(a), Value::Num(b)) => (a, b),
        (Value::Date(a), Value::Date(b)) => (
            Interval::point(f64::from(a.days())),
            Interval::point(f64::from(b.days())),
        ),
        _ => return Value::Bool(Tri::Unknown),
    };
    Value::Bool(match op {
        Lt => a.lt(b),
        Le => a.le(b),
        Gt => b.lt(a),
        Ge => b.le(a),
        Eq => a.eq(b),
        Ne => !a.eq(b),
    })
}

/// `a + b` or `a - b`: numbers, or a date and a number of days.
pub fn arithmetic(a: Value, b: Value, add: bool) -> Value {
    match (a, b) {
        (Value::Num(a), Value::Num(b)) => Value::Num(if add { a + b } else { a - b }),
        (Value::Date(d), Value::Num(n)) => match n.as_point() {
            Some(days) => Value::Date(d.add_days(if add { days as i64 } else { -(days as i64) })),
            None => Value::Unknown,
        },
        _ => Value::Unknown,
    }
}

/// Evaluates every candidate rule for the patient whose facts are in `scratch.facts`.
/// [`Scratch::outcome`] then tells each rule's outcome; `scratch.evaluated` lists the candidates
/// in evaluation order.
pub fn evaluate(g: &RuleGraph, scratch: &mut Scratch) {
    let Scratch {
        facts,
        memo,
        candidates,
        outcomes,
        evaluated,
    } = scratch;
    memo.start(g.nodes.len(), outcomes, g.rules.len());
    select_candidates(g, facts, candidates);
    evaluated.clear();
    for &r in candidates.iter() {
        let outcome = decide(g, facts, memo, outcomes, r);
        outcomes.set(memo.generation, r, outcome);
        evaluated.push(r);
    }
}

/// Candidate rules in evaluation order: those triggered by the patient's visible drugs and
/// classes, plus those without a trigger set; every rule when the medication list is absent.
fn select_candidates(g: &RuleGraph, f: &PatientFacts, out: &mut Vec<RuleId>) {
    out.clear();
    if f.meds_provided {
        for bit in f.visible.ones() {
            out.extend_from_slice(&g.rules_by_bit[bit]);
        }
        out.extend_from_slice(&g.always);
    } else {
        out.extend_from_slice(&g.enabled);
    }
    out.sort_unstable_by_key(|&r| g.rules[r].rank);
    out.dedup();
}

fn decide(
    g: &RuleGraph,
    f: &PatientFacts,
    memo: &mut Memo,
    outcomes: &Outcomes,
    r: RuleId,
) -> Outcome {
    let rule = &g.rules[r];
    let when = value(g, f, memo, rule.when).tri();
    if when == Tri::False {
        return Outcome::NotFired;
    }
    for (i, &u) in rule.unless.iter().enumerate() {
        if value(g, f, memo, u).tri() == Tri::True {
            return Outcome::Suppressed(i);
        }
    }
    if let Some(&by) = rule
        .superseded_by
        .iter()
        .find(|&&by| matches!(outcomes.get(memo.generation, by), Outcome::Fired(_)))
    {
        return Outcome::Superseded(by);
    }
    if when == Tri::Unknown {
        return Outcome::DataGap;
    }
    let mut severity = g.program.rules[r].severity;
    for &(lower, cond) in &rule.downgrades {
        if value(g, f, memo, cond).tri() == Tri::True {
            severity = severity.max(lower);
        }
    }
    Outcome::Fired(severity)
}

pub use provenance::report;
pub(crate) use provenance::{entry_ref, unknown_reason};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::CmpOp;

    #[test]
    fn comparisons_of_unknowns_are_unknown() {
        let n = |x| Value::Num(Interval::point(x));
        assert_eq!(
            compare(CmpOp::Lt, Value::Unknown, n(60.0)),
            Value::Bool(Tri::Unknown)
        );
        assert_eq!(compare(CmpOp::Lt, n(59.0), n(60.0)), Value::Bool(Tri::True));
        assert_eq!(compare(CmpOp::Ge, n(65.0), n(65.0)), Value::Bool(Tri::True));
        assert_eq!(
            compare(CmpOp::Gt, n(80.0), n(80.0)),
            Value::Bool(Tri::False)
        );
        assert_eq!(compare(CmpOp::Ne, n(1.0), n(2.0)), Value::Bool(Tri::True));
    }

    #[test]
    fn dates_move_by_whole_days() {
        let d = crate::date::Date::parse("2026-11-01").unwrap();
        let three = Value::Num(Interval::point(3.0));
        assert_eq!(
            arithmetic(Value::Date(d), three, false),
            Value::Date(d.add_days(-3))
        );
    }
}
