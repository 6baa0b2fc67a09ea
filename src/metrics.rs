//! Every Prometheus metric family credprobe exports, with its HELP text, in
//! one place. Nothing else in the crate invents a metric name.
//!
//! The values live in compact per-tenant records (counters as arrays indexed
//! by result class, histograms as bucket arrays, the tenant's name and
//! labels shared with its configuration) and [`Metrics::render_to`] writes
//! the text exposition straight from them. A general-purpose registry keeps
//! the help text, label names and label values with every series: at 5,000
//! tenants (~500k series) that alone took hundreds of MiB, and gathering
//! a family for rendering doubled it.
//!
//! A tenant's series exist from [`Metrics::add_tenant`] to
//! [`Metrics::remove_tenant`]; a result recorded for a tenant that is not
//! (or no longer) added is dropped, so a late sample cannot resurrect a
//! deleted series.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use crate::config::Tenant;
use crate::probe::tls::CertificateSeen;
use crate::probe::{EndpointOutcome, EndpointResult, TokenOutcome, TokenResult};

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

/// Bucket bounds of credprobe_schedule_lateness_seconds.
const LATENESS_BUCKETS: [f64; 8] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// Every series credprobe exports, and the one place that writes them.
pub struct Metrics {
    /// Latency histogram bounds (`histogram_buckets:`), fixed at start.
    buckets: Bounds,
    /// Lateness histogram bounds.
    lateness_buckets: Bounds,
    /// Per-tenant records by tenant name: the order series are written in.
    tenants: RwLock<BTreeMap<String, Arc<TenantSeries>>>,
    /// Label keys of credprobe_tenant_info: the union of the configured
    /// tenants' label keys, so every tenant's info series has the same
    /// label names.
    info_keys: RwLock<Arc<[String]>>,
    /// The process-wide series.
    process: Mutex<ProcessState>,
    /// Size of the last plain render, so the next one allocates its buffer
    /// once instead of doubling its way there (a copy at every step, and a
    /// peak of one and a half times the text).
    last_render_bytes: AtomicUsize,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Histogram bounds with their `le` label values, formatted once.
struct Bounds {
    bounds: Box<[f64]>,
    /// `le` of each bound, then "+Inf".
    labels: Box<[Box<str>]>,
}

impl Bounds {
    fn new(bounds: &[f64]) -> Bounds {
        debug_assert!(
            bounds.iter().all(|b| b.is_finite()) && bounds.windows(2).all(|w| w[0] < w[1]),
            "bucket bounds are finite and ascending (validated with the config): {bounds:?}"
        );
        let labels = bounds
            .iter()
            .map(|b| Float(*b).to_string().into_boxed_str())
            .chain(std::iter::once("+Inf".into()))
            .collect();
        Bounds {
            bounds: bounds.into(),
            labels,
        }
    }
}

/// Observations of one histogram series.
#[derive(Debug, Clone)]
struct Histogram {
    /// Observations per bucket (not cumulative); one more than the bounds,
    /// for those above the last bound.
    counts: Box<[u64]>,
    sum: f64,
}

impl Histogram {
    fn new(bounds: &Bounds) -> Histogram {
        Histogram {
            counts: vec![0; bounds.bounds.len() + 1].into_boxed_slice(),
            sum: 0.0,
        }
    }

