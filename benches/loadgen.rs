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
//!   (`loadgen/prometheus_cost.rs`, run by `bench/prometheus-cost`), and
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

#[path = "loadgen/expo.rs"]
mod expo;
#[path = "loadgen/prometheus_cost.rs"]
mod prometheus_cost;
#[path = "loadgen/run/mod.rs"]
mod run;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

const USAGE: &str = "\
usage: loadgen run [--quick] [--assertion-only] [--help]   (what bench/run runs)
       loadgen blackbox --exporter URL --targets URL,URL --modules N --module-prefix P --rate PROBES_PER_S --seconds S
       loadgen floor --simulator URL --tenants N --rate REQUESTS_PER_S --seconds S
       loadgen scrape --url URL --concurrency N [--encoding plain|gzip] [--pid PID]";
/// Printed after every usage text.
const LOOPBACK_ONLY: &str = "Only 127.0.0.1 addresses are accepted.";

/// Requests in flight above this are not started (counted as skipped), so a
/// stalled peer cannot make the loop pile up work.
const MAX_IN_FLIGHT: usize = 512;
/// Every request gives up after this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// After the paced window, requests still in flight get this long.
const DRAIN: Duration = Duration::from_secs(12);
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

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent("credprobe-bench-loadgen")
        .timeout(REQUEST_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| error.to_string())
}

/// This process's user+system CPU in clock ticks (utime + stime of
/// /proc/self/stat).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3,
    // utime field 14, stime field 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    errors: AtomicU64,
    requests: AtomicU64,
}

impl Tally {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Starts `work(i)` every 1/rate seconds for `window`, then waits (bounded)
/// for what is in flight. Returns (started, skipped, paced seconds).
async fn paced<F, Fut>(rate: f64, window: Duration, mut work: F) -> (u64, u64, f64)
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let period = Duration::from_secs_f64(1.0 / rate);
    let started_at = Instant::now();
    let deadline = tokio::time::Instant::now() + window;
    // The default (burst) catch-up keeps the average rate exact.
    let mut ticks = tokio::time::interval(period);
    let mut tasks = JoinSet::new();
    let (mut started, mut skipped) = (0u64, 0u64);
    loop {
        let tick = ticks.tick().await;
        if tick >= deadline {
            break;
        }
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= MAX_IN_FLIGHT {
            skipped += 1;
            continue;
        }
        tasks.spawn(work(started));
        started += 1;
    }
    let paced_seconds = started_at.elapsed().as_secs_f64();
    let _ = tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
    (started, skipped, paced_seconds)
}

async fn blackbox(options: &Options) -> Result<String, String> {
    let exporter = options.loopback_url("exporter")?;
    let targets: Vec<String> = options
        .text("targets")?
        .split(',')
        .map(loopback)
        .collect::<Result<_, _>>()?;
    let modules = options.number("modules")? as u64;
    let prefix = options.text("module-prefix")?.to_owned();
    let rate = options.number("rate")?;
    let window = options.seconds()?;
    let client = client()?;
    let tally = Arc::new(Tally::default());
    let (started, skipped, seconds) = paced(rate, window, |i| {
        let target = &targets[(i % targets.len() as u64) as usize];
        // Consecutive probes of one tenant hit both targets, as credprobe's
        // cycle calls both endpoints.
        let module = format!("{prefix}{:05}", (i / targets.len() as u64) % modules);
        let url = format!("{exporter}/probe?target={target}&module={module}");
        let (client, tally) = (client.clone(), tally.clone());
        async move {
            let answer = match client.get(&url).send().await {
                Ok(response) => response.text().await,
                Err(error) => Err(error),
            };
            match answer {
                Ok(body) if body.lines().any(|line| line == "probe_success 1") => {
                    Tally::add(&tally.ok, 1)
                }
                Ok(_) => Tally::add(&tally.failed, 1),
                Err(_) => Tally::add(&tally.errors, 1),
            }
        }
    })
    .await;
    Ok(format!(
        "{{\"mode\":\"blackbox\",\"rate\":{rate},\"paced_seconds\":{seconds:.3},\"probes\":{started},\"skipped\":{skipped},\"probe_success\":{},\"probe_failed\":{},\"errors\":{}}}",
        Tally::get(&tally.ok),
        Tally::get(&tally.failed),
        Tally::get(&tally.errors),
    ))
}

