//! The load generator and measuring tool of `bench/run` (loopback only,
//! bounded in time).
//!
//! - `run`: the whole benchmark (`bench/run` builds release and runs
//!   `loadgen run [--quick] [--assertion-only]`; `loadgen/run/`): starts
//!   and stops every process, measures, writes BENCHMARKS.md, then runs
//!   bench/fleet and bench/prometheus-cost. It runs the modes below as
//!   processes of their own, as their CPU must stay apart from its.
//! - `blackbox`: drives blackbox_exporter's `/probe` at a fixed rate, one
//!   module per tenant, alternating between two targets. Its own CPU is not
//!   what the benchmark measures (blackbox_exporter's is).
//! - `floor`: the same upstream requests as a credprobe cycle (a
//!   client-credentials token request, then two GETs with that token) at a
//!   fixed request rate, on the HTTP stack credprobe uses (reqwest, hyper,
//!   tokio), with nothing else around it. Its own CPU is the figure: it
//!   reports the CPU it used while sending.
//! - `scrape`: N GETs of one URL (credprobe's `/metrics`) sent at once,
//!   every body read to its end; with `--pid`, the peak RSS of that process
//!   while they were answered (its VmHWM reset just before, and its VmRSS
//!   sampled every millisecond). This is how `bench/run` measures whether
//!   concurrent scrapes share one render.
//! - `prometheus-cost`: what credprobe costs the Prometheus that scrapes
//!   it (head series, series per tenant, Prometheus's RSS, scrape duration
//!   and bytes), plain and with native histograms, beside
//!   blackbox_exporter's series for the same checks; it starts and stops
//!   the simulator, credprobe, Prometheus and blackbox_exporter itself
//!   (`loadgen/prometheus_cost/`, run by `bench/prometheus-cost`), and
//!   `prometheus-cost-section` turns its JSON into the section of
//!   BENCHMARKS.md.
//!
//! Each prints one JSON object on stdout. Without a mode (as `cargo bench`
//! and `cargo test --all-targets` run it) it prints its usage and exits 0.
//!
//! The exposition readers and statistics of `bench/run` (`quantile`,
//! `quantile-le`, `bucket`, `sum`, `series`, `median`) live in
//! `loadgen/expo.rs`, which `tests/testsuite/loadgen_expo.rs` also includes
//! so that `cargo test` runs their tests; they print one plain value.
//!
//! By job: `loadgen/pacing.rs` (the paced loop and HTTP client `blackbox`
//! and `floor` share), `loadgen/blackbox.rs`, `loadgen/floor.rs`,
//! `loadgen/scrape.rs` (with the memory watch), `loadgen/expo.rs`,
//! `loadgen/prometheus_cost/` and `loadgen/run/`; this file parses the
//! options and dispatches.

#[path = "loadgen/blackbox.rs"]
mod blackbox;
#[path = "loadgen/expo.rs"]
mod expo;
#[path = "loadgen/floor.rs"]
mod floor;
#[path = "loadgen/pacing.rs"]
mod pacing;
#[path = "loadgen/prometheus_cost/mod.rs"]
mod prometheus_cost;
#[path = "loadgen/run/mod.rs"]
mod run;
#[path = "loadgen/scrape.rs"]
mod scrape;

use std::time::Duration;

use blackbox::blackbox;
use floor::floor;
use scrape::{scrape, status_kib};

const USAGE: &str = "\
usage: loadgen run [--quick] [--assertion-only] [--help]   (what bench/run runs)
       loadgen blackbox --exporter URL --targets URL,URL --modules N --module-prefix P --rate PROBES_PER_S --seconds S
       loadgen floor --simulator URL --tenants N --rate REQUESTS_PER_S --seconds S
       loadgen scrape --url URL --concurrency N [--encoding plain|gzip] [--pid PID]";
/// Printed after every usage text.
const LOOPBACK_ONLY: &str = "Only 127.0.0.1 addresses are accepted.";
/// No window longer than this.
const MAX_SECONDS: f64 = 900.0;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first().filter(|arg| !arg.starts_with('-')).cloned() else {
        eprintln!(
            "{USAGE}\n{}\n{}\n{LOOPBACK_ONLY}",
            prometheus_cost::USAGE,
            expo::USAGE
        );
        return;
    };
    if mode == "run" {
        std::process::exit(run::main(&args[1..]));
    }
    if expo::COMMANDS.contains(&mode.as_str()) {
        match expo::run(&mode, &args[1..], &read_input) {
            Ok(value) => println!("{value}"),
            Err(problem) => {
                eprintln!("loadgen: {problem}\n{}", expo::USAGE);
                std::process::exit(2);
            }
        }
        return;
    }
    let options = match Options::parse(&args[1..]) {
        Ok(options) => options,
        Err(problem) => fail(&problem),
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| fail(&format!("tokio runtime: {error}")));
    let result = match mode.as_str() {
        "blackbox" => runtime.block_on(blackbox(&options)),
        "floor" => runtime.block_on(floor(&options)),
        "scrape" => runtime.block_on(scrape(&options)),
        mode if prometheus_cost::COMMANDS.contains(&mode) => {
            runtime.block_on(prometheus_cost::run(mode, &options))
        }
        other => Err(format!("unknown mode {other:?}")),
    };
    match result {
        Ok(json) => println!("{json}"),
        Err(problem) => fail(&problem),
    }
}

/// A file's text, or standard input's without a file.
fn read_input(path: Option<&str>) -> Result<String, String> {
    match path {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|error| format!("cannot read {path}: {error}"))
        }
        None => std::io::read_to_string(std::io::stdin())
            .map_err(|error| format!("cannot read standard input: {error}")),
    }
}

fn fail(problem: &str) -> ! {
    eprintln!(
        "loadgen: {problem}\n{USAGE}\n{}\n{LOOPBACK_ONLY}",
        prometheus_cost::USAGE
    );
    std::process::exit(2);
}

/// `--name value` pairs.
struct Options(Vec<(String, String)>);

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut pairs = Vec::new();
        let mut rest = args.iter();
        while let Some(name) = rest.next() {
            let Some(name) = name.strip_prefix("--") else {
                return Err(format!("expected --option, got {name:?}"));
            };
            let value = rest
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            pairs.push((name.to_owned(), value.clone()));
        }
        Ok(Options(pairs))
    }

    fn text(&self, name: &str) -> Result<&str, String> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .ok_or_else(|| format!("--{name} is required"))
    }

    fn number(&self, name: &str) -> Result<f64, String> {
        let text = self.text(name)?;
        let number: f64 = text
            .parse()
            .map_err(|_| format!("--{name} {text:?} is not a number"))?;
        if !(number.is_finite() && number > 0.0) {
            return Err(format!("--{name} must be positive"));
        }
        Ok(number)
    }

    /// The value of an option that may be left out.
    fn optional(&self, name: &str) -> Option<&str> {
        self.text(name).ok()
    }

    fn seconds(&self) -> Result<Duration, String> {
        Ok(Duration::from_secs_f64(
            self.number("seconds")?.min(MAX_SECONDS),
        ))
    }

    /// A URL on 127.0.0.0/8, without a trailing slash.
    fn loopback_url(&self, name: &str) -> Result<String, String> {
        loopback(self.text(name)?)
    }
}

fn loopback(url: &str) -> Result<String, String> {
    let host = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split(['/', ':']).next())
        .unwrap_or("");
    if !host.starts_with("127.") || host.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(format!("{url:?} is not an http://127.x.y.z URL"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}
