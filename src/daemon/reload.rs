//! Asking the daemon to load its configuration again, and what came of
//! it: shared by the signal handler, the file watch and `POST /-/reload`.
//! A reload reads the main configuration and the web configuration
//! (`--web.config.file`) together: both apply, or neither does.

use std::fmt;
use std::path::PathBuf;

use tokio::sync::oneshot;

use crate::config::ConfigError;
use crate::daemon::scheduler::ApplySummary;

/// A request to reload the configuration.
#[derive(Debug)]
pub struct ReloadRequest {
    /// Receives the outcome; `None` for a SIGHUP or a file change.
    pub reply: Option<oneshot::Sender<ReloadOutcome>>,
}

/// What a reload did.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The new configuration runs.
    Applied(Reloaded),
    /// The new main or web configuration is invalid; both running ones
    /// stay in force.
    Rejected(ConfigError),
    /// The process has neither a configuration file nor a web
    /// configuration file to reload from (the demo).
    NoFile,
    /// Loading failed for a reason that is not the configuration's (the
    /// loader itself failed); the running configuration stays.
    Failed(String),
}

/// What an applied reload changed.
#[derive(Debug)]
pub struct Reloaded {
    /// The tenants' diff; `None` when the probes' configuration is not
    /// from a file (the demo).
    pub probes: Option<ApplySummary>,
    /// The web configuration file read again: its TLS settings apply to
    /// new connections, its users and headers to every request.
    pub web_config: Option<PathBuf>,
}

impl fmt::Display for Reloaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(summary) = &self.probes {
            parts.push(summary.to_string());
        }
        if let Some(path) = &self.web_config {
            parts.push(format!("web configuration {} reloaded", path.display()));
        }
        f.write_str(&parts.join("; "))
    }
}

impl fmt::Display for ReloadOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadOutcome::Applied(reloaded) => write!(f, "{reloaded}"),
            ReloadOutcome::Rejected(error) => write!(f, "{error}"),
            ReloadOutcome::NoFile => {
                f.write_str("this process has no configuration file to reload")
            }
            ReloadOutcome::Failed(error) => write!(f, "reload failed: {error}"),
        }
    }
}
