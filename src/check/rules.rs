//! Rules: required and unique fields, severities, templates and supersession.

use super::expr::Place;
use super::{Checker, cycles, spell_cycle};
use crate::diagnostic::{Diagnostic, Span};
use crate::ir::*;
use crate::syntax::ast::{Item, RuleDecl, RuleField, Str};

/// A card summary must be shorter than this, in characters (CDS Hooks).
pub const SUMMARY_LIMIT: usize = 140;

impl Checker<'_> {
    pub(super) fn define_rules(&mut self, pack: PackId, items: &[Item]) {
        for item in items {
            let Item::Rule(rule) = item else { continue };
            let own = self
                .rule_names
                .get(&rule.name.name)
                .is_some_and(|n| n.span == rule.name.span);
            if let (Some(def), true) = (self.rule(pack, rule), own) {
                self.program.rules.push(def);
            } else if own {
                // Keep ids aligned with names even when the rule has errors.
                self.program.rules.push(placeholder(pack, rule));
            }
        }
    }

    fn rule(&mut self, pack: PackId, rule: &RuleDecl) -> Option<RuleDef> {
        self.check_field_counts(rule);
        self.tables_read.clear();
        let mut ok = true;
        let mut def = placeholder(pack, rule);
        for field in &rule.fields {
            ok &= self.rule_field(pack, field, &mut def).is_some();
        }
        ok &= self.downgrades_lower(&def, rule);
        def.tables = std::mem::take(&mut self.tables_read);
        ok.then_some(def)
    }

    fn rule_field(&mut self, pack: PackId, field: &RuleField, def: &mut RuleDef) -> Option<()> {
        match field {
            RuleField::Severity(s) => def.severity = self.severity(s)?,
            RuleField::When(e) => def.when = self.expect_bool(pack, e, Place::Rule, "`when`")?,
            RuleField::Unless(e) => {
                def.unless
                    .push(self.expect_bool(pack, e, Place::Rule, "`unless`")?)
            }
            RuleField::Downgrade(s, e) => {
                let severity = self.severity(s);
                let cond = self.expect_bool(pack, e, Place::Rule, "`downgrade ... when`");
                def.downgrades.push((severity?, cond?));
            }
            RuleField::Summary(s) => def.summary = self.summary(s)?,
            RuleField::Message(s) => def.message = self.template(pack, s)?,
            RuleField::Advise(s) => def.advise = Some(self.template(pack, s)?),
            RuleField::Cite(s) => {
                if s.value.trim().is_empty() {
                    self.error(
                        Diagnostic::error("E040", s.span, "an empty citation")
                            .with_help("name the source and its version"),
                    );
                    return None;
                }
                def.cite.push(s.value.clone());
            }
            RuleField::Supersedes(names) => {
                for name in names {
                    def.supersedes.push(self.lookup_rule(Some(pack), name)?);
                }
            }
            RuleField::Override(reasons) => def
                .overrides
                .extend(reasons.iter().map(|r| r.value.clone())),
        }
        Some(())
    }

    pub(super) fn severity(&mut self, s: &crate::syntax::ast::Ident) -> Option<Severity> {
        let severity = Severity::from_name(&s.name);
        if severity.is_none() {
            let help = crate::diagnostic::suggestion(
                &s.name,
                ["contraindicated", "major", "moderate", "minor"],
                || "severities are contraindicated, major, moderate, minor".to_string(),
            );
            self.error(
                Diagnostic::error("E050", s.span, format!("unknown severity `{}`", s.name))
                    .with_help(help),
            );
        }
        severity
    }

    fn check_field_counts(&mut self, rule: &RuleDecl) {
        for (keyword, required) in [
            ("severity", true),
            ("when", true),
            ("summary", true),
            ("message", true),
            ("cite", true),
            ("advise", false),
        ] {
            let fields: Vec<&RuleField> = rule
                .fields
                .iter()
                .filter(|f| f.keyword() == keyword)
                .collect();
            if fields.is_empty() && required {
                let help = if keyword == "cite" {
                    "every clinical rule names its source".to_string()
                } else {
                    format!("add a `{keyword}` line")
                };
                self.error(
                    Diagnostic::error(
                        "E040",
                        rule.name.span,
                        format!("rule `{}` has no `{keyword}`", rule.name.name),
                    )
                    .with_help(help),
                );
            }
            if fields.len() > 1 && keyword != "cite" {
                self.error(
                    Diagnostic::error(
                        "E041",
                        field_span(fields[1]).unwrap_or(rule.name.span),
                        format!("rule `{}` has more than one `{keyword}`", rule.name.name),
                    )
                    .with_help("keep one"),
                );
            }
        }
    }

    fn downgrades_lower(&mut self, def: &RuleDef, rule: &RuleDecl) -> bool {
        let mut ok = true;
        for (i, (to, _)) in def.downgrades.iter().enumerate() {
            if *to <= def.severity {
                let span = rule
                    .fields
                    .iter()
                    .filter_map(|f| match f {
                        RuleField::Downgrade(s, _) => Some(s.span),
                        _ => None,
                    })
                    .nth(i)
                    .unwrap_or(rule.name.span);
                self.error(
                    Diagnostic::error(
                        "E050",
                        span,
                        format!(
                            "a downgrade to `{}` is not lower than the rule's `{}`",
                            to.name(),
                            def.severity.name()
                        ),
                    )
                    .with_help("downgrade to a lower severity"),
                );
                ok = false;
            }
        }
        ok
    }

    fn summary(&mut self, s: &Str) -> Option<String> {
        let chars = s.value.chars().count();
        if chars >= SUMMARY_LIMIT {
            self.error(Diagnostic::error("E042", s.span, format!("the summary has {chars} characters; a card summary must be under {SUMMARY_LIMIT}"))
                .with_help("keep the summary short and put the detail in `message`"));
            return None;
        }
        if s.value.contains('{') {
            self.error(
                Diagnostic::error("E043", s.span, "a summary is fixed text, without `{...}`")
                    .with_help("interpolate in `message` or `advise`"),
            );
            return None;
        }
        Some(s.value.clone())
    }

    fn template(&mut self, pack: PackId, s: &Str) -> Option<Template> {
        let sources = self.sources;
        let raw = sources.get(s.span.source).and_then(|src| {
            src.text
                .get(s.span.start as usize + 1..(s.span.end as usize).saturating_sub(1))
        })?;
        let base = s.span.start as usize + 1;
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut ok = true;
        let mut rest = raw.char_indices().peekable();
        while let Some((i, c)) = rest.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = rest.next() {
                        text.push(if e == 'n' { '\n' } else { e });
                    }
                }
                '{' => {
                    let Some(close) = raw[i..].find('}') else {
                        self.error(
                            Diagnostic::error(
                                "E043",
                                Span::new(s.span.source, base + i, base + i + 1),
                                "a `{` without its `}`",
                            )
                            .with_help("close the hole, or write `\\{` for a literal brace"),
                        );
                        return None;
                    };
                    let hole = &raw[i + 1..i + close];
                    let span = Span::new(s.span.source, base + i + 1, base + i + close);
                    match crate::syntax::parse_hole(hole, span) {
                        Ok(e) => match self.expr(pack, &e, Place::Template) {
                            Some(t) => {
                                pieces.push(Piece::Text(std::mem::take(&mut text)));
                                pieces.push(Piece::Hole(t));
                            }
                            _ => ok = false,
                        },
                        Err(d) => {
                            let code = if d.code == "E001" { "E043" } else { d.code };
                            self.error(Diagnostic { code, ..d });
                            ok = false;
                        }
                    }
                    while rest.peek().is_some_and(|(j, _)| *j <= i + close) {
                        rest.next();
                    }
                }
                _ => text.push(c),
            }
        }
        pieces.push(Piece::Text(text));
        pieces.retain(|p| !matches!(p, Piece::Text(t) if t.is_empty()));
        ok.then_some(Template { pieces })
    }

    pub(super) fn check_supersession_cycles(&mut self) {
        let mut graph = petgraph::graph::DiGraph::<RuleId, ()>::new();
        let nodes: Vec<_> = (0..self.program.rules.len())
            .map(|r| graph.add_node(r))
            .collect();
        for (id, rule) in self.program.rules.iter().enumerate() {
            for &target in &rule.supersedes {
                graph.add_edge(nodes[id], nodes[target], ());
            }
        }
        for cycle in cycles(&graph) {
            let names: Vec<String> = cycle
                .iter()
                .map(|&r| self.program.rules[r].name.clone())
                .collect();
            let span = self.program.rules[cycle[0]].span;
            self.error(Diagnostic::error("E031", span, format!("rules supersede each other in a cycle: {}", spell_cycle(&names)))
                .with_help("one clinical problem has one deciding rule: keep `supersedes` in one direction"));
        }
    }
}

fn field_span(field: &RuleField) -> Option<Span> {
    match field {
        RuleField::Severity(i) | RuleField::Downgrade(i, _) => Some(i.span),
        RuleField::When(e) | RuleField::Unless(e) => Some(e.span),
        RuleField::Summary(s)
        | RuleField::Message(s)
        | RuleField::Advise(s)
        | RuleField::Cite(s) => Some(s.span),
        RuleField::Supersedes(v) => v.first().map(|i| i.span),
        RuleField::Override(v) => v.first().map(|s| s.span),
    }
}

/// A rule with its name and nothing else, standing in for one that failed to check.
fn placeholder(pack: PackId, rule: &RuleDecl) -> RuleDef {
    RuleDef {
        name: rule.name.name.clone(),
        pack,
        severity: Severity::Minor,
        when: TExpr {
            kind: TKind::Bool(false),
            ty: Type::Bool,
            span: rule.span,
        },
        unless: Vec::new(),
        downgrades: Vec::new(),
        summary: String::new(),
        message: Template::default(),
        advise: None,
        cite: Vec::new(),
        supersedes: Vec::new(),
        overrides: Vec::new(),
        span: rule.span,
        disabled: false,
        withheld: false,
        tables: Vec::new(),
    }
}
