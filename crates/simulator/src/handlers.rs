//! The simulated HTTP surface: three token endpoints, four Nexthink-like API
//! endpoints, a redirect endpoint, the simulator's own `/__simulator/*`
//! control endpoints, and the middleware that records and counts every
//! request but the control ones.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::RecordedRequest;
use super::client_auth;
use super::listener::Connection;
use super::scenario::{
    ApiResponse, BodyFault, ClientBehaviour, EntraRefusal, REMOTE_ACTION_PATH, TokenResponse,
};
use super::state::{SCOPE, SimState};

/// Nexthink's current ("login") token path.
pub(super) const LOGIN_TOKEN_PATH: &str = "/oauth2/default/v1/token";
/// Nexthink's legacy token path, on the API host.
pub(super) const LEGACY_TOKEN_PATH: &str = "/api/v1/token";
/// A generic OAuth2 provider's token path.
pub(super) const GENERIC_TOKEN_PATH: &str = "/oauth2/token";
/// Microsoft Entra ID's v2.0 token path, under any directory (tenant) id.
pub(super) const ENTRA_TOKEN_PATH: &str = "/{tenant}/oauth2/v2.0/token";

const WORKFLOWS_PATH: &str = "/api/v1/workflows";
const NQL_EXECUTE_PATH: &str = "/api/v2/nql/execute";
const STATUS_PATH: &str = "/api/v1/status";
/// Answers any method with a redirect to `?to=`: upstream traffic a client
/// under test is pointed at, so it is recorded, unlike the control routes.
pub(super) const REDIRECT_PATH: &str = "/__simulator/redirect";
/// The most `hops` a redirect chain may ask for.
const MAX_HOPS: u32 = 100;

/// Request bodies above this are refused (413) rather than buffered.
const MAX_BODY: usize = 1024 * 1024;
/// The log keeps this much of each body.
const LOGGED_BODY: usize = 64 * 1024;
/// A client sending its body slower than this is cut off (408).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The size of the `oversized` token response.
const OVERSIZED_TOKEN_BODY: usize = 200 * 1024;
/// Retry-After of the rate_limited knob when the scenario gives none.
const DEFAULT_RETRY_AFTER: &str = "2";

pub(super) fn router(state: Arc<SimState>) -> Router {
    let token = |flavor: TokenFlavor| {
        post(
            move |State(state): State<Arc<SimState>>,
                  ConnectInfo(connection): ConnectInfo<Connection>,
                  uri: Uri,
                  headers: HeaderMap,
                  body: Bytes| async move {
                let token_url = client_auth::token_url(&headers, uri.path(), &connection);
                let request = TokenRequest {
                    headers: &headers,
                    body: &body,
                    token_url: &token_url,
                    connection: &connection,
                };
                token_request(&state, flavor, &request).await
            },
        )
        .fallback(not_found)
    };
    let api = |route: ApiRoute| {
        let handler = move |State(state): State<Arc<SimState>>,
                            ConnectInfo(connection): ConnectInfo<Connection>,
                            headers: HeaderMap,
                            body: Bytes| async move {
            api_call(&state, route, &headers, &body, &connection).await
        };
        match route {
            ApiRoute::NqlExecute => post(handler),
            _ => get(handler),
        }
        .fallback(not_found)
    };
    Router::new()
        .route(LOGIN_TOKEN_PATH, token(TokenFlavor::Login))
        .route(LEGACY_TOKEN_PATH, token(TokenFlavor::Legacy))
        .route(GENERIC_TOKEN_PATH, token(TokenFlavor::Generic))
        .route(ENTRA_TOKEN_PATH, token(TokenFlavor::Generic))
        .route(WORKFLOWS_PATH, api(ApiRoute::Workflows))
        .route(REMOTE_ACTION_PATH, api(ApiRoute::RemoteActions))
        .route(NQL_EXECUTE_PATH, api(ApiRoute::NqlExecute))
        .route(STATUS_PATH, api(ApiRoute::Status))
        .route(REDIRECT_PATH, any(redirect))
        .route(
            "/__simulator/requests",
            get(recorded_requests).fallback(not_found),
        )
        .route("/__simulator/stats", get(traffic).fallback(not_found))
        .route(
            "/__simulator/healthy",
            get(|| async { "ok" }).fallback(not_found),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

// ---------------------------------------------------------------------------
// Recording

/// Buffers the body (bounded in size and time), records the request, then
/// hands it on with the buffered body.
async fn record(State(state): State<Arc<SimState>>, request: Request, next: Next) -> Response {
    if is_control_path(request.uri().path()) {
        return next.run(request).await;
    }
    let at = SystemTime::now();
    state.count_arrival(at, is_token_path(request.uri().path()));
    let (parts, body) = request.into_parts();
    let (body, refusal) = read_body(&parts.headers, body).await;
    state.record(recorded_request(&state, at, &parts, &body));
    let response = match refusal {
        Some(refusal) => refusal,
        None => next.run(Request::from_parts(parts, Body::from(body))).await,
    };
    state.count_answer(response.status().as_u16());
    response
}

/// Whether reading a body failed on the size limit. That error's type lives
/// in http-body-util, which is not a dependency here, so it is recognised by
/// its message.
fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(current) = cause {
        if current.to_string().contains("length limit exceeded") {
            return true;
        }
        cause = current.source();
    }
    false
}

/// Reads a request body whole, bounded in size ([`MAX_BODY`]) and time
/// ([`BODY_READ_TIMEOUT`]); on failure returns the answer to send instead.
async fn read_body(headers: &HeaderMap, body: Body) -> (Bytes, Option<Response>) {
    let too_large = || {
        api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "request body over 1 MiB",
        )
    };
    // Refused on its announced length without waiting for it.
    if body_exceeds_declared_limit(headers) {
        return (Bytes::new(), Some(too_large()));
    }
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await;
    match read {
        Ok(Ok(body)) => (body, None),
        Ok(Err(error)) if is_length_limit(&error) => (Bytes::new(), Some(too_large())),
        Ok(Err(_)) => {
            let refusal = api_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "could not read the request body",
            );
            (Bytes::new(), Some(refusal))
        }
        Err(_) => {
            let refusal = api_error(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "request body too slow",
            );
            (Bytes::new(), Some(refusal))
        }
    }
}

