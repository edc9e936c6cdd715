//! What each predicate means for one patient. Shared by the compiled evaluator and the
//! tree-walking oracle, so the two differ only in how they walk, never in what a leaf means.

use crate::compile::{Node, Vocabulary};
use crate::date::Date;
use crate::ir::{Dosing, DrugId, LabId};
use crate::patient::{DailyDose, EntryState, LabFact, MedFact, PatientFacts};
use crate::route::{Route, Routes};
use crate::value::{Interval, Tri, Value};

/// The value of a leaf node. `on` is the value of a `daily_dose`'s `on:` date, if any.
pub fn leaf(node: &Node, f: &PatientFacts, v: &Vocabulary, on: Option<Value>) -> Value {
    match *node {
        Node::Bool(b) => Value::Bool(Tri::from_bool(b)),
        Node::Number(bits) => Value::Num(Interval::point(f64::from_bits(bits))),
        Node::Date(d) => Value::Date(d),
        Node::AsOf => Value::Date(f.as_of),
        Node::Age => f.age.map_or(Value::Unknown, Value::Num),
        Node::Taking(s) => meds(f, || Value::Bool(Tri::from_bool(f.taking.get(v.bit(s))))),
        Node::TakingBy(s, routes) => meds(f, || Value::Bool(taking_by(f, v, s, routes))),
        Node::New(s) => meds(f, || Value::Bool(Tri::from_bool(f.new.get(v.bit(s))))),
        Node::Count(s, dosing) => meds(f, || {
            let bit = v.bit(s);
            let n = f
                .taking_drugs
                .iter()
                .filter(|&&d| v.drug_bits[d].get(bit) && taken_by(f, d, dosing))
                .count();
            Value::Num(Interval::point(n as f64))
        }),
        Node::Has(c) => known(f.conditions_provided, || {
            Value::Bool(Tri::from_bool(f.has.get(c)))
        }),
        Node::Had(c) => known(f.conditions_provided, || {
            Value::Bool(Tri::from_bool(f.had.get(c)))
        }),
        Node::Lab(l, window) => known(f.labs_provided, || {
            match latest_lab(f, l, window).map(|l| l.value) {
                Some(Ok(value)) => Value::Num(value),
                _ => Value::Unknown,
            }
        }),
        Node::DailyDose(d, r, _) => {
            let date = match on {
                None => f.as_of,
                Some(Value::Date(d)) => d,
                Some(_) => return Value::Unknown,
            };
            meds(f, || Value::Num(daily_dose_range(f, d, r, date)))
        }
        Node::RouteIs(d, r) => meds(f, || Value::Bool(route_is(f, d, r))),
        Node::Stopped(d, r, window) => meds(f, || Value::Bool(stopped(f, d, r, window))),
        Node::Tapered(d, r, step) => meds(f, || Value::Bool(tapered(f, d, r, step))),
        Node::StopDate(d, r) => meds(f, || stop_day(f, d, r).map_or(Value::Unknown, Value::Date)),
        Node::Reduced(s, window) => meds(f, || Value::Bool(reduced(f, v, s, window).0)),
        Node::Drugs(..)
        | Node::Not(_)
        | Node::And(..)
        | Node::Or(..)
        | Node::Cmp(..)
        | Node::Add(..)
        | Node::Sub(..)
        | Node::Scale(..)
        | Node::Quantified(..) => Value::Unknown,
    }
}

/// Some entry of ingredient `d` taken now is one `dosing` reads (any entry, for `Dosing::Any`).
fn taken_by(f: &PatientFacts, d: DrugId, dosing: Dosing) -> bool {
    dosing == Dosing::Any
        || entries_of(f, d).any(|m| m.state == EntryState::Taking && dosing.reads(m.prn))
}

fn meds(f: &PatientFacts, then: impl FnOnce() -> Value) -> Value {
    known(f.meds_provided, then)
}

fn known(provided: bool, then: impl FnOnce() -> Value) -> Value {
    if provided { then() } else { Value::Unknown }
}

/// The most recent result of a lab on or before `as_of` within the window. On one day a
/// reported value wins over a derived one, then the later entry. A derivation that lacks an
/// input is no result (see [`underivable_lab`]).
pub fn latest_lab(f: &PatientFacts, lab: LabId, window: i64) -> Option<&LabFact> {
    labs_in_window(f, lab, window)
        .filter(|l| !(l.derived && l.value.is_err()))
        .max_by_key(|l| (l.date, !l.derived, l.entry))
}

/// The most recent derivation of a lab in the window that could not be computed, to say why.
pub fn underivable_lab(f: &PatientFacts, lab: LabId, window: i64) -> Option<&LabFact> {
    labs_in_window(f, lab, window)
        .filter(|l| l.derived && l.value.is_err())
        .max_by_key(|l| (l.date, l.entry))
}

