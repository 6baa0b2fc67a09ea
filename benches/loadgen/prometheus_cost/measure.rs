//! The measurement: the plan the arguments ask for, the simulator and the
//! runs (a fresh credprobe and Prometheus each), the Accept header
//! Prometheus sends, and `/metrics` fetched as Prometheus fetches it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::blackbox::blackbox;
use super::processes::{Processes, free_port, mkdir, unix_now, version, wait_ready, write};
use super::prometheus::Prometheus;
use super::{CAPTURE_TIMEOUT, ENDPOINTS, HTTP_TIMEOUT, JOB, MAX_TENANTS, POLL, RUNS, Run};
use crate::{Options, status_kib};

/// What the arguments ask for.
pub(super) struct Plan {
    pub(super) credprobe: PathBuf,
    pub(super) prometheus: PathBuf,
    pub(super) blackbox: PathBuf,
    pub(super) work: PathBuf,
    pub(super) tenants: u64,
    pub(super) interval: u64,
    pub(super) scrape_interval: u64,
    pub(super) seconds: u64,
    pub(super) runs: Vec<&'static Run>,
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

pub(super) async fn measure(options: &Options) -> Result<Value, String> {
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
        // Readable by its owner only, as a user keeps it (credprobe warns
        // about, and logs, a secret file others can read).
        std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|error| format!("{}: {error}", secret.display()))?;
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
