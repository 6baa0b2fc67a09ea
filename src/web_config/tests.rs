//! The web configuration loader: what it accepts, and for every broken
//! file, the file and the field it names.

use std::path::Path;
use std::sync::Arc;

use super::WebConfig;
use super::tls_options::ClientAuth;

/// A folder with a self-signed server pair and a CA bundle, so the TLS
/// cases have real files to point at.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("ca.crt"), cert.pem()).unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        std::fs::write(dir.path().join("other.key"), other.serialize_pem()).unwrap();
        Files { dir }
    }

    fn load(&self, text: &str) -> Result<WebConfig, String> {
        let path = self.dir.path().join("web.yml");
        std::fs::write(&path, text).unwrap();
        WebConfig::load(&path).map_err(|error| error.to_string())
    }
}

const HASH: &str = "$2y$04$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96";

#[test]
fn accepted_files() {
    let files = Files::new();
    let cases: &[(&str, &str)] = &[
        ("empty file: plain HTTP", ""),
        (
            "TLS with relative paths",
            "tls_server_config: {cert_file: server.crt, key_file: server.key}",
        ),
        (
            "mTLS with every option",
            "tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  client_allowed_sans: [prometheus.monitoring.svc]
  min_version: TLS12
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP256]
  prefer_server_cipher_suites: false",
        ),
        (
            "TLS 1.3 only with TLS 1.3 suite names",
            "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS13, cipher_suites: [TLS_AES_256_GCM_SHA384]}",
        ),
        (
            "old alias RequireClientCert",
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireClientCert}",
        ),
        (
            "headers and users, no TLS",
            &format!(
                "http_server_config:
  http2: true
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
    Strict-Transport-Security: max-age=31536000
    X-XSS-Protection: ''
basic_auth_users:
  prometheus: {HASH}"
            ),
        ),
    ];
    for (what, text) in cases {
        if let Err(error) = files.load(text) {
            panic!("{what}: refused: {error}");
        }
    }
}

#[test]
fn loaded_values() {
    let files = Files::new();
    let web = files
        .load(&format!(
            "tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: VerifyClientCertIfGiven
  client_ca_file: ca.crt
http_server_config:
  headers: {{X-Frame-Options: sameorigin, X-XSS-Protection: ''}}
basic_auth_users: {{prometheus: '{HASH}'}}"
        ))
        .unwrap();
    assert!(web.tls.is_some());
    assert_eq!(web.client_auth, ClientAuth::VerifyClientCertIfGiven);
    // Blank values leave the header unset.
    assert_eq!(web.headers.len(), 1);
    assert_eq!(web.headers[0].0.as_str(), "x-frame-options");
    let users: Vec<&str> = web.basic_auth.as_ref().unwrap().user_names().collect();
    assert_eq!(users, ["prometheus"]);
    assert_eq!(
        web.watched_files,
        [
            files.dir.path().join("web.yml"),
            files.dir.path().join("ca.crt")
        ]
    );
    let described = web.describe();
    assert!(
        described.contains("https") && described.contains("prometheus"),
        "{described}"
    );
    assert!(!described.contains(HASH));
}

