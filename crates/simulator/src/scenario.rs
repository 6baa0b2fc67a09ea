//! What the simulated API does, per client: the [`Scenario`] and its YAML
//! form.
//!
//! YAML is parsed into a raw struct whose knobs are all optional, then a
//! preset (if any) is applied and the explicit knobs override it, giving a
//! [`ClientBehaviour`] whose fields are plain values the server reads as is.
//! The YAML form of a client lives in `raw`; the identity-provider knobs
//! (signing, discovery, token shapes, Graph's application credentials) in
//! `identity`; why a scenario is refused in `error`.
//!
//! # Identity-provider knobs, in YAML
//!
//! ```yaml
//! signing:                       # how access tokens are signed
//!   algorithm: ES256             # or RS256
//!   rotation: 10m                # a new key (new kid) this often
//!   publish_delay: 30s           # a new key reaches the JWKS this late
//! discovery:
//!   issuer: https://idp.example  # instead of the URL the request reached
//!   openid_configuration: not_found   # normal, not_found, server_error,
//!   oauth_authorization_server: normal #   invalid_json, wrong_issuer,
//!                                      #   no_token_endpoint
//! clients:
//!   - client_id: acme
//!     client_secret: old-secret
//!     additional_client_secrets: [new-secret]  # a rotation in progress
//!     rate_limited_secrets: [new-secret]  # 429 to this secret only
//!     token_format: jwt          # or opaque
//!     audience: api://other      # the token's aud
//!     token_issuer: https://x    # the token's iss
//!     iat_offset: -5m            # iat, nbf and exp shifted (a skewed clock)
//!     nbf_offset: 5m             # nbf this far after iat (not yet valid)
//!     sign_with_unpublished_key: true  # a kid the JWKS never lists
//!     expired_on_arrival: true   # exp already past
//!     graph_permission: false    # Graph answers 403 to this client
//!     app_credentials:           # what Graph lists for this application
//!       - type: secret           # hint: first 3 characters of `secret`
//!         secret: new-secret     #   (default: client_secret)
//!         expires: in 10d        # or `3d ago`, or 2027-01-31T00:00:00Z
//!       - type: certificate      # thumbprint of `certificate` (default:
//!         expires: in 90d        #   the client's; or give `thumbprint`)
//! ```
//!
//! A rotation in progress whose next secret works: the next secret is in
//! `additional_client_secrets`. One whose next secret is rejected: the next
//! secret is in neither `client_secret` nor `additional_client_secrets`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use serde::Deserialize;

use super::SimulatorError;
use super::client_keys;
use raw::pem_or_path;

mod error;
mod identity;
mod raw;

pub use error::{AppCredentialError, ClientError, ScenarioError};

pub(crate) use identity::certificate_facts;
pub use identity::{
    AppCredential, AppCredentialKind, Discovery, DiscoveryAnswer, Signing, SigningAlgorithm,
    TimeError, TokenFormat, secret_hint,
};

/// The API path the `missing_permission` preset forbids: Nexthink answers 403
/// there when the credential lacks the Remote Actions permission.
pub(super) const REMOTE_ACTION_PATH: &str = "/api/v1/act/remote-action";

/// What the simulated API does, per client.
///
/// Exists so the demo, the integration tests and the benchmarks can describe
/// an upstream (healthy tenants, revoked ones, slow ones...) in one value or
/// one YAML file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The clients the token endpoints know, each with its behaviour.
    #[serde(default)]
    pub clients: Vec<ClientBehaviour>,
    /// Accept a client that is not listed as healthy when its secret is
    /// `secret-` + client_id, so benchmarks can use thousands of tenants
    /// without listing them.
    #[serde(default)]
    pub accept_any: bool,
    /// With `accept_any`, the public key (PEM, or a file holding it) that
    /// verifies the client assertions of unlisted clients, so benchmarks
    /// can run thousands of `private_key_jwt` tenants.
    #[serde(default, deserialize_with = "pem_or_path")]
    pub accept_any_public_key: Option<String>,
    /// How access tokens are signed and the signing key rotates.
    #[serde(default)]
    pub signing: Signing,
    /// What the discovery documents say and how they fail.
    #[serde(default)]
    pub discovery: Discovery,
}

