"""Tests of the oracle on small Bundles written here, one rule of its reading at a time.

    python3 -m unittest discover -s tools/oracle -p 'test_*.py'
"""

import datetime as dt
import unittest

import oracle

AS_OF = dt.date(2026, 11, 1)
RX = oracle.RXNORM


def med(text, code=None, status="active", authored="2026-10-01", intent="order", bounds=None):
    concept = {"coding": [{"system": RX, "code": code or "0", "display": text}]}
    res = {"resourceType": "MedicationRequest", "status": status, "intent": intent,
           "medicationCodeableConcept": concept, "authoredOn": authored}
    if bounds:
        res["dosageInstruction"] = [{"timing": {"repeat": {"boundsPeriod": bounds}}}]
    return res


def condition(code, system=oracle.SNOMED, clinical="active"):
    return {"resourceType": "Condition", "code": {"coding": [{"system": system, "code": code}]},
            "clinicalStatus": {"coding": [{"code": clinical}]}}


def egfr(value, date="2026-09-01", unit="mL/min"):
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": oracle.LOINC, "code": "33914-3"}]},
            "effectiveDateTime": date, "valueQuantity": {"value": value, "unit": unit}}


def bundle(*resources, birth="1950-01-01", **patient):
    p = {"resourceType": "Patient", "id": "p", "birthDate": birth, **patient}
    return {"resourceType": "Bundle", "entry": [{"resource": r} for r in (p, *resources)]}


def verdict(*resources, **kw):
    return oracle.verdict(bundle(*resources, **kw), AS_OF)


class Taking(unittest.TestCase):
    def test_opioid_with_benzodiazepine(self):
        v = verdict(med("Oxycodone 5 MG Oral Tablet"), med("Alprazolam 0.5 MG Oral Tablet"))
        self.assertEqual(v["opioid_benzodiazepine"], "yes")

    def test_a_stopped_order_is_not_taken(self):
        v = verdict(med("Oxycodone 5 MG Oral Tablet"), med("Alprazolam 0.5 MG", status="stopped"))
        self.assertEqual(v["opioid_benzodiazepine"], "no")

    def test_on_hold_and_draft_are_taken(self):
        v = verdict(med("oxycodone", status="on-hold"), med("lorazepam", status="draft"))
        self.assertEqual(v["opioid_benzodiazepine"], "yes")

    def test_a_draft_is_taken_whatever_its_dates(self):
        later = {"start": "2026-11-04"}
        v = verdict(med("oxycodone"), med("lorazepam", status="draft", bounds=later))
        self.assertEqual(v["opioid_benzodiazepine"], "yes")
        v = verdict(med("oxycodone"), med("lorazepam", bounds=later))
        self.assertEqual(v["opioid_benzodiazepine"], "no")

    def test_without_any_medication_resource_the_record_does_not_say(self):
        v = verdict(condition("84757009"), egfr(40), birth="1940-01-01")
        self.assertEqual({v[c] for c in oracle.CATEGORIES}, {"unknown"})

    def test_without_medications_what_is_false_anyway_stays_false(self):
        v = verdict(condition("38341003"), egfr(40), birth="1980-01-01")
        self.assertEqual(v["opioid_benzodiazepine"], "unknown")
        self.assertEqual(
            (v["cns_three_or_more"], v["tramadol_seizure_disorder"], v["baclofen_egfr_below_60"]),
            ("no", "no", "no"),
        )

    def test_a_plan_is_no_order(self):
        v = verdict(med("oxycodone", intent="plan"), med("lorazepam"))
        self.assertEqual(v["opioid_benzodiazepine"], "no")

    def test_the_open_order_horizon_is_365_days(self):
        day_365 = (AS_OF - dt.timedelta(365)).isoformat()
        day_366 = (AS_OF - dt.timedelta(366)).isoformat()
        self.assertEqual(verdict(med("oxycodone", authored=day_365), med("lorazepam"))["opioid_benzodiazepine"], "yes")
        self.assertEqual(verdict(med("oxycodone", authored=day_366), med("lorazepam"))["opioid_benzodiazepine"], "no")

    def test_a_bounded_order_is_taken_through_its_last_day(self):
        last = {"start": "2020-01-01", "end": AS_OF.isoformat()}
        before = {"start": "2020-01-01", "end": (AS_OF - dt.timedelta(1)).isoformat()}
        self.assertEqual(verdict(med("oxycodone", bounds=last), med("lorazepam"))["opioid_benzodiazepine"], "yes")
        self.assertEqual(verdict(med("oxycodone", bounds=before), med("lorazepam"))["opioid_benzodiazepine"], "no")

    def test_an_order_authored_after_as_of_is_not_yet_taken(self):
        v = verdict(med("oxycodone", authored="2026-11-02"), med("lorazepam"))
        self.assertEqual(v["opioid_benzodiazepine"], "no")

    def test_deceased_patients_are_not_screened(self):
        v = verdict(med("oxycodone"), med("lorazepam"), deceasedDateTime="2026-11-01T10:00:00Z")
        self.assertEqual((v["screened"], v["opioid_benzodiazepine"]), ("deceased", "-"))
        alive = verdict(med("oxycodone"), med("lorazepam"), deceasedDateTime="2026-11-02")
        self.assertEqual(alive["opioid_benzodiazepine"], "yes")


