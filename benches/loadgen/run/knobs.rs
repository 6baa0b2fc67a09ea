//! The knobs of `loadgen run` (`bench/run`, `make bench`): its arguments
//! and the BENCH_* environment variables, read and checked before anything
//! starts, with the defaults of a full run and of `--quick`. Pure, so
//! `tests/testsuite/loadgen_run.rs` can check them.

/// What `bench/run --help` prints.
pub const USAGE: &str = "\
The reproducible benchmark (`make bench`): credprobe against its simulator
at 1,000 and 5,000 tenants (and the peak memory of 20 concurrent scrapes
against one), blackbox_exporter side by side at the same upstream request
rate, the floor (the same requests from a minimal client), the cost of
private_key_jwt signing, a 50,000-tenant fleet in 10 shards
(bench/fleet), and what credprobe costs the Prometheus that scrapes it
(bench/prometheus-cost). Loopback only; every phase is bounded in time
(about 25 minutes after the build with the defaults, plus about 5 for
bench/fleet and 12 for bench/prometheus-cost). Writes BENCHMARKS.md and
prints it. bench/run builds release (honouring CARGO_TARGET_DIR) and runs
`loadgen run` (benches/loadgen/run/), which does the work.

Exit status: non-zero when something did not run (a build, a process that
died, requests that failed; 2: bad arguments or knobs; 130: interrupted);
missed performance targets are reported as \"miss\", not failed.

Knobs (environment):
  BENCH_SIZES=\"1000 5000\"   tenant counts of the fleet phases
  BENCH_INTERVAL=60         probe interval, seconds
  BENCH_PHASE_SECONDS=150   length of each fleet phase (>= interval + 30)
  BENCH_EVEN_SIZE=100       a small fleet run beside the first phase, for
                            request evenness only (0: none)
  BENCH_STEADY_INTERVAL=5   interval of the steady-state phase (largest size)
  BENCH_STEADY_CYCLES=20    its length in cycles (17 fill the status history)
  BENCH_SCRAPE_CONCURRENCY=20  plain scrapes sent at once to the largest fleet
                            (peak RSS against one scrape's)
  BENCH_SCRAPE_ROUNDS=3     how often each (1 scrape; that many at once)
  BENCH_PEER_SECONDS=40     blackbox_exporter measuring window
  BENCH_FLOOR_SECONDS=30    each floor run
  BENCH_PAIRS=3             side-by-side pairs of credprobe and the floor as
                            the scheduler places them; the 1.1x target is
                            judged on their median ratio
  BENCH_OUT=BENCHMARKS.md   where the report goes
  BENCH_ASSERTION_SIZE=5000 tenants of the private_key_jwt phase (0: none)
  BENCH_FLEET=1             run bench/fleet after the report (50,000 tenants
                            as 10 shards, both layouts; its own knobs:
                            FLEET_*); 0 skips it
  BENCH_PROMCOST=1          run bench/prometheus-cost after it (2,000 tenants
                            scraped by Prometheus for 5 minutes, plain and
                            with native histograms; its own knobs:
                            PROMCOST_*); 0 skips it
  bench/run --quick         a 3-minute smoke run (200/1000 tenants, 10 s
                            interval); its report goes to the work dir
  bench/run --assertion-only  only the private_key_jwt phase (with
                            BENCH_ASSERTION_SIZE and BENCH_INTERVAL); prints
                            its figures, writes no report";

/// Every knob, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Knobs {
    /// `--quick`: a short smoke run, its report in the work directory.
    pub quick: bool,
    /// `--assertion-only`: only the private_key_jwt phase.
    pub assertion_only: bool,
    /// Tenant counts of the fleet phases, in the order given.
    pub sizes: Vec<u64>,
    /// Probe interval, seconds.
    pub interval: u64,
    /// Length of each fleet phase, seconds.
    pub phase: u64,
    /// Tenants of the evenness side run (0: none).
    pub even_size: u64,
    /// Interval of the steady-state phase.
    pub steady_interval: u64,
    /// Its length in cycles.
    pub steady_cycles: u64,
    /// Plain scrapes sent at once.
    pub scrape_concurrency: u64,
    /// Rounds of each kind of concurrent scrape.
    pub scrape_rounds: u64,
    /// blackbox_exporter's measuring window.
    pub peer_seconds: u64,
    /// Each floor run.
    pub floor_seconds: u64,
    /// Side-by-side pairs run as the scheduler places them (the median
    /// ratio is judged: the same build measured 1.00x to 1.21x in single
    /// windows).
    pub pairs: u64,
    /// BENCH_OUT, if given.
    pub out: Option<String>,
    /// Tenants of the private_key_jwt phase (0: none).
    pub assertion_size: u64,
    /// Run bench/fleet after the report.
    pub fleet: bool,
    /// Run bench/prometheus-cost after it.
    pub promcost: bool,
}

