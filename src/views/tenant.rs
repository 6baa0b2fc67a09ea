//! Tenant views: what the status pages render, what `/api/v1/tenants`
//! serialises and what `credprobe probe` prints, all read from the tenant
//! records, so every form shows the same data. Times are unix seconds
//! (`*_at`) and, for expiries, whole seconds remaining (`*_in_seconds`,
//! negative once passed). Nothing here holds a secret or a token: only
//! classes, codes, latencies, the probes' log-safe details, and from the
//! configuration the labels, interval, credential expiry and URLs without
//! user information, query or fragment.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use super::health::{Assessment, Health, Warning};
use crate::fleet::{Fleet, ProbeRecord, StepRecord, TenantRecord, TenantState};
use crate::probe::{
    EndpointResult, Phases, RejectionReason, ResultClass, TokenResult, TokenVerification,
};
use crate::unix_time::{seconds_until, unix_seconds};
use crate::watched_file::FileProblem;

/// How many recent probes the overview's strip shows per tenant.
pub const STRIP: usize = 20;

/// How much of a tenant's history a view carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The latest results only (the JSON overview).
    Latest,
    /// Plus the last [`STRIP`] probes (the HTML overview's strip).
    Strip,
    /// Plus the whole history (a tenant's own page and JSON).
    History,
}

/// One tenant as the status pages, the JSON and the `probe` report show
/// it.
#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    /// The tenant's name.
    pub name: String,
    /// The state (see [`Health`]).
    pub state: Health,
    /// The state in words.
    pub state_text: &'static str,
    /// True for failing states.
    pub failing: bool,
    /// What needs attention (see [`Warning`]), whatever the state.
    pub warnings: Vec<Warning>,
    /// The value of `credprobe_tenant_success`: 1 healthy or warning, 0
    /// failing, `null` while pending.
    pub success: Option<u8>,
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
    /// When the credential expires: `credential_expires`, else what the
    /// Entra credential inventory lists for it, else the client
    /// certificate's notAfter ([`TenantState::credential_expiry`]).
    pub credential_expires_at: Option<f64>,
    /// Seconds until then.
    pub credential_expires_in_seconds: Option<i64>,
    /// Whether the secret, key and certificate files of the credential
    /// can be used, and if not which one, since when and why.
    pub credential_files: CredentialFilesView,
    /// The Entra credential inventory, for tenants with it on (absent
    /// otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_inventory: Option<super::inventory::InventoryView>,
    /// The next credential's token request, for tenants with
    /// `next_client_secret_file` or `next_client_key_file` (absent
    /// otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_credential: Option<NextCredentialView>,
    /// Each configured endpoint, in configuration order.
    pub endpoints: Vec<EndpointView>,
    /// The recent probes, newest first ([`Depth::History`] only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recent: Option<Vec<ProbeRecord>>,
    /// The last [`STRIP`] probes, oldest first ([`Depth::Strip`] only;
    /// the HTML's, not part of the JSON).
    #[serde(skip)]
    pub strip: Vec<ProbeRecord>,
}

/// The credential's files (`credential_files` in the JSON): all usable,
/// or the one that is not. The same fact as the warning
/// `credential_file_unreadable` and `credprobe_credential_files_ok`
/// ([`crate::views::health::credential_file_problem`]).
#[derive(Debug, Clone, Serialize)]
pub struct CredentialFilesView {
    /// True while every file can be used (also when the credential reads
    /// none); the value of `credprobe_credential_files_ok`.
    pub ok: bool,
    /// While one cannot be used: which, since when and why; `null`
    /// otherwise.
    pub problem: Option<FileProblemView>,
}

/// A credential file that cannot be used; the last good copy of it stays
/// in use.
#[derive(Debug, Clone, Serialize)]
pub struct FileProblemView {
    /// The file's path as configured.
    pub file: String,
    /// When the problem was first seen (unix seconds), even if its reason
    /// changed since.
    pub since: f64,
    /// What is wrong, naming the file, never showing its content.
    pub why: String,
}

