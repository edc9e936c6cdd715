//! `rxguard serve`, the CDS Hooks service, started in-process on a loopback port and spoken to
//! over real HTTP: discovery, the hooks, the errors, feedback that survives a restart, the JWT
//! attacks it must refuse, and a graceful shutdown.
#![cfg(feature = "serve")]

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rxguard::Engine;
use rxguard::date::Date;
use rxguard::serve::{Auth, Config, JwtAuth, Server};
use serde_json::{Value, json};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const AUDIENCE: &str = "https://cds.example.org/cds-services";
const ISSUER: &str = "https://ehr.example.org";
const KEYS: &str = "tests/data/cds/keys";

#[path = "serve/actions.rs"]
mod actions;
#[path = "serve/edge.rs"]
mod edge;
#[path = "serve/fhir_server.rs"]
mod fhir_server;
#[path = "serve/jku.rs"]
mod jku;
#[path = "serve/ops.rs"]
mod ops;

// ---------------------------------------------------------------------------------------------
// A server and a small HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

async fn start(auth: Auth, feedback_log: Option<PathBuf>) -> Server {
    start_with(Config {
        auth,
        feedback_log,
        ..config()
    })
    .await
}

/// The bundled packs as of 2026-11-01, without authentication, with the default limits.
fn config() -> Config {
    Config {
        as_of: Date::parse("2026-11-01"),
        ..Config::new(
            Engine::bundled().expect("the bundled packs compile"),
            Auth::InsecureNoAuth,
        )
    }
}

async fn start_with(config: Config) -> Server {
    rxguard::serve::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("binds a loopback port")
}

async fn insecure() -> Server {
    start(Auth::InsecureNoAuth, None).await
}

fn jwt() -> JwtAuth {
    JwtAuth::from_jwks_file(
        &Path::new(KEYS).join("jwks.json"),
        vec![ISSUER.to_string()],
        AUDIENCE.to_string(),
    )
    .expect("the test JWKS loads")
}

fn jwt_auth() -> Auth {
    Auth::Jwt(jwt())
}

struct Reply {
    status: u16,
    body: Value,
}

/// One request on a fresh connection (`Connection: close`); the body is written while the
/// answer is read, so a server that answers early (413) is heard.
async fn request(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Reply {
    request_at(server.local_addr(), method, path, token, body).await
}

/// [`request`] to a server at `addr` (one started as the binary).
async fn request_at(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Reply {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        let (mut read, mut write) = stream.into_split();
        let body = body.unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        head.push_str("\r\n");
        let writer = tokio::spawn(async move {
            // The server may close before reading everything (413): not an error here.
            let _ = write.write_all(head.as_bytes()).await;
            let _ = write.write_all(&body).await;
            let _ = write.flush().await;
            write
        });
        let mut raw = Vec::new();
        // A reset after the answer (a body left unread) leaves what was read in `raw`.
        let _ = read.read_to_end(&mut raw).await;
        drop(writer.await);
        parse(&raw)
    };
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("the server answers within 20 s")
}

fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or_else(|_| {
            panic!(
                "{status}: the body is not JSON: {}",
                String::from_utf8_lossy(&body)
            )
        })
    };
    Reply { status, body }
}

fn unchunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16)
            .expect("a chunk size");
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

async fn post(server: &Server, path: &str, token: Option<&str>, body: &Value) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap();
    request(server, "POST", path, token, Some(bytes)).await
}

/// `rxguard serve` running as its own process.
struct Binary {
    child: Child,
    addr: SocketAddr,
    /// What it has written to standard error after the line saying where it listens.
    stderr: Arc<Mutex<Vec<String>>>,
}

/// `rxguard serve` on a free loopback port, with these extra arguments.
fn spawn_binary(args: &[&str]) -> Binary {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rxguard"))
        .args(["serve", "--addr", "127.0.0.1:0", "--as-of", "2026-11-01"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server says where it listens")
            .unwrap();
        if let Some((_, rest)) = line.split_once("rxguard serve: http") {
            let rest = rest.trim_start_matches('s').trim_start_matches("://");
            break rest.split('/').next().unwrap().parse().expect("an address");
        }
    };
    // Keep draining its standard error so that it never blocks on a full pipe.
    let kept = Arc::new(Mutex::new(Vec::new()));
    let keep = kept.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            keep.lock().unwrap().push(line);
        }
    });
    Binary {
        child,
        addr,
        stderr: kept,
    }
}