/// What the arguments ask for.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// Print [`USAGE`].
    Help,
    /// Run with these knobs.
    Run(Knobs),
}

impl Knobs {
    /// The largest fleet size.
    pub fn max_size(&self) -> u64 {
        self.sizes.iter().copied().max().unwrap_or(0)
    }

    /// Reads the arguments (after `run`) and the environment through `env`;
    /// an error names the argument or variable.
    pub fn parse(args: &[String], env: &dyn Fn(&str) -> Option<String>) -> Result<Parsed, String> {
        let (mut quick, mut assertion_only) = (false, false);
        for arg in args {
            match arg.as_str() {
                "--quick" => quick = true,
                "--assertion-only" => assertion_only = true,
                "-h" | "--help" => return Ok(Parsed::Help),
                other => return Err(format!("unknown argument {other}")),
            }
        }
        let pick = |full: &'static str, short: &'static str| if quick { short } else { full };
        let number = |name: &str, default: &str, min: u64| -> Result<u64, String> {
            let text = env(name).unwrap_or_else(|| default.to_owned());
            text.trim()
                .parse::<u64>()
                .ok()
                .filter(|&n| n >= min)
                .ok_or_else(|| format!("{name} must be a number from {min} (got {text:?})"))
        };
        let sizes_text =
            env("BENCH_SIZES").unwrap_or_else(|| pick("1000 5000", "200 1000").to_owned());
        let sizes = sizes_text
            .split_whitespace()
            .map(|size| {
                size.parse::<u64>()
                    .ok()
                    .filter(|n| (1..1_000_000).contains(n))
                    .filter(|_| size.bytes().all(|b| b.is_ascii_digit()) && !size.starts_with('0'))
                    .ok_or_else(|| format!("bad size {size} in BENCH_SIZES"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if sizes.is_empty() && !assertion_only {
            return Err("BENCH_SIZES is empty".to_owned());
        }
        let interval = number("BENCH_INTERVAL", pick("60", "10"), 1)?;
        let phase = number("BENCH_PHASE_SECONDS", pick("150", "45"), 1)?;
        if phase < interval + 30 {
            return Err(format!(
                "BENCH_PHASE_SECONDS ({phase}) must be at least the interval + 30 ({})",
                interval + 30
            ));
        }
        let knobs = Knobs {
            quick,
            assertion_only,
            sizes,
            interval,
            phase,
            even_size: number("BENCH_EVEN_SIZE", pick("100", "20"), 0)?,
            steady_interval: number("BENCH_STEADY_INTERVAL", "5", 1)?,
            steady_cycles: number("BENCH_STEADY_CYCLES", pick("20", "6"), 1)?,
            scrape_concurrency: number("BENCH_SCRAPE_CONCURRENCY", "20", 2)?,
            scrape_rounds: number("BENCH_SCRAPE_ROUNDS", "3", 1)?,
            peer_seconds: number("BENCH_PEER_SECONDS", pick("40", "10"), 1)?,
            floor_seconds: number("BENCH_FLOOR_SECONDS", pick("30", "8"), 1)?,
            pairs: number("BENCH_PAIRS", pick("3", "1"), 1)?,
            out: env("BENCH_OUT").filter(|out| !out.is_empty()),
            assertion_size: number("BENCH_ASSERTION_SIZE", pick("5000", "1000"), 0)?,
            fleet: env("BENCH_FLEET").is_none_or(|v| v != "0"),
            promcost: env("BENCH_PROMCOST").is_none_or(|v| v != "0"),
        };
        if knobs.assertion_only && knobs.assertion_size == 0 {
            return Err("--assertion-only needs BENCH_ASSERTION_SIZE above 0".to_owned());
        }
        Ok(Parsed::Run(knobs))
    }
}
