//! The token request: send the client-credentials grant, classify the
//! answer, and read what the token says of itself (lifetime, granted
//! scopes) or why it was refused.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use secrecy::SecretString;
use serde_json::Value;

use super::classify::{RejectionReason, TokenResult};
use super::client_auth::Presentation;
use super::discovery;
use super::http::{Answer, NotSent, Pacing, TenantClients, Transport};
use super::outcome::{Grant, Outcome};
use crate::config::{Credential, Tenant, TokenSettings};

/// A token obtained from the identity provider.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The bearer token; never shown.
    pub access_token: SecretString,
    /// When it was obtained.
    pub obtained_at: SystemTime,
    /// `expires_in`, or the JWT's `exp - iat`, when known.
    pub lifetime: Option<Duration>,
    /// When it expires, when known.
    pub expires_at: Option<SystemTime>,
    /// The scopes, roles and permissions granted, from the response's
    /// `scope` and the JWT's `scp`, `scope`, `roles` and `permissions`
    /// claims (read, not verified); `None` when neither says.
    pub scopes: Option<Arc<[Box<str>]>>,
}

impl IssuedToken {
    /// Whether the token can still be sent at `now`. A token of unknown
    /// expiry is trusted for `fallback` (one tenant interval).
    pub fn valid_at(&self, now: SystemTime, fallback: Duration) -> bool {
        let end = self.expires_at.unwrap_or(self.obtained_at + fallback);
        now < end
    }

    /// What may be kept of the token: its expiry, lifetime and scopes.
    pub fn grant(&self) -> Grant {
        Grant {
            expires_at: self.expires_at,
            lifetime: self.lifetime,
            scopes: self.scopes.clone(),
        }
    }
}

/// What one token request found.
#[derive(Debug, Clone)]
pub struct TokenAttempt {
    /// The step's outcome.
    pub outcome: Outcome<TokenResult>,
    /// The token, on success.
    pub token: Option<IssuedToken>,
    /// Why the credential was rejected, when it was (`credentials_rejected`).
    pub rejection: Option<RejectionReason>,
}

impl TokenAttempt {
    /// An attempt that ended without a token or a rejection.
    fn failed(outcome: Outcome<TokenResult>) -> TokenAttempt {
        TokenAttempt {
            outcome,
            token: None,
            rejection: None,
        }
    }
}

/// Requests a fresh token for `tenant`; `backed_off` without sending when
/// this credential's back-off at this token endpoint outlasts
/// `pacing.max_wait`.
pub async fn request_token(
    transport: &Transport,
    clients: &TenantClients,
    tenant: &Tenant,
    pacing: &Pacing<'_>,
) -> TokenAttempt {
    request_token_for(
        transport,
        clients,
        &tenant.token,
        &tenant.token.form,
        pacing,
    )
    .await
}

/// Requests a token with the tenant's credential at its token endpoint,
/// sending `form` instead of its own: the credential inventory's Graph
/// token ([`super::inventory`]) is requested this way, so both requests
/// present the credential by one code path.
pub async fn request_token_for(
    transport: &Transport,
    clients: &TenantClients,
    settings: &TokenSettings,
    form: &[(String, String)],
    pacing: &Pacing<'_>,
) -> TokenAttempt {
    request_token_with(
        transport,
        clients,
        settings,
        &settings.credential,
        form,
        pacing,
    )
    .await
}

