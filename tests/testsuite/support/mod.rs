//! Shared harness of the integration tests: the real `credprobe` binary in
//! a child process, the simulator in-process, both on 127.0.0.1 port 0;
//! [`dashboards`] reads the shipped Grafana dashboards for the tests that
//! check them; [`web`] holds the web configuration tests' PKI, a credprobe
//! started with any arguments, and HTTPS clients.

pub mod dashboards;
pub mod web;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use credprobe_simulator::{Scenario, Simulator};

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_credprobe")
}

/// Starts the simulator on 127.0.0.1:0.
pub async fn start_simulator(scenario: Scenario) -> Simulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Simulator::start(listener, scenario).await.unwrap()
}

/// Starts the simulator over https on 127.0.0.1:0 with a self-signed
/// certificate for `localhost` whose notAfter is the day `not_after`
/// (year, month, day; rcgen's default when `None`); returns it with the certificate's PEM, which a
/// tenant's `ca_file` must hold.
pub async fn start_tls_simulator(
    scenario: Scenario,
    not_after: Option<(i32, u8, u8)>,
) -> (Simulator, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    if let Some((year, month, day)) = not_after {
        params.not_after = rcgen::date_time_ymd(year, month, day);
    }
    let cert = params.self_signed(&key).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Simulator::start_tls(listener, scenario, &cert.pem(), &key.serialize_pem())
        .await
        .unwrap();
    (sim, cert.pem())
}

/// A running `credprobe run` child with its stderr captured.
pub struct Daemon {
    /// The process, killed when the `Daemon` is dropped so that a failing
    /// test leaves nothing running.
    pub child: Child,
    /// Where it listens (`127.0.0.1:PORT`), as its start-up line said.
    pub addr: String,
    /// Everything it logged so far, for assertions and failure messages.
    pub stderr: Arc<Mutex<String>>,
    /// Its configuration and secret files; removed with the `Daemon`.
    pub dir: tempfile::TempDir,
}

impl Daemon {
    /// Writes `config` to a temporary folder and starts the daemon on
    /// 127.0.0.1:0; returns once it has said where it listens.
    pub fn start(config: &str, extra_args: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        Daemon::start_in(dir, config, extra_args)
    }

    /// Like [`Daemon::start`] in a prepared folder (secret files, tenant files).
    pub fn start_in(dir: tempfile::TempDir, config: &str, extra_args: &[&str]) -> Daemon {
        let path = dir.path().join("credprobe.yml");
        std::fs::write(&path, config).unwrap();
        Daemon::spawn(dir, &path, extra_args)
    }

    /// Starts the daemon on a configuration already written at `path`.
    pub fn spawn(dir: tempfile::TempDir, path: &Path, extra_args: &[&str]) -> Daemon {
        let mut command = Command::new(binary());
        command
            .arg("run")
            .arg("--config.file")
            .arg(path)
            .args(["--web.listen-address", "127.0.0.1:0"])
            .args(extra_args);
        let (child, addr, stderr) = start_serving(command, Duration::from_secs(20));
        Daemon {
            child,
            addr,
            stderr,
            dir,
        }
    }

    /// The daemon's URL for `path`, for clients other than [`Daemon::get`].
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The configuration file it runs on, for tests that rewrite it and reload.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("credprobe.yml")
    }

    /// A copy of what it logged so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// GET a path of the daemon: (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.url(path)).await
    }

    /// One scrape of `/metrics`, which must answer 200.
    pub async fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, 200);
        body
    }

    /// Polls /metrics until `done` holds, or panics after `limit` with the
    /// last scrape and the daemon's log.
    pub async fn wait_for_metrics(&self, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.metrics().await;
            if done(&text) {
                return text;
            }
            if start.elapsed() > limit {
                panic!(
                    "condition not met within {limit:?}\n--- metrics\n{text}\n--- log\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit status (bounded).
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        signal(&self.child, "TERM");
        self.wait_exit(limit)
    }

    /// Waits for the process to exit (bounded).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `command` (a credprobe that serves HTTP) with its stderr
/// captured, and waits up to `limit` for the log line naming the address
/// it listens on. Returns the child, that address and the stderr so far
/// (still growing); panics with the stderr when it never came.
pub fn start_serving(mut command: Command, limit: Duration) -> (Child, String, Arc<Mutex<String>>) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn credprobe");
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    let sink = Arc::clone(&stderr);
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            // The line is in the log before its address is handed out, so
            // a caller that reads the log next finds it.
            sink.lock().unwrap().push_str(&format!("{line}\n"));
            if !sent && let Some(addr) = listen_address(&line) {
                let _ = tx.send(addr);
                sent = true;
            }
        }
    });
    match rx.recv_timeout(limit) {
        Ok(addr) => (child, addr, stderr),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("credprobe did not start:\n{}", stderr.lock().unwrap());
        }
    }
}

/// A child process killed when dropped (Prometheus in the end-to-end
/// tests).
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a real Prometheus in `dir` with `config` as its prometheus.yml,
/// on a free loopback port; returns it and its base URL. Fails, saying
/// how to install it, when there is no `prometheus` on the PATH.
pub fn start_prometheus(dir: &Path, config: &str) -> (Process, String) {
    start_prometheus_with(dir, config, &[])
}

