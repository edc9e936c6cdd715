//! The fixed table of units: atomic tokens, each with a dimension and a factor to the
//! dimension's canonical unit. There is no unit arithmetic: `mg/day` is one token.

use serde::Serialize;

/// What a quantity measures. Quantities of different dimensions never compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Mass (canonical: mg).
    Mass,
    /// Mass per day (canonical: mg/day).
    MassPerDay,
    /// Creatinine clearance (canonical: mL/min).
    Clearance,
    /// Clearance normalised to body surface, as eGFR (canonical: mL/min/1.73m2).
    ClearancePerBsa,
    /// Serum concentration (canonical: mg/dL).
    Concentration,
    /// Body weight (canonical: kg).
    Weight,
    /// Body height (canonical: cm).
    Length,
    /// A duration (canonical: days).
    Duration,
    /// Age (canonical: years).
    Age,
}

impl Dimension {
    /// The canonical unit's token.
    pub fn canonical_unit(self) -> &'static str {
        match self {
            Dimension::Mass => "mg",
            Dimension::MassPerDay => "mg/day",
            Dimension::Clearance => "mL/min",
            Dimension::ClearancePerBsa => "mL/min/1.73m2",
            Dimension::Concentration => "mg/dL",
            Dimension::Weight => "kg",
            Dimension::Length => "cm",
            Dimension::Duration => "days",
            Dimension::Age => "years",
        }
    }

    /// A word for messages: "a mass per day", "an eGFR-style clearance".
    pub fn describe(self) -> &'static str {
        match self {
            Dimension::Mass => "a mass (mg)",
            Dimension::MassPerDay => "a daily dose (mg/day)",
            Dimension::Clearance => "a clearance (mL/min)",
            Dimension::ClearancePerBsa => "a clearance per body surface (mL/min/1.73m2)",
            Dimension::Concentration => "a concentration (mg/dL)",
            Dimension::Weight => "a weight (kg)",
            Dimension::Length => "a height (cm)",
            Dimension::Duration => "a duration (days)",
            Dimension::Age => "an age (years)",
        }
    }
}

/// One row of the unit table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unit {
    /// The token as written in rules.
    pub token: &'static str,
    /// What it measures.
    pub dimension: Dimension,
    /// Multiply by this to get the canonical unit.
    pub factor: f64,
}

/// The units rules may write.
pub const UNITS: &[Unit] = &[
    Unit {
        token: "mg",
        dimension: Dimension::Mass,
        factor: 1.0,
    },
    Unit {
        token: "g",
        dimension: Dimension::Mass,
        factor: 1000.0,
    },
    Unit {
        token: "mcg",
        dimension: Dimension::Mass,
        factor: 0.001,
    },
    Unit {
        token: "mg/day",
        dimension: Dimension::MassPerDay,
        factor: 1.0,
    },
    Unit {
        token: "mcg/day",
        dimension: Dimension::MassPerDay,
        factor: 0.001,
    },
    Unit {
        token: "mL/min",
        dimension: Dimension::Clearance,
        factor: 1.0,
    },
    Unit {
        token: "mL/min/1.73m2",
        dimension: Dimension::ClearancePerBsa,
        factor: 1.0,
    },
    Unit {
        token: "mg/dL",
        dimension: Dimension::Concentration,
        factor: 1.0,
    },
    Unit {
        token: "kg",
        dimension: Dimension::Weight,
        factor: 1.0,
    },
    Unit {
        token: "cm",
        dimension: Dimension::Length,
        factor: 1.0,
    },
    Unit {
        token: "days",
        dimension: Dimension::Duration,
        factor: 1.0,
    },
    Unit {
        token: "day",
        dimension: Dimension::Duration,
        factor: 1.0,
    },
    Unit {
        token: "years",
        dimension: Dimension::Age,
        factor: 1.0,
    },
    Unit {
        token: "year",
        dimension: Dimension::Age,
        factor: 1.0,
    },
];

/// The unit a rule token names, exactly.
pub fn lookup(token: &str) -> Option<Unit> {
    UNITS.iter().copied().find(|u| u.token == token)
}

/// Units as patients' records write them (case and UCUM spellings vary), to canonical factor.
/// Returns `None` for a unit that cannot be converted, which the caller reports.
pub fn lookup_record_unit(written: &str) -> Option<Unit> {
    let mut buf = [0; 32];
    let key = crate::key::ascii_key(written, b" \t", &mut buf)?;
    let token = match key {
        "mg" => "mg",
        "g" | "gm" => "g",
        "mcg" | "ug" => "mcg",
        "mg/day" | "mg/d" | "mg/24h" => "mg/day",
        "mcg/day" | "ug/day" | "mcg/d" | "ug/d" | "mcg/24h" | "ug/24h" => "mcg/day",
        "ml/min" => "mL/min",
        "ml/min/1.73m2" | "ml/min/{1.73_m2}" | "ml/min/1.73m^2" | "ml/min/1.73" | "ml/min/bsa" => {
            "mL/min/1.73m2"
        }
        "mg/dl" => "mg/dL",
        "kg" => "kg",
        "cm" => "cm",
        _ => return umol_creatinine(key).or_else(|| hourly_rate(key)),
    };
    lookup(token)
}

