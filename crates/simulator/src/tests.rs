//! The simulator over real sockets on 127.0.0.1, spoken to by a tiny
//! HTTP/1.1 client written here (so a client library's leniency cannot hide
//! what the server really sends).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

mod graph;
mod identity;

const LOGIN: &str = "/oauth2/default/v1/token";
const LEGACY: &str = "/api/v1/token";
const GENERIC: &str = "/oauth2/token";
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const GRANT: &[u8] = b"grant_type=client_credentials&scope=service:integration";

/// An HTTP answer as read off the socket.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Writes one request with `connection: close` and reads the whole answer.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream.flush().await.unwrap();
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("answer within 10 s");
    // A TLS peer may close without close_notify; what was read still counts.
    if let Err(error) = read {
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{error}");
    }
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&raw[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        raw = &raw[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

async fn start(scenario: Scenario) -> Simulator {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Simulator::start(listener, scenario).await.unwrap()
}

async fn call(
    simulator: &Simulator,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let stream = TcpStream::connect(simulator.local_addr()).await.unwrap();
    exchange(stream, method, target, headers, body).await
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// The Nexthink login token request, Basic auth.
async fn login(simulator: &Simulator, id: &str, secret: &str) -> Reply {
    let authorization = basic(id, secret);
    let headers = [("authorization", authorization.as_str()), FORM];
    call(simulator, "POST", LOGIN, &headers, GRANT).await
}

async fn token(simulator: &Simulator, id: &str, secret: &str) -> String {
    let reply = login(simulator, id, secret).await;
    assert_eq!(
        reply.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

async fn get_with(simulator: &Simulator, path: &str, token: &str) -> Reply {
    let authorization = format!("Bearer {token}");
    call(
        simulator,
        "GET",
        path,
        &[("authorization", &authorization)],
        b"",
    )
    .await
}

fn claims(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {token}");
    assert!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len() >= 16);
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn healthy(id: &str) -> ClientBehaviour {
    ClientBehaviour::new(id, format!("{id}-secret"))
}

fn scenario_of(clients: Vec<ClientBehaviour>) -> Scenario {
    Scenario {
        clients,
        ..Scenario::default()
    }
}

#[tokio::test]
async fn login_token_with_basic_auth_is_a_jwt_with_exp() {
    let simulator = start(scenario_of(vec![healthy("acme")])).await;
    let port = simulator.local_addr().port();
    assert_eq!(simulator.base_url(), format!("http://127.0.0.1:{port}"));
    let reply = login(&simulator, "acme", "acme-secret").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "service:integration");
    let token = body["access_token"].as_str().unwrap();
    let claims = claims(token);
    assert_eq!(claims["sub"], "acme");
    assert_eq!(claims["scope"], "service:integration");
    let iat = claims["iat"].as_u64().unwrap();
    let exp = claims["exp"].as_u64().unwrap();
    assert_eq!(exp - iat, 900);
    assert!(iat.abs_diff(now_secs()) <= 5);
    let again = login(&simulator, "acme", "acme-secret").await.json();
    assert_ne!(
        again["access_token"].as_str(),
        Some(token),
        "every token is unique"
    );
    simulator.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_get_401_invalid_client() {
    let simulator = start(scenario_of(vec![healthy("acme")])).await;
    for (id, secret) in [("acme", "wrong"), ("nobody", "nobody-secret"), ("acme", "")] {
        let reply = login(&simulator, id, secret).await;
        assert_eq!(reply.status, 401, "{id}:{secret}");
        assert_eq!(reply.header("www-authenticate"), Some("Basic"));
        assert_eq!(
            reply.json(),
            json!({"error": "invalid_client", "error_description": "Client authentication failed"})
        );
    }
    // No credentials at all, and a malformed Basic header.
    let reply = call(&simulator, "POST", LOGIN, &[FORM], GRANT).await;
    assert_eq!(reply.status, 401);
    let headers = [("authorization", "Basic !!!"), FORM];
    let reply = call(&simulator, "POST", LOGIN, &headers, GRANT).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"], "invalid_client");
    simulator.shutdown().await;
}

#[tokio::test]
async fn client_secret_post_and_grant_type_rules() {
    let simulator = start(scenario_of(vec![healthy("acme")])).await;
    let body = b"grant_type=client_credentials&client_id=acme&client_secret=acme-secret&audience=x";
    let reply = call(&simulator, "POST", GENERIC, &[FORM], body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        claims(reply.json()["access_token"].as_str().unwrap())["sub"],
        "acme"
    );

    let wrong = b"grant_type=client_credentials&client_id=acme&client_secret=nope";
    let reply = call(&simulator, "POST", GENERIC, &[FORM], wrong).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"], "invalid_client");

    // Basic and form naming different clients.
    let authorization = basic("acme", "acme-secret");
    let headers = [("authorization", authorization.as_str()), FORM];
    let conflicting = b"grant_type=client_credentials&client_id=other&client_secret=x";
    let reply = call(&simulator, "POST", GENERIC, &headers, conflicting).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_request");
    // The same client in both is fine.
    let same = b"grant_type=client_credentials&client_id=acme";
    let reply = call(&simulator, "POST", GENERIC, &headers, same).await;
    assert_eq!(reply.status, 200);

    for (path, body) in [
        (LOGIN, &b"grant_type=password"[..]),
        (LOGIN, b""),
        (GENERIC, b"scope=x"),
        (LEGACY, b"grant_type=authorization_code"),
    ] {
        let reply = call(&simulator, "POST", path, &headers, body).await;
        assert_eq!(reply.status, 400, "{path} {body:?}");
        assert_eq!(reply.json()["error"], "unsupported_grant_type");
    }
    // A body that is not a form.
    let json_body = [
        ("authorization", authorization.as_str()),
        ("content-type", "application/json"),
    ];
    let reply = call(&simulator, "POST", LOGIN, &json_body, b"{}").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_request");
    simulator.shutdown().await;
}

#[tokio::test]
async fn legacy_endpoint_takes_basic_header_alone() {
    let mut odd = ClientBehaviour::new("odd", "p@ss word");
    odd.token_lifetime = 120;
    let simulator = start(scenario_of(vec![healthy("acme"), odd])).await;
    let authorization = basic("acme", "acme-secret");
    let reply = call(
        &simulator,
        "POST",
        LEGACY,
        &[("authorization", &authorization)],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["token_type"], "Bearer");
    let headers = [("authorization", authorization.as_str()), FORM];
    let reply = call(
        &simulator,
        "POST",
        LEGACY,
        &headers,
        b"grant_type=client_credentials",
    )
    .await;
    assert_eq!(reply.status, 200);
    // RFC 6749 form-encodes id and secret before base64; both spellings work.
    for secret in ["p@ss word", "p%40ss+word"] {
        let authorization = basic("odd", secret);
        let reply = call(
            &simulator,
            "POST",
            LEGACY,
            &[("authorization", &authorization)],
            b"",
        )
        .await;
        assert_eq!(reply.status, 200, "{secret}");
        assert_eq!(reply.json()["expires_in"], 120);
    }
    simulator.shutdown().await;
}

#[tokio::test]
async fn api_calls_need_an_issued_unexpired_token() {
    let simulator = start(scenario_of(vec![healthy("acme")])).await;
    let token = token(&simulator, "acme", "acme-secret").await;

    let reply = get_with(&simulator, "/api/v1/workflows", &token).await;
    assert_eq!(reply.status, 200);
    let workflows = reply.json();
    let workflows = workflows.as_array().unwrap();
    assert!((2..=3).contains(&workflows.len()));
    for workflow in workflows {
        for field in ["id", "uuid", "name", "status", "lastUpdateTime"] {
            assert!(workflow.get(field).is_some(), "{field} in {workflow}");
        }
        assert!(["ACTIVE", "INACTIVE"].contains(&workflow["status"].as_str().unwrap()));
    }
    let reply = get_with(&simulator, "/api/v1/act/remote-action", &token).await;
    assert_eq!(reply.status, 200);
    let actions = reply.json();
    assert!(actions[0]["purpose"].is_array());
    assert!(actions[0]["targeting"].is_object());
    let reply = get_with(&simulator, "/api/v1/status", &token).await;
    assert_eq!(reply.json(), json!({"state": "ok"}));

    // HEAD on a GET route: same status, no body.
    let authorization = format!("Bearer {token}");
    let reply = call(
        &simulator,
        "HEAD",
        "/api/v1/workflows",
        &[("authorization", &authorization)],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());

    let unauthorized = json!({"code": "UNAUTHORIZED", "message": "invalid token"});
    let reply = call(&simulator, "GET", "/api/v1/workflows", &[], b"").await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json(), unauthorized);
    let reply = get_with(&simulator, "/api/v1/workflows", "not-a-token").await;
    assert_eq!(reply.status, 401);
    // Same signature, another payload: refused.
    let (_, signature) = token.rsplit_once('.').unwrap();
    let forged_claims = URL_SAFE_NO_PAD.encode(r#"{"sub":"acme","exp":9999999999}"#);
    let forged = format!("eyJhbGciOiJub25lIn0.{forged_claims}.{signature}");
    let reply = get_with(&simulator, "/api/v1/workflows", &forged).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json(), unauthorized);

    // Unknown paths and methods are 404.
    let reply = get_with(&simulator, "/api/v1/nothing", &token).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json(), json!({"code": "NOT_FOUND"}));
    let reply = call(&simulator, "GET", LOGIN, &[], b"").await;
    assert_eq!(reply.status, 404);
    let reply = call(
        &simulator,
        "DELETE",
        "/api/v1/workflows",
        &[("authorization", &authorization)],
        b"",
    )
    .await;
    assert_eq!(reply.status, 404);
    simulator.shutdown().await;
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let mut short = healthy("short");
    short.token_lifetime = 1;
    let simulator = start(scenario_of(vec![short])).await;
    let token = token(&simulator, "short", "short-secret").await;
    assert_eq!(
        get_with(&simulator, "/api/v1/status", &token).await.status,
        200
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get_with(&simulator, "/api/v1/status", &token).await.status,
        401
    );
    // The log still attributes the refused call.
    let last = simulator.requests().pop().unwrap();
    assert_eq!(last.client_id.as_deref(), Some("short"));
    simulator.shutdown().await;
}

#[tokio::test]
async fn missing_permission_forbids_remote_actions_only() {
    let scenario = Scenario::from_yaml_str(
        "clients:\n  - client_id: noperm\n    scenario: missing_permission\n",
    )
    .unwrap();
    let simulator = start(scenario).await;
    let token = token(&simulator, "noperm", "noperm-secret").await;
    let reply = get_with(&simulator, "/api/v1/act/remote-action", &token).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json(),
        json!({"code": "FORBIDDEN", "message": "Not authorized to get remote action information"})
    );
    assert_eq!(
        get_with(&simulator, "/api/v1/workflows", &token)
            .await
            .status,
        200
    );
    simulator.shutdown().await;
}

#[tokio::test]
async fn forced_token_statuses() {
    let scenario = Scenario::from_yaml_str(
        r#"
clients:
  - client_id: throttled
    token_status: 429
    token_retry_after: "Wed, 21 Oct 2015 07:28:00 GMT"
  - client_id: throttled-bare
    token_status: 429
  - client_id: down
    token_status: 503
  - client_id: denied
    token_status: 403
  - client_id: bad-grant
    token_status: 400
    token_error: invalid_grant
"#,
    )
    .unwrap();
    let simulator = start(scenario).await;
    let reply = login(&simulator, "throttled", "throttled-secret").await;
    assert_eq!(reply.status, 429);
    assert_eq!(
        reply.header("retry-after"),
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    );
    let reply = login(&simulator, "throttled-bare", "throttled-bare-secret").await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), None);
    for (id, status, error) in [
        ("down", 503, "server_error"),
        ("denied", 403, "access_denied"),
        ("bad-grant", 400, "invalid_grant"),
    ] {
        let reply = login(&simulator, id, &format!("{id}-secret")).await;
        assert_eq!(reply.status, status, "{id}");
        assert_eq!(reply.json(), json!({"error": error}), "{id}");
    }
    // A wrong secret is still refused as such.
    assert_eq!(login(&simulator, "down", "wrong").await.status, 401);
    simulator.shutdown().await;
}

