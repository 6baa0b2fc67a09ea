//! Where a request's time goes, against the simulator: the five phases of
//! the last token request and endpoint call on /metrics, in the JSON and
//! on the tenant page; a slow API shows as processing, a stalled body as
//! transfer; a pooled connection shows as reused (no DNS, connect or TLS),
//! `fresh_connections: true` opens one every cycle; https adds TLS and a
//! host name adds DNS.

use std::time::Duration;

use credprobe_simulator::Scenario;
use serde_json::Value;

use crate::support::{self, Daemon, start_simulator, value, write};

const WORKFLOWS: &str = ", endpoints: [{name: workflows, path: /api/v1/workflows}]";

const PHASES: [&str; 5] = ["dns", "connect", "tls", "processing", "transfer"];

async fn tenant_json(daemon: &Daemon, name: &str) -> Value {
    let (status, body) = daemon.get(&format!("/api/v1/tenants/{name}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn seconds(phases: &Value, phase: &str) -> f64 {
    phases[format!("{phase}_seconds")]
        .as_f64()
        .unwrap_or_else(|| panic!("{phase}_seconds missing in {phases}"))
}

fn sum(phases: &Value) -> f64 {
    PHASES.iter().map(|phase| seconds(phases, phase)).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phases_of_plain_http_requests_on_metrics_json_and_page() {
    let sim = start_simulator(
        Scenario::from_yaml_str(
            "clients:\n\
             \x20 - {client_id: plain, client_secret: s}\n\
             \x20 - {client_id: slow, client_secret: s, api_delay: 300ms}\n\
             \x20 - {client_id: stall, client_secret: s, api_fault: stall}\n",
        )
        .unwrap(),
    )
    .await;
    let base = sim.base_url();
    let tenant = |name: &str, client: &str, extra: &str| {
        format!(
            "  - {{name: {name}, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: {client}, client_secret: s{extra}}}\n"
        )
    };
    let config = format!(
        "defaults: {{interval: 1s, timeout: 900ms, phase_metrics: true}}\ntenants:\n{}{}{}{}",
        tenant("slow", "slow", WORKFLOWS),
        tenant(
            "stalled",
            "stall",
            ", endpoints: [{name: workflows, path: /api/v1/workflows, timeout: 800ms}]"
        ),
        tenant("pooled", "plain", WORKFLOWS),
        tenant(
            "fresh",
            "plain",
            &format!(", fresh_connections: true{WORKFLOWS}")
        ),
    );
    let daemon = Daemon::start(&config, &[]);
    let text = daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            ["slow", "stalled", "pooled", "fresh"].iter().all(|tenant| {
                support::sum(
                    t,
                    "credprobe_endpoint_requests_total",
                    &[("tenant", tenant)],
                ) >= 2.0
            })
        })
        .await;

    // Every phase of every step is a series; an address needs no DNS and
    // plain http no TLS.
    for phase in PHASES {
        let token = value(
            &text,
            "credprobe_token_phase_seconds",
            &[("tenant", "slow"), ("phase", phase)],
        );
        let endpoint = value(
            &text,
            "credprobe_endpoint_phase_seconds",
            &[
                ("tenant", "slow"),
                ("endpoint", "workflows"),
                ("phase", phase),
            ],
        );
        assert!(token.is_some() && endpoint.is_some(), "{phase}:\n{text}");
    }
    for (family, labels) in [
        ("credprobe_token_phase_seconds", vec![("tenant", "slow")]),
        (
            "credprobe_endpoint_phase_seconds",
            vec![("tenant", "slow"), ("endpoint", "workflows")],
        ),
    ] {
        for phase in ["dns", "tls"] {
            let mut labels = labels.clone();
            labels.push(("phase", phase));
            assert_eq!(value(&text, family, &labels), Some(0.0), "{family} {phase}");
        }
    }
    support::promtool_check_metrics(&text).unwrap();

    // A slow API is processing time, and the phases fit in the latency.
    let slow = tenant_json(&daemon, "slow").await;
    let call = &slow["endpoints"][0];
    let phases = &call["phases"];
    assert!(seconds(phases, "processing") >= 0.3, "{call}");
    let latency = call["latency_seconds"].as_f64().unwrap();
    assert!(sum(phases) <= latency + 1e-6, "{call}");
    assert!(
        seconds(&slow["token"]["phases"], "processing") < 0.3,
        "{slow}"
    );

    // A body that stops coming is transfer time, up to the timeout.
    let stalled = tenant_json(&daemon, "stalled").await;
    let call = &stalled["endpoints"][0];
    assert_eq!(call["result"], "timeout", "{call}");
    let phases = &call["phases"];
    assert!(seconds(phases, "transfer") >= 0.5, "{call}");
    assert!(
        seconds(phases, "processing") < seconds(phases, "transfer"),
        "{call}"
    );

    // Pooled: a later cycle reuses the connection, and says so.
    let mut reused = None;
    for _ in 0..20 {
        let pooled = tenant_json(&daemon, "pooled").await;
        let phases = pooled["token"]["phases"].clone();
        if phases["reused_connection"] == true {
            reused = Some(phases);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let reused = reused.expect("the pooled tenant never reused a connection");
    for phase in ["dns", "connect", "tls"] {
        assert_eq!(seconds(&reused, phase), 0.0, "{reused}");
    }

    // fresh_connections: every cycle opens its own connection.
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let fresh = tenant_json(&daemon, "fresh").await;
        for phases in [&fresh["token"]["phases"], &fresh["endpoints"][0]["phases"]] {
            assert_eq!(phases["reused_connection"], false, "{fresh}");
            assert!(seconds(phases, "connect") > 0.0, "{fresh}");
        }
        let at = fresh["token"]["checked_at"].as_f64().unwrap();
        if !seen.contains(&at.to_bits()) {
            seen.push(at.to_bits());
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }

    // The page shows each step's phases.
    let (status, page) = daemon.get("/tenants/slow").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"phases\""), "{page}");
    for phase in PHASES {
        assert!(page.contains(&format!("data-phase=\"{phase}\"")), "{phase}");
    }
    assert!(page.contains("class=\"phase-processing\""), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_host_name_adds_dns_and_tls() {
    let (sim, cert) = support::start_tls_simulator(
        Scenario::from_yaml_str("clients: [{client_id: c, client_secret: s}]").unwrap(),
        None,
    )
    .await;
    let base = sim.base_url();
    assert!(base.starts_with("https://localhost:"), "{base}");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ca.pem", &cert);
    let daemon = Daemon::start_in(
        dir,
        &format!(
            "defaults: {{interval: 1s, timeout: 900ms, phase_metrics: true}}\ntenants:\n  - {{name: tls, ca_file: ca.pem, fresh_connections: true, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: c, client_secret: s{WORKFLOWS}}}\n"
        ),
        &[],
    );
    let text = daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            value(t, "credprobe_endpoint_success", &[("tenant", "tls")]) == Some(1.0)
        })
        .await;
    for phase in ["dns", "connect", "tls"] {
        let token = value(
            &text,
            "credprobe_token_phase_seconds",
            &[("tenant", "tls"), ("phase", phase)],
        )
        .unwrap();
        assert!(token > 0.0, "token {phase}:\n{text}");
    }
    let view = tenant_json(&daemon, "tls").await;
    let call = &view["endpoints"][0];
    assert!(seconds(&call["phases"], "tls") > 0.0, "{call}");
    assert!(
        sum(&call["phases"]) <= call["latency_seconds"].as_f64().unwrap() + 1e-6,
        "{call}"
    );

    // fresh_connections means a full handshake every time: no session is
    // resumed, so the TLS phase is what a new client pays.
    daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            value(
                t,
                "credprobe_token_requests_total",
                &[("tenant", "tls"), ("result", "success")],
            )
            .is_some_and(|n| n >= 3.0)
        })
        .await;
    let handshakes: Vec<Option<bool>> = sim.requests().iter().map(|r| r.tls_resumed).collect();
    assert!(handshakes.len() >= 6, "{handshakes:?}");
    assert!(
        handshakes.iter().all(|resumed| *resumed == Some(false)),
        "every request of a fresh_connections tenant has a full handshake: {handshakes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_prints_each_steps_phases_on_request() {
    let sim = start_simulator(
        Scenario::from_yaml_str("clients: [{client_id: c, client_secret: s, api_delay: 200ms}]")
            .unwrap(),
    )
    .await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "credprobe.yml",
        &format!(
            "tenants:\n  - {{name: one, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: c, client_secret: s{WORKFLOWS}}}\n"
        ),
    );
    let config = config.to_str().unwrap().to_owned();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        support::run_binary(
            &["probe", "--config.file", &config, "--phases"],
            Duration::from_secs(30),
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("one: token OK"), "{out}");
    for (line, step) in lines[1..].iter().zip(["token", "workflows"]) {
        assert!(line.starts_with(&format!("  {step}: dns ")), "{out}");
        for phase in PHASES {
            assert!(line.contains(&format!("{phase} ")), "{phase}: {out}");
        }
        assert!(line.ends_with("(new connection)"), "{out}");
    }
    assert_eq!(lines.len(), 3, "{out}");
    let processing: f64 = lines[2]
        .split("processing ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        processing >= 200.0,
        "the API's 200 ms are processing: {out}"
    );
}
