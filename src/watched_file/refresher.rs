//! One task looks at every watched credential file, in batches on the
//! blocking pool, instead of each tenant's cycle sending its own look
//! there. A tenant's task registers its files with its interval
//! ([`Refresher::watch`]) and holds the [`Watching`] guard for as long as
//! it runs; the refresher looks at each file once per (shortest) interval
//! of the tenants using it, so files shared by many tenants (one key set,
//! hundreds of tenants) are looked at once, not once per tenant.
//!
//! Why: a look per cycle was a `spawn_blocking` per tenant per cycle, a
//! thread wake-up and a hand-off for a `stat` of a microsecond; at 5,000
//! tenants that was about a tenth of the daemon's CPU. A batch is one
//! hand-off for every file due in the same tick.
//!
//! A rotated file is taken up within one interval of the tenants using it
//! (plus [`TICK`]), as it was when each cycle looked first.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Files that can be looked at from the blocking pool: a
/// [`super::WatchedFile`], or a type holding one, behind an [`Arc`] so a
/// file shared by tenants is one entry.
pub trait Watch: Send + Sync {
    /// Looks at the files now and takes up a new version (or records a
    /// problem), on the calling thread: it may block on the file system.
    fn look_now(&self);
}

/// How often the refresher wakes to see which files are due.
pub const TICK: Duration = Duration::from_millis(500);

/// The registry of watched files and their schedule; cloned handles share
/// it. [`Refresher::run`] is its task.
#[derive(Clone, Default)]
pub struct Refresher {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// By the address of the watched value: one entry per shared file.
    by_file: HashMap<usize, Entry>,
    /// The id of the next registration.
    next_id: u64,
    /// No entry is due before this (`None`: none registered since the last
    /// scan): a tick before it scans nothing.
    earliest: Option<Instant>,
}

/// One watched value and who watches it.
struct Entry {
    file: Arc<dyn Watch>,
    /// Each registration watching it, with its period.
    periods: Vec<(u64, Duration)>,
    /// When it is looked at next.
    due: Instant,
}

impl Entry {
    /// The shortest period of those watching it.
    fn period(&self) -> Duration {
        self.periods
            .iter()
            .map(|(_, period)| *period)
            .min()
            .unwrap_or(Duration::MAX)
    }
}

/// A registration: while it lives, its files are looked at; dropping it
/// (the tenant's task ends) takes them off unless another holds them.
#[must_use = "the files are watched only while this lives"]
pub struct Watching {
    inner: Weak<Inner>,
    id: u64,
    keys: Vec<usize>,
}