    fn observe(&mut self, bounds: &Bounds, value: f64) {
        let bucket = bounds.bounds.partition_point(|b| *b < value);
        self.counts[bucket] += 1;
        self.sum += value;
    }
}

/// Observes into an optional histogram, creating it on the first value:
/// a latency histogram appears with the first request, like the gauges.
fn observe(histogram: &mut Option<Histogram>, bounds: &Bounds, value: Duration) {
    histogram
        .get_or_insert_with(|| Histogram::new(bounds))
        .observe(bounds, value.as_secs_f64());
}

/// One tenant's series.
struct TenantSeries {
    /// Its configuration: name, labels, endpoint names, interval and
    /// credential expiry, shared rather than copied.
    tenant: Arc<Tenant>,
    /// Indexes into `tenant.endpoints` in endpoint name order.
    endpoint_order: Box<[usize]>,
    state: Mutex<TenantState>,
}

/// What has been recorded of one tenant. Every `Option` is a series that
/// is absent until its first value.
#[derive(Default)]
struct TenantState {
    token_requests: [u64; TokenResult::ALL.len()],
    token_duration: Option<Histogram>,
    token_success: Option<bool>,
    token_expiry: Option<f64>,
    token_lifetime: Option<f64>,
    token_last_success: Option<f64>,
    cycle_last: Option<f64>,
    /// notAfter by `host` label.
    tls_expiry: BTreeMap<Box<str>, i64>,
    /// In the order of `tenant.endpoints`.
    endpoints: Box<[EndpointState]>,
}

/// What has been recorded of one endpoint.
#[derive(Default)]
struct EndpointState {
    requests: [u64; EndpointResult::ALL.len()],
    duration: Option<Histogram>,
    success: Option<bool>,
    status: Option<u16>,
    last_success: Option<f64>,
}

/// The process-wide series.
struct ProcessState {
    lateness: Histogram,
    tenants: usize,
    shard_index: u32,
    shard_count: u32,
    reload_successful: bool,
    reload_success_time: f64,
}

impl TenantSeries {
    fn lock(&self) -> std::sync::MutexGuard<'_, TenantState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `# TYPE` of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A count that only goes up (reset when the tenant restarts).
    Counter,
    /// `_bucket`, `_sum` and `_count` series.
    Histogram,
}

impl Kind {
    /// The word in `# TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family: what the README, the dashboards' and rules' tests and
/// the renderer agree on.
#[derive(Debug)]
pub struct Family {
    /// The metric name.
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// The `# TYPE`.
    pub kind: Kind,
}

const fn family(name: &'static str, help: &'static str, kind: Kind) -> Family {
    Family { name, help, kind }
}

const BUILD_INFO: Family = family(
    "credprobe_build_info",
    "Always 1; the version and revision of this build.",
    Kind::Gauge,
);
const RELOAD_SUCCESS_TIME: Family = family(
    "credprobe_config_last_reload_success_timestamp_seconds",
    "Time of the last successful configuration load (unix seconds).",
    Kind::Gauge,
);
const RELOAD_SUCCESSFUL: Family = family(
    "credprobe_config_last_reload_successful",
    "1 if the last configuration load succeeded, 0 if it failed.",
    Kind::Gauge,
);
const CREDENTIAL_EXPIRY: Family = family(
    "credprobe_credential_expiry_timestamp_seconds",
    "Configured expiry of the tenant's client secret (unix seconds).",
    Kind::Gauge,
);
const ENDPOINT_LAST_SUCCESS: Family = family(
    "credprobe_endpoint_last_success_timestamp_seconds",
    "Time of the last successful call of the endpoint (unix seconds).",
    Kind::Gauge,
);
const ENDPOINT_DURATION: Family = family(
    "credprobe_endpoint_request_duration_seconds",
    "Latency of endpoint calls, from send to the last body byte.",
    Kind::Histogram,
);
const ENDPOINT_REQUESTS: Family = family(
    "credprobe_endpoint_requests_total",
    "Endpoint calls by result class.",
    Kind::Counter,
);
const ENDPOINT_STATUS: Family = family(
    "credprobe_endpoint_status_code",
    "HTTP status of the last call, 0 when there was no response.",
    Kind::Gauge,
);
const ENDPOINT_SUCCESS: Family = family(
    "credprobe_endpoint_success",
    "1 if the last call of the endpoint succeeded, 0 if it failed.",
    Kind::Gauge,
);
const LATENESS: Family = family(
    "credprobe_schedule_lateness_seconds",
    "How late probe cycles start against their schedule; grows when the process is overloaded.",
    Kind::Histogram,
);
const SHARD_INDEX: Family = family(
    "credprobe_shard_index",
    "Which shard this process is (--shard.index), from 0.",
    Kind::Gauge,
);
const SHARDS: Family = family(
    "credprobe_shards",
    "How many shards the tenants are split into (--shard.count); not credprobe_shard_count, as a _count suffix is reserved for histograms.",
    Kind::Gauge,
);
const TENANT_INFO: Family = family(
    "credprobe_tenant_info",
    "Always 1; the tenant's configured labels, to join on tenant.",
    Kind::Gauge,
);
const INTERVAL: Family = family(
    "credprobe_tenant_interval_seconds",
    "The tenant's configured probe interval.",
    Kind::Gauge,
);
const CYCLE_LAST: Family = family(
    "credprobe_tenant_last_cycle_timestamp_seconds",
    "When the tenant's last probe cycle finished (unix seconds); stale means the scheduler is stuck.",
    Kind::Gauge,
);
const TENANTS: Family = family(
    "credprobe_tenants",
    "Tenants probed by this process.",
    Kind::Gauge,
);
const TLS_EXPIRY: Family = family(
    "credprobe_tls_certificate_expiry_timestamp_seconds",
    "notAfter of the leaf certificate presented by the token or API host (unix seconds).",
    Kind::Gauge,
);
const TOKEN_EXPIRY: Family = family(
    "credprobe_token_expiry_timestamp_seconds",
    "When the newest token expires (unix seconds); absent when the expiry is unknown.",
    Kind::Gauge,
);
const TOKEN_LAST_SUCCESS: Family = family(
    "credprobe_token_last_success_timestamp_seconds",
    "Time of the last successful token request (unix seconds).",
    Kind::Gauge,
);
const TOKEN_LIFETIME: Family = family(
    "credprobe_token_lifetime_seconds",
    "Lifetime granted to the newest token (expires_in).",
    Kind::Gauge,
);
const TOKEN_DURATION: Family = family(
    "credprobe_token_request_duration_seconds",
    "Latency of token requests, from send to the last body byte.",
    Kind::Histogram,
);
const TOKEN_REQUESTS: Family = family(
    "credprobe_token_requests_total",
    "Token requests by result class.",
    Kind::Counter,
);
const TOKEN_SUCCESS: Family = family(
    "credprobe_token_success",
    "1 if the last token request succeeded, 0 if it failed.",
    Kind::Gauge,
);

/// Every family, in name order: the order [`Metrics::render_to`] writes
/// them in.
pub const FAMILIES: [&Family; 23] = [
    &BUILD_INFO,
    &RELOAD_SUCCESS_TIME,
    &RELOAD_SUCCESSFUL,
    &CREDENTIAL_EXPIRY,
    &ENDPOINT_LAST_SUCCESS,
    &ENDPOINT_DURATION,
    &ENDPOINT_REQUESTS,
    &ENDPOINT_STATUS,
    &ENDPOINT_SUCCESS,
    &LATENESS,
    &SHARD_INDEX,
    &SHARDS,
    &TENANT_INFO,
    &INTERVAL,
    &CYCLE_LAST,
    &TENANTS,
    &TLS_EXPIRY,
    &TOKEN_EXPIRY,
    &TOKEN_LAST_SUCCESS,
    &TOKEN_LIFETIME,
    &TOKEN_DURATION,
    &TOKEN_REQUESTS,
    &TOKEN_SUCCESS,
];

impl Metrics {
    /// Creates the store; `buckets` are the latency histogram bounds.
    pub fn new(buckets: &[f64]) -> Arc<Metrics> {
        let lateness_buckets = Bounds::new(&LATENESS_BUCKETS);
        Arc::new(Metrics {
            buckets: Bounds::new(buckets),
            process: Mutex::new(ProcessState {
                lateness: Histogram::new(&lateness_buckets),
                tenants: 0,
                shard_index: 0,
                shard_count: 1,
                reload_successful: false,
                reload_success_time: 0.0,
            }),
            lateness_buckets,
            tenants: RwLock::new(BTreeMap::new()),
            info_keys: RwLock::new(Arc::from(Vec::new())),
            last_render_bytes: AtomicUsize::new(0),
        })
    }

