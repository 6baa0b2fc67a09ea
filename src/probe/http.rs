//! The one request/measure/classify path that token requests and endpoint
//! calls share: shared clients, the global in-flight cap, 429 back-off,
//! a bounded wait and a bounded body read.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, RETRY_AFTER};
use tokio::sync::Semaphore;

use super::backoff::{Backoff, BackoffScope};
use super::classify::TransportFailure;
use super::connect;
use super::phases::{Marks, Phases};
use super::tls::CertificateSeen;
use crate::config::HttpProfile;
use crate::config::keys::KeyMaterial;

/// Sent as `User-Agent`, so upstream logs can tell credprobe's traffic.
pub const USER_AGENT: &str = concat!("credprobe/", env!("CARGO_PKG_VERSION"));

/// The most redirects an endpoint call follows; the next one is the answer.
const MAX_ENDPOINT_REDIRECTS: usize = 5;

/// What a client is for: token requests never follow redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Token requests: redirects are answers, not followed.
    Token,
    /// Endpoint calls: redirects followed as `may_follow` allows.
    Endpoint,
}

/// A shared client and the client certificate version it presents, if any.
type BuiltClient = (Option<u64>, reqwest::Client);

/// Why a tenant's HTTP client could not be built: its requests then fail,
/// with this as their detail, as `tls_error` (the TLS configuration) or
/// `connect_error` (the proxy, or the client itself).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The TLS configuration (CA file, client certificate).
    #[error(transparent)]
    Tls(#[from] connect::TlsSetupError),
    /// The proxy URL.
    #[error("proxy: {0}")]
    Proxy(String),
    /// reqwest refused the client.
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

impl ClientError {
    /// The transport failure the client's requests report.
    pub fn failure(&self) -> TransportFailure {
        match self {
            ClientError::Tls(_) => TransportFailure::Tls,
            ClientError::Proxy(_) | ClientError::Build(_) => TransportFailure::Connect,
        }
    }
}

/// The HTTP clients one tenant sends with, kept by its task
/// ([`super::ProbeState`]): looked up (or built) when the task starts and
/// again only when the client certificate it presents changes, so a
/// request looks nothing up.
#[derive(Debug, Clone)]
pub struct TenantClients {
    /// For token requests (redirects not followed).
    pub token: Result<reqwest::Client, ClientError>,
    /// For endpoint calls (same-origin redirects followed).
    pub endpoint: Result<reqwest::Client, ClientError>,
    /// The client certificate version they present, if any.
    identity_version: Option<u64>,
}

impl TenantClients {
    /// True while these clients still suit `profile`: built, and
    /// presenting the current version of its client certificate.
    pub fn current_for(&self, profile: &HttpProfile) -> bool {
        self.token.is_ok()
            && self.endpoint.is_ok()
            && self.identity_version == identity_version(profile)
    }
}

/// The version of the client certificate `profile` presents, if any.
fn identity_version(profile: &HttpProfile) -> Option<u64> {
    profile
        .identity
        .as_ref()
        .map(|identity| identity.0.current().version)
}

/// Builds the client of a profile and role, presenting `material`'s
/// client certificate when the profile has one.
fn build_client(
    profile: &HttpProfile,
    role: Role,
    material: Option<&KeyMaterial>,
) -> Result<reqwest::Client, ClientError> {
    let tls = connect::tls_config(
        profile
            .ca
            .as_ref()
            .map(|(path, pem)| (path.as_path(), pem.as_slice())),
        material,
        !profile.fresh_connections,
    )?;
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .tls_backend_preconfigured(tls)
        .tls_info(true)
        .dns_resolver(connect::TimedResolver)
        .connector_layer(connect::TimedConnectLayer)
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        // One request, unretried: reqwest's retries copied each request first.
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .redirect(match role {
            Role::Token => reqwest::redirect::Policy::none(),
            Role::Endpoint => reqwest::redirect::Policy::custom(endpoint_redirects),
        });
    if profile.fresh_connections {
        // Nothing kept idle: every request opens its own connection.
        builder = builder.pool_max_idle_per_host(0);
    }
    if let Some(proxy) = &profile.proxy {
        let proxy =
            reqwest::Proxy::all(proxy.as_str()).map_err(|e| ClientError::Proxy(error_chain(&e)))?;
        builder = builder.proxy(proxy);
    }
    builder
        .build()
        .map_err(|e| ClientError::Build(error_chain(&e)))
}

/// Everything a probe needs to send requests, shared by all tenants.
#[derive(Debug)]
pub struct Transport {
    /// One client per (profile, role), built when the first tenant with
    /// that profile starts; with the version of the client certificate it
    /// presents, if any. Read when a tenant's task starts, not per request.
    clients: Mutex<HashMap<(HttpProfile, Role), BuiltClient>>,
    /// The global cap on requests in flight.
    in_flight: Semaphore,
    /// Scopes (a credential at an endpoint, a tenant on an origin) told 429.
    pub backoff: Backoff,
}

/// An HTTP answer, with the body read up to the limit.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// The `Retry-After` header, the one header a step reads (kept alone:
    /// copying every header of every answer was an allocation per header).
    pub retry_after: Option<HeaderValue>,
    /// The body, at most the limit.
    pub body: Vec<u8>,
    /// True when the body was longer than the limit (and was cut).
    pub over_limit: bool,
    /// The leaf certificate, for https.
    pub certificate: Option<CertificateSeen>,
}