#[tokio::test]
async fn token_response_variants() {
    use TokenResponse::*;
    let variants = [
        ("normal", Normal),
        ("not_json", NotJson),
        ("no_access_token", NoAccessToken),
        ("token_type_mac", TokenTypeMac),
        ("zero_expires_in", ZeroExpiresIn),
        ("negative_expires_in", NegativeExpiresIn),
        ("string_expires_in", StringExpiresIn),
        ("no_expires_in", NoExpiresIn),
        ("oversized", Oversized),
        ("redirect", Redirect),
        ("wrong_types", WrongTypes),
    ];
    let yaml: String = variants
        .iter()
        .map(|(name, _)| format!("  - {{client_id: {name}, token_response: {name}}}\n"))
        .collect();
    let scenario = Scenario::from_yaml_str(&format!("clients:\n{yaml}")).unwrap();
    for ((_, variant), client) in variants.iter().zip(&scenario.clients) {
        assert_eq!(client.token_response, *variant);
    }
    let simulator = start(scenario).await;
    for (name, variant) in variants {
        let reply = login(&simulator, name, &format!("{name}-secret")).await;
        let expected_status = if variant == Redirect { 302 } else { 200 };
        assert_eq!(reply.status, expected_status, "{name}");
        match variant {
            NotJson => {
                assert!(
                    reply
                        .header("content-type")
                        .unwrap()
                        .starts_with("text/html")
                );
                assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
            }
            Redirect => assert_eq!(reply.header("location"), Some(GENERIC)),
            _ => {
                let body = reply.json();
                let expires_in = &body["expires_in"];
                match variant {
                    Normal => assert_eq!(*expires_in, 900),
                    NoAccessToken => assert!(body.get("access_token").is_none()),
                    TokenTypeMac => assert_eq!(body["token_type"], "mac"),
                    ZeroExpiresIn => assert_eq!(*expires_in, 0),
                    NegativeExpiresIn => assert!(expires_in.as_i64().unwrap() < 0),
                    StringExpiresIn => assert_eq!(*expires_in, "900"),
                    NoExpiresIn => {
                        assert!(body.get("expires_in").is_none());
                        let token = body["access_token"].as_str().unwrap();
                        assert!(claims(token)["exp"].as_u64().unwrap() > now_secs());
                    }
                    Oversized => {
                        assert_eq!(reply.body.len(), 200 * 1024);
                        assert!(body["access_token"].is_string());
                    }
                    WrongTypes => {
                        assert!(body["access_token"].is_number());
                        assert!(body["token_type"].is_boolean());
                        assert!(expires_in.is_object());
                    }
                    NotJson | Redirect => unreachable!(),
                }
                // Where a token was issued, it works on the API.
                if let Some(token) = body["access_token"].as_str() {
                    assert_eq!(
                        get_with(&simulator, "/api/v1/status", token).await.status,
                        200
                    );
                }
            }
        }
    }
    simulator.shutdown().await;
}

