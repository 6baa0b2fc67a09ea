//! What `loadgen run` measured, phase by phase: the figures the phases
//! fill and the report renders (`report.rs`), with the few figures derived
//! from several phases. Pure data, tested by
//! `tests/testsuite/loadgen_run.rs`.

use super::figures::{Evenness, Fig};

/// Facts about the machine and the build, for the report's first table.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    /// `2026-11-30 08:34 UTC`.
    pub date: String,
    /// `model name` of /proc/cpuinfo.
    pub cpu: String,
    /// Usable cores.
    pub nproc: usize,
    /// MemTotal, e.g. `23.5 GiB`.
    pub memory: String,
    /// PRETTY_NAME of /etc/os-release.
    pub os: String,
    /// `uname -r`.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `git describe --always --dirty`.
    pub revision: String,
    /// blackbox_exporter's version.
    pub blackbox: String,
    /// wrk's version.
    pub wrk: String,
}

/// Schedule lateness from one exposition.
#[derive(Clone, Debug, Default)]
pub struct Lateness {
    /// p50 as the exposition reader shows it.
    pub p50: String,
    /// p99 (seconds, `>LE` or `n/a`).
    pub p99: String,
    /// The upper bound of the bucket holding p99.
    pub p99_le: String,
    /// Cycles counted (the `+Inf` bucket).
    pub cycles: i64,
    /// Cycles more than 1 s late.
    pub over_1s: i64,
}

/// Medians of the scrapes of one encoding during window B.
#[derive(Clone, Debug, Default)]
pub struct Scrapes {
    /// Bytes sent.
    pub bytes: String,
    /// Time to first byte, ms.
    pub ttfb_ms: String,
    /// Total time, ms.
    pub total_ms: String,
    /// Daemon CPU across a scrape, ms.
    pub cpu_ms: String,
}

/// One fleet phase (one size).
#[derive(Clone, Debug)]
pub struct Fleet {
    /// Tenants.
    pub n: u64,
    /// The credprobe command line, relative to the work directory.
    pub command: String,
    /// Upstream requests in window A.
    pub req_a: u64,
    /// Upstream requests per second in window A.
    pub req_rate: Fig,
    /// CPU, % of one core, window A.
    pub cpu_pct: Fig,
    /// CPU, % of one core, window B.
    pub cpu_pct_b: Fig,
    /// CPU-seconds per 1,000 upstream requests, window A.
    pub cpu_per_k: Fig,
    /// VmRSS at the end of window B, KiB (for the marginal RSS).
    pub rss_kib: u64,
    /// VmRSS at the start of window A, MiB.
    pub rss_a0_mib: Fig,
    /// VmRSS at the end of window A, MiB.
    pub rss_a_mib: Fig,
    /// VmRSS at the end of window B, MiB.
    pub rss_mib: Fig,
    /// VmHWM, MiB.
    pub hwm_mib: Fig,
    /// VmRSS / N, KiB.
    pub rss_per_tenant: Fig,
    /// Schedule lateness over every cycle since start.
    pub late: Lateness,
    /// Evenness of the requests reaching the simulator.
    pub even: Evenness,
    /// Plain scrapes.
    pub plain: Scrapes,
    /// Gzip scrapes.
    pub gzip: Scrapes,
    /// Series exposed.
    pub series: usize,
    /// Series of tenant-00000.
    pub series_tenant: usize,
    /// Series without a tenant label.
    pub series_fixed: usize,
    /// credprobe's own request counters, summed.
    pub own_requests: String,
    /// Of which not success.
    pub own_failures: String,
    /// Upstream answers not 2xx, windows A+B.
    pub non2xx: u64,
    /// The simulator's CPU, % of one core, window A.
    pub sim_pct: Fig,
    /// Every other process's CPU, % of one core, window A.
    pub other_pct: Fig,
    /// WARN/ERROR log lines.
    pub warnings: usize,
}

