#!/usr/bin/env python3
"""An oracle for the corpus tests, written apart from the engine: its own drug and code lists.

Python standard library only. It reads FHIR R4 (or R5) Bundles, one per line (gzip or not),
decides four problems per patient at one as_of date, and writes one TSV line per patient:

    python3 tools/oracle/oracle.py tests/data/synthea/synthea-r4.ndjson.gz --as-of 2026-11-01 \\
        --out tests/data/synthea
    python3 tools/oracle/oracle.py tests/data/synthea/synthea-r4.ndjson.gz --as-of 2026-11-01 \\
        --check tests/data/synthea

It writes oracle-verdicts.tsv (one line per patient) and oracle-risk-texts.tsv (every distinct
medication text of the corpus that holds an ingredient of the classes below, with them), and
`--check` exits 1 when the committed files are not what the oracle now says.

The problems (each verdict is `yes`, `no`, or `unknown` when the record lacks what decides it):

- `opioid_benzodiazepine`: an opioid and a benzodiazepine taken together, at any age (FDA Boxed
  Warning, 2016-08-31).
- `cns_three_or_more`: three or more distinct CNS-active drugs taken together at 65 or older
  (AGS Beers Criteria 2023, Table 5: antiepileptics including gabapentinoids; antidepressants of
  the TCA, SSRI and SNRI classes; antipsychotics; benzodiazepines; Z-drugs; opioids; skeletal
  muscle relaxants). A drug of two classes (clonazepam) counts once, since the criterion counts
  drugs. Baclofen and tizanidine count as skeletal muscle relaxants, as the auxiliary "CNS Active
  Drug List" of Beers 2023 lists baclofen (secondary source: a transcription of that list).
- `tramadol_seizure_disorder`: tramadol taken by a patient with epilepsy, a seizure disorder or a
  history of seizures, recorded at any clinical status (the tramadol labels warn of seizure risk
  in "patients with epilepsy, those with a history of seizures"; a resolved seizure disorder is a
  history of seizures).
- `baclofen_egfr_below_60`: baclofen taken at 65 or older with the latest eGFR of the last 365
  days below 60 mL/min/1.73 m2, or on dialysis or in kidney failure (Beers 2023 Table 6, the only
  numeric baclofen threshold verified; under 65 no threshold is decided, so `no`); no eGFR in that
  time and no such condition: `unknown`.
- The two Beers problems (`cns_three_or_more`, `baclofen_egfr_below_60`) are `no` in hospice or
  palliative care, outside Beers' scope.

"Taken" at as_of, as issue 9 item 4 and the design's status table say:

- MedicationRequest: status active, on-hold (taking for interactions) or draft (being ordered
  now: taken whatever its dates); `intent` plan, proposal or option is not an order, so not
  taken. The window of an active or on-hold order is the
  dosage's `timing.repeat.boundsPeriod`, else `authoredOn` with no end; taken when
  start <= as_of <= end. An active or on-hold order with no end that started more than 365 days
  before as_of is history: no prescription stays valid that long (the horizon's default).
- MedicationStatement: status active or on-hold (`intended` is not yet taken), window its
  dosage's `timing.repeat.boundsPeriod`, else `effectivePeriod`, else `effectiveDateTime` with no
  end; no horizon (it states use, it is no
  order).
- Stopped, completed, cancelled, entered-in-error, not-taken, unknown statuses: not taken.
  (A MedicationRequest with no status is read as active.)
- A Bundle with no MedicationRequest and no MedicationStatement does not say what is taken (an
  empty list and a missing one look alike in a Bundle): each verdict is `unknown`, unless it is
  false whatever is taken (under 65; a condition list that names no seizure).
- A deceased patient (`deceasedBoolean` true, or `deceasedDateTime` on or before as_of) is not
  screened: the line says `deceased` and every verdict is `-`.

Drugs are identified by RxNorm code when the oracle's code lists have it (ingredient codes and
the clinical-drug codes of the risk drugs in the corpus), else by ingredient or brand names among
the words of the text or display. Both must agree when both apply: a disagreement is an error, so
that a wrong code in the lists cannot pass silently.
"""

import argparse
import datetime as dt
import gzip
import json
import re
import sys
from pathlib import Path

from drugs import BRANDS, CLINICAL_DRUGS, INGREDIENTS
from codes import (
    EGFR_LOINC,
    END_OF_LIFE_ICD10_PREFIXES,
    END_OF_LIFE_SNOMED,
    KIDNEY_FAILURE_ICD10_PREFIXES,
    KIDNEY_FAILURE_SNOMED,
    SEIZURE_ICD10_PREFIXES,
    SEIZURE_SNOMED,
)

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
HORIZON_DAYS = 365
LAB_WINDOW_DAYS = 365
CATEGORIES = [
    "opioid_benzodiazepine",
    "cns_three_or_more",
    "tramadol_seizure_disorder",
    "baclofen_egfr_below_60",
]
CNS_CLASSES = {
    "antiepileptic",
    "antidepressant",
    "antipsychotic",
    "benzodiazepine",
    "z_drug",
    "opioid",
    "muscle_relaxant",
}
NOT_ORDERS = {"plan", "proposal", "option"}

