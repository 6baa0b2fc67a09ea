//! One record per tenant: everything credprobe has seen of it, in one
//! place, written once per cycle by the tenant's own task and read by
//! every view (`/metrics`, the JSON API, the HTML pages, the `probe`
//! report).
//!
//! - [`step`]: what is kept of one step (token request or endpoint).
//! - [`histogram`]: the latency histograms, classic and
//!   [`native`] (sparse exponential buckets) at once.
//! - [`history`]: the recent probes.
//! - [`inventory`]: what the Entra credential inventory found, and when
//!   the credential in use expires.
//! - [`probe_now`]: requests to run a tenant's cycle at once, queued for
//!   its task.
//!
//! A tenant's record exists from [`Fleet::add`] to [`Fleet::remove`];
//! nothing else creates or deletes per-tenant state, so a tenant that
//! leaves the configuration leaves no series, no status and no history
//! behind.

pub mod histogram;
pub mod history;
pub mod inventory;
pub mod native;
pub mod probe_now;
pub mod step;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::SystemTime;

pub use histogram::Histogram;
pub use history::{HISTORY, History, ProbeRecord};
pub use step::{LastResult, StepRecord};

use crate::config::Tenant;
use crate::probe::{
    CycleReport, EndpointResult, Grant, Outcome, RejectionReason, ResultClass, TokenResult,
    TokenVerification,
};

/// The step name of token records, shared by all of them.
static TOKEN_STEP: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("token"));

/// Every tenant's record, by name.
#[derive(Debug)]
pub struct Fleet {
    /// Latency histogram bounds (`histogram_buckets:`), fixed at start.
    buckets: Arc<[f64]>,
    /// The records by tenant name: the order every view lists them in.
    records: RwLock<BTreeMap<String, Arc<TenantRecord>>>,
}

impl Fleet {
    /// An empty fleet whose latency histograms use `buckets`.
    pub fn new(buckets: &[f64]) -> Arc<Fleet> {
        debug_assert!(
            buckets.iter().all(|b| b.is_finite()) && buckets.windows(2).all(|w| w[0] < w[1]),
            "bucket bounds are finite and ascending (validated with the config): {buckets:?}"
        );
        Arc::new(Fleet {
            buckets: buckets.into(),
            records: RwLock::new(BTreeMap::new()),
        })
    }

    /// The latency histogram bounds.
    pub fn buckets(&self) -> &[f64] {
        &self.buckets
    }

    /// Creates the record of `tenant`, replacing any earlier record of the
    /// same name (a restarted tenant starts from zero).
    pub fn add(&self, tenant: &Arc<Tenant>) -> Arc<TenantRecord> {
        let record = Arc::new(TenantRecord::new(
            Arc::clone(tenant),
            Arc::clone(&self.buckets),
        ));
        self.write()
            .insert(tenant.name.clone(), Arc::clone(&record));
        record
    }

    /// Deletes `record`: that very record, not a newer one of the same
    /// name.
    pub fn remove(&self, record: &Arc<TenantRecord>) {
        let mut records = self.write();
        if records
            .get(&record.tenant.name)
            .is_some_and(|current| Arc::ptr_eq(current, record))
        {
            records.remove(&record.tenant.name);
        }
    }

    /// Every record, in tenant name order: a list taken now, so a long
    /// rendering does not hold the fleet's lock.
    pub fn records(&self) -> Vec<Arc<TenantRecord>> {
        self.read().values().cloned().collect()
    }

    /// The record of one tenant.
    pub fn get(&self, name: &str) -> Option<Arc<TenantRecord>> {
        self.read().get(name).cloned()
    }

