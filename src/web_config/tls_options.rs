//! What `tls_server_config` asks for ([`TlsOptions`]: the PEM inputs,
//! the client certificate policy, versions and suites) and what can be
//! wrong with it ([`FieldError`], naming the field): the vocabulary that
//! the server configuration ([`super::tls`]), its certificate
//! ([`super::server_certificate`]) and its client certificate policies
//! ([`super::client_certs`]) share, so none of them imports another.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use rustls::crypto::SupportedKxGroup;
use rustls::server::VerifierBuilderError;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

use crate::config::keys::CaBundleError;

/// Where a PEM text comes from: a file (re-read when it changes) or the
/// web configuration itself (`cert`, `key`, `client_ca`).
#[derive(Clone)]
pub enum Pem {
    /// A file, relative paths already resolved against the web
    /// configuration's folder.
    File(PathBuf),
    /// Inline PEM; held as a secret because it may be a private key.
    Inline(SecretString),
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(path) => write!(f, "File({})", path.display()),
            Pem::Inline(_) => f.write_str("Inline(..)"),
        }
    }
}

/// A PEM input and the field it was configured in, so every error names
/// the field.
#[derive(Debug, Clone)]
pub struct PemInput {
    /// Dotted field name, e.g. `tls_server_config.cert_file`.
    pub field: &'static str,
    /// The text's origin.
    pub source: Pem,
}

impl PemInput {
    /// The bytes, read now (bounded); zeroed when dropped, as they may
    /// hold a private key.
    pub(super) fn read(&self) -> Result<Zeroizing<Vec<u8>>, FieldError> {
        match &self.source {
            Pem::File(path) => crate::bounded_file::read(path, crate::bounded_file::PEM_LIMIT)
                .map(Zeroizing::new)
                .map_err(|source| FieldError {
                    field: self.field,
                    problem: FieldProblem::Unreadable {
                        path: path.clone(),
                        source,
                    },
                }),
            Pem::Inline(text) => Ok(Zeroizing::new(text.expose_secret().as_bytes().to_vec())),
        }
    }

    /// The text of one version: the next of `files` (read by the caller,
    /// in order) for a file, the configured text for an inline input.
    pub(super) fn text(
        &self,
        files: &mut impl Iterator<Item = Zeroizing<Vec<u8>>>,
    ) -> Zeroizing<Vec<u8>> {
        match &self.source {
            Pem::File(_) => files.next().unwrap_or_default(),
            Pem::Inline(text) => Zeroizing::new(text.expose_secret().as_bytes().to_vec()),
        }
    }

    /// The file, unless the text is inline.
    pub(super) fn path(&self) -> Option<&Path> {
        match &self.source {
            Pem::File(path) => Some(path),
            Pem::Inline(_) => None,
        }
    }
}

/// Go's `tls.ClientAuthType`, by the names exporter-toolkit accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    #[default]
    NoClientCert,
    /// A certificate is asked for, not required, not verified.
    RequestClientCert,
    /// A certificate is required but not verified against a CA.
    RequireAnyClientCert,
    /// A certificate is optional; one that is sent must chain to the CA.
    VerifyClientCertIfGiven,
    /// A certificate is required and must chain to the CA: the only
    /// setting that authenticates clients.
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    /// The exporter-toolkit name (with its old alias `RequireClientCert`).
    pub fn parse(name: &str) -> Option<ClientAuth> {
        Some(match name {
            "" | "NoClientCert" => ClientAuth::NoClientCert,
            "RequestClientCert" => ClientAuth::RequestClientCert,
            "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
            _ => return None,
        })
    }

    /// Whether a CA is needed to verify what clients send.
    pub fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

/// What `tls_server_config` asks for, checked field by field, before the
/// files are read.
#[derive(Debug)]
pub struct TlsOptions {
    /// The server's certificate chain.
    pub cert: PemInput,
    /// The server's private key.
    pub key: PemInput,
    /// The client certificate policy.
    pub client_auth: ClientAuth,
    /// The CAs client certificates must chain to.
    pub client_ca: Option<PemInput>,
    /// A client certificate must carry one of these SANs (empty: any).
    pub allowed_sans: Vec<String>,
    /// Protocol versions offered, from `min_version` to `max_version`.
    pub versions: Vec<&'static SupportedProtocolVersion>,
    /// TLS 1.2 suites in preference order; `None` keeps rustls's.
    pub tls12_suites: Option<Vec<SupportedCipherSuite>>,
    /// Key exchange groups in preference order; `None` keeps rustls's.
    pub kx_groups: Option<Vec<&'static dyn SupportedKxGroup>>,
    /// The server's suite order wins over the client's.
    pub prefer_server_cipher_suites: bool,
}

/// A problem found while building the TLS configuration: the field and
/// what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    /// Dotted field name, e.g. `tls_server_config.cert_file`.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: FieldProblem,
}

/// What is wrong with a `tls_server_config` field; the message follows
/// the field's name.
#[derive(Debug, thiserror::Error)]
pub enum FieldProblem {
    /// A PEM file is missing, unreadable or over the size bound.
    #[error("{}: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A certificate block is broken.
    #[error("not PEM certificates: {0}")]
    NotPem(rustls::pki_types::pem::Error),
    /// No certificate block at all.
    #[error("holds no PEM certificate")]
    NoCertificate,
    /// No private key block rustls can read.
    #[error("no usable PEM private key: {0}")]
    NoPrivateKey(rustls::pki_types::pem::Error),
    /// The key is not the certificate's, or the provider cannot use it.
    #[error("does not go with the certificate in {cert_field}: {source}")]
    KeyMismatch {
        /// The certificate's field.
        cert_field: &'static str,
        /// rustls' reason.
        source: rustls::Error,
    },
    /// The client CA bundle cannot be trusted.
    #[error(transparent)]
    CaBundle(CaBundleError),
    /// A verifying policy without a client CA.
    #[error("required when client_auth_type verifies client certificates")]
    ClientCaMissing,
    /// rustls refused to build the client certificate verifier.
    #[error("{0}")]
    Verifier(VerifierBuilderError),
    /// rustls refused the protocol versions.
    #[error("{0}")]
    Versions(rustls::Error),
}
