//! Tests of the whole `/metrics` response: the tenant series written from
//! the records, the telemetry after them, both encodings, single flight.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::fleet::Fleet;
use crate::fleet::tests::{ONE, call, cycle, tenants, token};
use crate::probe::tls::CertificateSeen;
use crate::probe::{CycleReport, EndpointResult, Outcome, RejectionReason, TokenResult};

fn exposition(fleet: &Arc<Fleet>) -> (Arc<Exposition>, Arc<Telemetry>) {
    let telemetry = Arc::new(Telemetry::new());
    (
        Exposition::new(Arc::clone(fleet), Arc::clone(&telemetry)),
        telemetry,
    )
}

fn text(exposition: &Exposition) -> String {
    String::from_utf8(exposition.render(Encoding::Plain).unwrap()).unwrap()
}

/// The sample lines of `text` that start with `prefix`.
fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

/// The families of `text`, in the order of their `# TYPE` lines.
fn families(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap())
        .collect()
}

#[test]
fn every_family_is_written_once_tenant_series_in_name_order_then_telemetry() {
    let fleet = Fleet::new(&crate::config::DEFAULT_HISTOGRAM_BUCKETS);
    let (exposition, telemetry) = exposition(&fleet);
    let empty = text(&exposition);
    assert!(
        !empty.contains("credprobe_tenant_info"),
        "an empty family is not written"
    );
    assert!(empty.contains("# TYPE credprobe_tenants gauge\ncredprobe_tenants 0\n"));

    // A rotation in progress (the next credential's series).
    let dir = tempfile::tempdir().unwrap();
    let next = dir.path().join("next");
    std::fs::write(&next, "n\n").unwrap();
    let config = tenants(&format!(
        "tenants: [{{name: a, labels: {{tier: gold}}, phase_metrics: true, credential_expires: \"2030-01-01\", base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, next_client_secret_file: \"{}\", expect_scopes: [read, write], jwks_url: \"http://127.0.0.1:9/jwks\", endpoints: [{{name: e, path: /x}}]}}, {{name: r, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}}]",
        next.display()
    ));
    let record = fleet.add(&config[0]);
    let rejected = fleet.add(&config[1]);
    rejected.record_cycle(&CycleReport {
        rejection: Some(RejectionReason::Expired),
        // A tenant that does not verify has no verification series,
        // whatever its record says.
        verification: Some(crate::probe::TokenVerification {
            verified: Some(true),
            reason: crate::probe::VerifyReason::Verified,
            detail: None,
            clock_skew_seconds: Some(1),
        }),
        ..cycle(Some(token(TokenResult::CredentialsRejected)), vec![])
    });
    telemetry.record_lateness(Duration::from_millis(3));
    telemetry.config_loaded(true);
    telemetry.observe_scrape(Encoding::Gzip, Duration::from_millis(2), 100);
    let certificate = Some(CertificateSeen {
        host: "h".into(),
        not_after: 1,
    });
    let mut token_outcome = token(TokenResult::Success);
    token_outcome.certificate = certificate.clone();
    token_outcome.phases = Some(crate::probe::Phases::default());
    let mut endpoint = call(EndpointResult::Success, 2, Some(200));
    endpoint.certificate = certificate;
    endpoint.phases = Some(crate::probe::Phases::default());
    let mut report = cycle(Some(token_outcome), vec![(0, endpoint)]);
    report.grant.as_mut().unwrap().scopes = Some(Arc::from(vec![Box::from("read")]));
    report.verification = Some(crate::probe::TokenVerification {
        verified: Some(false),
        reason: crate::probe::VerifyReason::WrongAudience,
        detail: None,
        clock_skew_seconds: Some(-3),
    });
    report.next_credential = Some(crate::probe::NextCredentialAttempt {
        outcome: token(TokenResult::CredentialsRejected),
        rejection: Some(RejectionReason::InvalidSecret),
    });
    record.record_cycle(&report);
    assert_eq!(
        lines(&text(&exposition), "credprobe_next_credential_success"),
        ["credprobe_next_credential_success{tenant=\"a\"} 0"],
        "only the tenant with a next credential"
    );
    // What the Entra credential inventory found (its latest-expiry series).
    let end = Some(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000));
    record.record_inventory(Ok(crate::probe::inventory::Found {
        in_use_expiry: end,
        matched: true,
        latest_expiry: end,
        secrets: 1,
        certificates: 0,
    }));
    let text = text(&exposition);
    assert_eq!(
        lines(&text, "credprobe_token_verified{"),
        ["credprobe_token_verified{tenant=\"a\"} 0"]
    );
    assert_eq!(
        lines(&text, "credprobe_token_clock_skew_seconds{"),
        ["credprobe_token_clock_skew_seconds{tenant=\"a\"} -3"]
    );

    let written = families(&text);
    let tenant_families: Vec<&str> = tenant_series::FAMILIES
        .iter()
        .map(|(f, _)| f.name)
        .collect();
    assert_eq!(&written[..tenant_families.len()], &tenant_families[..]);
    let mut sorted = tenant_families.clone();
    sorted.sort_unstable();
    assert_eq!(tenant_families, sorted, "tenant families in name order");
    for family in FAMILIES {
        assert_eq!(
            written.iter().filter(|w| **w == family.name).count(),
            1,
            "{} written once",
            family.name
        );
        assert!(
            text.contains(&format!(
                "# TYPE {} {}\n",
                family.name,
                family.kind.as_str()
            )),
            "{} is a {:?}",
            family.name,
            family.kind
        );
    }
    // Every credprobe_ family written is listed.
    for name in written.iter().filter(|n| n.starts_with("credprobe_")) {
        assert!(
            FAMILIES.iter().any(|f| f.name == *name),
            "{name} is not in FAMILIES"
        );
    }
    assert!(text.contains(
        "credprobe_tls_certificate_expiry_timestamp_seconds{tenant=\"a\",host=\"h\"} 1\n"
    ));
    assert!(text.contains("credprobe_tenant_info{tenant=\"a\",tier=\"gold\"} 1\n"));
    assert!(
        !text.contains("credprobe_token_lifetime_seconds"),
        "removed: expiry minus last success"
    );
    // a: everything succeeded but a scope is missing: a warning, still 1.
    assert!(text.contains("credprobe_tenant_success{tenant=\"a\"} 1\n"));
    assert!(text.contains("credprobe_tenant_success{tenant=\"r\"} 0\n"));
    assert!(text.contains("credprobe_endpoint_status_code{tenant=\"a\",endpoint=\"e\"} 200\n"));
    assert!(text.contains("credprobe_tenant_interval_seconds{tenant=\"a\"} 60\n"));
    assert!(text.contains("credprobe_token_rejection_reason{tenant=\"r\",reason=\"expired\"} 1\n"));
    assert!(!text.contains("credprobe_token_rejection_reason{tenant=\"a\""));
    assert!(text.contains("credprobe_token_scope_granted{tenant=\"a\",scope=\"read\"} 1\n"));
    assert!(text.contains("credprobe_token_scope_granted{tenant=\"a\",scope=\"write\"} 0\n"));
    assert!(!text.contains("credprobe_token_scope_granted{tenant=\"r\""));
    assert!(text.contains("credprobe_scrape_response_bytes{encoding=\"gzip\"} 100\n"));
    assert!(text.contains("credprobe_schedule_lateness_seconds_bucket{le=\"0.005\"} 1\n"));
    assert!(text.contains("process_resident_memory_bytes "));
    assert!(text.contains("credprobe_build_info{revision="));

    // Gzip output is the same text, telemetry aside (the gzip render is
    // a later moment, and the process series move).
    let gz = exposition.render(Encoding::Gzip).unwrap();
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    let tenant_part = |t: &str| {
        t.split("# HELP credprobe_build_info")
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(tenant_part(&unzipped), tenant_part(&text));
}

