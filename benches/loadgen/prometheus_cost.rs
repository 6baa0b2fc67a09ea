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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{Options, status_kib};

/// The subcommands of this module.
pub const COMMANDS: &[&str] = &["prometheus-cost", "prometheus-cost-section"];

/// How to call them, for `loadgen`'s usage text.
pub const USAGE: &str = "\
\x20      loadgen prometheus-cost --credprobe PATH --prometheus PATH --blackbox PATH --work DIR
               --tenants N --interval S --scrape-interval S --seconds S [--runs plain,native]
       loadgen prometheus-cost-section --json FILE --command TEXT --revision TEXT --date TEXT";

/// The scrape job's name in the generated prometheus.yml.
const JOB: &str = "credprobe";
/// How long a process may take to serve.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a stopped process may take to exit before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// How long the throw-away Prometheus may take to send its first scrape.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(30);
/// Every HTTP request gives up after this (a 2,000-tenant body is tens of
/// MB on loopback).
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the processes are checked during a run.
const POLL: Duration = Duration::from_secs(5);
/// Beyond this many tenants the generated files are a typo.
const MAX_TENANTS: u64 = 100_000;
/// The endpoints of every tenant, as bench/run and bench/fleet configure them.
const ENDPOINTS: [(&str, &str); 2] = [
    ("workflows", "/api/v1/workflows"),
    ("remote_actions", "/api/v1/act/remote-action"),
];

/// One Prometheus configuration measured.
struct Run {
    name: &'static str,
    flags: &'static [&'static str],
}

