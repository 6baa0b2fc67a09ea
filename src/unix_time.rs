//! Unix seconds, the unit of every timestamp credprobe shows: in metrics,
//! on the status pages and in the JSON API.

use std::time::SystemTime;

/// Unix seconds of `time` (negative before 1970).
pub fn unix_seconds(time: SystemTime) -> f64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Whole seconds from `now` to `time`, negative once `time` has passed.
pub fn seconds_until(time: SystemTime, now: SystemTime) -> i64 {
    match time.duration_since(now) {
        Ok(ahead) => i64::try_from(ahead.as_secs()).unwrap_or(i64::MAX),
        Err(behind) => -i64::try_from(behind.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn seconds_are_signed() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(seconds_until(now + Duration::from_secs(5), now), 5);
        assert_eq!(seconds_until(now - Duration::from_secs(5), now), -5);
        assert_eq!(unix_seconds(now), 1000.0);
    }
}
