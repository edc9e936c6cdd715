//! The EHR's JWTs, as CDS Hooks sends them (`Authorization: Bearer <JWT>`), verified against
//! the public keys of a JWKS file.
//!
//! A token is accepted only when all of this holds: it is signed with RS256, RS384, ES256 or
//! ES384 (never `none`, never an HMAC, whose secret a public key must not become) by a key of
//! the JWKS (the one its `kid` names, when it names one); its `iss` is one of the issuers
//! allowed; its `aud` is this service's URL (or that URL followed by the id of the service
//! called); `exp` has not passed and `iat` is present and not in the future (each with
//! [`LEEWAY_SECONDS`] for clocks that differ); it lives no longer than the maximum lifetime
//! ([`DEFAULT_MAX_LIFETIME_SECONDS`] unless configured), from `iat` to `exp` and from now to
//! `exp`; and its `jti` has not been seen before: a token is used once. The tokens used are kept
//! in a bounded store until they expire, on disk when the service is given a file for it, so a
//! restart does not reopen a replay (see [`super::replay`]).
//!
//! Every comparison of times saturates: a claim near 2^64 cannot wrap around into the past.
//!
//! With an allow-list of JWKS URLs ([`JwtAuth::allow_jku`]), a token whose `jku` header names one
//! is verified with the keys fetched from it (cached; see `super::jku`); one naming any other
//! URL is refused and that URL never contacted. Without the list a `jku` is not followed.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use std::path::Path;

use super::ServeError;
use super::jku::JkuKeys;
use super::replay::{self, Pending, Refused, ReplayStore};
use std::time::Duration;

/// The algorithms accepted.
pub const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// The clock difference tolerated between the EHR and the service, in seconds.
pub const LEEWAY_SECONDS: u64 = 30;

/// The longest a token may live (`exp - iat`, and `exp` from now), by default: five minutes, as
/// CDS Hooks recommends for the EHR's tokens.
pub const DEFAULT_MAX_LIFETIME_SECONDS: u64 = 300;

/// Why a request was refused (answered 401): the kind, counted in the metrics, and the reason
/// told to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct AuthError {
    /// What kind of failure it is.
    pub failure: AuthFailure,
    /// What the client is told.
    pub reason: String,
}

impl AuthError {
    pub(crate) fn new(failure: AuthFailure, reason: impl Into<String>) -> AuthError {
        AuthError {
            failure,
            reason: reason.into(),
        }
    }
}

/// The kinds of authentication failure, as the `reason` label of
/// `rxguard_auth_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No `Authorization` header, or not `Bearer <JWT>`.
    Missing,
    /// A header that cannot be read, or an algorithm not accepted.
    Malformed,
    /// No key of the JWKS fits, or the signature does not verify.
    Signature,
    /// Expired, not valid yet, issued in the future or living too long.
    Time,
    /// The `aud` is not this service, or the `iss` is not allowed.
    Audience,
    /// A claim missing or unreadable (`jti`, `iat`, ...).
    Claims,
    /// The token was used before.
    Replayed,
    /// The replay store is full or cannot be written.
    ReplayStore,
    /// The `jku` is not allowed, or its JWKS cannot be fetched.
    Jku,
}

impl AuthFailure {
    /// The label, in snake case.
    pub fn label(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::Signature => "signature",
            AuthFailure::Time => "time",
            AuthFailure::Audience => "audience",
            AuthFailure::Claims => "claims",
            AuthFailure::Replayed => "replayed",
            AuthFailure::ReplayStore => "replay_store",
            AuthFailure::Jku => "jku",
        }
    }
}

/// JWT verification: the trusted keys, the issuers allowed, this service's URL, and the token
/// ids already used.
#[derive(Debug)]
pub struct JwtAuth {
    keys: Vec<TrustedKey>,
    issuers: Vec<String>,
    audience: String,
    /// The longest lifetime of a token accepted, in seconds.
    max_lifetime: u64,
    /// `(iss, jti)` of the tokens accepted, until they expire.
    used: Box<ReplayStore>,
    /// The JWKS URLs a token's `jku` may name, and their keys.
    jku: Option<JkuKeys>,
}

pub(crate) struct TrustedKey {
    pub(crate) kid: Option<String>,
    /// The one algorithm the key is for, when the JWKS says.
    alg: Option<Algorithm>,
    family: AlgorithmFamily,
    curve: Option<EllipticCurve>,
    key: DecodingKey,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    exp: u64,
    iat: u64,
    jti: String,
}