impl Scenario {
    /// Reads a scenario from a YAML file; errors name the file and carry
    /// serde's line and column, so `credprobe simulate --scenario` can say
    /// exactly what is wrong.
    pub fn from_yaml_file(path: &Path) -> Result<Scenario, SimulatorError> {
        let text = std::fs::read_to_string(path).map_err(|error| SimulatorError::ReadScenario {
            path: path.to_path_buf(),
            error,
        })?;
        Self::parse(&text).map_err(|error| SimulatorError::InvalidScenarioFile {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Reads a scenario from YAML text (tests embed theirs inline).
    pub fn from_yaml_str(text: &str) -> Result<Scenario, SimulatorError> {
        Self::parse(text).map_err(|error| SimulatorError::InvalidScenario { error })
    }

    /// The scenario of `credprobe demo`: six tenants, each showing one way a
    /// credential or an API can fail, so the demo's dashboards are not all
    /// green. Every secret is client_id + `-secret`.
    pub fn demo() -> Scenario {
        let client = |id: &str, preset: Preset| {
            ClientBehaviour::new(id, format!("{id}-secret")).with_preset(preset)
        };
        let mut slow = client("initech-slow", Preset::SlowToken);
        slow.token_delay = Duration::from_millis(1500);
        Scenario {
            clients: vec![
                client("acme-prod", Preset::Healthy),
                client("globex-revoked", Preset::Revoked),
                slow,
                client("umbrella-noperm", Preset::MissingPermission),
                client("hooli-flaky", Preset::Flaky),
                client("stark-ratelimited", Preset::RateLimited),
            ],
            ..Scenario::default()
        }
    }

    /// Checks what serde cannot: unique client ids and sensible knob values.
    /// The server tolerates a scenario that fails this (built in Rust), but
    /// a YAML file must pass it.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if let Some(pem) = &self.accept_any_public_key {
            client_keys::verification_key(pem).map_err(ScenarioError::AcceptAnyPublicKey)?;
        }
        let mut seen = HashSet::new();
        for (index, client) in self.clients.iter().enumerate() {
            client.validate().map_err(|problem| ScenarioError::Client {
                index,
                client_id: client.client_id.clone(),
                problem: Box::new(problem),
            })?;
            if !seen.insert(client.client_id.as_str()) {
                return Err(ScenarioError::DuplicateClient {
                    index,
                    client_id: client.client_id.clone(),
                });
            }
        }
        Ok(())
    }

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        // An empty file is an empty scenario rather than a YAML error.
        if text.trim().is_empty() {
            return Ok(Scenario::default());
        }
        let scenario: Scenario = serde_norway::from_str(text).map_err(ScenarioError::Yaml)?;
        scenario.validate()?;
        Ok(scenario)
    }
}

/// A named bundle of knobs, so a scenario can say `scenario: revoked`
/// instead of spelling out what revoked means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Everything works.
    Healthy,
    /// Every token request answers 401 invalid_client.
    Revoked,
    /// Token requests take 2 s.
    SlowToken,
    /// The remote-action API answers 403 (the credential lacks that permission).
    MissingPermission,
    /// 30 % of API calls answer 503.
    Flaky,
    /// Every 2nd token request and every 3rd API call answer 429 with Retry-After.
    RateLimited,
    /// Token requests answer 200 with a body that is not JSON.
    MalformedToken,
    /// Tokens live 60 s instead of 900 s.
    ShortLived,
}

