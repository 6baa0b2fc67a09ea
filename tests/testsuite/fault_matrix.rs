//! The fault matrix: forty tenants on one simulator host at once, each
//! meeting one upstream fault (hangs, resets, stalled bodies, huge bodies,
//! bad JSON, wrong types, redirects, 429 with seconds and with dates, TLS
//! failures, refused connections, every class of status), plus healthy
//! neighbours. Each is classified as its fault says, none is silenced by
//! another (a neighbour's Retry-After never skips a request), and the
//! daemon's own schedule stays on time.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use credprobe_simulator::{Scenario, Simulator};

use crate::support::{Daemon, free_port, start_simulator, sum, value};

/// One row of the matrix.
struct Fault {
    /// Tenant and client id.
    name: &'static str,
    /// The simulator client's knobs (YAML flow mapping entries).
    client: String,
    /// The tenant's own keys (URLs, endpoints) beyond name and credentials.
    tenant: String,
    /// Token classes that must have been recorded (more than once unless
    /// marked otherwise by the check).
    token: &'static [&'static str],
    /// Endpoint classes of the tenant's one endpoint, `e`.
    endpoint: &'static [&'static str],
}

fn matrix(plain: &str, tls: &str, refused: u16) -> Vec<Fault> {
    let token_url = format!("token_url: \"{plain}/oauth2/token\"");
    let normal = format!("base_url: \"{plain}\", {token_url}");
    let workflows = "endpoints: [{name: e, path: /api/v1/workflows}]";
    let status_ok = "endpoints: [{name: e, path: /api/v1/status, expect: {json: [{pointer: /state, equals: ok}]}}]";
    let in_an_hour = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    let t = |name: &'static str, client: &str, token: &'static [&'static str]| Fault {
        name,
        client: client.to_owned(),
        tenant: format!("{normal}, {workflows}"),
        token,
        endpoint: &["no_token"],
    };
    let e = |name: &'static str,
             client: &str,
             tenant: String,
             endpoint: &'static [&'static str]| Fault {
        name,
        client: client.to_owned(),
        tenant,
        token: &["success"],
        endpoint,
    };
    let api = |path: &str| format!("{normal}, endpoints: [{{name: e, path: \"{path}\"}}]");
    vec![
        // The token request.
        t("t-hang", "token_delay: 1h", &["timeout"]),
        t("t-reset", "token_fault: reset", &["connect_error"]),
        t("t-stall", "token_fault: stall", &["timeout"]),
        t("t-huge", "token_response: oversized", &["invalid_response"]),
        t(
            "t-not-json",
            "token_response: not_json",
            &["invalid_response"],
        ),
        t(
            "t-wrong-types",
            "token_response: wrong_types",
            &["invalid_response"],
        ),
        t(
            "t-no-token",
            "token_response: no_access_token",
            &["invalid_response"],
        ),
        t(
            "t-mac",
            "token_response: token_type_mac",
            &["invalid_response"],
        ),
        t(
            "t-zero-expiry",
            "token_response: zero_expires_in",
            &["invalid_response"],
        ),
        t(
            "t-redirect",
            "token_response: redirect",
            &["invalid_response"],
        ),
        t(
            "t-429-seconds",
            "token_status: 429, token_retry_after: 3600",
            &["rate_limited", "backed_off"],
        ),
        t(
            "t-429-date",
            &format!("token_status: 429, token_retry_after: \"{in_an_hour}\""),
            &["rate_limited", "backed_off"],
        ),
        t("t-429-bare", "token_status: 429", &["rate_limited"]),
        t("t-500", "token_status: 500", &["server_error"]),
        t("t-503", "token_status: 503", &["server_error"]),
        t("t-revoked", "revoked: true", &["credentials_rejected"]),
        t(
            "t-invalid-grant",
            "token_status: 400, token_error: invalid_grant",
            &["credentials_rejected"],
        ),
        t(
            "t-invalid-scope",
            "token_status: 400, token_error: invalid_scope",
            &["client_error"],
        ),
        t("t-403", "token_status: 403", &["forbidden"]),
        Fault {
            tenant: format!(
                "base_url: \"{plain}\", token_url: \"http://127.0.0.1:{refused}/oauth2/token\", {workflows}"
            ),
            ..t("t-refused", "", &["connect_error"])
        },
        Fault {
            tenant: format!(
                "base_url: \"{plain}\", token_url: \"{tls}/oauth2/token\", {workflows}"
            ),
            ..t("t-tls-untrusted", "", &["tls_error"])
        },
        Fault {
            tenant: format!(
                "base_url: \"{plain}\", token_url: \"{}/oauth2/token\", {workflows}",
                plain.replace("http://", "https://")
            ),
            ..t("t-tls-plain-port", "", &["tls_error"])
        },
        // The endpoint call.
        e(
            "e-hang",
            "api_delay: 1h",
            format!("{normal}, {workflows}"),
            &["timeout"],
        ),
        e(
            "e-reset",
            "api_fault: reset",
            format!("{normal}, {workflows}"),
            &["connect_error"],
        ),
        e(
            "e-stall",
            "api_fault: stall",
            format!("{normal}, {workflows}"),
            &["timeout"],
        ),
        e(
            "e-huge",
            "api_body_size: 2000000",
            format!("{normal}, {workflows}"),
            &["validation_failed"],
        ),
        e(
            "e-not-json",
            "api_response: not_json",
            format!("{normal}, {status_ok}"),
            &["validation_failed"],
        ),
        e(
            "e-wrong-types",
            "api_response: wrong_types",
            format!("{normal}, {status_ok}"),
            &["validation_failed"],
        ),
        e(
            "e-redirect-away",
            "",
            api(&format!(
                "/__simulator/redirect?to=http://127.0.0.1:{refused}/x"
            )),
            &["unexpected_status"],
        ),
        e(
            "e-429-seconds",
            "api_status: {/api/v1/workflows: 429}, api_retry_after: 3600",
            format!("{normal}, {workflows}"),
            &["rate_limited", "backed_off"],
        ),
        e(
            "e-429-date",
            &format!("api_status: {{/api/v1/workflows: 429}}, api_retry_after: \"{in_an_hour}\""),
            format!("{normal}, {workflows}"),
            &["rate_limited", "backed_off"],
        ),
        e(
            "e-401",
            "reject_tokens: true",
            format!("{normal}, {workflows}"),
            &["unauthorized"],
        ),
        e(
            "e-403",
            "forbidden_paths: [/api/v1/workflows]",
            format!("{normal}, {workflows}"),
            &["forbidden"],
        ),
        e(
            "e-404",
            "api_status: {/api/v1/workflows: 404}",
            format!("{normal}, {workflows}"),
            &["not_found"],
        ),
        e(
            "e-409",
            "api_status: {/api/v1/workflows: 409}",
            format!("{normal}, {workflows}"),
            &["client_error"],
        ),
        e(
            "e-500",
            "api_status: {/api/v1/workflows: 500}",
            format!("{normal}, {workflows}"),
            &["server_error"],
        ),
        e(
            "e-204",
            "api_status: {/api/v1/workflows: 204}",
            format!(
                "{normal}, endpoints: [{{name: e, path: /api/v1/workflows, expect: {{status: [200]}}}}]"
            ),
            &["unexpected_status"],
        ),
        e(
            "e-tls-untrusted",
            "",
            format!("{token_url}, endpoints: [{{name: e, url: \"{tls}/api/v1/workflows\"}}]"),
            &["tls_error"],
        ),
        e(
            "e-refused",
            "",
            format!("{token_url}, endpoints: [{{name: e, url: \"http://127.0.0.1:{refused}/x\"}}]"),
            &["connect_error"],
        ),
    ]
}