BY_CODE = {code: name for name, (code, _) in INGREDIENTS.items() if code}
# Longest names first, so that "valproic acid" is read before a shorter name inside it.
NAMES = sorted(
    [(tuple(n.split()), n) for n in INGREDIENTS] + [(tuple(b.split()), b) for b in BRANDS],
    key=lambda x: -len(x[0]),
)


def day(s) -> dt.date | None:
    if not s:
        return None
    try:
        return dt.date.fromisoformat(str(s)[:10])
    except ValueError:
        return None


def ingredients_by_name(text: str) -> set[str]:
    words = re.findall(r"[a-z]+", text.lower())
    found = set()
    for i in range(len(words)):
        for seq, name in NAMES:
            if tuple(words[i : i + len(seq)]) == seq:
                found |= set(BRANDS[name]) if name in BRANDS else {name}
    return found


def ingredients_by_code(codings) -> set[str] | None:
    for c in codings:
        if c.get("system") != RXNORM:
            continue
        code = c.get("code")
        if code in CLINICAL_DRUGS:
            return set(CLINICAL_DRUGS[code])
        if code in BY_CODE:
            return {BY_CODE[code]}
    return None


def identify(concept: dict) -> set[str]:
    codings = concept.get("coding") or []
    text = " ".join([concept.get("text") or ""] + [c.get("display") or "" for c in codings])
    by_name = ingredients_by_name(text)
    by_code = ingredients_by_code(codings)
    if by_code is not None and by_code != by_name:
        raise SystemExit(f"oracle lists disagree on {text!r}: code says {sorted(by_code)}, name says {sorted(by_name)}")
    return by_code if by_code is not None else by_name


def medication_concept(res: dict, medications: dict) -> dict:
    if "medicationCodeableConcept" in res:
        return res["medicationCodeableConcept"]
    med = res.get("medication") or {}
    if "concept" in med:  # R5 CodeableReference
        return med["concept"]
    ref = (res.get("medicationReference") or med.get("reference") or {}).get("reference") or ""
    return medications.get(ref.split("/")[-1].replace("urn:uuid:", ""), {})


def taken(res: dict, as_of: dt.date) -> bool:
    kind = res["resourceType"]
    status = res.get("status") or ("active" if kind == "MedicationRequest" else "unknown")
    if kind == "MedicationRequest":
        if res.get("intent") in NOT_ORDERS or status not in ("active", "on-hold", "draft"):
            return False
        dosage = (res.get("dosageInstruction") or [{}])[0]
        bounds = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod")
        if bounds:
            start, end = day(bounds.get("start")), day(bounds.get("end"))
        else:
            start, end = day(res.get("authoredOn")), None
        if status == "draft":
            return True
        if end is None and start and start < as_of - dt.timedelta(HORIZON_DAYS):
            return False
    else:
        if status not in ("active", "on-hold"):
            return False
        dosage = (res.get("dosage") or [{}])[0]
        bounds = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod")
        period = bounds or res.get("effectivePeriod")
        if period:
            start, end = day(period.get("start")), day(period.get("end"))
        else:
            start, end = day(res.get("effectiveDateTime")), None
    return (start is None or start <= as_of) and (end is None or as_of <= end)


def coded_condition(res: dict, as_of: dt.date, snomed, icd10_prefixes, active_only=False) -> bool:
    verification = ((res.get("verificationStatus") or {}).get("coding") or [{}])[0].get("code")
    if verification in ("refuted", "entered-in-error"):
        return False
    clinical = ((res.get("clinicalStatus") or {}).get("coding") or [{}])[0].get("code")
    if active_only and clinical not in (None, "active", "recurrence", "relapse"):
        return False
    onset = day(res.get("onsetDateTime")) or day((res.get("onsetPeriod") or {}).get("start"))
    if onset and onset > as_of:
        return False
    for c in (res.get("code") or {}).get("coding") or []:
        if c.get("system") == SNOMED and c.get("code") in snomed:
            return True
        if c.get("system") == ICD10CM and any(
            (c.get("code") or "").startswith(p) for p in icd10_prefixes
        ):
            return True
    return False


def seizure_condition(res: dict, as_of: dt.date) -> bool:
    return coded_condition(res, as_of, SEIZURE_SNOMED, SEIZURE_ICD10_PREFIXES)


