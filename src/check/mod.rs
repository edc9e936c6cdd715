//! Checking: packs' syntax trees to one [`Program`], with every error gathered at once.
//!
//! Names are resolved across packs (a pack sees its own declarations and those of the packs it
//! `use`s), expressions are typed with unit dimensions, classes are flattened, and cycles in
//! classes, supersession and `use` are spelled out.

mod expr;
mod rules;
mod table;
mod tests;
mod vocab;

use crate::diagnostic::{Diagnostic, SourceId, SourceMap, Span, suggestion};
use crate::ir::*;
use crate::syntax::ast::{Ident, Item, PackAst};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The version of the engine, part of every pack's content hash.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a vocabulary name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decl {
    Drug(DrugId),
    Class(ClassId),
    Condition(ConditionId),
    Lab(LabId),
    Table(TableId),
}

impl Decl {
    fn kind(self) -> &'static str {
        match self {
            Decl::Drug(_) => "a drug",
            Decl::Class(_) => "a class",
            Decl::Condition(_) => "a condition",
            Decl::Lab(_) => "a lab",
            Decl::Table(_) => "a table",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Named<T> {
    value: T,
    pack: PackId,
    span: Span,
}

/// Checks every source, tests included, and returns the program, or every diagnostic found.
pub fn check(sources: &SourceMap) -> Result<Program, Vec<Diagnostic>> {
    check_with(sources, true)
}

/// Checks every source, with the packs' `test` blocks or without them.
pub fn check_with(sources: &SourceMap, tests: bool) -> Result<Program, Vec<Diagnostic>> {
    let mut checker = Checker::new(sources);
    let mut parsed = Vec::new();
    for (id, source) in sources.iter() {
        let (ast, errors) = crate::syntax::parse_pack_with(id, &source.text, tests);
        if errors.iter().any(|e| e.code == "E002") {
            checker.refused.push(id);
        }
        checker.errors.extend(errors);
        parsed.push((id, ast));
    }
    checker.run(&parsed);
    if checker.errors.is_empty() {
        Ok(checker.program)
    } else {
        checker
            .errors
            .sort_by_key(|d| (d.span.source, d.span.start));
        Err(cap(checker.errors))
    }
}

pub(crate) struct Checker<'s> {
    sources: &'s SourceMap,
    errors: Vec<Diagnostic>,
    program: Program,
    /// Pack of each source id.
    pack_of_source: HashMap<SourceId, PackId>,
    /// Source of each pack.
    source_of_pack: Vec<SourceId>,
    /// The packs each pack uses.
    uses: Vec<Vec<PackId>>,
    names: HashMap<String, Named<Decl>>,
    rule_names: HashMap<String, Named<RuleId>>,
    /// Sources refused whole (too large): no further errors are reported for them.
    refused: Vec<SourceId>,
    /// Labs with `computed METHOD(INPUT)`, checked once every lab is defined.
    derived_labs: Vec<(LabId, PackId, Ident, Ident)>,
    /// The names bound by the quantifiers being checked, innermost last, each to the ingredient
    /// of the branch being checked.
    bound: Vec<(String, DrugId)>,
    /// The tables read by the rule being checked.
    tables_read: Vec<TableId>,
    /// Tables with an entry that failed to check: a missing entry is not reported again.
    broken_tables: Vec<TableId>,
}

impl<'s> Checker<'s> {
    fn new(sources: &'s SourceMap) -> Self {
        Checker {
            sources,
            errors: Vec::new(),
            program: Program::default(),
            pack_of_source: HashMap::new(),
            source_of_pack: Vec::new(),
            uses: Vec::new(),
            names: HashMap::new(),
            rule_names: HashMap::new(),
            refused: Vec::new(),
            derived_labs: Vec::new(),
            bound: Vec::new(),
            tables_read: Vec::new(),
            broken_tables: Vec::new(),
        }
    }