/// Waits up to `within` for the process to end: its exit status, or `None`.
fn exits_within(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let started = std::time::Instant::now();
    while started.elapsed() < within {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("tests/data/cds/{name}.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The order-select request: a draft oxycodone order, with lorazepam (and rescue naloxone)
/// active in the prefetched medications.
fn order_select() -> Value {
    fixture("order_select_oxycodone_lorazepam")
}

fn without_medication(mut request: Value, id: &str) -> Value {
    let entries = request["prefetch"]["medications"]["entry"]
        .as_array_mut()
        .unwrap();
    entries.retain(|e| e["resource"]["id"] != id);
    request
}

fn cards(reply: &Reply) -> &Vec<Value> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["cards"].as_array().expect("a cards array")
}

/// The cards that are not `info`.
fn alerts(reply: &Reply) -> Vec<&Value> {
    cards(reply)
        .iter()
        .filter(|c| c["indicator"] != "info")
        .collect()
}

fn gap_card(reply: &Reply) -> Option<&Value> {
    cards(reply)
        .iter()
        .find(|c| c["summary"] == "Some checks could not be run")
}

fn rule_of(card: &Value) -> &str {
    card["source"]["topic"]["code"].as_str().unwrap_or_default()
}

/// An override reason the opioid-with-benzodiazepine card offers.
const ALTERNATIVES_INADEQUATE: &str =
    "Alternatives inadequate; doses minimized and patient counselled";

fn feedback_body(card: &str) -> Value {
    json!({"feedback": [{
        "card": card,
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"code": ALTERNATIVES_INADEQUATE, "system": rxguard::serve::OVERRIDE_REASON_SYSTEM},
            "userComment": "Palliative care"
        },
        "outcomeTimestamp": "2026-11-01T10:15:00Z"
    }]})
}

/// A fresh path for a feedback log (the file itself does not exist yet).
fn log_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.ndjson"));
    let _ = std::fs::remove_file(&path);
    path
}

fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Discovery and the hooks
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_lists_the_three_services_with_their_prefetch_templates() {
    let server = insecure().await;
    let reply = request(&server, "GET", "/cds-services", None, None).await;
    assert_eq!(reply.status, 200);
    let services = reply.body["services"].as_array().unwrap();
    let hooks: Vec<(&str, &str)> = services
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["hook"].as_str().unwrap()))
        .collect();
    assert_eq!(
        hooks,
        [
            ("rxguard-order-select", "order-select"),
            ("rxguard-order-sign", "order-sign"),
            ("rxguard-patient-view", "patient-view"),
        ]
    );
    for service in services {
        assert!(service["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(
            service["description"]
                .as_str()
                .unwrap()
                .contains("CNS depressant combinations")
        );
        let prefetch = &service["prefetch"];
        assert_eq!(prefetch["patient"], "Patient/{{context.patientId}}");
        assert_eq!(
            prefetch["medications"],
            "MedicationRequest?patient={{context.patientId}}&status=active,on-hold,stopped,completed"
        );
        assert_eq!(
            prefetch["statements"],
            "MedicationStatement?patient={{context.patientId}}"
        );
        assert_eq!(
            prefetch["conditions"],
            "Condition?patient={{context.patientId}}"
        );
        let observations = prefetch["observations"].as_str().unwrap();
        assert!(observations.starts_with("Observation?patient={{context.patientId}}&code="));
        // The loaded labs' codes (eGFR, CrCl, creatinine) and body weight.
        for code in ["62238-1", "2164-2", "2160-0", "29463-7", "8302-2"] {
            assert!(
                observations.contains(&format!("http://loinc.org|{code}")),
                "{observations} lacks {code}"
            );
        }
    }
}

