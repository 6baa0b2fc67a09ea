//! Private keys and certificates of `private_key_jwt` and `tls_client_auth`:
//! read at load (an unusable file is a configuration problem), kept in
//! types that never show them from the moment they are read, and re-read
//! when their files change, like secret files ([`super::secrets`]): a file
//! that changed but cannot be used keeps the last good pair, and says why
//! in the log.
//!
//! Key formats: PKCS#8 (`BEGIN PRIVATE KEY`, RSA or P-256), PKCS#1
//! (`BEGIN RSA PRIVATE KEY`) and SEC1 (`BEGIN EC PRIVATE KEY`, P-256, with
//! its public key, as OpenSSL writes it). Encrypted keys are refused.
//! Signing and hashing use ring, which rustls already brings.
//!
//! One [`KeyFiles`] exists per (key file, certificate file, algorithm) in
//! the process: tenants naming the same files share it (one parse at load,
//! one re-read when the files change, one TLS client), and so do the
//! running configuration and a reloaded one.
//!
//! [`ca_roots`] is the one reading of a CA bundle: a tenant's `ca_file`
//! (checked at load, trusted by its client) and the web server's
//! `client_ca_file`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Deserialize;

use crate::bounded_file::{self, FileStamp};

/// The JWS algorithm of a client assertion (RFC 7518 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: the default for RSA keys.
    #[serde(rename = "RS256")]
    Rs256,
    /// RSASSA-PSS with SHA-256.
    #[serde(rename = "PS256")]
    Ps256,
    /// ECDSA on P-256 with SHA-256: the default for EC keys.
    #[serde(rename = "ES256")]
    Es256,
}

