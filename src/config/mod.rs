//! Configuration: YAML files in, a validated [`Config`] out.
//!
//! Loading is two stages, as in ripgrep: [`raw`] mirrors the files with
//! serde, [`validate`] checks everything at once and builds ready-to-use
//! types (parsed URLs, resolved secrets, range-checked durations). Nothing
//! after this module re-checks or re-parses configuration.

pub mod nexthink;
pub mod raw;
pub mod secrets;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use raw::{ClientAuth, TokenReuse};
pub use secrets::SecretSource;
pub use validate::{LoadOptions, load, load_with};

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
/// Default latency buckets (seconds): 5 ms to 30 s.
pub const DEFAULT_HISTOGRAM_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A whole validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The main file it was loaded from.
    pub source: PathBuf,
    /// Every tenant, sorted by name.
    pub tenants: Vec<Arc<Tenant>>,
    /// Cap on requests in flight.
    pub max_concurrent_requests: usize,
    /// Latency histogram buckets, ascending.
    pub histogram_buckets: Vec<f64>,
    /// The `tenant_files` patterns, resolved against the main file's
    /// folder, so `--config.watch` knows which files to watch.
    pub tenant_file_patterns: Vec<String>,
}

/// One tenant, ready to probe.
#[derive(Debug)]
pub struct Tenant {
    /// Unique name; the `tenant` label.
    pub name: String,
    /// The file that defined it, for messages.
    pub source: PathBuf,
    /// Labels exported on credprobe_tenant_info.
    pub labels: BTreeMap<String, String>,
    /// Time between two cycles.
    pub interval: Duration,
    /// Whether each cycle requests a fresh token.
    pub token_reuse: TokenReuse,
    /// How to request a token.
    pub token: TokenSettings,
    /// What to call with the token.
    pub endpoints: Vec<Endpoint>,
    /// When the client secret expires, if configured.
    pub credential_expires: Option<SystemTime>,
    /// Proxy and CA: which shared HTTP client serves this tenant.
    pub http: HttpProfile,
}

impl Tenant {
    /// True when `other` would probe exactly the same way, so a reload can
    /// leave this tenant's task, cached token and counters alone.
    pub fn same_settings(&self, other: &Tenant) -> bool {
        self.name == other.name
            && self.labels == other.labels
            && self.interval == other.interval
            && self.token_reuse == other.token_reuse
            && self.token.same_as(&other.token)
            && self.endpoints.len() == other.endpoints.len()
            && self
                .endpoints
                .iter()
                .zip(&other.endpoints)
                .all(|(a, b)| a.same_as(b))
            && self.credential_expires == other.credential_expires
            && self.http == other.http
    }

    /// The names of this tenant's endpoints, e.g. to delete their series.
    pub fn endpoint_names(&self) -> impl Iterator<Item = &str> {
        self.endpoints.iter().map(|e| e.name.as_str())
    }
}

/// The token request of a tenant.
#[derive(Debug)]
pub struct TokenSettings {
    /// The token endpoint.
    pub url: url::Url,
    /// OAuth2 client id.
    pub client_id: String,
    /// The client secret.
    pub secret: SecretSource,
    /// Basic header or form body.
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
    fn same_as(&self, other: &TokenSettings) -> bool {
        self.url == other.url
            && self.client_id == other.client_id
            && self.secret.same_as(&other.secret)
            && self.client_auth == other.client_auth
            && self.form == other.form
            && self.timeout == other.timeout
            && self.max_body_bytes == other.max_body_bytes
    }
}

/// One endpoint of a tenant.
#[derive(Debug)]
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

impl Endpoint {
    fn same_as(&self, other: &Endpoint) -> bool {
        self.name == other.name
            && self.url == other.url
            && self.method == other.method
            && self.headers == other.headers
            && self.body == other.body
            && self.every_cycles == other.every_cycles
            && self.timeout == other.timeout
            && self.max_body_bytes == other.max_body_bytes
            && self.expect == other.expect
    }
}

/// What a successful endpoint answer looks like.
#[derive(Debug, Default)]
pub struct Expect {
    /// Accepted status codes; any 2xx when `None`.
    pub status: Option<Vec<u16>>,
    /// A pattern the body must match.
    pub body_regex: Option<regex::Regex>,
    /// JSON pointer checks.
    pub json: Vec<JsonCheck>,
}

impl PartialEq for Expect {
    fn eq(&self, other: &Expect) -> bool {
        self.status == other.status
            && self.body_regex.as_ref().map(regex::Regex::as_str)
                == other.body_regex.as_ref().map(regex::Regex::as_str)
            && self.json == other.json
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
}

/// One thing wrong with the configuration, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file it is in.
    pub file: PathBuf,
    /// The tenant it concerns, if any.
    pub tenant: Option<String>,
    /// The field (dotted path), if known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(tenant) = &self.tenant {
            write!(f, ": tenant {tenant}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything wrong with a configuration, reported at once.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// Each problem found.
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} configuration problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// A configuration error with a single problem about a whole file.
    pub fn file(file: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError {
            problems: vec![ConfigProblem {
                file: file.to_owned(),
                tenant: None,
                field: None,
                message: message.into(),
            }],
        }
    }
}
