//! One task per tenant, started at a deterministic offset within its
//! interval so tenants never fire all at once; each cycle's outcomes go
//! into the tenant's record ([`crate::fleet`]) in one write, and to the
//! log. A probe-now request ([`crate::fleet::probe_now`]) runs a cycle at
//! once through the same task, between scheduled ones.
//!
//! A new configuration is applied as a diff: new tenants start with a new
//! record, removed ones stop and their record goes, changed ones restart
//! with a new record, unchanged ones keep their task, cached token and
//! record.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Tenant};
use crate::fleet::{Fleet, TenantRecord};
use crate::metrics::Telemetry;
use crate::probe::{self, ProbeState, Transport};
use crate::reload::ApplySummary;
use crate::views::log::{LastSeen, log_cycle};
use crate::watched_file::Refresher;

/// What the tenant tasks share.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// Clients, in-flight cap and back-off.
    pub transport: Arc<Transport>,
    /// The tenants' records.
    pub fleet: Arc<Fleet>,
    /// Schedule lateness and the tenant count.
    pub telemetry: Arc<Telemetry>,
    /// Looks at the tenants' credential files once per interval.
    pub files: Refresher,
}

/// A running tenant task.
struct TenantTask {
    /// The tenant's record (and through it, its configuration).
    record: Arc<TenantRecord>,
    /// Stops the task between cycles (shutdown lets a cycle finish).
    stop: CancellationToken,
    /// The task; aborting it drops it even mid-cycle (removal, restart,
    /// end of grace) at no cost to its polls, unlike a token it would
    /// check on every wake-up.
    handle: JoinHandle<()>,
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

    /// Makes the running tenants match `config`. An unchanged tenant keeps
    /// its task and record, and `config` is given the running tenant's
    /// configuration in place of its equal copy, so a reload leaves one
    /// copy of each tenant's settings, not two.
    pub async fn apply(&mut self, config: &mut Config) -> ApplySummary {
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

        let offsets = start_offsets(&config.tenants);
        for slot in &mut config.tenants {
            let tenant = &*slot;
            match self.tasks.get(&tenant.name) {
                // Derived equality: every setting, so a field added later
                // cannot be forgotten here.
                Some(task) if **task.record.tenant() == **tenant => {
                    *slot = Arc::clone(task.record.tenant());
                    summary.unchanged += 1;
                }
                Some(_) => {
                    let task = self.tasks.remove(&tenant.name).expect("matched above");
                    self.stop_now(task).await;
                    self.start(Arc::clone(tenant), offsets[&tenant.name]);
                    summary.changed.push(tenant.name.clone());
                }
                None => {
                    self.start(Arc::clone(tenant), offsets[&tenant.name]);
                    summary.added.push(tenant.name.clone());
                }
            }
        }
        self.ctx.telemetry.set_tenants(self.tasks.len());
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
                task.handle.abort();
            }
            self.tracker.wait().await;
        }
        self.tasks.clear();
    }

    /// Creates the tenant's record and starts its task.
    fn start(&mut self, tenant: Arc<Tenant>, offset: Duration) {
        let record = self.ctx.fleet.add(&tenant);
        let stop = CancellationToken::new();
        let handle = self.tracker.spawn(tenant_loop(
            self.ctx.telemetry.clone(),
            self.ctx.transport.clone(),
            self.ctx.files.clone(),
            Arc::clone(&record),
            offset,
            stop.clone(),
        ));
        self.tasks.insert(
            tenant.name.clone(),
            TenantTask {
                record,
                stop,
                handle,
            },
        );
    }

    /// Ends a task at once and, once it can record nothing more, deletes
    /// its record.
    async fn stop_now(&self, task: TenantTask) {
        task.stop.cancel();
        task.handle.abort();
        // Once the task has ended, nothing can write to the record.
        let _ = task.handle.await;
        self.ctx.fleet.remove(&task.record);
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

/// A tenant's task: a cycle at every tick, its outcomes logged and
/// written into the tenant's record.
async fn tenant_loop(
    telemetry: Arc<Telemetry>,
    transport: Arc<Transport>,
    files: Refresher,
    record: Arc<TenantRecord>,
    offset: Duration,
    stop: CancellationToken,
) {
    let tenant = Arc::clone(record.tenant());
    // A rotated secret, key or certificate is taken up within an interval.
    let _watching = files.watch(tenant.token.watched(), tenant.interval);
    // Graph is read beside the cycles, never inside one; ends with this task.
    let _inventory = super::inventory::start(&transport, &record);
    let first = Instant::now() + offset;
    let mut ticks = tokio::time::interval_at(first, tenant.interval);
    // A cycle that overran its interval is not made up with a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut state = ProbeState::default();
    let mut seen = LastSeen::default();
    // Probe-now requests: a cycle at once, answered once it is recorded.
    let requests = record.probe_now().serve();
    loop {
        let requested = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            scheduled = ticks.tick() => {
                telemetry.record_lateness(scheduled.elapsed());
                None
            }
            done = requests.next_request() => Some(done),
        };
        if requested.is_some() {
            // Probe now proves the credential as it is now: a token
            // requested with the files as they are, not a cached one.
            state.token = None;
        }
        // Removal, restart and the end of the grace period abort this task
        // (its JoinHandle) wherever it waits.
        if requested.is_some() {
            look_at_files_now(&tenant).await;
        }
        // A cycle's future lives on the heap while it runs: inline, its
        // room would stay in every idle tenant's task between cycles.
        let report = Box::pin(probe::run_cycle(&transport, &tenant, &mut state)).await;
        log_cycle(&tenant, &report, &mut seen);
        record.record_cycle(&report);
        if let Some(done) = requested {
            // The requester may have given up waiting; nothing to tell.
            let _ = done.send(());
        }
    }
}

/// Looks at the tenant's credential files now, off the runtime, so a
/// probe-now right after a rotation uses the rotated file rather than
/// waiting for the refresher's next look.
async fn look_at_files_now(tenant: &Tenant) {
    let files = tenant.token.watched();
    if files.is_empty() {
        return;
    }
    let look = tokio::task::spawn_blocking(move || {
        for file in files {
            file.look_now();
        }
    });
    if let Err(error) = look.await {
        tracing::warn!(tenant = %tenant.name, %error, "looking at the credential files failed");
    }
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
                ..LoadOptions::default()
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

    /// Every tenant's task stays resident for the daemon's life, most of
    /// it waiting for its next tick: its future must not carry the room of
    /// a cycle's requests (inline, a task was 5,856 bytes; 5,000 tenants
    /// held 28 MiB of it, and each cycle touched it cold).
    #[test]
    fn an_idle_tenant_task_holds_no_room_for_a_cycle() {
        let config = load_str(
            "tenants:\n  - {name: t, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, base_url: \"http://127.0.0.1:9\", endpoints: [{name: e, path: /e}]}\n",
            Path::new("t.yml"),
            &LoadOptions {
                warn_inline_secrets: false,
                ..LoadOptions::default()
            },
        )
        .unwrap();
        let fleet = Fleet::new(&[0.1, 1.0]);
        let record = fleet.add(&config.tenants[0]);
        let task = tenant_loop(
            Arc::new(Telemetry::new()),
            Transport::new(1),
            Refresher::new(),
            record,
            Duration::ZERO,
            CancellationToken::new(),
        );
        let size = std::mem::size_of_val(&task);
        assert!(size <= 1024, "a tenant task's future is {size} bytes");
    }
}
