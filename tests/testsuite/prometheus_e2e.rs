//! The end-to-end proof: `credprobe demo` scraped by two real Prometheus
//! servers with the shipped alert rules loaded, one plain (text format,
//! classic histograms) and one with native histograms on (protobuf). In
//! both, every dashboard query must return data, every rule must evaluate,
//! and a tenant must stay within the series budget (49 series in text, 26
//! with native histograms); the revoked demo tenant must raise
//! CredprobeCredentialsRejected, and the healthy tenant nothing. Beside
//! them, the status page, the JSON and `credprobe_tenant_success` must
//! agree on every demo tenant's state.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::dashboards::{dashboard_queries, empty_on_demo};
use crate::support::{self, Process};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts `credprobe demo` on 127.0.0.1:0 and returns it with its address.
fn start_demo(dir: &Path) -> (Process, String) {
    let log = dir.join("demo.log");
    let child = Command::new(support::binary())
        .args(["demo", "--web.listen-address", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let process = Process(child);
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(addr) = text.lines().find_map(support::listen_address) {
            return (process, addr);
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "demo did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_prometheus(dir: &Path, target: &str, args: &[&str]) -> (Process, String) {
    let rules = repo().join("deploy/prometheus/credprobe-rules.yml");
    assert!(rules.is_file(), "{} is missing", rules.display());
    std::fs::create_dir_all(dir).unwrap();
    support::start_prometheus_with(
        dir,
        &format!(
            "global: {{scrape_interval: 2s, evaluation_interval: 2s}}\nrule_files: [\"{}\"]\nscrape_configs:\n  - job_name: credprobe\n    static_configs: [{{targets: [\"{target}\"]}}]\n",
            rules.display()
        ),
        args,
    )
}

/// The `data` of a query to a Prometheus that is up.
async fn query(prometheus: &str, expr: &str) -> Value {
    support::prometheus_query(prometheus, expr)
        .await
        .unwrap_or_else(|| panic!("query {expr}: Prometheus did not answer"))
}

/// The value of the first series a query returns, 0 when it returns none
/// (yet): what the wait for enough scrapes compares.
async fn first_value(prometheus: &str, expr: &str) -> f64 {
    support::prometheus_scalar(prometheus, expr)
        .await
        .unwrap_or(0.0)
}

fn result_len(data: &Value) -> usize {
    match &data["result"] {
        Value::Array(items) => items.len(),
        // A scalar or string result is data too.
        Value::Null => 0,
        _ => 1,
    }
}

/// Series budget of a tenant with a token request and two plain-http
/// endpoints (the demo's acme-prod; its configured credential expiry and
/// credprobe_credential_files_ok are two of them): text format, and
/// native histograms.
const BUDGET_TEXT: f64 = 49.0;
const BUDGET_NATIVE: f64 = 26.0;

/// Waits until Prometheus has scraped a few demo cycles (10 s each).
async fn wait_for_samples(prometheus: &str, log: &Path) {
    let start = Instant::now();
    loop {
        let ready = support::client()
            .get(format!("{prometheus}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            let samples = first_value(prometheus, "count_over_time(credprobe_token_requests_total{tenant=\"acme-prod\",result=\"success\"}[5m])").await;
            let rejected = first_value(prometheus, "credprobe_token_requests_total{tenant=\"globex-revoked\",result=\"credentials_rejected\"}").await;
            // A failure class's series is born at its first occurrence:
            // wait for the rate-limited tenant's first back-offs too, so
            // the back-off panel has two samples to rate.
            let backed_off = first_value(prometheus, "count_over_time(credprobe_token_requests_total{tenant=\"stark-ratelimited\",result=\"backed_off\"}[5m])").await;
            if samples >= 10.0 && rejected >= 2.0 && backed_off >= 2.0 {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "Prometheus never got enough samples; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_scraped_by_prometheus_feeds_every_panel_and_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let (_demo, demo_addr) = start_demo(dir.path());
    let (plain_dir, native_dir) = (dir.path().join("plain"), dir.path().join("native"));
    let (_plain, plain) = start_prometheus(&plain_dir, &demo_addr, &[]);
    let (_native, native) = start_prometheus(
        &native_dir,
        &demo_addr,
        &["--enable-feature=native-histograms"],
    );

    states_agree_on_every_demo_tenant(&demo_addr).await;

    wait_for_samples(&plain, &plain_dir.join("prometheus.log")).await;
    wait_for_samples(&native, &native_dir.join("prometheus.log")).await;

    // The native server got native histograms (protobuf), the plain one
    // classic buckets.
    let latency = query(
        &native,
        "credprobe_token_request_duration_seconds{tenant=\"acme-prod\"}",
    )
    .await;
    assert!(
        latency["result"][0]["histogram"].is_array(),
        "not a native histogram: {latency}"
    );
    let classic = query(&native, "credprobe_token_request_duration_seconds_bucket").await;
    assert_eq!(result_len(&classic), 0, "2.42 keeps only the native form");
    let buckets = query(
        &plain,
        "credprobe_token_request_duration_seconds_bucket{tenant=\"acme-prod\"}",
    )
    .await;
    assert_eq!(
        result_len(&buckets),
        credprobe::config::DEFAULT_HISTOGRAM_BUCKETS.len() + 1
    );

    // The series budget, per tenant, as Prometheus counts it.
    for (prometheus, budget) in [(&plain, BUDGET_TEXT), (&native, BUDGET_NATIVE)] {
        let per_tenant = query(prometheus, "count by (tenant) ({tenant!=\"\"})").await;
        let counts: Vec<String> = per_tenant["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r["metric"]["tenant"], r["value"][1]))
            .collect();
        println!("series per tenant ({prometheus}): {}", counts.join(", "));
        let acme = first_value(prometheus, "count({tenant=\"acme-prod\"})").await;
        assert!(
            acme > 10.0 && acme <= budget,
            "acme-prod has {acme} series, the budget is {budget}: {}",
            counts.join(", ")
        );
    }

    for prometheus in [&plain, &native] {
        every_panel_has_data_and_every_rule_evaluates(prometheus).await;
        alerts_fire_for_the_failing_tenants_only(prometheus).await;
    }
}

/// Every dashboard query returns data and every rule evaluates without
/// error.
async fn every_panel_has_data_and_every_rule_evaluates(prometheus: &str) {
    let mut empty = Vec::new();
    // The queries and the panels expected empty (TLS: the demo is plain
    // http) are the ones tests/testsuite/dashboards.rs checks structurally.
    let queries = dashboard_queries();
    assert!(
        queries.len() >= 10,
        "too few dashboard queries: {}",
        queries.len()
    );
    for (uid, title, expr) in &queries {
        let data = query(prometheus, expr).await;
        let expected_empty = empty_on_demo(uid, title);
        if result_len(&data) == 0 && !expected_empty {
            empty.push(format!("{uid} / {title}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "dashboard queries without data ({prometheus}):\n{}",
        empty.join("\n")
    );
    let rules: Value = support::client()
        .get(format!("{prometheus}/api/v1/rules"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut broken = Vec::new();
    for group in rules["data"]["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            if rule["health"] == "err" {
                broken.push(format!("{}: {}", rule["name"], rule["lastError"]));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "rules failing ({prometheus}): {broken:?}"
    );
}

/// The revoked tenant raises CredprobeCredentialsRejected (the Entra
/// tenant with the provider's reason), the tenant whose token lacks a
/// scope CredprobeScopeMissing, the Entra secret expiring with no
/// successor CredprobeCredentialExpiringSoon (not the one whose rotation
/// started); the healthy one nothing.
async fn alerts_fire_for_the_failing_tenants_only(prometheus: &str) {
    for alert in [
        "ALERTS{alertname=\"CredprobeCredentialsRejected\", tenant=\"globex-revoked\", reason=\"other\"}",
        "ALERTS{alertname=\"CredprobeCredentialsRejected\", tenant=\"contoso-entra-expired\", reason=\"expired\"}",
        "ALERTS{alertname=\"CredprobeScopeMissing\", tenant=\"fabrikam-scopes\", scope=\"RemoteActions.Read\"}",
        "ALERTS{alertname=\"CredprobeCredentialExpiringSoon\", tenant=\"northwind-entra-expiring\", severity=\"warning\"}",
    ] {
        let start = Instant::now();
        loop {
            let data = query(prometheus, alert).await;
            if result_len(&data) > 0 {
                let state = data["result"][0]["metric"]["alertstate"].as_str().unwrap();
                assert!(state == "pending" || state == "firing", "{data}");
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{alert} never raised ({prometheus})"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let granted = query(
        prometheus,
        "ALERTS{alertname=\"CredprobeScopeMissing\", scope=\"Workflows.Read\"}",
    )
    .await;
    assert_eq!(result_len(&granted), 0, "a granted scope raised: {granted}");
    let successor = query(
        prometheus,
        "ALERTS{alertname=\"CredprobeCredentialExpiringSoon\", tenant=\"litware-entra-rotating\"}",
    )
    .await;
    assert_eq!(
        result_len(&successor),
        0,
        "a secret with a successor raised: {successor}"
    );
    let healthy = query(prometheus, "ALERTS{tenant=\"acme-prod\"}").await;
    assert_eq!(
        result_len(&healthy),
        0,
        "the healthy tenant raised: {healthy}"
    );
}

/// One tenant's state as the three views show it: (JSON state, page
/// row's state, credprobe_tenant_success).
type Seen = (String, String, Option<f64>);

/// The status page, the JSON and `credprobe_tenant_success` agree on every
/// demo tenant (the JSON's state decides the metric: 1 for healthy and
/// warning, 0 for a failing state, absent while pending); the tenants with
/// a missing scope or an expiring credential are warnings, never healthy.
async fn states_agree_on_every_demo_tenant(demo: &str) {
    let base = format!("http://{demo}");
    let start = Instant::now();
    while support::http_get(&format!("{base}/-/ready")).await.0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "demo never ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The flaky demo tenant changes state between cycles: read the three
    // views close together, and again when a cycle fell between them.
    let mut last = Vec::new();
    for _ in 0..10 {
        let (_, json) = support::http_get(&format!("{base}/api/v1/tenants")).await;
        let (_, html) = support::http_get(&format!("{base}/")).await;
        let (_, metrics) = support::http_get(&format!("{base}/metrics")).await;
        let json: Value = serde_json::from_str(&json).unwrap();
        let tenants = json["tenants"].as_array().unwrap();
        assert_eq!(tenants.len(), 16, "every demo tenant");
        let rows = page_states(&html);
        let mut disagree = Vec::new();
        let mut seen: Vec<(String, Seen, Value)> = Vec::new();
        for tenant in tenants {
            let name = tenant["name"].as_str().unwrap();
            let state = tenant["state"].as_str().unwrap().to_owned();
            let page = rows.get(name).cloned().unwrap_or_default();
            let metric = support::value(&metrics, "credprobe_tenant_success", &[("tenant", name)]);
            let expected = match state.as_str() {
                "pending" => None,
                "healthy" | "warning" => Some(1.0),
                _ => Some(0.0),
            };
            let json_success = tenant["success"].as_f64();
            if page != state || metric != expected || json_success != expected {
                disagree.push(format!(
                    "{name}: json {state} ({json_success:?}), page {page}, metric {metric:?}"
                ));
            }
            seen.push((
                name.to_owned(),
                (state, page, metric),
                tenant["warnings"].clone(),
            ));
        }
        if disagree.is_empty() {
            let state_of = |name: &str| {
                let (_, (state, _, _), warnings) = seen.iter().find(|(n, _, _)| n == name).unwrap();
                (state.clone(), warnings.clone())
            };
            assert_eq!(
                state_of("fabrikam-scopes"),
                ("warning".to_owned(), serde_json::json!(["scope_missing"])),
                "a missing scope is a warning"
            );
            assert_eq!(
                state_of("cyberdyne-mtls"),
                (
                    "warning".to_owned(),
                    serde_json::json!(["credential_expiring"])
                ),
                "a certificate expiring within days is a warning"
            );
            assert_eq!(state_of("acme-prod").0, "healthy");
            assert_eq!(state_of("globex-revoked").0, "credentials_rejected");
            return;
        }
        last = disagree;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("the views disagree: {last:#?}");
}

/// Each overview row's tenant name and `data-state`.
fn page_states(html: &str) -> std::collections::BTreeMap<String, String> {
    html.split("<tr class=\"row ")
        .skip(1)
        .filter_map(|row| {
            let state = row.split("data-state=\"").nth(1)?.split('"').next()?;
            let name = row.split("href=\"tenants/").nth(1)?.split('"').next()?;
            Some((name.to_owned(), state.to_owned()))
        })
        .collect()
}
