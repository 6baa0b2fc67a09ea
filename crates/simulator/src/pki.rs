//! A throwaway PKI for the demo and the tests: a CA made at start, server
//! certificates for the loopback names, and client certificates for
//! `private_key_jwt` and `tls_client_auth` tenants, all generated with
//! rcgen (P-256 keys; an RSA key, which rcgen cannot generate with ring,
//! can be given as PEM). Nothing here is meant to protect anything.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A certificate and its private key, both PEM.
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

/// A certification authority that lives as long as this value.
pub struct TestCa {
    /// The CA and its key.
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    /// A new CA named `name`, valid from yesterday for ten years.
    pub fn new(name: &str) -> Result<TestCa, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = named(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        valid_until(&mut params, SystemTime::now() + days(3650));
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(TestCa { issuer })
    }

    /// The CA certificate, PEM: what clients and servers trust.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server(&self) -> Result<Issued, rcgen::Error> {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        params.distinguished_name = named("localhost");
        valid_until(&mut params, SystemTime::now() + days(365));
        self.issue(params, None)
    }

    /// A client certificate with subject `CN=common_name`, valid until
    /// `not_after`, for the key `key_pem` (PKCS#8, RSA or P-256) or a new
    /// P-256 key.
    pub fn client(
        &self,
        common_name: &str,
        key_pem: Option<&str>,
        not_after: SystemTime,
    ) -> Result<Issued, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = named(common_name);
        valid_until(&mut params, not_after);
        self.issue(params, key_pem)
    }

    fn issue(
        &self,
        params: CertificateParams,
        key_pem: Option<&str>,
    ) -> Result<Issued, rcgen::Error> {
        let key = match key_pem {
            Some(pem) => KeyPair::from_pem(pem)?,
            None => KeyPair::generate()?,
        };
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn named(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

/// `n` days, for validity periods.
pub fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// Valid from a day ago (clock skew) until `not_after`.
fn valid_until(params: &mut CertificateParams, not_after: SystemTime) {
    params.not_before = (SystemTime::now() - days(1)).into();
    params.not_after = not_after.into();
}