#[test]
fn phase_metrics_false_leaves_out_only_the_phase_gauges() {
    let fleet = Fleet::new(&crate::config::DEFAULT_HISTOGRAM_BUCKETS);
    let (exposition, _telemetry) = exposition(&fleet);
    // The default off for the fleet, back on for one tenant.
    let config = tenants(
        "defaults: {phase_metrics: false}\ntenants: [{name: quiet, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, endpoints: [{name: e, path: /x}]}, {name: loud, phase_metrics: true, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, endpoints: [{name: e, path: /x}]}]",
    );
    let setting = |name: &str| {
        config
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .phase_metrics
    };
    assert!(!setting("quiet") && setting("loud"));
    for tenant in &config {
        let mut token_outcome = token(TokenResult::Success);
        token_outcome.phases = Some(crate::probe::Phases::default());
        let mut endpoint = call(EndpointResult::Success, 2, Some(200));
        endpoint.phases = Some(crate::probe::Phases::default());
        fleet
            .add(tenant)
            .record_cycle(&cycle(Some(token_outcome), vec![(0, endpoint)]));
    }
    let text = text(&exposition);
    for family in [
        "credprobe_token_phase_seconds",
        "credprobe_endpoint_phase_seconds",
    ] {
        let quiet = lines(&text, &format!("{family}{{tenant=\"quiet\""));
        let loud = lines(&text, &format!("{family}{{tenant=\"loud\""));
        assert!(quiet.is_empty(), "{quiet:?}");
        assert_eq!(loud.len(), 5, "{loud:?}");
    }
    // Everything else of the quiet tenant is there.
    assert_eq!(
        lines(&text, "credprobe_endpoint_success{tenant=\"quiet\""),
        ["credprobe_endpoint_success{tenant=\"quiet\",endpoint=\"e\"} 1"]
    );
}

