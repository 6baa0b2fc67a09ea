//! Every Prometheus metric family credprobe exports, with its HELP text, in
//! one place. Nothing else in the crate invents a metric name.
//!
//! Handles are fetched anew with `with_label_values` on every update: a
//! handle kept across `remove_label_values` would never be exported again.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::config::Tenant;
use crate::probe::tls::CertificateSeen;
use crate::probe::{EndpointOutcome, EndpointResult, TokenOutcome, TokenResult};

/// The metric families, registered in their own registry.
pub struct Metrics {
    token_success: GaugeVec,
    token_duration: HistogramVec,
    token_requests: IntCounterVec,
    token_expiry: GaugeVec,
    token_lifetime: GaugeVec,
    token_last_success: GaugeVec,
    endpoint_success: GaugeVec,
    endpoint_duration: HistogramVec,
    endpoint_requests: IntCounterVec,
    endpoint_status: GaugeVec,
    endpoint_last_success: GaugeVec,
    credential_expiry: GaugeVec,
    tls_expiry: GaugeVec,
    cycle_last: GaugeVec,
    interval: GaugeVec,
    lateness: prometheus::Histogram,
    tenants: IntGauge,
    shard_index: IntGauge,
    shard_count: IntGauge,
    reload_successful: IntGauge,
    reload_success_time: Gauge,
    build_info: GaugeVec,
    /// credprobe_tenant_info: its label names are the union of the tenants'
    /// label keys, so it is rebuilt (outside the registry) on each config.
    tenant_info: RwLock<GaugeVec>,
    /// TLS hosts seen per tenant, so their series can be deleted.
    tls_hosts: Mutex<HashMap<String, BTreeSet<String>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let vec = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(vec.clone()))
        .expect("unique metric");
    vec
}

/// Registers any single metric and hands it back. The registry only
/// guards against two families with one name; rendering walks the
/// families itself ([`Metrics::render_to`]).
fn registered<M: Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(vec.clone()))
        .expect("unique metric");
    vec
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    let vec = HistogramVec::new(opts, labels).expect("valid metric");
    registry
        .register(Box::new(vec.clone()))
        .expect("unique metric");
    vec
}

/// Unix seconds of `time`, the unit of every timestamp credprobe exports
/// (metrics, status page, JSON).
pub fn unix_seconds(time: SystemTime) -> f64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The names of this build, for credprobe_build_info.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision, when the build knew it.
pub const REVISION: &str = match option_env!("CREDPROBE_REVISION") {
    Some(revision) => revision,
    None => "unknown",
};