impl SigningAlgorithm {
    /// The JWS `alg` value.
    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::Rs256 => "RS256",
            SigningAlgorithm::Ps256 => "PS256",
            SigningAlgorithm::Es256 => "ES256",
        }
    }

    /// The kind of key this algorithm signs with.
    pub fn key_kind(self) -> KeyKind {
        match self {
            SigningAlgorithm::Rs256 | SigningAlgorithm::Ps256 => KeyKind::Rsa,
            SigningAlgorithm::Es256 => KeyKind::EcP256,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of private key a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA (2048 to 8192 bits).
    Rsa,
    /// EC on the P-256 curve.
    EcP256,
}

impl KeyKind {
    /// The algorithm used when `client_assertion.algorithm` is not set.
    pub fn default_algorithm(self) -> SigningAlgorithm {
        match self {
            KeyKind::Rsa => SigningAlgorithm::Rs256,
            KeyKind::EcP256 => SigningAlgorithm::Es256,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            KeyKind::Rsa => "an RSA key",
            KeyKind::EcP256 => "a P-256 EC key",
        }
    }
}

/// The ring key pair that signs.
enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private key as read from its file: the parsed key pair that signs
/// client assertions and the PEM text a TLS client presents. Debug shows
/// only its kind.
pub struct ClientKey {
    /// The parsed key.
    signer: Signer,
    /// The PEM text as read (zeroed when dropped), for the TLS identity.
    pem: SecretSlice<u8>,
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// Parses the first private key of a PEM file; `Err` says what is
    /// wrong (without any of the file's content).
    pub fn from_pem(pem: Vec<u8>) -> Result<ClientKey, String> {
        let pem = SecretSlice::from(pem);
        let text = pem.expose_secret();
        let der = match PrivateKeyDer::from_pem_slice(text) {
            Ok(der) => der,
            Err(_) if contains(text, b"ENCRYPTED PRIVATE KEY") => {
                return Err(
                    "holds an encrypted private key, which credprobe cannot use; \
                     decrypt it: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8"
                        .into(),
                );
            }
            Err(_) => {
                return Err(
                    "holds no PEM private key (BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY \
                     or BEGIN EC PRIVATE KEY)"
                        .into(),
                );
            }
        };
        let rng = SystemRandom::new();
        let signer = match &der {
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der())
                .map(Signer::Rsa)
                .map_err(|e| format!("holds an RSA key that cannot be used: {e}"))?,
            PrivateKeyDer::Pkcs8(der) => {
                let der = der.secret_pkcs8_der();
                match RsaKeyPair::from_pkcs8(der) {
                    Ok(pair) => Signer::Rsa(pair),
                    Err(rsa) => ec_from_pkcs8(der, &rng).map_err(|ec| {
                        format!(
                            "holds a PKCS#8 key that is neither RSA ({rsa}) nor P-256 EC ({ec}); \
                             only RSA (RS256, PS256) and P-256 (ES256) keys can sign"
                        )
                    })?,
                }
            }
            PrivateKeyDer::Sec1(der) => {
                let pkcs8 = sec1_to_pkcs8(der.secret_sec1_der());
                ec_from_pkcs8(pkcs8.expose_secret(), &rng).map_err(|e| {
                    format!(
                        "holds a SEC1 EC key (BEGIN EC PRIVATE KEY) that cannot be used ({e}): \
                         only P-256 keys that carry their public key are; convert it with \
                         openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8"
                    )
                })?
            }
            _ => return Err("holds a private key of an unknown format".into()),
        };
        Ok(ClientKey { signer, pem })
    }

    /// RSA or P-256.
    pub fn kind(&self) -> KeyKind {
        match self.signer {
            Signer::Rsa(_) => KeyKind::Rsa,
            Signer::Ec(_) => KeyKind::EcP256,
        }
    }

    /// The public key as a certificate's SubjectPublicKeyInfo carries it:
    /// a DER RSAPublicKey, or an uncompressed P-256 point.
    pub fn public_key(&self) -> &[u8] {
        match &self.signer {
            Signer::Rsa(pair) => pair.public_key().as_ref(),
            Signer::Ec(pair) => pair.public_key().as_ref(),
        }
    }

    /// Signs `message` with `algorithm`, which must suit the key (checked
    /// when the key was read).
    pub fn sign(
        &self,
        algorithm: SigningAlgorithm,
        message: &[u8],
        rng: &SystemRandom,
    ) -> Result<Vec<u8>, String> {
        let failed = |_| format!("signing with {algorithm} failed");
        match (&self.signer, algorithm) {
            (Signer::Rsa(pair), SigningAlgorithm::Rs256 | SigningAlgorithm::Ps256) => {
                let padding: &dyn signature::RsaEncoding = match algorithm {
                    SigningAlgorithm::Ps256 => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(padding, rng, message, &mut out).map_err(failed)?;
                Ok(out)
            }
            (Signer::Ec(pair), SigningAlgorithm::Es256) => pair
                .sign(rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(failed),
            _ => Err(format!(
                "{algorithm} cannot sign with {}",
                self.kind().describe()
            )),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn ec_from_pkcs8(der: &[u8], rng: &SystemRandom) -> Result<Signer, ring::error::KeyRejected> {
    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, rng).map(Signer::Ec)
}

/// Wraps a SEC1 ECPrivateKey in a PKCS#8 PrivateKeyInfo for P-256 (RFC
/// 5915 section 3 and RFC 5208): ring reads EC keys only as PKCS#8. A key of
/// another curve then fails ring's check of the curve named inside.
fn sec1_to_pkcs8(sec1: &[u8]) -> SecretSlice<u8> {
    // AlgorithmIdentifier { id-ecPublicKey, prime256v1 }.
    const ALGORITHM: [u8; 21] = [
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(&ALGORITHM);
    body.push(0x04);
    der_length(sec1.len(), &mut body);
    body.extend_from_slice(sec1);
    let mut out = vec![0x30];
    der_length(body.len(), &mut out);
    out.extend_from_slice(&body);
    SecretSlice::from(out)
}

fn der_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

/// A certificate chain as read from its file, leaf first, with what is
/// derived from the leaf. Public material: Debug shows it.
#[derive(Debug)]
pub struct ClientCertificate {
    /// The PEM text as read, for the TLS identity.
    pem: Vec<u8>,
    /// The leaf's notAfter: the credential's expiry.
    pub not_after: SystemTime,
    /// `x5t#S256`: base64url of the SHA-256 of the leaf's DER (RFC 7515
    /// section 4.1.8).
    pub thumbprint: String,
    /// The leaf's subject, as RFC 4514 text, for messages.
    pub subject: String,
    /// The leaf's public key (SubjectPublicKeyInfo's bit string).
    public_key: Vec<u8>,
}

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

impl ClientCertificate {
    /// Parses a PEM certificate chain; the first certificate is the leaf.
    pub fn from_pem(pem: Vec<u8>) -> Result<ClientCertificate, String> {
        let chain = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("is not a PEM certificate file: {e}"))?;
        let Some(leaf) = chain.first() else {
            return Err("holds no PEM certificate (BEGIN CERTIFICATE)".into());
        };
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf)
            .map_err(|e| format!("holds a certificate that cannot be read: {e}"))?;
        let not_after = parsed.validity().not_after.timestamp();
        let not_after = if not_after >= 0 {
            SystemTime::UNIX_EPOCH + Duration::from_secs(not_after as u64)
        } else {
            SystemTime::UNIX_EPOCH
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, leaf);
        Ok(ClientCertificate {
            not_after,
            thumbprint: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            subject: parsed.subject().to_string(),
            public_key: parsed.public_key().subject_public_key.data.to_vec(),
            pem,
        })
    }
}

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
    fn new(field: KeyField, path: &Path, what: impl fmt::Display) -> KeyError {
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
fn material(
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

/// The versions of both files last looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamps {
    key: FileStamp,
    certificate: Option<FileStamp>,
}

/// What a [`KeyFiles`] holds now.
#[derive(Debug)]
struct FilesState {
    /// The file versions `material` was read from.
    stamps: Stamps,
    /// The last good material.
    material: Arc<KeyMaterial>,
    /// File versions found unusable, so a broken file is reported once,
    /// not once per probe.
    refused: Option<Stamps>,
    /// A file was unreadable at the last look (reported once).
    unreadable: bool,
}

/// A tenant's key file and optional certificate file, with the last good
/// version read from them.
#[derive(Debug)]
pub struct KeyFiles {
    /// The key file, as configured (resolved against the defining file).
    key_path: PathBuf,
    /// The certificate file, if configured.
    certificate_path: Option<PathBuf>,
    /// `client_assertion.algorithm`, which every version must suit.
    algorithm: Option<SigningAlgorithm>,
    /// The last good version.
    state: Mutex<FilesState>,
}

/// Key files compare by what was configured: their content is re-read
/// whenever it changes, so a rotated key needs no restart.
impl PartialEq for KeyFiles {
    fn eq(&self, other: &KeyFiles) -> bool {
        self.key_path == other.key_path
            && self.certificate_path == other.certificate_path
            && self.algorithm == other.algorithm
    }
}

type FilesKey = (PathBuf, Option<PathBuf>, Option<SigningAlgorithm>);

/// The key files open in this process, so tenants (and configurations)
/// naming the same files share one [`KeyFiles`].
static OPEN: LazyLock<Mutex<HashMap<FilesKey, Weak<KeyFiles>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KeyFiles {
    /// Reads and checks the files now (a configuration problem otherwise):
    /// the key parses, the certificate's public key is the key's, the
    /// algorithm suits the key. Files already open in this process are
    /// shared; when they changed since, the new version is read and checked.
    pub fn open(
        key_path: &Path,
        certificate_path: Option<&Path>,
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<Arc<KeyFiles>, KeyError> {
        let id: FilesKey = (
            key_path.to_owned(),
            certificate_path.map(Path::to_owned),
            algorithm,
        );
        let mut open = lock(&OPEN);
        let stamps = stamps_now(key_path, certificate_path)?;
        if let Some(files) = open.get(&id).and_then(Weak::upgrade) {
            if lock(&files.state).stamps != stamps {
                let material = read_now(key_path, certificate_path, algorithm)?;
                files.replace(stamps, material);
            }
            return Ok(files);
        }
        let material = read_now(key_path, certificate_path, algorithm)?;
        let files = Arc::new(KeyFiles {
            key_path: key_path.to_owned(),
            certificate_path: certificate_path.map(Path::to_owned),
            algorithm,
            state: Mutex::new(FilesState {
                stamps,
                material: Arc::new(material),
                refused: None,
                unreadable: false,
            }),
        });
        open.retain(|_, files| files.strong_count() > 0);
        open.insert(id, Arc::downgrade(&files));
        Ok(files)
    }

    /// The key file.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The certificate file, if configured.
    pub fn certificate_path(&self) -> Option<&Path> {
        self.certificate_path.as_deref()
    }

    /// True while a file is unreadable or its new version was refused (the
    /// last good version stays in use).
    pub fn file_problem(&self) -> bool {
        let state = lock(&self.state);
        state.unreadable || state.refused.is_some()
    }

    /// The last good version, without any I/O.
    pub fn current(&self) -> Arc<KeyMaterial> {
        Arc::clone(&lock(&self.state).material)
    }

    /// Re-reads the files if either changed since the last look; a
    /// version that cannot be used (or a file that cannot be read) keeps
    /// the last good one, and the log says why, once.
    pub async fn refresh(&self) {
        let stamps = match self.off_runtime(stamps_now).await {
            Ok(stamps) => stamps,
            Err(error) => {
                let mut state = lock(&self.state);
                if !state.unreadable {
                    state.unreadable = true;
                    tracing::warn!(%error, "key or certificate file unreadable; keeping the last good version");
                }
                return;
            }
        };
        {
            let mut state = lock(&self.state);
            state.unreadable = false;
            if state.stamps == stamps || state.refused == Some(stamps) {
                return;
            }
        }
        let algorithm = self.algorithm;
        let read =
            move |key: &Path, certificate: Option<&Path>| read_now(key, certificate, algorithm);
        match self.off_runtime(read).await {
            Ok(material) => {
                tracing::info!(
                    key = %self.key_path.display(),
                    certificate = self.certificate_path.as_ref().map(|p| p.display().to_string()),
                    "key or certificate file changed; using the new version"
                );
                self.replace(stamps, material);
            }
            Err(error) => {
                tracing::warn!(%error, "key or certificate file changed but cannot be used; keeping the last good version");
                lock(&self.state).refused = Some(stamps);
            }
        }
    }

    fn replace(&self, stamps: Stamps, material: KeyMaterial) {
        let mut state = lock(&self.state);
        state.stamps = stamps;
        state.material = Arc::new(material);
        state.refused = None;
    }

    /// Runs `job` on the files on the blocking pool: file I/O and key
    /// parsing stay off the runtime.
    async fn off_runtime<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Path, Option<&Path>) -> Result<T, KeyError> + Send + 'static,
    ) -> Result<T, KeyError> {
        let (key, certificate) = (self.key_path.clone(), self.certificate_path.clone());
        let failed = key.clone();
        tokio::task::spawn_blocking(move || job(&key, certificate.as_deref()))
            .await
            .unwrap_or_else(|error| {
                Err(KeyError::new(
                    KeyField::Key,
                    &failed,
                    format!("could not be read: {error}"),
                ))
            })
    }
}

fn unreadable(error: std::io::Error) -> String {
    format!("cannot be read: {error}")
}

fn read_now(
    key_path: &Path,
    certificate_path: Option<&Path>,
    algorithm: Option<SigningAlgorithm>,
) -> Result<KeyMaterial, KeyError> {
    let key = bounded_file::read(key_path, bounded_file::PEM_LIMIT)
        .map_err(|e| KeyError::new(KeyField::Key, key_path, unreadable(e)))?;
    let certificate = match certificate_path {
        Some(path) => Some((
            path,
            bounded_file::read(path, bounded_file::PEM_LIMIT)
                .map_err(|e| KeyError::new(KeyField::Certificate, path, unreadable(e)))?,
        )),
        None => None,
    };
    material(key_path, key, certificate, algorithm)
}

fn stamps_now(key: &Path, certificate: Option<&Path>) -> Result<Stamps, KeyError> {
    let stamp = |field, path: &Path| {
        FileStamp::current(path).map_err(|e| KeyError::new(field, path, unreadable(e)))
    };
    Ok(Stamps {
        key: stamp(KeyField::Key, key)?,
        certificate: certificate
            .map(|path| stamp(KeyField::Certificate, path))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_A: &str = include_str!("../../tests/keys/example-rsa-a.pem");
    const RSA_A_PKCS1: &str = include_str!("../../tests/keys/example-rsa-a-pkcs1.pem");
    const RSA_B: &str = include_str!("../../tests/keys/example-rsa-b.pem");
    const EC_SEC1: &str = include_str!("../../tests/keys/example-ec-sec1.pem");
    const EC_P384: &str = include_str!("../../tests/keys/example-ec-p384.pem");
    const ED25519: &str = include_str!("../../tests/keys/example-ed25519.pem");

    fn key(pem: &str) -> Result<ClientKey, String> {
        ClientKey::from_pem(pem.as_bytes().to_vec())
    }

    /// A self-signed certificate for the key in `key_pem`.
    fn certificate_for(key_pem: &str) -> String {
        let pair = rcgen::KeyPair::from_pem(key_pem).unwrap();
        rcgen::CertificateParams::new(vec!["client.example".to_owned()])
            .unwrap()
            .self_signed(&pair)
            .unwrap()
            .pem()
    }

    fn verify(alg: &'static dyn signature::VerificationAlgorithm, key: &ClientKey, sig: &[u8]) {
        signature::UnparsedPublicKey::new(alg, key.public_key())
            .verify(b"message", sig)
            .unwrap();
    }

    #[test]
    fn reads_pkcs8_and_pkcs1_rsa_and_pkcs8_and_sec1_p256() {
        let rng = SystemRandom::new();
        let pkcs8 = key(RSA_A).unwrap();
        let pkcs1 = key(RSA_A_PKCS1).unwrap();
        assert_eq!(pkcs8.kind(), KeyKind::Rsa);
        assert_eq!(pkcs8.public_key(), pkcs1.public_key(), "the same key twice");
        let rs = pkcs1
            .sign(SigningAlgorithm::Rs256, b"message", &rng)
            .unwrap();
        verify(&signature::RSA_PKCS1_2048_8192_SHA256, &pkcs8, &rs);
        let ps = pkcs8
            .sign(SigningAlgorithm::Ps256, b"message", &rng)
            .unwrap();
        verify(&signature::RSA_PSS_2048_8192_SHA256, &pkcs8, &ps);

        let generated = rcgen::KeyPair::generate().unwrap().serialize_pem();
        for pem in [generated.as_str(), EC_SEC1] {
            let ec = key(pem).unwrap();
            assert_eq!(ec.kind(), KeyKind::EcP256);
            let es = ec.sign(SigningAlgorithm::Es256, b"message", &rng).unwrap();
            assert_eq!(es.len(), 64, "JWS wants the fixed r||s form");
            verify(&signature::ECDSA_P256_SHA256_FIXED, &ec, &es);
            assert!(ec.sign(SigningAlgorithm::Rs256, b"message", &rng).is_err());
        }
    }

    #[test]
    fn refuses_other_keys_with_a_reason_and_no_content() {
        for (pem, why) in [
            (EC_P384, "only RSA (RS256, PS256) and P-256 (ES256)"),
            (ED25519, "only RSA (RS256, PS256) and P-256 (ES256)"),
            ("", "holds no PEM private key"),
            (&certificate_for(RSA_A), "holds no PEM private key"),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "openssl pkcs8 -topk8 -nocrypt",
            ),
        ] {
            let error = key(pem).unwrap_err();
            assert!(error.contains(why), "{error}");
            assert!(!error.contains("MII"), "{error}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let material = material(Path::new("k.pem"), RSA_A.as_bytes().to_vec(), None, None).unwrap();
        let shown = format!("{material:?}");
        assert!(shown.contains("Rsa") && !shown.contains("MII"), "{shown}");
        let body: String = RSA_A.lines().nth(1).unwrap().to_owned();
        assert!(!shown.contains(&body));
    }

    #[test]
    fn certificate_must_hold_the_keys_public_key_and_algorithm_must_suit() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let key_a = write("a.pem", RSA_A);
        let cert_a = write("a.crt", &certificate_for(RSA_A));
        let cert_b = write("b.crt", &certificate_for(RSA_B));
        let files = KeyFiles::open(&key_a, Some(&cert_a), None).unwrap();
        let material = files.current();
        assert_eq!(material.algorithm, SigningAlgorithm::Rs256);
        let certificate = material.certificate.as_ref().unwrap();
        assert_eq!(certificate.thumbprint.len(), 43);
        assert!(
            certificate.subject.contains("rcgen"),
            "{}",
            certificate.subject
        );

        let error = KeyFiles::open(&key_a, Some(&cert_b), None).unwrap_err();
        assert_eq!(error.field, KeyField::Certificate);
        assert!(
            error
                .message
                .contains("b.crt is not the certificate of the key in")
                && error.message.contains("a.pem"),
            "{error}"
        );
        let error = KeyFiles::open(&key_a, None, Some(SigningAlgorithm::Es256)).unwrap_err();
        assert_eq!(error.field, KeyField::Algorithm);
        assert!(
            error.message.ends_with(
                "a.pem holds an RSA key, which cannot sign ES256 (that needs a P-256 EC key)"
            ),
            "{error}"
        );
        let error = KeyFiles::open(&dir.path().join("missing.pem"), None, None).unwrap_err();
        assert_eq!(error.field, KeyField::Key);
        assert!(
            error.message.contains("missing.pem cannot be read"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn changed_files_are_reread_and_a_broken_version_keeps_the_last_good_one() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("key.pem");
        let cert_path = dir.path().join("key.crt");
        std::fs::write(&key_path, RSA_A).unwrap();
        std::fs::write(&cert_path, certificate_for(RSA_A)).unwrap();
        let files = KeyFiles::open(&key_path, Some(&cert_path), None).unwrap();
        let again = KeyFiles::open(&key_path, Some(&cert_path), None).unwrap();
        assert!(Arc::ptr_eq(&files, &again), "one KeyFiles per set of files");
        let first = files.current();
        files.refresh().await;
        assert_eq!(
            files.current().version,
            first.version,
            "unchanged: not re-read"
        );

        // Rotation: the key and the certificate are replaced (renamed over).
        let replace = |path: &Path, text: &str| replace_bytes(path, text.as_bytes());
        replace(&key_path, RSA_B);
        replace(&cert_path, &certificate_for(RSA_B));
        files.refresh().await;
        let second = files.current();
        assert!(second.version > first.version);
        assert_ne!(second.key.public_key(), first.key.public_key());

        // Half a rotation (a key without its certificate) is refused.
        replace(&key_path, RSA_A);
        files.refresh().await;
        assert_eq!(files.current().version, second.version);
        std::fs::remove_file(&key_path).unwrap();
        files.refresh().await;
        assert_eq!(files.current().version, second.version);

        // A key file grown past the size bound is refused, the last good kept.
        std::fs::write(&key_path, RSA_B).unwrap();
        files.refresh().await;
        let third = files.current();
        let mut huge = RSA_A.as_bytes().to_vec();
        huge.resize(bounded_file::PEM_LIMIT as usize + 1, b'\n');
        replace_bytes(&key_path, &huge);
        files.refresh().await;
        assert_eq!(files.current().version, third.version);
    }

    /// Replaces a file the Kubernetes way: a new file renamed over it.
    fn replace_bytes(path: &Path, bytes: &[u8]) {
        let next = path.with_extension("new");
        std::fs::write(&next, bytes).unwrap();
        std::fs::rename(&next, path).unwrap();
    }

    #[test]
    fn a_key_file_over_the_size_bound_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("huge.pem");
        let mut huge = RSA_A.as_bytes().to_vec();
        huge.resize(bounded_file::PEM_LIMIT as usize + 1, b'\n');
        std::fs::write(&key_path, &huge).unwrap();
        let error = read_now(&key_path, None, None).unwrap_err().to_string();
        assert!(
            error.contains(&*key_path.to_string_lossy()) && error.contains("larger than 4 MiB"),
            "{error}"
        );
    }
}