fn body_exceeds_declared_limit(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .is_some_and(|length| length > MAX_BODY as u64)
}

fn recorded_request(
    state: &SimState,
    at: SystemTime,
    parts: &request::Parts,
    body: &[u8],
) -> RecordedRequest {
    let path = parts.uri.path();
    let client_id = if is_token_path(path) {
        let form = form_fields(body);
        basic_credentials(&parts.headers)
            .and_then(Result::ok)
            .map(|credentials| credentials.id)
            .or_else(|| client_auth::claimed_client_id(&form))
    } else {
        bearer_token(&parts.headers)
            .and_then(|token| state.token_owner(token))
            .map(|owner| owner.to_string())
    };
    RecordedRequest {
        at,
        method: parts.method.to_string(),
        path: path.to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body[..body.len().min(LOGGED_BODY)]).into_owned(),
        client_id,
        tls_resumed: parts
            .extensions
            .get::<ConnectInfo<Connection>>()
            .filter(|connection| connection.0.tls)
            .map(|connection| connection.0.resumed),
    }
}

/// The simulator's own routes (request log, stats, health), which are not
/// recorded or counted: everything under `/__simulator/` except the redirect
/// route, which is where a client under test is sent.
fn is_control_path(path: &str) -> bool {
    path.starts_with("/__simulator/") && path != REDIRECT_PATH
}

fn is_token_path(path: &str) -> bool {
    matches!(
        path,
        LOGIN_TOKEN_PATH | LEGACY_TOKEN_PATH | GENERIC_TOKEN_PATH
    ) || is_entra_token_path(path)
}

/// Whether `path` is [`ENTRA_TOKEN_PATH`] with some tenant filled in.
fn is_entra_token_path(path: &str) -> bool {
    let suffix = ENTRA_TOKEN_PATH
        .strip_prefix("/{tenant}")
        .expect("the Entra route starts with its tenant");
    path.strip_suffix(suffix)
        .and_then(|head| head.strip_prefix('/'))
        .is_some_and(|tenant| !tenant.is_empty() && !tenant.contains('/'))
}

async fn recorded_requests(State(state): State<Arc<SimState>>) -> Response {
    axum::Json(state.recorded()).into_response()
}

/// Request totals, answers by class and requests per wall-clock second
/// (`[[unix_second, requests], ...]`, seconds without requests left out), so
/// a benchmark can count a client's upstream requests and how evenly they
/// arrive.
async fn traffic(State(state): State<Arc<SimState>>) -> Response {
    axum::Json(state.traffic()).into_response()
}

async fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, &json!({"code": "NOT_FOUND"}))
}

// ---------------------------------------------------------------------------
// Redirects

