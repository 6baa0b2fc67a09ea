//! Probe now: an operator who just rotated a secret asks for the tenant's
//! cycle at once instead of waiting up to an interval.
//!
//! The request goes to the tenant's own task, which runs the cycle beside
//! its ticker: the tenant's probe state (cached token, 429 back-off) and
//! its record stay written by that one task, exactly as for a scheduled
//! cycle. Each record holds one [`ProbeNow`]; the queue holds at most one
//! pending request and requests are at most one per [`SPACING`], so a
//! client cannot make credprobe hammer an identity provider.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

/// The shortest time between two probe-now requests of one tenant.
pub const SPACING: Duration = Duration::from_secs(10);

/// What a request hands the tenant's task: answered once the cycle is in
/// the record (dropped unanswered when the task stops first).
pub type Done = oneshot::Sender<()>;

/// Where a probe-now request for one tenant waits for its task: a slot of
/// one and a wake-up, held inline in the record (no allocation until a
/// request comes: a record per tenant stays small).
#[derive(Debug, Default)]
pub struct ProbeNow {
    /// Wakes the task when a request is put in the slot.
    wake: Notify,
    slot: Mutex<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    /// The request waiting for the task.
    pending: Option<Done>,
    /// When the last request was accepted.
    last: Option<Instant>,
    /// True once the task has stopped.
    closed: bool,
}

/// Why a probe-now request was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The tenant was probed on request less than [`SPACING`] ago.
    #[error("this tenant was probed on request less than {}s ago; retry in {}s", SPACING.as_secs(), retry_after_seconds(*.retry_after))]
    TooSoon {
        /// When the next request will be accepted.
        retry_after: Duration,
    },
    /// A request is still waiting for the tenant's task.
    #[error("a probe of this tenant is already pending")]
    Pending,
    /// The tenant's task has stopped (a reload or shutdown).
    #[error("the tenant's task is not running")]
    NotRunning,
}

impl Refused {
    /// The `Retry-After` seconds for this refusal, when retrying can help.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Refused::TooSoon { retry_after } => Some(retry_after_seconds(*retry_after)),
            Refused::Pending => Some(SPACING.as_secs()),
            Refused::NotRunning => None,
        }
    }
}

/// Whole seconds, rounded up so a client that waits them is accepted.
fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

impl ProbeNow {
    /// Queues a request made at `now`; the answer arrives once the cycle
    /// is recorded.
    pub fn request(&self, now: Instant) -> Result<oneshot::Receiver<()>, Refused> {
        let mut slot = self.lock();
        if slot.closed {
            return Err(Refused::NotRunning);
        }
        if let Some(at) = slot.last {
            let since = now.saturating_duration_since(at);
            if since < SPACING {
                return Err(Refused::TooSoon {
                    retry_after: SPACING - since,
                });
            }
        }
        if slot.pending.is_some() {
            return Err(Refused::Pending);
        }
        let (done, answer) = oneshot::channel();
        slot.pending = Some(done);
        slot.last = Some(now);
        drop(slot);
        // Stores a wake-up if the task is not waiting yet: none is lost.
        self.wake.notify_one();
        Ok(answer)
    }

    /// For the tenant's task: while the returned guard lives, requests are
    /// accepted; once it is dropped (the task ended) they are refused and
    /// a pending one is dropped unanswered.
    pub fn serve(&self) -> Serving<'_> {
        Serving { probe: self }
    }

    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The tenant task's side of a [`ProbeNow`].
#[derive(Debug)]
pub struct Serving<'a> {
    probe: &'a ProbeNow,
}

impl Serving<'_> {
    /// The next request; resolves only when one comes, so it can sit in a
    /// `select!` beside the ticker.
    pub async fn next_request(&self) -> Done {
        loop {
            self.probe.wake.notified().await;
            if let Some(done) = self.probe.lock().pending.take() {
                return done;
            }
        }
    }
}

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        let mut slot = self.probe.lock();
        slot.closed = true;
        slot.pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_spaced_queued_one_deep_and_answered() {
        let probe = ProbeNow::default();
        let serving = probe.serve();
        let start = Instant::now();
        let answer = probe.request(start).unwrap();

        let early = probe.request(start + Duration::from_millis(2500));
        assert_eq!(
            early.unwrap_err(),
            Refused::TooSoon {
                retry_after: Duration::from_millis(7500)
            }
        );
        assert_eq!(
            probe
                .request(start + Duration::from_millis(2500))
                .unwrap_err()
                .retry_after_seconds(),
            Some(8),
            "rounded up"
        );
        // Ten seconds on, the first is still pending: the queue holds one.
        assert_eq!(
            probe.request(start + SPACING).unwrap_err(),
            Refused::Pending
        );

        let done = serving.next_request().await;
        done.send(()).unwrap();
        answer.await.unwrap();
        assert!(probe.request(start + SPACING).is_ok());
    }

    #[tokio::test]
    async fn a_stopped_task_refuses_and_drops_what_was_pending() {
        let probe = ProbeNow::default();
        let serving = probe.serve();
        let start = Instant::now();
        let answer = probe.request(start).unwrap();
        drop(serving);
        assert!(answer.await.is_err(), "dropped unanswered");
        assert_eq!(
            probe.request(start + SPACING).unwrap_err(),
            Refused::NotRunning
        );
    }
}
