//! Keys named by a token's `jku` header (EHRs such as Epic sign with one): fetched only from the
//! JWKS URLs on the allow-list (`--jku`), cached, and fetched again at most once a minute when a
//! token names a `kid` the cached set lacks (a key rotated in).
//!
//! A `jku` off the list is refused without being contacted, so a token cannot make the service
//! fetch keys from a host of its choosing, nor choose its own keys. The fetch follows no
//! redirect, uses no proxy, and is bounded in time ([`FETCH_TIMEOUT`]) and size
//! ([`MAX_JWKS_BYTES`]).

use super::auth::{TrustedKey, trusted};
use jsonwebtoken::jwk::JwkSet;
use reqwest::Url;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest a JWKS fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest JWKS read.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How soon a set may be fetched again for a `kid` it lacks.
const REFETCH_AFTER: Duration = Duration::from_secs(60);

/// The allowed `jku` URLs and the key sets fetched from them.
pub(crate) struct JkuKeys {
    allowed: Vec<Url>,
    client: reqwest::Client,
    /// How long a fetched set is used before it is fetched again.
    ttl: Duration,
    cache: Mutex<HashMap<Url, Cached>>,
}

impl std::fmt::Debug for JkuKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JkuKeys")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Cached {
    keys: Arc<Vec<TrustedKey>>,
    fetched: Instant,
}

impl JkuKeys {
    pub(crate) fn new(allowed: &[String], ttl: Duration) -> Result<JkuKeys, String> {
        let allowed = allowed
            .iter()
            .map(|u| super::fhir_server::checked_url(u, "--jku"))
            .collect::<Result<Vec<Url>, String>>()?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(FETCH_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| format!("the JWKS client cannot be built: {e}"))?;
        Ok(JkuKeys {
            allowed,
            client,
            ttl,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The keys of the set at `jku`, when it is allowed; fetched again when the cached set is
    /// older than the TTL, or lacks `kid` and was fetched more than a minute ago.
    pub(crate) fn keys(
        &self,
        jku: &str,
        kid: Option<&str>,
    ) -> Result<Arc<Vec<TrustedKey>>, String> {
        let url = Url::parse(jku)
            .ok()
            .filter(|u| self.allowed.contains(u))
            .ok_or_else(|| format!("the token's `jku` {jku} is not an allowed JWKS URL (--jku)"))?;
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&url)
            .cloned();
        if let Some(cached) = &cached {
            let fresh = cached.fetched.elapsed() < self.ttl;
            let has_kid =
                kid.is_none_or(|k| cached.keys.iter().any(|t| t.kid.as_deref() == Some(k)));
            if fresh && (has_kid || cached.fetched.elapsed() < REFETCH_AFTER) {
                return Ok(cached.keys.clone());
            }
        }
        let keys = Arc::new(self.fetch(&url)?);
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                url,
                Cached {
                    keys: keys.clone(),
                    fetched: Instant::now(),
                },
            );
        Ok(keys)
    }

    /// Fetches and reads the set, blocking: called off the async workers.
    fn fetch(&self, url: &Url) -> Result<Vec<TrustedKey>, String> {
        let fetch = read_jwks(&self.client, url.clone());
        let text = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.block_on(fetch),
            Err(_) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(fetch),
        }
        .map_err(|why| format!("the JWKS at {url} could not be fetched: {why}"))?;
        let set: JwkSet = serde_json::from_slice(&text)
            .map_err(|e| format!("the answer of {url} is not a JWKS: {e}"))?;
        Ok(set.keys.iter().filter_map(trusted).collect())
    }
}

async fn read_jwks(client: &reqwest::Client, url: Url) -> Result<Vec<u8>, String> {
    let mut response = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("it answered {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("the answer is larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
