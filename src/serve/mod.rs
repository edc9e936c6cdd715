//! `rxguard serve`: a CDS Hooks service (1.0 and 2.0) over the engine.
//!
//! Three services, one per hook: `rxguard-order-select`, `rxguard-order-sign` and
//! `rxguard-patient-view`. The EHR sends the draft orders in `context` and the patient's data in
//! `prefetch` (the templates of `GET /cds-services`), completed from an allow-listed
//! `fhirServer` when something is missing (`fhir_server`); the service reads them into one patient
//! record, checks it with packs compiled once at start, and answers the cards of
//! [`crate::fhir::cards`]. A section the EHR did not prefetch is absent, never empty: the rules
//! that read it are data gaps, listed in one info card.
//!
//! Unless started without authentication (local trials only), every request carries a JWT
//! (`Authorization: Bearer`) that [`auth`] verifies against a JWKS file; `/healthz`, `/readyz`
//! and `/metrics` need none and say nothing about patients (`ops`). The edge (`edge`) bounds
//! what a client can hold: timeouts, a connection limit, a body limit, TLS when configured.
//!
//! ```no_run
//! # async fn example() -> Result<(), rxguard::serve::ServeError> {
//! use rxguard::serve::{Auth, Config};
//!
//! let config = Config::new(rxguard::Engine::bundled().unwrap(), Auth::InsecureNoAuth);
//! let server = rxguard::serve::bind("127.0.0.1:0".parse().unwrap(), config).await?;
//! println!("listening on {}", server.local_addr());
//! server.shutdown();          // what Ctrl-C does for `rxguard serve`
//! server.stopped().await?;    // in-flight requests finish first
//! # Ok(())
//! # }
//! ```

mod actions;
pub mod auth;
mod edge;
mod feedback;
mod fhir_server;
mod hooks;
mod jku;
mod ops;
mod prefetch;
mod replay;

pub use actions::{DEFAULT_OVERRIDE_REASONS, OVERRIDE_REASON_SYSTEM};
pub use auth::{Admitted, AuthError, AuthFailure, JwtAuth};
pub use edge::{Limits, Tls};
pub use fhir_server::FetchLimits;
pub use replay::DEFAULT_CAPACITY as DEFAULT_REPLAY_CAPACITY;

use crate::Engine;
use crate::date::Date;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The largest request body accepted (413 past it).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// How requests are authenticated.
#[derive(Debug)]
pub enum Auth {
    /// JWTs from the EHR, verified against a JWKS file.
    Jwt(JwtAuth),
    /// No authentication at all: for trials on one's own machine, never with patient data.
    InsecureNoAuth,
}

/// What a service runs with.
#[derive(Debug)]
pub struct Config {
    /// The compiled packs (with a site profile, when there is one).
    pub engine: Engine,
    /// How requests are authenticated.
    pub auth: Auth,
    /// Where feedback goes, one JSON line per card outcome (appended, synced); standard output
    /// when `None`.
    pub feedback_log: Option<PathBuf>,
    /// The evaluation date; `None` for each request's own day (UTC).
    pub as_of: Option<Date>,
    /// Timeouts, the connection limit and the shutdown grace period.
    pub limits: Limits,
    /// The certificate and key to speak HTTPS with; plain HTTP when `None`.
    pub tls: Option<Tls>,
    /// The FHIR servers (base URLs) that may be read when a request's prefetch is missing
    /// something; none are read when empty.
    pub fhir_servers: Vec<String>,
    /// How long and how much one FHIR server read may take.
    pub fetch_limits: FetchLimits,
    /// A separate address for `/healthz`, `/readyz` and `/metrics` (plain HTTP, for an internal
    /// network): they are then not served on the main address. On the main address when `None`.
    pub ops_addr: Option<SocketAddr>,
    /// The rule catalogue's URL (`rxguard doc` published): each card links to its rule's
    /// entry, `<url>#<rule id>`. No links when `None`.
    pub catalogue_url: Option<String>,
}

impl Config {
    /// A service with these packs and this authentication, evaluating at today's date and
    /// writing feedback to standard output.
    pub fn new(engine: Engine, auth: Auth) -> Config {
        Config {
            engine,
            auth,
            feedback_log: None,
            as_of: None,
            limits: Limits::default(),
            tls: None,
            fhir_servers: Vec::new(),
            fetch_limits: FetchLimits::default(),
            catalogue_url: None,
            ops_addr: None,
        }
    }
}

