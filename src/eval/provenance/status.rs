//! Notes on what the record was read to mean rather than what it wrote: open orders past the
//! site's horizon, holds, proposals, entries that share an id, eGFR units taken from the LOINC
//! code. Each is a step of the reading that a reviewer must be able to see.

use super::Cx;
use crate::patient::{EntryState, MedFact, MedicationStatus};
use crate::report::Note;

impl Cx<'_> {
    /// Every status note of this patient, in record order.
    pub(super) fn status_notes(&self, notes: &mut Vec<Note>) {
        let policy = &self.g.vocabulary.status;
        for m in &self.f.meds {
            if let Some(problem) = self.status_note(m, policy) {
                notes.push(Note {
                    entry: Some(self.entry(m)),
                    problem,
                });
            }
        }
        self.shared_ids(notes);
        self.assumed_units(notes);
    }

    fn status_note(&self, m: &MedFact, policy: &crate::patient::StatusPolicy) -> Option<String> {
        let record = self.patient.medications.as_ref()?.get(m.entry)?;
        if m.beyond_horizon {
            let day =
                |d: Option<crate::date::Date>| d.map_or_else(|| "?".into(), |d| d.to_string());
            return Some(format!(
                "an open order of {} with no end, older than the {}-day horizon for open orders: read as history, not taken now, ended by {} at the latest",
                day(m.start),
                policy.order_horizon_days.unwrap_or(0),
                day(m.end)
            ));
        }
        if record.status == MedicationStatus::Proposed {
            return Some(
                "a proposal or plan, not an order: not read by any rule (neither taken nor ordered)"
                    .into(),
            );
        }
        if !m.on_hold || m.state != EntryState::Taking {
            return None;
        }
        let limit = policy.on_hold_days;
        Some(match (m.interrupted, record.status_changed.as_deref()) {
            (Some(held), _) => format!(
                "on hold since {held}, at least the {limit}-day limit: taken for interactions, and stopped on {held} for withdrawal rules"
            ),
            (None, Some(held)) => format!(
                "on hold since {held}, under the {limit}-day limit: taken for interactions and withdrawal rules alike"
            ),
            (None, None) => format!(
                "on hold since a day the record does not give: taken for interactions; whether it is an interruption for withdrawal rules (held {limit} days or more) is unknown"
            ),
        })
    }

    /// Entries that share an id are each read; the report says the id is repeated. Sorted, not
    /// compared pairwise, so a record of many entries stays fast.
    fn shared_ids(&self, notes: &mut Vec<Note>) {
        let Some(meds) = self.patient.medications.as_ref() else {
            return;
        };
        let mut ids: Vec<(&str, usize)> = meds
            .iter()
            .enumerate()
            .filter_map(|(i, m)| Some((m.id.as_deref()?, i)))
            .collect();
        ids.sort_unstable();
        let mut repeated: Vec<(usize, &str, Vec<usize>)> = Vec::new();
        for group in ids.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
            let positions: Vec<usize> = group.iter().map(|&(_, i)| i + 1).collect();
            repeated.push((positions[0], group[0].0, positions));
        }
        // In record order, by the first entry of each id.
        repeated.sort_unstable();
        for (_, id, positions) in repeated {
            let list: Vec<String> = positions.iter().map(ToString::to_string).collect();
            notes.push(Note {
                entry: None,
                problem: format!(
                    "the id {id} is shared by {} medication entries (entries {} of the list): each is read as an entry of its own",
                    positions.len(),
                    list.join(", ")
                ),
            });
        }
    }

    /// eGFR results whose unit text was not per 1.73 m2, read by their LOINC code.
    fn assumed_units(&self, notes: &mut Vec<Note>) {
        for lab in self.f.labs.iter().filter(|l| l.unit_assumed) {
            let Some(record) = self.patient.labs.iter().flatten().nth(lab.entry) else {
                continue;
            };
            let def = &self.g.program.labs[lab.lab];
            let unit = def.dimension.canonical_unit();
            let written = if record.unit.trim().is_empty() {
                "no unit".to_string()
            } else {
                format!("the unit \"{}\"", record.unit)
            };
            notes.push(Note {
                entry: None,
                problem: format!(
                    "the {} result of {} (LOINC {}) is written with {written}; its LOINC code is defined per 1.73 m2, so it is read as {unit}",
                    def.name, lab.date, record.loinc
                ),
            });
        }
    }
}
