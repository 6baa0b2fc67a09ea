//! How the shared clients open connections, and the three hooks that time
//! them for [`super::phases`]: a DNS resolver, a connector layer around
//! the whole connection set-up, and a TLS session store, which rustls asks
//! first thing in every handshake (so its first call marks the end of the
//! TCP connect).
//!
//! The TLS configuration is built here rather than by reqwest so the store
//! can be put in; it is what reqwest builds: ring, TLS 1.2 and 1.3, the
//! platform's verifier or only the tenant's `ca_file`, the client
//! certificate of `tls_client_auth`, ALPN `http/1.1`, resumption in memory
//! (none for a `fresh_connections` tenant).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Resumption, Tls12ClientSessionValue,
    Tls13ClientSessionValue,
};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, NamedGroup};

use super::phases::{Mark, Marks};
use crate::config::keys::{KeyMaterial, ca_roots};

/// TLS sessions remembered per client for resumption, as rustls' default.
const SESSIONS: usize = 256;

/// Why a client's TLS configuration could not be made; the detail of the
/// `tls_error` its requests then fail with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TlsSetupError {
    /// rustls refused its own safe defaults (a build problem).
    #[error("TLS protocol versions: {0}")]
    Versions(rustls::Error),
    /// The tenant's `ca_file` holds no usable certificate.
    #[error("{path}: {reason}")]
    CaFile {
        /// The CA file.
        path: std::path::PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The platform's verifier could not start (no trust store).
    #[error("the platform's certificate verifier: {0}")]
    PlatformVerifier(rustls::Error),
    /// The client certificate or key of `tls_client_auth` cannot be used.
    #[error("client certificate: {0}")]
    ClientCertificate(String),
}

/// The rustls configuration of one shared client: trusting only the PEM
/// certificates of `ca` when given (a tenant's `ca_file`: its path and
/// content), else the platform's verifier; presenting `identity`'s
/// certificate when given; resuming earlier sessions unless `resume` is
/// false (`fresh_connections`: every handshake is a full one, verifying
/// the server's certificate, as a new client's would).
pub fn tls_config(
    ca: Option<(&Path, &[u8])>,
    identity: Option<&KeyMaterial>,
    resume: bool,
) -> Result<ClientConfig, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsSetupError::Versions)?;
    let builder = match ca {
        Some((path, pem)) => {
            let roots = ca_roots(pem).map_err(|e| TlsSetupError::CaFile {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            builder.with_root_certificates(roots)
        }
        None => {
            let verifier = rustls_platform_verifier::Verifier::new(provider)
                .map_err(TlsSetupError::PlatformVerifier)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        }
    };
    let mut config = match identity {
        Some(material) => {
            let (chain, key) = material
                .tls_identity()
                .map_err(|e| TlsSetupError::ClientCertificate(e.to_string()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsSetupError::ClientCertificate(e.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.resumption = Resumption::store(Arc::new(TimedSessions {
        cache: ClientSessionMemoryCache::new(SESSIONS),
        resume,
    }));
    Ok(config)
}

/// rustls' in-memory session store, noting [`Mark::TlsStart`] when a
/// handshake first asks it for a session or key-exchange hint. Without
/// `resume` it keeps no session and no hint (the store stays, as the TLS
/// start mark needs its calls), so every handshake is a new client's.
#[derive(Debug)]
struct TimedSessions {
    cache: ClientSessionMemoryCache,
    resume: bool,
}

fn handshake_started() {
    if let Some(marks) = Marks::current() {
        marks.note(Mark::TlsStart);
    }
}

impl ClientSessionStore for TimedSessions {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        // A new client knows no hint either: it pays any HelloRetryRequest.
        if self.resume {
            self.cache.set_kx_hint(server_name, group);
        }
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        handshake_started();
        self.cache.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        if self.resume {
            self.cache.set_tls12_session(server_name, value);
        }
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        handshake_started();
        self.cache.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.cache.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        if self.resume {
            self.cache.insert_tls13_ticket(server_name, value);
        }
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        handshake_started();
        self.cache.take_tls13_ticket(server_name)
    }
}

/// The system resolver (getaddrinfo on tokio's blocking pool, as reqwest's
/// default), noting when each lookup starts and ends.
#[derive(Debug, Clone, Copy)]
pub struct TimedResolver;

impl reqwest::dns::Resolve for TimedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let marks = Marks::current();
        Box::pin(async move {
            if let Some(marks) = &marks {
                marks.note(Mark::DnsStart);
            }
            let found = tokio::net::lookup_host((name.as_str(), 0)).await;
            if let Some(marks) = &marks {
                marks.note(Mark::DnsEnd);
            }
            let addrs: Vec<SocketAddr> = found?.collect();
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A connector layer noting when a new connection is asked for and when
/// it is ready (TCP, proxy tunnel and TLS done).
#[derive(Debug, Clone, Copy)]
pub struct TimedConnectLayer;

impl<S> tower::Layer<S> for TimedConnectLayer {
    type Service = TimedConnect<S>;

    fn layer(&self, inner: S) -> TimedConnect<S> {
        TimedConnect(inner)
    }
}

/// The service [`TimedConnectLayer`] wraps the connector in.
#[derive(Debug, Clone)]
pub struct TimedConnect<S>(S);

impl<S, Request> tower::Service<Request> for TimedConnect<S>
where
    S: tower::Service<Request>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let marks = Marks::current();
        if let Some(marks) = &marks {
            marks.note(Mark::ConnectStart);
        }
        let connecting = self.0.call(request);
        Box::pin(async move {
            let connection = connecting.await;
            if let Some(marks) = marks
                && connection.is_ok()
            {
                marks.note(Mark::Connected);
            }
            connection
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_bundle_is_the_only_trust_and_a_bad_one_names_its_file() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pair = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertificateParams::new(vec!["ca".to_owned()])
            .unwrap()
            .self_signed(&pair)
            .unwrap();
        let path = Path::new("/etc/credprobe/ca.pem");
        let config = tls_config(Some((path, ca.pem().as_bytes())), None, true).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        // Certificate material that is not a certificate.
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let error = tls_config(Some((path, broken.as_bytes())), None, true).unwrap_err();
        assert!(
            matches!(&error, TlsSetupError::CaFile { path: p, .. } if p == path),
            "{error:?}"
        );
        assert!(
            error.to_string().starts_with("/etc/credprobe/ca.pem: "),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_resolver_marks_a_lookup_of_the_request_in_scope() {
        use reqwest::dns::Resolve as _;

        let marks = Arc::new(Marks::default());
        let started = std::time::Instant::now();
        // As hyper does: the connection attempt starts, then the lookup.
        marks.note(Mark::ConnectStart);
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let found = marks
            .scope(async { TimedResolver.resolve(name).await })
            .await
            .unwrap();
        assert!(found.count() > 0, "localhost resolves");
        let phases = marks.phases(started, std::time::Instant::now());
        assert!(!phases.reused);
        assert!(phases.dns > std::time::Duration::ZERO, "{phases:?}");
        // Outside a request's scope the resolver still resolves.
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(TimedResolver.resolve(name).await.unwrap().count() > 0);
    }
}