impl JwtAuth {
    /// Reads the keys of a JWKS file. `issuers` are the `iss` values allowed; `audience` is this
    /// service's URL as the EHR calls it (`https://cds.example.org/cds-services`).
    pub fn from_jwks_file(
        path: &Path,
        issuers: Vec<String>,
        audience: String,
    ) -> Result<JwtAuth, ServeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServeError::Jwks(format!("cannot read {}: {e}", path.display())))?;
        JwtAuth::from_jwks(&text, issuers, audience)
            .map_err(|e| ServeError::Jwks(format!("{}: {e}", path.display())))
    }

    /// The same, from the JWKS's text.
    pub fn from_jwks(
        jwks: &str,
        issuers: Vec<String>,
        audience: String,
    ) -> Result<JwtAuth, ServeError> {
        let set: JwkSet =
            serde_json::from_str(jwks).map_err(|e| ServeError::Jwks(format!("not a JWKS: {e}")))?;
        let keys: Vec<TrustedKey> = set.keys.iter().filter_map(trusted).collect();
        if keys.is_empty() {
            return Err(ServeError::Jwks(
                "no signing key for RS256, RS384, ES256 or ES384 in the JWKS".into(),
            ));
        }
        JwtAuth::with_keys(keys, issuers, audience)
    }

    /// No keys of its own: every token must name an allowed JWKS URL with `jku`
    /// ([`JwtAuth::allow_jku`]).
    pub fn jku_only(issuers: Vec<String>, audience: String) -> Result<JwtAuth, ServeError> {
        JwtAuth::with_keys(Vec::new(), issuers, audience)
    }

    /// Accepts tokens whose `jku` header names one of these JWKS URLs (https, or http on
    /// loopback), verified with the keys fetched from it and cached for `ttl`. Verifying such a
    /// token may fetch, so [`JwtAuth::verify`] must then run off the async workers.
    pub fn allow_jku(mut self, urls: &[String], ttl: Duration) -> Result<JwtAuth, ServeError> {
        self.jku = Some(JkuKeys::new(urls, ttl).map_err(ServeError::Jwks)?);
        Ok(self)
    }

    fn with_keys(
        keys: Vec<TrustedKey>,
        issuers: Vec<String>,
        audience: String,
    ) -> Result<JwtAuth, ServeError> {
        if issuers.is_empty() {
            return Err(ServeError::Jwks("no issuer is allowed (--iss)".into()));
        }
        if audience.trim().is_empty() {
            return Err(ServeError::Jwks("no audience (--audience)".into()));
        }
        Ok(JwtAuth {
            keys,
            issuers,
            audience: audience.trim_end_matches('/').to_string(),
            max_lifetime: DEFAULT_MAX_LIFETIME_SECONDS,
            used: Box::new(ReplayStore::in_memory(
                replay::DEFAULT_CAPACITY,
                LEEWAY_SECONDS,
            )),
            jku: None,
        })
    }

    /// Accepts tokens that live at most `seconds` (`exp - iat`, and `exp` from now); five
    /// minutes by default.
    pub fn max_lifetime(mut self, seconds: u64) -> JwtAuth {
        self.max_lifetime = seconds;
        self
    }

    /// Keeps the tokens used in memory only, at most `capacity` unexpired ones (a new token is
    /// refused while it is full). A restart forgets them: for tests and trials.
    pub fn replay_memory(mut self, capacity: usize) -> JwtAuth {
        self.used = Box::new(ReplayStore::in_memory(capacity, LEEWAY_SECONDS));
        self
    }

    /// Keeps the tokens used in `path` as well (appended and synced, read back here, compacted
    /// as it grows), at most `capacity` unexpired ones, so a restart does not reopen replays.
    pub fn replay_store(mut self, path: &Path, capacity: usize) -> Result<JwtAuth, ServeError> {
        let now = jsonwebtoken::get_current_timestamp();
        let store = ReplayStore::open(path, capacity, LEEWAY_SECONDS, now)
            .map_err(|e| ServeError::ReplayStore(format!("{}: {e}", path.display())))?;
        self.used = Box::new(store);
        Ok(self)
    }

    /// Whether [`JwtAuth::check`] can block: it may fetch a `jku`'s keys. Otherwise it is
    /// computation alone (a signature, a lookup in memory), short enough to run on an async
    /// worker; the wait for the replay store's sync is [`Admitted::durable`], a future.
    pub fn may_block(&self) -> bool {
        self.jku.is_some()
    }

    /// Verifies the `Authorization` header of a request to `service` (`None` for discovery),
    /// blocking until the token is recorded as used. Not for async code: there, use
    /// [`JwtAuth::check`] and await [`Admitted::durable`].
    pub fn verify(
        &self,
        authorization: Option<&str>,
        service: Option<&str>,
    ) -> Result<(), AuthError> {
        self.check(authorization, service)?.wait()
    }

    /// Verifies the `Authorization` header of a request to `service` (`None` for discovery).
    /// A token that passes is already refused to any later request; the request it admits goes
    /// on once [`Admitted`] says its use is on disk (at once when the store is in memory).
    pub fn check(
        &self,
        authorization: Option<&str>,
        service: Option<&str>,
    ) -> Result<Admitted, AuthError> {
        let refuse = |failure, reason: &str| Err(AuthError::new(failure, reason));
        let Some(authorization) = authorization else {
            return refuse(
                AuthFailure::Missing,
                "no Authorization header: a Bearer JWT is required",
            );
        };
        let token = match authorization.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return refuse(
                    AuthFailure::Missing,
                    "the Authorization header is not `Bearer <JWT>`",
                );
            }
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            AuthError::new(
                AuthFailure::Malformed,
                "the token's header cannot be read, or names an algorithm other than RS256, RS384, ES256 or ES384"
            )
        })?;
        let alg = header.alg;
        if !ALGORITHMS.contains(&alg) {
            return Err(AuthError::new(
                AuthFailure::Malformed,
                format!("algorithm {alg:?} is not accepted: only RS256, RS384, ES256 and ES384"),
            ));
        }
        let fetched;
        let keys: &[TrustedKey] = match (&header.jku, &self.jku) {
            // Without an allow-list the `jku` is not followed: the keys are ours.
            (None, _) | (Some(_), None) => &self.keys,
            (Some(jku), Some(allowed)) => {
                fetched = allowed
                    .keys(jku, header.kid.as_deref())
                    .map_err(|why| AuthError::new(AuthFailure::Jku, why))?;
                &fetched
            }
        };
        let candidates: Vec<&TrustedKey> = keys
            .iter()
            .filter(|k| header.kid.is_none() || k.kid == header.kid)
            .filter(|k| k.fits(alg))
            .collect();
        if candidates.is_empty() {
            return Err(AuthError::new(
                AuthFailure::Signature,
                match &header.kid {
                    Some(kid) => format!("no key `{kid}` for {alg:?} in the JWKS"),
                    None => format!("no key for {alg:?} in the JWKS"),
                },
            ));
        }
        let validation = self.validation(alg, service);
        let mut claims = None;
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
                Ok(data) => {
                    claims = Some(data.claims);
                    break;
                }
                Err(e) if *e.kind() == jsonwebtoken::errors::ErrorKind::InvalidSignature => {}
                Err(e) => return Err(self.reason(e)),
            }
        }
        let Some(claims) = claims else {
            return refuse(
                AuthFailure::Signature,
                "the signature does not verify with a key of the JWKS",
            );
        };
        let now = jsonwebtoken::get_current_timestamp();
        self.check_times(&claims, now)?;
        self.first_use(&claims, now)
    }

    /// `iat` not in the future, and a lifetime no longer than allowed; every sum saturates.
    fn check_times(&self, claims: &Claims, now: u64) -> Result<(), AuthError> {
        if claims.iat > now.saturating_add(LEEWAY_SECONDS) {
            return Err(AuthError::new(
                AuthFailure::Time,
                "the token is issued in the future (`iat`)",
            ));
        }
        let max = self.max_lifetime;
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if lifetime > max {
            return Err(AuthError::new(
                AuthFailure::Time,
                format!(
                    "the token lives {lifetime} s from `iat` to `exp`, longer than the {max} s \
                 allowed"
                ),
            ));
        }
        let left = claims.exp.saturating_sub(now);
        if left > max.saturating_add(LEEWAY_SECONDS) {
            return Err(AuthError::new(
                AuthFailure::Time,
                format!("the token's `exp` is {left} s away, longer than the {max} s allowed"),
            ));
        }
        Ok(())
    }

    fn validation(&self, alg: Algorithm, service: Option<&str>) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECONDS;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.set_issuer(&self.issuers);
        let base = &self.audience;
        let mut audiences = vec![base.clone(), format!("{base}/")];
        if let Some(id) = service {
            audiences.push(format!("{base}/{id}"));
        }
        v.set_audience(&audiences);
        v
    }

    fn reason(&self, e: jsonwebtoken::errors::Error) -> AuthError {
        use jsonwebtoken::errors::ErrorKind;
        let (failure, reason) = match e.kind() {
            ErrorKind::ExpiredSignature => {
                (AuthFailure::Time, "the token has expired (`exp`)".into())
            }
            ErrorKind::ImmatureSignature => (
                AuthFailure::Time,
                "the token is not valid yet (`nbf`)".into(),
            ),
            ErrorKind::InvalidAudience => (
                AuthFailure::Audience,
                format!("the token's `aud` is not this service ({})", self.audience),
            ),
            ErrorKind::InvalidIssuer => (
                AuthFailure::Audience,
                "the token's issuer (`iss`) is not allowed".into(),
            ),
            ErrorKind::MissingRequiredClaim(c) => {
                (AuthFailure::Claims, format!("the token has no `{c}` claim"))
            }
            ErrorKind::Json(e) => (
                AuthFailure::Claims,
                format!("the token's claims cannot be read: {e}"),
            ),
            _ => (
                AuthFailure::Malformed,
                format!("the token is not valid: {e}"),
            ),
        };
        AuthError::new(failure, reason)
    }

    /// Records a token's `jti`, refusing one seen before.
    fn first_use(&self, claims: &Claims, now: u64) -> Result<Admitted, AuthError> {
        if claims.jti.is_empty() || claims.jti.len() > replay::MAX_JTI_BYTES {
            return Err(AuthError::new(
                AuthFailure::Claims,
                format!(
                    "the token's `jti` is empty or longer than {} bytes",
                    replay::MAX_JTI_BYTES
                ),
            ));
        }
        self.used
            .record(&claims.iss, &claims.jti, claims.exp, now)
            .map(Admitted)
            .map_err(|refused| refusal(refused, &claims.jti))
    }
}

