//! CA bundles: the one reading of a PEM bundle of CA certificates, as
//! rustls trusts them, for a tenant's `ca_file` (checked at load, trusted
//! by its client) and the web server's `client_ca_file`. Both are read when
//! their configuration is loaded; a changed bundle takes effect at the
//! next reload.

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Every certificate of a PEM CA bundle, as rustls trusts them; an error
/// says what is wrong without the file's name, which the caller adds.
pub fn ca_roots(pem: &[u8]) -> Result<RootCertStore, CaBundleError> {
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pem) {
        roots
            .add(certificate.map_err(CaBundleError::NotPem)?)
            .map_err(CaBundleError::Unusable)?;
    }
    if roots.is_empty() {
        return Err(CaBundleError::Empty);
    }
    Ok(roots)
}

/// Why a CA bundle cannot be trusted; the message follows the file's
/// path or field.
#[derive(Debug, thiserror::Error)]
pub enum CaBundleError {
    /// A PEM block is broken.
    #[error("not PEM certificates: {0}")]
    NotPem(rustls::pki_types::pem::Error),
    /// A certificate rustls cannot use as a trust anchor.
    #[error("unusable CA certificate: {0}")]
    Unusable(rustls::Error),
    /// No certificate block at all.
    #[error("holds no PEM certificate")]
    Empty,
}