#[cfg(test)]
impl Answer {
    /// A plain answer for unit tests of the classifiers.
    pub(crate) fn of(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
            over_limit: false,
            certificate: None,
        }
    }
}

/// One request's outcome and how long it took.
#[derive(Debug)]
pub struct Exchange {
    /// From send to the last body byte read (or to the failure).
    pub latency: Duration,
    /// Where that time went.
    pub phases: Phases,
    /// The answer, or why there was none.
    pub answer: Result<Answer, TransportError>,
}

/// Why a request got no HTTP answer: its class and the error chain in
/// words fit for logs (reqwest's and hyper's messages carry no secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct TransportError {
    /// The class: timeout, DNS, connect or TLS.
    pub failure: TransportFailure,
    /// The error and its causes on one line.
    pub detail: String,
}

impl TransportError {
    fn of(error: &reqwest::Error) -> TransportError {
        TransportError {
            failure: TransportFailure::of(error),
            detail: error_chain(error),
        }
    }
}

/// Why a request was not sent at all.
#[derive(Debug, Clone, Copy)]
pub enum NotSent {
    /// The scope's Retry-After lasts longer than the caller will wait; the
    /// time still to wait.
    BackedOff(Duration),
}

/// How a request deals with rate limits.
#[derive(Debug, Clone)]
pub struct Pacing<'a> {
    /// What a 429 answer to this request backs off.
    pub scope: &'a BackoffScope,
    /// The longest wait for a back-off to end before the request is
    /// skipped instead.
    pub max_wait: Duration,
    /// The longest back-off a Retry-After may impose (see
    /// [`super::backoff::cap_for`]).
    pub cap: Duration,
}

