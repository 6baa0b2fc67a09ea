//! Reading a private key from its PEM text: PKCS#8 (`BEGIN PRIVATE KEY`,
//! RSA or P-256), PKCS#1 (`BEGIN RSA PRIVATE KEY`) and SEC1 (`BEGIN EC
//! PRIVATE KEY`, P-256, with its public key, as OpenSSL writes it), which
//! ring reads only once wrapped in PKCS#8 by hand. Encrypted keys are
//! refused. The key is held in types that never show it.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretSlice};

/// What kind of private key a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA (2048 to 8192 bits).
    Rsa,
    /// EC on the P-256 curve.
    EcP256,
}

impl KeyKind {
    pub(super) fn describe(self) -> &'static str {
        match self {
            KeyKind::Rsa => "an RSA key",
            KeyKind::EcP256 => "a P-256 EC key",
        }
    }
}

/// Why a PEM text is not a private key credprobe can sign with. The
/// message follows the file's path and never shows its content.
#[derive(Debug, thiserror::Error)]
pub enum PrivateKeyError {
    /// An encrypted PKCS#8 key: credprobe has no passphrase to open it.
    #[error(
        "holds an encrypted private key, which credprobe cannot use; \
         decrypt it: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8"
    )]
    Encrypted,
    /// No private key block at all (a certificate, an empty file).
    #[error(
        "holds no PEM private key (BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY \
         or BEGIN EC PRIVATE KEY)"
    )]
    NoPemKey,
    /// A PKCS#1 RSA key ring refuses (too small, malformed).
    #[error("holds an RSA key that cannot be used: {0}")]
    Rsa(ring::error::KeyRejected),
    /// A PKCS#8 key that is neither a usable RSA key nor a P-256 key
    /// (another curve, Ed25519).
    #[error(
        "holds a PKCS#8 key that is neither RSA ({rsa}) nor P-256 EC ({ec}); \
         only RSA (RS256, PS256) and P-256 (ES256) keys can sign"
    )]
    Pkcs8Unsupported {
        /// Why ring refused it as RSA.
        rsa: ring::error::KeyRejected,
        /// Why ring refused it as P-256.
        ec: ring::error::KeyRejected,
    },
    /// A SEC1 EC key of another curve, or without its public key.
    #[error(
        "holds a SEC1 EC key (BEGIN EC PRIVATE KEY) that cannot be used ({0}): \
         only P-256 keys that carry their public key are; convert it with \
         openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8"
    )]
    Sec1(ring::error::KeyRejected),
    /// A PEM key block of a kind rustls knows no parser for.
    #[error("holds a private key of an unknown format")]
    UnknownFormat,
}

/// The ring key pair that signs.
pub(super) enum Signer {
    /// An RSA key pair.
    Rsa(RsaKeyPair),
    /// A P-256 key pair.
    Ec(EcdsaKeyPair),
}

/// A private key as read from its file: the parsed key pair that signs
/// client assertions and the PEM text a TLS client presents. Debug shows
/// only its kind.
pub struct ClientKey {
    /// The parsed key.
    pub(super) signer: Signer,
    /// The PEM text as read (zeroed when dropped), for the TLS identity.
    pub(super) pem: SecretSlice<u8>,
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
    pub fn from_pem(pem: Vec<u8>) -> Result<ClientKey, PrivateKeyError> {
        let pem = SecretSlice::from(pem);
        let text = pem.expose_secret();
        let der = match PrivateKeyDer::from_pem_slice(text) {
            Ok(der) => der,
            Err(_) if contains(text, b"ENCRYPTED PRIVATE KEY") => {
                return Err(PrivateKeyError::Encrypted);
            }
            Err(_) => return Err(PrivateKeyError::NoPemKey),
        };
        let rng = SystemRandom::new();
        let signer = match &der {
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der())
                .map(Signer::Rsa)
                .map_err(PrivateKeyError::Rsa)?,
            PrivateKeyDer::Pkcs8(der) => {
                let der = der.secret_pkcs8_der();
                match RsaKeyPair::from_pkcs8(der) {
                    Ok(pair) => Signer::Rsa(pair),
                    Err(rsa) => ec_from_pkcs8(der, &rng)
                        .map_err(|ec| PrivateKeyError::Pkcs8Unsupported { rsa, ec })?,
                }
            }
            PrivateKeyDer::Sec1(der) => {
                let pkcs8 = sec1_to_pkcs8(der.secret_sec1_der());
                ec_from_pkcs8(pkcs8.expose_secret(), &rng).map_err(PrivateKeyError::Sec1)?
            }
            _ => return Err(PrivateKeyError::UnknownFormat),
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
