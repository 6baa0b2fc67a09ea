//! Endpoint calls: send the configured request with the bearer token and
//! check the answer against the endpoint's expectations.

use std::sync::Arc;

use secrecy::ExposeSecret;

use super::classify::EndpointResult;
use super::http::{Answer, NotSent, Pacing, TenantClients, Transport};
use super::outcome::Outcome;
use super::token::IssuedToken;
use crate::config::{Endpoint, Expect, JsonCondition};

/// Calls `endpoint` with `token`: `no_token` without one, `backed_off`
/// without sending when the tenant's back-off on the endpoint's origin
/// outlasts `pacing.max_wait`.
pub async fn call(
    transport: &Transport,
    clients: &TenantClients,
    endpoint: &Endpoint,
    token: Option<&IssuedToken>,
    pacing: &Pacing<'_>,
) -> Outcome<EndpointResult> {
    let Some(token) = token else {
        return Outcome::failed(EndpointResult::NoToken, None, "no valid token to send");
    };
    let builder = match &clients.endpoint {
        Ok(client) => client.request(endpoint.method.clone(), endpoint.url.clone()),
        Err(why) => return Outcome::failed(why.failure().into(), None, why.to_string()),
    };
    let mut builder = builder.bearer_auth(token.access_token.expose_secret());
    if !endpoint.headers.is_empty() {
        builder = builder.headers(endpoint.headers.clone());
    }
    if let Some(body) = &endpoint.body {
        builder = builder.body(body.clone());
    }
    let exchange = match transport
        .send(builder, endpoint.timeout, endpoint.max_body_bytes, pacing)
        .await
    {
        Ok(exchange) => exchange,
        Err(NotSent::BackedOff(wait)) => return Outcome::backed_off(wait),
    };
    let mut outcome = match exchange.answer {
        Ok(answer) => {
            let (result, mismatch) = judge(&endpoint.expect, &answer);
            Outcome {
                result,
                latency: None,
                status: Some(answer.status),
                detail: mismatch.map(|m| Arc::from(m.to_string())),
                certificate: answer.certificate,
                phases: None,
            }
        }
        Err(why) => Outcome::failed(why.failure.into(), None, why.detail),
    };
    outcome.latency = Some(exchange.latency);
    outcome.phases = Some(exchange.phases);
    outcome
}

/// Why an answer did not meet the endpoint's expectations: the detail of a
/// failed call (its words are what the log, the page and the JSON show).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// A status outside the expected list.
    #[error("HTTP {0}")]
    Status(u16),
    /// The body was cut at the limit, so it cannot be judged.
    #[error("response body over the {0}-byte limit")]
    OverLimit(usize),
    /// `body_regex` did not match.
    #[error("body does not match /{0}/")]
    BodyRegex(String),
    /// A JSON check was configured and the body is not JSON.
    #[error("body is not JSON")]
    NotJson,
    /// `exists: true` and the pointer finds nothing.
    #[error("{0} is missing")]
    Missing(String),
    /// `exists: false` and the pointer finds something.
    #[error("{0} is present")]
    Present(String),
    /// `equals:` and the value differs (or is absent).
    #[error("{pointer} is not {want}")]
    NotEqual {
        /// The JSON pointer.
        pointer: String,
        /// The expected value, as JSON.
        want: String,
    },
}

/// Judges an answer against `expect` exactly as an endpoint call does: the
/// result class and, unless it succeeded, why in words. The entry point of
/// the fuzz target and the property tests (`fuzz/`,
/// `tests/testsuite/properties.rs`).
pub fn judge_answer(expect: &Expect, answer: &Answer) -> (EndpointResult, Option<String>) {
    let (result, mismatch) = judge(expect, answer);
    (result, mismatch.map(|m| m.to_string()))
}