impl Transport {
    /// A transport with a cap of `max_in_flight` concurrent requests.
    pub fn new(max_in_flight: usize) -> Arc<Transport> {
        // reqwest is built without a default crypto provider; ring is ours.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Arc::new(Transport {
            clients: Mutex::new(HashMap::new()),
            in_flight: Semaphore::new(max_in_flight),
            backoff: Backoff::default(),
        })
    }

    /// The clients of a tenant with `profile`: each built once per
    /// (profile, role) and client certificate version, and shared by every
    /// tenant with the same profile. Called when a tenant's task starts
    /// and when its client certificate changed, never per request.
    pub fn tenant_clients(&self, profile: &HttpProfile) -> TenantClients {
        // One look at the certificate: the clients present exactly the
        // version they are recorded with.
        let material = profile
            .identity
            .as_ref()
            .map(|identity| identity.0.current());
        let material = material.as_deref();
        TenantClients {
            token: self.client(profile, Role::Token, material),
            endpoint: self.client(profile, Role::Endpoint, material),
            identity_version: material.map(|m| m.version),
        }
    }

    fn client(
        &self,
        profile: &HttpProfile,
        role: Role,
        material: Option<&KeyMaterial>,
    ) -> Result<reqwest::Client, ClientError> {
        let version = material.map(|m| m.version);
        let mut clients = self.clients.lock().expect("client cache poisoned");
        if let Some((built_with, client)) = clients.get(&(profile.clone(), role))
            && *built_with == version
        {
            return Ok(client.clone());
        }
        let client = build_client(profile, role, material)?;
        clients.insert((profile.clone(), role), (version, client.clone()));
        Ok(client)
    }

    /// Number of distinct clients built so far (one per profile and role).
    pub fn client_count(&self) -> usize {
        self.clients.lock().expect("client cache poisoned").len()
    }

    /// Sends one request: waits out a back-off of its scope shorter than
    /// `pacing.max_wait` (a longer one skips it), takes a slot under the
    /// in-flight cap, bounds the whole exchange by `timeout`, reads at most
    /// `body_limit` bytes, and notes a 429's Retry-After for its scope.
    ///
    /// Not an `async fn`: the request is handed to reqwest before the
    /// first wait, so the future keeps reqwest's small pending handle
    /// instead of the request itself (an `async fn` keeps its arguments
    /// for its whole life). Nothing is sent before the slot is taken:
    /// reqwest's future does nothing until it is polled.
    pub fn send<'a>(
        &'a self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
        body_limit: usize,
        pacing: &'a Pacing<'a>,
    ) -> impl Future<Output = Result<Exchange, NotSent>> + 'a {
        let (client, request) = request.build_split();
        let prepared = request.map(|request| {
            // The URL is kept only to name a certificate's host: cloned then.
            let url = (request.url().scheme() == "https").then(|| request.url().clone());
            (url, client.execute(request))
        });
        async move {
            let (url, pending) = match prepared {
                Ok(prepared) => prepared,
                Err(error) => {
                    return Ok(Exchange {
                        latency: Duration::ZERO,
                        phases: Phases::default(),
                        answer: Err(TransportError {
                            failure: TransportFailure::Connect,
                            detail: error_chain(&error),
                        }),
                    });
                }
            };
            if let Some(wait) = self.backoff.remaining(pacing.scope) {
                if wait > pacing.max_wait {
                    return Err(NotSent::BackedOff(wait));
                }
                tokio::time::sleep(wait).await;
            }
            let _permit = self
                .in_flight
                .acquire()
                .await
                .expect("semaphore never closed");
            let marks = Arc::new(Marks::default());
            let started = Instant::now();
            // On the heap while in flight: inline, its room would stay in
            // every tenant's task for its whole life.
            let exchanged = Box::pin(marks.scope(tokio::time::timeout(
                timeout,
                exchange(pending, url, body_limit, &marks),
            )));
            let answer = match exchanged.await {
                Ok(answer) => answer,
                Err(_) => Err(TransportError {
                    failure: TransportFailure::Timeout,
                    detail: format!(
                        "no complete answer within {}",
                        humantime::format_duration(timeout)
                    ),
                }),
            };
            let ended = Instant::now();
            let latency = ended - started;
            let phases = marks.phases(started, ended);
            if let Ok(answer) = &answer
                && answer.status == 429
                && let Some(retry_after) = &answer.retry_after
            {
                self.backoff
                    .note_retry_after(pacing.scope.clone(), retry_after, pacing.cap);
            }
            Ok(Exchange {
                latency,
                phases,
                answer,
            })
        }
    }
}

/// Endpoint redirects, as [`may_follow`] decides. A redirect not followed
/// is the answer (a 3xx, so `unexpected_status`), not a transport error.
fn endpoint_redirects(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    if may_follow(attempt.url(), attempt.previous()) {
        attempt.follow()
    } else {
        attempt.stop()
    }
}

