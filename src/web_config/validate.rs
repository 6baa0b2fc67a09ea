//! From [`RawWebConfig`] to a ready [`WebConfig`]: every field checked at
//! once, each problem naming the file and the field, files read, the TLS
//! configuration built.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};
use rustls::crypto::SupportedKxGroup;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};

use super::WebConfig;
use super::basic_auth::{BasicAuth, bcrypt_cost};
use super::raw::{RawHttp, RawTls, RawWebConfig};
use super::tls;
use super::tls_options::{ClientAuth, Pem, PemInput, TlsOptions};
use crate::config::{ConfigError, Problems};

/// The response headers a web configuration may set, with the only values
/// allowed where the header is an enumeration: exporter-toolkit's list, so
/// one file works for every Prometheus exporter (and no file can set
/// `Authorization`, `Set-Cookie` or `Content-Type`).
pub const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// TLS 1.3 cipher suites by their Go names: accepted in `cipher_suites` and
/// ignored, because TLS 1.3 suites are not configurable (in Go either).
const TLS13_SUITE_NAMES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Parses and checks a web configuration file's text.
pub fn from_str(text: &str, file: &Path) -> Result<WebConfig, ConfigError> {
    let raw: RawWebConfig = if text.trim().is_empty() {
        RawWebConfig::default()
    } else {
        serde_norway::from_str(text).map_err(|error| ConfigError::file(file, error.to_string()))?
    };
    let dir = file.parent().unwrap_or(Path::new(".")).to_owned();
    let mut check = Check {
        file: file.to_owned(),
        problems: Problems::new(),
    };

    if raw.rate_limit.is_some() {
        check.fail(
            "rate_limit",
            "not supported: one request budget for every client would let any client use up the \
             scrape's share; credprobe bounds each client instead (--web.max-connections, \
             --web.header-read-timeout)",
        );
    }
    let tls_options = raw
        .tls_server_config
        .and_then(|tls| tls_options(tls, &dir, &mut check));
    let headers = headers(raw.http_server_config.unwrap_or_default(), &mut check);
    let users = users(raw.basic_auth_users.unwrap_or_default(), &mut check);

    // Every problem of the file's fields at once, before anything is built.
    check.problems.finish()?;
    let mut watched = vec![file.to_owned()];
    let client_auth = tls_options
        .as_ref()
        .map(|options| options.client_auth)
        .unwrap_or_default();
    let tls = match tls_options {
        Some(options) => {
            if let Some(PemInput {
                source: Pem::File(path),
                ..
            }) = &options.client_ca
            {
                watched.push(path.clone());
            }
            match tls::server_config(options) {
                Ok(tls) => Some(tls),
                Err(found) => {
                    let mut problems = Problems::new();
                    for error in found {
                        problems.push(file, None, error.field, error.problem.to_string());
                    }
                    problems.finish()?;
                    None
                }
            }
        }
        None => None,
    };
    Ok(WebConfig {
        source: Some(file.to_owned()),
        tls: tls.as_ref().map(|tls| Arc::clone(&tls.config)),
        certificate: tls.map(|tls| tls.certificate),
        client_auth,
        basic_auth: BasicAuth::new(users).map(Arc::new),
        headers,
        watched_files: watched,
    })
}

/// The web configuration's problems: the one collector
/// ([`crate::config::Problems`]) with this file.
struct Check {
    file: PathBuf,
    problems: Problems,
}

impl Check {
    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(&self.file, None, field, message);
    }
}

