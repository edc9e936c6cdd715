//! A seeded generator of realistic synthetic patients, for benchmarks, property tests and demos.
//!
//! Every record is one compact JSON line in the format of `docs/patients.md`. A record depends only
//! on the seed and its index, so the same `(seed, index)` gives the same bytes on every platform and
//! in any order (patients can be generated in parallel). Only integer arithmetic is used: numbers are
//! either integers, fixed-point values printed with a fixed number of decimals, or constant strings.
//!
//! The population is built around [`AS_OF`] (2026-11-01): adults of 18 to 95 skewed older, a few
//! common and a few rare conditions, eGFR, creatinine clearance and creatinine results within the
//! last two years, and about twelve medications each, drawn from a weighted list of real
//! prescription texts (with baclofen, opioids, benzodiazepines, Z-drugs, gabapentinoids,
//! antipsychotics and antidepressants among many common drugs), plus a few unrecognizable texts and
//! doses in odd units.
//!
//! ```
//! let mut g = rxguard::synth::Generator::new(42);
//! let line = g.patient(0);
//! assert!(line.starts_with("{\"id\":\"gen-42-0\""));
//! assert_eq!(rxguard::synth::ndjson(1000, 42).count(), 1000);
//! ```

use std::fmt::Write as _;

pub mod fhir;

/// The date the generated records are built around: ages are completed years on this day, lab
/// results and medication dates fall within the two years before it.
pub const AS_OF: &str = "2026-11-01";

/// [`AS_OF`] as days since 1970-01-01.
const AS_OF_DAYS: i64 = days_from_civil(2026, 11, 1);

// ---------------------------------------------------------------------------------------------
// Pseudo-random numbers: SplitMix64 to seed xoshiro256**, integers only.
// ---------------------------------------------------------------------------------------------

/// SplitMix64 finaliser: a bijective 64-bit mix.
const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** seeded through SplitMix64; one per patient.
struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The generator for patient `index` of the population `seed`.
    fn for_patient(seed: u64, index: u64) -> Self {
        let mut x = mix64(seed) ^ mix64(index ^ 0x632B_E59B_D9B4_E019);
        let mut s = [0u64; 4];
        for slot in &mut s {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            *slot = mix64(x);
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        Rng { s }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// A uniformly chosen element of a non-empty slice.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// Dates (proleptic Gregorian, days since 1970-01-01; H. Hinnant's algorithms).
// ---------------------------------------------------------------------------------------------

const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Appends `"YYYY-MM-DD"` (with the quotes).
fn push_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    let _ = write!(out, "\"{y:04}-{m:02}-{d:02}\"");
}

// ---------------------------------------------------------------------------------------------
// Clinical tables.
// ---------------------------------------------------------------------------------------------

/// Routes, with the ways they are written in source systems.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Oral,
    Intrathecal,
    Sublingual,
    Transdermal,
    Subcutaneous,
    Inhaled,
    Nasal,
}

impl Route {
    fn spellings(self) -> &'static [&'static str] {
        match self {
            Route::Oral => &["oral", "oral", "oral", "po", "po"],
            Route::Intrathecal => &["intrathecal", "intrathecal", "it"],
            Route::Sublingual => &["sublingual", "sublingual", "sl"],
            Route::Transdermal => &["transdermal"],
            Route::Subcutaneous => &["subcutaneous", "sc", "subq"],
            Route::Inhaled => &["inhaled"],
            Route::Nasal => &["nasal"],
        }
    }
}

const QD: &[&str] = &["qd", "daily", "daily", "once daily"];
const BID: &[&str] = &["bid", "bid", "q12h"];
const TID: &[&str] = &["tid", "tid", "q8h"];
const QID: &[&str] = &["qid"];
const QHS: &[&str] = &["qhs"];
const QAM: &[&str] = &["qam", "qd", "daily"];
const QPM: &[&str] = &["qpm", "qd"];
const Q4: &[&str] = &["q4h", "q6h"];
const Q6: &[&str] = &["q6h", "q6h", "q4h", "q8h"];
const Q8: &[&str] = &["q8h", "tid"];
const Q12: &[&str] = &["q12h", "bid"];
const CONT: &[&str] = &["continuous"];
const WEEKLY: &[&str] = &["weekly"];

/// One prescription as it appears in source systems.
struct Med {
    /// The text as written.
    text: &'static str,
    /// Relative frequency in the population.
    weight: u32,
    /// Dose values (JSON numbers as written), one chosen per entry.
    doses: &'static [&'static str],
    /// Dose unit.
    unit: &'static str,
    /// Frequencies, one chosen per entry.
    freqs: &'static [&'static str],
    route: Route,
    /// Chance (per mille) that the entry is PRN.
    prn: u64,
    /// RxNorm code given on some entries, or "".
    rxnorm: &'static str,
}

/// Shorthand for the table below.
#[allow(clippy::too_many_arguments)]
const fn m(
    text: &'static str,
    weight: u32,
    doses: &'static [&'static str],
    unit: &'static str,
    freqs: &'static [&'static str],
    route: Route,
    prn: u64,
    rxnorm: &'static str,
) -> Med {
    Med {
        text,
        weight,
        doses,
        unit,
        freqs,
        route,
        prn,
        rxnorm,
    }
}

use Route::{Inhaled, Intrathecal, Nasal, Oral, Subcutaneous, Sublingual, Transdermal};