#[test]
fn refused_files_name_the_file_and_field() {
    let files = Files::new();
    let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireAndVerifyClientCert}".into(),
            "tls_server_config.client_ca_file",
            "required when client_auth_type is RequireAndVerifyClientCert",
        ),
        (
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: VerifyClientCertIfGiven}".into(),
            "tls_server_config.client_ca_file",
            "required when client_auth_type is VerifyClientCertIfGiven",
        ),
        (
            format!("{tls}  client_ca_file: ca.crt\n"),
            "tls_server_config.client_auth_type",
            "asks for no client certificate",
        ),
        (
            format!("{tls}  client_auth_type: Sometimes\n"),
            "tls_server_config.client_auth_type",
            "unknown value \"Sometimes\"",
        ),
        (
            format!("{tls}  client_allowed_sans: [a]\n"),
            "tls_server_config.client_allowed_sans",
            "needs a client_auth_type",
        ),
        (
            "tls_server_config: {key_file: server.key}".into(),
            "tls_server_config.cert_file",
            "required",
        ),
        (
            "tls_server_config: {cert_file: server.crt}".into(),
            "tls_server_config.key_file",
            "required",
        ),
        (
            "tls_server_config: {cert_file: server.crt, cert: x, key_file: server.key}".into(),
            "tls_server_config.cert_file",
            "not both",
        ),
        (
            "tls_server_config: {cert_file: missing.crt, key_file: server.key}".into(),
            "tls_server_config.cert_file",
            "missing.crt: No such file",
        ),
        (
            "tls_server_config: {cert_file: server.key, key_file: server.key}".into(),
            "tls_server_config.cert_file",
            "holds no PEM certificate",
        ),
        (
            "tls_server_config: {cert_file: server.crt, key_file: other.key}".into(),
            "tls_server_config.key_file",
            "does not go with the certificate",
        ),
        (
            "tls_server_config: {cert_file: server.crt, key_file: server.crt}".into(),
            "tls_server_config.key_file",
            "no usable PEM private key",
        ),
        (
            format!("{tls}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: server.key\n"),
            "tls_server_config.client_ca_file",
            "holds no PEM certificate",
        ),
        (
            format!("{tls}  min_version: TLS10\n"),
            "tls_server_config.min_version",
            "TLS10 is not supported: rustls implements TLS 1.2 and 1.3 only",
        ),
        (
            format!("{tls}  max_version: TLS11\n"),
            "tls_server_config.max_version",
            "TLS11 is not supported",
        ),
        (
            format!("{tls}  min_version: SSL3\n"),
            "tls_server_config.min_version",
            "unknown TLS version",
        ),
        (
            format!("{tls}  min_version: TLS13\n  max_version: TLS12\n"),
            "tls_server_config.min_version",
            "is above max_version",
        ),
        (
            format!("{tls}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_CBC_SHA]\n"),
            "tls_server_config.cipher_suites[1]",
            "TLS_RSA_WITH_AES_128_CBC_SHA is not available",
        ),
        (
            format!("{tls}  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"),
            "tls_server_config.cipher_suites",
            "names no TLS 1.2 suite",
        ),
        (
            format!("{tls}  curve_preferences: [CurveP521]\n"),
            "tls_server_config.curve_preferences[0]",
            "CurveP521 is not available",
        ),
        (
            format!("{tls}  curve_preferences: [X448]\n"),
            "tls_server_config.curve_preferences[0]",
            "unknown curve",
        ),
        (
            format!("{tls}  typo_field: 1\n"),
            "tls_server_config",
            "unknown field `typo_field`",
        ),
        (
            "http_server_config:\n  headers:\n    Authorization: Basic abc\n".into(),
            "http_server_config.headers.Authorization",
            "this header cannot be configured",
        ),
        (
            "http_server_config:\n  headers:\n    Set-Cookie: a=b\n".into(),
            "http_server_config.headers.Set-Cookie",
            "this header cannot be configured",
        ),
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: allow-from\n".into(),
            "http_server_config.headers.X-Frame-Options",
            "invalid value \"allow-from\"",
        ),
        (
            "http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n".into(),
            "http_server_config.headers.X-Content-Type-Options",
            "invalid value",
        ),
        (
            "basic_auth_users:\n  prometheus: hunter2\n".into(),
            "basic_auth_users.prometheus",
            "not a bcrypt hash",
        ),
        (
            format!("basic_auth_users:\n  'a:b': '{HASH}'\n"),
            "basic_auth_users.a:b",
            "cannot contain ':'",
        ),
        (
            "rate_limit: {interval: 1s, burst: 20}\n".into(),
            "rate_limit",
            "not supported",
        ),
        ("listen: :443\n".into(), "web.yml", "unknown field `listen`"),
    ];
    for (text, field, message) in cases {
        let error = match files.load(&text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(error) => error,
        };
        let web_yml = files.dir.path().join("web.yml");
        let file = web_yml.display().to_string();
        assert!(
            error.contains(&file) && error.contains(field) && error.contains(message),
            "for\n{text}\nexpected {file}: {field}: ...{message}..., got:\n{error}"
        );
        // The field comes right after the file.
        if field != "web.yml" {
            assert!(error.contains(&format!("{file}: {field}")), "{error}");
        }
    }
}

#[test]
fn every_problem_is_reported_at_once_and_the_hash_never_is() {
    let files = Files::new();
    let error = files
        .load(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS10\n\
             http_server_config: {headers: {Server: x}}\n\
             basic_auth_users: {prometheus: not-a-hash-s3cret}\n",
        )
        .unwrap_err();
    assert!(error.starts_with("3 configuration problems"), "{error}");
    assert!(!error.contains("not-a-hash-s3cret"), "{error}");
}

