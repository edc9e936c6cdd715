//! Typing expressions: names resolved, units checked by dimension, quantities made canonical.

use super::{Checker, Decl};
use crate::diagnostic::{Diagnostic, Span, suggestion};
use crate::ir::*;
use crate::route::Route;
use crate::syntax::ast::{Arg, BinOp, Expr, ExprKind, Ident};
use crate::units::{self, Dimension};

/// The functions of the language, for "did you mean".
const FUNCTIONS: &[&str] = &[
    "taking",
    "new",
    "reduced",
    "count",
    "has",
    "had",
    "lab",
    "daily_dose",
    "route",
    "stopped",
    "tapered",
    "stop_date",
    "drugs",
    "any",
    "all",
    "sum",
];

/// Where an expression stands: `drugs(x)` is only allowed in templates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Rule,
    Template,
}

type Typed = Option<TExpr>;

fn typed(kind: TKind, ty: Type, span: Span) -> Typed {
    Some(TExpr { kind, ty, span })
}

impl Checker<'_> {
    pub(super) fn expr(&mut self, pack: PackId, e: &Expr, place: Place) -> Typed {
        match &e.kind {
            ExprKind::Bool(b) => typed(TKind::Bool(*b), Type::Bool, e.span),
            ExprKind::Number(n, None) => typed(TKind::Number(*n), Type::Count, e.span),
            ExprKind::Number(n, Some(unit)) => match units::lookup(&unit.name) {
                Some(u) => typed(
                    TKind::Number(n * u.factor),
                    Type::Quantity(u.dimension),
                    e.span,
                ),
                None => {
                    self.unknown_unit(unit);
                    None
                }
            },
            ExprKind::Date(d) => typed(TKind::Date(*d), Type::Date, e.span),
            ExprKind::Name(ident) if ident.name.starts_with("invalid date ") => {
                let written = &ident.name["invalid date ".len()..];
                self.error(
                    Diagnostic::error(
                        "E050",
                        ident.span,
                        format!("`{written}` is not a calendar date"),
                    )
                    .with_help("write a day that exists, YYYY-MM-DD"),
                );
                None
            }
            ExprKind::Name(ident) => self.bare_name(pack, ident),
            ExprKind::Call(func, args) => self.call(pack, func, args, e.span, place),
            ExprKind::Not(inner) => {
                let inner = self.expect_bool(pack, inner, place, "`not`")?;
                typed(TKind::Not(Box::new(inner)), Type::Bool, e.span)
            }
            ExprKind::Binary(op, a, b) => self.binary(pack, *op, a, b, e.span, place),
            ExprKind::Lookup(table, key) => self.table_lookup(pack, table, key, e.span),
            ExprKind::Quantified {
                quantifier,
                var,
                domain,
                body,
            } => self.quantified(pack, *quantifier, var, domain, body, e.span, place),
        }
    }

    pub(super) fn expect_bool(
        &mut self,
        pack: PackId,
        e: &Expr,
        place: Place,
        what: &str,
    ) -> Typed {
        let t = self.expr(pack, e, place)?;
        if t.ty != Type::Bool {
            self.error(Diagnostic::error("E020", e.span, format!("{what} needs a condition that is true or false, not {}", describe(t.ty)))
                .with_help("compare the value, for example `count(opioid) >= 2` or `lab(egfr) < 60 mL/min/1.73m2`"));
            return None;
        }
        Some(t)
    }

    fn bare_name(&mut self, pack: PackId, ident: &Ident) -> Typed {
        match ident.name.as_str() {
            "age" => return typed(TKind::Age, Type::Quantity(Dimension::Age), ident.span),
            "as_of" => return typed(TKind::AsOf, Type::Date, ident.span),
            _ => {}
        }
        if Route::from_rule_name(&ident.name).is_some() {
            self.error(
                Diagnostic::error(
                    "E020",
                    ident.span,
                    format!("the route `{}` stands alone here", ident.name),
                )
                .with_help(format!(
                    "routes are compared with `route(drug) == {}` or passed as `route: {}`",
                    ident.name, ident.name
                )),
            );
            return None;
        }
        if self.bound.iter().any(|(n, _)| *n == ident.name) {
            self.error(
                Diagnostic::error(
                    "E020",
                    ident.span,
                    format!("`{}` is an ingredient, not a value", ident.name),
                )
                .with_help(format!(
                    "read it with a predicate, such as `taking({})`",
                    ident.name
                )),
            );
            return None;
        }
        if let Some(named) = self.names.get(&ident.name).copied() {
            let call = match named.value {
                Decl::Drug(_) | Decl::Class(_) => format!("taking({})", ident.name),
                Decl::Condition(_) => format!("has({})", ident.name),
                Decl::Lab(_) => format!("lab({})", ident.name),
                Decl::Table(_) => format!("{}[drug]", ident.name),
            };
            self.error(
                Diagnostic::error(
                    "E020",
                    ident.span,
                    format!("`{}` is {}, not a value", ident.name, named.value.kind()),
                )
                .with_help(format!("write `{call}`")),
            );
            return None;
        }
        let _ = self.lookup(pack, ident, "a value", |_| true);
        None
    }

    fn call(
        &mut self,
        pack: PackId,
        func: &Ident,
        args: &[Arg],
        span: Span,
        place: Place,
    ) -> Typed {
        let f = func.name.as_str();
        match f {
            "taking" | "new" | "count" | "drugs" => {
                if f == "drugs" && place != Place::Template {
                    self.error(
                        Diagnostic::error(
                            "E020",
                            func.span,
                            "`drugs(...)` lists medications and is only allowed in messages",
                        )
                        .with_help("use `taking(...)` or `count(...)` in conditions"),
                    );
                    return None;
                }
                if f == "taking" && Self::named_arg(args, "route").is_some() {
                    return self.taking_by(pack, func, args, span);
                }
                let named: &[&str] = match f {
                    "count" | "drugs" => &["scheduled"],
                    _ => &[],
                };
                let ident = self.one_name(func, args, span, named)?;
                let set = self.set_of(pack, ident)?;
                let dosing = match Self::named_arg(args, "scheduled") {
                    Some(arg) => self.dosing(arg)?,
                    None => Dosing::Any,
                };
                let (kind, ty) = match f {
                    "taking" => (TKind::Taking(set), Type::Bool),
                    "new" => (TKind::New(set), Type::Bool),
                    "count" => (TKind::Count(set, dosing), Type::Count),
                    _ => (TKind::Drugs(set, dosing), Type::Entries),
                };
                typed(kind, ty, span)
            }
            "has" | "had" => {
                let ident = self.one_name(func, args, span, &[])?;
                match self.lookup(pack, ident, "a condition", |d| {
                    matches!(d, Decl::Condition(_))
                })? {
                    Decl::Condition(c) => typed(
                        if f == "has" {
                            TKind::Has(c)
                        } else {
                            TKind::Had(c)
                        },
                        Type::Bool,
                        span,
                    ),
                    other => self.wrong_kind(ident, other, "a condition"),
                }
            }
            "lab" => self.lab_call(pack, func, args, span),
            "reduced" => {
                let ident = self.one_name(func, args, span, &["within"])?;
                let set = match self.lookup(pack, ident, "a drug or class", |d| {
                    matches!(d, Decl::Drug(_) | Decl::Class(_))
                })? {
                    Decl::Drug(d) => SetRef::Drug(d),
                    Decl::Class(c) => SetRef::Class(c),
                    other => return self.wrong_kind(ident, other, "a drug or class"),
                };
                let Some(within) = Self::named_arg(args, "within") else {
                    self.error(
                        Diagnostic::error("E050", span, "`reduced` needs a window")
                            .with_help(format!("write `reduced({}, within: 30 days)`", ident.name)),
                    );
                    return None;
                };
                let days = self.duration_days(pack, &within.value)?;
                typed(TKind::Reduced(set, days), Type::Bool, span)
            }
            "daily_dose" | "stopped" | "tapered" | "stop_date" | "route" => {
                self.drug_call(pack, func, args, span, place)
            }
            _ => {
                let help = suggestion(f, FUNCTIONS.iter().copied(), || {
                    format!("the functions are: {}", FUNCTIONS.join(", "))
                });
                self.error(
                    Diagnostic::error("E010", func.span, format!("unknown function `{f}`"))
                        .with_help(help),
                );
                None
            }
        }
    }

    /// `taking(x, route: r)`, where `r` is a route or `systemic`.
    fn taking_by(&mut self, pack: PackId, func: &Ident, args: &[Arg], span: Span) -> Typed {
        let ident = self.one_name(func, args, span, &["route"])?;
        let set = self.set_of(pack, ident)?;
        let arg = Self::named_arg(args, "route")?;
        let ExprKind::Name(r) = &arg.value.kind else {
            self.error(Diagnostic::error(
                "E050",
                arg.value.span,
                "a route is a name such as `oral` or `systemic`",
            ));
            return None;
        };
        let routes = match crate::route::Routes::from_rule_name(&r.name) {
            Some(routes) => routes,
            None => {
                self.route_name(r);
                return None;
            }
        };
        typed(TKind::TakingBy(set, routes), Type::Bool, span)
    }

    /// `scheduled: true` (the entries taken on a schedule) or `scheduled: false` (as needed).
    fn dosing(&mut self, arg: &Arg) -> Option<Dosing> {
        match arg.value.kind {
            ExprKind::Bool(true) => Some(Dosing::Scheduled),
            ExprKind::Bool(false) => Some(Dosing::AsNeeded),
            _ => {
                self.error(
                    Diagnostic::error(
                        "E050",
                        arg.value.span,
                        "`scheduled:` is `true` (entries taken on a schedule) or `false` (taken as needed)",
                    )
                    .with_help("write `count(benzodiazepine, scheduled: true)`"),
                );
                None
            }
        }
    }

    fn set_of(&mut self, pack: PackId, ident: &Ident) -> Option<SetRef> {
        match self.lookup(pack, ident, "a drug or class", |d| {
            matches!(d, Decl::Drug(_) | Decl::Class(_))
        })? {
            Decl::Drug(d) => Some(SetRef::Drug(d)),
            Decl::Class(c) => Some(SetRef::Class(c)),
            other => {
                self.wrong_kind(ident, other, "a drug or class");
                None
            }
        }
    }

    fn wrong_kind(&mut self, ident: &Ident, found: Decl, wanted: &str) -> Typed {
        let hint = match found {
            Decl::Drug(_) | Decl::Class(_) => {
                format!("for a medication write `taking({})`", ident.name)
            }
            Decl::Condition(_) => format!("for a condition write `has({})`", ident.name),
            Decl::Lab(_) => format!("for a lab write `lab({})`", ident.name),
            Decl::Table(_) => format!("a table is read for one drug: `{}[drug]`", ident.name),
        };
        self.error(
            Diagnostic::error(
                "E013",
                ident.span,
                format!(
                    "`{}` is {}; {wanted} is expected here",
                    ident.name,
                    found.kind()
                ),
            )
            .with_help(hint),
        );
        None
    }

    /// The single positional name argument of a call, with the allowed named arguments.
    fn one_name<'a>(
        &mut self,
        func: &Ident,
        args: &'a [Arg],
        span: Span,
        named: &[&str],
    ) -> Option<&'a Ident> {
        let positional: Vec<&Arg> = args.iter().filter(|a| a.name.is_none()).collect();
        for a in args.iter().filter_map(|a| a.name.as_ref()) {
            if !named.contains(&a.name.as_str()) {
                let help = if named.is_empty() {
                    format!("`{}` takes no named arguments", func.name)
                } else {
                    format!("`{}` takes: {}", func.name, named.join(", "))
                };
                self.error(
                    Diagnostic::error("E050", a.span, format!("unexpected argument `{}`", a.name))
                        .with_help(help),
                );
            }
        }
        match positional.as_slice() {
            [one] => match &one.value.kind {
                ExprKind::Name(ident) => Some(ident),
                _ => {
                    self.error(
                        Diagnostic::error(
                            "E050",
                            one.value.span,
                            format!("`{}` takes a name", func.name),
                        )
                        .with_help(format!("for example `{}(baclofen)`", func.name)),
                    );
                    None
                }
            },
            _ => {
                self.error(
                    Diagnostic::error(
                        "E050",
                        span,
                        format!(
                            "`{}` takes exactly one name, got {}",
                            func.name,
                            positional.len()
                        ),
                    )
                    .with_help(format!("for example `{}(baclofen)`", func.name)),
                );
                None
            }
        }
    }

    fn named_arg<'a>(args: &'a [Arg], name: &str) -> Option<&'a Arg> {
        args.iter()
            .find(|a| a.name.as_ref().is_some_and(|n| n.name == name))
    }

    fn lab_call(&mut self, pack: PackId, func: &Ident, args: &[Arg], span: Span) -> Typed {
        let ident = self.one_name(func, args, span, &["within"])?;
        let lab = match self.lookup(pack, ident, "a lab", |d| matches!(d, Decl::Lab(_)))? {
            Decl::Lab(l) => l,
            other => return self.wrong_kind(ident, other, "a lab"),
        };
        let window = match Self::named_arg(args, "within") {
            Some(a) => self.duration_days(pack, &a.value)?,
            None => self.program.labs[lab].window_days,
        };
        typed(
            TKind::Lab(lab, window),
            Type::Quantity(self.program.labs[lab].dimension),
            span,
        )
    }

    fn drug_call(
        &mut self,
        pack: PackId,
        func: &Ident,
        args: &[Arg],
        span: Span,
        place: Place,
    ) -> Typed {
        let f = func.name.as_str();
        let named: &[&str] = match f {
            "daily_dose" => &["route", "on"],
            "stopped" => &["route", "within"],
            "tapered" => &["route", "over"],
            "stop_date" => &["route"],
            _ => &[],
        };
        let ident = self.one_name(func, args, span, named)?;
        let drug = match self.lookup(pack, ident, "a drug", |d| matches!(d, Decl::Drug(_)))? {
            Decl::Drug(d) => d,
            Decl::Class(_) => {
                self.error(
                    Diagnostic::error(
                        "E013",
                        ident.span,
                        format!("`{}` is a class; `{f}` reads one ingredient", ident.name),
                    )
                    .with_help("doses and stops are per ingredient: name the drug"),
                );
                return None;
            }
            other => return self.wrong_kind(ident, other, "a drug"),
        };
        if f == "route" {
            self.error(
                Diagnostic::error(
                    "E020",
                    span,
                    "`route(...)` is only meaningful compared with a route",
                )
                .with_help(format!("write `route({}) == intrathecal`", ident.name)),
            );
            return None;
        }
        let route = self.route_arg(func, args, span)?;
        match f {
            "daily_dose" => {
                let on = match Self::named_arg(args, "on") {
                    Some(a) => Some(Box::new(self.expect_type(
                        pack,
                        &a.value,
                        Type::Date,
                        "`on:`",
                        place,
                    )?)),
                    None => None,
                };
                typed(
                    TKind::DailyDose(drug, route, on),
                    Type::Quantity(Dimension::MassPerDay),
                    span,
                )
            }
            "stopped" => {
                let Some(within) = Self::named_arg(args, "within") else {
                    self.error(
                        Diagnostic::error("E050", span, "`stopped` needs a window").with_help(
                            format!(
                                "write `stopped({}, route: {}, within: 14 days)`",
                                ident.name,
                                route.name()
                            ),
                        ),
                    );
                    return None;
                };
                let days = self.duration_days(pack, &within.value)?;
                typed(TKind::Stopped(drug, route, days), Type::Bool, span)
            }
            "stop_date" => typed(TKind::StopDate(drug, route), Type::Date, span),
            _ => {
                let step = match Self::named_arg(args, "over") {
                    Some(over) => self.duration_days(pack, &over.value)?,
                    None => 0,
                };
                typed(TKind::Tapered(drug, route, step), Type::Bool, span)
            }
        }
    }

    fn route_arg(&mut self, func: &Ident, args: &[Arg], span: Span) -> Option<Route> {
        let Some(arg) = Self::named_arg(args, "route") else {
            self.error(Diagnostic::error("E050", span, format!("`{}` needs a route", func.name))
                .with_help(format!("oral and intrathecal doses differ a thousandfold: write `{}(drug, route: oral)`", func.name)));
            return None;
        };
        match &arg.value.kind {
            ExprKind::Name(r) => self.route_name(r),
            _ => {
                self.error(Diagnostic::error(
                    "E050",
                    arg.value.span,
                    "a route is a name such as `oral` or `intrathecal`",
                ));
                None
            }
        }
    }

    fn expect_type(&mut self, pack: PackId, e: &Expr, ty: Type, what: &str, place: Place) -> Typed {
        let t = self.expr(pack, e, place)?;
        if t.ty != ty {
            self.error(Diagnostic::error(
                "E020",
                e.span,
                format!("{what} needs {}, not {}", describe(ty), describe(t.ty)),
            ));
            return None;
        }
        Some(t)
    }

    /// A duration in days from a quantity expression such as `14 days`.
    pub(super) fn duration_days(&mut self, pack: PackId, e: &Expr) -> Option<i64> {
        let t = self.expr(pack, e, Place::Rule)?;
        match (&t.kind, t.ty) {
            (TKind::Number(n), Type::Quantity(Dimension::Duration))
                if (0.0..=36_500.0).contains(n) && n.fract() == 0.0 =>
            {
                Some(*n as i64)
            }
            _ => {
                self.error(
                    Diagnostic::error(
                        "E021",
                        e.span,
                        format!(
                            "a window is a whole number of days (up to 100 years), not {}",
                            describe(t.ty)
                        ),
                    )
                    .with_help("write it as `14 days`"),
                );
                None
            }
        }
    }

    fn binary(
        &mut self,
        pack: PackId,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        span: Span,
        place: Place,
    ) -> Typed {
        if matches!(op, BinOp::And | BinOp::Or) {
            let lhs = self.expect_bool(pack, a, place, &format!("`{}`", op.symbol()));
            let rhs = self.expect_bool(pack, b, place, &format!("`{}`", op.symbol()));
            let (lhs, rhs) = (Box::new(lhs?), Box::new(rhs?));
            let kind = if op == BinOp::And {
                TKind::And(lhs, rhs)
            } else {
                TKind::Or(lhs, rhs)
            };
            return typed(kind, Type::Bool, span);
        }
        if let Some(route_cmp) = self.route_comparison(pack, op, a, b, span) {
            return route_cmp;
        }
        let lhs = self.expr(pack, a, place);
        let rhs = self.expr(pack, b, place);
        let (lhs, rhs) = (lhs?, rhs?);
        match op {
            BinOp::Add | BinOp::Sub => self.arithmetic(op, lhs, rhs, span),
            BinOp::Mul => self.scale(lhs, rhs, span),
            _ => self.comparison(cmp_op(op), lhs, rhs, span),
        }
    }

    /// `route(drug) == r` and `!=`.
    fn route_comparison(
        &mut self,
        pack: PackId,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        span: Span,
    ) -> Option<Typed> {
        let ExprKind::Call(func, args) = &a.kind else {
            return None;
        };
        if func.name != "route" {
            return None;
        }
        if !matches!(op, BinOp::Eq | BinOp::Ne) {
            self.error(Diagnostic::error(
                "E020",
                span,
                "routes are compared with `==` or `!=`",
            ));
            return Some(None);
        }
        let ident = self.one_name(func, args, a.span, &[])?;
        let drug = match self.lookup(pack, ident, "a drug", |d| matches!(d, Decl::Drug(_)))? {
            Decl::Drug(d) => d,
            other => return Some(self.wrong_kind(ident, other, "a drug")),
        };
        let ExprKind::Name(r) = &b.kind else {
            self.error(Diagnostic::error(
                "E050",
                b.span,
                "compare a route with a route name such as `intrathecal`",
            ));
            return Some(None);
        };
        let route = self.route_name(r)?;
        let is = TExpr {
            kind: TKind::RouteIs(drug, route),
            ty: Type::Bool,
            span,
        };
        Some(if op == BinOp::Eq {
            Some(is)
        } else {
            typed(TKind::Not(Box::new(is)), Type::Bool, span)
        })
    }

    fn arithmetic(&mut self, op: BinOp, lhs: TExpr, rhs: TExpr, span: Span) -> Typed {
        let ty = match (lhs.ty, rhs.ty) {
            (Type::Date, Type::Quantity(Dimension::Duration)) => Type::Date,
            (Type::Count, Type::Count) => Type::Count,
            (Type::Quantity(a), Type::Quantity(b)) if a == b && a != Dimension::Age => {
                Type::Quantity(a)
            }
            (a, b) => {
                self.error(
                    Diagnostic::error(
                        if matches!((a, b), (Type::Quantity(_), Type::Quantity(_))) {
                            "E021"
                        } else {
                            "E020"
                        },
                        span,
                        format!(
                            "cannot {} {} and {}",
                            if op == BinOp::Add { "add" } else { "subtract" },
                            describe(a),
                            describe(b)
                        ),
                    )
                    .with_help("add or subtract quantities of one dimension, or days to a date"),
                );
                return None;
            }
        };
        let (l, r) = (Box::new(lhs), Box::new(rhs));
        typed(
            if op == BinOp::Add {
                TKind::Add(l, r)
            } else {
                TKind::Sub(l, r)
            },
            ty,
            span,
        )
    }

    /// `x * k` or `k * x`: a number or a quantity times a factor the pack states (a number
    /// without a unit, or an entry of a table of factors). The product has `x`'s type.
    fn scale(&mut self, lhs: TExpr, rhs: TExpr, span: Span) -> Typed {
        let factor = |e: &TExpr| match e.kind {
            TKind::Number(k) if e.ty == Type::Count => Some(k),
            _ => None,
        };
        let scalable = |e: &TExpr| {
            matches!(e.ty, Type::Count) || matches!(e.ty, Type::Quantity(d) if d != Dimension::Age)
        };
        let (x, k) = match (factor(&lhs), factor(&rhs)) {
            (Some(a), Some(b)) => return typed(TKind::Number(a * b), Type::Count, span),
            (_, Some(k)) if scalable(&lhs) => (lhs, k),
            (Some(k), _) if scalable(&rhs) => (rhs, k),
            _ => {
                let (a, b) = (describe(lhs.ty), describe(rhs.ty));
                self.error(
                    Diagnostic::error("E020", span, format!("cannot multiply {a} by {b}"))
                        .with_help("multiply a number or a quantity by a factor written in the pack: a number without a unit, such as `* 1.5`, or an entry of a `table NAME: factor`"),
                );
                return None;
            }
        };
        let ty = x.ty;
        typed(TKind::Scale(Box::new(x), k), ty, span)
    }

    fn comparison(&mut self, op: CmpOp, lhs: TExpr, rhs: TExpr, span: Span) -> Typed {
        let (lhs, rhs) = match (lhs.ty, rhs.ty) {
            (Type::Count, Type::Count) | (Type::Date, Type::Date) => (lhs, rhs),
            (Type::Quantity(a), Type::Quantity(b)) if a == b => (lhs, rhs),
            // A bare number compared with an age is read as years.
            (Type::Quantity(Dimension::Age), Type::Count)
                if matches!(rhs.kind, TKind::Number(_)) =>
            {
                let rhs = TExpr { ty: lhs.ty, ..rhs };
                (lhs, rhs)
            }
            (Type::Count, Type::Quantity(Dimension::Age))
                if matches!(lhs.kind, TKind::Number(_)) =>
            {
                let lhs = TExpr { ty: rhs.ty, ..lhs };
                (lhs, rhs)
            }
            (Type::Quantity(a), Type::Quantity(b)) => {
                self.error(
                    Diagnostic::error(
                        "E021",
                        span,
                        format!("cannot compare {} with {}", a.describe(), b.describe()),
                    )
                    .with_label("different dimensions")
                    .with_help(format!(
                        "write the right side in {}, such as `60 {}`",
                        a.canonical_unit(),
                        a.canonical_unit()
                    )),
                );
                return None;
            }
            (Type::Quantity(a), Type::Count) | (Type::Count, Type::Quantity(a)) => {
                self.error(
                    Diagnostic::error(
                        "E021",
                        span,
                        format!("a number without a unit compared with {}", a.describe()),
                    )
                    .with_help(format!(
                        "give the number its unit, such as `{}`",
                        a.canonical_unit()
                    )),
                );
                return None;
            }
            (a, b) => {
                let help = if a == Type::Bool || b == Type::Bool {
                    "true/false values are combined with `and`, `or`, `not`; to compare a number of drugs use `count(...)`"
                } else {
                    "compare values of the same type"
                };
                self.error(
                    Diagnostic::error(
                        "E020",
                        span,
                        format!("cannot compare {} with {}", describe(a), describe(b)),
                    )
                    .with_help(help),
                );
                return None;
            }
        };
        typed(
            TKind::Cmp(op, Box::new(lhs), Box::new(rhs)),
            Type::Bool,
            span,
        )
    }
}

fn cmp_op(op: BinOp) -> CmpOp {
    match op {
        BinOp::Lt => CmpOp::Lt,
        BinOp::Le => CmpOp::Le,
        BinOp::Gt => CmpOp::Gt,
        BinOp::Ge => CmpOp::Ge,
        BinOp::Eq => CmpOp::Eq,
        _ => CmpOp::Ne,
    }
}

/// A type in words.
pub(super) fn describe(ty: Type) -> String {
    match ty {
        Type::Bool => "a true/false condition".into(),
        Type::Count => "a number".into(),
        Type::Quantity(d) => d.describe().into(),
        Type::Date => "a date".into(),
        Type::Entries => "a list of medications".into(),
    }
}
