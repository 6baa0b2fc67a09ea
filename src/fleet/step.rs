//! What is kept of one step (the token request, or one endpoint): result
//! counters, the latency histogram and the latest result. One generic
//! type serves both kinds of step.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::histogram::Histogram;
use crate::probe::{Outcome, Phases, ResultClass};

/// The latest result of a step.
#[derive(Debug, Clone)]
pub struct LastResult<R> {
    /// The result class.
    pub result: R,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// From send to the last body byte, when a request was sent.
    pub latency: Option<Duration>,
    /// What went wrong, when something did.
    pub detail: Option<Arc<str>>,
    /// Where the request's time went, when a request was sent.
    pub phases: Option<Phases>,
    /// When the step finished.
    pub at: SystemTime,
}

/// Everything recorded of one step. Every `Option` is a series that is
/// absent until its first value.
#[derive(Debug)]
pub struct StepRecord<R: ResultClass> {
    /// Results by class, indexed by [`ResultClass::index`]; all start at 0
    /// so `rate()` works from the first failure.
    pub counts: R::Counts,
    /// Latency of the requests sent.
    pub duration: Option<Histogram>,
    /// The latest result.
    pub last: Option<LastResult<R>>,
    /// When the step last succeeded.
    pub last_success_at: Option<SystemTime>,
}

impl<R: ResultClass> Default for StepRecord<R> {
    fn default() -> Self {
        StepRecord {
            counts: R::Counts::default(),
            duration: None,
            last: None,
            last_success_at: None,
        }
    }
}

impl<R: ResultClass> StepRecord<R> {
    /// Records one outcome that finished at `now`; latency goes into the
    /// histogram only when a request was sent.
    pub fn record(&mut self, outcome: &Outcome<R>, bounds: &[f64], now: SystemTime) {
        if let Some(count) = self.counts.as_mut().get_mut(outcome.result.index()) {
            *count += 1;
        }
        if let Some(latency) = outcome.latency {
            self.duration
                .get_or_insert_with(|| Histogram::new(bounds))
                .observe(bounds, latency.as_secs_f64());
        }
        if outcome.ok() {
            self.last_success_at = Some(now);
        }
        self.last = Some(LastResult {
            result: outcome.result,
            status: outcome.status,
            latency: outcome.latency,
            detail: outcome.detail.clone(),
            phases: outcome.phases,
            at: now,
        });
    }

    /// How many results of `class` were recorded.
    pub fn count(&self, class: R) -> u64 {
        self.counts.as_ref()[class.index()]
    }

    /// The latest result class, if any.
    pub fn last_result(&self) -> Option<R> {
        self.last.as_ref().map(|last| last.result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::EndpointResult;

    #[test]
    fn counts_latency_and_last_success_follow_the_outcomes() {
        let mut step = StepRecord::<EndpointResult>::default();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        let ok = Outcome {
            result: EndpointResult::Success,
            latency: Some(Duration::from_millis(5)),
            status: Some(200),
            detail: None,
            certificate: None,
            phases: None,
        };
        step.record(&ok, &[0.01], at);
        let not_sent = Outcome::failed(EndpointResult::NoToken, None, "no valid token");
        step.record(&not_sent, &[0.01], at + Duration::from_secs(1));
        assert_eq!(step.count(EndpointResult::Success), 1);
        assert_eq!(step.count(EndpointResult::NoToken), 1);
        assert_eq!(
            step.duration.as_ref().unwrap().count(),
            1,
            "no latency, no observation"
        );
        assert_eq!(step.last_success_at, Some(at));
        let last = step.last.as_ref().unwrap();
        assert_eq!(last.result, EndpointResult::NoToken);
        assert_eq!(last.detail.as_deref(), Some("no valid token"));
    }
}
