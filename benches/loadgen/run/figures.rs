//! The arithmetic of `loadgen run`'s report, apart from any process or
//! file so that `tests/testsuite/loadgen_run.rs` can test it: rounded
//! figures (used rounded afterwards, as the shell driver used its printed
//! values), CPU shares, evenness of the simulator's per-second counts,
//! verdicts, ratios, thousands separators, and the sections of a previous
//! report that a run keeps.

use std::collections::HashMap;
use std::fmt;

/// A figure as the report shows it: rounded to `decimals`, and that rounded
/// value is what later arithmetic uses (a ratio of two shown figures is the
/// ratio of what the reader sees).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fig {
    /// The rounded value.
    pub value: f64,
    /// Digits after the decimal point when shown.
    pub decimals: usize,
}

impl Fig {
    /// `raw` rounded to `decimals` (as `printf "%.Nf"` rounds).
    pub fn new(raw: f64, decimals: usize) -> Fig {
        let shown = format!("{raw:.decimals$}");
        Fig {
            value: shown.parse().unwrap_or(raw),
            decimals,
        }
    }

    /// The same value shown with other decimals.
    pub fn with(self, decimals: usize) -> Fig {
        Fig::new(self.value, decimals)
    }
}

impl fmt::Display for Fig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.*}", self.decimals, self.value)
    }
}

/// Percent of one core: `ticks` clock ticks of CPU over `seconds` of wall
/// time.
pub fn pct_of_core(ticks: u64, clk_tck: f64, seconds: f64) -> f64 {
    100.0 * ticks as f64 / clk_tck / seconds
}

/// CPU-seconds per 1,000 requests (which is CPU-ms per request).
pub fn cpu_s_per_k(ticks: u64, clk_tck: f64, requests: u64) -> f64 {
    1000.0 * ticks as f64 / clk_tck / requests as f64
}

/// KiB as MiB with one decimal.
pub fn mib(kib: f64) -> Fig {
    Fig::new(kib / 1024.0, 1)
}

/// How evenly requests reached the simulator over whole seconds
/// `[from, to)`: the busiest second against the average one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evenness {
    /// Requests in the busiest second.
    pub busiest: u64,
    /// Average requests per second (missing seconds count as 0).
    pub average: Fig,
    /// Busiest / average (0 without requests).
    pub ratio: Fig,
    /// Seconds covered.
    pub seconds: i64,
}

/// [`Evenness`] of the simulator's `per_second` counts (`[second, count]`
/// pairs, wall-clock seconds) over `[from, to)`; `None` for an empty span.
pub fn evenness(per_second: &[(i64, u64)], from: i64, to: i64) -> Option<Evenness> {
    let seconds = to - from;
    if seconds <= 0 {
        return None;
    }
    let counts = per_second
        .iter()
        .filter(|(second, _)| *second >= from && *second < to)
        .map(|(_, count)| *count);
    let (sum, busiest) = counts.fold((0u64, 0u64), |(sum, max), c| (sum + c, max.max(c)));
    let average = sum as f64 / seconds as f64;
    let ratio = if average > 0.0 {
        busiest as f64 / average
    } else {
        0.0
    };
    Some(Evenness {
        busiest,
        average: Fig::new(average, 1),
        ratio: Fig::new(ratio, 2),
        seconds,
    })
}

/// Seconds rounded to a whole second (as `printf "%.0f"`).
pub fn whole(seconds: f64) -> i64 {
    format!("{seconds:.0}").parse().unwrap_or(seconds as i64)
}

/// "pass" when a target is met, "**miss**" when not.
pub fn verdict(met: bool) -> &'static str {
    if met { "pass" } else { "**miss**" }
}

/// The lateness target: p99 (as the exposition reader shows it: seconds,
/// ">LE" past the last bucket, "n/a") under 1 s and no cycle over 1 s.
pub fn late_ok(p99: &str, over_1s: i64) -> &'static str {
    match p99.parse::<f64>() {
        Ok(p99) if !p99.is_nan() => verdict(p99 < 1.0 && over_1s == 0),
        _ => "**miss**",
    }
}

/// `a / b` as "2.5×", "n/a" when `b` is not positive.
pub fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.1}×", a / b)
    } else {
        "n/a".to_owned()
    }
}

/// An integer with thousands separators: 5000 -> "5,000".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The sections other scripts write into the report (bench/soak,
/// bench/fleet, bench/prometheus-cost, scripts/fuzz), markers included, in
/// the order they appear, one after the other: a run keeps them.
pub fn kept_sections(report: &str) -> String {
    const NAMES: [&str; 4] = ["soak", "fleet", "fuzz", "prometheus-cost"];
    let mut kept = Vec::new();
    let mut rest = report;
    while let Some(at) = rest.find("<!-- ") {
        let after = &rest[at + 5..];
        let name = NAMES.iter().find(|name| {
            after
                .strip_prefix(**name)
                .is_some_and(|r| r.starts_with(':'))
        });
        let Some(name) = name else {
            rest = after;
            continue;
        };
        let end_marker = format!("<!-- /{name} -->");
        match after.find(&end_marker) {
            Some(end) => {
                let end = at + 5 + end + end_marker.len();
                kept.push(&rest[at..end]);
                rest = &rest[end..];
            }
            None => rest = after,
        }
    }
    kept.join("\n")
}

/// Fields of a `/proc/PID/stat` line after the command name (which may hold
/// spaces and parentheses): index 0 is the state (field 3 of proc(5)).
pub fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(") ")
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect()
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line, in clock
/// ticks; with `children`, also cutime + cstime (16 and 17).
pub fn stat_ticks(stat: &str, children: bool) -> Option<u64> {
    let fields = stat_fields(stat);
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let own = field(14)? + field(15)?;
    Some(if children {
        own + field(16)? + field(17)?
    } else {
        own
    })
}

/// What the processes of `after` ran since `before`, in clock ticks (both
/// from `procfs::other_ticks`): each process's growth, a process new in
/// the window counted whole. One that ended during the window is left out
/// rather than subtracted: its ticks went to a parent that may not be
/// counted (this driver, a skipped process), which made the difference of
/// two sums go below zero.
pub fn ticks_between(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(pid, ticks)| ticks.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum()
}
