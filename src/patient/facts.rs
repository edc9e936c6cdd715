//! A patient's facts: what rules read, resolved once per patient into buffers that are reused
//! from one patient to the next.

use super::dose::{self, DailyDose, DoseFact};
use super::model::*;
use super::text::ResolvedBy;
use crate::compile::Vocabulary;
use crate::date::{Date, days_in_month};
use crate::ir::{ConditionId, Derivation, DrugId, LabId};
use crate::route::Route;
use crate::value::Interval;

/// A fixed-width bitset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bits(Vec<u64>);

impl Bits {
    /// All clear, `n` bits wide.
    pub fn with_len(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }

    /// Clears every bit, resizing to `n` bits.
    pub fn reset(&mut self, n: usize) {
        self.0.clear();
        self.0.resize(n.div_ceil(64), 0);
    }

    /// Sets bit `i`.
    pub fn set(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    /// Tests bit `i`.
    pub fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// `self |= other`.
    pub fn union_with(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    /// Some bit is set in both.
    pub fn intersects(&self, other: &Bits) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }

    /// The set bits, in increasing order.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                (w != 0).then(|| {
                    let b = w.trailing_zeros() as usize;
                    w &= w - 1;
                    i * 64 + b
                })
            })
        })
    }
}

/// How an entry stands at `as_of`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryState {
    /// Taken now (active or on hold within its dates, PRN included, or a draft order).
    Taking,
    /// Taken before and ended.
    History,
    /// Starts after `as_of`.
    Future,
    /// Cancelled, entered in error or not taken: never read.
    Invisible,
}

/// How a site reads medication statuses over time: when an open order stops counting, and when a
/// hold becomes an interruption. Set by a site profile or the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusPolicy {
    /// An active order (a request) with no end whose start is more than this many days before
    /// `as_of` is history: no prescription stays valid that long. `None`: no horizon.
    pub order_horizon_days: Option<u32>,
    /// An on-hold entry held at least this many days counts as an interruption for withdrawal
    /// rules (`stopped`, `tapered`); it stays taking for interactions.
    pub on_hold_days: u32,
}

impl StatusPolicy {
    /// The default horizon: 365 days (see `docs/patients.md`, "Old open orders": one year is
    /// the longest validity US state law and UK practice give a non-controlled prescription).
    pub const DEFAULT_ORDER_HORIZON_DAYS: u32 = 365;
    /// The default on-hold limit: 2 days (a judgement: withdrawal from baclofen and short-acting
    /// benzodiazepines begins within one to three days of the last dose).
    pub const DEFAULT_ON_HOLD_DAYS: u32 = 2;
}

impl Default for StatusPolicy {
    fn default() -> StatusPolicy {
        StatusPolicy {
            order_horizon_days: Some(StatusPolicy::DEFAULT_ORDER_HORIZON_DAYS),
            on_hold_days: StatusPolicy::DEFAULT_ON_HOLD_DAYS,
        }
    }
}

/// Why a patient is not screened.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NotScreened {
    /// `deceased`.
    pub reason: &'static str,
    /// The day, when the record gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
}

/// Whether the patient is deceased on or before `as_of`: such a patient is not screened. A day
/// of death after `as_of` means alive then.
pub fn not_screened(
    patient: &Patient<'_>,
    as_of: Date,
) -> Result<Option<NotScreened>, RecordError> {
    let deceased = |date| NotScreened {
        reason: "deceased",
        date,
    };
    match &patient.deceased {
        None | Some(Deceased::Flag(false)) => Ok(None),
        Some(Deceased::Flag(true)) => Ok(Some(deceased(None))),
        Some(Deceased::Day(day)) => {
            let date = parse_date(day.get(..10).unwrap_or(day), || "deceased".into())?;
            Ok((date <= as_of).then(|| deceased(Some(date))))
        }
    }
}