/// The shape of a successful token response, so the client's validation of
/// token responses can be tested against every way a provider gets it wrong.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenResponse {
    /// A correct RFC 6749 response.
    #[default]
    Normal,
    /// 200 with an HTML page (a proxy's error page).
    NotJson,
    /// JSON without `access_token`.
    NoAccessToken,
    /// `token_type` is `mac`, not bearer.
    TokenTypeMac,
    /// `expires_in` is 0.
    ZeroExpiresIn,
    /// `expires_in` is negative.
    NegativeExpiresIn,
    /// `expires_in` is a string such as `"900"`.
    StringExpiresIn,
    /// No `expires_in` (the JWT `exp` claim is still set).
    NoExpiresIn,
    /// A valid JSON body of 200 KiB (over a 64 KiB token body limit).
    Oversized,
    /// 302 to `/oauth2/token` (token requests must not follow redirects).
    Redirect,
    /// JSON of the right shape with the wrong types: `access_token` a
    /// number, `token_type` a boolean, `expires_in` an object.
    WrongTypes,
}

/// The shape of a successful API answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiResponse {
    /// The route's normal JSON.
    #[default]
    Normal,
    /// 200 with an HTML page (a proxy's error page).
    NotJson,
    /// JSON whose every value is a number (`{"state": 1}`, `{"items": 1}`).
    WrongTypes,
}

/// How Microsoft Entra ID refuses a credential, with its `error_codes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntraRefusal {
    /// 401 `invalid_client`, AADSTS7000215: the secret is wrong.
    InvalidSecret,
    /// 401 `invalid_client`, AADSTS7000222: the secret has expired.
    ExpiredSecret,
    /// 400 `unauthorized_client`, AADSTS700016: no such application.
    UnknownClient,
    /// 400 `unauthorized_client`, AADSTS7000112: the application is disabled.
    Disabled,
}

/// A way an answer breaks after its status and headers were sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFault {
    /// The connection breaks mid-answer, before the client has the whole
    /// answer (in practice before its head: a reset connection).
    Reset,
    /// The first bytes of the body come, the rest never does (until the
    /// simulator stops): a slow body that outlasts any timeout.
    Stall,
}

