//! Dose normalisation: a dose as written and its frequency to a daily dose in mg/day.

use super::model::Dose;
use crate::units::{self, Dimension};

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
        "weekly" | "qweek" | "onceweekly" | "qw" => 1.0 / 7.0,
        "continuous" => 0.0,
        _ => return None,
    };
    Some(per_day)
}

/// The daily dose in mg/day of a single-ingredient entry.
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
    if ingredients > 1 {
        return DailyDose::Unknown(DoseProblem::Combination);
    }
    let Some(unit) = units::lookup_record_unit(&dose.unit) else {
        return DailyDose::Unknown(DoseProblem::Unit);
    };
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
}
