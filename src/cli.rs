//! The command line: clap definitions, and the dispatch of each command to
//! the library. Errors become exit codes here: 2 for usage and
//! configuration errors, 1 for failed probes and runtime errors.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
#[cfg(feature = "demo")]
use credprobe_simulator::{Scenario, ServeTls};
use tokio_util::sync::CancellationToken;

use crate::config::{self, ConfigError};
use crate::daemon::{self, ConfigSource, Controls, DaemonOptions};
use crate::logging::{self, LogFormat, LogLevel};
use crate::server::ServerLimits;
use crate::shard::{Shard, ShardError};
use crate::web_config::WebConfig;

/// Default address of the daemon's HTTP server.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9891";
/// Default address of `credprobe demo`: loopback only, it is a demo.
#[cfg(feature = "demo")]
pub const DEFAULT_DEMO_LISTEN: &str = "127.0.0.1:9891";

/// credprobe proves, per tenant, that OAuth2 client-credentials API
/// credentials still work, and exports to Prometheus why they fail.
///
/// Every interval, for every configured tenant, it requests a fresh token
/// (recording latency, expiry and the failure class: credentials rejected,
/// identity provider down, rate limited, ...), then calls the tenant's
/// read-only endpoints with it. Metrics are served on /metrics.
#[derive(Debug, Parser)]
#[command(name = "credprobe", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `run`, accepted without the word `run`.
    #[command(flatten)]
    pub run: RunArgs,
    /// Logging options, accepted by every command.
    #[command(flatten)]
    pub log: LogArgs,
    /// How many threads run the probes and the HTTP server.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: probe every tenant on its schedule, serve /metrics.
    Run(RunArgs),
    /// Validate the configuration and report every problem at once (exit 0
    /// when valid, 2 otherwise).
    CheckConfig {
        /// The configuration file (also `--config`).
        #[arg(long = "config.file", alias = "config", value_name = "FILE")]
        config: PathBuf,
        /// Also validate this web configuration file (TLS files and CA
        /// read, hashes parsed), as `run --web.config.file` would load it.
        #[arg(long = "web.config.file", value_name = "FILE")]
        web_config_file: Option<PathBuf>,
    },
    /// Run one probe cycle now and print a readable report (exit 1 if
    /// anything failed).
    Probe {
        /// The configuration file (also `--config`).
        #[arg(long = "config.file", alias = "config", value_name = "FILE")]
        config: PathBuf,
        /// Probe only these tenants (repeatable); all when omitted.
        #[arg(long, value_name = "NAME")]
        tenant: Vec<String>,
        /// Also print where each request's time went (DNS, connect, TLS,
        /// processing, transfer), one line per step under the tenant's.
        #[arg(long)]
        phases: bool,
    },
    /// Run a simulated Nexthink-like API and the daemon against it, with no
    /// configuration: healthy and failing tenants side by side.
    #[cfg(feature = "demo")]
    Demo {
        /// Where the daemon serves /metrics.
        #[arg(long = "web.listen-address", value_name = "ADDR", default_value = DEFAULT_DEMO_LISTEN)]
        listen: SocketAddr,
        /// TLS, authentication and limits of the HTTP server, as for `run`
        /// (to try a web configuration out before deploying it).
        #[command(flatten)]
        web: WebArgs,
    },
    /// Run only the simulated API (for tests, benchmarks and trying
    /// configurations), over http or https.
    #[cfg(feature = "demo")]
    Simulate {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// Scenario file (YAML); the demo scenario when omitted.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// How to serve https instead of http.
        #[command(flatten)]
        tls: SimulateTlsArgs,
    },
}

/// `credprobe simulate`'s https options: try `ca_file`, certificate expiry
/// and `tls_client_auth` tenants against the simulator from the shell.
#[cfg(feature = "demo")]
#[derive(Debug, Clone, Default, Args)]
pub struct SimulateTlsArgs {
    /// Serve https with this PEM certificate chain (needs --tls.key-file).
    #[arg(long = "tls.cert-file", value_name = "FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// The PEM private key of --tls.cert-file.
    #[arg(long = "tls.key-file", value_name = "FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// Also ask every client for a certificate that chains to a CA in this
    /// PEM bundle: a token request with client_id alone is then
    /// tls_client_auth (RFC 8705), checked against the client's
    /// `certificate` in the scenario, and its token is bound to the
    /// certificate.
    #[arg(
        long = "tls.client-ca-file",
        value_name = "FILE",
        requires = "tls_cert_file"
    )]
    pub tls_client_ca_file: Option<PathBuf>,
}