#[test]
fn a_missing_file_is_named() {
    let error = WebConfig::load(Path::new("/nonexistent/web.yml"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("/nonexistent/web.yml: cannot read"),
        "{error}"
    );
}

/// Replaces a file the Kubernetes way: a new file renamed over it.
fn replace(path: &Path, text: &str) {
    let next = path.with_extension("new");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, path).unwrap();
}

#[tokio::test]
async fn the_server_certificate_follows_its_files_at_a_refresh_and_never_in_a_handshake() {
    let files = Files::new();
    let web = files
        .load("tls_server_config: {cert_file: server.crt, key_file: server.key}")
        .unwrap();
    let certificate = web.certificate.clone().unwrap();
    let first = certificate.current();

    // A new pair is served after the next refresh, not before.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let dir = files.dir.path();
    replace(&dir.join("server.key"), &key.serialize_pem());
    replace(&dir.join("server.crt"), &cert.pem());
    assert!(Arc::ptr_eq(&certificate.current(), &first));
    certificate.refresh().await;
    let second = certificate.current();
    assert_eq!(second.cert[0].as_ref(), cert.der().as_ref());

    // A broken certificate keeps the last good pair and says which field.
    replace(&dir.join("server.crt"), "not a certificate\n");
    certificate.refresh().await;
    assert!(Arc::ptr_eq(&certificate.current(), &second));
    let problem = certificate.problem().unwrap();
    assert_eq!(problem.path, dir.join("server.crt"));
    assert_eq!(
        &*problem.reason,
        "tls_server_config.cert_file: holds no PEM certificate"
    );

    // A missing key: the key's file and field.
    replace(&dir.join("server.crt"), &cert.pem());
    std::fs::remove_file(dir.join("server.key")).unwrap();
    certificate.refresh().await;
    let problem = certificate.problem().unwrap();
    assert_eq!(problem.path, dir.join("server.key"));
    assert!(
        problem.reason.starts_with("tls_server_config.key_file: "),
        "{}",
        problem.reason
    );
    assert!(Arc::ptr_eq(&certificate.current(), &second));
}

#[tokio::test]
async fn an_inline_certificate_with_a_key_file_watches_the_key_file_only() {
    let files = Files::new();
    let cert = std::fs::read_to_string(files.dir.path().join("server.crt")).unwrap();
    let indented = cert.replace('\n', "\n    ");
    let web = files
        .load(&format!(
            "tls_server_config:\n  key_file: server.key\n  cert: |\n    {indented}\n"
        ))
        .unwrap();
    let certificate = web.certificate.clone().unwrap();
    // The other key does not go with the inline certificate: the key's
    // file is at fault.
    let other = std::fs::read_to_string(files.dir.path().join("other.key")).unwrap();
    replace(&files.dir.path().join("server.key"), &other);
    certificate.refresh().await;
    let problem = certificate.problem().unwrap();
    assert_eq!(problem.path, files.dir.path().join("server.key"));
    assert!(
        problem
            .reason
            .starts_with("tls_server_config.key_file: does not go with the certificate in tls_server_config.cert:"),
        "{}",
        problem.reason
    );
}

#[tokio::test]
async fn the_refresh_task_looks_every_interval_and_stops_with_the_server() {
    use std::time::{Duration, Instant};

    use tokio_util::sync::CancellationToken;

    use super::server_certificate::refresh_every;

    let files = Files::new();
    let web = files
        .load("tls_server_config: {cert_file: server.crt, key_file: server.key}")
        .unwrap();
    let certificate = web.certificate.clone().unwrap();
    let (_sender, receiver) = tokio::sync::watch::channel(Arc::new(web));
    let shutdown = CancellationToken::new();
    let every = Duration::from_millis(200);
    let started = Instant::now();
    let task = tokio::spawn(refresh_every(receiver, every, shutdown.clone()));
    std::fs::remove_file(files.dir.path().join("server.crt")).unwrap();
    while certificate.problem().is_none() {
        assert!(started.elapsed() < Duration::from_secs(10), "never noticed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(started.elapsed() >= every, "not before the first interval");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops with the server")
        .unwrap();
}
