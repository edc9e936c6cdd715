//! Values of the three-valued evaluation: Kleene booleans, numeric intervals (a lab written
//! `">60"`, an age from a partial birth date), dates.

use crate::date::Date;

/// A Kleene truth value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tri {
    /// Decided true.
    True,
    /// Decided false.
    False,
    /// Not decidable from the data given.
    Unknown,
}

impl Tri {
    /// From a decided boolean.
    pub fn from_bool(b: bool) -> Tri {
        if b { Tri::True } else { Tri::False }
    }

    /// Kleene `and`: false wins over unknown.
    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }

    /// Kleene `or`: true wins over unknown.
    pub fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }
}

/// Kleene `not`.
impl std::ops::Not for Tri {
    type Output = Tri;

    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

/// A set of reals between two bounds, each open or closed; a point is a closed interval of
/// width zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Lower bound (may be -inf).
    pub lo: f64,
    /// Upper bound (may be +inf).
    pub hi: f64,
    /// The lower bound is excluded.
    pub lo_open: bool,
    /// The upper bound is excluded.
    pub hi_open: bool,
}

impl Interval {
    /// A single value.
    pub fn point(x: f64) -> Interval {
        Interval {
            lo: x,
            hi: x,
            lo_open: false,
            hi_open: false,
        }
    }

    /// A closed range.
    pub fn closed(lo: f64, hi: f64) -> Interval {
        Interval {
            lo,
            hi,
            lo_open: false,
            hi_open: false,
        }
    }

    /// The single value, when the interval is a point.
    pub fn as_point(self) -> Option<f64> {
        (self.lo == self.hi && !self.lo_open && !self.hi_open).then_some(self.lo)
    }

    /// Parses a lab result written as text: `"52"`, `">60"`, `">= 90"`, `"<15"`.
    pub fn parse(text: &str) -> Option<Interval> {
        let t = text.trim();
        let (op, rest) = ["<=", ">=", "<", ">", "="]
            .iter()
            .find_map(|op| t.strip_prefix(op).map(|r| (*op, r)))
            .unwrap_or(("", t));
        let x: f64 = rest.trim().parse().ok().filter(|x: &f64| x.is_finite())?;
        let inf = f64::INFINITY;
        Some(match op {
            ">" => Interval {
                lo: x,
                hi: inf,
                lo_open: true,
                hi_open: true,
            },
            ">=" => Interval {
                lo: x,
                hi: inf,
                lo_open: false,
                hi_open: true,
            },
            "<" => Interval {
                lo: -inf,
                hi: x,
                lo_open: true,
                hi_open: true,
            },
            "<=" => Interval {
                lo: -inf,
                hi: x,
                lo_open: true,
                hi_open: false,
            },
            _ => Interval::point(x),
        })
    }

    /// Scales both bounds by a positive factor.
    pub fn scale(self, k: f64) -> Interval {
        Interval {
            lo: self.lo * k,
            hi: self.hi * k,
            ..self
        }
    }

    /// Multiplies by any factor: the bounds swap when it is below zero; times zero is zero
    /// (an unbounded range included).
    pub fn times(self, k: f64) -> Interval {
        if k == 0.0 {
            Interval::point(0.0)
        } else if k > 0.0 {
            self.scale(k)
        } else {
            Interval {
                lo: self.hi * k,
                hi: self.lo * k,
                lo_open: self.hi_open,
                hi_open: self.lo_open,
            }
        }
    }

    /// Every value of `self` is below every value of `other`.
    fn all_below(self, other: Interval) -> bool {
        self.hi < other.lo || (self.hi == other.lo && (self.hi_open || other.lo_open))
    }

    /// Every value of `self` is at most every value of `other`.
    fn all_at_most(self, other: Interval) -> bool {
        self.hi <= other.lo
    }

    /// `self < other`, decided only when the whole ranges agree.
    pub fn lt(self, other: Interval) -> Tri {
        if self.all_below(other) {
            Tri::True
        } else if other.all_at_most(self) {
            Tri::False
        } else {
            Tri::Unknown
        }
    }

