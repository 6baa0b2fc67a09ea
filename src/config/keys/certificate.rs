//! Client certificates (`client_certificate_file`): the chain a TLS
//! client presents, and what the leaf tells: its expiry, its `x5t#S256`
//! thumbprint, its subject and its public key.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A certificate chain as read from its file, leaf first, with what is
/// derived from the leaf. Public material: Debug shows it.
#[derive(Debug)]
pub struct ClientCertificate {
    /// The PEM text as read, for the TLS identity.
    pub(super) pem: Vec<u8>,
    /// The leaf's notAfter: the credential's expiry.
    pub not_after: SystemTime,
    /// `x5t#S256`: base64url of the SHA-256 of the leaf's DER (RFC 7515
    /// section 4.1.8).
    pub thumbprint: String,
    /// The SHA-1 of the leaf's DER in upper-case hex: how Entra ID names a
    /// certificate (`customKeyIdentifier`), matched by the credential
    /// inventory ([`crate::probe::inventory`]).
    pub sha1_thumbprint: String,
    /// The leaf's subject, as RFC 4514 text, for messages.
    pub subject: String,
    /// The leaf's public key (SubjectPublicKeyInfo's bit string).
    pub(super) public_key: Vec<u8>,
}

impl ClientCertificate {
    /// Parses a PEM certificate chain; the first certificate is the leaf.
    pub fn from_pem(pem: Vec<u8>) -> Result<ClientCertificate, CertificateError> {
        let chain = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(CertificateError::NotPem)?;
        let Some(leaf) = chain.first() else {
            return Err(CertificateError::NoCertificate);
        };
        let (_, parsed) =
            x509_parser::parse_x509_certificate(leaf).map_err(CertificateError::Unreadable)?;
        let not_after = parsed.validity().not_after.timestamp();
        let not_after = if not_after >= 0 {
            SystemTime::UNIX_EPOCH + Duration::from_secs(not_after as u64)
        } else {
            SystemTime::UNIX_EPOCH
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, leaf);
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, leaf);
        Ok(ClientCertificate {
            sha1_thumbprint: sha1.as_ref().iter().map(|b| format!("{b:02X}")).collect(),
            not_after,
            thumbprint: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            subject: parsed.subject().to_string(),
            public_key: parsed.public_key().subject_public_key.data.to_vec(),
            pem,
        })
    }
}

/// Why a client certificate file cannot be used; the message follows the
/// file's path.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// A PEM block is broken.
    #[error("is not a PEM certificate file: {0}")]
    NotPem(rustls::pki_types::pem::Error),
    /// No certificate block at all.
    #[error("holds no PEM certificate (BEGIN CERTIFICATE)")]
    NoCertificate,
    /// The leaf is not an X.509 certificate that can be read.
    #[error("holds a certificate that cannot be read: {0}")]
    Unreadable(x509_parser::nom::Err<x509_parser::error::X509Error>),
}
