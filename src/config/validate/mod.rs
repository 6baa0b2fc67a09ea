//! The second stage: raw YAML structs in, a checked [`Config`] out, with
//! every problem collected and reported at once.
//!
//! - this file: reading the main file, the settings that belong to it
//!   (`defaults`, `max_concurrent_requests`, `histogram_buckets`), unique
//!   tenant names, and the assembled [`Config`];
//! - `split`: the main file's `tenants:` list cut into its items, so a
//!   large fleet is parsed and checked one tenant at a time;
//! - `files`: the tenant files matched by `tenant_files`;
//! - `parse`: a document's tenants parsed one at a time, each parse error
//!   a problem with its line (and a suggestion for a mistyped key);
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
//! - `verification`: `issuer`, `jwks_url` and `expect_audience`, the
//!   verification of the access token;
//! - `rules`: the small rules several levels share (names, the minimum
//!   interval, the timeout-below-interval rule);
//! - `tests`: the loader, case by case.

mod check;
mod client_auth;
mod credential;
mod endpoint;
mod files;
mod parse;
mod rules;
mod split;
mod targets;
mod tenant;
mod verification;

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
use crate::config::locate::key_path;
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
    /// Log each of [`Config::warnings`] (a secret or key file others can
    /// read, a `credential_expires` passed) at warn level, at start-up and
    /// at every reload; `check-config` prints them itself instead.
    pub log_warnings: bool,
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
            log_warnings: true,
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
    logged(load_file(path, options), options)
}

fn load_file(path: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    let lines = || -> Result<_, ConfigError> {
        let file = std::fs::File::open(path)
            .map_err(|error| ConfigError::file(path, format!("cannot read: {error}")))?;
        Ok(std::io::BufRead::lines(std::io::BufReader::new(file)))
    };
    let found = split::layout(lines()?.map_while(Result::ok));
    if let Some((layout, rest)) = found
        && let Some(rest) = parse_rest(&rest)
        && let Ok(loaded) = load_parts(
            Some(rest),
            MainTenants::Cut(&|| lines().ok(), &layout),
            path,
            None,
            options,
        )
    {
        return loaded;
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
    logged(load_text(text, path, options), options)
}

fn load_text(text: &str, path: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    if let Some((layout, rest)) = split::layout(text.lines())
        && let Some(rest) = parse_rest(&rest)
    {
        let lines = || Some(text.lines().map(Ok::<_, std::io::Error>));
        if let Ok(loaded) = load_parts(
            Some(rest),
            MainTenants::Cut(&lines, &layout),
            path,
            Some(text),
            options,
        ) {
            return loaded;
        }
    }
    load_whole(text, path, options)
}

/// Logs the warnings found, valid configuration or not, when asked to,
/// and then lets them go: a running configuration does not carry a line
/// per warned tenant for its whole life (5,000 of them when a fleet's
/// secret files are all open to others).
fn logged(
    mut loaded: Result<Config, ConfigError>,
    options: &LoadOptions,
) -> Result<Config, ConfigError> {
    if options.log_warnings {
        let warnings = match &mut loaded {
            Ok(config) => std::mem::take(&mut config.warnings),
            Err(error) => std::mem::take(&mut error.warnings),
        };
        for warning in &warnings {
            tracing::warn!(warning = %warning, "configuration warning");
        }
    }
    loaded
}

/// The main file without its list (its line numbers unchanged); `None`
/// when it does not parse (the whole document is parsed then, for every
/// problem).
fn parse_rest(rest: &str) -> Option<RawConfig> {
    if rest.trim().is_empty() {
        return Some(RawConfig::default());
    }
    serde_norway::from_str(rest).ok()
}

/// Parses and checks the main file as one document, its tenants one at a
/// time. When the main file's own settings do not parse, its tenants are
/// still parsed (their mistakes reported) but not checked further, as
/// their defaults are unknown, and no tenant file is read.
fn load_whole(text: &str, path: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    let mut problems = Problems::new();
    let (rest, values) = if text.trim().is_empty() {
        (Some(RawConfig::default()), Vec::new())
    } else {
        match serde_norway::from_str::<RawConfig<Vec<serde_norway::Value>>>(text) {
            Ok(mut raw) => {
                let values = std::mem::take(&mut raw.tenants);
                (Some(raw.with_tenants(Vec::new())), values)
            }
            Err(error) => {
                parse::report(&mut problems, path, &error, "", None, 0);
                (None, tenant_values(text))
            }
        }
    };
    let tenants = parse::tenants(text, path, "tenants", values, &mut problems);
    let parsed: MainTenants<'_, std::iter::Empty<std::io::Result<String>>> =
        MainTenants::Parsed(tenants);
    match load_parts_with(rest, parsed, path, Some(text), options, problems) {
        Ok(loaded) => loaded,
        Err(Uncut) => unreachable!("nothing is cut when the whole document was parsed"),
    }
}

/// The main file's `tenants:` items as YAML values, whatever else the file
/// holds (for tenants beside settings that do not parse).
fn tenant_values(text: &str) -> Vec<serde_norway::Value> {
    #[derive(serde::Deserialize)]
    struct TenantsOnly {
        #[serde(default)]
        tenants: Vec<serde_norway::Value>,
    }
    serde_norway::from_str::<TenantsOnly>(text)
        .map(|t| t.tenants)
        .unwrap_or_default()
}

/// A fresh pass over the main file's lines (`None` when it cannot be read
/// again).
type Lines<'a, I> = &'a dyn Fn() -> Option<I>;

/// The main file's tenants: a cut list to read item by item, or parsed
/// with the whole document, one at a time (with their paths).
enum MainTenants<'a, I> {
    Cut(Lines<'a, I>, &'a split::Layout),
    Parsed(Vec<(String, parse::Parsed)>),
}

