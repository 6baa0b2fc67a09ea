//! The status page (`/`), the tenant detail view and their JSON twins.

use axum::Router;
use axum::response::Html;
use axum::routing::get;

use super::ServerState;

/// The routes of the status views.
pub fn routes() -> Router<ServerState> {
    Router::new().route("/", get(landing))
}

async fn landing(axum::extract::State(state): axum::extract::State<ServerState>) -> Html<String> {
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
