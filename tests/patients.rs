//! The bundled packs over the fixture patients in `tests/data/patients/`, one snapshot each.
//! Each snapshot is a clinical claim: read it before accepting it. Beside the snapshots, each
//! fixture's findings and data gaps are asserted from its scenario (`CLAIMS`).

use rxguard::Engine;
use rxguard::date::Date;
use rxguard::eval::Scratch;

fn as_of() -> Date {
    Date::parse("2026-11-01").unwrap()
}

#[test]
fn fixture_patients_against_the_bundled_packs() {
    let engine = Engine::bundled().unwrap();
    let mut scratch = Scratch::default();
    insta::glob!("data/patients/*.json", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let mut report = engine
            .check_json(&mut scratch, &text, as_of())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // The pack hash changes with every edit of a pack, tests included; the snapshots hold
        // the clinical claims, and the hash has its own tests.
        for f in &mut report.findings {
            assert_eq!(f.pack.hash.len(), 16);
            f.pack.hash = "[hash]".into();
        }
        insta::assert_yaml_snapshot!(report);
    });
}

/// What one fixture patient must get, written from its scenario apart from its snapshot, so
/// accepting a changed snapshot cannot bless a regression: `findings` is every finding shown,
/// as `"rule severity"`, and nothing else; `gaps` names rules that must be reported as data gaps
/// (`"unrecognized TEXT"` an entry that must be reported unrecognized), and when it is empty the
/// report has neither.
struct Claim {
    fixture: &'static str,
    findings: &'static [&'static str],
    gaps: &'static [&'static str],
    why: &'static str,
}

const fn claim(
    fixture: &'static str,
    findings: &'static [&'static str],
    gaps: &'static [&'static str],
    why: &'static str,
) -> Claim {
    Claim {
        fixture,
        findings,
        gaps,
        why,
    }
}

