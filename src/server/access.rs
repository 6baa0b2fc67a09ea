//! What every request passes before a route sees it: basic authentication
//! when the web configuration has users, and the configured response
//! headers on every answer (401s included). Applied to every path, as
//! exporter-toolkit does: `/metrics`, the pages, their assets and the
//! lifecycle endpoints alike.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;
use tower::ServiceExt as _;

use crate::web_config::WebConfig;

/// Answers one request under the web configuration current when it
/// arrived (a reload changes users and headers for kept-alive connections
/// too).
pub async fn handle(
    router: Router,
    web: Arc<WebConfig>,
    peer: SocketAddr,
    mut request: Request<Body>,
) -> Result<Response, Infallible> {
    let allowed = match &web.basic_auth {
        None => true,
        Some(auth) => match credentials(request.headers()) {
            Some((user, password)) => {
                let ok = auth.check(&user, &password).await;
                if !ok {
                    // The attempted name only when it is a configured one:
                    // a password typed into the user field stays out of the log.
                    let known = auth.user_names().any(|name| name == user);
                    tracing::debug!(
                        %peer,
                        user = if known { user.as_str() } else { "<not a configured user>" },
                        path = %request.uri().path(),
                        "basic authentication failed"
                    );
                }
                ok
            }
            None => false,
        },
    };
    // No route, and no log line of one, ever sees the credentials.
    request.headers_mut().remove(header::AUTHORIZATION);
    let mut response = if allowed {
        match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    } else {
        unauthorized()
    };
    for (name, value) in &web.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    Ok(response)
}

/// 401 with the challenge browsers and Prometheus understand.
fn unauthorized() -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
    response
}

/// The user and password of an `Authorization: Basic` header.
fn credentials(headers: &HeaderMap) -> Option<(String, SecretString)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?,
    );
    let text = std::str::from_utf8(&decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), SecretString::from(password.to_owned())))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn basic_credentials_are_read_and_anything_else_is_refused() {
        // "prometheus:s3cr:et" (a colon inside the password is kept).
        let (user, password) = credentials(&with("Basic cHJvbWV0aGV1czpzM2NyOmV0")).unwrap();
        assert_eq!(user, "prometheus");
        assert_eq!(password.expose_secret(), "s3cr:et");
        assert!(credentials(&with("basic cHJvbWV0aGV1czpzM2NyOmV0")).is_some());
        for refused in ["Bearer abc", "Basic !!!", "Basic bm9jb2xvbg==", "Basic"] {
            assert!(credentials(&with(refused)).is_none(), "{refused}");
        }
        assert!(credentials(&HeaderMap::new()).is_none());
    }
}