/// The acceptance test: an opioid ordered for a patient taking a benzodiazepine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_select_warns_of_an_opioid_ordered_with_an_active_benzodiazepine() {
    let server = insecure().await;
    let path = "/cds-services/rxguard-order-select";

    let reply = post(&server, path, None, &order_select()).await;
    let found = alerts(&reply);
    assert_eq!(found.len(), 1, "{:#}", reply.body);
    let card = found[0];
    assert!(["warning", "critical"].contains(&card["indicator"].as_str().unwrap()));
    assert_eq!(rule_of(card), "opioid_with_benzodiazepine");
    let text = format!("{} {}", card["summary"], card["detail"]).to_lowercase();
    assert!(
        text.contains("opioid") && text.contains("benzodiazepine"),
        "{text}"
    );
    assert!(
        text.contains("oxycodone") && text.contains("lorazepam"),
        "{text}"
    );
    assert!(card["summary"].as_str().unwrap().chars().count() < 140);
    assert!(card["uuid"].is_string() && card["source"]["label"].is_string());

    let no_lorazepam = without_medication(order_select(), "lorazepam-1");
    let reply = post(&server, path, None, &no_lorazepam).await;
    assert_eq!(alerts(&reply), Vec::<&Value>::new(), "{:#}", reply.body);

    // A draft that the EHR marks as a proposal is still the order being written.
    let mut proposed = order_select();
    for entry in proposed["context"]["draftOrders"]["entry"]
        .as_array_mut()
        .unwrap()
    {
        entry["resource"]["intent"] = json!("proposal");
    }
    let reply = post(&server, path, None, &proposed).await;
    let rules: Vec<&str> = alerts(&reply).into_iter().map(rule_of).collect();
    assert_eq!(rules, ["opioid_with_benzodiazepine"], "{:#}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_sign_answers_the_same_cards_for_the_orders_being_signed() {
    let server = insecure().await;
    let mut request = order_select();
    request["hook"] = json!("order-sign");
    let reply = post(&server, "/cds-services/rxguard-order-sign", None, &request).await;
    let rules: Vec<&str> = alerts(&reply).into_iter().map(rule_of).collect();
    assert_eq!(rules, ["opioid_with_benzodiazepine"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_select_cards_are_only_about_the_draft_orders() {
    // Lorazepam with tramadol already active is a finding, but not about the draft: it
    // belongs to patient-view, not to the card shown while ordering.
    let server = insecure().await;
    let mut request = without_medication(order_select(), "naloxone-1");
    let tramadol = fixture("patient_view_tramadol_lorazepam")["prefetch"]["medications"]["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["id"] == "tramadol-1")
        .cloned()
        .unwrap();
    let draft = &mut request["context"]["draftOrders"]["entry"][0]["resource"];
    draft["id"] = json!("draft-metformin");
    draft["medicationCodeableConcept"] = json!({"text": "metformin 500 MG Oral Tablet"});
    request["prefetch"]["medications"]["entry"]
        .as_array_mut()
        .unwrap()
        .push(tramadol);
    let reply = post(
        &server,
        "/cds-services/rxguard-order-select",
        None,
        &request,
    )
    .await;
    assert_eq!(alerts(&reply), Vec::<&Value>::new(), "{:#}", reply.body);

    // The same patient seen in patient-view: the pair is found.
    request["hook"] = json!("patient-view");
    let reply = post(
        &server,
        "/cds-services/rxguard-patient-view",
        None,
        &request,
    )
    .await;
    let rules: Vec<&str> = alerts(&reply).into_iter().map(rule_of).collect();
    assert!(rules.contains(&"opioid_with_benzodiazepine"), "{rules:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patient_view_cards_for_active_medications_and_a_gap_card_only_for_missing_keys() {
    let server = insecure().await;
    let path = "/cds-services/rxguard-patient-view";
    let request = fixture("patient_view_tramadol_lorazepam");
    assert!(request["prefetch"]["conditions"].is_null());

    // `conditions: null`: the EHR found none, so the seizure rule is decided (false).
    let reply = post(&server, path, None, &request).await;
    let rules: Vec<&str> = alerts(&reply).into_iter().map(rule_of).collect();
    assert!(rules.contains(&"opioid_with_benzodiazepine"), "{rules:?}");
    assert!(gap_card(&reply).is_none(), "{:#}", reply.body);

    // No `conditions` key: unknown, so the rule is a data gap, listed in one info card.
    let mut missing = request.clone();
    missing["prefetch"]
        .as_object_mut()
        .unwrap()
        .remove("conditions");
    let reply = post(&server, path, None, &missing).await;
    let same: Vec<&str> = alerts(&reply).into_iter().map(rule_of).collect();
    assert_eq!(same, rules);
    let gap = gap_card(&reply).expect("a gap card");
    assert_eq!(gap["indicator"], "info");
    assert!(gap["summary"].as_str().unwrap().chars().count() < 140);
    let detail = gap["detail"].as_str().unwrap();
    assert!(detail.contains("tramadol_in_seizure_disorder"), "{detail}");
    assert!(detail.contains("not provided"), "{detail}");
    assert_eq!(
        cards(&reply)
            .iter()
            .filter(|c| c["indicator"] == "info")
            .count(),
        1
    );

    // An OperationOutcome instead of the conditions: absent too, and said so.
    let mut failed = request.clone();
    failed["prefetch"]["conditions"] = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "Condition search timed out"}]
    });
    let reply = post(&server, path, None, &failed).await;
    let detail = gap_card(&reply).expect("a gap card")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("tramadol_in_seizure_disorder"), "{detail}");
    assert!(detail.contains("Condition search timed out"), "{detail}");
}

// ---------------------------------------------------------------------------------------------
// Prefetch written for another service
// ---------------------------------------------------------------------------------------------

/// The answer (cards) to a request that must succeed.
async fn answered(server: &Server, service: &str, request: &Value) -> Value {
    let reply = post(server, &format!("/cds-services/{service}"), None, request).await;
    assert_eq!(reply.status, 200, "{service}: {:#}", reply.body);
    reply.body
}

