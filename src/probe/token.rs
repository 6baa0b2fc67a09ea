//! The token request: send the client-credentials grant, classify the
//! answer, and read the token's lifetime.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use secrecy::SecretString;
use serde_json::Value;

use super::classify::TokenResult;
use super::client_auth::Presentation;
use super::http::{Answer, NotSent, Pacing, Role, Transport};
use super::outcome::{Grant, Outcome};
use crate::config::Tenant;

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
}

impl IssuedToken {
    /// Whether the token can still be sent at `now`. A token of unknown
    /// expiry is trusted for `fallback` (one tenant interval).
    pub fn valid_at(&self, now: SystemTime, fallback: Duration) -> bool {
        let end = self.expires_at.unwrap_or(self.obtained_at + fallback);
        now < end
    }

    /// What may be kept of the token: its expiry and lifetime.
    pub fn grant(&self) -> Grant {
        Grant {
            expires_at: self.expires_at,
            lifetime: self.lifetime,
        }
    }
}

/// A token request's outcome, and the token when one came back.
pub type TokenAttempt = (Outcome<TokenResult>, Option<IssuedToken>);

/// Requests a fresh token for `tenant`; `backed_off` without sending when
/// this credential's back-off at this token endpoint outlasts
/// `pacing.max_wait`.
pub async fn request_token(
    transport: &Transport,
    tenant: &Tenant,
    pacing: &Pacing,
) -> TokenAttempt {
    let settings = &tenant.token;
    let builder = match transport.request(
        &tenant.http,
        Role::Token,
        reqwest::Method::POST,
        settings.url.clone(),
    ) {
        Ok(builder) => builder,
        Err(detail) => {
            return (
                Outcome::failed(TokenResult::ConnectError, None, detail),
                None,
            );
        }
    };
    let credential = match Presentation::of(settings, SystemTime::now()).await {
        Ok(credential) => credential,
        Err(detail) => {
            return (
                Outcome::failed(TokenResult::ConnectError, None, detail),
                None,
            );
        }
    };
    let builder = builder.header(reqwest::header::ACCEPT, "application/json");
    let mut form: Vec<(&str, &str)> = settings
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut builder = credential.apply(builder, &mut form);
    if !form.is_empty() {
        builder = builder.form(&form);
    }
    let exchange = match transport
        .send(builder, settings.timeout, settings.max_body_bytes, pacing)
        .await
    {
        Ok(exchange) => exchange,
        Err(NotSent::BackedOff(wait)) => return (Outcome::backed_off(wait), None),
    };
    let (mut outcome, token) = match exchange.answer {
        Ok(answer) => classify_answer(&answer),
        Err((failure_class, detail)) => (Outcome::failed(failure_class.into(), None, detail), None),
    };
    outcome.latency = Some(exchange.latency);
    (outcome, token)
}

/// Classifies a token endpoint's answer and, on success, reads the token.
fn classify_answer(answer: &Answer) -> TokenAttempt {
    let status = answer.status;
    let (mut outcome, token) = if (200..300).contains(&status) {
        match parse_token(answer) {
            Ok(token) => (
                Outcome {
                    result: TokenResult::Success,
                    latency: None,
                    status: Some(status),
                    detail: None,
                    certificate: None,
                },
                Some(token),
            ),
            Err(why) => (
                Outcome::failed(TokenResult::InvalidResponse, Some(status), why),
                None,
            ),
        }
    } else {
        let oauth_error = oauth_error(&answer.body);
        let result = TokenResult::from_status(status, oauth_error.as_deref());
        let mut detail = format!("HTTP {status}");
        if let Some(error) = oauth_error {
            detail.push(' ');
            detail.push_str(&error);
        }
        if (300..400).contains(&status) {
            detail.push_str(" (redirects of token requests are not followed)");
        }
        (Outcome::failed(result, Some(status), detail), None)
    };
    outcome.certificate = answer.certificate.clone();
    (outcome, token)
}

/// The RFC 6749 `error` code of an error body, if it looks like one. Only
/// a short code of letters and underscores is kept: a free-text field
/// could echo what was sent.
fn oauth_error(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let code = value.get("error")?.as_str()?;
    let safe = !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    safe.then(|| code.to_owned())
}

