//! `private_key_jwt` and `tls_client_auth` end to end, against the
//! simulator: what goes over the wire, refusals read as
//! `credentials_rejected`, the certificate's expiry exported and following
//! a rotated certificate, rotated keys used without a restart, and no key
//! or assertion in any output at trace level.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credprobe_simulator::pki::{Issued, TestCa};
use credprobe_simulator::{ClientBehaviour, RecordedRequest, Scenario, Simulator};
use serde_json::Value;

use crate::support::{self, Daemon, run_binary, start_simulator, sum, value, write};

const RSA_A: &str = include_str!("../keys/example-rsa-a.pem");
const RSA_A_PKCS1: &str = include_str!("../keys/example-rsa-a-pkcs1.pem");
const RSA_B: &str = include_str!("../keys/example-rsa-b.pem");
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn public_pem(private_pem: &str) -> String {
    rcgen::KeyPair::from_pem(private_pem)
        .unwrap()
        .public_key_pem()
}

fn unix(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH).unwrap().as_secs() as f64
}

fn day(y: i32, m: u8, d: u8) -> SystemTime {
    humantime::parse_rfc3339(&format!("{y:04}-{m:02}-{d:02}T00:00:00Z")).unwrap()
}

/// A client of the simulator that signs with `key_pem`.
fn jwt_client(id: &str, key_pem: &str) -> ClientBehaviour {
    let mut client = ClientBehaviour::new(id, "unused");
    client.public_key = Some(public_pem(key_pem));
    client
}

fn form(request: &RecordedRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.body.as_bytes())
        .into_owned()
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn jwt_part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn probe(dir: &Path, config: &str) -> (i32, String, String) {
    let path = write(dir, "credprobe.yml", config);
    run_binary(
        &["probe", "--config.file", path.to_str().unwrap()],
        Duration::from_secs(30),
    )
}

/// Writes a key and its certificate as `{name}.pem` and `{name}.crt`.
fn write_pair(dir: &Path, name: &str, issued: &Issued) {
    write(dir, &format!("{name}.pem"), &issued.key_pem);
    write(dir, &format!("{name}.crt"), &issued.cert_pem);
}

/// Replaces a file the Kubernetes way: a new file renamed over it.
fn replace(path: &Path, text: &str) {
    let next = path.with_extension("next");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, path).unwrap();
}

/// An mTLS simulator whose server certificate and client CA are `ca`'s.
async fn start_mtls(ca: &TestCa, scenario: Scenario) -> Simulator {
    let server = ca.server().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Simulator::start_mtls(
        listener,
        scenario,
        &server.cert_pem,
        &server.key_pem,
        &ca.pem(),
    )
    .await
    .unwrap()
}

/// A configuration of `tls_client_auth` tenants as client `a` of `base`,
/// trusting `ca.pem`, each `(name, files)` presenting `{files}.pem` and
/// `{files}.crt`.
fn mtls_tenants(base: &str, tenants: &[(&str, &str)]) -> String {
    let mut config = String::from("tenants:\n");
    for (name, files) in tenants {
        config.push_str(&format!(
            "  - {{name: {name}, ca_file: ca.pem, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: a, client_auth: tls_client_auth, client_key_file: {files}.pem, client_certificate_file: {files}.crt, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n"
        ));
    }
    config
}

fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(30 * 86_400)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_sends_a_signed_assertion_and_no_secret() {
    let ca = TestCa::new("test CA").unwrap();
    let cert_a = ca.client("jwt-client", Some(RSA_A), later()).unwrap();
    let sim = start_simulator(Scenario {
        clients: vec![jwt_client("jwt", RSA_A)],
        ..Scenario::default()
    })
    .await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.pem", RSA_A);
    write(dir.path(), "a.crt", &cert_a.cert_pem);
    write(dir.path(), "a-pkcs1.pem", RSA_A_PKCS1);
    write(dir.path(), "b.pem", RSA_B);
    let tenant = |name: &str, key: &str, extra: &str| {
        format!(
            "  - {{name: {name}, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: jwt, client_auth: private_key_jwt, client_key_file: {key}, scopes: [read], endpoints: [{{name: workflows, path: /api/v1/workflows}}]{extra}}}\n"
        )
    };
    let config = format!(
        "tenants:\n{}{}{}",
        tenant(
            "signed",
            "a.pem",
            ", client_certificate_file: a.crt, client_assertion: {key_id: key-1}"
        ),
        tenant("pkcs1", "a-pkcs1.pem", ""),
        tenant("wrong-key", "b.pem", ""),
    );
    let (code, stdout, stderr) = probe(dir.path(), &config);
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    for name in ["signed", "pkcs1"] {
        assert!(
            stdout.contains(&format!("{name}: token OK")) && stdout.contains("workflows 200"),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("wrong-key: token FAILED: credentials_rejected (HTTP 401 invalid_client)"),
        "{stdout}"
    );

    let requests = sim.requests();
    // The tenants run concurrently: the one with a certificate sends x5t#S256.
    let token = requests
        .iter()
        .filter(|r| r.path == "/oauth2/token")
        .find(|r| {
            let form = form(r);
            let assertion = field(&form, "client_assertion").unwrap();
            jwt_part(assertion, 0).get("x5t#S256").is_some()
        })
        .expect("the token request of tenant signed");
    assert_eq!(
        token.header("authorization"),
        None,
        "no Basic header with an assertion"
    );
    let form = form(token);
    let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "grant_type",
            "scope",
            "client_id",
            "client_assertion_type",
            "client_assertion"
        ]
    );
    assert_eq!(field(&form, "grant_type"), Some("client_credentials"));
    assert_eq!(field(&form, "client_id"), Some("jwt"));
    assert_eq!(field(&form, "client_assertion_type"), Some(ASSERTION_TYPE));
    let assertion = field(&form, "client_assertion").unwrap();
    let header = jwt_part(assertion, 0);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "key-1");
    assert_eq!(header["x5t#S256"].as_str().unwrap().len(), 43);
    let claims = jwt_part(assertion, 1);
    assert_eq!(claims["aud"], format!("{base}/oauth2/token"));
    assert_eq!(claims["iss"], "jwt");
    assert_eq!(claims["sub"], "jwt");
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 60);
    // Every assertion is new.
    let jtis: std::collections::HashSet<String> = requests
        .iter()
        .filter(|r| r.path == "/oauth2/token")
        .map(|r| {
            jwt_part(field(&self::form(r), "client_assertion").unwrap(), 1)["jti"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), 3);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_auth_presents_the_certificate_to_the_token_endpoint_and_the_api() {
    let ca = TestCa::new("client CA").unwrap();
    let cert_a = ca.client("client-a", None, later()).unwrap();
    let other = ca.client("someone-else", None, later()).unwrap();
    let mut client_a = ClientBehaviour::new("a", "unused");
    client_a.certificate = Some(cert_a.cert_pem.clone());
    let sim = start_mtls(
        &ca,
        Scenario {
            clients: vec![client_a],
            ..Scenario::default()
        },
    )
    .await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ca.pem", &ca.pem());
    write_pair(dir.path(), "a", &cert_a);
    write_pair(dir.path(), "other", &other);
    let config = mtls_tenants(&base, &[("mtls", "a"), ("wrong-cert", "other")]);
    let (code, stdout, stderr) = probe(dir.path(), &config);
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("mtls: token OK") && stdout.contains("workflows 200"),
        "the token is bound to the certificate, so the API call presented it too: {stdout}"
    );
    assert!(
        stdout.contains("wrong-cert: token FAILED: credentials_rejected (HTTP 401 invalid_client)"),
        "{stdout}"
    );
    let requests = sim.requests();
    let token = requests.iter().find(|r| r.path == "/oauth2/token").unwrap();
    assert_eq!(token.header("authorization"), None);
    assert_eq!(token.body, "grant_type=client_credentials&client_id=a");
    sim.shutdown().await;
}