const RUNS: [Run; 2] = [
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

// ---------------------------------------------------------------------------
// Processes.

/// The processes started, stopped (SIGTERM, then SIGKILL after
/// [`STOP_GRACE`]) by [`Processes::stop`] or, for those left, on drop.
#[derive(Default)]
struct Processes(Vec<(String, Child, PathBuf)>);

impl Processes {
    /// Starts `program args`, its output into `log`; it gets SIGTERM if this
    /// process dies first. Returns its pid.
    fn spawn(
        &mut self,
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<u32, String> {
        let out = std::fs::File::create(log)
            .map_err(|error| format!("cannot create {}: {error}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|error| format!("cannot create {}: {error}", log.display()))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        // SAFETY: prctl is async-signal-safe; nothing is allocated between
        // fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", program.display()))?;
        let pid = child.id();
        self.0.push((name.to_owned(), child, log.to_owned()));
        Ok(pid)
    }

    /// An error naming the first process that has exited, and its log.
    fn check(&mut self) -> Result<(), String> {
        for (name, child, log) in &mut self.0 {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{name} exited ({status}); see {}", log.display()));
            }
        }
        Ok(())
    }

    /// Stops one process (by pid) and forgets it.
    fn stop(&mut self, pid: u32) {
        if let Some(at) = self.0.iter().position(|(_, child, _)| child.id() == pid) {
            let (_, mut child, _) = self.0.remove(at);
            stop_child(&mut child);
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        while let Some((_, mut child, _)) = self.0.pop() {
            stop_child(&mut child);
        }
    }
}

fn stop_child(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: a plain kill(2) of our own child, not yet reaped.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A free loopback port, chosen by the kernel.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("no free port: {error}"))
}

/// Waits (bounded) until `url` answers 2xx; fails as soon as one of the
/// processes exits.
async fn wait_ready(
    client: &reqwest::Client,
    url: &str,
    processes: &mut Processes,
) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        processes.check()?;
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("{url} did not answer within {START_TIMEOUT:?}"))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

fn mkdir(path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(path)
        .map_err(|error| format!("cannot create {}: {error}", path.display()))
}

/// The first line a program prints for `--version` (stdout or stderr).
fn version(program: &Path) -> String {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|output| {
            let text = [output.stdout, output.stderr].concat();
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

// ---------------------------------------------------------------------------
// The measurement.

/// What the arguments ask for.
struct Plan {
    credprobe: PathBuf,
    prometheus: PathBuf,
    blackbox: PathBuf,
    work: PathBuf,
    tenants: u64,
    interval: u64,
    scrape_interval: u64,
    seconds: u64,
    runs: Vec<&'static Run>,
}

impl Plan {
    fn parse(options: &Options) -> Result<Plan, String> {
        let whole = |name: &str| -> Result<u64, String> {
            let number = options.number(name)?;
            if number.fract() != 0.0 {
                return Err(format!("--{name} must be a whole number"));
            }
            Ok(number as u64)
        };
        let tenants = whole("tenants")?;
        if tenants > MAX_TENANTS {
            return Err(format!("--tenants above {MAX_TENANTS}"));
        }
        let runs = options
            .optional("runs")
            .unwrap_or("plain,native")
            .split(',')
            .map(|name| {
                RUNS.iter()
                    .find(|run| run.name == name)
                    .ok_or_else(|| format!("--runs: {name:?} is not plain or native"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Plan {
            credprobe: options.text("credprobe")?.into(),
            prometheus: options.text("prometheus")?.into(),
            blackbox: options.text("blackbox")?.into(),
            work: options.text("work")?.into(),
            tenants,
            interval: whole("interval")?,
            scrape_interval: whole("scrape-interval")?,
            seconds: options.seconds()?.as_secs().max(1),
            runs,
        })
    }
}

async fn measure(options: &Options) -> Result<Value, String> {
    let mut plan = Plan::parse(options)?;
    let started = unix_now();
    mkdir(&plan.work)?;
    // Absolute, as the generated files name each other.
    plan.work = std::fs::canonicalize(&plan.work)
        .map_err(|error| format!("{}: {error}", plan.work.display()))?;
    // Both runs start this link (a copy where linking fails): the shared
    // target directory may be rebuilt meanwhile.
    let pinned = plan.work.join("credprobe");
    std::fs::hard_link(&plan.credprobe, &pinned)
        .or_else(|_| std::fs::copy(&plan.credprobe, &pinned).map(drop))
        .map_err(|error| format!("cannot copy {}: {error}", plan.credprobe.display()))?;
    plan.credprobe = pinned;
    let client = reqwest::Client::builder()
        .user_agent("credprobe-bench-loadgen")
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| error.to_string())?;
    let mut processes = Processes::default();

    let sim_port = free_port()?;
    let simulator = format!("http://127.0.0.1:{sim_port}");
    let scenario = plan.work.join("scenario.yml");
    write(&scenario, "accept_any: true\n")?;
    let args = [
        "simulate".to_owned(),
        "--listen".to_owned(),
        format!("127.0.0.1:{sim_port}"),
        "--scenario".to_owned(),
        scenario.display().to_string(),
        "--log.level".to_owned(),
        "warn".to_owned(),
    ];
    let log = plan.work.join("simulator.log");
    processes.spawn("the simulator", &plan.credprobe, &args, &log)?;
    wait_ready(
        &client,
        &format!("{simulator}/__simulator/healthy"),
        &mut processes,
    )
    .await?;
    let config = write_tenants(&plan, &simulator)?;
    eprintln!(
        "prometheus-cost: {} tenants against {simulator}; work dir {}",
        plan.tenants,
        plan.work.display()
    );

    let mut runs = Vec::new();
    for run in &plan.runs {
        runs.push(measure_run(&plan, run, &config, &client, &mut processes).await?);
    }
    let synthetic = runs
        .iter()
        .find_map(|run| run["synthetic_series_per_target"].as_f64());
    let blackbox = blackbox(&plan, &simulator, synthetic, &client, &mut processes).await?;
    drop(processes);
    Ok(json!({
        "mode": "prometheus-cost",
        "tenants": plan.tenants,
        "endpoints_per_tenant": ENDPOINTS.len(),
        "interval_seconds": plan.interval,
        "scrape_interval_seconds": plan.scrape_interval,
        "seconds": plan.seconds,
        "prometheus_version": version(&plan.prometheus),
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "started_at": started,
        "elapsed_seconds": (unix_now() - started).round(),
        "args": std::env::args().skip(1).collect::<Vec<_>>(),
        "runs": runs,
        "blackbox": blackbox,
    }))
}

/// The tenants' configuration (a secret file each): the default
/// configuration but the interval. Returns the file's path.
fn write_tenants(plan: &Plan, simulator: &str) -> Result<PathBuf, String> {
    let secrets = plan.work.join("secrets");
    mkdir(&secrets)?;
    let mut yaml = format!(
        "# generated by loadgen prometheus-cost: {} tenants against the simulator\n\
         defaults:\n  interval: {}s\ntenants:\n",
        plan.tenants, plan.interval
    );
    for i in 0..plan.tenants {
        let id = format!("tenant-{i:05}");
        let secret = secrets.join(&id);
        write(&secret, &format!("secret-{id}\n"))?;
        let _ = write!(
            yaml,
            "  - name: {id}\n    token_url: {simulator}/oauth2/token\n    base_url: {simulator}\n    \
             client_id: {id}\n    client_secret_file: {}\n    endpoints:\n",
            secret.display()
        );
        for (name, path) in ENDPOINTS {
            let _ = writeln!(yaml, "      - {{name: {name}, path: {path}}}");
        }
    }
    let path = plan.work.join("credprobe.yml");
    write(&path, &yaml)?;
    Ok(path)
}

/// The Accept and Accept-Encoding headers Prometheus (with these flags)
/// scrapes with: a throw-away Prometheus scrapes a listener of ours once.
async fn scrape_headers(
    plan: &Plan,
    run: &Run,
    dir: &Path,
    processes: &mut Processes,
) -> Result<(String, String), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| format!("cannot listen: {error}"))?;
    let port = listener
        .local_addr()
        .map_err(|error| error.to_string())?
        .port();
    let dir = dir.join("accept-capture");
    mkdir(&dir)?;
    let config = dir.join("prometheus.yml");
    write(
        &config,
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  \
             - job_name: capture\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )?;
    let web = free_port()?;
    let pid = start_prometheus(plan, run, &dir, &config, web, processes)?;
    let captured = tokio::time::timeout(CAPTURE_TIMEOUT, async {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|error| format!("accept: {error}"))?;
        let mut head = Vec::new();
        let mut buffer = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
            let n = stream
                .read(&mut buffer)
                .await
                .map_err(|error| format!("reading the scrape: {error}"))?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..n]);
        }
        let answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let _ = stream.write_all(answer).await;
        Ok::<_, String>(String::from_utf8_lossy(&head).into_owned())
    })
    .await;
    // Poll Prometheus once more so a failure to start is named, then stop it.
    let alive = processes.check();
    processes.stop(pid);
    let head = match captured {
        Ok(head) => head?,
        Err(_) => {
            alive?;
            return Err(format!(
                "Prometheus ({}) did not scrape within {CAPTURE_TIMEOUT:?}; see {}",
                run.name,
                dir.join("prometheus.log").display()
            ));
        }
    };
    let header = |name: &str| {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default()
    };
    let accept = header("accept");
    if accept.is_empty() {
        return Err(format!(
            "Prometheus's scrape had no Accept header: {head:?}"
        ));
    }
    Ok((accept, header("accept-encoding")))
}

