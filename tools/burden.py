#!/usr/bin/env python3
"""Alert burden of a population: findings per patient, and duplicate cards.

Reads the JSON that `rxguard check --format json` writes and prints, in Markdown:

- the distribution of findings per patient (records[].report.findings; rejected records are
  counted apart);
- the number of patients with a *duplicate*: two findings of one harm that are both about one
  pair of the patient's medication entries;
- which rule pairs made those duplicates, so a pack author sees what to merge or supersede.

What counts as a harm, and which rules are about drug combinations, is the table HARM below: a
reading of each rule's clinical source, kept here because the rule language has no field for
it. Only combination rules make pairs (a drug-disease or single-drug rule that lists two entries
of one drug is not about a drug pair). A combination rule's pairs are every two distinct entries
among the medications its finding names; a rule missing from the table counts as a harm of its
own, and is listed as "unmapped" so the table can be kept true as packs grow.

Usage:
    cargo run -q -- check --as-of 2026-11-01 --format json patients.ndjson > report.json
    python3 tools/burden.py report.json [more.json ...]
    python3 tools/burden.py --show-duplicates 5 report.json   # also list five patients

Standard library only. Its own tests: python3 tools/test_burden.py
"""

import argparse
import collections
import itertools
import json
import sys

SEDATION = "CNS and respiratory depression"
FALLS = "falls and fracture (65 and older)"
ANTICHOLINERGIC = "anticholinergic burden (65 and older)"
SEIZURE = "seizure threshold"
SEROTONIN = "serotonin syndrome"
HYPOTENSION = "hypotension"
NALOXONE = "naloxone not on the list"
DUPLICATE = "duplicate therapy within one class (65 and older)"

# Combination rules (about two or more drugs taken together) and the harm each is about.
HARM = {
    # Sedation and respiratory depression: the opioid boxed warning, FDA 2019 gabapentinoids,
    # the baclofen labels, Beers Table 5 (opioid + benzodiazepine or gabapentinoid).
    "opioid_cns_depressant_burden": SEDATION,
    "cns_depressant_burden": SEDATION,
    "opioid_with_benzodiazepine": SEDATION,
    "opioid_with_benzodiazepine_elderly": SEDATION,
    "opioid_with_gabapentinoid": SEDATION,
    "opioid_with_gabapentinoid_elderly": SEDATION,
    "opioid_with_other_cns_depressant": SEDATION,
    "gabapentinoid_with_cns_depressant": SEDATION,
    "baclofen_with_cns_depressant": SEDATION,
    "moud_with_cns_depressant": SEDATION,
    "cns_depressants_in_comfort_care": SEDATION,
    "oxybate_with_sedative_hypnotic": SEDATION,
    "oxybate_with_cns_depressant": SEDATION,
    "opioid_with_another_opioid": SEDATION,
    # Beers Table 5: three or more CNS-active drugs, a falls criterion.
    "cns_active_three_or_more": FALLS,
    "anticholinergic_combination_elderly": ANTICHOLINERGIC,
    # CDC 2022 Rec 8: an advice of its own (offer naloxone), not a second sedation card.
    "opioid_without_naloxone": NALOXONE,
    "bupropion_with_seizure_cofactor": SEIZURE,
    "tramadol_and_bupropion_with_seizure_cofactor": SEIZURE,
    "tramadol_with_seizure_cofactor": SEIZURE,
    "baclofen_with_antihypertensive": HYPOTENSION,
    "baclofen_with_lithium": "baclofen with lithium",
    "tramadol_with_serotonergic_drug": SEROTONIN,
    "serotonergic_opioid_with_maoi": SEROTONIN,
    "serotonergic_opioid_after_maoi": SEROTONIN,
    "bupropion_with_maoi": "hypertensive reaction (bupropion with an MAO inhibitor)",
    "opioid_with_opioid_antagonist": "opioid blocked, withdrawal",
    "tizanidine_with_strong_cyp1a2_inhibitor": "tizanidine levels raised (CYP1A2)",
    "tizanidine_with_cyp1a2_inhibitor": "tizanidine levels raised (CYP1A2)",
    "valproate_with_carbapenem": "valproate levels lowered (carbapenem)",
    "maoi_after_serotonergic_antidepressant": SEROTONIN,
    "oxybate_with_valproate": "oxybate exposure raised (valproate)",
    "opioid_after_naltrexone_injection": "opioid blocked, withdrawal",
    "tizanidine_with_antihypertensive": HYPOTENSION,
    "tizanidine_and_baclofen_with_antihypertensive": HYPOTENSION,
    "bupropion_with_abrupt_sedative_stop": SEIZURE,
    "phenytoin_with_trimethoprim_sulfamethoxazole_elderly": "phenytoin toxicity",
    "phenytoin_with_trimethoprim_sulfamethoxazole": "phenytoin toxicity",
    # STOPP v3 A3: two agents of one class on a schedule (the harm is the duplication itself).
    "benzodiazepine_duplicate_elderly": DUPLICATE,
    "antipsychotic_duplicate_elderly": DUPLICATE,
    "gabapentinoid_duplicate_elderly": DUPLICATE,
}

