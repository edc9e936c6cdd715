//! The release form an entry's text writes: immediate, sustained (12-hour), extended over 24
//! hours, or extended without saying which. Products of one ingredient that differ in it have
//! different labels and maximum doses (bupropion SR and XL; tramadol and tramadol ER), so a draft
//! order of one form is not known to renew an active order of another.

/// How a product releases its drug, as the entry's text says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// No release word (or "IR", "immediate"): an immediate-release product.
    Immediate,
    /// "SR", "sustained", "12 hr": a twice-daily sustained-release product.
    Sustained,
    /// "XL", "24 hr": a once-daily extended-release product.
    Daily,
    /// "ER", "XR", "CR", "LA", "extended", "controlled": extended, without saying over how long.
    Extended,
}

impl Release {
    /// The release form a medication text writes. Read once per entry, without allocating.
    pub fn of(text: &str) -> Release {
        let words = || {
            text.split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
        };
        let any = |names: &[&str]| words().any(|w| names.iter().any(|n| w.eq_ignore_ascii_case(n)));
        // "12 hr", "12hr", "12-hour", "12 h".
        let hours = |n: &str| {
            let unit = |u: &str| {
                ["hr", "h", "hour"]
                    .iter()
                    .any(|x| u.eq_ignore_ascii_case(x))
            };
            let glued = |w: &str| w.strip_prefix(n).is_some_and(unit);
            words().any(glued) || words().zip(words().skip(1)).any(|(a, b)| a == n && unit(b))
        };
        if any(&["sr", "sustained"]) || hours("12") {
            Release::Sustained
        } else if any(&["xl"]) || hours("24") {
            Release::Daily
        } else if any(&[
            "er",
            "xr",
            "cr",
            "la",
            "extended",
            "controlled",
            "prolonged",
        ]) {
            Release::Extended
        } else {
            Release::Immediate
        }
    }

    /// Whether an order of one form may renew an order of the other: the same form, or an
    /// extended product that does not say over how long beside one that does.
    pub fn may_renew(self, other: Release) -> bool {
        use Release::{Daily, Extended, Sustained};
        self == other
            || matches!(
                (self, other),
                (Extended, Sustained | Daily) | (Sustained | Daily, Extended)
            )
    }
}

#[cfg(test)]
mod tests {
    use super::Release::{self, Daily, Extended, Immediate, Sustained};

    #[test]
    fn release_words_as_records_write_them() {
        for (text, release) in [
            ("Bupropion XL 300 mg tablet", Daily),
            ("Wellbutrin XL 150 mg", Daily),
            (
                "bupropion hydrochloride 150 MG 24HR Extended Release Oral Tablet",
                Daily,
            ),
            (
                "bupropion hydrochloride 150 MG 12 HR Extended Release Oral Tablet",
                Sustained,
            ),
            ("Zyban 150 mg SR tablet", Sustained),
            ("Bupropion SR 150 mg", Sustained),
            ("Tramadol ER 200 mg tablet", Extended),
            (
                "tramadol hydrochloride 100 MG Extended Release Oral Tablet",
                Extended,
            ),
            ("Tramadol 50 mg tablet", Immediate),
            ("Oxycodone IR 5 mg", Immediate),
            ("Lioresal Intrathecal 500 mcg/mL", Immediate),
            // Words that only contain the letters are not release words.
            ("Fioricet capsule", Immediate),
            ("Sertraline 50 mg tablet", Immediate),
        ] {
            assert_eq!(Release::of(text), release, "{text}");
        }
    }

    #[test]
    fn only_the_same_form_or_an_unsaid_extended_one_may_renew() {
        assert!(Daily.may_renew(Daily));
        assert!(Extended.may_renew(Daily) && Sustained.may_renew(Extended));
        assert!(!Daily.may_renew(Sustained));
        assert!(!Immediate.may_renew(Daily) && !Extended.may_renew(Immediate));
    }
}
