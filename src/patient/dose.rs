//! Dose normalisation: a dose as written and its frequency to a daily dose in mg/day, per
//! ingredient. A dose in units of the form (tablets, capsules, mL, patches) is converted with the
//! strength the product's name gives ("10 mg" a tablet, "5 mg/5 mL", "25 mcg/hr"), and the
//! conversion is kept for the provenance.

use super::model::Dose;
use super::strength::show;
use super::strength::{Per, Strength};
use crate::units::{self, Dimension, FormUnit};

/// An entry's daily dose of its ingredient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DailyDose {
    /// Known, in mg/day.
    Known(f64),
    /// The record gives no dose.
    NotGiven,
    /// The dose could not be normalised; the reason is reported.
    Unknown(DoseProblem),
}

/// Why a dose could not be normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoseProblem {
    /// The unit is not a mass or a mass per day ("tablet", "mL").
    Unit,
    /// A per-administration dose without a frequency.
    NoFrequency,
    /// The frequency is not one the engine knows.
    Frequency,
    /// A combination product's dose cannot be split among its ingredients.
    Combination,
    /// Negative or not a number.
    Value,
    /// In units of the form (tablets, mL), with no strength per unit in the product's name.
    Strength,
    /// A volume, and the strength is not per volume (or the reverse).
    Volume,
}

impl DoseProblem {
    /// The problem in words.
    pub fn describe(self) -> &'static str {
        match self {
            DoseProblem::Unit => "its dose unit is not a mass (mg, g, mcg) or a mass per day",
            DoseProblem::NoFrequency => "its dose has no frequency",
            DoseProblem::Frequency => "its frequency is not recognised",
            DoseProblem::Combination => {
                "the dose of a combination product cannot be attributed to one ingredient"
            }
            DoseProblem::Value => "its dose value is not a non-negative number",
            DoseProblem::Strength => {
                "its dose is in units of the form (tablet, capsule, patch, mL) and its name gives no strength per unit for this ingredient"
            }
            DoseProblem::Volume => {
                "its dose and the strength in its name are not both per volume (mL) or both per unit"
            }
        }
    }
}

/// Administrations per day for a frequency as written, or `None` if it is not recognised.
/// `continuous` is `Some(0.0)`: only a rate per day makes sense with it.
pub fn frequency_per_day(written: &str) -> Option<f64> {
    let mut buf = [0; 32];
    let key = crate::key::ascii_key(written, b". ", &mut buf)?;
    let per_day = match key {
        "qd" | "daily" | "oncedaily" | "od" | "q24h" | "qam" | "qpm" | "qhs" | "hs"
        | "atbedtime" | "qday" | "1xday" => 1.0,
        "bid" | "twicedaily" | "q12h" | "2xday" => 2.0,
        "tid" | "threetimesdaily" | "q8h" | "3xday" => 3.0,
        "qid" | "fourtimesdaily" | "q6h" | "4xday" => 4.0,
        "q4h" => 6.0,
        "q3h" => 8.0,
        "q2h" => 12.0,
        "q48h" | "qod" | "everyotherday" => 0.5,
        "q72h" => 1.0 / 3.0,
        "weekly" | "qweek" | "onceweekly" | "qw" | "onceaweek" => 1.0 / 7.0,
        "biw" | "twiceweekly" | "twiceaweek" | "2xweek" | "2timesaweek" => 2.0 / 7.0,
        "tiw" | "threetimesweekly" | "threetimesaweek" | "3xweek" | "3timesaweek" | "mwf" => {
            3.0 / 7.0
        }
        "continuous" => 0.0,
        _ => return None,
    };
    Some(per_day)
}

/// One ingredient's daily dose of an entry, with the conversion from units of the form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoseFact {
    /// The daily dose.
    pub daily: DailyDose,
    /// How a dose in units of the form became mg, when it did.
    pub conversion: Option<Conversion>,
}

