#!/usr/bin/env python3
"""Converts OMOP CDM tables (CSV, optionally gzip-compressed) to rxguard patient records (NDJSON).

Python standard library only, so that CI runs it without installing anything.

    python3 tools/omop/omop_to_records.py tests/data/eunomia > eunomia.ndjson
    rxguard check --as-of 2019-07-01 eunomia.ndjson

Input: a folder with person, drug_exposure, condition_occurrence, measurement and concept tables
(`NAME.csv` or `NAME.csv.gz`, a header row, OMOP CDM 5.3/5.4 column names in any case), as
tools/omop/export_eunomia.py writes them.

One record per person, a snapshot on the day the person's last drug exposure started (the last
day on which the database shows a prescribing decision, so the one where a check would have run):

- `medications`: every drug exposure of the person, so that an unrecognized-entry count is a
  count over drug exposures. An exposure whose period (start to end, both inclusive; no end: the
  start day) covers the snapshot day is `active`, one that ended before it is `completed`.
  `text` is the drug concept's name (the source value when the concept is unknown, concept 0);
  `rxnorm` is its concept_code when its vocabulary is RxNorm. OMOP has no dose in a form the
  engine reads (quantity and days supply are dispensing figures, not a dose), so none is given:
  a dose rule then reports a data gap, as it should.
- `conditions`: every condition occurrence that started on or before the snapshot day, by its
  concept's code when the vocabulary is SNOMED (`snomed`) or ICD10CM (`icd10`); active when it has
  no end or ends on or after the snapshot day, else resolved. A condition of another vocabulary
  is left out and counted on standard error.
- `labs`: measurements by LOINC code with a numeric value, on or before the snapshot day; body
  weight (LOINC 29463-7, 3141-9) gives `weight_kg` from the latest one instead.
- `sex` from gender_concept_id (8532 female, 8507 male), `birth_date` from the birth year, month
  and day.

rxguard checks every record at one `--as-of` date, while each person's snapshot day is their own.
So every date of a person (birth, exposures, conditions, measurements) is shifted by the same
number of days, that the snapshot day falls on `--as-of` (default 2019-07-01, the last drug start
date in Eunomia): intervals and the age at the snapshot are kept exactly, as in the date shifting
used to de-identify OMOP extracts. `--no-shift` writes the dates as recorded instead.
"""

import argparse
import csv
import datetime as dt
import gzip
import io
import json
import sys
from collections import defaultdict
from pathlib import Path

WEIGHT_LOINC = {"29463-7", "3141-9"}
SEX = {"8532": "female", "8507": "male"}
CONDITION_SYSTEMS = {"SNOMED": "snomed", "ICD10CM": "icd10"}


def rows(folder: Path, table: str):
    """The rows of one table as dicts with lower-case column names."""
    for name in (f"{table}.csv.gz", f"{table}.csv"):
        path = folder / name
        if path.exists():
            raw = gzip.open(path, "rb") if name.endswith(".gz") else open(path, "rb")
            with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
                for row in csv.DictReader(text):
                    yield {k.lower(): v for k, v in row.items()}
            return
    raise SystemExit(f"{folder}: no {table}.csv or {table}.csv.gz")


def day(s: str) -> dt.date | None:
    s = (s or "").strip()[:10]
    return dt.date.fromisoformat(s) if s else None


def number(s: str) -> float | None:
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def by_person(folder: Path, table: str) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for r in rows(folder, table):
        grouped[r["person_id"]].append(r)
    return grouped


def birth_date(p: dict) -> dt.date | None:
    try:
        return dt.date(int(p["year_of_birth"]), int(p["month_of_birth"] or 1), int(p["day_of_birth"] or 1))
    except (KeyError, ValueError):
        return None


def exposure_end(d: dict) -> dt.date:
    return day(d.get("drug_exposure_end_date")) or day(d["drug_exposure_start_date"])


