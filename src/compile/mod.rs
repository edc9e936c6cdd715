//! Compiling: the checked program to the rule graph.
//!
//! Expressions become nodes of one arena, hash-consed so that `taking(opioid)` written in ten
//! rules is one node computed once per patient. A petgraph DAG records what depends on what
//! (rules on expressions, expressions on their operands, predicates on classes, conditions and
//! labs, superseded rules on the rules that supersede them) and fixes one topological order.
//! Each rule gets a trigger set: the drugs and classes at least one of which a patient must have
//! for the rule to be able to fire.

mod dot;
mod vocabulary;

pub use dot::{describe, describe_value};
pub use vocabulary::Vocabulary;

use crate::date::Date;
use crate::ir::*;
use crate::route::Route;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::HashMap;

/// Index of an expression node.
pub type NodeId = u32;

/// One expression node. Children are node ids, so equal sub-expressions are equal nodes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// A boolean constant.
    Bool(bool),
    /// A number (bits of the f64, canonical unit).
    Number(u64),
    /// A date.
    Date(Date),
    /// The evaluation date.
    AsOf,
    /// Age.
    Age,
    /// `taking` of a drug or class bit.
    Taking(SetRef),
    /// `taking` by a set of routes.
    TakingBy(SetRef, crate::route::Routes),
    /// `new`.
    New(SetRef),
    /// `count`.
    Count(SetRef, Dosing),
    /// `has`.
    Has(ConditionId),
    /// `had`.
    Had(ConditionId),
    /// `lab` with its window in days.
    Lab(LabId, i64),
    /// `daily_dose`, with the node of its `on:` date.
    DailyDose(DrugId, Route, Option<NodeId>),
    /// `route(d) == r`.
    RouteIs(DrugId, Route),
    /// `stopped`.
    Stopped(DrugId, Route, i64),
    /// `tapered`.
    Tapered(DrugId, Route, i64),
    /// `stop_date`.
    StopDate(DrugId, Route),
    /// `reduced`.
    Reduced(SetRef, i64),
    /// `drugs` (templates).
    Drugs(SetRef, Dosing),
    /// `not`.
    Not(NodeId),
    /// `and`.
    And(NodeId, NodeId),
    /// `or`.
    Or(NodeId, NodeId),
    /// A comparison.
    Cmp(CmpOp, NodeId, NodeId),
    /// `+`.
    Add(NodeId, NodeId),
    /// `-`.
    Sub(NodeId, NodeId),
    /// `* k`, the factor's f64 bits.
    Scale(NodeId, u64),
    /// `any(d in domain: body)`, `all(...)` or `sum(...)`: one branch per ingredient.
    Quantified(Quantifier, Box<[Branch]>),
}

/// One ingredient's branch of a quantified node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Branch {
    /// The ingredient bound.
    pub drug: DrugId,
    /// The body, read for that ingredient.
    pub body: NodeId,
    /// The drug and class bits at least one of which the patient must have (taken, ordered or
    /// in the history) for the body to be true (for `sum`, to be other than zero); `None` when
    /// it may be without them. A branch whose bits the patient lacks is false (zero) without
    /// being evaluated.
    pub needs: Option<Box<[usize]>>,
}

impl Node {
    /// The operand nodes.
    pub fn children(&self) -> impl Iterator<Item = NodeId> + '_ {
        let branches = match self {
            Node::Quantified(_, branches) => &branches[..],
            _ => &[],
        };
        let (a, b) = match *self {
            Node::Not(a) | Node::DailyDose(_, _, Some(a)) | Node::Scale(a, _) => (Some(a), None),
            Node::And(a, b)
            | Node::Or(a, b)
            | Node::Cmp(_, a, b)
            | Node::Add(a, b)
            | Node::Sub(a, b) => (Some(a), Some(b)),
            _ => (None, None),
        };
        a.into_iter()
            .chain(b)
            .chain(branches.iter().map(|branch| branch.body))
    }
}

/// A rule as the evaluator sees it.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    /// Root of `when`.
    pub when: NodeId,
    /// Roots of the `unless` exceptions.
    pub unless: Vec<NodeId>,
    /// Severity downgrades with their conditions.
    pub downgrades: Vec<(Severity, NodeId)>,
    /// Rules whose firing drops this rule's finding.
    pub superseded_by: Vec<RuleId>,
    /// Template holes' nodes, message then advice.
    pub holes: Vec<NodeId>,
    /// Position in the fixed evaluation order.
    pub rank: u32,
    /// `when` reads the medication list (so an unrecognized entry could change it).
    pub reads_medications: bool,
}

