//! The syntax tree of one pack, exactly as written, with spans. Names are not resolved here.

use crate::diagnostic::Span;

/// A name as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// A string literal, unescaped.
#[derive(Clone, Debug, PartialEq)]
pub struct Str {
    /// The text after unescaping.
    pub value: String,
    /// The span of the literal including its quotes.
    pub span: Span,
}

/// One parsed pack file.
#[derive(Clone, Debug, Default)]
pub struct PackAst {
    /// The `pack` header, if the file had a readable one.
    pub header: Option<PackHeader>,
    /// `use` lines.
    pub uses: Vec<Ident>,
    /// Declarations, in source order.
    pub items: Vec<Item>,
}

/// `pack NAME "TITLE" version "X.Y.Z"`.
#[derive(Clone, Debug)]
pub struct PackHeader {
    /// The pack's name.
    pub name: Ident,
    /// Its title.
    pub title: Str,
    /// Its version.
    pub version: Str,
}

/// A declaration.
#[derive(Clone, Debug)]
pub enum Item {
    /// `drug`.
    Drug(DrugDecl),
    /// `class`.
    Class(ClassDecl),
    /// `condition`.
    Condition(ConditionDecl),
    /// `lab`.
    Lab(LabDecl),
    /// `table`.
    Table(TableDecl),
    /// `rule`.
    Rule(RuleDecl),
    /// `test`.
    Test(TestDecl),
}

/// A named list of strings inside a declaration block, such as `atc "M03BX01"`.
#[derive(Clone, Debug)]
pub struct CodeList {
    /// The field name (`rxnorm`, `atc`, `synonym`, `icd10`, `snomed`, `loinc`).
    pub field: Ident,
    /// The values.
    pub values: Vec<Str>,
}

/// `brand "A" "B" route intrathecal`.
#[derive(Clone, Debug)]
pub struct BrandList {
    /// The brand names.
    pub names: Vec<Str>,
    /// The route the brand implies.
    pub route: Option<Ident>,
}

/// `drug NAME { ... }`.
#[derive(Clone, Debug)]
pub struct DrugDecl {
    /// The ingredient's name.
    pub name: Ident,
    /// Code lists (rxnorm, atc, synonym).
    pub codes: Vec<CodeList>,
    /// Brand lists.
    pub brands: Vec<BrandList>,
}

/// `class NAME = ...`.
#[derive(Clone, Debug)]
pub struct ClassDecl {
    /// The class's name.
    pub name: Ident,
    /// Its members.
    pub expr: ClassExpr,
}

/// The right-hand side of a class.
#[derive(Clone, Debug)]
pub enum ClassExpr {
    /// A drug or a class by name.
    Name(Ident),
    /// Every drug with an ATC code starting with this prefix.
    Atc(Str),
    /// Any of these.
    Union(Vec<ClassExpr>),
    /// The first, without the second.
    Except(Box<ClassExpr>, Box<ClassExpr>),
}

/// `condition NAME { icd10 ...; snomed ... }`.
#[derive(Clone, Debug)]
pub struct ConditionDecl {
    /// The condition's name.
    pub name: Ident,
    /// Code lists.
    pub codes: Vec<CodeList>,
}

/// `lab NAME { loinc ...; unit U; within N days }`.
#[derive(Clone, Debug)]
pub struct LabDecl {
    /// The lab's name.
    pub name: Ident,
    /// Code lists.
    pub codes: Vec<CodeList>,
    /// The canonical unit as written.
    pub unit: Option<Ident>,
    /// The look-back window.
    pub within: Option<Expr>,
    /// `computed METHOD(INPUT)`: how to derive a value when none is reported.
    pub computed: Option<(Ident, Ident)>,
}

/// `table NAME: UNIT { DRUG QUANTITY ... }`.
#[derive(Clone, Debug)]
pub struct TableDecl {
    /// The table's name.
    pub name: Ident,
    /// The unit that gives the entries' dimension.
    pub unit: Ident,
    /// The entries in source order (duplicates are kept so the checker can report them).
    pub entries: Vec<TableEntry>,
}

/// One line of a table: an ingredient and its quantity.
#[derive(Clone, Debug)]
pub struct TableEntry {
    /// The ingredient.
    pub drug: Ident,
    /// Its quantity (a number with a unit).
    pub value: Expr,
}

/// `rule NAME { ... }`.
#[derive(Clone, Debug)]
pub struct RuleDecl {
    /// The rule's name.
    pub name: Ident,
    /// The fields in source order (duplicates are kept so the checker can report them).
    pub fields: Vec<RuleField>,
    /// The whole rule.
    pub span: Span,
}

/// One field of a rule.
#[derive(Clone, Debug)]
pub enum RuleField {
    /// `severity S`.
    Severity(Ident),
    /// `when E`.
    When(Expr),
    /// `unless E`.
    Unless(Expr),
    /// `downgrade to S when E`.
    Downgrade(Ident, Expr),
    /// `summary "..."`.
    Summary(Str),
    /// `message "..."`.
    Message(Str),
    /// `advise "..."`.
    Advise(Str),
    /// `cite "..."`.
    Cite(Str),
    /// `supersedes a, b`.
    Supersedes(Vec<Ident>),
    /// `override "..." ...`.
    Override(Vec<Str>),
}

