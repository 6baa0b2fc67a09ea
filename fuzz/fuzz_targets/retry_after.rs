//! `Retry-After` values (RFC 9110 10.2.3) into `parse_retry_after`.
//!
//! The input is the header value as text. It is parsed against two clocks,
//! a fixed one (so a crash replays) and the real one. Checked: no panic; a
//! value of plain digits is exactly that many seconds; a date never gives
//! more than the time to that date; and what the back-off store does with
//! the result (cap it, add it to the clock) cannot panic either.

#![no_main]

use std::time::{Duration, Instant, SystemTime};

use credprobe::probe::backoff::{MAX_BACKOFF, parse_retry_after};
use libfuzzer_sys::fuzz_target;

/// 2023-11-14T22:13:20Z: a fixed "now" so a failing input replays.
const FIXED_NOW: u64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let fixed = SystemTime::UNIX_EPOCH + Duration::from_secs(FIXED_NOW);
    for now in [fixed, SystemTime::now()] {
        let parsed = parse_retry_after(&value, now);
        let trimmed = value.trim();
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            match trimmed.parse::<u64>() {
                Ok(seconds) => assert_eq!(parsed, Some(Duration::from_secs(seconds))),
                // More digits than a u64 holds: not a number, and not a date.
                Err(_) => assert_eq!(parsed, None),
            }
        }
        if let Some(wait) = parsed
            && let Ok(date) = httpdate::parse_http_date(trimmed)
        {
            assert!(
                now + wait <= date.max(now),
                "{trimmed:?}: waits past the date"
            );
        }
        // What the back-off store does with it.
        if let Some(wait) = parsed {
            let capped = wait.min(MAX_BACKOFF);
            assert!(capped <= MAX_BACKOFF);
            let _until = Instant::now() + capped;
        }
    }
});
