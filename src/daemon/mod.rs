//! The long-running daemon: the scheduler probing every tenant and the
//! server exporting what it saw, reloading its configuration (and the web
//! configuration) on request, until shutdown. Its lifecycle lives here:
//!
//! - [`scheduler`]: one task per tenant, the reload diff, shutdown.
//! - [`inventory`]: the Entra credential inventory's hourly task beside a
//!   tenant's.
//! - [`crate::reload`] (below the daemon and the server): what a reload
//!   request carries and answers, and a failed reload kept.
//! - [`config_watch`]: `--config.watch`, polling the configuration files.
//! - [`signals`]: SIGHUP reloads, SIGTERM/SIGINT shut down.

pub mod config_watch;
pub mod inventory;
pub mod scheduler;
pub mod signals;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, ConfigError};
use crate::daemon::scheduler::{ProbeContext, Scheduler};
use crate::fleet::Fleet;
use crate::metrics::{Exposition, Telemetry};
use crate::probe::Transport;
use crate::reload::{
    FailedReload, LOGGED_NAMES, ReloadOutcome, ReloadRequest, ReloadStatus, Reloaded, bounded_names,
};
use crate::server::{self, ServerLimits, ServerState};
use crate::shard::Shard;
use crate::watched_file::Refresher;
use crate::web_config::WebConfig;
use config_watch::WatchList;

/// Settings of the daemon that are not in the configuration file.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// How long in-flight probes may take to finish on shutdown.
    pub shutdown_grace: Duration,
    /// Poll the configuration files this often and reload on change.
    pub watch: Option<Duration>,
    /// Which tenants this process probes.
    pub shard: Shard,
    /// How the HTTP server serves (TLS, users, headers), as loaded at
    /// start; reloaded from its `source` file with the configuration.
    pub web: WebConfig,
    /// Bounds on the HTTP server's clients.
    pub limits: ServerLimits,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            shutdown_grace: Duration::from_secs(10),
            watch: None,
            shard: Shard::ALL,
            web: WebConfig::default(),
            limits: ServerLimits::default(),
        }
    }
}

/// Where the configuration comes from, so it can be loaded again.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// A file (and the tenant files it names).
    File(PathBuf),
    /// Built in memory (the demo): nothing to reload.
    Fixed,
}

/// What the daemon is told from outside while it runs.
#[derive(Debug)]
pub struct Controls {
    /// Cancelled to stop: no new probes, in-flight ones finish within the
    /// grace period, the server closes.
    pub shutdown: CancellationToken,
    /// Reload requests (SIGHUP); more come from `/-/reload` and the watch.
    pub reloads: mpsc::Receiver<ReloadRequest>,
    /// A sender of the same channel, handed to the server and the watch.
    pub reload_sender: mpsc::Sender<ReloadRequest>,
}

impl Controls {
    /// Controls with a fresh reload channel.
    pub fn new(shutdown: CancellationToken) -> Controls {
        let (reload_sender, reloads) = mpsc::channel(16);
        Controls {
            shutdown,
            reloads,
            reload_sender,
        }
    }
}

/// Probes `config`'s tenants and serves `/metrics` on `listener` until
/// shutdown; reloads from `source` on request.
pub async fn run(
    source: ConfigSource,
    mut config: Config,
    listener: tokio::net::TcpListener,
    options: DaemonOptions,
    mut controls: Controls,
) -> anyhow::Result<()> {
    let configured = config.configured;
    let fleet = Fleet::new(&config.histogram_buckets);
    let telemetry = Arc::new(Telemetry::new());
    telemetry.config_loaded(true);
    telemetry.set_shard(options.shard);
    let ctx = ProbeContext {
        transport: Transport::new(config.max_concurrent_requests),
        fleet: Arc::clone(&fleet),
        telemetry: Arc::clone(&telemetry),
        files: Refresher::new(),
    };
    let files_stop = CancellationToken::new();
    tokio::spawn(ctx.files.clone().run(files_stop.clone()));
    let mut scheduler = Scheduler::new(ctx);
    let summary = scheduler.apply(&mut config).await;
    tracing::info!(
        config = %config.source.display(),
        tenants = summary.added.len(),
        configured,
        shard = options.shard.index,
        shards = options.shard.count,
        listen = %listener.local_addr()?,
        web = %options.web.describe(),
        max_connections = options.limits.max_connections,
        // As the runtime reports it (`--runtime.threads`): 1 is the
        // current-thread runtime.
        runtime_threads = tokio::runtime::Handle::current().metrics().num_workers(),
        "credprobe started"
    );

    let web_source = options.web.source.clone();
    let (web, web_current) = watch::channel(Arc::new(options.web.clone()));
    let server_stop = CancellationToken::new();
    let reloadable = matches!(source, ConfigSource::File(_)) || web_source.is_some();
    let reload_status = Arc::new(ReloadStatus::default());
    let server = tokio::spawn(server::serve(
        listener,
        ServerState {
            exposition: Exposition::new(Arc::clone(&fleet), Arc::clone(&telemetry)),
            fleet,
            reload: reloadable.then(|| controls.reload_sender.clone()),
            reload_status: Arc::clone(&reload_status),
        },
        web_current,
        options.limits,
        server_stop.clone(),
    ));
    let watched = |config: &Config, web: &WebConfig| {
        WatchList::of(
            matches!(source, ConfigSource::File(_)).then_some(config),
            web,
        )
    };
    let (watch_list, watch_list_current) = watch::channel(watched(&config, &options.web));
    if let (Some(every), true) = (options.watch, reloadable) {
        tokio::spawn(config_watch::run(
            watch_list_current,
            every,
            controls.reload_sender.clone(),
            controls.shutdown.clone(),
        ));
    }

    let mut running = config;
    loop {
        tokio::select! {
            _ = controls.shutdown.cancelled() => break,
            Some(request) = controls.reloads.recv() => {
                let outcome = reload_once(
                    &source,
                    web_source.as_deref(),
                    &web,
                    options.shard,
                    &mut running,
                    &mut scheduler,
                    &telemetry,
                )
                .await;
                match &outcome {
                    ReloadOutcome::Applied(_) => reload_status.succeeded(),
                    ReloadOutcome::Rejected(error) => {
                        let failure = FailedReload::rejected(error, SystemTime::now());
                        failure.log();
                        reload_status.failed(failure);
                    }
                    ReloadOutcome::Failed(message) => {
                        let failure = FailedReload::failed(message.clone(), SystemTime::now());
                        failure.log();
                        reload_status.failed(failure);
                    }
                    ReloadOutcome::NoFile => {}
                }
                // A reload may change the tenant_files patterns or the web
                // configuration's files: the watch follows.
                watch_list.send_if_modified(|list| {
                    let now = watched(&running, &web.borrow());
                    let changed = *list != now;
                    *list = now;
                    changed
                });
                if let Some(reply) = request.reply {
                    let _ = reply.send(outcome);
                }
            }
        }
    }

    tracing::info!("shutting down: no new probes; waiting for probes in flight");
    scheduler.shutdown(options.shutdown_grace).await;
    files_stop.cancel();
    server_stop.cancel();
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(result)) => result?,
        Ok(Err(join)) => return Err(join.into()),
        Err(_) => tracing::warn!("server did not close within 5s"),
    }
    tracing::info!("credprobe stopped");
    Ok(())
}