/// What a graph node stands for, for export and inspection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GraphNode {
    /// An ingredient.
    Drug(DrugId),
    /// A class.
    Class(ClassId),
    /// A condition.
    Condition(ConditionId),
    /// A lab.
    Lab(LabId),
    /// An expression node (predicate or shared sub-expression).
    Expr(NodeId),
    /// A rule.
    Rule(RuleId),
}

/// The compiled rule graph: immutable, `Send + Sync`, shared by every thread.
#[derive(Debug)]
pub struct RuleGraph {
    /// The checked program.
    pub program: Program,
    /// Lookup tables.
    pub vocabulary: Vocabulary,
    /// Expression nodes.
    pub nodes: Vec<Node>,
    /// Rules, indexed like `program.rules`.
    pub rules: Vec<CompiledRule>,
    /// Rule ids in evaluation order (a superseding rule before the rules it supersedes).
    pub order: Vec<RuleId>,
    /// For each drug or class bit, the rules it can trigger.
    pub rules_by_bit: Vec<Vec<RuleId>>,
    /// Rules with no trigger set: candidates for every patient.
    pub always: Vec<RuleId>,
    /// Every rule a site profile has not disabled: the candidates when the medication list is
    /// absent. Disabled rules are in no candidate list, so evaluation never meets them.
    pub enabled: Vec<RuleId>,
    /// The dependency graph: an edge `a -> b` means `a` depends on `b`.
    pub graph: DiGraph<GraphNode, ()>,
    /// The pack texts, for quoting rules' own words.
    pub sources: crate::diagnostic::SourceMap,
}

struct Builder<'v> {
    nodes: Vec<Node>,
    interned: HashMap<Node, NodeId>,
    vocabulary: &'v Vocabulary,
}

/// The node a constant, a value or a predicate of the checked IR stands for, with no children;
/// `None` for connectives, comparisons and arithmetic. A `daily_dose` is a leaf here only without
/// its `on:` date (the compiler interns the date; the oracle and `explain` evaluate it apart).
pub fn leaf(kind: &TKind) -> Option<Node> {
    Some(match kind {
        TKind::Bool(b) => Node::Bool(*b),
        TKind::Number(n) => Node::Number(n.to_bits()),
        TKind::Date(d) => Node::Date(*d),
        TKind::AsOf => Node::AsOf,
        TKind::Age => Node::Age,
        TKind::Taking(s) => Node::Taking(*s),
        TKind::TakingBy(s, r) => Node::TakingBy(*s, *r),
        TKind::New(s) => Node::New(*s),
        TKind::Count(s, u) => Node::Count(*s, *u),
        TKind::Has(c) => Node::Has(*c),
        TKind::Had(c) => Node::Had(*c),
        TKind::Lab(l, w) => Node::Lab(*l, *w),
        TKind::DailyDose(d, r, None) => Node::DailyDose(*d, *r, None),
        TKind::RouteIs(d, r) => Node::RouteIs(*d, *r),
        TKind::Stopped(d, r, w) => Node::Stopped(*d, *r, *w),
        TKind::Tapered(d, r, s) => Node::Tapered(*d, *r, *s),
        TKind::StopDate(d, r) => Node::StopDate(*d, *r),
        TKind::Reduced(s, w) => Node::Reduced(*s, *w),
        TKind::Drugs(s, u) => Node::Drugs(*s, *u),
        TKind::DailyDose(_, _, Some(_))
        | TKind::Not(_)
        | TKind::And(..)
        | TKind::Or(..)
        | TKind::Cmp(..)
        | TKind::Add(..)
        | TKind::Sub(..)
        | TKind::Scale(..)
        | TKind::Quantified(_) => return None,
    })
}

/// Whether node `n` (or anything under it) reads the medication list.
pub fn reads_medications(nodes: &[Node], n: NodeId) -> bool {
    let node = &nodes[n as usize];
    matches!(
        node,
        Node::Taking(_)
            | Node::TakingBy(..)
            | Node::New(_)
            | Node::Count(..)
            | Node::DailyDose(..)
            | Node::RouteIs(..)
            | Node::Stopped(..)
            | Node::Tapered(..)
            | Node::StopDate(..)
            | Node::Reduced(..)
    ) || node.children().any(|c| reads_medications(nodes, c))
}