    /// Creates a tenant's series. Result counters start at 0 for every
    /// class, so rate() works from the first failure. Replaces what an
    /// earlier tenant of the same name recorded.
    pub fn add_tenant(&self, tenant: &Arc<Tenant>) {
        let mut endpoint_order: Vec<usize> = (0..tenant.endpoints.len()).collect();
        endpoint_order.sort_by_key(|&i| tenant.endpoints[i].name.as_str());
        let state = TenantState {
            endpoints: tenant
                .endpoints
                .iter()
                .map(|_| EndpointState::default())
                .collect(),
            ..TenantState::default()
        };
        let series = Arc::new(TenantSeries {
            tenant: Arc::clone(tenant),
            endpoint_order: endpoint_order.into_boxed_slice(),
            state: Mutex::new(state),
        });
        self.tenants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(tenant.name.clone(), series);
    }

    /// Deletes every series of a tenant that is no longer configured: the
    /// one added with this very `tenant`, not a newer one of the same name.
    pub fn remove_tenant(&self, tenant: &Tenant) {
        let mut tenants = self.tenants.write().unwrap_or_else(PoisonError::into_inner);
        if tenants
            .get(&tenant.name)
            .is_some_and(|series| std::ptr::eq(Arc::as_ptr(&series.tenant), tenant))
        {
            tenants.remove(&tenant.name);
        }
    }

    /// Sets the tenant count and the label keys of credprobe_tenant_info
    /// for the configured tenants.
    pub fn set_tenants(&self, tenants: &[Arc<Tenant>]) {
        self.process().tenants = tenants.len();
        let keys = crate::config::validate::label_keys(tenants);
        *self
            .info_keys
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::from(keys);
    }

    /// Records which shard this process is.
    pub fn set_shard(&self, shard: crate::shard::Shard) {
        let mut process = self.process();
        process.shard_index = shard.index;
        process.shard_count = shard.count;
    }

    /// Records the result of loading a configuration.
    pub fn config_loaded(&self, ok: bool) {
        let mut process = self.process();
        process.reload_successful = ok;
        if ok {
            process.reload_success_time = unix_seconds(SystemTime::now());
        }
    }

    /// Records how late a cycle started against its schedule.
    pub fn record_lateness(&self, late: Duration) {
        let bounds = &self.lateness_buckets;
        self.process().lateness.observe(bounds, late.as_secs_f64());
    }

    /// Records a token request.
    pub fn record_token(&self, tenant: &str, outcome: &TokenOutcome) {
        let class = class_index(&TokenResult::ALL, &outcome.result);
        self.update(tenant, |state| {
            if let Some(count) = class.and_then(|i| state.token_requests.get_mut(i)) {
                *count += 1;
            }
            observe(&mut state.token_duration, &self.buckets, outcome.latency);
            state.token_success = Some(outcome.result == TokenResult::Success);
            if let Some(token) = &outcome.token {
                state.token_last_success = Some(unix_seconds(SystemTime::now()));
                state.token_expiry = token.expires_at.map(unix_seconds);
                state.token_lifetime = token.lifetime.map(|l| l.as_secs_f64());
            }
            record_certificate(state, outcome.certificate.as_ref());
        });
    }

    /// Records that a tenant finished a cycle.
    pub fn record_cycle(&self, tenant: &str) {
        self.update(tenant, |state| {
            state.cycle_last = Some(unix_seconds(SystemTime::now()));
        });
    }

    /// Records an endpoint call.
    pub fn record_endpoint(&self, tenant: &str, endpoint: &str, outcome: &EndpointOutcome) {
        let class = class_index(&EndpointResult::ALL, &outcome.result);
        let Some(series) = self.series(tenant) else {
            return;
        };
        let Some(index) = series
            .tenant
            .endpoints
            .iter()
            .position(|e| e.name == endpoint)
        else {
            return;
        };
        let mut state = series.lock();
        let calls = &mut state.endpoints[index];
        if let Some(count) = class.and_then(|i| calls.requests.get_mut(i)) {
            *count += 1;
        }
        if let Some(latency) = outcome.latency {
            observe(&mut calls.duration, &self.buckets, latency);
        }
        let ok = outcome.result == EndpointResult::Success;
        calls.success = Some(ok);
        calls.status = Some(outcome.status.unwrap_or(0));
        if ok {
            calls.last_success = Some(unix_seconds(SystemTime::now()));
        }
        record_certificate(&mut state, outcome.certificate.as_ref());
    }

    fn process(&self) -> std::sync::MutexGuard<'_, ProcessState> {
        self.process.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn series(&self, tenant: &str) -> Option<Arc<TenantSeries>> {
        self.tenants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
            .cloned()
    }

    /// Runs `change` on a tenant's record; a tenant not added is ignored.
    fn update(&self, tenant: &str, change: impl FnOnce(&mut TenantState)) {
        if let Some(series) = self.series(tenant) {
            change(&mut series.lock());
        }
    }

