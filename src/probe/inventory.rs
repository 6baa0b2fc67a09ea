//! The Entra credential inventory (`entra.credential_inventory`): a Graph
//! token requested with the tenant's own credential, then
//! `GET /v1.0/applications(appId='…')` for the application's secrets
//! (`passwordCredentials`, each with its `hint`) and certificates
//! (`keyCredentials`, each with its SHA-1 thumbprint as
//! `customKeyIdentifier`: an Edm.Binary, so base64 of the 20 digest bytes
//! in Graph's JSON; 40 hex digits are taken too) and their `endDateTime`.
//!
//! Off the cycle's path: the tenant's task runs it in a task of its own,
//! at most hourly ([`crate::daemon::inventory`]); the Graph token is used
//! for this one request and then dropped, never kept, shown or logged.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret;
use serde_json::Value;

use super::backoff::{self, BackoffScope};
use super::classify::{ResultClass as _, TokenResult};
use super::http::{NotSent, Pacing, TenantClients, Transport};
use super::token;
use crate::config::entra::InventorySettings;
use crate::config::{Credential, Tenant};

/// Largest Graph answer read: an application lists a few dozen
/// credentials at most, each a few hundred bytes.
pub const MAX_GRAPH_BODY_BYTES: usize = 256 * 1024;

/// The Graph permission the inventory needs, named when Graph answers 403.
pub const REQUIRED_PERMISSION: &str = "Application.Read.All";

/// A secret or a certificate of the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A client secret (`passwordCredentials`).
    Secret,
    /// A certificate (`keyCredentials`).
    Certificate,
}

/// One credential Graph lists: its kind, what identifies it (a secret's
/// hint, a certificate's thumbprint; kept for matching, never shown) and
/// when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCredential {
    /// Secret or certificate.
    pub kind: CredentialKind,
    /// The hint (first 3 characters of the secret) or the upper-case SHA-1
    /// thumbprint; `None` when Graph gave neither.
    pub id: Option<String>,
    /// `endDateTime`.
    pub end: SystemTime,
}

/// What the inventory concluded from one listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// When the credential in use expires, if Graph lists any credential.
    pub in_use_expiry: Option<SystemTime>,
    /// True when the credential in use was recognised (by hint or
    /// thumbprint); false when `in_use_expiry` is the earliest of the
    /// candidates because it could not be told.
    pub matched: bool,
    /// The latest end of all the application's credentials.
    pub latest_expiry: Option<SystemTime>,
    /// How many secrets Graph lists.
    pub secrets: usize,
    /// How many certificates Graph lists.
    pub certificates: usize,
}

/// Why the inventory could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// The Graph token request failed.
    #[error("the Graph token request failed ({}): {detail}", result.as_str())]
    Token {
        /// Its result class.
        result: TokenResult,
        /// What it found, as the token step words it.
        detail: String,
    },
    /// Graph answered 403: the application lacks the permission.
    #[error(
        "Graph refused to list the application's credentials (HTTP 403): grant the application the Microsoft Graph application permission {REQUIRED_PERMISSION} (with admin consent)"
    )]
    Forbidden,
    /// Graph answered 401: the token was not accepted.
    #[error("Graph did not accept the token (HTTP 401)")]
    Unauthorized,
    /// Graph answered 404: no application has this client id.
    #[error("Graph knows no application with this client_id (HTTP 404)")]
    NotFound,
    /// Any other status.
    #[error("Graph answered HTTP {0}")]
    Status(u16),
    /// No answer.
    #[error("no answer from Graph: {0}")]
    Transport(String),
    /// Graph (or the token endpoint) asked to wait (429 Retry-After).
    #[error("backing off for {}s after a 429 from Graph", .0.as_secs())]
    BackedOff(Duration),
    /// A 2xx that is not an application with credentials.
    #[error("Graph's answer is not an application's credentials: {0}")]
    InvalidBody(&'static str),
}

impl InventoryError {
    /// A short, stable word for the JSON and the log.
    pub fn kind(&self) -> &'static str {
        match self {
            InventoryError::Token { .. } => "token_failed",
            InventoryError::Forbidden => "forbidden",
            InventoryError::Unauthorized => "unauthorized",
            InventoryError::NotFound => "not_found",
            InventoryError::Status(_) => "unexpected_status",
            InventoryError::Transport(_) => "no_answer",
            InventoryError::BackedOff(_) => "backed_off",
            InventoryError::InvalidBody(_) => "invalid_response",
        }
    }

    /// The permission to grant, when that is what is missing.
    pub fn missing_permission(&self) -> Option<&'static str> {
        matches!(self, InventoryError::Forbidden).then_some(REQUIRED_PERMISSION)
    }
}

