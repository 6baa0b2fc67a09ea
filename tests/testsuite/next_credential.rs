//! The next credential of a rotation in progress
//! (`next_client_secret_file`, `next_client_key_file`) on the real daemon
//! against the simulator: each cycle also requests a token with it;
//! `credprobe_next_credential_success`, the tenant page and the JSON say
//! whether it works, beside the current one and without touching it; a
//! 429 to it does not back off the current one; a rewritten next-secret
//! file is taken up; tenants without one have neither a series nor a JSON
//! field. A next `private_key_jwt` key signs its own assertion (its `kid`
//! and `x5t#S256`), a next `tls_client_auth` certificate is presented by a
//! client of its own, and a broken next file turns
//! `credprobe_credential_files_ok` to 0 naming the file.

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

// ---- next_client_key_file: a key rotation --------------------------------

const RSA_A: &str = include_str!("../keys/example-rsa-a.pem");
const RSA_B: &str = include_str!("../keys/example-rsa-b.pem");

fn public_pem(private_pem: &str) -> String {
    rcgen::KeyPair::from_pem(private_pem)
        .unwrap()
        .public_key_pem()
}

fn later() -> std::time::SystemTime {
    std::time::SystemTime::now() + Duration::from_secs(30 * 86_400)
}

/// The JOSE header of the `client_assertion` of a recorded token request.
fn assertion_header(request: &credprobe_simulator::RecordedRequest) -> serde_json::Value {
    use base64::Engine as _;
    let assertion = url::form_urlencoded::parse(request.body.as_bytes())
        .find(|(name, _)| name == "client_assertion")
        .map(|(_, value)| value.into_owned())
        .expect("a client assertion");
    let header = assertion.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `x5t#S256` of a PEM certificate: base64url of the SHA-256 of its DER.
fn x5t_s256(pem: &str) -> String {
    use base64::Engine as _;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, &der);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_private_key_jwt_key_signs_its_own_assertion_and_a_key_not_registered_is_rejected() {
    let ca = credprobe_simulator::pki::TestCa::new("next key CA").unwrap();
    let (cert_a, cert_b) = (
        ca.client("jwt", Some(RSA_A), later()).unwrap(),
        ca.client("jwt", Some(RSA_B), later()).unwrap(),
    );
    let unregistered = ca.client("jwt", None, later()).unwrap();
    // The identity provider knows key A and, the rotation begun, key B.
    let mut client = credprobe_simulator::ClientBehaviour::new("jwt", "unused");
    client.public_key = Some(public_pem(RSA_A));
    client.additional_public_keys = vec![public_pem(RSA_B)];
    let sim = start_simulator(Scenario {
        clients: vec![client],
        ..Scenario::default()
    })
    .await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.pem", RSA_A);
    write(dir.path(), "a.crt", &cert_a.cert_pem);
    write(dir.path(), "b.pem", RSA_B);
    write(dir.path(), "b.crt", &cert_b.cert_pem);
    write(dir.path(), "c.pem", &unregistered.key_pem);
    write(dir.path(), "c.crt", &unregistered.cert_pem);
    let tenant = |name: &str, next: &str| {
        format!(
            "  - {{name: {name}, token_url: \"{base}/oauth2/token\", client_id: jwt, client_auth: private_key_jwt, client_key_file: a.pem, client_certificate_file: a.crt, client_assertion: {{key_id: key-a, next_key_id: key-{next}}}, next_client_key_file: {next}.pem, next_client_certificate_file: {next}.crt}}\n"
        )
    };
    let daemon = Daemon::start_in(
        dir,
        &format!(
            "defaults: {{interval: 1s, timeout: 800ms}}\ntenants:\n{}{}",
            tenant("rotating", "b"),
            tenant("unregistered", "c")
        ),
        &[],
    );
    let text = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            ["rotating", "unregistered"]
                .iter()
                .all(|tenant| value(t, NEXT, &[("tenant", tenant)]).is_some())
        })
        .await;
    assert_eq!(value(&text, NEXT, &[("tenant", "rotating")]), Some(1.0));
    assert_eq!(value(&text, NEXT, &[("tenant", "unregistered")]), Some(0.0));
    for tenant in ["rotating", "unregistered"] {
        assert_eq!(
            value(&text, "credprobe_token_success", &[("tenant", tenant)]),
            Some(1.0),
            "{tenant}: the current key works"
        );
    }
    let json = tenant_json(&daemon, "unregistered").await;
    assert_eq!(
        json["next_credential"]["result"], "credentials_rejected",
        "{json}"
    );
    assert_eq!(json["token"]["result"], "success", "{json}");
    // Each key's assertion names its own kid and certificate.
    let headers: Vec<serde_json::Value> = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/oauth2/token")
        .map(assertion_header)
        .collect();
    for (kid, certificate) in [
        ("key-a", &cert_a.cert_pem),
        ("key-b", &cert_b.cert_pem),
        ("key-c", &unregistered.cert_pem),
    ] {
        let header = headers
            .iter()
            .find(|h| h["kid"] == kid)
            .unwrap_or_else(|| panic!("no assertion with kid {kid}: {headers:?}"));
        assert_eq!(header["x5t#S256"], x5t_s256(certificate), "{kid}");
    }
    let (_, page) = daemon.get("/tenants/unregistered").await;
    assert!(
        !page.contains("PRIVATE KEY") && !json.to_string().contains("PRIVATE KEY"),
        "no key is shown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_tls_client_certificate_is_presented_by_its_own_client() {
    let ca = credprobe_simulator::pki::TestCa::new("next certificate CA").unwrap();
    let current = ca.client("client-a", None, later()).unwrap();
    // The same subject (what the provider registers), a new key.
    let renewed = ca.client("client-a", None, later()).unwrap();
    let other = ca.client("someone-else", None, later()).unwrap();
    let mut client = credprobe_simulator::ClientBehaviour::new("a", "unused");
    client.certificate = Some(current.cert_pem.clone());
    let server = ca.server().unwrap();
    let sim = credprobe_simulator::Simulator::start_mtls(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        Scenario {
            clients: vec![client],
            ..Scenario::default()
        },
        &server.cert_pem,
        &server.key_pem,
        &ca.pem(),
    )
    .await
    .unwrap();
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ca.pem", &ca.pem());
    for (name, issued) in [("a", &current), ("renewed", &renewed), ("other", &other)] {
        write(dir.path(), &format!("{name}.pem"), &issued.key_pem);
        write(dir.path(), &format!("{name}.crt"), &issued.cert_pem);
    }
    let tenant = |name: &str, next: &str| {
        format!(
            "  - {{name: {name}, ca_file: ca.pem, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: a, client_auth: tls_client_auth, client_key_file: a.pem, client_certificate_file: a.crt, next_client_key_file: {next}.pem, next_client_certificate_file: {next}.crt, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n"
        )
    };
    let daemon = Daemon::start_in(
        dir,
        &format!(
            "defaults: {{interval: 1s, timeout: 800ms}}\ntenants:\n{}{}",
            tenant("renewing", "renewed"),
            tenant("wrong-subject", "other")
        ),
        &[],
    );
    let text = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            ["renewing", "wrong-subject"]
                .iter()
                .all(|tenant| value(t, NEXT, &[("tenant", tenant)]).is_some())
        })
        .await;
    assert_eq!(value(&text, NEXT, &[("tenant", "renewing")]), Some(1.0));
    assert_eq!(
        value(&text, NEXT, &[("tenant", "wrong-subject")]),
        Some(0.0)
    );
    for tenant in ["renewing", "wrong-subject"] {
        assert_eq!(
            value(&text, "credprobe_tenant_success", &[("tenant", tenant)]),
            Some(1.0),
            "{tenant}: the current certificate, token and API call work: {text}"
        );
    }
    let json = tenant_json(&daemon, "wrong-subject").await;
    assert_eq!(
        json["next_credential"]["result"], "credentials_rejected",
        "{json}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_next_credential_file_counts_in_credential_files_ok_and_says_which() {
    let mut secret = credprobe_simulator::ClientBehaviour::new("c", "old");
    secret.additional_client_secrets = vec!["NEXT-SECRET-7".to_owned()];
    let mut jwt = credprobe_simulator::ClientBehaviour::new("jwt", "unused");
    jwt.public_key = Some(public_pem(RSA_A));
    jwt.additional_public_keys = vec![public_pem(RSA_B)];
    let sim = start_simulator(Scenario {
        clients: vec![secret, jwt],
        ..Scenario::default()
    })
    .await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "current", "old\n");
    write(dir.path(), "next", "NEXT-SECRET-7\n");
    write(dir.path(), "a.pem", RSA_A);
    write(dir.path(), "b.pem", RSA_B);
    let daemon = Daemon::start_in(
        dir,
        &format!(
            "defaults: {{interval: 1s, timeout: 500ms}}\ntenants:\n  - {{name: secret, token_url: \"{base}/oauth2/token\", client_id: c, client_secret_file: current, next_client_secret_file: next}}\n  - {{name: key, token_url: \"{base}/oauth2/token\", client_id: jwt, client_auth: private_key_jwt, client_key_file: a.pem, next_client_key_file: b.pem}}\n"
        ),
        &[],
    );
    let files_ok =
        |t: &str, tenant: &str| value(t, "credprobe_credential_files_ok", &[("tenant", tenant)]);
    let text = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            value(t, NEXT, &[("tenant", "secret")]).is_some()
                && value(t, NEXT, &[("tenant", "key")]).is_some()
        })
        .await;
    assert_eq!(files_ok(&text, "secret"), Some(1.0), "{text}");
    assert_eq!(files_ok(&text, "key"), Some(1.0), "{text}");

    // The next secret deleted, the next key overwritten with what is no key.
    let next = daemon.dir.path().join("next");
    let key = daemon.dir.path().join("b.pem");
    std::fs::remove_file(&next).unwrap();
    std::fs::write(&key, "not a key\n").unwrap();
    let text = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            files_ok(t, "secret") == Some(0.0) && files_ok(t, "key") == Some(0.0)
        })
        .await;
    for (tenant, path) in [("secret", &next), ("key", &key)] {
        let json = tenant_json(&daemon, tenant).await;
        let files = &json["credential_files"];
        assert_eq!(files["ok"], false, "{json}");
        assert_eq!(
            files["problem"]["file"],
            path.display().to_string(),
            "{json}"
        );
        assert!(files["problem"]["since"].is_number(), "{json}");
        assert!(
            files["problem"]["why"]
                .as_str()
                .is_some_and(|why| why.contains(&path.display().to_string())),
            "{json}"
        );
        assert_eq!(
            json["warnings"],
            serde_json::json!(["credential_file_unreadable"]),
            "{json}"
        );
        let (_, page) = daemon.get(&format!("/tenants/{tenant}")).await;
        assert!(page.contains(&path.display().to_string()), "{page}");
    }
    // The current credentials are untouched.
    for tenant in ["secret", "key"] {
        assert_eq!(
            value(&text, "credprobe_token_success", &[("tenant", tenant)]),
            Some(1.0),
            "{tenant}"
        );
    }

    // Back: 1 again.
    std::fs::write(&next, "NEXT-SECRET-7\n").unwrap();
    std::fs::write(&key, RSA_B).unwrap();
    daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            files_ok(t, "secret") == Some(1.0) && files_ok(t, "key") == Some(1.0)
        })
        .await;
}