/// One medication entry, resolved.
#[derive(Clone, Debug)]
pub struct MedFact {
    /// Index of the entry in the record.
    pub entry: usize,
    /// Ingredients: a range into [`PatientFacts::med_drugs`].
    pub drugs: std::ops::Range<usize>,
    /// Route, given or implied.
    pub route: Option<Route>,
    /// State at `as_of`.
    pub state: EntryState,
    /// A draft order (being ordered now).
    pub draft: bool,
    /// On hold (taking for interactions).
    pub on_hold: bool,
    /// The day an on-hold entry was put on hold, when held at least the site's on-hold limit:
    /// for withdrawal rules the drug stopped that day.
    pub interrupted: Option<Date>,
    /// On hold since a day the record does not give: whether it is an interruption is unknown.
    pub hold_undated: bool,
    /// An active order with no end older than the site's horizon, read as history.
    pub beyond_horizon: bool,
    /// First day.
    pub start: Option<Date>,
    /// Last day.
    pub end: Option<Date>,
    /// How it was identified.
    pub by: ResolvedBy,
    /// Words left over after identification (reported when some ingredient matched).
    pub leftover: Vec<String>,
    /// The route was written but not understood.
    pub route_unreadable: bool,
    /// Hash of the dose, unit and frequency as written: equal keys of one ingredient and route
    /// are one therapy recorded twice (a statement mirroring a request).
    pub dose_key: u64,
    /// Whether the entry is an order or a statement of use.
    pub source: Option<EntrySource>,
    /// Taken as needed (PRN), as the record marks it; otherwise on a schedule.
    pub prn: bool,
    /// The release form the text writes: a draft renews only an entry of a form it may renew.
    pub release: super::Release,
}

/// A lab result matched to a declared lab.
#[derive(Clone, Debug)]
pub struct LabFact {
    /// Which lab.
    pub lab: LabId,
    /// When.
    pub date: Date,
    /// The value in the lab's canonical unit, or why not.
    pub value: Result<Interval, LabProblem>,
    /// Index of the result in the record (for a derived value, of the result it comes from).
    pub entry: usize,
    /// Computed by the lab's derivation rather than reported.
    pub derived: bool,
    /// The unit as written (`mL/min`, or none) was not the lab's, and was read as the lab's
    /// because its LOINC code defines the unit (eGFR per 1.73 m2).
    pub unit_assumed: bool,
}

/// Why a lab value cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabProblem {
    /// Its unit cannot be converted to the lab's.
    Unit,
    /// Its value is not a number or range.
    Value,
    /// A derived value lacks an input (`"weight"`, `"age"`).
    Missing(&'static str),
}

/// Everything the rules read about one patient at one `as_of` date.
#[derive(Debug, Default)]
pub struct PatientFacts {
    /// The evaluation date.
    pub as_of: Date,
    /// Age in completed years (a range for a partial birth date), or unknown.
    pub age: Option<Interval>,
    /// Body weight in kg.
    pub weight_kg: Option<f64>,
    /// Body height in cm.
    pub height_cm: Option<f64>,
    /// Sex.
    pub sex: Option<Sex>,
    /// The medication list was provided.
    pub meds_provided: bool,
    /// Medication entries.
    pub meds: Vec<MedFact>,
    /// Ingredient ids of all entries, sliced by [`MedFact::drugs`].
    pub med_drugs: Vec<DrugId>,
    /// The daily dose of each ingredient of each entry, beside [`PatientFacts::med_drugs`].
    pub med_doses: Vec<DoseFact>,
    /// The strength the text gives each ingredient, beside `med_drugs` (reused buffer).
    med_strengths: Vec<Option<super::strength::Strength>>,
    /// Drugs and classes taken now.
    pub taking: Bits,
    /// Drugs and classes ordered now (draft orders).
    pub new: Bits,
    /// Drugs and classes in any visible entry (taken, ordered, or in the history).
    pub visible: Bits,
    /// Distinct ingredients taken now, sorted.
    pub taking_drugs: Vec<DrugId>,
    /// Conditions were provided.
    pub conditions_provided: bool,
    /// Current conditions.
    pub has: Bits,
    /// Current or past conditions.
    pub had: Bits,
    /// Labs were provided.
    pub labs_provided: bool,
    /// Matched lab results.
    pub labs: Vec<LabFact>,
    text_scratch: super::text::TextScratch,
}

/// A record that cannot be evaluated, with the field at fault.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct RecordError {
    /// The field path, such as `medications[2].start`.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

fn parse_date(text: &str, field: impl FnOnce() -> String) -> Result<Date, RecordError> {
    Date::parse(text).ok_or_else(|| RecordError {
        field: field(),
        reason: format!("`{text}` is not a date (YYYY-MM-DD)"),
    })
}

