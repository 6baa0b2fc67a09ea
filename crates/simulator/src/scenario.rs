//! What the simulated API does, per client: the [`Scenario`] and its YAML
//! form.
//!
//! YAML is parsed into a raw struct whose knobs are all optional, then a
//! preset (if any) is applied and the explicit knobs override it, giving a
//! [`ClientBehaviour`] whose fields are plain values the server reads as is.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use serde::Deserialize;

use super::SimulatorError;
use super::client_keys;

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
        Self::parse(&text).map_err(|message| SimulatorError::InvalidScenarioFile {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Reads a scenario from YAML text (tests embed theirs inline).
    pub fn from_yaml_str(text: &str) -> Result<Scenario, SimulatorError> {
        Self::parse(text).map_err(|message| SimulatorError::InvalidScenario { message })
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
            accept_any: false,
            accept_any_public_key: None,
        }
    }

    /// Checks what serde cannot: unique client ids and sensible knob values.
    /// The server tolerates a scenario that fails this (built in Rust), but
    /// a YAML file must pass it.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(pem) = &self.accept_any_public_key {
            client_keys::verification_key(pem)
                .map_err(|problem| format!("accept_any_public_key: {problem}"))?;
        }
        let mut seen = HashSet::new();
        for (index, client) in self.clients.iter().enumerate() {
            client
                .validate()
                .map_err(|problem| format!("clients[{index}] ({}): {problem}", client.client_id))?;
            if !seen.insert(client.client_id.as_str()) {
                return Err(format!(
                    "clients[{index}]: client_id {:?} is listed twice",
                    client.client_id
                ));
            }
        }
        Ok(())
    }

    fn parse(text: &str) -> Result<Scenario, String> {
        // An empty file is an empty scenario rather than a YAML error.
        if text.trim().is_empty() {
            return Ok(Scenario::default());
        }
        let scenario: Scenario = serde_norway::from_str(text).map_err(|error| error.to_string())?;
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
#[serde(try_from = "RawClientBehaviour")]
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
        }
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
    fn validate(&self) -> Result<(), String> {
        if self.client_id.is_empty() {
            return Err("client_id is empty".into());
        }
        if self.client_id.contains(':') {
            return Err("client_id contains ':', which Basic authentication cannot carry".into());
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
                client_keys::verification_key(pem)
                    .map_err(|problem| format!("{knob}: {problem}"))?;
            }
        }
        if !(0.0..=1.0).contains(&self.failure_rate) {
            return Err(format!(
                "failure_rate {} is not between 0 and 1",
                self.failure_rate
            ));
        }
        for (knob, value) in [
            ("token_retry_after", &self.token_retry_after),
            ("api_retry_after", &self.api_retry_after),
        ] {
            if let Some(value) = value
                && HeaderValue::from_str(value).is_err()
            {
                return Err(format!("{knob} {value:?} is not a valid header value"));
            }
        }
        Ok(())
    }
}

fn check_status(knob: &str, status: u16) -> Result<(), String> {
    match StatusCode::from_u16(status) {
        Ok(_) if (100..=599).contains(&status) => Ok(()),
        _ => Err(format!("{knob} {status} is not an HTTP status (100-599)")),
    }
}

fn check_path(knob: &str, path: &str) -> Result<(), String> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(format!("{knob}: path {path:?} does not start with '/'"))
    }
}

/// The YAML form of a client: every knob optional so that a preset can fill
/// what is not given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClientBehaviour {
    client_id: String,
    client_secret: Option<String>,
    scenario: Option<Preset>,
    #[serde(default, with = "humantime_serde")]
    token_delay: Option<Duration>,
    token_status: Option<u16>,
    token_error: Option<String>,
    token_lifetime: Option<u64>,
    token_response: Option<TokenResponse>,
    token_type: Option<String>,
    token_fault: Option<BodyFault>,
    entra_refusal: Option<EntraRefusal>,
    granted_scopes: Option<Vec<String>>,
    scope_in_response: Option<bool>,
    api_response: Option<ApiResponse>,
    api_fault: Option<BodyFault>,
    token_retry_after: Option<HeaderText>,
    revoked: Option<bool>,
    #[serde(default, with = "humantime_serde")]
    api_delay: Option<Duration>,
    forbidden_paths: Option<Vec<String>>,
    failure_rate: Option<f64>,
    api_status: Option<BTreeMap<String, u16>>,
    api_retry_after: Option<HeaderText>,
    rate_limited: Option<bool>,
    reject_tokens: Option<bool>,
    api_body_size: Option<usize>,
    #[serde(default, deserialize_with = "pem_or_path")]
    public_key: Option<String>,
    #[serde(default, deserialize_with = "pem_or_path")]
    certificate: Option<String>,
    assertion_audience: Option<String>,
}

