//! Signing with a client key: the JWS algorithms of `private_key_jwt`
//! client assertions (RFC 7518 names) and the signature itself, with ring.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature;
use serde::Deserialize;

use super::private_key::{ClientKey, KeyKind, Signer};

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

impl KeyKind {
    /// The algorithm used when `client_assertion.algorithm` is not set.
    pub fn default_algorithm(self) -> SigningAlgorithm {
        match self {
            KeyKind::Rsa => SigningAlgorithm::Rs256,
            KeyKind::EcP256 => SigningAlgorithm::Es256,
        }
    }
}

impl ClientKey {
    /// Signs `message` with `algorithm`, which must suit the key (checked
    /// when the key was read).
    pub fn sign(
        &self,
        algorithm: SigningAlgorithm,
        message: &[u8],
        rng: &SystemRandom,
    ) -> Result<Vec<u8>, SignError> {
        let failed = |_| SignError::Failed { algorithm };
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
            _ => Err(SignError::Unsuitable {
                algorithm,
                kind: self.kind(),
            }),
        }
    }
}

/// Why a signature could not be made; never shows the key.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// ring failed to sign (no randomness, say).
    #[error("signing with {algorithm} failed")]
    Failed {
        /// The algorithm asked for.
        algorithm: SigningAlgorithm,
    },
    /// The algorithm does not go with the key (checked at load, so a
    /// programming error).
    #[error("{algorithm} cannot sign with {}", .kind.describe())]
    Unsuitable {
        /// The algorithm asked for.
        algorithm: SigningAlgorithm,
        /// The key's kind.
        kind: KeyKind,
    },
}