/// A condition needs a code with its system, or a text: an entry with neither says nothing, and
/// a code without its system cannot be told from another system's code.
fn condition_is_readable(i: usize, c: &ConditionRecord<'_>) -> Result<(), RecordError> {
    let blank =
        |s: &Option<std::borrow::Cow<'_, str>>| s.as_deref().is_none_or(|s| s.trim().is_empty());
    if !blank(&c.code) && blank(&c.system) {
        return Err(RecordError {
            field: format!("conditions[{i}].system"),
            reason: "a code needs its system (`icd10`, `snomed`, or the name of another system)"
                .into(),
        });
    }
    if blank(&c.code) && blank(&c.text) {
        return Err(RecordError {
            field: format!("conditions[{i}]"),
            reason: "a condition needs a code with its system, or a text".into(),
        });
    }
    Ok(())
}

impl PatientFacts {
    /// Resolves `patient` into these buffers, replacing what they held.
    pub fn build(
        &mut self,
        patient: &Patient<'_>,
        vocab: &Vocabulary,
        as_of: Date,
    ) -> Result<(), RecordError> {
        self.as_of = as_of;
        self.age = age(patient, as_of)?;
        self.weight_kg = patient.weight_kg.filter(|w| w.is_finite() && *w > 0.0);
        self.height_cm = patient.height_cm.filter(|h| h.is_finite() && *h > 0.0);
        self.sex = patient.sex;
        self.medications(patient, vocab)?;
        self.conditions(patient, vocab)?;
        self.labs(patient, vocab)
    }

    fn medications(
        &mut self,
        patient: &Patient<'_>,
        vocab: &Vocabulary,
    ) -> Result<(), RecordError> {
        let width = vocab.set_bits();
        self.taking.reset(width);
        self.new.reset(width);
        self.visible.reset(width);
        self.meds.clear();
        self.med_drugs.clear();
        self.med_doses.clear();
        self.med_strengths.clear();
        self.taking_drugs.clear();
        self.meds_provided = patient.medications.is_some();
        for (i, m) in patient.medications.iter().flatten().enumerate() {
            let fact = self.medication(i, m, vocab)?;
            for &d in &self.med_drugs[fact.drugs.clone()] {
                let bits = &vocab.drug_bits[d];
                if fact.state != EntryState::Invisible && fact.state != EntryState::Future {
                    self.visible.union_with(bits);
                }
                if fact.state == EntryState::Taking {
                    self.taking.union_with(bits);
                    self.taking_drugs.push(d);
                }
                if fact.draft {
                    self.new.union_with(bits);
                }
            }
            self.meds.push(fact);
        }
        self.taking_drugs.sort_unstable();
        self.taking_drugs.dedup();
        Ok(())
    }

