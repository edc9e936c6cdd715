//! Strengths written in a product's name ("Baclofen 10 mg tablet", "5 mg/5 mL", "25 mcg/hr",
//! "Norco 10-325", "Oxycodone Hydrochloride 5 MG / Acetaminophen 325 MG Oral Tablet"), read
//! from the words the name resolution splits, and attributed to the ingredients they belong to.
//!
//! Attribution never guesses: a strength belongs to the ingredient named just before it (the
//! RxNorm naming, "A 5 MG / B 325 MG"), or, when every strength follows every name ("A/B
//! 5-325", a combination brand), to the ingredients in the order they are named. Anything else,
//! or an ingredient given two different strengths, leaves that ingredient without one.

use crate::ir::DrugId;

/// What a strength is per: one unit of the form, a volume, or hours of delivery (a patch).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Per {
    /// Per tablet, capsule, patch, actuation.
    Unit,
    /// Per this many mL ("5 mg/5 mL", "1 mg/mL").
    Millilitres(f64),
    /// Per this many hours of delivery ("25 mcg/hr", "21 mg/24hr").
    Hours(f64),
    /// Per something else ("10 mg/g" of a cream): not usable for a dose.
    Other,
}

/// A strength as written: an amount of one ingredient per unit, volume or time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Strength {
    /// The amount as written.
    pub amount: f64,
    /// Its mass unit (`mg`, `mcg`, `g`).
    pub unit: &'static str,
    /// mg per one `unit`.
    pub factor: f64,
    /// Per what.
    pub per: Per,
    /// Written without a unit ("10-325"), read as mg.
    pub unitless: bool,
}

impl Strength {
    /// The amount in mg.
    pub fn mg(&self) -> f64 {
        self.amount * self.factor
    }
}

impl std::fmt::Display for Strength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", show(self.amount), self.unit)?;
        match self.per {
            Per::Unit | Per::Other => Ok(()),
            Per::Millilitres(1.0) => write!(f, "/mL"),
            Per::Millilitres(v) => write!(f, "/{} mL", show(v)),
            Per::Hours(1.0) => write!(f, "/hr"),
            Per::Hours(h) => write!(f, "/{} hr", show(h)),
        }
    }
}

/// A number as written: no float noise (0.6000000000000001), no trailing zeros.
pub(crate) fn show(x: f64) -> String {
    let rounded = (x * 1e6).round() / 1e6;
    format!("{rounded}")
}

/// A mass unit word, with its factor to mg.
fn mass_unit(word: &str) -> Option<(&'static str, f64)> {
    match word {
        "mg" => Some(("mg", 1.0)),
        "mcg" | "ug" | "µg" | "μg" => Some(("mcg", 0.001)),
        "g" | "gm" => Some(("g", 1000.0)),
        _ => None,
    }
}

/// A word's leading number and the rest ("10mg" -> 10, "mg").
fn number_prefix(word: &str) -> Option<(f64, &str)> {
    let end = word
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(word.len());
    let value: f64 = word[..end].parse().ok()?;
    value.is_finite().then_some((value, &word[end..]))
}

/// What a strength is per, from the words after its `/`; with the number of words used.
/// `None` when the `/` separates ingredients ("5 MG / Acetaminophen 325 MG").
fn per_words(words: &[&str]) -> Option<(Per, usize)> {
    let hours = |w: &str| matches!(w, "hr" | "h" | "hour" | "hrs");
    let &first = words.first()?;
    if matches!(
        first,
        "g" | "gm" | "kg" | "l" | "dl" | "cm" | "cm2" | "m2" | "unit" | "units" | "meq"
    ) {
        return Some((Per::Other, 1));
    }
    if first == "ml" {
        return Some((Per::Millilitres(1.0), 1));
    }
    if hours(first) {
        return Some((Per::Hours(1.0), 1));
    }
    if matches!(first, "actuat" | "actuation" | "spray" | "puff" | "dose") {
        return Some((Per::Unit, 1));
    }
    let (n, rest) = number_prefix(first)?;
    let (unit, used) = if rest.is_empty() {
        (words.get(1).copied().unwrap_or(""), 2)
    } else {
        (rest, 1)
    };
    if unit == "ml" && n > 0.0 {
        return Some((Per::Millilitres(n), used));
    }
    if hours(unit) && n > 0.0 {
        return Some((Per::Hours(n), used));
    }
    // "5 mg/325 mg": two strengths, not one per the other.
    None
}