#[tokio::test]
async fn rate_limited_preset_throttles_every_second_token_and_third_call() {
    let scenario = Scenario::from_yaml_str(
        "clients:\n  - client_id: busy\n    scenario: rate_limited\n    api_retry_after: 7\n",
    )
    .unwrap();
    let simulator = start(scenario).await;
    let statuses = {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let reply = login(&simulator, "busy", "busy-secret").await;
            if reply.status == 429 {
                assert_eq!(reply.header("retry-after"), Some("2"));
            }
            statuses.push(reply.status);
        }
        statuses
    };
    assert_eq!(statuses, [200, 429, 200, 429]);
    let token = token(&simulator, "busy", "busy-secret").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let reply = get_with(&simulator, "/api/v1/workflows", &token).await;
        if reply.status == 429 {
            assert_eq!(reply.header("retry-after"), Some("7"));
        }
        statuses.push(reply.status);
    }
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429]);
    simulator.shutdown().await;
}

#[tokio::test]
async fn set_scenario_flips_a_client_to_revoked() {
    let simulator = start(scenario_of(vec![healthy("acme")])).await;
    let token = token(&simulator, "acme", "acme-secret").await;
    simulator.set_scenario(scenario_of(vec![
        healthy("acme").with_preset(Preset::Revoked),
    ]));
    let reply = login(&simulator, "acme", "acme-secret").await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"], "invalid_client");
    // A token issued before revocation lives on until it expires.
    assert_eq!(
        get_with(&simulator, "/api/v1/workflows", &token)
            .await
            .status,
        200
    );
    simulator.shutdown().await;
}