/// The weighted prescription list (weights sum to about 7 700).
#[rustfmt::skip]
const MEDS: &[Med] = &[
    // Baclofen: oral, brand, solution, intrathecal.
    m("Baclofen 5 mg tablet", 10, &["5"], "mg", TID, Oral, 0, ""),
    m("Baclofen 10 mg tablet", 22, &["10", "10", "5"], "mg", TID, Oral, 20, ""),
    m("Baclofen 20 mg tablet", 10, &["20", "20", "10"], "mg", &["tid", "qid"], Oral, 0, ""),
    m("LIORESAL 10MG TAB", 4, &["10", "20"], "mg", TID, Oral, 0, ""),
    m("Ozobax 5 mg/5 mL oral solution", 3, &["5", "10"], "mg", TID, Oral, 0, ""),
    m("Gablofen 2000 mcg/mL intrathecal", 3, &["150", "250", "400", "600", "800"], "mcg/day", CONT, Intrathecal, 0, ""),
    m("Lioresal Intrathecal 500 mcg/mL", 2, &["100", "200", "300"], "mcg/day", CONT, Intrathecal, 0, ""),
    // Other muscle relaxants.
    m("Tizanidine 4 mg tablet", 40, &["2", "4"], "mg", Q8, Oral, 150, ""),
    m("Cyclobenzaprine 10 mg tablet", 60, &["5", "10"], "mg", TID, Oral, 300, ""),
    m("Methocarbamol 750 mg tablet", 20, &["750"], "mg", QID, Oral, 200, ""),
    // Opioids.
    m("Oxycodone 5 mg tablet", 90, &["5", "5", "10"], "mg", Q6, Oral, 450, "1049621"),
    m("Oxycodone 10 mg tablet", 25, &["10"], "mg", Q6, Oral, 300, ""),
    m("oxycodone/acetaminophen 5-325", 70, &["5"], "mg", Q6, Oral, 500, ""),
    m("Hydrocodone/acetaminophen 5-325 mg tablet", 70, &["5"], "mg", Q6, Oral, 500, ""),
    m("Tramadol 50 mg tablet", 110, &["50", "50", "100"], "mg", Q6, Oral, 400, "835603"),
    m("Morphine sulfate ER 15 mg", 30, &["15", "30"], "mg", Q12, Oral, 0, "892582"),
    m("Morphine 15 mg IR tablet", 15, &["15"], "mg", Q4, Oral, 600, ""),
    m("Hydromorphone 2 mg tablet", 20, &["2", "4"], "mg", Q4, Oral, 500, ""),
    m("Methadone 10 mg tablet", 10, &["5", "10"], "mg", TID, Oral, 0, ""),
    m("Methadone 10 mg/mL oral concentrate", 6, &["60", "80", "100"], "mg", QD, Oral, 0, ""),
    m("buprenorphine/naloxone 8-2 mg film", 15, &["8", "16"], "mg", &["qd", "bid"], Sublingual, 0, ""),
    m("Fentanyl 25 mcg/hr transdermal patch", 12, &["600", "1200"], "mcg/day", CONT, Transdermal, 0, ""),
    m("Acetaminophen/codeine 300-30 mg tablet", 20, &["30"], "mg", Q6, Oral, 500, ""),
    m("Tapentadol 50 mg tablet", 5, &["50"], "mg", Q6, Oral, 300, ""),
    // Benzodiazepines.
    m("Lorazepam 1 mg tablet", 40, &["1", "0.5"], "mg", &["bid", "tid", "qhs"], Oral, 400, "197901"),
    m("Lorazepam 0.5 mg tablet", 30, &["0.5"], "mg", &["bid", "qhs"], Oral, 400, ""),
    m("Alprazolam 0.5 mg tablet", 40, &["0.5", "0.25"], "mg", &["bid", "tid"], Oral, 350, "308048"),
    m("Clonazepam 0.5 mg tablet", 40, &["0.5", "1"], "mg", &["bid", "qhs"], Oral, 100, ""),
    m("Diazepam 5 mg tablet", 25, &["2", "5"], "mg", &["bid", "tid"], Oral, 200, ""),
    m("Temazepam 15 mg capsule", 15, &["15", "30"], "mg", QHS, Oral, 150, ""),
    // Z-drugs and other hypnotics.
    m("Zolpidem 10 mg tablet", 35, &["10", "5"], "mg", QHS, Oral, 250, "854873"),
    m("Zolpidem 5 mg tablet", 20, &["5"], "mg", QHS, Oral, 200, ""),
    m("Eszopiclone 2 mg tablet", 10, &["1", "2"], "mg", QHS, Oral, 100, ""),
    m("Trazodone 50 mg tablet", 120, &["25", "50", "100"], "mg", QHS, Oral, 150, ""),
    // Gabapentinoids.
    m("Gabapentin 300 mg capsule", 160, &["300", "300", "600"], "mg", TID, Oral, 0, "310431"),
    m("Gabapentin 600 mg tablet", 40, &["600"], "mg", TID, Oral, 0, ""),
    m("Neurontin 100 mg capsule", 15, &["100", "200"], "mg", TID, Oral, 0, ""),
    m("Pregabalin 75 mg capsule", 50, &["75", "150"], "mg", BID, Oral, 0, ""),
    // Antipsychotics.
    m("Quetiapine 25 mg tablet", 70, &["25", "50"], "mg", &["qhs", "bid"], Oral, 100, ""),
    m("Olanzapine 10 mg tablet", 25, &["5", "10"], "mg", QHS, Oral, 0, ""),
    m("Risperidone 2 mg tablet", 25, &["1", "2"], "mg", BID, Oral, 0, ""),
    m("Haloperidol 5 mg tablet", 10, &["2", "5"], "mg", BID, Oral, 200, ""),
    m("Aripiprazole 10 mg tablet", 25, &["5", "10"], "mg", QD, Oral, 0, ""),
    m("Clozapine 100 mg tablet", 6, &["100", "200"], "mg", BID, Oral, 0, ""),
    // Antidepressants.
    m("Amitriptyline 25 mg tablet", 50, &["10", "25"], "mg", QHS, Oral, 0, ""),
    m("Nortriptyline 25 mg capsule", 20, &["25"], "mg", QHS, Oral, 0, ""),
    m("Sertraline 50 mg tablet", 160, &["50", "100"], "mg", QD, Oral, 0, ""),
    m("Escitalopram 10 mg tablet", 120, &["10", "20"], "mg", QD, Oral, 0, ""),
    m("Fluoxetine 20 mg capsule", 80, &["20", "40"], "mg", QAM, Oral, 0, ""),
    m("Citalopram 20 mg tablet", 70, &["20"], "mg", QD, Oral, 0, ""),
    m("Paroxetine 20 mg tablet", 30, &["20"], "mg", QD, Oral, 0, ""),
    m("Duloxetine 60 mg capsule", 70, &["30", "60"], "mg", QD, Oral, 0, ""),
    m("Venlafaxine ER 75 mg capsule", 40, &["75", "150"], "mg", QD, Oral, 0, ""),
    m("Mirtazapine 15 mg tablet", 40, &["15", "30"], "mg", QHS, Oral, 0, ""),
    m("Bupropion XL 150 mg tablet", 60, &["150", "300"], "mg", QAM, Oral, 0, ""),
    m("Wellbutrin SR 150 mg tablet", 10, &["150"], "mg", BID, Oral, 0, ""),
    // Antihistamines and anticholinergics.
    m("Diphenhydramine 25 mg capsule", 60, &["25", "50"], "mg", QHS, Oral, 600, ""),
    m("Hydroxyzine 25 mg tablet", 50, &["25"], "mg", Q8, Oral, 600, ""),
    m("Cetirizine 10 mg tablet", 80, &["10"], "mg", QD, Oral, 200, ""),
    m("Meclizine 25 mg tablet", 25, &["25"], "mg", Q8, Oral, 600, ""),
    m("Oxybutynin 5 mg tablet", 30, &["5"], "mg", BID, Oral, 0, ""),
    // Antiepileptics.
    m("Levetiracetam 500 mg tablet", 35, &["500", "750", "1000"], "mg", BID, Oral, 0, ""),
    m("Keppra 750 mg tablet", 8, &["750"], "mg", BID, Oral, 0, ""),
    m("Lamotrigine 100 mg tablet", 25, &["100", "200"], "mg", BID, Oral, 0, ""),
    // Cardiovascular, metabolic and other common non-risk drugs.
    m("Metformin 500 mg tablet", 260, &["500", "1000"], "mg", BID, Oral, 0, ""),
    m("METFORMIN HCL 1000 MG TAB", 60, &["1000"], "mg", BID, Oral, 0, ""),
    m("Lisinopril 10 mg tablet", 260, &["10", "20", "40"], "mg", QD, Oral, 0, ""),
    m("Losartan 50 mg tablet", 150, &["25", "50", "100"], "mg", QD, Oral, 0, ""),
    m("Amlodipine 5 mg tablet", 260, &["5", "10"], "mg", QD, Oral, 0, ""),
    m("Hydrochlorothiazide 25 mg tablet", 120, &["12.5", "25"], "mg", QAM, Oral, 0, ""),
    m("Metoprolol succinate ER 25 mg tablet", 180, &["25", "50", "100"], "mg", QD, Oral, 0, ""),
    m("Carvedilol 6.25 mg tablet", 80, &["3.125", "6.25", "12.5"], "mg", BID, Oral, 0, ""),
    m("Furosemide 40 mg tablet", 140, &["20", "40", "80"], "mg", &["qd", "bid", "qam"], Oral, 0, ""),
    m("Spironolactone 25 mg tablet", 50, &["25"], "mg", QD, Oral, 0, ""),
    m("Atorvastatin 40 mg tablet", 320, &["10", "20", "40", "80"], "mg", &["qd", "qhs"], Oral, 0, ""),
    m("Rosuvastatin 10 mg tablet", 100, &["5", "10", "20"], "mg", QD, Oral, 0, ""),
    m("Simvastatin 20 mg tablet", 60, &["20", "40"], "mg", QPM, Oral, 0, ""),
    m("Aspirin 81 mg tablet", 280, &["81"], "mg", QD, Oral, 0, ""),
    m("Clopidogrel 75 mg tablet", 70, &["75"], "mg", QD, Oral, 0, ""),
    m("Warfarin 5 mg tablet", 50, &["2.5", "5", "7.5"], "mg", QPM, Oral, 0, ""),
    m("Apixaban 5 mg tablet", 100, &["2.5", "5"], "mg", BID, Oral, 0, ""),
    m("Levothyroxine 50 mcg tablet", 220, &["25", "50", "75", "100", "125"], "mcg", QAM, Oral, 0, ""),
    m("Omeprazole 20 mg capsule", 220, &["20", "40"], "mg", QAM, Oral, 0, ""),
    m("Pantoprazole 40 mg tablet", 160, &["40"], "mg", QAM, Oral, 0, ""),
    m("Famotidine 20 mg tablet", 60, &["20"], "mg", BID, Oral, 100, ""),
    m("Acetaminophen 500 mg tablet", 250, &["500", "1000"], "mg", Q6, Oral, 700, ""),
    m("TYLENOL 325 MG TAB", 40, &["650"], "mg", Q6, Oral, 800, ""),
    m("Ibuprofen 400 mg tablet", 60, &["400", "600"], "mg", Q8, Oral, 600, ""),
    m("Vitamin D3 25 mcg (1000 unit) tablet", 200, &["25", "50"], "mcg", QD, Oral, 0, ""),
    m("Cyanocobalamin 1000 mcg tablet", 80, &["1000"], "mcg", QD, Oral, 0, ""),
    m("Folic acid 1 mg tablet", 50, &["1"], "mg", QD, Oral, 0, ""),
    m("Ferrous sulfate 325 mg tablet", 60, &["325"], "mg", QD, Oral, 0, ""),
    m("Calcium carbonate 500 mg tablet", 60, &["500"], "mg", BID, Oral, 0, ""),
    m("Magnesium oxide 400 mg tablet", 40, &["400"], "mg", QD, Oral, 0, ""),
    m("Tamsulosin 0.4 mg capsule", 90, &["0.4"], "mg", QHS, Oral, 0, ""),
    m("Finasteride 5 mg tablet", 40, &["5"], "mg", QD, Oral, 0, ""),
    m("Donepezil 10 mg tablet", 40, &["5", "10"], "mg", QHS, Oral, 0, ""),
    m("Memantine 10 mg tablet", 25, &["5", "10"], "mg", BID, Oral, 0, ""),
    m("Allopurinol 100 mg tablet", 50, &["100", "300"], "mg", QD, Oral, 0, ""),
    m("Prednisone 10 mg tablet", 40, &["5", "10", "20"], "mg", QAM, Oral, 0, ""),
    m("Montelukast 10 mg tablet", 50, &["10"], "mg", QPM, Oral, 0, ""),
    m("Albuterol HFA 90 mcg/actuation inhaler", 90, &["180"], "mcg", Q4, Inhaled, 900, ""),
    m("Fluticasone 50 mcg/spray nasal spray", 60, &["100"], "mcg", QD, Nasal, 100, ""),
    m("Ondansetron 4 mg tablet", 60, &["4", "8"], "mg", Q8, Oral, 800, ""),
    m("Senna 8.6 mg tablet", 90, &["8.6", "17.2"], "mg", QHS, Oral, 300, ""),
    m("Docusate sodium 100 mg capsule", 80, &["100"], "mg", BID, Oral, 200, ""),
    m("Polyethylene glycol 3350 17 g powder", 70, &["17"], "g", QD, Oral, 400, ""),
    m("Enoxaparin 40 mg/0.4 mL syringe", 25, &["40"], "mg", QD, Subcutaneous, 0, ""),
    m("Insulin glargine 100 unit/mL pen", 40, &["10", "20", "30"], "units", QHS, Subcutaneous, 0, ""),
    m("Nitroglycerin 0.4 mg sublingual tablet", 20, &["0.4"], "mg", &["q4h"], Sublingual, 950, ""),
    m("Sitagliptin 100 mg tablet", 40, &["50", "100"], "mg", QD, Oral, 0, ""),
    m("Glipizide 5 mg tablet", 50, &["5", "10"], "mg", QAM, Oral, 0, ""),
    m("Alendronate 70 mg tablet", 40, &["70"], "mg", WEEKLY, Oral, 0, ""),
    // Unrecognizable texts: invented brand-like names (~1% of entries).
    m("Zentrivex 20 mg tablet", 25, &["20"], "mg", QD, Oral, 0, ""),
    m("Calmorin XR 100 mg capsule", 20, &["100"], "mg", QHS, Oral, 0, ""),
    m("Duravelt 5 mg tablet", 20, &["5"], "mg", BID, Oral, 0, ""),
    m("Quelbrin 2 mg", 15, &["2"], "mg", QD, Oral, 0, ""),
    m("Sorvanta Plus tab", 15, &["1"], "tablet", BID, Oral, 0, ""),
];