impl CredentialFilesView {
    /// The view of [`crate::views::health::credential_file_problem`]'s
    /// answer.
    pub fn of(problem: Option<&FileProblem>) -> CredentialFilesView {
        CredentialFilesView {
            ok: problem.is_none(),
            problem: problem.map(|p| FileProblemView {
                file: p.path.display().to_string(),
                since: unix_seconds(p.since),
                why: p.reason.to_string(),
            }),
        }
    }
}

/// The latest result of one step, token request or endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct StepView<R> {
    /// The URL requested (no user information, query or fragment); for a
    /// token endpoint read from the issuer's discovery document,
    /// `discovered from <issuer>`.
    pub url: String,
    /// The last result class; `null` before the first request.
    pub result: Option<R>,
    /// The last HTTP status.
    pub status: Option<u16>,
    /// The last latency in seconds.
    pub latency_seconds: Option<f64>,
    /// What went wrong last time, when something did.
    pub detail: Option<String>,
    /// When the last request finished.
    pub checked_at: Option<f64>,
    /// When the step last succeeded.
    pub last_success_at: Option<f64>,
    /// Where the last request's time went; `null` when none was sent.
    pub phases: Option<PhasesView>,
}

/// Where one request's time went, in seconds (see
/// [`crate::probe::Phases`]): the JSON's and the page's form.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PhasesView {
    /// Name resolution.
    pub dns_seconds: f64,
    /// TCP connect (and a proxy's CONNECT).
    pub connect_seconds: f64,
    /// TLS handshake.
    pub tls_seconds: f64,
    /// Connection ready to the answer's first byte.
    pub processing_seconds: f64,
    /// The answer's first to last byte.
    pub transfer_seconds: f64,
    /// True when the request reused an open connection (so DNS, connect
    /// and TLS are 0).
    pub reused_connection: bool,
    /// The same, as durations, for the page.
    #[serde(skip)]
    pub phases: Phases,
}

impl From<&Phases> for PhasesView {
    fn from(phases: &Phases) -> PhasesView {
        let [dns, connect, tls, processing, transfer] =
            phases.named().map(|(_, value)| value.as_secs_f64());
        PhasesView {
            dns_seconds: dns,
            connect_seconds: connect,
            tls_seconds: tls,
            processing_seconds: processing,
            transfer_seconds: transfer,
            reused_connection: phases.reused,
            phases: *phases,
        }
    }
}

/// The token request of a tenant: its step, and what the newest token
/// said of itself.
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    /// The request's latest result.
    #[serde(flatten)]
    pub step: StepView<TokenResult>,
    /// When the newest token expires.
    pub expires_at: Option<f64>,
    /// Seconds until then.
    pub expires_in_seconds: Option<i64>,
    /// The lifetime granted to the newest token, in seconds.
    pub lifetime_seconds: Option<f64>,
    /// Why the newest token request was rejected, while it is.
    pub rejection_reason: Option<RejectionReason>,
    /// The scopes the newest token grants, sorted; `null` when neither the
    /// response nor the token said.
    pub granted_scopes: Option<Vec<String>>,
    /// Each expected scope (`expect_scopes`) and whether it is granted
    /// (`null` until a token said what it grants).
    pub expected_scopes: Vec<ScopeView>,
    /// Whether the newest token verified (`verified`, `reason`, `detail`,
    /// `clock_skew_seconds`); only for tenants with `issuer:` or
    /// `jwks_url:`, once a token came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<TokenVerification>,
}

/// The token request with the next credential of a rotation in progress
/// (`next_client_secret_file`, `next_client_key_file`): whether the credential the tenant will
/// switch to gets a token, shown beside the current one.
#[derive(Debug, Clone, Serialize)]
pub struct NextCredentialView {
    /// The value of `credprobe_next_credential_success`: true when the
    /// latest request got a token; `null` before the first.
    pub success: Option<bool>,
    /// The latest result class; `null` before the first request.
    pub result: Option<TokenResult>,
    /// The latest HTTP status.
    pub status: Option<u16>,
    /// What went wrong, when something did.
    pub detail: Option<String>,
    /// Why the next credential was rejected, while it is.
    pub rejection_reason: Option<RejectionReason>,
    /// When the latest request finished.
    pub checked_at: Option<f64>,
    /// When it last got a token.
    pub last_success_at: Option<f64>,
}