/// `tls_server_config` checked field by field; `None` when a field is
/// wrong (then `check` says which).
fn tls_options(raw: RawTls, dir: &Path, check: &mut Check) -> Option<TlsOptions> {
    let before = check.problems.count();
    // Relative to the web configuration's folder; an absolute path stays
    // as it is (Path::join replaces the base with it).
    let resolve = |path: PathBuf| dir.join(path);
    let cert = pem_input(
        check,
        raw.cert.map(secrecy::SecretString::from),
        raw.cert_file.map(resolve),
        ("tls_server_config.cert", "tls_server_config.cert_file"),
        true,
    );
    let key = pem_input(
        check,
        raw.key,
        raw.key_file.map(resolve),
        ("tls_server_config.key", "tls_server_config.key_file"),
        true,
    );
    let client_ca = pem_input(
        check,
        raw.client_ca.map(secrecy::SecretString::from),
        raw.client_ca_file.map(resolve),
        (
            "tls_server_config.client_ca",
            "tls_server_config.client_ca_file",
        ),
        false,
    );

    let name = raw.client_auth_type.unwrap_or_default();
    let client_auth = ClientAuth::parse(&name).unwrap_or_else(|| {
        check.fail(
            "tls_server_config.client_auth_type",
            format!(
                "unknown value {name:?}: expected NoClientCert, RequestClientCert, \
                 RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
            ),
        );
        ClientAuth::NoClientCert
    });
    if client_auth.verifies() && client_ca.is_none() {
        check.fail(
            "tls_server_config.client_ca_file",
            format!("required when client_auth_type is {name}"),
        );
    }
    if client_auth == ClientAuth::NoClientCert && client_ca.is_some() {
        check.fail(
            "tls_server_config.client_auth_type",
            "a client CA is configured but client_auth_type asks for no client certificate: \
             set RequireAndVerifyClientCert",
        );
    }
    let allowed_sans = raw.client_allowed_sans.unwrap_or_default();
    if !allowed_sans.is_empty() && client_auth == ClientAuth::NoClientCert {
        check.fail(
            "tls_server_config.client_allowed_sans",
            "needs a client_auth_type that asks for client certificates",
        );
    }

    let min = version(check, "tls_server_config.min_version", raw.min_version, 12);
    let max = version(check, "tls_server_config.max_version", raw.max_version, 13);
    let versions: Vec<&'static SupportedProtocolVersion> = match (min, max) {
        (Some(min), Some(max)) if min > max => {
            check.fail("tls_server_config.min_version", "is above max_version");
            Vec::new()
        }
        (Some(min), Some(max)) => [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (min..=max).contains(v))
            .map(|(_, version)| version)
            .collect(),
        _ => Vec::new(),
    };

    let tls12_suites = raw
        .cipher_suites
        .map(|names| cipher_suites(check, &names, min == Some(12)));
    let kx_groups = raw.curve_preferences.map(|names| curves(check, &names));

    if check.problems.count() > before {
        return None;
    }
    Some(TlsOptions {
        cert: cert?,
        key: key?,
        client_auth,
        client_ca,
        allowed_sans,
        versions,
        tls12_suites: tls12_suites.flatten(),
        kx_groups: kx_groups.flatten(),
        prefer_server_cipher_suites: raw.prefer_server_cipher_suites.unwrap_or(true),
    })
}

/// One of an inline value and a file (exactly one when `required`).
fn pem_input(
    check: &mut Check,
    inline: Option<secrecy::SecretString>,
    file: Option<PathBuf>,
    (inline_field, file_field): (&'static str, &'static str),
    required: bool,
) -> Option<PemInput> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            check.fail(
                file_field,
                format!("set {file_field} or {inline_field}, not both"),
            );
            None
        }
        (Some(text), None) => Some(PemInput {
            field: inline_field,
            source: Pem::Inline(text),
        }),
        (None, Some(path)) => Some(PemInput {
            field: file_field,
            source: Pem::File(path),
        }),
        (None, None) => {
            if required {
                check.fail(file_field, format!("required (or {inline_field})"));
            }
            None
        }
    }
}

/// `TLS12` or `TLS13` as 12 or 13.
fn version(check: &mut Check, field: &str, value: Option<String>, default: u8) -> Option<u8> {
    match value.as_deref() {
        None => Some(default),
        Some("TLS12") => Some(12),
        Some("TLS13") => Some(13),
        Some(old @ ("TLS10" | "TLS11")) => {
            check.fail(
                field,
                format!("{old} is not supported: rustls implements TLS 1.2 and 1.3 only"),
            );
            None
        }
        Some(other) => {
            check.fail(
                field,
                format!("unknown TLS version {other:?}: expected TLS12 or TLS13"),
            );
            None
        }
    }
}