/// A condition as coded in source systems, with its prevalence and the drugs it often brings.
struct Cond {
    /// ICD-10-CM codes written for it (dialysis writes two).
    codes: &'static [&'static str],
    text: &'static str,
    /// Prevalence per 10 000 patients (doubled at 75 or older, halved under 50 when `older`).
    per_10k: u64,
    older: bool,
    /// Texts (from [`MEDS`]) of drugs usually prescribed for it; one is added to 60% of patients.
    meds: &'static [&'static str],
}

/// Conditions, rare and clinically important ones first (the list is cut at four entries).
#[rustfmt::skip]
const CONDS: &[Cond] = &[
    Cond { codes: &["N18.6", "Z99.2"], text: "End stage renal disease on dialysis", per_10k: 100, older: false, meds: &["Furosemide 40 mg tablet"] },
    Cond { codes: &["G40.909"], text: "Epilepsy", per_10k: 400, older: false, meds: &["Levetiracetam 500 mg tablet", "Keppra 750 mg tablet", "Lamotrigine 100 mg tablet"] },
    Cond { codes: &["F11.20"], text: "Opioid use disorder", per_10k: 200, older: false, meds: &["buprenorphine/naloxone 8-2 mg film", "Methadone 10 mg/mL oral concentrate"] },
    Cond { codes: &["Z51.5"], text: "Palliative care", per_10k: 40, older: true, meds: &["Morphine 15 mg IR tablet", "Morphine sulfate ER 15 mg", "Lorazepam 0.5 mg tablet"] },
    Cond { codes: &["F20.9"], text: "Schizophrenia", per_10k: 80, older: false, meds: &["Clozapine 100 mg tablet", "Olanzapine 10 mg tablet", "Risperidone 2 mg tablet"] },
    Cond { codes: &["G35"], text: "Multiple sclerosis", per_10k: 60, older: false, meds: &["Baclofen 10 mg tablet", "Baclofen 20 mg tablet", "Gablofen 2000 mcg/mL intrathecal"] },
    Cond { codes: &["G80.9"], text: "Cerebral palsy", per_10k: 20, older: false, meds: &["Baclofen 10 mg tablet", "Gablofen 2000 mcg/mL intrathecal"] },
    Cond { codes: &["G82.20"], text: "Paraplegia", per_10k: 20, older: false, meds: &["Baclofen 20 mg tablet", "Gablofen 2000 mcg/mL intrathecal"] },
    Cond { codes: &["Z91.81"], text: "History of falling", per_10k: 700, older: true, meds: &[] },
    Cond { codes: &["F03.90"], text: "Dementia", per_10k: 250, older: true, meds: &["Donepezil 10 mg tablet", "Memantine 10 mg tablet", "Quetiapine 25 mg tablet"] },
    Cond { codes: &["N18.4"], text: "Chronic kidney disease, stage 4", per_10k: 150, older: true, meds: &["Furosemide 40 mg tablet"] },
    Cond { codes: &["N18.30"], text: "Chronic kidney disease, stage 3", per_10k: 450, older: true, meds: &["Losartan 50 mg tablet"] },
    Cond { codes: &["F32.9"], text: "Depression", per_10k: 900, older: false, meds: &["Sertraline 50 mg tablet", "Escitalopram 10 mg tablet", "Bupropion XL 150 mg tablet", "Mirtazapine 15 mg tablet"] },
    Cond { codes: &["F41.1"], text: "Generalized anxiety disorder", per_10k: 500, older: false, meds: &["Sertraline 50 mg tablet", "Lorazepam 1 mg tablet", "Alprazolam 0.5 mg tablet", "Clonazepam 0.5 mg tablet"] },
    Cond { codes: &["G47.00"], text: "Insomnia", per_10k: 400, older: true, meds: &["Zolpidem 10 mg tablet", "Trazodone 50 mg tablet", "Temazepam 15 mg capsule"] },
    Cond { codes: &["G89.29"], text: "Chronic pain", per_10k: 500, older: false, meds: &["Oxycodone 5 mg tablet", "Tramadol 50 mg tablet", "Gabapentin 300 mg capsule", "Pregabalin 75 mg capsule"] },
    Cond { codes: &["M54.50"], text: "Low back pain", per_10k: 600, older: false, meds: &["Cyclobenzaprine 10 mg tablet", "Baclofen 10 mg tablet", "Tramadol 50 mg tablet", "Ibuprofen 400 mg tablet"] },
    Cond { codes: &["J44.9"], text: "COPD", per_10k: 500, older: true, meds: &["Albuterol HFA 90 mcg/actuation inhaler"] },
    Cond { codes: &["I48.91"], text: "Atrial fibrillation", per_10k: 400, older: true, meds: &["Apixaban 5 mg tablet", "Warfarin 5 mg tablet", "Metoprolol succinate ER 25 mg tablet"] },
    Cond { codes: &["E03.9"], text: "Hypothyroidism", per_10k: 600, older: false, meds: &["Levothyroxine 50 mcg tablet"] },
    Cond { codes: &["E11.9"], text: "Type 2 diabetes mellitus", per_10k: 1500, older: true, meds: &["Metformin 500 mg tablet", "METFORMIN HCL 1000 MG TAB", "Glipizide 5 mg tablet", "Insulin glargine 100 unit/mL pen"] },
    Cond { codes: &["I10"], text: "Essential hypertension", per_10k: 3500, older: true, meds: &["Lisinopril 10 mg tablet", "Amlodipine 5 mg tablet", "Losartan 50 mg tablet", "Hydrochlorothiazide 25 mg tablet"] },
    Cond { codes: &["E78.5"], text: "Hyperlipidemia", per_10k: 2500, older: true, meds: &["Atorvastatin 40 mg tablet", "Rosuvastatin 10 mg tablet", "Simvastatin 20 mg tablet"] },
    Cond { codes: &["K21.9"], text: "GERD", per_10k: 1000, older: false, meds: &["Omeprazole 20 mg capsule", "Pantoprazole 40 mg tablet", "Famotidine 20 mg tablet"] },
];

