//! TLS for the HTTP server: the rustls server configuration built from
//! what `tls_server_config` asks for ([`super::tls_options`]). The
//! server's certificate lives in [`super::server_certificate`] (re-read
//! when its files change), the client certificate policies of Go's
//! `ClientAuthType` in [`super::client_certs`].
//!
//! Everything runs on rustls's *ring* provider, like the probes' client.

use std::sync::Arc;

use rustls::{ServerConfig, SupportedCipherSuite};

use super::client_certs::client_verifier;
use super::server_certificate::ServerCertificate;
use super::tls_options::{FieldError, FieldProblem, TlsOptions};

/// What the server serves TLS with: the configuration every new
/// connection uses, and its certificate, which the server refreshes.
#[derive(Debug)]
pub struct ServerTls {
    /// The rustls server configuration.
    pub config: Arc<ServerConfig>,
    /// The certificate and key it serves, refreshed by the server.
    pub certificate: Arc<ServerCertificate>,
}

/// Reads the certificate, key and CA, and builds the rustls server
/// configuration every new TLS connection uses.
pub fn server_config(options: TlsOptions) -> Result<ServerTls, Vec<FieldError>> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(tls12) = &options.tls12_suites {
        // TLS 1.3 suites are not configurable, as in Go.
        let mut suites: Vec<SupportedCipherSuite> = provider
            .cipher_suites
            .iter()
            .copied()
            .filter(|suite| matches!(suite, SupportedCipherSuite::Tls13(_)))
            .collect();
        suites.extend(tls12.iter().copied());
        provider.cipher_suites = suites;
    }
    if let Some(groups) = &options.kx_groups {
        provider.kx_groups = groups.clone();
    }
    let provider = Arc::new(provider);

    let mut problems = Vec::new();
    let certificate = match ServerCertificate::load(
        options.cert.clone(),
        options.key.clone(),
        Arc::clone(&provider),
    ) {
        Ok(certificate) => Some(Arc::new(certificate)),
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    let verifier = match client_verifier(&options, &provider) {
        Ok(verifier) => Some(verifier),
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    let (Some(certificate), Some(verifier)) = (certificate, verifier) else {
        return Err(problems);
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&options.versions)
        .map_err(|error| {
            vec![FieldError {
                field: "tls_server_config",
                problem: FieldProblem::Versions(error),
            }]
        })?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(certificate.clone());
    config.ignore_client_order = options.prefer_server_cipher_suites;
    // The server speaks HTTP/1.1 only (see the README's web configuration).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServerTls {
        config: Arc::new(config),
        certificate,
    })
}
