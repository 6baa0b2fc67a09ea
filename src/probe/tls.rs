//! Certificate expiry of the hosts a tenant talks to, read from the leaf
//! certificate the TLS handshake presented.

use url::Url;

/// A leaf certificate seen on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSeen {
    /// The `host` label: the host name, with `:port` when not 443.
    pub host: String,
    /// notAfter, unix seconds.
    pub not_after: i64,
}

impl CertificateSeen {
    /// Reads notAfter from a DER certificate presented by `url`'s host.
    pub fn from_der(url: &Url, der: &[u8]) -> Option<CertificateSeen> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        Some(CertificateSeen {
            host: host_label(url),
            not_after: cert.validity().not_after.timestamp(),
        })
    }
}

/// The `host` label of a URL.
pub fn host_label(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(443) | None => host.to_owned(),
        Some(port) => format!("{host}:{port}"),
    }
}
