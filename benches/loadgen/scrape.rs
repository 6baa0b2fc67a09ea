//! `loadgen scrape`: N GETs of one URL (credprobe's `/metrics`) sent at
//! once, every body read to its end; with `--pid`, the peak RSS of that
//! process while they were answered (its VmHWM reset just before, and its
//! VmRSS sampled every millisecond). This is how `bench/run` measures
//! whether concurrent scrapes share one render.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::Options;

/// Scrapes take longer than probes: a plain 5,000-tenant body is ~46 MB,
/// and concurrent ones are rendered side by side.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(60);
/// More than this many concurrent scrapes is a typo, not a benchmark.
const MAX_CONCURRENCY: usize = 1000;

/// What one scrape took: (body bytes, time to the response head, time to
/// the end of the body), both from the moment every request was released.
type ScrapeTimes = (u64, Duration, Duration);

/// Runs the mode; `Ok` is the JSON to print.
pub(crate) async fn scrape(options: &Options) -> Result<String, String> {
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
pub(crate) fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status =
        std::fs::read_to_string(&path).map_err(|error| format!("cannot read {path}: {error}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no {field} in {path}"))
}