/// Options of the daemon.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The configuration file (YAML); `--config` is accepted too.
    #[arg(long = "config.file", alias = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address of the HTTP server: /metrics, the status page /, /tenants/NAME,
    /// /api/v1/tenants, /-/healthy, /-/ready, POST /-/reload.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// How long probes in flight may take to finish on SIGTERM/SIGINT (a
    /// second signal exits at once).
    #[arg(long = "shutdown.grace", value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// Also reload when the configuration file or a tenant file changes
    /// (including a Kubernetes ConfigMap update). SIGHUP and
    /// `POST /-/reload` always reload.
    #[arg(long = "config.watch")]
    pub config_watch: bool,
    /// How often `--config.watch` looks at the files.
    #[arg(long = "config.watch-interval", value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub config_watch_interval: Duration,
    /// Split the tenants into this many shards (one per replica).
    #[arg(long = "shard.count", value_name = "N", default_value_t = 1)]
    pub shard_count: u32,
    /// Which shard this process is, from 0.
    #[arg(
        long = "shard.index",
        value_name = "I",
        default_value_t = 0,
        conflicts_with = "shard_from_hostname"
    )]
    pub shard_index: u32,
    /// Take the shard index from the host name's ordinal suffix
    /// (`credprobe-3` -> 3), as a StatefulSet pod is named.
    #[arg(long = "shard.from-hostname")]
    pub shard_from_hostname: bool,
    /// TLS, authentication and limits of the HTTP server.
    #[command(flatten)]
    pub web: WebArgs,
}

/// How the HTTP server protects itself and its clients.
#[derive(Debug, Clone, Args)]
pub struct WebArgs {
    /// Web configuration file in the Prometheus exporter-toolkit format:
    /// TLS (tls_server_config: cert_file, key_file, client_auth_type,
    /// client_ca_file, min_version, ...), basic_auth_users (bcrypt hashes)
    /// and http_server_config.headers, applied to every path. Re-read on
    /// reload (SIGHUP, POST /-/reload, --config.watch); the certificate
    /// and key files are re-read by themselves when they change. A broken
    /// file stops start-up (exit 2); on reload it keeps the running one.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Connections the HTTP server keeps open at once; more wait in the
    /// listen queue until one closes.
    #[arg(long = "web.max-connections", value_name = "N", default_value_t = crate::server::DEFAULT_MAX_CONNECTIONS, value_parser = at_least_one)]
    pub max_connections: usize,
    /// How long a client may take to finish the TLS handshake or send a
    /// request's headers, keep an idle connection open, or leave a response
    /// unread.
    #[arg(long = "web.header-read-timeout", value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
}

/// A count below 1 or not a whole number, as clap reports it.
#[derive(Debug, thiserror::Error)]
#[error("expected a whole number of at least 1")]
struct NotACount;

/// A count of 1 or more.
fn at_least_one(text: &str) -> Result<usize, NotACount> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(NotACount),
    }
}

impl WebArgs {
    /// Loads the web configuration file (defaults without one); a broken
    /// file is a [`ConfigError`] naming the file and field.
    pub fn load(&self) -> Result<(WebConfig, ServerLimits), ConfigError> {
        let web = match &self.config_file {
            Some(path) => WebConfig::load(path)?,
            None => WebConfig::default(),
        };
        let limits = ServerLimits {
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout,
        };
        Ok((web, limits))
    }
}

/// The async runtime's size: one thread unless a fleet proves it needs more.
#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// Threads that run the probes and the HTTP server. Probing is waiting
    /// on the network, and the heavy work (rendering /metrics and pages,
    /// loading a configuration, reading credential files) runs on a
    /// separate pool, so one thread keeps up with tens of thousands of
    /// tenants at the least CPU per request; raise it only when
    /// `credprobe_schedule_lateness_seconds` grows while one core is busy.
    #[arg(long = "runtime.threads", value_name = "N", default_value_t = 1, value_parser = at_least_one, global = true)]
    pub threads: usize,
}

impl RuntimeArgs {
    /// The runtime: a current-thread runtime for one thread (no worker to
    /// wake and hand tasks to, which a second idle worker costs on every
    /// event), a multi-thread one otherwise.
    pub fn build(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let mut builder = if self.threads == 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(self.threads);
            builder
        };
        builder.enable_all().build()
    }
}

/// Logging options.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Least severe level logged.
    #[arg(long = "log.level", value_enum, default_value = "info", global = true)]
    pub level: LogLevel,
    /// Line format of the log (stderr).
    #[arg(
        long = "log.format",
        value_enum,
        default_value = "logfmt",
        global = true
    )]
    pub format: LogFormat,
}

