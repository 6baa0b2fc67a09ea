//! The token endpoints: the OAuth2 client-credentials request, the
//! client's authentication (a secret, Basic or posted; a client assertion
//! or a client certificate through `client_auth`), and the answer the
//! client's behaviour asks for: a token, an OAuth2 or Entra ID refusal, a
//! rate limit, or one of the malformed answers of `TokenResponse`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::GENERIC_TOKEN_PATH;
use super::discovery::{self, Authority};
use super::response::{
    DEFAULT_RETRY_AFTER, json_response, not_found, set_header, shutting_down, with_fault,
};
use crate::access_token::{Grant, SCOPE};
use crate::client_auth;
use crate::listener::Connection;
use crate::scenario::{ClientBehaviour, EntraRefusal, TokenResponse};
use crate::state::SimState;

/// The size of the `oversized` token response.
const OVERSIZED_TOKEN_BODY: usize = 200 * 1024;

/// Which token endpoint was called: they differ only in what they require
/// of `grant_type`.
#[derive(Clone, Copy, Debug)]
pub(super) enum TokenFlavor {
    /// `/oauth2/default/v1/token`: grant_type required.
    Login,
    /// `/api/v1/token`: the body may be empty.
    Legacy,
    /// `/oauth2/token`: grant_type required.
    Generic,
}

/// The handler of a token endpoint: a POST of `flavor`'s token request.
pub(super) fn endpoint(flavor: TokenFlavor) -> MethodRouter<Arc<SimState>> {
    post(
        move |State(state): State<Arc<SimState>>,
              ConnectInfo(connection): ConnectInfo<Connection>,
              uri: Uri,
              headers: HeaderMap,
              body: Bytes| async move {
            let token_url = client_auth::token_url(&headers, uri.path(), &connection);
            let base = discovery::base_url(&state, &headers, &connection);
            let issuer = Authority::of_token_path(uri.path()).issuer(&base);
            let request = TokenRequest {
                headers: &headers,
                body: &body,
                token_url: &token_url,
                issuer: &issuer,
                connection: &connection,
            };
            token_request(&state, flavor, &request).await
        },
    )
    .fallback(not_found)
}

/// A token request as the handler sees it.
struct TokenRequest<'a> {
    headers: &'a HeaderMap,
    body: &'a [u8],
    /// The URL the client called: what an assertion's `aud` must name.
    token_url: &'a str,
    /// The issuer of the authority whose token path was called: the `iss`
    /// of the tokens issued.
    issuer: &'a str,
    /// TLS or not, and the client certificate.
    connection: &'a Connection,
}

/// Client credentials as sent: the id and secret, raw and, for Basic,
/// possibly form-urlencoded (RFC 6749 §2.3.1 asks for it; many clients skip
/// it), so both spellings are accepted.
pub(super) struct Credentials {
    pub(super) id: String,
    secret: String,
}

async fn token_request(
    state: &SimState,
    flavor: TokenFlavor,
    request: &TokenRequest<'_>,
) -> Response {
    let headers = request.headers;
    let form = match parse_token_form(headers, request.body) {
        Ok(form) => form,
        Err(problem) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &problem.to_string(),
            );
        }
    };
    let basic = match basic_credentials(headers) {
        Some(Ok(credentials)) => Some(credentials),
        Some(Err(())) => return invalid_client(),
        None => None,
    };
    let posted = match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => Some(Credentials {
            id: id.clone(),
            secret: secret.clone(),
        }),
        _ => None,
    };
    if let (Some(basic), Some(form_id)) = (&basic, form.get("client_id"))
        && basic.id != *form_id
        && form_decode(&basic.id) != form_id.as_str()
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id in the form differs from the one in the Authorization header",
        );
    }
    let grant_type = form.get("grant_type").map(String::as_str);
    let grant_ok = match flavor {
        TokenFlavor::Legacy => grant_type.is_none_or(|grant| grant == "client_credentials"),
        TokenFlavor::Login | TokenFlavor::Generic => grant_type == Some("client_credentials"),
    };
    if !grant_ok {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    if client_auth::uses_assertion(&form) && (basic.is_some() || form.contains_key("client_secret"))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "more than one client authentication method",
        );
    }
    if basic.is_none() && posted.is_none() {
        return token_request_without_secret(state, &form, request).await;
    }
    let Some(credentials) = basic.or(posted) else {
        return invalid_client();
    };
    let clients = state.clients();
    let client = clients.for_token_request(&credentials.id).or_else(|| {
        let decoded = form_decode(&credentials.id);
        (decoded != credentials.id).then(|| clients.for_token_request(&decoded))?
    });
    let Some(client) = client else {
        return invalid_client();
    };
    // A slow identity provider is slow for every answer, errors included.
    if !state.pause(client.token_delay).await {
        return shutting_down();
    }
    let grant = Grant {
        client: &client,
        issuer: request.issuer,
        requested_scope: form.get("scope").map(String::as_str),
    };
    let answer = token_answer(state, &grant, &credentials);
    with_fault(state, answer, client.token_fault).await
}

