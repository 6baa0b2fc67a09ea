//! Serde structs that mirror the YAML files one to one.
//!
//! Nothing here is checked beyond its type: [`super::validate`] turns these
//! into a [`super::Config`]. Every struct denies unknown fields, so a typo in
//! a key is an error instead of a silently disabled check.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The main configuration file. Its tenants are `T`: parsed with it
/// (`RawTenant`), or kept as YAML values to be parsed one at a time, so
/// one tenant's mistake does not hide another's.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawConfig<T = Vec<RawTenant>> {
    /// Settings every tenant and endpoint inherits unless it overrides them.
    #[serde(default)]
    pub defaults: RawDefaults,
    /// Glob patterns (relative to this file's folder) of files holding more
    /// tenants, so an MSP can keep one file per tenant.
    #[serde(default)]
    pub tenant_files: Vec<String>,
    /// Tenants defined inline.
    #[serde(default)]
    pub tenants: T,
    /// Cap on HTTP requests in flight across all tenants.
    #[serde(default)]
    pub max_concurrent_requests: Option<usize>,
    /// Upper bounds (seconds) of the latency histograms' buckets; fewer
    /// buckets mean fewer series per tenant.
    #[serde(default)]
    pub histogram_buckets: Option<Vec<f64>>,
}

impl<T> RawConfig<T> {
    /// The same settings with other tenants (the tenants parsed apart).
    pub fn with_tenants<U>(self, tenants: U) -> RawConfig<U> {
        RawConfig {
            defaults: self.defaults,
            tenant_files: self.tenant_files,
            tenants,
            max_concurrent_requests: self.max_concurrent_requests,
            histogram_buckets: self.histogram_buckets,
        }
    }
}

/// A file matched by `tenant_files`: either `tenants: [...]`, a list of
/// tenants, or a single tenant. Its tenants are `T`, as in [`RawConfig`].
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawTenantFile<T = Vec<RawTenant>> {
    /// The tenants in this file.
    pub tenants: T,
}

/// The `defaults:` block.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// Time between two probe cycles of one tenant.
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Bound on one HTTP request, from connect to the last body byte.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Whether a cycle requests a fresh token or reuses a valid one.
    #[serde(default)]
    pub token_reuse: Option<TokenReuse>,
    /// Largest endpoint response body read, in bytes.
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    /// Largest token response body read, in bytes.
    #[serde(default)]
    pub max_token_body_bytes: Option<u64>,
    /// Whether the phase gauges are exported (default false: 5 series per
    /// step, opt-in under the series budget).
    #[serde(default)]
    pub phase_metrics: Option<bool>,
}

/// When a tenant requests a new token.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenReuse {
    /// A fresh token every cycle: detects a revoked credential within one
    /// interval (the default).
    #[default]
    Never,
    /// Reuse the token until shortly before it expires, for identity
    /// providers with tight rate limits.
    UntilExpiry,
}

/// How the client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `Authorization: Basic base64(id:secret)` (client_secret_basic).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body (client_secret_post).
    Post,
    /// A JWT signed with `client_key_file` in the form body (RFC 7523
    /// section 2.2, OpenID Connect's private_key_jwt).
    PrivateKeyJwt,
    /// `client_certificate_file` and `client_key_file` presented in the
    /// TLS handshake, `client_id` in the form (RFC 8705).
    TlsClientAuth,
}

