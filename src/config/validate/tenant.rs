//! One tenant: the check of every part in order, and the pieces of a
//! tenant that are its own (identity and labels, timing, the token
//! request's form). Targets, credential and endpoints have their own
//! files; [`super::check`] is where their problems go.

use super::LoadOptions;
use super::check::{TenantCheck, Timing};
use super::rules::{NAME_RULE, check_interval, check_timeout, valid_name};
use super::targets::Targets;
use crate::config::entra::{self, InventorySettings};
use crate::config::raw::{RawDefaults, RawTenant};
use crate::config::{
    DEFAULT_INTERVAL, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_TOKEN_BODY_BYTES, DEFAULT_TIMEOUT,
    DiscoveredEndpoint, HttpProfile, Tenant, TokenEndpoint, TokenSettings,
};

/// Label names a tenant's `labels:` may not use on credprobe_tenant_info:
/// `tenant` is set by credprobe, Prometheus renames `job` and `instance` to
/// `exported_*` on scrape, and `le` and `quantile` belong to histograms and
/// summaries (promtool rejects them elsewhere).
const RESERVED_LABELS: [&str; 5] = ["tenant", "job", "instance", "le", "quantile"];

/// Where the token requests go: the token URL configured or set by a
/// preset, else (a tenant with `issuer:` only) the one the issuer's
/// discovery document names, under the tenant's URL rules.
fn token_endpoint(
    raw: &RawTenant,
    targets: &Targets,
    verification: Option<&crate::config::Verification>,
) -> Option<TokenEndpoint> {
    if let Some(url) = &targets.token_url {
        return Some(TokenEndpoint::Configured(url.clone()));
    }
    if raw.token_url.is_some() || raw.nexthink.is_some() || raw.entra.is_some() {
        return None;
    }
    let issuer = verification?.issuer.clone()?;
    let issuer_url = url::Url::parse(&issuer).ok()?;
    Some(TokenEndpoint::Discovered(DiscoveredEndpoint {
        issuer,
        issuer_url,
        insecure_http: raw.insecure_http,
        https_only: super::client_auth::method(raw) == crate::config::ClientAuth::TlsClientAuth,
    }))
}

