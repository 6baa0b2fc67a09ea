//! Process signals, installed before anything else so that a SIGHUP during
//! start-up cannot kill the process: SIGHUP asks for a reload, the first
//! SIGTERM or SIGINT starts a graceful shutdown, a second one exits at once.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::reload::ReloadRequest;

/// Installs the handlers; signals are read on a thread of their own and
/// turned into a cancelled `shutdown` token or a reload request.
pub fn install(
    shutdown: CancellationToken,
    reloads: mpsc::Sender<ReloadRequest>,
) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGHUP, SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("credprobe-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGHUP => {
                        tracing::info!("SIGHUP received; reloading the configuration");
                        // A full queue already holds a pending reload.
                        let _ = reloads.try_send(ReloadRequest { reply: None });
                    }
                    _ if shutdown.is_cancelled() => {
                        eprintln!("credprobe: second signal; exiting now");
                        std::process::exit(128 + signal);
                    }
                    _ => {
                        let name = if signal == SIGTERM {
                            "SIGTERM"
                        } else {
                            "SIGINT"
                        };
                        tracing::info!(
                            signal = name,
                            "shutting down; a second signal exits at once"
                        );
                        shutdown.cancel();
                    }
                }
            }
        })?;
    Ok(())
}
