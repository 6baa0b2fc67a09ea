//! The HTTP server: `/metrics` for Prometheus, `/` for people, and the
//! lifecycle endpoints `/-/healthy` and `/-/ready` for orchestrators.
//! The status page and its JSON live in [`pages`].

pub mod pages;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
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
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
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