/// One kind of concurrent scrape (1, or N at once): medians over rounds.
#[derive(Clone, Debug)]
pub struct Burst {
    /// VmRSS before the requests.
    pub before_mib: Fig,
    /// Peak (VmHWM after a reset).
    pub peak_mib: Fig,
    /// Peak of VmRSS sampled every ms.
    pub sampled_mib: Fig,
    /// Peak above the RSS before.
    pub growth_mib: Fig,
    /// Slowest time to first byte, ms.
    pub first_byte_ms_max: String,
    /// Time until the last body was read, ms.
    pub body_ms_max: String,
    /// Smallest body.
    pub bytes_min: String,
    /// Largest body.
    pub bytes_max: String,
}

/// Concurrent scrapes of the largest fleet.
#[derive(Clone, Debug)]
pub struct Concurrent {
    /// The loadgen command line (with N for the concurrency).
    pub command: String,
    /// Scrapes sent at once.
    pub concurrency: u64,
    /// Rounds of each kind.
    pub rounds: u64,
    /// One scrape.
    pub single: Burst,
    /// `concurrency` at once.
    pub many: Burst,
    /// Peak of many / peak of one.
    pub ratio: Fig,
}

/// The steady-state phase.
#[derive(Clone, Debug)]
pub struct Steady {
    /// Its interval, seconds.
    pub interval: u64,
    /// Cycles run.
    pub cycles: u64,
    /// The credprobe command line.
    pub command: String,
    /// Expected upstream requests/s.
    pub expected: Fig,
    /// Measured upstream requests/s.
    pub rate: Fig,
    /// CPU, % of one core.
    pub cpu_pct: Fig,
    /// CPU-seconds per 1,000 upstream requests.
    pub cpu_per_k: Fig,
    /// VmRSS before any scrape.
    pub rss_mib: Fig,
    /// That per tenant, KiB.
    pub rss_per_tenant: Fig,
    /// VmRSS after 3 scrapes.
    pub rss_after_mib: Fig,
    /// VmHWM.
    pub hwm_mib: Fig,
    /// Lateness from the plain scrape.
    pub late: Lateness,
    /// Median gzip total time, ms.
    pub gzip_ms: String,
}

/// blackbox_exporter side by side.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Probes per second driven.
    pub probes_per_s: Fig,
    /// The exporter's command line.
    pub command: String,
    /// The driver's command line.
    pub driver: String,
    /// Upstream requests in the window.
    pub req: u64,
    /// Upstream requests/s.
    pub rate: Fig,
    /// CPU, % of one core.
    pub cpu_pct: Fig,
    /// CPU-seconds per 1,000 upstream requests.
    pub cpu_per_k: Fig,
    /// VmRSS.
    pub rss_mib: Fig,
    /// VmHWM.
    pub hwm_mib: Fig,
    /// The measuring window, seconds.
    pub seconds: u64,
    /// Probes that succeeded.
    pub ok: u64,
    /// Probes sent.
    pub probes: u64,
    /// Other processes, % of one core.
    pub other_pct: Fig,
}

/// The floor: wrk and the reqwest loop.
#[derive(Clone, Debug)]
pub struct Floor {
    /// wrk's command line.
    pub wrk_command: String,
    /// The reqwest loop's command line.
    pub loop_command: String,
    /// Upstream requests wrk made.
    pub wrk_req: u64,
    /// wrk's requests/s.
    pub wrk_rate: Fig,
    /// wrk's CPU-seconds per 1,000 requests.
    pub wrk_cpu_per_k: Fig,
    /// Upstream requests the loop made.
    pub loop_req: u64,
    /// The loop's requests/s.
    pub loop_rate: Fig,
    /// The loop's CPU-seconds per 1,000 requests.
    pub loop_cpu_per_k: Fig,
    /// credprobe and the loop measured in one window, `BENCH_PAIRS` times
    /// in a row, as the scheduler places them (in run order).
    pub paired: Vec<Paired>,
    /// The same with both pinned to one CPU (a check on placement: see
    /// `paired`).
    pub pinned: Paired,
}

