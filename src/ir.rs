//! The checked program: every name resolved, every expression typed, every quantity in its
//! dimension's canonical unit. Evaluation never meets an unresolved name.

use crate::date::Date;
use crate::diagnostic::Span;
use crate::route::Route;
use crate::units::Dimension;
use serde::Serialize;

/// Index of a pack.
pub type PackId = usize;
/// Index of a drug (ingredient).
pub type DrugId = usize;
/// Index of a class.
pub type ClassId = usize;
/// Index of a condition.
pub type ConditionId = usize;
/// Index of a lab.
pub type LabId = usize;
/// Index of a rule.
pub type RuleId = usize;
/// Index of a table.
pub type TableId = usize;

pub use crate::syntax::ast::Quantifier;

/// Every pack, vocabulary entry and rule of one engine.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// Packs, in load order.
    pub packs: Vec<PackInfo>,
    /// Ingredients.
    pub drugs: Vec<DrugDef>,
    /// Classes, flattened to their member ingredients.
    pub classes: Vec<ClassDef>,
    /// Conditions.
    pub conditions: Vec<ConditionDef>,
    /// Labs.
    pub labs: Vec<LabDef>,
    /// Tables of one quantity per ingredient.
    pub tables: Vec<TableDef>,
    /// Rules.
    pub rules: Vec<RuleDef>,
    /// The site profile applied, if any.
    pub profile: Option<crate::profile::ProfileRef>,
    /// The packs' own tests (`test` blocks), in load order.
    pub tests: Vec<TestCase>,
}

/// A pack's identity.
#[derive(Clone, Debug, Serialize)]
pub struct PackInfo {
    /// Its name.
    pub name: String,
    /// Its title.
    pub title: String,
    /// Its version.
    pub version: String,
    /// Hash of its text, the packs it uses and the engine version (hex, 16 digits).
    pub hash: String,
    /// The source file it came from.
    #[serde(skip)]
    pub source: String,
}

/// An ingredient.
#[derive(Clone, Debug)]
pub struct DrugDef {
    /// Its name.
    pub name: String,
    /// RxNorm ingredient codes.
    pub rxnorm: Vec<String>,
    /// ATC codes.
    pub atc: Vec<String>,
    /// Names it is written by (its own, brands, synonyms), each with the route a brand implies.
    pub names: Vec<(String, Option<Route>)>,
    /// Where it was declared.
    pub span: Span,
}

/// A class of ingredients.
#[derive(Clone, Debug)]
pub struct ClassDef {
    /// Its name.
    pub name: String,
    /// Member ingredients, sorted.
    pub members: Vec<DrugId>,
    /// Where it was declared.
    pub span: Span,
}

/// A clinical condition.
#[derive(Clone, Debug)]
pub struct ConditionDef {
    /// Its name.
    pub name: String,
    /// ICD-10-CM prefixes, upper case without dots.
    pub icd10: Vec<String>,
    /// SNOMED CT concept ids.
    pub snomed: Vec<String>,
    /// Where it was declared.
    pub span: Span,
}

/// A laboratory result type.
#[derive(Clone, Debug)]
pub struct LabDef {
    /// Its name.
    pub name: String,
    /// LOINC codes.
    pub loinc: Vec<String>,
    /// The dimension of its canonical unit.
    pub dimension: Dimension,
    /// The default look-back window in days.
    pub window_days: i64,
    /// How a value is derived when none is reported.
    pub computed: Option<Derivation>,
    /// Where it was declared.
    pub span: Span,
}

/// A table: one quantity of one dimension per ingredient, declared once and read by rules.
#[derive(Clone, Debug)]
pub struct TableDef {
    /// Its name.
    pub name: String,
    /// Its pack.
    pub pack: PackId,
    /// The dimension of every entry; `None` for a table of factors (numbers without a unit,
    /// `table NAME: factor`).
    pub dimension: Option<Dimension>,
    /// The entries in source order.
    pub entries: Vec<TableEntry>,
    /// Where it was declared.
    pub span: Span,
}

