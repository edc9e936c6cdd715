//! The three services: discovery, and a hook request (context and prefetch) read into one
//! patient record, checked, and answered with cards.
//!
//! The prefetch templates discovery lists (an EHR configured for another service sends other
//! keys: [`super::prefetch`] reads each value by what it is, whatever its key):
//!
//! | key | template | section |
//! |---|---|---|
//! | `patient` | `Patient/{{context.patientId}}` | age and sex |
//! | `medications` | `MedicationRequest?patient=…&status=active,on-hold,stopped,completed` | medications |
//! | `statements` | `MedicationStatement?patient=…` | medications |
//! | `conditions` | `Condition?patient=…` | conditions |
//! | `observations` | `Observation?patient=…&code=` the LOINC codes of the packs' labs, weight and height | labs |
//!
//! `null` under one of these keys is "the EHR looked and found nothing": the section is provided,
//! empty. A missing key or an OperationOutcome (the EHR could not fetch it) leaves the section
//! absent: the rules that read it are data gaps, listed in an info card. Stopped and completed orders are asked for
//! because the withdrawal rules read the medication history; FHIR search has no token for
//! "the last N days" in a template, so the query asks for every such order and the rules' own
//! look-back windows decide what counts.

use super::fhir_server::{self, Reach};
use super::prefetch::{
    self, CONDITIONS, MEDICATIONS, Note, OBSERVATIONS, PATIENT, Prefetch, STATEMENTS,
};
use super::{App, Refusal, body, known_service};
use crate::Engine;
use crate::date::Date;
use crate::fhir::Resources;
use crate::report::PatientReport;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::sync::Arc;

/// The hooks served, one service each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hook {
    OrderSelect,
    OrderSign,
    PatientView,
}

impl Hook {
    const ALL: [Hook; 3] = [Hook::OrderSelect, Hook::OrderSign, Hook::PatientView];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Hook::OrderSelect => "order-select",
            Hook::OrderSign => "order-sign",
            Hook::PatientView => "patient-view",
        }
    }

    fn service_id(self) -> &'static str {
        match self {
            Hook::OrderSelect => "rxguard-order-select",
            Hook::OrderSign => "rxguard-order-sign",
            Hook::PatientView => "rxguard-patient-view",
        }
    }

    pub(crate) fn of_service(id: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.service_id() == id)
    }

    /// Whether the cards are only those about the draft orders.
    fn about_draft_orders(self) -> bool {
        self != Hook::PatientView
    }

    fn title(self) -> &'static str {
        match self {
            Hook::OrderSelect => "rxguard: medication safety of the order being written",
            Hook::OrderSign => "rxguard: medication safety of the orders being signed",
            Hook::PatientView => "rxguard: medication safety of the patient's medication list",
        }
    }

    /// What the service does, naming the packs that have rules.
    fn description(self, engine: &Engine) -> String {
        let program = &engine.graph().program;
        let packs: Vec<String> = program
            .packs
            .iter()
            .enumerate()
            .filter(|(id, _)| program.rules.iter().any(|r| r.pack == *id))
            .map(|(_, p)| format!("{} {}", p.title, p.version))
            .collect();
        let what = match self {
            Hook::OrderSelect | Hook::OrderSign => {
                "Checks draft medication orders against the patient's medications, conditions \
                 and lab results, with one card per problem a draft order is part of."
            }
            Hook::PatientView => {
                "Checks the patient's medications against each other and against their \
                 conditions and lab results."
            }
        };
        format!("{what} Rule packs: {}.", packs.join(", "))
    }
}

/// `GET /cds-services`.
pub(crate) fn discovery(engine: &Engine) -> Value {
    let prefetch = prefetch_templates(engine);
    let services: Vec<Value> = Hook::ALL
        .iter()
        .map(|h| {
            json!({
                "hook": h.name(),
                "id": h.service_id(),
                "title": h.title(),
                "description": h.description(engine),
                "prefetch": prefetch,
            })
        })
        .collect();
    json!({ "services": services })
}