/// [`load_parts_with`] with no problem found yet.
fn load_parts<I, S>(
    raw: Option<RawConfig>,
    main_tenants: MainTenants<'_, I>,
    path: &Path,
    text: Option<&str>,
    options: &LoadOptions,
) -> Result<Result<Config, ConfigError>, Uncut>
where
    I: Iterator<Item = std::io::Result<S>>,
    S: AsRef<str>,
{
    load_parts_with(raw, main_tenants, path, text, options, Problems::new())
}

/// Checks the main file's settings (`None`: they did not parse, and their
/// problem is in `problems`), then every tenant of the main file and the
/// tenant files in turn. `text` is the main file's, when it was given
/// rather than read (problems' lines are looked up in it). `Err(Uncut)` when an item of a cut list (main
/// file or tenant file) does not parse on its own: the caller parses whole
/// documents instead, for the exact error (or for what the cut could not
/// see, such as an alias of an anchor in another item).
fn load_parts_with<I, S>(
    raw: Option<RawConfig>,
    main_tenants: MainTenants<'_, I>,
    path: &Path,
    text: Option<&str>,
    options: &LoadOptions,
    mut problems: Problems,
) -> Result<Result<Config, ConfigError>, Uncut>
where
    I: Iterator<Item = std::io::Result<S>>,
    S: AsRef<str>,
{
    let cut = matches!(main_tenants, MainTenants::Cut(..));
    let settled = raw.is_some();
    let raw = raw.unwrap_or_default();
    let base_dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    check_defaults(&raw.defaults, path, &mut problems);
    let max_concurrent_requests = max_concurrent_requests(&raw, path, &mut problems);
    let histogram_buckets = histogram_buckets(&raw, path, &mut problems);

    let mut set = TenantSet::new(&raw.defaults, options, settled);
    let main: Arc<Path> = Arc::from(path);
    match main_tenants {
        MainTenants::Cut(lines, layout) => {
            let mut index = 0;
            split::each_item(lines().ok_or(Uncut)?, layout, |_, item| {
                let tenant: RawTenant = serde_norway::from_str(item).map_err(|_| Uncut)?;
                let at = format!("tenants[{index}]");
                index += 1;
                set.add(
                    &main,
                    &at,
                    &parse::Parsed::Tenant(Box::new(tenant)),
                    &mut problems,
                );
                Ok(())
            })?;
        }
        MainTenants::Parsed(tenants) => {
            for (at, tenant) in &tenants {
                set.add(&main, at, tenant, &mut problems);
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
            |file, at, tenant, problems| {
                set.add(file, at, tenant, problems);
            },
        )?;
        tenant_file_patterns.push(full);
    }

    let warnings = match problems.finish_with_text(text.map(|text| (path, text))) {
        Ok(warnings) => warnings,
        Err(error) => return Ok(Err(error)),
    };
    let (tenants, configured) = set.finish();
    Ok(Ok(Config {
        source: path.to_owned(),
        tenants,
        configured,
        max_concurrent_requests,
        histogram_buckets,
        tenant_file_patterns,
        warnings,
    }))
}

fn check_defaults(defaults: &RawDefaults, file: &Path, problems: &mut Problems) {
    let interval = defaults.interval.unwrap_or(DEFAULT_INTERVAL);
    let timeout = defaults.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if let Err(message) = rules::check_interval(interval) {
        problems.push_in(
            file,
            "defaults.interval".into(),
            None,
            "defaults.interval",
            message.to_string(),
        );
    }
    if let Err(message) = rules::check_timeout(timeout, interval, "interval") {
        problems.push_in(
            file,
            "defaults.timeout".into(),
            None,
            "defaults.timeout",
            message.to_string(),
        );
    }
    for (field, value) in [
        ("defaults.max_body_bytes", defaults.max_body_bytes),
        (
            "defaults.max_token_body_bytes",
            defaults.max_token_body_bytes,
        ),
    ] {
        if value == Some(0) {
            problems.push_in(file, field.into(), None, field, "must be above 0");
        }
    }
}

fn max_concurrent_requests(raw: &RawConfig, file: &Path, problems: &mut Problems) -> usize {
    let max = raw
        .max_concurrent_requests
        .unwrap_or(DEFAULT_MAX_CONCURRENT_REQUESTS);
    if max == 0 {
        problems.push_in(
            file,
            "max_concurrent_requests".into(),
            None,
            "max_concurrent_requests",
            "must be at least 1",
        );
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
        problems.push_in(
            file,
            "histogram_buckets".into(),
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
    /// The main file's settings parsed: tenants are checked against them
    /// (else only parsed, their defaults being unknown).
    settled: bool,
    /// Each name, the file that defined it first and its path there.
    seen: HashMap<Box<str>, (Arc<Path>, String)>,
    /// The valid tenants of this shard.
    kept: Vec<Arc<Tenant>>,
}

impl<'a> TenantSet<'a> {
    fn new(defaults: &'a RawDefaults, options: &'a LoadOptions, settled: bool) -> Self {
        TenantSet {
            defaults,
            options,
            settled,
            seen: HashMap::new(),
            kept: Vec::new(),
        }
    }

    /// Checks one tenant defined at `at` in `file`; keeps it when it is
    /// valid and this shard's. Another shard's tenant is checked without
    /// reading its files; a tenant that did not parse only has its name
    /// counted.
    fn add(&mut self, file: &Arc<Path>, at: &str, tenant: &parse::Parsed, problems: &mut Problems) {
        let (name, raw) = match tenant {
            parse::Parsed::Tenant(raw) => (Some(raw.name.as_str()), Some(raw)),
            parse::Parsed::Broken(name) => (name.as_deref(), None),
        };
        if let Some(name) = name {
            if let Some((first_file, first_at)) = self.seen.get(name) {
                problems.push_duplicate(
                    file,
                    key_path(at, "name"),
                    Some(name),
                    "name",
                    "duplicate tenant name",
                    first_file,
                    key_path(first_at, "name"),
                );
                return;
            }
            self.seen
                .insert(name.into(), (Arc::clone(file), at.to_owned()));
        }
        let Some(raw) = raw.filter(|_| self.settled) else {
            return;
        };
        let ours = self.options.shard.owns(&raw.name);
        let mut check = TenantCheck {
            file,
            at,
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