/// A token that passed every check, whose use may still be on its way to the replay store's
/// file: the request goes on once [`Admitted::durable`] (or [`Admitted::wait`]) says it is there,
/// so that no request is answered whose token a crash could let in again.
#[must_use = "the request is admitted only once the token's use is on disk"]
#[derive(Debug)]
pub struct Admitted(Pending);

impl Admitted {
    /// Waits, as a future, until the token's use is synced; an error refuses the request.
    pub async fn durable(self) -> Result<(), AuthError> {
        self.0.durable().await.map_err(|r| refusal(r, ""))
    }

    /// Waits, blocking the thread, until the token's use is synced. Not for async code.
    pub fn wait(self) -> Result<(), AuthError> {
        self.0.wait().map_err(|r| refusal(r, ""))
    }
}

/// Why the replay store refused a token (`jti`).
fn refusal(refused: Refused, jti: &str) -> AuthError {
    match refused {
        Refused::Replayed => AuthError::new(
            AuthFailure::Replayed,
            format!("the token was already used (`jti` {jti}): a token is accepted once"),
        ),
        Refused::Full => AuthError::new(
            AuthFailure::ReplayStore,
            "too many unexpired tokens in use: this one is refused until some expire",
        ),
        Refused::Io(e) => AuthError::new(
            AuthFailure::ReplayStore,
            format!("the token could not be recorded as used, so it is refused: {e}"),
        ),
    }
}

