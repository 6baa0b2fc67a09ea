//! `/__simulator/redirect`: redirects on demand, so tests can check which
//! redirects a client follows and what it carries along.

use std::collections::HashMap;

use axum::http::header::LOCATION;
use axum::http::{StatusCode, request};
use axum::response::{IntoResponse, Response};

use super::REDIRECT_PATH;
use super::response::{api_error, set_header};

/// The most `hops` a redirect chain may ask for.
const MAX_HOPS: u32 = 100;

/// `/__simulator/redirect?to=URL[&status=S][&hops=N]`, any method: answers
/// `S` (301, 302, 303, 307 or 308; default 302) with `Location: URL`, an
/// absolute http(s) URL. With `hops=N` (1 to 100, default 1) the first N - 1
/// answers redirect back here with one hop less, so a client meets a chain
/// of N redirects before `URL`. Anything else is a 400 that says why.
pub(super) async fn redirect(request: request::Parts) -> Response {
    match redirect_target(request.uri.query().unwrap_or("")) {
        Ok((status, location)) => {
            let mut response = status.into_response();
            set_header(&mut response, LOCATION, &location);
            response
        }
        Err(problem) => api_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &problem.to_string()),
    }
}

/// What is wrong with a redirect query; the message is the `message` of
/// its 400 answer.
#[derive(Debug, thiserror::Error)]
enum RedirectQueryError {
    /// A parameter other than `to`, `status` and `hops`; carries its name.
    #[error("unknown parameter {0} (to, status, hops)")]
    UnknownParameter(String),
    /// A parameter given twice.
    #[error("a parameter is repeated")]
    Repeated,
    /// No `to`.
    #[error("to (an absolute URL) is required")]
    NoTarget,
    /// `to` is not an absolute http(s) URL.
    #[error("to must be an absolute http or https URL")]
    NotHttpUrl,
    /// `status` is not a redirect status.
    #[error("status must be 301, 302, 303, 307 or 308")]
    NotRedirectStatus,
    /// `hops` is not a number from 1 to [`MAX_HOPS`].
    #[error("hops must be a number from 1 to {MAX_HOPS}")]
    Hops,
}

/// The status and `Location` a redirect query asks for, or what is wrong
/// with it.
fn redirect_target(query: &str) -> Result<(StatusCode, String), RedirectQueryError> {
    let mut fields = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if !matches!(name.as_ref(), "to" | "status" | "hops") {
            return Err(RedirectQueryError::UnknownParameter(name.into_owned()));
        }
        if fields
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return Err(RedirectQueryError::Repeated);
        }
    }
    let to = fields.get("to").ok_or(RedirectQueryError::NoTarget)?;
    let to_ok = url::Url::parse(to).is_ok_and(|url| matches!(url.scheme(), "http" | "https"));
    if !to_ok {
        return Err(RedirectQueryError::NotHttpUrl);
    }
    let status = match fields.get("status").map(String::as_str) {
        None => StatusCode::FOUND,
        Some("301") => StatusCode::MOVED_PERMANENTLY,
        Some("302") => StatusCode::FOUND,
        Some("303") => StatusCode::SEE_OTHER,
        Some("307") => StatusCode::TEMPORARY_REDIRECT,
        Some("308") => StatusCode::PERMANENT_REDIRECT,
        Some(_) => return Err(RedirectQueryError::NotRedirectStatus),
    };
    let hops = match fields.get("hops") {
        None => 1,
        Some(hops) => hops
            .parse::<u32>()
            .ok()
            .filter(|hops| (1..=MAX_HOPS).contains(hops))
            .ok_or(RedirectQueryError::Hops)?,
    };
    if hops == 1 {
        return Ok((status, to.clone()));
    }
    let again = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("to", to)
        .append_pair("status", status.as_str())
        .append_pair("hops", &(hops - 1).to_string())
        .finish();
    Ok((status, format!("{REDIRECT_PATH}?{again}")))
}
