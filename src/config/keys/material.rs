//! One version of a tenant's key files, checked as a whole: the key
//! parses, the certificate is the key's, the configured algorithm suits
//! the key. What is wrong is a [`KeyError`] naming the setting and the
//! file.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::ExposeSecret;

use super::certificate::CertificateError;
use super::private_key::PrivateKeyError;
use super::{ClientCertificate, ClientKey, KeyKind, SigningAlgorithm};

/// A key and, when configured, its certificate: one consistent version of
/// a tenant's key files.
pub struct KeyMaterial {
    /// The private key.
    pub key: ClientKey,
    /// The certificate, whose public key is the key's.
    pub certificate: Option<ClientCertificate>,
    /// The algorithm client assertions are signed with: the configured
    /// one, else the key's default.
    pub algorithm: SigningAlgorithm,
    /// Increases with every version read in this process: a TLS client
    /// built from an older version is rebuilt.
    pub version: u64,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("key", &self.key)
            .field("certificate", &self.certificate)
            .field("algorithm", &self.algorithm)
            .field("version", &self.version)
            .finish()
    }
}

impl KeyMaterial {
    /// The certificate chain and the key as a TLS client presents them
    /// (`tls_client_auth`); `Err` names what is missing, never the key.
    pub fn tls_identity(
        &self,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsIdentityError> {
        let Some(certificate) = &self.certificate else {
            return Err(TlsIdentityError::NoCertificate);
        };
        let chain = CertificateDer::pem_slice_iter(&certificate.pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(TlsIdentityError::Certificate)?;
        let key = PrivateKeyDer::from_pem_slice(self.key.pem.expose_secret())
            .map_err(TlsIdentityError::Key)?;
        Ok((chain, key))
    }
}

/// Why key material cannot be presented in a TLS handshake; never shows
/// the key.
#[derive(Debug, thiserror::Error)]
pub enum TlsIdentityError {
    /// The tenant has a key but no certificate to present with it.
    #[error("no client certificate configured")]
    NoCertificate,
    /// The certificate's PEM, read and checked at load, no longer parses.
    #[error("client certificate: {0}")]
    Certificate(rustls::pki_types::pem::Error),
    /// The key's PEM, read and checked at load, no longer parses.
    #[error("client key: {0}")]
    Key(rustls::pki_types::pem::Error),
}

/// Which setting a [`KeyError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyField {
    /// `client_key_file`.
    Key,
    /// `client_certificate_file`.
    Certificate,
    /// `client_assertion.algorithm`.
    Algorithm,
}

impl KeyField {
    /// The configuration field.
    pub fn name(self) -> &'static str {
        match self {
            KeyField::Key => "client_key_file",
            KeyField::Certificate => "client_certificate_file",
            KeyField::Algorithm => "client_assertion.algorithm",
        }
    }
}

/// Why a key or certificate file cannot be used: the setting to fix, the
/// file, and what is wrong. The message names the file and never shows its
/// content.
#[derive(Debug, thiserror::Error)]
#[error("{} {problem}", .path.display())]
pub struct KeyError {
    /// The setting to fix.
    pub field: KeyField,
    /// The file at fault.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: KeyProblem,
}

/// What is wrong with a key or certificate file; the message follows the
/// file's path.
#[derive(Debug, thiserror::Error)]
pub enum KeyProblem {
    /// The file is missing, unreadable or over the size bound.
    #[error("cannot be read: {0}")]
    Unreadable(io::Error),
    /// The key file holds no key credprobe can sign with.
    #[error(transparent)]
    Key(#[from] PrivateKeyError),
    /// The certificate file holds no certificate that can be read.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The certificate is another key's (half a rotation, or a wrong
    /// file).
    #[error("is not the certificate of the key in {} (its public key differs)", .key_path.display())]
    NotTheKeysCertificate {
        /// The key file.
        key_path: PathBuf,
    },
    /// `client_assertion.algorithm` needs another kind of key.
    #[error(
        "holds {}, which cannot sign {algorithm} (that needs {})",
        .kind.describe(),
        .algorithm.key_kind().describe()
    )]
    UnsuitableAlgorithm {
        /// The key's kind.
        kind: KeyKind,
        /// The configured algorithm.
        algorithm: SigningAlgorithm,
    },
}

impl KeyError {
    pub(super) fn new(field: KeyField, path: &Path, problem: impl Into<KeyProblem>) -> KeyError {
        KeyError {
            field,
            path: path.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Every version of key material read in this process gets the next number.
static VERSIONS: AtomicU64 = AtomicU64::new(1);

/// Checks a key (and certificate) read from `key_path` (and
/// `certificate_path`) for use with `algorithm`.
pub(super) fn material(
    key_path: &Path,
    key_pem: Vec<u8>,
    certificate: Option<(&Path, Vec<u8>)>,
    algorithm: Option<SigningAlgorithm>,
) -> Result<KeyMaterial, KeyError> {
    let key =
        ClientKey::from_pem(key_pem).map_err(|e| KeyError::new(KeyField::Key, key_path, e))?;
    let certificate = match certificate {
        Some((path, pem)) => {
            let certificate = ClientCertificate::from_pem(pem)
                .map_err(|e| KeyError::new(KeyField::Certificate, path, e))?;
            if certificate.public_key != key.public_key() {
                return Err(KeyError::new(
                    KeyField::Certificate,
                    path,
                    KeyProblem::NotTheKeysCertificate {
                        key_path: key_path.to_owned(),
                    },
                ));
            }
            Some(certificate)
        }
        None => None,
    };
    if let Some(algorithm) = algorithm
        && algorithm.key_kind() != key.kind()
    {
        return Err(KeyError::new(
            KeyField::Algorithm,
            key_path,
            KeyProblem::UnsuitableAlgorithm {
                kind: key.kind(),
                algorithm,
            },
        ));
    }
    Ok(KeyMaterial {
        algorithm: algorithm.unwrap_or(key.kind().default_algorithm()),
        key,
        certificate,
        version: VERSIONS.fetch_add(1, Ordering::Relaxed),
    })
}
