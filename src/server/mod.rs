//! The HTTP server: `/metrics` for Prometheus, `/` for people, and the
//! lifecycle endpoints `/-/healthy` and `/-/ready` for orchestrators.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::status::StatusBoard;

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// Rendered on `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Read for readiness and the landing page.
    pub status: Arc<StatusBoard>,
}

/// The routes.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
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

async fn metrics(State(state): State<ServerState>) -> Response {
    // Rendering thousands of tenants is CPU work: keep it off the runtime.
    let metrics = Arc::clone(&state.metrics);
    match tokio::task::spawn_blocking(move || metrics.render()).await {
        Ok(Ok(body)) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot render metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
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

async fn landing(State(state): State<ServerState>) -> Html<String> {
    let (done, total) = state.status.readiness();
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>credprobe</title></head>\n\
<body><h1>credprobe</h1>\n\
<p>Proves per tenant that API credentials still work: an OAuth2 client-credentials token request, then the tenant's endpoints with that token.</p>\n\
<p>{total} tenants configured, {done} probed at least once.</p>\n\
<ul><li><a href=\"metrics\">Metrics</a></li><li><a href=\"-/healthy\">Health</a></li><li><a href=\"-/ready\">Readiness</a></li></ul>\n\
<p>credprobe {version}</p></body></html>\n",
        version = crate::metrics::VERSION,
    ))
}
