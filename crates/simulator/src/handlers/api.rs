//! The Nexthink-like API endpoints: the bearer token is checked (and, for
//! a certificate-bound token, the client certificate), then the client's
//! behaviour decides: a refusal (401, 403, a forced status), a rate limit,
//! a simulated failure, or the canned answer, possibly malformed or
//! padded.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::{Value, json};

use super::response::{
    DEFAULT_RETRY_AFTER, api_error, json_response, not_found, set_header, shutting_down, with_fault,
};
use super::{NQL_EXECUTE_PATH, STATUS_PATH, WORKFLOWS_PATH};
use crate::client_auth;
use crate::listener::Connection;
use crate::scenario::{ApiResponse, ClientBehaviour, REMOTE_ACTION_PATH};
use crate::state::SimState;

/// The simulated API endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ApiRoute {
    Workflows,
    RemoteActions,
    NqlExecute,
    Status,
}

impl ApiRoute {
    fn path(self) -> &'static str {
        match self {
            ApiRoute::Workflows => WORKFLOWS_PATH,
            ApiRoute::RemoteActions => REMOTE_ACTION_PATH,
            ApiRoute::NqlExecute => NQL_EXECUTE_PATH,
            ApiRoute::Status => STATUS_PATH,
        }
    }

    /// The success body; `None` when the request body is unusable.
    fn answer(self, body: &[u8]) -> Option<Value> {
        match self {
            ApiRoute::Workflows => Some(workflows()),
            ApiRoute::RemoteActions => Some(remote_actions()),
            ApiRoute::Status => Some(json!({"state": "ok"})),
            ApiRoute::NqlExecute => nql_execute(body),
        }
    }
}

/// The handler of `route`: a GET, or a POST for NQL execute.
pub(super) fn endpoint(route: ApiRoute) -> MethodRouter<Arc<SimState>> {
    let handler = move |State(state): State<Arc<SimState>>,
                        ConnectInfo(connection): ConnectInfo<Connection>,
                        headers: HeaderMap,
                        body: Bytes| async move {
        api_call(&state, route, &headers, &body, &connection).await
    };
    match route {
        ApiRoute::NqlExecute => post(handler),
        _ => get(handler),
    }
    .fallback(not_found)
}

async fn api_call(
    state: &SimState,
    route: ApiRoute,
    headers: &HeaderMap,
    body: &[u8],
    connection: &Connection,
) -> Response {
    let Some(token) = bearer_token(headers) else {
        return unauthorized();
    };
    let Some(valid) = state.valid_token(token) else {
        return unauthorized();
    };
    // A certificate-bound token (RFC 8705 section 3) needs its certificate.
    if valid
        .bound_to
        .is_some_and(|thumbprint| !client_auth::presents(connection, &thumbprint))
    {
        return unauthorized();
    }
    let client = state.clients().for_api_call(&valid.client_id);
    if !state.pause(client.api_delay).await {
        return shutting_down();
    }
    let answer = api_answer(state, &client, route, body);
    with_fault(state, answer, client.api_fault).await
}

/// The answer to an API call of a client with a valid token.
fn api_answer(
    state: &SimState,
    client: &ClientBehaviour,
    route: ApiRoute,
    body: &[u8],
) -> Response {
    if client.reject_tokens {
        return unauthorized();
    }
    let path = route.path();
    if client
        .forbidden_paths
        .iter()
        .any(|forbidden| forbidden == path)
    {
        return api_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "Not authorized to get remote action information",
        );
    }
    if let Some(&status) = client.api_status.get(path) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = json_response(status, &json!({"code": "FORCED"}));
        if status == StatusCode::TOO_MANY_REQUESTS
            && let Some(retry_after) = &client.api_retry_after
        {
            set_header(&mut response, RETRY_AFTER, retry_after);
        }
        return response;
    }
    if client.rate_limited && state.count_api_call(&client.client_id).is_multiple_of(3) {
        let mut response = api_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            "rate limit exceeded",
        );
        let retry_after = client
            .api_retry_after
            .as_deref()
            .unwrap_or(DEFAULT_RETRY_AFTER);
        set_header(&mut response, RETRY_AFTER, retry_after);
        return response;
    }
    if client.failure_rate > 0.0 && fastrand::f64() < client.failure_rate {
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "simulated failure",
        );
    }
    match route.answer(body) {
        Some(_) if client.api_response == ApiResponse::NotJson => (
            StatusCode::OK,
            [(CONTENT_TYPE, "text/html")],
            "<html><body><h1>Gateway</h1>Service temporarily moved</body></html>",
        )
            .into_response(),
        Some(answer) if client.api_response == ApiResponse::WrongTypes => {
            padded_json(&wrong_types(&answer), client.api_body_size)
        }
        Some(answer) => padded_json(&answer, client.api_body_size),
        None => api_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "expected a JSON body {\"queryId\":\"#...\"}",
        ),
    }
}

