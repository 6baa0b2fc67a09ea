//! The latest outcomes per tenant and a short history, shared between the
//! scheduler (which writes) and the server (readiness, status views).
//! Nothing here holds a secret or a token: only classes, codes, latencies,
//! the probes' own log-safe detail text, and from the configuration the
//! tenant's labels, interval, credential expiry and URLs stripped of any
//! user information, query and fragment.
//!
//! The views ([`TenantView`], [`Summary`]) are what the status page renders
//! and what `/api/v1/tenants` serialises, so the HTML and the JSON always
//! show the same data.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::Tenant;
pub use crate::metrics::unix_seconds;
use crate::probe::{CycleReport, EndpointResult, TokenResult};

/// How many probe records a tenant keeps.
pub const HISTORY: usize = 50;

/// The `step` of token records, shared by all of them.
static TOKEN_STEP: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("token"));

/// One step of one cycle, for the history. Every tenant keeps [`HISTORY`]
/// of these, so they stay small: the step name is shared rather than
/// allocated per record, and only failures allocate (their detail, at its
/// exact length).
#[derive(Debug, Clone, Serialize)]
pub struct ProbeRecord {
    /// When it finished (unix seconds).
    #[serde(serialize_with = "serialize_time")]
    pub at: SystemTime,
    /// `token`, or the endpoint name; serialised as a plain string.
    #[serde(serialize_with = "serialize_shared_str")]
    pub step: Arc<str>,
    /// The result class.
    pub result: &'static str,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// Latency in seconds, when a request was sent.
    pub latency_seconds: Option<f64>,
    /// What went wrong, when something did.
    pub detail: Option<Box<str>>,
}

impl ProbeRecord {
    /// True when the step succeeded.
    pub fn ok(&self) -> bool {
        self.result == "success"
    }
}

/// What the configuration says about a tenant that the status views show.
/// Never the client id, the secret, headers or bodies.
#[derive(Debug, Clone, Default)]
pub struct TenantInfo {
    /// The tenant's labels (customer, tier...).
    pub labels: BTreeMap<String, String>,
    /// Time between two cycles.
    pub interval: Duration,
    /// When the client secret expires, if configured.
    pub credential_expires: Option<SystemTime>,
    /// The token endpoint, see [`public_url`].
    pub token_url: String,
    /// Endpoint names (shared with the history's records) and URLs, in
    /// configuration order.
    pub endpoints: Vec<(Arc<str>, String)>,
}

impl TenantInfo {
    fn of(tenant: &Tenant) -> TenantInfo {
        TenantInfo {
            labels: tenant.labels.clone(),
            interval: tenant.interval,
            credential_expires: tenant.credential_expires,
            token_url: public_url(&tenant.token.url),
            endpoints: tenant
                .endpoints
                .iter()
                .map(|e| (Arc::from(e.name.as_str()), public_url(&e.url)))
                .collect(),
        }
    }

    /// The endpoint's name for a record: the configuration's shared copy,
    /// or a fresh one for a name the configuration no longer has (a cycle
    /// that began before a reload).
    fn step_name(&self, name: &str) -> Arc<str> {
        self.endpoints
            .iter()
            .find(|(configured, _)| **configured == *name)
            .map_or_else(|| Arc::from(name), |(configured, _)| configured.clone())
    }
}