impl Builder<'_> {
    fn intern(&mut self, node: Node) -> NodeId {
        if let Some(&id) = self.interned.get(&node) {
            return id;
        }
        let id = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
        self.nodes.push(node.clone());
        self.interned.insert(node, id);
        id
    }

    fn expr(&mut self, e: &TExpr) -> NodeId {
        if let Some(leaf) = leaf(&e.kind) {
            return self.intern(leaf);
        }
        let node = match &e.kind {
            TKind::DailyDose(d, r, on) => {
                Node::DailyDose(*d, *r, on.as_ref().map(|on| self.expr(on)))
            }
            TKind::Not(a) => Node::Not(self.expr(a)),
            TKind::And(a, b) => Node::And(self.expr(a), self.expr(b)),
            TKind::Or(a, b) => Node::Or(self.expr(a), self.expr(b)),
            TKind::Cmp(op, a, b) => Node::Cmp(*op, self.expr(a), self.expr(b)),
            TKind::Add(a, b) => Node::Add(self.expr(a), self.expr(b)),
            TKind::Sub(a, b) => Node::Sub(self.expr(a), self.expr(b)),
            TKind::Scale(a, k) => Node::Scale(self.expr(a), k.to_bits()),
            TKind::Quantified(q) => {
                let branches = q
                    .branches
                    .iter()
                    .map(|(drug, body)| {
                        let body = self.expr(body);
                        let needs = if q.quantifier == Quantifier::Sum {
                            zero_without(&self.nodes, self.vocabulary, body)
                        } else {
                            trigger(&self.nodes, self.vocabulary, body)
                        }
                        .map(Vec::into_boxed_slice);
                        Branch {
                            drug: *drug,
                            body,
                            needs,
                        }
                    })
                    .collect();
                Node::Quantified(q.quantifier, branches)
            }
            // `leaf` above took every other kind.
            _ => Node::Bool(false),
        };
        self.intern(node)
    }

    fn template(&mut self, t: &Template, holes: &mut Vec<NodeId>) {
        for piece in &t.pieces {
            if let Piece::Hole(e) = piece {
                let id = self.expr(e);
                holes.push(id);
            }
        }
    }

    fn rule(&mut self, rule: &RuleDef) -> CompiledRule {
        let when = self.expr(&rule.when);
        let unless = rule.unless.iter().map(|e| self.expr(e)).collect();
        let downgrades = rule
            .downgrades
            .iter()
            .map(|(s, e)| (*s, self.expr(e)))
            .collect();
        let mut holes = Vec::new();
        self.template(&rule.message, &mut holes);
        if let Some(advise) = &rule.advise {
            self.template(advise, &mut holes);
        }
        let reads_medications = reads_medications(&self.nodes, when);
        CompiledRule {
            when,
            unless,
            downgrades,
            superseded_by: Vec::new(),
            holes,
            rank: 0,
            reads_medications,
        }
    }
}

impl RuleGraph {
    /// Compiles a checked program.
    pub fn compile(program: Program, sources: crate::diagnostic::SourceMap) -> RuleGraph {
        let vocabulary = Vocabulary::build(&program);
        let mut builder = Builder {
            nodes: Vec::new(),
            interned: HashMap::new(),
            vocabulary: &vocabulary,
        };
        let mut rules: Vec<CompiledRule> = program.rules.iter().map(|r| builder.rule(r)).collect();
        for (id, rule) in program.rules.iter().enumerate() {
            for &target in &rule.supersedes {
                rules[target].superseded_by.push(id);
            }
        }
        let nodes = builder.nodes;
        let graph = build_graph(&program, &nodes, &rules);
        let order = evaluation_order(&graph);
        for (rank, &r) in order.iter().enumerate() {
            rules[r].rank = u32::try_from(rank).unwrap_or(u32::MAX);
        }
        let enabled: Vec<RuleId> = (0..rules.len())
            .filter(|&r| !program.rules[r].disabled)
            .collect();
        let (rules_by_bit, always) = trigger_index(&vocabulary, &nodes, &rules, &enabled);
        RuleGraph {
            program,
            vocabulary,
            nodes,
            rules,
            order,
            rules_by_bit,
            always,
            enabled,
            graph,
            sources,
        }
    }

    /// The graph as Graphviz DOT.
    pub fn to_dot(&self) -> String {
        dot::render(self, None)
    }