/// `credprobe simulate --tls.cert-file --tls.key-file --tls.client-ca-file`,
/// a real process, serves the same mTLS as `Simulator::start_mtls`: a
/// `tls_client_auth` tenant gets a bound token and calls the API with it,
/// another CA's certificate fails the handshake.
#[test]
fn the_simulate_command_serves_mtls_from_files() {
    let ca = TestCa::new("client CA").unwrap();
    let stranger_ca = TestCa::new("another CA").unwrap();
    let server = ca.server().unwrap();
    let client = ca.client("client-a", None, later()).unwrap();
    let stranger = stranger_ca.client("client-a", None, later()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ca.pem", &ca.pem());
    write_pair(dir.path(), "server", &server);
    write_pair(dir.path(), "a", &client);
    write_pair(dir.path(), "stranger", &stranger);
    write(
        dir.path(),
        "scenario.yml",
        &format!(
            "clients:\n  - {{client_id: a, certificate: \"{}\"}}\n",
            dir.path().join("a.crt").display()
        ),
    );
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let mut command = std::process::Command::new(support::binary());
    command.args([
        "simulate",
        "--listen",
        "127.0.0.1:0",
        "--scenario",
        &path("scenario.yml"),
        "--tls.cert-file",
        &path("server.crt"),
        "--tls.key-file",
        &path("server.pem"),
        "--tls.client-ca-file",
        &path("ca.pem"),
    ]);
    let (child, addr, log) = support::start_serving(command, Duration::from_secs(20));
    let _simulator = support::Process(child);
    let port = addr.rsplit(':').next().unwrap();
    assert!(
        log.lock().unwrap().contains("client_certificates=true"),
        "{}",
        log.lock().unwrap()
    );

    let base = format!("https://localhost:{port}");
    let config = mtls_tenants(&base, &[("mtls", "a"), ("stranger", "stranger")]);
    let (code, stdout, stderr) = probe(dir.path(), &config);
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("mtls: token OK") && stdout.contains("workflows 200"),
        "{stdout}"
    );
    assert!(
        stdout.contains("stranger: token FAILED"),
        "a certificate of another CA is refused in the handshake: {stdout}"
    );
}

