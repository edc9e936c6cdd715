//! Cards that act: what the service adds to [`crate::fhir::cards`] for an EHR.
//!
//! - `suggestions`, each with a `uuid`: on the order hooks, removing each draft order a card is
//!   about (a `delete` action naming `MedicationRequest/<id>`); and, where the naloxone rule
//!   fires, adding a draft order for a naloxone nasal spray (a `create` action). A card with
//!   suggestions says `selectionBehavior: "any"`.
//! - `overrideReasons`: the rule's own (`override` in the pack), or [`DEFAULT_OVERRIDE_REASONS`]
//!   when it has none.
//! - `links`: the rule's entry in the rule catalogue, when a base URL is configured.
//!
//! The cards answered are remembered ([`Issued`], bounded), so feedback can be checked against
//! the reasons and suggestions each card offered.

use crate::fhir::stable_uuid;
use crate::report::PatientReport;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// The system of the override reason codes.
pub const OVERRIDE_REASON_SYSTEM: &str = "urn:rxguard:override-reason";

/// The override reasons of a rule whose pack gives none.
pub const DEFAULT_OVERRIDE_REASONS: [&str; 3] = [
    "Benefit outweighs the risk; will monitor",
    "Patient already tolerates this combination",
    "Information on the card is not accurate for this patient",
];

/// The rule whose card offers a naloxone order.
const NALOXONE_RULE: &str = "opioid_without_naloxone";

/// The cards remembered, at most.
const ISSUED_CAPACITY: usize = 100_000;

/// What one card offered: its override reason codes and its suggestions' uuids.
#[derive(Clone, Debug)]
pub(crate) struct Offered {
    pub(crate) reasons: Vec<String>,
    pub(crate) suggestions: Vec<String>,
}

/// The cards answered since the start, the oldest forgotten past [`ISSUED_CAPACITY`].
#[derive(Default)]
pub(crate) struct Issued {
    cards: Mutex<(HashMap<String, Offered>, VecDeque<String>)>,
}

impl Issued {
    fn remember(&self, uuid: &str, offered: Offered) {
        let mut guard = self
            .cards
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (cards, order) = &mut *guard;
        if cards.insert(uuid.to_string(), offered).is_none() {
            order.push_back(uuid.to_string());
        }
        while order.len() > ISSUED_CAPACITY {
            if let Some(oldest) = order.pop_front() {
                cards.remove(&oldest);
            }
        }
    }

    /// What the card of this uuid offered, if this service answered it (since its start).
    pub(crate) fn offered(&self, uuid: &str) -> Option<Offered> {
        let guard = self
            .cards
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.0.get(uuid).cloned()
    }
}

/// Adds suggestions, default override reasons and links to the cards of `answer`, and
/// remembers what each offered. `drafts` are the draft orders of an order hook.
pub(crate) fn enrich(
    answer: &mut Value,
    report: &PatientReport,
    drafts: &[Value],
    links_base: Option<&str>,
    issued: &Issued,
) {
    let Some(cards) = answer["cards"].as_array_mut() else {
        return;
    };
    for card in cards {
        let rule = card["source"]["topic"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some(finding) = report.findings.iter().find(|f| f.rule == rule) else {
            continue; // the data-gap card
        };
        let uuid = card["uuid"].as_str().unwrap_or_default().to_string();
        let reasons = override_reasons(&finding.override_reasons);
        card["overrideReasons"] = Value::Array(reasons.iter().map(coding).collect());
        let mut suggestions: Vec<Value> = finding
            .medications
            .iter()
            .filter_map(|m| draft_with_id(drafts, &m.id).map(|d| (m, d)))
            .map(|(m, _)| remove_draft(&uuid, &m.id, &m.text))
            .collect();
        if rule == NALOXONE_RULE {
            suggestions.push(add_naloxone(&uuid, &report.patient));
        }
        let suggestion_ids: Vec<String> = suggestions
            .iter()
            .filter_map(|s| s["uuid"].as_str().map(str::to_string))
            .collect();
        if !suggestions.is_empty() {
            card["suggestions"] = Value::Array(suggestions);
            card["selectionBehavior"] = json!("any");
        }
        if let Some(base) = links_base {
            card["links"] = json!([{
                "label": format!("rxguard rule catalogue: {rule}"),
                "url": format!("{base}#{rule}"),
                "type": "absolute",
            }]);
        }
        issued.remember(
            &uuid,
            Offered {
                reasons,
                suggestions: suggestion_ids,
            },
        );
    }
}

fn override_reasons(own: &[String]) -> Vec<String> {
    if own.is_empty() {
        DEFAULT_OVERRIDE_REASONS.map(str::to_string).to_vec()
    } else {
        own.to_vec()
    }
}

fn coding(reason: &String) -> Value {
    json!({"code": reason, "system": OVERRIDE_REASON_SYSTEM, "display": reason})
}

/// The draft order whose reference (`MedicationRequest/<id>`) is `reference`.
fn draft_with_id<'a>(drafts: &'a [Value], reference: &str) -> Option<&'a Value> {
    let id = reference.strip_prefix("MedicationRequest/")?;
    drafts.iter().find(|d| d["id"] == id)
}

fn remove_draft(card: &str, reference: &str, text: &str) -> Value {
    let label = format!("Remove the draft order for {text}");
    json!({
        "label": label,
        "uuid": stable_uuid(card, reference),
        "actions": [{
            "type": "delete",
            "description": label,
            "resourceId": [reference],
        }],
    })
}

/// A draft order for naloxone 4 mg nasal spray, the rescue dose of the Narcan label
/// (RxNorm 1725059).
fn add_naloxone(card: &str, patient: &str) -> Value {
    let label = "Order naloxone 4 mg nasal spray for overdose rescue";
    json!({
        "label": label,
        "uuid": stable_uuid(card, "add naloxone"),
        "isRecommended": true,
        "actions": [{
            "type": "create",
            "description": label,
            "resource": {
                "resourceType": "MedicationRequest",
                "status": "draft",
                "intent": "order",
                "subject": {"reference": format!("Patient/{patient}")},
                "medicationCodeableConcept": {
                    "coding": [{
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "1725059",
                        "display": "naloxone hydrochloride 4 MG/ACTUAT Nasal Spray",
                    }],
                    "text": "naloxone 4 mg nasal spray",
                },
                "dosageInstruction": [{
                    "text": "For suspected opioid overdose: one spray in one nostril; if there is \
                             no response, or breathing slows again, another spray in the other \
                             nostril every 2 to 3 minutes. Call emergency services.",
                    "asNeededBoolean": true,
                }],
                "dispenseRequest": {"quantity": {"value": 2, "unit": "spray device"}},
            },
        }],
    })
}
