//! The latest outcomes per tenant and a short history, shared between the
//! scheduler (which writes) and the server (readiness, status views).
//! Nothing here holds a secret or a token: only classes, codes, latencies
//! and the probes' own log-safe detail text.

use std::collections::{BTreeMap, VecDeque};
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::probe::{CycleReport, EndpointResult, TokenResult};

/// How many probe records a tenant keeps.
pub const HISTORY: usize = 50;

/// One step of one cycle, for the history.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeRecord {
    /// When it finished (unix seconds).
    #[serde(serialize_with = "serialize_time")]
    pub at: SystemTime,
    /// `token`, or the endpoint name.
    pub step: String,
    /// The result class.
    pub result: &'static str,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// Latency in seconds, when a request was sent.
    pub latency_seconds: Option<f64>,
    /// What went wrong, when something did.
    pub detail: Option<String>,
}

/// What is known about one tenant.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TenantStatus {
    /// Whether its first cycle has finished.
    pub first_cycle_done: bool,
    /// The last token request's result class.
    pub token_result: Option<TokenResult>,
    /// The last token request's latency in seconds.
    pub token_latency_seconds: Option<f64>,
    /// When the newest token expires (unix seconds).
    pub token_expires_at: Option<f64>,
    /// The last result per endpoint.
    pub endpoints: BTreeMap<String, EndpointResult>,
    /// The newest records, oldest first.
    pub recent: VecDeque<ProbeRecord>,
}

/// All tenants' status.
#[derive(Debug, Default)]
pub struct StatusBoard {
    tenants: RwLock<BTreeMap<String, TenantStatus>>,
}

impl StatusBoard {
    /// Makes the board hold exactly these tenants, keeping what is known of
    /// those that stay.
    pub fn set_tenants(&self, tenants: &[std::sync::Arc<crate::config::Tenant>]) {
        let mut map = self.tenants.write().expect("status poisoned");
        let mut next = BTreeMap::new();
        for tenant in tenants {
            let status = map.remove(&tenant.name).unwrap_or_default();
            next.insert(tenant.name.clone(), status);
        }
        *map = next;
    }

    /// Forgets a tenant's history (its settings changed).
    pub fn reset(&self, name: &str) {
        if let Some(status) = self.tenants.write().expect("status poisoned").get_mut(name) {
            *status = TenantStatus::default();
        }
    }

    /// Records a finished cycle.
    pub fn record(&self, tenant: &str, report: &CycleReport) {
        let mut map = self.tenants.write().expect("status poisoned");
        let Some(status) = map.get_mut(tenant) else {
            return;
        };
        status.first_cycle_done = true;
        let now = SystemTime::now();
        let mut push = |record: ProbeRecord| {
            if status.recent.len() == HISTORY {
                status.recent.pop_front();
            }
            status.recent.push_back(record);
        };
        if let Some(token) = &report.token {
            push(ProbeRecord {
                at: now,
                step: "token".to_owned(),
                result: token.result.as_str(),
                status: token.status,
                latency_seconds: Some(token.latency.as_secs_f64()),
                detail: token.detail.clone(),
            });
        }
        for (name, outcome) in &report.endpoints {
            push(ProbeRecord {
                at: now,
                step: name.clone(),
                result: outcome.result.as_str(),
                status: outcome.status,
                latency_seconds: outcome.latency.map(|d| d.as_secs_f64()),
                detail: outcome.detail.clone(),
            });
        }
        if let Some(token) = &report.token {
            status.token_result = Some(token.result);
            status.token_latency_seconds = Some(token.latency.as_secs_f64());
            if let Some(issued) = &token.token {
                status.token_expires_at = issued.expires_at.map(unix_seconds);
            }
        }
        for (name, outcome) in &report.endpoints {
            status.endpoints.insert(name.clone(), outcome.result);
        }
    }

    /// The last token result and endpoint results of a tenant, so the log
    /// can report changes rather than every repeat.
    pub fn last_results(
        &self,
        tenant: &str,
    ) -> (Option<TokenResult>, BTreeMap<String, EndpointResult>) {
        let map = self.tenants.read().expect("status poisoned");
        map.get(tenant)
            .map(|s| (s.token_result, s.endpoints.clone()))
            .unwrap_or_default()
    }

    /// (tenants whose first cycle has finished, tenants configured).
    pub fn readiness(&self) -> (usize, usize) {
        let map = self.tenants.read().expect("status poisoned");
        let done = map.values().filter(|s| s.first_cycle_done).count();
        (done, map.len())
    }

    /// A copy of every tenant's status, by name.
    pub fn snapshot(&self) -> BTreeMap<String, TenantStatus> {
        self.tenants.read().expect("status poisoned").clone()
    }
}

fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

fn serialize_time<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(unix_seconds(*time))
}