/// The acceptance test of prefetch by content: requests shaped as the CDS Hooks 2.0
/// specification's examples, as an EHR configured for another service sends them (its keys
/// `item1`, `item2`, ..., `context.patientId` as `Patient/p1`, a medication list split over two
/// searches, a NutritionOrder among the draft orders, a PractitionerRole and a `null` that are not
/// ours), get exactly the cards of the same data under rxguard's own keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_services_prefetch_keys_get_the_same_cards_as_ours() {
    let server = insecure().await;
    let cases = [
        (
            "rxguard-order-select",
            "other_keys/order_select",
            "order_select_oxycodone_lorazepam",
        ),
        (
            "rxguard-order-sign",
            "other_keys/order_sign",
            "other_keys/order_sign_own_keys",
        ),
        (
            "rxguard-patient-view",
            "other_keys/patient_view",
            "patient_view_tramadol_lorazepam",
        ),
    ];
    for (service, theirs, ours) in cases {
        let ours = answered(&server, service, &fixture(ours)).await;
        let theirs_request = fixture(theirs);
        assert!(
            theirs_request["prefetch"]
                .as_object()
                .unwrap()
                .keys()
                .all(|k| k.starts_with("item")),
            "{service}: the fixture uses none of our keys"
        );
        let theirs = answered(&server, service, &theirs_request).await;
        assert_eq!(theirs, ours, "{service}");
        // Not equal by being empty: each finds the opioid with the benzodiazepine, no gap.
        let rules: Vec<&str> = ours["cards"]
            .as_array()
            .unwrap()
            .iter()
            .map(rule_of)
            .collect();
        assert!(
            rules.contains(&"opioid_with_benzodiazepine"),
            "{service}: {rules:?}"
        );
        assert!(
            !ours.to_string().contains("Some checks could not be run"),
            "{service}: {ours:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetch_that_failed_under_any_key_is_a_data_gap_never_an_empty_list() {
    let server = insecure().await;
    let service = "rxguard-patient-view";
    let gap_detail = |answer: &Value| -> String {
        answer["cards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["summary"] == "Some checks could not be run")
            .map(|c| c["detail"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("a gap card: {answer:#}"))
    };
    let decided = answered(&server, service, &fixture("other_keys/patient_view")).await;
    let alerts_of = |answer: &Value| -> Vec<String> {
        answer["cards"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["indicator"] != "info")
            .map(|c| rule_of(c).to_string())
            .collect()
    };

    // The Condition search failed: an OperationOutcome in its place.
    let mut failed = fixture("other_keys/patient_view");
    failed["prefetch"]["item3"] = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "Condition search timed out"}]
    });
    let answer = answered(&server, service, &failed).await;
    let detail = gap_detail(&answer);
    assert!(detail.contains("tramadol_in_seizure_disorder"), "{detail}");
    assert!(detail.contains("`item3`"), "{detail}");
    assert!(detail.contains("Condition search timed out"), "{detail}");
    assert_eq!(alerts_of(&answer), alerts_of(&decided));

    // The same failure inside the search Bundle.
    let mut failed_inside = fixture("other_keys/patient_view");
    failed_inside["prefetch"]["item3"]["entry"] = json!([{"resource": {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "fatal", "code": "exception", "diagnostics": "database offline"}]
    }, "search": {"mode": "outcome"}}]);
    let detail = gap_detail(&answered(&server, service, &failed_inside).await);
    assert!(detail.contains("tramadol_in_seizure_disorder"), "{detail}");
    assert!(detail.contains("database offline"), "{detail}");

    // A condition search narrowed to some codes, or only its first page, is not the list.
    let mut narrowed = fixture("other_keys/patient_view");
    narrowed["prefetch"]["item3"]["link"][0]["url"] =
        json!("https://ehr.example.org/fhir/Condition?patient=p1&code=44054006");
    let detail = gap_detail(&answered(&server, service, &narrowed).await);
    assert!(detail.contains("tramadol_in_seizure_disorder"), "{detail}");
    assert!(detail.contains("narrowed by `code`"), "{detail}");
    let mut paged = fixture("other_keys/patient_view");
    paged["prefetch"]["item3"]["link"]
        .as_array_mut()
        .unwrap()
        .push(json!({"relation": "next", "url": "https://ehr.example.org/fhir?page=2"}));
    let detail = gap_detail(&answered(&server, service, &paged).await);
    assert!(detail.contains("first page"), "{detail}");

    // `null` under a key not ours cannot say which section is empty: unknown, not none.
    let mut null = fixture("other_keys/patient_view");
    null["prefetch"]["item3"] = Value::Null;
    let detail = gap_detail(&answered(&server, service, &null).await);
    assert!(detail.contains("tramadol_in_seizure_disorder"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prefetched_patient_must_be_the_patient_in_context() {
    let server = insecure().await;
    let path = "/cds-services/rxguard-patient-view";
    let reason = |reply: &Reply| reply.body["error"].as_str().unwrap_or_default().to_string();

    let mut other_patient = fixture("other_keys/patient_view");
    other_patient["context"]["patientId"] = json!("Patient/p2");
    let reply = post(&server, path, None, &other_patient).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reason(&reply).contains("Patient `p1`") && reason(&reply).contains("`p2`"),
        "{}",
        reply.body
    );

    // Another patient's medication in a search: refused, not mixed into the cards.
    let mut mixed = fixture("other_keys/patient_view");
    mixed["prefetch"]["item2"]["entry"][0]["resource"]["subject"]["reference"] =
        json!("Patient/p9");
    let reply = post(&server, path, None, &mixed).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reason(&reply).contains("Patient `p9`"), "{}", reply.body);

    // context.patientId that names no patient.
    let mut practitioner = fixture("other_keys/patient_view");
    practitioner["context"]["patientId"] = json!("Practitioner/dr-1");
    let reply = post(&server, path, None, &practitioner).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reason(&reply).contains("context.patientId"),
        "{}",
        reply.body
    );

    // Nothing usable under any key: 412.
    let mut nothing = fixture("other_keys/patient_view");
    nothing["prefetch"] = json!({"user": "123", "item9": null,
        "enc": {"resourceType": "Encounter", "id": "enc-1"}});
    assert_eq!(post(&server, path, None, &nothing).await.status, 412);
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_cannot_be_answered_get_their_status_and_a_reason() {
    let server = insecure().await;
    let path = "/cds-services/rxguard-order-select";
    let reason = |reply: &Reply| reply.body["error"].as_str().unwrap_or_default().to_string();

    // No prefetch at all, or none of its keys: 412.
    let mut no_prefetch = order_select();
    no_prefetch.as_object_mut().unwrap().remove("prefetch");
    let reply = post(&server, path, None, &no_prefetch).await;
    assert_eq!(reply.status, 412, "{}", reply.body);
    assert!(reason(&reply).contains("prefetch"));
    let mut empty = order_select();
    empty["prefetch"] = json!({});
    assert_eq!(post(&server, path, None, &empty).await.status, 412);

    // Not JSON, and JSON that is not a hook request: 400.
    let reply = request(&server, "POST", path, None, Some(b"{\"hook\": ".to_vec())).await;
    assert_eq!(reply.status, 400);
    assert!(reason(&reply).starts_with("not JSON"), "{}", reply.body);
    let reply = post(&server, path, None, &json!({"resourceType": "Bundle"})).await;
    assert_eq!(reply.status, 400);
    assert!(reason(&reply).contains("not a CDS Hooks request"));
    let mut wrong_hook = order_select();
    wrong_hook["hook"] = json!("patient-view");
    assert_eq!(post(&server, path, None, &wrong_hook).await.status, 400);
    let mut wrong_patient = order_select();
    wrong_patient["context"]["patientId"] = json!("p2");
    let reply = post(&server, path, None, &wrong_patient).await;
    assert_eq!(reply.status, 400);
    assert!(reason(&reply).contains("p2"));

    // An unknown service: 404.
    let reply = post(
        &server,
        "/cds-services/no-such-service",
        None,
        &order_select(),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert!(reason(&reply).contains("no-such-service"));

    // Over 1 MiB: 413.
    let mut big = b"{\"hook\": \"order-select\", \"padding\": \"".to_vec();
    big.resize(2 * 1024 * 1024, b'x');
    big.extend_from_slice(b"\"}");
    let reply = request(&server, "POST", path, None, Some(big)).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
}

// ---------------------------------------------------------------------------------------------
// Feedback
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_appended_to_the_log_and_survives_a_restart() {
    let log = log_path("feedback_restart");
    let path = "/cds-services/rxguard-order-select/feedback";

    let server = start(Auth::InsecureNoAuth, Some(log.clone())).await;
    let card = alerts(
        &post(
            &server,
            "/cds-services/rxguard-order-select",
            None,
            &order_select(),
        )
        .await,
    )[0]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = post(&server, path, None, &feedback_body(&card)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["card"], card.as_str());
    assert_eq!(lines[0]["outcome"], "overridden");
    assert_eq!(lines[0]["service"], "rxguard-order-select");
    assert_eq!(lines[0]["overrideReason"]["userComment"], "Palliative care");
    assert!(lines[0]["received"].as_str().unwrap().ends_with('Z'));

    // A bad item: 400, and nothing of that request is written.
    let mut bad = feedback_body(&card);
    bad["feedback"].as_array_mut().unwrap().push(
        json!({"card": card, "outcome": "ignored", "outcomeTimestamp": "2026-11-01T10:16:00Z"}),
    );
    assert_eq!(post(&server, path, None, &bad).await.status, 400);
    assert_eq!(log_lines(&log).len(), 1);

    server.shutdown();
    server.stopped().await.unwrap();

    let server = start(Auth::InsecureNoAuth, Some(log.clone())).await;
    let accepted = json!({"feedback": [{"card": card, "outcome": "accepted", "outcomeTimestamp": "2026-11-02T08:00:00Z"}]});
    let reply = post(
        &server,
        "/cds-services/rxguard-patient-view/feedback",
        None,
        &accepted,
    )
    .await;
    assert_eq!(reply.status, 200);
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 2, "the first line survives the restart");
    assert_eq!(lines[0]["outcome"], "overridden");
    assert_eq!(lines[1]["outcome"], "accepted");
    assert_eq!(lines[1]["service"], "rxguard-patient-view");

    let reply = post(&server, "/cds-services/nope/feedback", None, &accepted).await;
    assert_eq!(reply.status, 404);
    server.shutdown();
}

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(KEYS).join(name)).unwrap()
}

