//! A tenant's recent probes: the last [`HISTORY`] steps, kept small
//! because every tenant keeps that many.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::probe::StepResult;
use crate::unix_time::unix_seconds;

/// How many probe records a tenant keeps.
pub const HISTORY: usize = 50;

/// One step of one cycle, for the history. The step name is shared with
/// the tenant's record rather than allocated per record, and only
/// failures allocate (their detail, at its exact length).
#[derive(Debug, Clone, Serialize)]
pub struct ProbeRecord {
    /// When it finished (unix seconds).
    #[serde(serialize_with = "serialize_time")]
    pub at: SystemTime,
    /// `token`, or the endpoint name; serialised as a plain string.
    #[serde(serialize_with = "serialize_shared_str")]
    pub step: Arc<str>,
    /// The result class.
    pub result: StepResult,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// Latency in seconds, when a request was sent.
    pub latency_seconds: Option<f64>,
    /// What went wrong, when something did.
    pub detail: Option<Arc<str>>,
}

impl ProbeRecord {
    /// True when the step succeeded.
    pub fn ok(&self) -> bool {
        self.result.is_success()
    }
}

/// The newest [`HISTORY`] records, oldest first, in a buffer of exactly
/// that size.
#[derive(Debug, Default)]
pub struct History {
    records: VecDeque<ProbeRecord>,
}

impl History {
    /// Appends a record, dropping the oldest once full.
    pub fn push(&mut self, record: ProbeRecord) {
        if self.records.len() >= HISTORY {
            self.records.pop_front();
        }
        // Room for exactly HISTORY on the first push: left to grow by
        // doubling, the buffer would end at 64.
        self.records
            .reserve_exact(HISTORY.saturating_sub(self.records.len()));
        self.records.push_back(record);
    }

    /// The records, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &ProbeRecord> + ExactSizeIterator {
        self.records.iter()
    }

    /// How many records there are.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True before the first record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The buffer's capacity (exactly [`HISTORY`] once used).
    pub fn capacity(&self) -> usize {
        self.records.capacity()
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
    use std::time::Duration;

    use super::*;
    use crate::probe::{EndpointResult, TokenResult};

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
    fn a_record_serialises_with_its_result_as_the_label_value() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let failed = ProbeRecord {
            at,
            step: Arc::from("token"),
            result: StepResult::Token(TokenResult::CredentialsRejected),
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
            result: StepResult::Endpoint(EndpointResult::NoToken),
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
    fn the_buffer_holds_exactly_history_records() {
        let mut history = History::default();
        for i in 0..3 * HISTORY {
            history.push(ProbeRecord {
                at: SystemTime::UNIX_EPOCH + Duration::from_secs(i as u64),
                step: Arc::from("token"),
                result: StepResult::Token(TokenResult::Success),
                status: Some(200),
                latency_seconds: None,
                detail: None,
            });
        }
        assert_eq!(history.len(), HISTORY);
        assert_eq!(history.capacity(), HISTORY);
        let first = history.iter().next().unwrap().at;
        assert_eq!(
            first,
            SystemTime::UNIX_EPOCH + Duration::from_secs(2 * HISTORY as u64)
        );
    }
}