    /// `self <= other`.
    pub fn le(self, other: Interval) -> Tri {
        if self.all_at_most(other) {
            Tri::True
        } else if other.all_below(self) {
            Tri::False
        } else {
            Tri::Unknown
        }
    }

    /// `self == other`.
    pub fn eq(self, other: Interval) -> Tri {
        match (self.as_point(), other.as_point()) {
            (Some(a), Some(b)) => Tri::from_bool(a == b),
            _ if self.all_below(other) || other.all_below(self) => Tri::False,
            _ => Tri::Unknown,
        }
    }
}

/// Interval sum.
impl std::ops::Add for Interval {
    type Output = Interval;

    fn add(self, o: Interval) -> Interval {
        Interval {
            lo: self.lo + o.lo,
            hi: self.hi + o.hi,
            lo_open: self.lo_open || o.lo_open,
            hi_open: self.hi_open || o.hi_open,
        }
    }
}

/// Interval difference.
impl std::ops::Sub for Interval {
    type Output = Interval;

    fn sub(self, o: Interval) -> Interval {
        Interval {
            lo: self.lo - o.hi,
            hi: self.hi - o.lo,
            lo_open: self.lo_open || o.hi_open,
            hi_open: self.hi_open || o.lo_open,
        }
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.as_point() {
            Some(x) => write!(f, "{}", format_number(x)),
            None if self.hi.is_infinite() => write!(
                f,
                "{}{}",
                if self.lo_open { ">" } else { ">=" },
                format_number(self.lo)
            ),
            None if self.lo.is_infinite() => write!(
                f,
                "{}{}",
                if self.hi_open { "<" } else { "<=" },
                format_number(self.hi)
            ),
            None => write!(f, "{}-{}", format_number(self.lo), format_number(self.hi)),
        }
    }
}

/// A number for people: integers without a decimal point, others with up to 2 decimals.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The value of an expression for one patient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A truth value.
    Bool(Tri),
    /// A number or quantity (canonical unit).
    Num(Interval),
    /// A date.
    Date(Date),
    /// A number or date that the data does not give.
    Unknown,
}

impl Value {
    /// The truth value (unknown for anything that is not a decided boolean).
    pub fn tri(self) -> Tri {
        match self {
            Value::Bool(t) => t,
            _ => Tri::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: Tri = Tri::Unknown;
    const T: Tri = Tri::True;
    const F: Tri = Tri::False;

    #[test]
    fn kleene_truth_tables() {
        assert_eq!([F.and(U), T.and(U), U.and(U), T.and(T)], [F, U, U, T]);
        assert_eq!([T.or(U), F.or(U), U.or(U), F.or(F)], [T, U, U, F]);
        assert_eq!([!U, !T], [U, F]);
    }

    #[test]
    fn a_range_decides_only_the_comparisons_it_clears() {
        let above_60 = Interval::parse(">60").unwrap();
        let p = Interval::point;
        assert_eq!(above_60.lt(p(60.0)), F);
        assert_eq!(above_60.lt(p(90.0)), U);
        assert_eq!(above_60.le(p(60.0)), F);
        assert_eq!(p(59.0).lt(p(60.0)), T);
        assert_eq!(p(60.0).lt(p(60.0)), F);
        assert_eq!(p(60.0).le(p(60.0)), T);
        assert_eq!(Interval::parse(">=60").unwrap().lt(p(60.0)), F);
        assert_eq!(Interval::parse("<15").unwrap().lt(p(15.0)), T);
        assert_eq!(Interval::closed(64.0, 65.0).le(p(64.0)), U);
        assert_eq!(p(65.0).le(Interval::closed(64.0, 65.0)), U);
    }

    #[test]
    fn ranges_parse_from_lab_text() {
        assert_eq!(Interval::parse(" 52 "), Some(Interval::point(52.0)));
        assert_eq!(
            Interval::parse(">90").map(|i| i.to_string()),
            Some(">90".into())
        );
        assert_eq!(Interval::parse("about 60"), None);
        assert_eq!(Interval::parse("NaN"), None);
    }

    #[test]
    fn numbers_print_plainly() {
        assert_eq!(format_number(80.0), "80");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(1.0 / 3.0), "0.33");
    }
}