/// Requests a token at the tenant's token endpoint presenting `credential`
/// instead of its current one: the next credential of a rotation
/// (`next_client_secret_file`, `next_client_key_file`) is tried this way, classified exactly as the
/// current one's request.
pub async fn request_token_with(
    transport: &Transport,
    clients: &TenantClients,
    settings: &TokenSettings,
    credential: &Credential,
    form: &[(String, String)],
    pacing: &Pacing<'_>,
) -> TokenAttempt {
    let client = match &clients.token {
        Ok(client) => client,
        Err(why) => {
            return TokenAttempt::failed(Outcome::failed(
                why.failure().into(),
                None,
                why.to_string(),
            ));
        }
    };
    // No discovered endpoint, no request: never a guessed URL.
    let url = match discovery::token_url(client, &settings.url, settings.timeout).await {
        Ok(url) => url,
        Err(why) => {
            return TokenAttempt::failed(Outcome::failed(
                TokenResult::DiscoveryFailed,
                None,
                why.to_string(),
            ));
        }
    };
    let builder = client.post(url.as_ref().clone());
    let credential = match Presentation::with(settings, credential, &url, SystemTime::now()).await {
        Ok(credential) => credential,
        Err(why) => {
            return TokenAttempt::failed(Outcome::failed(
                TokenResult::SigningError,
                None,
                why.to_string(),
            ));
        }
    };
    let builder = builder.header(reqwest::header::ACCEPT, "application/json");
    let mut form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut builder = credential.apply(builder, &mut form);
    if !form.is_empty() {
        builder = builder.form(&form);
    }
    let exchange = match transport
        .send(builder, settings.timeout, settings.max_body_bytes, pacing)
        .await
    {
        Ok(exchange) => exchange,
        Err(NotSent::BackedOff(wait)) => return TokenAttempt::failed(Outcome::backed_off(wait)),
    };
    let mut attempt = match exchange.answer {
        Ok(answer) => classify_answer(&answer),
        Err(why) => TokenAttempt::failed(Outcome::failed(why.failure.into(), None, why.detail)),
    };
    attempt.outcome.latency = Some(exchange.latency);
    attempt.outcome.phases = Some(exchange.phases);
    attempt
}

/// Classifies a token endpoint's answer exactly as a token request does,
/// and reads the token on success; no request is sent. The entry point of
/// the fuzz target and the property tests (`fuzz/`,
/// `tests/testsuite/properties.rs`).
pub fn classify_token_answer(answer: &Answer) -> TokenAttempt {
    classify_answer(answer)
}

/// Classifies a token endpoint's answer and, on success, reads the token;
/// on a rejection, why.
fn classify_answer(answer: &Answer) -> TokenAttempt {
    let status = answer.status;
    let mut attempt = if (200..300).contains(&status) {
        match parse_token(answer) {
            Ok(token) => TokenAttempt {
                outcome: Outcome {
                    result: TokenResult::Success,
                    latency: None,
                    status: Some(status),
                    detail: None,
                    certificate: None,
                    phases: None,
                },
                token: Some(token),
                rejection: None,
            },
            Err(why) => TokenAttempt::failed(Outcome::failed(
                TokenResult::InvalidResponse,
                Some(status),
                why.to_string(),
            )),
        }
    } else {
        let error = ErrorBody::of(&answer.body);
        let result = TokenResult::from_status(status, error.code.as_deref());
        let mut detail = format!("HTTP {status}");
        if let Some(code) = &error.code {
            detail.push(' ');
            detail.push_str(code);
        }
        if !error.codes.is_empty() {
            let codes: Vec<String> = error.codes.iter().map(|c| format!("AADSTS{c}")).collect();
            detail.push_str(&format!(" ({})", codes.join(", ")));
        }
        let rejection = (result == TokenResult::CredentialsRejected)
            .then(|| RejectionReason::of(&error.codes, error.description.as_deref()));
        if (300..400).contains(&status) {
            detail.push_str(" (redirects of token requests are not followed)");
        }
        TokenAttempt {
            outcome: Outcome::failed(result, Some(status), detail),
            token: None,
            rejection,
        }
    };
    attempt.outcome.certificate = answer.certificate.clone();
    attempt
}