/// Texts of drugs not drawn for women (well, only on a redraw).
const MALE_ONLY: [&str; 2] = ["Tamsulosin", "Finasteride"];

/// Most conditions per patient.
const MAX_CONDITIONS: usize = 4;
/// Most medication entries per patient.
const MAX_MEDS: usize = 25;

/// Kidney function implied by the patient's conditions, which shapes the eGFR.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kidney {
    Normal,
    Stage3,
    Stage4,
    Dialysis,
}

// ---------------------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------------------

/// A deterministic source of synthetic patient records.
///
/// The record for `(seed, index)` is the same on every platform and does not depend on which
/// other records were generated before it.
pub struct Generator {
    seed: u64,
    /// Cumulative weights of [`MEDS`], for weighted choice by binary search.
    cumulative: Vec<u32>,
}

/// What has been decided about one patient and shapes the later sections.
struct Profile {
    age: i64,
    female: bool,
    kidney: Kidney,
    /// Indices into [`MEDS`] of drugs brought by the patient's conditions.
    linked: [usize; MAX_CONDITIONS + 1],
    linked_len: usize,
}

impl Generator {
    /// A generator for the population identified by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut total = 0u32;
        let cumulative = MEDS
            .iter()
            .map(|m| {
                total += m.weight;
                total
            })
            .collect();
        Generator { seed, cumulative }
    }

    /// Patient number `index` of this population: one compact JSON line (no newline) in the format
    /// of `docs/patients.md`, with `"id":"gen-<seed>-<index>"`.
    pub fn patient(&mut self, index: u64) -> String {
        let mut rng = Rng::for_patient(self.seed, index);
        let mut out = String::with_capacity(2048);
        let _ = write!(out, "{{\"id\":\"gen-{}-{}\"", self.seed, index);
        let (age, female) = demographics(&mut rng, &mut out);
        let mut profile = Profile {
            age,
            female,
            kidney: Kidney::Normal,
            linked: [0; MAX_CONDITIONS + 1],
            linked_len: 0,
        };
        if !rng.chance(30) {
            out.push_str(",\"conditions\":[");
            conditions(&mut rng, &mut out, &mut profile);
            out.push(']');
        }
        if !rng.chance(30) {
            out.push_str(",\"labs\":[");
            labs(&mut rng, &mut out, &profile);
            out.push(']');
        }
        if !rng.chance(30) {
            out.push_str(",\"medications\":[");
            self.medications(&mut rng, &mut out, &profile);
            out.push(']');
        }
        out.push('}');
        out
    }

    /// A medication drawn by weight.
    fn draw_med(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1);
        let x = rng.below(u64::from(total)) as u32;
        self.cumulative.partition_point(|&c| c <= x)
    }

    /// The medications list: drugs linked to conditions first, then weighted draws.
    fn medications(&self, rng: &mut Rng, out: &mut String, p: &Profile) {
        let n = medication_count(rng).max(p.linked_len.min(MAX_MEDS));
        let mut used: u128 = 0;
        let mut written = 0;
        let mut i = 0;
        while written < n {
            let idx = if i < p.linked_len {
                p.linked[i]
            } else {
                // Redraw once on a repeat (duplicates stay possible) or a drug for men only.
                let first = self.draw_med(rng);
                let repeat = used & (1 << first) != 0;
                if repeat
                    || (p.female && MALE_ONLY.iter().any(|&t| MEDS[first].text.starts_with(t)))
                {
                    self.draw_med(rng)
                } else {
                    first
                }
            };
            i += 1;
            used |= 1 << idx;
            written += medication(rng, out, &MEDS[idx], written, n);
        }
    }
}