/// `/__simulator/redirect?to=URL[&status=S][&hops=N]`, any method: answers
/// `S` (301, 302, 303, 307 or 308; default 302) with `Location: URL`, an
/// absolute http(s) URL. With `hops=N` (1 to 100, default 1) the first N - 1
/// answers redirect back here with one hop less, so a client meets a chain
/// of N redirects before `URL`. Anything else is a 400 that says why.
async fn redirect(request: request::Parts) -> Response {
    match redirect_target(request.uri.query().unwrap_or("")) {
        Ok((status, location)) => {
            let mut response = status.into_response();
            set_header(&mut response, LOCATION, &location);
            response
        }
        Err(problem) => api_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &problem),
    }
}

/// The status and `Location` a redirect query asks for, or what is wrong
/// with it.
fn redirect_target(query: &str) -> Result<(StatusCode, String), String> {
    let mut fields = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if !matches!(name.as_ref(), "to" | "status" | "hops") {
            return Err(format!("unknown parameter {name} (to, status, hops)"));
        }
        if fields
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return Err("a parameter is repeated".into());
        }
    }
    let to = fields.get("to").ok_or("to (an absolute URL) is required")?;
    let to_ok = url::Url::parse(to).is_ok_and(|url| matches!(url.scheme(), "http" | "https"));
    if !to_ok {
        return Err("to must be an absolute http or https URL".into());
    }
    let status = match fields.get("status").map(String::as_str) {
        None => StatusCode::FOUND,
        Some("301") => StatusCode::MOVED_PERMANENTLY,
        Some("302") => StatusCode::FOUND,
        Some("303") => StatusCode::SEE_OTHER,
        Some("307") => StatusCode::TEMPORARY_REDIRECT,
        Some("308") => StatusCode::PERMANENT_REDIRECT,
        Some(_) => return Err("status must be 301, 302, 303, 307 or 308".into()),
    };
    let hops = match fields.get("hops") {
        None => 1,
        Some(hops) => hops
            .parse::<u32>()
            .ok()
            .filter(|hops| (1..=MAX_HOPS).contains(hops))
            .ok_or(format!("hops must be a number from 1 to {MAX_HOPS}"))?,
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

// ---------------------------------------------------------------------------
// Token endpoints

/// Which token endpoint was called: they differ only in what they require
/// of `grant_type`.
#[derive(Clone, Copy, Debug)]
enum TokenFlavor {
    /// `/oauth2/default/v1/token`: grant_type required.
    Login,
    /// `/api/v1/token`: the body may be empty.
    Legacy,
    /// `/oauth2/token`: grant_type required.
    Generic,
}

/// A token request as the handler sees it.
struct TokenRequest<'a> {
    headers: &'a HeaderMap,
    body: &'a [u8],
    /// The URL the client called: what an assertion's `aud` must name.
    token_url: &'a str,
    /// TLS or not, and the client certificate.
    connection: &'a Connection,
}

/// Client credentials as sent: the id and secret, raw and, for Basic,
/// possibly form-urlencoded (RFC 6749 §2.3.1 asks for it; many clients skip
/// it), so both spellings are accepted.
struct Credentials {
    id: String,
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
        Err(problem) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &problem),
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
    let answer = token_answer(state, &client, &credentials);
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
    let answer = authenticated_answer(state, &client, verified.bound_to);
    with_fault(state, answer, client.token_fault).await
}

/// The answer to a token request from a known client.
fn token_answer(state: &SimState, client: &ClientBehaviour, credentials: &Credentials) -> Response {
    let secret_ok = credentials.secret == client.client_secret
        || form_decode(&credentials.secret) == client.client_secret.as_str();
    if !secret_ok {
        return invalid_client();
    }
    authenticated_answer(state, client, None)
}

/// The answer to a token request whose client authentication passed; a
/// token it issues is bound to the certificate `bound_to` when given
/// (RFC 8705 `tls_client_auth`).
fn authenticated_answer(
    state: &SimState,
    client: &ClientBehaviour,
    bound_to: Option<[u8; 32]>,
) -> Response {
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
        return response;
    }
    token_success(state, client, bound_to)
}

/// `response` with its body broken as `fault` says: the first half of the
/// body, then a reset connection or a body that never ends (until the
/// simulator stops).
async fn with_fault(state: &SimState, response: Response, fault: Option<BodyFault>) -> Response {
    let Some(fault) = fault else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let first = bytes.slice(..bytes.len() / 2);
    // Chunked, so the client cannot tell the body is short from its length.
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let stopping = state.stopping.clone();
    let rest = futures_util::stream::once(async move {
        if fault == BodyFault::Stall {
            stopping.cancelled().await;
        }
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated connection reset",
        ))
    });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(first) }),
        rest,
    );
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The form fields of a token request. A non-empty body must be a form, and
/// RFC 6749 forbids repeating a parameter. `Err` says what is wrong.
fn parse_token_form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, String> {
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
        return Err("the body must be application/x-www-form-urlencoded".into());
    }
    let mut form = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if form.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(format!("parameter {name} is repeated"));
        }
    }
    Ok(form)
}