    /// What one rule depends on, as Graphviz DOT.
    pub fn rule_to_dot(&self, rule: RuleId) -> String {
        dot::render(self, Some(rule))
    }
}

fn build_graph(
    program: &Program,
    nodes: &[Node],
    rules: &[CompiledRule],
) -> DiGraph<GraphNode, ()> {
    let mut g = DiGraph::new();
    let mut index: HashMap<GraphNode, NodeIndex> = HashMap::new();
    let mut add = |g: &mut DiGraph<GraphNode, ()>, n: GraphNode| {
        *index.entry(n.clone()).or_insert_with(|| g.add_node(n))
    };
    for d in 0..program.drugs.len() {
        add(&mut g, GraphNode::Drug(d));
    }
    for c in 0..program.classes.len() {
        add(&mut g, GraphNode::Class(c));
    }
    for c in 0..program.conditions.len() {
        add(&mut g, GraphNode::Condition(c));
    }
    for l in 0..program.labs.len() {
        add(&mut g, GraphNode::Lab(l));
    }
    for (id, node) in nodes.iter().enumerate() {
        let from = add(&mut g, GraphNode::Expr(id as NodeId));
        for child in node.children() {
            let to = add(&mut g, GraphNode::Expr(child));
            g.add_edge(from, to, ());
        }
        let target = match *node {
            Node::Taking(s)
            | Node::TakingBy(s, _)
            | Node::New(s)
            | Node::Count(s, _)
            | Node::Drugs(s, _)
            | Node::Reduced(s, _) => Some(set_node(s)),
            Node::Has(c) | Node::Had(c) => Some(GraphNode::Condition(c)),
            Node::Lab(l, _) => Some(GraphNode::Lab(l)),
            Node::DailyDose(d, ..)
            | Node::RouteIs(d, _)
            | Node::Stopped(d, ..)
            | Node::Tapered(d, ..)
            | Node::StopDate(d, _) => Some(GraphNode::Drug(d)),
            _ => None,
        };
        if let Some(t) = target {
            let to = add(&mut g, t);
            g.add_edge(from, to, ());
        }
    }
    for (id, rule) in rules.iter().enumerate() {
        let from = add(&mut g, GraphNode::Rule(id));
        let roots = std::iter::once(rule.when)
            .chain(rule.unless.iter().copied())
            .chain(rule.downgrades.iter().map(|d| d.1))
            .chain(rule.holes.iter().copied());
        for root in roots {
            let to = add(&mut g, GraphNode::Expr(root));
            g.update_edge(from, to, ());
        }
        for &by in &rule.superseded_by {
            let to = add(&mut g, GraphNode::Rule(by));
            g.add_edge(from, to, ());
        }
    }
    g
}

fn set_node(s: SetRef) -> GraphNode {
    match s {
        SetRef::Drug(d) => GraphNode::Drug(d),
        SetRef::Class(c) => GraphNode::Class(c),
    }
}