    fn medication(
        &mut self,
        i: usize,
        m: &MedicationRecord<'_>,
        vocab: &Vocabulary,
    ) -> Result<MedFact, RecordError> {
        let start = m
            .start
            .as_deref()
            .map(|s| parse_date(s, || format!("medications[{i}].start")))
            .transpose()?;
        let end = m
            .end
            .as_deref()
            .map(|s| parse_date(s, || format!("medications[{i}].end")))
            .transpose()?;
        let first = self.med_drugs.len();
        let res = vocab.index.resolve(
            m.rxnorm.as_deref(),
            m.atc.as_deref(),
            &m.text,
            &mut self.text_scratch,
            &mut self.med_drugs,
            &mut self.med_strengths,
        );
        let ingredients = self.med_drugs.len() - first;
        let status_changed = m
            .status_changed
            .as_deref()
            .map(|s| parse_date(s, || format!("medications[{i}].status_changed")))
            .transpose()?;
        let written_route = m.route.as_deref().map(Route::from_record);
        let route = written_route.flatten().or(res.implied_route);
        let by = res.by;
        let units = self
            .med_strengths
            .get(first..self.med_drugs.len())
            .and_then(|strengths| dose::combination_units(m.dose.as_ref(), strengths));
        for k in first..self.med_drugs.len() {
            let strength = self.med_strengths.get(k).copied().flatten();
            self.med_doses.push(match units {
                Some(count) => dose::units_dose(count, m.frequency.as_deref(), strength),
                None => dose::ingredient_dose(
                    m.dose.as_ref(),
                    m.frequency.as_deref(),
                    ingredients,
                    strength,
                ),
            });
        }
        let policy = &vocab.status;
        let mut state = state(m.status, start, end, self.as_of);
        let beyond_horizon = state == EntryState::Taking
            && beyond_horizon(m, start, end, self.as_of, policy.order_horizon_days);
        let mut end = end;
        if beyond_horizon {
            // No prescription outlives the horizon: the order ended by its last valid day at the
            // latest (the day withdrawal rules read as its stop).
            state = EntryState::History;
            let days = policy.order_horizon_days.map_or(0, i64::from);
            end = start.map(|s| s.add_days(days));
        }
        let on_hold = m.status == MedicationStatus::OnHold && state == EntryState::Taking;
        let limit = i64::from(policy.on_hold_days);
        Ok(MedFact {
            entry: i,
            drugs: first..self.med_drugs.len(),
            route,
            state,
            draft: m.status == MedicationStatus::Draft,
            on_hold,
            interrupted: status_changed
                .filter(|&held| on_hold && held <= self.as_of.add_days(-limit)),
            hold_undated: on_hold && status_changed.is_none(),
            beyond_horizon,
            start,
            end,
            by,
            leftover: res.leftover,
            route_unreadable: matches!(written_route, Some(None)),
            dose_key: dose_key(m),
            source: m.source,
            prn: m.prn,
            release: super::Release::of(&m.text),
        })
    }

    fn conditions(&mut self, patient: &Patient<'_>, vocab: &Vocabulary) -> Result<(), RecordError> {
        let n = vocab.condition_count();
        self.has.reset(n);
        self.had.reset(n);
        self.conditions_provided = patient.conditions.is_some();
        for (i, c) in patient.conditions.iter().flatten().enumerate() {
            condition_is_readable(i, c)?;
            let Some((system, code)) = c.read_code() else {
                continue;
            };
            vocab.match_condition(system, code, |id: ConditionId| {
                if c.status.is_current() {
                    self.has.set(id);
                }
                if c.status.is_past_or_current() {
                    self.had.set(id);
                }
            });
        }
        Ok(())
    }

    fn labs(&mut self, patient: &Patient<'_>, vocab: &Vocabulary) -> Result<(), RecordError> {
        self.labs.clear();
        self.labs_provided = patient.labs.is_some();
        for (i, l) in patient.labs.iter().flatten().enumerate() {
            let labs = vocab.labs_for(&l.loinc);
            if labs.is_empty() {
                continue;
            }
            let date = parse_date(&l.date, || format!("labs[{i}].date"))?;
            for &lab in labs {
                let (value, unit_assumed) = lab_value(l, vocab.lab_dimension(lab));
                self.labs.push(LabFact {
                    lab,
                    date,
                    value,
                    entry: i,
                    derived: false,
                    unit_assumed,
                });
            }
        }
        // Clearances from creatinine first, so that a clearance per body surface can be derived
        // from a computed clearance as well as from a reported one.
        for pass in [
            DerivationPass::FromCreatinine,
            DerivationPass::FromClearance,
        ] {
            for &(lab, derivation) in vocab.derivations() {
                if DerivationPass::of(derivation) != pass {
                    continue;
                }
                let input = derivation.input();
                for i in 0..self.labs.len() {
                    let from = &self.labs[i];
                    if from.lab != input || (from.derived && pass == DerivationPass::FromCreatinine)
                    {
                        continue;
                    }
                    let value = from.value.and_then(|v| match derivation {
                        Derivation::CockcroftGault { .. } => {
                            cockcroft_gault(v, self.age, self.weight_kg, self.sex)
                        }
                        Derivation::PerBodySurface { .. } => {
                            per_body_surface(v, self.height_cm, self.weight_kg)
                        }
                    });
                    let fact = LabFact {
                        lab,
                        date: from.date,
                        value,
                        entry: from.entry,
                        derived: true,
                        unit_assumed: false,
                    };
                    self.labs.push(fact);
                }
            }
        }
        Ok(())
    }

