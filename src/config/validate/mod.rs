//! The second stage: raw YAML structs in, a checked [`Config`] out, with
//! every problem collected and reported at once.
//!
//! - this file: reading the main file, the settings that belong to it
//!   (`defaults`, `max_concurrent_requests`, `histogram_buckets`), unique
//!   tenant names, and the assembled [`Config`];
//! - `split`: the main file's `tenants:` list cut into its items, so a
//!   large fleet is parsed and checked one tenant at a time;
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
mod split;
mod targets;
mod tenant;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::raw::{RawConfig, RawDefaults, RawTenant};
use super::{
    Config, ConfigError, DEFAULT_HISTOGRAM_BUCKETS, DEFAULT_INTERVAL,
    DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_TIMEOUT, Problems, Tenant,
};
use crate::shard::Shard;
use check::TenantCheck;
use split::Uncut;

/// The shortest interval accepted: probing faster than this is abuse of the
/// upstream, not monitoring.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The longest interval accepted (humantime's `1y`, 365.25 days): far
/// beyond any use, and far below what the scheduler's clock arithmetic
/// (now + interval + timeout, interval × tenants) can hold.
pub const MAX_INTERVAL: Duration = Duration::from_secs(31_557_600);

/// Knobs of loading that are not part of the files.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Log a warning for each inline `client_secret` (off for the demo,
    /// whose secrets are fake).
    pub warn_inline_secrets: bool,
    /// The tenants this process keeps: every tenant of the fleet is checked
    /// (a typo anywhere is an error in every shard, so shards agree), but
    /// only this shard's are kept, and only theirs have their secret, key
    /// and CA files read.
    pub shard: Shard,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            warn_inline_secrets: true,
            shard: Shard::ALL,
        }
    }
}

/// Loads and validates the configuration rooted at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, &LoadOptions::default())
}

/// [`load`] with explicit options. A main file whose `tenants:` list can be
/// cut (see `split.rs`) is read line by line, never whole.
pub fn load_with(path: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    let lines = || -> Result<_, ConfigError> {
        let file = std::fs::File::open(path)
            .map_err(|error| ConfigError::file(path, format!("cannot read: {error}")))?;
        Ok(std::io::BufRead::lines(std::io::BufReader::new(file)))
    };
    let found = split::layout(lines()?.map_while(Result::ok));
    if let Some((layout, rest)) = found {
        let rest = parse_rest(&rest, path)?;
        if let Ok(loaded) = load_parts(
            rest,
            MainTenants::Cut(&|| lines().ok(), &layout),
            path,
            options,
        ) {
            return loaded;
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|error| ConfigError::file(path, format!("cannot read: {error}")))?;
    load_whole(&text, path, options)
}

/// Validates configuration text as if it had been read from `path`
/// (`tenant_files` resolve against its folder; a relative secret or CA
/// file against the folder of the file that names it).
///
/// Tenants are parsed, checked and (unless this shard keeps them) dropped
/// one at a time, so memory follows the shard, not the fleet: see
/// `split.rs` for how the main file's list is cut, and
/// [`LoadOptions::shard`] for what is kept.
pub fn load_str(text: &str, path: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    if let Some((layout, rest)) = split::layout(text.lines()) {
        let rest = parse_rest(&rest, path)?;
        let lines = || Some(text.lines().map(Ok::<_, std::io::Error>));
        if let Ok(loaded) = load_parts(rest, MainTenants::Cut(&lines, &layout), path, options) {
            return loaded;
        }
    }
    load_whole(text, path, options)
}

/// The main file without its list (its line numbers unchanged, so a YAML
/// error there says the right line).
fn parse_rest(rest: &str, path: &Path) -> Result<RawConfig, ConfigError> {
    if rest.trim().is_empty() {
        return Ok(RawConfig::default());
    }
    serde_norway::from_str(rest).map_err(|error| ConfigError::file(path, error.to_string()))
}

/// Parses and checks the main file as one document.
fn load_whole(text: &str, path: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    let mut raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        serde_norway::from_str(text).map_err(|error| ConfigError::file(path, error.to_string()))?
    };
    let tenants = std::mem::take(&mut raw.tenants);
    let parsed: MainTenants<'_, std::iter::Empty<std::io::Result<String>>> =
        MainTenants::Parsed(tenants);
    match load_parts(raw, parsed, path, options) {
        Ok(loaded) => loaded,
        Err(Uncut) => unreachable!("nothing is cut when the whole document was parsed"),
    }
}

/// A fresh pass over the main file's lines (`None` when it cannot be read
/// again).
type Lines<'a, I> = &'a dyn Fn() -> Option<I>;

/// The main file's tenants: a cut list to read item by item, or parsed
/// with the whole document.
enum MainTenants<'a, I> {
    Cut(Lines<'a, I>, &'a split::Layout),
    Parsed(Vec<RawTenant>),
}