/// A URL fit for display: without user name, password, query or fragment
/// (any of which may carry a credential).
pub fn public_url(url: &url::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// The last outcome of one step (the token request or one endpoint).
#[derive(Debug, Clone)]
pub struct StepStatus {
    /// The result class.
    pub result: &'static str,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// Latency in seconds, when a request was sent.
    pub latency_seconds: Option<f64>,
    /// What went wrong, when something did.
    pub detail: Option<Box<str>>,
    /// When it finished.
    pub at: SystemTime,
    /// When this step last succeeded.
    pub last_success_at: Option<SystemTime>,
}

impl StepStatus {
    fn next(
        previous: Option<&StepStatus>,
        record: &ProbeRecord,
        ok: bool,
        now: SystemTime,
    ) -> StepStatus {
        StepStatus {
            result: record.result,
            status: record.status,
            latency_seconds: record.latency_seconds,
            detail: record.detail.clone(),
            at: now,
            last_success_at: if ok {
                Some(now)
            } else {
                previous.and_then(|p| p.last_success_at)
            },
        }
    }
}

/// What is known about one tenant.
#[derive(Debug, Clone, Default)]
pub struct TenantStatus {
    /// From the configuration.
    pub info: TenantInfo,
    /// Whether its first cycle has finished.
    pub first_cycle_done: bool,
    /// The last token request's result class.
    pub token_result: Option<TokenResult>,
    /// The last token request.
    pub token: Option<StepStatus>,
    /// When the newest token expires.
    pub token_expires_at: Option<SystemTime>,
    /// The lifetime the identity provider granted the newest token.
    pub token_lifetime: Option<Duration>,
    /// The last result class per endpoint.
    pub endpoints: BTreeMap<String, EndpointResult>,
    /// The last call per endpoint.
    pub endpoint_steps: BTreeMap<String, StepStatus>,
    /// When the last cycle finished.
    pub last_cycle_at: Option<SystemTime>,
    /// When a cycle last finished with every step successful.
    pub last_success_at: Option<SystemTime>,
    /// The newest failed step.
    pub last_error: Option<ProbeRecord>,
    /// The newest records, oldest first.
    pub recent: VecDeque<ProbeRecord>,
}

impl TenantStatus {
    /// The tenant's state; see [`Health`] for the rule.
    pub fn health(&self) -> Health {
        Health::of(
            self.first_cycle_done,
            self.token_result,
            self.endpoints.values().copied(),
        )
    }
}

/// A tenant's state at a glance, in the order the status page sorts them
/// (failing states first, then pending, then healthy).
///
/// The rule, first match wins, on the last token result and the last
/// result of every endpoint:
/// 1. no cycle has finished yet → [`Pending`](Health::Pending);
/// 2. token `credentials_rejected` → [`CredentialsRejected`](Health::CredentialsRejected);
/// 3. token `rate_limited`, or any endpoint `rate_limited` → [`RateLimited`](Health::RateLimited);
/// 4. token `forbidden`, `client_error`, `server_error`, `timeout`,
///    `dns_error`, `connect_error`, `tls_error` or `invalid_response` →
///    [`IdpDown`](Health::IdpDown): the identity provider, or the path to
///    it, fails;
/// 5. token `success` (this cycle or reused from an earlier one) but an
///    endpoint `forbidden` (403) → [`PermissionMissing`](Health::PermissionMissing);
/// 6. any other endpoint result than `success` → [`EndpointFailing`](Health::EndpointFailing);
/// 7. otherwise → [`Healthy`](Health::Healthy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// The identity provider refuses the credential (revoked, deleted,
    /// expired, wrong).
    CredentialsRejected,
    /// The token request fails for another reason than the credential.
    IdpDown,
    /// The credential lacks an API's permission (403 on an endpoint).
    PermissionMissing,
    /// An endpoint fails.
    EndpointFailing,
    /// The identity provider or the API answers 429.
    RateLimited,
    /// No cycle has finished yet.
    Pending,
    /// Everything succeeded.
    Healthy,
}

impl Health {
    /// Every state, in sort order.
    pub const ALL: [Health; 7] = [
        Health::CredentialsRejected,
        Health::IdpDown,
        Health::PermissionMissing,
        Health::EndpointFailing,
        Health::RateLimited,
        Health::Pending,
        Health::Healthy,
    ];

    /// Applies the rule documented on [`Health`].
    pub fn of(
        cycle_done: bool,
        token: Option<TokenResult>,
        endpoints: impl IntoIterator<Item = EndpointResult>,
    ) -> Health {
        if !cycle_done {
            return Health::Pending;
        }
        let endpoints: Vec<EndpointResult> = endpoints.into_iter().collect();
        match token {
            Some(TokenResult::CredentialsRejected) => return Health::CredentialsRejected,
            Some(TokenResult::RateLimited) => return Health::RateLimited,
            _ => {}
        }
        if endpoints.contains(&EndpointResult::RateLimited) {
            return Health::RateLimited;
        }
        if token.is_some_and(|t| t != TokenResult::Success) {
            return Health::IdpDown;
        }
        if endpoints.contains(&EndpointResult::Forbidden) {
            return Health::PermissionMissing;
        }
        if endpoints.iter().any(|e| *e != EndpointResult::Success) {
            return Health::EndpointFailing;
        }
        Health::Healthy
    }