    /// The ingredients of an entry.
    pub fn drugs_of(&self, m: &MedFact) -> &[DrugId] {
        &self.med_drugs[m.drugs.clone()]
    }

    /// The daily dose of ingredient `d` in an entry (not given when it is not an ingredient).
    pub fn dose_of(&self, m: &MedFact, d: DrugId) -> DoseFact {
        let drugs = self.drugs_of(m);
        drugs
            .iter()
            .position(|&x| x == d)
            .and_then(|k| self.med_doses.get(m.drugs.start + k).copied())
            .unwrap_or(DoseFact {
                daily: DailyDose::NotGiven,
                conversion: None,
            })
    }

    /// The first dose problem among an entry's ingredients.
    pub fn dose_problem(&self, m: &MedFact) -> Option<super::DoseProblem> {
        self.med_doses
            .get(m.drugs.clone())
            .into_iter()
            .flatten()
            .find_map(|d| match d.daily {
                DailyDose::Unknown(p) => Some(p),
                _ => None,
            })
    }
}

fn dose_key(m: &MedicationRecord<'_>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    };
    if let Some(d) = &m.dose {
        eat(&d.value.to_bits().to_le_bytes());
        eat(d.unit.trim().as_bytes());
    }
    eat(m.frequency.as_deref().unwrap_or("").trim().as_bytes());
    eat(&[u8::from(m.prn)]);
    h
}

/// The order derivations run in: a derivation reads only what an earlier pass has produced.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DerivationPass {
    FromCreatinine,
    FromClearance,
}

impl DerivationPass {
    fn of(d: Derivation) -> DerivationPass {
        match d {
            Derivation::CockcroftGault { .. } => DerivationPass::FromCreatinine,
            Derivation::PerBodySurface { .. } => DerivationPass::FromClearance,
        }
    }
}

/// Body surface area in m2 by Mosteller: sqrt(height in cm x weight in kg / 3600).
pub fn body_surface_mosteller(height_cm: f64, weight_kg: f64) -> f64 {
    (height_cm * weight_kg / 3600.0).sqrt()
}

/// The body surface, in m2, taken to hold for an adult whose height or weight is not given:
/// 1.0 m2 is 150 cm and 24 kg by Mosteller, 3.5 m2 is 200 cm and 220 kg. rxguard's bound, not a
/// source's: a clearance adjusted over it decides a rule only when every body surface in it
/// gives the same answer.
pub const ADULT_BODY_SURFACE_M2: (f64, f64) = (1.0, 3.5);

/// A clearance in mL/min adjusted to 1.73 m2 of body surface: x 1.73 / BSA (Mosteller). A range
/// stays a range. Without a height or a weight the body surface is any adult's
/// ([`ADULT_BODY_SURFACE_M2`]), and the result the range over it.
pub fn per_body_surface(
    clearance: Interval,
    height_cm: Option<f64>,
    weight_kg: Option<f64>,
) -> Result<Interval, LabProblem> {
    let (small, large) = match height_cm.zip(weight_kg) {
        Some((height, weight)) => {
            let bsa = body_surface_mosteller(height, weight);
            (bsa, bsa)
        }
        None => ADULT_BODY_SURFACE_M2,
    };
    if !(small.is_finite() && small > 0.0 && large.is_finite()) {
        return Err(LabProblem::Value);
    }
    // The largest body surface gives the lowest adjusted clearance.
    Ok(Interval {
        lo: clearance.lo * 1.73 / large,
        hi: clearance.hi * 1.73 / small,
        lo_open: clearance.lo_open,
        hi_open: clearance.hi_open,
    })
}

