//! 429 back-off per host: after a `Retry-After`, no request goes to that host
//! before the time it named.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use url::Url;

/// The longest back-off honoured: a broken or hostile `Retry-After` must not
/// silence a tenant for days.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Hosts that asked us to wait, and until when.
#[derive(Debug, Default)]
pub struct Backoff {
    until: Mutex<HashMap<String, Instant>>,
}

impl Backoff {
    /// How long requests to `url`'s host must still wait, if at all.
    pub fn remaining(&self, url: &Url) -> Option<Duration> {
        let key = host_key(url);
        let mut map = self.until.lock().expect("backoff map poisoned");
        let until = *map.get(&key)?;
        let now = Instant::now();
        if until <= now {
            map.remove(&key);
            return None;
        }
        Some(until - now)
    }

    /// Records the `Retry-After` of a 429 from `url`'s host.
    pub fn note_retry_after(&self, url: &Url, headers: &HeaderMap) -> Option<Duration> {
        let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
        let wait = parse_retry_after(value, SystemTime::now())?.min(MAX_BACKOFF);
        if wait.is_zero() {
            return None;
        }
        let until = Instant::now() + wait;
        let mut map = self.until.lock().expect("backoff map poisoned");
        let entry = map.entry(host_key(url)).or_insert(until);
        *entry = (*entry).max(until);
        Some(wait)
    }
}

/// `host:port`, the unit a rate limit applies to.
fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

/// `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn per_host_and_capped() {
        let backoff = Backoff::default();
        let a = Url::parse("https://a.example/x").unwrap();
        let b = Url::parse("https://b.example/x").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "999999".parse().unwrap());
        assert_eq!(backoff.note_retry_after(&a, &headers), Some(MAX_BACKOFF));
        assert!(backoff.remaining(&a).unwrap() > Duration::from_secs(3500));
        assert!(backoff.remaining(&b).is_none());
    }
}