    /// The machine name (`state` in the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::CredentialsRejected => "credentials_rejected",
            Health::IdpDown => "idp_down",
            Health::PermissionMissing => "permission_missing",
            Health::EndpointFailing => "endpoint_failing",
            Health::RateLimited => "rate_limited",
            Health::Pending => "pending",
            Health::Healthy => "healthy",
        }
    }

    /// The words shown to people (`state_text` in the JSON).
    pub fn text(self) -> &'static str {
        match self {
            Health::CredentialsRejected => "credentials rejected",
            Health::IdpDown => "IdP down",
            Health::PermissionMissing => "permission missing",
            Health::EndpointFailing => "endpoint failing",
            Health::RateLimited => "rate limited",
            Health::Pending => "pending",
            Health::Healthy => "healthy",
        }
    }

    /// True for every state but pending and healthy.
    pub fn is_failing(self) -> bool {
        !matches!(self, Health::Pending | Health::Healthy)
    }
}

/// All tenants' status.
#[derive(Debug, Default)]
pub struct StatusBoard {
    tenants: RwLock<BTreeMap<String, TenantStatus>>,
}

impl StatusBoard {
    /// Makes the board hold exactly these tenants, keeping what is known of
    /// those that stay and refreshing what the configuration says of each.
    pub fn set_tenants(&self, tenants: &[Arc<Tenant>]) {
        let mut map = self.tenants.write().expect("status poisoned");
        let mut next = BTreeMap::new();
        for tenant in tenants {
            let mut status = map.remove(&tenant.name).unwrap_or_default();
            status.info = TenantInfo::of(tenant);
            next.insert(tenant.name.clone(), status);
        }
        *map = next;
    }

    /// Forgets a tenant's results and history (its settings changed), but
    /// not what its configuration says.
    pub fn reset(&self, name: &str) {
        if let Some(status) = self.tenants.write().expect("status poisoned").get_mut(name) {
            let info = std::mem::take(&mut status.info);
            *status = TenantStatus {
                info,
                ..TenantStatus::default()
            };
        }
    }

    /// Records a finished cycle.
    pub fn record(&self, tenant: &str, report: &CycleReport) {
        let mut map = self.tenants.write().expect("status poisoned");
        let Some(status) = map.get_mut(tenant) else {
            return;
        };
        let now = SystemTime::now();
        status.first_cycle_done = true;
        status.last_cycle_at = Some(now);
        // A cycle that did nothing (everything waiting out a Retry-After)
        // proves nothing.
        let did_something = report.token.is_some() || !report.endpoints.is_empty();
        if did_something && report.all_ok() {
            status.last_success_at = Some(now);
        }
        if let Some(token) = &report.token {
            let record = ProbeRecord {
                at: now,
                step: TOKEN_STEP.clone(),
                result: token.result.as_str(),
                status: token.status,
                latency_seconds: Some(token.latency.as_secs_f64()),
                detail: token.detail.as_deref().map(Box::from),
            };
            let ok = token.result == TokenResult::Success;
            status.token = Some(StepStatus::next(status.token.as_ref(), &record, ok, now));
            status.token_result = Some(token.result);
            if let Some(issued) = &token.token {
                status.token_expires_at = issued.expires_at;
                status.token_lifetime = issued.lifetime;
            }
            push(status, record, ok);
        }
        for (name, outcome) in &report.endpoints {
            let record = ProbeRecord {
                at: now,
                step: status.info.step_name(name),
                result: outcome.result.as_str(),
                status: outcome.status,
                latency_seconds: outcome.latency.map(|d| d.as_secs_f64()),
                detail: outcome.detail.as_deref().map(Box::from),
            };
            let ok = outcome.result == EndpointResult::Success;
            let step = StepStatus::next(status.endpoint_steps.get(name), &record, ok, now);
            status.endpoint_steps.insert(name.clone(), step);
            status.endpoints.insert(name.clone(), outcome.result);
            push(status, record, ok);
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

    /// Every tenant's view (without history), failing first, and the
    /// counts per state. Copies only what the views show, so it stays cheap
    /// with thousands of tenants.
    pub fn overview(&self, now: SystemTime) -> (Summary, Vec<TenantView>) {
        let views: Vec<TenantView> = {
            let map = self.tenants.read().expect("status poisoned");
            map.iter()
                .map(|(name, status)| TenantView::of(name, status, now, false))
                .collect()
        };
        let mut views = views;
        views.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.name.cmp(&b.name)));
        (Summary::of(&views), views)
    }

