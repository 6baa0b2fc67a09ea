//! A tenant's endpoints: unique names, the URL called, a safe method unless
//! mutating is allowed, headers, own interval and timeout, and what a
//! successful answer looks like.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::check::{TenantCheck, Timing};
use super::rules::{NAME_RULE, check_timeout, valid_name};
use super::targets::{Targets, join};
use crate::config::raw::{RawEndpoint, RawExpect, RawTenant};
use crate::config::{Endpoint, Expect, JsonCheck, JsonCondition, Pattern, nexthink};

/// What an endpoint inherits from its tenant: the base URL a `path:` is
/// appended to (or that its problem is reported already), the interval
/// (the unit of an endpoint's own interval and the bound of its timeout),
/// the timeout and body limit it uses unless it sets its own, and whether
/// plain http to any host is allowed.
struct Inherited<'a> {
    targets: &'a Targets,
    timing: &'a Timing,
    insecure_http: bool,
}

impl TenantCheck<'_> {
    /// The configured endpoints (a Nexthink tenant without any gets the
    /// read-only endpoint of each listed permission, or the workflows
    /// list), each with a unique name; only valid ones are returned.
    pub(super) fn endpoints(
        &mut self,
        raw: &RawTenant,
        targets: &Targets,
        timing: &Timing,
    ) -> Vec<Endpoint> {
        let permissions = raw.nexthink.as_ref().and_then(|n| n.permissions.as_ref());
        let raw_endpoints = match (&raw.endpoints, &raw.nexthink, permissions) {
            (Some(_), _, Some(_)) => {
                self.problem(
                    "nexthink.permissions",
                    "give endpoints: or nexthink.permissions, not both (permissions choose the endpoints)",
                );
                return Vec::new();
            }
            (Some(list), _, None) => list.clone(),
            (None, Some(_), Some(permissions)) => {
                match nexthink::permission_endpoints(permissions) {
                    Ok(endpoints) => endpoints,
                    Err(error) => {
                        self.problem("nexthink.permissions", error.to_string());
                        return Vec::new();
                    }
                }
            }
            (None, Some(_), None) => nexthink::default_endpoints(),
            (None, None, _) => Vec::new(),
        };
        let inherited = Inherited {
            targets,
            timing,
            insecure_http: raw.insecure_http,
        };
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
            if let Some(e) = self.endpoint(&field, endpoint, &inherited) {
                endpoints.push(e);
            }
        }
        endpoints
    }

    /// One endpoint at `field` (`endpoints[i]`); `None` when it has a
    /// problem.
    fn endpoint(
        &mut self,
        field: &str,
        raw: &RawEndpoint,
        inherited: &Inherited<'_>,
    ) -> Option<Endpoint> {
        let before = self.problems.count();
        if !valid_name(&raw.name) {
            self.problem(format!("{field}.name"), NAME_RULE);
        }
        let url = self.endpoint_url(field, raw, inherited);
        let method = self.method(field, raw);
        let headers = self.headers(field, raw);
        let every_cycles = self.every_cycles(field, raw, inherited.timing.interval);
        let timeout = raw.timeout.unwrap_or(inherited.timing.timeout);
        if raw.timeout.is_some()
            && let Err(message) =
                check_timeout(timeout, inherited.timing.interval, "tenant interval")
        {
            self.problem(format!("{field}.timeout"), message.to_string());
        }
        let max_body_bytes = self.byte_limit(
            &format!("{field}.max_body_bytes"),
            raw.max_body_bytes,
            inherited.timing.max_body_bytes,
        );
        let expect = self.expect(field, raw.expect.as_ref());
        if self.problems.count() > before {
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

    /// Exactly one of `path` (appended to the tenant's base URL) or `url`.
    fn endpoint_url(
        &mut self,
        field: &str,
        raw: &RawEndpoint,
        inherited: &Inherited<'_>,
    ) -> Option<Url> {
        match (&raw.path, &raw.url) {
            (Some(path), None) => {
                if !path.starts_with('/') {
                    self.problem(format!("{field}.path"), "must start with /");
                    None
                } else if let Some(base) = &inherited.targets.base_url {
                    self.url(
                        &format!("{field}.path"),
                        &join(base, path),
                        inherited.insecure_http,
                    )
                } else if inherited.targets.base_url_failed {
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
            (None, Some(url)) => self.url(&format!("{field}.url"), url, inherited.insecure_http),
            _ => {
                self.problem(
                    format!("{field}.path"),
                    "exactly one of path or url is required",
                );
                None
            }
        }
    }

    /// GET unless said otherwise; anything but GET and HEAD needs
    /// `allow_mutating: true`, so no probe triggers an action by accident.
    fn method(&mut self, field: &str, raw: &RawEndpoint) -> Option<reqwest::Method> {
        let text = raw.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        let Ok(method) = reqwest::Method::from_bytes(text.as_bytes()) else {
            self.problem(
                format!("{field}.method"),
                format!("{text:?} is not an HTTP method"),
            );
            return None;
        };
        let safe = method == reqwest::Method::GET || method == reqwest::Method::HEAD;
        if !safe && !raw.allow_mutating {
            self.problem(
                format!("{field}.method"),
                format!(
                    "{method} may change data upstream; set allow_mutating: true if this request only reads"
                ),
            );
        }
        Some(method)
    }

    /// Extra headers; Authorization is refused, the token sets it.
    fn headers(&mut self, field: &str, raw: &RawEndpoint) -> HeaderMap {
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
        headers
    }

    /// An endpoint's own interval as a whole number of tenant cycles,
    /// rounded up; it may not be shorter than the tenant's.
    fn every_cycles(&mut self, field: &str, raw: &RawEndpoint, tenant_interval: Duration) -> u32 {
        match raw.interval {
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
        }
    }

    /// Status codes, body pattern and JSON pointer checks.
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
        let json = self.json_checks(field, raw);
        Expect {
            status: raw.status.clone(),
            body_regex,
            json,
        }
    }

    fn json_checks(&mut self, field: &str, raw: &RawExpect) -> Vec<JsonCheck> {
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
        json
    }
}
