//! Identifying a medication entry: by RxNorm or ATC code, then by its text as exact tokens.
//!
//! The text is lower-cased and split into words. At each word the longest known name (an
//! ingredient, brand or synonym of up to [`MedIndex::max_words`] words) is taken; words of
//! strength, salt, dose form and connectors are dropped; any other word is left over. Nothing is
//! matched approximately.

use super::strength::{self, Mention, Strength};
use crate::fxhash::FxHashMap;
use crate::ir::{DrugId, Program};
use crate::route::Route;

/// What a known name resolves to.
#[derive(Debug, Clone, Default)]
pub struct NameHit {
    /// The ingredients.
    pub drugs: Vec<DrugId>,
    /// The route the name implies (a brand such as Gablofen).
    pub route: Option<Route>,
}

/// Code and name lookup tables built once from the vocabulary.
#[derive(Debug, Clone, Default)]
pub struct MedIndex {
    rxnorm: FxHashMap<String, Vec<DrugId>>,
    atc: FxHashMap<String, Vec<DrugId>>,
    names: FxHashMap<String, NameHit>,
    /// For each word that starts a known name, the most words of a name it starts.
    first_words: FxHashMap<String, usize>,
    /// RxNorm clinical and branded drug codes to their ingredients, from a site's relation table.
    relations: FxHashMap<u32, Box<[DrugId]>>,
    /// What the relation table held, when one was attached.
    relation_summary: Option<super::relations::RelationSummary>,
    /// Tells indexes apart, so a thread's cache never serves one index's answers to another.
    id: u64,
}

/// Entries a thread remembers before it starts over: prescription texts repeat across patients,
/// so most entries of a panel are resolved once.
const CACHE_ENTRIES: usize = 8192;

static NEXT_INDEX_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// How an entry was identified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolvedBy {
    /// By its RxNorm code.
    Rxnorm,
    /// By its RxNorm code, through the site's relation table to its ingredients.
    #[serde(rename = "rxnorm_relation")]
    RxnormRelation,
    /// By its ATC code.
    Atc,
    /// By its text.
    Name,
    /// Not identified.
    #[default]
    Unrecognized,
}

/// How an entry was identified (its ingredients go to the caller's list).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolution {
    /// By code, by name, or not at all.
    pub by: ResolvedBy,
    /// The route a brand or dose-form word implies.
    pub implied_route: Option<Route>,
    /// Words that are neither a known name nor a strength, salt, form or connector.
    pub leftover: Vec<String>,
}

/// Buffers reused from one entry to the next.
#[derive(Debug, Clone, Default)]
pub struct TextScratch {
    lower: String,
    words: Vec<(usize, usize)>,
    key: String,
    cache_key: String,
    cache: FxHashMap<String, Cached>,
    cache_owner: u64,
    mentions: Vec<Mention>,
    found: Vec<(usize, Strength)>,
    unknown_at: Vec<usize>,
}

/// A remembered answer: the ingredients, the strength of each, and how.
#[derive(Debug, Clone)]
struct Cached {
    drugs: Vec<DrugId>,
    strengths: Vec<Option<Strength>>,
    res: Resolution,
}

impl MedIndex {
    /// Builds the tables from the checked vocabulary.
    pub fn build(program: &Program) -> MedIndex {
        let mut index = MedIndex {
            id: NEXT_INDEX_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            ..MedIndex::default()
        };
        for (id, drug) in program.drugs.iter().enumerate() {
            for code in &drug.rxnorm {
                push_unique(index.rxnorm.entry(code.clone()).or_default(), id);
            }
            for code in &drug.atc {
                push_unique(index.atc.entry(code.clone()).or_default(), id);
            }
            for (name, route) in &drug.names {
                let lower = name.to_lowercase();
                let mut spans = Vec::new();
                split_words(&lower, &mut spans);
                let parts: Vec<&str> = spans.iter().map(|&(a, b)| &lower[a..b]).collect();
                let Some(first) = parts.first() else { continue };
                let longest = index.first_words.entry((*first).to_string()).or_default();
                *longest = (*longest).max(parts.len());
                let hit = index.names.entry(parts.join(" ")).or_default();
                push_unique(&mut hit.drugs, id);
                hit.route = hit.route.or(*route);
            }
        }
        index
    }