/// One entry of a table.
#[derive(Clone, Debug)]
pub struct TableEntry {
    /// The ingredient.
    pub drug: DrugId,
    /// Its quantity, in the dimension's canonical unit.
    pub value: f64,
    /// The whole entry line (ingredient and quantity).
    pub span: Span,
    /// The quantity as written.
    pub value_span: Span,
}

/// The unit word of a table of factors: `table mme_by_mouth: factor`.
pub const FACTOR: &str = "factor";

impl TableDef {
    /// The type of an entry read from it.
    pub fn ty(&self) -> Type {
        self.dimension.map_or(Type::Count, Type::Quantity)
    }

    /// The unit its entries are shown in (nothing for factors).
    pub fn unit(&self) -> &'static str {
        self.dimension.map_or("", Dimension::canonical_unit)
    }

    /// What it holds, in words.
    pub fn holds(&self) -> String {
        match self.dimension {
            Some(d) => format!("{} ({})", d.describe(), d.canonical_unit()),
            None => "a factor (a number without a unit)".into(),
        }
    }

    /// The quantity of an ingredient, when the table has an entry for it.
    pub fn get(&self, drug: DrugId) -> Option<f64> {
        self.entries
            .iter()
            .find(|e| e.drug == drug)
            .map(|e| e.value)
    }
}

/// A lab value derived from other data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derivation {
    /// Creatinine clearance by Cockcroft-Gault, from serum creatinine (mg/dL), weight (kg),
    /// age and sex: (140 - age) x weight / (72 x creatinine), x 0.85 for women.
    CockcroftGault {
        /// The serum creatinine lab.
        creatinine: LabId,
    },
    /// A clearance in mL/min adjusted to 1.73 m2 of body surface: x 1.73 / BSA, the body
    /// surface by Mosteller from height and weight (sqrt(cm x kg / 3600) m2).
    PerBodySurface {
        /// The clearance lab (mL/min), reported or derived.
        clearance: LabId,
    },
}

impl Derivation {
    /// The lab the value is derived from.
    pub fn input(self) -> LabId {
        match self {
            Derivation::CockcroftGault { creatinine } => creatinine,
            Derivation::PerBodySurface { clearance } => clearance,
        }
    }

    /// The name rules write it by: `computed NAME(INPUT)`.
    pub fn name(self) -> &'static str {
        match self {
            Derivation::CockcroftGault { .. } => "cockcroft_gault",
            Derivation::PerBodySurface { .. } => "per_body_surface",
        }
    }
}

/// A test written in a pack: a patient, a date and what the packs must find.
#[derive(Clone, Debug)]
pub struct TestCase {
    /// Its name.
    pub name: String,
    /// The pack it is written in.
    pub pack: PackId,
    /// The `test` block.
    pub span: Span,
    /// The evaluation date.
    pub as_of: Date,
    /// The patient, in the same form as real input.
    pub patient: crate::patient::Patient<'static>,
    /// Where each of the patient's medications is written, in order.
    pub medication_spans: Vec<Span>,
    /// What must hold, in source order.
    pub expects: Vec<Expectation>,
}

/// One `expect` line of a test.
#[derive(Clone, Debug)]
pub struct Expectation {
    /// What must hold.
    pub kind: Expect,
    /// The line, for reporting a failure.
    pub span: Span,
}

/// What a test expects.
#[derive(Clone, Debug)]
pub enum Expect {
    /// The rule fires (with this severity, with these texts in its message).
    Fires {
        /// The rule.
        rule: RuleId,
        /// Its severity after any downgrade.
        severity: Option<Severity>,
        /// Texts its message must contain.
        contains: Vec<String>,
    },
    /// The rule was decided false (not a data gap, not superseded).
    No(RuleId),
    /// The rule could not be decided.
    Gap(RuleId),
    /// The rule's condition held but another rule superseded it.
    Superseded(RuleId),
    /// A medication with this text is reported as unrecognized.
    Unrecognized(String),
}

