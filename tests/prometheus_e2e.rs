//! The end-to-end proof: `credprobe demo` scraped by a real Prometheus
//! server with the shipped alert rules loaded. Every dashboard query must
//! return data, the revoked demo tenant must raise
//! CredprobeCredentialsRejected, and the healthy tenant nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Process;
use common::dashboards::{dashboard_queries, empty_on_demo};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts `credprobe demo` on 127.0.0.1:0 and returns it with its address.
fn start_demo(dir: &Path) -> (Process, String) {
    let log = dir.join("demo.log");
    let child = Command::new(common::binary())
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
        if let Some(addr) = text.lines().find_map(common::listen_address) {
            return (process, addr);
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "demo did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_prometheus(dir: &Path, target: &str) -> (Process, String) {
    let rules = repo().join("deploy/prometheus/credprobe-rules.yml");
    assert!(rules.is_file(), "{} is missing", rules.display());
    common::start_prometheus(
        dir,
        &format!(
            "global: {{scrape_interval: 2s, evaluation_interval: 2s}}\nrule_files: [\"{}\"]\nscrape_configs:\n  - job_name: credprobe\n    static_configs: [{{targets: [\"{target}\"]}}]\n",
            rules.display()
        ),
    )
}

/// The `data` of a query to a Prometheus that is up.
async fn query(prometheus: &str, expr: &str) -> Value {
    common::prometheus_query(prometheus, expr)
        .await
        .unwrap_or_else(|| panic!("query {expr}: Prometheus did not answer"))
}

/// The value of the first series a query returns, 0 when it returns none
/// (yet): what the wait for enough scrapes compares.
async fn first_value(prometheus: &str, expr: &str) -> f64 {
    common::prometheus_scalar(prometheus, expr)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_scraped_by_prometheus_feeds_every_panel_and_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let (_demo, demo_addr) = start_demo(dir.path());
    let (_prometheus, prometheus) = start_prometheus(dir.path(), &demo_addr);

    // Wait for Prometheus and a few scrapes spanning two demo cycles (10s).
    let start = Instant::now();
    loop {
        let ready = common::client()
            .get(format!("{prometheus}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            let samples = first_value(&prometheus, "count_over_time(credprobe_token_requests_total{tenant=\"acme-prod\",result=\"success\"}[5m])").await;
            let rejected = first_value(&prometheus, "credprobe_token_requests_total{tenant=\"globex-revoked\",result=\"credentials_rejected\"}").await;
            if samples >= 10.0 && rejected >= 2.0 {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "Prometheus never got enough samples; its log:\n{}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // Every dashboard query returns data.
    let mut empty = Vec::new();
    // The queries and the panels expected empty (TLS: the demo is plain
    // http) are the ones tests/dashboards.rs checks structurally.
    let queries = dashboard_queries();
    assert!(
        queries.len() >= 10,
        "too few dashboard queries: {}",
        queries.len()
    );
    for (uid, title, expr) in &queries {
        let data = query(&prometheus, expr).await;
        let expected_empty = empty_on_demo(uid, title);
        if result_len(&data) == 0 && !expected_empty {
            empty.push(format!("{uid} / {title}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "dashboard queries without data:\n{}",
        empty.join("\n")
    );

    // The revoked tenant raises CredprobeCredentialsRejected (the Entra
    // tenant with the provider's reason), the tenant whose token lacks a
    // scope CredprobeScopeMissing; the healthy one nothing.
    for alert in [
        "ALERTS{alertname=\"CredprobeCredentialsRejected\", tenant=\"globex-revoked\", reason=\"other\"}",
        "ALERTS{alertname=\"CredprobeCredentialsRejected\", tenant=\"contoso-entra-expired\", reason=\"expired\"}",
        "ALERTS{alertname=\"CredprobeScopeMissing\", tenant=\"fabrikam-scopes\", scope=\"RemoteActions.Read\"}",
    ] {
        let start = Instant::now();
        loop {
            let data = query(&prometheus, alert).await;
            if result_len(&data) > 0 {
                let state = data["result"][0]["metric"]["alertstate"].as_str().unwrap();
                assert!(state == "pending" || state == "firing", "{data}");
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{alert} never raised"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let granted = query(
        &prometheus,
        "ALERTS{alertname=\"CredprobeScopeMissing\", scope=\"Workflows.Read\"}",
    )
    .await;
    assert_eq!(result_len(&granted), 0, "a granted scope raised: {granted}");
    let healthy = query(&prometheus, "ALERTS{tenant=\"acme-prod\"}").await;
    assert_eq!(
        result_len(&healthy),
        0,
        "the healthy tenant raised: {healthy}"
    );
}