impl Metrics {
    /// Creates every family; `buckets` are the latency histogram bounds.
    pub fn new(buckets: &[f64]) -> Arc<Metrics> {
        let r = Registry::new();
        let t = &["tenant"];
        let te = &["tenant", "endpoint"];
        let metrics = Metrics {
            token_success: gauge(
                &r,
                "credprobe_token_success",
                "1 if the last token request succeeded, 0 if it failed.",
                t,
            ),
            token_duration: histogram(
                &r,
                "credprobe_token_request_duration_seconds",
                "Latency of token requests, from send to the last body byte.",
                t,
                buckets,
            ),
            token_requests: counter(
                &r,
                "credprobe_token_requests_total",
                "Token requests by result class.",
                &["tenant", "result"],
            ),
            token_expiry: gauge(
                &r,
                "credprobe_token_expiry_timestamp_seconds",
                "When the newest token expires (unix seconds); absent when the expiry is unknown.",
                t,
            ),
            token_lifetime: gauge(
                &r,
                "credprobe_token_lifetime_seconds",
                "Lifetime granted to the newest token (expires_in).",
                t,
            ),
            token_last_success: gauge(
                &r,
                "credprobe_token_last_success_timestamp_seconds",
                "Time of the last successful token request (unix seconds).",
                t,
            ),
            endpoint_success: gauge(
                &r,
                "credprobe_endpoint_success",
                "1 if the last call of the endpoint succeeded, 0 if it failed.",
                te,
            ),
            endpoint_duration: histogram(
                &r,
                "credprobe_endpoint_request_duration_seconds",
                "Latency of endpoint calls, from send to the last body byte.",
                te,
                buckets,
            ),
            endpoint_requests: counter(
                &r,
                "credprobe_endpoint_requests_total",
                "Endpoint calls by result class.",
                &["tenant", "endpoint", "result"],
            ),
            endpoint_status: gauge(
                &r,
                "credprobe_endpoint_status_code",
                "HTTP status of the last call, 0 when there was no response.",
                te,
            ),
            endpoint_last_success: gauge(
                &r,
                "credprobe_endpoint_last_success_timestamp_seconds",
                "Time of the last successful call of the endpoint (unix seconds).",
                te,
            ),
            credential_expiry: gauge(
                &r,
                "credprobe_credential_expiry_timestamp_seconds",
                "Configured expiry of the tenant's client secret (unix seconds).",
                t,
            ),
            tls_expiry: gauge(
                &r,
                "credprobe_tls_certificate_expiry_timestamp_seconds",
                "notAfter of the leaf certificate presented by the token or API host (unix seconds).",
                &["tenant", "host"],
            ),
            cycle_last: gauge(
                &r,
                "credprobe_tenant_last_cycle_timestamp_seconds",
                "When the tenant's last probe cycle finished (unix seconds); stale means the scheduler is stuck.",
                t,
            ),
            interval: gauge(
                &r,
                "credprobe_tenant_interval_seconds",
                "The tenant's configured probe interval.",
                t,
            ),
            lateness: registered(
                &r,
                prometheus::Histogram::with_opts(
                    HistogramOpts::new(
                        "credprobe_schedule_lateness_seconds",
                        "How late probe cycles start against their schedule; grows when the process is overloaded.",
                    )
                    .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
                ),
            ),
            tenants: registered(
                &r,
                IntGauge::new("credprobe_tenants", "Tenants probed by this process."),
            ),
            shard_index: registered(
                &r,
                IntGauge::new(
                    "credprobe_shard_index",
                    "Which shard this process is (--shard.index), from 0.",
                ),
            ),
            shard_count: registered(
                &r,
                IntGauge::new(
                    "credprobe_shards",
                    "How many shards the tenants are split into (--shard.count); not credprobe_shard_count, as a _count suffix is reserved for histograms.",
                ),
            ),
            reload_successful: registered(
                &r,
                IntGauge::new(
                    "credprobe_config_last_reload_successful",
                    "1 if the last configuration load succeeded, 0 if it failed.",
                ),
            ),
            reload_success_time: registered(
                &r,
                Gauge::new(
                    "credprobe_config_last_reload_success_timestamp_seconds",
                    "Time of the last successful configuration load (unix seconds).",
                ),
            ),
            build_info: gauge(
                &r,
                "credprobe_build_info",
                "Always 1; the version and revision of this build.",
                &["version", "revision"],
            ),
            tenant_info: RwLock::new(tenant_info_vec(&[])),
            tls_hosts: Mutex::new(HashMap::new()),
        };
        metrics
            .build_info
            .with_label_values(&[VERSION, REVISION])
            .set(1.0);
        metrics.shard_count.set(1);
        Arc::new(metrics)
    }

    /// Creates a tenant's always-present series: result counters at 0 for
    /// every class (so rate() works from the first failure) and the
    /// credential expiry.
    pub fn add_tenant(&self, tenant: &Tenant) {
        let name = tenant.name.as_str();
        for result in TokenResult::ALL {
            self.token_requests
                .with_label_values(&[name, result.as_str()]);
        }
        for endpoint in tenant.endpoint_names() {
            for result in EndpointResult::ALL {
                self.endpoint_requests
                    .with_label_values(&[name, endpoint, result.as_str()]);
            }
        }
        self.interval
            .with_label_values(&[name])
            .set(tenant.interval.as_secs_f64());
        if let Some(expires) = tenant.credential_expires {
            self.credential_expiry
                .with_label_values(&[name])
                .set(unix_seconds(expires));
        }
    }