    fn run(&mut self, parsed: &[(SourceId, PackAst)]) {
        for (id, ast) in parsed {
            self.declare_pack(*id, ast);
        }
        for (id, ast) in parsed {
            self.resolve_uses(*id, &ast.uses);
        }
        self.check_use_cycles();
        for (id, ast) in parsed {
            self.declare_vocabulary(self.pack_of_source[id], &ast.items);
        }
        for (id, ast) in parsed {
            self.define_vocabulary(self.pack_of_source[id], &ast.items);
        }
        self.define_derivations();
        self.flatten_classes(parsed);
        for (id, ast) in parsed {
            self.declare_rules(self.pack_of_source[id], &ast.items);
        }
        for (id, ast) in parsed {
            self.define_rules(self.pack_of_source[id], &ast.items);
        }
        self.check_supersession_cycles();
        for (id, ast) in parsed {
            self.define_tests(self.pack_of_source[id], &ast.items);
        }
        self.hash_packs();
    }

    fn error(&mut self, d: Diagnostic) {
        self.errors.push(d);
    }

    fn declare_pack(&mut self, id: SourceId, ast: &PackAst) {
        let source_name = self
            .sources
            .get(id)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let pack_id = self.program.packs.len();
        let info = match &ast.header {
            Some(h) => {
                if let Some(other) = self.program.packs.iter().find(|p| p.name == h.name.name) {
                    let first = other.source.clone();
                    self.error(
                        Diagnostic::error(
                            "E011",
                            h.name.span,
                            format!("a pack named `{}` is already loaded", h.name.name),
                        )
                        .with_help(format!("the first is {first}; give this pack another name")),
                    );
                }
                PackInfo {
                    name: h.name.name.clone(),
                    title: h.title.value.clone(),
                    version: h.version.value.clone(),
                    hash: String::new(),
                    source: source_name,
                }
            }
            None if self.refused.contains(&id) => PackInfo {
                name: format!("<{source_name}>"),
                title: String::new(),
                version: String::new(),
                hash: String::new(),
                source: source_name,
            },
            None => {
                self.error(
                    Diagnostic::error("E040", Span::new(id, 0, 0), "the file has no `pack` header")
                        .with_help("start the file with `pack NAME \"Title\" version \"1.0.0\"`"),
                );
                PackInfo {
                    name: format!("<{source_name}>"),
                    title: String::new(),
                    version: String::new(),
                    hash: String::new(),
                    source: source_name,
                }
            }
        };
        self.program.packs.push(info);
        self.pack_of_source.insert(id, pack_id);
        self.source_of_pack.push(id);
        self.uses.push(Vec::new());
    }

    fn resolve_uses(&mut self, id: SourceId, uses: &[Ident]) {
        let pack = self.pack_of_source[&id];
        for used in uses {
            match self.program.packs.iter().position(|p| p.name == used.name) {
                Some(target) if target == pack => self.error(Diagnostic::error(
                    "E032",
                    used.span,
                    "a pack cannot use itself",
                )),
                Some(target) => self.uses[pack].push(target),
                None => {
                    let names: Vec<&str> =
                        self.program.packs.iter().map(|p| p.name.as_str()).collect();
                    let d = Diagnostic::error(
                        "E012",
                        used.span,
                        format!("no loaded pack is named `{}`", used.name),
                    )
                    .with_label("unknown pack");
                    let help = suggestion(&used.name, names, || {
                        "load the pack with --rules, or check its `pack` line".to_string()
                    });
                    self.error(d.with_help(help));
                }
            }
        }
    }

    fn check_use_cycles(&mut self) {
        let mut graph = petgraph::graph::DiGraph::<PackId, ()>::new();
        let nodes: Vec<_> = (0..self.program.packs.len())
            .map(|p| graph.add_node(p))
            .collect();
        for (from, targets) in self.uses.iter().enumerate() {
            for &to in targets {
                graph.add_edge(nodes[from], nodes[to], ());
            }
        }
        for cycle in cycles(&graph) {
            let names: Vec<String> = cycle
                .iter()
                .map(|&p| self.program.packs[p].name.clone())
                .collect();
            let span = Span::new(self.source_of_pack(cycle[0]), 0, 0);
            self.error(
                Diagnostic::error(
                    "E032",
                    span,
                    format!("packs use each other in a cycle: {}", spell_cycle(&names)),
                )
                .with_help("move the shared declarations into a vocabulary pack that both use"),
            );
        }
    }

