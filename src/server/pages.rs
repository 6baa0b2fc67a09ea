//! The status page (`/`), the tenant detail view (`/tenants/{name}`) and
//! their JSON twins (`/api/v1/tenants`, `/api/v1/tenants/{name}`).
//!
//! The HTML is rendered here, with inline CSS and one small inline script
//! (live filtering and a 30 s refresh; the page works without it): no
//! external asset, so it works in an air-gapped cluster, and the
//! Content-Security-Policy forbids loading any. Every value that comes
//! from the configuration or from upstream goes through [`escape`].
//! Both forms render [`crate::status::TenantView`]s, so they show the same
//! data; neither ever holds a secret or a token.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::ServerState;
use crate::status::{Health, ProbeRecord, Summary, TenantView, unix_seconds};

/// How often the page reloads itself when its script runs.
const REFRESH_SECONDS: u32 = 30;

/// The routes of the status views.
pub fn routes() -> Router<ServerState> {
    Router::new()
        .route("/", get(overview_html))
        .route("/tenants/{name}", get(tenant_html))
        .route("/api/v1/tenants", get(overview_json))
        .route("/api/v1/tenants/{name}", get(tenant_json))
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
    /// The filter applied to `tenants` (not to `summary`).
    query: &'a str,
    /// Counts over every tenant, filtered or not.
    summary: &'a Summary,
    /// The tenants matching the filter, failing first.
    tenants: Vec<&'a TenantView>,
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
    render: impl FnOnce(&Summary, &[TenantView], &str, SystemTime) -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    let filter = query.map(|Query(f)| f).unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        let now = SystemTime::now();
        let (summary, views) = state.status.overview(now);
        render(&summary, &views, filter.q.trim(), now)
    })
    .await
}