const CLAIMS: &[Claim] = &[
    // Patients a clinical pharmacist wrote to review the packs, each one problem, one card.
    claim(
        "review_itb_with_it_morphine_generic",
        &["baclofen_intrathecal_with_intrathecal_morphine major"],
        &[],
        "intrathecal baclofen with intrathecal morphine: one card (the general baclofen \
         CNS-depressant card is superseded), major",
    ),
    claim(
        "review_itb_with_infumorph",
        &["baclofen_intrathecal_with_intrathecal_morphine major"],
        &[],
        "Infumorph is intrathecal morphine: the same one card",
    ),
    claim(
        "review_itb_pump_on_hold_at_zero",
        &["baclofen_intrathecal_abrupt_stop contraindicated"],
        &[],
        "a pump on hold at 0 mcg/day for 5 days is one interruption: the abrupt-stop card alone",
    ),
    claim(
        "review_lorazepam_one_day_step_then_stop",
        &["benzodiazepine_abrupt_stop major"],
        &[],
        "12 weeks at 3 mg a day, one day at 0.5 mg, then stopped: abrupt, not a taper",
    ),
    claim(
        "review_tramadol_sertraline_after_phenelzine",
        &["serotonergic_opioid_after_maoi contraindicated"],
        &[],
        "tramadol and sertraline ordered 10 days after phenelzine stopped: one contraindication",
    ),
    claim(
        "review_zyban_draft_beside_bupropion_xl",
        &[],
        &["bupropion_above_max_dose"],
        "a Zyban SR draft beside active bupropion XL 300 mg may be added to it (600 mg a day) or \
         replace it: never read as a renewal in silence",
    ),
    claim(
        "review_pregabalin_sleep_apnoea",
        &["gabapentinoid_with_respiratory_impairment moderate"],
        &["pregabalin_above_renal_max"],
        "pregabalin with obstructive sleep apnoea; no clearance on file for its renal limit",
    ),
    claim(
        "age_64_three_cns",
        &[],
        &[],
        "Beers' three-CNS-active count starts at 65; at 64 sertraline, lamotrigine and quetiapine make no card",
    ),
    claim(
        "age_65_three_cns",
        &["cns_active_three_or_more major"],
        &[],
        "at 65 exactly, three CNS-active drugs (Beers 2023 Table 5: falls)",
    ),
    claim(
        "age_field_only_baclofen_oxycodone",
        &[
            "baclofen_renal_elderly major",
            "baclofen_with_cns_depressant major",
        ],
        &[],
        "age given as a number: 67 with eGFR 55 (Beers: baclofen eGFR < 60) and oxycodone beside baclofen",
    ),
    claim(
        "age_partial_birth_year_three_cns",
        &[],
        &["cns_active_three_or_more"],
        "born 1961: 64 or 65 on the day, so the three-CNS rule is a data gap, not a silence",
    ),
    claim(
        "baclofen_cancelled_order",
        &[],
        &[],
        "a cancelled order is never taken",
    ),
    claim(
        "baclofen_dialysis_50yo",
        &["baclofen_dialysis moderate"],
        &[],
        "dialysis under 65: the label's renal caution, moderate",
    ),
    claim(
        "baclofen_dialysis_68yo",
        &["baclofen_renal_elderly major"],
        &[],
        "dialysis at 68: the Beers card supersedes the dialysis card",
    ),
    claim(
        "baclofen_draft_increase_100mg",
        &["baclofen_oral_above_max_dose major"],
        &["baclofen_renal_impairment"],
        "a draft raising the daily dose to 100 mg: above the label's 80 mg",
    ),
    claim(
        "baclofen_draft_renewal_80mg",
        &[],
        &["baclofen_renal_impairment"],
        "a draft renewing the same 80 mg is one therapy, not 160 mg",
    ),
    claim(
        "baclofen_duplicate_statement_80mg",
        &[],
        &["baclofen_renal_impairment"],
        "the same 80 mg written twice is counted once",
    ),
    claim(
        "baclofen_gabapentin_tizanidine_72yo",
        &[
            "baclofen_renal_impairment moderate",
            "baclofen_with_cns_depressant major",
            "cns_active_three_or_more major",
        ],
        &[],
        "baclofen with two sedatives, and three CNS-active drugs at 72 (falls)",
    ),
    claim(
        "baclofen_intrathecal_abrupt_stop_14d",
        &["baclofen_intrathecal_abrupt_stop contraindicated"],
        &[],
        "a pump stopped 14 days ago: inside the window, boxed-warning withdrawal",
    ),
    claim(
        "baclofen_intrathecal_abrupt_stop_15d",
        &[],
        &[],
        "stopped 15 days ago: outside the 14-day window",
    ),
    claim(
        "baclofen_intrathecal_abrupt_stop_5d",
        &["baclofen_intrathecal_abrupt_stop contraindicated"],
        &[],
        "a pump stopped 5 days ago: boxed-warning withdrawal",
    ),
    claim(
        "baclofen_intrathecal_dose_in_mg",
        &["baclofen_intrathecal_dose_too_large_for_intrathecal major"],
        &[],
        "an intrathecal dose written in mg: a thousandfold error, which supersedes the above-maintenance card",
    ),
    claim(
        "baclofen_intrathecal_pump_active",
        &[],
        &[],
        "a running pump at a maintenance dose: nothing to say",
    ),
    claim(
        "baclofen_lisinopril_hypertension",
        &["baclofen_with_antihypertensive moderate"],
        &["baclofen_renal_impairment"],
        "baclofen with an ACE inhibitor: additive hypotension (labels)",
    ),
    claim(
        "baclofen_lithium",
        &["baclofen_with_lithium moderate"],
        &["baclofen_renal_impairment"],
        "baclofen with lithium: hyperkinetic symptoms (label)",
    ),
    claim(
        "baclofen_on_hold_with_oxycodone",
        &[
            "baclofen_with_cns_depressant major",
            "opioid_without_naloxone moderate",
        ],
        &["baclofen_oral_abrupt_stop"],
        "baclofen on hold still counts beside oxycodone; whether the hold is a stop is not known; oxycodone 40 mg a day is 60 MME, a reason to offer naloxone",
    ),
    claim(
        "baclofen_oral_80mg",
        &[],
        &["baclofen_renal_impairment"],
        "80 mg a day is the label's maximum: no card",
    ),
    claim(
        "baclofen_oral_85mg",
        &["baclofen_oral_above_max_dose major"],
        &["baclofen_renal_impairment"],
        "85 mg a day from two entries: above 80 mg",
    ),
    claim(
        "baclofen_oral_abrupt_stop_14d",
        &["baclofen_oral_abrupt_stop major"],
        &[],
        "oral baclofen stopped 14 days ago without a taper",
    ),
    claim(
        "baclofen_oral_abrupt_stop_15d",
        &[],
        &[],
        "stopped 15 days ago: outside the window",
    ),
    claim(
        "baclofen_oral_abrupt_stop_7d",
        &["baclofen_oral_abrupt_stop major"],
        &[],
        "oral baclofen stopped 7 days ago without a taper",
    ),
    claim(
        "baclofen_oral_dose_in_mcg",
        &["baclofen_oral_dose_too_small_for_oral major"],
        &["baclofen_renal_impairment"],
        "an oral dose written in mcg: under 1 mg a day, a unit error",
    ),
    claim(
        "baclofen_oral_stopped_20d_ago",
        &[],
        &[],
        "stopped 20 days ago: outside the window",
    ),
    claim(
        "baclofen_oral_taper_then_stop",
        &[],
        &[],
        "a lower dose before the stop is a taper",
    ),
    claim(
        "baclofen_oxycodone_70yo",
        &["baclofen_with_cns_depressant major"],
        &["baclofen_renal_impairment"],
        "baclofen with an opioid at 70: one sedation card",
    ),
    claim(
        "baclofen_product_switch_lioresal_to_generic",
        &[],
        &["baclofen_renal_impairment"],
        "a brand-to-generic switch is not a stop",
    ),
    claim(
        "baclofen_rxnorm_code_hydrocodone_apap",
        &["baclofen_with_cns_depressant major"],
        &["baclofen_renal_impairment"],
        "baclofen identified by its RxNorm code beside hydrocodone",
    ),
    claim(
        "baclofen_schizophrenia",
        &[
            "baclofen_with_cns_depressant major",
            "baclofen_psychosis_or_confusion moderate",
        ],
        &["baclofen_renal_impairment"],
        "baclofen with risperidone (sedation) and in schizophrenia (the label's psychosis caution)",
    ),
    claim(
        "baclofen_taper_from_an_old_course_is_not_a_taper",
        &["baclofen_oral_abrupt_stop major"],
        &[],
        "a lower dose from an earlier course is not a taper of this one",
    ),
    claim(
        "baclofen_titration_by_the_label_55yo",
        &[],
        &["baclofen_renal_impairment"],
        "5 mg a dose more after 3 days: as the label titrates",
    ),
    claim(
        "baclofen_titration_too_fast_55yo",
        &["baclofen_oral_titration_too_fast moderate"],
        &["baclofen_renal_impairment"],
        "escalation faster than the label's 3-day steps",
    ),
    claim(
        "baclofen_two_requests_20mg_qid_each",
        &["baclofen_oral_above_max_dose major"],
        &["baclofen_renal_impairment"],
        "two distinct orders of 80 mg a day each: 160 mg",
    ),
    claim(
        "benzodiazepine_abrupt_stop_alprazolam",
        &["benzodiazepine_abrupt_stop major"],
        &[],
        "long-term alprazolam stopped abruptly (FDA 2020 boxed warning)",
    ),
    claim(
        "benzodiazepine_short_course_stop",
        &[],
        &[],
        "a short PRN course stopped is not long-term use",
    ),
    claim(
        "benzodiazepine_switch_alprazolam_to_clonazepam",
        &[],
        &[],
        "a switch to another benzodiazepine is not a stop",
    ),
    claim(
        "benzodiazepine_taper_lorazepam",
        &["benzodiazepine_abrupt_stop major"],
        &[],
        "after nine months at 3 mg a day, 1 mg a day for 9 days before the stop is faster than the \
         tapering guideline's pace (at most 25% every 2 weeks): too fast, not a taper",
    ),
    claim(
        "birth_month_1961_10_three_cns",
        &["cns_active_three_or_more major"],
        &[],
        "born October 1961: 65 on any day of the month",
    ),
    claim(
        "birth_month_1961_11_three_cns",
        &[],
        &["cns_active_three_or_more"],
        "born November 1961: 64 or 65 on the day, a data gap",
    ),
    claim(
        "buprenorphine_pain_benzodiazepine_no_oud_50yo",
        &[
            "opioid_with_benzodiazepine major",
            "opioid_without_naloxone moderate",
        ],
        &[],
        "buprenorphine for pain, not MOUD: the boxed-warning combination, and naloxone advice",
    ),
    claim(
        "bupropion_quetiapine",
        &["bupropion_with_seizure_cofactor moderate"],
        &[],
        "bupropion with an antipsychotic: a seizure-threshold cofactor",
    ),
    claim(
        "cns_active_clonazepam_counts_once_70yo",
        &["benzodiazepine_elderly moderate"],
        &[],
        "clonazepam at 70 (Beers); two CNS-active drugs are not three",
    ),
    claim(
        "egfr_365d_baclofen_70yo",
        &["baclofen_renal_elderly major"],
        &[],
        "an eGFR 365 days old is inside the window",
    ),
    claim(
        "egfr_366d_baclofen_70yo",
        &[],
        &["baclofen_renal_elderly"],
        "an eGFR 366 days old is stale: a data gap",
    ),
    claim(
        "egfr_59_baclofen_64yo",
        &[],
        &["baclofen_renal_impairment"],
        "Beers starts at 65",
    ),
    claim(
        "egfr_59_baclofen_65yo",
        &["baclofen_renal_elderly major"],
        &[],
        "eGFR 59 at 65: Beers avoid",
    ),
    claim(
        "egfr_60_baclofen_65yo",
        &[],
        &["baclofen_renal_impairment"],
        "eGFR 60 is not under 60",
    ),
    claim(
        "egfr_above_60_range_baclofen_70yo",
        &[],
        &["baclofen_renal_impairment"],
        "eGFR reported as >60 is not under 60",
    ),
    claim(
        "egfr_below_15_range_baclofen_80yo",
        &["baclofen_renal_elderly major"],
        &[],
        "eGFR reported as <15 is under 60",
    ),
    claim(
        "egfr_newest_result_counts_baclofen_72yo",
        &[],
        &["baclofen_renal_impairment"],
        "the newest eGFR (normal) wins over an older low one",
    ),
    claim(
        "egfr_stale_baclofen_70yo",
        &[],
        &["baclofen_renal_elderly"],
        "only a stale eGFR: a data gap",
    ),
    claim(
        "elderly_cyclobenzaprine_68yo",
        &["muscle_relaxant_elderly moderate"],
        &[],
        "a muscle relaxant at 68 (Beers)",
    ),
    claim(
        "elderly_delirium_oxycodone_81yo",
        &[
            "delirium_risk_drug_elderly moderate",
            "falls_history_cns_active_elderly moderate",
        ],
        &[],
        "an opioid in delirium, and in a patient with a hip fracture (falls): two problems",
    ),
    claim(
        "elderly_dementia_quetiapine_84yo",
        &["dementia_sedative_or_anticholinergic_elderly moderate"],
        &[],
        "an antipsychotic in dementia (Beers)",
    ),
    claim(
        "elderly_diphenhydramine_oxybutynin_80yo",
        &[
            "anticholinergic_combination_elderly major",
            "first_gen_antihistamine_elderly moderate",
        ],
        &[],
        "two anticholinergics, and a first-generation antihistamine (Beers)",
    ),
    claim(
        "elderly_doxepin_25mg_oxybutynin_74yo",
        &[
            "anticholinergic_combination_elderly major",
            "anticholinergic_antidepressant_elderly moderate",
        ],
        &[],
        "doxepin 25 mg is anticholinergic (Beers), with oxybutynin",
    ),
    claim(
        "elderly_doxepin_3mg_oxybutynin_74yo",
        &[],
        &[],
        "doxepin 3 mg a day is inside Beers' exception (6 mg or less)",
    ),
    claim(
        "elderly_doxepin_6mg_oxybutynin_74yo",
        &[],
        &[],
        "doxepin 6 mg a day is inside Beers' exception (6 mg or less)",
    ),
    claim(
        "elderly_falls_history_sertraline_77yo",
        &["falls_history_cns_active_elderly moderate"],
        &[],
        "an SSRI with a falls history at 77 (Beers)",
    ),
    claim(
        "elderly_gabapentin_cockcroft_gault_woman_no_weight_80yo",
        &[],
        &["gabapentinoid_renal_elderly"],
        "no weight: Cockcroft-Gault cannot be computed, a data gap (never eGFR)",
    ),
    claim(
        "elderly_gabapentin_crcl_45_70yo",
        &["gabapentinoid_renal_elderly moderate"],
        &[],
        "CrCl 45 at 70 (Beers: gabapentinoids, CrCl < 60)",
    ),
    claim(
        "elderly_gabapentin_crcl_59_70yo",
        &["gabapentinoid_renal_elderly moderate"],
        &[],
        "CrCl 59: under 60",
    ),
    claim(
        "elderly_gabapentin_crcl_60_70yo",
        &[],
        &[],
        "CrCl 60: not under 60",
    ),
    claim(
        "elderly_gabapentin_creatinine_only_78yo",
        &["gabapentinoid_renal_elderly moderate"],
        &[],
        "CrCl computed by Cockcroft-Gault from creatinine and weight",
    ),
    claim(
        "elderly_levetiracetam_crcl_80_72yo",
        &["levetiracetam_renal_elderly moderate"],
        &["levetiracetam_above_renal_max"],
        "levetiracetam 3000 mg/day with CrCl 80 (Beers: <= 80); without a height the label's row is not known",
    ),
    claim(
        "elderly_levetiracetam_crcl_81_72yo",
        &[],
        &[],
        "CrCl 81: above 80",
    ),
    claim(
        "elderly_lorazepam_epilepsy_70yo",
        &["benzodiazepine_elderly minor"],
        &[],
        "a benzodiazepine in epilepsy: Beers' seizure exception makes it minor; levetiracetam 1500 mg/day with CrCl 85 mL/min is within the label's rows for any adult's body surface",
    ),
    claim(
        "elderly_oxycodone_lowered_gabapentin_added_72yo",
        &["opioid_with_gabapentinoid major"],
        &[],
        "gabapentin added while the opioid dose was lowered: Beers' exception, so the general FDA 2019 card, not the Beers one",
    ),
    claim(
        "elderly_phenytoin_tmp_smx_70yo",
        &["phenytoin_with_trimethoprim_sulfamethoxazole_elderly major"],
        &[],
        "phenytoin with trimethoprim-sulfamethoxazole at 70 (Beers: phenytoin toxicity)",
    ),
    claim(
        "elderly_tramadol_crcl_29_70yo",
        &["tramadol_renal_elderly moderate"],
        &[],
        "tramadol with CrCl 29 (Beers: < 30)",
    ),
    claim(
        "elderly_tramadol_crcl_30_70yo",
        &[],
        &[],
        "CrCl 30: not under 30",
    ),
    claim(
        "elderly_zolpidem_75yo",
        &["z_drug_elderly moderate"],
        &[],
        "a Z-drug at 75 (Beers)",
    ),
    claim(
        "epilepsy_baclofen",
        &["baclofen_in_epilepsy moderate"],
        &["baclofen_renal_impairment"],
        "baclofen in epilepsy: the label's seizure caution",
    ),
    claim(
        "epilepsy_bupropion",
        &["bupropion_in_epilepsy contraindicated"],
        &[],
        "bupropion in epilepsy: contraindicated",
    ),
    claim(
        "epilepsy_bupropion_draft_order",
        &["bupropion_in_epilepsy contraindicated"],
        &[],
        "a draft order of bupropion in epilepsy: contraindicated",
    ),
    claim(
        "epilepsy_bupropion_future_start",
        &[],
        &[],
        "bupropion starting after the day is not taken yet",
    ),
    claim(
        "epilepsy_clozapine",
        &["clozapine_in_seizure_disorder major"],
        &[],
        "clozapine in epilepsy: the label's seizure warning",
    ),
    claim(
        "epilepsy_conditions_absent_bupropion",
        &[],
        &["bupropion_in_epilepsy", "bupropion_in_eating_disorder"],
        "no condition list: the bupropion contraindications are data gaps",
    ),
    claim(
        "epilepsy_new_haloperidol_draft",
        &["seizure_threshold_lowering_new_in_epilepsy minor"],
        &[],
        "a new antipsychotic order in epilepsy: the threshold-lowering prompt",
    ),
    claim(
        "epilepsy_snomed_baclofen",
        &["baclofen_in_epilepsy moderate"],
        &["baclofen_renal_impairment"],
        "epilepsy coded in SNOMED CT",
    ),
    claim(
        "epilepsy_tramadol",
        &["tramadol_in_seizure_disorder major"],
        &[],
        "tramadol in epilepsy: the label's seizure warning",
    ),
    claim(
        "gabapentin_sertraline_40yo",
        &["gabapentinoid_with_cns_depressant moderate"],
        &["gabapentin_above_renal_max"],
        "gabapentin with an SSRI: FDA 2019 risk factor, moderate",
    ),
    claim(
        "labs_absent_baclofen_70yo",
        &[],
        &["baclofen_renal_elderly"],
        "no labs at 70: the renal rule is a data gap",
    ),
    claim(
        "medications_absent_70yo",
        &[],
        &[
            "moud_with_cns_depressant",
            "opioid_cns_depressant_burden",
            "opioid_with_benzodiazepine_elderly",
        ],
        "no medication list: every medication rule is a data gap",
    ),
    claim(
        "methadone_for_pain_diazepam_no_oud_60yo",
        &[
            "opioid_with_benzodiazepine major",
            "opioid_without_naloxone moderate",
        ],
        &[],
        "methadone for pain with diazepam: the boxed-warning combination",
    ),
    claim(
        "moud_buprenorphine_clonazepam",
        &[
            "moud_with_cns_depressant moderate",
            "opioid_without_naloxone moderate",
        ],
        &[],
        "buprenorphine for opioid use disorder with clonazepam: the FDA 2017 card replaces the combination card",
    ),
    claim(
        "moud_methadone_lorazepam_68yo_oud_remission",
        &[
            "benzodiazepine_elderly moderate",
            "moud_with_cns_depressant moderate",
            "opioid_without_naloxone moderate",
        ],
        &[],
        "methadone MOUD with lorazepam at 68",
    ),
    claim(
        "no_epilepsy_bupropion",
        &[],
        &[],
        "bupropion without a seizure disorder or eating disorder",
    ),
    claim(
        "opioid_benzodiazepine_45yo",
        &[
            "opioid_with_benzodiazepine major",
            "opioid_without_naloxone moderate",
        ],
        &[],
        "oxycodone with alprazolam: boxed warning, and naloxone advice",
    ),
    claim(
        "opioid_benzodiazepine_cancelled_oxycodone",
        &[],
        &[],
        "the opioid order was cancelled",
    ),
    claim(
        "opioid_benzodiazepine_completed_opioid",
        &[],
        &[],
        "the opioid course is completed",
    ),
    claim(
        "opioid_gabapentin_50yo",
        &["opioid_with_gabapentinoid major"],
        &["gabapentin_above_renal_max"],
        "an opioid with gabapentin (FDA 2019)",
    ),
    claim(
        "opioid_pregabalin_70yo",
        &["opioid_with_gabapentinoid_elderly major"],
        &[],
        "an opioid with pregabalin at 70: the Beers card supersedes the general one",
    ),
    claim(
        "opioid_zolpidem_55yo",
        &[
            "opioid_with_other_cns_depressant major",
            "opioid_without_naloxone moderate",
        ],
        &[],
        "an opioid with a Z-drug: boxed-warning class; the opioid at 50 MME a day or more, a reason to offer naloxone",
    ),
    claim(
        "oxycodone_alprazolam_naloxone_route_not_given_52yo",
        &["opioid_with_benzodiazepine major"],
        &["opioid_without_naloxone"],
        "naloxone without a route: whether it is a rescue kit is not known",
    ),
    claim(
        "oxycodone_alprazolam_with_narcan_52yo",
        &["opioid_with_benzodiazepine major"],
        &[],
        "nasal naloxone on the list: no naloxone card",
    ),
    claim(
        "seizure_history_resolved_tramadol",
        &["tramadol_in_seizure_disorder moderate"],
        &[],
        "tramadol after a past seizure without epilepsy: moderate",
    ),
    claim(
        "suboxone_lorazepam_no_rescue_naloxone_45yo",
        &[
            "moud_with_cns_depressant moderate",
            "opioid_without_naloxone moderate",
        ],
        &[],
        "Suboxone (MOUD) with lorazepam",
    ),
    claim(
        "three_cns_conditions_absent_75yo",
        &[
            "cns_active_three_or_more major",
            "opioid_with_other_cns_depressant major",
            "muscle_relaxant_elderly moderate",
        ],
        &[
            "cns_depressants_in_comfort_care",
            "opioid_without_naloxone",
            "opioid_with_alcohol_misuse",
            "falls_history_cns_active_elderly",
            "dementia_sedative_or_anticholinergic_elderly",
            "delirium_risk_drug_elderly",
        ],
        "no condition list: the condition rules are data gaps, the drug rules still fire",
    ),
    claim(
        "three_cns_end_of_life_80yo",
        &["cns_depressants_in_comfort_care minor"],
        &[],
        "palliative care: one comfort-care card",
    ),
    claim(
        "tramadol_sertraline",
        &["tramadol_with_serotonergic_drug major"],
        &[],
        "tramadol with an SSRI: one card, serotonin syndrome, whose advice names the added seizure risk",
    ),
    claim(
        "unrecognized_drug_zorblatin",
        &[],
        &["unrecognized Zorblatin 20 mg tablet"],
        "an unknown drug is reported, never silently ignored",
    ),
];

