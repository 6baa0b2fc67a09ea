//! `--web.config.file`: TLS, client certificates, basic authentication and
//! response headers of the HTTP server, in the prometheus/exporter-toolkit
//! web configuration format, so one file serves credprobe and every other
//! Prometheus exporter alike.
//!
//! Loading is two stages like the main configuration: [`raw`] mirrors the
//! YAML with serde (`deny_unknown_fields`), [`validate`] checks every field
//! and builds a ready [`WebConfig`]: a rustls server configuration
//! ([`tls`]) with its client certificate policy ([`client_certs`]) and a
//! certificate that follows its files ([`server_certificate`], refreshed
//! by the server's periodic task), and the users ([`basic_auth`]). Problems are [`ConfigError`]s naming the file and the
//! field, so start-up exits with code 2 and a reload keeps the running
//! configuration, exactly as for the main configuration.

pub mod basic_auth;
pub mod client_certs;
pub mod raw;
pub mod server_certificate;
pub mod tls;
pub mod tls_options;
pub mod validate;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};

pub use basic_auth::BasicAuth;
pub use server_certificate::ServerCertificate;

use crate::config::ConfigError;

/// How the HTTP server serves: with or without TLS, who may come in, and
/// which headers every response carries. A connection's TLS follows the
/// configuration current when it was accepted; users and headers follow
/// the one current at each request.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// The file it was read from, read again on reload; `None` for the
    /// default (plain HTTP, no authentication).
    pub source: Option<PathBuf>,
    /// The TLS server configuration; `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The certificate `tls` serves, for the server's task that refreshes
    /// it ([`server_certificate::refresh_every`]).
    pub certificate: Option<Arc<ServerCertificate>>,
    /// The client certificate policy (`NoClientCert` without TLS), for
    /// the start-up log.
    pub client_auth: tls_options::ClientAuth,
    /// The users allowed in; `None` lets every request in.
    pub basic_auth: Option<Arc<BasicAuth>>,
    /// Set on every response, replacing what the route set.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Files whose change calls for a reload (`--config.watch`): the web
    /// configuration itself and the client CA file. The certificate and key
    /// need none: the server refreshes them itself.
    pub watched_files: Vec<PathBuf>,
}

impl WebConfig {
    /// Reads and checks a web configuration file.
    pub fn load(path: &Path) -> Result<WebConfig, ConfigError> {
        let text = crate::bounded_file::read_to_string(path, crate::bounded_file::PEM_LIMIT)
            .map_err(|error| ConfigError::file(path, format!("cannot read: {error}")))?;
        validate::from_str(&text, path)
    }

    /// A one-line description for the start-up log (never a secret).
    pub fn describe(&self) -> String {
        let mut parts = vec![if self.tls.is_some() { "https" } else { "http" }.to_owned()];
        if self.client_auth != tls_options::ClientAuth::NoClientCert {
            parts.push(format!("client certificates: {:?}", self.client_auth));
        }
        if let Some(auth) = &self.basic_auth {
            let users: Vec<&str> = auth.user_names().collect();
            parts.push(format!("basic auth ({})", users.join(", ")));
        }
        if !self.headers.is_empty() {
            parts.push(format!("{} extra headers", self.headers.len()));
        }
        parts.join(", ")
    }
}
