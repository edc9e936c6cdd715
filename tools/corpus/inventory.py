#!/usr/bin/env python3
"""Inventories of the test corpora, and what rxguard did not recognize in them (TSV files).

Python standard library only.

    rxguard check --as-of 2026-11-01 --format json tests/data/synthea/synthea-r4.ndjson.gz \\
        > synthea.json   # (or zcat the file to standard input)
    python3 tools/corpus/inventory.py synthea tests/data/synthea/synthea-r4.ndjson.gz synthea.json OUT
    python3 tools/corpus/inventory.py eunomia tests/data/eunomia eunomia.json OUT

`synthea` writes OUT/synthea-conditions.tsv (code, system, display, count), synthea-medications.tsv
(code, display, count), synthea-observations.tsv (LOINC code, display, unit, count) and
synthea-unrecognized.tsv; `eunomia` writes eunomia-drugs.tsv (concept id, vocabulary, code, name,
exposures), eunomia-conditions.tsv and eunomia-unrecognized.tsv. Both print the unrecognized
rates: entries over medication entries, and distinct texts over distinct medication texts.
"""

import csv
import gzip
import io
import json
import sys
from collections import Counter
from pathlib import Path


def bundles(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def resources(bundle: dict):
    for e in bundle.get("entry") or []:
        yield e.get("resource") or {}


def medication_concept(res: dict) -> dict:
    mcc = res.get("medicationCodeableConcept")
    if mcc is None:
        mcc = (res.get("medication") or {}).get("concept")
    return mcc or {}


def write_tsv(path: Path, header, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def unrecognized(report_path: Path) -> tuple[Counter, Counter]:
    """Counts of unrecognized texts, and of texts of which some ingredient was identified."""
    with open(report_path, encoding="utf-8") as f:
        doc = json.load(f)
    texts, partly = Counter(), Counter()
    for rec in doc.get("records") or []:
        for u in (rec.get("report") or {}).get("unrecognized") or []:
            text = (u.get("entry") or {}).get("text") or ""
            texts[text] += 1
            if u.get("identified"):
                partly[text] += 1
    return texts, partly


def rates(name: str, entries: Counter, unknown: Counter) -> str:
    total, distinct = sum(entries.values()), len(entries)
    bad, bad_distinct = sum(unknown.values()), len(unknown)
    return (
        f"{name}: {bad} of {total} medication entries unrecognized ({100 * bad / max(total, 1):.2f}%); "
        f"{bad_distinct} of {distinct} distinct texts ({100 * bad_distinct / max(distinct, 1):.2f}%)"
    )


def synthea(corpus: Path, report: Path, out: Path) -> None:
    conditions, medications, observations, texts = Counter(), Counter(), Counter(), Counter()
    for b in bundles(corpus):
        for r in resources(b):
            kind = r.get("resourceType")
            if kind == "Condition":
                for c in (r.get("code") or {}).get("coding") or []:
                    conditions[(c.get("code"), c.get("system"), c.get("display"))] += 1
            elif kind in ("MedicationRequest", "MedicationStatement"):
                mcc = medication_concept(r)
                for c in mcc.get("coding") or [{}]:
                    medications[(c.get("code"), c.get("display"))] += 1
                texts[mcc.get("text") or ((mcc.get("coding") or [{}])[0].get("display")) or ""] += 1
            elif kind == "Observation":
                q = r.get("valueQuantity") or {}
                for c in (r.get("code") or {}).get("coding") or []:
                    observations[(c.get("code"), c.get("display"), q.get("unit") or "")] += 1
    write_tsv(out / "synthea-conditions.tsv", ["code", "system", "display", "count"],
              [(*k, n) for k, n in sorted(conditions.items(), key=lambda x: (-x[1], str(x[0])))])
    write_tsv(out / "synthea-medications.tsv", ["code", "display", "count"],
              [(*k, n) for k, n in sorted(medications.items(), key=lambda x: (-x[1], str(x[0])))])
    write_tsv(out / "synthea-observations.tsv", ["loinc", "display", "unit", "count"],
              [(*k, n) for k, n in sorted(observations.items(), key=lambda x: (-x[1], str(x[0])))])
    unknown, partly = unrecognized(report)
    write_tsv(out / "synthea-unrecognized.tsv", ["text", "count", "partly_identified"],
              [(t, n, "yes" if partly[t] else "no") for t, n in unknown.most_common()])
    print(rates("synthea", texts, unknown))


def csv_rows(folder: Path, table: str):
    with gzip.open(folder / f"{table}.csv.gz", "rb") as raw:
        yield from csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))


def eunomia(folder: Path, report: Path, out: Path) -> None:
    concepts = {c["concept_id"]: c for c in csv_rows(folder, "concept")}
    drugs = Counter(d["drug_concept_id"] for d in csv_rows(folder, "drug_exposure"))
    conds = Counter(o["condition_concept_id"] for o in csv_rows(folder, "condition_occurrence"))

    def described(counter):
        for cid, n in counter.most_common():
            c = concepts.get(cid, {})
            yield cid, c.get("vocabulary_id", ""), c.get("concept_class_id", ""), c.get("concept_code", ""), c.get("concept_name", ""), n

    header = ["concept_id", "vocabulary", "class", "code", "name", "count"]
    write_tsv(out / "eunomia-drugs.tsv", header, described(drugs))
    write_tsv(out / "eunomia-conditions.tsv", header, described(conds))
    unknown, partly = unrecognized(report)
    write_tsv(out / "eunomia-unrecognized.tsv", ["text", "count", "partly_identified"],
              [(t, n, "yes" if partly[t] else "no") for t, n in unknown.most_common()])
    texts = Counter()
    for cid, n in drugs.items():
        texts[concepts.get(cid, {}).get("concept_name", cid)] += n
    print(rates("eunomia", texts, unknown))


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in ("synthea", "eunomia"):
        sys.exit(__doc__)
    out = Path(sys.argv[4])
    out.mkdir(parents=True, exist_ok=True)
    {"synthea": synthea, "eunomia": eunomia}[sys.argv[1]](Path(sys.argv[2]), Path(sys.argv[3]), out)