    fn source_of_pack(&self, pack: PackId) -> SourceId {
        self.source_of_pack[pack]
    }

    /// True when declarations of `decl_pack` are visible from `from`.
    fn visible(&self, from: PackId, decl_pack: PackId) -> bool {
        from == decl_pack || self.uses[from].contains(&decl_pack)
    }

    /// Resolves a rule name seen from `pack` (from anywhere when `None`: tests may name any
    /// loaded rule), reporting E010 when it is unknown or not visible.
    fn lookup_rule(&mut self, pack: Option<PackId>, name: &Ident) -> Option<RuleId> {
        match self.rule_names.get(&name.name).copied() {
            Some(target) if pack.is_none_or(|p| self.visible(p, target.pack)) => Some(target.value),
            Some(target) => {
                let owner = self.program.packs[target.pack].name.clone();
                self.error(
                    Diagnostic::error(
                        "E010",
                        name.span,
                        format!(
                            "rule `{}` is in pack `{owner}`, which this pack does not use",
                            name.name
                        ),
                    )
                    .with_help(format!("add `use {owner}`")),
                );
                None
            }
            None => {
                let mut known: Vec<&str> = self.rule_names.keys().map(String::as_str).collect();
                known.sort_unstable();
                let help = suggestion(&name.name, known, || {
                    if pack.is_some() {
                        "name a rule of this pack or of a pack it uses".to_string()
                    } else {
                        "name a rule of one of the loaded packs".to_string()
                    }
                });
                self.error(
                    Diagnostic::error("E010", name.span, format!("unknown rule `{}`", name.name))
                        .with_help(help),
                );
                None
            }
        }
    }

    /// Resolves a vocabulary name seen from `pack`, reporting E010 when it is unknown.
    fn lookup(
        &mut self,
        pack: PackId,
        ident: &Ident,
        wanted: &str,
        accepts: impl Fn(Decl) -> bool,
    ) -> Option<Decl> {
        // A quantifier's name stands for the ingredient of the branch being checked.
        if let Some(&(_, drug)) = self.bound.iter().rev().find(|(n, _)| *n == ident.name) {
            return Some(Decl::Drug(drug));
        }
        match self.names.get(&ident.name).copied() {
            Some(named) if self.visible(pack, named.pack) => Some(named.value),
            Some(named) => {
                let owner = self.program.packs[named.pack].name.clone();
                self.error(
                    Diagnostic::error(
                        "E010",
                        ident.span,
                        format!(
                            "`{}` is declared in pack `{owner}`, which this pack does not use",
                            ident.name
                        ),
                    )
                    .with_label("not visible here")
                    .with_help(format!("add `use {owner}` after the pack header")),
                );
                None
            }
            None => {
                let candidates: Vec<&str> = self
                    .names
                    .iter()
                    .filter(|(_, n)| self.visible(pack, n.pack) && accepts(n.value))
                    .map(|(k, _)| k.as_str())
                    .collect();
                let mut sorted = candidates;
                sorted.sort_unstable();
                let help = suggestion(&ident.name, sorted, || {
                    format!("declare it, or `use` the pack that declares it ({wanted} expected)")
                });
                self.error(
                    Diagnostic::error("E010", ident.span, format!("unknown name `{}`", ident.name))
                        .with_label(format!("not {wanted} in scope"))
                        .with_help(help),
                );
                None
            }
        }
    }

    fn declare_name(&mut self, pack: PackId, ident: &Ident, decl: Decl) {
        if let Some(first) = self.names.get(&ident.name) {
            let at = self.sources.location(first.span);
            self.error(
                Diagnostic::error(
                    "E011",
                    ident.span,
                    format!("`{}` is declared twice", ident.name),
                )
                .with_label("second declaration")
                .with_help(format!(
                    "the first is {} at {at}; rename or remove one",
                    first.value.kind()
                )),
            );
            return;
        }
        self.names.insert(
            ident.name.clone(),
            Named {
                value: decl,
                pack,
                span: ident.span,
            },
        );
    }