impl NextCredentialView {
    /// The view of a tenant with a next credential; `None` for the others.
    fn of(tenant: &crate::config::Tenant, state: &TenantState) -> Option<NextCredentialView> {
        tenant.token.next_credential.as_ref()?;
        let next = state.next_credential.as_ref();
        let last = next.map(|n| &n.last);
        Some(NextCredentialView {
            success: last.map(|l| l.result.is_success()),
            result: last.map(|l| l.result),
            status: last.and_then(|l| l.status),
            detail: last.and_then(|l| l.detail.as_deref()).map(str::to_owned),
            rejection_reason: next.and_then(|n| n.rejection),
            checked_at: last.map(|l| unix_seconds(l.at)),
            last_success_at: next.and_then(|n| n.last_success_at).map(unix_seconds),
        })
    }
}

/// An expected scope and whether the newest token grants it.
#[derive(Debug, Clone, Serialize)]
pub struct ScopeView {
    /// The scope as configured.
    pub scope: String,
    /// Granted or not; `None` while unknown.
    pub granted: Option<bool>,
}

/// One endpoint of a tenant.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointView {
    /// The configured name.
    pub name: String,
    /// The call's latest result.
    #[serde(flatten)]
    pub step: StepView<EndpointResult>,
}

impl<R: ResultClass> StepView<R> {
    fn of(url: String, step: &StepRecord<R>) -> StepView<R> {
        let last = step.last.as_ref();
        StepView {
            url,
            result: last.map(|l| l.result),
            status: last.and_then(|l| l.status),
            latency_seconds: last.and_then(|l| l.latency).map(|d| d.as_secs_f64()),
            detail: last.and_then(|l| l.detail.as_deref()).map(str::to_owned),
            checked_at: last.map(|l| unix_seconds(l.at)),
            last_success_at: step.last_success_at.map(unix_seconds),
            phases: last.and_then(|l| l.phases.as_ref()).map(PhasesView::from),
        }
    }

    /// True when the last result was success.
    pub fn ok(&self) -> bool {
        self.result.is_some_and(ResultClass::is_success)
    }
}

impl TenantView {
    /// The view of one record at `now`.
    pub fn of(record: &TenantRecord, now: SystemTime, depth: Depth) -> TenantView {
        record.read(|state| TenantView::of_state(record, state, now, depth))
    }