/// `n` patients of the population `seed`, as NDJSON lines (without newlines), indices `0..n`.
pub fn ndjson(n: u64, seed: u64) -> impl Iterator<Item = String> {
    let mut generator = Generator::new(seed);
    (0..n).map(move |i| generator.patient(i))
}

/// The same patients as FHIR R4 Bundles ([`fhir::bundle`]).
pub fn bundles(n: u64, seed: u64) -> impl Iterator<Item = serde_json::Value> {
    ndjson(n, seed).map(|line| {
        // INVARIANT: the generator writes valid JSON (tested below).
        let record = serde_json::from_str(&line).unwrap_or(serde_json::Value::Null);
        fhir::bundle(&record)
    })
}

// ---------------------------------------------------------------------------------------------
// Sections.
// ---------------------------------------------------------------------------------------------

/// An age from 18 to 95, skewed older (mean about 65).
fn draw_age(rng: &mut Rng) -> i64 {
    if rng.chance(300) {
        rng.range(18, 95)
    } else {
        rng.range(18, 95).max(rng.range(18, 95))
    }
}

/// Writes birth date (or age), sex and weight; returns the age in completed years and whether the
/// patient is female.
fn demographics(rng: &mut Rng, out: &mut String) -> (i64, bool) {
    let age = draw_age(rng);
    // A birth date giving exactly `age` completed years on AS_OF.
    let latest = days_from_civil(2026 - age, 11, 1);
    let earliest = days_from_civil(2025 - age, 11, 2);
    let birth = rng.range(earliest, latest);
    let (year, month, _) = civil_from_days(birth);
    match rng.below(1000) {
        0..=29 => {
            let _ = write!(out, ",\"birth_date\":\"{year:04}\"");
        }
        30..=59 => {
            let _ = write!(out, ",\"age\":{age}");
        }
        60..=69 => {
            let _ = write!(out, ",\"birth_date\":\"{year:04}-{month:02}\"");
        }
        _ => {
            out.push_str(",\"birth_date\":");
            push_date(out, birth);
        }
    }
    let female = rng.chance(540);
    let sex = match rng.below(1000) {
        0..=4 => "other",
        5..=9 => "unknown",
        _ if female => "female",
        _ => "male",
    };
    let _ = write!(out, ",\"sex\":\"{sex}\"");
    if !rng.chance(80) {
        // Tenths of a kilogram: a rough bell from three uniforms (mean about 71 kg for women and
        // 83 kg for men), a heavier tail in one patient in eight, clamped to 45-130 kg.
        let base = if female { 480 } else { 600 };
        let bell = rng.range(0, 150) + rng.range(0, 150) + rng.range(0, 150);
        let tail = if rng.chance(125) {
            rng.range(0, 300)
        } else {
            0
        };
        let tenths = (base + bell + tail).clamp(450, 1300);
        let _ = write!(out, ",\"weight_kg\":{}.{}", tenths / 10, tenths % 10);
    }
    (age, sex == "female")
}