def end_of_life(res: dict, as_of: dt.date) -> bool:
    return coded_condition(
        res, as_of, END_OF_LIFE_SNOMED, END_OF_LIFE_ICD10_PREFIXES, active_only=True
    )


def kidney_failure(res: dict, as_of: dt.date) -> bool:
    return coded_condition(
        res, as_of, KIDNEY_FAILURE_SNOMED, KIDNEY_FAILURE_ICD10_PREFIXES, active_only=True
    )


def egfr_value(o: dict) -> tuple[float, float] | None:
    """A result as the range it states: 48 is (48, 48), ">60" is (60, inf), "<15" is (0, 15)."""
    value = (o.get("valueQuantity") or {}).get("value")
    if value is not None:
        comparator = (o.get("valueQuantity") or {}).get("comparator")
        v = float(value)
        if comparator in (">", ">="):
            return (v, float("inf"))
        if comparator in ("<", "<="):
            return (0.0, v)
        return (v, v)
    m = re.fullmatch(r"\s*([<>])=?\s*(\d+(?:\.\d+)?)\s*", o.get("valueString") or "")
    if m:
        v = float(m.group(2))
        return (v, float("inf")) if m.group(1) == ">" else (0.0, v)
    return None


def latest_egfr(observations, as_of: dt.date) -> tuple[float, float] | None:
    best = None
    for o in observations:
        if o.get("status") in ("cancelled", "entered-in-error"):
            continue
        codes = {c.get("code") for c in (o.get("code") or {}).get("coding") or [] if c.get("system") == LOINC}
        if not codes & EGFR_LOINC:
            continue
        when = day(o.get("effectiveDateTime")) or day((o.get("effectivePeriod") or {}).get("start")) or day(o.get("issued"))
        value = egfr_value(o)
        if when is None or value is None or when > as_of or when < as_of - dt.timedelta(LAB_WINDOW_DAYS):
            continue
        if best is None or when > best[0]:
            best = (when, value)
    return best[1] if best else None


def age_at(birth: str | None, as_of: dt.date) -> tuple[int, int] | None:
    """Completed years at as_of, as a range: a birth date of "1959" or "1959-04" gives two."""
    if not birth:
        return None
    parts = [int(p) for p in re.findall(r"\d+", str(birth)[:10])]
    if not parts:
        return None
    year, month, dd = (parts + [None, None])[:3]
    def at(m: int, d: int) -> int:
        return as_of.year - year - ((as_of.month, as_of.day) < (m, d))
    if dd is not None:
        return (at(month, dd), at(month, dd))
    if month is not None:
        return (at(month, 31), at(month, 1))
    return (at(12, 31), at(1, 1))


def all_of(*verdicts: str) -> str:
    """Three-valued and: no if any is no, else unknown if any is unknown, else yes."""
    if "no" in verdicts:
        return "no"
    return "unknown" if "unknown" in verdicts else "yes"


def any_of(*verdicts: str) -> str:
    """Three-valued or."""
    if "yes" in verdicts:
        return "yes"
    return "unknown" if "unknown" in verdicts else "no"