    /// Deletes every series of a tenant that is no longer configured.
    pub fn remove_tenant(&self, tenant: &Tenant) {
        let name = tenant.name.as_str();
        for vec in [
            &self.token_success,
            &self.token_expiry,
            &self.token_lifetime,
            &self.token_last_success,
            &self.credential_expiry,
            &self.cycle_last,
            &self.interval,
        ] {
            let _ = vec.remove_label_values(&[name]);
        }
        let _ = self.token_duration.remove_label_values(&[name]);
        for result in TokenResult::ALL {
            let _ = self
                .token_requests
                .remove_label_values(&[name, result.as_str()]);
        }
        for endpoint in tenant.endpoint_names() {
            for vec in [
                &self.endpoint_success,
                &self.endpoint_status,
                &self.endpoint_last_success,
            ] {
                let _ = vec.remove_label_values(&[name, endpoint]);
            }
            let _ = self
                .endpoint_duration
                .remove_label_values(&[name, endpoint]);
            for result in EndpointResult::ALL {
                let _ =
                    self.endpoint_requests
                        .remove_label_values(&[name, endpoint, result.as_str()]);
            }
        }
        let hosts = self
            .tls_hosts
            .lock()
            .expect("tls host map poisoned")
            .remove(name)
            .unwrap_or_default();
        for host in hosts {
            let _ = self.tls_expiry.remove_label_values(&[name, &host]);
        }
    }

    /// Sets the tenant count and rebuilds credprobe_tenant_info for the
    /// configured tenants.
    pub fn set_tenants(&self, tenants: &[Arc<Tenant>]) {
        self.tenants.set(tenants.len() as i64);
        let keys = crate::config::validate::label_keys(tenants);
        let info = tenant_info_vec(&keys);
        for tenant in tenants {
            let mut values = vec![tenant.name.as_str()];
            values.extend(
                keys.iter()
                    .map(|k| tenant.labels.get(k).map(String::as_str).unwrap_or("")),
            );
            info.with_label_values(&values).set(1.0);
        }
        *self.tenant_info.write().expect("tenant info poisoned") = info;
    }

    /// Records which shard this process is.
    pub fn set_shard(&self, shard: crate::shard::Shard) {
        self.shard_index.set(i64::from(shard.index));
        self.shard_count.set(i64::from(shard.count));
    }

    /// Records the result of loading a configuration.
    pub fn config_loaded(&self, ok: bool) {
        self.reload_successful.set(i64::from(ok));
        if ok {
            self.reload_success_time
                .set(unix_seconds(SystemTime::now()));
        }
    }

    /// Records a token request.
    pub fn record_token(&self, tenant: &str, outcome: &TokenOutcome) {
        let t = &[tenant];
        self.token_requests
            .with_label_values(&[tenant, outcome.result.as_str()])
            .inc();
        self.token_duration
            .with_label_values(t)
            .observe(outcome.latency.as_secs_f64());
        let ok = outcome.result == TokenResult::Success;
        self.token_success
            .with_label_values(t)
            .set(f64::from(u8::from(ok)));
        if let Some(token) = &outcome.token {
            let now = SystemTime::now();
            self.token_last_success
                .with_label_values(t)
                .set(unix_seconds(now));
            match token.expires_at {
                Some(at) => self.token_expiry.with_label_values(t).set(unix_seconds(at)),
                None => {
                    let _ = self.token_expiry.remove_label_values(t);
                }
            }
            match token.lifetime {
                Some(lifetime) => self
                    .token_lifetime
                    .with_label_values(t)
                    .set(lifetime.as_secs_f64()),
                None => {
                    let _ = self.token_lifetime.remove_label_values(t);
                }
            }
        }
        self.record_certificate(tenant, outcome.certificate.as_ref());
    }

