//! `--web.config.file` on the real binary: a broken file stops start-up
//! with exit 2 naming the file and field; basic auth and the configured
//! headers cover every path; client certificates are required and
//! verified; a rotated certificate reaches new connections while a broken
//! one is refused; a reload keeps the running web configuration when the
//! new one is broken and applies a good one; the password never reaches
//! the log, even at trace level; request size limits hold.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::support;
use crate::support::web::{
    Credprobe, PASSWORD, Pki, USER, bcrypt_hash, der_of, get_as, http_client, https_client,
    served_certificate,
};

/// TLS with the test CA's server pair, basic auth for `prometheus`.
fn web_yml(extra_tls: &str, password: &str, headers: &str) -> String {
    format!(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{extra_tls}\
         basic_auth_users:\n  {USER}: {}\n{headers}",
        bcrypt_hash(password)
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn demo_with(web_config: &str) -> Credprobe {
    Credprobe::start(&["demo", "--web.config.file", web_config], &[])
}

#[test]
fn a_broken_web_config_stops_start_up_with_exit_2_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let _pki = Pki::new(dir.path());
    let broken = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n",
    );
    let config = write(
        dir.path(),
        "credprobe.yml",
        "tenants:\n  - {name: t, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/token\", client_id: c, client_secret_file: secret}\n",
    );
    write(dir.path(), "secret", "s\n");
    let expected = format!(
        "{broken}: tls_server_config.client_ca_file: required when client_auth_type is RequireAndVerifyClientCert"
    );
    for args in [
        vec![
            "run",
            "--config.file",
            &config,
            "--web.config.file",
            &broken,
        ],
        vec!["demo", "--web.config.file", &broken],
    ] {
        let mut args = args;
        args.extend(["--web.listen-address", "127.0.0.1:0"]);
        let (code, _, stderr) = support::run_binary(&args, Duration::from_secs(20));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
    }

    // check-config validates a web configuration as start-up would.
    let (code, _, stderr) = support::run_binary(
        &[
            "check-config",
            "--config.file",
            &config,
            "--web.config.file",
            &broken,
        ],
        Duration::from_secs(20),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
    let good = write(dir.path(), "good.yml", &web_yml("", PASSWORD, ""));
    let (code, stdout, stderr) = support::run_binary(
        &[
            "check-config",
            "--config.file",
            &config,
            "--web.config.file",
            &good,
        ],
        Duration::from_secs(20),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("{good}: OK, https, basic auth ({USER})")),
        "{stdout}"
    );

    // A missing file is named too.
    let missing = dir.path().join("nope.yml").display().to_string();
    let (code, _, stderr) = support::run_binary(
        &[
            "demo",
            "--web.config.file",
            &missing,
            "--web.listen-address",
            "127.0.0.1:0",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("{missing}: cannot read")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_headers_cover_every_path_and_request_sizes_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let headers = "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n    Content-Security-Policy: \"default-src 'none'\"\n";
    let web = write(dir.path(), "web.yml", &web_yml("", PASSWORD, headers));
    let daemon = demo_with(&web);
    let client = https_client(&pki, None);

    let paths = [
        "/metrics",
        "/",
        "/tenants/acme-prod",
        "/api/v1/tenants",
        "/api/v1/tenants/acme-prod",
        "/assets/style.css",
        "/assets/page.js",
        "/-/healthy",
        "/-/ready",
        "/no-such-path",
    ];
    for path in paths {
        let url = daemon.https(path);
        for credentials in [
            None,
            Some((USER, "wrong-password")),
            Some(("grafana", PASSWORD)),
            Some((USER, "")),
        ] {
            let response = {
                let mut request = client.get(&url);
                if let Some((user, password)) = credentials {
                    request = request.basic_auth(user, Some(password));
                }
                request.send().await.unwrap()
            };
            assert_eq!(response.status(), 401, "{path} as {credentials:?}");
            assert_eq!(response.headers()["www-authenticate"], "Basic");
            assert_eq!(response.headers()["x-frame-options"], "deny", "{path}");
        }
        let response = client
            .get(&url)
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            matches!(
                (path, status),
                (_, 200) | ("/-/ready", 503) | ("/no-such-path", 404)
            ),
            "{path}: {status}"
        );
        let headers = response.headers();
        assert_eq!(headers["x-frame-options"], "deny", "{path}");
        assert_eq!(headers["strict-transport-security"], "max-age=31536000");
        // The configured header replaces the page's own policy.
        assert_eq!(headers["content-security-policy"], "default-src 'none'");
    }
    // The lifecycle endpoint that changes things is guarded too.
    let response = client.post(daemon.https("/-/reload")).send().await.unwrap();
    assert_eq!(response.status(), 401);

    // Plain HTTP on the TLS port gets no answer.
    assert!(
        get_as(
            &http_client(),
            &daemon.http("/metrics"),
            Some((USER, PASSWORD))
        )
        .await
        .is_err()
    );

    // Request size limits: a 20 KiB header gets 431, a 100 KiB body 413.
    let response = client
        .get(daemon.https("/-/healthy"))
        .basic_auth(USER, Some(PASSWORD))
        .header("x-padding", "a".repeat(20 * 1024))
        .send()
        .await;
    match response {
        Ok(response) => assert_eq!(response.status(), 431),
        // hyper may close right after the 431; the client can see either.
        Err(error) => assert!(!error.is_timeout(), "{error}"),
    }
    let response = client
        .post(daemon.https("/-/reload"))
        .basic_auth(USER, Some(PASSWORD))
        .body(vec![b'x'; 100 * 1024])
        .send()
        .await;
    match response {
        Ok(response) => assert_eq!(response.status(), 413),
        // As with the 431: the server answers 413 and closes while the
        // client may still be writing the body (a broken pipe), never a
        // refused connection or a wait.
        Err(error) => assert!(
            error.is_request() && !error.is_connect() && !error.is_timeout(),
            "{error}"
        ),
    }
    // And the server is still fine.
    let (status, _) = get_as(&client, &daemon.https("/-/healthy"), Some((USER, PASSWORD)))
        .await
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let mtls = |sans: &str| {
        web_yml(
            &format!(
                "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: [{sans}]\n"
            ),
            PASSWORD,
            "",
        )
    };
    let web = write(dir.path(), "web.yml", &mtls("prometheus.monitoring.svc"));
    let daemon = demo_with(&web);
    let url = daemon.https("/-/healthy");
    let creds = Some((USER, PASSWORD));

    let (status, body) = get_as(&https_client(&pki, Some("client")), &url, creds)
        .await
        .expect("a client certificate the CA signed is accepted");
    assert_eq!((status, body.as_str()), (200, "Healthy\n"));
    assert!(
        get_as(&https_client(&pki, None), &url, creds)
            .await
            .is_err(),
        "a client without a certificate was let in"
    );
    assert!(
        get_as(&https_client(&pki, Some("stranger")), &url, creds)
            .await
            .is_err(),
        "a self-signed client certificate was let in"
    );
    // The certificate does not replace the password.
    let (status, _) = get_as(&https_client(&pki, Some("client")), &url, None)
        .await
        .unwrap();
    assert_eq!(status, 401);

    // client_allowed_sans: after a reload that allows another name only, the
    // same CA-signed certificate is refused on new connections.
    write(dir.path(), "web.yml", &mtls("someone-else.example"));
    let response = https_client(&pki, Some("client"))
        .post(daemon.https("/-/reload"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert!(
        get_as(&https_client(&pki, Some("client")), &url, creds)
            .await
            .is_err(),
        "a certificate without an allowed SAN was let in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_reaches_new_connections_and_a_broken_one_is_kept_out() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    std::fs::copy(dir.path().join("server.crt"), dir.path().join("live.crt")).unwrap();
    std::fs::copy(dir.path().join("server.key"), dir.path().join("live.key")).unwrap();
    let web = write(
        dir.path(),
        "web.yml",
        &format!(
            "tls_server_config: {{cert_file: live.crt, key_file: live.key}}\nbasic_auth_users: {{{USER}: '{}'}}\n",
            bcrypt_hash(PASSWORD)
        ),
    );
    let daemon = demo_with(&web);
    let url = daemon.https("/-/healthy");
    let first = der_of(&pki.read("server.crt"));
    let second = der_of(&pki.read("server2.crt"));
    assert_eq!(
        served_certificate(&https_client(&pki, None), &url).await,
        first
    );

    // Rotate as cert-manager would: new key and certificate written in place.
    std::fs::write(dir.path().join("live.key"), pki.read("server2.key")).unwrap();
    std::fs::write(dir.path().join("live.crt"), pki.read("server2.crt")).unwrap();
    let start = Instant::now();
    while served_certificate(&https_client(&pki, None), &url).await != second {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the new certificate was never served:\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    daemon.wait_for_log("server certificate changed", Duration::from_secs(5));

    // A broken certificate file: noticed at the server's next look, logged,
    // and the last good pair goes on being served.
    std::fs::write(dir.path().join("live.crt"), "not a certificate\n").unwrap();
    let start = Instant::now();
    while !daemon.logs().contains("server certificate cannot be used") {
        assert_eq!(
            served_certificate(&https_client(&pki, None), &url).await,
            second
        );
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the broken certificate was never noticed:\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        served_certificate(&https_client(&pki, None), &url).await,
        second
    );
    let logs = daemon.logs();
    assert!(
        logs.contains("tls_server_config.cert_file: holds no PEM certificate"),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_the_running_web_config_when_the_new_one_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let web = write(dir.path(), "web.yml", &web_yml("", PASSWORD, ""));
    let daemon = demo_with(&web);
    let client = https_client(&pki, None);
    let metrics = daemon.https("/metrics");
    let reload_successful =
        |text: &str| support::value(text, "credprobe_config_last_reload_successful", &[]);

    // Broken by SIGHUP: logged with file and field; the old password still works.
    write(
        dir.path(),
        "web.yml",
        &web_yml("  min_version: TLS10\n", "new-password", ""),
    );
    daemon.signal("HUP");
    daemon.wait_for_log("reload failed", Duration::from_secs(20));
    let logs = daemon.logs();
    assert!(
        logs.contains(&format!(
            "{web}: tls_server_config.min_version: TLS10 is not supported"
        )),
        "{logs}"
    );
    let (status, text) = get_as(&client, &metrics, Some((USER, PASSWORD)))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(reload_successful(&text), Some(0.0));
    let (status, _) = get_as(&client, &metrics, Some((USER, "new-password")))
        .await
        .unwrap();
    assert_eq!(status, 401);

    // Broken again by POST /-/reload: 400 naming file and field.
    write(
        dir.path(),
        "web.yml",
        &web_yml(
            "",
            "new-password",
            "http_server_config: {headers: {Server: x}}\n",
        ),
    );
    let response = client
        .post(daemon.https("/-/reload"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(
        body.contains(&format!("{web}: http_server_config.headers.Server")),
        "{body}"
    );

    // A good one applies at once: the new password works, the old one no
    // longer does, on new connections and on one kept alive across the
    // reload alike.
    let kept_alive = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let (status, _) = get_as(&kept_alive, &metrics, Some((USER, PASSWORD)))
        .await
        .unwrap();
    assert_eq!(status, 200);
    write(dir.path(), "web.yml", &web_yml("", "new-password", ""));
    let response = client
        .post(daemon.https("/-/reload"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("web configuration"), "{body}");
    let (status, text) = get_as(&client, &metrics, Some((USER, "new-password")))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(reload_successful(&text), Some(1.0));
    let (status, _) = get_as(&client, &metrics, Some((USER, PASSWORD)))
        .await
        .unwrap();
    assert_eq!(status, 401);
    let (status, _) = get_as(&kept_alive, &metrics, Some((USER, PASSWORD)))
        .await
        .unwrap();
    assert_eq!(
        status, 401,
        "the old password still works on a kept-alive connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_reaches_the_log_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let web = write(dir.path(), "web.yml", &web_yml("", PASSWORD, ""));
    let daemon = Credprobe::start(
        &["demo", "--web.config.file", &web, "--log.level", "trace"],
        &[("RUST_LOG", "trace")],
    );
    let client = https_client(&pki, None);
    let url = daemon.https("/metrics");
    let wrong = "example-only-Wrong-Pa55word";
    for _ in 0..2 {
        assert_eq!(
            get_as(&client, &url, Some((USER, PASSWORD)))
                .await
                .unwrap()
                .0,
            200
        );
        assert_eq!(
            get_as(&client, &url, Some((USER, wrong))).await.unwrap().0,
            401
        );
        // Unknown user, the right password; and a password typed as the user.
        assert_eq!(
            get_as(&client, &url, Some(("grafana", PASSWORD)))
                .await
                .unwrap()
                .0,
            401
        );
        assert_eq!(
            get_as(&client, &url, Some((PASSWORD, wrong)))
                .await
                .unwrap()
                .0,
            401
        );
    }
    // Over plain HTTP to the TLS port too: the handshake fails before
    // anything is read, but the bytes must not be echoed either.
    let _ = get_as(
        &http_client(),
        &daemon.http("/metrics"),
        Some((USER, PASSWORD)),
    )
    .await;
    daemon.wait_for_log("basic authentication failed", Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let logs = daemon.logs();
    let b64 = |user: &str, password: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    };
    let secrets = [
        PASSWORD.to_owned(),
        wrong.to_owned(),
        b64(USER, PASSWORD),
        b64(USER, wrong),
        b64("grafana", PASSWORD),
        b64(PASSWORD, wrong),
    ];
    support::assert_none_leaked(&secrets, &[("log", &logs)], "trace");
    // A failed attempt names a configured user, never an unknown one.
    assert!(logs.contains(&format!("user={USER}")), "{logs}");
}