def verdict(bundle: dict, as_of: dt.date) -> dict:
    res = [e.get("resource") or {} for e in bundle.get("entry") or []]
    patient = next((r for r in res if r.get("resourceType") == "Patient"), {})
    out = {"patient": patient.get("id", "unknown")}
    died = day(patient.get("deceasedDateTime"))
    if patient.get("deceasedBoolean") is True or (died and died <= as_of):
        out.update(screened="deceased", age="-", **{c: "-" for c in CATEGORIES}, evidence="")
        return out
    age = age_at(patient.get("birthDate"), as_of)
    medications = {r.get("id"): r.get("code") or {} for r in res if r.get("resourceType") == "Medication"}
    meds_given = any(r.get("resourceType") in ("MedicationRequest", "MedicationStatement") for r in res)
    drugs = set()
    for r in res:
        if r.get("resourceType") in ("MedicationRequest", "MedicationStatement") and taken(r, as_of):
            drugs |= identify(medication_concept(r, medications))
    classes = {d: INGREDIENTS[d][1] for d in drugs}
    opioids = sorted(d for d, k in classes.items() if "opioid" in k)
    benzos = sorted(d for d, k in classes.items() if "benzodiazepine" in k)
    cns = sorted(d for d, k in classes.items() if k & CNS_CLASSES)
    conditions = [r for r in res if r.get("resourceType") == "Condition"]

    # Each fact as yes / no / unknown. A Bundle without any medication resource, or without any
    # Condition, does not say what is taken or what is diagnosed (an empty list and a missing
    # one look alike): the facts read from it are unknown, and a problem is decided only when
    # its other facts already decide it.
    def fact(flag: bool, given: bool = True) -> str:
        return ("yes" if flag else "no") if given else "unknown"

    def taking(flag: bool) -> str:
        return fact(flag, meds_given)

    def diagnosed(test) -> str:
        return fact(any(test(c, as_of) for c in conditions), bool(conditions))

    older = "unknown" if age is None else ("yes" if age[0] >= 65 else "no" if age[1] < 65 else "unknown")
    egfr = latest_egfr([r for r in res if r.get("resourceType") == "Observation"], as_of)
    low_egfr = "unknown" if egfr is None else ("yes" if egfr[1] < 60 else "no" if egfr[0] >= 60 else "unknown")

    out["screened"] = "yes"
    out["age"] = "-" if age is None else (str(age[0]) if age[0] == age[1] else f"{age[0]}-{age[1]}")
    out["opioid_benzodiazepine"] = taking(bool(opioids and benzos))
    # Beers does not apply in hospice or palliative care: a recorded one sets its problems
    # aside; one that the record cannot rule out leaves them standing.
    def beers(problem: str) -> str:
        return "no" if diagnosed(end_of_life) == "yes" else problem

    out["cns_three_or_more"] = beers(all_of(older, taking(len(cns) >= 3)))
    out["tramadol_seizure_disorder"] = all_of(taking("tramadol" in drugs), diagnosed(seizure_condition))
    out["baclofen_egfr_below_60"] = beers(
        all_of(older, taking("baclofen" in drugs), any_of(low_egfr, diagnosed(kidney_failure)))
    )
    evidence = []
    if out["opioid_benzodiazepine"] == "yes":
        evidence.append("opioid_benzodiazepine:" + "+".join(opioids + benzos))
    if out["cns_three_or_more"] == "yes":
        evidence.append("cns_three_or_more:" + "+".join(cns))
    if out["tramadol_seizure_disorder"] == "yes":
        evidence.append("tramadol_seizure_disorder:tramadol")
    if out["baclofen_egfr_below_60"] == "yes":
        shown = "kidney failure" if egfr is None or low_egfr != "yes" else f"eGFR {egfr[0]:g}"
        evidence.append(f"baclofen_egfr_below_60:{shown}")
    out["evidence"] = " ".join(evidence)
    return out


def bundles(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def medication_texts(bundle: dict):
    """Each medication entry's text as the record writes it, and the oracle's ingredients of it."""
    res = [e.get("resource") or {} for e in bundle.get("entry") or []]
    medications = {r.get("id"): r.get("code") or {} for r in res if r.get("resourceType") == "Medication"}
    for r in res:
        if r.get("resourceType") in ("MedicationRequest", "MedicationStatement"):
            concept = medication_concept(r, medications)
            codings = concept.get("coding") or [{}]
            yield concept.get("text") or codings[0].get("display") or "", identify(concept)


def render(path: Path, as_of: dt.date) -> dict[str, str]:
    """The two files: verdicts per patient, and the distinct medication texts of a risk class."""
    columns = ["patient", "screened", "age", *CATEGORIES, "evidence"]
    verdicts = [f"# oracle verdicts at as_of {as_of.isoformat()}: tools/oracle/oracle.py", "\t".join(columns)]
    risk: dict[str, set[str]] = {}
    for b in bundles(path):
        v = verdict(b, as_of)
        verdicts.append("\t".join(v[c] for c in columns))
        for text, drugs in medication_texts(b):
            if drugs:
                risk.setdefault(text, set()).update(drugs)
    texts = ["# medication texts holding an ingredient of a risk class: tools/oracle/oracle.py",
             "text\tingredients\tclasses"]
    for text in sorted(risk):
        classes = sorted(set().union(*(INGREDIENTS[d][1] for d in risk[text])))
        texts.append(f"{text}\t{'+'.join(sorted(risk[text]))}\t{'+'.join(classes)}")
    return {
        "oracle-verdicts.tsv": "\n".join(verdicts) + "\n",
        "oracle-risk-texts.tsv": "\n".join(texts) + "\n",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description="Oracle verdicts for a corpus of FHIR Bundles")
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--as-of", required=True)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="write oracle-verdicts.tsv and oracle-risk-texts.tsv here")
    group.add_argument("--check", type=Path, help="exit 1 unless this folder holds the same files")
    args = ap.parse_args()
    files = render(args.corpus, dt.date.fromisoformat(args.as_of))
    stale = []
    for name, text in files.items():
        if args.out:
            (args.out / name).write_text(text, encoding="utf-8")
        elif not (args.check / name).exists() or (args.check / name).read_text(encoding="utf-8") != text:
            stale.append(name)
    if stale:
        sys.exit(f"not current in {args.check}: {', '.join(stale)}: rerun tools/oracle/oracle.py (see its docstring)")
    if args.check:
        print(f"{args.check}: oracle verdicts current")


if __name__ == "__main__":
    main()