async fn overview_html(
    State(state): State<ServerState>,
    query: Result<Query<Filter>, QueryRejection>,
) -> Response {
    match overview(state, query, render_overview).await {
        Ok(body) => html(StatusCode::OK, body),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn overview_json(
    State(state): State<ServerState>,
    query: Result<Query<Filter>, QueryRejection>,
) -> Response {
    let rendered = overview(state, query, |summary, views, q, now| {
        serde_json::to_string(&OverviewJson {
            generated_at: unix_seconds(now),
            query: q,
            summary,
            tenants: views.iter().filter(|v| v.matches(q)).collect(),
        })
    })
    .await;
    match rendered {
        Ok(Ok(body)) => json(StatusCode::OK, body),
        Ok(Err(error)) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn tenant_html(State(state): State<ServerState>, Path(name): Path<String>) -> Response {
    let now = SystemTime::now();
    match state.status.tenant(&name, now) {
        Some(view) => html(StatusCode::OK, render_tenant(&view, now)),
        None => html(StatusCode::NOT_FOUND, render_not_found(&name)),
    }
}

async fn tenant_json(State(state): State<ServerState>, Path(name): Path<String>) -> Response {
    let now = SystemTime::now();
    let (status, body) = match state.status.tenant(&name, now) {
        Some(view) => (StatusCode::OK, serde_json::to_string(&view)),
        None => (
            StatusCode::NOT_FOUND,
            serde_json::to_string(&ErrorJson {
                error: format!("no tenant named {name:?}"),
            }),
        ),
    };
    match body {
        Ok(body) => json(status, body),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// An HTML answer that may not load anything from elsewhere.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    common_headers(headers);
    response
}

fn json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    common_headers(headers);
    response
}

fn common_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// Escapes `&`, `<`, `>`, `"` and `'` so that any text is safe inside an
/// HTML element or a quoted attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a tenant name for a URL path segment (names are
/// `[A-Za-z0-9._-]` today; this keeps links right if that ever widens).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

const STYLE: &str = r#"
:root{--bg:#f6f7f9;--fg:#1f2328;--muted:#656d76;--card:#fff;--line:#d8dee4;--link:#0b57d0;
--ok:#1a7f37;--okbg:#dafbe1;--bad:#b3261e;--badbg:#ffebe9;--warn:#9a6700;--warnbg:#fff8c5;
--orange:#bc4c00;--orangebg:#fff1e5;--grey:#57606a;--greybg:#eaeef2}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8d96a0;--card:#161b22;
--line:#30363d;--link:#6cb6ff;--ok:#3fb950;--okbg:#12261e;--bad:#ff7b72;--badbg:#2d1517;--warn:#d29922;
--warnbg:#272115;--orange:#f0883e;--orangebg:#2b1d12;--grey:#8d96a0;--greybg:#21262d}}
*{box-sizing:border-box}
body{margin:0;padding:16px 24px;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
header{display:flex;align-items:baseline;gap:16px;flex-wrap:wrap;margin-bottom:4px}
h1{font-size:22px;margin:0}h2{font-size:16px;margin:24px 0 8px}
nav a{margin-right:12px}
.summary{font-size:16px;margin:8px 0 12px}
.summary b{font-size:18px}
.n-ok{color:var(--ok)}.n-bad{color:var(--bad)}.n-grey{color:var(--grey)}
form{display:flex;gap:8px;align-items:center;margin:0 0 12px}
input[type=search]{width:360px;max-width:100%;padding:6px 8px;border:1px solid var(--line);border-radius:6px;
background:var(--card);color:var(--fg);font:inherit}
button{padding:6px 12px;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg);font:inherit;cursor:pointer}
.muted{color:var(--muted)}small{color:var(--muted)}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);border-radius:6px}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid var(--line)}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);background:var(--bg);white-space:nowrap}
tbody tr:last-child td{border-bottom:0}
tr.row td:first-child{border-left:4px solid var(--c,var(--line))}
td.name{min-width:200px}td.name a{font-weight:600;white-space:nowrap}
.labels{margin-top:2px}
.nowrap{white-space:nowrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12.5px;white-space:nowrap;
color:var(--c);background:var(--cb)}
.s-credentials_rejected,.s-idp_down{--c:var(--bad);--cb:var(--badbg)}
.s-permission_missing,.s-endpoint_failing{--c:var(--orange);--cb:var(--orangebg)}
.s-rate_limited{--c:var(--warn);--cb:var(--warnbg)}
.s-pending{--c:var(--grey);--cb:var(--greybg)}
.s-healthy{--c:var(--ok);--cb:var(--okbg)}
.label{display:inline-block;margin:0 4px 2px 0;padding:0 6px;border:1px solid var(--line);border-radius:4px;font-size:12px;white-space:nowrap}
.label i{font-style:normal;color:var(--muted)}
.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}
.ep{white-space:nowrap}
.dot{display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:6px;background:var(--grey)}
.dot.ok{background:var(--ok)}.dot.bad{background:var(--bad)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.detail{max-width:420px;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px;margin:8px 0;background:var(--card);
border:1px solid var(--line);border-radius:6px;padding:12px 16px}
dt{color:var(--muted)}dd{margin:0}
tr.fail td{background:var(--badbg)}
footer{margin-top:16px;color:var(--muted);font-size:12px}
"#;

/// Live filtering of the rows already on the page, and a periodic reload
/// (kept with the current filter, skipped while typing).
const SCRIPT: &str = r#"(function(){
var q=document.getElementById('q'),shown=document.getElementById('shown');
var rows=[].slice.call(document.querySelectorAll('tr[data-search]'));
function apply(){var words=q.value.toLowerCase().split(/\s+/).filter(Boolean),n=0;
rows.forEach(function(r){var s=r.getAttribute('data-search');
var m=words.every(function(w){return s.indexOf(w)>=0});r.hidden=!m;if(m)n++;});
if(shown)shown.textContent=n;
history.replaceState(null,'',words.length?'?q='+encodeURIComponent(q.value.trim()):location.pathname);}
q.addEventListener('input',apply);
setInterval(function(){if(document.activeElement!==q)location.reload();},REFRESH_MS);
})();"#;

fn head(out: &mut String, title: &str) {
    let _ = writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head>\n<body>",
        escape(title)
    );
}

fn footer(out: &mut String, now: SystemTime, refresh: bool) {
    let _ = writeln!(
        out,
        "<footer>credprobe {} · generated {}{}</footer>",
        escape(crate::metrics::VERSION),
        escape(&utc(unix_seconds(now))),
        if refresh {
            format!(" · reloads every {REFRESH_SECONDS} s")
        } else {
            String::new()
        }
    );
}

