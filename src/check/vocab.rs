//! Vocabulary: drugs, classes (flattened to member ingredients), conditions and labs.

use super::{Checker, Decl, cycles, spell_cycle};
use crate::diagnostic::{Diagnostic, SourceId, did_you_mean, suggestion};
use crate::ir::*;
use crate::route::{ROUTES, Route};
use crate::syntax::ast::{ClassExpr, CodeList, Ident, Item, PackAst, Str};
use crate::units::{self, Dimension};

impl Checker<'_> {
    pub(super) fn declare_vocabulary(&mut self, pack: PackId, items: &[Item]) {
        for item in items {
            let (ident, decl) = match item {
                Item::Drug(d) => (
                    &d.name,
                    Decl::Drug(self.push_drug(d.name.clone(), d.name.span)),
                ),
                Item::Class(c) => {
                    let id = self.program.classes.len();
                    self.program.classes.push(ClassDef {
                        name: c.name.name.clone(),
                        members: Vec::new(),
                        span: c.name.span,
                    });
                    (&c.name, Decl::Class(id))
                }
                Item::Condition(c) => {
                    let id = self.program.conditions.len();
                    self.program.conditions.push(ConditionDef {
                        name: c.name.name.clone(),
                        icd10: Vec::new(),
                        snomed: Vec::new(),
                        span: c.name.span,
                    });
                    (&c.name, Decl::Condition(id))
                }
                Item::Lab(l) => {
                    let id = self.program.labs.len();
                    self.program.labs.push(LabDef {
                        name: l.name.name.clone(),
                        loinc: Vec::new(),
                        dimension: Dimension::Clearance,
                        window_days: 0,
                        computed: None,
                        span: l.name.span,
                    });
                    (&l.name, Decl::Lab(id))
                }
                Item::Table(t) => (&t.name, self.declare_table(pack, t)),
                Item::Rule(_) | Item::Test(_) => continue,
            };
            self.declare_name(pack, ident, decl);
        }
    }

    fn push_drug(&mut self, name: Ident, span: crate::diagnostic::Span) -> DrugId {
        let id = self.program.drugs.len();
        let written = name.name.replace('_', " ");
        self.program.drugs.push(DrugDef {
            name: name.name,
            rxnorm: Vec::new(),
            atc: Vec::new(),
            names: vec![(written, None)],
            span,
        });
        id
    }

    /// The id a declaration got, when it was not a duplicate.
    fn own_decl(&self, ident: &Ident) -> Option<Decl> {
        self.names
            .get(&ident.name)
            .filter(|n| n.span == ident.span)
            .map(|n| n.value)
    }

    pub(super) fn define_vocabulary(&mut self, pack: PackId, items: &[Item]) {
        for item in items {
            match item {
                Item::Drug(d) => {
                    let Some(Decl::Drug(id)) = self.own_decl(&d.name) else {
                        continue;
                    };
                    self.define_drug(id, &d.codes, &d.brands);
                }
                Item::Condition(c) => {
                    let Some(Decl::Condition(id)) = self.own_decl(&c.name) else {
                        continue;
                    };
                    for list in &c.codes {
                        match list.field.name.as_str() {
                            "icd10" => {
                                let codes = self.codes(
                                    list,
                                    valid_icd10,
                                    "ICD-10-CM codes look like `G40` or `G40.909`",
                                );
                                self.program.conditions[id]
                                    .icd10
                                    .extend(codes.into_iter().map(|c| c.replace('.', "")));
                            }
                            "snomed" => {
                                let codes = self.codes(
                                    list,
                                    |c| c.bytes().all(|b| b.is_ascii_digit()) && !c.is_empty(),
                                    "SNOMED CT ids are digits",
                                );
                                self.program.conditions[id].snomed.extend(codes);
                            }
                            _ => self.bad_field(&list.field, "a condition", "icd10, snomed"),
                        }
                    }
                }
                Item::Lab(l) => {
                    let Some(Decl::Lab(id)) = self.own_decl(&l.name) else {
                        continue;
                    };
                    self.define_lab(pack, id, l);
                    if let Some((method, input)) = &l.computed {
                        self.derived_labs
                            .push((id, pack, method.clone(), input.clone()));
                    }
                }
                Item::Table(t) => {
                    let Some(Decl::Table(id)) = self.own_decl(&t.name) else {
                        continue;
                    };
                    self.define_table(pack, id, t);
                }
                _ => {}
            }
        }
    }

    fn define_drug(
        &mut self,
        id: DrugId,
        codes: &[CodeList],
        brands: &[crate::syntax::ast::BrandList],
    ) {
        for list in codes {
            match list.field.name.as_str() {
                "rxnorm" => {
                    let codes = self.codes(
                        list,
                        |c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()),
                        "RxNorm codes (RxCUI) are digits",
                    );
                    self.program.drugs[id].rxnorm.extend(codes);
                }
                "atc" => {
                    let codes = self.codes(
                        list,
                        |c| valid_atc(c) && c.len() == 7,
                        "a drug's ATC code has 7 characters, such as `M03BX01`",
                    );
                    self.program.drugs[id].atc.extend(codes);
                }
                "synonym" => {
                    let names: Vec<(String, Option<Route>)> = list
                        .values
                        .iter()
                        .map(|s| (s.value.to_lowercase(), None))
                        .collect();
                    self.program.drugs[id].names.extend(names);
                }
                _ => self.bad_field(&list.field, "a drug", "rxnorm, atc, brand, synonym"),
            }
        }
        for brand in brands {
            let route = brand.route.as_ref().and_then(|r| self.route_name(r));
            let names: Vec<(String, Option<Route>)> = brand
                .names
                .iter()
                .map(|s| (s.value.to_lowercase(), route))
                .collect();
            self.program.drugs[id].names.extend(names);
        }
    }

    pub(super) fn route_name(&mut self, ident: &Ident) -> Option<Route> {
        let route = Route::from_rule_name(&ident.name);
        if route.is_none() {
            let names = ROUTES.iter().map(|r| r.name());
            let help = suggestion(&ident.name, names, || {
                let all: Vec<&str> = ROUTES.iter().map(|r| r.name()).collect();
                format!("routes are: {}", all.join(", "))
            });
            self.error(
                Diagnostic::error(
                    "E050",
                    ident.span,
                    format!("unknown route `{}`", ident.name),
                )
                .with_help(help),
            );
        }
        route
    }

    fn define_lab(&mut self, pack: PackId, id: LabId, lab: &crate::syntax::ast::LabDecl) {
        for list in &lab.codes {
            if list.field.name == "loinc" {
                let codes = self.codes(list, valid_loinc, "LOINC codes look like `62238-1`");
                self.program.labs[id].loinc.extend(codes);
            } else {
                self.bad_field(&list.field, "a lab", "loinc, unit, within");
            }
        }
        match &lab.unit {
            Some(unit) => match units::lookup(&unit.name) {
                Some(u) => self.program.labs[id].dimension = u.dimension,
                None => self.unknown_unit(unit),
            },
            None => self.error(
                Diagnostic::error(
                    "E040",
                    lab.name.span,
                    format!("lab `{}` has no `unit`", lab.name.name),
                )
                .with_help("add its canonical unit, such as `unit mL/min/1.73m2`"),
            ),
        }
        match &lab.within {
            Some(within) => {
                if let Some(days) = self.duration_days(pack, within) {
                    self.program.labs[id].window_days = days;
                }
            }
            None => self.error(
                Diagnostic::error(
                    "E040",
                    lab.name.span,
                    format!("lab `{}` has no look-back window", lab.name.name),
                )
                .with_help("add `within 365 days`: results older than the window are not read"),
            ),
        }
    }

    /// Checks `computed METHOD(INPUT)` of every lab, once all labs have their units.
    pub(super) fn define_derivations(&mut self) {
        const METHODS: [&str; 2] = ["cockcroft_gault", "per_body_surface"];
        for (id, pack, method, input) in std::mem::take(&mut self.derived_labs) {
            if !METHODS.contains(&method.name.as_str()) {
                let help = suggestion(&method.name, METHODS, || {
                    "the derivations are `cockcroft_gault(CREATININE)` and \
                     `per_body_surface(CLEARANCE)`"
                        .to_string()
                });
                self.error(
                    Diagnostic::error(
                        "E050",
                        method.span,
                        format!("unknown derivation `{}`", method.name),
                    )
                    .with_help(help),
                );
                continue;
            }
            let Some(Decl::Lab(from)) =
                self.lookup(pack, &input, "a lab", |d| matches!(d, Decl::Lab(_)))
            else {
                continue;
            };
            let cockcroft_gault = method.name == "cockcroft_gault";
            let (gives, reads) = if cockcroft_gault {
                (Dimension::Clearance, Dimension::Concentration)
            } else {
                (Dimension::ClearancePerBsa, Dimension::Clearance)
            };
            let what = if cockcroft_gault {
                (
                    "Cockcroft-Gault gives a clearance in mL/min",
                    "Cockcroft-Gault reads serum creatinine in mg/dL",
                )
            } else {
                (
                    "a clearance per body surface is in mL/min/1.73m2",
                    "a clearance per body surface is computed from a clearance in mL/min",
                )
            };
            let lab = &self.program.labs[id];
            if lab.dimension != gives {
                let message = format!(
                    "{}, but lab `{}` is {}",
                    what.0,
                    lab.name,
                    lab.dimension.describe()
                );
                self.error(
                    Diagnostic::error("E021", method.span, message)
                        .with_help(format!("give the lab `unit {}`", gives.canonical_unit())),
                );
                continue;
            }
            let input_dim = self.program.labs[from].dimension;
            if input_dim != reads {
                let message = format!(
                    "{}, but lab `{}` is {}",
                    what.1,
                    input.name,
                    input_dim.describe()
                );
                self.error(Diagnostic::error("E021", input.span, message).with_help(
                    if cockcroft_gault {
                        "name the serum creatinine lab, declared with `unit mg/dL`"
                    } else {
                        "name the clearance lab, declared with `unit mL/min`"
                    },
                ));
                continue;
            }
            self.program.labs[id].computed = Some(if cockcroft_gault {
                Derivation::CockcroftGault { creatinine: from }
            } else {
                Derivation::PerBodySurface { clearance: from }
            });
        }
    }

    pub(super) fn unknown_unit(&mut self, unit: &Ident) {
        self.error(unknown_unit(unit));
    }
}