fn prefetch_templates(engine: &Engine) -> Value {
    let mut codes: Vec<&str> = Vec::new();
    let labs = engine.graph().program.labs.iter();
    for code in labs
        .flat_map(|l| l.loinc.iter().map(String::as_str))
        .chain(crate::fhir::BODY_WEIGHT_LOINC)
        .chain(crate::fhir::BODY_HEIGHT_LOINC)
    {
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    let loinc: Vec<String> = codes
        .iter()
        .map(|c| format!("{}|{c}", crate::fhir::system::LOINC))
        .collect();
    let patient = "{{context.patientId}}";
    json!({
        PATIENT: format!("Patient/{patient}"),
        MEDICATIONS: format!(
            "MedicationRequest?patient={patient}&status=active,on-hold,stopped,completed"
        ),
        STATEMENTS: format!("MedicationStatement?patient={patient}"),
        CONDITIONS: format!("Condition?patient={patient}"),
        OBSERVATIONS: format!("Observation?patient={patient}&code={}", loinc.join(",")),
    })
}

/// A hook request, as far as it is read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookRequest {
    hook: String,
    #[expect(
        dead_code,
        reason = "required by CDS Hooks; read to refuse requests without it"
    )]
    hook_instance: String,
    context: HookContext,
    #[serde(default)]
    prefetch: Option<Map<String, Value>>,
    /// The EHR's FHIR server, read for what the prefetch lacks when it is allow-listed.
    #[serde(default)]
    fhir_server: Option<String>,
    /// `{"access_token": ..., "token_type": "Bearer", ...}` for the FHIR server.
    #[serde(default)]
    fhir_authorization: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookContext {
    patient_id: String,
    #[serde(default)]
    draft_orders: Option<Value>,
}

fn bad_request(reason: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, reason)
}

