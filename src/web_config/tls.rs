//! TLS for the HTTP server: the rustls server configuration built from
//! `tls_server_config`, the server certificate re-read when its files
//! change, and the client certificate policies of Go's `ClientAuthType`.
//!
//! Everything runs on rustls's *ring* provider, like the probes' client.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, SupportedKxGroup, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
    SupportedCipherSuite, SupportedProtocolVersion,
};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

use crate::bounded_file::FileStamp;
use crate::config::keys::ca_roots;

/// How often, at most, a handshake looks at the certificate and key files
/// for a change. A `stat` of two files every few seconds costs nothing; a
/// rotated certificate (cert-manager, a renewed Kubernetes Secret) is
/// served within this long of being written.
pub const CERT_CHECK_INTERVAL: Duration = Duration::from_secs(2);

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
    /// The bytes; zeroed when dropped, as they may hold a private key.
    fn read(&self) -> Result<Zeroizing<Vec<u8>>, String> {
        match &self.source {
            Pem::File(path) => crate::bounded_file::read(path, crate::bounded_file::PEM_LIMIT)
                .map(Zeroizing::new)
                .map_err(|error| format!("{}: {error}", path.display())),
            Pem::Inline(text) => Ok(Zeroizing::new(text.expose_secret().as_bytes().to_vec())),
        }
    }

    fn path(&self) -> Option<&Path> {
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
pub type FieldProblem = (&'static str, String);

/// Reads the certificate, key and CA, and builds the rustls server
/// configuration every new TLS connection uses.
pub fn server_config(options: TlsOptions) -> Result<Arc<ServerConfig>, Vec<FieldProblem>> {
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
        Ok(certificate) => Some(certificate),
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
        .map_err(|error| vec![("tls_server_config", error.to_string())])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(certificate));
    config.ignore_client_order = options.prefer_server_cipher_suites;
    // The server speaks HTTP/1.1 only (see the README's web configuration).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The client certificate verifier for the configured policy.
fn client_verifier(
    options: &TlsOptions,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, FieldProblem> {
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
                return Err((
                    "tls_server_config.client_ca_file",
                    "required when client_auth_type verifies client certificates".to_owned(),
                ));
            };
            let roots = client_roots(ca)?;
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
            let builder = if options.client_auth == ClientAuth::VerifyClientCertIfGiven {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder
                .build()
                .map_err(|error| (ca.field, error.to_string()))?
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
fn client_roots(ca: &PemInput) -> Result<RootCertStore, FieldProblem> {
    let text = ca.read().map_err(|error| (ca.field, error))?;
    ca_roots(&text).map_err(|error| (ca.field, error.to_string()))
}

/// Reads and checks a certificate chain and its private key.
fn load_key_pair(
    cert: &PemInput,
    key: &PemInput,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, FieldProblem> {
    let cert_text = cert.read().map_err(|error| (cert.field, error))?;
    let chain = CertificateDer::pem_slice_iter(&cert_text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| (cert.field, format!("not PEM certificates: {error}")))?;
    if chain.is_empty() {
        return Err((cert.field, "holds no PEM certificate".to_owned()));
    }
    let key_text = key.read().map_err(|error| (key.field, error))?;
    let private = PrivateKeyDer::from_pem_slice(&key_text)
        .map_err(|error| (key.field, format!("no usable PEM private key: {error}")))?;
    CertifiedKey::from_der(chain, private, provider).map_err(|error| {
        (
            key.field,
            format!(
                "does not go with the certificate in {}: {error}",
                cert.field
            ),
        )
    })
}

/// The server's certificate, re-read from its files when they change.
///
/// A handshake looks at the files' metadata at most every
/// [`CERT_CHECK_INTERVAL`]; when it changed, the pair is read again. A pair
/// that does not load (a half-written file, a key that does not match)
/// is logged and the last good pair goes on being served, so a rotation
/// never takes the server down.
pub struct ServerCertificate {
    cert: PemInput,
    key: PemInput,
    provider: Arc<CryptoProvider>,
    state: Mutex<CertificateState>,
}

struct CertificateState {
    current: Arc<CertifiedKey>,
    /// The files' stamps (`None`: unreadable) when last read.
    stamp: Vec<Option<FileStamp>>,
    checked: Instant,
}

impl ServerCertificate {
    /// Loads the pair once; an error here names the field.
    pub fn load(
        cert: PemInput,
        key: PemInput,
        provider: Arc<CryptoProvider>,
    ) -> Result<ServerCertificate, FieldProblem> {
        let stamp = stamps(&cert, &key);
        let current = Arc::new(load_key_pair(&cert, &key, &provider)?);
        Ok(ServerCertificate {
            cert,
            key,
            provider,
            state: Mutex::new(CertificateState {
                current,
                stamp,
                checked: Instant::now(),
            }),
        })
    }

    /// The pair to serve now, re-read first if the files changed.
    pub fn current(&self) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.checked.elapsed() >= CERT_CHECK_INTERVAL {
            state.checked = Instant::now();
            let stamp = stamps(&self.cert, &self.key);
            if stamp != state.stamp {
                state.stamp = stamp;
                match load_key_pair(&self.cert, &self.key, &self.provider) {
                    Ok(pair) => {
                        state.current = Arc::new(pair);
                        tracing::info!(
                            cert = %self.describe(&self.cert),
                            "server certificate re-read: new connections use it"
                        );
                    }
                    Err((field, error)) => tracing::error!(
                        cert = %self.describe(&self.cert),
                        "server certificate files changed but do not load ({field}: {error}); \
                         the last good certificate stays in use"
                    ),
                }
            }
        }
        Arc::clone(&state.current)
    }

    fn describe(&self, input: &PemInput) -> String {
        input
            .path()
            .map(|path| path.display().to_string())
            .unwrap_or_else(|| input.field.to_owned())
    }
}

impl fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn stamps(cert: &PemInput, key: &PemInput) -> Vec<Option<FileStamp>> {
    [cert, key]
        .iter()
        .filter_map(|input| input.path())
        .map(|path| FileStamp::current(path).ok())
        .collect()
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

/// The SANs of a certificate as Go prints them: DNS names, e-mail
/// addresses, IP addresses and URIs.
fn subject_alt_names(der: &CertificateDer<'_>) -> Result<Vec<String>, String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let Some(san) = cert.subject_alternative_name().map_err(|e| e.to_string())? else {
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