#[tokio::test]
async fn api_knobs() {
    let scenario = Scenario::from_yaml_str(
        r#"
clients:
  - client_id: rejecting
    reject_tokens: true
  - client_id: forced
    api_status: {"/api/v1/workflows": 429, "/api/v1/status": 500}
    api_retry_after: "3"
  - client_id: big
    api_body_size: 100000
  - client_id: broken
    failure_rate: 1.0
"#,
    )
    .unwrap();
    let simulator = start(scenario).await;
    let rejecting = token(&simulator, "rejecting", "rejecting-secret").await;
    assert_eq!(
        get_with(&simulator, "/api/v1/workflows", &rejecting)
            .await
            .status,
        401
    );

    let forced = token(&simulator, "forced", "forced-secret").await;
    let reply = get_with(&simulator, "/api/v1/workflows", &forced).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("3"));
    assert_eq!(reply.json(), json!({"code": "FORCED"}));
    let reply = get_with(&simulator, "/api/v1/status", &forced).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.header("retry-after"), None);
    assert_eq!(
        get_with(&simulator, "/api/v1/act/remote-action", &forced)
            .await
            .status,
        200
    );

    let big = token(&simulator, "big", "big-secret").await;
    let reply = get_with(&simulator, "/api/v1/status", &big).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.len() >= 100_000);
    assert_eq!(
        reply.json(),
        json!({"state": "ok"}),
        "padding keeps valid JSON"
    );

    let broken = token(&simulator, "broken", "broken-secret").await;
    let reply = get_with(&simulator, "/api/v1/workflows", &broken).await;
    assert_eq!(reply.status, 503);
    simulator.shutdown().await;
}

#[tokio::test]
async fn nql_execute_answers_a_query_id() {
    let simulator = start(scenario_of(vec![healthy("acme")])).await;
    let token = token(&simulator, "acme", "acme-secret").await;
    let authorization = format!("Bearer {token}");
    let headers = [
        ("authorization", authorization.as_str()),
        ("content-type", "application/json"),
    ];
    let path = "/api/v2/nql/execute";
    let reply = call(
        &simulator,
        "POST",
        path,
        &headers,
        br##"{"queryId":"#device_count"}"##,
    )
    .await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["queryId"], "#device_count");
    assert_eq!(body["rows"], 1);
    assert_eq!(body["headers"], json!(["count"]));
    assert_eq!(body["data"], json!([[1]]));
    assert!(body["executedQuery"].is_string());
    assert!(body["executionDateTime"].as_str().unwrap().ends_with('Z'));
    for bad in [
        &b"{}"[..],
        b"not json",
        br#"{"queryId":"no-hash"}"#,
        br#"{"queryId":3}"#,
    ] {
        let reply = call(&simulator, "POST", path, &headers, bad).await;
        assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(bad));
    }
    // GET is not a route there.
    assert_eq!(get_with(&simulator, path, &token).await.status, 404);
    simulator.shutdown().await;
}

#[tokio::test]
async fn request_log_captures_headers_body_and_client() {
    let simulator = start(scenario_of(vec![healthy("acme")])).await;
    let authorization = basic("acme", "acme-secret");
    let headers = [
        ("authorization", authorization.as_str()),
        FORM,
        ("X-Probe-Id", "abc"),
    ];
    let reply = call(
        &simulator,
        "POST",
        &format!("{LOGIN}?trace=1"),
        &headers,
        GRANT,
    )
    .await;
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    get_with(&simulator, "/api/v1/workflows", &token).await;
    let posted = b"grant_type=client_credentials&client_id=ghost&client_secret=x";
    call(&simulator, "POST", GENERIC, &[FORM], posted).await;
    call(&simulator, "GET", "/nowhere", &[], b"").await;

    let requests = simulator.requests();
    assert_eq!(requests.len(), 4);
    let token_request = &requests[0];
    assert_eq!(token_request.method, "POST");
    assert_eq!(token_request.path, LOGIN);
    assert_eq!(token_request.query.as_deref(), Some("trace=1"));
    assert_eq!(token_request.body, String::from_utf8_lossy(GRANT));
    assert_eq!(token_request.client_id.as_deref(), Some("acme"));
    assert_eq!(token_request.header("x-probe-id"), Some("abc"));
    let names: Vec<&str> = token_request
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "host",
            "connection",
            "content-length",
            "authorization",
            "content-type",
            "x-probe-id"
        ]
    );
    let age = SystemTime::now().duration_since(token_request.at).unwrap();
    assert!(age < Duration::from_secs(10));

    assert_eq!(requests[1].path, "/api/v1/workflows");
    assert_eq!(requests[1].client_id.as_deref(), Some("acme"));
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(
        requests[2].client_id.as_deref(),
        Some("ghost"),
        "form client_id"
    );
    assert_eq!(requests[3].client_id, None);

    // The same log over HTTP, which is not itself recorded.
    let reply = call(&simulator, "GET", "/__simulator/requests", &[], b"").await;
    assert_eq!(reply.status, 200);
    let logged = reply.json();
    let logged = logged.as_array().unwrap();
    assert_eq!(logged.len(), 4);
    assert_eq!(logged[0]["path"], LOGIN);
    assert_eq!(logged[0]["client_id"], "acme");
    assert_eq!(logged[0]["headers"][5], json!(["x-probe-id", "abc"]));
    let at = logged[0]["at"].as_f64().unwrap();
    assert!((at - now_secs() as f64).abs() < 10.0);
    let reply = call(&simulator, "GET", "/__simulator/healthy", &[], b"").await;
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"ok"[..]));
    assert_eq!(simulator.requests().len(), 4);
    simulator.shutdown().await;
}

