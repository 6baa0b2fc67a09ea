//! The token endpoint discovered from `issuer:` against the simulator:
//! each authority's document (the root, Nexthink's login, an Entra ID
//! directory), RFC 8414's when OpenID's is 404, a `private_key_jwt`
//! assertion for the discovered endpoint, an explicit `token_url` winning,
//! one document per issuer read at most hourly for every tenant and for
//! verification; and every way discovery fails as its own token result,
//! `discovery_failed`, with nothing sent; `check-config` on the new rule.

use std::time::Duration;

use credprobe_simulator::pki::TestCa;
use credprobe_simulator::{ClientBehaviour, Scenario, Simulator};
use serde_json::Value;

use crate::support::{Daemon, run_binary, start_simulator, value, write};

const RSA_A: &str = include_str!("../keys/example-rsa-a.pem");
const GUID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn scenario(extra: &str) -> Scenario {
    let mut scenario = Scenario::from_yaml_str(&format!(
        "{extra}clients:\n\
         \x20 - {{client_id: good, client_secret: s}}\n\
         \x20 - {{client_id: login, client_secret: s}}\n\
         \x20 - {{client_id: entra, client_secret: s}}\n\
         \x20 - {{client_id: explicit, client_secret: s}}\n"
    ))
    .unwrap();
    let mut jwt = ClientBehaviour::new("jwt", "unused");
    jwt.public_key = Some(rcgen::KeyPair::from_pem(RSA_A).unwrap().public_key_pem());
    scenario.clients.push(jwt);
    scenario
}

async fn tenant_json(daemon: &Daemon, tenant: &str) -> Value {
    let (status, json) = daemon.get(&format!("/api/v1/tenants/{tenant}")).await;
    assert_eq!(status, 200, "{json}");
    serde_json::from_str(&json).unwrap()
}

fn token_count(text: &str, tenant: &str, result: &str) -> f64 {
    value(
        text,
        "credprobe_token_requests_total",
        &[("tenant", tenant), ("result", result)],
    )
    .unwrap_or(0.0)
}

