//! Probe now: an operator who just rotated a secret asks for the tenant's
//! cycle at once instead of waiting up to an interval.
//!
//! The request goes to the tenant's own task, which runs the cycle beside
//! its ticker: the tenant's probe state (cached token, 429 back-off) and
//! its record stay written by that one task, exactly as for a scheduled
//! cycle. Each record holds one [`ProbeNow`]; the queue holds at most one
//! pending request and requests are at most one per [`SPACING`], so a
//! client cannot make credprobe hammer an identity provider.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

/// The shortest time between two probe-now requests of one tenant.
pub const SPACING: Duration = Duration::from_secs(10);

/// What a request hands the tenant's task: answered once the cycle is in
/// the record (dropped unanswered when the task stops first).
pub type Done = oneshot::Sender<()>;

/// Where probe-now requests for one tenant wait for its task.
#[derive(Debug)]
pub struct ProbeNow {
    sender: mpsc::Sender<Done>,
    /// Taken by the tenant's task when it starts.
    receiver: Mutex<Option<mpsc::Receiver<Done>>>,
    /// When the last request was accepted.
    last: Mutex<Option<Instant>>,
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

impl Default for ProbeNow {
    fn default() -> Self {
        ProbeNow::new()
    }
}

impl ProbeNow {
    /// An empty queue of one.
    pub fn new() -> ProbeNow {
        let (sender, receiver) = mpsc::channel(1);
        ProbeNow {
            sender,
            receiver: Mutex::new(Some(receiver)),
            last: Mutex::new(None),
        }
    }

    /// The receiving end, for the tenant's task; `None` once taken.
    pub fn take_receiver(&self) -> Option<mpsc::Receiver<Done>> {
        self.receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Queues a request made at `now`; the answer arrives once the cycle
    /// is recorded.
    pub fn request(&self, now: Instant) -> Result<oneshot::Receiver<()>, Refused> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = *last {
            let since = now.saturating_duration_since(at);
            if since < SPACING {
                return Err(Refused::TooSoon {
                    retry_after: SPACING - since,
                });
            }
        }
        let (done, answer) = oneshot::channel();
        match self.sender.try_send(done) {
            Ok(()) => {
                *last = Some(now);
                Ok(answer)
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(Refused::Pending),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Refused::NotRunning),
        }
    }
}

/// The next request for the task's `receiver`; never resolves without one
/// (or once the queue is closed), so it can sit in a `select!` beside the
/// ticker.
pub async fn next_request(receiver: &mut Option<mpsc::Receiver<Done>>) -> Done {
    if let Some(queue) = receiver
        && let Some(done) = queue.recv().await
    {
        return done;
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_spaced_queued_one_deep_and_answered() {
        let probe = ProbeNow::new();
        let mut receiver = probe.take_receiver();
        assert!(probe.take_receiver().is_none(), "one task takes it");
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

        let done = next_request(&mut receiver).await;
        done.send(()).unwrap();
        answer.await.unwrap();
        assert!(probe.request(start + SPACING).is_ok());
    }

    #[tokio::test]
    async fn a_stopped_task_refuses_and_drops_what_was_pending() {
        let probe = ProbeNow::new();
        let receiver = probe.take_receiver();
        let start = Instant::now();
        let answer = probe.request(start).unwrap();
        drop(receiver);
        assert!(answer.await.is_err(), "dropped unanswered");
        assert_eq!(
            probe.request(start + SPACING).unwrap_err(),
            Refused::NotRunning
        );
    }
}