/// Creatinine clearance in mL/min by Cockcroft-Gault: (140 - age) x weight / (72 x serum
/// creatinine in mg/dL), x 0.85 for women. Every input may be a range (a partial birth date, a
/// creatinine written "<0.5"; an unknown or other sex spans both factors), so the result is the
/// range of every combination: the formula falls with age and creatinine and rises with weight.
pub fn cockcroft_gault(
    scr: Interval,
    age: Option<Interval>,
    weight_kg: Option<f64>,
    sex: Option<Sex>,
) -> Result<Interval, LabProblem> {
    let weight = weight_kg.ok_or(LabProblem::Missing("weight"))?;
    let age = age.ok_or(LabProblem::Missing("age"))?;
    // A creatinine is never negative: "<0.5" means 0 to 0.5.
    let scr_lo = scr.lo.max(0.0);
    if !(scr.hi > 0.0 && scr_lo.is_finite()) {
        return Err(LabProblem::Value);
    }
    let (f_lo, f_hi) = match sex {
        Some(Sex::Female) => (0.85, 0.85),
        Some(Sex::Male) => (1.0, 1.0),
        _ => (0.85, 1.0),
    };
    let at = |age: f64, scr: f64, f: f64| ((140.0 - age) * weight * f / (72.0 * scr)).max(0.0);
    let hi = if scr_lo > 0.0 {
        at(age.lo, scr_lo, f_hi)
    } else {
        f64::INFINITY
    };
    Ok(Interval {
        lo: at(age.hi, scr.hi, f_lo),
        hi,
        lo_open: scr.hi_open,
        hi_open: scr.lo_open,
    })
}

/// A lab's value in the lab's unit, and whether that unit was taken from the LOINC code
/// rather than the unit text.
fn lab_value(
    l: &LabRecord<'_>,
    dim: crate::units::Dimension,
) -> (Result<Interval, LabProblem>, bool) {
    let raw = match &l.value {
        LabValue::Number(x) if x.is_finite() => Interval::point(*x),
        LabValue::Number(_) => return (Err(LabProblem::Value), false),
        LabValue::Text(t) => match Interval::parse(t) {
            Some(x) => x,
            None => return (Err(LabProblem::Value), false),
        },
    };
    match crate::units::lookup_record_unit(&l.unit) {
        Some(u) if u.dimension == dim => (Ok(raw.scale(u.factor)), false),
        _ if per_bsa_by_code(&l.unit, dim) => (Ok(raw), true),
        _ => (Err(LabProblem::Unit), false),
    }
}

/// An eGFR's LOINC code is defined per 1.73 m2 ("Glomerular filtration rate/1.73 sq M.predicted
/// [Volume Rate/Area]" in the names of 33914-3, 48642-3, 62238-1 and the others): laboratories that write only "mL/min" (or no unit) still report the normalised value,
/// so the code, not the unit text, says what it is. Any other unit (mg/dL) stays unreadable.
fn per_bsa_by_code(unit: &str, dim: crate::units::Dimension) -> bool {
    let written = unit.trim().to_ascii_lowercase();
    dim == crate::units::Dimension::ClearancePerBsa
        && (written.is_empty() || written.starts_with("ml/min"))
}

fn state(
    status: MedicationStatus,
    start: Option<Date>,
    end: Option<Date>,
    as_of: Date,
) -> EntryState {
    use MedicationStatus::*;
    match status {
        Cancelled | EnteredInError | NotTaken | Proposed => EntryState::Invisible,
        Draft => EntryState::Taking,
        Stopped | Completed => EntryState::History,
        Active | OnHold => {
            if start.is_some_and(|s| s > as_of) {
                EntryState::Future
            } else if end.is_some_and(|e| e < as_of) {
                EntryState::History
            } else {
                EntryState::Taking
            }
        }
    }
}

/// An open order (a request, active, no end) that started more than `horizon` days before
/// `as_of`: day `horizon` is still taking, the day after is history.
fn beyond_horizon(
    m: &MedicationRecord<'_>,
    start: Option<Date>,
    end: Option<Date>,
    as_of: Date,
    horizon: Option<u32>,
) -> bool {
    let open_order = m.source == Some(EntrySource::Request)
        && matches!(
            m.status,
            MedicationStatus::Active | MedicationStatus::OnHold
        )
        && end.is_none();
    match (horizon, start) {
        (Some(days), Some(start)) if open_order => start < as_of.add_days(-i64::from(days)),
        _ => false,
    }
}

