//! The next credential of a rotation in progress
//! (`next_client_secret_file`) on the real daemon against the simulator:
//! each cycle also requests a token with it; `credprobe_next_credential_success`,
//! the tenant page and the JSON say whether it works, beside the current
//! one and without touching it; a 429 to it does not back off the current
//! one; a rewritten next-secret file is taken up; tenants without one have
//! neither a series nor a JSON field.

use std::time::{Duration, Instant};

use credprobe_simulator::Scenario;

use crate::support::{Daemon, at_least, start_simulator, value, write};

const NEXT: &str = "credprobe_next_credential_success";

/// A daemon probing `rotating` (current secret `old`, next secret
/// `next_secret`) every second, and `plain` (no next credential).
async fn start(scenario: &str, next_secret: &str) -> (credprobe_simulator::Simulator, Daemon) {
    let sim = start_simulator(Scenario::from_yaml_str(scenario).unwrap()).await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "current", "old\n");
    write(dir.path(), "next", &format!("{next_secret}\n"));
    let daemon = Daemon::start_in(
        dir,
        &format!(
            "defaults: {{interval: 1s, timeout: 300ms}}\ntenants:\n  - {{name: rotating, token_url: \"{base}/oauth2/token\", client_id: c, client_secret_file: current, next_client_secret_file: next}}\n  - {{name: plain, token_url: \"{base}/oauth2/token\", client_id: c, client_secret_file: current}}\n"
        ),
        &[],
    );
    (sim, daemon)
}

async fn tenant_json(daemon: &Daemon, name: &str) -> serde_json::Value {
    let (status, body) = daemon.get(&format!("/api/v1/tenants/{name}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Polls the tenant's JSON until `done` holds, or panics after 15 s.
async fn wait_json(
    daemon: &Daemon,
    name: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let json = tenant_json(daemon, name).await;
        if done(&json) {
            return json;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "not reached: {json}\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_secret_that_works_is_1_while_the_current_one_works_too() {
    let (_sim, daemon) = start(
        "clients: [{client_id: c, client_secret: old, additional_client_secrets: [NEXT-SECRET-7]}]",
        "NEXT-SECRET-7",
    )
    .await;
    let text = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            value(t, NEXT, &[("tenant", "rotating")]).is_some()
        })
        .await;
    assert_eq!(value(&text, NEXT, &[("tenant", "rotating")]), Some(1.0));
    assert_eq!(
        value(&text, "credprobe_token_success", &[("tenant", "rotating")]),
        Some(1.0)
    );
    let json = tenant_json(&daemon, "rotating").await;
    let next = &json["next_credential"];
    assert_eq!(next["success"], true, "{json}");
    assert_eq!(next["result"], "success", "{json}");
    assert!(next["last_success_at"].is_number(), "{json}");
    assert_eq!(json["token"]["result"], "success", "{json}");
    let (status, page) = daemon.get("/tenants/rotating").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"next-credential\""), "{page}");
    assert!(
        !page.contains("NEXT-SECRET") && !json.to_string().contains("NEXT-SECRET"),
        "the next secret is never shown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_next_secret_is_0_and_credentials_rejected_and_the_current_one_is_unaffected() {
    let (_sim, daemon) = start(
        "clients: [{client_id: c, client_secret: old}]",
        "NEXT-SECRET-7",
    )
    .await;
    let text = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            value(t, NEXT, &[("tenant", "rotating")]).is_some()
        })
        .await;
    assert_eq!(value(&text, NEXT, &[("tenant", "rotating")]), Some(0.0));
    assert_eq!(
        value(&text, "credprobe_token_success", &[("tenant", "rotating")]),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "credprobe_tenant_success", &[("tenant", "rotating")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "credprobe_token_requests_total",
            &[("tenant", "rotating"), ("result", "credentials_rejected")]
        )
        .unwrap_or(0.0),
        0.0,
        "the next credential's requests are not the current one's"
    );
    let json = tenant_json(&daemon, "rotating").await;
    let next = &json["next_credential"];
    assert_eq!(next["success"], false, "{json}");
    assert_eq!(next["result"], "credentials_rejected", "{json}");
    assert!(next["last_success_at"].is_null(), "{json}");
    assert_eq!(json["token"]["result"], "success", "{json}");
    assert_eq!(json["state"], "healthy", "{json}");
    let (_, page) = daemon.get("/tenants/rotating").await;
    let row = page
        .split("id=\"next-credential\"")
        .nth(1)
        .expect("the next credential's row");
    let row = &row[..row.find("</dd>").unwrap()];
    assert!(row.contains("credentials_rejected"), "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_to_the_next_secret_does_not_back_off_the_current_one() {
    let (_sim, daemon) = start(
        "clients: [{client_id: c, client_secret: old, additional_client_secrets: [NEXT-SECRET-7], rate_limited_secrets: [NEXT-SECRET-7], token_retry_after: \"60\"}]",
        "NEXT-SECRET-7",
    )
    .await;
    // The next credential was answered 429 and then skipped (backed off)...
    wait_json(&daemon, "rotating", |json| {
        json["next_credential"]["result"] == "backed_off"
    })
    .await;
    // ...while the current one kept requesting tokens every cycle.
    let before = rotating_token_requests(&daemon).await;
    let text = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            at_least(
                t,
                "credprobe_token_requests_total",
                &[("tenant", "rotating"), ("result", "success")],
                before + 3.0,
            )
        })
        .await;
    assert_eq!(
        value(
            &text,
            "credprobe_token_requests_total",
            &[("tenant", "rotating"), ("result", "backed_off")]
        )
        .unwrap_or(0.0),
        0.0,
        "{text}"
    );
    assert_eq!(value(&text, NEXT, &[("tenant", "rotating")]), Some(0.0));
}