/// What an error body says, as far as credprobe reads it.
#[derive(Debug, Default)]
struct ErrorBody {
    /// The RFC 6749 `error` code, when it looks like one: only a short
    /// code of letters and underscores is kept, as a free-text field could
    /// echo what was sent.
    code: Option<String>,
    /// Microsoft Entra ID's `error_codes` (numbers, at most four).
    codes: Vec<u64>,
    /// `error_description`, cut to 512 bytes: read for a few words by
    /// [`RejectionReason::of`], never kept or shown.
    description: Option<String>,
}

impl ErrorBody {
    fn of(body: &[u8]) -> ErrorBody {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return ErrorBody::default();
        };
        let code = value
            .get("error")
            .and_then(Value::as_str)
            .filter(|code| {
                !code.is_empty()
                    && code.len() <= 64
                    && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
            .map(str::to_owned);
        let codes = value
            .get("error_codes")
            .and_then(Value::as_array)
            .map(|codes| codes.iter().filter_map(Value::as_u64).take(4).collect())
            .unwrap_or_default();
        let description = value
            .get("error_description")
            .and_then(Value::as_str)
            .map(|text| text.chars().take(512).collect());
        ErrorBody {
            code,
            codes,
            description,
        }
    }
}

/// Why a 2xx token response is not a usable token (the detail of
/// `invalid_response`). Never holds the token or any other field's value
/// but a short `token_type`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidToken {
    /// The body was cut at the limit.
    #[error("response body over the {0}-byte limit")]
    OverLimit(usize),
    /// Not JSON at all.
    #[error("response is not JSON")]
    NotJson,
    /// JSON, but not an object.
    #[error("response is not a JSON object")]
    NotObject,
    /// `access_token` missing, empty or not a string.
    #[error("response has no access_token")]
    NoAccessToken,
    /// A `token_type` other than bearer (its first 32 characters).
    #[error("token_type {0:?} is not bearer")]
    NotBearer(String),
    /// A `token_type` that is not a string.
    #[error("token_type is not a string")]
    TokenTypeNotText,
    /// `expires_in` zero, negative or beyond any sensible lifetime.
    #[error("expires_in is zero, negative or out of range")]
    ExpiresInOutOfRange,
    /// `expires_in` neither a number nor a numeric string.
    #[error("expires_in is not a number")]
    ExpiresInNotNumber,
}

/// Reads a successful token response (RFC 6749 section 5.1).
fn parse_token(answer: &Answer) -> Result<IssuedToken, InvalidToken> {
    if answer.over_limit {
        return Err(InvalidToken::OverLimit(answer.body.len()));
    }
    let value: Value = serde_json::from_slice(&answer.body).map_err(|_| InvalidToken::NotJson)?;
    let Some(object) = value.as_object() else {
        return Err(InvalidToken::NotObject);
    };
    let access_token = match object.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => token.clone(),
        _ => return Err(InvalidToken::NoAccessToken),
    };
    match object.get("token_type") {
        None => {}
        Some(Value::String(kind)) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(Value::String(kind)) => {
            return Err(InvalidToken::NotBearer(kind.chars().take(32).collect()));
        }
        Some(_) => return Err(InvalidToken::TokenTypeNotText),
    }
    let obtained_at = SystemTime::now();
    let lifetime = match object.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(value) => Some(expires_in(value)?),
    };
    let claims = jwt_claims(&access_token);
    let (lifetime, expires_at) = match lifetime {
        Some(lifetime) => (Some(lifetime), Some(obtained_at + lifetime)),
        None => match claims.as_ref().and_then(jwt_times) {
            // exp at or before iat: no lifetime (a zero one would read as granted).
            Some((exp, iat)) => (
                iat.and_then(|iat| exp.duration_since(iat).ok())
                    .filter(|lifetime| !lifetime.is_zero()),
                Some(exp),
            ),
            None => (None, None),
        },
    };
    let scopes = granted_scopes(object.get("scope"), claims.as_ref());
    Ok(IssuedToken {
        access_token: SecretString::from(access_token),
        obtained_at,
        lifetime,
        expires_at,
        scopes,
    })
}