/// A token request authenticated by a client assertion (`private_key_jwt`)
/// or by the TLS client certificate (`tls_client_auth`, `client_id` only).
async fn token_request_without_secret(
    state: &SimState,
    form: &HashMap<String, String>,
    request: &TokenRequest<'_>,
) -> Response {
    let client =
        client_auth::claimed_client_id(form).and_then(|id| state.clients().for_token_request(&id));
    let Some(client) = client else {
        return invalid_client();
    };
    if !state.pause(client.token_delay).await {
        return shutting_down();
    }
    let verified = match client_auth::verify(
        &state.client_auth,
        &client,
        form,
        request.token_url,
        request.connection,
    ) {
        Ok(verified) => verified,
        Err(refusal) => return refused(refusal),
    };
    let grant = Grant {
        client: &client,
        issuer: request.issuer,
        requested_scope: form.get("scope").map(String::as_str),
    };
    let answer = authenticated_answer(state, &grant, verified.bound_to);
    with_fault(state, answer, client.token_fault).await
}

/// The answer to a token request from a known client: its secret must be
/// one the client authenticates with.
fn token_answer(state: &SimState, grant: &Grant<'_>, credentials: &Credentials) -> Response {
    let client = grant.client;
    let presented =
        |secret: &str| secret == credentials.secret || secret == form_decode(&credentials.secret);
    if client.rate_limited_secrets.iter().any(|s| presented(s)) {
        return rate_limited(client);
    }
    let secret_ok = client.accepts_secret(&credentials.secret)
        || client.accepts_secret(&form_decode(&credentials.secret));
    if !secret_ok {
        return invalid_client();
    }
    authenticated_answer(state, grant, None)
}

/// A 429 to a token request, with the client's `Retry-After`.
fn rate_limited(client: &ClientBehaviour) -> Response {
    let mut response = oauth_error(
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        "rate limit exceeded",
    );
    let retry_after = client
        .token_retry_after
        .as_deref()
        .unwrap_or(DEFAULT_RETRY_AFTER);
    set_header(&mut response, RETRY_AFTER, retry_after);
    response
}

/// The answer to a token request whose client authentication passed; a
/// token it issues is bound to the certificate `bound_to` when given
/// (RFC 8705 `tls_client_auth`).
fn authenticated_answer(
    state: &SimState,
    grant: &Grant<'_>,
    bound_to: Option<[u8; 32]>,
) -> Response {
    let client = grant.client;
    if client.revoked {
        return invalid_client();
    }
    if let Some(refusal) = client.entra_refusal {
        return entra_refusal(client, refusal);
    }
    if client.token_status != 200 {
        return forced_token_error(client);
    }
    if client.rate_limited
        && state
            .count_token_request(&client.client_id)
            .is_multiple_of(2)
    {
        return rate_limited(client);
    }
    token_success(state, grant, bound_to)
}

/// Why a token request's body is not a form the endpoint takes; the
/// message is the `error_description` of its `invalid_request` answer.
#[derive(Debug, thiserror::Error)]
enum FormError {
    /// A non-empty body of another media type.
    #[error("the body must be application/x-www-form-urlencoded")]
    NotForm,
    /// A parameter given twice (RFC 6749 forbids it); carries its name.
    #[error("parameter {0} is repeated")]
    Repeated(String),
}

/// The form fields of a token request. A non-empty body must be a form, and
/// RFC 6749 forbids repeating a parameter. `Err` says what is wrong.
fn parse_token_form(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<HashMap<String, String>, FormError> {
    if body.is_empty() {
        return Ok(HashMap::new());
    }
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(FormError::NotForm);
    }
    let mut form = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if form.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(FormError::Repeated(name.into_owned()));
        }
    }
    Ok(form)
}

/// `Authorization: Basic ...`: `None` if absent or another scheme, `Err` if
/// malformed.
pub(super) fn basic_credentials(headers: &HeaderMap) -> Option<Result<Credentials, ()>> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let parsed = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|decoded| {
            let (id, secret) = decoded.split_once(':')?;
            Some(Credentials {
                id: id.to_owned(),
                secret: secret.to_owned(),
            })
        });
    Some(parsed.ok_or(()))
}

/// Undoes application/x-www-form-urlencoded on one component.
fn form_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match byte {
            b'+' => decoded.push(b' '),
            b'%' => match (hex(index + 1), hex(index + 2)) {
                (Some(high), Some(low)) => {
                    decoded.push((high * 16 + low) as u8);
                    index += 2;
                }
                _ => decoded.push(b'%'),
            },
            _ => decoded.push(byte),
        }
        index += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&decoded).into_owned())
}