/// One tenant as written in YAML.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(
    deny_unknown_fields,
    expecting = "a tenant (a mapping of its settings)"
)]
pub struct RawTenant {
    /// Unique name; the `tenant` label of every series.
    pub name: String,
    /// Extra labels (customer, tier) exported on credprobe_tenant_info.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Nexthink preset: derives base URL, token URL and default endpoint.
    #[serde(default)]
    pub nexthink: Option<RawNexthink>,
    /// Microsoft Entra ID preset: derives the token URL and the `.default`
    /// scope of a resource.
    #[serde(default)]
    pub entra: Option<RawEntra>,
    /// Scopes (or roles, permissions) the credential must be granted: each
    /// is exported as granted or not, read from the token response and the
    /// JWT access token's claims.
    #[serde(default)]
    pub expect_scopes: Option<Vec<String>>,
    /// Base URL the endpoint paths are appended to.
    #[serde(default)]
    pub base_url: Option<String>,
    /// OAuth2 token endpoint.
    #[serde(default)]
    pub token_url: Option<String>,
    /// OAuth2 client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Inline client secret (accepted with a warning; prefer a file).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// File holding the client secret; re-read when it changes.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// File holding the next client secret, during a rotation: each cycle
    /// also requests a token with it, so it is known to work before the
    /// current one is retired; re-read when it changes.
    #[serde(default)]
    pub next_client_secret_file: Option<PathBuf>,
    /// How the client authenticates to the token endpoint.
    #[serde(default)]
    pub client_auth: Option<ClientAuth>,
    /// PEM private key of `private_key_jwt` and `tls_client_auth`; re-read
    /// when it changes.
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// PEM certificate (chain) of that key: required for
    /// `tls_client_auth`, optional for `private_key_jwt` (then `x5t#S256`
    /// is sent and its notAfter is the credential's expiry).
    #[serde(default)]
    pub client_certificate_file: Option<PathBuf>,
    /// PEM private key of the next credential of `private_key_jwt` or
    /// `tls_client_auth`, during a key rotation: each cycle also requests
    /// a token with it; re-read when it changes.
    #[serde(default)]
    pub next_client_key_file: Option<PathBuf>,
    /// PEM certificate of `next_client_key_file`: required when
    /// `client_certificate_file` is set (the next `x5t#S256`, the next
    /// mTLS client).
    #[serde(default)]
    pub next_client_certificate_file: Option<PathBuf>,
    /// How `private_key_jwt` assertions are made (all optional).
    #[serde(default)]
    pub client_assertion: Option<RawClientAssertion>,
    /// Scopes requested, joined with spaces.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Extra form parameters of the token request (audience, resource).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// When the client secret expires (`2027-06-30` or RFC 3339).
    #[serde(default)]
    pub credential_expires: Option<String>,
    /// Overrides `defaults.interval`.
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Overrides `defaults.timeout`.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Overrides `defaults.token_reuse`.
    #[serde(default)]
    pub token_reuse: Option<TokenReuse>,
    /// Overrides `defaults.phase_metrics`: `true` adds the
    /// `credprobe_*_phase_seconds` series (5 per step); without it the
    /// status page and the JSON still show the phases.
    #[serde(default)]
    pub phase_metrics: Option<bool>,
    /// Overrides `defaults.max_body_bytes`.
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    /// Overrides `defaults.max_token_body_bytes`.
    #[serde(default)]
    pub max_token_body_bytes: Option<u64>,
    /// HTTP(S) proxy for this tenant's requests (else the standard
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` variables apply).
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// PEM file of the CA(s) that this tenant's servers are verified against
    /// instead of the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Allow plain http to hosts other than loopback.
    #[serde(default)]
    pub insecure_http: bool,
    /// Open a new connection for every request instead of reusing pooled
    /// ones, with a full TLS handshake (no session resumed), so every
    /// cycle measures DNS, connect and TLS.
    #[serde(default)]
    pub fresh_connections: bool,
    /// Endpoints called with the token; Nexthink tenants default to
    /// `GET /api/v1/workflows`.
    #[serde(default)]
    pub endpoints: Option<Vec<RawEndpoint>>,
    /// The identity provider's issuer: its discovery document gives the
    /// JWKS the access token is verified against, and the token's `iss`
    /// must equal it.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The JWK Set the access token is verified against (instead of the
    /// one discovery names).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Audiences the verified access token must name one of (`aud`).
    #[serde(default)]
    pub expect_audience: Option<Vec<String>>,
}

/// The `client_assertion:` block of a `private_key_jwt` tenant.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawClientAssertion {
    /// RS256, PS256 or ES256; RS256 for RSA keys and ES256 for P-256 keys
    /// when absent.
    #[serde(default)]
    pub algorithm: Option<crate::config::keys::SigningAlgorithm>,
    /// The JWT header's `kid`.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The `kid` of the assertions signed with `next_client_key_file`
    /// (none when absent: `key_id` names the current key).
    #[serde(default)]
    pub next_key_id: Option<String>,
    /// The `aud` claim, instead of the token URL.
    #[serde(default)]
    pub audience: Option<String>,
}

/// The `nexthink:` preset of a tenant.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawNexthink {
    /// The instance name (`acme` in `acme.eu.nexthink.cloud`).
    pub instance: String,
    /// One of us, eu, pac, meta.
    pub region: String,
    /// Which of Nexthink's two token endpoints to use.
    #[serde(default)]
    pub token_endpoint: NexthinkTokenEndpoint,
    /// The API permission families the credential should have; each listed
    /// family's read-only endpoint is probed (instead of `endpoints:`).
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

/// The `entra:` preset of a tenant (Microsoft Entra ID).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawEntra {
    /// The directory (tenant) id: a GUID or a verified domain.
    pub tenant_id: String,
    /// Which national cloud's login host to use.
    #[serde(default)]
    pub cloud: EntraCloud,
    /// The application ID URI of the API the token is for; the scope
    /// requested is `{resource}/.default`. Defaults to the base URL's
    /// origin.
    #[serde(default)]
    pub resource: Option<String>,
    /// Read the application's secrets and certificates from Microsoft
    /// Graph (at most hourly) to export when the credential in use and the
    /// latest one expire; needs Application.Read.All.
    #[serde(default)]
    pub credential_inventory: bool,
    /// Microsoft Graph's base URL instead of the cloud's (for tests and
    /// the demo).
    #[serde(default)]
    pub graph_url: Option<String>,
}

/// Microsoft's national clouds, each with its own login host.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EntraCloud {
    /// `login.microsoftonline.com`.
    #[default]
    Global,
    /// `login.microsoftonline.us` (US Government).
    Usgov,
    /// `login.microsoftonline.us` with Graph at `dod-graph.microsoft.us`
    /// (US Government DoD).
    Dod,
    /// `login.chinacloudapi.cn` (operated by 21Vianet).
    China,
}

/// Nexthink's two token endpoint forms.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NexthinkTokenEndpoint {
    /// `https://{instance}-login.{region}.nexthink.cloud/oauth2/default/v1/token`
    #[default]
    Login,
    /// `https://{instance}.api.{region}.nexthink.cloud/api/v1/token`
    Legacy,
}