class CnsActive(unittest.TestCase):
    three = ("Sertraline 100 MG Oral Tablet", "quetiapine 100 MG Oral Tablet", "gabapentin 300 MG Oral Capsule")

    def test_three_at_65(self):
        v = verdict(*map(med, self.three), birth="1961-11-01")
        self.assertEqual(v["cns_three_or_more"], "yes")

    def test_three_at_64(self):
        v = verdict(*map(med, self.three), birth="1961-11-02")
        self.assertEqual(v["cns_three_or_more"], "no")

    def test_a_drug_of_two_classes_counts_once(self):
        v = verdict(med("clonazePAM 0.25 MG Oral Tablet"), med("Sertraline 100 MG"))
        self.assertEqual(v["cns_three_or_more"], "no")

    def test_renewals_of_one_drug_count_once(self):
        v = verdict(med("Sertraline 100 MG"), med("Sertraline 100 MG"), med("quetiapine 100 MG"))
        self.assertEqual(v["cns_three_or_more"], "no")

    def test_bupropion_and_trazodone_are_not_of_the_table_5_classes(self):
        v = verdict(med("bupropion 150 MG"), med("trazodone 50 MG"), med("Sertraline 100 MG"))
        self.assertEqual(v["cns_three_or_more"], "no")


class Tramadol(unittest.TestCase):
    def test_with_a_resolved_seizure_disorder(self):
        v = verdict(med("tramadol hydrochloride 50 MG Oral Tablet", "835603"), condition("128613002", clinical="resolved"))
        self.assertEqual(v["tramadol_seizure_disorder"], "yes")

    def test_with_icd10_epilepsy(self):
        v = verdict(med("tramadol 50 MG"), condition("G40.909", oracle.ICD10CM))
        self.assertEqual(v["tramadol_seizure_disorder"], "yes")

    def test_without_seizures(self):
        v = verdict(med("tramadol 50 MG"), condition("444814009"))
        self.assertEqual(v["tramadol_seizure_disorder"], "no")

    def test_without_any_condition_the_record_does_not_say(self):
        self.assertEqual(verdict(med("tramadol 50 MG"))["tramadol_seizure_disorder"], "unknown")


HYPERTENSION = condition("38341003")


