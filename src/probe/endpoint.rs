//! Endpoint calls: send the configured request with the bearer token and
//! check the answer against the endpoint's expectations.

use secrecy::ExposeSecret;

use super::classify::EndpointResult;
use super::http::{Answer, NotSent, Pacing, Role, Transport};
use super::outcome::Outcome;
use super::token::IssuedToken;
use crate::config::{Endpoint, Expect, JsonCondition, Tenant};

/// Calls `endpoint` with `token`: `no_token` without one, `backed_off`
/// without sending when the tenant's back-off on the endpoint's origin
/// outlasts `pacing.max_wait`.
pub async fn call(
    transport: &Transport,
    tenant: &Tenant,
    endpoint: &Endpoint,
    token: Option<&IssuedToken>,
    pacing: &Pacing<'_>,
) -> Outcome<EndpointResult> {
    let Some(token) = token else {
        return Outcome::failed(EndpointResult::NoToken, None, "no valid token to send");
    };
    let builder = match transport.request(
        &tenant.http,
        Role::Endpoint,
        endpoint.method.clone(),
        endpoint.url.clone(),
    ) {
        Ok(builder) => builder,
        Err(detail) => return Outcome::failed(EndpointResult::ConnectError, None, detail),
    };
    let mut builder = builder
        .headers(endpoint.headers.clone())
        .bearer_auth(token.access_token.expose_secret());
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
            let (result, detail) = judge(&endpoint.expect, &answer);
            Outcome {
                result,
                latency: None,
                status: Some(answer.status),
                detail,
                certificate: answer.certificate,
                phases: None,
            }
        }
        Err((failure, detail)) => Outcome::failed(failure.into(), None, detail),
    };
    outcome.latency = Some(exchange.latency);
    outcome.phases = Some(exchange.phases);
    outcome
}

/// Judges an answer against `expect` exactly as an endpoint call does: the
/// result class and, unless it succeeded, why. The entry point of the fuzz
/// target and the property tests (`fuzz/`, `tests/properties.rs`).
pub fn judge_answer(expect: &Expect, answer: &Answer) -> (EndpointResult, Option<String>) {
    judge(expect, answer)
}

/// Checks status, then body, against the expectations.
fn judge(expect: &Expect, answer: &Answer) -> (EndpointResult, Option<String>) {
    let status = answer.status;
    let expected = match &expect.status {
        Some(list) => list.contains(&status),
        None => (200..300).contains(&status),
    };
    if !expected {
        return (
            EndpointResult::from_unexpected_status(status),
            Some(format!("HTTP {status}")),
        );
    }
    match check_body(expect, answer) {
        Ok(()) => (EndpointResult::Success, None),
        Err(why) => (EndpointResult::ValidationFailed, Some(why)),
    }
}

fn check_body(expect: &Expect, answer: &Answer) -> Result<(), String> {
    let needs_body = expect.body_regex.is_some() || !expect.json.is_empty();
    if answer.over_limit {
        return Err(format!(
            "response body over the {}-byte limit",
            answer.body.len()
        ));
    }
    if !needs_body {
        return Ok(());
    }
    if let Some(re) = &expect.body_regex {
        let text = String::from_utf8_lossy(&answer.body);
        if !re.is_match(&text) {
            return Err(format!("body does not match /{}/", re.as_str()));
        }
    }
    if expect.json.is_empty() {
        return Ok(());
    }
    let value: serde_json::Value =
        serde_json::from_slice(&answer.body).map_err(|_| "body is not JSON".to_owned())?;
    for check in &expect.json {
        let found = value.pointer(&check.pointer);
        match (&check.condition, found) {
            (JsonCondition::Exists(true), None) => {
                return Err(format!("{} is missing", check.pointer));
            }
            (JsonCondition::Exists(false), Some(_)) => {
                return Err(format!("{} is present", check.pointer));
            }
            (JsonCondition::Equals(want), got) if got != Some(want) => {
                return Err(format!("{} is not {want}", check.pointer));
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
        assert_eq!(detail.as_deref(), Some("/error is present"));
        let (result, detail) = judge(&expect, &answer(200, r#"{"state":"okay-ish"}"#));
        assert_eq!(result, EndpointResult::ValidationFailed);
        assert_eq!(detail.as_deref(), Some(r#"/state is not "ok""#));
        let mut big = answer(200, "{}");
        big.over_limit = true;
        assert_eq!(
            judge(&Expect::default(), &big).0,
            EndpointResult::ValidationFailed
        );
    }
}
