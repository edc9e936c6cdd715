//! The edge under attack: slow headers, slow bodies, a lying `Content-Length`, more idle
//! connections than the limit, SIGTERM with a half-sent request, and kill -9 with the feedback
//! log and the replay store on disk. The last two run the `rxguard` binary itself.

use super::*;
use rxguard::serve::Limits;
use std::process::Command;
use std::time::Instant;
use tokio::net::TcpStream;

/// Limits short enough for a test: one second for headers, bodies and idle connections.
fn tight(max_connections: usize) -> Limits {
    Limits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        max_connections,
        shutdown_grace: Duration::from_secs(2),
    }
}

async fn start_limited(limits: Limits) -> Server {
    start_with(Config { limits, ..config() }).await
}

/// Reads until the server closes the connection (or resets it), or `within` passes: what was
/// read, and whether it was closed in time.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut raw = Vec::new();
    let closed = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (raw, closed)
}

fn status_of(raw: &[u8]) -> Option<u16> {
    String::from_utf8_lossy(raw)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_closed_at_the_header_timeout() {
    let server = start_limited(tight(64)).await;
    // Half a request line, then silence.
    let mut silent = TcpStream::connect(server.local_addr()).await.unwrap();
    silent
        .write_all(b"GET /cds-services HTTP/1.1\r\nHo")
        .await
        .unwrap();
    // Slowloris: a byte every 200 ms, never the blank line that ends the headers. The server
    // closes it; the writes fail soon after.
    let mut dribbling = TcpStream::connect(server.local_addr()).await.unwrap();
    let dribble = tokio::spawn(async move {
        let started = Instant::now();
        dribbling
            .write_all(b"GET /cds-services HTTP/1.1\r\n")
            .await
            .ok();
        for _ in 0..50 {
            if dribbling.write_all(b"X").await.is_err() {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    });
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(6)).await;
    assert!(closed, "a half-sent request line is closed within 6 s");
    let cut_off = dribble.await.unwrap();
    assert!(
        cut_off.is_some_and(|after| after < Duration::from_secs(6)),
        "the dribbling client was cut off after {cut_off:?}"
    );
    // The service still answers.
    assert_eq!(
        request(&server, "GET", "/cds-services", None, None)
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = start_limited(tight(64)).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(b"GET /cds-services HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (raw, closed) = read_until_closed(&mut stream, Duration::from_secs(6)).await;
    assert_eq!(status_of(&raw), Some(200));
    assert!(
        closed,
        "left idle after its answer, the connection is closed within 6 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_answered_408_and_closed() {
    let server = start_limited(tight(64)).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(
            b"POST /cds-services/rxguard-order-select HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"hook\":",
        )
        .await
        .unwrap();
    let (raw, closed) = read_until_closed(&mut stream, Duration::from_secs(6)).await;
    assert_eq!(
        status_of(&raw),
        Some(408),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert!(closed, "the connection is closed after the 408");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_content_length_of_ten_gigabytes_is_refused_before_its_body_is_read() {
    // The default limits: the refusal must not wait for any timeout.
    let server = insecure().await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(
            b"POST /cds-services/rxguard-order-select HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n{}",
        )
        .await
        .unwrap();
    let (raw, closed) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(status_of(&raw), Some(413), "{text}");
    assert!(text.contains("10737418240 bytes"), "{text}");
    assert!(
        closed,
        "closed at once, not held open for the 10 GB announced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_beyond_the_limit_wait_and_are_all_closed() {
    const LIMIT: usize = 8;
    let server = start_limited(tight(LIMIT)).await;
    let mut idle = Vec::new();
    for _ in 0..5 * LIMIT {
        idle.push(TcpStream::connect(server.local_addr()).await.unwrap());
    }
    // Past the limit a connection waits: while the first eight are held, a request is not
    // answered at once; once the idle ones are closed at their header timeout, it is.
    let started = Instant::now();
    let reply = request(&server, "GET", "/cds-services", None, None).await;
    assert_eq!(reply.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "answered after {:?}, while {LIMIT} idle connections held every slot",
        started.elapsed()
    );
    let closers = idle.into_iter().map(|mut stream| {
        tokio::spawn(async move {
            read_until_closed(&mut stream, Duration::from_secs(20))
                .await
                .1
        })
    });
    for (i, closer) in closers.enumerate() {
        assert!(closer.await.unwrap(), "idle connection {i} was closed");
    }
}

// ---------------------------------------------------------------------------------------------
// The binary: SIGTERM and kill -9
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_half_sent_request_stops_within_the_grace_period() {
    // Timeouts far past the grace period: only the shutdown deadline can end these.
    let Binary {
        mut child, addr, ..
    } = spawn_binary(&[
        "--insecure-no-auth",
        "--header-timeout",
        "120",
        "--body-timeout",
        "120",
        "--request-timeout",
        "120",
        "--shutdown-grace",
        "2",
    ]);
    assert_eq!(
        request_at(addr, "GET", "/cds-services", None, None)
            .await
            .status,
        200
    );
    let mut half_body = TcpStream::connect(addr).await.unwrap();
    half_body
        .write_all(
            b"POST /cds-services/rxguard-order-select HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"hook\":",
        )
        .await
        .unwrap();
    let mut half_head = TcpStream::connect(addr).await.unwrap();
    half_head
        .write_all(b"POST /cds-services/rxguard-order-")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let status = tokio::task::block_in_place(|| exits_within(&mut child, Duration::from_secs(8)));
    let Some(status) = status else {
        let _ = child.kill();
        panic!("still running 8 s after SIGTERM with a 2 s grace period");
    };
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the grace period was given"
    );
    for stream in [&mut half_body, &mut half_head] {
        assert!(
            read_until_closed(stream, Duration::from_secs(2)).await.1,
            "closed"
        );
    }
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "nothing listens any more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feedback_log_and_the_replay_store_survive_kill_9() {
    let log = log_path("kill_9");
    let store = rxguard::serve::replay_store_beside(&log);
    let _ = std::fs::remove_file(&store);
    let jwks = Path::new(KEYS).join("jwks.json");
    let args = [
        "--jwks",
        jwks.to_str().unwrap(),
        "--iss",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--feedback-log",
        log.to_str().unwrap(),
    ];
    let feedback = "/cds-services/rxguard-order-select/feedback";
    let body = serde_json::to_vec(&feedback_body("29652120-c368-8b6d-ab81-8514f79691b6")).unwrap();
    let used = rs256(&valid_claims(&format!("kill-9-{}", now())));

    let Binary {
        mut child, addr, ..
    } = spawn_binary(&args);
    let reply = request_at(addr, "POST", feedback, Some(&used), Some(body.clone())).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    child.kill().expect("SIGKILL"); // kill -9: no shutdown code runs
    child.wait().unwrap();

    let Binary {
        mut child, addr, ..
    } = spawn_binary(&args);
    let reply = request_at(addr, "POST", feedback, Some(&used), Some(body.clone())).await;
    assert_eq!(
        reply.status, 401,
        "the replay after kill -9: {}",
        reply.body
    );
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    let lines = log_lines(&log);
    assert_eq!(
        lines.len(),
        1,
        "the answered feedback was on disk before the kill"
    );
    assert_eq!(lines[0]["outcome"], "overridden");

    let fresh = rs256(&valid_claims(&format!("after-kill-9-{}", now())));
    let reply = request_at(addr, "POST", feedback, Some(&fresh), Some(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(log_lines(&log).len(), 2);
    child.kill().unwrap();
    child.wait().unwrap();
}
