//! The token request: send the client-credentials grant and classify the
//! answer; what the answer says of the token (lifetime, granted scopes) or
//! of why it was refused is read by [`super::token_answer`].

use std::borrow::Cow;
use std::time::SystemTime;

use super::classify::{RejectionReason, TokenResult};
use super::client_auth::Presentation;
use super::discovery;
use super::http::{Answer, NotSent, Pacing, TenantClients, Transport};
use super::outcome::Outcome;
use super::token_answer::{ErrorBody, parse_token};
pub use super::token_answer::{InvalidToken, IssuedToken};
use crate::config::{Credential, Tenant, TokenEndpoint, TokenSettings};

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
    let url = match &settings.url {
        TokenEndpoint::Configured(url) => Cow::Borrowed(url),
        // No discovered endpoint, no request: never a guessed URL. The
        // discovery future (a document fetch) goes on the heap, so only
        // the tenants that discover pay for its room.
        discovered => {
            match Box::pin(discovery::token_url(client, discovered, settings.timeout)).await {
                Ok(url) => url,
                Err(why) => {
                    return TokenAttempt::failed(Outcome::failed(
                        TokenResult::DiscoveryFailed,
                        None,
                        why.to_string(),
                    ));
                }
            }
        }
    };
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
    // Built after the last await before sending: a builder kept across
    // an await would be part of the future's room.
    let builder = client.post(url.as_ref().clone()).header(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static("application/json"),
    );
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine as _;

    use super::*;
    use crate::probe::token_answer::MAX_SCOPES;

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