fn labs_in_window(f: &PatientFacts, lab: LabId, window: i64) -> impl Iterator<Item = &LabFact> {
    let earliest = f.as_of.add_days(-window);
    f.labs
        .iter()
        .filter(move |l| l.lab == lab && l.date <= f.as_of && l.date >= earliest)
}

/// Entries of ingredient `d` (any route) that are visible.
pub fn entries_of(f: &PatientFacts, d: DrugId) -> impl Iterator<Item = &MedFact> + Clone {
    f.meds
        .iter()
        .filter(move |m| m.state != EntryState::Invisible && f.drugs_of(m).contains(&d))
}

/// Was the entry being taken on `date`? Unknown when its dates do not say.
pub(crate) fn taken_on(m: &MedFact, date: Date, as_of: Date) -> Tri {
    if date == as_of {
        return Tri::from_bool(m.state == EntryState::Taking);
    }
    if m.draft || m.state == EntryState::Future {
        return Tri::False;
    }
    let started = m.start.map_or(Tri::Unknown, |s| Tri::from_bool(s <= date));
    let not_ended = match m.end {
        Some(e) => Tri::from_bool(e >= date),
        None if m.state == EntryState::Taking => Tri::True,
        None => Tri::Unknown,
    };
    started.and(not_ended)
}

/// The summed daily dose in mg/day of ingredient `d` by route `r` on `date`, after merging
/// duplicates of one therapy; `None` when some entry that might count has an unknown dose, route
/// or dates.
pub fn daily_dose(f: &PatientFacts, d: DrugId, r: Route, date: Date) -> Option<f64> {
    let (sum, uncertain) = dose_sum(f, d, r, date);
    (!uncertain).then_some(sum)
}

/// The daily dose as the range the record allows: the sum of the known doses, or, when an entry
/// that might count has an unknown dose, route or dates, at least that sum (a dose is never
/// negative). So the known doses alone can already exceed a limit; they can never show that a
/// total stays under one.
pub fn daily_dose_range(f: &PatientFacts, d: DrugId, r: Route, date: Date) -> Interval {
    match dose_sum(f, d, r, date) {
        (sum, false) => Interval::point(sum),
        (sum, true) => Interval::closed(sum, f64::INFINITY),
    }
}

/// The known doses summed, and whether some entry that might count is not known.
fn dose_sum(f: &PatientFacts, d: DrugId, r: Route, date: Date) -> (f64, bool) {
    let counted = |m: &MedFact| taken_on(m, date, f.as_of);
    // Entries by another known route never count; one whose route or dates are unknown might.
    let relevant = || {
        entries_of(f, d)
            .filter(move |m| m.route.is_none_or(|route| route == r) && counted(m) != Tri::False)
    };
    let mut uncertain = relevant().any(|m| counted(m) == Tri::Unknown || m.route.is_none());
    let drafts = relevant().any(|m| m.draft);
    let included = |m: &&MedFact| !drafts || m.draft;
    let sure = |m: &&MedFact| counted(m) == Tri::True && m.route == Some(r);
    // A draft of another release form may replace an active order or be added to it.
    uncertain |= drafts && unrenewed(r, relevant().filter(sure)).is_some();
    let mut total = 0.0;
    for m in Therapies::new(relevant().filter(included).filter(sure)) {
        match f.dose_of(m, d).daily {
            DailyDose::Known(mg) => total += mg,
            DailyDose::NotGiven | DailyDose::Unknown(_) => uncertain = true,
        }
    }
    (total, uncertain)
}

/// An entry taken now that the drafts of `d` by `r` displace from the daily dose though none of
/// them is of a release form that may renew it (a Zyban draft beside active Wellbutrin XL): the
/// draft may replace it or be taken with it.
pub fn unrenewed<'f>(
    r: Route,
    entries: impl Iterator<Item = &'f MedFact> + Clone,
) -> Option<&'f MedFact> {
    let drafts = entries.clone().filter(|m| m.draft && m.route == Some(r));
    entries
        .clone()
        .filter(|m| !m.draft && m.route == Some(r))
        .find(|m| !drafts.clone().any(|x| x.release.may_renew(m.release)))
}

/// The entries of one therapy each: a statement of use that mirrors an earlier order (or an
/// order that mirrors an earlier statement) is skipped, each entry mirroring at most one other,
/// so two orders and one statement alike are two therapies. Linear in the entries: the pairs
/// are counted by dose key, and only when both orders and statements are present.
struct Therapies<'a, I: Iterator<Item = &'a MedFact>> {
    entries: I,
    /// Per dose key, the orders and the statements not yet paired.
    unpaired: Option<std::collections::HashMap<u64, (u32, u32)>>,
}