fn render_overview(summary: &Summary, views: &[TenantView], q: &str, now: SystemTime) -> String {
    let now_s = unix_seconds(now);
    let shown: Vec<&TenantView> = views.iter().filter(|v| v.matches(q)).collect();
    let mut out = String::with_capacity(4096 + views.len() * 1200);
    let title = if summary.failing > 0 {
        format!(
            "credprobe: {} failing of {}",
            summary.failing, summary.tenants
        )
    } else {
        format!("credprobe: {} tenants", summary.tenants)
    };
    head(&mut out, &title);
    out.push_str(
        "<header><h1>credprobe</h1><nav><a href=\"metrics\">Metrics</a>\
<a href=\"api/v1/tenants\">JSON</a><a href=\"-/ready\">Readiness</a></nav></header>\n",
    );
    let _ = writeln!(
        out,
        "<p class=\"summary\" id=\"summary\"><b>{}</b> tenants, <b class=\"n-ok\">{}</b> healthy, \
<b class=\"{}\">{}</b> failing, <b class=\"n-grey\">{}</b> pending</p>",
        summary.tenants,
        summary.healthy,
        if summary.failing > 0 { "n-bad" } else { "n-ok" },
        summary.failing,
        summary.pending,
    );
    let _ = writeln!(
        out,
        "<form method=\"get\" role=\"search\"><input type=\"search\" id=\"q\" name=\"q\" value=\"{}\" \
placeholder=\"Filter: name, label or state\" aria-label=\"Filter tenants\">\
<button type=\"submit\">Filter</button><a href=\"./\">Clear</a>\
<span class=\"muted\"><span id=\"shown\">{}</span> of {} shown</span></form>",
        escape(q),
        shown.len(),
        views.len(),
    );
    out.push_str(
        "<table id=\"tenants\"><thead><tr><th>Tenant</th><th>State</th><th>Token</th>\
<th>Expires</th><th>Endpoints</th><th>Last error</th><th>Last success</th></tr></thead>\n<tbody>\n",
    );
    for view in &shown {
        overview_row(&mut out, view, now_s);
    }
    if shown.is_empty() {
        let text = if views.is_empty() {
            "No tenant is configured.".to_owned()
        } else {
            format!("No tenant matches \u{201c}{q}\u{201d}.")
        };
        let _ = writeln!(
            out,
            "<tr><td colspan=\"7\" class=\"muted\">{}</td></tr>",
            escape(&text)
        );
    }
    out.push_str("</tbody></table>\n");
    footer(&mut out, now, true);
    let _ = writeln!(
        out,
        "<script>{}</script>\n</body></html>",
        SCRIPT.replace("REFRESH_MS", &(REFRESH_SECONDS * 1000).to_string())
    );
    out
}

fn overview_row(out: &mut String, view: &TenantView, now: f64) {
    let class = format!("s-{}", view.state.as_str());
    let _ = write!(
        out,
        "<tr class=\"row {}\" data-search=\"{}\" data-state=\"{}\">",
        escape(&class),
        escape(&view.search_text()),
        escape(view.state.as_str()),
    );
    // Tenant, with its labels below the name.
    let _ = write!(
        out,
        "<td class=\"name\"><a href=\"tenants/{}\">{}</a><div class=\"labels\">",
        escape(&path_segment(&view.name)),
        escape(&view.name)
    );
    labels(out, view);
    out.push_str("</div></td>");
    // State.
    let _ = write!(out, "<td>{}</td>", badge(view.state));
    // Token: status and latency; the result class when it failed.
    out.push_str("<td class=\"nowrap\">");
    match view.token.result {
        Some(result) => {
            let _ = write!(
                out,
                "<span class=\"dot {}\"></span>{}{}",
                ok_class(result),
                status_code(view.token.status).trim_start(),
                latency_suffix(view.token.latency_seconds),
            );
            if result != "success" {
                let _ = write!(out, "<div class=\"bad\">{}</div>", escape(result));
            }
        }
        None if view.state == Health::Pending => out.push_str("<span class=\"muted\">—</span>"),
        None => out.push_str("<span class=\"muted\">not requested</span>"),
    }
    out.push_str("</td>");
    // Token and credential expiry.
    let _ = write!(
        out,
        "<td class=\"nowrap\"><div><small>token</small> {}</div>",
        expiry(view.token.expires_at, view.token.expires_in_seconds, 60),
    );
    if view.credential_expires_at.is_some() {
        let _ = write!(
            out,
            "<div><small>credential</small> {}</div>",
            expiry(
                view.credential_expires_at,
                view.credential_expires_in_seconds,
                14 * 86_400
            )
        );
    }
    out.push_str("</td>");
    // Endpoints.
    out.push_str("<td>");
    if view.endpoints.is_empty() {
        out.push_str("<span class=\"muted\">none</span>");
    }
    for endpoint in &view.endpoints {
        let dot = match endpoint.result {
            Some("success") => "ok",
            Some(_) => "bad",
            None => "none",
        };
        let _ = write!(
            out,
            "<div class=\"ep\" title=\"{}\"><span class=\"dot {dot}\"></span>{}",
            escape(endpoint.detail.as_deref().unwrap_or(&endpoint.url)),
            escape(&endpoint.name),
        );
        match endpoint.result {
            Some(result) => {
                out.push_str(&status_code(endpoint.status));
                if result != "success" {
                    let _ = write!(out, " <span class=\"bad\">{}</span>", escape(result));
                }
                out.push_str(&latency_suffix(endpoint.latency_seconds));
            }
            None => out.push_str(" <span class=\"muted\">not called yet</span>"),
        }
        out.push_str("</div>");
    }
    out.push_str("</td>");
    // Last error.
    out.push_str("<td>");
    match &view.last_error {
        Some(error) => {
            let _ = write!(
                out,
                "<span class=\"bad\" title=\"{}\">{}</span> <small>{}{}</small><br><small>{}</small>",
                escape(error.detail.as_deref().unwrap_or("")),
                escape(error.result),
                escape(&error.step),
                error.status.map(|s| format!(" {s}")).unwrap_or_default(),
                escape(&ago(unix_seconds(error.at), now)),
            );
        }
        None => out.push_str("<span class=\"muted\">none</span>"),
    }
    out.push_str("</td>");
    // Last success.
    let _ = writeln!(
        out,
        "<td class=\"nowrap\">{}</td></tr>",
        match view.last_success_at {
            Some(at) => format!(
                "<span title=\"{}\">{}</span>",
                escape(&utc(at)),
                escape(&ago(at, now))
            ),
            None if view.state == Health::Pending => "<span class=\"muted\">—</span>".to_owned(),
            None => "<span class=\"bad\">never</span>".to_owned(),
        }
    );
}

