//! Where a tenant's requests go: the presets (Nexthink, Entra ID), the
//! base and token URLs (with the one URL rule: https, or http to loopback or with
//! `insecure_http`), and the proxy and CA that pick its HTTP client.

use std::sync::Arc;

use url::Url;

use super::check::TenantCheck;
use crate::config::HttpProfile;
use crate::config::discovery::is_loopback;
use crate::config::entra::{self, EntraError};
use crate::config::keys::ca_roots;
use crate::config::nexthink::{self, PresetError};
use crate::config::preset::PresetTargets;
use crate::config::raw::RawTenant;

/// A tenant's URLs, as far as they could be derived.
pub(super) struct Targets {
    /// What the `nexthink:` or `entra:` preset expands to, if one is used
    /// and valid.
    pub(super) preset: Option<PresetTargets>,
    /// The URL endpoint paths are appended to.
    pub(super) base_url: Option<Url>,
    /// The token endpoint.
    pub(super) token_url: Option<Url>,
    /// A base URL was configured (directly or by the preset) but is
    /// unusable; its problem is reported already, so endpoint paths say
    /// nothing more.
    pub(super) base_url_failed: bool,
}

impl TenantCheck<'_> {
    /// The preset, then `base_url` and `token_url`, each explicit value
    /// overriding the preset's.
    pub(super) fn targets(&mut self, raw: &RawTenant) -> Targets {
        let preset = self.preset(raw);
        let base_url = match (&raw.base_url, &preset) {
            (Some(url), _) => self.url("base_url", url, raw.insecure_http),
            (None, Some(p)) => p.base_url.as_deref().and_then(|b| Url::parse(b).ok()),
            (None, None) => None,
        };
        let token_url = match (&raw.token_url, &preset) {
            (Some(url), _) => self.url("token_url", url, raw.insecure_http),
            (None, Some(p)) => match &raw.base_url {
                // The legacy form lives on the API host: follow an overridden base URL.
                Some(_) if p.token_on_api_host => base_url
                    .as_ref()
                    .and_then(|b| Url::parse(&join(b, "/api/v1/token")).ok()),
                _ => Url::parse(&p.token_url).ok(),
            },
            (None, None) => {
                // With issuer: and no token URL, discovery names it
                // (TokenCheck::token_endpoint).
                if raw.nexthink.is_none() && raw.entra.is_none() && raw.issuer.is_none() {
                    self.problem(
                        "token_url",
                        "required unless issuer: is set (its discovery document names the \
                         token endpoint), or use the `nexthink:` or `entra:` preset",
                    );
                }
                None
            }
        };
        // A preset that did not expand (its problem is reported) would
        // have given the base URL: endpoint paths say nothing more.
        let preset_failed = raw.entra.is_some() && preset.is_none();
        let base_url_failed = (raw.base_url.is_some()
            || raw.nexthink.is_some()
            || preset_failed
            || preset.as_ref().is_some_and(|p| p.base_url.is_some()))
            && base_url.is_none();
        Targets {
            preset,
            base_url,
            token_url,
            base_url_failed,
        }
    }

    fn preset(&mut self, raw: &RawTenant) -> Option<PresetTargets> {
        if raw.nexthink.is_some() && raw.entra.is_some() {
            self.problem(
                "entra",
                "a tenant uses one preset: nexthink or entra, not both",
            );
            return None;
        }
        if let Some(e) = &raw.entra {
            return match entra::targets(
                &e.tenant_id,
                e.cloud,
                e.resource.as_deref(),
                raw.base_url.as_deref(),
            ) {
                Ok(targets) => Some(targets),
                Err(error) => {
                    let field = match error {
                        EntraError::BadTenant(_) => "entra.tenant_id",
                        EntraError::NoResource | EntraError::BadResource(_) => "entra.resource",
                    };
                    self.problem(field, error.to_string());
                    None
                }
            };
        }
        let n = raw.nexthink.as_ref()?;
        match nexthink::targets(&n.instance, &n.region, n.token_endpoint) {
            Ok(targets) => Some(targets),
            Err(error) => {
                let field = match error {
                    PresetError::UnknownRegion(_) => "nexthink.region",
                    PresetError::BadInstance(_) => "nexthink.instance",
                };
                self.problem(field, error.to_string());
                None
            }
        }
    }

    /// Parses a URL and refuses plain http to non-loopback hosts unless the
    /// tenant said `insecure_http: true`.
    pub(super) fn url(&mut self, field: &str, text: &str, insecure_http: bool) -> Option<Url> {
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

    /// The proxy and CA bundle, read now so a missing or non-PEM file is a
    /// configuration problem, not a failed probe.
    pub(super) fn http_profile(&mut self, raw: &RawTenant) -> HttpProfile {
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
        // Another shard's tenant: its CA file is that shard's to read.
        let ca = raw
            .ca_file
            .as_ref()
            .filter(|_| self.read_files)
            .and_then(|path| {
                let path = self.base_dir.join(path);
                let pem = match crate::bounded_file::read(&path, crate::bounded_file::PEM_LIMIT) {
                    Ok(pem) => pem,
                    Err(error) => {
                        self.problem(
                            "ca_file",
                            format!("cannot read {}: {error}", path.display()),
                        );
                        return None;
                    }
                };
                // The parser the tenant's client trusts it with, so a bundle
                // that passes here is one the client can use.
                match ca_roots(&pem) {
                    Ok(_) => Some((path, Arc::new(pem))),
                    Err(error) => {
                        self.problem("ca_file", format!("{} {error}", path.display()));
                        None
                    }
                }
            });
        HttpProfile {
            proxy,
            ca,
            identity: None,
            fresh_connections: raw.fresh_connections,
        }
    }
}

/// Appends a path to a base URL that may itself carry a path prefix.
pub(super) fn join(base: &Url, path: &str) -> String {
    format!("{}{}", base.as_str().trim_end_matches('/'), path)
}