/// A condition status: mostly active, some resolved or inactive, a few others.
fn condition_status(rng: &mut Rng) -> &'static str {
    match rng.below(1000) {
        0..=69 => "resolved",
        70..=99 => "inactive",
        100..=119 => "remission",
        120..=129 => "recurrence",
        130..=139 => "refuted",
        140..=149 => "entered-in-error",
        _ => "active",
    }
}

/// Writes up to four conditions and records kidney function and linked drugs in `p`.
fn conditions(rng: &mut Rng, out: &mut String, p: &mut Profile) {
    let mut written = 0;
    for cond in CONDS {
        let mut per_10k = cond.per_10k;
        if cond.older && p.age >= 75 {
            per_10k *= 2;
        } else if cond.older && p.age < 50 {
            per_10k /= 2;
        }
        if rng.below(10_000) >= per_10k || written + cond.codes.len() > MAX_CONDITIONS {
            continue;
        }
        let status = condition_status(rng);
        let with_text = rng.chance(250);
        let omit_status = status == "active" && rng.chance(50);
        for code in cond.codes {
            if written > 0 {
                out.push(',');
            }
            written += 1;
            let _ = write!(out, "{{\"code\":\"{code}\",\"system\":\"icd10\"");
            if !omit_status {
                let _ = write!(out, ",\"status\":\"{status}\"");
            }
            if with_text {
                let _ = write!(out, ",\"text\":\"{}\"", cond.text);
            }
            out.push('}');
        }
        let current = matches!(status, "active" | "recurrence" | "relapse");
        if current {
            p.kidney = p.kidney.max(match cond.codes[0] {
                "N18.6" => Kidney::Dialysis,
                "N18.4" => Kidney::Stage4,
                "N18.30" => Kidney::Stage3,
                _ => Kidney::Normal,
            });
        }
        if current && !cond.meds.is_empty() && rng.chance(600) && p.linked_len < p.linked.len() {
            let text = rng.pick(cond.meds);
            if let Some(idx) = MEDS.iter().position(|m| m.text == text) {
                p.linked[p.linked_len] = idx;
                p.linked_len += 1;
            }
        }
    }
}

/// A date within the two years before [`AS_OF`].
fn recent_date(rng: &mut Rng) -> i64 {
    AS_OF_DAYS - rng.range(0, 730)
}

/// A plausible eGFR (mL/min/1.73m2) for the patient's age and kidney function, 8 to 120.
fn draw_egfr(rng: &mut Rng, p: &Profile) -> i64 {
    let value = match p.kidney {
        Kidney::Dialysis => rng.range(5, 14),
        Kidney::Stage4 => rng.range(15, 29),
        Kidney::Stage3 => rng.range(30, 59),
        Kidney::Normal => 118 - (p.age - 18) * 4 / 5 + rng.range(-25, 25),
    };
    value.clamp(8, 120)
}

/// Writes the labs list: eGFR results (most patients), creatinine clearance and creatinine (some).
fn labs(rng: &mut Rng, out: &mut String, p: &Profile) {
    if rng.chance(80) {
        return; // provided but empty
    }
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !first {
            out.push(',');
        }
        first = false;
    };
    if rng.chance(850) {
        let mut egfr = draw_egfr(rng, p);
        for _ in 0..rng.range(1, 3) {
            sep(out);
            out.push_str("{\"loinc\":\"62238-1\",\"value\":");
            if egfr > 90 && rng.chance(60) {
                out.push_str("\">90\"");
            } else if egfr > 60 && rng.chance(110) {
                out.push_str("\">60\"");
            } else {
                let _ = write!(out, "{egfr}");
            }
            out.push_str(",\"unit\":\"mL/min/1.73m2\",\"date\":");
            push_date(out, recent_date(rng));
            out.push('}');
            egfr = (egfr + rng.range(-8, 8)).clamp(8, 120);
        }
    }
    if rng.chance(200) {
        sep(out);
        let crcl = (draw_egfr(rng, p) * 9 / 10 + rng.range(-10, 10)).clamp(5, 150);
        if crcl > 60 && rng.chance(150) {
            out.push_str("{\"loinc\":\"2164-2\",\"value\":\">60\"");
        } else {
            let _ = write!(out, "{{\"loinc\":\"2164-2\",\"value\":{crcl}");
        }
        out.push_str(",\"unit\":\"mL/min\",\"date\":");
        push_date(out, recent_date(rng));
        out.push('}');
    }
    if rng.chance(400) {
        sep(out);
        // Hundredths of mg/dL, roughly inverse to kidney function.
        let hundredths = match p.kidney {
            Kidney::Dialysis => rng.range(500, 1100),
            Kidney::Stage4 => rng.range(250, 450),
            Kidney::Stage3 => rng.range(130, 240),
            Kidney::Normal => rng.range(55, 130),
        };
        let _ = write!(
            out,
            "{{\"loinc\":\"2160-0\",\"value\":{}.{:02}",
            hundredths / 100,
            hundredths % 100
        );
        out.push_str(",\"unit\":\"mg/dL\",\"date\":");
        push_date(out, recent_date(rng));
        out.push('}');
    }
}