#[test]
fn counters_exist_for_success_and_each_class_seen_in_label_order() {
    let fleet = Fleet::new(&[0.1]);
    let (exposition, _) = exposition(&fleet);
    let record = fleet.add(&tenants(ONE)[0]);
    assert!(
        !text(&exposition).contains("credprobe_token_requests_total{"),
        "no request yet, no counter"
    );
    for _ in 0..2 {
        record.record_cycle(&cycle(Some(token(TokenResult::RateLimited)), vec![]));
    }
    record.record_cycle(&cycle(Some(token(TokenResult::Timeout)), vec![]));
    let text = text(&exposition);
    // success from the first cycle (0 here), each failure class once seen,
    // in label value order; the classes never seen are not written.
    assert_eq!(
        lines(&text, "credprobe_token_requests_total{"),
        [
            "credprobe_token_requests_total{tenant=\"a\",result=\"rate_limited\"} 2",
            "credprobe_token_requests_total{tenant=\"a\",result=\"success\"} 0",
            "credprobe_token_requests_total{tenant=\"a\",result=\"timeout\"} 1",
        ]
    );
    assert!(
        lines(&text, "credprobe_endpoint_requests_total{").is_empty(),
        "an endpoint never called has no counter"
    );
    assert!(text.contains("credprobe_token_success{tenant=\"a\"} 0\n"));
    assert!(text.contains("credprobe_tenant_success{tenant=\"a\"} 0\n"));
    // No token came back: no expiry or last success.
    assert!(!text.contains("credprobe_token_expiry_timestamp_seconds{"));
    assert!(!text.contains("credprobe_token_last_success_timestamp_seconds{"));
    // No call yet: the endpoint's gauges and histogram are absent.
    assert!(!text.contains("credprobe_endpoint_success{"));
    assert!(!text.contains("credprobe_endpoint_request_duration_seconds_count{"));
}

#[test]
fn a_tenant_without_a_finished_cycle_has_no_state_series_and_phases_are_opt_in() {
    let fleet = Fleet::new(&[0.1]);
    let (exposition, _) = exposition(&fleet);
    let config = tenants(
        "tenants: [{name: a, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}, {name: b, phase_metrics: true, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}]",
    );
    let records: Vec<_> = config.iter().map(|t| fleet.add(t)).collect();
    assert!(!text(&exposition).contains("credprobe_tenant_success{"));
    for record in &records {
        let mut outcome = token(TokenResult::Success);
        outcome.phases = Some(crate::probe::Phases::default());
        record.record_cycle(&cycle(Some(outcome), vec![]));
    }
    let text = text(&exposition);
    assert!(text.contains("credprobe_tenant_success{tenant=\"a\"} 1\n"));
    assert!(
        !text.contains("credprobe_token_phase_seconds{tenant=\"a\""),
        "off by default"
    );
    assert_eq!(
        lines(&text, "credprobe_token_phase_seconds{tenant=\"b\"").len(),
        5,
        "phase_metrics: true"
    );
}

