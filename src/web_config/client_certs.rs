//! Client certificates at the HTTP server: the verifier for each of Go's
//! `ClientAuthType` policies, the client CA bundle it trusts (read when the
//! web configuration is loaded; `--config.watch` reloads it when the file
//! changes), and `client_allowed_sans`.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use super::tls_options::{ClientAuth, FieldError, FieldProblem, PemInput, TlsOptions};
use crate::config::keys::ca_roots;

/// The client certificate verifier for the configured policy.
pub(super) fn client_verifier(
    options: &TlsOptions,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, FieldError> {
    let verifier: Arc<dyn ClientCertVerifier> = match options.client_auth {
        ClientAuth::NoClientCert => return Ok(WebPkiClientVerifier::no_client_auth()),
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
            Arc::new(AnyClientCert {
                mandatory: options.client_auth == ClientAuth::RequireAnyClientCert,
                algorithms: provider.signature_verification_algorithms,
            })
        }
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            let Some(ca) = &options.client_ca else {
                // validate checks this first; kept for callers that build
                // options by hand.
                return Err(FieldError {
                    field: "tls_server_config.client_ca_file",
                    problem: FieldProblem::ClientCaMissing,
                });
            };
            let roots = client_roots(ca)?;
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
            let builder = if options.client_auth == ClientAuth::VerifyClientCertIfGiven {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder.build().map_err(|error| FieldError {
                field: ca.field,
                problem: FieldProblem::Verifier(error),
            })?
        }
    };
    if options.allowed_sans.is_empty() {
        Ok(verifier)
    } else {
        Ok(Arc::new(AllowedSans {
            inner: verifier,
            allowed: options.allowed_sans.clone(),
        }))
    }
}

/// Every certificate of the client CA bundle.
fn client_roots(ca: &PemInput) -> Result<RootCertStore, FieldError> {
    let text = ca.read()?;
    ca_roots(&text).map_err(|error| FieldError {
        field: ca.field,
        problem: FieldProblem::CaBundle(error),
    })
}

/// Go's `RequestClientCert` and `RequireAnyClientCert`: a certificate is
/// taken as sent. The handshake still proves the client holds its key;
/// nothing checks who issued it (exporter-toolkit warns these settings
/// authenticate nobody, and so does the README).
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `client_allowed_sans`: after the configured policy accepted a client
/// certificate, one of its subject alternative names (DNS, e-mail, IP or
/// URI) must be in the list, exactly.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let names = subject_alt_names(end_entity).map_err(|error| {
            rustls::Error::General(format!("cannot read the client certificate: {error}"))
        })?;
        if names.iter().any(|name| self.allowed.contains(name)) {
            Ok(verified)
        } else {
            Err(rustls::Error::General(format!(
                "client certificate has none of the allowed SANs (it has {names:?})"
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Why a client certificate's SANs cannot be read.
#[derive(Debug, thiserror::Error)]
enum SanError {
    /// The certificate is not X.509 that can be read.
    #[error("{0}")]
    Certificate(x509_parser::nom::Err<x509_parser::error::X509Error>),
    /// Its subject alternative name extension is malformed or repeated.
    #[error("{0}")]
    Extension(x509_parser::error::X509Error),
}

/// The SANs of a certificate as Go prints them: DNS names, e-mail
/// addresses, IP addresses and URIs.
fn subject_alt_names(der: &CertificateDer<'_>) -> Result<Vec<String>, SanError> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(SanError::Certificate)?;
    let Some(san) = cert
        .subject_alternative_name()
        .map_err(SanError::Extension)?
    else {
        return Ok(Vec::new());
    };
    Ok(san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                Some((*s).to_owned())
            }
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|b| std::net::IpAddr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| std::net::IpAddr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect())
}