async fn rotating_token_requests(daemon: &Daemon) -> f64 {
    value(
        &daemon.metrics().await,
        "credprobe_token_requests_total",
        &[("tenant", "rotating"), ("result", "success")],
    )
    .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_a_next_credential_has_no_series_and_no_json_field() {
    let (_sim, daemon) = start(
        "clients: [{client_id: c, client_secret: old, additional_client_secrets: [NEXT-SECRET-7]}]",
        "NEXT-SECRET-7",
    )
    .await;
    let text = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            value(t, NEXT, &[("tenant", "rotating")]).is_some()
                && value(t, "credprobe_token_success", &[("tenant", "plain")]).is_some()
        })
        .await;
    assert_eq!(value(&text, NEXT, &[("tenant", "plain")]), None, "{text}");
    let series = text
        .lines()
        .filter(|l| l.starts_with(&format!("{NEXT}{{")))
        .count();
    assert_eq!(series, 1, "one series, the rotating tenant's: {text}");
    let json = tenant_json(&daemon, "plain").await;
    assert!(json.get("next_credential").is_none(), "{json}");
    assert!(
        tenant_json(&daemon, "rotating")
            .await
            .get("next_credential")
            .is_some()
    );
    let (_, page) = daemon.get("/tenants/plain").await;
    assert!(!page.contains("next-credential"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_next_secret_file_is_taken_up() {
    let (_sim, daemon) = start(
        "clients: [{client_id: c, client_secret: old, additional_client_secrets: [NEXT-SECRET-7]}]",
        "wrong",
    )
    .await;
    daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            value(t, NEXT, &[("tenant", "rotating")]) == Some(0.0)
        })
        .await;
    // The Kubernetes way: a new file moved over the old one.
    let next = daemon.dir.path().join("next");
    let staged = daemon.dir.path().join("next.new");
    std::fs::write(&staged, "NEXT-SECRET-7\n").unwrap();
    std::fs::rename(&staged, &next).unwrap();
    daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            value(t, NEXT, &[("tenant", "rotating")]) == Some(1.0)
        })
        .await;
}
