//! Where a tenant's token requests go ([`TokenEndpoint`]): a URL the
//! configuration names (`token_url:` or a preset's), or the
//! `token_endpoint` of the `issuer:`'s discovery document, read when the
//! request is made (cached an hour by [`crate::probe::jwks`]) and held to
//! the rules a configured `token_url:` is held to ([`DiscoveredEndpoint::accept`]).

use std::fmt;
use std::net::IpAddr;

use url::Url;

/// Where a tenant's token requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEndpoint {
    /// `token_url:`, or the one the Nexthink or Entra ID preset sets: it
    /// wins over discovery.
    Configured(Url),
    /// Read from the issuer's discovery document: a tenant with `issuer:`
    /// and no token URL.
    Discovered(DiscoveredEndpoint),
}

/// A token endpoint to be read from an issuer's discovery document, with
/// the rules the URL it names must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredEndpoint {
    /// `issuer:` as written (the discovery cache's key, and what the
    /// document's `issuer` must equal).
    pub issuer: String,
    /// The issuer, parsed: what the token requests' 429 back-off is keyed
    /// by, as the endpoint itself is known only once discovered.
    pub issuer_url: Url,
    /// `insecure_http: true`: plain http to a remote host is allowed.
    pub insecure_http: bool,
    /// `client_auth: tls_client_auth`: the certificate goes in the TLS
    /// handshake, so only https will do.
    pub https_only: bool,
}

/// Why a discovered token endpoint is refused: the reasons a configured
/// `token_url:` would be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefusedEndpoint {
    /// Neither http nor https.
    #[error("token_endpoint {0} is neither http nor https")]
    Scheme(String),
    /// Plain http to a remote host, without `insecure_http: true`.
    #[error(
        "token_endpoint {0} is plain http to a remote host: refused without insecure_http: true"
    )]
    PlainHttp(String),
    /// http for a tenant whose certificate goes in the TLS handshake.
    #[error("token_endpoint {0} is not https, which client_auth: tls_client_auth needs")]
    NotHttpsForCertificate(String),
    /// No host, or user information in the URL.
    #[error("token_endpoint {0} has no host, or credentials in the URL")]
    Malformed(String),
}

impl DiscoveredEndpoint {
    /// Accepts `url`, a discovery document's `token_endpoint`, when a
    /// `token_url:` of this tenant with that value would load.
    pub fn accept(&self, url: &Url) -> Result<(), RefusedEndpoint> {
        let shown = || {
            let mut shown = url.clone();
            shown.set_query(None);
            shown.set_fragment(None);
            let _ = shown.set_username("");
            let _ = shown.set_password(None);
            shown.to_string()
        };
        if url.host_str().is_none_or(str::is_empty)
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(RefusedEndpoint::Malformed(shown()));
        }
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.https_only => Err(RefusedEndpoint::NotHttpsForCertificate(shown())),
            "http" if self.insecure_http || is_loopback(url) => Ok(()),
            "http" => Err(RefusedEndpoint::PlainHttp(shown())),
            _ => Err(RefusedEndpoint::Scheme(shown())),
        }
    }
}

impl TokenEndpoint {
    /// The configured URL; `None` when it is discovered.
    pub fn configured(&self) -> Option<&Url> {
        match self {
            TokenEndpoint::Configured(url) => Some(url),
            TokenEndpoint::Discovered(_) => None,
        }
    }

    /// The URL a token request's back-off is keyed by: the configured
    /// token URL, or the issuer whose document names it.
    pub fn scope_url(&self) -> &Url {
        match self {
            TokenEndpoint::Configured(url) => url,
            TokenEndpoint::Discovered(discovered) => &discovered.issuer_url,
        }
    }
}

impl fmt::Display for TokenEndpoint {
    /// The configured URL, or `discovered from <issuer>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenEndpoint::Configured(url) => write!(f, "{url}"),
            TokenEndpoint::Discovered(discovered) => {
                write!(f, "discovered from {}", discovered.issuer)
            }
        }
    }
}

/// Whether `url` names this machine: plain http to it is allowed without
/// `insecure_http`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost" || name.ends_with(".localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discovered(insecure_http: bool, https_only: bool) -> DiscoveredEndpoint {
        DiscoveredEndpoint {
            issuer: "https://idp.example".into(),
            issuer_url: Url::parse("https://idp.example").unwrap(),
            insecure_http,
            https_only,
        }
    }

    #[test]
    fn a_discovered_endpoint_follows_the_token_url_rules() {
        let url = |text: &str| Url::parse(text).unwrap();
        let plain = discovered(false, false);
        assert_eq!(plain.accept(&url("https://idp.example/token")), Ok(()));
        assert_eq!(plain.accept(&url("http://127.0.0.1:9/token")), Ok(()));
        assert!(matches!(
            plain.accept(&url("http://idp.example/token?x=1")),
            Err(RefusedEndpoint::PlainHttp(shown)) if shown == "http://idp.example/token"
        ));
        assert!(matches!(
            plain.accept(&url("ftp://idp.example/token")),
            Err(RefusedEndpoint::Scheme(_))
        ));
        let refused = plain
            .accept(&url("https://user:pw@idp.example/token"))
            .unwrap_err();
        assert!(matches!(refused, RefusedEndpoint::Malformed(_)));
        assert!(!refused.to_string().contains("pw"), "{refused}");
        assert_eq!(
            discovered(true, false).accept(&url("http://idp.example/token")),
            Ok(())
        );
        assert!(matches!(
            discovered(true, true).accept(&url("http://127.0.0.1:9/token")),
            Err(RefusedEndpoint::NotHttpsForCertificate(_))
        ));
    }
}