/// Reads the application's credentials from Graph and concludes which is
/// in use: a Graph token with the tenant's credential, then one GET, each
/// bounded by the tenant's timeout and body limits.
pub async fn fetch(
    transport: &Transport,
    clients: &TenantClients,
    tenant: &Tenant,
    settings: &InventorySettings,
) -> Result<Found, InventoryError> {
    // Never waits out a back-off: the next attempt comes soon enough.
    let cap = backoff::cap_for(tenant.interval);
    let token_scope = BackoffScope::token(tenant.token.url.scope_url(), &tenant.token.client_id);
    let pacing = Pacing {
        scope: &token_scope,
        max_wait: Duration::ZERO,
        cap,
    };
    let attempt =
        token::request_token_for(transport, clients, &tenant.token, &settings.form, &pacing).await;
    let Some(graph_token) = attempt.token else {
        if attempt.outcome.result == TokenResult::BackedOff {
            return Err(InventoryError::BackedOff(Duration::ZERO));
        }
        return Err(InventoryError::Token {
            result: attempt.outcome.result,
            detail: attempt.outcome.detail.as_deref().unwrap_or("").to_owned(),
        });
    };
    let request = match &clients.endpoint {
        Ok(client) => client
            .get(settings.application_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .bearer_auth(graph_token.access_token.expose_secret()),
        Err(why) => return Err(InventoryError::Transport(why.to_string())),
    };
    drop(graph_token);
    let graph_scope = BackoffScope::api(&tenant.name, &settings.application_url);
    let pacing = Pacing {
        scope: &graph_scope,
        max_wait: Duration::ZERO,
        cap,
    };
    let exchange = match transport
        .send(request, tenant.token.timeout, MAX_GRAPH_BODY_BYTES, &pacing)
        .await
    {
        Ok(exchange) => exchange,
        Err(NotSent::BackedOff(wait)) => return Err(InventoryError::BackedOff(wait)),
    };
    let answer = exchange
        .answer
        .map_err(|why| InventoryError::Transport(why.detail))?;
    match answer.status {
        200..=299 if answer.over_limit => Err(InventoryError::InvalidBody("larger than 256 KiB")),
        200..=299 => {
            let listed = parse(&answer.body)?;
            Ok(conclude(&listed, in_use(&tenant.token.credential).as_ref()))
        }
        401 => Err(InventoryError::Unauthorized),
        403 => Err(InventoryError::Forbidden),
        404 => Err(InventoryError::NotFound),
        status => Err(InventoryError::Status(status)),
    }
}

/// What identifies the credential in use, as Graph would list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InUse {
    /// Secret or certificate.
    pub kind: CredentialKind,
    /// The secret's hint (its first 3 characters), or the certificate's
    /// upper-case SHA-1 thumbprint; `None` for a `private_key_jwt` key
    /// without a certificate.
    pub id: Option<String>,
}

/// The credential the tenant presents now.
pub fn in_use(credential: &Credential) -> Option<InUse> {
    match credential {
        Credential::Secret(source) => {
            let secret = source.current();
            let hint: String = secret.expose_secret().chars().take(3).collect();
            Some(InUse {
                kind: CredentialKind::Secret,
                id: Some(hint),
            })
        }
        Credential::Assertion(_) | Credential::Certificate(_) => {
            let material = credential.key_files()?.current();
            Some(InUse {
                kind: CredentialKind::Certificate,
                id: material
                    .certificate
                    .as_ref()
                    .map(|c| c.sha1_thumbprint.clone()),
            })
        }
    }
}