/// TLS 1.2 suites by Go name, in order. rustls's *ring* provider has the
/// six ECDHE AEAD suites; Go's CBC and RSA key exchange suites do not
/// exist there and are refused by name.
fn cipher_suites(
    check: &mut Check,
    names: &[String],
    tls12_enabled: bool,
) -> Option<Vec<SupportedCipherSuite>> {
    let available: Vec<(String, SupportedCipherSuite)> = rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .filter(|suite| matches!(suite, SupportedCipherSuite::Tls12(_)))
        .map(|suite| (format!("{:?}", suite.suite()), *suite))
        .collect();
    let mut chosen = Vec::new();
    let before = check.problems.count();
    for (i, name) in names.iter().enumerate() {
        if TLS13_SUITE_NAMES.contains(&name.as_str()) {
            continue;
        }
        // Go's older spellings of the ChaCha20 suites.
        let canonical = match name.as_str() {
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
                format!("{name}_SHA256")
            }
            _ => name.clone(),
        };
        match available.iter().find(|(n, _)| *n == canonical) {
            Some((_, suite)) if !chosen.contains(suite) => chosen.push(*suite),
            Some(_) => {}
            None => check.fail(
                format!("tls_server_config.cipher_suites[{i}]"),
                format!(
                    "{name} is not available: rustls offers only {}",
                    available
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }
    if check.problems.count() > before {
        return None;
    }
    if chosen.is_empty() {
        // An empty list keeps the defaults, as in Go; a list of TLS 1.3
        // names alone would leave TLS 1.2 without a suite.
        if tls12_enabled && !names.is_empty() {
            check.fail(
                "tls_server_config.cipher_suites",
                "names no TLS 1.2 suite, so TLS 1.2 clients could not connect: list TLS 1.2 \
                 suites, or remove cipher_suites (TLS 1.3 suites are always enabled)",
            );
        }
        return None;
    }
    Some(chosen)
}

/// Key exchange groups by Go name, in order.
fn curves(check: &mut Check, names: &[String]) -> Option<Vec<&'static dyn SupportedKxGroup>> {
    use rustls::crypto::ring::kx_group;
    let mut groups: Vec<&'static dyn SupportedKxGroup> = Vec::new();
    let before = check.problems.count();
    for (i, name) in names.iter().enumerate() {
        let field = format!("tls_server_config.curve_preferences[{i}]");
        match name.as_str() {
            "X25519" => groups.push(kx_group::X25519),
            "CurveP256" => groups.push(kx_group::SECP256R1),
            "CurveP384" => groups.push(kx_group::SECP384R1),
            "CurveP521" => check.fail(
                field,
                "CurveP521 is not available in rustls's ring provider: use X25519, CurveP256 or CurveP384",
            ),
            other => check.fail(
                field,
                format!("unknown curve {other:?}: expected X25519, CurveP256 or CurveP384"),
            ),
        }
    }
    if check.problems.count() > before || groups.is_empty() {
        return None;
    }
    Some(groups)
}

/// `http_server_config.headers`, restricted as in exporter-toolkit; a
/// blank value leaves the header unset.
fn headers(raw: RawHttp, check: &mut Check) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    for (name, value) in raw.headers.unwrap_or_default() {
        let field = format!("http_server_config.headers.{name}");
        let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| *n == name) else {
            check.fail(
                field,
                format!(
                    "this header cannot be configured; allowed: {}",
                    ALLOWED_HEADERS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        };
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            check.fail(
                field,
                format!("invalid value {value:?}: expected one of {allowed:?}"),
            );
            continue;
        }
        if value.trim().is_empty() {
            continue;
        }
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(name), Ok(value)) => out.push((name, value)),
            _ => check.fail(field, "not a valid HTTP header value"),
        }
    }
    out
}

/// `basic_auth_users`: every hash must be bcrypt; names must fit in a
/// Basic credential.
fn users(raw: BTreeMap<String, String>, check: &mut Check) -> BTreeMap<String, String> {
    for (user, hash) in &raw {
        let field = format!("basic_auth_users.{user}");
        if user.contains(':') {
            check.fail(
                &field,
                "a user name cannot contain ':' (HTTP Basic separates the password with it)",
            );
        }
        if user.is_empty() {
            check.fail(&field, "empty user name");
        }
        if let Err(error) = bcrypt_cost(hash) {
            // The value itself is never printed.
            check.fail(
                &field,
                format!("not a bcrypt hash ({error}); make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"),
            );
        }
    }
    raw
}