/// A dose in units of the form converted with the product's strength.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conversion {
    /// How many units (tablets, mL, patches) per administration.
    pub count: f64,
    /// The unit.
    pub form: FormUnit,
    /// The strength from the product's name.
    pub strength: Strength,
    /// mg per administration (for a patch: none, it delivers a rate).
    pub mg_per_dose: Option<f64>,
    /// Administrations a day.
    pub per_day: Option<f64>,
    /// The result, mg/day.
    pub mg_per_day: f64,
}

impl Conversion {
    /// The conversion in words: "9 tablet x 10 mg = 90 mg per dose x 4/day = 360 mg/day".
    pub fn describe(&self) -> String {
        let n = show;
        let strength = self.strength;
        let unitless = if strength.unitless {
            " (strength written without a unit, read as mg)"
        } else {
            ""
        };
        match (self.mg_per_dose, self.per_day) {
            (Some(dose), Some(per_day)) => format!(
                "{} {} x {strength} = {} mg per dose x {}/day = {} mg/day{unitless}",
                n(self.count),
                self.form.word(),
                n(dose),
                n(per_day),
                n(self.mg_per_day)
            ),
            _ => format!(
                "{} {} x {strength} x 24 hr/day = {} mg/day{unitless}",
                n(self.count),
                self.form.word(),
                n(self.mg_per_day)
            ),
        }
    }
}

impl DoseFact {
    fn plain(daily: DailyDose) -> DoseFact {
        DoseFact {
            daily,
            conversion: None,
        }
    }
}

/// The daily dose in mg/day of one ingredient of an entry of `ingredients` ingredients, the
/// text giving that ingredient `strength`.
pub fn ingredient_dose(
    dose: Option<&Dose<'_>>,
    frequency: Option<&str>,
    ingredients: usize,
    strength: Option<Strength>,
) -> DoseFact {
    let Some(d) = dose else {
        return DoseFact::plain(DailyDose::NotGiven);
    };
    match units::lookup_form_unit(&d.unit) {
        Some(form) if d.value.is_finite() && d.value >= 0.0 => {
            form_dose(d.value, form, frequency, strength)
        }
        _ => DoseFact::plain(daily_dose(dose, frequency, ingredients)),
    }
}

/// How many units of the form a mass dose of a combination product is, when the mass names one
/// ingredient: "5 mg" of a tablet of hydrocodone 5 mg and acetaminophen 325 mg is one tablet,
/// "650 mg" two. The mass must be a whole or half number of units, 10 at most, of exactly one
/// ingredient's strength per unit and of no other's; otherwise whose mass it is stays unknown.
pub fn combination_units(dose: Option<&Dose<'_>>, strengths: &[Option<Strength>]) -> Option<f64> {
    let d = dose?;
    let unit = units::lookup_record_unit(&d.unit)?;
    if strengths.len() < 2 || unit.dimension != Dimension::Mass || !d.value.is_finite() {
        return None;
    }
    let mg = d.value * unit.factor;
    let mut found = None;
    for s in strengths {
        let s = (*s)?;
        if s.per != Per::Unit || s.mg() <= 0.0 {
            return None;
        }
        let units = mg / s.mg();
        let halves = (units * 2.0).round();
        if (units * 2.0 - halves).abs() < 1e-9 && (1.0..=20.0).contains(&halves) {
            if found.is_some() {
                return None;
            }
            found = Some(halves / 2.0);
        }
    }
    found
}

/// A dose of `count` units of the form, each with the ingredient's strength.
pub fn units_dose(count: f64, frequency: Option<&str>, strength: Option<Strength>) -> DoseFact {
    form_dose(count, FormUnit::Each, frequency, strength)
}