#[tokio::test]
async fn oversized_request_bodies_are_refused_and_logged() {
    let simulator = start(scenario_of(vec![healthy("acme")])).await;
    // Announce 2 MiB and send none of it: the server refuses on the length.
    let mut stream = TcpStream::connect(simulator.local_addr()).await.unwrap();
    let head = format!(
        "POST {LOGIN} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        2 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw)).await;
    assert_eq!(parse_reply(&raw).status, 413);
    assert_eq!(simulator.requests().len(), 1);
    assert_eq!(simulator.requests()[0].body, "");
    simulator.shutdown().await;
}

#[tokio::test]
async fn accept_any_takes_unlisted_clients_with_the_convention_secret() {
    let simulator = start(Scenario {
        clients: vec![healthy("listed").with_preset(Preset::Revoked)],
        accept_any: true,
        ..Scenario::default()
    })
    .await;
    let token = token(&simulator, "tenant-04711", "secret-tenant-04711").await;
    assert_eq!(claims(&token)["sub"], "tenant-04711");
    assert_eq!(
        get_with(&simulator, "/api/v1/workflows", &token)
            .await
            .status,
        200
    );
    assert_eq!(login(&simulator, "tenant-04711", "wrong").await.status, 401);
    // Listed clients keep their behaviour.
    assert_eq!(
        login(&simulator, "listed", "secret-listed").await.status,
        401
    );
    assert_eq!(
        login(&simulator, "listed", "listed-secret").await.status,
        401
    );
    simulator.shutdown().await;
}

#[tokio::test]
async fn stats_count_requests_answers_and_requests_per_second() {
    let simulator = start(Scenario {
        clients: Vec::new(),
        accept_any: true,
        ..Scenario::default()
    })
    .await;
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = token(&simulator, "tenant-1", "secret-tenant-1").await;
    assert_eq!(
        get_with(&simulator, "/api/v1/workflows", &token)
            .await
            .status,
        200
    );
    assert_eq!(
        get_with(&simulator, "/api/v1/workflows", "forged")
            .await
            .status,
        401
    );
    assert_eq!(login(&simulator, "tenant-1", "wrong").await.status, 401);
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The simulator's own endpoints are not counted.
    call(&simulator, "GET", "/__simulator/healthy", &[], b"").await;
    let reply = call(&simulator, "GET", "/__simulator/stats", &[], b"").await;
    assert_eq!(reply.status, 200);
    let stats = reply.json();
    assert_eq!(stats["requests_total"], 4);
    assert_eq!(stats["token_requests_total"], 2);
    assert_eq!(stats["api_requests_total"], 2);
    assert_eq!(stats["answers_2xx_total"], 2);
    assert_eq!(stats["answers_other_total"], 2);
    let per_second = stats["per_second"].as_array().unwrap();
    let mut counted = 0;
    let mut previous = 0;
    for entry in per_second {
        let second = entry[0].as_u64().unwrap();
        assert!(
            (before..=after).contains(&second),
            "{entry} outside {before}..={after}"
        );
        assert!(second > previous, "seconds ascend: {per_second:?}");
        previous = second;
        counted += entry[1].as_u64().unwrap();
    }
    assert_eq!(counted, 4);
    simulator.shutdown().await;
}

const REDIRECT: &str = "/__simulator/redirect";

/// `/__simulator/redirect?...` with the query built from `pairs`.
fn redirect_target(pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{REDIRECT}?{query}")
}

#[tokio::test]
async fn redirect_answers_any_method_with_the_status_and_location_asked_for() {
    let simulator = start(scenario_of(vec![healthy("acme")])).await;
    let to = "http://127.0.0.1:9/api/v1/workflows?page=2";
    let reply = call(&simulator, "GET", &redirect_target(&[("to", to)]), &[], b"").await;
    assert_eq!(reply.status, 302, "302 by default");
    assert_eq!(reply.header("location"), Some(to));
    let authorization = basic("acme", "acme-secret");
    for status in ["301", "302", "303", "307", "308"] {
        for method in ["GET", "POST", "HEAD", "PUT"] {
            let target = redirect_target(&[("to", to), ("status", status)]);
            let headers = [("authorization", authorization.as_str()), FORM];
            let reply = call(&simulator, method, &target, &headers, GRANT).await;
            assert_eq!(reply.status.to_string(), status, "{method}");
            assert_eq!(reply.header("location"), Some(to), "{method} {status}");
        }
    }
    // Recorded like any upstream request, query and headers included, and
    // counted; the control routes still are not.
    let requests = simulator.requests();
    assert_eq!(requests.len(), 21);
    assert!(requests.iter().all(|r| r.path == REDIRECT));
    let posted = requests.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(posted.header("authorization"), Some(authorization.as_str()));
    assert_eq!(posted.body, String::from_utf8_lossy(GRANT));
    assert_eq!(
        posted.query.as_deref(),
        Some("to=http%3A%2F%2F127.0.0.1%3A9%2Fapi%2Fv1%2Fworkflows%3Fpage%3D2&status=301")
    );
    let stats = call(&simulator, "GET", "/__simulator/stats", &[], b"").await;
    assert_eq!(stats.json()["api_requests_total"], 21);
    assert_eq!(stats.json()["answers_other_total"], 21);
    assert_eq!(simulator.requests().len(), 21);
    simulator.shutdown().await;
}

#[tokio::test]
async fn redirect_hops_make_a_chain_of_that_length() {
    let simulator = start(scenario_of(Vec::new())).await;
    let to = "https://localhost:1/end";
    let mut target = redirect_target(&[("to", to), ("status", "307"), ("hops", "3")]);
    let mut chain = Vec::new();
    while target.starts_with(REDIRECT) {
        let reply = call(&simulator, "GET", &target, &[], b"").await;
        assert_eq!(reply.status, 307, "the status is kept along the chain");
        target = reply.header("location").unwrap().to_owned();
        chain.push(target.clone());
        assert!(chain.len() <= 3, "longer than asked: {chain:?}");
    }
    assert_eq!(chain.len(), 3, "{chain:?}");
    assert_eq!(target, to);
    // Each hop back is relative, so it stays on whatever origin the client used.
    assert!(chain[0].starts_with("/__simulator/redirect?"), "{chain:?}");
    assert_eq!(simulator.requests().len(), 3);
    simulator.shutdown().await;
}

#[tokio::test]
async fn redirect_refuses_a_query_it_cannot_honour() {
    let simulator = start(scenario_of(Vec::new())).await;
    let to = "http://127.0.0.1:9/x";
    let cases: [(&[(&str, &str)], &str); 10] = [
        (&[], "to (an absolute URL) is required"),
        (&[("to", "/api/v1/workflows")], "absolute http or https URL"),
        (&[("to", "ftp://127.0.0.1/x")], "absolute http or https URL"),
        (&[("to", to), ("status", "200")], "status must be"),
        (&[("to", to), ("status", "304")], "status must be"),
        (&[("to", to), ("hops", "0")], "hops must be"),
        (&[("to", to), ("hops", "101")], "hops must be"),
        (&[("to", to), ("hops", "x")], "hops must be"),
        (&[("to", to), ("stauts", "307")], "unknown parameter stauts"),
        (&[("to", to), ("to", to)], "repeated"),
    ];
    for (pairs, problem) in cases {
        let reply = call(&simulator, "GET", &redirect_target(pairs), &[], b"").await;
        assert_eq!(reply.status, 400, "{pairs:?}");
        assert_eq!(reply.header("location"), None, "{pairs:?}");
        let message = reply.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(problem), "{pairs:?}: {message}");
    }
    simulator.shutdown().await;
}