#[test]
fn the_simulate_command_names_a_missing_tls_file_and_needs_both_halves() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.crt");
    let key = write(dir.path(), "server.pem", "not a key");
    let (code, _stdout, stderr) = run_binary(
        &[
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--tls.cert-file",
            missing.to_str().unwrap(),
            "--tls.key-file",
            key.to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    assert_ne!(code, 0);
    assert!(
        stderr.contains(&format!("--tls.cert-file {}", missing.display())),
        "{stderr}"
    );
    let (code, _stdout, stderr) = run_binary(
        &[
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--tls.key-file",
            key.to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(
        code, 2,
        "clap refuses a key without a certificate: {stderr}"
    );
    assert!(stderr.contains("--tls.cert-file"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_expiry_is_exported_and_rotated_keys_and_certificates_are_used() {
    let ca = TestCa::new("client CA").unwrap();
    let first = ca.client("client-a", None, day(2031, 1, 15)).unwrap();
    let second = ca.client("client-a2", None, day(2032, 2, 1)).unwrap();
    let jwt_cert = ca.client("jwt", Some(RSA_A), day(2030, 3, 1)).unwrap();
    let mut client_a = ClientBehaviour::new("a", "unused");
    client_a.certificate = Some(first.cert_pem.clone());
    let mtls = start_mtls(
        &ca,
        Scenario {
            clients: vec![client_a.clone()],
            ..Scenario::default()
        },
    )
    .await;
    let plain_scenario = |key: &str| Scenario {
        clients: vec![jwt_client("jwt", key), jwt_client("dated", RSA_A)],
        ..Scenario::default()
    };
    let plain = start_simulator(plain_scenario(RSA_A)).await;
    let (mtls_base, plain_base) = (mtls.base_url(), plain.base_url());
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ca.pem", &ca.pem());
    write_pair(dir.path(), "mtls", &first);
    write(dir.path(), "jwt.pem", RSA_A);
    write(dir.path(), "jwt.crt", &jwt_cert.cert_pem);
    let daemon = Daemon::start_in(
        dir,
        &format!(
            "defaults: {{interval: 1s, timeout: 800ms}}\ntenants:\n  - {{name: mtls, ca_file: ca.pem, base_url: \"{mtls_base}\", token_url: \"{mtls_base}/oauth2/token\", client_id: a, client_auth: tls_client_auth, client_key_file: mtls.pem, client_certificate_file: mtls.crt, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n  - {{name: jwt, token_url: \"{plain_base}/oauth2/token\", client_id: jwt, client_auth: private_key_jwt, client_key_file: jwt.pem}}\n  - {{name: dated, token_url: \"{plain_base}/oauth2/token\", client_id: dated, client_auth: private_key_jwt, client_key_file: jwt.pem, client_certificate_file: jwt.crt, credential_expires: \"2029-01-01\"}}\n"
        ),
        &[],
    );
    let expiry = "credprobe_credential_expiry_timestamp_seconds";
    let text = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            ["mtls", "jwt", "dated"].iter().all(|tenant| {
                value(t, "credprobe_token_success", &[("tenant", tenant)]) == Some(1.0)
            }) && value(t, "credprobe_endpoint_success", &[("tenant", "mtls")]) == Some(1.0)
        })
        .await;
    assert_eq!(
        value(&text, expiry, &[("tenant", "mtls")]),
        Some(unix(day(2031, 1, 15)))
    );
    assert_eq!(
        value(&text, expiry, &[("tenant", "dated")]),
        Some(unix(day(2029, 1, 1))),
        "a configured expiry wins over the certificate's"
    );
    assert_eq!(
        value(&text, expiry, &[("tenant", "jwt")]),
        None,
        "no certificate, nothing configured"
    );
    let (_, json) = daemon.get("/api/v1/tenants/mtls").await;
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["credential_expires_at"], unix(day(2031, 1, 15)));
    let (_, page) = daemon.get("/tenants/mtls").await;
    assert!(page.contains("Credential expires"), "{page}");

    // The identity provider now knows the second certificate only, then
    // the files are rotated: the TLS client is rebuilt with them and the
    // expiry follows, without a restart.
    client_a.certificate = Some(second.cert_pem.clone());
    mtls.set_scenario(Scenario {
        clients: vec![client_a],
        ..Scenario::default()
    });
    daemon
        .wait_for_metrics(Duration::from_secs(10), |t| {
            value(t, "credprobe_token_success", &[("tenant", "mtls")]) == Some(0.0)
        })
        .await;
    let dir = daemon.dir.path();
    replace(&dir.join("mtls.crt"), &second.cert_pem);
    replace(&dir.join("mtls.pem"), &second.key_pem);
    let text = daemon
        .wait_for_metrics(Duration::from_secs(10), |t| {
            value(t, "credprobe_token_success", &[("tenant", "mtls")]) == Some(1.0)
                && value(t, "credprobe_endpoint_success", &[("tenant", "mtls")]) == Some(1.0)
        })
        .await;
    assert_eq!(
        value(&text, expiry, &[("tenant", "mtls")]),
        Some(unix(day(2032, 2, 1)))
    );

    // The same for a signing key.
    plain.set_scenario(plain_scenario(RSA_B));
    daemon
        .wait_for_metrics(Duration::from_secs(10), |t| {
            value(t, "credprobe_token_success", &[("tenant", "jwt")]) == Some(0.0)
        })
        .await;
    replace(&dir.join("jwt.pem"), RSA_B);
    daemon
        .wait_for_metrics(Duration::from_secs(10), |t| {
            value(t, "credprobe_token_success", &[("tenant", "jwt")]) == Some(1.0)
        })
        .await;
    let logs = daemon.logs();
    assert!(
        logs.contains("key or certificate file changed; using the new version"),
        "{logs}"
    );
    // jwt.pem now holds key B, jwt.crt is still A's: "dated" keeps its last
    // good pair and says why, once.
    let text = daemon.metrics().await;
    assert_eq!(
        value(&text, "credprobe_token_success", &[("tenant", "dated")]),
        Some(1.0),
        "{logs}"
    );
    assert_eq!(
        logs.matches("is not the certificate of the key in").count(),
        1,
        "{logs}"
    );
    mtls.shutdown().await;
    plain.shutdown().await;
}

/// The base64 lines of a PEM text: each is key material.
fn pem_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|line| !line.starts_with("-----") && line.len() > 20)
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_or_assertion_reaches_logs_metrics_pages_or_json_at_trace_level() {
    let ca = TestCa::new("client CA").unwrap();
    let mtls_pair = ca.client("client-a", None, later()).unwrap();
    let jwt_cert = ca.client("jwt", Some(RSA_A), later()).unwrap();
    let mut client_a = ClientBehaviour::new("a", "unused");
    client_a.certificate = Some(mtls_pair.cert_pem.clone());
    let mtls = start_mtls(
        &ca,
        Scenario {
            clients: vec![client_a],
            ..Scenario::default()
        },
    )
    .await;
    let mut revoked = jwt_client("revoked", RSA_A);
    revoked.revoked = true;
    let plain = start_simulator(Scenario {
        clients: vec![jwt_client("jwt", RSA_A), revoked],
        ..Scenario::default()
    })
    .await;
    let (mtls_base, plain_base) = (mtls.base_url(), plain.base_url());
    for format in ["logfmt", "json"] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "ca.pem", &ca.pem());
        write_pair(dir.path(), "mtls", &mtls_pair);
        write(dir.path(), "jwt.pem", RSA_A);
        write(dir.path(), "jwt.crt", &jwt_cert.cert_pem);
        write(dir.path(), "revoked.pem", RSA_A_PKCS1);
        let daemon = Daemon::start_in(
            dir,
            &format!(
                "defaults: {{interval: 1s, timeout: 800ms}}\ntenants:\n  - {{name: mtls, ca_file: ca.pem, base_url: \"{mtls_base}\", token_url: \"{mtls_base}/oauth2/token\", client_id: a, client_auth: tls_client_auth, client_key_file: mtls.pem, client_certificate_file: mtls.crt, endpoints: [{{name: w, path: /api/v1/workflows}}]}}\n  - {{name: jwt, base_url: \"{plain_base}\", token_url: \"{plain_base}/oauth2/token\", client_id: jwt, client_auth: private_key_jwt, client_key_file: jwt.pem, client_certificate_file: jwt.crt, endpoints: [{{name: w, path: /api/v1/workflows}}]}}\n  - {{name: revoked, token_url: \"{plain_base}/oauth2/token\", client_id: revoked, client_auth: private_key_jwt, client_key_file: revoked.pem}}\n"
            ),
            &["--log.level", "trace", "--log.format", format],
        );
        let enough = |t: &str| {
            ["mtls", "jwt", "revoked"].iter().all(|tenant| {
                sum(t, "credprobe_token_requests_total", &[("tenant", tenant)]) >= 2.0
            })
        };
        daemon
            .wait_for_metrics(Duration::from_secs(15), enough)
            .await;
        // A rotation gone wrong (a key that is not the certificate's) is
        // logged: by file name only.
        replace(&daemon.dir.path().join("jwt.pem"), RSA_B);
        let before = sum(
            &daemon.metrics().await,
            "credprobe_token_requests_total",
            &[("tenant", "jwt")],
        );
        let text = daemon
            .wait_for_metrics(Duration::from_secs(10), |t| {
                sum(t, "credprobe_token_requests_total", &[("tenant", "jwt")]) >= before + 2.0
            })
            .await;
        let mut outputs = vec![
            ("log".to_owned(), daemon.logs()),
            ("/metrics".to_owned(), text),
        ];
        for path in [
            "/",
            "/tenants/mtls",
            "/tenants/jwt",
            "/tenants/revoked",
            "/api/v1/tenants",
            "/api/v1/tenants/jwt",
            "/api/v1/tenants/mtls",
        ] {
            outputs.push((path.to_owned(), daemon.get(path).await.1));
        }
        let logs = &outputs[0].1;
        assert!(
            logs.contains("cannot be used; keeping the last good version"),
            "the broken rotation is logged: {logs}"
        );
        support::assert_verbose(logs);

        let mut secrets: Vec<String> = Vec::new();
        for pem in [RSA_A, RSA_A_PKCS1, RSA_B, &mtls_pair.key_pem] {
            secrets.extend(pem_lines(pem));
        }
        for request in plain.requests().iter().chain(mtls.requests().iter()) {
            if let Some(assertion) = field(&form(request), "client_assertion") {
                secrets.push(assertion.to_owned());
                secrets.push(assertion.rsplit('.').next().unwrap().to_owned());
            }
            if let Some(token) = request
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
            {
                secrets.push(token.rsplit('.').next().unwrap().to_owned());
            }
        }
        assert!(secrets.len() > 40, "keys and assertions were collected");
        let outputs: Vec<(&str, &str)> = outputs
            .iter()
            .map(|(place, output)| (place.as_str(), output.as_str()))
            .collect();
        support::assert_none_leaked(&secrets, &outputs, format);
    }
    mtls.shutdown().await;
    plain.shutdown().await;
}
