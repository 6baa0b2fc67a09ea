//! One task per tenant, started at a deterministic offset within its
//! interval so tenants never fire all at once; outcomes go to the metrics
//! and the status board.
//!
//! A new configuration is applied as a diff: new tenants start, removed
//! ones stop and lose their series, changed ones restart, unchanged ones
//! keep their task, cached token and counters.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Tenant};
use crate::metrics::Metrics;
use crate::probe::{self, TenantState, Transport};
use crate::status::StatusBoard;

/// What the tenant tasks share.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// Clients, in-flight cap and back-off.
    pub transport: Arc<Transport>,
    /// Where outcomes are exported.
    pub metrics: Arc<Metrics>,
    /// Where outcomes are shown.
    pub status: Arc<StatusBoard>,
}

/// A running tenant task.
struct TenantTask {
    tenant: Arc<Tenant>,
    /// Stops the task between cycles (shutdown lets a cycle finish).
    stop: CancellationToken,
    /// Drops the task even mid-cycle (removal, restart, end of grace).
    abort: CancellationToken,
    handle: JoinHandle<()>,
}

/// How a configuration was applied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplySummary {
    /// Tenants started.
    pub added: Vec<String>,
    /// Tenants stopped.
    pub removed: Vec<String>,
    /// Tenants restarted with new settings.
    pub changed: Vec<String>,
    /// Tenants left running as they were.
    pub unchanged: usize,
}

/// The running tenant tasks.
pub struct Scheduler {
    ctx: ProbeContext,
    tasks: HashMap<String, TenantTask>,
    tracker: TaskTracker,
}

impl Scheduler {
    /// A scheduler with no tenants yet.
    pub fn new(ctx: ProbeContext) -> Scheduler {
        Scheduler {
            ctx,
            tasks: HashMap::new(),
            tracker: TaskTracker::new(),
        }
    }

    /// Makes the running tenants match `config`.
    pub async fn apply(&mut self, config: &Config) -> ApplySummary {
        let mut summary = ApplySummary::default();
        let wanted: HashMap<&str, &Arc<Tenant>> = config
            .tenants
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();

        let gone: Vec<String> = self
            .tasks
            .keys()
            .filter(|name| !wanted.contains_key(name.as_str()))
            .cloned()
            .collect();
        for name in gone {
            let task = self.tasks.remove(&name).expect("listed above");
            self.stop_now(task).await;
            summary.removed.push(name);
        }

        self.ctx.status.set_tenants(&config.tenants);
        self.ctx.metrics.set_tenants(&config.tenants);

        let offsets = start_offsets(&config.tenants);
        for tenant in &config.tenants {
            match self.tasks.get(&tenant.name) {
                Some(task) if *task.tenant == **tenant => summary.unchanged += 1,
                Some(_) => {
                    let task = self.tasks.remove(&tenant.name).expect("matched above");
                    self.stop_now(task).await;
                    self.ctx.status.reset(&tenant.name);
                    self.start(Arc::clone(tenant), offsets[&tenant.name]);
                    summary.changed.push(tenant.name.clone());
                }
                None => {
                    self.start(Arc::clone(tenant), offsets[&tenant.name]);
                    summary.added.push(tenant.name.clone());
                }
            }
        }
        summary
    }

    /// Number of tenants running.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when no tenant runs.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Stops scheduling new cycles, lets cycles in flight finish within
    /// `grace`, then drops what is left.
    pub async fn shutdown(mut self, grace: Duration) {
        for task in self.tasks.values() {
            task.stop.cancel();
        }
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(grace = %humantime::format_duration(grace), "probes still in flight after the grace period; abandoning them");
            for task in self.tasks.values() {
                task.abort.cancel();
            }
            self.tracker.wait().await;
        }
        self.tasks.clear();
    }

    fn start(&mut self, tenant: Arc<Tenant>, offset: Duration) {
        self.ctx.metrics.add_tenant(&tenant);
        let stop = CancellationToken::new();
        let abort = CancellationToken::new();
        let handle = self.tracker.spawn(tenant_loop(
            self.ctx.clone(),
            Arc::clone(&tenant),
            offset,
            stop.clone(),
            abort.clone(),
        ));
        self.tasks.insert(
            tenant.name.clone(),
            TenantTask {
                tenant,
                stop,
                abort,
                handle,
            },
        );
    }

    /// Ends a task at once and, once it can record nothing more, deletes
    /// its series.
    async fn stop_now(&self, task: TenantTask) {
        task.stop.cancel();
        task.abort.cancel();
        // Once the task has ended no late sample can resurrect a deleted
        // series.
        let _ = task.handle.await;
        self.ctx.metrics.remove_tenant(&task.tenant);
    }
}