/// The most scopes kept of one token, and the longest one: a hostile
/// token must not grow the record.
const MAX_SCOPES: usize = 256;
const MAX_SCOPE_LEN: usize = 256;

/// The scopes a token grants: the union of the response's `scope` and the
/// JWT's `scp`, `scope`, `roles` and `permissions` claims, each a
/// space-separated string or a list of strings (providers differ, and
/// Nexthink does not say which it uses). `None` when none of them is there.
fn granted_scopes(response: Option<&Value>, claims: Option<&Value>) -> Option<Arc<[Box<str>]>> {
    let mut found = false;
    let mut scopes = BTreeSet::new();
    let mut add = |value: Option<&Value>| {
        let words: Vec<&str> = match value {
            Some(Value::String(text)) => text.split_whitespace().collect(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => return,
        };
        found = true;
        for word in words {
            if scopes.len() < MAX_SCOPES && !word.is_empty() && word.len() <= MAX_SCOPE_LEN {
                scopes.insert(Box::<str>::from(word));
            }
        }
    };
    add(response);
    if let Some(claims) = claims {
        for claim in ["scp", "scope", "roles", "permissions"] {
            add(claims.get(claim));
        }
    }
    found.then(|| scopes.into_iter().collect())
}

/// `expires_in` as a number or a numeric string; zero, negative or
/// non-numeric values are invalid.
fn expires_in(value: &Value) -> Result<Duration, InvalidToken> {
    let seconds = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match seconds {
        // Under a nanosecond is zero to a Duration: no lifetime either.
        Some(s) if s.is_finite() && s > 0.0 && s < 1e10 => Some(Duration::from_secs_f64(s))
            .filter(|lifetime| !lifetime.is_zero())
            .ok_or(InvalidToken::ExpiresInOutOfRange),
        Some(_) => Err(InvalidToken::ExpiresInOutOfRange),
        None => Err(InvalidToken::ExpiresInNotNumber),
    }
}

/// The claims of a JWT access token, read without verifying the
/// signature: credprobe only wants to know when to expect expiry and what
/// was granted.
fn jwt_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.is_object().then_some(claims)
}

