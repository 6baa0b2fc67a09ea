//! Rules that more than one level of the configuration applies, each written
//! once so the levels cannot drift apart.

use std::time::Duration;

use super::{MAX_INTERVAL, MIN_INTERVAL};

/// What a timing rule says of a value that breaks it; its words are the
/// problem's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum TimingRule {
    /// An interval below [`MIN_INTERVAL`].
    #[error("must be at least {}", humantime::format_duration(MIN_INTERVAL))]
    IntervalTooShort,
    /// An interval above [`MAX_INTERVAL`].
    #[error("must be at most {}", humantime::format_duration(MAX_INTERVAL))]
    IntervalTooLong,
    /// A timeout of 0, or not below the interval it runs in.
    #[error("must be above 0 and below the {interval_name} ({})", humantime::format_duration(*interval))]
    TimeoutNotBelowInterval {
        /// What the message calls the interval.
        interval_name: &'static str,
        /// The interval.
        interval: Duration,
    },
}

/// An interval must be at least [`MIN_INTERVAL`] and at most
/// [`MAX_INTERVAL`].
pub(super) fn check_interval(interval: Duration) -> Result<(), TimingRule> {
    if interval < MIN_INTERVAL {
        return Err(TimingRule::IntervalTooShort);
    }
    if interval > MAX_INTERVAL {
        return Err(TimingRule::IntervalTooLong);
    }
    Ok(())
}

/// A request must end before the next cycle starts: every timeout (defaults,
/// tenant, endpoint) is above 0 and below the interval it runs in, which
/// the message calls `interval_name`.
pub(super) fn check_timeout(
    timeout: Duration,
    interval: Duration,
    interval_name: &'static str,
) -> Result<(), TimingRule> {
    if timeout.is_zero() || timeout >= interval {
        return Err(TimingRule::TimeoutNotBelowInterval {
            interval_name,
            interval,
        });
    }
    Ok(())
}

/// Tenant and endpoint names become the `tenant` and `endpoint` label
/// values, so they keep to a short, plain alphabet.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The message for a name [`valid_name`] refuses.
pub(super) const NAME_RULE: &str = "must be 1 to 128 letters, digits, '.', '_' or '-'";