/// Reads the strengths among `words` (byte ranges of lower-cased `text`), appending each with
/// the index of the word it starts at.
pub fn read(text: &str, words: &[(usize, usize)], out: &mut Vec<(usize, Strength)>) {
    out.clear();
    let word = |i: usize| &text[words[i].0..words[i].1];
    // The characters between word i-1 and word i, without spaces: "/", "-", "" ...
    let joined_by = |i: usize, sep: char| {
        let gap = text[words[i - 1].1..words[i].0].trim();
        gap.len() == 1 && gap.starts_with(sep)
    };
    let separated = |i: usize| joined_by(i, '/') || joined_by(i, '-');
    let mut i = 0;
    while i < words.len() {
        let Some((first, rest)) = number_prefix(word(i)) else {
            i += 1;
            continue;
        };
        let start = i;
        let mut amounts = [first; 4];
        let mut n = 1;
        let mut unit = mass_unit(rest);
        let mut j = i + 1;
        if rest.is_empty() {
            // A run of bare numbers "10-325" or "5/325", maybe with one unit after it.
            while j < words.len() && n < amounts.len() && separated(j) {
                match number_prefix(word(j)) {
                    Some((x, r)) if r.is_empty() || mass_unit(r).is_some() => {
                        amounts[n] = x;
                        n += 1;
                        j += 1;
                        if !r.is_empty() {
                            unit = mass_unit(r);
                            break;
                        }
                    }
                    _ => break,
                }
            }
            if unit.is_none()
                && j < words.len()
                && !separated(j)
                && let Some(u) = mass_unit(word(j))
            {
                unit = Some(u);
                j += 1;
            }
        } else if unit.is_none() {
            i += 1;
            continue;
        }
        let unitless = unit.is_none();
        let (unit, factor) = match unit {
            Some(u) => u,
            // Bare numbers are a strength only as a combination's "10-325", read as mg.
            None if n >= 2 => ("mg", 1.0),
            None => {
                i = j.max(i + 1);
                continue;
            }
        };
        let mut per = Per::Unit;
        if n == 1 && j < words.len() && joined_by(j, '/') {
            let rest: Vec<&str> = (j..words.len().min(j + 2)).map(word).collect();
            if let Some((p, used)) = per_words(&rest) {
                per = p;
                j += used;
            }
        }
        for &amount in &amounts[..n] {
            out.push((
                start,
                Strength {
                    amount,
                    unit,
                    factor,
                    per,
                    unitless,
                },
            ));
        }
        i = j.max(i + 1);
    }
}

/// An ingredient named in the text, at a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mention {
    /// The word the name starts at.
    pub at: usize,
    /// The ingredient.
    pub drug: DrugId,
    /// The name names more than one ingredient (a combination brand).
    pub shared: bool,
}

/// The strength of `drug` from the text, or `None` when the text does not tell it for certain.
/// `unknown_words` are the word indices of words that are no known name (an ingredient the
/// vocabulary does not know may own a strength near them). `only` says `drug` is the entry's
/// one ingredient (identified by code when the text names none).
pub fn attribute(
    drug: DrugId,
    mentions: &[Mention],
    strengths: &[(usize, Strength)],
    unknown_words: &[usize],
    only: bool,
) -> Option<Strength> {
    let last_strength = strengths.iter().map(|s| s.0).max()?;
    let last_name = mentions.iter().map(|m| m.at).max();
    let unknown_before_last = unknown_words.iter().any(|&w| w < last_strength);
    if mentions.is_empty() {
        return (only && !unknown_before_last)
            .then(|| agreed(strengths.iter().map(|s| s.1)))
            .flatten();
    }
    // Every strength after every name: in the order the ingredients are named.
    if !unknown_before_last && strengths.iter().all(|s| Some(s.0) > last_name) {
        let mut order: Vec<DrugId> = Vec::with_capacity(mentions.len());
        for m in mentions {
            if !order.contains(&m.drug) {
                order.push(m.drug);
            }
        }
        let k = order.iter().position(|&d| d == drug)?;
        if order.len() == 1 {
            return agreed(strengths.iter().map(|s| s.1));
        }
        return (strengths.len() == order.len()).then(|| strengths[k].1);
    }
    // Otherwise each strength to the one ingredient named just before it, with no unknown word
    // between them.
    let owned = strengths.iter().filter_map(|&(at, s)| {
        let before = mentions.iter().filter(|m| m.at < at).map(|m| m.at).max()?;
        let mut named = mentions.iter().filter(|m| m.at == before);
        let owner = named.next()?;
        let alone = named.next().is_none() && !owner.shared;
        let interrupted = unknown_words.iter().any(|&w| w > before && w < at);
        (alone && !interrupted && owner.drug == drug).then_some(s)
    });
    agreed(owned)
}