/// A dose in units of the form, through the strength.
fn form_dose(
    count: f64,
    form: FormUnit,
    frequency: Option<&str>,
    strength: Option<Strength>,
) -> DoseFact {
    let Some(strength) = strength else {
        return DoseFact::plain(DailyDose::Unknown(DoseProblem::Strength));
    };
    let per_dose = match (form, strength.per) {
        (FormUnit::Millilitre, Per::Millilitres(v)) if v > 0.0 => count * strength.mg() / v,
        (FormUnit::Millilitre, _) | (_, Per::Millilitres(_)) => {
            return DoseFact::plain(DailyDose::Unknown(DoseProblem::Volume));
        }
        // A patch delivers its labelled rate for as long as it is worn, whenever it is changed.
        (FormUnit::Patch, Per::Hours(h)) if h > 0.0 => {
            let mg_per_day = count * strength.mg() / h * 24.0;
            return DoseFact {
                daily: DailyDose::Known(mg_per_day),
                conversion: Some(Conversion {
                    count,
                    form,
                    strength,
                    mg_per_dose: None,
                    per_day: None,
                    mg_per_day,
                }),
            };
        }
        (_, Per::Unit) => count * strength.mg(),
        _ => return DoseFact::plain(DailyDose::Unknown(DoseProblem::Strength)),
    };
    let Some(freq) = frequency else {
        return DoseFact::plain(DailyDose::Unknown(DoseProblem::NoFrequency));
    };
    let per_day = match frequency_per_day(freq) {
        Some(n) if n > 0.0 => n,
        _ => return DoseFact::plain(DailyDose::Unknown(DoseProblem::Frequency)),
    };
    let mg_per_day = per_dose * per_day;
    DoseFact {
        daily: DailyDose::Known(mg_per_day),
        conversion: Some(Conversion {
            count,
            form,
            strength,
            mg_per_dose: Some(per_dose),
            per_day: Some(per_day),
            mg_per_day,
        }),
    }
}

