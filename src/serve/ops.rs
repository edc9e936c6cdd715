//! Operations: `GET /healthz` and `/readyz`, `GET /metrics` in Prometheus' text format, and one
//! structured log event per request.
//!
//! None of them says anything about a patient. Labels come from small fixed sets (the route,
//! the hook, the rule id, the card's indicator, the kind of auth failure, the FHIR resource
//! type and outcome), never from what a client sent, so a client cannot grow the metrics. The request log
//! holds the method, the route, the status and the time taken, and no body, header or path
//! beyond the route.

use super::App;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

/// Latency buckets, in seconds: from half a millisecond to ten seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The service's counters and histograms, in a registry of its own (two services in one
/// process count apart).
pub(crate) struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    cards: IntCounterVec,
    auth_failures: IntCounterVec,
    fhir_fetches: IntCounterVec,
}

impl Metrics {
    /// The metrics, registered; an error only if two had one name (a bug, not an input).
    pub(crate) fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let counter = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(counter.clone()))?;
            Ok::<_, prometheus::Error>(counter)
        };
        let requests = counter(
            "rxguard_requests_total",
            "Requests answered, by route and status.",
            &["route", "status"],
        )?;
        let cards = counter(
            "rxguard_cards_total",
            "Cards answered, by rule and indicator.",
            &["rule", "indicator"],
        )?;
        let auth_failures = counter(
            "rxguard_auth_failures_total",
            "Requests refused 401, by kind of failure.",
            &["reason"],
        )?;
        let fhir_fetches = counter(
            "rxguard_fhir_fetches_total",
            "Reads of a FHIR server when prefetch was missing, by resource type and outcome.",
            &["resource", "outcome"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "rxguard_request_duration_seconds",
                "Time from a request's headers to its answer, by route.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            cards,
            auth_failures,
            fhir_fetches,
        })
    }

    /// Counts the cards of one answer, by rule and indicator.
    pub(crate) fn count_cards(&self, answer: &Value) {
        for card in answer["cards"].as_array().into_iter().flatten() {
            let rule = card["source"]["topic"]["code"].as_str().unwrap_or("none");
            let indicator = card["indicator"].as_str().unwrap_or("none");
            self.cards.with_label_values(&[rule, indicator]).inc();
        }
    }

    pub(crate) fn count_auth_failure(&self, failure: super::AuthFailure) {
        self.auth_failures
            .with_label_values(&[failure.label()])
            .inc();
    }

    /// Counts one query to a FHIR server (its pages together): `outcome` is `ok`, `partial`
    /// or why it failed.
    pub(crate) fn count_fhir_fetch(&self, resource: &str, outcome: &str) {
        self.fhir_fetches
            .with_label_values(&[resource, outcome])
            .inc();
    }

    fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

/// The route of a path, as the metrics and the log name it: never the raw path.
pub(crate) fn route(path: &str) -> &'static str {
    match path {
        "/cds-services" => "discovery",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        _ => match path.strip_prefix("/cds-services/") {
            Some(rest) => match rest.split_once('/') {
                Some((id, "feedback")) if super::hooks::Hook::of_service(id).is_some() => {
                    "feedback"
                }
                None => super::hooks::Hook::of_service(rest).map_or("other", |h| h.name()),
                _ => "other",
            },
            None => "other",
        },
    }
}

/// Whether a path is one of the operations endpoints, which need no token.
pub(crate) fn unauthenticated(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Times and counts every request, and logs it; the outermost layer, so that refusals count.
pub(crate) async fn observe(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = route(request.uri().path());
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status();
    app.metrics
        .requests
        .with_label_values(&[route, status.as_str()])
        .inc();
    app.metrics
        .latency
        .with_label_values(&[route])
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        target: "rxguard::serve::request",
        method = method.as_str(),
        route,
        status = status.as_u16(),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// `GET /healthz`: the process answers.
pub(crate) async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: ready to take hook requests, until shutdown begins.
pub(crate) async fn readyz(State(app): State<Arc<App>>) -> Response {
    if *app.stopping.borrow() {
        let body = json!({"status": "stopping"});
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    axum::Json(json!({"status": "ready", "rules": app.engine.graph().program.rules.len()}))
        .into_response()
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(app): State<Arc<App>>) -> Response {
    let mut response = app.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
