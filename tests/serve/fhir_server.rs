//! The FHIR server read when prefetch is missing, against a FHIR server double on loopback
//! (axum): it checks the bearer token, serves a patient's data as paged searchset Bundles, and
//! can answer slowly, fail, answer too much, redirect, or page off its own base.

use super::*;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rxguard::serve::FetchLimits;
use std::collections::HashMap;
use std::time::Instant;

const ACCESS_TOKEN: &str = "fhir-access-token-of-the-ehr";

/// Every request the double received: the path and query, and the Authorization header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// How the double answers one resource type.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    Slow,
    Fail,
    Oversized,
    /// Redirects to the other double.
    Redirect,
    /// The first page's `next` link points at the other double.
    NextElsewhere,
}

struct Double {
    base: String,
    seen: Seen,
}

#[derive(Clone)]
struct DoubleState {
    base: String,
    elsewhere: String,
    /// The fixture's prefetch: what the server holds for the patient.
    data: Arc<Value>,
    modes: Arc<HashMap<&'static str, Mode>>,
    seen: Seen,
}

impl Double {
    fn requests(&self) -> Vec<(String, Option<String>)> {
        self.seen.lock().unwrap().clone()
    }
}

/// A FHIR server on a loopback port, holding `fixture`'s prefetch, answering `modes`.
async fn double(
    fixture: &Value,
    modes: &[(&'static str, Mode)],
    elsewhere: Option<&Double>,
) -> Double {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = DoubleState {
        base: base.clone(),
        elsewhere: elsewhere.map_or_else(String::new, |d| d.base.clone()),
        data: Arc::new(fixture["prefetch"].clone()),
        modes: Arc::new(modes.iter().copied().collect()),
        seen: seen.clone(),
    };
    let app = axum::Router::new()
        .fallback(answer_as_fhir_server)
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Double { base, seen }
}

fn outcome(status: StatusCode, diagnostics: &str) -> Response {
    let body = json!({"resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": diagnostics}]});
    (status, axum::Json(body)).into_response()
}

fn searchset(base: &str, kind: &str, entries: &[Value], next: Option<String>) -> Value {
    let mut links = vec![json!({"relation": "self", "url": format!("{base}/{kind}?patient=p1")})];
    if let Some(next) = next {
        links.push(json!({"relation": "next", "url": next}));
    }
    let entry: Vec<Value> = entries
        .iter()
        .map(|r| {
            json!({"fullUrl": format!("{base}/{kind}/{}", r["id"].as_str().unwrap()),
            "resource": r, "search": {"mode": "match"}})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "total": entry.len(),
        "link": links, "entry": entry})
}

async fn answer_as_fhir_server(
    State(state): State<DoubleState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let asked = uri.path_and_query().map_or("", |p| p.as_str()).to_string();
    state
        .seen
        .lock()
        .unwrap()
        .push((asked, authorization.clone()));
    if authorization.as_deref() != Some(&format!("Bearer {ACCESS_TOKEN}")) {
        return outcome(StatusCode::UNAUTHORIZED, "no valid bearer token");
    }
    let path = uri.path().strip_prefix("/fhir/").unwrap_or_default();
    let kind = path.split('/').next().unwrap_or_default();
    let key = match kind {
        "Patient" => "patient",
        "MedicationRequest" => "medications",
        "MedicationStatement" => "statements",
        "Condition" => "conditions",
        "Observation" => "observations",
        _ => return outcome(StatusCode::NOT_FOUND, "no such resource type"),
    };
    match state.modes.get(kind).copied().unwrap_or(Mode::Normal) {
        Mode::Normal | Mode::NextElsewhere => {}
        Mode::Slow => tokio::time::sleep(Duration::from_secs(4)).await,
        Mode::Fail => return outcome(StatusCode::INTERNAL_SERVER_ERROR, "database down"),
        Mode::Oversized => {
            let padding = "x".repeat(400 * 1024);
            let body = json!({"resourceType": "Bundle", "type": "searchset", "padding": padding});
            return axum::Json(body).into_response();
        }
        Mode::Redirect => {
            let to = format!(
                "{}{}",
                state.elsewhere,
                uri.path().trim_start_matches("/fhir")
            );
            return (StatusCode::FOUND, [("location", to)]).into_response();
        }
    }
    let held = &state.data[key];
    if kind == "Patient" {
        return axum::Json(held.clone()).into_response();
    }
    let entries: Vec<Value> = held["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"].clone())
        .collect();
    // Searches are served one resource a page.
    let page: usize = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|p| p.strip_prefix("page="))
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    let here = entries.get(page - 1..page).unwrap_or_default();
    let next = (page < entries.len()).then(|| {
        let base = if state.modes.get(kind) == Some(&Mode::NextElsewhere) {
            &state.elsewhere
        } else {
            &state.base
        };
        format!("{base}/{kind}?patient=p1&page={}", page + 1)
    });
    axum::Json(searchset(&state.base, kind, here, next)).into_response()
}