    /// Records how late a cycle started against its schedule.
    pub fn record_lateness(&self, late: std::time::Duration) {
        self.lateness.observe(late.as_secs_f64());
    }

    /// Records that a tenant finished a cycle.
    pub fn record_cycle(&self, tenant: &str) {
        self.cycle_last
            .with_label_values(&[tenant])
            .set(unix_seconds(SystemTime::now()));
    }

    /// Records an endpoint call.
    pub fn record_endpoint(&self, tenant: &str, endpoint: &str, outcome: &EndpointOutcome) {
        let te = &[tenant, endpoint];
        self.endpoint_requests
            .with_label_values(&[tenant, endpoint, outcome.result.as_str()])
            .inc();
        if let Some(latency) = outcome.latency {
            self.endpoint_duration
                .with_label_values(te)
                .observe(latency.as_secs_f64());
        }
        let ok = outcome.result == EndpointResult::Success;
        self.endpoint_success
            .with_label_values(te)
            .set(f64::from(u8::from(ok)));
        self.endpoint_status
            .with_label_values(te)
            .set(f64::from(outcome.status.unwrap_or(0)));
        if ok {
            self.endpoint_last_success
                .with_label_values(te)
                .set(unix_seconds(SystemTime::now()));
        }
        self.record_certificate(tenant, outcome.certificate.as_ref());
    }

    fn record_certificate(&self, tenant: &str, certificate: Option<&CertificateSeen>) {
        let Some(cert) = certificate else { return };
        self.tls_expiry
            .with_label_values(&[tenant, &cert.host])
            .set(cert.not_after as f64);
        self.tls_hosts
            .lock()
            .expect("tls host map poisoned")
            .entry(tenant.to_owned())
            .or_default()
            .insert(cert.host.clone());
    }

    /// Every family, for rendering one at a time.
    fn families(&self) -> Vec<&dyn Collector> {
        vec![
            &self.token_success,
            &self.token_duration,
            &self.token_requests,
            &self.token_expiry,
            &self.token_lifetime,
            &self.token_last_success,
            &self.endpoint_success,
            &self.endpoint_duration,
            &self.endpoint_requests,
            &self.endpoint_status,
            &self.endpoint_last_success,
            &self.credential_expiry,
            &self.tls_expiry,
            &self.cycle_last,
            &self.interval,
            &self.lateness,
            &self.tenants,
            &self.shard_index,
            &self.shard_count,
            &self.reload_successful,
            &self.reload_success_time,
            &self.build_info,
        ]
    }

    /// Writes the text exposition of every family to `out`, in name order.
    ///
    /// One family is collected, written and dropped at a time: at 5,000
    /// tenants `Registry::gather` would hold ~500k series as label strings
    /// all at once (hundreds of MiB) on top of the text. With `out` a gzip
    /// encoder, not even the text is held whole.
    pub fn render_to<W: std::io::Write>(&self, mut out: W) -> Result<W, prometheus::Error> {
        let info = self.tenant_info.read().expect("tenant info poisoned");
        let mut families: Vec<&dyn Collector> = self.families();
        families.push(&*info);
        families.sort_by_cached_key(|c| c.desc().first().map(|d| d.fq_name.clone()));
        let encoder = TextEncoder::new();
        for collector in families {
            let mut collected = collector.collect();
            // A family without series is invalid exposition: with no
            // tenants, the per-tenant families have none.
            collected.retain(|family| !family.get_metric().is_empty());
            // Series in label order, as Registry::gather writes them: stable
            // output, and neighbours that share labels compress far better.
            for family in &mut collected {
                family.mut_metric().sort_by(|a, b| {
                    let (a, b) = (a.get_label(), b.get_label());
                    a.iter().map(|l| l.value()).cmp(b.iter().map(|l| l.value()))
                });
            }
            encoder.encode(&collected, &mut out)?;
        }
        Ok(out)
    }