async fn floor(options: &Options) -> Result<String, String> {
    let simulator = options.loopback_url("simulator")?;
    let tenants = options.number("tenants")? as u64;
    let rate = options.number("rate")?;
    let window = options.seconds()?;
    let client = client()?;
    let tally = Arc::new(Tally::default());
    let token_url = format!("{simulator}/oauth2/token");
    let endpoints = [
        format!("{simulator}/api/v1/workflows"),
        format!("{simulator}/api/v1/act/remote-action"),
    ];
    let ticks_before = cpu_ticks();
    // Three requests per cycle.
    let (started, skipped, seconds) = paced(rate / 3.0, window, |i| {
        let id = format!("tenant-{:05}", i % tenants);
        let (client, tally) = (client.clone(), tally.clone());
        let (token_url, endpoints) = (token_url.clone(), endpoints.clone());
        async move {
            let outcome = floor_cycle(&client, &token_url, &endpoints, &id, &tally).await;
            match outcome {
                Ok(true) => Tally::add(&tally.ok, 1),
                Ok(false) => Tally::add(&tally.failed, 1),
                Err(_) => Tally::add(&tally.errors, 1),
            }
        }
    })
    .await;
    let ticks = cpu_ticks().saturating_sub(ticks_before);
    let mut json = String::new();
    let _ = write!(
        json,
        "{{\"mode\":\"floor\",\"rate\":{rate},\"paced_seconds\":{seconds:.3},\"cycles\":{started},\"skipped\":{skipped},\"requests\":{},\"cycles_ok\":{},\"cycles_failed\":{},\"errors\":{},\"cpu_ticks\":{ticks}}}",
        Tally::get(&tally.requests),
        Tally::get(&tally.ok),
        Tally::get(&tally.failed),
        Tally::get(&tally.errors),
    );
    Ok(json)
}

/// A token request then each endpoint with the token; true when all
/// answered 2xx.
async fn floor_cycle(
    client: &reqwest::Client,
    token_url: &str,
    endpoints: &[String],
    id: &str,
    tally: &Tally,
) -> Result<bool, reqwest::Error> {
    Tally::add(&tally.requests, 1);
    let response = client
        .post(token_url)
        .basic_auth(id, Some(format!("secret-{id}")))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    let ok = response.status().is_success();
    let body: serde_json::Value = response.json().await?;
    let Some(token) = body.get("access_token").and_then(|t| t.as_str()) else {
        return Ok(false);
    };
    let mut all_ok = ok;
    for endpoint in endpoints {
        Tally::add(&tally.requests, 1);
        let response = client.get(endpoint).bearer_auth(token).send().await?;
        all_ok &= response.status().is_success();
        response.bytes().await?;
    }
    Ok(all_ok)
}

/// Scrapes take longer than probes: a plain 5,000-tenant body is ~46 MB,
/// and concurrent ones are rendered side by side.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(60);
/// More than this many concurrent scrapes is a typo, not a benchmark.
const MAX_CONCURRENCY: usize = 1000;

/// What one scrape took: (body bytes, time to the response head, time to
/// the end of the body), both from the moment every request was released.
type ScrapeTimes = (u64, Duration, Duration);

async fn scrape(options: &Options) -> Result<String, String> {
    let url = options.loopback_url("url")?;
    let concurrency = options.number("concurrency")? as usize;
    if concurrency > MAX_CONCURRENCY {
        return Err(format!("--concurrency above {MAX_CONCURRENCY}"));
    }
    let gzip = match options.optional("encoding").unwrap_or("plain") {
        "plain" => false,
        "gzip" => true,
        other => return Err(format!("--encoding {other:?}: plain or gzip")),
    };
    let pid = options
        .optional("pid")
        .map(|pid| pid.parse::<u32>().map_err(|_| format!("--pid {pid:?}")))
        .transpose()?;
    let client = reqwest::Client::builder()
        .user_agent("credprobe-bench-loadgen")
        .timeout(SCRAPE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| error.to_string())?;
    let watch = pid.map(MemoryWatch::start).transpose()?;
    // Every task waits here, so the requests leave together.
    let barrier = Arc::new(tokio::sync::Barrier::new(concurrency));
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, barrier) = (client.clone(), url.clone(), barrier.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            scrape_one(&client, &url, gzip).await
        });
    }
    let mut answers: Vec<ScrapeTimes> = Vec::with_capacity(concurrency);
    while let Some(joined) = tasks.join_next().await {
        answers.push(joined.map_err(|error| error.to_string())??);
    }
    let memory = watch.map(MemoryWatch::finish).transpose()?;
    let bytes: Vec<u64> = answers.iter().map(|(bytes, _, _)| *bytes).collect();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let head: Vec<f64> = answers.iter().map(|(_, head, _)| ms(head)).collect();
    let body: Vec<f64> = answers.iter().map(|(_, _, body)| ms(body)).collect();
    let max = |values: &[f64]| values.iter().copied().fold(0.0, f64::max);
    let min = |values: &[f64]| values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut json = format!(
        "{{\"mode\":\"scrape\",\"url\":\"{url}\",\"encoding\":\"{}\",\"concurrency\":{concurrency},\"ok\":{},\"bytes_min\":{},\"bytes_max\":{},\"bytes_total\":{},\"first_byte_ms_min\":{:.3},\"first_byte_ms_max\":{:.3},\"body_ms_min\":{:.3},\"body_ms_max\":{:.3}",
        if gzip { "gzip" } else { "plain" },
        answers.len(),
        bytes.iter().min().unwrap_or(&0),
        bytes.iter().max().unwrap_or(&0),
        bytes.iter().sum::<u64>(),
        min(&head),
        max(&head),
        min(&body),
        max(&body),
    );
    if let Some(memory) = memory {
        let _ = write!(
            json,
            ",\"pid\":{},\"hwm_reset\":{},\"rss_before_kib\":{},\"hwm_kib\":{},\"sampled_peak_kib\":{},\"samples\":{},\"peak_kib\":{},\"growth_kib\":{}",
            memory.pid,
            memory.hwm_reset,
            memory.before_kib,
            memory.hwm_kib,
            memory.sampled_peak_kib,
            memory.samples,
            memory.peak_kib(),
            memory.peak_kib().saturating_sub(memory.before_kib),
        );
    }
    json.push('}');
    Ok(json)
}

