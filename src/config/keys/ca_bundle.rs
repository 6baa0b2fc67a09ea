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
pub fn ca_roots(pem: &[u8]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pem) {
        let certificate = certificate.map_err(|e| format!("not PEM certificates: {e}"))?;
        roots
            .add(certificate)
            .map_err(|e| format!("unusable CA certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err("holds no PEM certificate".to_owned());
    }
    Ok(roots)
}
