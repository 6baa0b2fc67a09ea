//! Configuration: YAML files in, a validated [`Config`] out.
//!
//! Loading is two stages, as in ripgrep: [`raw`] mirrors the files with
//! serde, [`validate`] checks everything at once and builds ready-to-use
//! types (parsed URLs, resolved secrets, range-checked durations). Nothing
//! after this module re-checks or re-parses configuration.
//!
//! Every problem names its file and line ([`problems`], the lines found
//! by [`locate`]).
//!
//! Beside them: the credentials' files, read at load and then watched
//! ([`crate::watched_file`]) so a rotation needs no reload: client secrets
//! ([`secrets`]); private keys, client certificates and CA bundles
//! ([`keys`], one module per job); what each `client_auth` method
//! authenticates with and the per-cycle refresh of its files
//! ([`client_auth`]); the Nexthink and Entra ID presets ([`nexthink`],
//! [`entra`], [`preset`]); how access tokens are verified
//! ([`verification`]); where token requests go, configured or discovered
//! from the issuer ([`discovery`]).

pub mod client_auth;
pub mod discovery;
pub mod entra;
pub mod keys;
pub mod locate;
pub mod nexthink;
pub mod preset;
pub mod problems;
pub mod raw;
pub mod secrets;
pub mod validate;
pub mod verification;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use client_auth::{AssertionSettings, ClientIdentity, Credential};
pub use discovery::{DiscoveredEndpoint, TokenEndpoint};
pub use keys::SigningAlgorithm;
pub use problems::{ConfigError, ConfigProblem, Problems};
pub use raw::{ClientAuth, TokenReuse};
pub use secrets::SecretSource;
pub use validate::{LoadOptions, load, load_with};
pub use verification::Verification;

/// Default time between two cycles of a tenant.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Default bound on one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on an endpoint response body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default limit on a token response body.
pub const DEFAULT_MAX_TOKEN_BODY_BYTES: usize = 64 * 1024;
/// Default cap on requests in flight across all tenants.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 100;
/// Default classic latency buckets (seconds): 7 bounds, so a histogram is
/// 10 series (8 buckets, sum, count). Chosen for what the latency panels and
/// the alert need: p50/p95/p99 of requests that take 50 ms to a few
/// seconds, and the alert threshold (2.5 s) as a bound; 10 s is the default
/// timeout. Native histograms (protobuf scrapes) carry their own
/// exponential buckets beside these.
pub const DEFAULT_HISTOGRAM_BUCKETS: [f64; 7] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A whole validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The main file it was loaded from.
    pub source: PathBuf,
    /// This shard's tenants (every tenant without sharding), sorted by name.
    pub tenants: Vec<Arc<Tenant>>,
    /// How many tenants the whole fleet configures, every shard's.
    pub configured: usize,
    /// Cap on requests in flight.
    pub max_concurrent_requests: usize,
    /// Latency histogram buckets, ascending.
    pub histogram_buckets: Vec<f64>,
    /// The `tenant_files` patterns, resolved against the main file's
    /// folder, so `--config.watch` knows which files to watch.
    pub tenant_file_patterns: Vec<String>,
    /// Risks found that do not stop the configuration from loading: a
    /// secret or private key file that group or others can read, a
    /// `credential_expires` already passed. Logged at start-up and at
    /// every reload ([`LoadOptions::log_warnings`]), and then emptied;
    /// printed by `check-config`.
    pub warnings: Vec<ConfigProblem>,
}

/// One tenant, ready to probe.
///
/// Equality is derived, so it covers every field, including any added later:
/// a reload leaves a tenant's task, cached token and counters alone exactly
/// when the new tenant compares equal to the running one, and restarts it
/// otherwise.
#[derive(Debug, PartialEq)]
pub struct Tenant {
    /// Unique name; the `tenant` label.
    pub name: String,
    /// The file that defined it, for messages. Part of equality on purpose:
    /// relative secret and CA paths resolve against this file's folder, so a
    /// tenant moved to another file is restarted.
    pub source: PathBuf,
    /// Labels exported on credprobe_tenant_info.
    pub labels: BTreeMap<String, String>,
    /// Time between two cycles.
    pub interval: Duration,
    /// Whether each cycle requests a fresh token.
    pub token_reuse: TokenReuse,
    /// Whether `/metrics` carries this tenant's phase gauges
    /// (`phase_metrics`, default false): 5 series per step, 15 for a token
    /// request and two endpoints, so they are opt-in.
    pub phase_metrics: bool,
    /// How to request a token.
    pub token: TokenSettings,
    /// What to call with the token.
    pub endpoints: Vec<Endpoint>,
    /// Scopes the credential must be granted (`expect_scopes:`).
    pub expect_scopes: Vec<String>,
    /// When the credential expires, if configured (`credential_expires`);
    /// read [`Tenant::credential_expiry`], which also knows certificates.
    pub credential_expires: Option<SystemTime>,
    /// Proxy and CA: which shared HTTP client serves this tenant.
    pub http: HttpProfile,
    /// How the access token is verified (`issuer:`, `jwks_url:`,
    /// `expect_audience:`); `None` when it is not.
    pub verification: Option<Verification>,
    /// The Entra credential inventory (`entra.credential_inventory`), when
    /// on.
    pub inventory: Option<entra::InventorySettings>,
}