/// Parses the process's arguments, runs the command, returns the exit code.
pub fn main() -> ExitCode {
    crate::memory::limit_malloc_arenas();
    let cli = Cli::parse();
    logging::init(cli.log.level, cli.log.format);
    let runtime = match cli.runtime.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("credprobe: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(error) => {
            let config_error = error.chain().any(|e| e.is::<ConfigError>());
            // Plain text, not a log line: a multi-line config report stays readable.
            eprintln!("credprobe: {error:#}");
            if config_error {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => run(cli.run).await,
        Some(Command::Run(args)) => run(args).await,
        Some(Command::CheckConfig {
            config,
            web_config_file,
        }) => {
            let config = check_config(&config);
            let web = web_config_file.as_deref().map(check_web_config);
            Ok(
                if config == ExitCode::SUCCESS && web.is_none_or(|w| w == ExitCode::SUCCESS) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(2)
                },
            )
        }
        Some(Command::Probe {
            config,
            tenant,
            phases,
        }) => crate::report::probe_once(&config, &tenant, phases).await,
        #[cfg(feature = "demo")]
        Some(Command::Demo { listen, web }) => {
            let controls = signal_controls()?;
            let (web, limits) = web.load()?;
            crate::demo::run(listen, web, limits, controls).await?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "demo")]
        Some(Command::Simulate {
            listen,
            scenario,
            tls,
        }) => simulate(listen, scenario, tls).await,
    }
}

/// Signal handling first, so a SIGHUP during start-up is not fatal.
fn signal_controls() -> anyhow::Result<Controls> {
    let controls = Controls::new(CancellationToken::new());
    crate::daemon::signals::install(controls.shutdown.clone(), controls.reload_sender.clone())
        .context("cannot install signal handlers")?;
    Ok(controls)
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let controls = signal_controls()?;
    let Some(path) = args.config.clone() else {
        eprintln!("credprobe: --config.file FILE is required (see credprobe --help)");
        return Ok(ExitCode::from(2));
    };
    let shard = match shard_of(&args) {
        Ok(shard) => shard,
        Err(error) => {
            eprintln!("credprobe: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    // Only this shard's tenants are kept, and only their files read.
    let config = config::load_with(
        &path,
        &config::LoadOptions {
            shard,
            ..config::LoadOptions::default()
        },
    )?;
    let (web, limits) = args.web.load()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let options = DaemonOptions {
        shutdown_grace: args.shutdown_grace,
        watch: args.config_watch.then_some(args.config_watch_interval),
        shard,
        web,
        limits,
    };
    daemon::run(
        ConfigSource::File(path),
        config,
        listener,
        options,
        controls,
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

fn shard_of(args: &RunArgs) -> Result<Shard, ShardError> {
    let index = if args.shard_from_hostname {
        let name = crate::shard::hostname().unwrap_or_default();
        crate::shard::ordinal_from_hostname(&name)?
    } else {
        args.shard_index
    };
    Shard::new(index, args.shard_count)
}

/// Every problem, then every warning (which alone do not fail the check).
fn check_config(path: &Path) -> ExitCode {
    let options = config::LoadOptions {
        log_warnings: false,
        ..config::LoadOptions::default()
    };
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match config::load_with(path, &options) {
        Ok(config) => {
            for warning in &config.warnings {
                eprintln!("warning: {warning}");
            }
            let endpoints: usize = config.tenants.iter().map(|t| t.endpoints.len()).sum();
            let warnings = match config.warnings.len() {
                0 => String::new(),
                n => format!(", {}", plural(n, "warning")),
            };
            println!(
                "{}: OK, {}, {}{warnings}",
                path.display(),
                plural(config.tenants.len(), "tenant"),
                plural(endpoints, "endpoint")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            for warning in &error.warnings {
                eprintln!("warning: {warning}");
            }
            ExitCode::from(2)
        }
    }
}

fn check_web_config(path: &Path) -> ExitCode {
    match WebConfig::load(path) {
        Ok(web) => {
            println!("{}: OK, {}", path.display(), web.describe());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(2)
        }
    }
}

#[cfg(feature = "demo")]
async fn simulate(
    listen: SocketAddr,
    scenario: Option<PathBuf>,
    tls: SimulateTlsArgs,
) -> anyhow::Result<ExitCode> {
    let controls = signal_controls()?;
    let scenario = match scenario {
        Some(path) => Scenario::from_yaml_file(&path)?,
        None => Scenario::demo(),
    };
    let pem = |flag: &str, path: &Path| {
        crate::bounded_file::read_to_string(path, crate::bounded_file::PEM_LIMIT)
            .with_context(|| format!("{flag} {}", path.display()))
    };
    let tls = match (&tls.tls_cert_file, &tls.tls_key_file) {
        (Some(cert), Some(key)) => Some(ServeTls {
            cert_pem: pem("--tls.cert-file", cert)?,
            key_pem: pem("--tls.key-file", key)?,
            client_ca_pem: tls
                .tls_client_ca_file
                .as_deref()
                .map(|ca| pem("--tls.client-ca-file", ca))
                .transpose()?,
        }),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let stop = controls.shutdown.clone();
    credprobe_simulator::run(
        listener,
        scenario,
        tls,
        async move { stop.cancelled().await },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