fn lock(inner: &Inner) -> MutexGuard<'_, Entries> {
    inner.entries.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The identity of a watched value: its address (an entry holds the
/// [`Arc`], so the address is not reused while it is registered).
fn key(file: &Arc<dyn Watch>) -> usize {
    Arc::as_ptr(file).cast::<()>() as usize
}

impl Refresher {
    /// An empty registry.
    pub fn new() -> Refresher {
        Refresher::default()
    }

    /// Watches `files` every `period` (a tenant's interval), starting one
    /// period from now: they were read when the configuration was loaded.
    pub fn watch(&self, files: Vec<Arc<dyn Watch>>, period: Duration) -> Watching {
        let mut entries = lock(&self.inner);
        let id = entries.next_id;
        entries.next_id += 1;
        let now = Instant::now();
        let mut keys = Vec::with_capacity(files.len());
        for file in files {
            let key = key(&file);
            if keys.contains(&key) {
                continue;
            }
            keys.push(key);
            let entry = entries.by_file.entry(key).or_insert_with(|| Entry {
                file,
                periods: Vec::new(),
                due: now + period,
            });
            entry.periods.push((id, period));
            // A shorter period than the entry had is due no later than it
            // would be for the new watcher alone.
            entry.due = entry.due.min(now + period);
            let due = entry.due;
            entries.earliest = Some(entries.earliest.map_or(due, |e| e.min(due)));
        }
        Watching {
            inner: Arc::downgrade(&self.inner),
            id,
            keys,
        }
    }

    /// How many distinct files (or sets) are watched.
    pub fn len(&self) -> usize {
        lock(&self.inner).by_file.len()
    }

    /// True when nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The files due at `now`, each scheduled one period later.
    /// A tick before the earliest due time scans nothing (at 5,000 files
    /// due once a minute, most ticks).
    fn take_due(&self, now: Instant) -> Vec<Arc<dyn Watch>> {
        let mut entries = lock(&self.inner);
        if entries.earliest.is_none_or(|earliest| earliest > now) {
            return Vec::new();
        }
        let mut due = Vec::new();
        let mut earliest: Option<Instant> = None;
        for entry in entries.by_file.values_mut() {
            if entry.due <= now {
                due.push(Arc::clone(&entry.file));
                entry.due = now + entry.period();
            }
            earliest = Some(earliest.map_or(entry.due, |e| e.min(entry.due)));
        }
        entries.earliest = earliest;
        due
    }

    /// Looks at every due file, one batch per [`TICK`] on the blocking
    /// pool (at most one batch at a time), until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let due = self.take_due(Instant::now());
            if due.is_empty() {
                continue;
            }
            let looked = tokio::task::spawn_blocking(move || {
                for file in &due {
                    file.look_now();
                }
            })
            .await;
            if let Err(error) = looked
                && error.is_panic()
            {
                std::panic::resume_unwind(error.into_panic());
            }
        }
    }
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher")
            .field("files", &self.len())
            .finish()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let mut entries = lock(&inner);
        for key in &self.keys {
            let Some(entry) = entries.by_file.get_mut(key) else {
                continue;
            };
            entry.periods.retain(|(id, _)| *id != self.id);
            if entry.periods.is_empty() {
                entries.by_file.remove(key);
            }
        }
    }
}

impl fmt::Debug for Watching {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watching")
            .field("files", &self.keys.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Default)]
    struct Counted(AtomicUsize);

    impl Watch for Counted {
        fn look_now(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn looks(file: &Counted) -> usize {
        file.0.load(Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn a_file_is_looked_at_once_per_period_not_before() {
        let refresher = Refresher::new();
        let file = Arc::new(Counted::default());
        let _watching = refresher.watch(vec![file.clone()], Duration::from_secs(10));
        let stop = CancellationToken::new();
        let task = tokio::spawn(refresher.clone().run(stop.clone()));
        // Read at load: nothing is due before one period has passed.
        tokio::time::sleep(Duration::from_millis(9_900)).await;
        assert_eq!(looks(&file), 0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(looks(&file), 1);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(looks(&file), 2);
        stop.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_file_shared_by_tenants_is_one_entry_at_the_shortest_period() {
        let refresher = Refresher::new();
        let shared = Arc::new(Counted::default());
        let slow = refresher.watch(vec![shared.clone()], Duration::from_secs(60));
        let fast = refresher.watch(vec![shared.clone(), shared.clone()], Duration::from_secs(5));
        assert_eq!(refresher.len(), 1);
        let stop = CancellationToken::new();
        let task = tokio::spawn(refresher.clone().run(stop.clone()));
        tokio::time::sleep(Duration::from_millis(30_250)).await;
        // Every 5 s, once each time, however many watch it.
        assert_eq!(looks(&shared), 6);
        // The fast watcher leaves: back to one look a minute.
        drop(fast);
        let before = looks(&shared);
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(looks(&shared) <= before + 1, "{} looks", looks(&shared));
        drop(slow);
        assert!(refresher.is_empty());
        stop.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn files_nobody_watches_any_more_are_not_looked_at() {
        let refresher = Refresher::new();
        let file = Arc::new(Counted::default());
        let watching = refresher.watch(vec![file.clone()], Duration::from_secs(1));
        let stop = CancellationToken::new();
        let task = tokio::spawn(refresher.clone().run(stop.clone()));
        tokio::time::sleep(Duration::from_millis(2_600)).await;
        let seen = looks(&file);
        assert!(seen >= 2, "{seen} looks");
        drop(watching);
        assert!(refresher.is_empty());
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(looks(&file), seen);
        stop.cancel();
        task.await.unwrap();
    }
}
