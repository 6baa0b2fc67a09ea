//! The long-running daemon: the scheduler probing every tenant and the
//! server exporting what it saw, reloading its configuration on request,
//! until shutdown.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::fleet::Fleet;
use crate::metrics::{Exposition, Telemetry};
use crate::probe::Transport;
use crate::reload::{ReloadOutcome, ReloadRequest};
use crate::scheduler::{ProbeContext, Scheduler};
use crate::server::{self, ServerState};
use crate::shard::Shard;

/// Settings of the daemon that are not in the configuration file.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// How long in-flight probes may take to finish on shutdown.
    pub shutdown_grace: Duration,
    /// Poll the configuration files this often and reload on change.
    pub watch: Option<Duration>,
    /// Which tenants this process probes.
    pub shard: Shard,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            shutdown_grace: Duration::from_secs(10),
            watch: None,
            shard: Shard::ALL,
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
    config: Config,
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
    };
    let mut scheduler = Scheduler::new(ctx);
    let summary = scheduler.apply(&config).await;
    tracing::info!(
        config = %config.source.display(),
        tenants = summary.added.len(),
        configured,
        shard = options.shard.index,
        shards = options.shard.count,
        listen = %listener.local_addr()?,
        "credprobe started"
    );

    let server_stop = CancellationToken::new();
    let reload = match &source {
        ConfigSource::File(_) => Some(controls.reload_sender.clone()),
        ConfigSource::Fixed => None,
    };
    let server = tokio::spawn(server::serve(
        listener,
        ServerState {
            exposition: Exposition::new(Arc::clone(&fleet), Arc::clone(&telemetry)),
            fleet,
            reload,
        },
        server_stop.clone(),
    ));
    if let (Some(every), ConfigSource::File(_)) = (options.watch, &source) {
        tokio::spawn(watch(
            config.source.clone(),
            config.tenant_file_patterns.clone(),
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
                let outcome = reload_once(&source, options.shard, &mut running, &mut scheduler, &telemetry).await;
                if let Some(reply) = request.reply {
                    let _ = reply.send(outcome);
                }
            }
        }
    }

    tracing::info!("shutting down: no new probes; waiting for probes in flight");
    scheduler.shutdown(options.shutdown_grace).await;
    server_stop.cancel();
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(result)) => result?,
        Ok(Err(join)) => return Err(join.into()),
        Err(_) => tracing::warn!("server did not close within 5s"),
    }
    tracing::info!("credprobe stopped");
    Ok(())
}

/// Loads the configuration again and, only if it is valid, applies it.
async fn reload_once(
    source: &ConfigSource,
    shard: Shard,
    running: &mut Config,
    scheduler: &mut Scheduler,
    telemetry: &Telemetry,
) -> ReloadOutcome {
    let ConfigSource::File(path) = source else {
        return ReloadOutcome::NoFile;
    };
    let path = path.clone();
    let load_options = config::LoadOptions {
        shard,
        ..config::LoadOptions::default()
    };
    let loaded =
        match tokio::task::spawn_blocking(move || config::load_with(&path, &load_options)).await {
            Ok(loaded) => loaded,
            Err(error) => {
                telemetry.config_loaded(false);
                tracing::error!(%error, "reload failed; the running configuration stays in force");
                return ReloadOutcome::Failed(error.to_string());
            }
        };
    let config = match loaded {
        Ok(config) => config,
        Err(error) => {
            telemetry.config_loaded(false);
            tracing::error!("reload failed; the running configuration stays in force: {error}");
            return ReloadOutcome::Rejected(error);
        }
    };
    if config.histogram_buckets != running.histogram_buckets {
        tracing::warn!("histogram_buckets changed: takes effect at the next restart");
    }
    if config.max_concurrent_requests != running.max_concurrent_requests {
        tracing::warn!("max_concurrent_requests changed: takes effect at the next restart");
    }
    let summary = scheduler.apply(&config).await;
    telemetry.config_loaded(true);
    tracing::info!(
        added = summary.added.len(),
        removed = summary.removed.len(),
        changed = summary.changed.len(),
        unchanged = summary.unchanged,
        "configuration reloaded"
    );
    *running = config;
    ReloadOutcome::Applied(summary)
}

/// Polls the configuration file and the tenant files and asks for a reload
/// when any changed. Metadata is read through symlinks, so Kubernetes'
/// ConfigMap update (an atomic swap of the `..data` symlink) is seen even
/// though the path itself never changes.
async fn watch(
    main: PathBuf,
    patterns: Vec<String>,
    every: Duration,
    reloads: mpsc::Sender<ReloadRequest>,
    shutdown: CancellationToken,
) {
    let stamp = |main: PathBuf, patterns: Vec<String>| async move {
        tokio::task::spawn_blocking(move || files_stamp(&main, &patterns))
            .await
            .unwrap_or_default()
    };
    let mut last = stamp(main.clone(), patterns.clone()).await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let now = stamp(main.clone(), patterns.clone()).await;
        if now != last {
            tracing::info!(config = %main.display(), "configuration files changed; reloading");
            last = now;
            if reloads.send(ReloadRequest { reply: None }).await.is_err() {
                return;
            }
        }
    }
}

/// A hash of the identity, size and modification time of every file the
/// configuration is made of (and of which files match the patterns).
fn files_stamp(main: &Path, patterns: &[String]) -> u64 {
    let mut hasher = DefaultHasher::new();
    let mut add = |path: &Path| {
        path.hash(&mut hasher);
        if let Ok(meta) = std::fs::metadata(path) {
            (meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec()).hash(&mut hasher);
        }
    };
    add(main);
    for pattern in patterns {
        if let Ok(paths) = glob::glob(pattern) {
            let mut files: Vec<PathBuf> = paths.flatten().collect();
            files.sort();
            for file in files {
                add(&file);
            }
        }
    }
    hasher.finish()
}