fn self_signed() -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

async fn tls_stream(
    simulator: &Simulator,
    cert_pem: &str,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(simulator.local_addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn start_tls_serves_https_with_the_given_certificate() {
    let (cert_pem, key_pem) = self_signed();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let simulator = Simulator::start_tls(
        listener,
        scenario_of(vec![healthy("acme")]),
        &cert_pem,
        &key_pem,
    )
    .await
    .unwrap();
    let port = simulator.local_addr().port();
    assert_eq!(simulator.base_url(), format!("https://localhost:{port}"));

    let stream = tls_stream(&simulator, &cert_pem).await;
    let reply = exchange(stream, "GET", "/__simulator/healthy", &[], b"").await;
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"ok"[..]));

    let authorization = basic("acme", "acme-secret");
    let stream = tls_stream(&simulator, &cert_pem).await;
    let headers = [("authorization", authorization.as_str()), FORM];
    let reply = exchange(stream, "POST", LOGIN, &headers, GRANT).await;
    assert_eq!(reply.status, 200);
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    let stream = tls_stream(&simulator, &cert_pem).await;
    let bearer = format!("Bearer {token}");
    let reply = exchange(
        stream,
        "GET",
        "/api/v1/workflows",
        &[("authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200);

    // A plain-HTTP client gets no HTTP answer.
    let mut plain = TcpStream::connect(simulator.local_addr()).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut raw)).await;
    assert!(!raw.starts_with(b"HTTP/"));
    simulator.shutdown().await;
}

#[tokio::test]
async fn start_tls_rejects_unusable_pem() {
    let (cert_pem, _) = self_signed();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = Simulator::start_tls(listener, Scenario::default(), &cert_pem, "not a key")
        .await
        .unwrap_err();
    assert!(matches!(error, SimulatorError::Tls { .. }), "{error}");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = Simulator::start_tls(listener, Scenario::default(), "", "")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("certificate"), "{error}");
}

#[tokio::test]
async fn shutdown_is_bounded_even_with_hanging_requests() {
    let mut hanging = healthy("hanging");
    hanging.api_delay = Duration::from_secs(3600);
    let simulator = start(scenario_of(vec![hanging])).await;
    let address = simulator.local_addr();
    let token = token(&simulator, "hanging", "hanging-secret").await;
    let bearer = format!("Bearer {token}");
    let in_flight = tokio::spawn(async move {
        let stream = TcpStream::connect(address).await.unwrap();
        exchange(
            stream,
            "GET",
            "/api/v1/workflows",
            &[("authorization", &bearer)],
            b"",
        )
        .await
    });
    // A client that never finishes its request head.
    let mut stalled = TcpStream::connect(address).await.unwrap();
    stalled
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nhost:")
        .await
        .unwrap();
    // An idle keep-alive connection.
    let _idle = TcpStream::connect(address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    simulator.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // The delayed request was answered rather than dropped.
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["code"], "SHUTTING_DOWN");
    // The stalled connection was closed.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), stalled.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "stalled connection still open");
    assert!(
        TcpStream::connect(address).await.is_err(),
        "still accepting"
    );
}

#[tokio::test]
async fn run_serves_until_its_shutdown_future_resolves() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(run(listener, Scenario::demo(), None, async {
        let _ = stopped.await;
    }));
    let authorization = basic("acme-prod", "acme-prod-secret");
    let stream = TcpStream::connect(address).await.unwrap();
    let headers = [("authorization", authorization.as_str()), FORM];
    let reply = exchange(stream, "POST", LOGIN, &headers, GRANT).await;
    assert_eq!(reply.status, 200);
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), running).await;
    result.expect("run ended").unwrap().unwrap();
    assert!(TcpStream::connect(address).await.is_err());
}