    /// Writes the text exposition of every family to `out`, in name order
    /// ([`FAMILIES`]), series in label order.
    ///
    /// Works on a list of the tenants taken at the start and locks one
    /// tenant at a time, only while its few lines are formatted: probes
    /// keep recording while a large fleet is rendered, and nothing but
    /// `out` grows with the fleet. With `out` a gzip encoder, not even the
    /// text is held whole.
    ///
    /// Each family is one pass over the tenants, so a scrape that overlaps
    /// a probe may show a counter already incremented beside a gauge from
    /// the cycle before (as a registry collecting family by family would);
    /// each series, histograms included, is consistent in itself.
    pub fn render_to<W: Write>(&self, mut out: W) -> io::Result<W> {
        let tenants: Vec<Arc<TenantSeries>> = self
            .tenants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let info_keys = Arc::clone(
            &self
                .info_keys
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let (lateness, tenant_count, shard_index, shard_count, reload_ok, reload_time) = {
            let p = self.process();
            (
                p.lateness.clone(),
                p.tenants,
                p.shard_index,
                p.shard_count,
                p.reload_successful,
                p.reload_success_time,
            )
        };
        let token_order = label_order(&TokenResult::ALL.map(TokenResult::as_str));
        let endpoint_order = label_order(&EndpointResult::ALL.map(EndpointResult::as_str));
        let buckets = &self.buckets;
        let w = &mut out;

        Writer::new(w, &BUILD_INFO).sample(&[("version", VERSION), ("revision", REVISION)], 1)?;
        Writer::new(w, &RELOAD_SUCCESS_TIME).sample(&[], Float(reload_time))?;
        Writer::new(w, &RELOAD_SUCCESSFUL).sample(&[], u8::from(reload_ok))?;
        tenant_gauge(w, &tenants, &CREDENTIAL_EXPIRY, |t, _| {
            t.tenant.credential_expires.map(unix_seconds)
        })?;
        per_endpoint(
            w,
            &tenants,
            &ENDPOINT_LAST_SUCCESS,
            |f, labels, calls| match calls.last_success {
                Some(at) => f.sample(labels, Float(at)),
                None => Ok(()),
            },
        )?;
        per_endpoint(
            w,
            &tenants,
            &ENDPOINT_DURATION,
            |f, labels, calls| match &calls.duration {
                Some(h) => f.histogram(labels, buckets, h),
                None => Ok(()),
            },
        )?;
        per_endpoint(w, &tenants, &ENDPOINT_REQUESTS, |f, labels, calls| {
            for &i in &endpoint_order {
                let result = EndpointResult::ALL[i].as_str();
                let [tenant, endpoint] = *labels;
                f.sample(&[tenant, endpoint, ("result", result)], calls.requests[i])?;
            }
            Ok(())
        })?;
        per_endpoint(
            w,
            &tenants,
            &ENDPOINT_STATUS,
            |f, labels, calls| match calls.status {
                Some(status) => f.sample(labels, status),
                None => Ok(()),
            },
        )?;
        per_endpoint(
            w,
            &tenants,
            &ENDPOINT_SUCCESS,
            |f, labels, calls| match calls.success {
                Some(ok) => f.sample(labels, u8::from(ok)),
                None => Ok(()),
            },
        )?;
        Writer::new(w, &LATENESS).histogram(&[], &self.lateness_buckets, &lateness)?;
        Writer::new(w, &SHARD_INDEX).sample(&[], shard_index)?;
        Writer::new(w, &SHARDS).sample(&[], shard_count)?;
        per_tenant(w, &tenants, &TENANT_INFO, |f, name, t, _| {
            let mut labels = Vec::with_capacity(info_keys.len() + 1);
            labels.push(("tenant", name));
            for key in info_keys.iter() {
                let value = t.tenant.labels.get(key).map_or("", String::as_str);
                labels.push((key.as_str(), value));
            }
            f.sample(&labels, 1)
        })?;
        tenant_gauge(w, &tenants, &INTERVAL, |t, _| {
            Some(t.tenant.interval.as_secs_f64())
        })?;
        tenant_gauge(w, &tenants, &CYCLE_LAST, |_, s| s.cycle_last)?;
        Writer::new(w, &TENANTS).sample(&[], tenant_count)?;
        per_tenant(w, &tenants, &TLS_EXPIRY, |f, name, _, s| {
            for (host, not_after) in &s.tls_expiry {
                f.sample(&[("tenant", name), ("host", host)], not_after)?;
            }
            Ok(())
        })?;
        tenant_gauge(w, &tenants, &TOKEN_EXPIRY, |_, s| s.token_expiry)?;
        tenant_gauge(w, &tenants, &TOKEN_LAST_SUCCESS, |_, s| {
            s.token_last_success
        })?;
        tenant_gauge(w, &tenants, &TOKEN_LIFETIME, |_, s| s.token_lifetime)?;
        per_tenant(w, &tenants, &TOKEN_DURATION, |f, name, _, s| {
            match &s.token_duration {
                Some(h) => f.histogram(&[("tenant", name)], buckets, h),
                None => Ok(()),
            }
        })?;
        per_tenant(w, &tenants, &TOKEN_REQUESTS, |f, name, _, s| {
            for &i in &token_order {
                let result = TokenResult::ALL[i].as_str();
                f.sample(&[("tenant", name), ("result", result)], s.token_requests[i])?;
            }
            Ok(())
        })?;
        per_tenant(w, &tenants, &TOKEN_SUCCESS, |f, name, _, s| {
            match s.token_success {
                Some(ok) => f.sample(&[("tenant", name)], u8::from(ok)),
                None => Ok(()),
            }
        })?;
        Ok(out)
    }

    /// The text exposition of every family.
    pub fn render(&self) -> io::Result<Vec<u8>> {
        let last = self.last_render_bytes.load(Ordering::Relaxed);
        let text = self.render_to(Vec::with_capacity((last + last / 16).max(64 * 1024)))?;
        self.last_render_bytes.store(text.len(), Ordering::Relaxed);
        Ok(text)
    }
}

/// The counter index of a result class: its place in `ALL`
/// ([`TokenResult::ALL`], [`EndpointResult::ALL`]). A class missing from
/// `ALL` is a bug that the tests catch (debug builds panic here, before any
/// lock is taken); a release build leaves it uncounted rather than take
/// `/metrics` down.
fn class_index<R: PartialEq + fmt::Debug>(all: &[R], result: &R) -> Option<usize> {
    let index = all.iter().position(|r| r == result);
    debug_assert!(index.is_some(), "ALL lacks {result:?}");
    index
}

fn record_certificate(state: &mut TenantState, certificate: Option<&CertificateSeen>) {
    if let Some(cert) = certificate {
        match state.tls_expiry.get_mut(cert.host.as_str()) {
            Some(not_after) => *not_after = cert.not_after,
            None => {
                state
                    .tls_expiry
                    .insert(cert.host.as_str().into(), cert.not_after);
            }
        }
    }
}

/// Indexes of `labels` in the order of their values.
fn label_order<const N: usize>(labels: &[&str; N]) -> [usize; N] {
    let mut order: [usize; N] = std::array::from_fn(|i| i);
    order.sort_by_key(|&i| labels[i]);
    order
}

/// Writes one family, one tenant at a time in name order. A tenant's lines
/// are written into a small scratch buffer under its lock and passed on to
/// `out` after it is released: `out` may compress or grow a large buffer,
/// and a probe recording meanwhile must not wait for that.
fn per_tenant<W: Write>(
    out: &mut W,
    tenants: &[Arc<TenantSeries>],
    family: &'static Family,
    mut write: impl FnMut(&mut Writer<'_, Vec<u8>>, &str, &TenantSeries, &TenantState) -> io::Result<()>,
) -> io::Result<()> {
    let mut scratch = Vec::with_capacity(4096);
    let mut started = false;
    for series in tenants {
        scratch.clear();
        {
            let state = series.lock();
            let mut writer = Writer {
                out: &mut scratch,
                family,
                started,
            };
            write(&mut writer, &series.tenant.name, series, &state)?;
            started = writer.started;
        }
        out.write_all(&scratch)?;
    }
    Ok(())
}

/// Writes a per-tenant gauge that is absent until its first value.
fn tenant_gauge<W: Write>(
    out: &mut W,
    tenants: &[Arc<TenantSeries>],
    family: &'static Family,
    value: impl Fn(&TenantSeries, &TenantState) -> Option<f64>,
) -> io::Result<()> {
    per_tenant(out, tenants, family, |f, name, series, state| {
        match value(series, state) {
            Some(value) => f.sample(&[("tenant", name)], Float(value)),
            None => Ok(()),
        }
    })
}

/// Writes one per-endpoint family: tenants in name order, each tenant's
/// endpoints in name order, with the `tenant` and `endpoint` labels.
fn per_endpoint<W: Write>(
    out: &mut W,
    tenants: &[Arc<TenantSeries>],
    family: &'static Family,
    mut write: impl FnMut(
        &mut Writer<'_, Vec<u8>>,
        &[(&str, &str); 2],
        &EndpointState,
    ) -> io::Result<()>,
) -> io::Result<()> {
    per_tenant(out, tenants, family, |writer, name, series, state| {
        for &i in &series.endpoint_order {
            let labels = [
                ("tenant", name),
                ("endpoint", series.tenant.endpoints[i].name.as_str()),
            ];
            write(writer, &labels, &state.endpoints[i])?;
        }
        Ok(())
    })
}

/// Writes the samples of one family; its `# HELP` and `# TYPE` lines come
/// with the first sample, as a family without samples is not valid
/// exposition (with no tenants, the per-tenant families have none).
struct Writer<'a, W> {
    out: &'a mut W,
    family: &'static Family,
    started: bool,
}

impl<'a, W: Write> Writer<'a, W> {
    fn new(out: &'a mut W, family: &'static Family) -> Self {
        Writer {
            out,
            family,
            started: false,
        }
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: impl fmt::Display) -> io::Result<()> {
        self.line("", labels, None, value)
    }

