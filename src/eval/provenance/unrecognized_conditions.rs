//! Conditions the vocabulary cannot read: coded only in another system (ICD-9-CM, WHO ICD-10, a
//! local code) or written as text only. Such a condition could be any diagnosis, epilepsy or
//! hospice care included, so it is listed with the rules it could change, as an unrecognized
//! medication is. A condition coded in ICD-10-CM or SNOMED CT that matches no declared condition
//! is not listed: the vocabulary read it, and it is none of the conditions the rules name.

use super::{Cx, Outcome};
use crate::compile::Node;
use crate::compile::NodeId;
use crate::ir::RuleId;
use crate::patient::ConditionRecord;
use crate::report::{EntryRef, UnrecognizedCondition};
use crate::value::Tri;

impl Cx<'_> {
    /// The patient's conditions that the vocabulary cannot read, each with the rules it could
    /// change. Refuted and entered-in-error entries are left out: no rule reads them.
    pub(super) fn unrecognized_conditions(
        &self,
        outcome: impl Fn(RuleId) -> Outcome,
    ) -> Vec<UnrecognizedCondition> {
        let Some(list) = &self.patient.conditions else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut could_change: Option<Vec<String>> = None;
        for (i, c) in list.iter().enumerate() {
            if !c.status.is_past_or_current() || c.read_code().is_some() || read_elsewhere(c, list)
            {
                continue;
            }
            let could_change = could_change
                .get_or_insert_with(|| self.rules_a_condition_could_change(&outcome))
                .clone();
            out.push(UnrecognizedCondition {
                entry: EntryRef {
                    id: c
                        .id
                        .as_deref()
                        .map_or_else(|| format!("condition #{}", i + 1), str::to_string),
                    text: c.text.as_deref().map_or_else(|| c.label(), str::to_string),
                    position: i + 1,
                },
                system: c.system.as_deref().map(str::to_string),
                code: c.code.as_deref().map(str::to_string),
                could_change,
            });
        }
        out
    }

    /// Rules a condition of any kind could change: one that did not fire but could, were some
    /// condition true (its `when` open once every condition predicate is unknown); one that
    /// fired but has an exception (`unless`, `downgrade`) reading conditions that does not hold
    /// now and could.
    fn rules_a_condition_could_change(&self, outcome: &impl Fn(RuleId) -> Outcome) -> Vec<String> {
        let nodes = &self.g.nodes;
        self.g
            .rules
            .iter()
            .enumerate()
            .filter(|&(r, rule)| {
                if self.g.program.rules[r].disabled {
                    return false;
                }
                match outcome(r) {
                    Outcome::Fired(_) => rule
                        .unless
                        .iter()
                        .chain(rule.downgrades.iter().map(|(_, n)| n))
                        .any(|&n| self.a_condition_could_make_true(n)),
                    Outcome::Suppressed(_) | Outcome::Superseded(_) => false,
                    Outcome::Skipped | Outcome::NotFired | Outcome::DataGap => {
                        reads_conditions(nodes, rule.when)
                            && self.open_without(rule.when, reads_conditions) != Tri::False
                    }
                }
            })
            .map(|(r, _)| self.g.program.rules[r].name.clone())
            .collect()
    }
}

impl Cx<'_> {
    /// An exception that reads conditions, does not hold now, and would hold were some
    /// condition true: the methadone exception with methadone taken, not without it.
    fn a_condition_could_make_true(&self, n: NodeId) -> bool {
        reads_conditions(&self.g.nodes, n)
            && self.plain(n).tri() != Tri::True
            && self.open_without(n, reads_conditions) != Tri::False
    }
}

/// Whether node `n` (or anything under it) reads the condition list.
fn reads_conditions(nodes: &[Node], n: NodeId) -> bool {
    let node = &nodes[n as usize];
    matches!(node, Node::Has(_) | Node::Had(_))
        || node.children().any(|c| reads_conditions(nodes, c))
}

/// The same condition (same entry id) is also given in a system the vocabulary reads: one
/// FHIR Condition coded in ICD-9-CM and SNOMED CT, written as two entries of our format.
fn read_elsewhere(c: &ConditionRecord<'_>, list: &[ConditionRecord<'_>]) -> bool {
    c.id.is_some()
        && list
            .iter()
            .any(|other| other.id == c.id && other.read_code().is_some())
}
