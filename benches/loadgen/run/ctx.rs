//! The run's context ([`Ctx`]): knobs, paths, the children, HTTP clients,
//! and what every phase does with them (start a simulator or credprobe and
//! wait until it answers, read the simulator's counters, time a scrape),
//! with the small file and exposition helpers the phases share.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::knobs::Knobs;
use super::processes::{self, Output, Processes, free_port};
use super::results::Lateness;
use super::{config, log_at, now, procfs, utc_now};
use crate::expo;

/// The lateness histogram the report reads.
const LATENESS: &str = "credprobe_schedule_lateness_seconds";

/// A simulator started by the run.
#[derive(Clone)]
pub struct Simulator {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its port.
    pub port: u16,
    /// Its pid.
    pub pid: u32,
}

/// The simulator's counters (`GET /__simulator/stats`).
pub struct Stats {
    /// Every request.
    pub requests: u64,
    /// Token requests.
    pub tokens: u64,
    /// Answers that were not 2xx.
    pub other: u64,
    /// `[second, count]` of the last seconds.
    pub per_second: Vec<(i64, u64)>,
}

/// One timed scrape of `/metrics`.
pub struct Scrape {
    /// Seconds to the response head.
    pub ttfb: f64,
    /// Seconds to the end of the body.
    pub total: f64,
    /// Bytes received.
    pub bytes: u64,
    /// The daemon's CPU ticks across it.
    pub ticks: u64,
}

impl Scrape {
    /// The record line `loadgen`'s median reads: `MODE TTFB TOTAL BYTES TICKS`.
    pub fn record(&self, mode: &str) -> String {
        format!(
            "{mode} {:.6} {:.6} {} {}\n",
            self.ttfb, self.total, self.bytes, self.ticks
        )
    }
}

/// The run: its knobs, paths, children and HTTP clients.
pub struct Ctx {
    /// The knobs.
    pub knobs: Knobs,
    /// The repository.
    pub root: PathBuf,
    /// This run's raw material.
    pub work: PathBuf,
    /// The release credprobe.
    pub credprobe: PathBuf,
    /// This binary.
    pub loadgen: PathBuf,
    /// `make bench` or `bench/run …`.
    pub command: String,
    /// Clock ticks per second.
    pub clk_tck: u64,
    /// When bench/run started (before the build).
    pub started_at: f64,
    /// When this started (after the build).
    pub built_at: f64,
    /// Every child.
    pub procs: Processes,
    /// For the simulator's counters and readiness (10 s a request).
    pub http: reqwest::Client,
    /// For scrapes (60 s a request).
    pub scraper: reqwest::Client,
}

impl Ctx {
    /// The context of a run with `knobs`, started with `args`.
    pub fn new(knobs: Knobs, args: &[String]) -> Result<Ctx, String> {
        let root =
            std::env::current_dir().map_err(|error| format!("no working directory: {error}"))?;
        if !root.join("bench/floor.lua").is_file() {
            return Err(format!(
                "run from the repository (no bench/floor.lua in {})",
                root.display()
            ));
        }
        let loadgen = std::env::current_exe().map_err(|error| format!("where am I: {error}"))?;
        let credprobe = match std::env::var_os("CREDPROBE") {
            Some(path) => PathBuf::from(path),
            // target/release/deps/loadgen-HASH -> target/release/credprobe
            None => loadgen
                .parent()
                .and_then(Path::parent)
                .map(|dir| dir.join("credprobe"))
                .unwrap_or_default(),
        };
        if !credprobe.is_file() {
            return Err(format!(
                "no credprobe at {} (bench/run builds it; or set CREDPROBE)",
                credprobe.display()
            ));
        }
        let stamp: String = utc_now()
            .chars()
            .filter(|c| !matches!(c, '-' | ':'))
            .collect();
        let work = root.join("target/bench").join(format!("run-{stamp}"));
        std::fs::create_dir_all(&work)
            .map_err(|error| format!("cannot create {}: {error}", work.display()))?;
        let mut command = std::iter::once("bench/run".to_owned())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        if std::env::var_os("MAKELEVEL").is_some() {
            command = "make bench".to_owned();
        }
        let client = |timeout| {
            reqwest::Client::builder()
                .user_agent("credprobe-bench-run")
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|error| error.to_string())
        };
        let built_at = now();
        let started_at = std::env::var("BENCH_STARTED_AT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(built_at);
        Ok(Ctx {
            knobs,
            root,
            work,
            credprobe,
            loadgen,
            command,
            clk_tck: procfs::clk_tck(),
            started_at,
            built_at,
            procs: Processes::default(),
            http: client(Duration::from_secs(10))?,
            scraper: client(Duration::from_secs(60))?,
        })
    }

