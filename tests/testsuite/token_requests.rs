//! What goes over the wire, checked at the simulator: the two Nexthink token
//! forms, client_secret_post, redirects, body limits; and the one-shot
//! `credprobe probe` report with its exit codes.

use std::time::Duration;

use base64::Engine as _;
use credprobe_simulator::{RecordedRequest, Scenario};

use crate::support::{self, run_binary, start_simulator, write};

const SCENARIO: &str = r#"
clients:
  - {client_id: acme, client_secret: acme-secret}
  - {client_id: revoked, client_secret: s, scenario: revoked}
  - {client_id: redirector, client_secret: s, token_response: redirect}
  - {client_id: huge, client_secret: s, token_response: oversized}
"#;

fn probe(config: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "credprobe.yml", config);
    let mut args = vec!["probe", "--config.file", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_binary(&args, Duration::from_secs(30))
}

fn token_requests(requests: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    requests
        .iter()
        .filter(|r| r.path.contains("token"))
        .collect()
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexthink_login_form_sends_exactly_the_documented_request() {
    let sim = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let base = sim.base_url();
    let (code, stdout, stderr) = probe(
        &format!(
            "tenants:\n  - name: acme-prod\n    nexthink: {{instance: acme, region: eu, token_endpoint: login}}\n    base_url: \"{base}\"\n    token_url: \"{base}/oauth2/default/v1/token\"\n    client_id: acme\n    client_secret: acme-secret\n"
        ),
        &[],
    );
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let line = regex::Regex::new(
        r"^acme-prod: token OK in \d+ ms, expires in 15m; workflows 200 in \d+ ms$",
    )
    .unwrap();
    assert!(line.is_match(stdout.trim()), "report: {stdout}");

    let requests = sim.requests();
    let tokens = token_requests(&requests);
    assert_eq!(tokens.len(), 1);
    let token = tokens[0];
    assert_eq!(token.method, "POST");
    assert_eq!(token.path, "/oauth2/default/v1/token");
    assert_eq!(
        token.header("authorization"),
        Some(basic("acme", "acme-secret").as_str())
    );
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(token.header("accept"), Some("application/json"));
    assert_eq!(
        token.body,
        "grant_type=client_credentials&scope=service%3Aintegration"
    );
    let call = requests
        .iter()
        .find(|r| r.path == "/api/v1/workflows")
        .expect("the default Nexthink endpoint is the workflows list");
    assert_eq!(call.method, "GET");
    assert!(
        call.header("authorization")
            .unwrap()
            .starts_with("Bearer ey")
    );
    assert!(call.body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexthink_legacy_form_sends_only_the_basic_header() {
    let sim = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let base = sim.base_url();
    let (code, stdout, stderr) = probe(
        &format!(
            "tenants:\n  - name: acme-legacy\n    nexthink: {{instance: acme, region: us, token_endpoint: legacy}}\n    base_url: \"{base}\"\n    client_id: acme\n    client_secret: acme-secret\n"
        ),
        &[],
    );
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let requests = sim.requests();
    let tokens = token_requests(&requests);
    assert_eq!(tokens.len(), 1);
    let token = tokens[0];
    assert_eq!(token.method, "POST");
    assert_eq!(
        token.path, "/api/v1/token",
        "the legacy form lives on the API host"
    );
    assert_eq!(
        token.header("authorization"),
        Some(basic("acme", "acme-secret").as_str())
    );
    assert_eq!(token.header("content-type"), None);
    assert!(token.body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secret_post_puts_the_secret_in_the_body_not_a_header() {
    let sim = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let base = sim.base_url();
    let (code, stdout, stderr) = probe(
        &format!(
            "tenants:\n  - name: generic\n    base_url: \"{base}\"\n    token_url: \"{base}/oauth2/token\"\n    client_id: acme\n    client_secret: acme-secret\n    client_auth: post\n    scopes: [read, write]\n    params: {{audience: \"https://api.example.com\"}}\n    endpoints: [{{name: status, path: /api/v1/status, expect: {{json: [{{pointer: /state, equals: ok}}]}}}}]\n"
        ),
        &[],
    );
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("status 200"), "{stdout}");
    let requests = sim.requests();
    let token = token_requests(&requests)[0];
    assert_eq!(token.header("authorization"), None);
    assert_eq!(
        token.body,
        "grant_type=client_credentials&scope=read+write&audience=https%3A%2F%2Fapi.example.com&client_id=acme&client_secret=acme-secret"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_redirects_are_not_followed_and_oversized_bodies_refused() {
    let sim = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let base = sim.base_url();
    let (code, stdout, _) = probe(
        &format!(
            "tenants:\n  - {{name: redirected, token_url: \"{base}/oauth2/token\", client_id: redirector, client_secret: s}}\n  - {{name: oversized, token_url: \"{base}/oauth2/token\", client_id: huge, client_secret: s}}\n"
        ),
        &[],
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("redirected: token FAILED: invalid_response (HTTP 302 (redirects of token requests are not followed))"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "oversized: token FAILED: invalid_response (response body over the 65536-byte limit)"
        ),
        "{stdout}"
    );
    let requests = sim.requests();
    let redirected: Vec<_> = requests
        .iter()
        .filter(|r| r.client_id.as_deref() == Some("redirector"))
        .collect();
    assert_eq!(
        redirected.len(),
        1,
        "the redirect was followed: {redirected:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_reports_failures_and_uses_exit_codes() {
    let sim = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let base = sim.base_url();
    let config = format!(
        "tenants:\n  - {{name: good, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: acme, client_secret: acme-secret, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n  - {{name: bad, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: revoked, client_secret: s, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n"
    );
    let (code, stdout, _) = probe(&config, &["--tenant", "good"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("good: token OK"), "{stdout}");
    assert!(
        !stdout.contains("bad:"),
        "only the named tenant runs: {stdout}"
    );

    let (code, stdout, _) = probe(&config, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("bad: token FAILED: credentials_rejected (HTTP 401 invalid_client)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("workflows FAILED: no_token -"),
        "endpoints without a token say so: {stdout}"
    );

    let (code, _, stderr) = probe(&config, &["--tenant", "nope"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown tenant nope; configured: bad, good"),
        "{stderr}"
    );

    let (code, _, stderr) = probe("tenants: [{name: x}]\n", &[]);
    assert_eq!(code, 2, "a config error is a usage error: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_url_routes_the_tenants_requests_through_the_proxy() {
    // The simulator answers absolute-form requests as a forward proxy would
    // see them, so it can stand in for the proxy; the origin port is closed.
    let proxy = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let closed = support::free_port();
    let origin = format!("http://127.0.0.1:{closed}");
    let (code, stdout, stderr) = probe(
        &format!(
            "tenants:\n  - {{name: proxied, proxy_url: \"{}\", base_url: \"{origin}\", token_url: \"{origin}/oauth2/token\", client_id: acme, client_secret: acme-secret, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n",
            proxy.base_url()
        ),
        &[],
    );
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let paths: Vec<String> = proxy.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/oauth2/token", "/api/v1/workflows"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_method_headers_and_body_are_sent() {
    let sim = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let base = sim.base_url();
    let (code, stdout, stderr) = probe(
        &format!(
            "tenants:\n  - name: nql\n    base_url: \"{base}\"\n    token_url: \"{base}/oauth2/token\"\n    client_id: acme\n    client_secret: acme-secret\n    endpoints:\n      - name: nql\n        path: /api/v2/nql/execute\n        method: post\n        allow_mutating: true\n        headers: {{Content-Type: application/json, X-Probe: credprobe}}\n        body: '{{\"queryId\":\"#devices\"}}'\n        expect: {{status: [200], body_regex: '\"rows\"'}}\n      - {{name: head, path: /api/v1/workflows, method: HEAD}}\n"
        ),
        &[],
    );
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let requests = sim.requests();
    let nql = requests
        .iter()
        .find(|r| r.path == "/api/v2/nql/execute")
        .unwrap();
    assert_eq!(nql.method, "POST");
    assert_eq!(nql.body, r##"{"queryId":"#devices"}"##);
    assert_eq!(nql.header("content-type"), Some("application/json"));
    assert_eq!(nql.header("x-probe"), Some("credprobe"));
    let head = requests.iter().find(|r| r.method == "HEAD").unwrap();
    assert_eq!(head.path, "/api/v1/workflows");
}