/// The daily dose in mg/day of an entry whose dose is a mass or a mass per day.
pub fn daily_dose(
    dose: Option<&Dose<'_>>,
    frequency: Option<&str>,
    ingredients: usize,
) -> DailyDose {
    let Some(dose) = dose else {
        return DailyDose::NotGiven;
    };
    if !(dose.value.is_finite() && dose.value >= 0.0) {
        return DailyDose::Unknown(DoseProblem::Value);
    }
    let Some(unit) = units::lookup_record_unit(&dose.unit) else {
        return DailyDose::Unknown(DoseProblem::Unit);
    };
    if ingredients > 1 && matches!(unit.dimension, Dimension::Mass | Dimension::MassPerDay) {
        return DailyDose::Unknown(DoseProblem::Combination);
    }
    match unit.dimension {
        Dimension::MassPerDay => DailyDose::Known(dose.value * unit.factor),
        Dimension::Mass => {
            let Some(freq) = frequency else {
                return DailyDose::Unknown(DoseProblem::NoFrequency);
            };
            match frequency_per_day(freq) {
                Some(n) if n > 0.0 => DailyDose::Known(dose.value * unit.factor * n),
                _ => DailyDose::Unknown(DoseProblem::Frequency),
            }
        }
        _ => DailyDose::Unknown(DoseProblem::Unit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn dose(value: f64, unit: &str) -> Dose<'_> {
        Dose {
            value,
            unit: Cow::Borrowed(unit),
        }
    }

    #[test]
    fn frequencies_map_to_administrations_per_day() {
        for (f, n) in [
            ("qd", 1.0),
            ("BID", 2.0),
            ("tid", 3.0),
            ("q.i.d.", 4.0),
            ("q4h", 6.0),
            ("q6h", 4.0),
            ("q8h", 3.0),
            ("q12h", 2.0),
            ("qhs", 1.0),
            ("q48h", 0.5),
        ] {
            assert_eq!(frequency_per_day(f), Some(n), "{f}");
        }
        assert!((frequency_per_day("weekly").unwrap() * 7.0 - 1.0).abs() < 1e-12);
        assert!((frequency_per_day("three times a week").unwrap() * 7.0 - 3.0).abs() < 1e-12);
        assert!((frequency_per_day("TIW").unwrap() * 7.0 - 3.0).abs() < 1e-12);
        assert!((frequency_per_day("twice weekly").unwrap() * 7.0 - 2.0).abs() < 1e-12);
        assert_eq!(frequency_per_day("now and then"), None);
    }

    #[test]
    fn mass_times_frequency_is_the_daily_dose() {
        assert_eq!(
            daily_dose(Some(&dose(20.0, "mg")), Some("qid"), 1),
            DailyDose::Known(80.0)
        );
        assert_eq!(
            daily_dose(Some(&dose(0.5, "g")), Some("bid"), 1),
            DailyDose::Known(1000.0)
        );
        assert_eq!(
            daily_dose(Some(&dose(500.0, "mcg/day")), Some("continuous"), 1),
            DailyDose::Known(0.5)
        );
    }

    #[test]
    fn what_cannot_be_normalised_is_unknown_with_its_reason() {
        assert_eq!(
            daily_dose(Some(&dose(1.0, "tablet")), Some("tid"), 1),
            DailyDose::Unknown(DoseProblem::Unit)
        );
        assert_eq!(
            daily_dose(Some(&dose(10.0, "mg")), None, 1),
            DailyDose::Unknown(DoseProblem::NoFrequency)
        );
        assert_eq!(
            daily_dose(Some(&dose(10.0, "mg")), Some("sometimes"), 1),
            DailyDose::Unknown(DoseProblem::Frequency)
        );
        assert_eq!(
            daily_dose(Some(&dose(5.0, "mg")), Some("q6h"), 2),
            DailyDose::Unknown(DoseProblem::Combination)
        );
        assert_eq!(
            daily_dose(Some(&dose(-1.0, "mg")), Some("qd"), 1),
            DailyDose::Unknown(DoseProblem::Value)
        );
        assert_eq!(daily_dose(None, Some("qd"), 1), DailyDose::NotGiven);
    }

    fn strength(amount: f64, unit: &'static str, per: Per) -> Strength {
        Strength {
            amount,
            unit,
            factor: if unit == "mcg" { 0.001 } else { 1.0 },
            per,
            unitless: false,
        }
    }

    fn known(f: DoseFact) -> f64 {
        match f.daily {
            DailyDose::Known(x) => x,
            other => panic!("not known: {other:?}"),
        }
    }

    #[test]
    fn tablets_times_strength_times_frequency() {
        let ten = Some(strength(10.0, "mg", Per::Unit));
        let nine = ingredient_dose(Some(&dose(9.0, "tablet")), Some("qid"), 1, ten);
        assert_eq!(known(nine), 360.0);
        assert_eq!(
            nine.conversion.unwrap().describe(),
            "9 tablet x 10 mg = 90 mg per dose x 4/day = 360 mg/day"
        );
        // Around the 80 mg/day oral baclofen maximum with 10 mg tablets four times a day: two
        // tablets is 80 (not above), two and a half is 100.
        let at = |n: f64| {
            known(ingredient_dose(
                Some(&dose(n, "{tbl}")),
                Some("qid"),
                1,
                ten,
            ))
        };
        assert_eq!((at(2.0), at(2.5)), (80.0, 100.0));
        assert_eq!(
            known(ingredient_dose(
                Some(&dose(1.0, "CAP")),
                Some("tid"),
                1,
                ten
            )),
            30.0
        );
    }

    #[test]
    fn millilitres_through_a_strength_per_volume() {
        let oral = Some(strength(5.0, "mg", Per::Millilitres(5.0)));
        let twenty = ingredient_dose(Some(&dose(20.0, "mL")), Some("qid"), 1, oral);
        assert_eq!(known(twenty), 80.0);
        assert_eq!(
            twenty.conversion.unwrap().describe(),
            "20 mL x 5 mg/5 mL = 20 mg per dose x 4/day = 80 mg/day"
        );
        let more = ingredient_dose(Some(&dose(21.0, "ml")), Some("qid"), 1, oral);
        assert_eq!(known(more), 84.0);
        // mL of a strength per tablet, or tablets of a strength per mL: unknown.
        let tablet = Some(strength(10.0, "mg", Per::Unit));
        assert_eq!(
            ingredient_dose(Some(&dose(5.0, "mL")), Some("qid"), 1, tablet).daily,
            DailyDose::Unknown(DoseProblem::Volume)
        );
        assert_eq!(
            ingredient_dose(Some(&dose(1.0, "tablet")), Some("qid"), 1, oral).daily,
            DailyDose::Unknown(DoseProblem::Volume)
        );
    }

    #[test]
    fn a_patch_delivers_its_rate_all_day_whenever_it_is_changed() {
        let rate = Some(strength(25.0, "mcg", Per::Hours(1.0)));
        let patch = ingredient_dose(Some(&dose(1.0, "patch")), Some("q72h"), 1, rate);
        assert!((known(patch) - 0.6).abs() < 1e-12);
        assert_eq!(
            patch.conversion.unwrap().describe(),
            "1 patch x 25 mcg/hr x 24 hr/day = 0.6 mg/day"
        );
        let written_as_rate = daily_dose(Some(&dose(25.0, "mcg/hr")), None, 1);
        assert!(matches!(written_as_rate, DailyDose::Known(x) if (x - 0.6).abs() < 1e-12));
    }

    #[test]
    fn a_combination_in_tablets_gives_each_ingredient_its_own_dose() {
        let oxy = Some(strength(5.0, "mg", Per::Unit));
        let apap = Some(strength(325.0, "mg", Per::Unit));
        let two = |s| {
            known(ingredient_dose(
                Some(&dose(2.0, "tablet")),
                Some("q6h"),
                2,
                s,
            ))
        };
        assert_eq!((two(oxy), two(apap)), (40.0, 2600.0));
    }

    #[test]
    fn only_a_dose_that_cannot_be_known_is_unknown() {
        assert_eq!(
            ingredient_dose(Some(&dose(1.0, "tablet")), Some("tid"), 1, None).daily,
            DailyDose::Unknown(DoseProblem::Strength)
        );
        let ten = Some(strength(10.0, "mg", Per::Unit));
        assert_eq!(
            ingredient_dose(Some(&dose(1.0, "tablet")), None, 1, ten).daily,
            DailyDose::Unknown(DoseProblem::NoFrequency)
        );
        assert_eq!(
            ingredient_dose(Some(&dose(1.0, "tablet")), Some("continuous"), 1, ten).daily,
            DailyDose::Unknown(DoseProblem::Frequency)
        );
        assert_eq!(
            ingredient_dose(Some(&dose(1.0, "drop")), Some("tid"), 1, ten).daily,
            DailyDose::Unknown(DoseProblem::Unit)
        );
        // A mass dose of a combination: whose mass?
        assert_eq!(
            ingredient_dose(Some(&dose(5.0, "mg")), Some("tid"), 2, ten).daily,
            DailyDose::Unknown(DoseProblem::Combination)
        );
    }

    #[test]
    fn a_mass_that_names_one_ingredient_of_a_combination_is_a_number_of_units() {
        let hydrocodone = Some(strength(5.0, "mg", Per::Unit));
        let apap = Some(strength(325.0, "mg", Per::Unit));
        let both = [hydrocodone, apap];
        let units = |mg: f64| combination_units(Some(&dose(mg, "mg")), &both);
        assert_eq!(units(5.0), Some(1.0));
        assert_eq!(units(10.0), Some(2.0));
        assert_eq!(units(2.5), Some(0.5));
        assert_eq!(units(650.0), Some(2.0));
        // Neither ingredient's strength, more than ten units, or a mass both strengths divide.
        assert_eq!(units(7.0), None);
        assert_eq!(units(60.0), None);
        let same = [hydrocodone, Some(strength(5.0, "mg", Per::Unit))];
        assert_eq!(combination_units(Some(&dose(5.0, "mg")), &same), None);
        // Units of the form are read as they are; a per-volume strength is not guessed at.
        assert_eq!(combination_units(Some(&dose(1.0, "tablet")), &both), None);
        let syrup = [Some(strength(7.5, "mg", Per::Millilitres(15.0))), apap];
        assert_eq!(combination_units(Some(&dose(7.5, "mg")), &syrup), None);
        let one = known(units_dose(1.0, Some("q6h"), hydrocodone));
        assert!((one - 20.0).abs() < 1e-12);
    }
}