/// A PEM text written inline, or the path of a file holding it (relative
/// to the current directory), read when the scenario is parsed.
fn pem_or_path<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let Some(text) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if text.contains("-----BEGIN") {
        return Ok(Some(text));
    }
    read_pem_file(text.trim().as_ref())
        .map(Some)
        .map_err(|error| serde::de::Error::custom(format!("cannot read {}: {error}", text.trim())))
}

/// The most the simulator reads from a PEM file a scenario names: a
/// certificate chain or a public key is a few KiB, and a wrong path to a
/// large file must not be read whole.
const PEM_FILE_LIMIT: u64 = 4 * 1024 * 1024;

/// Reads the PEM file at `path` as UTF-8 text, failing when it holds more
/// than [`PEM_FILE_LIMIT`] bytes.
fn read_pem_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(PEM_FILE_LIMIT + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > PEM_FILE_LIMIT {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "it is larger than 4 MiB, the most the simulator reads from a PEM file",
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// A header value written in YAML either as a string (`"2"`, an HTTP date)
/// or as a bare number (`2`).
#[derive(Deserialize)]
#[serde(untagged)]
enum HeaderText {
    Text(String),
    Number(u64),
}

impl From<HeaderText> for String {
    fn from(value: HeaderText) -> String {
        match value {
            HeaderText::Text(text) => text,
            HeaderText::Number(number) => number.to_string(),
        }
    }
}

impl TryFrom<RawClientBehaviour> for ClientBehaviour {
    type Error = String;

    fn try_from(raw: RawClientBehaviour) -> Result<Self, String> {
        let secret = raw
            .client_secret
            .unwrap_or_else(|| format!("{}-secret", raw.client_id));
        let mut client = ClientBehaviour::new(raw.client_id, secret);
        if let Some(preset) = raw.scenario {
            client = client.with_preset(preset);
        }
        // Explicit knobs override the preset.
        fn set<T>(field: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *field = value;
            }
        }
        set(&mut client.token_delay, raw.token_delay);
        set(&mut client.token_status, raw.token_status);
        set(&mut client.token_error, raw.token_error.map(Some));
        set(&mut client.token_lifetime, raw.token_lifetime);
        set(&mut client.token_response, raw.token_response);
        if raw.token_type.is_some() {
            client.token_type = raw.token_type;
        }
        set(&mut client.token_fault, raw.token_fault.map(Some));
        set(&mut client.entra_refusal, raw.entra_refusal.map(Some));
        set(&mut client.granted_scopes, raw.granted_scopes.map(Some));
        set(&mut client.scope_in_response, raw.scope_in_response);
        set(&mut client.api_response, raw.api_response);
        set(&mut client.api_fault, raw.api_fault.map(Some));
        set(
            &mut client.token_retry_after,
            raw.token_retry_after.map(|v| Some(v.into())),
        );
        set(&mut client.revoked, raw.revoked);
        set(&mut client.api_delay, raw.api_delay);
        set(&mut client.forbidden_paths, raw.forbidden_paths);
        set(&mut client.failure_rate, raw.failure_rate);
        set(&mut client.api_status, raw.api_status);
        set(
            &mut client.api_retry_after,
            raw.api_retry_after.map(|v| Some(v.into())),
        );
        set(&mut client.rate_limited, raw.rate_limited);
        set(&mut client.reject_tokens, raw.reject_tokens);
        set(&mut client.api_body_size, raw.api_body_size);
        client.public_key = raw.public_key;
        client.certificate = raw.certificate;
        client.assertion_audience = raw.assertion_audience;
        client.validate()?;
        Ok(client)
    }
}