fn labels(out: &mut String, view: &TenantView) {
    // customer and tier first: they are what people scan for.
    let mut keys: Vec<&String> = view.labels.keys().collect();
    keys.sort_by_key(|k| match k.as_str() {
        "customer" => 0,
        "tier" => 1,
        _ => 2,
    });
    for key in keys {
        let _ = write!(
            out,
            "<span class=\"label\"><i>{}=</i>{}</span>",
            escape(key),
            escape(&view.labels[key])
        );
    }
}

fn badge(state: Health) -> String {
    format!(
        "<span class=\"badge s-{}\">{}</span>",
        escape(state.as_str()),
        escape(state.text())
    )
}

fn ok_class(result: &str) -> &'static str {
    if result == "success" { "ok" } else { "bad" }
}

fn status_code(status: Option<u16>) -> String {
    status
        .map(|s| format!(" <span class=\"mono\">{s}</span>"))
        .unwrap_or_default()
}

fn latency_suffix(latency: Option<f64>) -> String {
    latency
        .map(|l| format!(" <small>{}</small>", escape(&format_latency(l))))
        .unwrap_or_default()
}

/// "in 14m 50s" / "expired 3d ago", coloured when within `warn_seconds`.
fn expiry(at: Option<f64>, remaining: Option<i64>, warn_seconds: i64) -> String {
    let (Some(at), Some(remaining)) = (at, remaining) else {
        return "<span class=\"muted\">—</span>".to_owned();
    };
    let (class, text) = if remaining <= 0 {
        (
            "bad",
            format!("expired {} ago", span(remaining.unsigned_abs())),
        )
    } else if remaining < warn_seconds {
        ("warn", format!("in {}", span(remaining.unsigned_abs())))
    } else {
        ("", format!("in {}", span(remaining.unsigned_abs())))
    };
    format!(
        "<span class=\"{class}\" title=\"{}\">{}</span>",
        escape(&utc(at)),
        escape(&text)
    )
}