/// How the simulated API treats one client: its credentials and every
/// failure knob. Built from YAML (a preset, then explicit knobs) or in Rust
/// with [`ClientBehaviour::new`] and field assignments.
///
/// Debug shows the secret: it is a fake one.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "raw::RawClientBehaviour")]
pub struct ClientBehaviour {
    /// The OAuth2 client id (no `:`, which Basic auth cannot carry).
    pub client_id: String,
    /// The secret the token endpoints expect (YAML default: client_id + `-secret`).
    pub client_secret: String,
    /// The preset this behaviour started from, kept for display.
    pub scenario: Option<Preset>,
    /// Sleep before answering token requests (a slow identity provider).
    pub token_delay: Duration,
    /// Force this status on token requests; 200 means "behave normally".
    pub token_status: u16,
    /// OAuth2 error code sent with a forced `token_status`; `None` picks one
    /// from the status.
    pub token_error: Option<String>,
    /// `expires_in` of issued tokens, in seconds.
    pub token_lifetime: u64,
    /// The shape of a successful token response.
    pub token_response: TokenResponse,
    /// `token_type` of successful token responses, verbatim, instead of
    /// `Bearer` (e.g. markup, to prove it is shown as text).
    pub token_type: Option<String>,
    /// How every token answer's body breaks, if it does.
    pub token_fault: Option<BodyFault>,
    /// Every token request is refused as Entra ID refuses this way.
    pub entra_refusal: Option<EntraRefusal>,
    /// The scopes granted: the token response's `scope` and the JWT's
    /// `scp` (space-separated) and `roles` (a list); the Nexthink scope
    /// when unset.
    pub granted_scopes: Option<Vec<String>>,
    /// Whether the token response carries `scope` (else only the JWT's
    /// claims say what was granted).
    pub scope_in_response: bool,
    /// The shape of successful API answers.
    pub api_response: ApiResponse,
    /// How every API answer's body breaks, if it does.
    pub api_fault: Option<BodyFault>,
    /// Retry-After sent with a 429 token answer, verbatim (seconds or an HTTP
    /// date); forced 429s send none when unset, the rate_limited knob sends "2".
    pub token_retry_after: Option<String>,
    /// Every token request answers 401 invalid_client, whatever the secret.
    pub revoked: bool,
    /// Sleep before answering API calls (a huge value is a hanging upstream).
    pub api_delay: Duration,
    /// API paths answering 403 (the credential lacks that API's permission).
    pub forbidden_paths: Vec<String>,
    /// Probability (0 to 1) that an API call answers 503.
    pub failure_rate: f64,
    /// Forced status per API path, body `{"code":"FORCED"}`.
    pub api_status: BTreeMap<String, u16>,
    /// Retry-After sent with a 429 API answer, verbatim; forced 429s send none
    /// when unset, the rate_limited knob sends "2".
    pub api_retry_after: Option<String>,
    /// Every 2nd token request and every 3rd API call answer 429.
    pub rate_limited: bool,
    /// API calls answer 401 even with a valid token.
    pub reject_tokens: bool,
    /// If > 0, API JSON answers are padded with whitespace to at least this
    /// many bytes (for body-limit tests).
    pub api_body_size: usize,
    /// PEM public key (`BEGIN PUBLIC KEY`, or a certificate) that verifies
    /// the client's `private_key_jwt` assertions; YAML takes the PEM or a
    /// file holding it.
    pub public_key: Option<String>,
    /// PEM certificate of the client: its subject is the client's RFC 8705
    /// `tls_client_auth_subject_dn`; its key verifies assertions when
    /// `public_key` is not set, and an assertion's `x5t#S256` must be its.
    pub certificate: Option<String>,
    /// An `aud` client assertions may carry instead of the token URL.
    pub assertion_audience: Option<String>,
    /// More secrets the token endpoints accept beside `client_secret`: a
    /// rotation in progress, when an application has two valid secrets.
    pub additional_client_secrets: Vec<String>,
    /// Secrets whose token requests answer 429 (`Retry-After`:
    /// `token_retry_after`, else 2), whether or not they are accepted: a
    /// rate limit on one credential of a client, e.g. the next secret of a
    /// rotation, while its other secrets get tokens.
    pub rate_limited_secrets: Vec<String>,
    /// More PEM public keys (or certificates) that verify the client's
    /// assertions beside `public_key`/`certificate`: a key rotation.
    pub additional_public_keys: Vec<String>,
    /// Whether access tokens are signed JWTs or opaque strings.
    pub token_format: TokenFormat,
    /// The tokens' `aud`, instead of the resource of a `.../.default`
    /// scope asked for (else `api://credprobe-simulator`).
    pub audience: Option<String>,
    /// The tokens' `iss`, instead of the issuer of the authority whose
    /// token path was called.
    pub token_issuer: Option<String>,
    /// Seconds added to the tokens' `iat`, `nbf` and `exp`: an identity
    /// provider whose clock is off (negative: behind).
    pub iat_offset: i64,
    /// Seconds added to the tokens' `nbf` beyond their `iat`: a token not
    /// valid yet when it arrives (positive), as a provider that dates `nbf`
    /// ahead would issue.
    pub nbf_offset: i64,
    /// Tokens are signed with a key the JWKS never lists.
    pub sign_with_unpublished_key: bool,
    /// Tokens carry an `exp` already past (the simulator's API still takes
    /// them for `token_lifetime`).
    pub expired_on_arrival: bool,
    /// Whether the client's Graph tokens may read applications
    /// (`Application.Read.All`); Graph answers 403 when not.
    pub graph_permission: bool,
    /// The application's credentials as Graph lists them; when `None`, its
    /// secrets (ending a year after the scenario was loaded) and its
    /// certificate (ending at its notAfter).
    pub app_credentials: Option<Vec<AppCredential>>,
}

