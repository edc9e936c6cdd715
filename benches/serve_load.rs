//! Load on `rxguard serve`, measured: the binary on a loopback port, and a hyper client keeping
//! 32, then 256, connections busy with order-select requests for a typical patient (the
//! oxycodone-with-lorazepam fixture), each with a fresh signed token. Prints requests per second,
//! p50 and p99 latency, and the server's RSS before and after; asserts nothing about time.
//!
//! Three configurations: JWT with the replay store in memory, JWT with the replay store on disk
//! (every token's line synced before its answer leaves), and no authentication (the engine and HTTP alone). Each run is
//! bounded in count and in time, and every request goes to 127.0.0.1.
//!
//! `cargo bench --bench serve_load` (about a minute on 2 cores, after the build).

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const AUDIENCE: &str = "https://cds.example.org/cds-services";
const ISSUER: &str = "https://ehr.example.org";
const KEYS: &str = "tests/data/cds/keys";
const PATH: &str = "/cds-services/rxguard-order-select";
/// Requests per run, and the longest a run may take.
const REQUESTS: usize = 20_000;
const TIME_CAP: Duration = Duration::from_secs(30);
const WARM_UP: usize = 500;

fn main() {
    // `cargo test` runs bench targets without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let body = Bytes::from(
        std::fs::read("tests/data/cds/order_select_oxycodone_lorazepam.json").expect("the fixture"),
    );
    let store = std::env::temp_dir().join(format!("rxguard-bench-{}.replay", std::process::id()));
    let jwks = format!("{KEYS}/jwks.json");
    let jwt = [
        "--jwks",
        jwks.as_str(),
        "--iss",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--replay-capacity",
        "1000000",
    ];
    let store_arg = store.to_string_lossy().to_string();
    let configurations: [(&str, Vec<&str>, bool); 3] = [
        ("JWT, replay store in memory", jwt.to_vec(), true),
        (
            "JWT, replay store on disk",
            [&jwt[..], &["--replay-store", store_arg.as_str()]].concat(),
            true,
        ),
        ("no authentication", vec!["--insecure-no-auth"], false),
    ];
    println!("rxguard serve under load: {REQUESTS} order-select requests per run, 2 cores shared");
    println!(
        "{:<30} {:>5} {:>9} {:>8} {:>8} {:>7} {:>11} {:>10}",
        "configuration", "conns", "req/s", "p50 ms", "p99 ms", "errors", "RSS MiB", "/metrics"
    );
    for (name, args, signed) in configurations {
        let _ = std::fs::remove_file(&store);
        let (mut child, addr) = spawn(&args);
        let rss_before = rss_mib(child.id());
        let mut counted = 0;
        for connections in [32, 256] {
            let tokens = Arc::new(tokens(signed, WARM_UP + REQUESTS));
            runtime.block_on(run(addr, &body, &tokens, connections, WARM_UP, 0));
            let result =
                runtime.block_on(run(addr, &body, &tokens, connections, REQUESTS, WARM_UP));
            counted += WARM_UP + result.done;
            let metrics = runtime.block_on(order_select_count(addr));
            println!(
                "{:<30} {:>5} {:>9.0} {:>8.2} {:>8.2} {:>7} {:>5.0} -> {:<4.0} {:>10}",
                name,
                connections,
                result.per_second(),
                result.percentile(0.50),
                result.percentile(0.99),
                result.errors,
                rss_before,
                rss_mib(child.id()),
                if metrics == counted as u64 {
                    format!("{metrics} ok")
                } else {
                    format!("{metrics} != {counted}")
                },
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_file(&store);
}

/// `rxguard serve` on a free port: the process and its address.
fn spawn(args: &[&str]) -> (Child, SocketAddr) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rxguard"))
        .args(["serve", "--addr", "127.0.0.1:0", "--as-of", "2026-11-01"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("its standard error");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("a line").expect("text");
        if let Some(rest) = line.strip_prefix("rxguard serve: http://") {
            break rest
                .split('/')
                .next()
                .unwrap_or_default()
                .parse()
                .expect("an address");
        }
    };
    // The request log goes on; drain it so the server never blocks on the pipe.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    (child, addr)
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// One token per request (each `jti` is accepted once), ES256; empty strings without auth.
fn tokens(signed: bool, count: usize) -> Vec<String> {
    if !signed {
        return vec![String::new(); count];
    }
    let key =
        EncodingKey::from_ec_pem(&std::fs::read(format!("{KEYS}/ehr-es256.pem")).expect("key"))
            .expect("an EC key");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ehr-es256".into());
    let now = jsonwebtoken::get_current_timestamp();
    // Distinct from every earlier run's, so no token is a replay of another.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (0..count)
        .map(|i| {
            let claims = serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "iat": now,
                "exp": now + 300, "jti": format!("load-{run}-{i}-{}", std::process::id())});
            jsonwebtoken::encode(&header, &claims, &key).expect("signs")
        })
        .collect()
}

struct Run {
    done: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        let Some(last) = self.latencies.len().checked_sub(1) else {
            return 0.0;
        };
        let at = ((last as f64) * p).round() as usize;
        self.latencies[at].as_secs_f64() * 1000.0
    }
}

