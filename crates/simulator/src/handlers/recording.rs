//! Every request but the control ones passes [`record`] first: its body
//! is read whole (bounded in size and time), the request goes into the log
//! with the client it is attributed to, and it is counted, as is its
//! answer. The control routes `/__simulator/requests` and
//! `/__simulator/stats` read the log and the counts back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::bearer_token;
use super::response::api_error;
use super::token::basic_credentials;
use super::{is_control_path, is_token_path};
use crate::RecordedRequest;
use crate::client_auth;
use crate::listener::Connection;
use crate::state::SimState;

/// Request bodies above this are refused (413) rather than buffered.
const MAX_BODY: usize = 1024 * 1024;

/// The log keeps this much of each body.
const LOGGED_BODY: usize = 64 * 1024;

/// A client sending its body slower than this is cut off (408).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Buffers the body (bounded in size and time), records the request, then
/// hands it on with the buffered body.
pub(super) async fn record(
    State(state): State<Arc<SimState>>,
    request: Request,
    next: Next,
) -> Response {
    if is_control_path(request.uri().path()) {
        return next.run(request).await;
    }
    let at = SystemTime::now();
    state.count_arrival(at, is_token_path(request.uri().path()));
    let (parts, body) = request.into_parts();
    let (body, refusal) = read_body(&parts.headers, body).await;
    state.record(recorded_request(&state, at, &parts, &body));
    let response = match refusal {
        Some(refusal) => refusal,
        None => next.run(Request::from_parts(parts, Body::from(body))).await,
    };
    state.count_answer(response.status().as_u16());
    response
}

/// Whether reading a body failed on the size limit. That error's type lives
/// in http-body-util, which is not a dependency here, so it is recognised by
/// its message.
fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(current) = cause {
        if current.to_string().contains("length limit exceeded") {
            return true;
        }
        cause = current.source();
    }
    false
}

/// Reads a request body whole, bounded in size ([`MAX_BODY`]) and time
/// ([`BODY_READ_TIMEOUT`]); on failure returns the answer to send instead.
async fn read_body(headers: &HeaderMap, body: Body) -> (Bytes, Option<Response>) {
    let too_large = || {
        api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "request body over 1 MiB",
        )
    };
    // Refused on its announced length without waiting for it.
    if body_exceeds_declared_limit(headers) {
        return (Bytes::new(), Some(too_large()));
    }
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await;
    match read {
        Ok(Ok(body)) => (body, None),
        Ok(Err(error)) if is_length_limit(&error) => (Bytes::new(), Some(too_large())),
        Ok(Err(_)) => {
            let refusal = api_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "could not read the request body",
            );
            (Bytes::new(), Some(refusal))
        }
        Err(_) => {
            let refusal = api_error(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "request body too slow",
            );
            (Bytes::new(), Some(refusal))
        }
    }
}

fn body_exceeds_declared_limit(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .is_some_and(|length| length > MAX_BODY as u64)
}

fn recorded_request(
    state: &SimState,
    at: SystemTime,
    parts: &request::Parts,
    body: &[u8],
) -> RecordedRequest {
    let path = parts.uri.path();
    let client_id = if is_token_path(path) {
        let form = form_fields(body);
        basic_credentials(&parts.headers)
            .and_then(Result::ok)
            .map(|credentials| credentials.id)
            .or_else(|| client_auth::claimed_client_id(&form))
    } else {
        bearer_token(&parts.headers)
            .and_then(|token| state.token_owner(token))
            .map(|owner| owner.to_string())
    };
    RecordedRequest {
        at,
        method: parts.method.to_string(),
        path: path.to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body[..body.len().min(LOGGED_BODY)]).into_owned(),
        client_id,
        tls_resumed: parts
            .extensions
            .get::<ConnectInfo<Connection>>()
            .filter(|connection| connection.0.tls)
            .map(|connection| connection.0.resumed),
    }
}

/// Form fields for the log: lenient, first value wins.
fn form_fields(body: &[u8]) -> HashMap<String, String> {
    let mut form = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        form.entry(name.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    form
}

/// `GET /__simulator/requests`: the request log, oldest first.
pub(super) async fn recorded_requests(State(state): State<Arc<SimState>>) -> Response {
    axum::Json(state.recorded()).into_response()
}

/// Request totals, answers by class and requests per wall-clock second
/// (`[[unix_second, requests], ...]`, seconds without requests left out), so
/// a benchmark can count a client's upstream requests and how evenly they
/// arrive.
pub(super) async fn traffic(State(state): State<Arc<SimState>>) -> Response {
    axum::Json(state.traffic()).into_response()
}