fn valid_claims(jti: &str) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now() + 300, "iat": now(), "jti": jti, "sub": "ehr-client"})
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rs256(claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(&pem("ehr-rs256.pem")).unwrap();
    sign(Algorithm::RS256, Some("ehr-rs"), &key, claims)
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn base64url_matches_the_rfc_examples() {
    assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64url(b"fooba"), "Zm9vYmE");
    assert_eq!(base64url(b"f"), "Zg");
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_that_must_not_pass_are_refused_before_anything_is_done() {
    let log = log_path("auth_attacks");
    let server = start(jwt_auth(), Some(log.clone())).await;
    let feedback = "/cds-services/rxguard-order-select/feedback";
    let body = feedback_body("29652120-c368-8b6d-ab81-8514f79691b6");
    let rsa = EncodingKey::from_rsa_pem(&pem("ehr-rs256.pem")).unwrap();
    let stranger = EncodingKey::from_rsa_pem(&pem("stranger-rs256.pem")).unwrap();

    let with = |f: &dyn Fn(&mut Value)| {
        let mut claims = valid_claims(&format!("attack-{}", now()));
        f(&mut claims);
        claims
    };
    let alg_none = format!(
        "{}.{}.",
        base64url(br#"{"alg":"none","typ":"JWT"}"#),
        base64url(
            serde_json::to_string(&valid_claims("none-1"))
                .unwrap()
                .as_bytes()
        )
    );
    // The classic confusion: HS256 keyed with the bytes of the RSA public key.
    let hmac_with_public_key = sign(
        Algorithm::HS256,
        Some("ehr-rs"),
        &EncodingKey::from_secret(&pem("ehr-rs256.pub.pem")),
        &valid_claims("hs-1"),
    );
    let replayed = rs256(&valid_claims("replayed-1"));
    let attacks: Vec<(&str, &str, Option<String>)> = vec![
        ("no token", "no Authorization header", None),
        (
            "not a JWT",
            "header cannot be read",
            Some("not-a-jwt".into()),
        ),
        (
            "expired",
            "expired",
            Some(rs256(&with(&|c| {
                c["exp"] = json!(now() - 3600);
                c["iat"] = json!(now() - 3900);
            }))),
        ),
        (
            "wrong aud",
            "`aud` is not this service",
            Some(rs256(&with(&|c| {
                c["aud"] = json!("https://evil.example.org/cds-services")
            }))),
        ),
        (
            "iss not allowed",
            "issuer (`iss`) is not allowed",
            Some(rs256(&with(&|c| {
                c["iss"] = json!("https://evil.example.org")
            }))),
        ),
        (
            "no jti",
            "missing field `jti`",
            Some(rs256(&with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }))),
        ),
        (
            "no iat",
            "missing field `iat`",
            Some(rs256(&with(&|c| {
                c.as_object_mut().unwrap().remove("iat");
            }))),
        ),
        ("alg none", "header cannot be read", Some(alg_none)),
        (
            "HS256 keyed with the public key",
            "HS256 is not accepted",
            Some(hmac_with_public_key),
        ),
        (
            "a key not in the JWKS, under a kid of the JWKS",
            "signature does not verify",
            Some(sign(
                Algorithm::RS256,
                Some("ehr-rs"),
                &stranger,
                &valid_claims("s-1"),
            )),
        ),
        (
            "a key not in the JWKS, no kid",
            "signature does not verify",
            Some(sign(
                Algorithm::RS256,
                None,
                &stranger,
                &valid_claims("s-2"),
            )),
        ),
        (
            "a key not in the JWKS, its own kid",
            "no key `stranger`",
            Some(sign(
                Algorithm::RS256,
                Some("stranger"),
                &stranger,
                &valid_claims("s-3"),
            )),
        ),
        (
            "RS512, an algorithm not accepted",
            "RS512 is not accepted",
            Some(sign(
                Algorithm::RS512,
                Some("ehr-rs"),
                &rsa,
                &valid_claims("rs512-1"),
            )),
        ),
    ];
    for (attack, reason, token) in &attacks {
        for path in [
            feedback,
            "/cds-services/rxguard-order-select",
            "/cds-services",
        ] {
            let reply = if path == "/cds-services" {
                request(&server, "GET", path, token.as_deref(), None).await
            } else if path == feedback {
                post(&server, path, token.as_deref(), &body).await
            } else {
                post(&server, path, token.as_deref(), &order_select()).await
            };
            assert_eq!(reply.status, 401, "{attack} on {path}: {}", reply.body);
            let said = reply.body["error"].as_str().unwrap_or_default();
            assert!(said.contains(reason), "{attack}: {said}");
        }
    }
    assert!(!log.exists(), "no refused request wrote feedback");

    // A valid token passes once; its replay is refused and writes nothing.
    let reply = post(&server, feedback, Some(&replayed), &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(log_lines(&log).len(), 1);
    let reply = post(&server, feedback, Some(&replayed), &body).await;
    assert_eq!(reply.status, 401, "replay: {}", reply.body);
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(log_lines(&log).len(), 1, "the replay wrote nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_tokens_are_accepted() {
    let log = log_path("auth_valid");
    let server = start(jwt_auth(), Some(log.clone())).await;
    let es256 = EncodingKey::from_ec_pem(&pem("ehr-es256.pem")).unwrap();
    let es384 = EncodingKey::from_ec_pem(&pem("ehr-es384.pem")).unwrap();

    let reply = request(
        &server,
        "GET",
        "/cds-services",
        Some(&rs256(&valid_claims("ok-discovery"))),
        None,
    )
    .await;
    assert_eq!(reply.status, 200);

    // CDS Hooks 2.0 names the service endpoint itself as the audience; 1.0 the base URL.
    let mut claims = valid_claims("ok-hook");
    claims["aud"] = json!(format!("{AUDIENCE}/rxguard-order-select"));
    let token = sign(Algorithm::ES256, Some("ehr-es256"), &es256, &claims);
    let reply = post(
        &server,
        "/cds-services/rxguard-order-select",
        Some(&token),
        &order_select(),
    )
    .await;
    let rules: Vec<&str> = alerts(&reply).into_iter().map(rule_of).collect();
    assert_eq!(rules, ["opioid_with_benzodiazepine"]);

    let token = sign(Algorithm::ES384, None, &es384, &valid_claims("ok-feedback"));
    let reply = post(
        &server,
        "/cds-services/rxguard-order-select/feedback",
        Some(&token),
        &feedback_body("29652120-c368-8b6d-ab81-8514f79691b6"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(log_lines(&log).len(), 1);
}

/// GET /cds-services with this token: its status and reason.
async fn discover_with(server: &Server, token: &str) -> (u16, String) {
    let reply = request(server, "GET", "/cds-services", Some(token), None).await;
    let reason = reply.body["error"].as_str().unwrap_or_default().to_string();
    (reply.status, reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exp_near_two_to_the_64_is_refused_and_never_reopens_a_replay() {
    let near_max = |jti: &str| {
        let mut claims = valid_claims(jti);
        claims["exp"] = json!(u64::MAX - 5);
        rs256(&claims)
    };
    let server = start(jwt_auth(), None).await;
    let token = near_max("overflow-1");
    for attempt in 0..3 {
        let (status, reason) = discover_with(&server, &token).await;
        assert_eq!(status, 401, "attempt {attempt}: {reason}");
        assert!(reason.contains("longer than the 300 s allowed"), "{reason}");
    }
    server.shutdown();

    // Even where such a lifetime is allowed, the replay store does not wrap `exp` around: the
    // token passes once, then never again.
    let server = start(Auth::Jwt(jwt().max_lifetime(u64::MAX)), None).await;
    let token = near_max("overflow-2");
    assert_eq!(discover_with(&server, &token).await.0, 200);
    for attempt in 0..3 {
        let (status, reason) = discover_with(&server, &token).await;
        assert_eq!(status, 401, "replay {attempt}: {reason}");
        assert!(reason.contains("already used"), "{reason}");
    }
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lived_tokens_are_refused_unless_the_lifetime_is_configured() {
    const TEN_YEARS: u64 = 10 * 366 * 86_400;
    let server = start(jwt_auth(), None).await;
    let mut ten_years = valid_claims("ten-years-1");
    ten_years["exp"] = json!(now() + TEN_YEARS);
    let (status, reason) = discover_with(&server, &rs256(&ten_years)).await;
    assert_eq!(status, 401, "{reason}");
    assert!(reason.contains("from `iat` to `exp`"), "{reason}");

    // Issued ten years ago and about to expire: still a ten-year token.
    let mut old = valid_claims("ten-years-2");
    old["iat"] = json!(now() - TEN_YEARS);
    old["exp"] = json!(now() + 60);
    let (status, reason) = discover_with(&server, &rs256(&old)).await;
    assert_eq!(status, 401, "{reason}");
    assert!(reason.contains("longer than the 300 s allowed"), "{reason}");

    // A clock a little ahead (within the leeway) is no reason to refuse a five-minute token.
    let mut hidden = valid_claims("ten-years-3");
    hidden["iat"] = json!(now() + 20);
    hidden["exp"] = json!(now() + 320);
    assert_eq!(discover_with(&server, &rs256(&hidden)).await.0, 200);
    let mut future = valid_claims("ten-years-4");
    future["iat"] = json!(now() + TEN_YEARS);
    future["exp"] = json!(now() + TEN_YEARS + 60);
    let (status, reason) = discover_with(&server, &rs256(&future)).await;
    assert_eq!(status, 401);
    assert!(reason.contains("issued in the future"), "{reason}");

    // Five minutes passes; an hour passes only where an hour is configured.
    assert_eq!(
        discover_with(&server, &rs256(&valid_claims("five-minutes")))
            .await
            .0,
        200
    );
    let mut hour = valid_claims("one-hour-1");
    hour["exp"] = json!(now() + 3600);
    assert_eq!(discover_with(&server, &rs256(&hour)).await.0, 401);
    server.shutdown();
    let server = start(Auth::Jwt(jwt().max_lifetime(3600)), None).await;
    assert_eq!(discover_with(&server, &rs256(&hour)).await.0, 200);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_after_a_restart_is_refused() {
    let log = log_path("replay_restart");
    let store = rxguard::serve::replay_store_beside(&log);
    let _ = std::fs::remove_file(&store);
    let auth = || Auth::Jwt(jwt().replay_store(&store, 1000).expect("the store opens"));
    let token = rs256(&valid_claims(&format!("restart-{}", now())));

    let server = start(auth(), Some(log.clone())).await;
    assert_eq!(discover_with(&server, &token).await.0, 200);
    server.shutdown();
    server.stopped().await.unwrap();
    assert!(store.exists(), "the store is kept beside the feedback log");

    let server = start(auth(), Some(log.clone())).await;
    let (status, reason) = discover_with(&server, &token).await;
    assert_eq!(status, 401, "the replay after the restart: {reason}");
    assert!(reason.contains("already used"), "{reason}");
    let fresh = rs256(&valid_claims(&format!("after-restart-{}", now())));
    assert_eq!(discover_with(&server, &fresh).await.0, 200);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_distinct_tokens_cannot_grow_the_replay_store_past_its_bound() {
    const CAPACITY: usize = 25;
    let log = log_path("replay_flood");
    let store = rxguard::serve::replay_store_beside(&log);
    let _ = std::fs::remove_file(&store);
    let auth = Auth::Jwt(jwt().replay_store(&store, CAPACITY).unwrap());
    let server = start(auth, Some(log)).await;
    let tokens: Vec<String> = (0..CAPACITY + 15)
        .map(|i| rs256(&valid_claims(&format!("flood-{i}-{}", now()))))
        .collect();
    let mut accepted = 0;
    for (i, token) in tokens.iter().enumerate() {
        let (status, reason) = discover_with(&server, token).await;
        if i < CAPACITY {
            assert_eq!(status, 200, "token {i}: {reason}");
            accepted += 1;
        } else {
            // Full of unexpired tokens: refused, and none of the earlier ones forgotten.
            assert_eq!(status, 401, "token {i}: {reason}");
            assert!(reason.contains("too many unexpired tokens"), "{reason}");
        }
    }
    assert_eq!(accepted, CAPACITY);
    let (status, reason) = discover_with(&server, &tokens[0]).await;
    assert_eq!(status, 401);
    assert!(reason.contains("already used"), "{reason}");
    let held = std::fs::read_to_string(&store).unwrap().lines().count();
    assert_eq!(held, CAPACITY, "one line per token admitted");
    server.shutdown();
}

// ---------------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stops_when_its_shutdown_handle_is_triggered() {
    let server = insecure().await;
    let addr = server.local_addr();
    assert_eq!(
        request(&server, "GET", "/cds-services", None, None)
            .await
            .status,
        200
    );
    server.shutdown();
    tokio::time::timeout(Duration::from_secs(10), server.stopped())
        .await
        .expect("stops within 10 s")
        .expect("stops cleanly");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens on {addr} any more"
    );
}