/// Loads the configuration and the web configuration again and, only if
/// both are valid, applies them: the tenants' diff to the scheduler, the
/// web configuration to the server (TLS for new connections, users and
/// headers for every request).
async fn reload_once(
    source: &ConfigSource,
    web_source: Option<&Path>,
    web: &watch::Sender<Arc<WebConfig>>,
    shard: Shard,
    running: &mut Config,
    scheduler: &mut Scheduler,
    telemetry: &Telemetry,
) -> ReloadOutcome {
    let main = match source {
        ConfigSource::File(path) => Some(path.clone()),
        ConfigSource::Fixed => None,
    };
    if main.is_none() && web_source.is_none() {
        return ReloadOutcome::NoFile;
    }
    let web_path = web_source.map(Path::to_owned);
    let loaded =
        tokio::task::spawn_blocking(move || load_both(main.as_deref(), web_path.as_deref(), shard))
            .await;
    let (config, new_web) = match loaded {
        Ok(Ok(both)) => both,
        // Logged, and kept for the pages, by the caller.
        Ok(Err(error)) => {
            telemetry.config_loaded(false);
            return ReloadOutcome::Rejected(error);
        }
        Err(error) => {
            telemetry.config_loaded(false);
            return ReloadOutcome::Failed(error.to_string());
        }
    };
    let probes = match config {
        Some(config) => Some(apply_config(config, running, scheduler).await),
        None => None,
    };
    let web_config = new_web.and_then(|new_web| {
        let path = new_web.source.clone();
        tracing::info!(web = %new_web.describe(), "web configuration reloaded");
        web.send_replace(Arc::new(new_web));
        path
    });
    telemetry.config_loaded(true);
    ReloadOutcome::Applied(Reloaded { probes, web_config })
}

/// Both files, every problem of both reported together; of the tenants,
/// only `shard`'s are kept (and only their files read).
fn load_both(
    main: Option<&Path>,
    web: Option<&Path>,
    shard: Shard,
) -> Result<(Option<Config>, Option<WebConfig>), ConfigError> {
    let options = config::LoadOptions {
        shard,
        ..config::LoadOptions::default()
    };
    let config = main
        .map(|main| config::load_with(main, &options))
        .transpose();
    let web = web.map(WebConfig::load).transpose();
    match (config, web) {
        (Ok(config), Ok(web)) => Ok((config, web)),
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => Err(error),
        (Err(mut first), Err(second)) => {
            first.problems.extend(second.problems);
            Err(first)
        }
    }
}

/// Hands a new valid configuration to the scheduler.
async fn apply_config(
    mut config: Config,
    running: &mut Config,
    scheduler: &mut Scheduler,
) -> crate::reload::ApplySummary {
    if config.histogram_buckets != running.histogram_buckets {
        tracing::warn!("histogram_buckets changed: takes effect at the next restart");
    }
    if config.max_concurrent_requests != running.max_concurrent_requests {
        tracing::warn!("max_concurrent_requests changed: takes effect at the next restart");
    }
    let summary = scheduler.apply(&mut config).await;
    // The names of what changed, each list bounded.
    let added = bounded_names(&summary.added, LOGGED_NAMES);
    let removed = bounded_names(&summary.removed, LOGGED_NAMES);
    let changed = bounded_names(&summary.changed, LOGGED_NAMES);
    tracing::info!(
        added = summary.added.len(),
        removed = summary.removed.len(),
        changed = summary.changed.len(),
        unchanged = summary.unchanged,
        added_tenants = added.as_deref(),
        removed_tenants = removed.as_deref(),
        changed_tenants = changed.as_deref(),
        "configuration reloaded"
    );
    *running = config;
    summary
}
