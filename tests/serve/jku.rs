//! Keys named by a token's `jku`: fetched from an allow-listed JWKS URL (a double on loopback)
//! and cached; a `jku` off the list is refused and never contacted.

use super::*;
use axum::extract::State;

/// A JWKS server on loopback serving the test JWKS: its URL and how many times it was asked.
async fn jwks_double() -> (String, Arc<Mutex<usize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/keys/jwks.json", listener.local_addr().unwrap());
    let asked = Arc::new(Mutex::new(0));
    let jwks = std::fs::read_to_string(Path::new(KEYS).join("jwks.json")).unwrap();
    let app = axum::Router::new()
        .fallback(
            |State((asked, jwks)): State<(Arc<Mutex<usize>>, String)>| async move {
                *asked.lock().unwrap() += 1;
                ([("content-type", "application/json")], jwks)
            },
        )
        .with_state((asked.clone(), jwks));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, asked)
}

fn es256_with_jku(jti: &str, kid: &str, jku: &str) -> String {
    let key = EncodingKey::from_ec_pem(&pem("ehr-es256.pem")).unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_string());
    header.jku = Some(jku.to_string());
    jsonwebtoken::encode(&header, &valid_claims(jti), &key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_come_from_an_allowed_jku_once_and_an_unknown_jku_is_never_fetched() {
    let (allowed, asked) = jwks_double().await;
    let (stranger, stranger_asked) = jwks_double().await;
    let auth = JwtAuth::jku_only(vec![ISSUER.to_string()], AUDIENCE.to_string())
        .unwrap()
        .allow_jku(std::slice::from_ref(&allowed), Duration::from_secs(300))
        .unwrap();
    let server = start(Auth::Jwt(auth), None).await;
    let stamp = now();

    for i in 0..3 {
        let token = es256_with_jku(&format!("jku-{i}-{stamp}"), "ehr-es256", &allowed);
        let (status, reason) = discover_with(&server, &token).await;
        assert_eq!(status, 200, "{reason}");
    }
    assert_eq!(*asked.lock().unwrap(), 1, "fetched once, then cached");

    let token = es256_with_jku(&format!("jku-stranger-{stamp}"), "ehr-es256", &stranger);
    let (status, reason) = discover_with(&server, &token).await;
    assert_eq!(status, 401);
    assert!(reason.contains("is not an allowed JWKS URL"), "{reason}");
    assert_eq!(*stranger_asked.lock().unwrap(), 0, "never contacted");

    // A kid the set lacks, just after it was fetched: not fetched again (at most once a minute).
    let token = es256_with_jku(&format!("jku-rotated-{stamp}"), "rotated", &allowed);
    let (status, reason) = discover_with(&server, &token).await;
    assert_eq!(status, 401);
    assert!(reason.contains("no key `rotated`"), "{reason}");
    assert_eq!(*asked.lock().unwrap(), 1);

    // Without a `jku` there are no keys of its own to verify with.
    let token = sign(
        Algorithm::ES256,
        Some("ehr-es256"),
        &EncodingKey::from_ec_pem(&pem("ehr-es256.pem")).unwrap(),
        &valid_claims(&format!("no-jku-{stamp}")),
    );
    assert_eq!(discover_with(&server, &token).await.0, 401);

    let page = super::ops::scrape(server.local_addr()).await;
    assert!(
        page.contains(r#"rxguard_auth_failures_total{reason="jku"} 1"#),
        "{page}"
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_allow_list_a_jku_is_not_followed() {
    let (url, asked) = jwks_double().await;
    let server = start(jwt_auth(), None).await;
    // Signed with a key of the service's own JWKS file: accepted, the `jku` left aside.
    let token = es256_with_jku(&format!("jku-file-{}", now()), "ehr-es256", &url);
    assert_eq!(discover_with(&server, &token).await.0, 200);
    assert_eq!(*asked.lock().unwrap(), 0);
    server.shutdown();

    let error = JwtAuth::jku_only(vec![ISSUER.to_string()], AUDIENCE.to_string())
        .unwrap()
        .allow_jku(
            &["http://keys.example.org/jwks.json".to_string()],
            Duration::from_secs(1),
        )
        .unwrap_err();
    assert!(error.to_string().contains("only https"), "{error}");
}