/// `answer` with every value a number: an object keeps its keys, an array
/// becomes one object with a numeric `items`.
fn wrong_types(answer: &Value) -> Value {
    match answer {
        Value::Object(fields) => fields.keys().map(|k| (k.clone(), json!(1))).collect(),
        _ => json!({"items": 1}),
    }
}

/// `Authorization: Bearer <token>`, any letter case of the scheme.
pub(super) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn unauthorized() -> Response {
    let mut response = api_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "invalid token");
    set_header(
        &mut response,
        WWW_AUTHENTICATE,
        "Bearer error=\"invalid_token\"",
    );
    response
}

/// JSON padded with trailing whitespace (still valid JSON, same shape) to at
/// least `size` bytes.
fn padded_json(body: &Value, size: usize) -> Response {
    let mut text = body.to_string();
    if text.len() < size {
        text.push('\n');
        let missing = size.saturating_sub(text.len());
        text.extend(std::iter::repeat_n(' ', missing));
    }
    (StatusCode::OK, [(CONTENT_TYPE, "application/json")], text).into_response()
}

fn workflows() -> Value {
    json!([
        {
            "id": "#device_onboarding",
            "uuid": "6b1f0c1e-6a57-4a43-9e0c-6f4b9c2f3a10",
            "name": "Device onboarding",
            "status": "ACTIVE",
            "lastUpdateTime": "2025-01-14T09:30:00Z",
        },
        {
            "id": "#disk_cleanup",
            "uuid": "0d2c8f57-3c1a-4e7e-8a55-2b7f4c9d1e22",
            "name": "Disk cleanup",
            "status": "ACTIVE",
            "lastUpdateTime": "2025-02-03T16:05:12Z",
        },
        {
            "id": "#legacy_vpn_reset",
            "uuid": "a4e7d9b2-91f3-4c8e-b6a0-5d3e2f1c7b34",
            "name": "Legacy VPN reset",
            "status": "INACTIVE",
            "lastUpdateTime": "2024-11-20T08:00:00Z",
        },
    ])
}

fn remote_actions() -> Value {
    json!([
        {
            "id": "#restart_print_spooler",
            "uuid": "e3b0c442-98fc-4c14-9afb-f4c8996fb924",
            "name": "Restart print spooler",
            "purpose": ["REMEDIATION"],
            "targeting": {"apiEnabled": true, "manualEnabled": true, "workflowEnabled": true},
        },
        {
            "id": "#get_battery_health",
            "uuid": "7f9c2ba4-e88f-4827-9ad4-5a0c6f2d8e11",
            "name": "Get battery health",
            "purpose": ["DATA_COLLECTION"],
            "targeting": {"apiEnabled": true, "manualEnabled": false, "workflowEnabled": false},
        },
    ])
}

/// The answer to `{"queryId":"#..."}`; `None` for any other body.
fn nql_execute(body: &[u8]) -> Option<Value> {
    let query_id = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|request| request.get("queryId")?.as_str().map(str::to_owned))
        .filter(|query_id| query_id.starts_with('#') && query_id.len() > 1);
    let query_id = query_id?;
    let executed = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    Some(json!({
        "queryId": query_id,
        "executedQuery": "devices during past 1d | summarize count = count()",
        "rows": 1,
        "executionDateTime": executed,
        "headers": ["count"],
        "data": [[1]],
    }))
}