    /// True when no tenant has a record (for tests).
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// (tenants that finished a first cycle, tenants with a record).
    pub fn readiness(&self) -> (usize, usize) {
        let records = self.records();
        let done = records
            .iter()
            .filter(|r| r.read(|state| state.cycles > 0))
            .count();
        (done, records.len())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<TenantRecord>>> {
        self.records.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<TenantRecord>>> {
        self.records.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every label key of these records' tenants, sorted: the label names of
/// credprobe_tenant_info, the same for every tenant.
pub fn label_keys(records: &[Arc<TenantRecord>]) -> Vec<&str> {
    let keys: BTreeSet<&str> = records
        .iter()
        .flat_map(|r| r.tenant.labels.keys().map(String::as_str))
        .collect();
    keys.into_iter().collect()
}

/// One tenant's record: its configuration and what has been seen of it.
#[derive(Debug)]
pub struct TenantRecord {
    /// The tenant's configuration: name, labels, endpoints, interval,
    /// credential expiry; shared, not copied.
    tenant: Arc<Tenant>,
    /// Endpoint names as the history shares them, in configuration order.
    endpoint_steps: Box<[Arc<str>]>,
    /// Indexes into the endpoints in endpoint name order (the order their
    /// series are written in).
    endpoint_order: Box<[usize]>,
    /// Latency histogram bounds.
    buckets: Arc<[f64]>,
    /// What has been seen.
    state: Mutex<TenantState>,
    /// Probe-now requests waiting for the tenant's task.
    probe_now: probe_now::ProbeNow,
}

/// What has been seen of one tenant.
#[derive(Debug)]
pub struct TenantState {
    /// The token request.
    pub token: StepRecord<TokenResult>,
    /// What the newest token said of itself (expiry, lifetime, scopes).
    pub grant: Option<Grant>,
    /// Why the newest token request was rejected, while the newest one is.
    pub rejection: Option<RejectionReason>,
    /// Whether the newest token verified (tenants that verify tokens).
    pub verification: Option<TokenVerification>,
    /// Each endpoint, in configuration order.
    pub endpoints: Box<[StepRecord<EndpointResult>]>,
    /// notAfter of the leaf certificate by `host` label.
    pub tls_expiry: BTreeMap<Box<str>, i64>,
    /// Cycles recorded.
    pub cycles: u64,
    /// When the last cycle finished.
    pub last_cycle_at: Option<SystemTime>,
    /// When a cycle last finished with every step successful.
    pub last_success_at: Option<SystemTime>,
    /// The newest failed step (the first failure of its cycle: the token's,
    /// not the endpoints' `no_token` it caused).
    pub last_error: Option<ProbeRecord>,
    /// The recent probes.
    pub history: History,
    /// The Entra credential inventory, once it made an attempt.
    pub inventory: Option<inventory::InventoryState>,
    /// The next credential's token requests (`next_client_secret_file`, `next_client_key_file`),
    /// once one was made; `None` for tenants without a next credential.
    /// Boxed: most tenants have none, and the record's heap bound
    /// (`tests/metrics_memory.rs`) is per tenant.
    pub next_credential: Option<Box<NextCredentialState>>,
}

/// What the token requests with a tenant's next credential found: only the
/// latest, and when one last succeeded. Kept out of the cycle's success,
/// the history and the last error, which are the current credential's.
#[derive(Debug, Clone)]
pub struct NextCredentialState {
    /// The latest result.
    pub last: LastResult<TokenResult>,
    /// Why the latest request was rejected, when it was.
    pub rejection: Option<RejectionReason>,
    /// When a token was last obtained with it.
    pub last_success_at: Option<SystemTime>,
}

impl TenantRecord {
    fn new(tenant: Arc<Tenant>, buckets: Arc<[f64]>) -> TenantRecord {
        let mut endpoint_order: Vec<usize> = (0..tenant.endpoints.len()).collect();
        endpoint_order.sort_by_key(|&i| tenant.endpoints[i].name.as_str());
        let state = TenantState {
            token: StepRecord::default(),
            grant: None,
            rejection: None,
            verification: None,
            endpoints: tenant
                .endpoints
                .iter()
                .map(|_| StepRecord::default())
                .collect(),
            tls_expiry: BTreeMap::new(),
            cycles: 0,
            last_cycle_at: None,
            last_success_at: None,
            last_error: None,
            history: History::default(),
            inventory: None,
            next_credential: None,
        };
        TenantRecord {
            endpoint_steps: tenant
                .endpoints
                .iter()
                .map(|e| Arc::from(e.name.as_str()))
                .collect(),
            endpoint_order: endpoint_order.into_boxed_slice(),
            tenant,
            buckets,
            state: Mutex::new(state),
            probe_now: probe_now::ProbeNow::default(),
        }
    }

    /// Where probe-now requests for this tenant wait for its task.
    pub fn probe_now(&self) -> &probe_now::ProbeNow {
        &self.probe_now
    }

    /// The tenant's configuration.
    pub fn tenant(&self) -> &Arc<Tenant> {
        &self.tenant
    }

    /// Endpoint indexes in endpoint name order.
    pub fn endpoint_order(&self) -> &[usize] {
        &self.endpoint_order
    }

    /// Reads the record under its lock; `read` should copy what it needs
    /// and return, as the tenant's task waits meanwhile.
    pub fn read<T>(&self, read: impl FnOnce(&TenantState) -> T) -> T {
        read(&self.lock())
    }

    /// Records a finished cycle: the one write a tenant's task makes per
    /// cycle.
    pub fn record_cycle(&self, report: &CycleReport) {
        let now = SystemTime::now();
        let mut state = self.lock();
        state.cycles += 1;
        state.last_cycle_at = Some(now);
        if report.did_something() && report.all_ok() {
            state.last_success_at = Some(now);
        }
        if let Some(outcome) = &report.token {
            state.token.record(outcome, &self.buckets, now);
            if let Some(grant) = &report.grant {
                state.grant = Some(grant.clone());
            }
            if let Some(verification) = &report.verification {
                state.verification = Some(verification.clone());
            }
            state.rejection = report.rejection;
            state.note(&TOKEN_STEP, outcome, now);
        }
        if let Some(next) = &report.next_credential {
            let last_success_at = match &state.next_credential {
                _ if next.outcome.ok() => Some(now),
                Some(previous) => previous.last_success_at,
                None => None,
            };
            state.next_credential = Some(Box::new(NextCredentialState {
                last: LastResult {
                    result: next.outcome.result,
                    status: next.outcome.status,
                    latency: next.outcome.latency,
                    detail: next.outcome.detail.clone(),
                    phases: next.outcome.phases,
                    at: now,
                },
                rejection: next.rejection,
                last_success_at,
            }));
        }
        for (index, outcome) in &report.endpoints {
            let (Some(step), Some(name)) = (
                state.endpoints.get_mut(*index),
                self.endpoint_steps.get(*index),
            ) else {
                debug_assert!(false, "endpoint index {index} out of range");
                continue;
            };
            step.record(outcome, &self.buckets, now);
            state.note(name, outcome, now);
        }
    }

    fn lock(&self) -> MutexGuard<'_, TenantState> {
        // A panic under the lock must not take every later scrape down.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TenantState {
    /// What every step adds besides its own record: the certificate seen,
    /// the history, and the last error.
    fn note<R: ResultClass>(&mut self, step: &Arc<str>, outcome: &Outcome<R>, now: SystemTime) {
        if let Some(cert) = &outcome.certificate {
            match self.tls_expiry.get_mut(cert.host.as_str()) {
                Some(not_after) => *not_after = cert.not_after,
                None => {
                    self.tls_expiry
                        .insert(cert.host.as_str().into(), cert.not_after);
                }
            }
        }
        let record = ProbeRecord {
            at: now,
            step: Arc::clone(step),
            result: outcome.result.step_result(),
            status: outcome.status,
            latency_seconds: outcome.latency.map(|d| d.as_secs_f64()),
            detail: outcome.detail.clone(),
        };
        let first_failure_of_cycle = self.last_error.as_ref().is_none_or(|last| last.at != now);
        if !record.ok() && first_failure_of_cycle {
            self.last_error = Some(record.clone());
        }
        self.history.push(record);
    }

    /// The latest result of every endpoint that has one.
    pub fn endpoint_results(&self) -> impl Iterator<Item = EndpointResult> + '_ {
        self.endpoints.iter().filter_map(StepRecord::last_result)
    }
}

#[cfg(test)]
pub(crate) mod tests;