#[test]
fn every_fixture_patient_gets_what_its_scenario_claims() {
    let engine = Engine::bundled().unwrap();
    let mut scratch = Scratch::default();
    let mut failures = Vec::new();
    for c in CLAIMS {
        let path = format!("tests/data/patients/{}.json", c.fixture);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let report = engine.check_json(&mut scratch, &text, as_of()).unwrap();
        let mut shown: Vec<String> = report
            .findings
            .iter()
            .map(|f| format!("{} {}", f.rule, f.severity.name()))
            .collect();
        shown.sort();
        let mut claimed: Vec<String> = c.findings.iter().map(|s| s.to_string()).collect();
        claimed.sort();
        if shown != claimed {
            failures.push(format!(
                "{} ({}): findings {shown:?}, claimed {claimed:?}",
                c.fixture, c.why
            ));
        }
        let reported: Vec<String> = report
            .data_gaps
            .iter()
            .map(|g| g.rule.clone())
            .chain(
                report
                    .unrecognized
                    .iter()
                    .map(|u| format!("unrecognized {}", u.entry.text)),
            )
            .collect();
        let missing: Vec<&&str> = c
            .gaps
            .iter()
            .filter(|g| !reported.iter().any(|r| r == *g))
            .collect();
        if !missing.is_empty() || (c.gaps.is_empty() && !reported.is_empty()) {
            failures.push(format!(
                "{} ({}): reported {reported:?}, claimed {:?}",
                c.fixture, c.why, c.gaps
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_data_gap_gives_each_reason_once() {
    // A lab missing under three dose rows is one thing missing, said once.
    let engine = Engine::bundled().unwrap();
    let mut scratch = Scratch::default();
    for c in CLAIMS {
        let path = format!("tests/data/patients/{}.json", c.fixture);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let report = engine.check_json(&mut scratch, &text, as_of()).unwrap();
        for g in &report.data_gaps {
            for (i, r) in g.reasons.iter().enumerate() {
                assert!(
                    !g.reasons[..i].contains(r),
                    "{}: {} says {r:?} twice",
                    c.fixture,
                    g.rule
                );
            }
        }
    }
    let text = std::fs::read_to_string("tests/data/patients/medications_absent_70yo.json").unwrap();
    let report = engine.check_json(&mut scratch, &text, as_of()).unwrap();
    let gap = report
        .data_gaps
        .iter()
        .find(|g| g.rule == "gabapentin_above_renal_max")
        .expect("three dose rows, no medication list, no clearance: a gap");
    assert_eq!(gap.reasons.len(), 2, "{:?}", gap.reasons);
}

#[test]
fn the_after_maoi_card_lists_every_drug_it_names() {
    let engine = Engine::bundled().unwrap();
    let mut scratch = Scratch::default();
    let text = std::fs::read_to_string(
        "tests/data/patients/review_tramadol_sertraline_after_phenelzine.json",
    )
    .unwrap();
    let report = engine.check_json(&mut scratch, &text, as_of()).unwrap();
    let card = report
        .findings
        .iter()
        .find(|f| f.rule == "serotonergic_opioid_after_maoi")
        .expect("the contraindication");
    let ids: Vec<&str> = card.medications.iter().map(|m| m.id.as_str()).collect();
    // Phenelzine (stopped), sertraline and tramadol (both drafts): an order-sign integration
    // attaches the card to both draft orders.
    assert_eq!(ids, ["m1", "m2", "m3"], "{ids:?}");
}

#[test]
fn every_fixture_patient_has_one_claim() {
    let mut fixtures: Vec<String> = std::fs::read_dir("tests/data/patients")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    fixtures.sort();
    let mut claimed: Vec<String> = CLAIMS.iter().map(|c| c.fixture.to_string()).collect();
    claimed.sort();
    assert_eq!(fixtures, claimed);
}

#[test]
fn there_are_at_least_forty_named_scenarios() {
    let count = std::fs::read_dir("tests/data/patients")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert!(count >= 40, "{count}");
}

#[test]
fn every_rules_file_is_bundled() {
    let mut on_disk: Vec<String> = std::fs::read_dir("rules")
        .unwrap()
        .map(|e| format!("rules/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".rules"))
        .collect();
    on_disk.sort();
    let mut bundled: Vec<String> = rxguard::bundled::PACKS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    bundled.sort();
    assert_eq!(on_disk, bundled);
}