/// `count` requests over `connections` keep-alive connections, tokens from `offset` on.
async fn run(
    addr: SocketAddr,
    body: &Bytes,
    tokens: &Arc<Vec<String>>,
    connections: usize,
    count: usize,
    offset: usize,
) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (next, tokens, body) = (next.clone(), tokens.clone(), body.clone());
        tasks.spawn(
            async move { connection(addr, body, tokens, next, count, offset, started).await },
        );
    }
    let mut result = Run {
        done: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    while let Some(Ok((latencies, errors))) = tasks.join_next().await {
        result.done += latencies.len();
        result.errors += errors;
        result.latencies.extend(latencies);
    }
    result.elapsed = started.elapsed();
    result.latencies.sort_unstable();
    result
}

/// One connection sending requests until `count` are taken or the time cap passes: the
/// latencies of the answers 200, and how many were not.
async fn connection(
    addr: SocketAddr,
    body: Bytes,
    tokens: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    count: usize,
    offset: usize,
    started: Instant,
) -> (Vec<Duration>, usize) {
    let (mut latencies, mut errors) = (Vec::new(), 0);
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
        return (latencies, 1);
    };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return (latencies, 1);
    };
    tokio::spawn(conn);
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= count || started.elapsed() > TIME_CAP {
            break;
        }
        let mut request = hyper::Request::post(PATH)
            .header("host", "localhost")
            .header("content-type", "application/json");
        let token = &tokens[offset + i];
        if !token.is_empty() {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let Ok(request) = request.body(Full::new(body.clone())) else {
            errors += 1;
            continue;
        };
        let sent = Instant::now();
        match sender.send_request(request).await {
            Ok(response) => {
                let ok = response.status() == 200;
                let collected = response.into_body().collect().await;
                if ok && collected.is_ok() {
                    latencies.push(sent.elapsed());
                } else {
                    errors += 1;
                }
            }
            Err(_) => {
                errors += 1;
                break;
            }
        }
    }
    (latencies, errors)
}

/// What `GET /metrics` counts of order-select requests.
async fn order_select_count(addr: SocketAddr) -> u64 {
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
        return 0;
    };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return 0;
    };
    tokio::spawn(conn);
    let Ok(request) = hyper::Request::get("/metrics")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
    else {
        return 0;
    };
    let Ok(response) = sender.send_request(request).await else {
        return 0;
    };
    let Ok(page) = response.into_body().collect().await else {
        return 0;
    };
    let page = String::from_utf8_lossy(&page.to_bytes()).to_string();
    page.lines()
        .find_map(|l| {
            l.strip_prefix("rxguard_request_duration_seconds_count{route=\"order-select\"} ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}