#[test]
fn demo_scenario_has_six_tenants_one_per_failure() {
    let demo = Scenario::demo();
    demo.validate().unwrap();
    assert!(!demo.accept_any);
    let ids: Vec<&str> = demo.clients.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "acme-prod",
            "globex-revoked",
            "initech-slow",
            "umbrella-noperm",
            "hooli-flaky",
            "stark-ratelimited"
        ]
    );
    for client in &demo.clients {
        assert_eq!(client.client_secret, format!("{}-secret", client.client_id));
    }
    let by_id = |id: &str| demo.clients.iter().find(|c| c.client_id == id).unwrap();
    assert_eq!(by_id("acme-prod").scenario, Some(Preset::Healthy));
    assert!(by_id("globex-revoked").revoked);
    assert_eq!(
        by_id("initech-slow").token_delay,
        Duration::from_millis(1500)
    );
    assert_eq!(
        by_id("umbrella-noperm").forbidden_paths,
        ["/api/v1/act/remote-action"]
    );
    assert_eq!(by_id("hooli-flaky").failure_rate, 0.3);
    assert!(by_id("stark-ratelimited").rate_limited);
}

#[test]
fn yaml_presets_and_explicit_knobs() {
    let scenario = Scenario::from_yaml_str(
        r#"
accept_any: true
clients:
  - client_id: acme-prod
    client_secret: acme-secret
    scenario: slow_token
    token_delay: 250ms
  - client_id: short
    scenario: short_lived
  - client_id: bad-token
    scenario: malformed_token
  - client_id: unrevoked
    scenario: revoked
    revoked: false
  - client_id: everything
    token_status: 503
    token_error: temporarily_unavailable
    token_lifetime: 30
    token_response: no_expires_in
    token_retry_after: 5
    api_delay: 1h
    forbidden_paths: [/api/v1/workflows]
    failure_rate: 0.5
    api_status: {/api/v1/status: 500}
    api_retry_after: "Wed, 21 Oct 2015 07:28:00 GMT"
    rate_limited: true
    reject_tokens: true
    api_body_size: 4096
"#,
    )
    .unwrap();
    assert!(scenario.accept_any);
    let [acme, short, bad, unrevoked, everything] = &scenario.clients[..] else {
        panic!("five clients");
    };
    assert_eq!(acme.client_secret, "acme-secret");
    assert_eq!(acme.scenario, Some(Preset::SlowToken));
    assert_eq!(
        acme.token_delay,
        Duration::from_millis(250),
        "knob overrides preset"
    );
    assert_eq!(short.token_lifetime, 60);
    assert_eq!(short.client_secret, "short-secret");
    assert_eq!(bad.token_response, TokenResponse::NotJson);
    assert!(!unrevoked.revoked);
    assert_eq!(everything.token_status, 503);
    assert_eq!(
        everything.token_error.as_deref(),
        Some("temporarily_unavailable")
    );
    assert_eq!(everything.token_lifetime, 30);
    assert_eq!(everything.token_response, TokenResponse::NoExpiresIn);
    assert_eq!(everything.token_retry_after.as_deref(), Some("5"));
    assert_eq!(everything.api_delay, Duration::from_secs(3600));
    assert_eq!(everything.forbidden_paths, ["/api/v1/workflows"]);
    assert_eq!(everything.failure_rate, 0.5);
    assert_eq!(everything.api_status.get("/api/v1/status"), Some(&500));
    assert!(everything.rate_limited && everything.reject_tokens);
    assert_eq!(everything.api_body_size, 4096);
    assert_eq!(Scenario::from_yaml_str("").unwrap(), Scenario::default());
}

#[test]
fn yaml_errors_say_where() {
    let error =
        Scenario::from_yaml_str("clients:\n  - client_id: a\n    revokd: true\n").unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("revokd") && message.contains("line"),
        "{message}"
    );

    for (yaml, expected) in [
        ("clients:\n  - client_secret: x\n", "client_id"),
        (
            "clients:\n  - client_id: a\n    scenario: sideways\n",
            "sideways",
        ),
        (
            "clients:\n  - client_id: a\n    failure_rate: 2\n",
            "failure_rate",
        ),
        (
            "clients:\n  - client_id: a\n    token_status: 99\n",
            "token_status",
        ),
        (
            "clients:\n  - client_id: a\n    forbidden_paths: [nope]\n",
            "nope",
        ),
        ("clients:\n  - client_id: 'a:b'\n", "':'"),
        ("clients:\n  - client_id: a\n  - client_id: a\n", "twice"),
        ("clients: []\nextra: 1\n", "extra"),
        (
            "clients:\n  - client_id: a\n    token_delay: soon\n",
            "token_delay",
        ),
    ] {
        let message = Scenario::from_yaml_str(yaml).unwrap_err().to_string();
        assert!(message.contains(expected), "{yaml:?}: {message}");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.yml");
    std::fs::write(&path, "clients:\n  - client_id: a\n    bogus: 1\n").unwrap();
    let message = Scenario::from_yaml_file(&path).unwrap_err().to_string();
    assert!(message.contains("scenario.yml"), "{message}");
    assert!(message.contains("line 3"), "{message}");
    let missing = dir.path().join("missing.yml");
    let error = Scenario::from_yaml_file(&missing).unwrap_err();
    assert!(matches!(error, SimulatorError::ReadScenario { .. }));
    assert!(error.to_string().contains("missing.yml"));

    std::fs::write(&path, "clients:\n  - client_id: ok\n").unwrap();
    assert_eq!(
        Scenario::from_yaml_file(&path).unwrap().clients[0].client_id,
        "ok"
    );
}

