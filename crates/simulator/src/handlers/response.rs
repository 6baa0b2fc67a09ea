//! Answers more than one route sends (JSON, API errors, 404, the 503 of
//! a stopping simulator), and the faults that break an answer's body.

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::scenario::BodyFault;
use crate::state::SimState;

/// Retry-After of the rate_limited knob when the scenario gives none.
pub(super) const DEFAULT_RETRY_AFTER: &str = "2";

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(super) fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &json!({"code": code, "message": message}))
}

pub(super) fn shutting_down() -> Response {
    api_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "SHUTTING_DOWN",
        "the simulator is stopping",
    )
}

pub(super) async fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, &json!({"code": "NOT_FOUND"}))
}

pub(super) fn set_header(response: &mut Response, name: axum::http::HeaderName, value: &str) {
    // A value that is not a valid header (only possible from a Rust-built
    // scenario) is left out rather than failing the answer.
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// `response` with its body broken as `fault` says: the first half of the
/// body, then a reset connection or a body that never ends (until the
/// simulator stops).
pub(super) async fn with_fault(
    state: &SimState,
    response: Response,
    fault: Option<BodyFault>,
) -> Response {
    let Some(fault) = fault else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let first = bytes.slice(..bytes.len() / 2);
    // Chunked, so the client cannot tell the body is short from its length.
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let stopping = state.stopping.clone();
    let rest = futures_util::stream::once(async move {
        if fault == BodyFault::Stall {
            stopping.cancelled().await;
        }
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated connection reset",
        ))
    });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(first) }),
        rest,
    );
    Response::from_parts(parts, Body::from_stream(stream))
}
