//! The second stage: raw YAML structs in, a checked [`Config`] out, with
//! every problem collected and reported at once.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::SecretString;
use url::Url;

use super::raw::{RawConfig, RawDefaults, RawEndpoint, RawExpect, RawTenant, RawTenantFile};
use super::secrets::{SecretFile, SecretSource};
use super::{
    Config, ConfigError, ConfigProblem, DEFAULT_HISTOGRAM_BUCKETS, DEFAULT_INTERVAL,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_MAX_TOKEN_BODY_BYTES,
    DEFAULT_TIMEOUT, Endpoint, Expect, HttpProfile, JsonCheck, JsonCondition, Pattern, Tenant,
    TokenSettings, nexthink,
};

/// The shortest interval accepted: probing faster than this is abuse of the
/// upstream, not monitoring.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Label names a tenant's `labels:` may not use on credprobe_tenant_info:
/// `tenant` is set by credprobe, Prometheus renames `job` and `instance` to
/// `exported_*` on scrape, and `le` and `quantile` belong to histograms and
/// summaries (promtool rejects them elsewhere).
const RESERVED_LABELS: [&str; 5] = ["tenant", "job", "instance", "le", "quantile"];

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
        let full = resolve_pattern(&base_dir, pattern);
        read_tenant_files(&full, pattern, path, &mut sources, &mut problems);
        tenant_file_patterns.push(full);
    }

    check_defaults(&raw.defaults, path, &mut problems);
    let max_concurrent_requests = raw
        .max_concurrent_requests
        .unwrap_or(DEFAULT_MAX_CONCURRENT_REQUESTS);
    if max_concurrent_requests == 0 {
        problems.push(path, None, "max_concurrent_requests", "must be at least 1");
    }
    let histogram_buckets = raw
        .histogram_buckets
        .clone()
        .unwrap_or_else(|| DEFAULT_HISTOGRAM_BUCKETS.to_vec());
    let ascending = histogram_buckets.windows(2).all(|w| w[0] < w[1]);
    let positive = histogram_buckets.iter().all(|b| b.is_finite() && *b > 0.0);
    if histogram_buckets.is_empty() || !ascending || !positive {
        problems.push(
            path,
            None,
            "histogram_buckets",
            "must be a non-empty list of positive seconds in ascending order",
        );
    }

    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut tenants = Vec::new();
    for (file, raw_tenant) in &sources {
        if let Some(first) = seen.get(&raw_tenant.name) {
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
        seen.insert(raw_tenant.name.clone(), file.clone());
        let mut check = TenantCheck {
            file,
            tenant: &raw_tenant.name,
            problems: &mut problems,
            base_dir: file.parent().unwrap_or(Path::new(".")),
        };
        if let Some(tenant) = check.tenant(raw_tenant, &raw.defaults, options) {
            tenants.push(Arc::new(tenant));
        }
    }

    if !problems.0.is_empty() {
        return Err(ConfigError {
            problems: problems.0,
        });
    }
    tenants.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Config {
        source: path.to_owned(),
        tenants,
        max_concurrent_requests,
        histogram_buckets,
        tenant_file_patterns,
    })
}

fn resolve_pattern(base_dir: &Path, pattern: &str) -> String {
    if Path::new(pattern).is_absolute() {
        pattern.to_owned()
    } else {
        base_dir.join(pattern).to_string_lossy().into_owned()
    }
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
}

/// Reads the files matching `full` (the pattern as written, `pattern`,
/// resolved against the main file's folder).
fn read_tenant_files(
    full: &str,
    pattern: &str,
    main: &Path,
    sources: &mut Vec<(PathBuf, RawTenant)>,
    problems: &mut Problems,
) {
    let paths = match glob::glob(full) {
        Ok(paths) => paths,
        Err(error) => {
            problems.push(
                main,
                None,
                "tenant_files",
                format!("bad pattern {pattern:?}: {error}"),
            );
            return;
        }
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in paths {
        match entry {
            Ok(file) if file.is_file() => files.push(file),
            Ok(_) => {}
            Err(error) => problems.push(
                error.path(),
                None,
                "",
                format!("cannot read: {}", error.error()),
            ),
        }
    }
    files.sort();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => match parse_tenant_file(&text) {
                Ok(found) => sources.extend(found.into_iter().map(|t| (file.clone(), t))),
                Err(message) => problems.push(&file, None, "", message),
            },
            Err(error) => problems.push(&file, None, "", format!("cannot read: {error}")),
        }
    }
}