/// A service that may read `allowed`, with a one-second timeout and 256 KiB per answer.
async fn service_reading(allowed: &[&Double]) -> Server {
    start_with(Config {
        fhir_servers: allowed.iter().map(|d| d.base.clone()).collect(),
        fetch_limits: FetchLimits {
            timeout: Duration::from_secs(1),
            max_bytes: 256 * 1024,
            max_pages: 5,
        },
        ..config()
    })
    .await
}

/// `request` without its prefetch, naming `fhir_server` with the EHR's access token.
fn unprefetched(mut request: Value, fhir_server: &str) -> Value {
    request.as_object_mut().unwrap().remove("prefetch");
    request["fhirServer"] = json!(fhir_server);
    request["fhirAuthorization"] = json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer",
        "expires_in": 300, "scope": "patient/*.read", "subject": "rxguard"});
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_prefetch_and_an_allow_listed_fhir_server_give_the_cards_of_full_prefetch() {
    let cases = [
        ("rxguard-order-select", order_select()),
        (
            "rxguard-patient-view",
            fixture("patient_view_tramadol_lorazepam"),
        ),
    ];
    for (service, full) in cases {
        let fhir = double(&full, &[], None).await;
        let server = service_reading(&[&fhir]).await;
        let path = format!("/cds-services/{service}");
        let expected = cards(&post(&server, &path, None, &full).await).clone();
        assert!(!expected.is_empty());
        let reply = post(
            &server,
            &path,
            None,
            &unprefetched(full.clone(), &fhir.base),
        )
        .await;
        assert_eq!(cards(&reply), &expected, "{service}");

        let seen = fhir.requests();
        let mut paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        paths.sort_unstable();
        let searched: Vec<&str> = paths.iter().map(|p| p.split('?').next().unwrap()).collect();
        // Each two-entry search comes in two pages; an empty one in one.
        assert_eq!(
            searched,
            [
                "/fhir/Condition",
                "/fhir/MedicationRequest",
                "/fhir/MedicationRequest",
                "/fhir/MedicationStatement",
                "/fhir/Observation",
                "/fhir/Observation",
                "/fhir/Patient/p1",
            ]
        );
        // The templates' own queries, and the second page of each two-entry search.
        let queries = [
            "/fhir/MedicationRequest?patient=p1&status=active,on-hold,stopped,completed",
            "/fhir/MedicationStatement?patient=p1",
            "/fhir/Condition?patient=p1",
            "/fhir/MedicationRequest?patient=p1&page=2",
            "/fhir/Observation?patient=p1&page=2",
        ];
        for query in queries {
            assert!(paths.contains(&query), "{query} not in {paths:?}");
        }
        assert!(
            paths
                .iter()
                .any(|p| p.starts_with("/fhir/Observation?patient=p1&code=")
                    && p.contains("http://loinc.org|29463-7")),
            "{paths:?}"
        );
        for (path, authorization) in &seen {
            let expected = format!("Bearer {ACCESS_TOKEN}");
            assert_eq!(authorization.as_deref(), Some(expected.as_str()), "{path}");
        }
        server.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_what_the_prefetch_lacks_is_read() {
    let full = order_select();
    let fhir = double(&full, &[], None).await;
    let server = service_reading(&[&fhir]).await;
    let path = "/cds-services/rxguard-order-select";
    let expected = cards(&post(&server, path, None, &full).await).clone();
    let mut partial = unprefetched(full.clone(), &fhir.base);
    partial["prefetch"] = json!({"item1": full["prefetch"]["medications"]});
    assert_eq!(cards(&post(&server, path, None, &partial).await), &expected);
    let seen = fhir.requests();
    assert!(
        seen.iter()
            .all(|(p, _)| !p.starts_with("/fhir/MedicationRequest")),
        "{seen:?}"
    );
    assert_eq!(
        seen.len(),
        5,
        "Patient, statements, conditions, two pages of observations"
    );

    // Full prefetch: the server is not read at all.
    let before = fhir.requests().len();
    let mut full_with_server = full.clone();
    full_with_server["fhirServer"] = json!(fhir.base);
    assert_eq!(
        cards(&post(&server, path, None, &full_with_server).await),
        &expected
    );
    assert_eq!(fhir.requests().len(), before);

    let page = super::ops::scrape(server.local_addr()).await;
    assert!(
        page.contains(r#"rxguard_fhir_fetches_total{outcome="ok",resource="Patient"} 1"#),
        "{page}"
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_failing_oversized_redirected_and_off_base_answers_are_data_gaps() {
    let full = order_select();
    let elsewhere = double(&full, &[], None).await;
    let modes = [
        ("Observation", Mode::Slow),
        ("Condition", Mode::Fail),
        ("MedicationStatement", Mode::Oversized),
        ("Patient", Mode::Redirect),
        ("MedicationRequest", Mode::NextElsewhere),
    ];
    let fhir = double(&full, &modes, Some(&elsewhere)).await;
    let server = service_reading(&[&fhir]).await;
    let started = Instant::now();
    let reply = post(
        &server,
        "/cds-services/rxguard-order-select",
        None,
        &unprefetched(full, &fhir.base),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the reads run at once, each cut at one second: {:?}",
        started.elapsed()
    );
    let gap = gap_card(&reply).expect("a data-gap card").clone();
    let detail = gap["detail"].as_str().unwrap();
    for said in [
        "The Observation resources were not prefetched, and reading them from the FHIR server failed: it did not answer in time",
        "The Condition resources were not prefetched, and reading them from the FHIR server failed: it answered 500",
        "The MedicationStatement resources were not prefetched, and reading them from the FHIR server failed: the answer is larger than 262144 bytes",
        "The Patient resources were not prefetched, and reading them from the FHIR server failed: it answered 302 Found, a redirect not followed",
        "only the first page of a search",
    ] {
        assert!(detail.contains(said), "{said}\nnot in\n{detail}");
    }
    assert_eq!(
        elsewhere.requests(),
        [],
        "nothing was sent off the allow-listed base"
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fhir_server_off_the_allow_list_is_refused_and_not_contacted() {
    let full = order_select();
    let allowed = double(&full, &[], None).await;
    let stranger = double(&full, &[], None).await;
    let server = service_reading(&[&allowed]).await;
    let path = "/cds-services/rxguard-order-select";
    let near_misses = [
        stranger.base.clone(),
        format!("{}-evil", allowed.base),
        format!("{}/Patient", allowed.base),
        allowed.base.replace("/fhir", "/other"),
    ];
    for fhir_server in &near_misses {
        let reply = post(
            &server,
            path,
            None,
            &unprefetched(full.clone(), fhir_server),
        )
        .await;
        assert_eq!(reply.status, 412, "{fhir_server}: {}", reply.body);
        let reason = reply.body["error"].as_str().unwrap();
        assert!(reason.contains("not on the allow-list"), "{reason}");
    }
    assert_eq!(stranger.requests(), []);
    assert_eq!(allowed.requests(), []);

    // The allow-listed server, with a token it does not accept: 412, since neither gave data.
    let mut wrong_token = unprefetched(full.clone(), &allowed.base);
    wrong_token["fhirAuthorization"]["access_token"] = json!("stolen");
    let reply = post(&server, path, None, &wrong_token).await;
    assert_eq!(reply.status, 412, "{}", reply.body);
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .contains("answered 401")
    );
    server.shutdown();

    // A service with no allow-list contacts nobody.
    let closed = insecure().await;
    let reply = post(&closed, path, None, &unprefetched(full, &stranger.base)).await;
    assert_eq!(reply.status, 412);
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .contains("no FHIR server is allowed")
    );
    assert_eq!(stranger.requests(), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_list_entry_must_be_https_or_loopback() {
    for (base, said) in [
        (
            "http://fhir.example.org/r4",
            "only https, or http on a loopback address",
        ),
        (
            "https://user:pw@fhir.example.org/r4",
            "no user, password or query",
        ),
        ("not a url", "--fhir-server not a url"),
    ] {
        let config = Config {
            fhir_servers: vec![base.to_string()],
            ..config()
        };
        let error = rxguard::serve::bind("127.0.0.1:0".parse().unwrap(), config)
            .await
            .unwrap_err();
        assert!(error.to_string().contains(said), "{base}: {error}");
    }
}