/// One GET read to its end: a non-200 answer, or a gzip request answered
/// without gzip, is an error (the figure would be about something else).
async fn scrape_one(
    client: &reqwest::Client,
    url: &str,
    gzip: bool,
) -> Result<ScrapeTimes, String> {
    let started = Instant::now();
    let mut request = client.get(url);
    if gzip {
        request = request.header("Accept-Encoding", "gzip");
    }
    let mut response = request
        .send()
        .await
        .map_err(|error| format!("GET {url}: {error}"))?;
    let head = started.elapsed();
    if response.status() != reqwest::StatusCode::OK {
        return Err(format!("GET {url}: {}", response.status()));
    }
    let encoded = response
        .headers()
        .get("content-encoding")
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"gzip"));
    if encoded != gzip {
        return Err(format!(
            "GET {url}: asked for {}, answered Content-Encoding {:?}",
            if gzip { "gzip" } else { "plain" },
            response.headers().get("content-encoding")
        ));
    }
    let mut bytes = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| format!("GET {url}: reading the body: {error}"))?
    {
        bytes += chunk.len() as u64;
    }
    Ok((bytes, head, started.elapsed()))
}

/// The peak resident memory of another process over a stretch of time.
/// The kernel's peak (VmHWM) is reset at the start by writing 5 to
/// `/proc/PID/clear_refs` and read at the end; VmRSS is also sampled every
/// millisecond, a cross-check and the fallback where the reset is refused.
struct MemoryWatch {
    /// The watched process (credprobe).
    pid: u32,
    /// Whether the kernel accepted the VmHWM reset.
    hwm_reset: bool,
    /// VmRSS right after the reset: what the peak grew from.
    before_kib: u64,
    /// Tells the sampler to stop.
    stop: Arc<AtomicBool>,
    /// The sampler thread; it returns (highest VmRSS, samples taken).
    sampler: std::thread::JoinHandle<(u64, u64)>,
}

/// What a [`MemoryWatch`] saw, in KiB.
struct MemoryPeak {
    /// The watched process.
    pid: u32,
    /// Whether VmHWM was reset at the start (else it is the process's
    /// lifetime peak and only the sampled peak speaks of the stretch).
    hwm_reset: bool,
    /// VmRSS at the start.
    before_kib: u64,
    /// VmHWM at the end: the kernel's peak since the reset.
    hwm_kib: u64,
    /// The highest VmRSS sampled (a peak shorter than a millisecond can
    /// escape it; VmHWM cannot).
    sampled_peak_kib: u64,
    /// How many samples were taken, to show the sampling kept up.
    samples: u64,
}

impl MemoryPeak {
    /// The peak over the stretch: VmHWM when it was reset (never below a
    /// sample), else the highest sample.
    fn peak_kib(&self) -> u64 {
        if self.hwm_reset {
            self.hwm_kib.max(self.sampled_peak_kib)
        } else {
            self.sampled_peak_kib
        }
    }
}

impl MemoryWatch {
    fn start(pid: u32) -> Result<MemoryWatch, String> {
        let hwm_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        let before_kib = status_kib(pid, "VmRSS")?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let sampler = std::thread::spawn(move || {
            let (mut peak, mut samples) = (before_kib, 0u64);
            while !stopped.load(Ordering::Relaxed) {
                if let Ok(kib) = status_kib(pid, "VmRSS") {
                    peak = peak.max(kib);
                    samples += 1;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            (peak, samples)
        });
        Ok(MemoryWatch {
            pid,
            hwm_reset,
            before_kib,
            stop,
            sampler,
        })
    }

    fn finish(self) -> Result<MemoryPeak, String> {
        let hwm_kib = status_kib(self.pid, "VmHWM")?;
        self.stop.store(true, Ordering::Relaxed);
        let (sampled_peak_kib, samples) = self
            .sampler
            .join()
            .map_err(|_| "the memory sampler panicked".to_owned())?;
        Ok(MemoryPeak {
            pid: self.pid,
            hwm_reset: self.hwm_reset,
            before_kib: self.before_kib,
            hwm_kib,
            sampled_peak_kib,
            samples,
        })
    }
}

/// A `kB` field of `/proc/PID/status` (VmRSS, VmHWM).
fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status =
        std::fs::read_to_string(&path).map_err(|error| format!("cannot read {path}: {error}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no {field} in {path}"))
}