def medication(d: dict, concepts: dict, snapshot: dt.date, shift) -> dict:
    c = concepts.get(d["drug_concept_id"])
    start, end = day(d["drug_exposure_start_date"]), exposure_end(d)
    entry = {
        "id": f"drug_exposure/{d['drug_exposure_id']}",
        "text": c["concept_name"] if c else (d.get("drug_source_value") or ""),
    }
    if c and c["vocabulary_id"] == "RxNorm":
        entry["rxnorm"] = c["concept_code"]
    entry["status"] = "active" if start <= snapshot <= end else "completed"
    entry["start"] = shift(start)
    entry["end"] = shift(end)
    return entry


def condition(o: dict, concepts: dict, snapshot: dt.date) -> dict | None:
    c = concepts.get(o["condition_concept_id"])
    system = CONDITION_SYSTEMS.get(c["vocabulary_id"]) if c else None
    if system is None:
        return None
    end = day(o.get("condition_end_date"))
    status = "active" if end is None or end >= snapshot else "resolved"
    return {"code": c["concept_code"], "system": system, "status": status, "text": c["concept_name"]}


def labs_and_weight(measurements, concepts, units, snapshot, shift):
    labs, weight = [], None
    for m in sorted(measurements, key=lambda m: (m["measurement_date"], m["measurement_id"])):
        c = concepts.get(m["measurement_concept_id"])
        value, date = number(m.get("value_as_number")), day(m["measurement_date"])
        if not c or c["vocabulary_id"] != "LOINC" or value is None or date > snapshot:
            continue
        unit = m.get("unit_source_value") or units.get(m.get("unit_concept_id"), "")
        if c["concept_code"] in WEIGHT_LOINC:
            weight = value
            continue
        labs.append({"loinc": c["concept_code"], "value": value, "unit": unit, "date": shift(date)})
    return labs, weight


def record(person, exposures, occurrences, measurements, concepts, units, as_of, counts):
    snapshot = max(day(d["drug_exposure_start_date"]) for d in exposures)
    offset = (as_of - snapshot) if as_of else dt.timedelta(0)

    def shift(d: dt.date) -> str:
        return (d + offset).isoformat()

    rec = {"id": f"person/{person['person_id']}"}
    born = birth_date(person)
    if born:
        rec["birth_date"] = shift(born)
    if person.get("gender_concept_id") in SEX:
        rec["sex"] = SEX[person["gender_concept_id"]]
    conditions = []
    for o in sorted(occurrences, key=lambda o: (o["condition_start_date"], o["condition_occurrence_id"])):
        if day(o["condition_start_date"]) > snapshot:
            continue
        c = condition(o, concepts, snapshot)
        if c is None:
            counts["conditions_left_out"] += 1
        else:
            conditions.append(c)
    labs, weight = labs_and_weight(measurements, concepts, units, snapshot, shift)
    if weight is not None:
        rec["weight_kg"] = weight
    rec["conditions"] = conditions
    rec["labs"] = labs
    order = sorted(exposures, key=lambda d: (d["drug_exposure_start_date"], int(d["drug_exposure_id"])))
    rec["medications"] = [medication(d, concepts, snapshot, shift) for d in order]
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--as-of", default="2019-07-01", help="the day every snapshot is shifted to")
    ap.add_argument("--no-shift", action="store_true", help="write the dates as recorded")
    args = ap.parse_args()
    as_of = None if args.no_shift else dt.date.fromisoformat(args.as_of)

    concepts = {c["concept_id"]: c for c in rows(args.folder, "concept")}
    units = {k: c["concept_name"] for k, c in concepts.items() if c["domain_id"] == "Unit"}
    exposures = by_person(args.folder, "drug_exposure")
    occurrences = by_person(args.folder, "condition_occurrence")
    measurements = by_person(args.folder, "measurement")
    counts = defaultdict(int)
    out = sys.stdout
    for person in sorted(rows(args.folder, "person"), key=lambda p: int(p["person_id"])):
        pid = person["person_id"]
        if not exposures.get(pid):
            counts["persons_without_drug_exposure"] += 1
            continue
        rec = record(person, exposures[pid], occurrences.get(pid, []), measurements.get(pid, []),
                     concepts, units, as_of, counts)
        counts["records"] += 1
        counts["medications"] += len(rec["medications"])
        out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