/// Healthy neighbours on the same token endpoint and API origin.
const HEALTHY: [&str; 5] = ["ok-0", "ok-1", "ok-2", "ok-3", "ok-4"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_classified_and_no_tenant_silences_another() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let refused = free_port();
    // Two listeners of one simulator scenario: plain, and TLS with a
    // certificate no tenant trusts.
    let placeholder = start_simulator(Scenario::default()).await;
    let plain = placeholder.base_url();
    let tls_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_port = tls_listener.local_addr().unwrap().port();
    let tls = format!("https://localhost:{tls_port}");
    let faults = matrix(&plain, &tls, refused);

    let mut clients = String::from("clients:\n");
    let mut tenants = String::from("defaults: {interval: 2s, timeout: 1s}\ntenants:\n");
    for fault in &faults {
        let knobs = if fault.client.is_empty() {
            String::new()
        } else {
            format!(", {}", fault.client)
        };
        clients.push_str(&format!(
            "  - {{client_id: {0}, client_secret: {0}-s{knobs}}}\n",
            fault.name
        ));
        tenants.push_str(&format!(
            "  - {{name: {0}, client_id: {0}, client_secret: {0}-s, {1}}}\n",
            fault.name, fault.tenant
        ));
    }
    for name in HEALTHY {
        clients.push_str(&format!(
            "  - {{client_id: {name}, client_secret: {name}-s}}\n"
        ));
        tenants.push_str(&format!(
            "  - {{name: {name}, client_id: {name}, client_secret: {name}-s, base_url: \"{plain}\", token_url: \"{plain}/oauth2/token\", endpoints: [{{name: e, path: /api/v1/workflows}}]}}\n"
        ));
    }
    let scenario = Scenario::from_yaml_str(&clients).unwrap();
    placeholder.set_scenario(scenario.clone());
    let _tls_sim = Simulator::start_tls(tls_listener, scenario, &cert.pem(), &key.serialize_pem())
        .await
        .unwrap();
    assert!(faults.len() >= 30, "{} faults", faults.len());

    let daemon = Daemon::start(&tenants, &[]);
    // Six cycles of every tenant; a 429's back-off is capped at three
    // intervals, so by then each rate-limited tenant has been asked again.
    let started = std::time::Instant::now();
    let text = daemon
        .wait_for_metrics(Duration::from_secs(45), |t| {
            started.elapsed() > Duration::from_secs(13)
                && faults.iter().map(|f| f.name).chain(HEALTHY).all(|name| {
                    sum(t, "credprobe_token_requests_total", &[("tenant", name)]) >= 6.0
                })
        })
        .await;

    let mut wrong = Vec::new();
    for fault in &faults {
        let counts = |family: &str| -> BTreeMap<String, f64> {
            text.lines()
                .filter(|l| l.starts_with(&format!("{family}{{tenant=\"{}\"", fault.name)))
                .filter_map(|l| {
                    let result = l.split("result=\"").nth(1)?.split('"').next()?;
                    let n: f64 = l.rsplit(' ').next()?.parse().ok()?;
                    (n > 0.0).then(|| (result.to_owned(), n))
                })
                .collect()
        };
        let token = counts("credprobe_token_requests_total");
        let endpoint = counts("credprobe_endpoint_requests_total");
        let seen = |got: &BTreeMap<String, f64>, want: &[&str]| {
            got.keys().all(|k| want.contains(&k.as_str()))
                && want.iter().all(|w| got.contains_key(*w))
        };
        if !seen(&token, fault.token) || !seen(&endpoint, fault.endpoint) {
            wrong.push(format!(
                "{}: token {token:?} (want {:?}), endpoint {endpoint:?} (want {:?})",
                fault.name, fault.token, fault.endpoint
            ));
        }
    }
    // The neighbours: every request answered, none skipped.
    for name in HEALTHY {
        let requests = sum(&text, "credprobe_token_requests_total", &[("tenant", name)]);
        let successes = value(
            &text,
            "credprobe_token_requests_total",
            &[("tenant", name), ("result", "success")],
        )
        .unwrap_or(0.0);
        let calls = value(
            &text,
            "credprobe_endpoint_requests_total",
            &[("tenant", name), ("result", "success")],
        )
        .unwrap_or(0.0);
        if successes != requests || calls < requests {
            wrong.push(format!(
                "{name}: {successes} token successes and {calls} successful calls of {requests} cycles"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "misclassified:\n{}\n--- log\n{}",
        wrong.join("\n"),
        daemon.logs()
    );

    // The schedule: every cycle of every tenant started within a second
    // of its slot, hanging and rate-limited tenants notwithstanding.
    let on_time = value(
        &text,
        "credprobe_schedule_lateness_seconds_bucket",
        &[("le", "1")],
    )
    .unwrap();
    let cycles = value(&text, "credprobe_schedule_lateness_seconds_count", &[]).unwrap();
    assert_eq!(on_time, cycles, "cycles more than 1 s late:\n{text}");
    // Back-offs are logged when they start.
    assert!(
        daemon
            .logs()
            .contains("token request backing off (Retry-After)"),
        "{}",
        daemon.logs()
    );
}