/// `exp` (and `iat`) of JWT claims; a claim past what a `SystemTime`
/// holds counts as absent.
fn jwt_times(claims: &Value) -> Option<(SystemTime, Option<SystemTime>)> {
    let at = |name: &str| {
        claims
            .get(name)?
            .as_f64()
            .filter(|s| s.is_finite() && *s > 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .and_then(|since_epoch| SystemTime::UNIX_EPOCH.checked_add(since_epoch))
    };
    Some((at("exp")?, at("iat")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer::of(status, body)
    }

    fn jwt(claims: &str) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}.{}.sig", b64.encode("{}"), b64.encode(claims))
    }

    #[test]
    fn success_with_numeric_string_expiry() {
        let attempt = classify_answer(&answer(
            200,
            r#"{"access_token":"abc","token_type":"BEARER","expires_in":"900"}"#,
        ));
        assert_eq!(attempt.outcome.result, TokenResult::Success);
        let token = attempt.token.unwrap();
        assert!(token.scopes.is_none(), "nothing said what was granted");
        assert_eq!(token.lifetime, Some(Duration::from_secs(900)));
    }

    #[test]
    fn missing_expires_in_falls_back_to_jwt_exp() {
        let token = jwt(r#"{"iat":1700000000,"exp":1700000900}"#);
        let body = format!(r#"{{"access_token":"{token}","token_type":"Bearer"}}"#);
        let token = classify_answer(&answer(200, &body)).token.unwrap();
        assert_eq!(
            token.expires_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_900))
        );
        assert_eq!(token.lifetime, Some(Duration::from_secs(900)));

        let opaque = classify_answer(&answer(
            200,
            r#"{"access_token":"opaque","token_type":"bearer"}"#,
        ));
        assert_eq!(opaque.outcome.result, TokenResult::Success);
        assert_eq!(opaque.token.unwrap().expires_at, None);
    }

    #[test]
    fn invalid_responses() {
        for body in [
            "not json",
            "[]",
            r#"{"token_type":"Bearer","expires_in":900}"#,
            r#"{"access_token":"","token_type":"Bearer"}"#,
            r#"{"access_token":"a","token_type":"mac","expires_in":900}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":0}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":-5}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":"soon"}"#,
        ] {
            let attempt = classify_answer(&answer(200, body));
            assert_eq!(
                attempt.outcome.result,
                TokenResult::InvalidResponse,
                "{body}"
            );
            assert!(attempt.outcome.detail.is_some());
            assert!(attempt.token.is_none());
        }
        let mut big = answer(200, r#"{"access_token":"a""#);
        big.over_limit = true;
        assert_eq!(
            classify_answer(&big).outcome.result,
            TokenResult::InvalidResponse
        );
    }

    #[test]
    fn entra_error_codes_give_the_reason_and_show_in_the_detail() {
        let expired = classify_answer(&answer(
            401,
            r#"{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app 'x' are expired.","error_codes":[7000222],"trace_id":"t"}"#,
        ));
        assert_eq!(expired.outcome.result, TokenResult::CredentialsRejected);
        assert_eq!(expired.rejection, Some(RejectionReason::Expired));
        assert_eq!(
            expired.outcome.detail.as_deref(),
            Some("HTTP 401 invalid_client (AADSTS7000222)")
        );
        let missing = classify_answer(&answer(
            400,
            r#"{"error":"unauthorized_client","error_codes":[700016]}"#,
        ));
        assert_eq!(missing.rejection, Some(RejectionReason::UnknownClient));
        // Only rejections carry a reason.
        let down = classify_answer(&answer(
            503,
            r#"{"error":"server_error","error_codes":[7000222]}"#,
        ));
        assert_eq!(down.outcome.result, TokenResult::ServerError);
        assert_eq!(down.rejection, None);
    }

    #[test]
    fn granted_scopes_come_from_the_response_and_the_jwt_claims() {
        let token = jwt(
            r#"{"exp":4102444800,"scp":"Workflows.Read RemoteActions.Read","roles":["Data.Read"],"permissions":"nql"}"#,
        );
        let body = format!(
            r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":900,"scope":"service:integration"}}"#
        );
        let scopes = classify_answer(&answer(200, &body))
            .token
            .unwrap()
            .scopes
            .unwrap();
        let scopes: Vec<&str> = scopes.iter().map(|s| &**s).collect();
        assert_eq!(
            scopes,
            [
                "Data.Read",
                "RemoteActions.Read",
                "Workflows.Read",
                "nql",
                "service:integration"
            ]
        );
        // A hostile token cannot grow the record without bound.
        let many: Vec<String> = (0..10_000).map(|i| format!("s{i}")).collect();
        let body = format!(
            r#"{{"access_token":"a","token_type":"Bearer","scope":"{}"}}"#,
            many.join(" ")
        );
        let scopes = classify_answer(&answer(200, &body))
            .token
            .unwrap()
            .scopes
            .unwrap();
        assert_eq!(scopes.len(), MAX_SCOPES);
    }

    #[test]
    fn oauth_errors_are_classified_and_sanitised() {
        let rejected = classify_answer(&answer(
            400,
            r#"{"error":"invalid_grant","error_description":"secret abc"}"#,
        ));
        assert_eq!(rejected.outcome.result, TokenResult::CredentialsRejected);
        assert_eq!(
            rejected.outcome.detail.as_deref(),
            Some("HTTP 400 invalid_grant")
        );
        assert_eq!(rejected.rejection, Some(RejectionReason::Other));
        let odd = classify_answer(&answer(400, r#"{"error":"has spaces and s3cret"}"#)).outcome;
        assert_eq!(odd.result, TokenResult::ClientError);
        assert_eq!(odd.detail.as_deref(), Some("HTTP 400"));
    }
}
