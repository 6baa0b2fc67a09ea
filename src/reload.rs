//! Asking the daemon to load its configuration again, and what came of
//! it: shared by the signal handler, the file watch and `POST /-/reload`.

use std::fmt;

use tokio::sync::oneshot;

use crate::config::ConfigError;
use crate::scheduler::ApplySummary;

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
    Applied(ApplySummary),
    /// The new configuration is invalid; the running one stays in force.
    Rejected(ConfigError),
    /// The process has no configuration file to reload from (the demo).
    NoFile,
    /// Loading failed for a reason that is not the configuration's (the
    /// loader itself failed); the running configuration stays.
    Failed(String),
}

impl fmt::Display for ReloadOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadOutcome::Applied(summary) => write!(f, "{summary}"),
            ReloadOutcome::Rejected(error) => write!(f, "{error}"),
            ReloadOutcome::NoFile => {
                f.write_str("this process has no configuration file to reload")
            }
            ReloadOutcome::Failed(error) => write!(f, "reload failed: {error}"),
        }
    }
}
