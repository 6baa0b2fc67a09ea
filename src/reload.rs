//! Asking the daemon to load its configuration again, and what came of
//! it: shared by the signal handler, the file watch and `POST /-/reload`,
//! and by the pages and JSON that show a failed reload. It sits below both
//! the daemon (which reloads) and the server (which asks and shows), so
//! neither reaches into the other for these messages.
//! A reload reads the main configuration and the web configuration
//! (`--web.config.file`) together: both apply, or neither does.
//!
//! A reload that fails is kept ([`ReloadStatus`], a [`FailedReload`]:
//! when, and every problem) until one succeeds, so the status pages and
//! their JSON say the running configuration is not the one on disk.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::oneshot;

use crate::config::{ConfigError, ConfigProblem};
use crate::unix_time::unix_seconds;

/// At most this many tenant names per list in the log line of a reload
/// (then "and N more"): a reload that adds a thousand tenants stays one
/// readable line.
pub const LOGGED_NAMES: usize = 20;

/// How a configuration was applied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplySummary {
    /// Tenants started.
    pub added: Vec<String>,
    /// Tenants stopped.
    pub removed: Vec<String>,
    /// Tenants restarted with new settings.
    pub changed: Vec<String>,
    /// Tenants left running as they were.
    pub unchanged: usize,
}

impl fmt::Display for ApplySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |names: &[String]| {
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", names.join(", "))
            }
        };
        write!(
            f,
            "reloaded: {} added{}, {} removed{}, {} changed{}, {} unchanged",
            self.added.len(),
            list(&self.added),
            self.removed.len(),
            list(&self.removed),
            self.changed.len(),
            list(&self.changed),
            self.unchanged
        )
    }
}

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
            ReloadOutcome::Rejected(error) => write!(
                f,
                "reload failed; the running configuration stays in force: {error}"
            ),
            ReloadOutcome::NoFile => {
                f.write_str("this process has no configuration file to reload")
            }
            ReloadOutcome::Failed(error) => write!(f, "reload failed: {error}"),
        }
    }
}

/// One problem of a failed reload, as the pages and the JSON show it:
/// where (file, line, tenant, field, when known) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadProblem {
    /// The file it is in; `null` when the loader itself failed.
    pub file: Option<String>,
    /// The 1-based line in that file, when known.
    pub line: Option<usize>,
    /// The tenant it concerns, if any.
    pub tenant: Option<String>,
    /// The field (dotted path), if known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl From<&ConfigProblem> for ReloadProblem {
    fn from(problem: &ConfigProblem) -> ReloadProblem {
        ReloadProblem {
            file: Some(problem.file.display().to_string()),
            line: problem.line,
            tenant: problem.tenant.clone(),
            field: problem.field.clone(),
            message: problem.message.clone(),
        }
    }
}

impl fmt::Display for ReloadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(tenant) = &self.tenant {
            write!(f, "tenant {tenant}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A reload that failed: when, and every problem it found (`failed_reload`
/// in the JSON, the banner on the pages).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedReload {
    /// When it failed (unix seconds).
    pub failed_at: f64,
    /// Every problem, in the order they were found.
    pub problems: Vec<ReloadProblem>,
}

impl FailedReload {
    /// A reload refused for `error`'s problems, at `at`.
    pub fn rejected(error: &ConfigError, at: SystemTime) -> FailedReload {
        FailedReload {
            failed_at: unix_seconds(at),
            problems: error.problems.iter().map(ReloadProblem::from).collect(),
        }
    }

    /// A reload whose loading itself failed (not the configuration's
    /// fault), at `at`.
    pub fn failed(message: String, at: SystemTime) -> FailedReload {
        FailedReload {
            failed_at: unix_seconds(at),
            problems: vec![ReloadProblem {
                file: None,
                line: None,
                tenant: None,
                field: None,
                message,
            }],
        }
    }

    /// Logs it: one error line per problem (file, tenant, field and what,
    /// as the reload's HTTP answer says it; the tenant also as a field of
    /// its own), then one saying the reload failed and how many problems
    /// it found: last, so whoever waits for that line has them all (as a
    /// compiler ends with "aborting due to N errors").
    pub fn log(&self) {
        for problem in &self.problems {
            tracing::error!(
                tenant = problem.tenant.as_deref(),
                "reload problem: {problem}"
            );
        }
        tracing::error!(
            problems = self.problems.len(),
            "reload failed; the running configuration stays in force"
        );
    }
}

/// The last failed reload, kept until a reload succeeds: written by the
/// daemon's reload loop, read by every page and JSON answer. Shared, and
/// locked only to swap or clone an [`Arc`].
#[derive(Debug, Default)]
pub struct ReloadStatus(Mutex<Option<Arc<FailedReload>>>);

impl ReloadStatus {
    /// A reload failed: the pages say so until one succeeds.
    pub fn failed(&self, failure: FailedReload) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(failure));
    }

    /// A reload succeeded: the running configuration is the one on disk.
    pub fn succeeded(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The failed reload not followed by a successful one, if any.
    pub fn last_failure(&self) -> Option<Arc<FailedReload>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `names` for a log line: at most `limit` of them, comma-separated, then
/// "and N more"; `None` when there are none (the field is left out).
pub fn bounded_names(names: &[String], limit: usize) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let shown = names.len().min(limit);
    let mut text = names[..shown].join(", ");
    if names.len() > shown {
        text.push_str(&format!(" and {} more", names.len() - shown));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    #[test]
    fn names_are_bounded_with_how_many_more() {
        let names: Vec<String> = (1..=23).map(|i| format!("t{i}")).collect();
        assert_eq!(bounded_names(&[], 20), None);
        assert_eq!(bounded_names(&names[..2], 20).as_deref(), Some("t1, t2"));
        let long = bounded_names(&names, 20).unwrap();
        assert!(long.starts_with("t1, t2, "), "{long}");
        assert!(long.ends_with("t19, t20 and 3 more"), "{long}");
        assert_eq!(
            bounded_names(&names[..20], 20)
                .unwrap()
                .matches(", ")
                .count(),
            19
        );
    }

    #[test]
    fn a_failed_reload_is_kept_with_every_problem_until_one_succeeds() {
        let status = ReloadStatus::default();
        assert_eq!(status.last_failure(), None);
        let mut error = ConfigError::file(Path::new("/etc/credprobe.yml"), "not YAML");
        error.problems.push(ConfigProblem {
            file: "/etc/tenants.d/acme.yml".into(),
            line: Some(3),
            tenant: Some("acme".into()),
            field: Some("nexthink.region".into()),
            message: "unknown region \"mars\"".into(),
        });
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        status.failed(FailedReload::rejected(&error, at));
        let failure = status.last_failure().expect("kept");
        assert_eq!(failure.failed_at, 1_700_000_000.0);
        let lines: Vec<String> = failure.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "/etc/credprobe.yml: not YAML",
                "/etc/tenants.d/acme.yml:3: tenant acme: nexthink.region: unknown region \"mars\"",
            ]
        );
        status.succeeded();
        assert_eq!(status.last_failure(), None);
    }
}
