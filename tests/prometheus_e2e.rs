//! The end-to-end proof: `credprobe demo` scraped by a real Prometheus
//! server with the shipped alert rules loaded. Every dashboard query must
//! return data, the revoked demo tenant must raise
//! CredprobeCredentialsRejected, and the healthy tenant nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Dashboard targets that cannot have data on the demo, with why. Keep short.
/// (The TLS certificate panels have data: the demo's `cyberdyne-mtls`
/// tenant talks https.)
const EMPTY_ON_DEMO: &[(&str, &str)] = &[];

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
    let prometheus = common::which("prometheus").unwrap_or_else(|| {
        panic!("the Prometheus server is required: run `make test` (it installs Debian's `prometheus` package) or `apt-get install prometheus`")
    });
    let rules = repo().join("deploy/prometheus/credprobe-rules.yml");
    assert!(rules.is_file(), "{} is missing", rules.display());
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 2s, evaluation_interval: 2s}}\nrule_files: [\"{}\"]\nscrape_configs:\n  - job_name: credprobe\n    static_configs: [{{targets: [\"{target}\"]}}]\n",
            rules.display()
        ),
    )
    .unwrap();
    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    (Process(child), format!("http://{listen}"))
}

async fn query(prometheus: &str, expr: &str) -> Value {
    let mut url = url::Url::parse(&format!("{prometheus}/api/v1/query")).unwrap();
    url.query_pairs_mut().append_pair("query", expr);
    let response = common::client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("query {expr}: {e}"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "success", "query {expr}: {body}");
    body["data"].clone()
}

fn result_len(data: &Value) -> usize {
    match &data["result"] {
        Value::Array(items) => items.len(),
        // A scalar or string result is data too.
        Value::Null => 0,
        _ => 1,
    }
}

/// Every (dashboard, panel title, expr) with the variables substituted.
fn dashboard_queries() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("dashboards"))
        .expect("dashboards/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboards");
    for file in files {
        let board: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let uid = board["uid"].as_str().unwrap_or_default().to_owned();
        let mut panels: Vec<&Value> = Vec::new();
        for panel in board["panels"].as_array().into_iter().flatten() {
            panels.push(panel);
            panels.extend(panel["panels"].as_array().into_iter().flatten());
        }
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push((uid.clone(), title.clone(), substitute(expr)));
                }
            }
        }
    }
    out
}

fn substitute(expr: &str) -> String {
    let mut text = expr.to_owned();
    for (from, to) in [
        ("${__rate_interval}", "1m"),
        ("$__rate_interval", "1m"),
        ("${__interval}", "1m"),
        ("$__interval", "1m"),
        ("${__range}", "1h"),
        ("$__range", "1h"),
    ] {
        text = text.replace(from, to);
    }
    // The tenant board shows one tenant; the demo's healthy one has every series.
    let tenant = regex::Regex::new(r#"tenant(=~?)"\$\{?tenant(:[a-z]+)?\}?""#).unwrap();
    text = tenant
        .replace_all(&text, r#"tenant=~"acme-prod|.*""#)
        .into_owned();
    let other = regex::Regex::new(r"\$\{?[a-z_]+(:[a-z]+)?\}?").unwrap();
    other.replace_all(&text, ".*").into_owned()
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
            let data = query(&prometheus, "count_over_time(credprobe_token_requests_total{tenant=\"acme-prod\",result=\"success\"}[5m])").await;
            let samples = data["result"][0]["value"][1]
                .as_str()
                .unwrap_or("0")
                .parse::<f64>()
                .unwrap_or(0.0);
            let cycles = query(&prometheus, "credprobe_token_requests_total{tenant=\"globex-revoked\",result=\"credentials_rejected\"}").await;
            let rejected = cycles["result"][0]["value"][1]
                .as_str()
                .unwrap_or("0")
                .parse::<f64>()
                .unwrap_or(0.0);
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
    let queries = dashboard_queries();
    assert!(
        queries.len() >= 10,
        "too few dashboard queries: {}",
        queries.len()
    );
    for (uid, title, expr) in &queries {
        let data = query(&prometheus, expr).await;
        let expected_empty = EMPTY_ON_DEMO.iter().any(|(t, _)| t == title);
        if result_len(&data) == 0 && !expected_empty {
            empty.push(format!("{uid} / {title}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "dashboard queries without data:\n{}",
        empty.join("\n")
    );

    // The revoked tenant raises CredprobeCredentialsRejected; the healthy one nothing.
    let start = Instant::now();
    loop {
        let data = query(
            &prometheus,
            "ALERTS{alertname=\"CredprobeCredentialsRejected\", tenant=\"globex-revoked\"}",
        )
        .await;
        if result_len(&data) > 0 {
            let state = data["result"][0]["metric"]["alertstate"].as_str().unwrap();
            assert!(state == "pending" || state == "firing", "{data}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "CredprobeCredentialsRejected never raised"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let healthy = query(&prometheus, "ALERTS{tenant=\"acme-prod\"}").await;
    assert_eq!(
        result_len(&healthy),
        0,
        "the healthy tenant raised: {healthy}"
    );
}