/// Checks the main file's settings, then every tenant of the main file and
/// the tenant files in turn. `Err(Uncut)` when an item of a cut list (main
/// file or tenant file) does not parse on its own: the caller parses whole
/// documents instead, for the exact error (or for what the cut could not
/// see, such as an alias of an anchor in another item).
fn load_parts<I, S>(
    raw: RawConfig,
    main_tenants: MainTenants<'_, I>,
    path: &Path,
    options: &LoadOptions,
) -> Result<Result<Config, ConfigError>, Uncut>
where
    I: Iterator<Item = std::io::Result<S>>,
    S: AsRef<str>,
{
    let cut = matches!(main_tenants, MainTenants::Cut(..));
    let mut problems = Problems::default();
    let base_dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    check_defaults(&raw.defaults, path, &mut problems);
    let max_concurrent_requests = max_concurrent_requests(&raw, path, &mut problems);
    let histogram_buckets = histogram_buckets(&raw, path, &mut problems);

    let mut set = TenantSet::new(&raw.defaults, options);
    let main: Arc<Path> = Arc::from(path);
    match main_tenants {
        MainTenants::Cut(lines, layout) => {
            split::each_item(lines().ok_or(Uncut)?, layout, |_, item| {
                let tenant: RawTenant = serde_norway::from_str(item).map_err(|_| Uncut)?;
                set.add(&main, &tenant, &mut problems);
                Ok(())
            })?;
        }
        MainTenants::Parsed(tenants) => {
            for tenant in &tenants {
                set.add(&main, tenant, &mut problems);
            }
        }
    }
    let mut tenant_file_patterns = Vec::new();
    for pattern in &raw.tenant_files {
        let full = files::resolve_pattern(&base_dir, pattern);
        files::each_tenant(
            &full,
            pattern,
            path,
            cut,
            &mut problems,
            |file, tenant, problems| {
                set.add(file, tenant, problems);
            },
        )?;
        tenant_file_patterns.push(full);
    }

    if let Err(error) = problems.finish() {
        return Ok(Err(error));
    }
    let (tenants, configured) = set.finish();
    Ok(Ok(Config {
        source: path.to_owned(),
        tenants,
        configured,
        max_concurrent_requests,
        histogram_buckets,
        tenant_file_patterns,
    }))
}

fn check_defaults(defaults: &RawDefaults, file: &Path, problems: &mut Problems) {
    let interval = defaults.interval.unwrap_or(DEFAULT_INTERVAL);
    let timeout = defaults.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if let Err(message) = rules::check_interval(interval) {
        problems.push(file, None, "defaults.interval", message.to_string());
    }
    if let Err(message) = rules::check_timeout(timeout, interval, "interval") {
        problems.push(file, None, "defaults.timeout", message.to_string());
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

/// The tenants checked so far: every name seen (a later duplicate is a
/// problem naming where the first was defined) and the tenants this shard
/// keeps.
struct TenantSet<'a> {
    defaults: &'a RawDefaults,
    options: &'a LoadOptions,
    /// Each name and the file that defined it first.
    seen: HashMap<Box<str>, Arc<Path>>,
    /// The valid tenants of this shard.
    kept: Vec<Arc<Tenant>>,
}

impl<'a> TenantSet<'a> {
    fn new(defaults: &'a RawDefaults, options: &'a LoadOptions) -> Self {
        TenantSet {
            defaults,
            options,
            seen: HashMap::new(),
            kept: Vec::new(),
        }
    }

    /// Checks one tenant defined in `file`; keeps it when it is valid and
    /// this shard's. Another shard's tenant is checked without reading its
    /// files.
    fn add(&mut self, file: &Arc<Path>, raw: &RawTenant, problems: &mut Problems) {
        if let Some(first) = self.seen.get(raw.name.as_str()) {
            problems.push(
                file,
                Some(&raw.name),
                "name",
                format!(
                    "duplicate tenant name (first defined in {})",
                    first.display()
                ),
            );
            return;
        }
        self.seen.insert(raw.name.as_str().into(), Arc::clone(file));
        let ours = self.options.shard.owns(&raw.name);
        let mut check = TenantCheck {
            file,
            tenant: &raw.name,
            problems,
            base_dir: file.parent().unwrap_or(Path::new(".")),
            read_files: ours,
        };
        let tenant = check.tenant(raw, self.defaults, self.options);
        if ours && let Some(tenant) = tenant {
            self.kept.push(Arc::new(tenant));
        }
    }

    /// This shard's tenants sorted by name, and how many the fleet has.
    fn finish(mut self) -> (Vec<Arc<Tenant>>, usize) {
        self.kept.sort_by(|a, b| a.name.cmp(&b.name));
        (self.kept, self.seen.len())
    }
}