/// Which listed credential is in use and the latest end: the one
/// credential matched by hint or thumbprint; when several match (two
/// secrets sharing their first 3 characters) the earliest of them, and
/// when none does the earliest of its kind (or of all), both flagged as
/// not matched: it cannot tell which one is in use.
pub fn conclude(listed: &[ListedCredential], in_use: Option<&InUse>) -> Found {
    let earliest = |it: &mut dyn Iterator<Item = &ListedCredential>| it.map(|c| c.end).min();
    let is_match = |c: &ListedCredential| {
        in_use.is_some_and(|u| {
            c.kind == u.kind
                && u.id.as_deref().is_some_and(|id| {
                    c.id.as_deref()
                        .is_some_and(|listed| listed.eq_ignore_ascii_case(id))
                })
        })
    };
    let matches = listed.iter().filter(|c| is_match(c)).count();
    let in_use_expiry = earliest(&mut listed.iter().filter(|c| is_match(c))).or_else(|| {
        in_use
            .and_then(|u| earliest(&mut listed.iter().filter(|c| c.kind == u.kind)))
            .or_else(|| earliest(&mut listed.iter()))
    });
    Found {
        in_use_expiry,
        matched: matches == 1,
        latest_expiry: listed.iter().map(|c| c.end).max(),
        secrets: listed
            .iter()
            .filter(|c| c.kind == CredentialKind::Secret)
            .count(),
        certificates: listed
            .iter()
            .filter(|c| c.kind == CredentialKind::Certificate)
            .count(),
    }
}

/// Reads `passwordCredentials` and `keyCredentials` of a Graph application.
pub fn parse(body: &[u8]) -> Result<Vec<ListedCredential>, InventoryError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| InventoryError::InvalidBody("not JSON"))?;
    let mut listed = Vec::new();
    for (field, kind, id_field) in [
        ("passwordCredentials", CredentialKind::Secret, "hint"),
        (
            "keyCredentials",
            CredentialKind::Certificate,
            "customKeyIdentifier",
        ),
    ] {
        let Some(list) = value.get(field) else {
            continue;
        };
        let list = list.as_array().ok_or(InventoryError::InvalidBody(
            "a credential list is not an array",
        ))?;
        for entry in list.iter().take(1000) {
            let end = entry
                .get("endDateTime")
                .and_then(Value::as_str)
                .and_then(|text| humantime::parse_rfc3339_weak(text).ok())
                .ok_or(InventoryError::InvalidBody(
                    "a credential has no endDateTime in RFC 3339",
                ))?;
            let id = entry
                .get(id_field)
                .and_then(Value::as_str)
                .filter(|id| id.len() <= 128);
            let id = match kind {
                CredentialKind::Secret => id.map(str::to_owned),
                CredentialKind::Certificate => id.and_then(thumbprint),
            };
            listed.push(ListedCredential { kind, id, end });
        }
    }
    if value.get("passwordCredentials").is_none() && value.get("keyCredentials").is_none() {
        return Err(InventoryError::InvalidBody(
            "neither passwordCredentials nor keyCredentials",
        ));
    }
    Ok(listed)
}

