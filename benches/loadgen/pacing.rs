//! What `loadgen blackbox` and `loadgen floor` share: a loop that starts
//! work at a fixed rate with a bound on what is in flight, the counters
//! its work adds to, and the HTTP client both send with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

/// Requests in flight above this are not started (counted as skipped), so a
/// stalled peer cannot make the loop pile up work.
const MAX_IN_FLIGHT: usize = 512;
/// Every request gives up after this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// After the paced window, requests still in flight get this long.
const DRAIN: Duration = Duration::from_secs(12);

/// The HTTP client of the paced loops: one pool, bounded requests, no
/// redirects followed.
pub(crate) fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent("credprobe-bench-loadgen")
        .timeout(REQUEST_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| error.to_string())
}

/// What the paced work counts, shared by its tasks.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) ok: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) requests: AtomicU64,
}

impl Tally {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Starts `work(i)` every 1/rate seconds for `window`, then waits (bounded)
/// for what is in flight. Returns (started, skipped, paced seconds).
pub(crate) async fn paced<F, Fut>(rate: f64, window: Duration, mut work: F) -> (u64, u64, f64)
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let period = Duration::from_secs_f64(1.0 / rate);
    let started_at = Instant::now();
    let deadline = tokio::time::Instant::now() + window;
    // The default (burst) catch-up keeps the average rate exact.
    let mut ticks = tokio::time::interval(period);
    let mut tasks = JoinSet::new();
    let (mut started, mut skipped) = (0u64, 0u64);
    loop {
        let tick = ticks.tick().await;
        if tick >= deadline {
            break;
        }
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= MAX_IN_FLIGHT {
            skipped += 1;
            continue;
        }
        tasks.spawn(work(started));
        started += 1;
    }
    let paced_seconds = started_at.elapsed().as_secs_f64();
    let _ = tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
    (started, skipped, paced_seconds)
}
