//! Tables and quantifiers: a quantity declared once per ingredient, read as `table[drug]`, and
//! `any(d in domain: body)` / `all(...)`, checked once per ingredient of a class or table.
//!
//! A quantified condition is expanded here: its body is checked with `d` bound to each
//! ingredient in turn, so every branch is an ordinary checked expression (`stopped(alprazolam,
//! route: oral, within: 14 days)`) and the compiler hash-conses the branches like any other
//! nodes. The expansion is bounded ([`MAX_EXPANDED`]) so a hostile pack cannot multiply a body
//! by a class of thousands.

use super::expr::{Place, describe};
use super::{Checker, Decl};
use crate::diagnostic::{Diagnostic, Span};
use crate::ir::*;
use crate::route::Route;
use crate::syntax::ast::{Expr, Ident, TableDecl};
use crate::units::{self, Dimension};

/// Most expression nodes one quantified condition may expand to (its body's size times the
/// number of ingredients it ranges over, nested quantifiers included).
pub const MAX_EXPANDED: usize = 20_000;

impl Checker<'_> {
    /// Declares a table's name (its entries are read once every drug is declared).
    pub(super) fn declare_table(&mut self, pack: PackId, decl: &TableDecl) -> Decl {
        let id = self.program.tables.len();
        self.program.tables.push(TableDef {
            name: decl.name.name.clone(),
            pack,
            dimension: None,
            entries: Vec::new(),
            span: decl.name.span,
        });
        Decl::Table(id)
    }

    /// Reads a table's unit and entries: every entry a declared drug, once, with a quantity of
    /// the table's dimension (or a number, in a table of factors).
    pub(super) fn define_table(&mut self, pack: PackId, id: TableId, decl: &TableDecl) {
        let dimension = if decl.unit.name == FACTOR {
            None
        } else {
            let Some(unit) = units::lookup(&decl.unit.name) else {
                self.unknown_unit(&decl.unit);
                self.broken_tables.push(id);
                return;
            };
            Some(unit.dimension)
        };
        self.program.tables[id].dimension = dimension;
        if decl.entries.is_empty() {
            self.error(
                Diagnostic::error(
                    "E040",
                    decl.name.span,
                    format!("table `{}` has no entries", decl.name.name),
                )
                .with_help(format!(
                    "add one line per ingredient, such as `alprazolam 14 {}`",
                    decl.unit.name
                )),
            );
        }
        for entry in &decl.entries {
            let drug =
                match self.lookup(pack, &entry.drug, "a drug", |d| matches!(d, Decl::Drug(_))) {
                    Some(Decl::Drug(d)) => Some(d),
                    Some(other) => {
                        self.error(
                            Diagnostic::error(
                                "E013",
                                entry.drug.span,
                                format!(
                                    "`{}` is {}; a table entry names one ingredient",
                                    entry.drug.name,
                                    other.kind()
                                ),
                            )
                            .with_help("list the class's drugs one per line"),
                        );
                        None
                    }
                    None => None,
                };
            let value = self.entry_value(pack, &entry.value, dimension, &decl.unit.name);
            let (Some(drug), Some(value)) = (drug, value) else {
                self.broken_tables.push(id);
                continue;
            };
            let table = &self.program.tables[id];
            if let Some(first) = table.entries.iter().find(|e| e.drug == drug) {
                let at = self.sources.location(first.span);
                self.error(
                    Diagnostic::error(
                        "E011",
                        entry.drug.span,
                        format!(
                            "`{}` has two entries in table `{}`",
                            entry.drug.name, decl.name.name
                        ),
                    )
                    .with_label("second entry")
                    .with_help(format!("the first is at {at}; keep one")),
                );
                continue;
            }
            self.program.tables[id].entries.push(TableEntry {
                drug,
                value,
                span: entry.drug.span.to(entry.value.span),
                value_span: entry.value.span,
            });
        }
    }

    /// An entry's quantity, in canonical units, when it has the table's dimension (a number
    /// without a unit in a table of factors).
    fn entry_value(
        &mut self,
        pack: PackId,
        e: &Expr,
        dim: Option<Dimension>,
        unit: &str,
    ) -> Option<f64> {
        let t = self.expr(pack, e, Place::Rule)?;
        let want = dim.map_or(Type::Count, Type::Quantity);
        match t.kind {
            TKind::Number(n) if t.ty == want && n.is_finite() => Some(n),
            _ => {
                let (holds, help) = match dim {
                    Some(d) => (
                        d.describe().to_string(),
                        format!("write the quantity in {unit}, such as `14 {unit}`"),
                    ),
                    None => (
                        "factors".to_string(),
                        "write a number without a unit, such as `1.5`".to_string(),
                    ),
                };
                self.error(
                    Diagnostic::error(
                        "E021",
                        e.span,
                        format!("the table holds {holds}, not {}", describe(t.ty)),
                    )
                    .with_label("wrong dimension")
                    .with_help(help),
                );
                None
            }
        }
    }

    /// Records that the rule being checked reads table `t`.
    fn note_table(&mut self, t: TableId) {
        if !self.tables_read.contains(&t) {
            self.tables_read.push(t);
        }
    }

    /// `table[drug]`: the table's quantity for the ingredient (a drug, or the bound name of a
    /// quantifier).
    pub(super) fn table_lookup(
        &mut self,
        pack: PackId,
        table: &Ident,
        key: &Ident,
        span: Span,
    ) -> Option<TExpr> {
        let t = match self.lookup(pack, table, "a table", |d| matches!(d, Decl::Table(_)))? {
            Decl::Table(t) => t,
            other => {
                self.error(
                    Diagnostic::error(
                        "E013",
                        table.span,
                        format!(
                            "`{}` is {}; `NAME[drug]` reads a table",
                            table.name,
                            other.kind()
                        ),
                    )
                    .with_help("declare a `table` of one quantity per ingredient"),
                );
                return None;
            }
        };
        let drug = match self.lookup(pack, key, "a drug", |d| matches!(d, Decl::Drug(_)))? {
            Decl::Drug(d) => d,
            other => {
                self.error(
                    Diagnostic::error(
                        "E013",
                        key.span,
                        format!(
                            "`{}` is {}; a table is read for one ingredient",
                            key.name,
                            other.kind()
                        ),
                    )
                    .with_help(format!(
                        "name a drug, or range over the class: `any(d in {}: ... {}[d] ...)`",
                        key.name, table.name
                    )),
                );
                return None;
            }
        };
        self.note_table(t);
        let def = &self.program.tables[t];
        match def.get(drug) {
            Some(value) => Some(TExpr {
                kind: TKind::Number(value),
                ty: def.ty(),
                span,
            }),
            // An entry that failed to check was reported already.
            None if self.broken_tables.contains(&t) => None,
            None => {
                let (name, drug_name) = (def.name.clone(), self.program.drugs[drug].name.clone());
                self.error(
                    Diagnostic::error(
                        "E010",
                        span,
                        format!("table `{name}` has no entry for `{drug_name}`"),
                    )
                    .with_label("no entry")
                    .with_help(format!(
                        "add a line `{drug_name} QUANTITY` to table `{name}`, or range over the table itself"
                    )),
                );
                None
            }
        }
    }

    /// `any(var in domain: body)`, `all(...)` or `sum(...)`: the body checked once per
    /// ingredient; a condition for `any` and `all`, a number or a quantity for `sum`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of one quantified expression"
    )]
    pub(super) fn quantified(
        &mut self,
        pack: PackId,
        quantifier: Quantifier,
        var: &Ident,
        domain: &Ident,
        body: &Expr,
        span: Span,
        place: Place,
    ) -> Option<TExpr> {
        if !self.bindable(var) {
            return None;
        }
        let members = self.domain_members(pack, quantifier, domain)?;
        let what = format!("the body of `{}`", quantifier.word());
        let mut branches = Vec::with_capacity(members.len());
        let mut failed = false;
        let mut ty = Type::Bool;
        for (i, &drug) in members.iter().enumerate() {
            self.bound.push((var.name.clone(), drug));
            let branch = if quantifier == Quantifier::Sum {
                self.summand(pack, body, place, i == 0)
            } else {
                self.expect_bool(pack, body, place, &what)
            };
            self.bound.pop();
            match branch {
                Some(b) => {
                    if i == 0 && size(&b).saturating_mul(members.len()) > MAX_EXPANDED {
                        self.error(
                            Diagnostic::error(
                                "E003",
                                span,
                                format!(
                                    "`{}` over {} ingredients expands to more than {MAX_EXPANDED} expression nodes",
                                    quantifier.word(),
                                    members.len()
                                ),
                            )
                            .with_help("range over a smaller class or table, or shorten the body"),
                        );
                        return None;
                    }
                    ty = b.ty;
                    branches.push((drug, b));
                }
                // A mistake in the body itself is reported once, for the first ingredient.
                None if i == 0 => return None,
                None => failed = true,
            }
        }
        if failed {
            return None;
        }
        Some(TExpr {
            kind: TKind::Quantified(Box::new(Quantified {
                quantifier,
                var: var.name.clone(),
                domain: domain.name.clone(),
                branches,
            })),
            ty,
            span,
        })
    }

    /// The body of `sum` for one ingredient: a number or a quantity (its mistakes reported for
    /// the first ingredient only).
    fn summand(&mut self, pack: PackId, body: &Expr, place: Place, first: bool) -> Option<TExpr> {
        let t = self.expr(pack, body, place)?;
        if matches!(t.ty, Type::Count | Type::Quantity(_)) {
            return Some(t);
        }
        if first {
            self.error(
                Diagnostic::error(
                    "E020",
                    body.span,
                    format!(
                        "the body of `sum` needs a number or a quantity, not {}",
                        describe(t.ty)
                    ),
                )
                .with_help("add quantities, for example `sum(d in mme_by_mouth: daily_dose(d, route: oral) * mme_by_mouth[d])`"),
            );
        }
        None
    }

    /// A quantifier's name may not hide a declared name, a word of the language or an outer
    /// quantifier's name.
    fn bindable(&mut self, var: &Ident) -> bool {
        let taken = if let Some(named) = self.names.get(&var.name) {
            Some(named.value.kind())
        } else if self.bound.iter().any(|(n, _)| *n == var.name) {
            Some("the name of an enclosing quantifier")
        } else if matches!(var.name.as_str(), "age" | "as_of")
            || Route::from_rule_name(&var.name).is_some()
        {
            Some("a word of the language")
        } else {
            None
        };
        let Some(kind) = taken else { return true };
        self.error(
            Diagnostic::error(
                "E011",
                var.span,
                format!("`{}` is already {kind}", var.name),
            )
            .with_help("bind the ingredient to a name of its own, such as `d`"),
        );
        false
    }

    /// The ingredients a quantifier ranges over: a class's members, or a table's entries in the
    /// order written.
    fn domain_members(
        &mut self,
        pack: PackId,
        quantifier: Quantifier,
        domain: &Ident,
    ) -> Option<Vec<DrugId>> {
        match self.lookup(pack, domain, "a class or table", |d| {
            matches!(d, Decl::Class(_) | Decl::Table(_))
        })? {
            Decl::Class(c) => Some(self.program.classes[c].members.clone()),
            Decl::Table(t) => {
                self.note_table(t);
                Some(
                    self.program.tables[t]
                        .entries
                        .iter()
                        .map(|e| e.drug)
                        .collect(),
                )
            }
            other => {
                self.error(
                    Diagnostic::error(
                        "E013",
                        domain.span,
                        format!(
                            "`{}` is {}; `{}` ranges over a class or a table",
                            domain.name,
                            other.kind(),
                            quantifier.word()
                        ),
                    )
                    .with_help(format!(
                        "write the condition for the drug directly, without `{}`",
                        quantifier.word()
                    )),
                );
                None
            }
        }
    }
}