impl RuleField {
    /// The field's keyword, for diagnostics.
    pub fn keyword(&self) -> &'static str {
        match self {
            RuleField::Severity(_) => "severity",
            RuleField::When(_) => "when",
            RuleField::Unless(_) => "unless",
            RuleField::Downgrade(..) => "downgrade",
            RuleField::Summary(_) => "summary",
            RuleField::Message(_) => "message",
            RuleField::Advise(_) => "advise",
            RuleField::Cite(_) => "cite",
            RuleField::Supersedes(_) => "supersedes",
            RuleField::Override(_) => "override",
        }
    }
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `true` or `false`.
    Bool(bool),
    /// A number with an optional unit token.
    Number(f64, Option<Ident>),
    /// A date literal.
    Date(crate::date::Date),
    /// A bare name (`age`, `as_of`, a route).
    Name(Ident),
    /// `f(args)`.
    Call(Ident, Vec<Arg>),
    /// `not e`.
    Not(Box<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `table[drug]`: a table's quantity for one ingredient.
    Lookup(Ident, Ident),
    /// `any(d in domain: body)` or `all(...)`: the body for each ingredient of a class or table.
    Quantified {
        /// `any` or `all`.
        quantifier: Quantifier,
        /// The name bound to each ingredient in turn.
        var: Ident,
        /// The class or table whose ingredients are bound.
        domain: Ident,
        /// The condition, read once per ingredient.
        body: Box<Expr>,
    },
}

/// How a quantified condition combines its ingredients' values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Quantifier {
    /// True when the body is true for some ingredient (Kleene `or`).
    Any,
    /// True when the body is true for every ingredient (Kleene `and`).
    All,
    /// The body's quantities added over the ingredients (unknown when one is).
    Sum,
}

impl Quantifier {
    /// The keyword.
    pub fn word(self) -> &'static str {
        match self {
            Quantifier::Any => "any",
            Quantifier::All => "all",
            Quantifier::Sum => "sum",
        }
    }
}

/// A call argument, positional or named (`route: oral`).
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// The name before the colon.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `and`
    And,
    /// `or`
    Or,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
        }
    }
}

/// `test "NAME" { as_of D  patient { ... }  expect ... }`.
#[derive(Clone, Debug)]
pub struct TestDecl {
    /// The test's name.
    pub name: Str,
    /// `as_of` dates (exactly one is expected; the checker reports otherwise).
    pub as_of: Vec<(Option<crate::date::Date>, Span)>,
    /// `patient { ... }` blocks (exactly one is expected).
    pub patients: Vec<(Vec<TestFact>, Span)>,
    /// Expectations, in source order.
    pub expects: Vec<TestExpect>,
    /// The whole test.
    pub span: Span,
}

/// One fact about a test patient.
#[derive(Clone, Debug)]
pub enum TestFact {
    /// `medications unknown` (or conditions, labs): the section is absent.
    Unknown(Ident),
    /// `age N`.
    Age(f64, Span),
    /// `born 1956-03-02` or `born 1956`.
    Born(String, Span),
    /// `sex female`.
    Sex(Ident),
    /// `weight 70 kg`.
    Weight(Expr),
    /// `height 170 cm`.
    Height(Expr),
    /// `condition [icd10|snomed] "CODE" [STATUS]`.
    Condition {
        /// The code system, ICD-10-CM when not written.
        system: Option<Ident>,
        /// The code.
        code: Str,
        /// The status word.
        status: Option<Ident>,
    },
    /// `lab NAME|"LOINC" VALUE [UNIT] on DATE`.
    Lab {
        /// A declared lab's name, or a LOINC code.
        lab: LabRef,
        /// The value: a number, or a string such as ">60".
        value: TestValue,
        /// The unit, the lab's own when not written.
        unit: Option<Ident>,
        /// The result's date (`None`: not a calendar day).
        date: Option<crate::date::Date>,
        /// The whole fact.
        span: Span,
    },
    /// `med "TEXT" ATTR...`.
    Med {
        /// The text as a prescription would read.
        text: Str,
        /// Its attributes in source order.
        attrs: Vec<MedAttr>,
    },
}

/// A lab named in a test.
#[derive(Clone, Debug)]
pub enum LabRef {
    /// A declared lab.
    Name(Ident),
    /// A LOINC code.
    Loinc(Str),
}

/// A lab value in a test.
#[derive(Clone, Debug)]
pub enum TestValue {
    /// A number.
    Number(f64, Span),
    /// Text such as ">60".
    Text(Str),
}

/// An attribute of a test medication.
#[derive(Clone, Debug)]
pub enum MedAttr {
    /// `10 mg`.
    Dose(f64, Ident),
    /// `from 2026-01-01`.
    From(Option<crate::date::Date>, Span),
    /// `to 2026-01-01`.
    To(Option<crate::date::Date>, Span),
    /// `held 2026-10-20`: the day an on-hold entry was put on hold.
    Held(Option<crate::date::Date>, Span),
    /// `rxnorm "7804"`, `atc "N02AA05"`, `id "m1"`.
    Code(Ident, Str),
    /// A quoted frequency such as "every 8 hours".
    Text(Str),
    /// A frequency, route, status, `prn` or `statement`.
    Word(Ident),
}

/// One `expect` line.
#[derive(Clone, Debug)]
pub struct TestExpect {
    /// What is expected.
    pub kind: ExpectDecl,
    /// The whole line.
    pub span: Span,
}

/// The kinds of expectation.
#[derive(Clone, Debug)]
pub enum ExpectDecl {
    /// `expect RULE [severity S] [message contains "T"]...`.
    Fires {
        /// The rule.
        rule: Ident,
        /// The severity it must have.
        severity: Option<Ident>,
        /// Texts its message must contain.
        contains: Vec<Str>,
    },
    /// `expect no RULE`: decided false.
    No(Ident),
    /// `expect gap RULE`: a data gap.
    Gap(Ident),
    /// `expect superseded RULE`.
    Superseded(Ident),
    /// `expect unrecognized "TEXT"`.
    Unrecognized(Str),
}
