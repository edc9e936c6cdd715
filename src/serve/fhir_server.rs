//! The FHIR server, read when the prefetch lacks something (CDS Hooks 2.0: a service may query
//! `fhirServer` with `fhirAuthorization.access_token`).
//!
//! Only servers on the allow-list are read (`--fhir-server`): a request naming another is not
//! contacted at all, so a request cannot make the service call a host of its choosing. For each
//! of the prefetch templates the prefetch did not answer (by content, whatever the keys), the
//! same query is sent, all of them at once; a search is paged through `Bundle.link[next]` while
//! the next page is on the same allow-listed base, for at most [`FetchLimits::max_pages`]
//! pages. Redirects are never followed, each response has [`FetchLimits::timeout`] and at most
//! [`FetchLimits::max_bytes`], and no proxy is used (the access token goes to the FHIR server
//! and nowhere else).
//!
//! What is read is put into the prefetch under rxguard's own key, as if the EHR had sent it,
//! and read the same way. A query that fails (a timeout, a 500, an oversized answer, a
//! redirect) leaves its section a data gap, said in the info card; a search cut by the page
//! limit or by a `next` link elsewhere keeps its `next` link, so its section stays unknown.

use super::prefetch::{Note, OWN_TYPES};
use reqwest::Url;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// How much one FHIR server read may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchLimits {
    /// The longest a response may take, connection included.
    pub timeout: Duration,
    /// The largest response body read; a larger one is a failure.
    pub max_bytes: usize,
    /// The most pages of one search read.
    pub max_pages: usize,
}

impl Default for FetchLimits {
    /// 5 s, 8 MiB, 10 pages.
    fn default() -> FetchLimits {
        FetchLimits {
            timeout: Duration::from_secs(5),
            max_bytes: 8 * 1024 * 1024,
            max_pages: 10,
        }
    }
}

/// The FHIR servers that may be read, and the client that reads them.
pub(crate) struct FhirServers {
    allowed: Vec<Url>,
    client: reqwest::Client,
    limits: FetchLimits,
}

/// What a request's `fhirServer` allowed.
pub(crate) enum Reach {
    /// The prefetch answered every template: nothing to read.
    NotNeeded,
    /// Something was missing and the server was read: what could not be.
    Read(Vec<(String, Note)>),
    /// Something was missing and the server was not contacted: why.
    NotContacted(String),
}

impl FhirServers {
    /// A client for these bases: each `https`, or `http` on a loopback address.
    pub(crate) fn new(bases: &[String], limits: FetchLimits) -> Result<FhirServers, String> {
        let allowed = bases
            .iter()
            .map(|base| checked_url(base.trim_end_matches('/'), "--fhir-server"))
            .collect::<Result<Vec<Url>, String>>()?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(limits.timeout)
            .timeout(limits.timeout)
            .build()
            .map_err(|e| format!("the FHIR client cannot be built: {e}"))?;
        Ok(FhirServers {
            allowed,
            client,
            limits,
        })
    }

    /// The allow-listed base that is `fhir_server`.
    fn allowed_base(&self, fhir_server: &str) -> Option<&Url> {
        let url = Url::parse(fhir_server.trim_end_matches('/')).ok()?;
        self.allowed.iter().find(|base| **base == url)
    }
}