#[test]
fn endpoint_histograms_gauges_and_a_call_never_made() {
    let fleet = Fleet::new(&[0.01, 0.1]);
    let (exposition, _) = exposition(&fleet);
    let record = fleet.add(&tenants(ONE)[0]);
    for ms in [5, 10, 50, 2000] {
        record.record_cycle(&cycle(
            None,
            vec![(0, call(EndpointResult::ServerError, ms, Some(503)))],
        ));
    }
    let text = text(&exposition);
    let family = "credprobe_endpoint_request_duration_seconds";
    let labels = "tenant=\"a\",endpoint=\"e\"";
    for line in [
        format!("{family}_bucket{{{labels},le=\"0.01\"}} 2"),
        format!("{family}_bucket{{{labels},le=\"0.1\"}} 3"),
        format!("{family}_bucket{{{labels},le=\"+Inf\"}} 4"),
        format!("{family}_sum{{{labels}}} 2.065"),
        format!("{family}_count{{{labels}}} 4"),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert!(text.contains("credprobe_endpoint_success{tenant=\"a\",endpoint=\"e\"} 0\n"));
    assert!(text.contains("credprobe_endpoint_status_code{tenant=\"a\",endpoint=\"e\"} 503\n"));
    assert!(!text.contains("credprobe_endpoint_last_success_timestamp_seconds{"));

    record.record_cycle(&cycle(
        None,
        vec![(
            0,
            Outcome::failed(EndpointResult::NoToken, None, "no valid token"),
        )],
    ));
    let text = crate::metrics::tests::text(&exposition);
    assert!(text.contains(
        "credprobe_endpoint_requests_total{tenant=\"a\",endpoint=\"e\",result=\"no_token\"} 1\n"
    ));
    assert!(text.contains("credprobe_endpoint_status_code{tenant=\"a\",endpoint=\"e\"} 0\n"));
    assert!(
        text.contains(&format!("{family}_count{{{labels}}} 4\n")),
        "no latency, no observation"
    );
}

#[test]
fn label_values_are_escaped_and_info_label_names_follow_the_tenants() {
    let fleet = Fleet::new(&[0.1]);
    let (exposition, _) = exposition(&fleet);
    let config = tenants(
        "tenants: [{name: a, labels: {team: \"q\\\"b\\\\s\\nn\"}, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}, {name: b, labels: {customer: x}, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}]",
    );
    let records: Vec<_> = config.iter().map(|t| fleet.add(t)).collect();
    assert_eq!(
        lines(&text(&exposition), "credprobe_tenant_info{"),
        [
            "credprobe_tenant_info{tenant=\"a\",customer=\"\",team=\"q\\\"b\\\\s\\nn\"} 1",
            "credprobe_tenant_info{tenant=\"b\",customer=\"x\",team=\"\"} 1",
        ]
    );
    // b leaves: team stays a label name only while a tenant has it.
    fleet.remove(&records[1]);
    assert_eq!(
        lines(&text(&exposition), "credprobe_tenant_info{"),
        ["credprobe_tenant_info{tenant=\"a\",team=\"q\\\"b\\\\s\\nn\"} 1"]
    );
}

#[test]
fn removed_tenants_lose_every_series_and_their_late_results_show_nowhere() {
    let fleet = Fleet::new(&[0.1]);
    let (exposition, _) = exposition(&fleet);
    let config = tenants(
        "tenants: [{name: a, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, endpoints: [{name: e, path: /x}]}, {name: b, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, endpoints: [{name: z, path: /x}, {name: e, path: /y}]}]",
    );
    let records: Vec<_> = config.iter().map(|t| fleet.add(t)).collect();
    for record in &records {
        record.record_cycle(&cycle(Some(token(TokenResult::Success)), vec![]));
    }
    records[0].record_cycle(&cycle(
        None,
        vec![(0, call(EndpointResult::Success, 1, Some(200)))],
    ));
    records[1].record_cycle(&cycle(
        None,
        vec![
            (0, call(EndpointResult::Success, 1, Some(200))),
            (1, call(EndpointResult::Success, 1, Some(200))),
        ],
    ));
    let before = text(&exposition);
    // Endpoints in name order within a tenant, tenants in name order.
    let mut order: Vec<&str> = lines(&before, "credprobe_endpoint_requests_total{")
        .iter()
        .map(|l| l.split(",result").next().unwrap())
        .collect();
    order.dedup();
    assert_eq!(
        order,
        [
            "credprobe_endpoint_requests_total{tenant=\"a\",endpoint=\"e\"",
            "credprobe_endpoint_requests_total{tenant=\"b\",endpoint=\"e\"",
            "credprobe_endpoint_requests_total{tenant=\"b\",endpoint=\"z\"",
        ]
    );
    fleet.remove(&records[0]);
    records[0].record_cycle(&cycle(Some(token(TokenResult::Success)), vec![]));
    let after = text(&exposition);
    assert!(!after.contains("tenant=\"a\""), "{after}");
    let series = |t: &str| t.lines().filter(|l| l.contains("tenant=\"b\"")).count();
    assert_eq!(series(&before), series(&after), "b is untouched");
    // Adding the tenant again starts from nothing: its configuration's
    // series only, no counter until its first cycle.
    fleet.add(&config[0]);
    let again = text(&exposition);
    assert!(again.contains("credprobe_tenant_info{tenant=\"a\"} 1\n"));
    assert!(!again.contains("credprobe_token_requests_total{tenant=\"a\""));
    assert!(!again.contains("credprobe_tenant_success{tenant=\"a\""));
}

#[test]
fn telemetry_follows_its_setters_and_a_failed_load_keeps_the_last_good_time() {
    let fleet = Fleet::new(&[0.1]);
    let (exposition, telemetry) = exposition(&fleet);
    telemetry.set_shard(crate::shard::Shard { index: 2, count: 3 });
    telemetry.set_tenants(7);
    telemetry.record_lateness(Duration::from_secs(7));
    telemetry.config_loaded(true);
    let loaded = text(&exposition);
    telemetry.config_loaded(false);
    let failed = text(&exposition);
    assert!(failed.contains("credprobe_shard_index 2\n"));
    assert!(failed.contains("credprobe_shards 3\n"));
    assert!(failed.contains("credprobe_tenants 7\n"));
    assert!(failed.contains("credprobe_config_last_reload_successful 0\n"));
    assert!(failed.contains("credprobe_schedule_lateness_seconds_bucket{le=\"5\"} 0\n"));
    assert!(failed.contains("credprobe_schedule_lateness_seconds_bucket{le=\"+Inf\"} 1\n"));
    let time =
        |t: &str| lines(t, "credprobe_config_last_reload_success_timestamp_seconds ")[0].to_owned();
    assert_eq!(time(&loaded), time(&failed));
    assert_ne!(
        time(&failed),
        "credprobe_config_last_reload_success_timestamp_seconds 0"
    );
}

#[test]
fn a_failed_write_is_an_error_and_the_next_render_works() {
    struct Broken(usize);
    impl Write for Broken {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 < buf.len() {
                return Err(io::Error::other("scraper went away"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let fleet = Fleet::new(&[0.1]);
    let (exposition, _) = exposition(&fleet);
    let record = fleet.add(&tenants(ONE)[0]);
    assert!(exposition.write_to(false, &mut Broken(700)).is_err());
    assert!(exposition.write_to(true, &mut Broken(700)).is_err());
    record.record_cycle(&cycle(Some(token(TokenResult::Success)), vec![]));
    assert!(text(&exposition).contains("credprobe_token_success{tenant=\"a\"} 1\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_that_arrive_together_share_one_render_per_encoding() {
    let fleet = Fleet::new(&[0.1]);
    let (exposition, _) = exposition(&fleet);
    // Enough tenants that a render takes a while.
    let mut yaml = String::from("tenants:\n");
    for i in 0..2000 {
        yaml.push_str(&format!(
            "  - {{name: t{i:04}, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}}\n"
        ));
    }
    for tenant in tenants(&yaml) {
        fleet
            .add(&tenant)
            .record_cycle(&cycle(Some(token(TokenResult::Success)), vec![]));
    }
    let scrapes: Vec<_> = (0..20)
        .map(|i| {
            let exposition = Arc::clone(&exposition);
            let encoding = if i % 2 == 0 {
                Encoding::Plain
            } else {
                Encoding::Gzip
            };
            tokio::spawn(async move { (encoding, exposition.scrape(encoding).await.unwrap()) })
        })
        .collect();
    let mut bodies = Vec::new();
    for scrape in scrapes {
        bodies.push(scrape.await.unwrap());
    }
    let renders = |encoding: Encoding| {
        let text = text(&exposition);
        lines(&text, "credprobe_scrape_duration_seconds_count{")
            .iter()
            .find(|l| l.contains(&format!("encoding=\"{}\"", encoding.as_str())))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .unwrap_or(0)
    };
    // Ten scrapes of each encoding, started together: fewer renders than
    // scrapes, and every scrape of an encoding that shared got the very
    // same bytes.
    for encoding in [Encoding::Plain, Encoding::Gzip] {
        let count = renders(encoding);
        assert!(
            (1..10).contains(&count),
            "{encoding:?}: {count} renders for 10 scrapes"
        );
        let same: Vec<_> = bodies.iter().filter(|(e, _)| *e == encoding).collect();
        let distinct = same
            .iter()
            .map(|(_, b)| b.as_ptr())
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u64;
        assert_eq!(distinct, count, "one body per render");
    }
}

#[test]
fn protobuf_carries_the_same_series_with_native_and_classic_histograms() {
    use prost::Message;

    use crate::metrics::protobuf::model::MetricFamily;

    let fleet = Fleet::new(&crate::config::DEFAULT_HISTOGRAM_BUCKETS);
    let (exposition, _) = exposition(&fleet);
    let record = fleet.add(&tenants(ONE)[0]);
    for ms in [5, 120, 3000] {
        record.record_cycle(&cycle(
            Some(token(TokenResult::Success)),
            vec![(0, call(EndpointResult::ServerError, ms, Some(503)))],
        ));
    }
    let body = exposition.render(Encoding::Protobuf).unwrap();
    let mut rest = &body[..];
    let mut families = Vec::new();
    while !rest.is_empty() {
        families.push(MetricFamily::decode_length_delimited(&mut rest).unwrap());
    }
    let names: Vec<&str> = families.iter().filter_map(|f| f.name.as_deref()).collect();
    // The same families as the text, in the same order.
    let text = text(&exposition);
    assert_eq!(names, self::families(&text));

    let family = |name: &str| {
        families
            .iter()
            .find(|f| f.name.as_deref() == Some(name))
            .unwrap()
    };
    let endpoint = family("credprobe_endpoint_request_duration_seconds");
    let histogram = endpoint.metric[0].histogram.as_ref().unwrap();
    assert_eq!(histogram.sample_count, Some(3));
    assert!((histogram.sample_sum.unwrap() - 3.125).abs() < 1e-9);
    // Classic buckets, cumulative, for the finite bounds.
    let classic: Vec<(f64, u64)> = histogram
        .bucket
        .iter()
        .map(|b| (b.upper_bound.unwrap(), b.cumulative_count.unwrap()))
        .collect();
    assert_eq!(
        classic,
        [
            (0.05, 1),
            (0.1, 1),
            (0.25, 2),
            (0.5, 2),
            (1.0, 2),
            (2.5, 2),
            (10.0, 3)
        ]
    );
    // Native buckets: schema 3, three observations in three buckets.
    assert_eq!(histogram.schema, Some(3));
    assert!(histogram.zero_threshold.unwrap() > 0.0);
    let observed: i64 = histogram
        .positive_delta
        .iter()
        .scan(0i64, |count, delta| {
            *count += delta;
            Some(*count)
        })
        .sum();
    assert_eq!(observed, 3);
    // Only the classes seen, success first written from the first cycle.
    let requests = family("credprobe_endpoint_requests_total");
    let results: Vec<(&str, f64)> = requests
        .metric
        .iter()
        .map(|m| {
            let result = m
                .label
                .iter()
                .find(|l| l.name.as_deref() == Some("result"))
                .unwrap();
            (
                result.value.as_deref().unwrap(),
                m.counter.as_ref().unwrap().value.unwrap(),
            )
        })
        .collect();
    assert_eq!(results, [("server_error", 3.0), ("success", 0.0)]);
    // Telemetry follows, in the same format.
    assert!(names.contains(&"credprobe_build_info"));
    assert!(names.contains(&"process_resident_memory_bytes") || !cfg!(target_os = "linux"));

    // Gzip is the same body, compressed.
    let gzipped = exposition.render(Encoding::ProtobufGzip).unwrap();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert!(MetricFamily::decode_length_delimited(&plain[..]).is_ok());
}
