//! Every token and endpoint result class of DESIGN.md is produced by a real
//! upstream (the simulator, a TLS simulator with an untrusted certificate,
//! a closed port, an unresolvable name) and observed on /metrics of the
//! real daemon.

use std::time::Duration;

use credprobe::probe::{ResultClass, TokenResult};
use credprobe_simulator::{Scenario, Simulator};

use crate::support::{self, Daemon, at_least, start_simulator, value};

/// A host name glibc refuses to look up (a label over 63 bytes), so the DNS
/// failure happens without any query leaving the machine.
fn unresolvable_host() -> String {
    format!("{}.invalid", "a".repeat(70))
}

const SCENARIO: &str = r#"
clients:
  - {client_id: ok, client_secret: ok-secret}
  - {client_id: revoked, client_secret: revoked-secret, scenario: revoked}
  - {client_id: badgrant, client_secret: s, token_status: 400, token_error: invalid_grant}
  - {client_id: forbid, client_secret: s, token_status: 403}
  - {client_id: limited, client_secret: s, token_status: 429, token_retry_after: "1"}
  - {client_id: scope, client_secret: s, token_status: 400, token_error: invalid_scope}
  - {client_id: down, client_secret: s, token_status: 503}
  - {client_id: slow, client_secret: s, token_delay: 3s}
  - {client_id: garbage, client_secret: s, token_response: not_json}
  - {client_id: rejecter, client_secret: s, reject_tokens: true}
  - {client_id: noperm, client_secret: s, scenario: missing_permission}
  - {client_id: odd, client_secret: s, api_status: {"/api/v1/workflows": 429}, api_retry_after: "1"}
  - {client_id: conflict, client_secret: s, api_status: {"/api/v1/act/remote-action": 409}}
  - {client_id: apidown, client_secret: s, failure_rate: 1.0}
  - {client_id: hang, client_secret: s, api_delay: 1h}
"#;

async fn start_tls_simulator() -> Simulator {
    support::start_tls_simulator(Scenario::from_yaml_str(SCENARIO).unwrap(), None)
        .await
        .0
}

