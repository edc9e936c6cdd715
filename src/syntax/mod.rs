//! Parsing: pack text to [`ast::PackAst`], item by item, with pest and a Pratt parser.
//!
//! Size and nesting are checked before pest sees any text (see [`split`]), so no input can
//! overflow the stack or make the parser backtrack without bound.

pub mod ast;
pub mod split;

use crate::date::Date;
use crate::diagnostic::{Diagnostic, SourceId, Span};
use ast::*;
use pest::Parser as _;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::sync::LazyLock;

mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "grammar/rxguard.pest"]
    pub(super) struct RulesParser;
}
use grammar::{Rule, RulesParser};

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
        .op(Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left))
});

/// Parses one pack. Returns what could be parsed and a diagnostic for each item that could not.
pub fn parse_pack(id: SourceId, text: &str) -> (PackAst, Vec<Diagnostic>) {
    parse_pack_with(id, text, true)
}

/// Parses one pack, with its `test` blocks or without them (an engine that only checks patients
/// does not need them, and skipping them before pest sees them keeps compiling fast).
pub fn parse_pack_with(id: SourceId, text: &str, tests: bool) -> (PackAst, Vec<Diagnostic>) {
    let mut pack = PackAst::default();
    let mut errors = Vec::new();
    let items = match split::split(text, id) {
        Ok(items) => items,
        Err(d) => return (pack, vec![d]),
    };
    for item in items.into_iter().filter(|i| tests || !i.is_test()) {
        let cx = Cx {
            id,
            offset: item.offset,
        };
        if let Some((at, why)) = split::too_deep(item.text, true) {
            errors.push(cx.too_deep(at, why));
            continue;
        }
        match RulesParser::parse(Rule::item, item.text) {
            Ok(mut pairs) => cx.item(next(&mut pairs).into_inner(), &mut pack, &mut errors),
            Err(e) => errors.push(cx.syntax_error(&e, item.text)),
        }
    }
    (pack, errors)
}

/// Parses the expression inside a template hole `{...}`; `span` is the hole's text in its source.
pub fn parse_hole(text: &str, span: Span) -> Result<Expr, Diagnostic> {
    let cx = Cx {
        id: span.source,
        offset: span.start as usize,
    };
    if let Some((at, why)) = split::too_deep(text, false) {
        return Err(cx.too_deep(at, why));
    }
    match RulesParser::parse(Rule::template_hole, text) {
        Ok(mut pairs) => Ok(cx.expr(next(&mut next(&mut pairs).into_inner()))),
        Err(e) => Err(cx.syntax_error(&e, text).with_help(
            "a template hole holds one expression, such as {drugs(opioid)} or {lab(egfr)}",
        )),
    }
}

/// Position context: where the text being converted sits in its source.
struct Cx {
    id: SourceId,
    offset: usize,
}

/// The next pair. The grammar guarantees its presence, so absence is a grammar bug; a dummy
/// end-of-input pair would be worse, so this follows pest's own structure strictly.
fn next<'i>(pairs: &mut Pairs<'i, Rule>) -> Pair<'i, Rule> {
    #[expect(
        clippy::expect_used,
        reason = "the grammar guarantees the child exists"
    )]
    pairs.next().expect("grammar guarantees this child")
}

/// Children that carry meaning (keyword tokens dropped).
fn children<'i>(pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
}

fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::k_pack
            | Rule::k_version
            | Rule::k_use
            | Rule::k_drug
            | Rule::k_class
            | Rule::k_condition
            | Rule::k_lab
            | Rule::k_rule
            | Rule::k_atc
            | Rule::k_test
            | Rule::k_table
            | Rule::k_in
            | Rule::t_no
            | Rule::t_gap
            | Rule::t_superseded
            | Rule::t_unrecognized
            | Rule::t_age
            | Rule::t_born
            | Rule::t_sex
            | Rule::t_weight
            | Rule::t_height
            | Rule::t_on
            | Rule::t_med
            | Rule::t_from
            | Rule::t_to
            | Rule::t_held
            | Rule::t_unknown
            | Rule::t_as_of
            | Rule::t_patient
            | Rule::t_expect
            | Rule::EOI
    )
}

