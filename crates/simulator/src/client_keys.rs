//! The public keys and certificates clients register with the simulator
//! (`public_key`, `certificate`, `accept_any_public_key`): read when the
//! scenario loads, so a bad one is a scenario error, and again when a
//! client assertion or a client certificate is checked
//! ([`super::client_auth`]).

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::{self, PemObject};

/// What x509-parser returns when DER is not what it should be, boxed: it is
/// large, and scenario errors carry it.
type X509ParseError = Box<x509_parser::nom::Err<x509_parser::error::X509Error>>;

/// Why a PEM text or a DER certificate is not a usable public key or
/// certificate: a scenario error names the knob that held it (`public_key`,
/// `certificate`, ...), and the checks of client assertions and client
/// certificates treat it as "no key".
#[derive(Debug, thiserror::Error)]
pub enum ClientKeyError {
    /// The text holds no PEM certificate.
    #[error("not a PEM certificate: {0}")]
    NotPemCertificate(pem::Error),
    /// The DER is not an X.509 certificate.
    #[error("not a certificate: {0}")]
    NotCertificate(X509ParseError),
    /// The text holds neither a PEM public key nor a certificate.
    #[error("not a PEM public key or certificate: {0}")]
    NotPemPublicKey(pem::Error),
    /// The DER is not a SubjectPublicKeyInfo.
    #[error("not a public key: {0}")]
    NotPublicKey(X509ParseError),
    /// The key is neither RSA nor EC (the algorithms assertions are signed
    /// with); carries the algorithm's OID.
    #[error("public key algorithm {0} is not RSA or EC")]
    UnsupportedAlgorithm(String),
}

/// The kind of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyType {
    Rsa,
    EcP256,
}

/// A public key that verifies signatures.
#[derive(Debug, Clone)]
pub(super) struct VerificationKey {
    pub(super) kind: KeyType,
    /// The SubjectPublicKeyInfo's bit string: what ring verifies with.
    pub(super) raw: Vec<u8>,
}

/// Reads a PEM public key (`BEGIN PUBLIC KEY`) or certificate.
pub(super) fn verification_key(pem: &str) -> Result<VerificationKey, ClientKeyError> {
    if pem.contains("BEGIN CERTIFICATE") {
        return Ok(RegisteredCertificate::from_pem(pem)?.key);
    }
    let der = rustls::pki_types::SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
        .map_err(ClientKeyError::NotPemPublicKey)?;
    use x509_parser::prelude::FromDer as _;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&der)
        .map_err(|e| ClientKeyError::NotPublicKey(Box::new(e)))?;
    key_of(&spki)
}

fn key_of(
    spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
) -> Result<VerificationKey, ClientKeyError> {
    let kind = match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.1" => KeyType::Rsa,
        "1.2.840.10045.2.1" => KeyType::EcP256,
        other => return Err(ClientKeyError::UnsupportedAlgorithm(other.to_owned())),
    };
    Ok(VerificationKey {
        kind,
        raw: spki.subject_public_key.data.to_vec(),
    })
}

/// What the simulator needs of a certificate.
pub(super) struct RegisteredCertificate {
    /// The subject DN, as RFC 4514 text.
    pub(super) subject: String,
    /// SHA-256 of the DER.
    pub(super) thumbprint: [u8; 32],
    /// Its public key.
    pub(super) key: VerificationKey,
}

impl RegisteredCertificate {
    /// Reads a PEM certificate.
    pub(super) fn from_pem(pem: &str) -> Result<RegisteredCertificate, ClientKeyError> {
        let der = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(ClientKeyError::NotPemCertificate)?;
        RegisteredCertificate::from_der(&der)
    }

    /// Reads a DER certificate (as a TLS client presented it).
    pub(super) fn from_der(der: &[u8]) -> Result<RegisteredCertificate, ClientKeyError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| ClientKeyError::NotCertificate(Box::new(e)))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut thumbprint = [0; 32];
        thumbprint.copy_from_slice(digest.as_ref());
        Ok(RegisteredCertificate {
            subject: cert.subject().to_string(),
            thumbprint,
            key: key_of(cert.public_key())?,
        })
    }
}