    /// One tenant's view with its recent probes, newest first.
    pub fn tenant(&self, name: &str, now: SystemTime) -> Option<TenantView> {
        let map = self.tenants.read().expect("status poisoned");
        map.get(name)
            .map(|status| TenantView::of(name, status, now, true))
    }
}

/// Appends to the history; the first failed step of a cycle becomes the
/// last error (the token's failure, not the endpoints' `no_token` it caused).
fn push(status: &mut TenantStatus, record: ProbeRecord, ok: bool) {
    let first_of_cycle = status
        .last_error
        .as_ref()
        .is_none_or(|last| last.at != record.at);
    if !ok && first_of_cycle {
        status.last_error = Some(record.clone());
    }
    if status.recent.len() >= HISTORY {
        status.recent.pop_front();
    }
    // Room for exactly HISTORY on the first push: left to grow by
    // doubling, the buffer would end at 64.
    status
        .recent
        .reserve_exact(HISTORY.saturating_sub(status.recent.len()));
    status.recent.push_back(record);
}

/// Tenants per state.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    /// Tenants configured.
    pub tenants: usize,
    /// Tenants whose state is healthy.
    pub healthy: usize,
    /// Tenants in a failing state (every state but pending and healthy).
    pub failing: usize,
    /// Tenants without a finished cycle.
    pub pending: usize,
    /// Tenants per state (`state` values), every state present.
    pub by_state: BTreeMap<&'static str, usize>,
}

impl Summary {
    /// Counts the views' states.
    pub fn of(views: &[TenantView]) -> Summary {
        let mut summary = Summary {
            tenants: views.len(),
            by_state: Health::ALL.iter().map(|h| (h.as_str(), 0)).collect(),
            ..Summary::default()
        };
        for view in views {
            *summary.by_state.entry(view.state.as_str()).or_default() += 1;
            match view.state {
                Health::Healthy => summary.healthy += 1,
                Health::Pending => summary.pending += 1,
                _ => summary.failing += 1,
            }
        }
        summary
    }
}

/// One tenant as the status page and the JSON show it. Times are unix
/// seconds (`*_at`) and, for expiries, whole seconds remaining
/// (`*_in_seconds`, negative once passed).
#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    /// The tenant's name.
    pub name: String,
    /// The state's machine name (see [`Health`]).
    pub state: Health,
    /// The state in words.
    pub state_text: &'static str,
    /// True for failing states.
    pub failing: bool,
    /// The configured labels.
    pub labels: BTreeMap<String, String>,
    /// Time between two cycles, in seconds.
    pub interval_seconds: f64,
    /// When the last cycle finished.
    pub last_cycle_at: Option<f64>,
    /// When a cycle last finished with every step successful.
    pub last_success_at: Option<f64>,
    /// The newest failed step.
    pub last_error: Option<ProbeRecord>,
    /// The token request.
    pub token: TokenView,
    /// When the client secret expires, if configured.
    pub credential_expires_at: Option<f64>,
    /// Seconds until then.
    pub credential_expires_in_seconds: Option<i64>,
    /// Each configured endpoint, in configuration order.
    pub endpoints: Vec<EndpointView>,
    /// The last [`HISTORY`] probe records, newest first (detail view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recent: Option<Vec<ProbeRecord>>,
}

