//! The HTTP server: `/metrics` for Prometheus, `/` for people, and the
//! lifecycle endpoints `/-/healthy`, `/-/ready` and `/-/reload` for
//! orchestrators.
//! The status page (`/`), the tenant view (`/tenants/{name}`) and their JSON
//! (`/api/v1/tenants`) live in [`pages`]; the accept loop with its limits
//! and TLS in [`connections`]; basic authentication and the configured
//! response headers, applied to every path, in [`access`].

pub mod access;
pub mod connections;
pub mod pages;

pub use connections::{DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS, ServerLimits};

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;

use crate::fleet::Fleet;
use crate::metrics::{Encoding, Exposition, protobuf};
use crate::reload::{ReloadOutcome, ReloadRequest, ReloadStatus};
use crate::web_config::{WebConfig, server_certificate};

/// Largest request body accepted (413 beyond). Only `/-/reload` takes a
/// body, and it needs none.
pub const MAX_REQUEST_BODY_BYTES: usize = 64 * 1024;

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// Rendered on `/metrics`.
    pub exposition: Arc<Exposition>,
    /// Read for readiness and the status views.
    pub fleet: Arc<Fleet>,
    /// Where `POST /-/reload` asks the daemon to reload; `None` when the
    /// configuration has no file to reload from (the demo).
    pub reload: Option<mpsc::Sender<ReloadRequest>>,
    /// The last failed reload, until one succeeds: a banner on every page
    /// and `failed_reload` in the JSON.
    pub reload_status: Arc<ReloadStatus>,
}

/// The routes.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload).put(reload))
        .merge(pages::routes())
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY_BYTES))
        .with_state(state)
}

/// Serves until `shutdown` is cancelled, then finishes the requests in
/// flight. `web` holds the current web configuration (a reload replaces
/// it): a new connection takes its TLS settings, every request its users
/// and headers; all within `limits`. Meanwhile its certificate is
/// refreshed from its files every
/// [`server_certificate::CERT_CHECK_INTERVAL`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    web: watch::Receiver<Arc<WebConfig>>,
    limits: ServerLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // The server's certificate follows its files from a task of its own,
    // never from inside a handshake.
    let certificate = server_certificate::refresh_every(
        web.clone(),
        server_certificate::CERT_CHECK_INTERVAL,
        shutdown.clone(),
    );
    tokio::join!(
        connections::accept_loop(listener, router(state), web, limits, shutdown),
        certificate
    );
    Ok(())
}

/// `/metrics`: the tenant series and the telemetry, in the protobuf
/// format with native histograms when the scraper asks for it (Prometheus
/// with native histograms on), else in the text format; gzipped when the
/// scraper accepts it; scrapes that arrive together share one render.
async fn metrics(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    let encoding = Encoding::of(accepts_protobuf(&headers), accepts_gzip(&headers));
    let content_type = if encoding.is_protobuf() {
        protobuf::CONTENT_TYPE
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    match state.exposition.scrape(encoding).await {
        Ok(body) => {
            let mut response =
                ([(header::CONTENT_TYPE, content_type)], Body::from(body)).into_response();
            if encoding.is_gzip() {
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            response
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// True when the scraper asks for the protobuf format.
fn accepts_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(protobuf::accepts_protobuf)
}

/// True when the scraper accepts gzip (Prometheus always does).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

async fn healthy() -> &'static str {
    "Healthy\n"
}

async fn ready(State(state): State<ServerState>) -> Response {
    let (done, total) = state.fleet.readiness();
    if done == total {
        (StatusCode::OK, "Ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Not ready: {done} of {total} tenants have finished a first probe cycle\n"),
        )
            .into_response()
    }
}

/// `POST /-/reload`: 200 with a summary once the new configuration runs,
/// 400 with every problem when it is invalid (the old one stays in force).
async fn reload(State(state): State<ServerState>) -> Response {
    let Some(requests) = state.reload else {
        return (
            StatusCode::BAD_REQUEST,
            "this process has no configuration file to reload\n",
        )
            .into_response();
    };
    let (reply, answer) = oneshot::channel();
    if requests
        .send(ReloadRequest { reply: Some(reply) })
        .await
        .is_err()
    {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match tokio::time::timeout(std::time::Duration::from_secs(60), answer).await {
        Ok(Ok(outcome)) => {
            let status = match outcome {
                ReloadOutcome::Applied(_) => StatusCode::OK,
                ReloadOutcome::Rejected(_) | ReloadOutcome::NoFile => StatusCode::BAD_REQUEST,
                ReloadOutcome::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, format!("{outcome}\n")).into_response()
        }
        Ok(Err(_)) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
        Err(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            "reload still running after 60s\n",
        )
            .into_response(),
    }
}