/// `POST /cds-services/{id}`.
pub(crate) async fn call(
    State(app): State<Arc<App>>,
    id: Path<String>,
    request: Result<axum::body::Bytes, BytesRejection>,
) -> Response {
    let parsed = known_service(&id)
        .and_then(|hook| Ok((hook, body(request)?)))
        .and_then(|(hook, bytes)| Ok((hook, parse(hook, &bytes)?)));
    let answer = match parsed {
        Ok((hook, request)) => answer(&app, hook, request).await,
        Err(refusal) => Err(refusal),
    };
    match answer {
        Ok(cards) => {
            app.metrics.count_cards(&cards);
            axum::Json(cards).into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// The request, for this hook: read straight into its fields, without a JSON tree in between
/// (the prefetch, most of the body, is then not copied out of one).
fn parse(hook: Hook, bytes: &[u8]) -> Result<HookRequest, Refusal> {
    let request = serde_json::from_slice::<HookRequest>(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => bad_request(format!("not a CDS Hooks request: {e}")),
        _ => bad_request(format!("not JSON: {e}")),
    })?;
    if request.hook != hook.name() {
        return Err(bad_request(format!(
            "service `{}` answers the hook `{}`, not `{}`",
            hook.service_id(),
            hook.name(),
            request.hook
        )));
    }
    Ok(request)
}

async fn answer(app: &App, hook: Hook, mut request: HookRequest) -> Result<Value, Refusal> {
    let patient_id = prefetch::patient_id(&request.context.patient_id)?.to_string();
    let patient_id = patient_id.as_str();
    let mut given = request.prefetch.take().unwrap_or_default();
    let token = request
        .fhir_authorization
        .as_ref()
        .and_then(|a| a["access_token"].as_str());
    let templates = &app.discovery["services"][0]["prefetch"];
    let fhir_server = request.fhir_server.as_deref();
    let reach =
        fhir_server::complete(app, &mut given, fhir_server, token, patient_id, templates).await;
    let mut prefetch = read_prefetch(&given, patient_id, reach)?;
    let drafts = if hook.about_draft_orders() {
        draft_orders(request.context.draft_orders.as_ref(), hook)?
    } else {
        Vec::new()
    };
    let draft_ids: Vec<String> = drafts
        .iter()
        .map(|d| format!("MedicationRequest/{}", d["id"].as_str().unwrap_or_default()))
        .collect();
    let mut resources = Resources::default();
    for resource in std::mem::take(&mut prefetch.resources) {
        // A draft order the EHR also returned in the search counts once, as the draft.
        if !draft_ids.contains(&reference(&resource)) {
            resources
                .add(resource)
                .map_err(|e| bad_request(e.to_string()))?;
        }
    }
    for draft in &drafts {
        resources
            .add(draft.clone())
            .map_err(|e| bad_request(e.to_string()))?;
    }
    let sections = crate::fhir::Sections {
        medications: prefetch.medications || !drafts.is_empty(),
        conditions: prefetch.conditions,
        labs: prefetch.labs,
    };
    let mut patient = resources
        .patient(sections)
        .map_err(|e| bad_request(format!("the prefetched resources cannot be read: {e}")))?;
    // The prefetched Patient, if any, was checked to be this one.
    patient.id = Cow::Owned(patient_id.to_string());
    let as_of = app.as_of.unwrap_or_else(Date::today);
    let report = app
        .engine
        .check(&patient, as_of)
        .map_err(|e| bad_request(format!("the patient record cannot be checked: {e}")))?;
    let only = hook.about_draft_orders().then_some(draft_ids.as_slice());
    let mut answer = crate::fhir::cards(&report, only);
    let catalogue = app.catalogue_url.as_deref();
    super::actions::enrich(&mut answer, &report, &drafts, catalogue, &app.issued);
    let medication_list_missing = !drafts.is_empty() && !prefetch.medications;
    if let Some(card) = gap_card(&report, &prefetch, only, medication_list_missing)
        && let Some(cards) = answer["cards"].as_array_mut()
    {
        cards.push(card);
    }
    Ok(answer)
}

/// `Type/id` of a resource.
fn reference(resource: &Value) -> String {
    format!(
        "{}/{}",
        resource["resourceType"].as_str().unwrap_or_default(),
        resource["id"].as_str().unwrap_or_default()
    )
}

/// The prefetch (completed from the FHIR server when it could be), read by content; 412 when
/// neither gave anything usable.
fn read_prefetch(
    prefetch: &Map<String, Value>,
    patient_id: &str,
    reach: Reach,
) -> Result<Prefetch, Refusal> {
    let mut read = prefetch::read(prefetch, patient_id)?;
    let why = match reach {
        Reach::NotNeeded => "the FHIR server was not read (every template was answered)".into(),
        Reach::NotContacted(why) => why,
        Reach::Read(notes) => {
            let said: Vec<String> = notes
                .iter()
                .filter_map(|(kind, note)| match note {
                    Note::NotFetched(why) => Some(format!("{kind}: {why}")),
                    _ => None,
                })
                .collect();
            read.notes.extend(notes);
            format!("the FHIR server gave nothing usable ({})", said.join("; "))
        }
    };
    if read.is_empty() {
        return Err(precondition_failed(format!(
            "the prefetch (the templates of GET /cds-services) holds no Patient, no medication, \
             condition or observation search, and no `null` under rxguard's own keys, and {why}"
        )));
    }
    Ok(read)
}

fn precondition_failed(reason: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::PRECONDITION_FAILED, reason)
}

/// The MedicationRequests of `context.draftOrders`, each with an id and a status.
fn draft_orders(bundle: Option<&Value>, hook: Hook) -> Result<Vec<Value>, Refusal> {
    let Some(bundle) = bundle else {
        return Err(bad_request(format!(
            "{} needs context.draftOrders (a Bundle)",
            hook.name()
        )));
    };
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(bad_request("context.draftOrders is not a Bundle"));
    }
    let mut drafts = Vec::new();
    for (i, entry) in bundle["entry"].as_array().into_iter().flatten().enumerate() {
        let resource = &entry["resource"];
        if resource["resourceType"] != "MedicationRequest" {
            continue;
        }
        let mut draft = resource.clone();
        if draft["id"].as_str().is_none_or(str::is_empty) {
            draft["id"] = json!(format!("draft-{}", i + 1));
        }
        if draft["status"].is_null() {
            draft["status"] = json!("draft");
        }
        // A draft order in the hook's context is what is being ordered now, whatever intent the
        // EHR writes on it ("proposal" while it is composed): read as an order, never as the
        // proposal a record's MedicationRequest of that intent is.
        draft["intent"] = json!("order");
        drafts.push(draft);
    }
    Ok(drafts)
}

/// The info card for what could not be checked ([`crate::fhir::gap_card`]), with what only the
/// service knows: prefetch the EHR could not provide or gave only in part, a medication list not
/// sent.
fn gap_card(
    report: &PatientReport,
    prefetch: &Prefetch,
    only: Option<&[String]>,
    medication_list_missing: bool,
) -> Option<Value> {
    let mut lines = Vec::new();
    if medication_list_missing {
        lines.push(
            "- The patient's medication list was not prefetched: the draft orders were checked \
             only against each other."
                .to_string(),
        );
    }
    for (key, note) in &prefetch.notes {
        lines.push(match note {
            Note::Unavailable(why) => {
                format!("- Prefetch `{key}` could not be fetched by the EHR: {why}")
            }
            Note::NotFetched(why) => {
                format!("- The {key} resources were not prefetched, and {why}.")
            }
            Note::Partial(section, why) => format!(
                "- Prefetch `{key}` is {why}: a {} it does not list is unknown, not absent.",
                section.singular()
            ),
        });
    }
    crate::fhir::gap_card(report, lines, only)
}
