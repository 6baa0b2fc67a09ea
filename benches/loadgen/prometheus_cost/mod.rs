//! `loadgen prometheus-cost`: what credprobe costs the Prometheus that
//! scrapes it, beside what blackbox_exporter would cost for the same checks.
//!
//! One simulator, then per run (`plain`, and `native`: Prometheus with
//! `--enable-feature=native-histograms`, which asks for protobuf first) a
//! fresh credprobe with N tenants (a token request and two plain-http
//! endpoints each, default configuration but the interval) and, once every
//! tenant has cycled, a fresh Prometheus with its own TSDB scraping
//! credprobe's `/metrics` for the given seconds. Then it reads Prometheus's
//! head series, its RSS (VmRSS) and peak (VmHWM), and through the query API
//! the tenant series, the scrape durations and samples, and credprobe's own
//! `credprobe_scrape_response_bytes` as Prometheus stored them; and fetches
//! `/metrics` once with the Accept header that Prometheus sent (captured
//! from a throw-away Prometheus scraping a loopback listener of this
//! process), without and with gzip. Last, blackbox_exporter's `/probe`
//! for each endpoint with an `http_2xx` module: its sample lines plus the
//! per-target series Prometheus adds (counted in the runs) are blackbox's
//! series per tenant.
//!
//! Every process it starts is stopped when it ends (also on an error, on
//! SIGINT/SIGTERM, and through PR_SET_PDEATHSIG if it is killed); every wait
//! is bounded; loopback only. Prints one JSON object;
//! `loadgen prometheus-cost-section` turns it into the Markdown section of
//! BENCHMARKS.md.
//!
//! By job: `processes` (the children it starts and stops, ports, files),
//! `measure` (the plan, the runs, what each measures), `prometheus`
//! (Prometheus's HTTP API and what is read through it), `blackbox`
//! (blackbox_exporter's series for the same checks) and `report` (the
//! section of BENCHMARKS.md).

mod blackbox;
mod measure;
mod processes;
mod prometheus;
mod report;

use std::time::Duration;

use crate::Options;
use measure::measure;
use report::section_command;

/// The subcommands of this module.
pub const COMMANDS: &[&str] = &["prometheus-cost", "prometheus-cost-section"];

/// How to call them, for `loadgen`'s usage text.
pub const USAGE: &str = "\
\x20      loadgen prometheus-cost --credprobe PATH --prometheus PATH --blackbox PATH --work DIR
               --tenants N --interval S --scrape-interval S --seconds S [--runs plain,native]
       loadgen prometheus-cost-section --json FILE --command TEXT --revision TEXT --date TEXT";

/// The scrape job's name in the generated prometheus.yml.
pub(super) const JOB: &str = "credprobe";
/// How long a process may take to serve.
pub(super) const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a stopped process may take to exit before SIGKILL.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(30);
/// How long the throw-away Prometheus may take to send its first scrape.
pub(super) const CAPTURE_TIMEOUT: Duration = Duration::from_secs(30);
/// Every HTTP request gives up after this (a 2,000-tenant body is tens of
/// MB on loopback).
pub(super) const HTTP_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the processes are checked during a run.
pub(super) const POLL: Duration = Duration::from_secs(5);
/// Beyond this many tenants the generated files are a typo.
pub(super) const MAX_TENANTS: u64 = 100_000;
/// The endpoints of every tenant, as bench/run and bench/fleet configure them.
pub(super) const ENDPOINTS: [(&str, &str); 2] = [
    ("workflows", "/api/v1/workflows"),
    ("remote_actions", "/api/v1/act/remote-action"),
];

/// One Prometheus configuration measured.
pub(super) struct Run {
    name: &'static str,
    flags: &'static [&'static str],
}

pub(super) const RUNS: [Run; 2] = [
    Run {
        name: "plain",
        flags: &[],
    },
    Run {
        name: "native",
        flags: &["--enable-feature=native-histograms"],
    },
];

/// Runs a subcommand of this module; `Ok` is what to print.
pub async fn run(mode: &str, options: &Options) -> Result<String, String> {
    match mode {
        "prometheus-cost" => {
            let measured = interruptible(measure(options)).await?;
            serde_json::to_string(&measured).map_err(|error| error.to_string())
        }
        "prometheus-cost-section" => section_command(options),
        other => Err(format!("unknown mode {other:?}")),
    }
}

/// `work` unless SIGINT or SIGTERM comes first: then `work` is dropped
/// (and with it the processes it started) and this is an error.
async fn interruptible<T>(
    work: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|error| error.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|error| error.to_string())?;
    tokio::select! {
        result = work => result,
        _ = term.recv() => Err("stopped by SIGTERM".to_owned()),
        _ = int.recv() => Err("stopped by SIGINT".to_owned()),
    }
}