    fn of_state(
        record: &TenantRecord,
        state: &TenantState,
        now: SystemTime,
        depth: Depth,
    ) -> TenantView {
        let tenant = record.tenant();
        let Assessment {
            state: health,
            warnings,
            credential_file,
        } = Assessment::of(tenant, state, now);
        let at = |t: Option<SystemTime>| t.map(unix_seconds);
        let expires_at = state.grant.as_ref().and_then(|g| g.expires_at);
        let granted = state.grant.as_ref().and_then(|g| g.scopes.as_deref());
        TenantView {
            name: tenant.name.clone(),
            state: health,
            state_text: health.text(),
            failing: health.is_failing(),
            warnings,
            success: health.success_value(),
            labels: tenant.labels.clone(),
            interval_seconds: tenant.interval.as_secs_f64(),
            last_cycle_at: at(state.last_cycle_at),
            last_success_at: at(state.last_success_at),
            last_error: state.last_error.clone(),
            token: TokenView {
                step: StepView::of(token_endpoint(&tenant.token.url), &state.token),
                expires_at: at(expires_at),
                expires_in_seconds: expires_at.map(|t| seconds_until(t, now)),
                lifetime_seconds: state
                    .grant
                    .as_ref()
                    .and_then(|g| g.lifetime)
                    .map(|d| d.as_secs_f64()),
                rejection_reason: state.rejection,
                granted_scopes: granted.map(|g| g.iter().map(|s| s.to_string()).collect()),
                expected_scopes: tenant
                    .expect_scopes
                    .iter()
                    .map(|scope| ScopeView {
                        scope: scope.clone(),
                        granted: state.grant.as_ref().and_then(|g| g.grants(scope)),
                    })
                    .collect(),
                verification: state
                    .verification
                    .clone()
                    .filter(|_| tenant.verification.is_some()),
            },
            credential_expires_at: at(state.credential_expiry(tenant)),
            credential_expires_in_seconds: state
                .credential_expiry(tenant)
                .map(|t| seconds_until(t, now)),
            credential_files: CredentialFilesView::of(credential_file.as_ref()),
            credential_inventory: super::inventory::InventoryView::of(tenant, state, now),
            next_credential: NextCredentialView::of(tenant, state),
            endpoints: tenant
                .endpoints
                .iter()
                .zip(state.endpoints.iter())
                .map(|(endpoint, step)| EndpointView {
                    name: endpoint.name.clone(),
                    step: StepView::of(public_url(&endpoint.url), step),
                })
                .collect(),
            recent: (depth == Depth::History)
                .then(|| state.history.iter().rev().cloned().collect()),
            strip: match depth {
                Depth::Strip => {
                    let skip = state.history.len().saturating_sub(STRIP);
                    state.history.iter().skip(skip).cloned().collect()
                }
                _ => Vec::new(),
            },
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

    /// Each step by name (`token` first, then the endpoints) with where its
    /// last request's time went, for the phase table and `probe --phases`.
    pub fn phases_by_step(&self) -> impl Iterator<Item = (&str, Option<&PhasesView>)> {
        std::iter::once(("token", self.token.step.phases.as_ref())).chain(
            self.endpoints
                .iter()
                .map(|e| (e.name.as_str(), e.step.phases.as_ref())),
        )
    }

    /// True when every word of `words` occurs in
    /// [`search_text`](TenantView::search_text).
    pub fn matches(&self, words: &SearchWords) -> bool {
        words.found_in(&self.search_text())
    }
}

/// The words of a `?q=` filter, lower-cased once for every tenant it is
/// held against.
#[derive(Debug, Clone)]
pub struct SearchWords(Vec<String>);

impl SearchWords {
    /// The whitespace-separated words of `query`, ignoring case.
    pub fn of(query: &str) -> SearchWords {
        SearchWords(
            query
                .to_lowercase()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        )
    }

    /// True when every word occurs in `search_text` (a tenant's
    /// [`TenantView::search_text`]); no words match everything.
    pub fn found_in(&self, search_text: &str) -> bool {
        self.0
            .iter()
            .all(|word| search_text.contains(word.as_str()))
    }
}

/// Tenants per state.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    /// Tenants configured.
    pub tenants: usize,
    /// Tenants whose state is healthy.
    pub healthy: usize,
    /// Tenants in a failing state (every state but warning, pending and
    /// healthy).
    pub failing: usize,
    /// Tenants whose requests succeed but that need attention.
    pub warning: usize,
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
                Health::Warning => summary.warning += 1,
                _ => summary.failing += 1,
            }
        }
        summary
    }
}

/// Every tenant's view, failing first, and the counts per state.
pub fn overview(fleet: &Fleet, now: SystemTime, depth: Depth) -> (Summary, Vec<TenantView>) {
    let mut views: Vec<TenantView> = fleet
        .records()
        .iter()
        .map(|record| TenantView::of(record, now, depth))
        .collect();
    views.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.name.cmp(&b.name)));
    (Summary::of(&views), views)
}

/// One tenant's view with its whole history.
pub fn tenant(fleet: &Fleet, name: &str, now: SystemTime) -> Option<TenantView> {
    fleet
        .get(name)
        .map(|record| TenantView::of(&record, now, Depth::History))
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

/// Where a tenant's token requests go, as shown: the configured URL as
/// [`public_url`] shows it, or `discovered from <issuer>` for a tenant
/// whose issuer's discovery document names it.
pub fn token_endpoint(endpoint: &crate::config::TokenEndpoint) -> String {
    match endpoint.configured() {
        Some(url) => public_url(url),
        None => endpoint.to_string(),
    }
}

#[cfg(test)]
mod tests;