/// Why the service cannot start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The JWKS file cannot be used.
    #[error("{0}")]
    Jwks(String),
    /// The replay store (the tokens already used) cannot be read or written.
    #[error("the replay store {0}")]
    ReplayStore(String),
    /// A `--fhir-server` cannot be used.
    #[error("{0}")]
    FhirServer(String),
    /// The TLS certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The metrics cannot be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The address cannot be bound, or the server failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Everything a request handler reads.
pub(crate) struct App {
    pub(crate) engine: Engine,
    pub(crate) auth: Option<JwtAuth>,
    pub(crate) feedback: feedback::FeedbackLog,
    pub(crate) as_of: Option<Date>,
    /// The discovery document, built once.
    pub(crate) discovery: Value,
    pub(crate) metrics: ops::Metrics,
    pub(crate) catalogue_url: Option<String>,
    /// The cards answered, for checking feedback.
    pub(crate) issued: actions::Issued,
    /// The FHIR servers that may be read, when any are allowed.
    pub(crate) fhir_servers: Option<fhir_server::FhirServers>,
    /// True once shutdown has begun (`/readyz` answers 503).
    pub(crate) stopping: tokio::sync::watch::Receiver<bool>,
}

/// A running service.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    ops_addr: Option<SocketAddr>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    ops_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// The address it listens on (the port chosen when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections; requests in flight are answered first, for at most the
    /// grace period of [`Limits::shutdown_grace`].
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Waits until the server has stopped (after [`Server::shutdown`]).
    pub async fn stopped(self) -> Result<(), ServeError> {
        let joined = |r: Result<std::io::Result<()>, tokio::task::JoinError>| match r {
            Ok(result) => Ok(result?),
            Err(e) => Err(ServeError::Io(std::io::Error::other(e.to_string()))),
        };
        let main = joined(self.task.await);
        match self.ops_task {
            Some(ops) => main.and(joined(ops.await)),
            None => main,
        }
    }

    /// The address of `/healthz`, `/readyz` and `/metrics`, when they have one of their own.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops_addr
    }
}

/// Binds `addr` and serves in the background on the current tokio runtime.
pub async fn bind(addr: SocketAddr, config: Config) -> Result<Server, ServeError> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let ops_listener = match config.ops_addr {
        Some(ops) => Some(tokio::net::TcpListener::bind(ops).await?),
        None => None,
    };
    let ops_addr = ops_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    // Ends when `shutdown` is called or the handle is dropped.
    let (shutdown, stop) = tokio::sync::watch::channel(false);
    let app = Arc::new(App {
        metrics: ops::Metrics::new()?,
        catalogue_url: config.catalogue_url,
        issued: actions::Issued::default(),
        fhir_servers: match config.fhir_servers.as_slice() {
            [] => None,
            bases => Some(
                fhir_server::FhirServers::new(bases, config.fetch_limits)
                    .map_err(ServeError::FhirServer)?,
            ),
        },
        stopping: stop.clone(),
        discovery: hooks::discovery(&config.engine),
        engine: config.engine,
        auth: match config.auth {
            Auth::Jwt(jwt) => Some(jwt),
            Auth::InsecureNoAuth => None,
        },
        feedback: feedback::FeedbackLog::new(config.feedback_log),
        as_of: config.as_of,
    });
    let ops_task = ops_listener.map(|ops| {
        let routes = observed(ops_routes().fallback(not_found), &app);
        let routes = edge::layered(routes, &config.limits);
        tokio::spawn(edge::serve(
            ops,
            routes,
            config.limits.clone(),
            None,
            stop.clone(),
        ))
    });
    let mut routes = hook_routes();
    if ops_task.is_none() {
        routes = routes.merge(ops_routes());
    }
    let routes = edge::layered(router(routes, app), &config.limits);
    let task = tokio::spawn(edge::serve(
        listener,
        routes,
        config.limits,
        config.tls,
        stop,
    ));
    Ok(Server {
        addr,
        ops_addr,
        shutdown,
        task,
        ops_task,
    })
}

/// Runs a service until Ctrl-C or SIGTERM, on a runtime of its own: what `rxguard serve` does.
/// `started` is told the address once it listens.
pub fn run(
    addr: SocketAddr,
    config: Config,
    started: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let server = bind(addr, config).await?;
        started(server.local_addr());
        stop_signal().await;
        server.shutdown();
        server.stopped().await
    })
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn hook_routes() -> Router<Arc<App>> {
    Router::new()
        .route("/cds-services", get(discovery))
        .route("/cds-services/{id}", post(hooks::call))
        .route("/cds-services/{id}/feedback", post(feedback::receive))
}

