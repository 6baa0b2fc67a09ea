//! The YAML form of a client ([`RawClientBehaviour`]): every knob
//! optional, so that a preset can fill what is not given; and the PEM
//! texts a scenario gives inline or by path.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::error::{AppCredentialError, ClientError};
use super::identity::{self, AppCredential, AppCredentialKind, TokenFormat};
use super::{ApiResponse, BodyFault, ClientBehaviour, EntraRefusal, Preset, TokenResponse};

/// The YAML form of a client: every knob optional so that a preset can fill
/// what is not given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClientBehaviour {
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
    additional_client_secrets: Option<Vec<String>>,
    rate_limited_secrets: Option<Vec<String>>,
    #[serde(default, deserialize_with = "pem_list")]
    additional_public_keys: Vec<String>,
    token_format: Option<TokenFormat>,
    audience: Option<String>,
    token_issuer: Option<String>,
    iat_offset: Option<String>,
    nbf_offset: Option<String>,
    sign_with_unpublished_key: Option<bool>,
    expired_on_arrival: Option<bool>,
    graph_permission: Option<bool>,
    app_credentials: Option<Vec<RawAppCredential>>,
}

/// One entry of `app_credentials`, as YAML writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppCredential {
    /// `secret` or `certificate`.
    #[serde(rename = "type")]
    kind: RawCredentialType,
    /// For a secret: its text, whose first characters are the hint
    /// (default: the client's `client_secret`).
    secret: Option<String>,
    /// For a certificate: PEM or a file (default: the client's
    /// `certificate`).
    #[serde(default, deserialize_with = "pem_or_path")]
    certificate: Option<String>,
    /// For a certificate: the SHA-1 thumbprint, hex, instead of a PEM.
    thumbprint: Option<String>,
    /// Graph's `keyId` (default: derived from the client id and position).
    key_id: Option<String>,
    /// Graph's `displayName`.
    display_name: Option<String>,
    /// `startDateTime`: `in 1d`, `3d ago` or RFC 3339 (default: a year
    /// before the end).
    starts: Option<String>,
    /// `endDateTime`, written as `starts` is (default: a year after loading
    /// for a secret, the certificate's notAfter for a certificate).
    expires: Option<String>,
}

/// The `type` of an `app_credentials` entry.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawCredentialType {
    Secret,
    Certificate,
}

/// How long a secret listed without `expires` stays valid.
const DEFAULT_SECRET_LIFETIME: Duration = Duration::from_secs(365 * 86_400);

impl RawAppCredential {
    /// The credential of client `client`, with times relative to `now`.
    fn resolve(
        self,
        client: &ClientBehaviour,
        now: SystemTime,
    ) -> Result<AppCredential, AppCredentialError> {
        let at = |text: &Option<String>, knob: &'static str| {
            text.as_deref()
                .map(|text| {
                    identity::point_in_time(text, now)
                        .map_err(|problem| AppCredentialError::Time { knob, problem })
                })
                .transpose()
        };
        let expires = at(&self.expires, "expires")?;
        let mut credential = match self.kind {
            RawCredentialType::Secret => {
                if self.certificate.is_some() || self.thumbprint.is_some() {
                    return Err(AppCredentialError::SecretWithCertificate);
                }
                let secret = self.secret.as_deref().unwrap_or(&client.client_secret);
                let end = expires.unwrap_or(now + DEFAULT_SECRET_LIFETIME);
                AppCredential::secret(secret, end)
            }
            RawCredentialType::Certificate => {
                if self.secret.is_some() {
                    return Err(AppCredentialError::CertificateWithSecret);
                }
                let (thumbprint, not_after) = match (&self.thumbprint, &self.certificate) {
                    (Some(_), Some(_)) => {
                        return Err(AppCredentialError::CertificateAndThumbprint);
                    }
                    (Some(thumbprint), None) => {
                        let hex = thumbprint.len() == 40
                            && thumbprint.chars().all(|c| c.is_ascii_hexdigit());
                        if !hex {
                            return Err(AppCredentialError::NotThumbprint(thumbprint.clone()));
                        }
                        (thumbprint.clone(), None)
                    }
                    (None, pem) => {
                        let pem = pem
                            .as_deref()
                            .or(client.certificate.as_deref())
                            .ok_or(AppCredentialError::NoCertificate)?;
                        let (thumbprint, end) = identity::certificate_facts(pem)
                            .map_err(AppCredentialError::Certificate)?;
                        (thumbprint, Some(end))
                    }
                };
                let end = expires
                    .or(not_after)
                    .unwrap_or(now + DEFAULT_SECRET_LIFETIME);
                AppCredential::certificate(&thumbprint, end)
            }
        };
        credential.start = at(&self.starts, "starts")?;
        credential.key_id = self.key_id;
        credential.display_name = self.display_name;
        if let AppCredentialKind::Secret { .. } = credential.kind
            && credential.display_name.is_none()
        {
            credential.display_name = Some("secret".into());
        }
        Ok(credential)
    }
}

/// A list of PEM texts, each inline or a file, as [`pem_or_path`] reads one.
fn pem_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let texts = Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default();
    texts
        .into_iter()
        .map(|text| {
            if text.contains("-----BEGIN") {
                return Ok(text);
            }
            read_pem_file(text.trim().as_ref()).map_err(|error| {
                serde::de::Error::custom(format!("cannot read {}: {error}", text.trim()))
            })
        })
        .collect()
}

/// A PEM text written inline, or the path of a file holding it (relative
/// to the current directory), read when the scenario is parsed.
pub(super) fn pem_or_path<'de, D: serde::Deserializer<'de>>(
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
    type Error = ClientError;

    fn try_from(raw: RawClientBehaviour) -> Result<Self, ClientError> {
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
        set(
            &mut client.additional_client_secrets,
            raw.additional_client_secrets,
        );
        set(&mut client.rate_limited_secrets, raw.rate_limited_secrets);
        client.additional_public_keys = raw.additional_public_keys;
        set(&mut client.token_format, raw.token_format);
        client.audience = raw.audience;
        client.token_issuer = raw.token_issuer;
        if let Some(offset) = raw.iat_offset {
            client.iat_offset =
                identity::signed_seconds(&offset).map_err(ClientError::IatOffset)?;
        }
        if let Some(offset) = raw.nbf_offset {
            client.nbf_offset =
                identity::signed_seconds(&offset).map_err(ClientError::NbfOffset)?;
        }
        set(
            &mut client.sign_with_unpublished_key,
            raw.sign_with_unpublished_key,
        );
        set(&mut client.expired_on_arrival, raw.expired_on_arrival);
        set(&mut client.graph_permission, raw.graph_permission);
        if let Some(list) = raw.app_credentials {
            let now = SystemTime::now();
            let credentials = list
                .into_iter()
                .enumerate()
                .map(|(index, raw)| {
                    raw.resolve(&client, now)
                        .map_err(|problem| ClientError::AppCredential { index, problem })
                })
                .collect::<Result<Vec<_>, _>>()?;
            client.app_credentials = Some(credentials);
        }
        client.validate()?;
        Ok(client)
    }
}