impl Tenant {
    /// The names of this tenant's endpoints, e.g. to delete their series.
    pub fn endpoint_names(&self) -> impl Iterator<Item = &str> {
        self.endpoints.iter().map(|e| e.name.as_str())
    }

    /// When the credential expires: `credential_expires` when configured
    /// (it wins), else the notAfter of the client certificate in use, which
    /// follows the certificate file when it changes: what the
    /// configuration knows. The metrics and the views read
    /// [`crate::fleet::TenantState::credential_expiry`], which puts what
    /// the Entra credential inventory lists between the two.
    pub fn credential_expiry(&self) -> Option<SystemTime> {
        self.credential_expires
            .or_else(|| self.token.credential.certificate_expiry())
    }
}

/// The token request of a tenant.
#[derive(Debug, PartialEq)]
pub struct TokenSettings {
    /// The token endpoint: configured, or read from the issuer's
    /// discovery document.
    pub url: TokenEndpoint,
    /// OAuth2 client id.
    pub client_id: String,
    /// The secret, signing key or client certificate.
    pub credential: Credential,
    /// The credential that will replace it (`next_client_secret_file`, or
    /// `next_client_key_file` with its certificate), during a rotation:
    /// each token request is repeated with it, token only, so the next
    /// credential is known to work before the switch.
    pub next_credential: Option<Credential>,
    /// How the credential is presented.
    pub client_auth: ClientAuth,
    /// Form fields (grant_type, scope, extra params), in order; empty means
    /// an empty body (Nexthink's legacy form).
    pub form: Vec<(String, String)>,
    /// Bound on one token request.
    pub timeout: Duration,
    /// Largest token response body read.
    pub max_body_bytes: usize,
}

impl TokenSettings {
    /// The files of the credential and of the next one, to look at once
    /// per interval ([`crate::watched_file::refresher`]).
    pub fn watched(&self) -> Vec<Arc<dyn crate::watched_file::Watch>> {
        let mut files = self.credential.watched();
        if let Some(next) = &self.next_credential {
            files.extend(next.watched());
        }
        files
    }
}

/// One endpoint of a tenant.
#[derive(Debug, PartialEq)]
pub struct Endpoint {
    /// Unique within the tenant; the `endpoint` label.
    pub name: String,
    /// The full URL called.
    pub url: url::Url,
    /// The HTTP method (GET/HEAD unless the endpoint allowed mutating).
    pub method: reqwest::Method,
    /// Extra headers.
    pub headers: reqwest::header::HeaderMap,
    /// Request body.
    pub body: Option<String>,
    /// Called every this many tenant cycles (1 = every cycle).
    pub every_cycles: u32,
    /// Bound on one call.
    pub timeout: Duration,
    /// Largest response body read.
    pub max_body_bytes: usize,
    /// What success looks like.
    pub expect: Expect,
}

/// What a successful endpoint answer looks like.
#[derive(Debug, Default, PartialEq)]
pub struct Expect {
    /// Accepted status codes; any 2xx when `None`.
    pub status: Option<Vec<u16>>,
    /// A pattern the body must match.
    pub body_regex: Option<Pattern>,
    /// JSON pointer checks.
    pub json: Vec<JsonCheck>,
}

/// A compiled regular expression that compares by its source text.
///
/// [`regex::Regex`] has no `PartialEq`; this newtype gives it one, so the
/// types holding a pattern (like [`Expect`]) can derive theirs and a reload
/// sees a changed pattern.
#[derive(Clone)]
pub struct Pattern(regex::Regex);

impl Pattern {
    /// The pattern as written, for messages such as "body does not match".
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Pattern {}

impl From<regex::Regex> for Pattern {
    fn from(regex: regex::Regex) -> Pattern {
        Pattern(regex)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.as_str())
    }
}

/// One JSON pointer check on an endpoint body.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonCheck {
    /// RFC 6901 pointer.
    pub pointer: String,
    /// What must hold at the pointer.
    pub condition: JsonCondition,
}

/// The condition of a [`JsonCheck`].
#[derive(Debug, Clone, PartialEq)]
pub enum JsonCondition {
    /// The pointer resolves (true) or does not (false).
    Exists(bool),
    /// The pointer resolves to this value.
    Equals(serde_json::Value),
}

/// What makes two tenants need different HTTP clients.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct HttpProfile {
    /// Explicit proxy; `None` follows the standard environment variables.
    pub proxy: Option<url::Url>,
    /// CA bundle file and its PEM bytes (read at load).
    pub ca: Option<(PathBuf, Arc<Vec<u8>>)>,
    /// The client certificate presented in TLS handshakes
    /// (`tls_client_auth`), to the token endpoint and the API alike, so
    /// certificate-bound tokens work.
    pub identity: Option<ClientIdentity>,
    /// `fresh_connections`: no connection kept between requests and no TLS
    /// session resumed, so every request's DNS, connect and full TLS
    /// handshake are measured.
    pub fresh_connections: bool,
}
