//! The HTTP server: `/metrics` for Prometheus, `/` for people, and the
//! lifecycle endpoints `/-/healthy`, `/-/ready` and `/-/reload` for
//! orchestrators.
//! The status page (`/`), the tenant view (`/tenants/{name}`) and their JSON
//! (`/api/v1/tenants`) live in [`pages`].

pub mod pages;

use std::io::BufWriter;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::status::StatusBoard;

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// Rendered on `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Read for readiness and the status views.
    pub status: Arc<StatusBoard>,
    /// Where `POST /-/reload` asks the daemon to reload; `None` when the
    /// configuration has no file to reload from (the demo).
    pub reload: Option<mpsc::Sender<ReloadRequest>>,
}

/// A request to reload the configuration, with where to send the outcome
/// (a summary, or the error text).
#[derive(Debug)]
pub struct ReloadRequest {
    /// Receives the outcome; `None` for a SIGHUP or a file change.
    pub reply: Option<oneshot::Sender<Result<String, String>>>,
}

/// The routes.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload).put(reload))
        .merge(pages::routes())
        .with_state(state)
}

/// Serves until `shutdown` is cancelled, then finishes the requests in
/// flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn metrics(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    let gzip = accepts_gzip(&headers);
    // Rendering (and compressing) thousands of tenants is CPU work: keep it
    // off the runtime's workers.
    let metrics = Arc::clone(&state.metrics);
    let rendered = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let body = if gzip {
            // The encoder writes many tiny pieces: buffer them, or deflate
            // runs once per label value.
            let encoder = GzEncoder::new(Vec::with_capacity(256 * 1024), Compression::fast());
            let buffered = BufWriter::with_capacity(128 * 1024, encoder);
            let buffered = metrics.render_to(buffered).map_err(|e| e.to_string())?;
            let encoder = buffered.into_inner().map_err(|e| e.to_string())?;
            encoder.finish().map_err(|e| e.to_string())?
        } else {
            metrics.render().map_err(|e| e.to_string())?
        };
        crate::metrics::release_freed_memory();
        Ok(body)
    })
    .await;
    match rendered {
        Ok(Ok(body)) => {
            let mut response = (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                body,
            )
                .into_response();
            if gzip {
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            response
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot render metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, error).into_response()
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
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
    let (done, total) = state.status.readiness();
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
        Ok(Ok(Ok(summary))) => (StatusCode::OK, format!("{summary}\n")).into_response(),
        Ok(Ok(Err(error))) => (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
        Ok(Err(_)) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
        Err(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            "reload still running after 60s\n",
        )
            .into_response(),
    }
}
