//! The real daemon over time: schedules under a hanging upstream,
//! Retry-After, token reuse, secret rotation, TLS expiry, lifecycle
//! endpoints, secrets kept out of every output, and promtool on a scrape.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use credprobe_simulator::{RecordedRequest, Scenario};

use crate::support::{self, Daemon, at_least, start_simulator, sum, value, write};

fn times_of(requests: &[RecordedRequest], client: &str, path_part: &str) -> Vec<f64> {
    requests
        .iter()
        .filter(|r| r.client_id.as_deref() == Some(client) && r.path.contains(path_part))
        .map(|r| r.at.duration_since(UNIX_EPOCH).unwrap().as_secs_f64())
        .collect()
}

fn gaps(times: &[f64]) -> Vec<f64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_upstream_is_cut_at_the_timeout_and_others_keep_their_schedule() {
    let sim = start_simulator(
        Scenario::from_yaml_str(
            "clients:\n  - {client_id: hang, client_secret: s, api_delay: 1h}\n  - {client_id: steady, client_secret: s}\n",
        )
        .unwrap(),
    )
    .await;
    let base = sim.base_url();
    let daemon = Daemon::start(
        &format!(
            "defaults: {{interval: 1s, timeout: 300ms}}\ntenants:\n  - {{name: hang, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: hang, client_secret: s, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n  - {{name: steady, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: steady, client_secret: s, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n"
        ),
        &[],
    );
    let text = daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            at_least(
                t,
                "credprobe_endpoint_requests_total",
                &[("tenant", "hang"), ("result", "timeout")],
                4.0,
            ) && at_least(
                t,
                "credprobe_endpoint_requests_total",
                &[("tenant", "steady"), ("result", "success")],
                4.0,
            )
        })
        .await;
    // Each hanging call was cut at the timeout, not left to pile up.
    let sum = value(
        &text,
        "credprobe_endpoint_request_duration_seconds_sum",
        &[("tenant", "hang")],
    )
    .unwrap();
    let count = value(
        &text,
        "credprobe_endpoint_request_duration_seconds_count",
        &[("tenant", "hang")],
    )
    .unwrap();
    let mean = sum / count;
    assert!(
        (0.29..1.0).contains(&mean),
        "mean hanging-call latency {mean}s"
    );
    // The healthy tenant kept a one-second rhythm meanwhile.
    let steady = times_of(&sim.requests(), "steady", "token");
    assert!(steady.len() >= 4, "{steady:?}");
    for gap in gaps(&steady) {
        assert!(
            (0.5..1.6).contains(&gap),
            "steady tenant's token requests drifted: {steady:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_in_seconds_and_as_an_http_date_delays_the_next_request() {
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(4));
    let scenario = format!(
        "clients:\n  - {{client_id: seconds, client_secret: s, token_status: 429, token_retry_after: \"3\"}}\n  - {{client_id: dated, client_secret: s, token_status: 429, token_retry_after: \"{date}\"}}\n"
    );
    // One simulator per tenant: back-off is per host.
    let a = start_simulator(Scenario::from_yaml_str(&scenario).unwrap()).await;
    let b = start_simulator(Scenario::from_yaml_str(&scenario).unwrap()).await;
    let (a_url, b_url) = (a.base_url(), b.base_url());
    let daemon = Daemon::start(
        &format!(
            "defaults: {{interval: 1s, timeout: 300ms}}\ntenants:\n  - {{name: seconds, token_url: \"{a_url}/oauth2/token\", client_id: seconds, client_secret: s}}\n  - {{name: dated, token_url: \"{b_url}/oauth2/token\", client_id: dated, client_secret: s}}\n"
        ),
        &[],
    );
    daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            at_least(
                t,
                "credprobe_token_requests_total",
                &[("tenant", "seconds"), ("result", "rate_limited")],
                3.0,
            ) && at_least(
                t,
                "credprobe_token_requests_total",
                &[("tenant", "dated"), ("result", "rate_limited")],
                2.0,
            )
        })
        .await;
    let seconds = times_of(&a.requests(), "seconds", "token");
    for gap in gaps(&seconds) {
        assert!(
            gap >= 2.9,
            "a request came {gap:.2}s after a Retry-After of 3s: {seconds:?}"
        );
    }
    let dated = times_of(&b.requests(), "dated", "token");
    assert!(
        dated[1] - dated[0] >= 2.5,
        "the HTTP-date Retry-After was not honoured: {dated:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reuse_until_expiry_requests_one_token_for_many_cycles() {
    let sim = start_simulator(
        Scenario::from_yaml_str("clients: [{client_id: c, client_secret: s}]").unwrap(),
    )
    .await;
    let base = sim.base_url();
    let daemon = Daemon::start(
        &format!(
            "defaults: {{interval: 1s, timeout: 300ms}}\ntenants:\n  - {{name: reuse, token_reuse: until_expiry, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: c, client_secret: s, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n  - {{name: fresh, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: c, client_secret: s, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n"
        ),
        &[],
    );
    let text = daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            at_least(
                t,
                "credprobe_endpoint_requests_total",
                &[("tenant", "reuse"), ("result", "success")],
                4.0,
            ) && at_least(
                t,
                "credprobe_token_requests_total",
                &[("tenant", "fresh"), ("result", "success")],
                4.0,
            )
        })
        .await;
    assert_eq!(
        value(
            &text,
            "credprobe_token_requests_total",
            &[("tenant", "reuse"), ("result", "success")]
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_secret_file_is_used_by_the_next_token_request() {
    let sim = start_simulator(
        Scenario::from_yaml_str("clients: [{client_id: c, client_secret: right}]").unwrap(),
    )
    .await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let secret = write(dir.path(), "secret", "wrong\n");
    let daemon = Daemon::start_in(
        dir,
        &format!(
            "defaults: {{interval: 1s, timeout: 300ms}}\ntenants:\n  - {{name: rotating, token_url: \"{base}/oauth2/token\", client_id: c, client_secret_file: secret}}\n"
        ),
        &[],
    );
    daemon
        .wait_for_metrics(Duration::from_secs(10), |t| {
            at_least(
                t,
                "credprobe_token_requests_total",
                &[("tenant", "rotating"), ("result", "credentials_rejected")],
                1.0,
            )
        })
        .await;
    // The Kubernetes way: a new file moved over the old one.
    let next = secret.with_file_name("secret.new");
    std::fs::write(&next, "right\n").unwrap();
    std::fs::rename(&next, &secret).unwrap();
    daemon
        .wait_for_metrics(Duration::from_secs(10), |t| {
            value(t, "credprobe_token_success", &[("tenant", "rotating")]) == Some(1.0)
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaf_certificate_expiry_is_exported_for_https_hosts() {
    let (sim, cert) = support::start_tls_simulator(
        Scenario::from_yaml_str("clients: [{client_id: c, client_secret: s}]").unwrap(),
        Some((2031, 1, 15)),
    )
    .await;
    let base = sim.base_url();
    let host = base.trim_start_matches("https://").to_owned();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ca.pem", &cert);
    let daemon = Daemon::start_in(
        dir,
        &format!(
            "defaults: {{interval: 1s, timeout: 500ms}}\ntenants:\n  - {{name: tls, ca_file: ca.pem, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: c, client_secret: s, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n"
        ),
        &[],
    );
    let text = daemon
        .wait_for_metrics(Duration::from_secs(10), |t| {
            value(t, "credprobe_endpoint_success", &[("tenant", "tls")]) == Some(1.0)
        })
        .await;
    let expected = humantime::parse_rfc3339("2031-01-15T00:00:00Z")
        .unwrap()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert_eq!(
        value(
            &text,
            "credprobe_tls_certificate_expiry_timestamp_seconds",
            &[("tenant", "tls"), ("host", &host)]
        ),
        Some(expected),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_endpoints_landing_page_info_series_and_sigterm() {
    let sim = start_simulator(
        Scenario::from_yaml_str("clients: [{client_id: c, client_secret: s}]").unwrap(),
    )
    .await;
    let base = sim.base_url();
    let mut daemon = Daemon::start(
        &format!(
            "defaults: {{interval: 2s, timeout: 500ms}}\ntenants:\n  - {{name: one, labels: {{customer: acme, tier: gold}}, credential_expires: \"2027-06-30\", token_url: \"{base}/oauth2/token\", client_id: c, client_secret: s}}\n  - {{name: two, labels: {{customer: globex}}, token_url: \"{base}/oauth2/token\", client_id: c, client_secret: s}}\n"
        ),
        &[],
    );
    assert_eq!(daemon.get("/-/healthy").await.0, 200);
    let (status, page) = daemon.get("/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("credprobe") && page.contains("href=\"metrics\""),
        "{page}"
    );
    // Ready once both tenants have finished a first cycle (within one interval).
    let start = std::time::Instant::now();
    loop {
        let (status, body) = daemon.get("/-/ready").await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(body.contains("of 2 tenants"), "{body}");
        assert!(start.elapsed() < Duration::from_secs(10), "never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = daemon.metrics().await;
    assert_eq!(
        value(
            &text,
            "credprobe_credential_expiry_timestamp_seconds",
            &[("tenant", "one")]
        ),
        Some(1_814_313_600.0)
    );
    assert!(
        value(
            &text,
            "credprobe_credential_expiry_timestamp_seconds",
            &[("tenant", "two")]
        )
        .is_none()
    );
    assert_eq!(
        value(
            &text,
            "credprobe_tenant_info",
            &[("tenant", "one"), ("customer", "acme"), ("tier", "gold")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "credprobe_tenant_info",
            &[("tenant", "two"), ("customer", "globex")]
        ),
        Some(1.0)
    );
    assert_eq!(value(&text, "credprobe_tenants", &[]), Some(2.0));
    assert_eq!(
        value(&text, "credprobe_config_last_reload_successful", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "credprobe_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("credprobe_build_info{revision=\""), "{text}");
    // Every exporter's process series.
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(value(&text, name, &[]).is_some(), "{name} missing:\n{text}");
    }

    let status = daemon
        .terminate(Duration::from_secs(15))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}\n{}", daemon.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_reaches_logs_metrics_or_pages_at_trace_level() {
    let sim = start_simulator(
        Scenario::from_yaml_str(
            "clients:\n  - {client_id: basic, client_secret: basic-SECRET-1}\n  - {client_id: post, client_secret: post-SECRET-2}\n  - {client_id: filed, client_secret: file-SECRET-3}\n  - {client_id: revoked, client_secret: revoked-SECRET-4, scenario: revoked}\n  - {client_id: rejecter, client_secret: reject-SECRET-5, reject_tokens: true}\n",
        )
        .unwrap(),
    )
    .await;
    let base = sim.base_url();
    for format in ["logfmt", "json"] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "filed", "file-SECRET-3");
        let daemon = Daemon::start_in(
            dir,
            &format!(
                "defaults: {{interval: 1s, timeout: 500ms}}\ntenants:\n  - {{name: basic, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: basic, client_secret: basic-SECRET-1, endpoints: [{{name: w, path: /api/v1/workflows}}]}}\n  - {{name: post, client_auth: post, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: post, client_secret: post-SECRET-2, endpoints: [{{name: w, path: /api/v1/workflows}}]}}\n  - {{name: filed, token_url: \"{base}/oauth2/token\", client_id: filed, client_secret_file: filed}}\n  - {{name: revoked, token_url: \"{base}/oauth2/token\", client_id: revoked, client_secret: revoked-SECRET-4}}\n  - {{name: rejecter, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: rejecter, client_secret: reject-SECRET-5, endpoints: [{{name: w, path: /api/v1/workflows}}]}}\n"
            ),
            &["--log.level", "trace", "--log.format", format],
        );
        let text = daemon
            .wait_for_metrics(Duration::from_secs(15), |t| {
                ["basic", "post", "filed", "revoked", "rejecter"]
                    .iter()
                    .all(|tenant| {
                        sum(t, "credprobe_token_requests_total", &[("tenant", tenant)]) >= 2.0
                    })
            })
            .await;
        let page = daemon.get("/").await.1;
        let logs = daemon.logs();
        support::assert_verbose(&logs);
        let mut secrets: Vec<String> = (1..=5)
            .map(|i| {
                ["basic", "post", "file", "revoked", "reject"][i - 1].to_owned()
                    + "-SECRET-"
                    + &i.to_string()
            })
            .collect();
        // Every token the simulator saw come back, and every Authorization value sent.
        for request in sim.requests() {
            if let Some(auth) = request.header("authorization") {
                secrets.push(auth.to_owned());
                if let Some(token) = auth.strip_prefix("Bearer ") {
                    secrets.push(token.to_owned());
                    // The JWT's signature part alone is unique too.
                    secrets.push(token.rsplit('.').next().unwrap().to_owned());
                }
                if let Some(basic) = auth.strip_prefix("Basic ") {
                    secrets.push(basic.to_owned());
                }
            }
        }
        assert!(secrets.len() > 10, "tokens were collected: {secrets:?}");
        support::assert_none_leaked(
            &secrets,
            &[("log", &logs), ("/metrics", &text), ("/", &page)],
            format,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_finds_nothing_wrong_with_a_real_scrape() {
    let upstream = credprobe::demo::DemoUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = upstream
        .config()
        .replace("interval: 10s", "interval: 1s")
        .replace("timeout: 5s", "timeout: 900ms");
    let daemon = Daemon::start_in(dir, &config, &[]);
    let text = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            at_least(
                t,
                "credprobe_token_requests_total",
                &[
                    ("tenant", "globex-revoked"),
                    ("result", "credentials_rejected"),
                ],
                1.0,
            ) && at_least(
                t,
                "credprobe_endpoint_requests_total",
                &[("tenant", "umbrella-noperm"), ("result", "forbidden")],
                1.0,
            ) && ["tyrell-jwt", "cyberdyne-mtls"].iter().all(|tenant| {
                value(t, "credprobe_endpoint_success", &[("tenant", tenant)]) == Some(1.0)
            })
        })
        .await;
    if let Err(said) = support::promtool_check_metrics(&text) {
        panic!("promtool check metrics complained: {said}");
    }
    // The certificate-based credential expiring within days is exported.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let left = value(
        &text,
        "credprobe_credential_expiry_timestamp_seconds",
        &[("tenant", "cyberdyne-mtls")],
    )
    .expect("the tls_client_auth tenant's certificate expiry")
        - now;
    let days = credprobe::demo::EXPIRING_CERTIFICATE_DAYS as f64;
    assert!(
        (days - 1.0) * 86_400.0 < left && left <= days * 86_400.0,
        "{left} s left"
    );
    upstream.shutdown().await;
}

/// The four demo tenants of issue 21, each on /metrics (and the JSON for
/// why): the Entra secret expiring in 10 days with no successor, for which
/// `CredprobeCredentialExpiringSoon`'s expression holds; the rotation in
/// progress whose next secret works and whose successor keeps that alert
/// quiet; the next secret the provider rejects; the verified token for the
/// wrong audience.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_an_expiring_secret_a_rotation_a_rejected_next_secret_and_a_wrong_audience()
{
    let upstream = credprobe::demo::DemoUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = upstream
        .config()
        .replace("interval: 10s", "interval: 1s")
        .replace("timeout: 5s", "timeout: 900ms");
    let daemon = Daemon::start_in(dir, &config, &[]);
    let (expiring, rotating, rejected, audience) = (
        "northwind-entra-expiring",
        "litware-entra-rotating",
        "adatum-next-rejected",
        "woodgrove-audience",
    );
    let expiry = |t: &str, tenant: &str| {
        value(
            t,
            "credprobe_credential_expiry_timestamp_seconds",
            &[("tenant", tenant)],
        )
    };
    let latest = |t: &str, tenant: &str| {
        value(
            t,
            "credprobe_credential_latest_expiry_timestamp_seconds",
            &[("tenant", tenant)],
        )
    };
    let next = |t: &str, tenant: &str| {
        value(
            t,
            "credprobe_next_credential_success",
            &[("tenant", tenant)],
        )
    };
    let text = daemon
        .wait_for_metrics(Duration::from_secs(30), |t| {
            [expiring, rotating]
                .iter()
                .all(|tenant| latest(t, tenant).is_some())
                && next(t, rotating).is_some()
                && next(t, rejected).is_some()
                && value(t, "credprobe_token_verified", &[("tenant", audience)]).is_some()
        })
        .await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let days = credprobe::demo::EXPIRING_SECRET_DAYS as f64;
    // The alert's expression, as the rules write it:
    // expiry - time() < 14d unless latest > expiry.
    let expiring_soon = |tenant: &str| {
        let expiry = expiry(&text, tenant).unwrap_or_else(|| panic!("{tenant}: expiry: {text}"));
        let latest = latest(&text, tenant).unwrap_or_else(|| panic!("{tenant}: latest: {text}"));
        assert!(
            ((days - 1.0) * 86_400.0..=days * 86_400.0).contains(&(expiry - now)),
            "{tenant}: the secret in use expires in {} s",
            expiry - now
        );
        expiry - now < 14.0 * 86_400.0 && latest <= expiry
    };
    assert!(
        expiring_soon(expiring),
        "no successor: the alert's expression holds"
    );
    assert!(
        !expiring_soon(rotating),
        "a successor in Graph's list quiets the alert"
    );
    assert_eq!(next(&text, rotating), Some(1.0), "{text}");
    assert_eq!(next(&text, rejected), Some(0.0), "{text}");
    for tenant in [rotating, rejected, audience] {
        assert_eq!(
            value(&text, "credprobe_token_success", &[("tenant", tenant)]),
            Some(1.0),
            "{tenant}: the current credential works"
        );
    }
    assert_eq!(
        value(&text, "credprobe_token_verified", &[("tenant", audience)]),
        Some(0.0),
        "{text}"
    );
    // Only the tenants that use them have the new series.
    for tenant in [expiring, rejected, audience] {
        assert_eq!(latest(&text, tenant).is_some(), tenant == expiring);
    }
    assert_eq!(next(&text, expiring), None);
    assert_eq!(
        value(&text, "credprobe_token_verified", &[("tenant", rejected)]),
        None
    );

    let json = tenant_json(&daemon, rejected).await;
    assert_eq!(
        json["next_credential"]["result"], "credentials_rejected",
        "{json}"
    );
    let json = tenant_json(&daemon, audience).await;
    assert_eq!(
        json["token"]["verification"]["reason"], "wrong_audience",
        "{json}"
    );
    let json = tenant_json(&daemon, rotating).await;
    assert_eq!(
        json["credential_inventory"]["rotation_started"], true,
        "{json}"
    );
    upstream.shutdown().await;
}

/// The tenant's JSON (`/api/v1/tenants/{name}`).
async fn tenant_json(daemon: &Daemon, name: &str) -> serde_json::Value {
    let (status, body) = daemon.get(&format!("/api/v1/tenants/{name}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Lines of `logs` holding `text`.
fn lines_with(logs: &str, text: &str) -> usize {
    logs.lines().filter(|l| l.contains(text)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_secret_file_is_one_warning_a_zero_series_and_shown_until_it_is_back() {
    let sim = start_simulator(
        Scenario::from_yaml_str("clients: [{client_id: c, client_secret: s}]").unwrap(),
    )
    .await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let secret = write(dir.path(), "secret", "s\n");
    let daemon = Daemon::start_in(
        dir,
        &format!(
            "defaults: {{interval: 1s, timeout: 500ms}}\ntenants:\n  - {{name: filed, token_url: \"{base}/oauth2/token\", client_id: c, client_secret_file: secret}}\n  - {{name: inline, token_url: \"{base}/oauth2/token\", client_id: c, client_secret: s}}\n"
        ),
        &[],
    );
    let files_ok =
        |t: &str, tenant: &str| value(t, "credprobe_credential_files_ok", &[("tenant", tenant)]);
    let successes = |t: &str| {
        value(
            t,
            "credprobe_token_requests_total",
            &[("tenant", "filed"), ("result", "success")],
        )
        .unwrap_or(0.0)
    };
    let text = daemon
        .wait_for_metrics(Duration::from_secs(10), |t| successes(t) >= 1.0)
        .await;
    assert_eq!(files_ok(&text, "filed"), Some(1.0), "{text}");
    assert_eq!(
        files_ok(&text, "inline"),
        Some(1.0),
        "no file is no problem"
    );
    let json = tenant_json(&daemon, "filed").await;
    assert_eq!(
        json["credential_files"],
        serde_json::json!({"ok": true, "problem": null})
    );

    // Deleted (a Secret removed from under its mount): 0, and the last
    // good copy keeps the probes passing, cycle after cycle.
    std::fs::remove_file(&secret).unwrap();
    let text = daemon
        .wait_for_metrics(Duration::from_secs(10), |t| {
            files_ok(t, "filed") == Some(0.0)
        })
        .await;
    let mark = successes(&text);
    let text = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| successes(t) >= mark + 3.0)
        .await;
    assert_eq!(files_ok(&text, "filed"), Some(0.0));
    assert_eq!(files_ok(&text, "inline"), Some(1.0));
    assert_eq!(
        value(&text, "credprobe_token_success", &[("tenant", "filed")]),
        Some(1.0)
    );
    let logs = daemon.logs();
    assert_eq!(
        lines_with(&logs, "secret file cannot be used"),
        1,
        "one warning when it breaks, none per cycle:\n{logs}"
    );
    let warning = logs
        .lines()
        .find(|l| l.contains("secret file cannot be used"))
        .unwrap();
    assert!(warning.contains("level=warn"), "{warning}");

    // The JSON and the page say which file, since when and why.
    let json = tenant_json(&daemon, "filed").await;
    let files = &json["credential_files"];
    assert_eq!(files["ok"], false, "{json}");
    let path = secret.display().to_string();
    assert_eq!(files["problem"]["file"], path.as_str(), "{json}");
    let since = files["problem"]["since"].as_f64().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(since > now - 60.0 && since <= now, "{json}");
    let why = files["problem"]["why"].as_str().unwrap();
    assert!(why.contains(&path), "{why}");
    assert_eq!(json["state"], "warning", "{json}");
    assert_eq!(
        json["warnings"],
        serde_json::json!(["credential_file_unreadable"])
    );
    assert!(json["failed_reload"].is_null(), "{json}");
    let (status, page) = daemon.get("/tenants/filed").await;
    assert_eq!(status, 200);
    let row = page
        .split("id=\"credential-files\"")
        .nth(1)
        .and_then(|rest| rest.split("</dd>").next())
        .unwrap_or_else(|| panic!("no credential files row: {page}"));
    assert!(
        row.contains("cannot be used") && row.contains(&format!("<code>{path}</code>")),
        "{row}"
    );
    assert!(row.contains(why), "{row}");

    // Back: 1 again, one info line, and still the one warning.
    std::fs::write(&secret, "s\n").unwrap();
    let text = daemon
        .wait_for_metrics(Duration::from_secs(10), |t| {
            files_ok(t, "filed") == Some(1.0)
        })
        .await;
    let mark = successes(&text);
    daemon
        .wait_for_metrics(Duration::from_secs(15), |t| successes(t) >= mark + 3.0)
        .await;
    let logs = daemon.logs();
    assert_eq!(
        lines_with(
            &logs,
            "secret file changed; using the new version, usable again"
        ),
        1,
        "{logs}"
    );
    assert_eq!(lines_with(&logs, "secret file cannot be used"), 1, "{logs}");
    let json = tenant_json(&daemon, "filed").await;
    assert_eq!(
        json["credential_files"],
        serde_json::json!({"ok": true, "problem": null})
    );
    assert_eq!(json["warnings"], serde_json::json!([]));
}

#[tokio::test]
async fn probes_run_on_one_thread_unless_runtime_threads_says_more() {
    let sim = start_simulator(Scenario::demo()).await;
    let base = sim.base_url();
    let config = format!(
        "defaults: {{interval: 1s, timeout: 500ms}}\ntenants:\n  - {{name: acme, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: acme-prod, client_secret: acme-prod-secret, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n"
    );
    let probed = |text: &str| {
        at_least(
            text,
            "credprobe_endpoint_requests_total",
            &[("tenant", "acme"), ("result", "success")],
            2.0,
        )
    };
    // By default the probes and the server run on one thread; asked for
    // three, the runtime has three workers. The start-up line says what
    // the runtime reports, and the probes run either way.
    let runs: [(&[&str], &str); 2] = [
        (&[], "runtime_threads=1"),
        (&["--runtime.threads", "3"], "runtime_threads=3"),
    ];
    for (args, expected) in runs {
        let daemon = Daemon::start(&config, args);
        daemon
            .wait_for_metrics(Duration::from_secs(20), probed)
            .await;
        let logs = daemon.logs();
        assert!(
            logs.split_whitespace().any(|field| field == expected),
            "{expected}: {logs}"
        );
    }
    // Zero threads is a usage error naming the flag.
    let (code, _, stderr) = support::run_binary(
        &[
            "run",
            "--runtime.threads",
            "0",
            "--config.file",
            "/nonexistent.yml",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--runtime.threads"), "{stderr}");
}