    /// The text exposition of every family.
    pub fn render(&self) -> Result<Vec<u8>, prometheus::Error> {
        self.render_to(Vec::with_capacity(64 * 1024))
    }
}

/// Hands memory freed after a large render back to the system: glibc keeps
/// freed heap in its arenas, so one scrape of a big fleet would otherwise
/// leave the process at its peak size for good.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it has no
    // preconditions and touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn tenant_info_vec(keys: &[String]) -> GaugeVec {
    let mut labels: Vec<&str> = vec!["tenant"];
    labels.extend(keys.iter().map(String::as_str));
    GaugeVec::new(
        Opts::new(
            "credprobe_tenant_info",
            "Always 1; the tenant's configured labels, to join on tenant.",
        ),
        &labels,
    )
    .expect("label names are validated")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::config::{LoadOptions, validate::load_str};
    use crate::probe::{EndpointOutcome, TokenOutcome};

    /// Every `"credprobe_…"` literal of this file: the names it defines.
    fn defined_names() -> BTreeSet<String> {
        let source = include_str!("metrics.rs");
        source
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| {
                // (Not spelled as one literal: other checks read this file's
                // quoted family names too.)
                s.strip_prefix("credprobe")
                    .is_some_and(|rest| rest.len() > 1 && rest.starts_with('_'))
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn render_writes_every_family_once_in_name_order_and_zero_tenants_is_valid() {
        let metrics = Metrics::new(&crate::config::DEFAULT_HISTOGRAM_BUCKETS);
        let empty = String::from_utf8(metrics.render().unwrap()).unwrap();
        assert!(
            !empty.contains("credprobe_tenant_info"),
            "an empty family is not written"
        );

        let config = load_str(
            "tenants: [{name: a, labels: {tier: gold}, credential_expires: \"2030-01-01\", base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, endpoints: [{name: e, path: /x}]}]",
            Path::new("test.yml"),
            &LoadOptions { warn_inline_secrets: false },
        )
        .unwrap();
        let tenant = &config.tenants[0];
        metrics.set_tenants(&config.tenants);
        metrics.add_tenant(tenant);
        metrics.record_lateness(Duration::from_millis(3));
        metrics.record_cycle("a");
        metrics.config_loaded(true);
        let certificate = Some(CertificateSeen {
            host: "h".into(),
            not_after: 1,
        });
        metrics.record_token(
            "a",
            &TokenOutcome {
                result: TokenResult::Success,
                latency: Duration::from_millis(5),
                status: Some(200),
                detail: None,
                token: Some(crate::probe::IssuedToken {
                    access_token: secrecy::SecretString::from("t".to_owned()),
                    obtained_at: SystemTime::now(),
                    lifetime: Some(Duration::from_secs(900)),
                    expires_at: Some(SystemTime::now() + Duration::from_secs(900)),
                }),
                certificate: certificate.clone(),
            },
        );
        metrics.record_endpoint(
            "a",
            "e",
            &EndpointOutcome {
                result: EndpointResult::Success,
                latency: Some(Duration::from_millis(2)),
                status: Some(200),
                detail: None,
                certificate,
            },
        );
        let text = String::from_utf8(metrics.render().unwrap()).unwrap();
        let written: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect();
        let mut sorted = written.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            written, sorted,
            "families are written once each, in name order"
        );
        assert_eq!(
            written.into_iter().collect::<BTreeSet<_>>(),
            defined_names()
        );
        // Gzip output is the same text.
        let gz = metrics
            .render_to(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::fast(),
            ))
            .unwrap()
            .finish()
            .unwrap();
        let mut unzipped = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unzipped)
            .unwrap();
        assert_eq!(
            unzipped.lines().filter(|l| l.starts_with("# TYPE")).count(),
            text.lines().filter(|l| l.starts_with("# TYPE")).count()
        );
    }
}