impl TenantCheck<'_> {
    /// Checks every part of the tenant, reporting all problems; the tenant
    /// is built only when none were found.
    pub(super) fn tenant(
        &mut self,
        raw: &RawTenant,
        defaults: &RawDefaults,
        options: &LoadOptions,
    ) -> Option<Tenant> {
        let before = self.problems.count();
        self.identity(raw);
        let timing = self.timing(raw, defaults);
        let targets = self.targets(raw);
        let client_id = self.client_id(raw);
        let (credential, identity) = self.credential(raw, options, targets.token_url.as_ref());
        let next_credential = self.next_credential(raw, credential.as_ref());
        let form = self.token_form(raw, &targets);
        let credential_expires = self.credential_expires(raw);
        let http = HttpProfile {
            identity,
            ..self.http_profile(raw)
        };
        let endpoints = self.endpoints(raw, &targets, &timing);
        let expect_scopes = self.expect_scopes(raw);
        let verification = self.verification(raw, &targets);
        let token_endpoint = token_endpoint(raw, &targets, verification.as_ref());
        let inventory = self.inventory(raw);

        if self.problems.count() > before {
            return None;
        }
        Some(Tenant {
            name: raw.name.clone(),
            source: self.file.to_owned(),
            labels: raw.labels.clone(),
            interval: timing.interval,
            token_reuse: raw.token_reuse.or(defaults.token_reuse).unwrap_or_default(),
            phase_metrics: raw
                .phase_metrics
                .or(defaults.phase_metrics)
                .unwrap_or(false),
            token: TokenSettings {
                url: token_endpoint?,
                client_id,
                credential: credential?,
                next_credential,
                client_auth: super::client_auth::method(raw),
                form,
                timeout: timing.timeout,
                max_body_bytes: timing.max_token_body_bytes,
            },
            endpoints,
            expect_scopes,
            credential_expires,
            http,
            verification,
            inventory,
        })
    }

    /// `expect_scopes:`: distinct words without white space, at most 64.
    fn expect_scopes(&mut self, raw: &RawTenant) -> Vec<String> {
        let Some(scopes) = &raw.expect_scopes else {
            return Vec::new();
        };
        if scopes.len() > 64 {
            self.problem("expect_scopes", "at most 64 scopes");
        }
        let mut seen = Vec::new();
        for (i, scope) in scopes.iter().enumerate() {
            if scope.is_empty() || scope.len() > 256 || scope.chars().any(char::is_whitespace) {
                self.problem(
                    format!("expect_scopes[{i}]"),
                    "a scope is 1 to 256 characters without white space",
                );
            } else if seen.contains(&scope) {
                self.problem(
                    format!("expect_scopes[{i}]"),
                    format!("{scope:?} is listed twice"),
                );
            } else {
                seen.push(scope);
            }
        }
        seen.into_iter().cloned().collect()
    }

    /// `entra.credential_inventory` and `entra.graph_url`.
    fn inventory(&mut self, raw: &RawTenant) -> Option<InventorySettings> {
        let entra = raw.entra.as_ref()?;
        if !entra.credential_inventory {
            if entra.graph_url.is_some() {
                self.problem(
                    "entra.graph_url",
                    "is read only with entra.credential_inventory: true",
                );
            }
            return None;
        }
        let client_id = raw.client_id.as_deref().unwrap_or_default();
        match entra::inventory(entra.cloud, entra.graph_url.as_deref(), client_id) {
            Ok(settings) => Some(settings),
            Err(why) => {
                self.problem("entra.graph_url", why.to_string());
                None
            }
        }
    }

    /// The name and the label names, both of which end up in series.
    fn identity(&mut self, raw: &RawTenant) {
        if !valid_name(&raw.name) {
            self.problem("name", NAME_RULE);
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
    }

    /// Interval, timeout and body limits. Interval and timeout are checked
    /// here only when the tenant sets one of them: otherwise they are the
    /// defaults, whose problems are reported once, for the main file.
    fn timing(&mut self, raw: &RawTenant, defaults: &RawDefaults) -> Timing {
        let interval = raw
            .interval
            .or(defaults.interval)
            .unwrap_or(DEFAULT_INTERVAL);
        let timeout = raw.timeout.or(defaults.timeout).unwrap_or(DEFAULT_TIMEOUT);
        if raw.interval.is_some()
            && let Err(message) = check_interval(interval)
        {
            self.problem("interval", message.to_string());
        }
        if (raw.interval.is_some() || raw.timeout.is_some())
            && let Err(message) = check_timeout(timeout, interval, "interval")
        {
            self.problem("timeout", message.to_string());
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
        Timing {
            interval,
            timeout,
            max_body_bytes,
            max_token_body_bytes,
        }
    }

    /// A body size limit: `value` if set and above 0, else `default`.
    pub(super) fn byte_limit(&mut self, field: &str, value: Option<u64>, default: usize) -> usize {
        match value {
            Some(0) => {
                self.problem(field, "must be above 0");
                default
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => default,
        }
    }

    /// The token request's form fields: the preset's (or plain
    /// `grant_type=client_credentials`), `scopes:` replacing any preset
    /// scope, then `params:`, which may not set what credprobe sets.
    fn token_form(&mut self, raw: &RawTenant, targets: &Targets) -> Vec<(String, String)> {
        let mut form: Vec<(String, String)> = match &targets.preset {
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
            if [
                "grant_type",
                "client_id",
                "client_secret",
                "scope",
                "client_assertion",
                "client_assertion_type",
            ]
            .contains(&key.as_str())
            {
                self.problem(
                    format!("params.{key}"),
                    "set by credprobe (use scopes: for scope, client_auth: for the credential)",
                );
            }
            form.push((key.clone(), value.clone()));
        }
        form
    }
}

/// A Prometheus label name that is not reserved for Prometheus itself.
fn valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with("__")
}
