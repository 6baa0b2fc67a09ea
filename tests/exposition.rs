//! The hand-written exposition passes `promtool check metrics` also where
//! the demo never goes: label values that need escaping, TLS series, several
//! hosts, classes that carry no latency, and very large and very small
//! numbers.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use credprobe::config::validate::{LoadOptions, load_str};
use credprobe::metrics::Metrics;
use credprobe::probe::tls::CertificateSeen;
use credprobe::probe::{EndpointOutcome, EndpointResult, IssuedToken, TokenOutcome, TokenResult};

const CONFIG: &str = r#"
histogram_buckets: [0.000001, 0.5, 1000000]
tenants:
  - name: quoted.tenant_1
    labels: {customer: "Q \"uoted\" \\ back\nslash", tier: "ünïcode ✓"}
    credential_expires: "2099-12-31T23:59:59Z"
    base_url: "http://127.0.0.1:9"
    token_url: "http://127.0.0.1:9/t"
    client_id: c
    client_secret: s
    endpoints:
      - {name: z-last, path: /z}
      - {name: a-first, path: /a}
  - name: plain-2
    labels: {region: eu}
    base_url: "http://127.0.0.1:9"
    token_url: "http://127.0.0.1:9/t"
    client_id: c
    client_secret: s
"#;

#[test]
fn promtool_accepts_an_exposition_with_every_edge() {
    let config = load_str(
        CONFIG,
        Path::new("edges.yml"),
        &LoadOptions {
            warn_inline_secrets: false,
        },
    )
    .expect("valid configuration");
    let metrics = Metrics::new(&config.histogram_buckets);
    metrics.set_tenants(&config.tenants);
    for tenant in &config.tenants {
        metrics.add_tenant(tenant);
    }
    let seen = |host: &str| {
        Some(CertificateSeen {
            host: host.into(),
            not_after: 4_102_444_800,
        })
    };
    let name = "quoted.tenant_1";
    metrics.record_token(
        name,
        &TokenOutcome {
            result: TokenResult::Success,
            latency: Duration::from_nanos(1),
            status: Some(200),
            detail: None,
            token: Some(IssuedToken {
                access_token: "not-a-real-token".to_owned().into(),
                obtained_at: SystemTime::now(),
                lifetime: Some(Duration::from_secs(u64::from(u32::MAX))),
                expires_at: Some(SystemTime::now() + Duration::from_secs(86_400 * 365 * 50)),
            }),
            certificate: seen("login.example.test:8443"),
        },
    );
    metrics.record_endpoint(
        name,
        "a-first",
        &EndpointOutcome {
            result: EndpointResult::Success,
            latency: Some(Duration::from_secs(5_000_000)),
            status: Some(200),
            detail: None,
            certificate: seen("api.example.test"),
        },
    );
    metrics.record_endpoint(
        name,
        "z-last",
        &EndpointOutcome {
            result: EndpointResult::Timeout,
            latency: None,
            status: None,
            detail: None,
            certificate: None,
        },
    );
    metrics.record_token(
        "plain-2",
        &TokenOutcome {
            result: TokenResult::CredentialsRejected,
            latency: Duration::from_millis(250),
            status: Some(401),
            detail: Some("invalid_client".into()),
            token: None,
            certificate: None,
        },
    );
    metrics.record_lateness(Duration::from_secs(3600));
    metrics.record_cycle(name);
    metrics.config_loaded(true);
    let text = String::from_utf8(metrics.render().expect("render")).expect("UTF-8");
    assert!(
        text.contains(r#"customer="Q \"uoted\" \\ back\nslash""#),
        "{text}"
    );
    assert!(text.contains("credprobe_tls_certificate_expiry_timestamp_seconds{"));

    if let Err(said) = common::promtool_check_metrics(&text) {
        panic!("promtool check metrics complained: {said}\n---\n{text}");
    }
}
