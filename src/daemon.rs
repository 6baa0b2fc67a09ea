//! The long-running daemon: the scheduler probing every tenant and the
//! server exporting what it saw, until shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::probe::Transport;
use crate::scheduler::{ProbeContext, Scheduler};
use crate::server::{self, ServerState};
use crate::status::StatusBoard;

/// Settings of the daemon that are not in the configuration file.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// How long in-flight probes may take to finish on shutdown.
    pub shutdown_grace: Duration,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Probes `config`'s tenants and serves `/metrics` on `listener` until
/// `shutdown` is cancelled; then stops scheduling, lets in-flight probes
/// finish within the grace period, and closes the server.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    options: DaemonOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let metrics = Metrics::new(&config.histogram_buckets);
    metrics.config_loaded(true);
    let status = Arc::new(StatusBoard::default());
    let ctx = ProbeContext {
        transport: Transport::new(config.max_concurrent_requests),
        metrics: Arc::clone(&metrics),
        status: Arc::clone(&status),
    };
    let mut scheduler = Scheduler::new(ctx);
    let summary = scheduler.apply(&config).await;
    tracing::info!(
        config = %config.source.display(),
        tenants = summary.added.len(),
        listen = %listener.local_addr()?,
        "credprobe started"
    );

    let server_stop = CancellationToken::new();
    let server = tokio::spawn(server::serve(
        listener,
        ServerState { metrics, status },
        server_stop.clone(),
    ));

    shutdown.cancelled().await;
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
