//! The Entra credential inventory (`entra.credential_inventory`) against
//! the simulator's Graph: the secret in use matched by its hint and the
//! certificate by its thumbprint (not the earliest, not the notAfter), the
//! latest expiry of all, a 403 naming the missing permission on the JSON,
//! the page and once in the log, at most one Graph reading per hour, and
//! no series for a tenant without the inventory.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use credprobe_simulator::Scenario;
use credprobe_simulator::pki::{TestCa, days};
use serde_json::Value;

use crate::support::{self, Daemon, start_simulator, value, write};

const GUID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const RSA_A: &str = include_str!("../keys/example-rsa-a.pem");

fn in_days(n: u64) -> f64 {
    (SystemTime::now() + days(n))
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn near(actual: Option<f64>, expected: f64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what}: no value"));
    assert!(
        (actual - expected).abs() < 600.0,
        "{what}: {actual} is not {expected}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_of_the_credential_in_use_and_the_latest_from_graph() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("inventory test CA").unwrap();
    let in_use = ca
        .client("jwt", Some(RSA_A), SystemTime::now() + days(200))
        .unwrap();
    let other = ca
        .client("other", None, SystemTime::now() + days(300))
        .unwrap();
    write(dir.path(), "jwt.pem", &in_use.key_pem);
    let jwt_crt = write(dir.path(), "jwt.crt", &in_use.cert_pem);
    let other_crt = write(dir.path(), "other.crt", &other.cert_pem);
    let public = rcgen::KeyPair::from_pem(RSA_A).unwrap().public_key_pem();
    let public_pem = write(dir.path(), "jwt.pub", &public);
    let scenario = Scenario::from_yaml_str(&format!(
        "clients:\n\
         \x20 - client_id: two-secrets\n\
         \x20   client_secret: new-secret-b\n\
         \x20   app_credentials:\n\
         \x20     - {{type: secret, secret: old-secret-a, expires: in 5d}}\n\
         \x20     - {{type: secret, secret: new-secret-b, expires: in 40d}}\n\
         \x20     - {{type: secret, secret: xyz-later, expires: in 90d}}\n\
         \x20 - client_id: certified\n\
         \x20   public_key: {public}\n\
         \x20   certificate: {jwt_crt}\n\
         \x20   app_credentials:\n\
         \x20     - {{type: certificate, certificate: {other_crt}, expires: in 3d}}\n\
         \x20     - {{type: certificate, expires: in 50d}}\n\
         \x20 - {{client_id: no-permission, client_secret: np-secret, graph_permission: false}}\n\
         \x20 - {{client_id: plain, client_secret: plain-secret}}\n",
        public = public_pem.display(),
        jwt_crt = jwt_crt.display(),
        other_crt = other_crt.display(),
    ))
    .unwrap();
    let sim = start_simulator(scenario).await;
    let base = sim.base_url();
    let tenant = |name: &str, inventory: bool, extra: &str| {
        format!(
            "  - {{name: {name}, entra: {{tenant_id: {GUID}, resource: 'api://credprobe-test', \
             credential_inventory: {inventory}{graph}}}, token_url: \"{base}/{GUID}/oauth2/v2.0/token\", \
             client_id: {name}, endpoints: []{extra}}}\n",
            graph = if inventory {
                format!(", graph_url: \"{base}\"")
            } else {
                String::new()
            },
        )
    };
    let mut config = String::from("defaults: {interval: 1s, timeout: 800ms}\ntenants:\n");
    config.push_str(&tenant(
        "two-secrets",
        true,
        ", client_secret: new-secret-b",
    ));
    config.push_str(&tenant(
        "certified",
        true,
        ", client_auth: private_key_jwt, client_key_file: jwt.pem, client_certificate_file: jwt.crt",
    ));
    config.push_str(&tenant("no-permission", true, ", client_secret: np-secret"));
    config.push_str(&tenant("plain", false, ", client_secret: plain-secret"));
    let daemon = Daemon::start_in(dir, &config, &[]);
    let names = ["two-secrets", "certified", "no-permission", "plain"];
    let text = daemon
        .wait_for_metrics(Duration::from_secs(30), |t| {
            names.iter().all(|tenant| {
                support::sum(
                    t,
                    "credprobe_token_requests_total",
                    &[("tenant", tenant), ("result", "success")],
                ) >= 4.0
            })
        })
        .await;
    let expiry = |tenant: &str| {
        value(
            &text,
            "credprobe_credential_expiry_timestamp_seconds",
            &[("tenant", tenant)],
        )
    };
    let latest = |tenant: &str| {
        value(
            &text,
            "credprobe_credential_latest_expiry_timestamp_seconds",
            &[("tenant", tenant)],
        )
    };
    // The secret in use by its hint ("new"), not the earliest ("old").
    near(expiry("two-secrets"), in_days(40), "secret in use");
    near(
        latest("two-secrets"),
        in_days(90),
        "latest of three secrets",
    );
    // The certificate in use by its thumbprint: Graph's end date, not the
    // other certificate's and not the notAfter.
    near(expiry("certified"), in_days(50), "certificate in use");
    near(latest("certified"), in_days(50), "latest certificate");
    // No inventory, no series; a 403, no latest series.
    assert_eq!(expiry("plain"), None);
    assert_eq!(latest("plain"), None);
    assert_eq!(latest("no-permission"), None);
    assert_eq!(expiry("no-permission"), None);

    // The 403 names the missing permission on the JSON and the page.
    let (status, body) = daemon.get("/api/v1/tenants/no-permission").await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&body).unwrap();
    let inventory = &json["credential_inventory"];
    assert_eq!(inventory["result"], "forbidden", "{json}");
    assert_eq!(inventory["missing_permission"], "Application.Read.All");
    let (_, page) = daemon.get("/tenants/no-permission").await;
    assert!(page.contains("Application.Read.All"), "{page}");
    // The others: rotation started where a later credential exists.
    let (_, body) = daemon.get("/api/v1/tenants/two-secrets").await;
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["credential_inventory"]["result"], "ok", "{json}");
    assert_eq!(json["credential_inventory"]["rotation_started"], true);
    assert_eq!(json["credential_inventory"]["in_use_matched"], true);
    let (_, page) = daemon.get("/tenants/two-secrets").await;
    assert!(page.contains("rotation started"), "{page}");
    let (_, body) = daemon.get("/api/v1/tenants/plain").await;
    let json: Value = serde_json::from_str(&body).unwrap();
    assert!(json.get("credential_inventory").is_none(), "{json}");

    // One Graph reading (and one Graph token) per tenant over 4+ cycles.
    let requests = sim.requests();
    for tenant in ["two-secrets", "certified", "no-permission"] {
        let graph = requests
            .iter()
            .filter(|r| r.path.starts_with("/v1.0/") && r.client_id.as_deref() == Some(tenant))
            .count();
        assert_eq!(graph, 1, "Graph calls of {tenant}");
        let graph_tokens = requests
            .iter()
            .filter(|r| {
                r.client_id.as_deref() == Some(tenant)
                    && r.body.contains("graph.microsoft.com%2F.default")
            })
            .count();
        assert_eq!(graph_tokens, 1, "Graph tokens of {tenant}");
    }
    assert!(
        !requests
            .iter()
            .any(|r| r.path.starts_with("/v1.0/") && r.client_id.as_deref() == Some("plain"))
    );
    // The 403 is logged once, naming the permission.
    let logs = daemon.logs();
    assert_eq!(
        logs.lines()
            .filter(|line| line.contains("Application.Read.All"))
            .count(),
        1,
        "{logs}"
    );
}
