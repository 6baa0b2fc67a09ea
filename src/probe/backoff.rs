//! 429 back-off, scoped to what a rate limit limits: after a
//! `Retry-After`, no request goes out in that scope before the time it
//! named.
//!
//! - A token request's 429 backs off that credential at that token
//!   endpoint (token URL + client id): identity providers limit per
//!   client, and many tenants share one provider (Entra ID's login host,
//!   an Okta organisation, a company's Keycloak).
//! - A token request with the next credential (a rotation in progress)
//!   backs off that next credential only.
//! - An API call's 429 backs off that tenant on that origin.
//!
//! So one tenant's rate limit never silences another. Every back-off is
//! capped at [`MAX_BACKOFF`] and at [`BACKOFF_INTERVALS`] of the tenant's
//! interval, so a broken or hostile `Retry-After` cannot silence a tenant
//! for long; each request skipped meanwhile is recorded as `backed_off`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderValue;
use url::Url;

/// The longest back-off honoured, whatever the tenant's interval.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The longest back-off honoured, in intervals of the tenant: after this
/// many skipped cycles credprobe asks again (and records the 429 again if
/// the limit still holds).
pub const BACKOFF_INTERVALS: u32 = 3;

/// What a back-off applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BackoffScope {
    /// One credential at one token endpoint.
    Token {
        /// The token URL without query or fragment.
        url: String,
        /// The OAuth2 client id.
        client_id: String,
    },
    /// The next credential (`next_client_secret_file`,
    /// `next_client_key_file`) of a client at one
    /// token endpoint: a 429 answered to it does not silence the current
    /// credential's requests, whose results are what the alerts read.
    NextCredential {
        /// The token URL without query or fragment.
        url: String,
        /// The OAuth2 client id.
        client_id: String,
    },
    /// One tenant's calls to one origin (scheme, host, port).
    Api {
        /// The tenant's name.
        tenant: String,
        /// The origin, e.g. `https://acme.api.eu.nexthink.cloud`.
        origin: String,
    },
}

impl BackoffScope {
    /// The scope of a token request.
    pub fn token(url: &Url, client_id: &str) -> BackoffScope {
        let mut url = url.clone();
        url.set_query(None);
        url.set_fragment(None);
        BackoffScope::Token {
            url: url.to_string(),
            client_id: client_id.to_owned(),
        }
    }

    /// The scope of a token request made with the next credential.
    pub fn next_credential(url: &Url, client_id: &str) -> BackoffScope {
        match BackoffScope::token(url, client_id) {
            BackoffScope::Token { url, client_id } => {
                BackoffScope::NextCredential { url, client_id }
            }
            other => other,
        }
    }

    /// The scope of a tenant's call to `url`.
    pub fn api(tenant: &str, url: &Url) -> BackoffScope {
        BackoffScope::Api {
            tenant: tenant.to_owned(),
            origin: url.origin().ascii_serialization(),
        }
    }
}

/// The cap on a tenant's back-off: [`BACKOFF_INTERVALS`] intervals, at most
/// [`MAX_BACKOFF`].
pub fn cap_for(interval: Duration) -> Duration {
    interval.saturating_mul(BACKOFF_INTERVALS).min(MAX_BACKOFF)
}

/// The scopes that asked us to wait, and until when. Expired entries are
/// dropped when looked up and whenever a new one is added, so the map
/// holds at most the scopes backing off now.
#[derive(Debug, Default)]
pub struct Backoff {
    until: Mutex<HashMap<BackoffScope, Instant>>,
}

impl Backoff {
    /// How long requests in `scope` must still wait, if at all.
    pub fn remaining(&self, scope: &BackoffScope) -> Option<Duration> {
        let mut map = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        let until = *map.get(scope)?;
        let now = Instant::now();
        if until <= now {
            map.remove(scope);
            return None;
        }
        Some(until - now)
    }

    /// Records the `Retry-After` of a 429 in `scope`, capped at `cap`;
    /// returns the wait recorded.
    pub fn note_retry_after(
        &self,
        scope: BackoffScope,
        retry_after: &HeaderValue,
        cap: Duration,
    ) -> Option<Duration> {
        let value = retry_after.to_str().ok()?;
        let wait = parse_retry_after(value, SystemTime::now())?
            .min(cap)
            .min(MAX_BACKOFF);
        if wait.is_zero() {
            return None;
        }
        let now = Instant::now();
        let until = now + wait;
        let mut map = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, until| *until > now);
        let entry = map.entry(scope).or_insert(until);
        *entry = (*entry).max(until);
        Some(wait)
    }

    /// How many scopes are backing off now (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        let now = Instant::now();
        let map = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        map.values().filter(|until| **until > now).count()
    }
}

/// `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    fn retry_after(value: &str) -> HeaderValue {
        value.parse().unwrap()
    }

    #[test]
    fn a_credential_backs_off_alone_on_a_shared_token_endpoint() {
        let backoff = Backoff::default();
        let url = Url::parse("https://login.example/oauth2/token?x=1").unwrap();
        let limited = BackoffScope::token(&url, "tenant-a");
        let neighbour = BackoffScope::token(&url, "tenant-b");
        assert_eq!(
            backoff.note_retry_after(limited.clone(), &retry_after("60"), MAX_BACKOFF),
            Some(Duration::from_secs(60))
        );
        assert!(backoff.remaining(&limited).unwrap() > Duration::from_secs(50));
        assert!(backoff.remaining(&neighbour).is_none());
        // The query does not make another scope.
        let plain = Url::parse("https://login.example/oauth2/token").unwrap();
        assert!(
            backoff
                .remaining(&BackoffScope::token(&plain, "tenant-a"))
                .is_some()
        );
    }

    #[test]
    fn a_tenant_backs_off_alone_on_a_shared_api_origin() {
        let backoff = Backoff::default();
        let api = Url::parse("https://api.example/v1/workflows").unwrap();
        let other_path = Url::parse("https://api.example:443/v1/other").unwrap();
        let other_origin = Url::parse("https://api.example:8443/v1/workflows").unwrap();
        backoff.note_retry_after(
            BackoffScope::api("a", &api),
            &retry_after("30"),
            MAX_BACKOFF,
        );
        assert!(
            backoff
                .remaining(&BackoffScope::api("a", &other_path))
                .is_some()
        );
        assert!(backoff.remaining(&BackoffScope::api("b", &api)).is_none());
        assert!(
            backoff
                .remaining(&BackoffScope::api("a", &other_origin))
                .is_none()
        );
    }

    #[test]
    fn back_offs_are_capped_by_the_hour_and_by_the_tenants_intervals() {
        let backoff = Backoff::default();
        let url = Url::parse("https://a.example/x").unwrap();
        let scope = BackoffScope::api("t", &url);
        assert_eq!(
            backoff.note_retry_after(scope.clone(), &retry_after("999999"), MAX_BACKOFF),
            Some(MAX_BACKOFF)
        );
        let cap = cap_for(Duration::from_secs(10));
        assert_eq!(cap, Duration::from_secs(30));
        assert_eq!(cap_for(Duration::from_secs(7200)), MAX_BACKOFF);
        let other = BackoffScope::api("u", &url);
        assert_eq!(
            backoff.note_retry_after(other, &retry_after("3600"), cap),
            Some(Duration::from_secs(30))
        );
        assert_eq!(backoff.len(), 2);
        assert_eq!(
            backoff.note_retry_after(scope, &retry_after("garbage"), cap),
            None
        );
    }
}