    fn histogram(
        &mut self,
        labels: &[(&str, &str)],
        bounds: &Bounds,
        histogram: &Histogram,
    ) -> io::Result<()> {
        let mut cumulative = 0u64;
        for (count, le) in histogram.counts.iter().zip(&bounds.labels) {
            cumulative += count;
            self.line("_bucket", labels, Some(le), cumulative)?;
        }
        self.line("_sum", labels, None, Float(histogram.sum))?;
        self.line("_count", labels, None, cumulative)
    }

    fn line(
        &mut self,
        suffix: &str,
        labels: &[(&str, &str)],
        le: Option<&str>,
        value: impl fmt::Display,
    ) -> io::Result<()> {
        let name = self.family.name;
        if !self.started {
            self.started = true;
            writeln!(self.out, "# HELP {name} {}", Help(self.family.help))?;
            writeln!(self.out, "# TYPE {name} {}", self.family.kind.as_str())?;
        }
        self.out.write_all(name.as_bytes())?;
        self.out.write_all(suffix.as_bytes())?;
        let le = le.map(|le| ("le", le));
        let mut separator = "{";
        for (key, value) in labels.iter().chain(le.as_ref()) {
            write!(self.out, "{separator}{key}=\"{}\"", LabelValue(value))?;
            separator = ",";
        }
        if separator == "," {
            self.out.write_all(b"}")?;
        }
        writeln!(self.out, " {value}")
    }
}

/// A sample value or bound as the text format spells it.
struct Float(f64);

impl fmt::Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            f.write_str("NaN")
        } else if v.is_infinite() {
            f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" })
        } else {
            write!(f, "{v}")
        }
    }
}

/// A label value with `\`, `"` and newlines escaped.
struct LabelValue<'a>(&'a str);

