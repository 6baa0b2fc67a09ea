//! `POST /api/v1/tenants/{name}/probe`: runs the tenant's cycle at once
//! (through its own task, [`crate::fleet::probe_now`]) and answers the
//! tenant's JSON once the cycle is recorded.
//!
//! It changes what credprobe does, so a page of another site must not be
//! able to trigger it from an operator's browser: the request must carry
//! `X-Credprobe-Probe: 1`, a header a cross-site form cannot send and a
//! cross-site `fetch` can send only after a CORS preflight, which credprobe
//! never grants; `Sec-Fetch-Site` and `Origin`, when a browser sends them,
//! must say same origin too. Authentication is the web configuration's,
//! as for every path.

use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::{ErrorJson, TenantJson, internal_error, json};
use crate::server::ServerState;
use crate::views::tenant as views;

/// The header the tenant page's button sends.
pub const PROBE_HEADER: &str = "x-credprobe-probe";

/// How long the request waits for the cycle; beyond, it answers 504 and
/// the cycle's result shows in the record when it ends.
const WAIT: Duration = Duration::from_secs(60);

/// The handler.
pub async fn probe_now(
    State(state): State<ServerState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(why) = cross_site(&headers) {
        return error(StatusCode::FORBIDDEN, why.to_owned());
    }
    let Some(record) = state.fleet.get(&name) else {
        return error(StatusCode::NOT_FOUND, format!("no tenant named {name:?}"));
    };
    let answer = match record.probe_now().request(Instant::now()) {
        Ok(answer) => answer,
        Err(refused) => {
            let status = match refused.retry_after_seconds() {
                Some(_) => StatusCode::TOO_MANY_REQUESTS,
                None => StatusCode::SERVICE_UNAVAILABLE,
            };
            let mut response = error(status, refused.to_string());
            if let Some(seconds) = refused.retry_after_seconds() {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            return response;
        }
    };
    drop(record);
    match tokio::time::timeout(WAIT, answer).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the tenant's task stopped before the cycle finished (a reload?)".to_owned(),
            );
        }
        Err(_) => {
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "the cycle is still running after {}s; its result will show on the tenant's page",
                    WAIT.as_secs()
                ),
            );
        }
    }
    let failed_reload = state.reload_status.last_failure();
    let Some(view) = views::tenant(&state.fleet, &name, SystemTime::now()) else {
        return error(StatusCode::NOT_FOUND, format!("no tenant named {name:?}"));
    };
    match serde_json::to_string(&TenantJson {
        tenant: &view,
        failed_reload: failed_reload.as_deref(),
    }) {
        Ok(body) => json(StatusCode::OK, body),
        Err(e) => internal_error(&e),
    }
}

/// Why a request may come from another site's page, or `None` when it
/// comes from credprobe's own page or a client that is not a browser.
fn cross_site(headers: &HeaderMap) -> Option<&'static str> {
    if headers.get(PROBE_HEADER).map(HeaderValue::as_bytes) != Some(b"1") {
        return Some(
            "a probe request must carry the header X-Credprobe-Probe: 1 (the tenant page's button sends it)",
        );
    }
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Some("refused: the browser says this request comes from another site");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let authority = origin.to_str().ok().and_then(|o| {
            o.strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
        });
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if authority.is_none() || authority != host {
            return Some("refused: the request's Origin is not this server");
        }
    }
    None
}

fn error(status: StatusCode, error: String) -> Response {
    match serde_json::to_string(&ErrorJson { error }) {
        Ok(body) => json(status, body),
        Err(e) => internal_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn only_same_origin_requests_with_the_header_pass() {
        let host = ("host", "127.0.0.1:9400");
        assert_eq!(cross_site(&headers(&[host, (PROBE_HEADER, "1")])), None);
        assert_eq!(
            cross_site(&headers(&[
                host,
                (PROBE_HEADER, "1"),
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:9400"),
            ])),
            None
        );
        for refused in [
            vec![host],
            vec![host, (PROBE_HEADER, "yes")],
            vec![host, (PROBE_HEADER, "1"), ("sec-fetch-site", "cross-site")],
            vec![host, (PROBE_HEADER, "1"), ("sec-fetch-site", "same-site")],
            vec![host, (PROBE_HEADER, "1"), ("origin", "http://evil.example")],
            vec![host, (PROBE_HEADER, "1"), ("origin", "null")],
        ] {
            assert!(cross_site(&headers(&refused)).is_some(), "{refused:?}");
        }
    }
}