/// Rules in dependency order: a rule after every rule that supersedes it. The checker has
/// rejected supersession cycles, so the graph is acyclic.
fn evaluation_order(graph: &DiGraph<GraphNode, ()>) -> Vec<RuleId> {
    let sorted = petgraph::algo::toposort(graph, None).unwrap_or_default();
    sorted
        .into_iter()
        .rev()
        .filter_map(|n| match graph[n] {
            GraphNode::Rule(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// The drug and class bits at least one of which must be present (taken, ordered or in the
/// history) for `node` to be true; `None` when no such set can be derived.
fn trigger(nodes: &[Node], vocab: &Vocabulary, node: NodeId) -> Option<Vec<usize>> {
    match nodes[node as usize] {
        Node::Taking(s) | Node::TakingBy(s, _) | Node::New(s) | Node::Reduced(s, _) => {
            Some(vec![vocab.bit(s)])
        }
        Node::RouteIs(d, _) | Node::Stopped(d, ..) | Node::Tapered(d, ..) => Some(vec![d]),
        Node::Cmp(op, a, b) => cmp_trigger(nodes, vocab, op, a, b),
        Node::And(a, b) => match (trigger(nodes, vocab, a), trigger(nodes, vocab, b)) {
            (Some(x), Some(y)) => Some(if x.len() <= y.len() { x } else { y }),
            (x, y) => x.or(y),
        },
        Node::Or(a, b) => union(trigger(nodes, vocab, a)?, &trigger(nodes, vocab, b)?),
        // `any` is an `or` of its branches; `all` over no ingredient is true without any.
        Node::Quantified(Quantifier::Any, ref branches) => branches_need(branches),
        Node::Quantified(Quantifier::All, ref branches) => branches
            .iter()
            .filter_map(|b| b.needs.as_deref())
            .min_by_key(|needs| needs.len())
            .map(<[usize]>::to_vec),
        _ => None,
    }
}

/// For a numeric node `n` that is never below zero, the drug and class bits at least one of
/// which the patient must have for it to be above zero: a `count` or `daily_dose` needs its
/// subject, a multiple (by a factor not below zero) what it multiplies, a sum what its parts
/// need; `None` when no such set can be derived.
fn zero_without(nodes: &[Node], vocab: &Vocabulary, n: NodeId) -> Option<Vec<usize>> {
    match nodes[n as usize] {
        Node::Count(s, _) => Some(vec![vocab.bit(s)]),
        Node::DailyDose(d, ..) => Some(vec![d]),
        Node::Scale(a, k) if f64::from_bits(k) >= 0.0 => zero_without(nodes, vocab, a),
        Node::Add(a, b) => union(
            zero_without(nodes, vocab, a)?,
            &zero_without(nodes, vocab, b)?,
        ),
        Node::Quantified(Quantifier::Sum, ref branches) => branches_need(branches),
        _ => None,
    }
}

/// The bits of `x` and of `y`, sorted, each once.
fn union(mut x: Vec<usize>, y: &[usize]) -> Option<Vec<usize>> {
    x.extend_from_slice(y);
    x.sort_unstable();
    x.dedup();
    Some(x)
}

/// The bits one of which some branch needs, when every branch has a set (`any` true, a sum
/// above zero); `None` when one may do without.
fn branches_need(branches: &[Branch]) -> Option<Vec<usize>> {
    let mut x = Vec::new();
    for branch in branches {
        x.extend_from_slice(branch.needs.as_deref()?);
    }
    union(x, &[])
}

/// `count(x) >= k` (k >= 1), `count(x) > k` (k >= 0) and the same for `daily_dose`, or a sum
/// or multiple of them (no part below zero), need `x`.
fn cmp_trigger(
    nodes: &[Node],
    vocab: &Vocabulary,
    op: CmpOp,
    a: NodeId,
    b: NodeId,
) -> Option<Vec<usize>> {
    let needs = |n: NodeId| zero_without(nodes, vocab, n);
    let number = |n: &Node| match *n {
        Node::Number(bits) => Some(f64::from_bits(bits)),
        _ => None,
    };
    let (subject, k, op) = match (
        needs(a),
        number(&nodes[b as usize]),
        needs(b),
        number(&nodes[a as usize]),
    ) {
        (Some(s), Some(k), _, _) => (s, k, op),
        (_, _, Some(s), Some(k)) => (s, k, op.flipped()),
        _ => return None,
    };
    let positive = match op {
        CmpOp::Gt => k >= 0.0,
        CmpOp::Ge | CmpOp::Eq => k > 0.0,
        _ => false,
    };
    positive.then_some(subject)
}

fn trigger_index(
    vocab: &Vocabulary,
    nodes: &[Node],
    rules: &[CompiledRule],
    enabled: &[RuleId],
) -> (Vec<Vec<RuleId>>, Vec<RuleId>) {
    let mut by_bit = vec![Vec::new(); vocab.set_bits()];
    let mut always = Vec::new();
    for &id in enabled {
        match trigger(nodes, vocab, rules[id].when) {
            Some(bits) => bits.into_iter().for_each(|b| by_bit[b].push(id)),
            None => always.push(id),
        }
    }
    (by_bit, always)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::SourceMap;

    fn graph(src: &str) -> RuleGraph {
        let mut map = SourceMap::default();
        map.add("t.rules", src);
        RuleGraph::compile(
            crate::check::check(&map).unwrap_or_else(|e| panic!("{e:?}")),
            map,
        )
    }

    const VOCAB: &str = "pack t \"T\" version \"1\"\ndrug baclofen { atc \"M03BX01\" }\ndrug oxycodone { atc \"N02AA05\" }\nclass opioid = atc \"N02A\"\ncondition epilepsy { icd10 \"G40\" }\n";

    fn rule(name: &str, when: &str, extra: &str) -> String {
        format!(
            "rule {name} {{\n  severity major\n  when {when}\n  summary \"s\"\n  message \"m\"\n  cite \"c\"\n{extra}}}\n"
        )
    }

    #[test]
    fn identical_sub_expressions_are_one_node() {
        let src = format!(
            "{VOCAB}{}{}",
            rule("a", "taking(baclofen) and taking(opioid)", ""),
            rule("b", "taking(opioid) and has(epilepsy)", "")
        );
        let g = graph(&src);
        let taking_opioid = g
            .nodes
            .iter()
            .filter(|n| matches!(n, Node::Taking(SetRef::Class(_))))
            .count();
        assert_eq!(taking_opioid, 1);
    }

    #[test]
    fn trigger_sets_follow_and_or_and_thresholds() {
        let src = format!(
            "{VOCAB}{}{}{}",
            rule("a", "taking(baclofen) and has(epilepsy)", ""),
            rule("b", "has(epilepsy) or taking(opioid)", ""),
            rule("c", "count(opioid) >= 1", "")
        );
        let g = graph(&src);
        assert_eq!(g.rules_by_bit[0], vec![0]);
        assert_eq!(g.always, vec![1]);
        assert_eq!(g.rules_by_bit[g.vocabulary.bit(SetRef::Class(0))], vec![2]);
    }

    #[test]
    fn a_superseding_rule_is_evaluated_first() {
        let src = format!(
            "{VOCAB}{}{}",
            rule("general", "taking(baclofen)", ""),
            rule(
                "elderly",
                "taking(baclofen) and age >= 65",
                "  supersedes general\n"
            )
        );
        let g = graph(&src);
        assert!(g.rules[1].rank < g.rules[0].rank);
        assert_eq!(g.rules[0].superseded_by, vec![1]);
    }

    #[test]
    fn quantified_branches_are_shared_nodes_with_their_own_triggers() {
        let src = format!(
            "{VOCAB}table window: days {{\n  baclofen 14 days\n  oxycodone 7 days\n}}\n{}{}",
            rule(
                "a",
                "any(d in window: stopped(d, route: oral, within: window[d]))",
                ""
            ),
            rule("b", "stopped(oxycodone, route: oral, within: 7 days)", "")
        );
        let g = graph(&src);
        let stopped = g
            .nodes
            .iter()
            .filter(|n| matches!(n, Node::Stopped(..)))
            .count();
        assert_eq!(stopped, 2, "oxycodone's branch is rule b's node");
        let Some(Node::Quantified(Quantifier::Any, branches)) = g.nodes.last() else {
            panic!("{:?}", g.nodes)
        };
        let needs: Vec<_> = branches.iter().map(|b| b.needs.as_deref()).collect();
        assert_eq!(needs, [Some(&[0][..]), Some(&[1][..])]);
        assert_eq!(g.rules_by_bit[0], vec![0]);
        assert_eq!(g.rules_by_bit[1], vec![0, 1]);
    }

    #[test]
    fn a_weighted_sum_is_triggered_by_its_ingredients_and_skips_the_absent_ones() {
        let src = format!(
            "{VOCAB}table mme: factor {{\n  baclofen 1\n  oxycodone 1.5\n}}\n{}{}{}",
            rule(
                "a",
                "sum(d in mme: daily_dose(d, route: oral) * mme[d]) >= 50 mg/day",
                ""
            ),
            rule(
                "b",
                "sum(d in mme: daily_dose(d, route: oral) * mme[d]) >= 0 mg/day",
                ""
            ),
            rule(
                "c",
                "daily_dose(oxycodone, route: oral) * -1 < 0 mg/day",
                ""
            )
        );
        let g = graph(&src);
        let Some(Node::Quantified(Quantifier::Sum, branches)) = g
            .nodes
            .iter()
            .find(|n| matches!(n, Node::Quantified(Quantifier::Sum, _)))
        else {
            panic!("{:?}", g.nodes)
        };
        let needs: Vec<_> = branches.iter().map(|b| b.needs.as_deref()).collect();
        assert_eq!(needs, [Some(&[0][..]), Some(&[1][..])]);
        // Over a positive threshold only a patient with one of them can reach it; at zero or
        // with a negative factor, every patient is a candidate.
        assert_eq!(g.rules_by_bit[0], vec![0]);
        assert_eq!(g.rules_by_bit[1], vec![0]);
        assert_eq!(g.always, vec![1, 2]);
    }

    #[test]
    fn the_engine_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RuleGraph>();
    }
}