/// Severity of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Do not combine.
    Contraindicated,
    /// Avoid, or act now.
    Major,
    /// Caution.
    Moderate,
    /// For information.
    Minor,
}

impl Severity {
    /// The severity a rule names.
    pub fn from_name(name: &str) -> Option<Severity> {
        match name {
            "contraindicated" => Some(Severity::Contraindicated),
            "major" => Some(Severity::Major),
            "moderate" => Some(Severity::Moderate),
            "minor" => Some(Severity::Minor),
            _ => None,
        }
    }

    /// The severity's name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Contraindicated => "contraindicated",
            Severity::Major => "major",
            Severity::Moderate => "moderate",
            Severity::Minor => "minor",
        }
    }
}

/// A drug or a class: what `taking`, `new`, `count` and `drugs` read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetRef {
    /// One ingredient.
    Drug(DrugId),
    /// A class.
    Class(ClassId),
}

/// Which entries `count` and `drugs` read: every one taken now, or only those taken on a
/// schedule (`scheduled: true`: not marked as needed) or only those taken as needed
/// (`scheduled: false`, PRN).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dosing {
    /// Every entry taken now, PRN included.
    #[default]
    Any,
    /// Entries taken on a schedule.
    Scheduled,
    /// Entries taken as needed (PRN).
    AsNeeded,
}

impl Dosing {
    /// Whether an entry, marked PRN or not, is read.
    pub fn reads(self, prn: bool) -> bool {
        match self {
            Dosing::Any => true,
            Dosing::Scheduled => !prn,
            Dosing::AsNeeded => prn,
        }
    }

    /// The argument as written after the set's name (`, scheduled: true`), or nothing.
    pub fn written(self) -> &'static str {
        match self {
            Dosing::Any => "",
            Dosing::Scheduled => ", scheduled: true",
            Dosing::AsNeeded => ", scheduled: false",
        }
    }

    /// The entries read, in words (`" on a schedule"`), or nothing.
    pub fn words(self) -> &'static str {
        match self {
            Dosing::Any => "",
            Dosing::Scheduled => " on a schedule",
            Dosing::AsNeeded => " as needed",
        }
    }
}

/// A checked rule.
#[derive(Clone, Debug)]
pub struct RuleDef {
    /// Its name.
    pub name: String,
    /// Its pack.
    pub pack: PackId,
    /// Its severity.
    pub severity: Severity,
    /// When it fires.
    pub when: TExpr,
    /// Exceptions that suppress the finding.
    pub unless: Vec<TExpr>,
    /// Exceptions that lower the severity.
    pub downgrades: Vec<(Severity, TExpr)>,
    /// The card summary.
    pub summary: String,
    /// The message template.
    pub message: Template,
    /// The advice template.
    pub advise: Option<Template>,
    /// Sources.
    pub cite: Vec<String>,
    /// Rules whose findings this rule's finding replaces.
    pub supersedes: Vec<RuleId>,
    /// Override reasons offered with the finding.
    pub overrides: Vec<String>,
    /// Where it was declared.
    pub span: Span,
    /// Turned off by a site profile: never evaluated.
    pub disabled: bool,
    /// Withheld by a site profile: evaluated, supersedes as usual, but its finding is listed as
    /// withheld instead of shown.
    pub withheld: bool,
    /// The tables its conditions read, in order of first use.
    pub tables: Vec<TableId>,
}

/// A message with `{...}` holes.
#[derive(Clone, Debug, Default)]
pub struct Template {
    /// Text and holes in order.
    pub pieces: Vec<Piece>,
}

/// Part of a template.
#[derive(Clone, Debug)]
pub enum Piece {
    /// Literal text.
    Text(String),
    /// An expression rendered in place.
    Hole(TExpr),
}

/// The type of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// True, false or unknown.
    Bool,
    /// A dimensionless number.
    Count,
    /// A quantity of a dimension.
    Quantity(Dimension),
    /// A date.
    Date,
    /// A list of the patient's medication entries (templates only).
    Entries,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum CmpOp {
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
}