fn render_tenant(view: &TenantView, now: SystemTime) -> String {
    let now_s = unix_seconds(now);
    let mut out = String::with_capacity(16_384);
    head(
        &mut out,
        &format!("{}: {} · credprobe", view.name, view.state.text()),
    );
    let name = escape(&view.name);
    let link = escape(&path_segment(&view.name));
    let _ = writeln!(
        out,
        "<header><h1><a href=\"../\">credprobe</a> › {name}</h1>\
<nav><a href=\"../\">All tenants</a><a href=\"../metrics\">Metrics</a>\
<a href=\"../api/v1/tenants/{link}\">JSON</a></nav></header>",
    );
    let _ = writeln!(
        out,
        "<p class=\"summary\">{} <span class=\"muted\">every {}</span></p>",
        badge(view.state),
        escape(&span(view.interval_seconds.round() as u64)),
    );

    out.push_str("<dl>");
    out.push_str("<dt>Labels</dt><dd>");
    labels(&mut out, view);
    if view.labels.is_empty() {
        out.push_str("<span class=\"muted\">none</span>");
    }
    out.push_str("</dd>");
    let _ = write!(
        out,
        "<dt>Last cycle</dt><dd>{}</dd><dt>Last success</dt><dd>{}</dd>",
        when(view.last_cycle_at, now_s, "—"),
        when(view.last_success_at, now_s, "never"),
    );
    out.push_str("<dt>Last error</dt><dd>");
    match &view.last_error {
        Some(error) => {
            let _ = write!(
                out,
                "<span class=\"bad\">{}</span> {}{} {} <span class=\"detail\">{}</span>",
                escape(error.result),
                escape(&error.step),
                status_code(error.status),
                when(Some(unix_seconds(error.at)), now_s, ""),
                escape(error.detail.as_deref().unwrap_or("")),
            );
        }
        None => out.push_str("<span class=\"muted\">none</span>"),
    }
    out.push_str("</dd>");
    let _ = write!(
        out,
        "<dt>Token endpoint</dt><dd><code>{}</code></dd><dt>Token</dt><dd>",
        escape(&view.token.url)
    );
    match view.token.result {
        Some(result) => {
            let _ = write!(
                out,
                "<span class=\"{}\">{}</span>{}{} <span class=\"detail\">{}</span>",
                ok_class(result),
                escape(result),
                status_code(view.token.status),
                latency_suffix(view.token.latency_seconds),
                escape(view.token.detail.as_deref().unwrap_or("")),
            );
        }
        None => out.push_str("<span class=\"muted\">no request yet</span>"),
    }
    let _ = writeln!(
        out,
        "</dd><dt>Token expires</dt><dd>{}{}</dd><dt>Credential expires</dt><dd>{}</dd></dl>",
        expiry(view.token.expires_at, view.token.expires_in_seconds, 60),
        view.token
            .lifetime_seconds
            .map(|l| format!(
                " <small>(lifetime {})</small>",
                escape(&span(l.round() as u64))
            ))
            .unwrap_or_default(),
        expiry(
            view.credential_expires_at,
            view.credential_expires_in_seconds,
            14 * 86_400
        ),
    );

    out.push_str(
        "<h2>Endpoints</h2>\n<table id=\"endpoints\"><thead><tr><th>Endpoint</th><th>URL</th>\
<th>Result</th><th>Status</th><th>Latency</th><th>Checked</th><th>Last success</th><th>Detail</th>\
</tr></thead><tbody>\n",
    );
    for endpoint in &view.endpoints {
        let _ = writeln!(
            out,
            "<tr><td><b>{}</b></td><td><code>{}</code></td><td>{}</td><td class=\"mono\">{}</td>\
<td class=\"nowrap\">{}</td><td class=\"nowrap\">{}</td><td class=\"nowrap\">{}</td>\
<td class=\"detail\">{}</td></tr>",
            escape(&endpoint.name),
            escape(&endpoint.url),
            match endpoint.result {
                Some(result) => format!(
                    "<span class=\"{}\">{}</span>",
                    ok_class(result),
                    escape(result)
                ),
                None => "<span class=\"muted\">not called yet</span>".to_owned(),
            },
            endpoint.status.map(|s| s.to_string()).unwrap_or_default(),
            escape(
                &endpoint
                    .latency_seconds
                    .map(format_latency)
                    .unwrap_or_default()
            ),
            when(endpoint.checked_at, now_s, ""),
            when(
                endpoint.last_success_at,
                now_s,
                if endpoint.result.is_some() {
                    "never"
                } else {
                    ""
                }
            ),
            escape(endpoint.detail.as_deref().unwrap_or("")),
        );
    }
    if view.endpoints.is_empty() {
        out.push_str(
            "<tr><td colspan=\"8\" class=\"muted\">No endpoint configured: only the token is probed.</td></tr>\n",
        );
    }
    out.push_str("</tbody></table>\n");

    let recent = view.recent.as_deref().unwrap_or(&[]);
    let _ = writeln!(
        out,
        "<h2>Recent probes <small>(last {}, newest first)</small></h2>\n\
<table id=\"recent\"><thead><tr><th>Time</th><th>Step</th><th>Result</th><th>Status</th>\
<th>Latency</th><th>Error</th></tr></thead><tbody>",
        recent.len()
    );
    for record in recent {
        recent_row(&mut out, record, now_s);
    }
    if recent.is_empty() {
        out.push_str("<tr><td colspan=\"6\" class=\"muted\">No probe yet.</td></tr>\n");
    }
    out.push_str("</tbody></table>\n");
    footer(&mut out, now, false);
    out.push_str("</body></html>\n");
    out
}