/// Reads a successful token response (RFC 6749 section 5.1).
fn parse_token(answer: &Answer) -> Result<IssuedToken, String> {
    if answer.over_limit {
        return Err(format!(
            "response body over the {}-byte limit",
            answer.body.len()
        ));
    }
    let value: Value =
        serde_json::from_slice(&answer.body).map_err(|_| "response is not JSON".to_owned())?;
    let Some(object) = value.as_object() else {
        return Err("response is not a JSON object".to_owned());
    };
    let access_token = match object.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => token.clone(),
        _ => return Err("response has no access_token".to_owned()),
    };
    match object.get("token_type") {
        None => {}
        Some(Value::String(kind)) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(Value::String(kind)) => {
            return Err(format!(
                "token_type {:?} is not bearer",
                kind.chars().take(32).collect::<String>()
            ));
        }
        Some(_) => return Err("token_type is not a string".to_owned()),
    }
    let obtained_at = SystemTime::now();
    let lifetime = match object.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(value) => Some(expires_in(value)?),
    };
    let (lifetime, expires_at) = match lifetime {
        Some(lifetime) => (Some(lifetime), Some(obtained_at + lifetime)),
        None => match jwt_times(&access_token) {
            Some((exp, iat)) => (iat.and_then(|iat| exp.duration_since(iat).ok()), Some(exp)),
            None => (None, None),
        },
    };
    Ok(IssuedToken {
        access_token: SecretString::from(access_token),
        obtained_at,
        lifetime,
        expires_at,
    })
}

/// `expires_in` as a number or a numeric string; zero, negative or
/// non-numeric values are invalid.
fn expires_in(value: &Value) -> Result<Duration, String> {
    let seconds = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match seconds {
        Some(s) if s.is_finite() && s > 0.0 && s < 1e10 => Ok(Duration::from_secs_f64(s)),
        Some(_) => Err("expires_in is zero, negative or out of range".to_owned()),
        None => Err("expires_in is not a number".to_owned()),
    }
}

/// `exp` (and `iat`) of a JWT access token, read without verifying the
/// signature: credprobe only wants to know when to expect expiry.
fn jwt_times(token: &str) -> Option<(SystemTime, Option<SystemTime>)> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let at = |name: &str| {
        claims
            .get(name)?
            .as_f64()
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(s))
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
        let (outcome, token) = classify_answer(&answer(
            200,
            r#"{"access_token":"abc","token_type":"BEARER","expires_in":"900"}"#,
        ));
        assert_eq!(outcome.result, TokenResult::Success);
        let token = token.unwrap();
        assert_eq!(token.lifetime, Some(Duration::from_secs(900)));
    }

    #[test]
    fn missing_expires_in_falls_back_to_jwt_exp() {
        let token = jwt(r#"{"iat":1700000000,"exp":1700000900}"#);
        let body = format!(r#"{{"access_token":"{token}","token_type":"Bearer"}}"#);
        let (_, token) = classify_answer(&answer(200, &body));
        let token = token.unwrap();
        assert_eq!(
            token.expires_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_900))
        );
        assert_eq!(token.lifetime, Some(Duration::from_secs(900)));

        let (opaque, token) = classify_answer(&answer(
            200,
            r#"{"access_token":"opaque","token_type":"bearer"}"#,
        ));
        assert_eq!(opaque.result, TokenResult::Success);
        assert_eq!(token.unwrap().expires_at, None);
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
            let (outcome, token) = classify_answer(&answer(200, body));
            assert_eq!(outcome.result, TokenResult::InvalidResponse, "{body}");
            assert!(outcome.detail.is_some());
            assert!(token.is_none());
        }
        let mut big = answer(200, r#"{"access_token":"a""#);
        big.over_limit = true;
        assert_eq!(classify_answer(&big).0.result, TokenResult::InvalidResponse);
    }

    #[test]
    fn oauth_errors_are_classified_and_sanitised() {
        let (rejected, _) = classify_answer(&answer(
            400,
            r#"{"error":"invalid_grant","error_description":"secret abc"}"#,
        ));
        assert_eq!(rejected.result, TokenResult::CredentialsRejected);
        assert_eq!(rejected.detail.as_deref(), Some("HTTP 400 invalid_grant"));
        let (odd, _) = classify_answer(&answer(400, r#"{"error":"has spaces and s3cret"}"#));
        assert_eq!(odd.result, TokenResult::ClientError);
        assert_eq!(odd.detail.as_deref(), Some("HTTP 400"));
    }
}