#[test]
fn validation_errors_say_which_client_and_knob() {
    let mut wrong = ClientBehaviour::new("b", "b-secret");
    wrong.failure_rate = 2.0;
    let scenario = scenario_of(vec![healthy("a"), wrong]);
    let error = scenario.validate().unwrap_err();
    assert!(
        matches!(
            &error,
            ScenarioError::Client { index: 1, client_id, problem }
                if client_id == "b" && matches!(**problem, ClientError::FailureRate(_))
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "clients[1] (b): failure_rate 2 is not between 0 and 1"
    );

    let twice = scenario_of(vec![healthy("a"), healthy("a")]);
    let error = twice.validate().unwrap_err();
    assert!(
        matches!(&error, ScenarioError::DuplicateClient { index: 1, client_id } if client_id == "a"),
        "{error:?}"
    );

    let error = Scenario::from_yaml_str("clients: [{client_id: a, failure_rate: 2}]").unwrap_err();
    assert!(
        matches!(
            &error,
            SimulatorError::InvalidScenario {
                error: ScenarioError::Yaml(_)
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn chunked_bodies_over_the_limit_are_refused() {
    let simulator = start(scenario_of(vec![healthy("acme")])).await;
    let mut stream = TcpStream::connect(simulator.local_addr()).await.unwrap();
    let size = 1024 * 1024 + 10;
    let head = format!(
        "POST {LOGIN} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n{size:x}\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'a'; size]).await.unwrap();
    stream.write_all(b"\r\n0\r\n\r\n").await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw)).await;
    assert_eq!(parse_reply(&raw).status, 413);
    simulator.shutdown().await;
}

/// The daemon's own HTTP client library, over TLS, against `base_url`.
#[tokio::test]
async fn reqwest_gets_a_token_and_calls_the_api_over_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (cert_pem, key_pem) = self_signed();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let simulator = Simulator::start_tls(listener, Scenario::demo(), &cert_pem, &key_pem)
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
        .resolve("localhost", simulator.local_addr())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = simulator.base_url();
    let answer: Value = client
        .post(format!("{base}{LOGIN}"))
        .basic_auth("umbrella-noperm", Some("umbrella-noperm-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "service:integration"),
        ])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["access_token"].as_str().unwrap();
    let status = |path: &'static str| {
        let request = client.get(format!("{base}{path}")).bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/api/v1/workflows").await, 200);
    assert_eq!(status("/api/v1/act/remote-action").await, 403);
    let revoked = client
        .post(format!("{base}{GENERIC}"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "globex-revoked"),
            ("client_secret", "globex-revoked-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 401);
    simulator.shutdown().await;
}

#[tokio::test]
async fn api_response_shapes_and_body_faults() {
    let scenario = Scenario::from_yaml_str(
        "clients:\n\
         \x20 - {client_id: html, api_response: not_json}\n\
         \x20 - {client_id: numbers, api_response: wrong_types}\n\
         \x20 - {client_id: reset, api_fault: reset}\n\
         \x20 - {client_id: stall, token_fault: stall}\n",
    )
    .unwrap();
    assert_eq!(scenario.clients[2].api_fault, Some(BodyFault::Reset));
    let simulator = start(scenario).await;
    let html = token(&simulator, "html", "html-secret").await;
    let reply = get_with(&simulator, "/api/v1/status", &html).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let numbers = token(&simulator, "numbers", "numbers-secret").await;
    let reply = get_with(&simulator, "/api/v1/status", &numbers).await;
    assert_eq!(reply.json(), serde_json::json!({"state": 1}));
    let reply = get_with(&simulator, "/api/v1/workflows", &numbers).await;
    assert_eq!(reply.json(), serde_json::json!({"items": 1}));

    // A reset: the connection breaks mid-answer (hyper has not even sent
    // the head by then, so the client sees the connection close).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let base = simulator.base_url();
    let reset = token(&simulator, "reset", "reset-secret").await;
    let answer = match client
        .get(format!("{base}/api/v1/workflows"))
        .bearer_auth(&reset)
        .send()
        .await
    {
        Ok(response) => response.bytes().await.map(|_| ()),
        Err(error) => Err(error),
    };
    let error = answer.expect_err("the connection breaks");
    assert!(!error.is_timeout(), "{error}");
    // A stall: the head arrives, the body never ends.
    let response = client
        .post(format!("{base}{GENERIC}"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "stall"),
            ("client_secret", "stall-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let error = response.bytes().await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    simulator.shutdown().await;
}

#[tokio::test]
async fn entra_refusals_carry_error_codes_and_granted_scopes_reach_the_jwt() {
    let scenario = Scenario::from_yaml_str(
        "clients:\n\
         \x20 - {client_id: expired, entra_refusal: expired_secret}\n\
         \x20 - {client_id: gone, entra_refusal: unknown_client}\n\
         \x20 - {client_id: scoped, granted_scopes: [Workflows.Read, Data.Read], scope_in_response: false}\n",
    )
    .unwrap();
    let simulator = start(scenario).await;
    let entra = "/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token";
    let simulator = &simulator;
    let post = |id: &str| {
        let body = format!(
            "grant_type=client_credentials&client_id={id}&client_secret={id}-secret&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
        );
        async move { call(simulator, "POST", entra, &[FORM], body.as_bytes()).await }
    };
    let expired = post("expired").await;
    assert_eq!(expired.status, 401);
    assert_eq!(expired.json()["error"], "invalid_client");
    assert_eq!(expired.json()["error_codes"], json!([7000222]));
    let gone = post("gone").await;
    assert_eq!(gone.status, 400);
    assert_eq!(gone.json()["error"], "unauthorized_client");
    assert_eq!(gone.json()["error_codes"], json!([700016]));
    let scoped = post("scoped").await;
    assert_eq!(scoped.status, 200);
    let body = scoped.json();
    assert!(body.get("scope").is_none(), "{body}");
    let token = claims(body["access_token"].as_str().unwrap());
    assert_eq!(token["scp"], "Workflows.Read Data.Read");
    assert_eq!(token["roles"], json!(["Workflows.Read", "Data.Read"]));
    // The token works on the API like any other.
    let api = get_with(
        simulator,
        "/api/v1/workflows",
        body["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(api.status, 200);
    let recorded = simulator.requests();
    assert!(
        recorded.iter().any(|r| r.path == entra),
        "the Entra path is upstream traffic"
    );
}