/// A rate per hour (a pump, a patch's labelled delivery rate) is a daily dose: 24 hours a day.
fn hourly_rate(key: &str) -> Option<Unit> {
    let (token, factor) = match key {
        "mcg/h" | "ug/h" | "mcg/hr" | "ug/hr" | "mcg/hour" => ("mcg/h", 0.001 * 24.0),
        "mg/h" | "mg/hr" | "mg/hour" => ("mg/h", 24.0),
        _ => return None,
    };
    Some(Unit {
        token,
        dimension: Dimension::MassPerDay,
        factor,
    })
}

/// A dose written in units of the product's form, or as a volume: how much drug that is comes
/// from the product's strength ("10 mg" per tablet, "5 mg/5 mL", "25 mcg/hr" per patch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormUnit {
    /// Tablets (also caplets, lozenges, films counted one by one).
    Tablet,
    /// Capsules.
    Capsule,
    /// Transdermal patches.
    Patch,
    /// Puffs or sprays of a metered device.
    Actuation,
    /// One of whatever the form is ("each").
    Each,
    /// A volume in mL.
    Millilitre,
}

impl FormUnit {
    /// The unit as the provenance writes it.
    pub fn word(self) -> &'static str {
        match self {
            FormUnit::Tablet => "tablet",
            FormUnit::Capsule => "capsule",
            FormUnit::Patch => "patch",
            FormUnit::Actuation => "actuation",
            FormUnit::Each => "each",
            FormUnit::Millilitre => "mL",
        }
    }
}

/// A dose unit of the form, as records write it: words, UCUM annotations (`{tbl}`) and the HL7
/// orderable drug form codes (`TAB`, `CAP`). `None` for anything else.
pub fn lookup_form_unit(written: &str) -> Option<FormUnit> {
    let mut buf = [0; 32];
    let key = crate::key::ascii_key(written, b" \t", &mut buf)?;
    let key = key
        .strip_prefix('{')
        .and_then(|k| k.strip_suffix('}'))
        .unwrap_or(key);
    let unit = match key {
        "tablet" | "tablets" | "tab" | "tabs" | "tbl" | "caplet" | "caplets" => FormUnit::Tablet,
        "capsule" | "capsules" | "cap" | "caps" => FormUnit::Capsule,
        "patch" | "patches" => FormUnit::Patch,
        "puff" | "puffs" | "actuation" | "actuations" | "actuat" | "spray" | "sprays" => {
            FormUnit::Actuation
        }
        "each" | "ea" => FormUnit::Each,
        "ml" | "milliliter" | "milliliters" | "millilitre" | "millilitres" => FormUnit::Millilitre,
        _ => return None,
    };
    Some(unit)
}

/// Serum creatinine in µmol/L converts to mg/dL by its molar mass (1 mg/dL = 88.42 µmol/L).
fn umol_creatinine(key: &str) -> Option<Unit> {
    matches!(key, "umol/l").then_some(Unit {
        token: "umol/L",
        dimension: Dimension::Concentration,
        factor: 1.0 / 88.42,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_units_are_exact_tokens() {
        assert_eq!(
            lookup("mg/day").map(|u| u.dimension),
            Some(Dimension::MassPerDay)
        );
        assert!(lookup("mg/d").is_none());
        assert!(lookup("MG").is_none());
    }

    #[test]
    fn mass_units_convert_to_mg() {
        assert_eq!(lookup("g").map(|u| u.factor), Some(1000.0));
        assert_eq!(lookup("mcg").map(|u| u.factor), Some(0.001));
        assert_eq!(lookup("mcg/day").map(|u| u.factor * 500.0), Some(0.5));
    }

    #[test]
    fn record_units_accept_common_spellings_and_refuse_the_rest() {
        assert_eq!(lookup_record_unit("MG").map(|u| u.token), Some("mg"));
        assert_eq!(
            lookup_record_unit("mL/min/{1.73_m2}").map(|u| u.token),
            Some("mL/min/1.73m2")
        );
        assert_eq!(
            lookup_record_unit("ug/day").map(|u| u.token),
            Some("mcg/day")
        );
        assert!(lookup_record_unit("tablet").is_none());
        assert!(lookup_record_unit("mL").is_none());
        let patch = lookup_record_unit("mcg/hr").map(|u| (u.dimension, u.factor * 25.0));
        assert!(patch.is_some_and(|(d, f)| d == Dimension::MassPerDay && (f - 0.6).abs() < 1e-12));
        let umol = lookup_record_unit("umol/L").map(|u| u.factor * 88.42);
        assert!(umol.is_some_and(|f| (f - 1.0).abs() < 1e-9));
    }

    #[test]
    fn form_units_are_read_as_records_write_them() {
        for (written, unit) in [
            ("tablet", FormUnit::Tablet),
            ("Tablets", FormUnit::Tablet),
            ("{tbl}", FormUnit::Tablet),
            ("TAB", FormUnit::Tablet),
            ("CAP", FormUnit::Capsule),
            ("{capsule}", FormUnit::Capsule),
            ("patch", FormUnit::Patch),
            ("puffs", FormUnit::Actuation),
            ("mL", FormUnit::Millilitre),
        ] {
            assert_eq!(lookup_form_unit(written), Some(unit), "{written}");
        }
        for other in ["mg", "unit", "drop", "{score}", ""] {
            assert_eq!(lookup_form_unit(other), None, "{other}");
        }
    }
}
