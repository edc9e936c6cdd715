//! Operations: health and readiness without a token, Prometheus metrics that count exactly
//! what was sent, a request log without patient data, and HTTPS with a certificate made here.

use super::*;
use tokio::net::TcpStream;
use tokio_rustls::rustls;

/// The value of one sample line of a Prometheus text page (`name{labels} value`), or 0.
fn sample(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

pub(super) async fn scrape(addr: SocketAddr) -> String {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    read.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_need_no_token_and_say_nothing_of_patients() {
    let server = start(jwt_auth(), None).await;
    let health = request(&server, "GET", "/healthz", None, None).await;
    assert_eq!(
        (health.status, &health.body),
        (200, &json!({"status": "ok"}))
    );
    let ready = request(&server, "GET", "/readyz", None, None).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "ready");
    let keys: Vec<&String> = ready.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["rules", "status"]);
    // The hooks still need one.
    let reply = request(&server, "GET", "/cds-services", None, None).await;
    assert_eq!(reply.status, 401);

    // Once shutdown begins, a request already on its way is told the service is not ready.
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(b"\r\n").await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw)).await;
    let reply = parse(&raw);
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.body["status"], "stopping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_exactly_the_requests_cards_and_refusals_of_a_run() {
    const N: usize = 12;
    let server = start(jwt_auth(), None).await;
    let path = "/cds-services/rxguard-order-select";
    for i in 0..N {
        let token = rs256(&valid_claims(&format!("metrics-{i}-{}", now())));
        let reply = post(&server, path, Some(&token), &order_select()).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let used = rs256(&valid_claims(&format!("metrics-used-{}", now())));
    assert_eq!(discover_with(&server, &used).await.0, 200);
    // Three refusals: no token, a replay, an expired token.
    assert_eq!(post(&server, path, None, &order_select()).await.status, 401);
    assert_eq!(
        post(&server, path, Some(&used), &order_select())
            .await
            .status,
        401
    );
    let mut expired = valid_claims("metrics-expired");
    expired["exp"] = json!(now() - 3600);
    expired["iat"] = json!(now() - 3900);
    let reply = post(&server, path, Some(&rs256(&expired)), &order_select()).await;
    assert_eq!(reply.status, 401);

    let page = scrape(server.local_addr()).await;
    let n = N as f64;
    let count = "rxguard_request_duration_seconds_count";
    assert_eq!(
        sample(&page, &format!("{count}{{route=\"order-select\"}}")),
        n + 3.0
    );
    assert_eq!(
        sample(&page, &format!("{count}{{route=\"discovery\"}}")),
        1.0
    );
    let requests = |route: &str, status: u16| {
        sample(
            &page,
            &format!("rxguard_requests_total{{route=\"{route}\",status=\"{status}\"}}"),
        )
    };
    assert_eq!(requests("order-select", 200), n);
    assert_eq!(requests("order-select", 401), 3.0);
    assert_eq!(requests("discovery", 200), 1.0);
    let cards = "rxguard_cards_total{indicator=\"warning\",rule=\"opioid_with_benzodiazepine\"}";
    assert_eq!(sample(&page, cards), n, "{page}");
    for reason in ["missing", "replayed", "time"] {
        let series = format!("rxguard_auth_failures_total{{reason=\"{reason}\"}}");
        assert_eq!(sample(&page, &series), 1.0, "{series}");
    }
    assert!(
        sample(
            &page,
            "rxguard_request_duration_seconds_bucket{route=\"order-select\",le=\"+Inf\"}"
        ) == n + 3.0
    );
    for patient_data in ["p1", "oxycodone", "lorazepam", "draft-oxy"] {
        assert!(
            !page.contains(patient_data),
            "the metrics name {patient_data}"
        );
    }
    // The scrape itself is counted from the next one on.
    let again = scrape(server.local_addr()).await;
    assert_eq!(
        sample(
            &again,
            "rxguard_requests_total{route=\"metrics\",status=\"200\"}"
        ),
        1.0
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_request_log_has_one_line_per_request_and_no_patient_data() {
    let Binary {
        mut child,
        addr,
        stderr,
    } = spawn_binary(&["--insecure-no-auth", "--log-format", "json"]);
    let body = serde_json::to_vec(&order_select()).unwrap();
    let path = "/cds-services/rxguard-order-select";
    assert_eq!(
        request_at(addr, "POST", path, None, Some(body))
            .await
            .status,
        200
    );
    assert_eq!(
        request_at(addr, "GET", "/nope/p1", None, None).await.status,
        404
    );
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let lines = stderr.lock().unwrap().clone();
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert_eq!(events.len(), 2, "{lines:?}");
    assert_eq!(events[0]["route"], "order-select");
    assert_eq!(events[0]["method"], "POST");
    assert_eq!(events[0]["status"], 200);
    assert!(events[0]["latency_ms"].as_f64().is_some());
    assert_eq!(events[1]["route"], "other");
    assert_eq!(events[1]["status"], 404);
    let text = lines.join("\n");
    for patient_data in ["p1", "oxycodone", "lorazepam", "draft-oxy"] {
        assert!(!text.contains(patient_data), "the log names {patient_data}");
    }
}

/// A self-signed certificate for `localhost`, written as PEM files: (cert, key, its DER).
fn self_signed(name: &str) -> (PathBuf, PathBuf, rustls::pki_types::CertificateDer<'static>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve");
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join(format!("{name}.cert.pem"));
    let key = dir.join(format!("{name}.key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key, made.cert.der().clone())
}

/// One HTTPS request (`Connection: close`) trusting only `root`.
async fn https(
    addr: SocketAddr,
    root: &rustls::pki_types::CertificateDer<'static>,
    head: &str,
    body: &[u8],
) -> Reply {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("the handshake");
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    // rustls reports a peer that closes without close_notify as an error; what came is kept.
    let _ = tls.read_to_end(&mut raw).await;
    parse(&raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_certificate_made_in_the_test() {
    let (cert, key, root) = self_signed("tls");
    let tls = rxguard::serve::Tls::from_pem_files(&cert, &key).expect("the PEM files load");
    let server = start_with(Config {
        tls: Some(tls),
        ..config()
    })
    .await;
    let addr = server.local_addr();
    let health = https(
        addr,
        &root,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        b"",
    )
    .await;
    assert_eq!(health.status, 200);
    let body = serde_json::to_vec(&order_select()).unwrap();
    let head = format!(
        "POST /cds-services/rxguard-order-select HTTP/1.1\r\nHost: localhost\r\n\
         Connection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let reply = https(addr, &root, &head, &body).await;
    let rules: Vec<&str> = alerts(&reply).into_iter().map(rule_of).collect();
    assert_eq!(rules, ["opioid_with_benzodiazepine"]);

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut raw)).await;
    assert!(!raw.starts_with(b"HTTP/1.1 200"), "{raw:?}");
    server.shutdown();

    // A key that is not a key, a certificate file without a certificate: refused at start.
    let error = rxguard::serve::Tls::from_pem_files(&cert, &cert).unwrap_err();
    assert!(error.to_string().contains("tls.cert.pem"), "{error}");
    let error = rxguard::serve::Tls::from_pem_files(&key, &key).unwrap_err();
    assert!(error.to_string().contains("no certificate"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_speaks_https_with_tls_cert_and_tls_key() {
    let (cert, key, root) = self_signed("tls_binary");
    let Binary {
        mut child, addr, ..
    } = spawn_binary(&[
        "--insecure-no-auth",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let reply = https(
        addr,
        &root,
        "GET /cds-services HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        b"",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["services"].as_array().unwrap().len(), 3);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ops_address_takes_health_and_metrics_off_the_main_address() {
    let server = start_with(Config {
        auth: jwt_auth(),
        ops_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..config()
    })
    .await;
    let ops = server.ops_addr().expect("an ops address");
    for path in ["/healthz", "/readyz", "/metrics"] {
        if path != "/metrics" {
            let on_ops = request_at(ops, "GET", path, None, None).await;
            assert_eq!(on_ops.status, 200, "{path} on the ops address");
        }
        let on_main = request(&server, "GET", path, None, None).await;
        assert_eq!(on_main.status, 404, "{path} on the main address");
    }
    // The hooks are not on the ops address, and still need their token on the main one.
    assert_eq!(
        request_at(ops, "GET", "/cds-services", None, None)
            .await
            .status,
        404
    );
    assert_eq!(
        request(&server, "GET", "/cds-services", None, None)
            .await
            .status,
        401
    );
    let page = scrape(ops).await;
    let series = "rxguard_requests_total{route=\"discovery\",status=\"401\"}";
    assert_eq!(sample(&page, series), 1.0, "{page}");
    server.shutdown();
    tokio::time::timeout(Duration::from_secs(10), server.stopped())
        .await
        .expect("both listeners stop")
        .expect("cleanly");
}
