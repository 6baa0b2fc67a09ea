//! The log lines of a cycle. A result that differs from the step's
//! previous one is logged at info (warn for a failure), a repeat only at
//! debug: with thousands of tenants the log shows what changed, not the
//! same failure every interval. The tenant's task keeps what it last saw
//! ([`LastSeen`]); the record is not asked.

use crate::config::Tenant;
use crate::probe::{
    CycleReport, EndpointResult, Outcome, RejectionReason, ResultClass, TokenResult,
};

/// The latest result of every step, as the tenant's task last logged it.
#[derive(Debug, Default)]
pub struct LastSeen {
    token: Option<TokenResult>,
    /// By endpoint index.
    endpoints: Vec<Option<EndpointResult>>,
}

/// Logs every step of a cycle and remembers its result in `seen`.
pub fn log_cycle(tenant: &Tenant, report: &CycleReport, seen: &mut LastSeen) {
    if let Some(outcome) = &report.token {
        log_step(tenant, None, outcome, report.rejection, &mut seen.token);
    }
    seen.endpoints.resize(tenant.endpoints.len(), None);
    for (index, outcome) in &report.endpoints {
        if let (Some(endpoint), Some(last)) =
            (tenant.endpoints.get(*index), seen.endpoints.get_mut(*index))
        {
            log_step(tenant, Some(&endpoint.name), outcome, None, last);
        }
    }
}

/// Whether a result is worth an info/warn line: it differs from the last
/// one, or it is a failure with nothing before it.
fn is_news<R: ResultClass>(last: Option<R>, now: R) -> bool {
    match last {
        Some(last) => last != now,
        None => !now.is_success(),
    }
}

/// One step's line; `endpoint` is `None` for the token request (and the
/// field is then left out of the line), `rejection` the reason a rejected
/// token request was given.
fn log_step<R: ResultClass>(
    tenant: &Tenant,
    endpoint: Option<&str>,
    outcome: &Outcome<R>,
    rejection: Option<RejectionReason>,
    last: &mut Option<R>,
) {
    let what = if endpoint.is_some() {
        "endpoint call"
    } else {
        "token request"
    };
    let news = is_news(*last, outcome.result);
    let was_backing_off = last.is_some_and(ResultClass::is_backed_off);
    *last = Some(outcome.result);
    let name = tenant.name.as_str();
    let result = outcome.result.as_str();
    let status = outcome.status.unwrap_or(0);
    let latency_ms = outcome.latency.map(|l| l.as_millis() as u64);
    let detail = outcome.detail.as_deref().unwrap_or("");
    let reason = rejection.map(RejectionReason::as_str);
    // A back-off is logged when it starts and when it ends.
    if was_backing_off && !outcome.result.is_backed_off() {
        tracing::info!(
            tenant = name,
            endpoint,
            result,
            "{what} no longer backing off"
        );
    }
    match (news, outcome.ok()) {
        (true, false) if outcome.result.is_backed_off() => {
            tracing::warn!(
                tenant = name,
                endpoint,
                result,
                detail,
                "{what} backing off (Retry-After)"
            )
        }
        (true, false) => {
            tracing::warn!(
                tenant = name,
                endpoint,
                result,
                reason,
                status,
                detail,
                "{what} failed"
            )
        }
        (true, true) => {
            tracing::info!(
                tenant = name,
                endpoint,
                status,
                latency_ms,
                "{what} succeeds again"
            )
        }
        (false, _) => {
            tracing::debug!(
                tenant = name,
                endpoint,
                result,
                reason,
                status,
                latency_ms,
                detail,
                "{what}"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn news_is_a_change_or_a_first_failure() {
        use TokenResult as T;
        assert!(!is_news(None, T::Success));
        assert!(is_news(None, T::Timeout));
        assert!(is_news(Some(T::Success), T::Timeout));
        assert!(is_news(Some(T::Timeout), T::Success));
        assert!(!is_news(Some(T::Timeout), T::Timeout));
    }
}
