//! `POST /cds-services/{id}/feedback` (CDS Hooks 2.0): what the clinician did with each card,
//! appended to a log file as one JSON line per card outcome, with the service and the time it
//! was received. The file is opened in append mode for each request and synced before the
//! answer, so an answered feedback survives a crash or a restart.

use super::actions::{Issued, Offered};
use super::{App, Refusal, body, error, known_service, now_utc};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where feedback is written: a file, or standard output.
pub(crate) struct FeedbackLog {
    path: Option<PathBuf>,
    /// One writer at a time, so lines of two requests never interleave.
    lock: Arc<Mutex<()>>,
}

impl FeedbackLog {
    pub(crate) fn new(path: Option<PathBuf>) -> FeedbackLog {
        FeedbackLog {
            path,
            lock: Arc::new(Mutex::new(())),
        }
    }

    /// Appends `lines` (each ending with a newline) and syncs the file.
    async fn append(&self, lines: String) -> std::io::Result<()> {
        let path = self.path.clone();
        let lock = self.lock.clone();
        let write = move || {
            let _one_writer = lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match path {
                Some(path) => {
                    let mut file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)?;
                    file.write_all(lines.as_bytes())?;
                    file.sync_data()
                }
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(lines.as_bytes())?;
                    out.flush()
                }
            }
        };
        tokio::task::spawn_blocking(write)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
    }
}

/// `POST /cds-services/{id}/feedback`.
pub(crate) async fn receive(
    State(app): State<Arc<App>>,
    id: Path<String>,
    request: Result<axum::body::Bytes, BytesRejection>,
) -> Response {
    let lines = known_service(&id)
        .and_then(|_| body(request))
        .and_then(|bytes| log_lines(&app.issued, &id, &bytes));
    let lines = match lines {
        Ok(lines) => lines,
        Err(refusal) => return refusal.into_response(),
    };
    let count = lines.len();
    if count > 0
        && let Err(e) = app.feedback.append(lines.concat()).await
    {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the feedback could not be written: {e}"),
        );
    }
    axum::Json(json!({ "received": count })).into_response()
}

/// One JSON line per feedback item, or a 400 naming the first item that is not one; nothing
/// is written unless every item can be.
fn log_lines(issued: &Issued, service: &str, bytes: &[u8]) -> Result<Vec<String>, Refusal> {
    let bad = |reason: String| Refusal::new(StatusCode::BAD_REQUEST, reason);
    let value: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let Some(items) = value.get("feedback").and_then(Value::as_array) else {
        return Err(bad("not CDS Hooks feedback: no `feedback` array".into()));
    };
    let received = now_utc();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let item = checked(item).map_err(|why| bad(format!("feedback[{i}]: {why}")))?;
            let card = item.get("card").and_then(Value::as_str).unwrap_or_default();
            let offered = issued.offered(card);
            if let Some(offered) = &offered {
                as_offered(item, offered).map_err(|why| bad(format!("feedback[{i}]: {why}")))?;
            }
            let mut line = item.clone();
            line.insert("service".into(), json!(service));
            // Whether the card is one this service answered since it started, so that the
            // reason and suggestions were checked against what it offered.
            line.insert("verified".into(), json!(offered.is_some()));
            line.insert("received".into(), json!(received));
            Ok(format!("{}\n", Value::Object(line)))
        })
        .collect()
}

/// The item, when it has what CDS Hooks requires of feedback.
fn checked(item: &Value) -> Result<&Map<String, Value>, &'static str> {
    let item = item.as_object().ok_or("not an object")?;
    if item
        .get("card")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("no `card` (the uuid of the card)");
    }
    match item.get("outcome").and_then(Value::as_str) {
        Some("accepted" | "overridden") => {}
        _ => return Err("`outcome` is neither `accepted` nor `overridden`"),
    }
    if !item.get("outcomeTimestamp").is_some_and(Value::is_string) {
        return Err("no `outcomeTimestamp`");
    }
    if item.get("overrideReason").is_some_and(|r| !r.is_object()) {
        return Err("`overrideReason` is not an object");
    }
    let accepted = item["outcome"] == "accepted";
    if item.contains_key("overrideReason") && accepted {
        return Err("an `overrideReason` on an `accepted` outcome");
    }
    if item.contains_key("acceptedSuggestions") && !accepted {
        return Err("`acceptedSuggestions` on an `overridden` outcome");
    }
    if item.get("acceptedSuggestions").is_some_and(|s| {
        !s.as_array()
            .is_some_and(|s| s.iter().all(|x| x["id"].is_string()))
    }) {
        return Err("`acceptedSuggestions` is not an array of `{\"id\": uuid}`");
    }
    Ok(item)
}

/// The item's override reason and accepted suggestions, when they are among what the card
/// offered.
fn as_offered(item: &Map<String, Value>, offered: &Offered) -> Result<(), String> {
    if let Some(code) = item
        .get("overrideReason")
        .and_then(|r| r["reason"]["code"].as_str())
        && !offered.reasons.iter().any(|r| r == code)
    {
        return Err(format!(
            "the override reason `{code}` is not one the card offered: {}",
            offered.reasons.join("; ")
        ));
    }
    let accepted = item.get("acceptedSuggestions").and_then(Value::as_array);
    for id in accepted
        .into_iter()
        .flatten()
        .filter_map(|s| s["id"].as_str())
    {
        if !offered.suggestions.iter().any(|s| s == id) {
            return Err(format!("the card offered no suggestion `{id}`"));
        }
    }
    Ok(())
}