# Rules about one drug (or a drug and a condition): no pairs, whatever they list.
SINGLE = {
    "benzodiazepine_elderly", "z_drug_elderly", "muscle_relaxant_elderly",
    "first_gen_antihistamine_elderly", "barbiturate_elderly", "meprobamate_elderly",
    "meperidine_elderly", "anticholinergic_antidepressant_elderly",
    "falls_history_cns_active_elderly", "dementia_sedative_or_anticholinergic_elderly",
    "delirium_risk_drug_elderly", "baclofen_renal_elderly", "gabapentinoid_renal_elderly",
    "levetiracetam_renal_elderly", "tramadol_renal_elderly", "baclofen_oral_above_max_dose",
    "baclofen_oral_titration_too_fast", "baclofen_oral_dose_too_small_for_oral",
    "baclofen_intrathecal_dose_too_large_for_intrathecal", "baclofen_oral_abrupt_stop",
    "baclofen_intrathecal_abrupt_stop", "baclofen_dialysis", "baclofen_psychosis_or_confusion",
    "baclofen_in_pregnancy", "bupropion_in_epilepsy", "tramadol_in_seizure_disorder",
    "clozapine_in_seizure_disorder", "baclofen_in_epilepsy",
    "seizure_threshold_lowering_new_in_epilepsy", "benzodiazepine_abrupt_stop",
    "gabapentinoid_with_respiratory_impairment",
    "opioid_in_pregnancy", "opioid_with_alcohol_misuse", "oxybate_with_alcohol_misuse",
    "bupropion_in_eating_disorder", "antiepileptic_abrupt_stop_in_epilepsy",
    "baclofen_oral_start_above_label", "baclofen_intrathecal_above_maintenance",
    "baclofen_intrathecal_with_intrathecal_morphine", "baclofen_non_intrathecal_injection",
    "baclofen_intrathecal_zero_rate", "bupropion_above_max_dose", "baclofen_renal_impairment",
    "gabapentin_above_renal_max", "pregabalin_above_renal_max", "levetiracetam_above_dialysis_max",
    "sedative_with_alcohol_misuse", "antipsychotic_elderly", "parkinson_dopamine_blocker_elderly",
    "levetiracetam_above_renal_max", "tramadol_above_max_dose",
}


def entry_key(med):
    """One medication entry of the patient: its id, else its text."""
    return med.get("id") or med.get("text") or ""


def duplicates(findings, unmapped):
    """The (harm, rule, rule) triples where two findings of one harm share an entry pair."""
    seen = collections.defaultdict(list)  # (harm, pair) -> rules
    for f in findings:
        rule = f["rule"]
        if rule in SINGLE:
            continue
        if rule not in HARM:
            unmapped[rule] += 1
        harm = HARM.get(rule, rule)
        entries = sorted({entry_key(m) for m in f.get("medications", [])})
        for pair in itertools.combinations(entries, 2):
            seen[(harm, pair)].append(rule)
    found = set()
    for (harm, _), rules in seen.items():
        for a, b in itertools.combinations(sorted(set(rules)), 2):
            found.add((harm, a, b))
    return found


def measure(path):
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    per_patient = collections.Counter()
    overlap = collections.Counter()
    unmapped = collections.Counter()
    rejected = 0
    dup_patients = []
    for rec in doc.get("records", []):
        report = rec.get("report")
        if report is None:
            rejected += 1
            continue
        findings = report.get("findings", [])
        per_patient[len(findings)] += 1
        dups = duplicates(findings, unmapped)
        if dups:
            dup_patients.append((report.get("patient"), sorted(dups)))
            for d in dups:
                overlap[d] += 1
    return per_patient, rejected, dup_patients, overlap, unmapped


def print_report(path, per_patient, rejected, dup_patients, overlap, unmapped, show):
    patients = sum(per_patient.values())
    findings = sum(k * v for k, v in per_patient.items())
    print(f"## {path}\n")
    print(f"patients {patients}, findings {findings}, rejected records {rejected}\n")
    print("| findings per patient | patients |")
    print("|---|---|")
    for k in sorted(per_patient):
        print(f"| {k} | {per_patient[k]} |")
    four_plus = sum(v for k, v in per_patient.items() if k >= 4)
    top = max(per_patient) if per_patient else 0
    print(f"\n4 or more findings: {four_plus} patients; most findings for one patient: {top}")
    print(f"patients with two findings about one drug pair and one harm: {len(dup_patients)}\n")
    if overlap:
        print("| harm | rule | rule | patients |")
        print("|---|---|---|---|")
        for (harm, a, b), n in overlap.most_common():
            print(f"| {harm} | {a} | {b} | {n} |")
        print()
    for patient, dups in dup_patients[:show]:
        print(f"- {patient}: " + "; ".join(f"{a} + {b} ({h})" for h, a, b in dups))
    if unmapped:
        print("unmapped combination rules (counted as a harm of their own): "
              + ", ".join(sorted(unmapped)) + "\n")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reports", nargs="+", help="JSON written by rxguard check --format json")
    ap.add_argument("--show-duplicates", type=int, default=0, metavar="N",
                    help="list the first N patients with a duplicate")
    args = ap.parse_args(argv)
    for path in args.reports:
        print_report(path, *measure(path), args.show_duplicates)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