/// One endpoint as written in YAML.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    /// Unique name within the tenant; the `endpoint` label.
    pub name: String,
    /// Path appended to the tenant's base URL.
    #[serde(default)]
    pub path: Option<String>,
    /// Absolute URL, instead of `path`.
    #[serde(default)]
    pub url: Option<String>,
    /// HTTP method; GET unless said otherwise.
    #[serde(default)]
    pub method: Option<String>,
    /// Required for any method but GET and HEAD.
    #[serde(default)]
    pub allow_mutating: bool,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
    /// Own interval, rounded up to whole tenant cycles.
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Overrides the tenant's timeout.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Overrides the tenant's `max_body_bytes`.
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    /// What a successful answer looks like.
    #[serde(default)]
    pub expect: Option<RawExpect>,
}

/// The `expect:` block of an endpoint.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// Accepted status codes; any 2xx when absent.
    #[serde(default)]
    pub status: Option<Vec<u16>>,
    /// A regular expression the body must match.
    #[serde(default)]
    pub body_regex: Option<String>,
    /// JSON pointer checks on the body.
    #[serde(default)]
    pub json: Vec<RawJsonCheck>,
}

/// One JSON pointer check.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawJsonCheck {
    /// RFC 6901 pointer, e.g. `/state` or `/0/name`.
    pub pointer: String,
    /// `true`: the pointer must resolve; `false`: it must not.
    #[serde(default)]
    pub exists: Option<bool>,
    /// The value the pointer must resolve to.
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
}
