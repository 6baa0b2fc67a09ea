//! credprobe against a real OAuth 2.0 server that no one here wrote:
//! panva/node-oidc-provider (npm `oidc-provider`, pinned in
//! tests/oidc-provider/package-lock.json, installed into
//! target/oidc-provider by scripts/install-oidc-provider when missing),
//! over https on 127.0.0.1, with a client per method. The real binary's
//! `credprobe probe` must get tokens with `private_key_jwt` (RS256 with
//! `kid`, ES256 with a certificate and `x5t#S256`) and `tls_client_auth`,
//! and read a wrong key and wrong certificates as `credentials_rejected`;
//! the daemon, given only the provider's `issuer:`, must discover its token
//! endpoint, get JWT access tokens (resource indicators, RFC 8707) and
//! verify them against the provider's published keys, `aud` included.
//!
//! Needs Node.js 20 or newer and npm; fails with an install hint without
//! them, never skips.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use credprobe_simulator::pki::{Issued, TestCa};

use crate::support::{Daemon, run_binary, value, write};

const RSA_A: &str = include_str!("../keys/example-rsa-a.pem");
const RSA_B: &str = include_str!("../keys/example-rsa-b.pem");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/oidc-provider, installed (again) when its lock file differs
/// from the committed one; the server script is copied every time.
fn installed() -> PathBuf {
    let root = root();
    let dest = root.join("target/oidc-provider");
    let wanted = std::fs::read(root.join("tests/oidc-provider/package-lock.json")).unwrap();
    let current = std::fs::read(dest.join("package-lock.json")).ok();
    let module = dest.join("node_modules/oidc-provider/package.json");
    if current.as_deref() != Some(wanted.as_slice()) || !module.is_file() {
        let output = Command::new(root.join("scripts/install-oidc-provider"))
            .output()
            .expect("scripts/install-oidc-provider runs");
        assert!(
            output.status.success(),
            "installing oidc-provider failed; this test needs Node.js 20+ and npm \
             (apt-get install nodejs npm) and the npm registry, then \
             scripts/install-oidc-provider:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::copy(
        root.join("tests/oidc-provider/server.mjs"),
        dest.join("server.mjs"),
    )
    .unwrap();
    dest
}

/// The running node process; killed when dropped.
struct OidcProvider {
    child: Child,
    port: u16,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, config: &serde_json::Value) -> OidcProvider {
    let install = installed();
    let config_path = write(dir, "oidc-provider.json", &config.to_string());
    let mut child = Command::new("node")
        .arg(install.join("server.mjs"))
        .arg(&config_path)
        .current_dir(&install)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts (apt-get install nodejs npm)");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = line.strip_prefix("listening ") {
                let _ = tx.send(port.trim().parse::<u16>().unwrap());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(port) => OidcProvider { child, port },
        Err(_) => {
            let _ = child.kill();
            panic!("oidc-provider did not start within 30 s");
        }
    }
}

fn write_pair(dir: &Path, name: &str, issued: &Issued) {
    write(dir, &format!("{name}.pem"), &issued.key_pem);
    write(dir, &format!("{name}.crt"), &issued.cert_pem);
}