impl fmt::Display for LabelValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape(f, self.0, true)
    }
}

/// HELP text with `\` and newlines escaped.
struct Help(&'static str);

impl fmt::Display for Help {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape(f, self.0, false)
    }
}

fn escape(f: &mut fmt::Formatter<'_>, text: &str, quotes: bool) -> fmt::Result {
    let special = |c: char| c == '\\' || c == '\n' || (quotes && c == '"');
    let mut rest = text;
    while let Some(at) = rest.find(special) {
        f.write_str(&rest[..at])?;
        let c = rest[at..].chars().next().expect("found above");
        f.write_str(match c {
            '\\' => "\\\\",
            '\n' => "\\n",
            _ => "\\\"",
        })?;
        rest = &rest[at + c.len_utf8()..];
    }
    f.write_str(rest)
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::config::{LoadOptions, validate::load_str};
    use crate::probe::{EndpointOutcome, IssuedToken, TokenOutcome};

    fn tenants(yaml: &str) -> Vec<Arc<Tenant>> {
        load_str(
            yaml,
            Path::new("test.yml"),
            &LoadOptions {
                warn_inline_secrets: false,
            },
        )
        .unwrap()
        .tenants
    }

    const ONE: &str = "tenants: [{name: a, labels: {tier: gold}, credential_expires: \"2030-01-01\", base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, endpoints: [{name: e, path: /x}]}]";

    fn token(result: TokenResult, certificate: Option<CertificateSeen>) -> TokenOutcome {
        TokenOutcome {
            result,
            latency: Duration::from_millis(5),
            status: Some(200),
            detail: None,
            token: (result == TokenResult::Success).then(|| IssuedToken {
                access_token: secrecy::SecretString::from("t".to_owned()),
                obtained_at: SystemTime::now(),
                lifetime: Some(Duration::from_secs(900)),
                expires_at: Some(SystemTime::now() + Duration::from_secs(900)),
            }),
            certificate,
        }
    }

    fn call(result: EndpointResult, latency_ms: u64, status: Option<u16>) -> EndpointOutcome {
        EndpointOutcome {
            result,
            latency: Some(Duration::from_millis(latency_ms)),
            status,
            detail: None,
            certificate: None,
        }
    }

    fn text(metrics: &Metrics) -> String {
        String::from_utf8(metrics.render().unwrap()).unwrap()
    }

    /// The sample lines of `text` that start with `prefix`.
    fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    #[test]
    fn families_are_listed_in_name_order_once_each() {
        let names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn render_writes_every_family_once_in_name_order_and_zero_tenants_is_valid() {
        let metrics = Metrics::new(&crate::config::DEFAULT_HISTOGRAM_BUCKETS);
        let empty = text(&metrics);
        assert!(
            !empty.contains("credprobe_tenant_info"),
            "an empty family is not written"
        );
        assert!(empty.contains("# TYPE credprobe_tenants gauge\ncredprobe_tenants 0\n"));

        let config = tenants(ONE);
        let tenant = &config[0];
        metrics.set_tenants(&config);
        metrics.add_tenant(tenant);
        metrics.record_lateness(Duration::from_millis(3));
        metrics.record_cycle("a");
        metrics.config_loaded(true);
        let certificate = Some(CertificateSeen {
            host: "h".into(),
            not_after: 1,
        });
        metrics.record_token("a", &token(TokenResult::Success, certificate.clone()));
        let mut endpoint = call(EndpointResult::Success, 2, Some(200));
        endpoint.certificate = certificate;
        metrics.record_endpoint("a", "e", &endpoint);
        let text = text(&metrics);
        let written: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(written, FAMILIES.map(|f| f.name));
        for family in FAMILIES {
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
        assert!(text.contains(
            "credprobe_tls_certificate_expiry_timestamp_seconds{tenant=\"a\",host=\"h\"} 1\n"
        ));
        assert!(text.contains("credprobe_tenant_info{tenant=\"a\",tier=\"gold\"} 1\n"));
        assert!(text.contains("credprobe_token_lifetime_seconds{tenant=\"a\"} 900\n"));
        assert!(text.contains("credprobe_endpoint_status_code{tenant=\"a\",endpoint=\"e\"} 200\n"));

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
        assert_eq!(unzipped, text);
    }

    #[test]
    fn counters_start_at_zero_for_every_class_in_label_order() {
        let metrics = Metrics::new(&[0.1]);
        let config = tenants(ONE);
        metrics.add_tenant(&config[0]);
        metrics.record_token("a", &token(TokenResult::RateLimited, None));
        metrics.record_token("a", &token(TokenResult::RateLimited, None));
        let text = text(&metrics);

        let token = lines(&text, "credprobe_token_requests_total{");
        assert_eq!(token.len(), TokenResult::ALL.len());
        let results: Vec<&str> = token
            .iter()
            .map(|l| {
                l.split("result=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
            })
            .collect();
        let mut sorted = results.clone();
        sorted.sort_unstable();
        assert_eq!(results, sorted, "series in label order");
        assert!(
            token.contains(
                &"credprobe_token_requests_total{tenant=\"a\",result=\"rate_limited\"} 2"
            )
        );
        assert!(
            token.contains(&"credprobe_token_requests_total{tenant=\"a\",result=\"success\"} 0")
        );
        assert_eq!(
            lines(&text, "credprobe_endpoint_requests_total{").len(),
            EndpointResult::ALL.len()
        );
        assert!(text.contains("credprobe_token_success{tenant=\"a\"} 0\n"));
        // No token came back: no expiry, lifetime or last success.
        assert!(!text.contains("credprobe_token_expiry_timestamp_seconds{"));
        assert!(!text.contains("credprobe_token_last_success_timestamp_seconds{"));
        // No call yet: the endpoint's gauges and histogram are absent.
        assert!(!text.contains("credprobe_endpoint_success{"));
        assert!(!text.contains("credprobe_endpoint_request_duration_seconds_count{"));
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let metrics = Metrics::new(&[0.01, 0.1]);
        let config = tenants(ONE);
        metrics.add_tenant(&config[0]);
        for ms in [5, 10, 50, 2000] {
            metrics.record_endpoint("a", "e", &call(EndpointResult::ServerError, ms, Some(503)));
        }
        let text = text(&metrics);
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
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::new(&[0.1]);
        let config = tenants(
            "tenants: [{name: a, labels: {team: \"q\\\"b\\\\s\\nn\"}, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, endpoints: [{name: e, path: /x}]}]",
        );
        metrics.set_tenants(&config);
        metrics.add_tenant(&config[0]);
        let text = text(&metrics);
        assert!(
            text.contains("credprobe_tenant_info{tenant=\"a\",team=\"q\\\"b\\\\s\\nn\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn removed_tenants_lose_every_series_and_late_results_are_dropped() {
        let metrics = Metrics::new(&[0.1]);
        let config = tenants(
            "tenants: [{name: a, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, endpoints: [{name: e, path: /x}]}, {name: b, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, endpoints: [{name: z, path: /x}, {name: e, path: /y}]}]",
        );
        metrics.set_tenants(&config);
        for tenant in &config {
            metrics.add_tenant(tenant);
            metrics.record_token(&tenant.name, &token(TokenResult::Success, None));
            metrics.record_cycle(&tenant.name);
        }
        metrics.record_endpoint("b", "z", &call(EndpointResult::Success, 1, Some(200)));
        let before = text(&metrics);
        // Endpoints in name order within a tenant, tenants in name order.
        let order: Vec<&str> = lines(&before, "credprobe_endpoint_requests_total{")
            .iter()
            .map(|l| l.split(",result").next().unwrap())
            .collect::<Vec<_>>()
            .into_iter()
            .fold(Vec::new(), |mut seen, l| {
                if seen.last() != Some(&l) {
                    seen.push(l);
                }
                seen
            });
        assert_eq!(
            order,
            [
                "credprobe_endpoint_requests_total{tenant=\"a\",endpoint=\"e\"",
                "credprobe_endpoint_requests_total{tenant=\"b\",endpoint=\"e\"",
                "credprobe_endpoint_requests_total{tenant=\"b\",endpoint=\"z\"",
            ]
        );

        metrics.remove_tenant(&config[0]);
        metrics.record_token("a", &token(TokenResult::Success, None));
        metrics.record_endpoint("a", "e", &call(EndpointResult::Success, 1, Some(200)));
        metrics.record_cycle("a");
        metrics.record_endpoint(
            "b",
            "no-such-endpoint",
            &call(EndpointResult::Success, 1, Some(200)),
        );
        let after = text(&metrics);
        assert!(!after.contains("tenant=\"a\""), "{after}");
        let series = |t: &str| t.lines().filter(|l| l.contains("tenant=\"b\"")).count();
        assert_eq!(series(&before), series(&after), "b is untouched");
        // Adding the tenant again starts from zero.
        metrics.add_tenant(&config[0]);
        assert!(
            text(&metrics)
                .contains("credprobe_token_requests_total{tenant=\"a\",result=\"success\"} 0\n")
        );
    }

    #[test]
    fn floats_are_spelled_as_the_text_format_wants() {
        assert_eq!(Float(1.0).to_string(), "1");
        assert_eq!(Float(0.005).to_string(), "0.005");
        assert_eq!(Float(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Float(f64::NEG_INFINITY).to_string(), "-Inf");
        assert_eq!(Float(f64::NAN).to_string(), "NaN");
        assert_eq!(Float(1_764_000_000.25).to_string(), "1764000000.25");
    }

    #[test]
    fn every_family_has_help_and_a_unique_name() {
        let names: BTreeSet<&str> = FAMILIES.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), FAMILIES.len());
        assert!(
            FAMILIES
                .iter()
                .all(|f| !f.help.is_empty() && f.name.starts_with("credprobe_"))
        );
    }

    #[test]
    fn token_expiry_and_lifetime_follow_the_newest_token_and_survive_failures() {
        let metrics = Metrics::new(&[0.1]);
        let config = tenants(ONE);
        metrics.add_tenant(&config[0]);
        metrics.record_token("a", &token(TokenResult::Success, None));
        let mut without = token(TokenResult::Success, None);
        let issued = without.token.as_mut().unwrap();
        issued.lifetime = None;
        issued.expires_at = None;
        let first = text(&metrics);
        assert!(first.contains("credprobe_token_expiry_timestamp_seconds{tenant=\"a\"} "));
        // A failure keeps what the last token said.
        metrics.record_token("a", &token(TokenResult::ServerError, None));
        let failed = text(&metrics);
        for family in [
            "credprobe_token_expiry_timestamp_seconds{",
            "credprobe_token_lifetime_seconds{",
            "credprobe_token_last_success_timestamp_seconds{",
        ] {
            assert_eq!(lines(&first, family), lines(&failed, family), "{family}");
        }
        // A new token without expires_in: expiry and lifetime are unknown.
        metrics.record_token("a", &without);
        let after = text(&metrics);
        assert!(!after.contains("credprobe_token_expiry_timestamp_seconds{"));
        assert!(!after.contains("credprobe_token_lifetime_seconds{"));
        assert!(after.contains("credprobe_token_last_success_timestamp_seconds{tenant=\"a\"} "));
    }

    #[test]
    fn info_series_share_label_names_across_tenants_and_follow_reloads() {
        let metrics = Metrics::new(&[0.1]);
        let config = tenants(
            "tenants: [{name: a, labels: {tier: gold}, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}, {name: b, labels: {customer: x}, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}]",
        );
        metrics.set_tenants(&config);
        for tenant in &config {
            metrics.add_tenant(tenant);
        }
        let text1 = text(&metrics);
        assert_eq!(
            lines(&text1, "credprobe_tenant_info{"),
            [
                "credprobe_tenant_info{tenant=\"a\",customer=\"\",tier=\"gold\"} 1",
                "credprobe_tenant_info{tenant=\"b\",customer=\"x\",tier=\"\"} 1",
            ]
        );
        // b leaves and a loses its label: tier is no label name any more.
        let reloaded = tenants(
            "tenants: [{name: a, labels: {customer: y}, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}]",
        );
        metrics.remove_tenant(&config[1]);
        metrics.remove_tenant(&config[0]);
        metrics.set_tenants(&reloaded);
        metrics.add_tenant(&reloaded[0]);
        assert_eq!(
            lines(&text(&metrics), "credprobe_tenant_info{"),
            ["credprobe_tenant_info{tenant=\"a\",customer=\"y\"} 1"]
        );
        // Removing with the old configuration does not touch the new one.
        metrics.remove_tenant(&config[0]);
        assert!(text(&metrics).contains("credprobe_tenant_info{tenant=\"a\",customer=\"y\"} 1"));
    }

    #[test]
    fn certificates_are_one_series_per_host_in_host_order() {
        let metrics = Metrics::new(&[0.1]);
        let config = tenants(ONE);
        metrics.add_tenant(&config[0]);
        let seen = |host: &str, not_after| {
            Some(CertificateSeen {
                host: host.into(),
                not_after,
            })
        };
        metrics.record_token(
            "a",
            &token(TokenResult::Success, seen("login.example:8443", 5)),
        );
        metrics.record_token("a", &token(TokenResult::Success, seen("api.example", 6)));
        metrics.record_token(
            "a",
            &token(TokenResult::Success, seen("login.example:8443", 7)),
        );
        assert_eq!(
            lines(
                &text(&metrics),
                "credprobe_tls_certificate_expiry_timestamp_seconds{"
            ),
            [
                "credprobe_tls_certificate_expiry_timestamp_seconds{tenant=\"a\",host=\"api.example\"} 6",
                "credprobe_tls_certificate_expiry_timestamp_seconds{tenant=\"a\",host=\"login.example:8443\"} 7",
            ]
        );
        metrics.remove_tenant(&config[0]);
        assert!(!text(&metrics).contains("credprobe_tls_certificate_expiry_timestamp_seconds"));
    }

    #[test]
    fn a_call_never_made_counts_without_latency_and_status_zero() {
        let metrics = Metrics::new(&[0.1]);
        let config = tenants(ONE);
        metrics.add_tenant(&config[0]);
        let mut skipped = call(EndpointResult::NoToken, 0, None);
        skipped.latency = None;
        metrics.record_endpoint("a", "e", &skipped);
        let text = text(&metrics);
        assert!(text.contains(
            "credprobe_endpoint_requests_total{tenant=\"a\",endpoint=\"e\",result=\"no_token\"} 1\n"
        ));
        assert!(text.contains("credprobe_endpoint_status_code{tenant=\"a\",endpoint=\"e\"} 0\n"));
        assert!(!text.contains("credprobe_endpoint_request_duration_seconds_count{"));
    }

    #[test]
    fn a_value_on_a_bound_is_in_that_bucket_and_process_series_follow_their_setters() {
        let metrics = Metrics::new(&[0.005, 0.01]);
        let config = tenants(ONE);
        metrics.add_tenant(&config[0]);
        metrics.record_endpoint("a", "e", &call(EndpointResult::Success, 5, Some(200)));
        metrics.record_lateness(Duration::from_millis(1));
        metrics.record_lateness(Duration::from_secs(7));
        metrics.set_shard(crate::shard::Shard { index: 2, count: 3 });
        metrics.config_loaded(true);
        let loaded = text(&metrics);
        metrics.config_loaded(false);
        let text = text(&metrics);
        assert!(text.contains("credprobe_endpoint_request_duration_seconds_bucket{tenant=\"a\",endpoint=\"e\",le=\"0.005\"} 1\n"));
        assert!(text.contains("credprobe_schedule_lateness_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(text.contains("credprobe_schedule_lateness_seconds_bucket{le=\"5\"} 1\n"));
        assert!(text.contains("credprobe_schedule_lateness_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("credprobe_shard_index 2\n"));
        assert!(text.contains("credprobe_shards 3\n"));
        assert!(text.contains("credprobe_config_last_reload_successful 0\n"));
        // A failed load keeps the time of the last good one.
        let time = |t: &str| {
            lines(t, "credprobe_config_last_reload_success_timestamp_seconds ")[0].to_owned()
        };
        assert_eq!(time(&loaded), time(&text));
        assert_ne!(
            time(&text),
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
        let metrics = Metrics::new(&[0.1]);
        let config = tenants(ONE);
        metrics.add_tenant(&config[0]);
        assert!(metrics.render_to(Broken(700)).is_err());
        metrics.record_token("a", &token(TokenResult::Success, None));
        assert!(text(&metrics).contains("credprobe_token_success{tenant=\"a\"} 1\n"));
    }

    #[test]
    fn help_text_escapes_backslashes_and_newlines_but_not_quotes() {
        struct Show(&'static str);
        impl fmt::Display for Show {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                escape(f, self.0, false)
            }
        }
        assert_eq!(Show("a\\b\nc \"d\"").to_string(), "a\\\\b\\nc \"d\"");
        assert_eq!(
            LabelValue("a\\b\nc \"d\"").to_string(),
            "a\\\\b\\nc \\\"d\\\""
        );
        assert_eq!(Help("plain").to_string(), "plain");
    }
}