impl TrustedKey {
    fn fits(&self, alg: Algorithm) -> bool {
        let family = match alg {
            Algorithm::ES256 | Algorithm::ES384 => AlgorithmFamily::Ec,
            _ => AlgorithmFamily::Rsa,
        };
        self.family == family
            && self.alg.is_none_or(|a| a == alg)
            && match (alg, self.curve.as_ref()) {
                (Algorithm::ES256, Some(c)) => *c == EllipticCurve::P256,
                (Algorithm::ES384, Some(c)) => *c == EllipticCurve::P384,
                _ => true,
            }
    }
}

/// A JWKS key that can verify signatures of an accepted algorithm; `None` for the others
/// (encryption keys, symmetric keys, EdDSA).
pub(crate) fn trusted(jwk: &jsonwebtoken::jwk::Jwk) -> Option<TrustedKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let (family, curve) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (AlgorithmFamily::Rsa, None),
        AlgorithmParameters::EllipticCurve(p) => (AlgorithmFamily::Ec, Some(p.curve.clone())),
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(a) => match a {
            KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            KeyAlgorithm::RS384 => Some(Algorithm::RS384),
            KeyAlgorithm::ES256 => Some(Algorithm::ES256),
            KeyAlgorithm::ES384 => Some(Algorithm::ES384),
            _ => return None,
        },
    };
    Some(TrustedKey {
        kid: jwk.common.key_id.clone(),
        alg,
        family,
        curve,
        key: DecodingKey::from_jwk(jwk).ok()?,
    })
}
