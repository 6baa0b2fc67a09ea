//! The web configuration file as written: serde structs that mirror the
//! prometheus/exporter-toolkit format key for key, with nothing checked
//! beyond the YAML shape. [`super::validate`] turns them into a
//! [`super::WebConfig`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

/// The whole file. Every section is optional: an empty file serves plain
/// HTTP without authentication, as exporter-toolkit does.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebConfig {
    /// TLS; absent means plain HTTP.
    pub tls_server_config: Option<RawTls>,
    /// HTTP/2 and extra response headers.
    pub http_server_config: Option<RawHttp>,
    /// User name to bcrypt hash; absent or empty means no authentication.
    pub basic_auth_users: Option<BTreeMap<String, String>>,
    /// exporter-toolkit's request rate limiter: parsed only so validation
    /// can say why credprobe refuses it (see `validate`).
    pub rate_limit: Option<serde_norway::Value>,
}

/// `tls_server_config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// Inline PEM certificate chain (instead of `cert_file`).
    pub cert: Option<String>,
    /// Inline PEM private key (instead of `key_file`); a secret.
    #[serde(default, deserialize_with = "secret")]
    pub key: Option<SecretString>,
    /// Inline PEM client CA bundle (instead of `client_ca_file`).
    pub client_ca: Option<String>,
    /// PEM certificate chain, re-read when it changes.
    pub cert_file: Option<PathBuf>,
    /// PEM private key, re-read when it changes.
    pub key_file: Option<PathBuf>,
    /// Go's `tls.ClientAuthType` by name.
    pub client_auth_type: Option<String>,
    /// PEM bundle of the CAs client certificates must chain to.
    pub client_ca_file: Option<PathBuf>,
    /// A client certificate must carry one of these SANs.
    pub client_allowed_sans: Option<Vec<String>>,
    /// `TLS12` or `TLS13`.
    pub min_version: Option<String>,
    /// `TLS12` or `TLS13`.
    pub max_version: Option<String>,
    /// TLS 1.2 cipher suites by Go name, in preference order.
    pub cipher_suites: Option<Vec<String>>,
    /// Key exchange groups by Go name, in preference order.
    pub curve_preferences: Option<Vec<String>>,
    /// Whether the server's suite order wins over the client's.
    pub prefer_server_cipher_suites: Option<bool>,
}

/// `http_server_config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// Whether HTTP/2 may be negotiated.
    pub http2: Option<bool>,
    /// Extra response headers (a fixed set of names).
    pub headers: Option<BTreeMap<String, String>>,
}

/// An inline secret goes straight into a redacting type.
fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.map(SecretString::from))
}