impl CmpOp {
    /// The same comparison with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

/// A typed expression.
#[derive(Clone, Debug, PartialEq)]
pub struct TExpr {
    /// What it computes.
    pub kind: TKind,
    /// Its type.
    pub ty: Type,
    /// Where it was written.
    pub span: Span,
}

/// Typed expression forms. Quantities are in canonical units.
#[derive(Clone, Debug, PartialEq)]
pub enum TKind {
    /// A boolean constant.
    Bool(bool),
    /// A number (count, or quantity in canonical units).
    Number(f64),
    /// A date constant.
    Date(Date),
    /// The evaluation date.
    AsOf,
    /// The patient's age in completed years.
    Age,
    /// Takes the drug or a member of the class now.
    Taking(SetRef),
    /// Takes the drug or a member of the class now, by one of the routes.
    TakingBy(SetRef, crate::route::Routes),
    /// A draft order is for it.
    New(SetRef),
    /// Distinct ingredients of the set taken now, by the entries `Dosing` reads.
    Count(SetRef, Dosing),
    /// An active condition.
    Has(ConditionId),
    /// An active or past condition.
    Had(ConditionId),
    /// The most recent result within the window.
    Lab(LabId, i64),
    /// Daily dose of one ingredient by one route, now or on a date.
    DailyDose(DrugId, Route, Option<Box<TExpr>>),
    /// Some taken entry of the drug is by the route.
    RouteIs(DrugId, Route),
    /// Every entry by the route ended within the window and none is taken.
    Stopped(DrugId, Route, i64),
    /// The last entry before the stop was a lower dose than the one before.
    Tapered(DrugId, Route, i64),
    /// The day the last entry of the drug by the route ended, when every such entry has ended
    /// (a date; unknown while one is taken, when there is none, or when the records do not say).
    StopDate(DrugId, Route),
    /// Some ingredient of the set, taken now, has a lower daily dose by some route than it
    /// had the given number of days ago.
    Reduced(SetRef, i64),
    /// The patient's entries in the set taken now, by `Dosing` (templates only).
    Drugs(SetRef, Dosing),
    /// Negation.
    Not(Box<TExpr>),
    /// Conjunction.
    And(Box<TExpr>, Box<TExpr>),
    /// Disjunction.
    Or(Box<TExpr>, Box<TExpr>),
    /// Comparison.
    Cmp(CmpOp, Box<TExpr>, Box<TExpr>),
    /// Sum (quantities of one dimension, or a date plus a duration).
    Add(Box<TExpr>, Box<TExpr>),
    /// Difference.
    Sub(Box<TExpr>, Box<TExpr>),
    /// A number or quantity times a factor known when the pack is checked (a number, or an
    /// entry of a table of factors).
    Scale(Box<TExpr>, f64),
    /// `any(d in domain: body)`, `all(...)` or `sum(...)`, expanded: the body checked once per
    /// ingredient of the domain, with `d` bound to it (and `table[d]` read as that ingredient's
    /// quantity).
    Quantified(Box<Quantified>),
}

/// A quantified condition, one branch per ingredient of its domain.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantified {
    /// `any`, `all` or `sum`.
    pub quantifier: Quantifier,
    /// The bound name, as written.
    pub var: String,
    /// The class or table, as written.
    pub domain: String,
    /// Each ingredient with the body read for it, in the domain's order.
    pub branches: Vec<(DrugId, TExpr)>,
}

impl TExpr {
    /// Children in order.
    pub fn children(&self) -> Vec<&TExpr> {
        match &self.kind {
            TKind::Not(a) => vec![a],
            TKind::And(a, b)
            | TKind::Or(a, b)
            | TKind::Cmp(_, a, b)
            | TKind::Add(a, b)
            | TKind::Sub(a, b) => vec![a, b],
            TKind::DailyDose(_, _, Some(on)) | TKind::Scale(on, _) => vec![on],
            TKind::Quantified(q) => q.branches.iter().map(|(_, body)| body).collect(),
            _ => Vec::new(),
        }
    }
}
