//! The second stage: raw YAML structs in, a checked [`Config`] out, with
//! every problem collected and reported at once.
//!
//! - this file: reading the main file, the settings that belong to it
//!   (`defaults`, `max_concurrent_requests`, `histogram_buckets`), unique
//!   tenant names, and the assembled [`Config`];
//! - `files`: the tenant files matched by `tenant_files`;
//! - `check`: where one tenant's problems go, and what its endpoints
//!   inherit;
//! - `tenant`: one tenant: identity, labels, timing, token form;
//! - `targets`: where a tenant's requests go: URLs, the Nexthink preset,
//!   proxy and CA;
//! - `credential`: the client id, where the secret comes from, and when it
//!   expires;
//! - `client_auth`: what each `client_auth` method needs (secret, key,
//!   certificate) and the settings of other methods refused;
//! - `endpoint`: a tenant's endpoints and their expectations;
//! - `rules`: the small rules several levels share (names, the minimum
//!   interval, the timeout-below-interval rule);
//! - `tests`: the loader, case by case.

mod check;
mod client_auth;
mod credential;
mod endpoint;
mod files;
mod rules;
mod targets;
mod tenant;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::raw::{RawConfig, RawDefaults, RawTenant};
use super::{
    Config, ConfigError, ConfigProblem, DEFAULT_HISTOGRAM_BUCKETS, DEFAULT_INTERVAL,
    DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_TIMEOUT, Tenant,
};
use check::TenantCheck;

/// The shortest interval accepted: probing faster than this is abuse of the
/// upstream, not monitoring.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Knobs of loading that are not part of the files.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Log a warning for each inline `client_secret` (off for the demo,
    /// whose secrets are fake).
    pub warn_inline_secrets: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            warn_inline_secrets: true,
        }
    }
}

/// Loads and validates the configuration rooted at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, &LoadOptions::default())
}

/// [`load`] with explicit options.
pub fn load_with(path: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| ConfigError::file(path, format!("cannot read: {error}")))?;
    load_str(&text, path, options)
}

/// Validates configuration text as if it had been read from `path`
/// (`tenant_files` resolve against its folder; a relative secret or CA
/// file against the folder of the file that names it).
pub fn load_str(text: &str, path: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        serde_norway::from_str(text).map_err(|error| ConfigError::file(path, error.to_string()))?
    };
    let mut problems = Problems::default();
    let base_dir = path.parent().unwrap_or(Path::new(".")).to_owned();

    let mut sources: Vec<(PathBuf, RawTenant)> = raw
        .tenants
        .iter()
        .cloned()
        .map(|t| (path.to_owned(), t))
        .collect();
    let mut tenant_file_patterns = Vec::new();
    for pattern in &raw.tenant_files {
        let full = files::resolve_pattern(&base_dir, pattern);
        files::read_tenant_files(&full, pattern, path, &mut sources, &mut problems);
        tenant_file_patterns.push(full);
    }

    check_defaults(&raw.defaults, path, &mut problems);
    let max_concurrent_requests = max_concurrent_requests(&raw, path, &mut problems);
    let histogram_buckets = histogram_buckets(&raw, path, &mut problems);
    let tenants = tenants(&sources, &raw.defaults, options, &mut problems);

    if !problems.0.is_empty() {
        return Err(ConfigError {
            problems: problems.0,
        });
    }
    Ok(Config {
        source: path.to_owned(),
        tenants,
        max_concurrent_requests,
        histogram_buckets,
        tenant_file_patterns,
    })
}

/// Problems found so far.
#[derive(Default)]
struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn push(
        &mut self,
        file: &Path,
        tenant: Option<&str>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        let field: String = field.into();
        self.0.push(ConfigProblem {
            file: file.to_owned(),
            tenant: tenant.map(str::to_owned),
            field: (!field.is_empty()).then_some(field),
            message: message.into(),
        });
    }

    /// How many problems were found so far: a check that adds none has
    /// passed.
    fn count(&self) -> usize {
        self.0.len()
    }
}

fn check_defaults(defaults: &RawDefaults, file: &Path, problems: &mut Problems) {
    let interval = defaults.interval.unwrap_or(DEFAULT_INTERVAL);
    let timeout = defaults.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if let Err(message) = rules::check_interval(interval) {
        problems.push(file, None, "defaults.interval", message);
    }
    if let Err(message) = rules::check_timeout(timeout, interval, "interval") {
        problems.push(file, None, "defaults.timeout", message);
    }
    for (field, value) in [
        ("defaults.max_body_bytes", defaults.max_body_bytes),
        (
            "defaults.max_token_body_bytes",
            defaults.max_token_body_bytes,
        ),
    ] {
        if value == Some(0) {
            problems.push(file, None, field, "must be above 0");
        }
    }
}

fn max_concurrent_requests(raw: &RawConfig, file: &Path, problems: &mut Problems) -> usize {
    let max = raw
        .max_concurrent_requests
        .unwrap_or(DEFAULT_MAX_CONCURRENT_REQUESTS);
    if max == 0 {
        problems.push(file, None, "max_concurrent_requests", "must be at least 1");
    }
    max
}

fn histogram_buckets(raw: &RawConfig, file: &Path, problems: &mut Problems) -> Vec<f64> {
    let buckets = raw
        .histogram_buckets
        .clone()
        .unwrap_or_else(|| DEFAULT_HISTOGRAM_BUCKETS.to_vec());
    let ascending = buckets.windows(2).all(|w| w[0] < w[1]);
    let positive = buckets.iter().all(|b| b.is_finite() && *b > 0.0);
    if buckets.is_empty() || !ascending || !positive {
        problems.push(
            file,
            None,
            "histogram_buckets",
            "must be a non-empty list of positive seconds in ascending order",
        );
    }
    buckets
}

/// Validates every tenant, in file order, refusing a name seen before (the
/// problem names the later file and where the name was first defined).
/// Returns the valid tenants sorted by name.
fn tenants(
    sources: &[(PathBuf, RawTenant)],
    defaults: &RawDefaults,
    options: &LoadOptions,
    problems: &mut Problems,
) -> Vec<Arc<Tenant>> {
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    let mut tenants = Vec::new();
    for (file, raw_tenant) in sources {
        if let Some(first) = seen.get(raw_tenant.name.as_str()) {
            problems.push(
                file,
                Some(&raw_tenant.name),
                "name",
                format!(
                    "duplicate tenant name (first defined in {})",
                    first.display()
                ),
            );
            continue;
        }
        seen.insert(&raw_tenant.name, file);
        let mut check = TenantCheck {
            file,
            tenant: &raw_tenant.name,
            problems,
            base_dir: file.parent().unwrap_or(Path::new(".")),
        };
        if let Some(tenant) = check.tenant(raw_tenant, defaults, options) {
            tenants.push(Arc::new(tenant));
        }
    }
    tenants.sort_by(|a, b| a.name.cmp(&b.name));
    tenants
}