/// E022, with the units the name starts or nearly matches.
pub(super) fn unknown_unit(unit: &Ident) -> Diagnostic {
    let starting: Vec<&str> = units::UNITS
        .iter()
        .map(|u| u.token)
        .filter(|t| t.starts_with(unit.name.as_str()))
        .collect();
    let help = match (
        starting.as_slice(),
        did_you_mean(&unit.name, units::UNITS.iter().map(|u| u.token)),
    ) {
        ([one], _) => format!("did you mean `{one}`?"),
        ([_, ..], _) => format!("did you mean one of: {}?", starting.join(", ")),
        ([], Some(s)) => format!("did you mean `{s}`?"),
        ([], None) => format!(
            "units are: {}",
            units::UNITS
                .iter()
                .map(|u| u.token)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Diagnostic::error("E022", unit.span, format!("unknown unit `{}`", unit.name)).with_help(help)
}

impl Checker<'_> {
    fn codes(&mut self, list: &CodeList, valid: impl Fn(&str) -> bool, help: &str) -> Vec<String> {
        let mut out = Vec::new();
        for s in &list.values {
            if valid(&s.value) {
                out.push(s.value.clone());
            } else {
                self.bad_code(s, help);
            }
        }
        out
    }

    fn bad_code(&mut self, s: &Str, help: &str) {
        self.error(
            Diagnostic::error(
                "E051",
                s.span,
                format!("`{}` is not a valid code here", s.value),
            )
            .with_help(help.to_string()),
        );
    }

    fn bad_field(&mut self, field: &Ident, what: &str, fields: &str) {
        self.error(
            Diagnostic::error(
                "E050",
                field.span,
                format!("{what} has no field `{}`", field.name),
            )
            .with_help(format!("its fields are: {fields}")),
        );
    }

    pub(super) fn flatten_classes(&mut self, parsed: &[(SourceId, PackAst)]) {
        let decls: Vec<(PackId, &crate::syntax::ast::ClassDecl)> = parsed
            .iter()
            .flat_map(|(id, ast)| {
                let pack = self.pack_of_source[id];
                ast.items.iter().filter_map(move |i| match i {
                    Item::Class(c) => Some((pack, c)),
                    _ => None,
                })
            })
            .collect();
        let mut exprs: Vec<Option<(PackId, &ClassExpr)>> = vec![None; self.program.classes.len()];
        for (pack, decl) in &decls {
            if let Some(Decl::Class(id)) = self.own_decl(&decl.name) {
                exprs[id] = Some((*pack, &decl.expr));
            }
        }
        let mut graph = petgraph::graph::DiGraph::<ClassId, ()>::new();
        let nodes: Vec<_> = (0..exprs.len()).map(|c| graph.add_node(c)).collect();
        for (id, e) in exprs.iter().enumerate() {
            let Some((pack, expr)) = e else { continue };
            for name in class_names(expr) {
                match self.lookup(*pack, name, "a drug or class", |d| {
                    matches!(d, Decl::Drug(_) | Decl::Class(_))
                }) {
                    Some(Decl::Class(dep)) => {
                        graph.add_edge(nodes[id], nodes[dep], ());
                    }
                    Some(Decl::Drug(_)) | None => {}
                    Some(other) => self.error(
                        Diagnostic::error(
                            "E013",
                            name.span,
                            format!("`{}` is {}, not a drug or class", name.name, other.kind()),
                        )
                        .with_help("a class is built from drugs, ATC prefixes and other classes"),
                    ),
                }
            }
        }
        let cyclic = cycles(&graph);
        let mut in_cycle = vec![false; exprs.len()];
        for cycle in &cyclic {
            let names: Vec<String> = cycle
                .iter()
                .map(|&c| self.program.classes[c].name.clone())
                .collect();
            let span = self.program.classes[cycle[0]].span;
            self.error(
                Diagnostic::error(
                    "E030",
                    span,
                    format!("class defined through itself: {}", spell_cycle(&names)),
                )
                .with_label("this class")
                .with_help("a class cannot contain itself; break the cycle"),
            );
            cycle.iter().for_each(|&c| in_cycle[c] = true);
        }
        let order = petgraph::algo::toposort(&graph, None).unwrap_or_default();
        for node in order.into_iter().rev() {
            let id = graph[node];
            if let (Some((pack, expr)), false) = (exprs[id], in_cycle[id]) {
                let mut members = self.members(pack, expr);
                members.sort_unstable();
                members.dedup();
                self.program.classes[id].members = members;
            }
        }
    }

    fn members(&mut self, pack: PackId, expr: &ClassExpr) -> Vec<DrugId> {
        match expr {
            ClassExpr::Name(ident) => match self.names.get(&ident.name).map(|n| n.value) {
                Some(Decl::Drug(d)) if self.visible(pack, self.names[&ident.name].pack) => vec![d],
                Some(Decl::Class(c)) => self.program.classes[c].members.clone(),
                _ => Vec::new(),
            },
            ClassExpr::Atc(prefix) => {
                if !valid_atc(&prefix.value) {
                    self.bad_code(
                        prefix,
                        "ATC prefixes are upper case, such as `N02A` or `N05BA`",
                    );
                    return Vec::new();
                }
                self.program
                    .drugs
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.atc.iter().any(|a| a.starts_with(&prefix.value)))
                    .map(|(i, _)| i)
                    .collect()
            }
            ClassExpr::Union(terms) => terms.iter().flat_map(|t| self.members(pack, t)).collect(),
            ClassExpr::Except(base, removed) => {
                let removed = self.members(pack, removed);
                self.members(pack, base)
                    .into_iter()
                    .filter(|d| !removed.contains(d))
                    .collect()
            }
        }
    }
}