    /// `[bench   12s] message` on stderr.
    pub fn log(&self, message: &str) {
        log_at(self.started_at, message);
    }

    /// A path relative to the repository, for the report and the log.
    pub fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Waits until `url` answers 2xx, at most `seconds`; fails as soon as
    /// `pid` exits.
    pub async fn wait_http(
        &mut self,
        url: &str,
        pid: u32,
        seconds: u64,
        what: &str,
    ) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < deadline {
            self.procs
                .check(pid, &format!("{what} exited before it answered"))?;
            let answer = self
                .http
                .get(url)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!("{what} did not answer {url} within {seconds} s"))
    }

    /// Starts a simulator with `scenario`, its log in `dir`.
    pub async fn simulator(&mut self, scenario: &Path, dir: &Path) -> Result<Simulator, String> {
        let port = free_port()?;
        let mut command = Command::new(&self.credprobe);
        command
            .arg("simulate")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        command
            .arg("--scenario")
            .arg(scenario)
            .args(["--log.level", "warn"]);
        let log = dir.join("simulator.log");
        let pid = self
            .procs
            .spawn("the simulator", command, Output::Log(&log))?;
        let url = format!("http://127.0.0.1:{port}");
        self.wait_http(
            &format!("{url}/__simulator/healthy"),
            pid,
            30,
            "the simulator",
        )
        .await?;
        Ok(Simulator { url, port, pid })
    }

    /// `credprobe check-config` of a generated file (bounded).
    pub async fn check_config(&mut self, config: &Path, dir: &Path) -> Result<(), String> {
        let mut command = Command::new(&self.credprobe);
        command.arg("check-config").arg("--config.file").arg(config);
        let log = dir.join("check-config.log");
        processes::run_to_end(
            &mut self.procs,
            "credprobe check-config",
            command,
            &log,
            Duration::from_secs(300),
        )
        .await
    }

    /// Starts `credprobe run` with `config` on a free port, its log in
    /// `dir/credprobe.log`; waits (60 s) until it is healthy. Returns (pid,
    /// port, start time).
    pub async fn credprobe(
        &mut self,
        config: &Path,
        dir: &Path,
        what: &str,
    ) -> Result<(u32, u16, f64), String> {
        let port = free_port()?;
        let mut command = Command::new(&self.credprobe);
        command.arg("run").arg("--config.file").arg(config);
        command
            .arg("--web.listen-address")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--log.level", "warn"]);
        let t0 = now();
        let pid = self
            .procs
            .spawn(what, command, Output::Log(&dir.join("credprobe.log")))?;
        self.wait_http(&format!("http://127.0.0.1:{port}/-/healthy"), pid, 60, what)
            .await?;
        Ok((pid, port, t0))
    }

    /// The simulator's counters, saved into `file`.
    pub async fn stats(&self, simulator: &str, file: &Path) -> Result<Stats, String> {
        let url = format!("{simulator}/__simulator/stats");
        let body = async {
            self.http
                .get(&url)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await
        }
        .await
        .map_err(|error| format!("cannot read {url}: {error}"))?;
        write(file, &body)?;
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|error| format!("{url}: {error}"))?;
        let field = |name: &str| {
            json[name]
                .as_u64()
                .ok_or_else(|| format!("{url}: no {name}"))
        };
        let per_second = json["per_second"]
            .as_array()
            .map(|pairs| {
                pairs
                    .iter()
                    .filter_map(|pair| Some((pair[0].as_i64()?, pair[1].as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Stats {
            requests: field("requests_total")?,
            tokens: field("token_requests_total")?,
            other: field("answers_other_total")?,
            per_second,
        })
    }

    /// One GET of `url` (credprobe's /metrics, pid `pid`), timed, its body
    /// into `body` and its head into `body.headers`; a gzip scrape must be
    /// answered with a valid gzip body.
    pub async fn scrape(
        &self,
        pid: u32,
        url: &str,
        body: &Path,
        gzip: bool,
    ) -> Result<Scrape, String> {
        let before = procfs::cpu_ticks(pid)?;
        let started = Instant::now();
        let mut request = self.scraper.get(url);
        if gzip {
            request = request.header("Accept-Encoding", "gzip");
        }
        let failed = |error: reqwest::Error| format!("scrape of {url} failed: {error}");
        let mut response = request.send().await.map_err(failed)?;
        let ttfb = started.elapsed().as_secs_f64();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            bytes.extend_from_slice(&chunk);
        }
        let total = started.elapsed().as_secs_f64();
        let after = procfs::cpu_ticks(pid)?;
        let mut head = format!("{:?} {}\n", response.version(), response.status());
        for (name, value) in response.headers() {
            head.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        write(
            Path::new(&format!("{}.headers", body.display())),
            head.as_bytes(),
        )?;
        write(body, &bytes)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("scrape of {url} answered {}", response.status()));
        }
        if gzip {
            let encoded = response
                .headers()
                .get("content-encoding")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
            if !encoded {
                return Err("/metrics ignored Accept-Encoding: gzip".to_owned());
            }
            std::io::copy(
                &mut flate2::read::GzDecoder::new(&bytes[..]),
                &mut std::io::sink(),
            )
            .map_err(|_| "/metrics gzip body is not valid gzip".to_owned())?;
        }
        Ok(Scrape {
            ttfb,
            total,
            bytes: bytes.len() as u64,
            ticks: after.saturating_sub(before),
        })
    }
}