/// A tenant file holds `tenants: [...]`, a list of tenants, or one tenant.
/// The shape is decided first so serde's message (with its line) fits it.
fn parse_tenant_file(text: &str) -> Result<Vec<RawTenant>, String> {
    let value: serde_norway::Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    let result = match &value {
        serde_norway::Value::Null => return Ok(Vec::new()),
        serde_norway::Value::Sequence(_) => serde_norway::from_str::<Vec<RawTenant>>(text),
        serde_norway::Value::Mapping(map) if map.contains_key("tenants") => {
            serde_norway::from_str::<RawTenantFile>(text).map(|f| f.tenants)
        }
        serde_norway::Value::Mapping(_) => {
            serde_norway::from_str::<RawTenant>(text).map(|t| vec![t])
        }
        _ => return Err("expected a tenant, a list of tenants, or `tenants:`".to_owned()),
    };
    result.map_err(|e| e.to_string())
}

fn check_defaults(defaults: &RawDefaults, file: &Path, problems: &mut Problems) {
    let interval = defaults.interval.unwrap_or(DEFAULT_INTERVAL);
    let timeout = defaults.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if interval < MIN_INTERVAL {
        problems.push(file, None, "defaults.interval", "must be at least 1s");
    }
    if timeout.is_zero() || timeout >= interval {
        problems.push(
            file,
            None,
            "defaults.timeout",
            format!(
                "must be above 0 and below the interval ({})",
                humantime::format_duration(interval)
            ),
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
            problems.push(file, None, field, "must be above 0");
        }
    }
}

/// Validation of one tenant, with where its problems go.
struct TenantCheck<'a> {
    file: &'a Path,
    tenant: &'a str,
    problems: &'a mut Problems,
    /// The defining file's folder: relative secret and CA paths resolve
    /// against it, so a tenant file can name files beside it.
    base_dir: &'a Path,
}

