//! What one step of a cycle found: one generic [`Outcome`] for the token
//! request and for every endpoint call, so everything downstream (the
//! tenant's record, the log, the views, the exposition) is written once.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::classify::ResultClass;
use super::phases::Phases;
use super::tls::CertificateSeen;

/// The outcome of one step (the token request or one endpoint call).
#[derive(Debug, Clone)]
pub struct Outcome<R> {
    /// The class of the result (the `result` label).
    pub result: R,
    /// From send to the last body byte; `None` when nothing was sent.
    pub latency: Option<Duration>,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// What went wrong, in words fit for logs (never a secret or token);
    /// shared, not copied, by the record, its history and the views.
    pub detail: Option<Arc<str>>,
    /// The leaf certificate of the host that answered, for https.
    pub certificate: Option<CertificateSeen>,
    /// Where the request's time went; `None` when nothing was sent.
    pub phases: Option<Phases>,
}

impl<R: ResultClass> Outcome<R> {
    /// A step that ended in `result` with `detail` and, when there was an
    /// answer, its `status`; the latency is filled in by whoever measured it.
    pub fn failed(result: R, status: Option<u16>, detail: impl Into<Arc<str>>) -> Outcome<R> {
        Outcome {
            result,
            latency: None,
            status,
            detail: Some(detail.into()),
            certificate: None,
            phases: None,
        }
    }

    /// A request not sent because its scope backs off after a 429, for
    /// `remaining` more.
    pub fn backed_off(remaining: Duration) -> Outcome<R> {
        let remaining = Duration::from_secs(remaining.as_secs_f64().ceil() as u64);
        Outcome::failed(
            R::BACKED_OFF,
            None,
            format!(
                "not sent: backing off after HTTP 429 (Retry-After), {} left",
                humantime::format_duration(remaining)
            ),
        )
    }

    /// True when the step succeeded.
    pub fn ok(&self) -> bool {
        self.result.is_success()
    }
}

/// What a successful token response said about the token it carried,
/// without the token itself: what the record, the metrics and the views
/// may keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// When the token expires, when known.
    pub expires_at: Option<SystemTime>,
    /// `expires_in`, or the JWT's `exp - iat`, when known.
    pub lifetime: Option<Duration>,
    /// The scopes granted, sorted, when the response or the JWT said.
    pub scopes: Option<Arc<[Box<str>]>>,
}

impl Grant {
    /// Whether `scope` was granted; `None` when the token did not say
    /// what it grants. The one check of an expected scope, for the
    /// metrics and the views alike.
    pub fn grants(&self, scope: &str) -> Option<bool> {
        let scopes = self.scopes.as_deref()?;
        Some(scopes.binary_search_by(|s| (**s).cmp(scope)).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_answers_for_its_sorted_scopes_and_not_without_them() {
        let mut grant = Grant {
            expires_at: None,
            lifetime: None,
            scopes: None,
        };
        assert_eq!(grant.grants("read"), None, "the token said nothing");
        grant.scopes = Some(Arc::from(
            ["Data.Read", "admin", "read", "write"].map(Box::<str>::from),
        ));
        for scope in ["Data.Read", "admin", "read", "write"] {
            assert_eq!(grant.grants(scope), Some(true), "{scope}");
        }
        for scope in ["Read", "data.read", "", "writes"] {
            assert_eq!(grant.grants(scope), Some(false), "{scope}");
        }
    }
}