/// Form fields for the log: lenient, first value wins.
fn form_fields(body: &[u8]) -> HashMap<String, String> {
    let mut form = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        form.entry(name.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    form
}

/// `Authorization: Basic ...`: `None` if absent or another scheme, `Err` if
/// malformed.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<Credentials, ()>> {
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

fn token_success(
    state: &SimState,
    client: &ClientBehaviour,
    bound_to: Option<[u8; 32]>,
) -> Response {
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
    let token = state.issue_token(
        &client.client_id,
        lifetime,
        client.granted_scopes.as_deref(),
        bound_to,
    );
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "access_token": token,
        "scope": client.granted_scopes.as_ref().map_or_else(|| SCOPE.to_owned(), |s| s.join(" ")),
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

// ---------------------------------------------------------------------------
// API endpoints

/// The simulated API endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ApiRoute {
    Workflows,
    RemoteActions,
    NqlExecute,
    Status,
}

impl ApiRoute {
    fn path(self) -> &'static str {
        match self {
            ApiRoute::Workflows => WORKFLOWS_PATH,
            ApiRoute::RemoteActions => REMOTE_ACTION_PATH,
            ApiRoute::NqlExecute => NQL_EXECUTE_PATH,
            ApiRoute::Status => STATUS_PATH,
        }
    }

    /// The success body; `None` when the request body is unusable.
    fn answer(self, body: &[u8]) -> Option<Value> {
        match self {
            ApiRoute::Workflows => Some(workflows()),
            ApiRoute::RemoteActions => Some(remote_actions()),
            ApiRoute::Status => Some(json!({"state": "ok"})),
            ApiRoute::NqlExecute => nql_execute(body),
        }
    }
}

async fn api_call(
    state: &SimState,
    route: ApiRoute,
    headers: &HeaderMap,
    body: &[u8],
    connection: &Connection,
) -> Response {
    let Some(token) = bearer_token(headers) else {
        return unauthorized();
    };
    let Some((client_id, bound_to)) = state.valid_token_owner(token) else {
        return unauthorized();
    };
    // A certificate-bound token (RFC 8705 section 3) needs its certificate.
    if bound_to.is_some_and(|thumbprint| !client_auth::presents(connection, &thumbprint)) {
        return unauthorized();
    }
    let client = state.clients().for_api_call(&client_id);
    if !state.pause(client.api_delay).await {
        return shutting_down();
    }
    let answer = api_answer(state, &client, route, body);
    with_fault(state, answer, client.api_fault).await
}

/// The answer to an API call of a client with a valid token.
fn api_answer(
    state: &SimState,
    client: &ClientBehaviour,
    route: ApiRoute,
    body: &[u8],
) -> Response {
    if client.reject_tokens {
        return unauthorized();
    }
    let path = route.path();
    if client
        .forbidden_paths
        .iter()
        .any(|forbidden| forbidden == path)
    {
        return api_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "Not authorized to get remote action information",
        );
    }
    if let Some(&status) = client.api_status.get(path) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = json_response(status, &json!({"code": "FORCED"}));
        if status == StatusCode::TOO_MANY_REQUESTS
            && let Some(retry_after) = &client.api_retry_after
        {
            set_header(&mut response, RETRY_AFTER, retry_after);
        }
        return response;
    }
    if client.rate_limited && state.count_api_call(&client.client_id).is_multiple_of(3) {
        let mut response = api_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            "rate limit exceeded",
        );
        let retry_after = client
            .api_retry_after
            .as_deref()
            .unwrap_or(DEFAULT_RETRY_AFTER);
        set_header(&mut response, RETRY_AFTER, retry_after);
        return response;
    }
    if client.failure_rate > 0.0 && fastrand::f64() < client.failure_rate {
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "simulated failure",
        );
    }
    match route.answer(body) {
        Some(_) if client.api_response == ApiResponse::NotJson => (
            StatusCode::OK,
            [(CONTENT_TYPE, "text/html")],
            "<html><body><h1>Gateway</h1>Service temporarily moved</body></html>",
        )
            .into_response(),
        Some(answer) if client.api_response == ApiResponse::WrongTypes => {
            padded_json(&wrong_types(&answer), client.api_body_size)
        }
        Some(answer) => padded_json(&answer, client.api_body_size),
        None => api_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "expected a JSON body {\"queryId\":\"#...\"}",
        ),
    }
}