/// Checks status, then body, against the expectations.
fn judge(expect: &Expect, answer: &Answer) -> (EndpointResult, Option<Mismatch>) {
    let status = answer.status;
    let expected = match &expect.status {
        Some(list) => list.contains(&status),
        None => (200..300).contains(&status),
    };
    if !expected {
        return (
            EndpointResult::from_unexpected_status(status),
            Some(Mismatch::Status(status)),
        );
    }
    match check_body(expect, answer) {
        Ok(()) => (EndpointResult::Success, None),
        Err(why) => (EndpointResult::ValidationFailed, Some(why)),
    }
}

fn check_body(expect: &Expect, answer: &Answer) -> Result<(), Mismatch> {
    let needs_body = expect.body_regex.is_some() || !expect.json.is_empty();
    if answer.over_limit {
        return Err(Mismatch::OverLimit(answer.body.len()));
    }
    if !needs_body {
        return Ok(());
    }
    if let Some(re) = &expect.body_regex {
        let text = String::from_utf8_lossy(&answer.body);
        if !re.is_match(&text) {
            return Err(Mismatch::BodyRegex(re.as_str().to_owned()));
        }
    }
    if expect.json.is_empty() {
        return Ok(());
    }
    let value: serde_json::Value =
        serde_json::from_slice(&answer.body).map_err(|_| Mismatch::NotJson)?;
    for check in &expect.json {
        let found = value.pointer(&check.pointer);
        match (&check.condition, found) {
            (JsonCondition::Exists(true), None) => {
                return Err(Mismatch::Missing(check.pointer.clone()));
            }
            (JsonCondition::Exists(false), Some(_)) => {
                return Err(Mismatch::Present(check.pointer.clone()));
            }
            (JsonCondition::Equals(want), got) if got != Some(want) => {
                return Err(Mismatch::NotEqual {
                    pointer: check.pointer.clone(),
                    want: want.to_string(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::JsonCheck;

    fn answer(status: u16, body: &str) -> Answer {
        Answer::of(status, body)
    }

    #[test]
    fn statuses_against_the_default_and_a_list() {
        let default = Expect::default();
        assert_eq!(judge(&default, &answer(204, "")).0, EndpointResult::Success);
        assert_eq!(
            judge(&default, &answer(403, "")).0,
            EndpointResult::Forbidden
        );
        assert_eq!(
            judge(&default, &answer(302, "")).0,
            EndpointResult::UnexpectedStatus
        );
        let only_200 = Expect {
            status: Some(vec![200]),
            ..Expect::default()
        };
        assert_eq!(
            judge(&only_200, &answer(204, "")).0,
            EndpointResult::UnexpectedStatus
        );
        let accept_404 = Expect {
            status: Some(vec![404]),
            ..Expect::default()
        };
        assert_eq!(
            judge(&accept_404, &answer(404, "")).0,
            EndpointResult::Success
        );
    }

    #[test]
    fn body_checks() {
        let expect = Expect {
            status: None,
            body_regex: Some(regex::Regex::new("ok").unwrap().into()),
            json: vec![
                JsonCheck {
                    pointer: "/state".into(),
                    condition: JsonCondition::Equals(serde_json::json!("ok")),
                },
                JsonCheck {
                    pointer: "/error".into(),
                    condition: JsonCondition::Exists(false),
                },
            ],
        };
        assert_eq!(
            judge(&expect, &answer(200, r#"{"state":"ok"}"#)).0,
            EndpointResult::Success
        );
        let (result, detail) = judge(&expect, &answer(200, r#"{"state":"ok","error":1}"#));
        assert_eq!(result, EndpointResult::ValidationFailed);
        assert_eq!(
            detail.map(|m| m.to_string()).as_deref(),
            Some("/error is present")
        );
        let (result, detail) = judge(&expect, &answer(200, r#"{"state":"okay-ish"}"#));
        assert_eq!(result, EndpointResult::ValidationFailed);
        assert_eq!(
            detail.map(|m| m.to_string()).as_deref(),
            Some(r#"/state is not "ok""#)
        );
        let mut big = answer(200, "{}");
        big.over_limit = true;
        assert_eq!(
            judge(&Expect::default(), &big).0,
            EndpointResult::ValidationFailed
        );
    }
}
