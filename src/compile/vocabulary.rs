//! The medication index and the lookup tables for conditions and labs, built once.

use crate::ir::{ConditionId, Derivation, LabId, Program, SetRef};
use crate::patient::{Bits, CodeSystem, MedIndex};
use crate::units::Dimension;
use std::collections::HashMap;

/// Code and name lookups of one compiled engine.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    /// Medication codes and names to ingredients.
    pub index: MedIndex,
    /// Per ingredient: the bits of the ingredient itself and of every class containing it.
    pub drug_bits: Vec<Bits>,
    /// How statuses are read over time (open orders' horizon, holds).
    pub status: crate::patient::StatusPolicy,
    drugs: usize,
    classes: usize,
    conditions: usize,
    icd10: HashMap<String, Vec<ConditionId>>,
    snomed: HashMap<String, Vec<ConditionId>>,
    loinc: HashMap<String, Vec<LabId>>,
    lab_dimensions: Vec<Dimension>,
    derivations: Vec<(LabId, Derivation)>,
}

impl Vocabulary {
    /// Builds the tables.
    pub fn build(program: &Program) -> Vocabulary {
        let drugs = program.drugs.len();
        let classes = program.classes.len();
        let mut drug_bits: Vec<Bits> = (0..drugs)
            .map(|d| {
                let mut b = Bits::with_len(drugs + classes);
                b.set(d);
                b
            })
            .collect();
        for (c, class) in program.classes.iter().enumerate() {
            for &d in &class.members {
                drug_bits[d].set(drugs + c);
            }
        }
        let mut icd10: HashMap<String, Vec<ConditionId>> = HashMap::new();
        let mut snomed: HashMap<String, Vec<ConditionId>> = HashMap::new();
        for (id, c) in program.conditions.iter().enumerate() {
            c.icd10
                .iter()
                .for_each(|p| icd10.entry(p.clone()).or_default().push(id));
            c.snomed
                .iter()
                .for_each(|s| snomed.entry(s.clone()).or_default().push(id));
        }
        let mut loinc: HashMap<String, Vec<LabId>> = HashMap::new();
        for (id, l) in program.labs.iter().enumerate() {
            l.loinc
                .iter()
                .for_each(|code| loinc.entry(code.clone()).or_default().push(id));
        }
        Vocabulary {
            status: crate::patient::StatusPolicy::default(),
            index: MedIndex::build(program),
            drug_bits,
            drugs,
            classes,
            conditions: program.conditions.len(),
            icd10,
            snomed,
            loinc,
            lab_dimensions: program.labs.iter().map(|l| l.dimension).collect(),
            derivations: program
                .labs
                .iter()
                .enumerate()
                .filter_map(|(id, l)| Some((id, l.computed?)))
                .collect(),
        }
    }

    /// Width of a drug-and-class bitset.
    pub fn set_bits(&self) -> usize {
        self.drugs + self.classes
    }

    /// The bit of a drug or class.
    pub fn bit(&self, set: SetRef) -> usize {
        match set {
            SetRef::Drug(d) => d,
            SetRef::Class(c) => self.drugs + c,
        }
    }

    /// Number of declared conditions.
    pub fn condition_count(&self) -> usize {
        self.conditions
    }

    /// Calls `f` with every condition a coded record matches (ICD-10-CM by prefix, SNOMED CT
    /// exactly; a code of another system matches none).
    pub fn match_condition(&self, system: CodeSystem, code: &str, mut f: impl FnMut(ConditionId)) {
        match system {
            CodeSystem::Other => {}
            CodeSystem::Snomed => self
                .snomed
                .get(code.trim())
                .into_iter()
                .flatten()
                .for_each(|&c| f(c)),
            CodeSystem::Icd10 => {
                let mut buf = [0u8; 16];
                let mut n = 0;
                for b in code.trim().bytes().filter(|b| *b != b'.') {
                    if n == buf.len() {
                        return;
                    }
                    buf[n] = b.to_ascii_uppercase();
                    n += 1;
                }
                for len in 1..=n {
                    let Ok(prefix) = std::str::from_utf8(&buf[..len]) else {
                        return;
                    };
                    self.icd10
                        .get(prefix)
                        .into_iter()
                        .flatten()
                        .for_each(|&c| f(c));
                }
            }
        }
    }

    /// The labs a LOINC code belongs to.
    pub fn labs_for(&self, code: &str) -> &[LabId] {
        self.loinc.get(code.trim()).map_or(&[], Vec::as_slice)
    }

    /// Labs derived from others when no value is reported, with how.
    pub fn derivations(&self) -> &[(LabId, Derivation)] {
        &self.derivations
    }

    /// A lab's dimension.
    pub fn lab_dimension(&self, lab: LabId) -> Dimension {
        self.lab_dimensions[lab]
    }
}