/// Start offsets that spread tenants evenly over their interval: the
/// tenants sharing an interval are ordered by a hash of their name and the
/// k-th of N starts at k × interval / N. (A hash modulo the interval alone
/// leaves random clumps: 3× the average second at 100 tenants.) The hash
/// order keeps the spread independent of naming schemes, and restarts of
/// the same configuration give the same offsets.
pub fn start_offsets(tenants: &[Arc<Tenant>]) -> HashMap<String, Duration> {
    let mut groups: HashMap<Duration, Vec<(u64, &str)>> = HashMap::new();
    for tenant in tenants {
        let hash = crate::shard::fnv1a(tenant.name.as_bytes());
        groups
            .entry(tenant.interval)
            .or_default()
            .push((hash, tenant.name.as_str()));
    }
    let mut offsets = HashMap::new();
    for (interval, mut members) in groups {
        members.sort_unstable();
        let n = members.len() as u32;
        for (k, (_, name)) in members.into_iter().enumerate() {
            offsets.insert(name.to_owned(), interval * k as u32 / n);
        }
    }
    offsets
}

async fn tenant_loop(
    ctx: ProbeContext,
    tenant: Arc<Tenant>,
    offset: Duration,
    stop: CancellationToken,
    abort: CancellationToken,
) {
    let first = Instant::now() + offset;
    let mut ticks = tokio::time::interval_at(first, tenant.interval);
    // A cycle that overran its interval is not made up with a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut state = TenantState::default();
    loop {
        let scheduled = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            scheduled = ticks.tick() => scheduled,
        };
        ctx.metrics.record_lateness(scheduled.elapsed());
        let cycle = probe::run_cycle(&ctx.transport, &tenant, &mut state);
        let report = tokio::select! {
            biased;
            _ = abort.cancelled() => return,
            report = cycle => report,
        };
        record(&ctx, &tenant, &report);
    }
}

/// Whether a result is worth an info/warn line: it differs from the last
/// one, or it is a failure with nothing before it.
fn is_news<R: PartialEq>(last: Option<R>, now: R, ok: bool) -> bool {
    match last {
        Some(last) => last != now,
        None => !ok,
    }
}

/// Hands a cycle's outcomes to the metrics, the status board and the log.
/// A result that differs from the previous one is logged at info (warn for
/// a failure), a repeat only at debug: with thousands of tenants the log
/// shows what changed, not the same failure every interval.
pub fn record(ctx: &ProbeContext, tenant: &Tenant, report: &probe::CycleReport) {
    let (last_token, last_endpoints) = ctx.status.last_results(&tenant.name);
    if let Some(token) = &report.token {
        ctx.metrics.record_token(&tenant.name, token);
        let ok = token.result == probe::TokenResult::Success;
        let changed = is_news(last_token, token.result, ok);
        let detail = token.detail.as_deref().unwrap_or("");
        let latency_ms = token.latency.as_millis() as u64;
        match (changed, ok) {
            (true, false) => {
                tracing::warn!(tenant = %tenant.name, result = token.result.as_str(), status = token.status.unwrap_or(0), detail, "token request failed")
            }
            (true, true) => {
                tracing::info!(tenant = %tenant.name, latency_ms, "token request succeeds again")
            }
            (false, _) => {
                tracing::debug!(tenant = %tenant.name, result = token.result.as_str(), status = token.status.unwrap_or(0), latency_ms, detail, "token request")
            }
        }
    }
    for (name, outcome) in &report.endpoints {
        ctx.metrics.record_endpoint(&tenant.name, name, outcome);
        let ok = outcome.result == probe::EndpointResult::Success;
        let last = last_endpoints.get(name).copied();
        let changed = is_news(last, outcome.result, ok);
        let detail = outcome.detail.as_deref().unwrap_or("");
        let status = outcome.status.unwrap_or(0);
        match (changed, ok) {
            (true, false) => {
                tracing::warn!(tenant = %tenant.name, endpoint = %name, result = outcome.result.as_str(), status, detail, "endpoint call failed")
            }
            (true, true) => {
                tracing::info!(tenant = %tenant.name, endpoint = %name, status, "endpoint call succeeds again")
            }
            (false, _) => {
                tracing::debug!(tenant = %tenant.name, endpoint = %name, result = outcome.result.as_str(), status, detail, "endpoint call")
            }
        }
    }
    ctx.metrics.record_cycle(&tenant.name);
    ctx.status.record(&tenant.name, report);
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{LoadOptions, validate::load_str};

    #[test]
    fn start_offsets_spread_tenants_evenly_over_each_interval() {
        let mut text = String::from("tenants:\n");
        for i in 0..100 {
            text.push_str(&format!(
                "  - {{name: t{i}, interval: 60s, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}}\n"
            ));
        }
        text.push_str("  - {name: slow, interval: 5m, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}\n");
        let config = load_str(
            &text,
            Path::new("t.yml"),
            &LoadOptions {
                warn_inline_secrets: false,
            },
        )
        .unwrap();
        let offsets = start_offsets(&config.tenants);
        assert_eq!(offsets.len(), 101);
        let mut per_second = [0u32; 60];
        for i in 0..100 {
            let offset = offsets[&format!("t{i}")];
            assert!(offset < Duration::from_secs(60));
            per_second[offset.as_secs() as usize] += 1;
        }
        // 100 tenants over 60 s: 1 or 2 start in any second, never more.
        assert!(
            per_second.iter().all(|n| (1..=2).contains(n)),
            "{per_second:?}"
        );
        // Alone on its interval, the 5-minute tenant starts at once.
        assert_eq!(offsets["slow"], Duration::ZERO);
        assert_eq!(offsets, start_offsets(&config.tenants), "deterministic");
    }
}