/// A certificate's `customKeyIdentifier` as the upper-case hex SHA-1
/// thumbprint the certificate in use is compared with. Graph's JSON
/// carries it as an Edm.Binary, base64 of the 20 digest bytes; 40 hex
/// digits (as the portal and PowerShell show a thumbprint) are taken too.
/// `None` for anything else: such a certificate cannot be recognised.
fn thumbprint(identifier: &str) -> Option<String> {
    if identifier.len() == 40 && identifier.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(identifier.to_ascii_uppercase());
    }
    let bytes = STANDARD.decode(identifier).ok()?;
    (bytes.len() == 20).then(|| bytes.iter().map(|b| format!("{b:02X}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    const BODY: &str = r#"{"passwordCredentials":[
        {"hint":"old","endDateTime":"2026-01-10T00:00:00Z"},
        {"hint":"new","endDateTime":"2027-01-10T00:00:00.1234567Z"}],
        "keyCredentials":[{"customKeyIdentifier":"1A9Szu4ojeTtfFHWaP3d9KBNX34=","endDateTime":"2026-06-01T00:00:00Z"}]}"#;

    /// SHA-1 of "credprobe": the thumbprint BODY's certificate carries, in
    /// base64 there.
    const THUMBPRINT: &str = "D40F52CEEE288DE4ED7C51D668FDDDF4A04D5F7E";

    #[test]
    fn the_secret_in_use_is_matched_by_hint_and_the_latest_is_any_kind() {
        let listed = parse(BODY.as_bytes()).unwrap();
        assert_eq!(listed.len(), 3);
        let secret = |hint: &str| InUse {
            kind: CredentialKind::Secret,
            id: Some(hint.into()),
        };
        let found = conclude(&listed, Some(&secret("new")));
        assert_eq!(
            found.in_use_expiry,
            Some(at("2027-01-10T00:00:00.1234567Z"))
        );
        assert!(found.matched);
        assert_eq!(found.latest_expiry, found.in_use_expiry);
        let found = conclude(&listed, Some(&secret("old")));
        assert_eq!(found.in_use_expiry, Some(at("2026-01-10T00:00:00Z")));
        assert_eq!(
            found.latest_expiry,
            Some(at("2027-01-10T00:00:00.1234567Z"))
        );
        assert_eq!((found.secrets, found.certificates), (2, 1));
        // A hint Graph does not list: the earliest secret, not matched.
        let found = conclude(&listed, Some(&secret("zzz")));
        assert_eq!(found.in_use_expiry, Some(at("2026-01-10T00:00:00Z")));
        assert!(!found.matched);
        // A certificate by thumbprint, listed in base64 (Graph's
        // Edm.Binary).
        let cert = InUse {
            kind: CredentialKind::Certificate,
            id: Some(THUMBPRINT.into()),
        };
        let found = conclude(&listed, Some(&cert));
        assert_eq!(found.in_use_expiry, Some(at("2026-06-01T00:00:00Z")));
        assert!(found.matched);
    }

    #[test]
    fn thumbprints_are_read_as_base64_or_hex_in_any_case() {
        for listed in [
            "1A9Szu4ojeTtfFHWaP3d9KBNX34=",
            THUMBPRINT,
            "d40f52ceee288de4ed7c51d668fdddf4a04d5f7e",
        ] {
            assert_eq!(thumbprint(listed).as_deref(), Some(THUMBPRINT), "{listed}");
            let body = format!(
                r#"{{"keyCredentials":[{{"customKeyIdentifier":"{listed}","endDateTime":"2026-06-01T00:00:00Z"}}]}}"#
            );
            let cert = InUse {
                kind: CredentialKind::Certificate,
                id: Some(THUMBPRINT.into()),
            };
            let found = conclude(&parse(body.as_bytes()).unwrap(), Some(&cert));
            assert!(found.matched, "{listed}");
        }
        // Neither a SHA-1 in base64 nor in hex: not a thumbprint.
        for listed in [
            "AB12",
            "q83vEjRWeJA=",
            "Z40F52CEEE288DE4ED7C51D668FDDDF4A04D5F7E",
        ] {
            assert_eq!(thumbprint(listed), None, "{listed}");
        }
    }

    #[test]
    fn two_secrets_sharing_the_hint_are_not_recognised_and_the_earliest_counts() {
        let body = r#"{"passwordCredentials":[
            {"hint":"abc","endDateTime":"2027-03-01T00:00:00Z"},
            {"hint":"abc","endDateTime":"2026-12-01T00:00:00Z"},
            {"hint":"xyz","endDateTime":"2026-06-01T00:00:00Z"}]}"#;
        let listed = parse(body.as_bytes()).unwrap();
        let in_use = InUse {
            kind: CredentialKind::Secret,
            id: Some("abc".into()),
        };
        let found = conclude(&listed, Some(&in_use));
        // The earliest of the two that match, not the earliest secret.
        assert_eq!(found.in_use_expiry, Some(at("2026-12-01T00:00:00Z")));
        assert!(!found.matched, "two secrets share the hint: not recognised");
        assert_eq!(found.latest_expiry, Some(at("2027-03-01T00:00:00Z")));
        // One match among them is recognised.
        let found = conclude(&listed[1..], Some(&in_use));
        assert_eq!(found.in_use_expiry, Some(at("2026-12-01T00:00:00Z")));
        assert!(found.matched);
    }

    #[test]
    fn bodies_that_are_not_an_application_are_errors() {
        for body in [
            "[]",
            "{}",
            "nope",
            r#"{"passwordCredentials":[{"hint":"x"}]}"#,
        ] {
            assert!(parse(body.as_bytes()).is_err(), "{body}");
        }
        assert_eq!(
            parse(br#"{"passwordCredentials":[],"keyCredentials":[]}"#).unwrap(),
            vec![]
        );
        let empty = conclude(&[], None);
        assert_eq!((empty.in_use_expiry, empty.latest_expiry), (None, None));
    }
}
