//! The context of one tenant's validation: where its problems go (with
//! the tenant's file and name) and what its endpoints inherit. The checks
//! of each part (`tenant`, `targets`, `credential`, `endpoint`) extend it.

use std::path::Path;
use std::time::Duration;

use crate::config::Problems;
use crate::config::locate::key_path;

/// Validation of one tenant, with where its problems go.
pub(super) struct TenantCheck<'a> {
    /// The file that defines the tenant.
    pub(super) file: &'a Path,
    /// Where the tenant is in that file (`tenants[3]`; empty for a file
    /// that is one tenant), so its problems can name their lines.
    pub(super) at: &'a str,
    /// The tenant's name as written.
    pub(super) tenant: &'a str,
    /// Where problems are collected.
    pub(super) problems: &'a mut Problems,
    /// The defining file's folder: relative secret and CA paths resolve
    /// against it, so a tenant file can name files beside it.
    pub(super) base_dir: &'a Path,
    /// Whether the tenant's secret, key and CA files are read: only for
    /// the tenants this process probes (another shard's are checked for
    /// everything but their files).
    pub(super) read_files: bool,
}

/// A tenant's time and size limits, resolved against `defaults:`; its
/// endpoints inherit them.
pub(super) struct Timing {
    /// Time between two cycles.
    pub(super) interval: Duration,
    /// Bound on one request.
    pub(super) timeout: Duration,
    /// Largest endpoint response body read.
    pub(super) max_body_bytes: usize,
    /// Largest token response body read.
    pub(super) max_token_body_bytes: usize,
}

impl TenantCheck<'_> {
    /// Records a problem of this tenant at `field`.
    pub(super) fn problem(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        let at = key_path(self.at, &field);
        self.problems
            .push_in(self.file, at, Some(self.tenant), field, message);
    }

    /// Records a warning of this tenant at `field`: a risk that does not
    /// stop the tenant from being probed.
    pub(super) fn warning(&mut self, field: &str, message: impl Into<String>) {
        let at = key_path(self.at, field);
        self.problems
            .warn_in(self.file, at, Some(self.tenant), field, message);
    }
}