/// Age at `as_of` in completed years: exact from a full birth date, a range from a partial one.
fn age(patient: &Patient<'_>, as_of: Date) -> Result<Option<Interval>, RecordError> {
    let Some(birth) = patient.birth_date.as_deref() else {
        return Ok(patient.age.map(|a| Interval::point(f64::from(a))));
    };
    let bad = || RecordError {
        field: "birth_date".into(),
        reason: format!("`{birth}` is not a date (YYYY-MM-DD, YYYY-MM or YYYY)"),
    };
    let digits_but = |dash: Option<usize>| {
        birth.bytes().enumerate().all(|(i, b)| {
            if Some(i) == dash {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
    };
    let (earliest, latest) = match birth.len() {
        10 => {
            let d = Date::parse(birth).ok_or_else(bad)?;
            (d, d)
        }
        7 if digits_but(Some(4)) => {
            let (y, m) = (
                birth[..4].parse().map_err(|_| bad())?,
                birth[5..].parse().map_err(|_| bad())?,
            );
            let first = Date::from_ymd(y, m, 1).ok_or_else(bad)?;
            (
                first,
                Date::from_ymd(y, m, days_in_month(y, m)).ok_or_else(bad)?,
            )
        }
        4 if digits_but(None) => {
            let y = birth.parse().map_err(|_| bad())?;
            (
                Date::from_ymd(y, 1, 1).ok_or_else(bad)?,
                Date::from_ymd(y, 12, 31).ok_or_else(bad)?,
            )
        }
        _ => return Err(bad()),
    };
    if earliest > as_of {
        return Err(RecordError {
            field: "birth_date".into(),
            reason: format!("`{birth}` is after the evaluation date {as_of}"),
        });
    }
    let oldest = as_of.years_since(earliest);
    let youngest = as_of.years_since(latest.min(as_of));
    Ok(Some(Interval::closed(
        f64::from(youngest),
        f64::from(oldest),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cg(scr: f64, age: (f64, f64), kg: f64, sex: Option<Sex>) -> Interval {
        cockcroft_gault(
            Interval::point(scr),
            Some(Interval::closed(age.0, age.1)),
            Some(kg),
            sex,
        )
        .unwrap()
    }

    #[test]
    fn cockcroft_gault_matches_the_formula() {
        // (140 - 70) x 60 / (72 x 1.0) = 58.33 for a man; x 0.85 = 49.58 for a woman.
        let man = cg(1.0, (70.0, 70.0), 60.0, Some(Sex::Male));
        assert!((man.lo - 58.333).abs() < 0.01 && man.lo == man.hi);
        let woman = cg(1.0, (70.0, 70.0), 60.0, Some(Sex::Female));
        assert!((woman.lo - 49.583).abs() < 0.01);
        // Unknown sex: the range between the two.
        let either = cg(1.0, (70.0, 70.0), 60.0, None);
        assert!((either.lo - woman.lo).abs() < 1e-9 && (either.hi - man.hi).abs() < 1e-9);
        // An age range widens the result the right way round: older gives less.
        let ranged = cg(1.0, (64.0, 65.0), 60.0, Some(Sex::Male));
        assert!((ranged.lo - 62.5).abs() < 1e-9 && (ranged.hi - 63.333).abs() < 0.01);
    }

    #[test]
    fn cockcroft_gault_needs_weight_age_and_a_positive_creatinine() {
        let scr = Interval::point(1.0);
        let age = Some(Interval::point(70.0));
        assert_eq!(
            cockcroft_gault(scr, age, None, None),
            Err(LabProblem::Missing("weight"))
        );
        assert_eq!(
            cockcroft_gault(scr, None, Some(60.0), None),
            Err(LabProblem::Missing("age"))
        );
        assert_eq!(
            cockcroft_gault(Interval::point(0.0), age, Some(60.0), None),
            Err(LabProblem::Value)
        );
        // "<0.5" mg/dL: the clearance has no upper bound.
        let low = cockcroft_gault(Interval::parse("<0.5").unwrap(), age, Some(60.0), None).unwrap();
        assert!(low.hi.is_infinite());
    }

    #[test]
    fn clearance_per_body_surface_by_mosteller() {
        // 180 cm and 80 kg: sqrt(180 x 80 / 3600) = 2 m2, so 100 mL/min is 86.5 per 1.73 m2.
        assert!((body_surface_mosteller(180.0, 80.0) - 2.0).abs() < 1e-12);
        let v = per_body_surface(Interval::point(100.0), Some(180.0), Some(80.0)).unwrap();
        assert!((v.lo - 86.5).abs() < 1e-9 && (v.hi - 86.5).abs() < 1e-9);
        // A range keeps its bounds and their openness.
        let open = Interval::parse(">60").unwrap();
        let v = per_body_surface(open, Some(180.0), Some(80.0)).unwrap();
        assert!((v.lo - 51.9).abs() < 1e-9 && v.hi.is_infinite() && v.lo_open);
        // Without a height or a weight: 1.73 / 3.5 to 1.73 / 1.0 times the clearance.
        for (h, w) in [(None, Some(80.0)), (Some(180.0), None), (None, None)] {
            let v = per_body_surface(Interval::point(100.0), h, w).unwrap();
            assert!((v.lo - 49.428_571_428_571_43).abs() < 1e-9, "{v:?}");
            assert!((v.hi - 173.0).abs() < 1e-9, "{v:?}");
        }
    }

    fn patient(birth: &str) -> Patient<'_> {
        Patient {
            id: "p".into(),
            birth_date: Some(birth.into()),
            age: None,
            sex: None,
            weight_kg: None,
            height_cm: None,
            conditions: None,
            labs: None,
            medications: None,
            deceased: None,
        }
    }

    #[test]
    fn partial_birth_dates_give_an_age_range() {
        let as_of = Date::parse("2026-11-01").unwrap();
        assert_eq!(
            age(&patient("1961"), as_of).unwrap(),
            Some(Interval::closed(64.0, 65.0))
        );
        assert_eq!(
            age(&patient("1961-05"), as_of).unwrap(),
            Some(Interval::point(65.0))
        );
        assert_eq!(
            age(&patient("1961-11-02"), as_of).unwrap(),
            Some(Interval::point(64.0))
        );
        assert!(age(&patient("1961-13"), as_of).is_err());
        for hostile in ["123é56", "é961", "19é1-1", "-123", "1961/05"] {
            assert!(age(&patient(hostile), as_of).is_err(), "{hostile}");
        }
        assert!(age(&patient("2030-01-01"), as_of).is_err());
    }

    #[test]
    fn status_and_dates_decide_what_is_taken() {
        let as_of = Date::parse("2026-11-01").unwrap();
        let d = |s| Date::parse(s);
        assert_eq!(
            state(
                MedicationStatus::Active,
                d("2026-01-01"),
                d("2026-11-01"),
                as_of
            ),
            EntryState::Taking
        );
        assert_eq!(
            state(MedicationStatus::Active, None, d("2026-10-31"), as_of),
            EntryState::History
        );
        assert_eq!(
            state(MedicationStatus::Active, d("2026-11-02"), None, as_of),
            EntryState::Future
        );
        assert_eq!(
            state(MedicationStatus::OnHold, None, None, as_of),
            EntryState::Taking
        );
        assert_eq!(
            state(MedicationStatus::Cancelled, None, None, as_of),
            EntryState::Invisible
        );
        assert_eq!(
            state(MedicationStatus::Draft, None, None, as_of),
            EntryState::Taking
        );
    }

    #[test]
    fn a_patient_deceased_on_as_of_is_not_screened_and_the_day_after_is() {
        let as_of = Date::parse("2026-11-01").unwrap();
        let with = |d: Option<Deceased<'static>>| {
            let mut p = patient("1950-01-01");
            p.deceased = d;
            not_screened(&p, as_of)
        };
        let day = |s: &'static str| Some(Deceased::Day(s.into()));
        let skipped = with(day("2026-11-01")).unwrap().unwrap();
        assert_eq!(
            (skipped.reason, skipped.date),
            ("deceased", Date::parse("2026-11-01"))
        );
        // A FHIR dateTime is read by its day.
        assert!(with(day("2026-11-01T23:59:00Z")).unwrap().is_some());
        assert_eq!(with(day("2026-11-02")), Ok(None));
        assert_eq!(with(Some(Deceased::Flag(false))), Ok(None));
        assert_eq!(with(None), Ok(None));
        assert!(with(Some(Deceased::Flag(true))).unwrap().is_some());
        assert_eq!(with(day("soon")).unwrap_err().field, "deceased");
    }

    #[test]
    fn bitsets_iterate_their_ones() {
        let mut b = Bits::with_len(130);
        for i in [0, 63, 64, 129] {
            b.set(i);
        }
        assert_eq!(b.ones().collect::<Vec<_>>(), vec![0, 63, 64, 129]);
    }
}
