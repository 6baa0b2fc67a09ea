//! The status pages (`/`, `/tenants/{name}`), their JSON twins
//! (`/api/v1/tenants`, `/api/v1/tenants/{name}`), the probe-now request
//! ([`probe_now`], `POST /api/v1/tenants/{name}/probe`) and the pages' own
//! CSS and JavaScript (`/assets/...`).
//!
//! Both forms render [`crate::views::TenantView`]s, so they show the same
//! data; neither ever holds a secret or a token. The HTML is built with
//! maud ([`layout`], [`overview`], [`tenant`], [`chart`], [`phases`]), which escapes
//! every value; the stylesheet and the script are files of their own, so
//! the Content-Security-Policy allows no inline style or script and no
//! other origin.

pub mod chart;
pub mod format;
pub mod layout;
pub mod overview;
pub mod phases;
pub mod probe_now;
pub mod tenant;

use std::time::SystemTime;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::ServerState;
use crate::reload::FailedReload;
use crate::unix_time::unix_seconds;
use crate::views::tenant::{self as views, Depth};
use crate::views::{SearchWords, Summary, TenantView};

/// The pages' stylesheet.
const STYLE: &str = include_str!("assets/style.css");
/// The pages' script: live filtering and a periodic reload.
const SCRIPT: &str = include_str!("assets/page.js");

/// What the pages may load: their own stylesheet and script, nothing
/// inline, nothing from elsewhere; the script may call credprobe itself
/// (the tenant page's probe-now button).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     connect-src 'self'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The routes of the status views.
pub fn routes() -> Router<ServerState> {
    Router::new()
        .route("/", get(overview_html))
        .route("/tenants/{name}", get(tenant_html))
        .route("/api/v1/tenants", get(overview_json))
        .route("/api/v1/tenants/{name}", get(tenant_json))
        .route("/api/v1/tenants/{name}/probe", post(probe_now::probe_now))
        .route("/assets/style.css", get(style))
        .route("/assets/page.js", get(script))
}

/// The `?q=` filter: every word must occur in the tenant's name, a label
/// (`key=value`) or its state, ignoring case.
#[derive(Debug, Default, Deserialize)]
struct Filter {
    #[serde(default)]
    q: String,
}

/// `/api/v1/tenants`.
#[derive(Serialize)]
struct OverviewJson<'a> {
    /// When this answer was made (unix seconds).
    generated_at: f64,
    /// The last reload that failed, until one succeeds; `null` otherwise.
    failed_reload: Option<&'a FailedReload>,
    /// The filter applied to `tenants` (not to `summary`).
    query: &'a str,
    /// Counts over every tenant, filtered or not.
    summary: &'a Summary,
    /// The tenants matching the filter, failing first.
    tenants: Vec<&'a TenantView>,
}

/// `/api/v1/tenants/{name}`: the tenant, and the last failed reload as
/// in the overview.
#[derive(Serialize)]
struct TenantJson<'a> {
    #[serde(flatten)]
    tenant: &'a TenantView,
    /// The last reload that failed, until one succeeds; `null` otherwise.
    failed_reload: Option<&'a FailedReload>,
}

#[derive(Serialize)]
struct ErrorJson {
    error: String,
}

/// Runs `render` on every tenant's view and the trimmed filter, off the
/// runtime: with thousands of tenants, building the overview is CPU work.
/// A malformed query string filters nothing rather than failing the page.
async fn overview<T: Send + 'static>(
    state: ServerState,
    query: Result<Query<Filter>, QueryRejection>,
    depth: Depth,
    render: impl FnOnce(&Overview<'_>) -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    let filter = query.map(|Query(f)| f).unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        let now = SystemTime::now();
        let (summary, views) = views::overview(&state.fleet, now, depth);
        let failed_reload = state.reload_status.last_failure();
        render(&Overview {
            summary: &summary,
            views: &views,
            q: filter.q.trim(),
            now,
            failed_reload: failed_reload.as_deref(),
        })
    })
    .await
}

/// What the overview's two forms render.
pub struct Overview<'a> {
    /// Counts over every tenant.
    pub summary: &'a Summary,
    /// Every tenant's view, failing first (not yet filtered).
    pub views: &'a [TenantView],
    /// The trimmed `?q=` filter.
    pub q: &'a str,
    /// When the views were made.
    pub now: SystemTime,
    /// The last reload that failed, until one succeeds.
    pub failed_reload: Option<&'a FailedReload>,
}

async fn overview_html(
    State(state): State<ServerState>,
    query: Result<Query<Filter>, QueryRejection>,
) -> Response {
    match overview(state, query, Depth::Strip, |o| {
        overview::render(o).into_string()
    })
    .await
    {
        Ok(body) => html(StatusCode::OK, body),
        Err(error) => internal_error(&error),
    }
}

async fn overview_json(
    State(state): State<ServerState>,
    query: Result<Query<Filter>, QueryRejection>,
) -> Response {
    let rendered = overview(state, query, Depth::Latest, |o| {
        serde_json::to_string(&OverviewJson {
            generated_at: unix_seconds(o.now),
            failed_reload: o.failed_reload,
            query: o.q,
            summary: o.summary,
            tenants: {
                let words = SearchWords::of(o.q);
                o.views.iter().filter(|v| v.matches(&words)).collect()
            },
        })
    })
    .await;
    match rendered {
        Ok(Ok(body)) => json(StatusCode::OK, body),
        Ok(Err(error)) => internal_error(&error),
        Err(error) => internal_error(&error),
    }
}

async fn tenant_html(State(state): State<ServerState>, Path(name): Path<String>) -> Response {
    let now = SystemTime::now();
    let failed_reload = state.reload_status.last_failure();
    let failed_reload = failed_reload.as_deref();
    match views::tenant(&state.fleet, &name, now) {
        Some(view) => html(
            StatusCode::OK,
            tenant::render(&view, now, failed_reload).into_string(),
        ),
        None => html(
            StatusCode::NOT_FOUND,
            tenant::not_found(&name, now, failed_reload).into_string(),
        ),
    }
}

async fn tenant_json(State(state): State<ServerState>, Path(name): Path<String>) -> Response {
    let failed_reload = state.reload_status.last_failure();
    let (status, body) = match views::tenant(&state.fleet, &name, SystemTime::now()) {
        Some(view) => (
            StatusCode::OK,
            serde_json::to_string(&TenantJson {
                tenant: &view,
                failed_reload: failed_reload.as_deref(),
            }),
        ),
        None => (
            StatusCode::NOT_FOUND,
            serde_json::to_string(&ErrorJson {
                error: format!("no tenant named {name:?}"),
            }),
        ),
    };
    match body {
        Ok(body) => json(status, body),
        Err(error) => internal_error(&error),
    }
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    nosniff(headers);
    response
}

/// An HTML answer that may load only its own stylesheet and script.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    no_store(headers);
    response
}

fn json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    no_store(headers);
    response
}

fn internal_error(error: &dyn std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    nosniff(headers);
}

fn nosniff(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}