/// Whether an endpoint call follows a redirect to `next`; `previous` are the
/// URLs requested so far, the endpoint's own first, the one that answered
/// with this redirect last. Followed: at most [`MAX_ENDPOINT_REDIRECTS`],
/// and only within the endpoint's origin (scheme, host and port).
///
/// Why not to another origin: the call would arrive there without the
/// token (reqwest drops `Authorization`) and its 401 would read as
/// `unauthorized`, a credential problem that is not there; the endpoint's
/// own `headers:` (which may hold an API gateway key) would go along, as
/// reqwest drops only the credential headers; and reqwest compares each
/// hop with the previous one only, rebuilding it from the original headers,
/// so A -> B -> B would carry A's token to B. A redirect elsewhere is the
/// answer instead: `unexpected_status` with its 3xx, which says what
/// happened. (Same origin also rules out an https -> http downgrade.)
/// tests/testsuite/redirects.rs checks this against real servers.
fn may_follow(next: &url::Url, previous: &[url::Url]) -> bool {
    let redirects_so_far = previous.len().saturating_sub(1);
    let same_origin = previous
        .first()
        .is_none_or(|first| next.origin() == first.origin());
    redirects_so_far < MAX_ENDPOINT_REDIRECTS && same_origin
}

/// Sends the request (`pending`, reqwest's future for it) and reads the
/// answer; `url` is the request's, for https only.
async fn exchange(
    pending: impl Future<Output = reqwest::Result<reqwest::Response>>,
    url: Option<url::Url>,
    body_limit: usize,
    marks: &Marks,
) -> Result<Answer, TransportError> {
    let mut response = pending.await.map_err(|e| TransportError::of(&e))?;
    marks.head();
    let status = response.status().as_u16();
    let retry_after = response.headers().get(RETRY_AFTER).cloned();
    let certificate = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(|der| CertificateSeen::from_der(url.as_ref()?, der));
    let mut body = Vec::new();
    let mut over_limit = false;
    while let Some(chunk) = response.chunk().await.map_err(|e| TransportError::of(&e))? {
        if body.len() + chunk.len() > body_limit {
            body.extend_from_slice(&chunk[..body_limit - body.len()]);
            over_limit = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        retry_after,
        body,
        over_limit,
        certificate,
    })
}