    /// Identifies an entry, appending its ingredients to `drugs` (without repeats) and the
    /// strength its text gives each of them to `strengths` (one per ingredient, `None` where the
    /// text does not tell it). Answers are remembered in `scratch`, keyed by the codes and the
    /// text.
    pub fn resolve(
        &self,
        rxnorm: Option<&str>,
        atc: Option<&str>,
        text: &str,
        scratch: &mut TextScratch,
        drugs: &mut Vec<DrugId>,
        strengths: &mut Vec<Option<Strength>>,
    ) -> Resolution {
        if scratch.cache_owner != self.id || scratch.cache.len() >= CACHE_ENTRIES {
            scratch.cache.clear();
            scratch.cache_owner = self.id;
        }
        let key = &mut scratch.cache_key;
        key.clear();
        for part in [
            rxnorm.unwrap_or(""),
            "\u{1}",
            atc.unwrap_or(""),
            "\u{1}",
            text,
        ] {
            key.push_str(part);
        }
        if let Some(hit) = scratch.cache.get(key.as_str()) {
            drugs.extend_from_slice(&hit.drugs);
            strengths.extend_from_slice(&hit.strengths);
            return hit.res.clone();
        }
        let start = drugs.len();
        let first_strength = strengths.len();
        let res = self.resolve_uncached(rxnorm, atc, text, scratch, drugs);
        for &d in &drugs[start..] {
            strengths.push(strength::attribute(
                d,
                &scratch.mentions,
                &scratch.found,
                &scratch.unknown_at,
                drugs.len() - start == 1,
            ));
        }
        let key = std::mem::take(&mut scratch.cache_key);
        let cached = Cached {
            drugs: drugs[start..].to_vec(),
            strengths: strengths[first_strength..].to_vec(),
            res: res.clone(),
        };
        scratch.cache.insert(key, cached);
        res
    }

    fn resolve_uncached(
        &self,
        rxnorm: Option<&str>,
        atc: Option<&str>,
        text: &str,
        scratch: &mut TextScratch,
        drugs: &mut Vec<DrugId>,
    ) -> Resolution {
        let start = drugs.len();
        let mut res = Resolution::default();
        fn by_code<'t>(
            table: &'t FxHashMap<String, Vec<DrugId>>,
            code: Option<&str>,
        ) -> Option<&'t [DrugId]> {
            code.and_then(|c| table.get(c.trim())).map(Vec::as_slice)
        }
        if let Some(found) = by_code(&self.rxnorm, rxnorm) {
            drugs.extend_from_slice(found);
            res.by = ResolvedBy::Rxnorm;
        } else if let Some(found) = self.by_relation(rxnorm) {
            drugs.extend_from_slice(found);
            res.by = ResolvedBy::RxnormRelation;
        } else if let Some(found) = by_code(&self.atc, atc) {
            drugs.extend_from_slice(found);
            res.by = ResolvedBy::Atc;
        }
        self.resolve_text(text, scratch, drugs, start, &mut res);
        res
    }

    fn resolve_text(
        &self,
        text: &str,
        s: &mut TextScratch,
        drugs: &mut Vec<DrugId>,
        start: usize,
        res: &mut Resolution,
    ) {
        lowercase_into(text, &mut s.lower);
        split_words(&s.lower, &mut s.words);
        s.mentions.clear();
        s.unknown_at.clear();
        let by_code = drugs.len() > start;
        // RxNorm writes a product's brand in square brackets after its ingredients
        // ("Diazepam 5 MG [Valium]", "... } Pack [Camila 28 Day]"): an unknown word there is no
        // unknown ingredient once the ingredients outside the brackets are known.
        let mut bracketed: Vec<String> = Vec::new();
        // "Injectable Suspension", "suspension for injection": a suspension given by injection
        // says nothing of the route (intramuscular or subcutaneous), and is never oral.
        let injected = s.words.iter().any(|&(a, b)| {
            matches!(
                &s.lower[a..b],
                "injectable" | "injection" | "inj" | "injector"
            )
        });
        let (mut depth, mut scanned) = (0i32, 0usize);
        let mut i = 0;
        while i < s.words.len() {
            let (a, _) = s.words[i];
            for c in s.lower[scanned..a].bytes() {
                depth += i32::from(c == b'[') - i32::from(c == b']');
            }
            scanned = a;
            if let Some((hit, len)) = self.longest_name(&s.lower, &s.words[i..], &mut s.key) {
                let shared = hit.drugs.len() > 1;
                s.mentions.extend(hit.drugs.iter().map(|&drug| Mention {
                    at: i,
                    drug,
                    shared,
                }));
                if !by_code {
                    for &d in &hit.drugs {
                        if !drugs[start..].contains(&d) {
                            drugs.push(d);
                        }
                    }
                    res.by = ResolvedBy::Name;
                }
                res.implied_route = res.implied_route.or(hit.route);
                i += len;
                continue;
            }
            let (a, b) = s.words[i];
            let token = &s.lower[a..b];
            if let Some(route) = form_route(token) {
                if !(injected && token == "suspension") {
                    res.implied_route = res.implied_route.or(Some(route));
                }
            } else if !is_noise(token) {
                s.unknown_at.push(i);
                if !by_code {
                    let words = if depth > 0 {
                        &mut bracketed
                    } else {
                        &mut res.leftover
                    };
                    words.push(token.to_string());
                }
            }
            i += 1;
        }
        if drugs.len() == start {
            res.leftover.append(&mut bracketed);
        }
        strength::read(&s.lower, &s.words, &mut s.found);
    }

    /// The ingredients of a clinical or branded drug code, through the relation table.
    fn by_relation(&self, code: Option<&str>) -> Option<&[DrugId]> {
        let code: u32 = code?.trim().parse().ok()?;
        self.relations.get(&code).map(|d| &d[..])
    }

    /// Attaches a site's RxNorm relation table: its ingredient codes are matched to the
    /// vocabulary's, and codes whose ingredients are all unknown to the vocabulary are left out
    /// (counted in the summary).
    pub fn attach_relations(&mut self, table: &super::relations::RxnormRelations) {
        let (relations, summary) =
            table.resolve(|code| self.rxnorm.get(code).map(Vec::as_slice).unwrap_or_default());
        self.relations = relations;
        self.relation_summary = Some(summary);
        // Answers remembered before the table came are no longer right.
        self.id = NEXT_INDEX_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// What the attached relation table held.
    pub fn relation_summary(&self) -> Option<&super::relations::RelationSummary> {
        self.relation_summary.as_ref()
    }

    fn longest_name(
        &self,
        text: &str,
        words: &[(usize, usize)],
        key: &mut String,
    ) -> Option<(&NameHit, usize)> {
        let (a, b) = words[0];
        let longest = *self.first_words.get(&text[a..b])?;
        for len in (1..=longest.min(words.len())).rev() {
            key.clear();
            for (j, &(a, b)) in words[..len].iter().enumerate() {
                if j > 0 {
                    key.push(' ');
                }
                key.push_str(&text[a..b]);
            }
            if let Some(hit) = self.names.get(key.as_str()) {
                return Some((hit, len));
            }
        }
        None
    }
}

