//! The edge: how connections are accepted, timed and closed, so that slow or lying clients
//! cannot hold the service.
//!
//! - At most [`Limits::max_connections`] connections at once; past it, new ones wait in the
//!   listen backlog until one closes.
//! - The request headers must arrive within [`Limits::header_timeout`] (hyper's header read
//!   timeout), which also closes a keep-alive connection left idle that long.
//! - The body may pause at most [`Limits::body_timeout`] between two reads, and the whole request,
//!   body and answer included, takes at most [`Limits::request_timeout`] (tower-http's timeouts;
//!   408 past either).
//! - A `Content-Length` over [`super::BODY_LIMIT`] is answered 413 before any of the body is read,
//!   and the connection closed; a chunked body is cut at the limit as it is read.
//! - Shutdown stops accepting, lets the requests in flight finish, and after
//!   [`Limits::shutdown_grace`] closes whatever is left, a half-sent request included.
//! - With [`Tls`], each connection is a TLS 1.2 or 1.3 session (rustls, HTTP/1.1 only); the
//!   handshake must end within the header timeout.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::{TlsAcceptor, rustls};

/// How long clients may take, and how many may be connected at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest wait for a request's headers, and the longest a keep-alive connection may be
    /// idle.
    pub header_timeout: Duration,
    /// The longest pause while reading a request body.
    pub body_timeout: Duration,
    /// The longest a request may take, from its headers to the end of the answer.
    pub request_timeout: Duration,
    /// The most connections open at once.
    pub max_connections: usize,
    /// How long requests in flight may go on after shutdown begins.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    /// 10 s for headers (and idle keep-alive), 10 s of pause in a body, 30 s for a request,
    /// 1,024 connections, 10 s of grace at shutdown.
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// A certificate chain and its private key: the service speaks HTTPS.
#[derive(Clone)]
pub struct Tls(TlsAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls(..)")
    }
}

impl Tls {
    /// The certificate chain (PEM, the server's certificate first) and its private key (PEM:
    /// PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, super::ServeError> {
        let fail = |what: &Path, e: &dyn std::fmt::Display| {
            super::ServeError::Tls(format!("{}: {e}", what.display()))
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| fail(cert, &e))?;
        if chain.is_empty() {
            return Err(fail(cert, &"no certificate in the file"));
        }
        let private = PrivateKeyDer::from_pem_file(key).map_err(|e| fail(key, &e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
            .map_err(|e| fail(cert, &e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls(TlsAcceptor::from(Arc::new(config))))
    }
}

/// The timeouts and the size check, as layers around the routes.
pub(crate) fn layered(router: Router, limits: &Limits) -> Router {
    router
        .layer(axum::middleware::from_fn(refuse_declared_oversize))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_timeout,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
}

/// 413 for a request whose `Content-Length` is over the limit, before its body is read, and the
/// connection closed (so nothing of the body is read after the answer either).
async fn refuse_declared_oversize(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limit = u64::try_from(super::BODY_LIMIT).unwrap_or(u64::MAX);
    if let Some(length) = declared.filter(|n| *n > limit) {
        let mut response = super::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the request body is {length} bytes, larger than {} bytes",
                super::BODY_LIMIT
            ),
        );
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    next.run(request).await
}

/// Accepts connections until `stop` says so (or its sender is dropped), then shuts down within
/// the grace period.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Tls>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = stopped(&mut stop) => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // the listener itself is fine, so wait a moment and go on.
                    if !is_connection_error(&e) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let (router, http, watcher) = (router.clone(), http.clone(), graceful.watcher());
        let tls = tls.clone();
        let handshake_timeout = limits.header_timeout;
        connections.spawn(async move {
            match tls {
                None => connection(stream, router, &http, watcher).await,
                Some(Tls(acceptor)) => {
                    let handshake =
                        tokio::time::timeout(handshake_timeout, acceptor.accept(stream));
                    // A failed or slow handshake is the client's: close it and go on.
                    if let Ok(Ok(stream)) = handshake.await {
                        connection(stream, router, &http, watcher).await;
                    }
                }
            }
            drop(permit);
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let finished = async {
        graceful.shutdown().await;
        while connections.join_next().await.is_some() {}
    };
    let in_time = tokio::time::timeout(limits.shutdown_grace, finished).await;
    if in_time.is_err() {
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    Ok(())
}

/// Whether reading a body failed because it paused past the body timeout.
pub(crate) fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Serves one connection until it closes, watched for a graceful shutdown.
async fn connection<I>(
    io: I,
    router: Router,
    http: &hyper::server::conn::http1::Builder,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let connection = watcher.watch(http.serve_connection(TokioIo::new(io), service));
    // A connection closed by a timeout or the client is no error of the service.
    let _ = connection.await;
}

/// Ends when the stop is asked for, or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}