#[test]
fn private_key_jwt_and_tls_client_auth_against_node_oidc_provider() {
    let later = SystemTime::now() + Duration::from_secs(30 * 86_400);
    let ca = TestCa::new("credprobe test CA").unwrap();
    let server = ca.server().unwrap();
    let ec = ca.client("ec-client", None, later).unwrap();
    let mtls = ca.client("client-a", None, later).unwrap();
    let other_subject = ca.client("client-b", None, later).unwrap();
    let stranger = TestCa::new("another CA")
        .unwrap()
        .client("client-a", None, later)
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_pair(d, "server", &server);
    write(d, "ca.pem", &ca.pem());
    write(d, "rsa-a.pem", RSA_A);
    write(d, "rsa-b.pem", RSA_B);
    write(
        d,
        "rsa-a.pub",
        &rcgen::KeyPair::from_pem(RSA_A).unwrap().public_key_pem(),
    );
    write_pair(d, "ec", &ec);
    write(
        d,
        "ec.pub",
        &rcgen::KeyPair::from_pem(&ec.key_pem)
            .unwrap()
            .public_key_pem(),
    );
    write_pair(d, "mtls", &mtls);
    write_pair(d, "other", &other_subject);
    write_pair(d, "stranger", &stranger);
    let path = |name: &str| d.join(name).to_string_lossy().into_owned();
    let provider = start(
        d,
        &serde_json::json!({
            "server_key": path("server.pem"),
            "server_cert": path("server.crt"),
            "client_ca": path("ca.pem"),
            "clients": [
                {"client_id": "jwt-rsa", "method": "private_key_jwt", "public_key": path("rsa-a.pub"), "kid": "rsa-1"},
                {"client_id": "jwt-ec", "method": "private_key_jwt", "public_key": path("ec.pub")},
                {"client_id": "mtls", "method": "tls_client_auth", "subject_dn": "CN=client-a"},
            ],
        }),
    );
    let token_url = format!("https://localhost:{}/token", provider.port);
    let tenant = |name: &str, client: &str, fields: &str| {
        format!(
            "  - {{name: {name}, ca_file: ca.pem, token_url: \"{token_url}\", client_id: {client}, {fields}}}\n"
        )
    };
    let jwt = |key: &str| format!("client_auth: private_key_jwt, client_key_file: {key}");
    let cert = |pair: &str| {
        format!(
            "client_auth: tls_client_auth, client_key_file: {pair}.pem, client_certificate_file: {pair}.crt"
        )
    };
    let config = [
        tenant(
            "jwt-rs256",
            "jwt-rsa",
            &format!("{}, client_assertion: {{key_id: rsa-1}}", jwt("rsa-a.pem")),
        ),
        tenant(
            "jwt-ps256",
            "jwt-rsa",
            &format!(
                "{}, client_assertion: {{key_id: rsa-1, algorithm: PS256}}",
                jwt("rsa-a.pem")
            ),
        ),
        tenant(
            "jwt-es256-x5t",
            "jwt-ec",
            &format!("{}, client_certificate_file: ec.crt", jwt("ec.pem")),
        ),
        tenant("jwt-wrong-key", "jwt-rsa", &jwt("rsa-b.pem")),
        tenant("mtls-ok", "mtls", &cert("mtls")),
        tenant("mtls-other-subject", "mtls", &cert("other")),
        tenant("mtls-other-ca", "mtls", &cert("stranger")),
    ]
    .concat();
    let config_path = write(d, "credprobe.yml", &format!("tenants:\n{config}"));
    let (code, stdout, stderr) = run_binary(
        &["probe", "--config.file", config_path.to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for name in ["jwt-rs256", "jwt-ps256", "jwt-es256-x5t", "mtls-ok"] {
        assert!(
            stdout.contains(&format!("{name}: token OK")),
            "{name} got no token:\n{stdout}\nstderr:\n{stderr}"
        );
    }
    for name in ["jwt-wrong-key", "mtls-other-subject", "mtls-other-ca"] {
        assert!(
            stdout.contains(&format!(
                "{name}: token FAILED: credentials_rejected (HTTP 401 invalid_client)"
            )),
            "{name} is not credentials_rejected:\n{stdout}\nstderr:\n{stderr}"
        );
    }
    drop(provider);
}

/// The JWT access tokens' audience (a resource indicator, RFC 8707).
const RESOURCE: &str = "https://api.credprobe.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_alone_discovers_the_endpoint_and_verifies_the_token_of_node_oidc_provider() {
    let later = SystemTime::now() + Duration::from_secs(30 * 86_400);
    let ca = TestCa::new("credprobe test CA").unwrap();
    let server = ca.server().unwrap();
    let mtls = ca.client("client-a", None, later).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_pair(d, "server", &server);
    write(d, "ca.pem", &ca.pem());
    write(d, "rsa-a.pem", RSA_A);
    write(
        d,
        "rsa-a.pub",
        &rcgen::KeyPair::from_pem(RSA_A).unwrap().public_key_pem(),
    );
    write_pair(d, "mtls", &mtls);
    let path = |name: &str| d.join(name).to_string_lossy().into_owned();
    let provider = start(
        d,
        &serde_json::json!({
            "server_key": path("server.pem"),
            "server_cert": path("server.crt"),
            "client_ca": path("ca.pem"),
            "clients": [
                {"client_id": "jwt-rsa", "method": "private_key_jwt", "public_key": path("rsa-a.pub"), "kid": "rsa-1"},
                {"client_id": "mtls", "method": "tls_client_auth", "subject_dn": "CN=client-a"},
            ],
            "resource": RESOURCE,
        }),
    );
    // No token_url: the provider's discovery document names it.
    let issuer = format!("https://localhost:{}", provider.port);
    let tenant = |name: &str, client: &str, fields: &str| {
        format!(
            "  - {{name: {name}, ca_file: ca.pem, issuer: \"{issuer}\", client_id: {client}, {fields}}}\n"
        )
    };
    let jwt = "client_auth: private_key_jwt, client_key_file: rsa-a.pem, client_assertion: {key_id: rsa-1}";
    let config = [
        "defaults: {interval: 2s, timeout: 1500ms}\ntenants:\n".to_owned(),
        tenant(
            "jwt",
            "jwt-rsa",
            &format!("{jwt}, expect_audience: [\"{RESOURCE}\"]"),
        ),
        tenant(
            "wrong-audience",
            "jwt-rsa",
            &format!("{jwt}, expect_audience: [\"https://another-api.test\"]"),
        ),
        tenant(
            "mtls",
            "mtls",
            &format!(
                "client_auth: tls_client_auth, client_key_file: mtls.pem, \
                 client_certificate_file: mtls.crt, expect_audience: [\"{RESOURCE}\"]"
            ),
        ),
    ]
    .concat();
    let daemon = Daemon::start_in(dir, &config, &[]);
    let tenants = ["jwt", "wrong-audience", "mtls"];
    let verified =
        |text: &str, tenant: &str| value(text, "credprobe_token_verified", &[("tenant", tenant)]);
    let text = daemon
        .wait_for_metrics(Duration::from_secs(60), |t| {
            tenants.iter().all(|tenant| verified(t, tenant).is_some())
        })
        .await;
    for tenant in tenants {
        assert_eq!(
            value(&text, "credprobe_token_success", &[("tenant", tenant)]),
            Some(1.0),
            "{tenant} got no token from the discovered endpoint:\n{text}\n{}",
            daemon.logs()
        );
    }
    let view = |tenant: &'static str| {
        let daemon = &daemon;
        async move {
            let (_, json) = daemon.get(&format!("/api/v1/tenants/{tenant}")).await;
            serde_json::from_str::<serde_json::Value>(&json).unwrap()
        }
    };
    for tenant in ["jwt", "mtls"] {
        let view = view(tenant).await;
        assert_eq!(verified(&text, tenant), Some(1.0), "{tenant}: {view}");
        assert_eq!(view["token"]["verification"]["reason"], "verified");
        assert_eq!(view["token"]["url"], format!("discovered from {issuer}"));
    }
    // A real provider's token for another audience than expected.
    assert_eq!(verified(&text, "wrong-audience"), Some(0.0), "{text}");
    let wrong = view("wrong-audience").await;
    let verification = &wrong["token"]["verification"];
    assert_eq!(verification["reason"], "wrong_audience", "{wrong}");
    assert!(
        verification["detail"].as_str().unwrap().contains(RESOURCE),
        "{verification}"
    );
    drop(daemon);
    drop(provider);
}
