//! Why a credential was rejected, and which scopes it holds, against the
//! simulator answering like Microsoft Entra ID: the reason on /metrics, in
//! the JSON, on the page and in the log; each expected scope granted or
//! not, from the response or from the JWT's claims only; the `probe`
//! report naming a missing scope.

use std::time::Duration;

use credprobe_simulator::Scenario;
use serde_json::Value;

use crate::support::{self, Daemon, run_binary, start_simulator, value, write};

const GUID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn scenario() -> Scenario {
    Scenario::from_yaml_str(
        "clients:\n\
         \x20 - {client_id: expired, entra_refusal: expired_secret}\n\
         \x20 - {client_id: wrong, entra_refusal: invalid_secret}\n\
         \x20 - {client_id: gone, entra_refusal: unknown_client}\n\
         \x20 - {client_id: off, entra_refusal: disabled}\n\
         \x20 - {client_id: plain-401, revoked: true}\n\
         \x20 - {client_id: scoped, granted_scopes: [Workflows.Read, Data.Read]}\n\
         \x20 - {client_id: jwt-only, granted_scopes: [Workflows.Read], scope_in_response: false}\n",
    )
    .unwrap()
}

fn config(base: &str) -> String {
    let entra = |name: &str, extra: &str| {
        format!(
            "  - {{name: {name}, entra: {{tenant_id: {GUID}, resource: 'https://graph.microsoft.com'}}, \
             token_url: \"{base}/{GUID}/oauth2/v2.0/token\", base_url: \"{base}\", \
             client_id: {name}, client_secret: {name}-secret{extra}}}\n"
        )
    };
    let mut text = String::from("defaults: {interval: 1s, timeout: 500ms}\ntenants:\n");
    for name in ["expired", "wrong", "gone", "off", "plain-401"] {
        text.push_str(&entra(name, ", endpoints: []"));
    }
    text.push_str(&entra(
        "scoped",
        ", expect_scopes: [Workflows.Read, RemoteActions.Read], endpoints: [{name: workflows, path: /api/v1/workflows}]",
    ));
    text.push_str(&entra(
        "jwt-only",
        ", expect_scopes: [Workflows.Read], endpoints: []",
    ));
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_reasons_and_granted_scopes_reach_every_view() {
    let sim = start_simulator(scenario()).await;
    let daemon = Daemon::start(&config(&sim.base_url()), &[]);
    let text = daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            [
                "expired",
                "wrong",
                "gone",
                "off",
                "plain-401",
                "scoped",
                "jwt-only",
            ]
            .iter()
            .all(|tenant| {
                support::sum(t, "credprobe_token_requests_total", &[("tenant", tenant)]) >= 2.0
            })
        })
        .await;
    for (tenant, reason) in [
        ("expired", "expired"),
        ("wrong", "invalid_secret"),
        ("gone", "unknown_client"),
        ("off", "disabled"),
        ("plain-401", "other"),
    ] {
        assert_eq!(
            value(
                &text,
                "credprobe_token_rejection_reason",
                &[("tenant", tenant), ("reason", reason)]
            ),
            Some(1.0),
            "{tenant}: {text}"
        );
        let (_, json) = daemon.get(&format!("/api/v1/tenants/{tenant}")).await;
        let view: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(view["token"]["result"], "credentials_rejected", "{view}");
        assert_eq!(view["token"]["rejection_reason"], reason, "{view}");
        let (_, page) = daemon.get(&format!("/tenants/{tenant}")).await;
        assert!(page.contains(&format!("(reason: {reason})")), "{page}");
    }
    // Entra's codes show in the detail; its description never does.
    let (_, json) = daemon.get("/api/v1/tenants/expired").await;
    assert!(
        json.contains("HTTP 401 invalid_client (AADSTS7000222)"),
        "{json}"
    );
    assert!(
        !json.contains("are expired"),
        "the description is not kept: {json}"
    );
    assert!(
        daemon.logs().contains("reason=expired"),
        "{}",
        daemon.logs()
    );
    // No reason series for tenants that are not rejected.
    assert_eq!(
        value(
            &text,
            "credprobe_token_rejection_reason",
            &[("tenant", "scoped")]
        ),
        None
    );

    // Scopes: granted or not, from the response's scope or the claims alone.
    for (tenant, scope, granted) in [
        ("scoped", "Workflows.Read", 1.0),
        ("scoped", "RemoteActions.Read", 0.0),
        ("jwt-only", "Workflows.Read", 1.0),
    ] {
        assert_eq!(
            value(
                &text,
                "credprobe_token_scope_granted",
                &[("tenant", tenant), ("scope", scope)]
            ),
            Some(granted),
            "{tenant} {scope}: {text}"
        );
    }
    let (_, json) = daemon.get("/api/v1/tenants/scoped").await;
    let view: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        view["token"]["granted_scopes"],
        serde_json::json!(["Data.Read", "Workflows.Read"])
    );
    assert_eq!(
        view["token"]["expected_scopes"],
        serde_json::json!([
            {"scope": "Workflows.Read", "granted": true},
            {"scope": "RemoteActions.Read", "granted": false}
        ])
    );
    let (_, page) = daemon.get("/tenants/scoped").await;
    assert!(page.contains("✗ RemoteActions.Read missing"), "{page}");
    assert!(page.contains("granted: Data.Read Workflows.Read"), "{page}");
    let (_, overview) = daemon.get("/").await;
    assert!(
        overview.contains("scope missing: RemoteActions.Read"),
        "{overview}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_report_names_missing_scopes_and_the_reason() {
    let sim = start_simulator(scenario()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "credprobe.yml", &config(&sim.base_url()));
    let path = path.to_str().unwrap().to_owned();
    let (code, stdout, stderr) = run_binary(
        &[
            "probe",
            "--config.file",
            &path,
            "--tenant",
            "scoped",
            "--tenant",
            "expired",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("scoped: token OK")
            && stdout.contains("scopes MISSING: RemoteActions.Read"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "expired: token FAILED: credentials_rejected (HTTP 401 invalid_client (AADSTS7000222))"
        ) && stdout.contains(", reason expired"),
        "{stdout}"
    );
}