impl Cx {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.id, self.offset + s.start(), self.offset + s.end())
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn string(&self, pair: Pair<'_, Rule>) -> Str {
        let span = self.span(&pair);
        let raw = pair.into_inner().next().map_or("", |p| p.as_str());
        Str {
            value: unescape(raw),
            span,
        }
    }

    fn item(&self, mut pairs: Pairs<'_, Rule>, pack: &mut PackAst, errors: &mut Vec<Diagnostic>) {
        let item = next(&mut pairs);
        let span = self.span(&item);
        match item.as_rule() {
            Rule::pack_decl => {
                let mut c = children(item);
                let header = PackHeader {
                    name: self.ident(next_of(&mut c)),
                    title: self.string(next_of(&mut c)),
                    version: self.string(next_of(&mut c)),
                };
                if pack.header.is_some() {
                    errors.push(
                        Diagnostic::error("E011", span, "a second `pack` header in one file")
                            .with_help("one file is one pack"),
                    );
                } else {
                    pack.header = Some(header);
                }
            }
            Rule::use_decl => pack.uses.push(self.ident(next_of(&mut children(item)))),
            Rule::drug_decl => pack.items.push(Item::Drug(self.drug(item))),
            Rule::class_decl => {
                let mut c = children(item);
                let name = self.ident(next_of(&mut c));
                pack.items.push(Item::Class(ClassDecl {
                    name,
                    expr: self.class_expr(next_of(&mut c)),
                }));
            }
            Rule::condition_decl => {
                let mut c = children(item);
                let name = self.ident(next_of(&mut c));
                pack.items.push(Item::Condition(ConditionDecl {
                    name,
                    codes: c.map(|p| self.code_list(p)).collect(),
                }));
            }
            Rule::lab_decl => pack.items.push(Item::Lab(self.lab(item))),
            Rule::table_decl => pack.items.push(Item::Table(self.table(item))),
            Rule::rule_decl => pack.items.push(Item::Rule(self.rule(item, span))),
            Rule::test_decl => pack.items.push(Item::Test(self.test(item, span))),
            _ => {}
        }
    }

    fn code_list(&self, pair: Pair<'_, Rule>) -> CodeList {
        let mut c = children(pair);
        let field = self.ident(next_of(&mut c));
        CodeList {
            field,
            values: c.map(|p| self.string(p)).collect(),
        }
    }

    fn drug(&self, pair: Pair<'_, Rule>) -> DrugDecl {
        let mut c = children(pair);
        let name = self.ident(next_of(&mut c));
        let mut drug = DrugDecl {
            name,
            codes: Vec::new(),
            brands: Vec::new(),
        };
        for field in c {
            let inner = next(&mut field.into_inner());
            if inner.as_rule() == Rule::code_list {
                drug.codes.push(self.code_list(inner));
            } else {
                let mut brand = BrandList {
                    names: Vec::new(),
                    route: None,
                };
                for p in children(inner) {
                    match p.as_rule() {
                        Rule::string => brand.names.push(self.string(p)),
                        _ => brand.route = Some(self.ident(p)),
                    }
                }
                drug.brands.push(brand);
            }
        }
        drug
    }

    fn class_expr(&self, pair: Pair<'_, Rule>) -> ClassExpr {
        match pair.as_rule() {
            Rule::class_expr => {
                let mut c = children(pair);
                let base = self.class_expr(next_of(&mut c));
                match c.next() {
                    Some(except) => {
                        ClassExpr::Except(Box::new(base), Box::new(self.class_expr(except)))
                    }
                    None => base,
                }
            }
            Rule::class_union => {
                let mut terms: Vec<ClassExpr> =
                    children(pair).map(|p| self.class_expr(p)).collect();
                if terms.len() == 1 {
                    terms.remove(0)
                } else {
                    ClassExpr::Union(terms)
                }
            }
            Rule::class_term => self.class_expr(next_of(&mut children(pair))),
            Rule::atc_prefix => ClassExpr::Atc(self.string(next_of(&mut children(pair)))),
            _ => ClassExpr::Name(self.ident(pair)),
        }
    }

    fn lab(&self, pair: Pair<'_, Rule>) -> LabDecl {
        let mut c = children(pair);
        let name = self.ident(next_of(&mut c));
        let mut lab = LabDecl {
            name,
            codes: Vec::new(),
            unit: None,
            within: None,
            computed: None,
        };
        for field in c {
            let inner = next(&mut field.into_inner());
            match inner.as_rule() {
                Rule::code_list => lab.codes.push(self.code_list(inner)),
                Rule::lab_unit => lab.unit = Some(self.ident(next_of(&mut children(inner)))),
                Rule::lab_derived => {
                    let mut c = children(inner);
                    let method = self.ident(next_of(&mut c));
                    lab.computed = Some((method, self.ident(next_of(&mut c))));
                }
                _ => lab.within = Some(self.quantity(next_of(&mut children(inner)))),
            }
        }
        lab
    }

    fn table(&self, pair: Pair<'_, Rule>) -> TableDecl {
        let mut c = children(pair);
        let name = self.ident(next_of(&mut c));
        let unit = self.ident(next_of(&mut c));
        let entries = c
            .map(|entry| {
                let mut e = children(entry);
                let drug = self.ident(next_of(&mut e));
                TableEntry {
                    drug,
                    value: self.quantity(next_of(&mut e)),
                }
            })
            .collect();
        TableDecl {
            name,
            unit,
            entries,
        }
    }

    fn rule(&self, pair: Pair<'_, Rule>, span: Span) -> RuleDecl {
        let mut c = children(pair);
        let name = self.ident(next_of(&mut c));
        let fields = c.map(|f| self.rule_field(f)).collect();
        RuleDecl { name, fields, span }
    }

    fn test(&self, pair: Pair<'_, Rule>, span: Span) -> TestDecl {
        let mut c = children(pair);
        let mut test = TestDecl {
            name: self.string(next_of(&mut c)),
            as_of: Vec::new(),
            patients: Vec::new(),
            expects: Vec::new(),
            span,
        };
        for field in c {
            let field_span = self.span(&field);
            match field.as_rule() {
                Rule::as_of_t => {
                    let date = next_of(&mut children(field));
                    test.as_of.push((self.date(&date), field_span));
                }
                Rule::patient_t => {
                    let facts = children(field).map(|f| self.fact(f)).collect();
                    test.patients.push((facts, field_span));
                }
                _ => {
                    let kind = self.expectation(next_of(&mut children(field)));
                    test.expects.push(TestExpect {
                        kind,
                        span: field_span,
                    });
                }
            }
        }
        test
    }

    /// A date token: the grammar checked its shape, this checks the calendar (`None` for a
    /// day that does not exist, reported by the checker).
    fn date(&self, pair: &Pair<'_, Rule>) -> Option<Date> {
        Date::parse(pair.as_str())
    }

    fn fact(&self, pair: Pair<'_, Rule>) -> TestFact {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut c = children(pair);
        match rule {
            Rule::unknown_f => TestFact::Unknown(self.ident(next_of(&mut c))),
            Rule::age_f => {
                let n = next_of(&mut c);
                TestFact::Age(n.as_str().parse().unwrap_or(f64::NAN), self.span(&n))
            }
            Rule::born_f => {
                let b = next_of(&mut c);
                TestFact::Born(b.as_str().to_string(), self.span(&b))
            }
            Rule::sex_f => TestFact::Sex(self.ident(next_of(&mut c))),
            Rule::weight_f => TestFact::Weight(self.quantity(next_of(&mut c))),
            Rule::height_f => TestFact::Height(self.quantity(next_of(&mut c))),
            Rule::cond_f => {
                let mut system = None;
                let mut code = None;
                let mut status = None;
                for p in c {
                    match p.as_rule() {
                        Rule::code_system => system = Some(self.ident(p)),
                        Rule::string => code = Some(self.string(p)),
                        _ => status = Some(self.ident(p)),
                    }
                }
                TestFact::Condition {
                    system,
                    code: code.unwrap_or_else(|| Str {
                        value: String::new(),
                        span,
                    }),
                    status,
                }
            }
            Rule::lab_f => {
                let first = next_of(&mut c);
                let lab = match first.as_rule() {
                    Rule::string => LabRef::Loinc(self.string(first)),
                    _ => LabRef::Name(self.ident(first)),
                };
                let v = next_of(&mut c);
                let value = match v.as_rule() {
                    Rule::string => TestValue::Text(self.string(v)),
                    _ => TestValue::Number(v.as_str().parse().unwrap_or(f64::NAN), self.span(&v)),
                };
                let mut unit = None;
                let mut date = None;
                for p in c {
                    match p.as_rule() {
                        Rule::test_unit => unit = Some(self.ident(p)),
                        _ => date = self.date(&p),
                    }
                }
                TestFact::Lab {
                    lab,
                    value,
                    unit,
                    date,
                    span,
                }
            }
            _ => {
                let text = self.string(next_of(&mut c));
                let attrs = c.map(|a| self.med_attr(a)).collect();
                TestFact::Med { text, attrs }
            }
        }
    }

    fn med_attr(&self, pair: Pair<'_, Rule>) -> MedAttr {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        match rule {
            Rule::med_word => MedAttr::Word(self.ident(pair)),
            Rule::med_string => MedAttr::Text(self.string(next_of(&mut children(pair)))),
            Rule::med_dose => {
                let mut c = pair.into_inner();
                let value = next(&mut c).as_str().parse().unwrap_or(f64::NAN);
                MedAttr::Dose(value, self.ident(next(&mut c)))
            }
            Rule::med_code => {
                let mut c = pair.into_inner();
                let field = self.ident(next(&mut c));
                MedAttr::Code(field, self.string(next(&mut c)))
            }
            Rule::med_from => MedAttr::From(self.date(&next_of(&mut children(pair))), span),
            Rule::med_held => MedAttr::Held(self.date(&next_of(&mut children(pair))), span),
            _ => MedAttr::To(self.date(&next_of(&mut children(pair))), span),
        }
    }

    fn expectation(&self, pair: Pair<'_, Rule>) -> ExpectDecl {
        let rule = pair.as_rule();
        let mut c = children(pair);
        match rule {
            Rule::expect_no => ExpectDecl::No(self.ident(next_of(&mut c))),
            Rule::expect_gap => ExpectDecl::Gap(self.ident(next_of(&mut c))),
            Rule::expect_superseded => ExpectDecl::Superseded(self.ident(next_of(&mut c))),
            Rule::expect_unrecognized => ExpectDecl::Unrecognized(self.string(next_of(&mut c))),
            _ => {
                let rule = self.ident(next_of(&mut c));
                let mut severity = None;
                let mut contains = Vec::new();
                for p in c {
                    match p.as_rule() {
                        Rule::string => contains.push(self.string(p)),
                        _ => severity = Some(self.ident(p)),
                    }
                }
                ExpectDecl::Fires {
                    rule,
                    severity,
                    contains,
                }
            }
        }
    }

    fn rule_field(&self, pair: Pair<'_, Rule>) -> RuleField {
        let rule = pair.as_rule();
        let mut c = children(pair);
        match rule {
            Rule::severity_f => RuleField::Severity(self.ident(next_of(&mut c))),
            Rule::when_f => RuleField::When(self.expr(next_of(&mut c))),
            Rule::unless_f => RuleField::Unless(self.expr(next_of(&mut c))),
            Rule::downgrade_f => {
                let to = self.ident(next_of(&mut c));
                RuleField::Downgrade(to, self.expr(next_of(&mut c)))
            }
            Rule::summary_f => RuleField::Summary(self.string(next_of(&mut c))),
            Rule::message_f => RuleField::Message(self.string(next_of(&mut c))),
            Rule::advise_f => RuleField::Advise(self.string(next_of(&mut c))),
            Rule::cite_f => RuleField::Cite(self.string(next_of(&mut c))),
            Rule::supersedes_f => RuleField::Supersedes(c.map(|p| self.ident(p)).collect()),
            _ => RuleField::Override(c.map(|p| self.string(p)).collect()),
        }
    }

    fn expr(&self, pair: Pair<'_, Rule>) -> Expr {
        PRATT
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, rhs| {
                let span = self.span(&op).to(rhs.span);
                Expr {
                    kind: ExprKind::Not(Box::new(rhs)),
                    span,
                }
            })
            .map_infix(|lhs, op, rhs| {
                let span = lhs.span.to(rhs.span);
                Expr {
                    kind: ExprKind::Binary(bin_op(op.as_rule()), Box::new(lhs), Box::new(rhs)),
                    span,
                }
            })
            .parse(pair.into_inner())
    }

    fn primary(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            // The parentheses belong to the span, so an expression's text is whole.
            Rule::paren => {
                let mut inner = self.expr(next(&mut pair.into_inner()));
                inner.span = span;
                return inner;
            }
            Rule::call => {
                let mut c = pair.into_inner();
                let func = self.ident(next(&mut c));
                ExprKind::Call(func, c.map(|a| self.arg(a)).collect())
            }
            Rule::date => match Date::parse(pair.as_str()) {
                Some(d) => ExprKind::Date(d),
                None => ExprKind::Name(Ident {
                    name: format!("invalid date {}", pair.as_str()),
                    span,
                }),
            },
            Rule::quantity => return self.quantity(pair),
            Rule::lookup => {
                let mut c = pair.into_inner();
                let table = self.ident(next(&mut c));
                ExprKind::Lookup(table, self.ident(next(&mut c)))
            }
            Rule::quantified => {
                let mut c = children(pair);
                let quantifier = match next_of(&mut c).as_str() {
                    "all" => Quantifier::All,
                    "sum" => Quantifier::Sum,
                    _ => Quantifier::Any,
                };
                let var = self.ident(next_of(&mut c));
                let domain = self.ident(next_of(&mut c));
                ExprKind::Quantified {
                    quantifier,
                    var,
                    domain,
                    body: Box::new(self.expr(next_of(&mut c))),
                }
            }
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            _ => ExprKind::Name(self.ident(pair)),
        };
        Expr { kind, span }
    }

    fn quantity(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let mut c = pair.into_inner();
        let value = next(&mut c).as_str().parse().unwrap_or(f64::NAN);
        let unit = c.next().map(|u| self.ident(u));
        Expr {
            kind: ExprKind::Number(value, unit),
            span,
        }
    }

    fn arg(&self, pair: Pair<'_, Rule>) -> Arg {
        let mut c = pair.into_inner();
        let first = next(&mut c);
        match first.as_rule() {
            Rule::arg_name => Arg {
                name: Some(self.ident(first)),
                value: self.expr(next(&mut c)),
            },
            _ => Arg {
                name: None,
                value: self.expr(first),
            },
        }
    }

    fn too_deep(&self, at: usize, why: &str) -> Diagnostic {
        let span = Span::new(self.id, self.offset + at, self.offset + at + 1);
        if why == "operators" {
            return Diagnostic::error("E003", span, format!("more than {} operators in one item", split::MAX_OPERATORS))
                .with_help("split the condition into classes or several rules; a rule rarely needs more than a few dozen operators");
        }
        Diagnostic::error(
            "E003",
            span,
            format!("nesting deeper than {} levels", split::MAX_DEPTH),
        )
        .with_help("flatten the expression; a rule rarely needs more than a few levels")
    }

    fn syntax_error(&self, e: &pest::error::Error<Rule>, text: &str) -> Diagnostic {
        let at = match e.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((s, _)) => s,
        };
        let found = found_token(text, at);
        let end = at + found.len().max(1);
        let expected = match &e.variant {
            pest::error::ErrorVariant::ParsingError { positives, .. } => expected_list(positives),
            pest::error::ErrorVariant::CustomError { message } => message.clone(),
        };
        let message = if found.is_empty() {
            format!("unexpected end of item; expected {expected}")
        } else {
            format!("unexpected `{found}`; expected {expected}")
        };
        Diagnostic::error(
            "E001",
            Span::new(
                self.id,
                self.offset + at,
                self.offset + end.min(text.len().max(at + 1)),
            ),
            message,
        )
        .with_label("here")
        .with_help(syntax_help(&found))
    }
}