/// The token request of a tenant.
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    /// The token endpoint (no user information, query or fragment).
    pub url: String,
    /// The last result class; `null` before the first request.
    pub result: Option<&'static str>,
    /// The last HTTP status.
    pub status: Option<u16>,
    /// The last latency in seconds.
    pub latency_seconds: Option<f64>,
    /// What went wrong last time, when something did.
    pub detail: Option<String>,
    /// When the last request finished.
    pub checked_at: Option<f64>,
    /// When a token request last succeeded.
    pub last_success_at: Option<f64>,
    /// When the newest token expires.
    pub expires_at: Option<f64>,
    /// Seconds until then.
    pub expires_in_seconds: Option<i64>,
    /// The lifetime granted to the newest token, in seconds.
    pub lifetime_seconds: Option<f64>,
}

/// One endpoint of a tenant.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointView {
    /// The configured name.
    pub name: String,
    /// The URL called (no user information, query or fragment).
    pub url: String,
    /// The last result class; `null` before the first call.
    pub result: Option<&'static str>,
    /// The last HTTP status.
    pub status: Option<u16>,
    /// The last latency in seconds.
    pub latency_seconds: Option<f64>,
    /// What went wrong last time, when something did.
    pub detail: Option<String>,
    /// When the last call finished.
    pub checked_at: Option<f64>,
    /// When a call last succeeded.
    pub last_success_at: Option<f64>,
}

impl TenantView {
    fn of(name: &str, status: &TenantStatus, now: SystemTime, with_history: bool) -> TenantView {
        let state = status.health();
        let token = status.token.as_ref();
        let at = |t: Option<SystemTime>| t.map(unix_seconds);
        TenantView {
            name: name.to_owned(),
            state,
            state_text: state.text(),
            failing: state.is_failing(),
            labels: status.info.labels.clone(),
            interval_seconds: status.info.interval.as_secs_f64(),
            last_cycle_at: at(status.last_cycle_at),
            last_success_at: at(status.last_success_at),
            last_error: status.last_error.clone(),
            token: TokenView {
                url: status.info.token_url.clone(),
                result: token.map(|t| t.result),
                status: token.and_then(|t| t.status),
                latency_seconds: token.and_then(|t| t.latency_seconds),
                detail: token.and_then(|t| t.detail.as_deref().map(str::to_owned)),
                checked_at: token.map(|t| unix_seconds(t.at)),
                last_success_at: at(token.and_then(|t| t.last_success_at)),
                expires_at: at(status.token_expires_at),
                expires_in_seconds: status.token_expires_at.map(|t| seconds_until(t, now)),
                lifetime_seconds: status.token_lifetime.map(|d| d.as_secs_f64()),
            },
            credential_expires_at: at(status.info.credential_expires),
            credential_expires_in_seconds: status
                .info
                .credential_expires
                .map(|t| seconds_until(t, now)),
            endpoints: status
                .info
                .endpoints
                .iter()
                .map(|(name, url)| {
                    let step = status.endpoint_steps.get(&**name);
                    EndpointView {
                        name: name.to_string(),
                        url: url.clone(),
                        result: step.map(|s| s.result),
                        status: step.and_then(|s| s.status),
                        latency_seconds: step.and_then(|s| s.latency_seconds),
                        detail: step.and_then(|s| s.detail.as_deref().map(str::to_owned)),
                        checked_at: step.map(|s| unix_seconds(s.at)),
                        last_success_at: at(step.and_then(|s| s.last_success_at)),
                    }
                })
                .collect(),
            recent: with_history.then(|| status.recent.iter().rev().cloned().collect()),
        }
    }

    /// The lower-case text `?q=` searches: name, labels (`key=value`) and
    /// the state (machine name and words).
    pub fn search_text(&self) -> String {
        let mut text = format!(
            "{} {} {}",
            self.name,
            self.state.as_str(),
            self.state.text()
        );
        for (key, value) in &self.labels {
            text.push(' ');
            text.push_str(key);
            text.push('=');
            text.push_str(value);
        }
        text.to_lowercase()
    }

    /// True when every whitespace-separated word of `query` occurs in
    /// [`search_text`](TenantView::search_text), ignoring case.
    pub fn matches(&self, query: &str) -> bool {
        let text = self.search_text();
        query
            .to_lowercase()
            .split_whitespace()
            .all(|word| text.contains(word))
    }
}

