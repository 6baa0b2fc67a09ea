//! One version of a tenant's key files, checked as a whole: the key
//! parses, the certificate is the key's, the configured algorithm suits
//! the key. What is wrong is a [`KeyError`] naming the setting and the
//! file.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::ExposeSecret;

use super::{ClientCertificate, ClientKey, SigningAlgorithm};

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
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
        let Some(certificate) = &self.certificate else {
            return Err("no client certificate configured".to_owned());
        };
        let chain = CertificateDer::pem_slice_iter(&certificate.pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("client certificate: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(self.key.pem.expose_secret())
            .map_err(|e| format!("client key: {e}"))?;
        Ok((chain, key))
    }
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

/// Why a key or certificate file cannot be used; the message names the
/// file and never shows its content.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct KeyError {
    /// The setting to fix.
    pub field: KeyField,
    /// What is wrong, with the file's path.
    pub message: String,
}

impl KeyError {
    pub(super) fn new(field: KeyField, path: &Path, what: impl fmt::Display) -> KeyError {
        KeyError {
            field,
            message: format!("{} {what}", path.display()),
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
                    format!(
                        "is not the certificate of the key in {} (its public key differs)",
                        key_path.display()
                    ),
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
            format!(
                "holds {}, which cannot sign {algorithm} (that needs {})",
                key.kind().describe(),
                algorithm.key_kind().describe()
            ),
        ));
    }
    Ok(KeyMaterial {
        algorithm: algorithm.unwrap_or(key.kind().default_algorithm()),
        key,
        certificate,
        version: VERSIONS.fetch_add(1, Ordering::Relaxed),
    })
}