fn class_names(expr: &ClassExpr) -> Vec<&Ident> {
    match expr {
        ClassExpr::Name(i) => vec![i],
        ClassExpr::Atc(_) => Vec::new(),
        ClassExpr::Union(terms) => terms.iter().flat_map(class_names).collect(),
        ClassExpr::Except(a, b) => class_names(a).into_iter().chain(class_names(b)).collect(),
    }
}

/// An ATC code or prefix: a letter, then digits and letters in the WHO pattern (`N`, `N02`,
/// `N02A`, `N02AB`, `N02AB03`).
fn valid_atc(code: &str) -> bool {
    let b = code.as_bytes();
    let shape = [
        u8::is_ascii_uppercase,
        u8::is_ascii_digit,
        u8::is_ascii_digit,
        u8::is_ascii_uppercase,
        u8::is_ascii_uppercase,
        u8::is_ascii_digit,
        u8::is_ascii_digit,
    ];
    matches!(b.len(), 1 | 3 | 4 | 5 | 7) && b.iter().zip(shape).all(|(c, f)| f(c))
}

fn valid_icd10(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() >= 3
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'.')
}

fn valid_loinc(code: &str) -> bool {
    let mut parts = code.split('-');
    let (Some(num), Some(check), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
        && check.len() == 1
        && check.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atc_codes_follow_the_who_pattern() {
        for ok in ["N", "N02", "N02A", "N05BA", "M03BX01"] {
            assert!(valid_atc(ok), "{ok}");
        }
        for bad in ["n02a", "N2", "N02a", "M03BX1", "M03BX011", ""] {
            assert!(!valid_atc(bad), "{bad}");
        }
    }

    #[test]
    fn loinc_and_icd10_shapes() {
        assert!(valid_loinc("62238-1"));
        assert!(!valid_loinc("62238"));
        assert!(valid_icd10("G40.909") && valid_icd10("Z91.81") && !valid_icd10("g40"));
    }
}