/// Whole seconds from `now` to `time`, negative when `time` has passed.
fn seconds_until(time: SystemTime, now: SystemTime) -> i64 {
    match time.duration_since(now) {
        Ok(ahead) => i64::try_from(ahead.as_secs()).unwrap_or(i64::MAX),
        Err(behind) => -i64::try_from(behind.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn serialize_time<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(unix_seconds(*time))
}

/// An `Arc<str>` as a plain string (serde's `rc` feature is not enabled).
fn serialize_shared_str<S: serde::Serializer>(text: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use EndpointResult as E;
    use TokenResult as T;

    #[test]
    fn the_state_rule() {
        assert_eq!(Health::of(false, None, []), Health::Pending);
        assert_eq!(
            Health::of(false, Some(T::CredentialsRejected), []),
            Health::Pending
        );
        assert_eq!(
            Health::of(true, Some(T::CredentialsRejected), [E::NoToken]),
            Health::CredentialsRejected
        );
        assert_eq!(
            Health::of(true, Some(T::RateLimited), [E::Success]),
            Health::RateLimited
        );
        assert_eq!(
            Health::of(true, Some(T::Success), [E::Success, E::RateLimited]),
            Health::RateLimited
        );
        for token in [
            T::Forbidden,
            T::ClientError,
            T::ServerError,
            T::Timeout,
            T::DnsError,
            T::ConnectError,
            T::TlsError,
            T::InvalidResponse,
        ] {
            assert_eq!(
                Health::of(true, Some(token), [E::NoToken]),
                Health::IdpDown,
                "{token:?}"
            );
        }
        assert_eq!(
            Health::of(true, Some(T::Success), [E::Success, E::Forbidden]),
            Health::PermissionMissing
        );
        // A reused token: no token request this cycle or before.
        assert_eq!(
            Health::of(true, None, [E::Forbidden]),
            Health::PermissionMissing
        );
        assert_eq!(
            Health::of(true, Some(T::Success), [E::Forbidden, E::ServerError]),
            Health::PermissionMissing
        );
        assert_eq!(
            Health::of(true, Some(T::Success), [E::Success, E::Unauthorized]),
            Health::EndpointFailing
        );
        assert_eq!(
            Health::of(true, Some(T::Success), [E::Success]),
            Health::Healthy
        );
        assert_eq!(Health::of(true, Some(T::Success), []), Health::Healthy);
    }

    #[test]
    fn failing_states_sort_first_then_pending_then_healthy() {
        let mut sorted = Health::ALL;
        sorted.sort();
        assert_eq!(sorted, Health::ALL);
        assert!(Health::ALL[..5].iter().all(|h| h.is_failing()));
        assert!(!Health::Pending.is_failing() && !Health::Healthy.is_failing());
        assert_eq!(
            serde_json::to_value(Health::IdpDown).unwrap(),
            Health::IdpDown.as_str()
        );
    }

    #[test]
    fn public_urls_lose_credentials() {
        let url = url::Url::parse("https://user:pw@api.example.com/v1/x?api_key=k#f").unwrap();
        assert_eq!(public_url(&url), "https://api.example.com/v1/x");
    }

    fn board_of_one_tenant() -> StatusBoard {
        let config = crate::config::validate::load_str(
            "tenants:\n  - {name: a, token_url: \"http://127.0.0.1:9/t\", client_id: c, \
             client_secret: s, base_url: \"http://127.0.0.1:9\", \
             endpoints: [{name: workflows, path: /w}]}\n",
            std::path::Path::new("t.yml"),
            &crate::config::LoadOptions {
                warn_inline_secrets: false,
            },
        )
        .unwrap();
        let board = StatusBoard::default();
        board.set_tenants(&config.tenants);
        board
    }

    fn cycle(failing: bool) -> CycleReport {
        CycleReport {
            token: Some(crate::probe::TokenOutcome {
                result: if failing {
                    T::CredentialsRejected
                } else {
                    T::Success
                },
                latency: Duration::from_millis(12),
                status: Some(if failing { 401 } else { 200 }),
                detail: failing.then(|| "HTTP 401: invalid_client".to_owned()),
                token: None,
                certificate: None,
            }),
            endpoints: vec![(
                "workflows".to_owned(),
                crate::probe::EndpointOutcome {
                    result: if failing { E::NoToken } else { E::Success },
                    latency: (!failing).then(|| Duration::from_millis(34)),
                    status: (!failing).then_some(200),
                    detail: failing.then(|| "no valid token".to_owned()),
                    certificate: None,
                },
            )],
        }
    }

    /// 5,000 tenants keep HISTORY records each: 104 bytes apiece (plus a
    /// step name allocation each) before they were made compact.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn records_stay_small() {
        assert!(
            std::mem::size_of::<ProbeRecord>() <= 88,
            "{}",
            std::mem::size_of::<ProbeRecord>()
        );
    }

    #[test]
    fn the_history_holds_exactly_history_records_sharing_step_names() {
        let board = board_of_one_tenant();
        for i in 0..3 * HISTORY {
            board.record("a", &cycle(i % 7 == 0));
        }
        // The snapshot is a clone; the board's own buffer is what counts.
        assert_eq!(board.snapshot()["a"].recent.len(), HISTORY);
        let map = board.tenants.read().unwrap();
        assert_eq!(map["a"].recent.capacity(), HISTORY);
        let recent = &map["a"].recent;
        let token = recent.iter().find(|r| &*r.step == "token").unwrap();
        let endpoint = recent.iter().find(|r| &*r.step == "workflows").unwrap();
        assert!(
            recent
                .iter()
                .all(|r| Arc::ptr_eq(&r.step, &token.step) || Arc::ptr_eq(&r.step, &endpoint.step))
        );
        assert!(Arc::ptr_eq(&token.step, &TOKEN_STEP));
        assert!(Arc::ptr_eq(&endpoint.step, &map["a"].info.endpoints[0].0));
        let error = map["a"].last_error.as_ref().unwrap();
        assert_eq!(&*error.step, "token");
        assert_eq!(error.detail.as_deref(), Some("HTTP 401: invalid_client"));
        // Forgetting the tenant's results starts a new, again exact, buffer.
        drop(map);
        board.reset("a");
        board.record("a", &cycle(false));
        assert_eq!(
            board.tenants.read().unwrap()["a"].recent.capacity(),
            HISTORY
        );
    }

    #[test]
    fn a_record_serialises_as_before() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let failed = ProbeRecord {
            at,
            step: Arc::from("token"),
            result: "credentials_rejected",
            status: Some(401),
            latency_seconds: Some(0.012345),
            detail: Some("HTTP 401: invalid_client".into()),
        };
        assert_eq!(
            serde_json::to_string(&failed).unwrap(),
            r#"{"at":1700000000.25,"step":"token","result":"credentials_rejected","status":401,"latency_seconds":0.012345,"detail":"HTTP 401: invalid_client"}"#
        );
        let skipped = ProbeRecord {
            at,
            step: Arc::from("workflows"),
            result: "no_token",
            status: None,
            latency_seconds: None,
            detail: None,
        };
        assert_eq!(
            serde_json::to_string(&skipped).unwrap(),
            r#"{"at":1700000000.25,"step":"workflows","result":"no_token","status":null,"latency_seconds":null,"detail":null}"#
        );
    }

    #[test]
    fn views_show_the_records_details_and_names() {
        let board = board_of_one_tenant();
        board.record("a", &cycle(true));
        let view = board.tenant("a", SystemTime::now()).unwrap();
        assert_eq!(
            view.token.detail.as_deref(),
            Some("HTTP 401: invalid_client")
        );
        assert_eq!(view.endpoints[0].name, "workflows");
        assert_eq!(view.endpoints[0].detail.as_deref(), Some("no valid token"));
        let recent = view.recent.unwrap();
        assert_eq!(
            recent.iter().map(|r| &*r.step).collect::<Vec<_>>(),
            ["workflows", "token"]
        );
        assert_eq!(view.last_error.unwrap().result, "credentials_rejected");
    }

    #[test]
    fn seconds_until_is_signed() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(seconds_until(now + Duration::from_secs(5), now), 5);
        assert_eq!(seconds_until(now - Duration::from_secs(5), now), -5);
    }
}