impl<'a, I: Iterator<Item = &'a MedFact> + Clone> Therapies<'a, I> {
    fn new(entries: I) -> Self {
        use crate::patient::EntrySource::{Request, Statement};
        let has = |s| entries.clone().any(|m: &MedFact| m.source == Some(s));
        let unpaired = (has(Request) && has(Statement)).then(std::collections::HashMap::new);
        Therapies { entries, unpaired }
    }
}

impl<'a, I: Iterator<Item = &'a MedFact>> Iterator for Therapies<'a, I> {
    type Item = &'a MedFact;

    fn next(&mut self) -> Option<&'a MedFact> {
        use crate::patient::EntrySource::{Request, Statement};
        loop {
            let m = self.entries.next()?;
            let Some(unpaired) = self.unpaired.as_mut() else {
                return Some(m);
            };
            let (requests, statements) = unpaired.entry(m.dose_key).or_default();
            let (own, other) = match m.source {
                Some(Request) => (requests, statements),
                Some(Statement) => (statements, requests),
                None => return Some(m),
            };
            if *other > 0 {
                *other -= 1;
                continue;
            }
            *own += 1;
            return Some(m);
        }
    }
}

/// The entries [`daily_dose`] sums on `date` (duplicates merged), for provenance.
pub fn dose_entries(f: &PatientFacts, d: DrugId, r: Route, date: Date) -> Vec<&MedFact> {
    let relevant = || {
        entries_of(f, d)
            .filter(move |m| taken_on(m, date, f.as_of) != Tri::False && m.route == Some(r))
    };
    let drafts = relevant().any(|m| m.draft);
    Therapies::new(relevant().filter(move |m| !drafts || m.draft)).collect()
}

fn route_is(f: &PatientFacts, d: DrugId, r: Route) -> Tri {
    let taking = || entries_of(f, d).filter(|m| m.state == EntryState::Taking);
    if taking().any(|m| m.route == Some(r)) {
        Tri::True
    } else if taking().any(|m| m.route.is_none()) {
        Tri::Unknown
    } else {
        Tri::False
    }
}

/// The records do not say (a route or an end date is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undecided;

/// The day the last entry of `d` by `r` ended, when every such entry has ended. An entry on
/// hold for at least the site's on-hold limit ended, for withdrawal, the day it was held; one
/// held since a day the record does not give leaves the stop undecided.
pub fn stop_date(f: &PatientFacts, d: DrugId, r: Route) -> Result<Option<Date>, Undecided> {
    let mut last = None;
    let mut undecided = false;
    for m in entries_of(f, d).filter(|m| m.state != EntryState::Future) {
        match m.route {
            Some(route) if route != r => continue,
            None => return Err(Undecided),
            _ => {}
        }
        match ended_on(m) {
            Some(end) => last = last.max(Some(end)),
            None if m.state == EntryState::Taking && !m.hold_undated => return Ok(None),
            None => undecided = true,
        }
    }
    if undecided { Err(Undecided) } else { Ok(last) }
}

/// An open order of `d` by `r` past the site's horizon whose latest possible end is `end`.
pub fn lapsed_on(f: &PatientFacts, d: DrugId, r: Route, end: Date) -> bool {
    entries_of(f, d).any(|m| m.beyond_horizon && m.route == Some(r) && m.end == Some(end))
}

/// The day an entry ended: the end of a past entry, or the day an interrupted hold began.
pub fn ended_on(m: &MedFact) -> Option<Date> {
    match m.state {
        EntryState::History => m.end,
        EntryState::Taking => m.interrupted,
        EntryState::Future | EntryState::Invisible => None,
    }
}

/// `stop_date(d, route: r)`: the day the last entry of `d` by `r` ended. `None` while some such
/// entry is taken, when there is none, when the records do not say (a route or an end date is
/// missing, a hold is undated), or when the last one is an open order past the horizon, which
/// ended by that day at the latest but on a day the record does not give.
pub fn stop_day(f: &PatientFacts, d: DrugId, r: Route) -> Option<Date> {
    match stop_date(f, d, r) {
        Ok(Some(end)) if !lapsed_on(f, d, r, end) => Some(end),
        _ => None,
    }
}

fn stopped(f: &PatientFacts, d: DrugId, r: Route, window: i64) -> Tri {
    match stop_date(f, d, r) {
        Ok(Some(end)) => {
            let within = end <= f.as_of && end >= f.as_of.add_days(-window);
            // An open order past the horizon ended by `end` at the latest, on a day the record
            // does not give: a stop inside the window is then not known.
            if within && lapsed_on(f, d, r, end) {
                Tri::Unknown
            } else {
                Tri::from_bool(within)
            }
        }
        Ok(None) => Tri::False,
        Err(Undecided) => Tri::Unknown,
    }
}