/// The paths `sim` was asked for by `client`, token requests only.
fn token_posts(sim: &Simulator, client: &str) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.client_id.as_deref() == Some(client))
        .map(|r| r.path)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_alone_finds_the_token_endpoint_read_at_most_hourly() {
    let sim = start_simulator(scenario("")).await;
    let base = sim.base_url();
    let fallback =
        start_simulator(scenario("discovery: {openid_configuration: not_found}\n")).await;
    let fallback_base = fallback.base_url();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "jwt.pem", RSA_A);
    let entra_issuer = format!("{base}/{GUID}/v2.0");
    let config = format!(
        "defaults: {{interval: 1s, timeout: 800ms}}\ntenants:\n\
         \x20 - {{name: root, issuer: \"{base}\", client_id: good, client_secret: s, \
         base_url: \"{base}\", endpoints: [{{name: w, path: /api/v1/workflows}}]}}\n\
         \x20 - {{name: login, issuer: \"{base}/oauth2/default\", client_id: login, client_secret: s}}\n\
         \x20 - {{name: entra, issuer: \"{entra_issuer}\", client_id: entra, client_secret: s, \
         client_auth: post}}\n\
         \x20 - {{name: jwt, issuer: \"{entra_issuer}\", client_id: jwt, \
         client_auth: private_key_jwt, client_key_file: jwt.pem}}\n\
         \x20 - {{name: explicit, issuer: \"{base}\", token_url: \"{base}/oauth2/default/v1/token\", \
         client_id: explicit, client_secret: s}}\n\
         \x20 - {{name: rfc8414, issuer: \"{fallback_base}\", client_id: good, client_secret: s}}\n"
    );
    let daemon = Daemon::start_in(dir, &config, &[]);
    let tenants = ["root", "login", "entra", "jwt", "explicit", "rfc8414"];
    // Several cycles of every tenant.
    let text = daemon
        .wait_for_metrics(Duration::from_secs(30), |t| {
            tenants
                .iter()
                .all(|tenant| token_count(t, tenant, "success") >= 4.0)
        })
        .await;
    for tenant in tenants {
        assert_eq!(
            value(&text, "credprobe_token_success", &[("tenant", tenant)]),
            Some(1.0),
            "{tenant}: {text}"
        );
        assert_eq!(token_count(&text, tenant, "discovery_failed"), 0.0);
    }
    // Each went to the endpoint its issuer's document names...
    let only = |paths: Vec<String>, want: &str| {
        assert!(
            !paths.is_empty() && paths.iter().all(|p| p == want),
            "{want}: {paths:?}"
        );
    };
    only(token_posts(&sim, "good"), "/oauth2/token");
    only(token_posts(&sim, "login"), "/oauth2/default/v1/token");
    only(
        token_posts(&sim, "entra"),
        &format!("/{GUID}/oauth2/v2.0/token"),
    );
    // ...the assertion names that endpoint as its audience (the simulator
    // refuses any other)...
    only(
        token_posts(&sim, "jwt"),
        &format!("/{GUID}/oauth2/v2.0/token"),
    );
    // ...and an explicit token_url wins over the issuer's document.
    only(token_posts(&sim, "explicit"), "/oauth2/default/v1/token");
    only(token_posts(&fallback, "good"), "/oauth2/token");
    // The endpoints are called with the token.
    assert_eq!(
        value(
            &text,
            "credprobe_endpoint_success",
            &[("tenant", "root"), ("endpoint", "w")]
        ),
        Some(1.0),
        "{text}"
    );
    let root = tenant_json(&daemon, "root").await;
    assert_eq!(root["token"]["url"], format!("discovered from {base}"));
    assert_eq!(
        root["token"]["verification"]["reason"], "verified",
        "{root}"
    );
    // One document per issuer over every cycle, shared by the tenants
    // naming it and by verification: at most hourly, not per cycle.
    let requests = sim.requests();
    let count = |path: &str| requests.iter().filter(|r| r.path == path).count();
    assert_eq!(count("/.well-known/openid-configuration"), 1);
    assert_eq!(count("/oauth2/default/.well-known/openid-configuration"), 1);
    assert_eq!(
        count(&format!("/{GUID}/v2.0/.well-known/openid-configuration")),
        1
    );
    // RFC 8414's document when OpenID's is 404, once each.
    let requests = fallback.requests();
    let count = |path: &str| requests.iter().filter(|r| r.path == path).count();
    assert_eq!(count("/.well-known/openid-configuration"), 1);
    assert_eq!(count("/.well-known/oauth-authorization-server"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_discovery_is_its_own_result_and_nothing_is_sent() {
    let failing = [
        (
            "status",
            "openid_configuration: server_error",
            "answered HTTP 500",
        ),
        (
            "garbage",
            "openid_configuration: invalid_json",
            "not a JSON object",
        ),
        (
            "no-endpoint",
            "openid_configuration: no_token_endpoint",
            "names no http(s) token_endpoint",
        ),
        (
            "neither",
            "{openid_configuration: not_found, oauth_authorization_server: not_found}",
            "oauth-authorization-server answered HTTP 404",
        ),
    ];
    let mut sims = Vec::new();
    for (_, knob, _) in failing {
        let knob = if knob.starts_with('{') {
            knob.to_owned()
        } else {
            format!("{{{knob}}}")
        };
        sims.push(start_simulator(scenario(&format!("discovery: {knob}\n"))).await);
    }
    // tls_client_auth must not be sent a certificate over plain http, even
    // to an endpoint discovered on this machine.
    let plain = start_simulator(scenario("")).await;
    let ca = TestCa::new("test CA").unwrap();
    let later = std::time::SystemTime::now() + Duration::from_secs(30 * 86_400);
    let client = ca.client("client-a", None, later).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mtls.pem", &client.key_pem);
    write(dir.path(), "mtls.crt", &client.cert_pem);
    let mut config = String::from("defaults: {interval: 1s, timeout: 800ms}\ntenants:\n");
    for ((name, _, _), sim) in failing.iter().zip(&sims) {
        let base = sim.base_url();
        config.push_str(&format!(
            "  - {{name: {name}, issuer: \"{base}\", client_id: good, client_secret: s, \
             base_url: \"{base}\", endpoints: [{{name: w, path: /api/v1/workflows}}]}}\n"
        ));
    }
    let plain_base = plain.base_url();
    config.push_str(&format!(
        "  - {{name: mtls, issuer: \"{plain_base}\", client_id: good, \
         client_auth: tls_client_auth, client_key_file: mtls.pem, \
         client_certificate_file: mtls.crt}}\n"
    ));
    let daemon = Daemon::start_in(dir, &config, &[]);
    let names: Vec<&str> = failing
        .iter()
        .map(|(name, _, _)| *name)
        .chain(["mtls"])
        .collect();
    let text = daemon
        .wait_for_metrics(Duration::from_secs(30), |t| {
            names
                .iter()
                .all(|tenant| token_count(t, tenant, "discovery_failed") >= 2.0)
        })
        .await;
    let mut expected: Vec<(&str, String, String)> = failing
        .iter()
        .zip(&sims)
        .map(|((name, _, says), sim)| (*name, sim.base_url(), (*says).to_owned()))
        .collect();
    expected.push((
        "mtls",
        plain_base.clone(),
        format!(
            "token_endpoint {plain_base}/oauth2/token is not https, which client_auth: \
             tls_client_auth needs"
        ),
    ));
    for (name, base, says) in &expected {
        let name = *name;
        assert_eq!(token_count(&text, name, "success"), 0.0, "{name}");
        assert_eq!(
            value(&text, "credprobe_tenant_success", &[("tenant", name)]),
            Some(0.0),
            "{name}: {text}"
        );
        let view = tenant_json(&daemon, name).await;
        let token = &view["token"];
        assert_eq!(token["result"], "discovery_failed", "{name}: {view}");
        assert_eq!(view["state"], "idp_down", "{name}: {view}");
        let detail = token["detail"].as_str().unwrap();
        assert!(
            detail.contains(base.as_str()) && detail.contains(says.as_str()),
            "{name}: {detail:?} should name {base} and say {says:?}"
        );
        if name != "mtls" {
            // The endpoint was not called: there is no token.
            assert_eq!(view["endpoints"][0]["result"], "no_token", "{name}: {view}");
        }
    }
    // No token request and no API call reached any of them.
    for sim in sims.iter().chain([&plain]) {
        let sent: Vec<String> = sim
            .requests()
            .into_iter()
            .filter(|r| !r.path.contains("/.well-known/"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(sent.is_empty(), "{sent:?}");
    }
    // A failed document is asked again no sooner than a minute later,
    // whatever the interval: one fetch so far per simulator.
    let fetches = sims[0]
        .requests()
        .iter()
        .filter(|r| r.path == "/.well-known/openid-configuration")
        .count();
    assert_eq!(fetches, 1);
}

#[test]
fn check_config_takes_an_issuer_for_the_token_url_and_wants_one_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write(
        dir.path(),
        "ok.yml",
        "tenants:\n  - {name: acme, issuer: \"https://idp.example.com/tenant\", client_id: a, \
         client_secret_file: secret}\n",
    );
    write(dir.path(), "secret", "s\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            dir.path().join("secret"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let (code, stdout, stderr) = run_binary(
        &["check-config", "--config.file", ok.to_str().unwrap()],
        Duration::from_secs(20),
    );
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let neither = write(
        dir.path(),
        "neither.yml",
        "tenants:\n  - {name: acme, client_id: a, client_secret_file: secret}\n",
    );
    let (code, stdout, stderr) = run_binary(
        &["check-config", "--config.file", neither.to_str().unwrap()],
        Duration::from_secs(20),
    );
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.contains("tenant acme: token_url: "))
        .unwrap_or_else(|| panic!("no token_url problem:\n{stderr}"));
    assert!(
        line.contains(&format!("{}:2:", neither.display())) && line.contains("issuer:"),
        "{line}"
    );
}