/// `rl` and `rl2` are simulators of their own for the two tenants that get
/// 429s: back-off is per host, so they would otherwise hold up the others.
fn config(sim: &str, tls: &str, rl: &str, rl2: &str) -> String {
    let dns = unresolvable_host();
    let closed = support::free_port();
    let token_only = |name: &str, client: &str| {
        let host = if client == "limited" { rl } else { sim };
        format!(
            "  - {{name: {name}, token_url: \"{host}/oauth2/token\", client_id: {client}, client_secret: s}}\n"
        )
    };
    let mut text = format!(
        r#"
defaults: {{interval: 1s, timeout: 500ms}}
tenants:
  - name: t-success
    base_url: "{sim}"
    token_url: "{sim}/oauth2/token"
    client_id: ok
    client_secret: ok-secret
    endpoints:
      - {{name: workflows, path: /api/v1/workflows}}
      - {{name: missing, path: /api/v1/nope}}
      - {{name: wrong_state, path: /api/v1/status, expect: {{json: [{{pointer: /state, equals: down}}]}}}}
      - {{name: too_big, path: /api/v1/workflows, max_body_bytes: 20}}
      - {{name: not_201, path: /api/v1/workflows, expect: {{status: [201]}}}}
      - {{name: dns, url: "http://{dns}/x"}}
      - {{name: closed, url: "http://127.0.0.1:{closed}/x"}}
      - {{name: untrusted, url: "{tls}/api/v1/workflows"}}
    insecure_http: true
  - name: t-revoked
    base_url: "{sim}"
    token_url: "{sim}/oauth2/token"
    client_id: revoked
    client_secret: revoked-secret
    endpoints: [{{name: workflows, path: /api/v1/workflows}}]
  - name: t-dns
    token_url: "http://{dns}/token"
    insecure_http: true
    client_id: ok
    client_secret: ok-secret
  - name: t-connect
    token_url: "http://127.0.0.1:{closed}/token"
    client_id: ok
    client_secret: ok-secret
  - name: t-tls
    token_url: "{tls}/oauth2/token"
    client_id: ok
    client_secret: ok-secret
"#
    );
    for (name, client) in [
        ("t-badgrant", "badgrant"),
        ("t-forbidden", "forbid"),
        ("t-limited", "limited"),
        ("t-scope", "scope"),
        ("t-down", "down"),
        ("t-slow", "slow"),
        ("t-garbage", "garbage"),
    ] {
        text.push_str(&token_only(name, client));
    }
    for (name, client, endpoints) in [
        (
            "t-api401",
            "rejecter",
            "[{name: workflows, path: /api/v1/workflows}]",
        ),
        (
            "t-noperm",
            "noperm",
            "[{name: remote_actions, path: /api/v1/act/remote-action}]",
        ),
        (
            "t-odd",
            "odd",
            "[{name: workflows, path: /api/v1/workflows}]",
        ),
        (
            "t-conflict",
            "conflict",
            "[{name: remote_actions, path: /api/v1/act/remote-action}]",
        ),
        (
            "t-apidown",
            "apidown",
            "[{name: workflows, path: /api/v1/workflows}]",
        ),
        (
            "t-hang",
            "hang",
            "[{name: workflows, path: /api/v1/workflows}]",
        ),
    ] {
        let host = if client == "odd" { rl2 } else { sim };
        text.push_str(&format!(
            "  - {{name: {name}, base_url: \"{host}\", token_url: \"{host}/oauth2/token\", client_id: {client}, client_secret: s, endpoints: {endpoints}}}\n"
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_result_class_is_observed_on_metrics() {
    let sim = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let tls = start_tls_simulator().await;
    let rl = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let rl2 = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let text = config(
        &sim.base_url(),
        &tls.base_url(),
        &rl.base_url(),
        &rl2.base_url(),
    );
    let daemon = Daemon::start(&text, &[]);

    let token_expectations = [
        ("t-success", "success"),
        ("t-revoked", "credentials_rejected"),
        ("t-badgrant", "credentials_rejected"),
        ("t-forbidden", "forbidden"),
        ("t-limited", "rate_limited"),
        ("t-scope", "client_error"),
        ("t-down", "server_error"),
        ("t-slow", "timeout"),
        ("t-dns", "dns_error"),
        ("t-connect", "connect_error"),
        ("t-tls", "tls_error"),
        ("t-garbage", "invalid_response"),
    ];
    let endpoint_expectations = [
        ("t-success", "workflows", "success"),
        ("t-api401", "workflows", "unauthorized"),
        ("t-noperm", "remote_actions", "forbidden"),
        ("t-success", "missing", "not_found"),
        ("t-odd", "workflows", "rate_limited"),
        ("t-conflict", "remote_actions", "client_error"),
        ("t-apidown", "workflows", "server_error"),
        ("t-hang", "workflows", "timeout"),
        ("t-success", "dns", "dns_error"),
        ("t-success", "closed", "connect_error"),
        ("t-success", "untrusted", "tls_error"),
        ("t-success", "not_201", "unexpected_status"),
        ("t-success", "wrong_state", "validation_failed"),
        ("t-success", "too_big", "validation_failed"),
        ("t-revoked", "workflows", "no_token"),
    ];
    let text = daemon
        .wait_for_metrics(Duration::from_secs(30), |text| {
            token_expectations.iter().all(|(tenant, result)| {
                at_least(
                    text,
                    "credprobe_token_requests_total",
                    &[("tenant", tenant), ("result", result)],
                    1.0,
                )
            }) && endpoint_expectations
                .iter()
                .all(|(tenant, endpoint, result)| {
                    at_least(
                        text,
                        "credprobe_endpoint_requests_total",
                        &[
                            ("tenant", tenant),
                            ("endpoint", endpoint),
                            ("result", result),
                        ],
                        1.0,
                    )
                })
        })
        .await;

    // Each tenant produced only the class it was built for: the other
    // failure classes have no series at all (the lean contract), success
    // has one from the first cycle.
    for (tenant, result) in token_expectations {
        for other in TokenResult::ALL {
            let count = value(
                &text,
                "credprobe_token_requests_total",
                &[("tenant", tenant), ("result", other.as_str())],
            );
            if other.as_str() == result {
                assert!(count.is_some_and(|c| c >= 1.0), "{tenant}/{result}");
            } else if *other == TokenResult::Success {
                assert_eq!(count, Some(0.0), "{tenant}: success exists from the start");
            } else {
                assert_eq!(
                    count,
                    None,
                    "{tenant} also produced {} (or wrote a class never seen)",
                    other.as_str()
                );
            }
        }
    }
    let token_success = |tenant| value(&text, "credprobe_token_success", &[("tenant", tenant)]);
    assert_eq!(token_success("t-success"), Some(1.0));
    assert_eq!(token_success("t-revoked"), Some(0.0));
    let status = |tenant, endpoint| {
        value(
            &text,
            "credprobe_endpoint_status_code",
            &[("tenant", tenant), ("endpoint", endpoint)],
        )
    };
    assert_eq!(status("t-success", "workflows"), Some(200.0));
    assert_eq!(status("t-noperm", "remote_actions"), Some(403.0));
    assert_eq!(status("t-hang", "workflows"), Some(0.0));
    assert_eq!(status("t-revoked", "workflows"), Some(0.0));
    // The lifetime is the expiry less the last success (no series of its
    // own under the lean contract).
    let lifetime = value(
        &text,
        "credprobe_token_expiry_timestamp_seconds",
        &[("tenant", "t-success")],
    )
    .unwrap()
        - value(
            &text,
            "credprobe_token_last_success_timestamp_seconds",
            &[("tenant", "t-success")],
        )
        .unwrap();
    assert!((lifetime - 900.0).abs() < 1.0, "{lifetime}");
    let expiry = value(
        &text,
        "credprobe_token_expiry_timestamp_seconds",
        &[("tenant", "t-success")],
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (expiry - now - 900.0).abs() < 30.0,
        "expiry {expiry} vs now {now}"
    );
    assert!(
        value(
            &text,
            "credprobe_token_expiry_timestamp_seconds",
            &[("tenant", "t-revoked")]
        )
        .is_none()
    );
    assert_eq!(value(&text, "credprobe_tenants", &[]), Some(18.0));
    // The untrusted certificate was never accepted, so no expiry was recorded from it.
    assert!(!text.contains("credprobe_tls_certificate_expiry_timestamp_seconds{"));
}