/// Lower-cases into a reused buffer (ASCII fast path).
fn lowercase_into(text: &str, buf: &mut String) {
    buf.clear();
    if text.is_ascii() {
        buf.push_str(text);
        buf.make_ascii_lowercase();
    } else {
        buf.extend(text.chars().flat_map(char::to_lowercase));
    }
}

fn push_unique(v: &mut Vec<DrugId>, d: DrugId) {
    if !v.contains(&d) {
        v.push(d);
    }
}

/// Splits lower-cased text into words at whitespace and punctuation (a `/` or `-` between
/// names separates a combination's ingredients; between digits, strengths), as byte ranges.
pub(crate) fn split_words(text: &str, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let mut start = None;
    let is_word = |c: char| c.is_alphanumeric() || c == '.' || c == '%' || c == '#';
    let mut push = |a: usize, b: usize| {
        let w = &text[a..b];
        let trimmed = w.trim_matches('.');
        if !trimmed.is_empty() {
            let lead = w.len() - w.trim_start_matches('.').len();
            out.push((a + lead, a + lead + trimmed.len()));
        }
    };
    for (i, c) in text.char_indices() {
        match (is_word(c), start) {
            (true, None) => start = Some(i),
            (false, Some(a)) => {
                push(a, i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(a) = start {
        push(a, text.len());
    }
}

/// A dose-form or route word, and the route it implies.
fn form_route(word: &str) -> Option<Route> {
    let route = match word {
        "tablet" | "tablets" | "tab" | "tabs" | "capsule" | "capsules" | "cap" | "caps"
        | "oral" | "orally" | "po" | "suspension" | "granules" | "syrup" | "elixir" | "odt"
        | "chewable" | "caplet" | "softgel" => Route::Oral,
        "intrathecal" | "intrathecally" => Route::Intrathecal,
        "transdermal" | "patch" => Route::Transdermal,
        "sublingual" | "sl" => Route::Sublingual,
        "buccal" => Route::Buccal,
        "nasal" | "intranasal" => Route::Nasal,
        "rectal" | "suppository" => Route::Rectal,
        "inhaler" | "inhalation" | "inhalant" | "nebulizer" => Route::Inhaled,
        // Eye and ear drops act where they are put: no rule here reads them as systemic.
        "topical" | "cream" | "ointment" | "gel" | "lotion" | "ophthalmic" | "otic" => {
            Route::Topical
        }
        _ => return None,
    };
    Some(route)
}

/// Words of strength, unit, salt, dose form and connectors: dropped from a name.
fn is_noise(word: &str) -> bool {
    let b = word.as_bytes();
    if b.first()
        .is_some_and(|c| c.is_ascii_digit() || *c == b'#' || *c == b'.')
    {
        return true;
    }
    NOISE.binary_search(&word).is_ok() || is_application_number(word)
}

/// An FDA application number as RxNorm prefixes some names with ("NDA020800", "BLA125057").
fn is_application_number(word: &str) -> bool {
    ["nda", "anda", "bla"].iter().any(|p| {
        word.strip_prefix(p)
            .is_some_and(|rest| rest.len() >= 5 && rest.bytes().all(|c| c.is_ascii_digit()))
    })
}

/// Sorted for binary search.
const NOISE: &[&str] = &[
    "%",
    "12hr",
    "24hr",
    "abuse",
    "acetate",
    "actuat",
    "actuated",
    "actuation",
    "actuations",
    "ampoule",
    "ampule",
    "and",
    "auto",
    "autoinjector",
    "benzathine",
    "besylate",
    "bitartrate",
    "bp",
    "breath",
    "bromide",
    "calcium",
    "cartridge",
    "citrate",
    "concentrate",
    "concentrated",
    "cr",
    "d",
    "daily",
    "day",
    "decanoate",
    "delayed",
    "deterrent",
    "dihydrate",
    "dipropionate",
    "disintegrating",
    "dispersible",
    "dose",
    "dr",
    "drops",
    "drug",
    "dry",
    "ds",
    "ec",
    "enteric",
    "er",
    "extended",
    // "Extra Strength", the OTC label's strength words.
    "extra",
    "film",
    // "Tablet for Oral Suspension", the RxNorm dose form.
    "for",
    "free",
    "fumarate",
    "g",
    "generic",
    "h",
    "hbr",
    "hcl",
    "hour",
    "hours",
    "hr",
    "human",
    "hyclate",
    "hydrobromide",
    "hydrochloride",
    "i.v",
    "immediate",
    "implant",
    "in",
    "infusion",
    "inj",
    "injectable",
    "injection",
    "injector",
    "intrauterine",
    "ir",
    "iu",
    "iv",
    "kit",
    "l",
    "la",
    "lauroxil",
    "liquid",
    "lozenge",
    "macrocrystal",
    "macrocrystals",
    "magnesium",
    "malate",
    "maleate",
    "mcg",
    "meq",
    "mesylate",
    "metered",
    "mg",
    "ml",
    "modified",
    "monohydrate",
    "mucosal",
    "napsylate",
    // "No. 3": a product number.
    "no",
    "of",
    "orally",
    "pack",
    "packet",
    "pamoate",
    "pen",
    "per",
    "phosphate",
    "plus",
    "polistirex",
    "potassium",
    "powder",
    "prefilled",
    "preservative",
    "propionate",
    "pump",
    "release",
    "ring",
    "sachet",
    "sodium",
    "solution",
    "spray",
    "sr",
    "strength",
    "strip",
    "strips",
    "succinate",
    "sulfate",
    "syringe",
    "system",
    "tartrate",
    "troche",
    "unit",
    "units",
    "unt",
    "usp",
    "vaginal",
    "valerate",
    "vial",
    "w",
    "wafer",
    "wafers",
    "with",
    "xl",
    "xr",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::DrugDef;

    fn program() -> Program {
        let drug = |name: &str, names: &[(&str, Option<Route>)], atc: &str| DrugDef {
            name: name.into(),
            rxnorm: if name == "baclofen" {
                vec!["1292".into()]
            } else {
                Vec::new()
            },
            atc: vec![atc.into()],
            names: std::iter::once((name.replace('_', " "), None))
                .chain(names.iter().map(|(n, r)| (n.to_lowercase(), *r)))
                .collect(),
            span: Default::default(),
        };
        Program {
            drugs: vec![
                drug(
                    "baclofen",
                    &[
                        ("Lioresal", None),
                        ("Gablofen", Some(Route::Intrathecal)),
                        ("Lioresal Intrathecal", Some(Route::Intrathecal)),
                        ("Ozobax DS", None),
                        ("Baclof", None),
                    ],
                    "M03BX01",
                ),
                drug("oxycodone", &[], "N02AA05"),
                drug("acetaminophen", &[("paracetamol", None)], "N02BE01"),
                drug("sodium_oxybate", &[], "N07XX04"),
            ],
            ..Program::default()
        }
    }

    fn resolve(text: &str) -> (Vec<DrugId>, Resolution) {
        let mut drugs = Vec::new();
        let res = MedIndex::build(&program()).resolve(
            None,
            None,
            text,
            &mut TextScratch::default(),
            &mut drugs,
            &mut Vec::new(),
        );
        (drugs, res)
    }

    #[test]
    fn prescription_text_resolves_to_its_ingredient() {
        for text in [
            "Baclofen 10 mg tablet",
            "LIORESAL 10MG TAB",
            "baclofen 5 mg/5 mL oral solution",
            "Baclof 10",
            "Ozobax DS 10 mg/5 mL",
        ] {
            let (drugs, r) = resolve(text);
            assert_eq!(drugs, vec![0], "{text}");
            assert!(r.leftover.is_empty(), "{text}: {:?}", r.leftover);
        }
    }

    #[test]
    fn combination_products_resolve_to_every_ingredient() {
        assert_eq!(resolve("oxycodone/acetaminophen 5-325").0, vec![1, 2]);
        assert_eq!(
            resolve("Oxycodone HCl and Paracetamol tablets").0,
            vec![1, 2]
        );
    }

    #[test]
    fn brands_and_forms_imply_routes() {
        assert_eq!(
            resolve("Gablofen 2000 mcg/mL").1.implied_route,
            Some(Route::Intrathecal)
        );
        assert_eq!(
            resolve("Lioresal Intrathecal 500 mcg/mL").1.implied_route,
            Some(Route::Intrathecal)
        );
        assert_eq!(
            resolve("Lioresal 10 mg tablet").1.implied_route,
            Some(Route::Oral)
        );
    }

    #[test]
    fn an_injected_suspension_is_not_oral_and_eye_drops_are_local() {
        assert_eq!(
            resolve("baclofen 10 MG/ML Injectable Suspension")
                .1
                .implied_route,
            None
        );
        assert_eq!(
            resolve("baclofen oral suspension 5 mg/5 mL")
                .1
                .implied_route,
            Some(Route::Oral)
        );
        assert_eq!(
            resolve("baclofen 1 MG/ML Ophthalmic Solution")
                .1
                .implied_route,
            Some(Route::Topical)
        );
    }

    #[test]
    fn rxnorm_words_that_name_no_ingredient_are_no_leftovers() {
        let (drugs, partial) = resolve(
            "Breath-Actuated 120 ACTUAT baclofen dipropionate 100 UNT/ML Preservative-Free, human",
        );
        assert_eq!((drugs, partial.leftover), (vec![0], Vec::<String>::new()));
    }

    #[test]
    fn the_noise_words_are_sorted_for_binary_search() {
        assert!(NOISE.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn salt_words_inside_a_known_name_are_kept() {
        assert_eq!(resolve("Sodium oxybate 0.5 g/mL oral solution").0, vec![3]);
    }

    #[test]
    fn nothing_is_matched_approximately() {
        assert!(resolve("Baclofin 10 mg tablet").0.is_empty());
        assert!(resolve("Zorblatin 20 mg tablet").0.is_empty());
        let (drugs, partial) = resolve("oxycodone/zorblatin 5 mg");
        assert_eq!(
            (drugs, partial.leftover),
            (vec![1], vec!["zorblatin".to_string()])
        );
    }

    #[test]
    fn a_scratch_never_serves_one_index_the_answers_of_another() {
        let mut scratch = TextScratch::default();
        let with_baclofen = MedIndex::build(&program());
        let mut other = program();
        other.drugs.remove(0);
        let without = MedIndex::build(&other);
        for _ in 0..2 {
            let mut drugs = Vec::new();
            let mut strengths = Vec::new();
            with_baclofen.resolve(
                None,
                None,
                "Baclofen 10 mg",
                &mut scratch,
                &mut drugs,
                &mut strengths,
            );
            assert_eq!(drugs, vec![0]);
            let mut drugs = Vec::new();
            let res = without.resolve(
                None,
                None,
                "Baclofen 10 mg",
                &mut scratch,
                &mut drugs,
                &mut strengths,
            );
            assert!(drugs.is_empty() && res.leftover == ["baclofen"]);
        }
    }

    #[test]
    fn the_noise_list_is_sorted_for_binary_search() {
        assert!(NOISE.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn codes_win_over_text() {
        let mut drugs = Vec::new();
        let r = MedIndex::build(&program()).resolve(
            Some("1292"),
            None,
            "Muscle relaxer",
            &mut TextScratch::default(),
            &mut drugs,
            &mut Vec::new(),
        );
        assert_eq!((drugs, r.by), (vec![0], ResolvedBy::Rxnorm));
    }
}