fn start_prometheus(
    plan: &Plan,
    run: &Run,
    dir: &Path,
    config: &Path,
    port: u16,
    processes: &mut Processes,
) -> Result<u32, String> {
    let mut args = vec![
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    args.extend(run.flags.iter().map(|flag| (*flag).to_owned()));
    let log = dir.join("prometheus.log");
    processes.spawn("prometheus", &plan.prometheus, &args, &log)
}

/// One run: a fresh credprobe, one interval for every tenant to cycle, a
/// fresh Prometheus scraping it for `plan.seconds`, then the figures.
async fn measure_run(
    plan: &Plan,
    run: &Run,
    config: &Path,
    client: &reqwest::Client,
    processes: &mut Processes,
) -> Result<Value, String> {
    let dir = plan.work.join(run.name);
    mkdir(&dir)?;
    let (accept, accept_encoding) = scrape_headers(plan, run, &dir, processes).await?;
    eprintln!(
        "prometheus-cost: {}: Prometheus scrapes with Accept: {accept}",
        run.name
    );

    let port = free_port()?;
    let credprobe = format!("http://127.0.0.1:{port}");
    let args = [
        "run".to_owned(),
        "--config.file".to_owned(),
        config.display().to_string(),
        "--web.listen-address".to_owned(),
        format!("127.0.0.1:{port}"),
        "--log.level".to_owned(),
        "warn".to_owned(),
    ];
    let credprobe_pid = processes.spawn(
        "credprobe",
        &plan.credprobe,
        &args,
        &dir.join("credprobe.log"),
    )?;
    wait_ready(client, &format!("{credprobe}/-/healthy"), processes).await?;
    let settle = Duration::from_secs(plan.interval + 5);
    eprintln!(
        "prometheus-cost: {}: credprobe serving on {credprobe}; {}s for every tenant to cycle",
        run.name,
        settle.as_secs()
    );
    sleep_checked(settle, processes).await?;

    let prometheus_yml = dir.join("prometheus.yml");
    write(
        &prometheus_yml,
        &format!(
            "# generated by loadgen prometheus-cost ({})\nglobal:\n  scrape_interval: {}s\n  \
             scrape_timeout: {}s\nscrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      \
             - targets: ['127.0.0.1:{port}']\n",
            run.name,
            plan.scrape_interval,
            plan.scrape_interval.min(10)
        ),
    )?;
    let web_port = free_port()?;
    let web = format!("http://127.0.0.1:{web_port}");
    let prometheus_pid = start_prometheus(plan, run, &dir, &prometheus_yml, web_port, processes)?;
    wait_ready(client, &format!("{web}/-/ready"), processes).await?;
    let began = Instant::now();
    eprintln!(
        "prometheus-cost: {}: Prometheus (pid {prometheus_pid}) on {web} scraping every {}s for {}s",
        run.name, plan.scrape_interval, plan.seconds
    );
    // VmRSS of Prometheus once a scrape interval, for the trace.
    let mut rss_trace = Vec::new();
    let window = Duration::from_secs(plan.seconds);
    let step = Duration::from_secs(plan.scrape_interval);
    let mut next_sample = began;
    while began.elapsed() < window {
        processes.check()?;
        if Instant::now() >= next_sample {
            rss_trace.push(json!([
                began.elapsed().as_secs(),
                status_kib(prometheus_pid, "VmRSS")?
            ]));
            next_sample += step;
        }
        let left = window.saturating_sub(began.elapsed());
        tokio::time::sleep(left.min(POLL)).await;
    }
    processes.check()?;
    let rss_kib = status_kib(prometheus_pid, "VmRSS")?;
    let hwm_kib = status_kib(prometheus_pid, "VmHWM")?;
    rss_trace.push(json!([began.elapsed().as_secs(), rss_kib]));
    let credprobe_rss_kib = status_kib(credprobe_pid, "VmRSS")?;
    let prometheus = Prometheus { client, url: &web };
    let mut figures = prometheus.figures(plan, began.elapsed()).await?;
    // After the queries: these fetches change credprobe's own
    // credprobe_scrape_response_bytes.
    let metrics = format!("{credprobe}/metrics");
    let body_plain = fetch_metrics(client, &metrics, &accept, None).await?;
    let body_gzip = fetch_metrics(client, &metrics, &accept, Some(&accept_encoding)).await?;
    processes.stop(prometheus_pid);
    processes.stop(credprobe_pid);

    let extra = json!({
        "run": run.name,
        "prometheus_flags": run.flags,
        "accept": accept,
        "accept_encoding": accept_encoding,
        "prometheus_seconds": began.elapsed().as_secs(),
        "prometheus_rss_kib": rss_kib,
        "prometheus_hwm_kib": hwm_kib,
        "prometheus_rss_trace_kib": rss_trace,
        "credprobe_rss_kib": credprobe_rss_kib,
        "metrics_fetch_plain": body_plain,
        "metrics_fetch_gzip": body_gzip,
    });
    if let (Value::Object(figures), Value::Object(extra)) = (&mut figures, extra) {
        figures.extend(extra);
    }
    eprintln!(
        "prometheus-cost: {}: head series {}, {} per tenant, Prometheus RSS {} KiB (peak {})",
        run.name, figures["head_series"], figures["series_per_tenant"], rss_kib, hwm_kib
    );
    Ok(figures)
}

/// Sleeps, checking every [`POLL`] that the processes still run.
async fn sleep_checked(length: Duration, processes: &mut Processes) -> Result<(), String> {
    let began = Instant::now();
    while began.elapsed() < length {
        processes.check()?;
        tokio::time::sleep(length.saturating_sub(began.elapsed()).min(POLL)).await;
    }
    processes.check()
}

/// One GET of credprobe's `/metrics` with Prometheus's Accept header, and
/// its Accept-Encoding when given: the bytes sent (compressed when
/// compressed), the content type and encoding, and for a text answer its
/// sample lines.
async fn fetch_metrics(
    client: &reqwest::Client,
    url: &str,
    accept: &str,
    encoding: Option<&str>,
) -> Result<Value, String> {
    let mut request = client.get(url).header("Accept", accept);
    if let Some(encoding) = encoding {
        request = request.header("Accept-Encoding", encoding);
    }
    let response = request
        .send()
        .await
        .map_err(|error| format!("GET {url}: {error}"))?;
    if !response.status().is_success() {
        return Err(format!("GET {url}: {}", response.status()));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (content_type, content_encoding) = (header("content-type"), header("content-encoding"));
    let body = response
        .bytes()
        .await
        .map_err(|error| format!("GET {url}: reading the body: {error}"))?;
    let sample_lines = (content_encoding.is_empty() && content_type.starts_with("text/plain"))
        .then(|| {
            let text = String::from_utf8_lossy(&body);
            crate::expo::samples(&text).count()
        });
    Ok(json!({
        "accept_encoding": encoding,
        "content_type": content_type,
        "content_encoding": content_encoding,
        "bytes": body.len(),
        "sample_lines": sample_lines,
    }))
}

/// Prometheus's HTTP API.
struct Prometheus<'a> {
    client: &'a reqwest::Client,
    url: &'a str,
}

impl Prometheus<'_> {
    async fn get_json(&self, path: &str, query: Option<&str>) -> Result<Value, String> {
        let mut url = url::Url::parse(&format!("{}{path}", self.url)).map_err(|e| e.to_string())?;
        if let Some(query) = query {
            url.query_pairs_mut().append_pair("query", query);
        }
        let response = self
            .client
            .get(url.as_str())
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        if !status.is_success() || body["status"] != "success" {
            return Err(format!("GET {url}: {status} {body}"));
        }
        Ok(body["data"].clone())
    }

    /// An instant query's vector: (labels, value) per series.
    async fn vector(&self, query: &str) -> Result<Vec<(BTreeMap<String, String>, f64)>, String> {
        let data = self.get_json("/api/v1/query", Some(query)).await?;
        let result = data["result"].as_array().cloned().unwrap_or_default();
        Ok(result
            .into_iter()
            .filter_map(|series| {
                let labels = serde_json::from_value(series["metric"].clone()).unwrap_or_default();
                let value = series["value"][1].as_str()?.parse().ok()?;
                Some((labels, value))
            })
            .collect())
    }

    /// The single value of a query, None when it has none.
    async fn scalar(&self, query: &str) -> Result<Option<f64>, String> {
        Ok(self.vector(query).await?.first().map(|(_, value)| *value))
    }

    /// A `count(...)`: 0 when nothing matches.
    async fn count(&self, query: &str) -> Result<f64, String> {
        Ok(self
            .scalar(&format!("count({query})"))
            .await?
            .unwrap_or(0.0))
    }

    /// `prometheus_tsdb_head_series` from Prometheus's own /metrics.
    async fn head_series(&self) -> Result<f64, String> {
        let url = format!("{}/metrics", self.url);
        let text = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?
            .text()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        crate::expo::samples(&text)
            .filter_map(Result::ok)
            .find(|sample| sample.name == "prometheus_tsdb_head_series")
            .map(|sample| sample.value)
            .ok_or_else(|| format!("no prometheus_tsdb_head_series on {url}"))
    }

    /// Every figure of a run that Prometheus holds, over the last `ran`.
    async fn figures(&self, plan: &Plan, ran: Duration) -> Result<Value, String> {
        let tenants = plan.tenants as f64;
        let range = format!("{}s", ran.as_secs().max(1));
        let job = format!("job=\"{JOB}\"");
        let head_series = self.head_series().await?;
        let status = self.get_json("/api/v1/status/tsdb", None).await?;
        let tenant_series = self
            .count(r#"{__name__=~"credprobe_.+", tenant!=""}"#)
            .await?;
        let all_series = self.count(r#"{__name__=~".+"}"#).await?;
        let non_tenant_series = self.count(r#"{__name__=~".+", tenant=""}"#).await?;
        let native_histograms = self.count(r#"histogram_count({__name__=~".+"})"#).await?;
        let tenant_native_histograms = self
            .count(r#"histogram_count({__name__=~"credprobe_.+", tenant!=""})"#)
            .await?;
        let synthetic = self
            .count(&format!(r#"{{{job}, __name__=~"up|scrape_.+"}}"#))
            .await?;
        let duration = format!("scrape_duration_seconds{{{job}}}[{range}]");
        let scrape_median = self
            .scalar(&format!("quantile_over_time(0.5, {duration})"))
            .await?;
        let scrape_avg = self.scalar(&format!("avg_over_time({duration})")).await?;
        let scrape_max = self.scalar(&format!("max_over_time({duration})")).await?;
        let scrapes = self
            .scalar(&format!("count_over_time(up{{{job}}}[{range}])"))
            .await?;
        let up_avg = self
            .scalar(&format!("avg_over_time(up{{{job}}}[{range}])"))
            .await?;
        let samples_median = self
            .scalar(&format!(
                "quantile_over_time(0.5, scrape_samples_scraped{{{job}}}[{range}])"
            ))
            .await?;
        let samples_last = self
            .scalar(&format!("scrape_samples_scraped{{{job}}}"))
            .await?;
        let series_added = self
            .scalar(&format!(
                "sum_over_time(scrape_series_added{{{job}}}[{range}])"
            ))
            .await?;
        let response_bytes: BTreeMap<String, f64> = self
            .vector(&format!("credprobe_scrape_response_bytes{{{job}}}"))
            .await?
            .into_iter()
            .map(|(labels, value)| {
                let key = labels
                    .iter()
                    .filter(|(name, _)| !matches!(name.as_str(), "__name__" | "job" | "instance"))
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect::<Vec<_>>()
                    .join(",");
                (key, value)
            })
            .collect();
        let top: Vec<Value> = status["seriesCountByMetricName"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(json!({
            "tenants": plan.tenants,
            "head_series": head_series,
            "head_series_tsdb_status": status["headStats"]["numSeries"],
            "head_chunks_tsdb_status": status["headStats"]["chunkCount"],
            "series_count_by_metric_name": top,
            "series_now": all_series,
            "tenant_series": tenant_series,
            "non_tenant_series": non_tenant_series,
            "series_per_tenant": tenant_series / tenants,
            "series_per_tenant_from_head": (head_series - non_tenant_series) / tenants,
            "native_histogram_series": native_histograms,
            "tenant_native_histogram_series": tenant_native_histograms,
            "synthetic_series_per_target": synthetic,
            "scrapes": scrapes,
            "up_avg": up_avg,
            "scrape_duration_median_seconds": scrape_median,
            "scrape_duration_avg_seconds": scrape_avg,
            "scrape_duration_max_seconds": scrape_max,
            "samples_scraped_median": samples_median,
            "samples_scraped_last": samples_last,
            "series_added_total": series_added,
            "credprobe_scrape_response_bytes": response_bytes,
        }))
    }
}

/// blackbox_exporter with an `http_2xx` module: the sample lines of one
/// `/probe` per endpoint, plus the series Prometheus adds per target.
async fn blackbox(
    plan: &Plan,
    simulator: &str,
    synthetic: Option<f64>,
    client: &reqwest::Client,
    processes: &mut Processes,
) -> Result<Value, String> {
    let dir = plan.work.join("blackbox");
    mkdir(&dir)?;
    // The simulator's endpoints want a bearer token: the module gets one
    // through blackbox's oauth2 client (tenant-00000's credentials), so the
    // probe passes as credprobe's check does. blackbox exports nothing about
    // that token request.
    let config = dir.join("blackbox.yml");
    write(
        &config,
        &format!(
            "modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n    http:\n      \
             valid_status_codes: [200]\n      oauth2:\n        client_id: tenant-00000\n        \
             client_secret: secret-tenant-00000\n        token_url: {simulator}/oauth2/token\n"
        ),
    )?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let args = [
        format!("--config.file={}", config.display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--log.level=warn".to_owned(),
    ];
    let pid = processes.spawn(
        "blackbox_exporter",
        &plan.blackbox,
        &args,
        &dir.join("blackbox.log"),
    )?;
    wait_ready(client, &format!("{url}/-/healthy"), processes).await?;
    let mut targets = Vec::new();
    let mut lines_total = 0usize;
    for (_, path) in ENDPOINTS {
        let target = format!("{simulator}{path}");
        let mut probe = url::Url::parse(&format!("{url}/probe")).map_err(|e| e.to_string())?;
        probe
            .query_pairs_mut()
            .append_pair("module", "http_2xx")
            .append_pair("target", &target);
        let text = client
            .get(probe.as_str())
            .send()
            .await
            .map_err(|error| format!("GET {probe}: {error}"))?
            .text()
            .await
            .map_err(|error| format!("GET {probe}: {error}"))?;
        write(
            &dir.join(format!("probe{}.txt", path.replace('/', "_"))),
            &text,
        )?;
        let samples: Vec<_> = crate::expo::samples(&text).collect::<Result<_, _>>()?;
        let success = samples
            .iter()
            .find(|sample| sample.name == "probe_success")
            .map(|sample| sample.value);
        let mut names: Vec<&str> = samples.iter().map(|sample| sample.name).collect();
        names.dedup();
        lines_total += samples.len();
        targets.push(json!({
            "target": target,
            "sample_lines": samples.len(),
            "probe_success": success,
            "names": names,
        }));
    }
    processes.stop(pid);
    let synthetic_per_target = synthetic.unwrap_or(f64::NAN);
    let per_tenant = lines_total as f64 + synthetic_per_target * ENDPOINTS.len() as f64;
    Ok(json!({
        "version": version(&plan.blackbox),
        "module": "http_2xx",
        "oauth2_token_series": 0,
        "targets": targets,
        "synthetic_series_per_target": synthetic,
        "series_per_tenant": per_tenant.is_finite().then_some(per_tenant),
    }))
}

// ---------------------------------------------------------------------------
// The section of BENCHMARKS.md.

fn section_command(options: &Options) -> Result<String, String> {
    let path = options.text("json")?;
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("cannot read {path}: {error}"))?;
    let measured: Value =
        serde_json::from_str(&text).map_err(|error| format!("{path} is not JSON: {error}"))?;
    Ok(section(
        &measured,
        options.text("command")?,
        options.text("revision")?,
        options.text("date")?,
    ))
}

/// 12345 -> "12,345"; not a number -> "n/a".
fn thousands(value: &Value) -> String {
    let Some(number) = value.as_f64() else {
        return "n/a".to_owned();
    };
    let digits = format!("{:.0}", number.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if number < 0.0 { format!("-{out}") } else { out }
}

/// A number with `decimals` decimals, "n/a" when absent.
fn fixed(value: &Value, decimals: usize) -> String {
    value
        .as_f64()
        .filter(|number| number.is_finite())
        .map_or_else(|| "n/a".to_owned(), |number| format!("{number:.decimals$}"))
}

/// KiB as MiB with one decimal.
fn mib(value: &Value) -> String {
    fixed(&json!(value.as_f64().map(|kib| kib / 1024.0)), 1)
}

/// Bytes as MB (10^6) with two decimals.
fn megabytes(value: &Value) -> String {
    fixed(&json!(value.as_f64().map(|bytes| bytes / 1e6)), 2)
}

/// Seconds as milliseconds.
fn millis(value: &Value) -> String {
    fixed(&json!(value.as_f64().map(|seconds| seconds * 1000.0)), 0)
}

/// The Markdown section (markers included) for the measured JSON.
pub fn section(m: &Value, command: &str, revision: &str, date: &str) -> String {
    let mut s = String::new();
    let runs = m["runs"].as_array().cloned().unwrap_or_default();
    let bb = &m["blackbox"];
    let tenants = thousands(&m["tenants"]);
    let _ = writeln!(
        s,
        "<!-- prometheus-cost: written by bench/prometheus-cost; bench/run keeps this section -->"
    );
    let _ = writeln!(
        s,
        "## What credprobe costs the Prometheus that scrapes it\n"
    );
    let _ = writeln!(
        s,
        "`{command}` on {date}, {} cores (shared), commit {revision}, {}: {tenants} tenants \
         (a client-credentials token request and {} plain-http endpoints each) on credprobe's \
         simulator, default configuration but the interval ({} s), scraped every {} s by \
         `{}` for {} s per run: {}. Each run has its own credprobe and its own Prometheus \
         (own `--storage.tsdb.path`, only credprobe as target), started once every tenant had cycled (one interval + 5 s). \
         Driver: `loadgen {}` (`benches/loadgen/prometheus_cost.rs`).\n",
        m["cores"],
        elapsed(&m["elapsed_seconds"]),
        m["endpoints_per_tenant"],
        m["interval_seconds"],
        m["scrape_interval_seconds"],
        m["prometheus_version"].as_str().unwrap_or("prometheus"),
        m["seconds"],
        runs.iter()
            .map(|run| match run["run"].as_str() {
                Some("native") => "once with `--enable-feature=native-histograms`",
                _ => "once plain",
            })
            .collect::<Vec<_>>()
            .join(" and "),
        m["args"]
            .as_array()
            .map(|args| args
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "))
            .unwrap_or_default(),
    );
    let _ = writeln!(
        s,
        "| run | tenants | head series | series per tenant (query / from head) | Prometheus RSS end / peak | scrape duration median (max) | samples per scrape (median) | /metrics bytes plain / gzip |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for run in &runs {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} / {} | {} / {} MiB | {} ms ({} ms) | {} | {} / {} MB |",
            run["run"].as_str().unwrap_or("?"),
            thousands(&run["tenants"]),
            thousands(&run["head_series"]),
            fixed(&run["series_per_tenant"], 1),
            fixed(&run["series_per_tenant_from_head"], 1),
            mib(&run["prometheus_rss_kib"]),
            mib(&run["prometheus_hwm_kib"]),
            millis(&run["scrape_duration_median_seconds"]),
            millis(&run["scrape_duration_max_seconds"]),
            thousands(&run["samples_scraped_median"]),
            megabytes(&run["metrics_fetch_plain"]["bytes"]),
            megabytes(&run["metrics_fetch_gzip"]["bytes"]),
        );
    }
    let _ = writeln!(
        s,
        "\n*Head series*: `prometheus_tsdb_head_series` from Prometheus's own `/metrics` at the \
         end. *Series per tenant*: `count({{__name__=~\"credprobe_.+\", tenant!=\"\"}})` over \
         the tenants (a native histogram counts as one series), and (head series − \
         `count({{tenant=\"\"}})`) over the tenants. *RSS*: VmRSS and VmHWM of the Prometheus \
         process at the end. *Scrape duration*: `quantile_over_time(0.5, …)` and \
         `max_over_time` of `scrape_duration_seconds{{job=\"{JOB}\"}}` over the run; *samples*: \
         `quantile_over_time(0.5, scrape_samples_scraped{{…}})`. */metrics bytes*: one GET of \
         credprobe's `/metrics` after the run with the Accept header that Prometheus sent \
         (captured from its first scrape of a loopback listener), without and with \
         `Accept-Encoding: gzip`.\n"
    );
    for run in &runs {
        let _ = writeln!(s, "{}", run_notes(run, &m["scrape_interval_seconds"]));
    }
    let targets = bb["targets"].as_array().cloned().unwrap_or_default();
    let per_target = targets
        .iter()
        .map(|target| {
            let path = target["target"]
                .as_str()
                .and_then(|t| t.find("/api").map(|at| &t[at..]))
                .unwrap_or("?");
            format!(
                "{} sample lines for `{path}` (probe_success {})",
                thousands(&target["sample_lines"]),
                fixed(&target["probe_success"], 0)
            )
        })
        .collect::<Vec<_>>()
        .join(" and ");
    let bb_per_tenant = &bb["series_per_tenant"];
    let ratios = runs
        .iter()
        .map(|run| {
            let ratio = run["series_per_tenant"]
                .as_f64()
                .zip(bb_per_tenant.as_f64())
                .map(|(ours, theirs)| ours / theirs);
            format!(
                "{} {}×",
                run["run"].as_str().unwrap_or("?"),
                fixed(&json!(ratio), 2)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        s,
        "\n**Beside it, blackbox_exporter** (`{}`) with an `http_2xx` module for the same {} \
         endpoints: `/probe?module=http_2xx&target=…` answers {per_target}; with the {} series \
         Prometheus adds per target (`up` and `scrape_*`, counted in the runs above) that is \
         **{} series per tenant**. They cover no token request at all: the module gets its \
         bearer token through blackbox's `oauth2` client (the simulator's endpoints want one) \
         and exports nothing about it: no token latency, expiry or rejection reason. \
         credprobe's series per tenant over blackbox's: {ratios}.",
        bb["version"].as_str().unwrap_or("blackbox_exporter"),
        m["endpoints_per_tenant"],
        thousands(&bb["synthetic_series_per_target"]),
        fixed(bb_per_tenant, 0),
    );
    let _ = writeln!(s, "<!-- /prometheus-cost -->");
    s
}

/// The bullet of one run below the table: what was negotiated and the
/// figures the table has no room for.
fn run_notes(run: &Value, scrape_interval: &Value) -> String {
    let join = |items: Vec<String>, separator: &str| items.join(separator);
    let plain = &run["metrics_fetch_plain"];
    let gzip = &run["metrics_fetch_gzip"];
    let flags = run["prometheus_flags"]
        .as_array()
        .map(|flags| {
            join(
                flags
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|f| format!("`{f}`"))
                    .collect(),
                " ",
            )
        })
        .filter(|flags| !flags.is_empty())
        .unwrap_or_else(|| "no feature flag".to_owned());
    let mut answer = format!("`{}`", plain["content_type"].as_str().unwrap_or("?"));
    if plain["sample_lines"].is_number() {
        let _ = write!(
            answer,
            " ({} sample lines)",
            thousands(&plain["sample_lines"])
        );
    }
    match gzip["content_encoding"].as_str() {
        Some("") | None => answer.push_str(", not compressed when asked for gzip"),
        Some(encoding) => {
            let _ = write!(answer, ", `{encoding}` when asked for it");
        }
    }
    let (mut stored, mut zero) = (Vec::new(), Vec::new());
    for (key, value) in run["credprobe_scrape_response_bytes"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let key = key.strip_prefix("encoding=").unwrap_or(key).to_owned();
        if value.as_f64() == Some(0.0) {
            zero.push(key);
        } else {
            stored.push(format!("{key} {} bytes", thousands(value)));
        }
    }
    if !zero.is_empty() {
        stored.push(format!("0 for {}", zero.join(", ")));
    }
    let top = run["series_count_by_metric_name"]
        .as_array()
        .map(|names| {
            join(
                names
                    .iter()
                    .take(5)
                    .map(|entry| {
                        format!(
                            "`{}` {}",
                            entry["name"].as_str().unwrap_or("?"),
                            thousands(&entry["value"])
                        )
                    })
                    .collect(),
                ", ",
            )
        })
        .unwrap_or_default();
    let trace = run["prometheus_rss_trace_kib"]
        .as_array()
        .map(|trace| join(trace.iter().map(|point| mib(&point[1])).collect(), ", "))
        .unwrap_or_default();
    let encoding = match run["accept_encoding"].as_str() {
        Some("") | None => String::new(),
        Some(encoding) => format!(" and `Accept-Encoding: {encoding}`"),
    };
    format!(
        "- **{}** ({flags}): Prometheus scraped with `Accept: {}`{encoding}; credprobe answered \
         {answer}. Native histogram series in Prometheus: {} ({} with a tenant label). {} \
         scrapes, `up` {} on average; series Prometheus adds per target: {}. \
         `credprobe_scrape_response_bytes` as Prometheus last stored it: {}. Largest families \
         (TSDB status): {top}. Prometheus VmRSS every {scrape_interval} s: {trace} MiB. \
         credprobe's own VmRSS at the end: {} MiB.",
        run["run"].as_str().unwrap_or("?"),
        run["accept"].as_str().unwrap_or("?"),
        thousands(&run["native_histogram_series"]),
        thousands(&run["tenant_native_histogram_series"]),
        thousands(&run["scrapes"]),
        fixed(&run["up_avg"], 2),
        thousands(&run["synthetic_series_per_target"]),
        stored.join(", "),
        mib(&run["credprobe_rss_kib"]),
    )
}

fn elapsed(seconds: &Value) -> String {
    let seconds = seconds.as_f64().unwrap_or(0.0) as u64;
    format!("{} min {} s of measuring", seconds / 60, seconds % 60)
}