impl TenantCheck<'_> {
    fn problem(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems
            .push(self.file, Some(self.tenant), field, message);
    }

    fn tenant(
        &mut self,
        raw: &RawTenant,
        defaults: &RawDefaults,
        options: &LoadOptions,
    ) -> Option<Tenant> {
        let before = self.problems.0.len();
        if !valid_name(&raw.name) {
            self.problem("name", "must be 1 to 128 letters, digits, '.', '_' or '-'");
        }
        for key in raw.labels.keys() {
            if !valid_label_name(key) || RESERVED_LABELS.contains(&key.as_str()) {
                self.problem(
                    format!("labels.{key}"),
                    "label names must match [a-zA-Z_][a-zA-Z0-9_]*, not start with __, and not be \
                     `tenant`, `job`, `instance`, `le` or `quantile`",
                );
            }
        }

        let interval = raw
            .interval
            .or(defaults.interval)
            .unwrap_or(DEFAULT_INTERVAL);
        let timeout = raw.timeout.or(defaults.timeout).unwrap_or(DEFAULT_TIMEOUT);
        if raw.interval.is_some() && interval < MIN_INTERVAL {
            self.problem("interval", "must be at least 1s");
        }
        if (raw.interval.is_some() || raw.timeout.is_some())
            && (timeout.is_zero() || timeout >= interval)
        {
            self.problem(
                "timeout",
                format!(
                    "must be above 0 and below the interval ({})",
                    humantime::format_duration(interval)
                ),
            );
        }
        let max_body_bytes = self.byte_limit(
            "max_body_bytes",
            raw.max_body_bytes.or(defaults.max_body_bytes),
            DEFAULT_MAX_BODY_BYTES,
        );
        let max_token_body_bytes = self.byte_limit(
            "max_token_body_bytes",
            raw.max_token_body_bytes.or(defaults.max_token_body_bytes),
            DEFAULT_MAX_TOKEN_BODY_BYTES,
        );

        let preset = match &raw.nexthink {
            Some(n) => match nexthink::targets(&n.instance, &n.region, n.token_endpoint) {
                Ok(targets) => Some(targets),
                Err(error) => {
                    let field = match error {
                        nexthink::PresetError::UnknownRegion(_) => "nexthink.region",
                        nexthink::PresetError::BadInstance(_) => "nexthink.instance",
                    };
                    self.problem(field, error.to_string());
                    None
                }
            },
            None => None,
        };

        let base_url = match (&raw.base_url, &preset) {
            (Some(url), _) => self.url("base_url", url, raw.insecure_http),
            (None, Some(p)) => Url::parse(&p.base_url).ok(),
            (None, None) => None,
        };
        let token_url = match (&raw.token_url, &preset) {
            (Some(url), _) => self.url("token_url", url, raw.insecure_http),
            (None, Some(p)) => match &raw.base_url {
                // The legacy form lives on the API host: follow an overridden base URL.
                Some(_) if p.form.is_empty() => base_url
                    .as_ref()
                    .and_then(|b| Url::parse(&join(b, "/api/v1/token")).ok()),
                _ => Url::parse(&p.token_url).ok(),
            },
            (None, None) => {
                if raw.nexthink.is_none() {
                    self.problem("token_url", "required (or use the `nexthink:` preset)");
                }
                None
            }
        };

        let client_id = match raw.client_id.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => {
                self.problem("client_id", "required");
                String::new()
            }
        };
        let secret = self.secret(raw, options);

        let mut form: Vec<(String, String)> = match &preset {
            Some(p) => p.form.clone(),
            None => vec![("grant_type".into(), "client_credentials".into())],
        };
        if let Some(scopes) = &raw.scopes {
            form.retain(|(k, _)| k != "scope");
            if !scopes.is_empty() {
                form.push(("scope".into(), scopes.join(" ")));
            }
        }
        for (key, value) in &raw.params {
            if ["grant_type", "client_id", "client_secret", "scope"].contains(&key.as_str()) {
                self.problem(
                    format!("params.{key}"),
                    "set by credprobe (use scopes: for scope, client_auth: for the credential)",
                );
            }
            form.push((key.clone(), value.clone()));
        }

        let credential_expires =
            raw.credential_expires
                .as_deref()
                .and_then(|text| match parse_date(text) {
                    Some(time) => Some(time),
                    None => {
                        self.problem(
                            "credential_expires",
                            format!("{text:?} is not a date (YYYY-MM-DD) or RFC 3339 time"),
                        );
                        None
                    }
                });

        let http = self.http_profile(raw);

        let raw_endpoints = match (&raw.endpoints, &raw.nexthink) {
            (Some(list), _) => list.clone(),
            (None, Some(_)) => nexthink::default_endpoints(),
            (None, None) => Vec::new(),
        };
        let base_url_failed =
            (raw.base_url.is_some() || raw.nexthink.is_some()) && base_url.is_none();
        let mut endpoints = Vec::new();
        let mut names = Vec::new();
        for (i, endpoint) in raw_endpoints.iter().enumerate() {
            let field = format!("endpoints[{i}]");
            if names.contains(&endpoint.name) {
                self.problem(
                    format!("{field}.name"),
                    format!("duplicate endpoint name {:?}", endpoint.name),
                );
                continue;
            }
            names.push(endpoint.name.clone());
            if let Some(e) = self.endpoint(
                &field,
                endpoint,
                base_url.as_ref(),
                interval,
                timeout,
                max_body_bytes,
                raw.insecure_http,
                base_url_failed,
            ) {
                endpoints.push(e);
            }
        }

        if self.problems.0.len() > before {
            return None;
        }
        Some(Tenant {
            name: raw.name.clone(),
            source: self.file.to_owned(),
            labels: raw.labels.clone(),
            interval,
            token_reuse: raw.token_reuse.or(defaults.token_reuse).unwrap_or_default(),
            token: TokenSettings {
                url: token_url?,
                client_id,
                secret: secret?,
                client_auth: raw.client_auth.unwrap_or_default(),
                form,
                timeout,
                max_body_bytes: max_token_body_bytes,
            },
            endpoints,
            credential_expires,
            http,
        })
    }

    fn byte_limit(&mut self, field: &str, value: Option<u64>, default: usize) -> usize {
        match value {
            Some(0) => {
                self.problem(field, "must be above 0");
                default
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => default,
        }
    }

    /// Parses a URL and refuses plain http to non-loopback hosts unless the
    /// tenant said `insecure_http: true`.
    fn url(&mut self, field: &str, text: &str, insecure_http: bool) -> Option<Url> {
        let url = match Url::parse(text) {
            Ok(url) => url,
            Err(error) => {
                self.problem(field, format!("{text:?} is not a URL: {error}"));
                return None;
            }
        };
        match url.scheme() {
            "https" => {}
            "http" if insecure_http || is_loopback(&url) => {}
            "http" => {
                self.problem(
                    field,
                    format!(
                        "plain http to {} is refused: use https, or set insecure_http: true",
                        url.host_str().unwrap_or("")
                    ),
                );
                return None;
            }
            other => {
                self.problem(field, format!("scheme {other:?} is not http or https"));
                return None;
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            self.problem(field, format!("{text:?} has no host"));
            return None;
        }
        if !url.username().is_empty() || url.password().is_some() {
            self.problem(
                field,
                "credentials in the URL are refused (they would leak into logs)",
            );
            return None;
        }
        Some(url)
    }

    fn secret(&mut self, raw: &RawTenant, options: &LoadOptions) -> Option<SecretSource> {
        let given = [
            raw.client_secret_file.is_some(),
            raw.client_secret_env.is_some(),
            raw.client_secret.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            self.problem(
                "client_secret_file",
                "exactly one of client_secret_file, client_secret_env or client_secret is required",
            );
            return None;
        }
        if let Some(path) = &raw.client_secret_file {
            let path = self.base_dir.join(path);
            return match SecretFile::open(&path) {
                Ok(file) => Some(SecretSource::File(file)),
                Err(error) => {
                    self.problem("client_secret_file", error.to_string());
                    None
                }
            };
        }
        if let Some(var) = &raw.client_secret_env {
            return match std::env::var(var) {
                Ok(value) if !value.trim().is_empty() => {
                    Some(SecretSource::Fixed(SecretString::from(value)))
                }
                Ok(_) => {
                    self.problem(
                        "client_secret_env",
                        format!("environment variable {var} is empty"),
                    );
                    None
                }
                Err(_) => {
                    self.problem(
                        "client_secret_env",
                        format!("environment variable {var} is not set"),
                    );
                    None
                }
            };
        }
        let inline = raw.client_secret.as_deref().unwrap_or_default();
        if inline.trim().is_empty() {
            self.problem("client_secret", "is empty");
            return None;
        }
        if options.warn_inline_secrets {
            tracing::warn!(
                file = %self.file.display(),
                tenant = self.tenant,
                "client_secret is written inline in the configuration; prefer client_secret_file or client_secret_env"
            );
        }
        Some(SecretSource::Fixed(SecretString::from(inline.to_owned())))
    }

    fn http_profile(&mut self, raw: &RawTenant) -> HttpProfile {
        let proxy = raw
            .proxy_url
            .as_deref()
            .and_then(|text| match Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
                Ok(url) => {
                    self.problem(
                        "proxy_url",
                        format!("scheme {:?} is not http or https", url.scheme()),
                    );
                    None
                }
                Err(error) => {
                    self.problem("proxy_url", format!("{text:?} is not a URL: {error}"));
                    None
                }
            });
        let ca = raw.ca_file.as_ref().and_then(|path| {
            let path = self.base_dir.join(path);
            let pem = match std::fs::read(&path) {
                Ok(pem) => pem,
                Err(error) => {
                    self.problem(
                        "ca_file",
                        format!("cannot read {}: {error}", path.display()),
                    );
                    return None;
                }
            };
            match reqwest::Certificate::from_pem_bundle(&pem) {
                Ok(certs) if !certs.is_empty() => Some((path, Arc::new(pem))),
                _ => {
                    self.problem(
                        "ca_file",
                        format!("{} holds no PEM certificate", path.display()),
                    );
                    None
                }
            }
        });
        HttpProfile { proxy, ca }
    }

    #[allow(clippy::too_many_arguments)]
    fn endpoint(
        &mut self,
        field: &str,
        raw: &RawEndpoint,
        base_url: Option<&Url>,
        tenant_interval: Duration,
        tenant_timeout: Duration,
        tenant_max_body: usize,
        insecure_http: bool,
        base_url_failed: bool,
    ) -> Option<Endpoint> {
        let before = self.problems.0.len();
        if !valid_name(&raw.name) {
            self.problem(
                format!("{field}.name"),
                "must be 1 to 128 letters, digits, '.', '_' or '-'",
            );
        }
        let url = match (&raw.path, &raw.url) {
            (Some(path), None) => {
                if !path.starts_with('/') {
                    self.problem(format!("{field}.path"), "must start with /");
                    None
                } else if let Some(base) = base_url {
                    self.url(&format!("{field}.path"), &join(base, path), insecure_http)
                } else if base_url_failed {
                    // The base URL's own problem is reported already.
                    None
                } else {
                    self.problem(
                        format!("{field}.path"),
                        "needs the tenant's base_url (or use url:)",
                    );
                    None
                }
            }
            (None, Some(url)) => self.url(&format!("{field}.url"), url, insecure_http),
            _ => {
                self.problem(
                    format!("{field}.path"),
                    "exactly one of path or url is required",
                );
                None
            }
        };
        let method_text = raw.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        let method = match reqwest::Method::from_bytes(method_text.as_bytes()) {
            Ok(method) => {
                let safe = method == reqwest::Method::GET || method == reqwest::Method::HEAD;
                if !safe && !raw.allow_mutating {
                    self.problem(
                        format!("{field}.method"),
                        format!("{method} may change data upstream; set allow_mutating: true if this request only reads"),
                    );
                }
                Some(method)
            }
            Err(_) => {
                self.problem(
                    format!("{field}.method"),
                    format!("{method_text:?} is not an HTTP method"),
                );
                None
            }
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &raw.headers {
            let parsed = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            );
            match parsed {
                (Ok(name), _) if name == reqwest::header::AUTHORIZATION => self.problem(
                    format!("{field}.headers.{name}"),
                    "Authorization is set from the token",
                ),
                (Ok(name), Ok(value)) => {
                    headers.insert(name, value);
                }
                _ => self.problem(
                    format!("{field}.headers.{name}"),
                    "not a valid header name and value",
                ),
            }
        }
        let every_cycles = match raw.interval {
            None => 1,
            Some(own) if own < tenant_interval => {
                self.problem(
                    format!("{field}.interval"),
                    format!(
                        "must not be shorter than the tenant interval ({})",
                        humantime::format_duration(tenant_interval)
                    ),
                );
                1
            }
            Some(own) => {
                let cycles = own.as_secs_f64() / tenant_interval.as_secs_f64();
                cycles.ceil().min(f64::from(u32::MAX)) as u32
            }
        };
        let timeout = raw.timeout.unwrap_or(tenant_timeout);
        if raw.timeout.is_some() && (timeout.is_zero() || timeout >= tenant_interval) {
            self.problem(
                format!("{field}.timeout"),
                format!(
                    "must be above 0 and below the tenant interval ({})",
                    humantime::format_duration(tenant_interval)
                ),
            );
        }
        let max_body_bytes = self.byte_limit(
            &format!("{field}.max_body_bytes"),
            raw.max_body_bytes,
            tenant_max_body,
        );
        let expect = self.expect(field, raw.expect.as_ref());
        if self.problems.0.len() > before {
            return None;
        }
        Some(Endpoint {
            name: raw.name.clone(),
            url: url?,
            method: method?,
            headers,
            body: raw.body.clone(),
            every_cycles,
            timeout,
            max_body_bytes,
            expect,
        })
    }

    fn expect(&mut self, field: &str, raw: Option<&RawExpect>) -> Expect {
        let Some(raw) = raw else {
            return Expect::default();
        };
        if let Some(codes) = &raw.status
            && (codes.is_empty() || codes.iter().any(|c| !(100..=599).contains(c)))
        {
            self.problem(
                format!("{field}.expect.status"),
                "must list HTTP status codes between 100 and 599",
            );
        }
        let body_regex = raw.body_regex.as_deref().and_then(|pattern| {
            match regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build()
            {
                Ok(re) => Some(Pattern::from(re)),
                Err(error) => {
                    self.problem(format!("{field}.expect.body_regex"), error.to_string());
                    None
                }
            }
        });
        let mut json = Vec::new();
        for (i, check) in raw.json.iter().enumerate() {
            let at = format!("{field}.expect.json[{i}]");
            if !(check.pointer.is_empty() || check.pointer.starts_with('/')) {
                self.problem(
                    format!("{at}.pointer"),
                    "a JSON pointer is empty or starts with /",
                );
            }
            let condition = match (&check.exists, &check.equals) {
                (Some(_), Some(_)) => {
                    self.problem(at, "give exists or equals, not both");
                    continue;
                }
                (Some(exists), None) => JsonCondition::Exists(*exists),
                (None, Some(value)) => JsonCondition::Equals(value.clone()),
                (None, None) => JsonCondition::Exists(true),
            };
            json.push(JsonCheck {
                pointer: check.pointer.clone(),
                condition,
            });
        }
        Expect {
            status: raw.status.clone(),
            body_regex,
            json,
        }
    }
}

/// Appends a path to a base URL that may itself carry a path prefix.
fn join(base: &Url, path: &str) -> String {
    format!("{}{}", base.as_str().trim_end_matches('/'), path)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost" || name.ends_with(".localhost"),
        None => false,
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with("__")
}

/// `2027-06-30` (midnight UTC, the start of that day) or an RFC 3339 time.
fn parse_date(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    if text.len() == 10 {
        return humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).ok();
    }
    humantime::parse_rfc3339_weak(text).ok()
}

/// Every label key any tenant sets, sorted: the label names of
/// credprobe_tenant_info.
pub fn label_keys(tenants: &[Arc<Tenant>]) -> Vec<String> {
    let keys: BTreeSet<&String> = tenants.iter().flat_map(|t| t.labels.keys()).collect();
    keys.into_iter().cloned().collect()
}