fn forced_token_error(client: &ClientBehaviour) -> Response {
    let status =
        StatusCode::from_u16(client.token_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let error = client.token_error.clone().unwrap_or_else(|| {
        match status.as_u16() {
            400 | 401 => "invalid_client",
            403 => "access_denied",
            429 => "temporarily_unavailable",
            500..=599 => "server_error",
            _ => "invalid_request",
        }
        .to_owned()
    });
    let mut response = json_response(status, &json!({"error": error}));
    set_no_store(&mut response);
    if status == StatusCode::UNAUTHORIZED {
        set_header(&mut response, WWW_AUTHENTICATE, "Basic");
    }
    if status == StatusCode::TOO_MANY_REQUESTS
        && let Some(retry_after) = &client.token_retry_after
    {
        set_header(&mut response, RETRY_AFTER, retry_after);
    }
    response
}

/// A refusal as Microsoft Entra ID words it: an RFC 6749 `error`, an
/// `AADSTS` description and the numeric `error_codes`.
fn entra_refusal(client: &ClientBehaviour, refusal: EntraRefusal) -> Response {
    let id = &client.client_id;
    let (status, error, code, text) = match refusal {
        EntraRefusal::InvalidSecret => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7_000_215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{id}'."
            ),
        ),
        EntraRefusal::ExpiredSecret => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7_000_222,
            format!(
                "The provided client secret keys for app '{id}' are expired. Visit the Azure portal to create new keys for your app."
            ),
        ),
        EntraRefusal::UnknownClient => (
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{id}' was not found in the directory 'simulated'."
            ),
        ),
        EntraRefusal::Disabled => (
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            7_000_112,
            format!("Application '{id}' is disabled."),
        ),
    };
    let mut response = json_response(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text} Trace ID: 00000000-0000-0000-0000-000000000000"),
            "error_codes": [code],
            "timestamp": "2026-11-30 00:00:00Z",
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
        }),
    );
    set_no_store(&mut response);
    response
}

fn token_success(state: &SimState, grant: &Grant<'_>, bound_to: Option<[u8; 32]>) -> Response {
    let client = grant.client;
    let lifetime = client.token_lifetime;
    match client.token_response {
        TokenResponse::NotJson => {
            return (
                StatusCode::OK,
                [(CONTENT_TYPE, "text/html; charset=utf-8")],
                "<html><head><title>Service</title></head><body><h1>Welcome</h1>\
                 <p>This is not the token you are looking for.</p></body></html>\n",
            )
                .into_response();
        }
        TokenResponse::Redirect => {
            let mut response = StatusCode::FOUND.into_response();
            set_header(&mut response, LOCATION, GENERIC_TOKEN_PATH);
            return response;
        }
        TokenResponse::NoAccessToken => {
            let mut response = json_response(
                StatusCode::OK,
                &json!({"token_type": "Bearer", "expires_in": lifetime, "scope": SCOPE}),
            );
            set_no_store(&mut response);
            return response;
        }
        _ => {}
    }
    let token = state.issue_token(grant, lifetime, bound_to);
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "access_token": token,
        "scope": grant.response_scope(),
    });
    if !client.scope_in_response {
        body.as_object_mut().map(|fields| fields.remove("scope"));
    }
    if let Some(kind) = &client.token_type {
        body["token_type"] = json!(kind);
    }
    match client.token_response {
        TokenResponse::TokenTypeMac => body["token_type"] = json!("mac"),
        TokenResponse::ZeroExpiresIn => body["expires_in"] = json!(0),
        TokenResponse::NegativeExpiresIn => body["expires_in"] = json!(-(lifetime.max(1) as i64)),
        TokenResponse::StringExpiresIn => body["expires_in"] = json!(lifetime.to_string()),
        TokenResponse::NoExpiresIn => {
            body.as_object_mut()
                .map(|fields| fields.remove("expires_in"));
        }
        TokenResponse::WrongTypes => {
            body["access_token"] = json!(12345);
            body["token_type"] = json!(true);
            body["expires_in"] = json!({"seconds": lifetime});
        }
        TokenResponse::Oversized => {
            body["padding"] = json!("");
            let missing = OVERSIZED_TOKEN_BODY.saturating_sub(body.to_string().len());
            body["padding"] = json!("x".repeat(missing));
        }
        _ => {}
    }
    let mut response = json_response(StatusCode::OK, &body);
    set_no_store(&mut response);
    response
}

/// `invalid_client` saying why the client authentication was refused.
fn refused(refusal: client_auth::Refusal) -> Response {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", refusal.0)
}

fn invalid_client() -> Response {
    let mut response = oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Client authentication failed",
    );
    set_header(&mut response, WWW_AUTHENTICATE, "Basic");
    response
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = json_response(
        status,
        &json!({"error": error, "error_description": description}),
    );
    set_no_store(&mut response);
    response
}

/// Token answers must not be cached (RFC 6749 §5.1).
fn set_no_store(response: &mut Response) {
    set_header(response, CACHE_CONTROL, "no-store");
    set_header(response, PRAGMA, "no-cache");
}
