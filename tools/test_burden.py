#!/usr/bin/env python3
"""Tests of tools/burden.py, the alert-burden instrument: python3 tools/test_burden.py"""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import burden  # noqa: E402


def finding(rule, *ids):
    return {"rule": rule, "medications": [{"id": i, "text": i} for i in ids]}


class Duplicates(unittest.TestCase):
    def test_two_sedation_rules_naming_one_pair_are_a_duplicate(self):
        found = burden.duplicates(
            [finding("opioid_with_benzodiazepine", "oxy", "lzp"),
             finding("baclofen_with_cns_depressant", "bac", "oxy", "lzp")],
            burden.collections.Counter())
        self.assertEqual(found, {(burden.SEDATION, "baclofen_with_cns_depressant",
                                  "opioid_with_benzodiazepine")})

    def test_one_shared_drug_is_not_a_shared_pair(self):
        found = burden.duplicates(
            [finding("opioid_with_benzodiazepine", "oxy", "lzp"),
             finding("opioid_with_gabapentinoid", "oxy", "gaba")],
            burden.collections.Counter())
        self.assertEqual(found, set())

    def test_other_harms_and_single_drug_rules_are_not_duplicates(self):
        found = burden.duplicates(
            [finding("opioid_with_benzodiazepine", "oxy", "lzp"),
             finding("opioid_without_naloxone", "oxy", "lzp"),
             finding("cns_active_three_or_more", "oxy", "lzp", "gaba"),
             finding("benzodiazepine_elderly", "lzp", "lzp2"),
             finding("falls_history_cns_active_elderly", "lzp", "lzp2")],
            burden.collections.Counter())
        self.assertEqual(found, set())

    def test_an_unmapped_combination_rule_is_its_own_harm_and_reported(self):
        unmapped = burden.collections.Counter()
        found = burden.duplicates(
            [finding("new_rule", "a", "b"), finding("opioid_with_benzodiazepine", "a", "b")],
            unmapped)
        self.assertEqual(found, set())
        self.assertEqual(unmapped, {"new_rule": 1})


class Measure(unittest.TestCase):
    def test_counts_findings_per_patient_and_rejected_records(self):
        doc = {"records": [
            {"report": {"patient": "p1", "findings": []}},
            {"report": {"patient": "p2", "findings": [
                finding("opioid_with_benzodiazepine", "oxy", "lzp"),
                finding("opioid_with_other_cns_depressant", "oxy", "lzp", "zol")]}},
            {"error": "line 3: not JSON"}]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(doc, fh)
        try:
            per_patient, rejected, dups, overlap, _ = burden.measure(fh.name)
        finally:
            os.unlink(fh.name)
        self.assertEqual(per_patient, {0: 1, 2: 1})
        self.assertEqual(rejected, 1)
        self.assertEqual([p for p, _ in dups], ["p2"])
        self.assertEqual(sum(overlap.values()), 1)


if __name__ == "__main__":
    unittest.main()