/// Average number of medication entries, about 140 bytes each: the main driver of line length
/// (12 gives lines of about 2.1 KB on average; 8 would give about 1.5 KB).
const MEAN_MEDICATIONS: i64 = 12;

/// How many medication entries a patient has: 0 to 25, about [`MEAN_MEDICATIONS`] on average.
fn medication_count(rng: &mut Rng) -> usize {
    if rng.chance(20) {
        return 0;
    }
    (rng.range(0, MEAN_MEDICATIONS) + rng.range(0, MEAN_MEDICATIONS + 1)).min(MAX_MEDS as i64)
        as usize
}

/// Medication status, and the start and end dates that go with it (days; `None` when omitted).
struct Timing {
    status: &'static str,
    start: Option<i64>,
    end: Option<i64>,
}

fn draw_timing(rng: &mut Rng) -> Timing {
    let roll = rng.below(1000);
    let (status, start, end) = match roll {
        0..=779 => {
            let start = if rng.chance(20) {
                AS_OF_DAYS + rng.range(1, 30)
            } else {
                AS_OF_DAYS - rng.range(1, 2000)
            };
            let end = match rng.below(100) {
                0..=2 => Some(AS_OF_DAYS + rng.range(1, 90)),
                3 => Some(AS_OF_DAYS - rng.range(1, 60)).filter(|&e| e >= start),
                _ => None,
            };
            ("active", Some(start), end)
        }
        780..=909 => {
            // A stop; a quarter of them recent (within 30 days).
            let end = if rng.chance(250) {
                AS_OF_DAYS - rng.range(0, 30)
            } else {
                AS_OF_DAYS - rng.range(31, 900)
            };
            let status = if roll < 850 { "stopped" } else { "completed" };
            (status, Some(end - rng.range(5, 400)), Some(end))
        }
        910..=929 => ("on-hold", Some(AS_OF_DAYS - rng.range(10, 1000)), None),
        930..=969 => (
            "draft",
            if rng.chance(400) {
                Some(AS_OF_DAYS + rng.range(0, 3))
            } else {
                None
            },
            None,
        ),
        970..=979 => ("cancelled", Some(AS_OF_DAYS - rng.range(1, 400)), None),
        980..=989 => (
            "entered-in-error",
            Some(AS_OF_DAYS - rng.range(1, 400)),
            None,
        ),
        _ => ("not-taken", None, None),
    };
    // Source systems often leave the start date out (about 45% of entries here).
    let start = start.filter(|_| status == "draft" || !rng.chance(450));
    Timing { status, start, end }
}

/// Writes the medication entry `m` (and sometimes a mirror of it: a statement echoing the
/// request, or a draft renewal); returns how many entries were written (1 or 2, never past `n`).
fn medication(rng: &mut Rng, out: &mut String, m: &Med, written: usize, n: usize) -> usize {
    let timing = draw_timing(rng);
    let dose = rng.pick(m.doses);
    let odd_unit = (m.text.contains("tab") || m.text.contains("TAB")) && rng.chance(25);
    let no_dose = rng.chance(15);
    let prn = rng.chance(m.prn);
    let freq = match rng.pick(m.freqs) {
        f @ ("qhs" | "continuous" | "weekly") => f,
        _ if prn => rng.pick(&["q4h", "q6h", "q6h", "q8h"][..]),
        f => f,
    };
    let route = if rng.chance(850) {
        Some(rng.pick(m.route.spellings()))
    } else {
        None
    };
    let rxnorm = !m.rxnorm.is_empty() && rng.chance(200);
    // Sometimes the same therapy twice: a statement mirroring the request, or a draft renewal.
    let mirror = match rng.below(1000) {
        _ if timing.status != "active" || written + 1 >= n => None,
        0..=19 => Some(Mirror::Statement),
        20..=39 => Some(Mirror::Renewal),
        _ => None,
    };
    let entry = Entry {
        m,
        timing,
        dose,
        odd_unit,
        no_dose,
        prn,
        freq,
        route,
        rxnorm,
    };
    if written > 0 {
        out.push(',');
    }
    match mirror {
        None => {
            entry.write(out, written + 1, None, "");
            1
        }
        Some(Mirror::Statement) => {
            entry.write(out, written + 1, None, "request");
            out.push(',');
            entry.write(out, written + 2, None, "statement");
            2
        }
        Some(Mirror::Renewal) => {
            entry.write(out, written + 1, None, "");
            out.push(',');
            entry.write(out, written + 2, Some("draft"), "");
            2
        }
    }
}

/// A second entry for the same therapy.
enum Mirror {
    /// The same entry again, as a medication statement (`"source":"statement"`).
    Statement,
    /// A draft order renewing the active entry.
    Renewal,
}

/// One medication entry, decided, ready to render.
struct Entry<'a> {
    m: &'a Med,
    timing: Timing,
    dose: &'static str,
    odd_unit: bool,
    no_dose: bool,
    prn: bool,
    freq: &'static str,
    route: Option<&'static str>,
    rxnorm: bool,
}