class Baclofen(unittest.TestCase):
    def test_egfr_59_at_65_whatever_the_unit_text(self):
        v = verdict(med("Baclofen 10 MG Oral Tablet"), egfr(59, unit="mL/min"), birth="1960-01-01")
        self.assertEqual(v["baclofen_egfr_below_60"], "yes")

    def test_egfr_60(self):
        v = verdict(med("Baclofen 10 MG Oral Tablet"), egfr(60), HYPERTENSION, birth="1960-01-01")
        self.assertEqual(v["baclofen_egfr_below_60"], "no")

    def test_egfr_60_without_any_condition_leaves_dialysis_unknown(self):
        v = verdict(med("Baclofen 10 MG Oral Tablet"), egfr(60), birth="1960-01-01")
        self.assertEqual(v["baclofen_egfr_below_60"], "unknown")

    def test_dialysis_whatever_the_egfr(self):
        v = verdict(med("baclofen"), egfr(70), condition("Z99.2", oracle.ICD10CM), birth="1950-01-01")
        self.assertEqual(v["baclofen_egfr_below_60"], "yes")
        v = verdict(med("baclofen"), egfr(70), condition("105502003", clinical="resolved"), birth="1950-01-01")
        self.assertEqual(v["baclofen_egfr_below_60"], "no")

    def test_an_egfr_written_as_a_bound(self):
        above = dict(egfr(0), valueString=">60")
        del above["valueQuantity"]
        v = verdict(med("baclofen"), above, HYPERTENSION, birth="1950-01-01")
        self.assertEqual(v["baclofen_egfr_below_60"], "no")
        below = dict(above, valueString="<15")
        v = verdict(med("baclofen"), below, HYPERTENSION, birth="1950-01-01")
        self.assertEqual(v["baclofen_egfr_below_60"], "yes")

    def test_the_latest_egfr_decides(self):
        v = verdict(med("baclofen"), egfr(50, "2026-01-01"), egfr(70, "2026-06-01"), HYPERTENSION, birth="1950-01-01")
        self.assertEqual(v["baclofen_egfr_below_60"], "no")

    def test_an_egfr_older_than_a_year_is_unknown(self):
        v = verdict(med("baclofen"), egfr(40, "2025-10-31"), HYPERTENSION, birth="1950-01-01")
        self.assertEqual(v["baclofen_egfr_below_60"], "unknown")

    def test_under_65_no_threshold(self):
        v = verdict(med("baclofen"), egfr(40), birth="1990-01-01")
        self.assertEqual(v["baclofen_egfr_below_60"], "no")


class Age(unittest.TestCase):
    def test_a_birth_year_alone_is_a_range(self):
        three = (med("oxycodone"), med("lorazepam"), med("sertraline 50 MG"))
        self.assertEqual(verdict(*three, birth="1959")["cns_three_or_more"], "yes")  # 66-67
        self.assertEqual(verdict(*three, birth="1961")["cns_three_or_more"], "unknown")  # 64-65
        self.assertEqual(verdict(*three, birth="1962")["cns_three_or_more"], "no")  # 63-64


class Identification(unittest.TestCase):
    def test_code_and_name_must_agree(self):
        old = dict(oracle.CLINICAL_DRUGS)
        try:
            oracle.CLINICAL_DRUGS["999"] = ["oxycodone"]
            with self.assertRaises(SystemExit):
                oracle.identify({"coding": [{"system": RX, "code": "999", "display": "Sertraline 100 MG"}]})
        finally:
            oracle.CLINICAL_DRUGS.clear()
            oracle.CLINICAL_DRUGS.update(old)

    def test_combination_products_give_every_listed_ingredient(self):
        found = oracle.identify({"text": "Acetaminophen 325 MG / HYDROcodone Bitartrate 7.5 MG Oral Tablet"})
        self.assertEqual(found, {"hydrocodone"})

    def test_brand_names(self):
        self.assertEqual(oracle.identify({"text": "Xanax 0.5 MG"}), {"alprazolam"})

    def test_dextromethorphan_is_no_opioid(self):
        self.assertEqual(oracle.identify({"text": "Dextromethorphan Hydrobromide 1 MG/ML"}), set())


if __name__ == "__main__":
    unittest.main()
