//! How times, durations and latencies read on the status pages.

use std::time::{Duration, SystemTime};

/// "12s ago", or "just now".
pub fn ago(at: f64, now: f64) -> String {
    let seconds = (now - at).max(0.0).round() as u64;
    if seconds == 0 {
        "just now".to_owned()
    } else {
        format!("{} ago", span(seconds))
    }
}

/// A duration in its two largest units: `45s`, `14m 50s`, `3h 2m`, `2d 3h`, `412d`.
pub fn span(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) if m == 0 => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        (1..10, _, _) if h > 0 => format!("{d}d {h}h"),
        _ => format!("{d}d"),
    }
}

/// `0.4 ms`, `123 ms`, `1.50 s`.
pub fn latency(seconds: f64) -> String {
    let ms = seconds * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{seconds:.2} s")
    }
}

/// `2026-01-31 12:00:00 UTC`.
pub fn utc(unix: f64) -> String {
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(unix.max(0.0) as u64);
    humantime::format_rfc3339_seconds(time)
        .to_string()
        .replacen('T', " ", 1)
        .replace('Z', " UTC")
}

/// `12:00:03`, the time of day in UTC.
pub fn clock(unix: f64) -> String {
    let text = utc(unix);
    text.get(11..19).unwrap_or(&text).to_owned()
}

/// Percent-encodes a tenant name for a URL path segment (names are
/// `[A-Za-z0-9._-]` today; this keeps links right if that ever widens).
pub fn path_segment(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_latencies_and_times_read_well() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(45), "45s");
        assert_eq!(span(890), "14m 50s");
        assert_eq!(span(900), "15m");
        assert_eq!(span(3 * 3600 + 120), "3h 2m");
        assert_eq!(span(2 * 86_400 + 3 * 3600), "2d 3h");
        assert_eq!(span(412 * 86_400 + 5), "412d");
        assert_eq!(latency(0.0004), "0.4 ms");
        assert_eq!(latency(0.1234), "123 ms");
        assert_eq!(latency(1.5), "1.50 s");
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(clock(3723.0), "01:02:03");
        assert_eq!(ago(100.0, 100.2), "just now");
        assert_eq!(ago(40.0, 100.0), "1m ago");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("acme-prod.eu_1"), "acme-prod.eu_1");
        assert_eq!(path_segment("a b/c?d"), "a%20b%2Fc%3Fd");
    }
}