/// `answer` with every value a number: an object keeps its keys, an array
/// becomes one object with a numeric `items`.
fn wrong_types(answer: &Value) -> Value {
    match answer {
        Value::Object(fields) => fields.keys().map(|k| (k.clone(), json!(1))).collect(),
        _ => json!({"items": 1}),
    }
}

/// `Authorization: Bearer <token>`, any letter case of the scheme.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn unauthorized() -> Response {
    let mut response = api_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "invalid token");
    set_header(
        &mut response,
        WWW_AUTHENTICATE,
        "Bearer error=\"invalid_token\"",
    );
    response
}

fn shutting_down() -> Response {
    api_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "SHUTTING_DOWN",
        "the simulator is stopping",
    )
}

fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &json!({"code": code, "message": message}))
}

fn workflows() -> Value {
    json!([
        {
            "id": "#device_onboarding",
            "uuid": "6b1f0c1e-6a57-4a43-9e0c-6f4b9c2f3a10",
            "name": "Device onboarding",
            "status": "ACTIVE",
            "lastUpdateTime": "2025-01-14T09:30:00Z",
        },
        {
            "id": "#disk_cleanup",
            "uuid": "0d2c8f57-3c1a-4e7e-8a55-2b7f4c9d1e22",
            "name": "Disk cleanup",
            "status": "ACTIVE",
            "lastUpdateTime": "2025-02-03T16:05:12Z",
        },
        {
            "id": "#legacy_vpn_reset",
            "uuid": "a4e7d9b2-91f3-4c8e-b6a0-5d3e2f1c7b34",
            "name": "Legacy VPN reset",
            "status": "INACTIVE",
            "lastUpdateTime": "2024-11-20T08:00:00Z",
        },
    ])
}

fn remote_actions() -> Value {
    json!([
        {
            "id": "#restart_print_spooler",
            "uuid": "e3b0c442-98fc-4c14-9afb-f4c8996fb924",
            "name": "Restart print spooler",
            "purpose": ["REMEDIATION"],
            "targeting": {"apiEnabled": true, "manualEnabled": true, "workflowEnabled": true},
        },
        {
            "id": "#get_battery_health",
            "uuid": "7f9c2ba4-e88f-4827-9ad4-5a0c6f2d8e11",
            "name": "Get battery health",
            "purpose": ["DATA_COLLECTION"],
            "targeting": {"apiEnabled": true, "manualEnabled": false, "workflowEnabled": false},
        },
    ])
}

/// The answer to `{"queryId":"#..."}`; `None` for any other body.
fn nql_execute(body: &[u8]) -> Option<Value> {
    let query_id = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|request| request.get("queryId")?.as_str().map(str::to_owned))
        .filter(|query_id| query_id.starts_with('#') && query_id.len() > 1);
    let query_id = query_id?;
    let executed = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    Some(json!({
        "queryId": query_id,
        "executedQuery": "devices during past 1d | summarize count = count()",
        "rows": 1,
        "executionDateTime": executed,
        "headers": ["count"],
        "data": [[1]],
    }))
}

// ---------------------------------------------------------------------------
// Helpers

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// JSON padded with trailing whitespace (still valid JSON, same shape) to at
/// least `size` bytes.
fn padded_json(body: &Value, size: usize) -> Response {
    let mut text = body.to_string();
    if text.len() < size {
        text.push('\n');
        let missing = size.saturating_sub(text.len());
        text.extend(std::iter::repeat_n(' ', missing));
    }
    (StatusCode::OK, [(CONTENT_TYPE, "application/json")], text).into_response()
}

fn set_header(response: &mut Response, name: axum::http::HeaderName, value: &str) {
    // A value that is not a valid header (only possible from a Rust-built
    // scenario) is left out rather than failing the answer.
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_paths_include_the_entra_route_for_any_one_tenant_segment() {
        for path in [
            LOGIN_TOKEN_PATH,
            LEGACY_TOKEN_PATH,
            GENERIC_TOKEN_PATH,
            "/contoso.onmicrosoft.com/oauth2/v2.0/token",
            "/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token",
        ] {
            assert!(is_token_path(path), "{path}");
        }
        for path in [
            "/oauth2/v2.0/token",
            "//oauth2/v2.0/token",
            "/a/b/oauth2/v2.0/token",
            "/contoso/oauth2/v2.0/token/x",
            "/api/v1/workflows",
        ] {
            assert!(!is_token_path(path), "{path}");
        }
    }
}
