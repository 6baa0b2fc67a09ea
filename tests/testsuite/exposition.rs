//! The hand-written exposition passes `promtool check metrics` also where
//! the demo never goes: label values that need escaping, TLS series, several
//! hosts, classes that carry no latency, and very large and very small
//! numbers.

use std::path::Path;
use std::time::{Duration, SystemTime};

use std::sync::Arc;

use credprobe::config::validate::{LoadOptions, load_str};
use credprobe::fleet::Fleet;
use credprobe::metrics::{Encoding, Exposition, Telemetry};
use credprobe::probe::tls::CertificateSeen;
use credprobe::probe::{CycleReport, EndpointResult, Grant, Outcome, TokenResult};

use crate::support;

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
            ..LoadOptions::default()
        },
    )
    .expect("valid configuration");
    let fleet = Fleet::new(&config.histogram_buckets);
    let telemetry = Arc::new(Telemetry::new());
    let records: Vec<_> = config.tenants.iter().map(|t| fleet.add(t)).collect();
    let seen = |host: &str| {
        Some(CertificateSeen {
            host: host.into(),
            not_after: 4_102_444_800,
        })
    };
    // quoted.tenant_1: endpoints in configuration order are z-last, a-first.
    let quoted = records
        .iter()
        .find(|r| r.tenant().name == "quoted.tenant_1")
        .unwrap();
    quoted.record_cycle(&CycleReport {
        token: Some(Outcome {
            result: TokenResult::Success,
            latency: Some(Duration::from_nanos(1)),
            status: Some(200),
            detail: None,
            certificate: seen("login.example.test:8443"),
            phases: None,
        }),
        grant: Some(Grant {
            lifetime: Some(Duration::from_secs(u64::from(u32::MAX))),
            expires_at: Some(SystemTime::now() + Duration::from_secs(86_400 * 365 * 50)),
            scopes: None,
        }),
        rejection: None,
        verification: None,
        next_credential: None,
        endpoints: vec![
            (
                1,
                Outcome {
                    result: EndpointResult::Success,
                    latency: Some(Duration::from_secs(5_000_000)),
                    status: Some(200),
                    detail: None,
                    certificate: seen("api.example.test"),
                    phases: None,
                },
            ),
            (
                0,
                Outcome::failed(EndpointResult::Timeout, None, "no answer"),
            ),
        ],
    });
    let plain = records
        .iter()
        .find(|r| r.tenant().name == "plain-2")
        .unwrap();
    plain.record_cycle(&CycleReport {
        token: Some(Outcome {
            latency: Some(Duration::from_millis(250)),
            ..Outcome::failed(
                TokenResult::CredentialsRejected,
                Some(401),
                "invalid_client",
            )
        }),
        ..CycleReport::default()
    });
    telemetry.record_lateness(Duration::from_secs(3600));
    telemetry.config_loaded(true);
    let exposition = Exposition::new(Arc::clone(&fleet), telemetry);
    let text =
        String::from_utf8(exposition.render(Encoding::Plain).expect("render")).expect("UTF-8");
    assert!(
        text.contains(r#"customer="Q \"uoted\" \\ back\nslash""#),
        "{text}"
    );
    assert!(text.contains("credprobe_tls_certificate_expiry_timestamp_seconds{"));
    // The process collector's series come with the tenant series.
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "credprobe_build_info{",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }

    if let Err(said) = support::promtool_check_metrics(&text) {
        panic!("promtool check metrics complained: {said}\n---\n{text}");
    }
}