/// An allow-list entry: https, or http on a loopback address, with no user, password or
/// query. `flag` names the option in the error.
pub(crate) fn checked_url(text: &str, flag: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{flag} {text}: {e}"))?;
    let loopback = match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(format!(
            "{flag} {text}: only https, or http on a loopback address, is allowed"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(format!(
            "{flag} {text}: the URL has no user, password or query"
        ));
    }
    Ok(url)
}

/// Whether `url` is under `base` (same origin, its path below the base's).
fn under(base: &Url, url: &Url) -> bool {
    let path = base.path().trim_end_matches('/');
    url.origin() == base.origin()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path().starts_with(path)
        && url.path()[path.len()..].starts_with('/')
}

/// A FHIR id (`[A-Za-z0-9\-\.]{1,64}`): safe in a URL path and query as it is.
fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Reads from the FHIR server what the prefetch did not answer, into `prefetch` under our own
/// keys. `templates` are the discovery's prefetch templates.
pub(crate) async fn complete(
    app: &super::App,
    prefetch: &mut Map<String, Value>,
    fhir_server: Option<&str>,
    access_token: Option<&str>,
    patient: &str,
    templates: &Value,
) -> Reach {
    let answered = super::prefetch::answered(prefetch);
    let missing: Vec<(&str, &str)> = OWN_TYPES
        .into_iter()
        .filter(|(_, kind)| !answered.contains(kind))
        .collect();
    if missing.is_empty() {
        return Reach::NotNeeded;
    }
    let Some(fhir_server) = fhir_server else {
        return Reach::NotContacted("the request names no fhirServer".into());
    };
    let Some(servers) = app.fhir_servers.as_ref() else {
        return Reach::NotContacted(format!(
            "fhirServer {fhir_server} was not contacted: no FHIR server is allowed (--fhir-server)"
        ));
    };
    let Some(base) = servers.allowed_base(fhir_server) else {
        return Reach::NotContacted(format!(
            "fhirServer {fhir_server} was not contacted: it is not on the allow-list \
             (--fhir-server)"
        ));
    };
    if !is_fhir_id(patient) {
        return Reach::NotContacted(format!(
            "the FHIR server was not contacted: `{patient}` is not a FHIR id"
        ));
    }
    let mut reads = tokio::task::JoinSet::new();
    for (key, kind) in missing {
        let query = templates[key]
            .as_str()
            .unwrap_or_default()
            .replace("{{context.patientId}}", patient);
        let Ok(url) = Url::parse(&format!("{}/{query}", base.as_str().trim_end_matches('/')))
        else {
            continue;
        };
        let read = Read {
            client: servers.client.clone(),
            base: base.clone(),
            token: access_token.map(str::to_string),
            limits: servers.limits.clone(),
        };
        reads.spawn(async move { (key, kind, read.resource(url, kind).await) });
    }
    let mut notes = Vec::new();
    while let Some(done) = reads.join_next().await {
        let Ok((key, kind, result)) = done else {
            continue;
        };
        match result {
            Ok((value, outcome)) => {
                app.metrics.count_fhir_fetch(kind, outcome);
                // Our own key, unless the EHR used it for something else, kept as it is.
                let free = prefetch
                    .get(key)
                    .is_none_or(|v| v.is_null() || v["resourceType"] == "OperationOutcome");
                let key = if free {
                    key.to_string()
                } else {
                    format!("fhirServer {key}")
                };
                prefetch.insert(key, value);
            }
            Err((why, outcome)) => {
                app.metrics.count_fhir_fetch(kind, outcome);
                let why = format!("reading them from the FHIR server failed: {why}");
                notes.push((kind.to_string(), Note::NotFetched(why)));
            }
        }
    }
    notes.sort_by(|a, b| a.0.cmp(&b.0));
    Reach::Read(notes)
}

/// One query against one server.
struct Read {
    client: reqwest::Client,
    base: Url,
    token: Option<String>,
    limits: FetchLimits,
}

/// A failure: what the info card says, and the metrics' outcome label.
type Failure = (String, &'static str);

impl Read {
    /// A Patient read, or a search paged into one Bundle; with the outcome label (`ok`, or
    /// `partial` when a `next` page was left unread).
    async fn resource(&self, url: Url, kind: &str) -> Result<(Value, &'static str), Failure> {
        let first = self.get(&url).await?;
        if kind == "Patient" {
            return match first["resourceType"].as_str() {
                Some("Patient") => Ok((first, "ok")),
                _ => Err(("the answer is not a Patient".into(), "invalid")),
            };
        }
        if first["resourceType"] != "Bundle" {
            return Err(("the answer is not a Bundle".into(), "invalid"));
        }
        let mut bundle = first;
        let mut pages = 1;
        while let Some(next) = next_link(&bundle) {
            let Some(next) = Url::parse(&next).ok().filter(|u| under(&self.base, u)) else {
                // Off the allow-listed base: not followed; the `next` link stays, so the
                // section is read as incomplete.
                return Ok((bundle, "partial"));
            };
            if pages >= self.limits.max_pages {
                return Ok((bundle, "partial"));
            }
            let page = self.get(&next).await?;
            if page["resourceType"] != "Bundle" {
                return Err(("a next page is not a Bundle".into(), "invalid"));
            }
            pages += 1;
            merge(&mut bundle, page);
        }
        Ok((bundle, "ok"))
    }

    /// One GET: a JSON object, within the time and size limits, answered 200.
    async fn get(&self, url: &Url) -> Result<Value, Failure> {
        let mut request = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/fhir+json");
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let mut response = request.send().await.map_err(|e| transport(&e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err((
                format!("it answered {status}, a redirect not followed"),
                "redirect",
            ));
        }
        if !status.is_success() {
            return Err((format!("it answered {status}"), "status"));
        }
        let max = self.limits.max_bytes;
        let too_large = || {
            (
                format!("the answer is larger than {max} bytes"),
                "too_large",
            )
        };
        if response
            .content_length()
            .is_some_and(|n| n > u64::try_from(max).unwrap_or(u64::MAX))
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e))? {
            if body.len() + chunk.len() > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) if value.is_object() => Ok(value),
            _ => Err(("the answer is not a JSON resource".into(), "invalid")),
        }
    }
}

fn transport(e: &reqwest::Error) -> Failure {
    if e.is_timeout() {
        ("it did not answer in time".into(), "timeout")
    } else {
        (format!("it could not be reached ({e})"), "unreachable")
    }
}

fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")?
        .get("url")?
        .as_str()
        .map(str::to_string)
}

/// Appends a page's entries to the first page, and takes the page's `next` link (or none).
fn merge(bundle: &mut Value, page: Value) {
    let entries: Vec<Value> = page["entry"].as_array().cloned().unwrap_or_default();
    match bundle["entry"].as_array_mut() {
        Some(all) => all.extend(entries),
        None => bundle["entry"] = Value::Array(entries),
    }
    let mut links: Vec<Value> = bundle["link"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["relation"] != "next")
        .cloned()
        .collect();
    if let Some(next) = next_link(&page) {
        links.push(json!({"relation": "next", "url": next}));
    }
    bundle["link"] = Value::Array(links);
}