/// The number of nodes of a checked expression.
fn size(e: &TExpr) -> usize {
    1 + e.children().into_iter().map(size).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::{Diagnostic, SourceMap};
    use crate::ir::{Program, TKind};

    const VOCAB: &str = "pack t \"T\" version \"1\"\ndrug alprazolam { atc \"N05BA12\" }\ndrug diazepam { atc \"N05BA01\" }\nclass benzo = atc \"N05BA\"\n";

    fn check(extra: &str) -> Result<Program, Vec<Diagnostic>> {
        let mut map = SourceMap::default();
        map.add("t.rules", format!("{VOCAB}{extra}"));
        crate::check::check(&map)
    }

    fn rule(when: &str) -> String {
        format!(
            "rule r {{\n  severity major\n  when {when}\n  summary \"s\"\n  message \"m\"\n  cite \"c\"\n}}\n"
        )
    }

    fn codes(extra: &str) -> Vec<&'static str> {
        check(extra)
            .err()
            .unwrap_or_default()
            .iter()
            .map(|d| d.code)
            .collect()
    }

    const TABLE: &str = "table window: days {\n  alprazolam 14 days\n  diazepam 21 days\n}\n";

    #[test]
    fn a_quantifier_expands_to_one_branch_per_entry_with_its_quantity() {
        let p = check(&format!(
            "{TABLE}{}",
            rule("any(d in window: stopped(d, route: oral, within: window[d]))")
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        let TKind::Quantified(q) = &p.rules[0].when.kind else {
            panic!("{:?}", p.rules[0].when)
        };
        let windows: Vec<_> = q
            .branches
            .iter()
            .map(|(d, b)| match b.kind {
                TKind::Stopped(drug, _, w) if drug == *d => w,
                _ => -1,
            })
            .collect();
        assert_eq!(windows, [14, 21]);
        assert_eq!(p.rules[0].tables, [0]);
    }

    #[test]
    fn table_entries_are_checked_like_the_rest_of_the_language() {
        let near = codes("table w: days {\n  alprazolan 14 days\n}\n");
        assert_eq!(near, ["E010"]);
        let help = check("table w: days {\n  alprazolan 14 days\n}\n").unwrap_err()[0]
            .help
            .clone();
        assert!(help.is_some_and(|h| h.contains("alprazolam")));
        assert_eq!(codes("table w: days {\n  diazepam 21 mg\n}\n"), ["E021"]);
        assert_eq!(codes("table w: days {\n  diazepam 21\n}\n"), ["E021"]);
        assert_eq!(
            codes("table w: days {\n  diazepam 21 days\n  diazepam 7 days\n}\n"),
            ["E011"]
        );
        assert_eq!(codes("table w: days {\n  benzo 21 days\n}\n"), ["E013"]);
        assert_eq!(codes("table w: dayz {\n  diazepam 21 days\n}\n"), ["E022"]);
        assert_eq!(codes("table w: days {\n}\n"), ["E040"]);
    }

    #[test]
    fn reading_a_table_is_typed_by_its_dimension() {
        let compare = |when: &str| codes(&format!("{TABLE}{}", rule(when)));
        assert!(compare("stopped(diazepam, route: oral, within: window[diazepam])").is_empty());
        assert_eq!(compare("window[diazepam] > 3 mg"), ["E021"]);
        assert_eq!(compare("window[benzo] > 3 days"), ["E013"]);
        assert_eq!(
            compare("any(d in benzo: window[d] > 3 days)"),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn a_class_member_without_an_entry_is_named() {
        let src = format!(
            "table w: days {{\n  alprazolam 14 days\n}}\n{}",
            rule("any(d in benzo: stopped(d, route: oral, within: w[d]))")
        );
        let errors = check(&src).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message.contains("no entry for `diazepam`"),
            "{errors:?}"
        );
    }

    #[test]
    fn bound_names_are_fresh_and_not_values() {
        let q = |when: &str| codes(&format!("{TABLE}{}", rule(when)));
        assert_eq!(q("any(diazepam in window: taking(diazepam))"), ["E011"]);
        assert_eq!(q("any(age in window: taking(age))"), ["E011"]);
        assert_eq!(q("any(d in window: any(d in benzo: taking(d)))"), ["E011"]);
        assert_eq!(q("any(d in window: d)"), ["E020"]);
        assert_eq!(q("any(d in diazepam: taking(d))"), ["E013"]);
        assert_eq!(q("any(d in window: count(d))"), ["E020"]);
        // One mistake in the body is one diagnostic, not one per ingredient.
        assert_eq!(q("any(d in window: takin(d))"), ["E010"]);
        assert!(q("any(d in window: all(e in benzo: taking(d) and taking(e)))").is_empty());
        assert_eq!(q("taking(d)"), ["E010"]);
    }

    #[test]
    fn a_quantifier_cannot_expand_without_bound() {
        let drugs: String = (0..300)
            .map(|i| format!("drug d{i} {{ atc \"N06AA{:02}\" }}\n", i % 100))
            .collect();
        let body = "taking(x) and taking(y) and taking(x) and taking(y) and taking(x)";
        let src = format!(
            "{drugs}class many = atc \"N06AA\"\n{}",
            rule(&format!("any(x in many: any(y in many: {body}))"))
        );
        assert!(codes(&src).contains(&"E003"));
    }
}