/// Writes a file, naming it on failure.
pub fn write(path: &Path, contents: &[u8]) -> Result<(), String> {
    std::fs::write(path, contents)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// Creates a directory (and its parents).
pub fn mkdir(path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(path)
        .map_err(|error| format!("cannot create {}: {error}", path.display()))
}

/// Reads a file, naming it on failure.
pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))
}

/// Writes `n` tenants' secret files under `dir/secrets`.
pub fn write_secrets(n: u64, dir: &Path) -> Result<PathBuf, String> {
    let secrets = dir.join("secrets");
    mkdir(&secrets)?;
    for i in 0..n {
        let id = config::tenant(i);
        let file = secrets.join(&id);
        write(&file, format!("{}\n", config::secret(&id)).as_bytes())?;
        private(&file)?;
    }
    Ok(secrets)
}

/// Makes a secret file readable by its owner only, as a user keeps it
/// (credprobe warns about, and logs, a secret file others can read).
pub fn private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|error| format!("{}: {error}", path.display()))
}

/// Schedule lateness from an exposition (p50, p99, its bucket, cycles and
/// cycles over 1 s).
pub fn lateness(exposition: &str) -> Result<Lateness, String> {
    let buckets = expo::histogram(exposition, LATENESS)?;
    let count = expo::bucket_count(&buckets, "+Inf")?.unwrap_or(0.0) as i64;
    let le1 = expo::bucket_count(&buckets, "1")?.unwrap_or(0.0) as i64;
    Ok(Lateness {
        p50: expo::quantile(&buckets, 0.50).to_string(),
        p99: expo::quantile(&buckets, 0.99).to_string(),
        p99_le: expo::quantile_le(&buckets, 0.99)
            .unwrap_or("n/a")
            .to_owned(),
        cycles: count,
        over_1s: count - le1,
    })
}

/// WARN/ERROR lines of a log.
pub fn warnings(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|text| {
            text.lines()
                .filter(|line| line.contains("WARN") || line.contains("ERROR"))
                .count()
        })
        .unwrap_or(0)
}

/// A non-2xx share above 1 % is an error.
pub fn check_answers(other: u64, requests: u64, what: &str) -> Result<(), String> {
    if other * 100 > requests {
        return Err(format!(
            "{what}: {other} of {requests} upstream answers not 2xx"
        ));
    }
    Ok(())
}

/// The median of `values`, as `loadgen median` prints it.
pub fn median(values: Vec<f64>) -> String {
    expo::format_number(expo::median(values))
}