impl ClientBehaviour {
    /// A healthy client with these credentials; set fields to make it fail.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        ClientBehaviour {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scenario: None,
            token_delay: Duration::ZERO,
            token_status: 200,
            token_error: None,
            token_lifetime: 900,
            token_response: TokenResponse::Normal,
            token_type: None,
            token_fault: None,
            entra_refusal: None,
            granted_scopes: None,
            scope_in_response: true,
            api_response: ApiResponse::Normal,
            api_fault: None,
            token_retry_after: None,
            revoked: false,
            api_delay: Duration::ZERO,
            forbidden_paths: Vec::new(),
            failure_rate: 0.0,
            api_status: BTreeMap::new(),
            api_retry_after: None,
            rate_limited: false,
            reject_tokens: false,
            api_body_size: 0,
            public_key: None,
            certificate: None,
            assertion_audience: None,
            additional_client_secrets: Vec::new(),
            rate_limited_secrets: Vec::new(),
            additional_public_keys: Vec::new(),
            token_format: TokenFormat::Jwt,
            audience: None,
            token_issuer: None,
            iat_offset: 0,
            nbf_offset: 0,
            sign_with_unpublished_key: false,
            expired_on_arrival: false,
            graph_permission: true,
            app_credentials: None,
        }
    }

    /// Whether `secret` is one of the secrets the client authenticates with.
    pub(crate) fn accepts_secret(&self, secret: &str) -> bool {
        self.client_secret == secret || self.additional_client_secrets.iter().any(|s| s == secret)
    }

    /// Applies a preset's knobs on top of this behaviour.
    pub fn with_preset(mut self, preset: Preset) -> Self {
        self.scenario = Some(preset);
        match preset {
            Preset::Healthy => {}
            Preset::Revoked => self.revoked = true,
            Preset::SlowToken => self.token_delay = Duration::from_secs(2),
            Preset::MissingPermission => {
                if !self.forbidden_paths.iter().any(|p| p == REMOTE_ACTION_PATH) {
                    self.forbidden_paths.push(REMOTE_ACTION_PATH.to_owned());
                }
            }
            Preset::Flaky => self.failure_rate = 0.3,
            Preset::RateLimited => self.rate_limited = true,
            Preset::MalformedToken => self.token_response = TokenResponse::NotJson,
            Preset::ShortLived => self.token_lifetime = 60,
        }
        self
    }

    /// Checks the knobs serde cannot check by type.
    fn validate(&self) -> Result<(), ClientError> {
        if self.client_id.is_empty() {
            return Err(ClientError::EmptyClientId);
        }
        if self.client_id.contains(':') {
            return Err(ClientError::ColonInClientId);
        }
        check_status("token_status", self.token_status)?;
        for (path, status) in &self.api_status {
            check_path("api_status", path)?;
            check_status(&format!("api_status[{path}]"), *status)?;
        }
        for path in &self.forbidden_paths {
            check_path("forbidden_paths", path)?;
        }
        for (knob, pem) in [
            ("public_key", &self.public_key),
            ("certificate", &self.certificate),
        ] {
            if let Some(pem) = pem {
                client_keys::verification_key(pem).map_err(|problem| ClientError::Key {
                    knob: knob.to_owned(),
                    problem,
                })?;
            }
        }
        for (index, pem) in self.additional_public_keys.iter().enumerate() {
            client_keys::verification_key(pem).map_err(|problem| ClientError::Key {
                knob: format!("additional_public_keys[{index}]"),
                problem,
            })?;
        }
        if !(0.0..=1.0).contains(&self.failure_rate) {
            return Err(ClientError::FailureRate(self.failure_rate));
        }
        for (knob, value) in [
            ("token_retry_after", &self.token_retry_after),
            ("api_retry_after", &self.api_retry_after),
        ] {
            if let Some(value) = value
                && HeaderValue::from_str(value).is_err()
            {
                return Err(ClientError::NotHeaderValue {
                    knob,
                    value: value.clone(),
                });
            }
        }
        Ok(())
    }
}

fn check_status(knob: &str, status: u16) -> Result<(), ClientError> {
    match StatusCode::from_u16(status) {
        Ok(_) if (100..=599).contains(&status) => Ok(()),
        _ => Err(ClientError::NotStatus {
            knob: knob.to_owned(),
            status,
        }),
    }
}

fn check_path(knob: &'static str, path: &str) -> Result<(), ClientError> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(ClientError::NotPath {
            knob,
            path: path.to_owned(),
        })
    }
}