fn recent_row(out: &mut String, record: &ProbeRecord, now: f64) {
    let at = unix_seconds(record.at);
    let _ = writeln!(
        out,
        "<tr class=\"{}\"><td class=\"nowrap\"><span class=\"mono\">{}</span> <small>{}</small></td>\
<td>{}</td><td><span class=\"{}\">{}</span></td><td class=\"mono\">{}</td><td class=\"nowrap\">{}</td>\
<td class=\"detail\">{}</td></tr>",
        if record.ok() { "pass" } else { "fail" },
        escape(&utc(at)),
        escape(&ago(at, now)),
        escape(&record.step),
        ok_class(record.result),
        escape(record.result),
        record.status.map(|s| s.to_string()).unwrap_or_default(),
        escape(
            &record
                .latency_seconds
                .map(format_latency)
                .unwrap_or_default()
        ),
        escape(record.detail.as_deref().unwrap_or("")),
    );
}

fn render_not_found(name: &str) -> String {
    let mut out = String::new();
    head(&mut out, "Unknown tenant · credprobe");
    let _ = writeln!(
        out,
        "<header><h1><a href=\"../\">credprobe</a></h1></header>\n\
<p class=\"summary\">No tenant named <code>{}</code> is configured.</p>\n\
<p><a href=\"../\">All tenants</a></p>\n</body></html>",
        escape(name)
    );
    out
}

/// "12s ago" with the UTC time as a tooltip, or `none` when unknown.
fn when(at: Option<f64>, now: f64, none: &str) -> String {
    match at {
        Some(at) => format!(
            "<span title=\"{}\">{}</span>",
            escape(&utc(at)),
            escape(&ago(at, now))
        ),
        None if none.is_empty() => String::new(),
        None => format!("<span class=\"muted\">{}</span>", escape(none)),
    }
}

fn ago(at: f64, now: f64) -> String {
    let seconds = (now - at).max(0.0).round() as u64;
    if seconds == 0 {
        "just now".to_owned()
    } else {
        format!("{} ago", span(seconds))
    }
}

/// A duration in its two largest units: `45s`, `14m 50s`, `3h 2m`, `2d 3h`, `412d`.
fn span(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) if m == 0 => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        (1..10, _, _) if h > 0 => format!("{d}d {h}h"),
        _ => format!("{d}d"),
    }
}

fn format_latency(seconds: f64) -> String {
    let ms = seconds * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{seconds:.2} s")
    }
}

/// `2026-01-31 12:00:00 UTC`.
fn utc(unix: f64) -> String {
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(unix.max(0.0) as u64);
    humantime::format_rfc3339_seconds(time)
        .to_string()
        .replacen('T', " ", 1)
        .replace('Z', " UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            escape(r#"<script>alert('x' & "y")</script>"#),
            "&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(escape("plain-name_1.2"), "plain-name_1.2");
        assert_eq!(escape("é ü"), "é ü");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("acme-prod.eu_1"), "acme-prod.eu_1");
        assert_eq!(path_segment("a b/c?d"), "a%20b%2Fc%3Fd");
    }

    #[test]
    fn spans_and_latencies_read_well() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(45), "45s");
        assert_eq!(span(890), "14m 50s");
        assert_eq!(span(900), "15m");
        assert_eq!(span(3 * 3600 + 120), "3h 2m");
        assert_eq!(span(2 * 86_400 + 3 * 3600), "2d 3h");
        assert_eq!(span(412 * 86_400 + 5), "412d");
        assert_eq!(format_latency(0.0004), "0.4 ms");
        assert_eq!(format_latency(0.1234), "123 ms");
        assert_eq!(format_latency(1.5), "1.50 s");
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
    }
}