impl Entry<'_> {
    /// Writes the entry as `m<id>`; `status` overrides the drawn status (a mirror), `source` is
    /// written when not empty.
    fn write(&self, out: &mut String, id: usize, status: Option<&str>, source: &str) {
        let _ = write!(out, "{{\"id\":\"m{id}\",\"text\":\"{}\"", self.m.text);
        if self.rxnorm {
            let _ = write!(out, ",\"rxnorm\":\"{}\"", self.m.rxnorm);
        }
        if self.odd_unit {
            out.push_str(",\"dose\":{\"value\":1,\"unit\":\"tablet\"}");
        } else if !self.no_dose {
            let _ = write!(
                out,
                ",\"dose\":{{\"value\":{},\"unit\":\"{}\"}}",
                self.dose, self.m.unit
            );
        }
        let _ = write!(out, ",\"frequency\":\"{}\"", self.freq);
        if self.prn {
            out.push_str(",\"prn\":true");
        }
        if let Some(route) = self.route {
            let _ = write!(out, ",\"route\":\"{route}\"");
        }
        let renewal = status == Some("draft");
        let _ = write!(
            out,
            ",\"status\":\"{}\"",
            status.unwrap_or(self.timing.status)
        );
        if renewal {
            // A renewal being ordered now: no dates of its own.
        } else {
            if let Some(start) = self.timing.start {
                out.push_str(",\"start\":");
                push_date(out, start);
            }
            if let Some(end) = self.timing.end {
                out.push_str(",\"end\":");
                push_date(out, end);
            }
        }
        if !source.is_empty() {
            let _ = write!(out, ",\"source\":\"{source}\"");
        }
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> serde_json::Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    #[test]
    fn same_seed_same_output() {
        let a: Vec<String> = ndjson(200, 7).collect();
        let b: Vec<String> = ndjson(200, 7).collect();
        assert_eq!(a, b);
        // Independent of order and of the other records generated.
        let mut g = Generator::new(7);
        assert_eq!(g.patient(150), a[150]);
        assert_eq!(g.patient(3), a[3]);
    }

    #[test]
    fn known_output_is_stable() {
        // Pins the exact bytes so that a platform or refactoring difference is noticed.
        let line = Generator::new(1).patient(0);
        let digest = line.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        assert!(line.starts_with("{\"id\":\"gen-1-0\""), "{line}");
        assert_eq!(digest, FNV_GEN_1_0, "generator output changed: {line}");
    }

    /// FNV-1a of `Generator::new(1).patient(0)`; update deliberately when the tables change.
    const FNV_GEN_1_0: u64 = 5_799_664_323_113_780_733;

    #[test]
    fn different_seeds_differ() {
        let a: Vec<String> = ndjson(50, 1).collect();
        let b: Vec<String> = ndjson(50, 2).collect();
        let same = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| x[x.find(',').unwrap()..] == y[y.find(',').unwrap()..])
            .count();
        assert!(same < 3, "{same} of 50 records identical across seeds");
    }

    #[test]
    fn every_line_is_json_with_an_id() {
        for (i, line) in ndjson(2000, 42).enumerate() {
            assert!(!line.contains('\n'));
            let v = parse(&line);
            assert_eq!(v["id"], format!("gen-42-{i}"));
        }
    }

    #[test]
    fn only_documented_fields() {
        const TOP: &[&str] = &[
            "id",
            "birth_date",
            "age",
            "sex",
            "weight_kg",
            "conditions",
            "labs",
            "medications",
        ];
        const COND: &[&str] = &["code", "system", "status", "text"];
        const LAB: &[&str] = &["loinc", "value", "unit", "date"];
        const MED: &[&str] = &[
            "id",
            "text",
            "rxnorm",
            "atc",
            "dose",
            "frequency",
            "prn",
            "route",
            "status",
            "start",
            "end",
            "source",
        ];
        let keys_in = |v: &serde_json::Value, allowed: &[&str]| {
            for k in v.as_object().unwrap().keys() {
                assert!(allowed.contains(&k.as_str()), "unexpected field {k} in {v}");
            }
        };
        for line in ndjson(1000, 3) {
            let v = parse(&line);
            keys_in(&v, TOP);
            for c in v["conditions"].as_array().into_iter().flatten() {
                keys_in(c, COND);
            }
            for l in v["labs"].as_array().into_iter().flatten() {
                keys_in(l, LAB);
            }
            for m in v["medications"].as_array().into_iter().flatten() {
                keys_in(m, MED);
                if let Some(dose) = m.get("dose") {
                    keys_in(dose, &["value", "unit"][..]);
                }
            }
        }
    }

    #[test]
    fn average_line_length_in_range() {
        let n = 2000;
        let total: usize = ndjson(n, 11).map(|l| l.len()).sum();
        let avg = total / n as usize;
        // About 300 bytes of demographics, conditions and labs plus ~12 entries of ~140 bytes.
        assert!((1700..=2500).contains(&avg), "average line length {avg}");
    }

    #[test]
    fn population_is_realistic() {
        let n = 5000u64;
        let (mut meds, mut max_meds, mut ages, mut aged, mut no_labs) =
            (0usize, 0usize, 0i64, 0i64, 0);
        let (mut epilepsy, mut baclofen) = (0, 0);
        for line in ndjson(n, 5) {
            let v = parse(&line);
            if let Some(list) = v["medications"].as_array() {
                meds += list.len();
                max_meds = max_meds.max(list.len());
                if list.iter().any(|m| {
                    m["text"]
                        .as_str()
                        .unwrap()
                        .to_lowercase()
                        .contains("baclofen")
                }) {
                    baclofen += 1;
                }
            }
            if let Some(age) = v["age"].as_i64() {
                assert!((18..=95).contains(&age));
                ages += age;
                aged += 1;
            }
            if v.get("labs").is_none() {
                no_labs += 1;
            }
            if line.contains("G40.909") {
                epilepsy += 1;
            }
        }
        let avg = meds as f64 / n as f64;
        assert!((10.5..=13.5).contains(&avg), "average medications {avg}");
        assert!(max_meds <= MAX_MEDS);
        assert!(aged > 0 && ages / aged > 50, "ages skew older");
        assert!(
            (80..=250).contains(&no_labs),
            "labs absent in {no_labs} of {n}"
        );
        assert!(
            (120..=320).contains(&epilepsy),
            "epilepsy in {epilepsy} of {n}"
        );
        assert!(baclofen > 100, "baclofen in {baclofen} of {n}");
    }

    #[test]
    fn ids_and_dates_are_well_formed() {
        for line in ndjson(500, 9) {
            let v = parse(&line);
            for (i, m) in v["medications"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                assert_eq!(m["id"], format!("m{}", i + 1));
                if let (Some(s), Some(e)) = (m["start"].as_str(), m["end"].as_str()) {
                    assert!(s <= e, "start {s} after end {e}");
                }
            }
            for l in v["labs"].as_array().into_iter().flatten() {
                let d = l["date"].as_str().unwrap();
                assert!(("2024-11-01"..=AS_OF).contains(&d), "{d}");
            }
        }
    }

    #[test]
    fn tables_are_consistent() {
        for m in MEDS {
            assert!(!m.text.contains(['"', '\\']), "{}", m.text);
            assert!(!m.doses.is_empty() && !m.freqs.is_empty());
            for d in m.doses {
                assert!(serde_json::from_str::<f64>(d).is_ok(), "{d}");
            }
        }
        assert!(MEDS.len() < 128, "the used-set is a u128");
        for c in CONDS {
            for t in c.meds {
                assert!(
                    MEDS.iter().any(|m| m.text == *t),
                    "linked drug {t} is not in MEDS"
                );
            }
        }
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(civil_from_days(AS_OF_DAYS), (2026, 11, 1));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        for z in [-800_000, -1, 0, 59, 60, 11_016, 20_000, 60_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}