/// An error and its causes on one line, e.g. "error sending request: client
/// error (Connect): tcp connect error: Connection refused (os error 111)".
pub fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        let more = current.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = current.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_client_per_profile_and_role() {
        let transport = Transport::new(4);
        let plain = HttpProfile::default();
        let proxied = HttpProfile {
            proxy: Some(url::Url::parse("http://127.0.0.1:3128").unwrap()),
            ..HttpProfile::default()
        };
        for _ in 0..3 {
            let clients = transport.tenant_clients(&plain);
            assert!(clients.token.is_ok() && clients.current_for(&plain));
            transport.tenant_clients(&proxied);
        }
        assert_eq!(transport.client_count(), 4);
    }

    #[test]
    fn a_client_that_cannot_be_built_fails_its_requests_with_a_typed_reason() {
        let transport = Transport::new(4);
        let broken_ca = HttpProfile {
            ca: Some((
                std::path::PathBuf::from("/etc/credprobe/ca.pem"),
                std::sync::Arc::new(
                    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
                ),
            )),
            ..HttpProfile::default()
        };
        let clients = transport.tenant_clients(&broken_ca);
        let error = clients.token.clone().unwrap_err();
        assert!(matches!(error, ClientError::Tls(_)), "{error:?}");
        assert_eq!(error.failure(), TransportFailure::Tls);
        assert!(
            error.to_string().starts_with("/etc/credprobe/ca.pem: "),
            "{error}"
        );
        assert!(!clients.current_for(&broken_ca), "retried next cycle");
    }

    #[tokio::test]
    async fn tenants_sharing_a_client_certificate_share_a_client_rebuilt_when_it_changes() {
        use crate::config::ClientIdentity;
        use crate::config::keys::KeyFiles;

        let dir = tempfile::tempdir().unwrap();
        let (key, cert) = (dir.path().join("c.pem"), dir.path().join("c.crt"));
        let write_pair = || {
            let pair = rcgen::KeyPair::generate().unwrap();
            let certificate = rcgen::CertificateParams::new(vec!["c".to_owned()])
                .unwrap()
                .self_signed(&pair)
                .unwrap();
            std::fs::write(dir.path().join("c.pem.new"), pair.serialize_pem()).unwrap();
            std::fs::write(dir.path().join("c.crt.new"), certificate.pem()).unwrap();
            std::fs::rename(dir.path().join("c.pem.new"), &key).unwrap();
            std::fs::rename(dir.path().join("c.crt.new"), &cert).unwrap();
        };
        write_pair();
        let profile = || HttpProfile {
            identity: Some(ClientIdentity(
                KeyFiles::open(&key, Some(&cert), None).unwrap(),
            )),
            ..HttpProfile::default()
        };
        let (a, b) = (profile(), profile());
        let transport = Transport::new(4);
        let built_with = |transport: &Transport| {
            let clients = transport.clients.lock().unwrap();
            let (version, _) = clients.get(&(a.clone(), Role::Token)).unwrap();
            *version
        };
        let of_a = transport.tenant_clients(&a);
        transport.tenant_clients(&b);
        assert_eq!(transport.client_count(), 2, "one pair for both tenants");
        let first = built_with(&transport);
        assert!(first.is_some());
        assert!(of_a.current_for(&a), "kept: nothing changed");
        assert_eq!(built_with(&transport), first, "not rebuilt");

        write_pair();
        a.identity.as_ref().unwrap().0.refresh().await;
        assert!(!of_a.current_for(&a), "the task takes new clients");
        transport.tenant_clients(&b);
        assert_eq!(transport.client_count(), 2);
        assert!(built_with(&transport) > first, "rebuilt with the new files");
    }

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).unwrap()
    }

    fn urls(texts: &[&str]) -> Vec<url::Url> {
        texts.iter().map(|text| url(text)).collect()
    }

    #[test]
    fn five_redirects_are_followed_not_a_sixth() {
        let start = "https://api.example.com/v1/x";
        let mut previous = urls(&[start]);
        for redirect in 1..=5 {
            assert!(
                may_follow(&url("https://api.example.com/v1/y"), &previous),
                "redirect {redirect}"
            );
            previous.push(url(&format!("https://api.example.com/v1/hop{redirect}")));
        }
        assert!(!may_follow(&url("https://api.example.com/v1/y"), &previous));
    }

    #[test]
    fn only_redirects_within_the_endpoints_origin_are_followed() {
        let from = urls(&["https://api.example.com/v1/x"]);
        for refused in [
            // Another scheme: also no https -> http downgrade, loopback or not.
            "http://api.example.com/v1/x",
            "http://127.0.0.1/x",
            "http://localhost/x",
            // Another host or port.
            "https://example.com/x",
            "https://login.api.example.com/x",
            "https://api.example.com:8443/x",
        ] {
            assert!(!may_follow(&url(refused), &from), "{refused}");
        }
        for allowed in [
            "https://api.example.com/v2/y",
            "https://api.example.com:443/v1/x?page=2",
            "https://API.example.com/v1/z",
        ] {
            assert!(may_follow(&url(allowed), &from), "{allowed}");
        }
        // Judged against the endpoint's own URL, not the last hop.
        let chain = urls(&["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]);
        assert!(may_follow(&url("http://127.0.0.1:1/c"), &chain));
        assert!(!may_follow(&url("http://127.0.0.1:2/c"), &chain));
        assert!(!may_follow(&url("http://localhost:1/c"), &chain));
    }
}