fn ops_routes() -> Router<Arc<App>> {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
}

fn router(routes: Router<Arc<App>>, app: Arc<App>) -> Router {
    let routes = routes
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // No handler, not even the fallback, runs for a request it refuses.
        .layer(middleware::from_fn_with_state(app.clone(), authenticate));
    observed(routes, &app)
}

/// Every request counted and logged (the outermost layer, so the refused ones too).
fn observed(routes: Router<Arc<App>>, app: &Arc<App>) -> Router {
    routes
        .layer(middleware::from_fn_with_state(app.clone(), ops::observe))
        .with_state(app.clone())
}

async fn discovery(State(app): State<Arc<App>>) -> Response {
    axum::Json(app.discovery.clone()).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

/// Refuses, before anything else runs, a request without a valid token.
async fn authenticate(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if let Some(jwt) = &app.auth
        && !ops::unauthenticated(request.uri().path())
    {
        let path = request.uri().path();
        // A hook call has no effect but its answer: it is computed while the token's use is
        // synced, and sent only once it is. Feedback writes its log, so it waits for the sync.
        let overlap = !path.ends_with("/feedback");
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        let checked = if jwt.may_block() {
            check_off_workers(&app, bearer, service_of(path)).await
        } else {
            jwt.check(bearer, service_of(path))
        };
        let admitted = match checked {
            Ok(admitted) => admitted,
            Err(reason) => return unauthorized(&app, &reason),
        };
        if overlap {
            let (durable, response) = tokio::join!(admitted.durable(), next.run(request));
            return match durable {
                Ok(()) => response,
                Err(reason) => unauthorized(&app, &reason),
            };
        }
        if let Err(reason) = admitted.durable().await {
            return unauthorized(&app, &reason);
        }
    }
    next.run(request).await
}

/// A 401 for a token refused, counted by reason.
fn unauthorized(app: &App, reason: &AuthError) -> Response {
    app.metrics.count_auth_failure(reason.failure);
    let mut response = error(StatusCode::UNAUTHORIZED, &reason.to_string());
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The token check on the blocking pool, when it may fetch a `jku`: a request waiting for the
/// fetch must not hold an async worker.
async fn check_off_workers(
    app: &Arc<App>,
    bearer: Option<&str>,
    service: Option<&str>,
) -> Result<Admitted, AuthError> {
    let (bearer, service) = (bearer.map(str::to_string), service.map(str::to_string));
    let checker = app.clone();
    tokio::task::spawn_blocking(move || match &checker.auth {
        Some(jwt) => jwt.check(bearer.as_deref(), service.as_deref()),
        None => Err(AuthError::new(
            AuthFailure::Missing,
            "the service has no token check configured",
        )),
    })
    .await
    .unwrap_or_else(|e| {
        Err(AuthError::new(
            AuthFailure::ReplayStore,
            format!("the token could not be checked: {e}"),
        ))
    })
}

/// Where the tokens used are kept when the service writes a feedback log: beside it, as
/// `<feedback log>.replay`.
pub fn replay_store_beside(feedback_log: &std::path::Path) -> PathBuf {
    let mut name = feedback_log.file_name().unwrap_or_default().to_os_string();
    name.push(".replay");
    feedback_log.with_file_name(name)
}

/// The service id of a path `/cds-services/{id}[/feedback]`.
fn service_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/cds-services/")?;
    let id = rest.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

/// `{"error": reason}` with a status.
pub(crate) fn error(status: StatusCode, reason: &str) -> Response {
    (status, axum::Json(json!({ "error": reason }))).into_response()
}

/// A request that is answered with an error instead of its result.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    reason: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.status, &self.reason)
    }
}

/// The hook of a service id, or a 404.
pub(crate) fn known_service(id: &str) -> Result<hooks::Hook, Refusal> {
    hooks::Hook::of_service(id).ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no service `{id}`: GET /cds-services lists them"),
        )
    })
}

/// The body of a request, or a 400 or 413.
pub(crate) fn body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, Refusal> {
    body.map_err(|rejection| {
        if edge::timed_out(&rejection) {
            return Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                "the request body paused longer than the body timeout",
            );
        }
        let status = rejection.status();
        let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("the request body is larger than {BODY_LIMIT} bytes")
        } else {
            rejection.body_text()
        };
        Refusal::new(status, reason)
    })
}

/// A timestamp of now, `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub(crate) fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = Date::default().add_days(i64::try_from(secs / 86_400).unwrap_or(0));
    let rest = secs % 86_400;
    format!(
        "{day}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
