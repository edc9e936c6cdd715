//! Graphviz DOT export of the rule graph. Shared expression nodes (used by more than one
//! parent) are drawn filled, so what hash-consing merged is visible.

use super::{GraphNode, Node, NodeId, RuleGraph};
use crate::ir::SetRef;
use petgraph::Direction;
use std::fmt::Write as _;

pub(super) fn render(g: &RuleGraph, only: Option<crate::ir::RuleId>) -> String {
    let keep = only.map(|rule| reachable(g, rule));
    let kept = |idx: petgraph::graph::NodeIndex| keep.as_ref().is_none_or(|k| k.contains(&idx));
    let mut out = String::from(
        "digraph rxguard {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for idx in g.graph.node_indices().filter(|&i| kept(i)) {
        let node = &g.graph[idx];
        if matches!(node, GraphNode::Drug(_))
            && g.graph
                .neighbors_directed(idx, Direction::Incoming)
                .next()
                .is_none()
        {
            continue;
        }
        let parents = g.graph.neighbors_directed(idx, Direction::Incoming).count();
        let (label, shape) = label(g, node);
        let fill = if matches!(node, GraphNode::Expr(_)) && parents > 1 {
            ", style=filled, fillcolor=\"#ffe9a8\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  n{} [label=\"{}\", shape={shape}{fill}];",
            idx.index(),
            escape(&label)
        );
    }
    for edge in g.graph.edge_indices() {
        if let Some((a, b)) = g
            .graph
            .edge_endpoints(edge)
            .filter(|(a, b)| kept(*a) && kept(*b))
        {
            let style = if matches!(
                (&g.graph[a], &g.graph[b]),
                (GraphNode::Rule(_), GraphNode::Rule(_))
            ) {
                " [style=dashed, label=\"superseded by\"]"
            } else {
                ""
            };
            let _ = writeln!(out, "  n{} -> n{}{style};", a.index(), b.index());
        }
    }
    out.push_str("}\n");
    out
}

/// The nodes one rule depends on: its expressions and the vocabulary they read, plus the rules
/// that supersede it (without their own dependencies). Shared nodes keep their fill, counted over
/// the whole graph, so what the rule shares with others stays visible.
fn reachable(
    g: &RuleGraph,
    rule: crate::ir::RuleId,
) -> std::collections::HashSet<petgraph::graph::NodeIndex> {
    let mut keep = std::collections::HashSet::new();
    let Some(start) = g
        .graph
        .node_indices()
        .find(|&i| g.graph[i] == GraphNode::Rule(rule))
    else {
        return keep;
    };
    let mut stack = vec![start];
    while let Some(idx) = stack.pop() {
        if !keep.insert(idx) {
            continue;
        }
        for next in g.graph.neighbors_directed(idx, Direction::Outgoing) {
            if matches!(g.graph[next], GraphNode::Rule(_)) {
                keep.insert(next);
            } else {
                stack.push(next);
            }
        }
    }
    keep
}

/// A label as DOT reads it: quotes and backslashes escaped, `\u{1}` as a line break.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\u{1}', "\\n")
}

fn label(g: &RuleGraph, node: &GraphNode) -> (String, &'static str) {
    let p = &g.program;
    match *node {
        GraphNode::Drug(d) => (format!("drug {}", p.drugs[d].name), "ellipse"),
        GraphNode::Class(c) => (format!("class {}", p.classes[c].name), "ellipse"),
        GraphNode::Condition(c) => (format!("condition {}", p.conditions[c].name), "ellipse"),
        GraphNode::Lab(l) => (format!("lab {}", p.labs[l].name), "ellipse"),
        GraphNode::Rule(r) => (
            format!(
                "rule {}\u{1}{}",
                p.rules[r].name,
                p.rules[r].severity.name()
            ),
            "box",
        ),
        GraphNode::Expr(n) => (describe(g, &g.nodes[n as usize]), "plaintext"),
    }
}

/// A number computed from other nodes, written out (`daily_dose(morphine, route: oral) * 1 +
/// ...`), for the reasons a rule is undecided; any other node as [`describe`] has it.
pub fn describe_value(g: &RuleGraph, node: &Node) -> String {
    let part = |n: NodeId| describe_value(g, &g.nodes[n as usize]);
    match *node {
        Node::Add(a, b) => format!("{} + {}", part(a), part(b)),
        Node::Sub(a, b) => format!("{} - {}", part(a), part(b)),
        Node::Scale(a, k) => format!(
            "{} * {}",
            part(a),
            crate::value::format_number(f64::from_bits(k))
        ),
        Node::Quantified(crate::ir::Quantifier::Sum, ref branches) => {
            format!("a sum over {} ingredients", branches.len())
        }
        _ => describe(g, node),
    }
}

/// A node in words, for DOT labels and `explain`.
pub fn describe(g: &RuleGraph, node: &Node) -> String {
    let p = &g.program;
    let set = |s: SetRef| match s {
        SetRef::Drug(d) => p.drugs[d].name.clone(),
        SetRef::Class(c) => p.classes[c].name.clone(),
    };
    match *node {
        Node::Bool(b) => b.to_string(),
        Node::Number(bits) => crate::value::format_number(f64::from_bits(bits)),
        Node::Date(d) => d.to_string(),
        Node::AsOf => "as_of".into(),
        Node::Age => "age".into(),
        Node::Taking(s) => format!("taking({})", set(s)),
        Node::New(s) => format!("new({})", set(s)),
        Node::Count(s, u) => format!("count({}{})", set(s), u.written()),
        Node::Drugs(s, u) => format!("drugs({}{})", set(s), u.written()),
        Node::Has(c) => format!("has({})", p.conditions[c].name),
        Node::Had(c) => format!("had({})", p.conditions[c].name),
        Node::Lab(l, w) => format!("lab({}, within: {w} days)", p.labs[l].name),
        Node::DailyDose(d, r, on) => format!(
            "daily_dose({}, route: {}{})",
            p.drugs[d].name,
            r.name(),
            if on.is_some() { ", on: ..." } else { "" }
        ),
        Node::RouteIs(d, r) => format!("route({}) == {}", p.drugs[d].name, r.name()),
        Node::Stopped(d, r, w) => format!(
            "stopped({}, route: {}, within: {w} days)",
            p.drugs[d].name,
            r.name()
        ),
        Node::Tapered(d, r, 0) => format!("tapered({}, route: {})", p.drugs[d].name, r.name()),
        Node::Tapered(d, r, step) => format!(
            "tapered({}, route: {}, over: {step} days)",
            p.drugs[d].name,
            r.name()
        ),
        Node::StopDate(d, r) => format!("stop_date({}, route: {})", p.drugs[d].name, r.name()),
        Node::TakingBy(s, r) => format!("taking({}, route: {})", set(s), r.name()),
        Node::Reduced(s, w) => format!("reduced({}, within: {w} days)", set(s)),
        Node::Not(_) => "not".into(),
        Node::And(..) => "and".into(),
        Node::Or(..) => "or".into(),
        Node::Cmp(op, ..) => op.symbol().into(),
        Node::Add(..) => "+".into(),
        Node::Sub(..) => "-".into(),
        Node::Scale(_, k) => format!("* {}", crate::value::format_number(f64::from_bits(k))),
        Node::Quantified(q, ref branches) => {
            format!("{} of {} ingredients", q.word(), branches.len())
        }
    }
}