fn next_of<'i>(c: &mut impl Iterator<Item = Pair<'i, Rule>>) -> Pair<'i, Rule> {
    #[expect(
        clippy::expect_used,
        reason = "the grammar guarantees the child exists"
    )]
    c.next().expect("grammar guarantees this child")
}

fn bin_op(rule: Rule) -> BinOp {
    match rule {
        Rule::op_and => BinOp::And,
        Rule::op_or => BinOp::Or,
        Rule::op_lt => BinOp::Lt,
        Rule::op_le => BinOp::Le,
        Rule::op_gt => BinOp::Gt,
        Rule::op_ge => BinOp::Ge,
        Rule::op_eq => BinOp::Eq,
        Rule::op_ne => BinOp::Ne,
        Rule::op_add => BinOp::Add,
        Rule::op_mul => BinOp::Mul,
        _ => BinOp::Sub,
    }
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The token at `at`: a word, or one character, or nothing at the end.
fn found_token(text: &str, at: usize) -> String {
    let rest = text.get(at..).unwrap_or("");
    let rest = rest.trim_end();
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if word.is_empty() {
        rest.chars().next().map(String::from).unwrap_or_default()
    } else {
        word
    }
}

fn expected_list(rules: &[Rule]) -> String {
    let mut names: Vec<&str> = rules.iter().map(|r| describe(*r)).collect();
    names.sort_unstable();
    names.dedup();
    match names.len() {
        0 => "more input".into(),
        1 => names[0].into(),
        n => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::ident | Rule::arg_name => "a name",
        Rule::string => "a string in double quotes",
        Rule::number | Rule::quantity => "a number",
        Rule::unit => "a unit",
        Rule::date | Rule::year_month => "a date",
        Rule::expr | Rule::paren | Rule::call | Rule::boolean | Rule::op_not => "an expression",
        Rule::op_or
        | Rule::op_and
        | Rule::op_lt
        | Rule::op_le
        | Rule::op_gt
        | Rule::op_ge
        | Rule::op_eq
        | Rule::op_ne
        | Rule::op_add
        | Rule::op_sub
        | Rule::op_mul => "an operator",
        Rule::severity_f
        | Rule::when_f
        | Rule::unless_f
        | Rule::downgrade_f
        | Rule::summary_f
        | Rule::message_f
        | Rule::advise_f
        | Rule::cite_f
        | Rule::supersedes_f
        | Rule::override_f => "a rule field",
        Rule::drug_field | Rule::code_list | Rule::brand_field | Rule::field_name => "a drug field",
        Rule::lab_field | Rule::lab_unit | Rule::lab_within | Rule::lab_derived => "a lab field",
        Rule::as_of_t | Rule::patient_t | Rule::expect_t => "a test field (as_of, patient, expect)",
        Rule::unknown_f
        | Rule::section
        | Rule::age_f
        | Rule::born_f
        | Rule::sex_f
        | Rule::weight_f
        | Rule::height_f
        | Rule::cond_f
        | Rule::lab_f
        | Rule::med_f => "a patient fact (age, born, sex, weight, height, condition, lab, med)",
        Rule::med_dose
        | Rule::med_from
        | Rule::med_to
        | Rule::med_held
        | Rule::med_code
        | Rule::med_word => "a medication detail (dose, frequency, route, status, from, to, held)",
        Rule::t_on => "`on DATE`",
        Rule::expect_no
        | Rule::expect_gap
        | Rule::expect_superseded
        | Rule::expect_unrecognized
        | Rule::expect_fires => {
            "an expectation (RULE, no RULE, gap RULE, superseded RULE, unrecognized \"TEXT\")"
        }
        Rule::class_term
        | Rule::class_union
        | Rule::class_expr
        | Rule::atc_prefix
        | Rule::k_atc => "a class member",
        Rule::EOI => "the end of the item",
        Rule::k_pack
        | Rule::k_use
        | Rule::k_drug
        | Rule::k_class
        | Rule::k_condition
        | Rule::k_lab
        | Rule::k_rule
        | Rule::k_table
        | Rule::k_test => {
            "a declaration (pack, use, drug, class, condition, lab, table, rule, test)"
        }
        Rule::table_entry => "a table entry (a drug and its quantity)",
        Rule::quantified | Rule::quantifier_word | Rule::lookup => "an expression",
        Rule::k_in => "`in`",
        Rule::k_version => "`version`",
        _ => "something else",
    }
}

fn syntax_help(found: &str) -> String {
    match found {
        "" => "the item ends too early: is a `)` or `}` missing?".into(),
        "\"" => "strings end on the line they start".into(),
        "&&" | "&" => "write `and`".into(),
        "||" | "|" => "write `or` (`|` is only for class members)".into(),
        "!" => "write `not`".into(),
        "=" => "compare with `==`".into(),
        "severity" | "when" | "unless" | "downgrade" | "summary" | "message" | "advise"
        | "cite" | "supersedes" | "override" => {
            "the expression before this field is incomplete: is a `)` or an operand missing?".into()
        }
        _ => "see docs/language.md for the syntax".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> PackAst {
        let (pack, errors) = parse_pack(0, src);
        assert!(errors.is_empty(), "{errors:?}");
        pack
    }

    fn when_of(src: &str) -> Expr {
        let pack = parse_ok(&format!("rule r {{\n  when {src}\n}}\n"));
        let Some(Item::Rule(rule)) = pack.items.first() else {
            panic!("no rule")
        };
        let Some(RuleField::When(e)) = rule.fields.first() else {
            panic!("no when")
        };
        e.clone()
    }

    #[test]
    fn parses_a_header_uses_and_declarations() {
        let pack = parse_ok(
            "pack p \"P\" version \"1.0.0\"\nuse vocabulary\ndrug baclofen {\n  atc \"M03BX01\"\n  brand \"Gablofen\" route intrathecal\n}\nclass x = baclofen | atc \"N02A\" except y\n",
        );
        assert_eq!(pack.header.map(|h| h.name.name), Some("p".into()));
        assert_eq!(pack.uses.len(), 1);
        assert_eq!(pack.items.len(), 2);
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_looser_than_comparison() {
        let e = when_of("taking(a) or taking(b) and not age >= 65");
        let ExprKind::Binary(BinOp::Or, _, rhs) = e.kind else {
            panic!("{e:?}")
        };
        let ExprKind::Binary(BinOp::And, _, not) = rhs.kind else {
            panic!()
        };
        let ExprKind::Not(cmp) = not.kind else {
            panic!()
        };
        assert!(matches!(cmp.kind, ExprKind::Binary(BinOp::Ge, ..)));
    }

    #[test]
    fn units_stay_on_their_line_and_keywords_are_not_units() {
        let e = when_of("age >= 65 and lab(egfr) < 60 mL/min/1.73m2");
        let ExprKind::Binary(BinOp::And, lhs, rhs) = e.kind else {
            panic!()
        };
        let ExprKind::Binary(_, _, n) = lhs.kind else {
            panic!()
        };
        assert_eq!(n.kind, ExprKind::Number(65.0, None));
        let ExprKind::Binary(_, _, q) = rhs.kind else {
            panic!()
        };
        assert!(matches!(q.kind, ExprKind::Number(60.0, Some(ref u)) if u.name == "mL/min/1.73m2"));
    }

    #[test]
    fn named_arguments_and_date_arithmetic() {
        let e = when_of("daily_dose(baclofen, route: oral, on: as_of - 3 days) > 80 mg/day");
        let ExprKind::Binary(BinOp::Gt, call, _) = e.kind else {
            panic!()
        };
        let ExprKind::Call(f, args) = call.kind else {
            panic!()
        };
        assert_eq!(f.name, "daily_dose");
        assert_eq!(
            args.iter()
                .filter_map(|a| a.name.as_ref().map(|n| n.name.as_str()))
                .collect::<Vec<_>>(),
            ["route", "on"]
        );
    }

    #[test]
    fn every_broken_item_is_reported_and_the_good_ones_kept() {
        let src = "rule a {\n  when taking(x\n}\nrule b {\n  when age >= 65\n}\nrule c {\n  when and\n}\n";
        let (pack, errors) = parse_pack(0, src);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().all(|e| e.code == "E001"));
        assert_eq!(pack.items.len(), 1);
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!(
            "rule r {{\n  when {}true{}\n}}\n",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        let (_, errors) = parse_pack(0, &deep);
        assert_eq!(errors.iter().map(|e| e.code).collect::<Vec<_>>(), ["E003"]);
    }

    #[test]
    fn template_holes_parse_as_expressions_with_shifted_spans() {
        let e = parse_hole("drugs(opioid)", Span::new(0, 100, 113)).unwrap();
        assert_eq!(e.span.start, 100);
        assert!(parse_hole("taking(", Span::new(0, 0, 7)).is_err());
    }
}