/// The one strength all of these agree on.
fn agreed(mut all: impl Iterator<Item = Strength>) -> Option<Strength> {
    let first = all.next()?;
    all.all(|s| s == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strengths(text: &str) -> Vec<String> {
        let lower = text.to_lowercase();
        let mut words = Vec::new();
        super::super::text::split_words(&lower, &mut words);
        let mut out = Vec::new();
        read(&lower, &words, &mut out);
        out.iter().map(|(_, s)| s.to_string()).collect()
    }

    #[test]
    fn strengths_are_read_as_written() {
        assert_eq!(strengths("Baclofen 10 mg tablet"), ["10 mg"]);
        assert_eq!(strengths("LIORESAL 10MG TAB"), ["10 mg"]);
        assert_eq!(strengths("baclofen 5 mg/5 mL oral solution"), ["5 mg/5 mL"]);
        assert_eq!(strengths("Gablofen 2000 mcg/mL"), ["2000 mcg/mL"]);
        assert_eq!(strengths("fentanyl 25 mcg/hr patch"), ["25 mcg/hr"]);
        assert_eq!(
            strengths("72 HR Fentanyl 0.025 MG/HR Transdermal System"),
            ["0.025 mg/hr"]
        );
        assert_eq!(strengths("Nicotine 21 MG/24HR patch"), ["21 mg/24 hr"]);
        assert_eq!(strengths("Norco 10-325"), ["10 mg", "325 mg"]);
        assert_eq!(
            strengths("oxycodone/acetaminophen 5/325 mg"),
            ["5 mg", "325 mg"]
        );
        assert_eq!(
            strengths("hydrocodone/acetaminophen 10 mg/325 mg"),
            ["10 mg", "325 mg"]
        );
        assert_eq!(
            strengths("Oxycodone Hydrochloride 5 MG / Acetaminophen 325 MG Oral Tablet"),
            ["5 mg", "325 mg"]
        );
        assert_eq!(
            strengths("200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"),
            ["0.09 mg"]
        );
    }

    #[test]
    fn numbers_that_are_no_strength_are_left_alone() {
        assert!(
            strengths("{28 (Norethindrone 0.35 MG Oral Tablet) } Pack")
                .iter()
                .eq(["0.35 mg"].iter())
        );
        assert!(strengths("Baclof 10").is_empty());
        assert!(strengths("lidocaine 5% patch").is_empty());
        assert!(strengths("12 HR oxycodone").is_empty());
        assert_eq!(strengths("Hydrocortisone 10 MG/G cream")[0], "10 mg");
    }

    fn m(at: usize, drug: DrugId) -> Mention {
        Mention {
            at,
            drug,
            shared: false,
        }
    }

    fn s(amount: f64) -> Strength {
        Strength {
            amount,
            unit: "mg",
            factor: 1.0,
            per: Per::Unit,
            unitless: false,
        }
    }

    #[test]
    fn each_strength_goes_to_the_ingredient_named_before_it() {
        // "acetaminophen 325 MG / hydrocodone 7.5 MG": RxNorm's alphabetical order.
        let mentions = [m(0, 1), m(3, 0)];
        let found = [(1, s(325.0)), (4, s(7.5))];
        assert_eq!(attribute(0, &mentions, &found, &[], false), Some(s(7.5)));
        assert_eq!(attribute(1, &mentions, &found, &[], false), Some(s(325.0)));
    }

    #[test]
    fn strengths_after_every_name_follow_the_order_of_the_names() {
        // "hydrocodone/acetaminophen 10-325" and a brand naming both: "Norco 10-325".
        let found = [(2, s(10.0)), (2, s(325.0))];
        assert_eq!(
            attribute(0, &[m(0, 0), m(1, 1)], &found, &[], false),
            Some(s(10.0))
        );
        let brand = [
            Mention {
                at: 0,
                drug: 0,
                shared: true,
            },
            Mention {
                at: 0,
                drug: 1,
                shared: true,
            },
        ];
        let found = [(1, s(10.0)), (1, s(325.0))];
        assert_eq!(attribute(1, &brand, &found, &[], false), Some(s(325.0)));
        // One strength for a two-ingredient brand: whose is it? Nobody's.
        assert_eq!(attribute(0, &brand, &found[..1], &[], false), None);
    }

    #[test]
    fn an_unknown_word_or_a_second_strength_leaves_the_ingredient_without_one() {
        // "baclofen / zorblatin 10 mg": the 10 mg may be zorblatin's.
        assert_eq!(attribute(0, &[m(0, 0)], &[(2, s(10.0))], &[1], false), None);
        // "zorblatin 10 mg / baclofen 5 mg": baclofen's own strength follows it.
        let found = [(1, s(10.0)), (4, s(5.0))];
        assert_eq!(attribute(0, &[m(3, 0)], &found, &[0], false), Some(s(5.0)));
        // Two different strengths after one name.
        let found = [(1, s(10.0)), (3, s(20.0))];
        assert_eq!(attribute(0, &[m(0, 0)], &found, &[], false), None);
        // Identified by code, the text naming nothing: its one strength is the entry's.
        assert_eq!(attribute(0, &[], &[(1, s(10.0))], &[], true), Some(s(10.0)));
        assert_eq!(attribute(0, &[], &[(1, s(10.0))], &[], false), None);
    }
}