/// [`start_prometheus`] with more command-line arguments, e.g.
/// `--enable-feature=native-histograms` (then Prometheus asks for the
/// protobuf format).
pub fn start_prometheus_with(dir: &Path, config: &str, args: &[&str]) -> (Process, String) {
    let prometheus = which("prometheus").unwrap_or_else(|| {
        panic!("the Prometheus server is required: run `make test` or scripts/install-test-deps (Debian's `prometheus` package), or `apt-get install prometheus`")
    });
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    (Process(child), format!("http://{listen}"))
}

/// The `data` of a Prometheus instant query, `None` while Prometheus does
/// not answer yet; a query Prometheus refuses fails the test.
pub async fn prometheus_query(prometheus: &str, expr: &str) -> Option<serde_json::Value> {
    let mut url = url::Url::parse(&format!("{prometheus}/api/v1/query")).unwrap();
    url.query_pairs_mut().append_pair("query", expr);
    let body: serde_json::Value = client().get(url).send().await.ok()?.json().await.ok()?;
    assert_eq!(body["status"], "success", "query {expr}: {body}");
    Some(body["data"].clone())
}

/// The value of the first series an instant query returns, `None` while
/// Prometheus does not answer or the query returns no series.
pub async fn prometheus_scalar(prometheus: &str, expr: &str) -> Option<f64> {
    let data = prometheus_query(prometheus, expr).await?;
    data["result"][0]["value"][1].as_str()?.parse().ok()
}

/// The address in the daemon's start-up line, logfmt or JSON.
pub fn listen_address(line: &str) -> Option<String> {
    if let Some(at) = line.find("listen=") {
        return line[at + 7..].split_whitespace().next().map(str::to_owned);
    }
    let at = line.find("\"listen\":\"")?;
    line[at + 10..].split('"').next().map(str::to_owned)
}

/// Sends a signal by name with kill(1).
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A plain GET: (status, body).
pub async fn http_get(url: &str) -> (u16, String) {
    let response = client().get(url).send().await.expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Installs rustls' ring provider as the process default, which reqwest
/// (built with `rustls-no-provider`) needs before it builds a client. Every
/// client below calls it; a second install is refused and harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A reqwest client for talking to the daemon.
pub fn client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The value of one series in a text exposition, if present. `labels` must
/// all match (other labels may be present).
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse().ok()).flatten()
        })
}

/// True when the series is present with a value of at least `min`.
pub fn at_least(text: &str, name: &str, labels: &[(&str, &str)], min: f64) -> bool {
    value(text, name, labels).is_some_and(|v| v >= min)
}

/// Runs the binary to completion with a bound: (exit code, stdout, stderr).
/// Both outputs are drained while it runs, so a long report cannot fill a
/// pipe and stall the child.
pub fn run_binary(args: &[&str], limit: Duration) -> (i32, String, String) {
    run_binary_with_env(args, &[], limit)
}

/// [`run_binary`] with extra environment variables (values as OS strings,
/// so a test can hand it bytes that are not UTF-8).
pub fn run_binary_with_env(
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
    limit: Duration,
) -> (i32, String, String) {
    use std::io::Read as _;
    let mut child = Command::new(binary())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("credprobe {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        stdout.join().unwrap(),
        stderr.join().unwrap(),
    )
}

/// Writes a file in `dir` and returns its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The sum of every series of `name` whose labels include `labels`.
pub fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            let matches = metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            matches.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// A tool on PATH, e.g. promtool; tests that need one fail with an install
/// hint when this is `None`.
pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|path| path.is_file())
    })
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What `promtool check metrics` says of an exposition: `Err` with its
/// words when it exits non-zero or complains at all. Fails the test, with
/// how to install it, when promtool is missing.
pub fn promtool_check_metrics(text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let promtool = which("promtool").unwrap_or_else(|| {
        panic!("promtool is required for this test: run `make test` (it installs Debian's `prometheus` package) or `apt-get install prometheus`")
    });
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {said}", output.status))
    }
}

/// Asserts that `logs` hold debug or trace lines (logfmt or JSON), so a
/// test that looks for leaks saw credprobe's most verbose output.
pub fn assert_verbose(logs: &str) {
    assert!(
        logs.contains("level=trace")
            || logs.contains("\"level\":\"TRACE\"")
            || logs.contains("level=debug")
            || logs.contains("\"level\":\"DEBUG\""),
        "verbose logging is on: {logs}"
    );
}

/// Asserts that no secret appears in any of the outputs, each a (place,
/// text) pair such as ("log", logs) or ("/metrics", text); `run` names
/// the run in the message (e.g. the log format).
pub fn assert_none_leaked<S: AsRef<str>>(secrets: &[S], outputs: &[(&str, &str)], run: &str) {
    for secret in secrets {
        let secret = secret.as_ref();
        for (place, output) in outputs {
            assert!(
                !output.contains(secret),
                "{secret:?} appeared in the {place} ({run})"
            );
        }
    }
}