    fn declare_rules(&mut self, pack: PackId, items: &[Item]) {
        for item in items {
            let Item::Rule(rule) = item else { continue };
            if let Some(first) = self.rule_names.get(&rule.name.name) {
                let at = self.sources.location(first.span);
                self.error(
                    Diagnostic::error(
                        "E011",
                        rule.name.span,
                        format!("rule `{}` is declared twice", rule.name.name),
                    )
                    .with_help(format!(
                        "the first is at {at}; rule names are unique across loaded packs"
                    )),
                );
                continue;
            }
            let id = self.rule_names.len();
            self.rule_names.insert(
                rule.name.name.clone(),
                Named {
                    value: id,
                    pack,
                    span: rule.name.span,
                },
            );
        }
    }

    fn hash_packs(&mut self) {
        let sources = self.sources;
        let text = |pack: PackId| {
            sources
                .get(self.source_of_pack[pack])
                .map_or("", |s| s.text.as_str())
        };
        for pack in 0..self.program.packs.len() {
            let mut hasher = Sha256::new();
            hasher.update(ENGINE_VERSION.as_bytes());
            for p in self.closure(pack) {
                hasher.update(self.program.packs[p].name.as_bytes());
                hasher.update([0]);
                hasher.update(text(p).as_bytes());
                hasher.update([0]);
            }
            let digest = hasher.finalize();
            self.program.packs[pack].hash =
                digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        }
    }

    /// The pack and every pack it uses, directly or not, in a fixed order.
    fn closure(&self, pack: PackId) -> Vec<PackId> {
        let mut seen = vec![pack];
        let mut i = 0;
        while i < seen.len() {
            for &u in &self.uses[seen[i]] {
                if !seen.contains(&u) {
                    seen.push(u);
                }
            }
            i += 1;
        }
        seen[1..].sort_unstable();
        seen
    }
}

/// Most diagnostics reported for one compilation: past this, a pack is not a draft with
/// mistakes but something else, and listing more helps no one.
pub const MAX_DIAGNOSTICS: usize = 200;

fn cap(mut errors: Vec<Diagnostic>) -> Vec<Diagnostic> {
    if errors.len() > MAX_DIAGNOSTICS {
        let more = errors.len() - MAX_DIAGNOSTICS;
        let span = errors[MAX_DIAGNOSTICS].span;
        errors.truncate(MAX_DIAGNOSTICS);
        errors.push(
            Diagnostic::error("E004", span, format!("{more} more errors not shown"))
                .with_help("fix the errors above first; they often cause the rest"),
        );
    }
    errors
}

/// Every cycle of a directed graph (one per strongly connected component), in a fixed order.
pub(crate) fn cycles<N: Copy + Ord>(graph: &petgraph::graph::DiGraph<N, ()>) -> Vec<Vec<N>> {
    let mut out: Vec<Vec<N>> = petgraph::algo::tarjan_scc(graph)
        .into_iter()
        .filter(|scc| scc.len() > 1 || graph.contains_edge(scc[0], scc[0]))
        .map(|scc| order_cycle(graph, &scc))
        .collect();
    out.sort();
    out
}

/// Walks a strongly connected component from its smallest node to give the cycle in order.
fn order_cycle<N: Copy + Ord>(
    graph: &petgraph::graph::DiGraph<N, ()>,
    scc: &[petgraph::graph::NodeIndex],
) -> Vec<N> {
    let start = scc
        .iter()
        .copied()
        .min_by_key(|n| graph[*n])
        .unwrap_or(scc[0]);
    let mut order = vec![start];
    let mut current = start;
    loop {
        let next = graph
            .neighbors(current)
            .filter(|n| scc.contains(n))
            .min_by_key(|n| graph[*n]);
        match next {
            Some(n) if !order.contains(&n) => {
                order.push(n);
                current = n;
            }
            _ => break,
        }
    }
    order.into_iter().map(|n| graph[n]).collect()
}

/// `a -> b -> c -> a`.
pub(crate) fn spell_cycle(names: &[String]) -> String {
    let mut parts: Vec<&str> = names.iter().map(String::as_str).collect();
    if let Some(first) = names.first() {
        parts.push(first);
    }
    parts.join(" -> ")
}