/// credprobe and the reqwest loop side by side, in the same window
/// (`paired`).
#[derive(Clone, Debug)]
pub struct Paired {
    /// The loop's paced window, seconds.
    pub seconds: Fig,
    /// Upstream requests credprobe made in the window.
    pub credprobe_req: u64,
    /// credprobe's CPU-seconds per 1,000 of them.
    pub credprobe_cpu_per_k: Fig,
    /// Upstream requests the loop made.
    pub loop_req: u64,
    /// The loop's CPU-seconds per 1,000 of them.
    pub loop_cpu_per_k: Fig,
    /// The CPU both ran on, when they were pinned to one.
    pub cpu: Option<usize>,
}

/// One client-authentication run of the private_key_jwt phase.
#[derive(Clone, Debug)]
pub struct AuthRun {
    /// CPU, % of one core.
    pub pct: Fig,
    /// CPU-seconds per cycle.
    pub cycle: Fig,
    /// CPU-ms per token request.
    pub token_ms: Fig,
    /// Token requests measured.
    pub tokens: u64,
    /// VmRSS at the end, MiB.
    pub rss_mib: Fig,
    /// WARN/ERROR log lines.
    pub warnings: usize,
}

/// The private_key_jwt phase.
#[derive(Clone, Debug)]
pub struct Assertion {
    /// Tenants.
    pub n: u64,
    /// Interval, seconds.
    pub interval: u64,
    /// Its raw material, relative to the repository.
    pub dir: String,
    /// With client secrets.
    pub secret: AuthRun,
    /// With private_key_jwt.
    pub jwt: AuthRun,
    /// Signing cost, CPU-ms per tenant per cycle.
    pub sign_ms: Fig,
}

/// Everything the report shows.
#[derive(Clone, Debug)]
pub struct Report {
    /// `make bench` or `bench/run --quick` …
    pub command: String,
    /// Seconds of measuring after the build.
    pub elapsed: u64,
    /// Seconds in all.
    pub total: u64,
    /// The work directory, relative to the repository.
    pub work: String,
    /// The machine.
    pub machine: Machine,
    /// Probe interval of the fleet phases.
    pub interval: u64,
    /// Length of each fleet phase.
    pub phase: u64,
    /// The fleet phases, in the order of BENCH_SIZES.
    pub fleets: Vec<Fleet>,
    /// The evenness side run: its size, command and evenness.
    pub even_side: Option<(u64, String, Evenness)>,
    /// Concurrent scrapes.
    pub concurrent: Concurrent,
    /// Steady state.
    pub steady: Steady,
    /// blackbox_exporter.
    pub peer: Peer,
    /// The floor.
    pub floor: Floor,
    /// The simulator's port.
    pub sim_port: u16,
    /// Clock ticks per second.
    pub clk_tck: u64,
    /// The private_key_jwt phase, if run.
    pub assertion: Option<Assertion>,
    /// Sections of the previous report other scripts wrote.
    pub kept: String,
}

/// The report assumes a gzip scrape every this many seconds for the
/// "probing + scrapes" CPU target.
pub const SCRAPE_EVERY: f64 = 15.0;

impl Report {
    /// The largest fleet (the one the targets are about).
    pub fn big(&self) -> &Fleet {
        self.fleets
            .iter()
            .max_by_key(|fleet| fleet.n)
            .expect("at least one fleet phase")
    }

    /// CPU with a gzip scrape every [`SCRAPE_EVERY`] seconds.
    pub fn cpu_with_scrapes(&self) -> Fig {
        let big = self.big();
        let gzip_ms: f64 = big.gzip.cpu_ms.parse().unwrap_or(0.0);
        Fig::new(
            big.cpu_pct.value + 100.0 * gzip_ms / 1000.0 / SCRAPE_EVERY,
            2,
        )
    }

    /// Marginal RSS per tenant between the first size and the largest.
    pub fn rss_marginal(&self) -> String {
        let (first, big) = (&self.fleets[0], self.big());
        if self.fleets.len() < 2 || first.n == big.n {
            return "n/a".to_owned();
        }
        let kib = (big.rss_kib as f64 - first.rss_kib as f64) / (big.n as f64 - first.n as f64);
        Fig::new(kib, 1).to_string()
    }
}
