//! The end-to-end proof of `--web.config.file`: a real Prometheus server
//! scrapes `credprobe demo` over HTTPS, verifying the server certificate
//! against the test CA, presenting a client certificate the server
//! requires and verifies, and sending basic auth. The target is up and
//! credprobe's series are queryable; the same target scraped with a wrong
//! password, or over plain HTTP, is down; and a direct client sees 401 for
//! a wrong password and no answer over plain HTTP.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::web::{
    Credprobe, PASSWORD, Pki, USER, bcrypt_hash, get_as, http_client, https_client,
};
use crate::support::{self, Process, prometheus_scalar as scalar};

/// Three jobs against the one target: the right way, a wrong password, and
/// plain HTTP.
fn prometheus_config(dir: &Path, target: &str) -> String {
    let d = dir.display();
    let tls =
        format!("{{ca_file: {d}/ca.crt, cert_file: {d}/client.crt, key_file: {d}/client.key}}");
    format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: credprobe
    scheme: https
    tls_config: {tls}
    basic_auth: {{username: {USER}, password_file: {d}/scrape-password}}
    static_configs: [{{targets: [\"{target}\"]}}]
  - job_name: credprobe-wrong-password
    scheme: https
    tls_config: {tls}
    basic_auth: {{username: {USER}, password: not-the-password}}
    static_configs: [{{targets: [\"{target}\"]}}]
  - job_name: credprobe-plain-http
    scheme: http
    basic_auth: {{username: {USER}, password_file: {d}/scrape-password}}
    static_configs: [{{targets: [\"{target}\"]}}]
"
    )
}

fn start_prometheus(dir: &Path, target: &str) -> (Process, String) {
    support::start_prometheus(dir, &prometheus_config(dir, target))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_credprobe_over_https_with_client_certificates_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    std::fs::write(dir.path().join("scrape-password"), PASSWORD).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
basic_auth_users:
  {USER}: {}
",
            bcrypt_hash(PASSWORD)
        ),
    )
    .unwrap();
    let demo = Credprobe::start(&["demo", "--web.config.file", web.to_str().unwrap()], &[]);
    let (_prometheus, prometheus) = start_prometheus(dir.path(), &demo.addr);

    // Direct checks: a wrong password is 401, plain HTTP gets no answer.
    let client = https_client(&pki, Some("client"));
    let url = demo.https("/metrics");
    assert_eq!(
        get_as(&client, &url, Some((USER, "nope"))).await.unwrap().0,
        401
    );
    assert!(
        get_as(
            &http_client(),
            &demo.http("/metrics"),
            Some((USER, PASSWORD))
        )
        .await
        .is_err()
    );

    let start = Instant::now();
    let mut last = String::new();
    loop {
        let up = scalar(&prometheus, "up{job=\"credprobe\"}").await;
        let token = scalar(
            &prometheus,
            "credprobe_token_success{job=\"credprobe\",tenant=\"acme-prod\"}",
        )
        .await;
        let wrong = scalar(&prometheus, "up{job=\"credprobe-wrong-password\"}").await;
        let plain = scalar(&prometheus, "up{job=\"credprobe-plain-http\"}").await;
        if up == Some(1.0) && token == Some(1.0) && wrong == Some(0.0) && plain == Some(0.0) {
            break;
        }
        last = format!(
            "up={up:?} token_success={token:?} wrong_password_up={wrong:?} plain_http_up={plain:?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "Prometheus never saw the expected targets: {last}\n--- targets\n{}\n--- prometheus log\n{}\n--- credprobe log\n{}",
            targets(&prometheus).await,
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default(),
            demo.logs()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let _ = last;

    // Several successful scrapes, and every credprobe family arrives.
    let start = Instant::now();
    while scalar(&prometheus, "count_over_time(up{job=\"credprobe\"}[1m])")
        .await
        .unwrap_or(0.0)
        < 3.0
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "fewer than 3 scrapes"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let series = support::prometheus_query(
        &prometheus,
        "count by (__name__) ({job=\"credprobe\",__name__=~\"credprobe_.+\"})",
    )
    .await
    .unwrap()["result"]
        .clone();
    assert!(
        series.as_array().is_some_and(|s| s.len() >= 10),
        "few credprobe families scraped: {series}"
    );
    // The scrape error Prometheus saw for the wrong password was the 401.
    let targets = targets(&prometheus).await;
    assert!(targets.contains("401"), "{targets}");
}

async fn targets(prometheus: &str) -> String {
    match http_client()
        .get(format!("{prometheus}/api/v1/targets"))
        .send()
        .await
    {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => error.to_string(),
    }
}