/// The entries of `d` by route `r` that ended, and the order in which they ended.
fn ended_by(f: &PatientFacts, d: DrugId, r: Route) -> impl Iterator<Item = &MedFact> + Clone {
    entries_of(f, d).filter(move |m| m.route == Some(r) && ended_on(m).is_some())
}

fn end_order(m: &MedFact) -> (Option<Date>, Option<Date>, usize) {
    (ended_on(m), m.start, m.entry)
}

/// The entry of `d` by `r` that ended last before `entry` did.
fn preceding<'f>(f: &'f PatientFacts, d: DrugId, r: Route, entry: &MedFact) -> Option<&'f MedFact> {
    ended_by(f, d, r)
        .filter(|m| m.entry != entry.entry && end_order(m) <= end_order(entry))
        .max_by_key(|m| end_order(m))
}

/// The entries of drug or class `s` taken now.
pub fn taken_entries<'f>(
    f: &'f PatientFacts,
    v: &'f Vocabulary,
    s: crate::ir::SetRef,
) -> impl Iterator<Item = &'f MedFact> {
    let bit = v.bit(s);
    f.meds.iter().filter(move |m| {
        m.state == EntryState::Taking && f.drugs_of(m).iter().any(|&d| v.drug_bits[d].get(bit))
    })
}

/// Some entry of `s` taken now is by one of `routes`; unknown when none is but the route of a
/// taken entry is not known.
fn taking_by(f: &PatientFacts, v: &Vocabulary, s: crate::ir::SetRef, routes: Routes) -> Tri {
    let mut result = Tri::False;
    for m in taken_entries(f, v, s) {
        match m.route {
            Some(r) if routes.contains(r) => return Tri::True,
            Some(_) => {}
            None => result = Tri::Unknown,
        }
    }
    result
}

/// Whether some ingredient of `s` taken now has, by some route, a lower daily dose than
/// `window` days ago, with that ingredient and route when so. Unknown when no reduction is
/// found but some dose, then or now, is not known.
pub fn reduced(
    f: &PatientFacts,
    v: &Vocabulary,
    s: crate::ir::SetRef,
    window: i64,
) -> (Tri, Option<(DrugId, Route)>) {
    let bit = v.bit(s);
    let then = f.as_of.add_days(-window);
    let mut result = Tri::False;
    for &d in f.taking_drugs.iter().filter(|&&d| v.drug_bits[d].get(bit)) {
        let mut routes: Vec<Option<Route>> = entries_of(f, d).map(|m| m.route).collect();
        routes.sort_unstable_by_key(|r| r.map(Route::name));
        routes.dedup();
        for route in routes {
            let Some(r) = route else {
                result = Tri::Unknown;
                continue;
            };
            match (daily_dose(f, d, r, f.as_of), daily_dose(f, d, r, then)) {
                (Some(now), Some(before)) if now < before => return (Tri::True, Some((d, r))),
                (Some(_), Some(_)) => {}
                _ => result = Tri::Unknown,
            }
        }
    }
    (result, None)
}

/// A taper: the last entry before the stop lowered the dose of the entry it followed (or
/// continued at a dose that an earlier step lowered), and the lowered doses were taken for at
/// least `step` days before the stop, first and last day counted. The steps are followed back
/// through the entries that directly follow one another; an entry that ended long before the
/// next one started is another course, not a step of a taper.
fn tapered(f: &PatientFacts, d: DrugId, r: Route, step: i64) -> Tri {
    let Some(last) = ended_by(f, d, r).max_by_key(|m| end_order(m)) else {
        return Tri::False;
    };
    let Some(stop) = ended_on(last) else {
        return Tri::False;
    };
    // The first day of the lowered doses, once a step down is found.
    let mut lowered_from = None;
    let mut current = last;
    while let Some(before) = preceding(f, d, r, current) {
        let (Some(start), Some(before_end)) = (current.start, ended_on(before)) else {
            if lowered_from.is_none() {
                return Tri::Unknown;
            }
            break;
        };
        if before_end < start.add_days(-1) {
            break;
        }
        match (f.dose_of(current, d).daily, f.dose_of(before, d).daily) {
            (DailyDose::Known(now), DailyDose::Known(then)) if now < then => {
                lowered_from = Some(start);
            }
            // The same dose renewed: the taper, if any, began earlier.
            (DailyDose::Known(now), DailyDose::Known(then)) if now == then => {}
            (DailyDose::Known(_), DailyDose::Known(_)) => break,
            _ if lowered_from.is_none() => return Tri::Unknown,
            _ => break,
        }
        current = before;
    }
    match lowered_from {
        None => Tri::False,
        Some(from) => Tri::from_bool(stop >= from.add_days(step - 1)),
    }
}
