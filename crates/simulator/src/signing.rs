//! The keys that sign access tokens, and the JWK Set that publishes them,
//! so a client can verify the simulator's tokens as it would a real
//! identity provider's: signature, `kid`, key rotation.
//!
//! One key signs at a time. A rotation (by the scenario's
//! `signing.rotation`, or [`KeyRing::rotate`]) makes a new key with a new
//! `kid`; the old one stays in the JWKS as the previous key, as real
//! providers keep it, and the new one joins the JWKS only after
//! `signing.publish_delay`. A third key, never published, signs the tokens
//! of clients with `sign_with_unpublished_key`.
//!
//! ES256 keys are generated (ring). RS256 keys are three throwaway 2048-bit
//! keys shipped in `signing/` (ring cannot generate RSA keys), taken in
//! turn; each rotation still gets a new `kid`. None protects anything.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RsaKeyPair,
};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::scenario::{Signing, SigningAlgorithm};

/// The throwaway RSA keys of RS256, PKCS#8 PEM, used in turn.
const RSA_KEYS: [&str; 3] = [
    include_str!("signing/rsa-1.pem"),
    include_str!("signing/rsa-2.pem"),
    include_str!("signing/rsa-3.pem"),
];

/// A key that signs tokens, with its public half as a JWK.
pub(crate) struct SigningKey {
    /// The JWK's and the token header's `kid`.
    pub(crate) kid: String,
    /// The private key.
    pair: Pair,
    /// The public key as a JWK (`kty`, `kid`, `alg`, `use` and its numbers).
    jwk: Value,
}

/// A private key of one of the two algorithms.
enum Pair {
    /// ES256.
    Ec(EcdsaKeyPair),
    /// RS256.
    Rsa(RsaKeyPair),
}

/// Why a signing key could not be made (only a ring failure: the keys are
/// generated or shipped).
#[derive(Debug, thiserror::Error)]
#[error("cannot make a {algorithm} signing key: {reason}")]
pub(crate) struct KeyError {
    algorithm: &'static str,
    reason: String,
}

impl SigningKey {
    /// A new key for `algorithm`; `slot` picks the shipped RSA key.
    fn new(
        algorithm: SigningAlgorithm,
        slot: usize,
        rng: &SystemRandom,
    ) -> Result<SigningKey, KeyError> {
        let error = |reason: String| KeyError {
            algorithm: algorithm.name(),
            reason,
        };
        let mut id = [0u8; 9];
        fastrand::fill(&mut id);
        let kid = format!("sim-{}", URL_SAFE_NO_PAD.encode(id));
        let (pair, mut jwk) = match algorithm {
            SigningAlgorithm::ES256 => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng)
                    .map_err(|e| error(e.to_string()))?;
                let pair =
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), rng)
                        .map_err(|e| error(e.to_string()))?;
                // The uncompressed point: 0x04, x, y.
                let point = pair.public_key().as_ref();
                let jwk = json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                });
                (Pair::Ec(pair), jwk)
            }
            SigningAlgorithm::RS256 => {
                let pem = RSA_KEYS[slot % RSA_KEYS.len()];
                let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
                    .map_err(|e| error(e.to_string()))?;
                let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
                    .map_err(|e| error(e.to_string()))?;
                let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
                let jwk = json!({
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(&public.n),
                    "e": URL_SAFE_NO_PAD.encode(&public.e),
                });
                (Pair::Rsa(pair), jwk)
            }
        };
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(algorithm.name());
        jwk["use"] = json!("sig");
        Ok(SigningKey { kid, pair, jwk })
    }

    /// The key's algorithm.
    fn algorithm(&self) -> SigningAlgorithm {
        match self.pair {
            Pair::Ec(_) => SigningAlgorithm::ES256,
            Pair::Rsa(_) => SigningAlgorithm::RS256,
        }
    }

    /// A compact JWS of `claims`, header `alg`, `typ` and `kid`. Signing
    /// fails only when the system's random source does; the signature is
    /// then empty, and the token verifies nowhere.
    pub(crate) fn sign(&self, claims: &Value, rng: &SystemRandom) -> String {
        let header = json!({"alg": self.algorithm().name(), "typ": "JWT", "kid": self.kid});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match &self.pair {
            // Signing fails only when the system's random source does.
            Pair::Ec(pair) => pair
                .sign(rng, signed.as_bytes())
                .map(|sig| sig.as_ref().to_vec())
                .unwrap_or_default(),
            Pair::Rsa(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                match pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    rng,
                    signed.as_bytes(),
                    &mut sig,
                ) {
                    Ok(()) => sig,
                    Err(_) => Vec::new(),
                }
            }
        };
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// The signing keys of one simulator.
pub(crate) struct KeyRing {
    ring: Mutex<Ring>,
    rng: SystemRandom,
}

/// The keys in use, replaced at each rotation.
struct Ring {
    /// How many rotations so far (picks the shipped RSA keys).
    generation: usize,
    /// Signs tokens now.
    current: Arc<SigningKey>,
    /// When `current` began signing (periodic rotation counts from it).
    current_since: Instant,
    /// When `current` joins the JWKS.
    current_published_at: Instant,
    /// The key before `current`, still published.
    previous: Option<Arc<SigningKey>>,
    /// Signs tokens of `sign_with_unpublished_key` clients; never published.
    unpublished: Arc<SigningKey>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KeyRing {
    /// A ring whose first key is published at once.
    pub(crate) fn new(algorithm: SigningAlgorithm) -> Result<KeyRing, KeyError> {
        let rng = SystemRandom::new();
        let now = Instant::now();
        let ring = Ring {
            generation: 0,
            current: Arc::new(SigningKey::new(algorithm, 0, &rng)?),
            current_since: now,
            current_published_at: now,
            previous: None,
            unpublished: Arc::new(SigningKey::new(algorithm, 1, &rng)?),
        };
        Ok(KeyRing {
            ring: Mutex::new(ring),
            rng,
        })
    }

    /// Signs `claims` with the current key (or the unpublished one),
    /// rotating first when `config` says a rotation is due.
    pub(crate) fn sign(&self, config: &Signing, claims: &Value, unpublished: bool) -> String {
        let key = {
            let mut ring = lock(&self.ring);
            self.rotate_if_due(&mut ring, config);
            if unpublished {
                ring.unpublished.clone()
            } else {
                ring.current.clone()
            }
        };
        // Signing (RSA: about a millisecond) happens outside the lock.
        key.sign(claims, &self.rng)
    }

    /// Rotates now: a new key signs, the current one becomes the previous;
    /// returns the new `kid`.
    pub(crate) fn rotate(&self, config: &Signing) -> Result<String, KeyError> {
        let mut ring = lock(&self.ring);
        self.rotate_ring(&mut ring, config)?;
        Ok(ring.current.kid.clone())
    }

    /// The JWK Set: the current key once published, and the previous one.
    pub(crate) fn jwks(&self, config: &Signing) -> Value {
        let mut ring = lock(&self.ring);
        self.rotate_if_due(&mut ring, config);
        let mut keys = Vec::with_capacity(2);
        if Instant::now() >= ring.current_published_at {
            keys.push(ring.current.jwk.clone());
        }
        if let Some(previous) = &ring.previous {
            keys.push(previous.jwk.clone());
        }
        json!({ "keys": keys })
    }

    /// Rotates when the rotation period has passed, or when the scenario
    /// now asks for another algorithm.
    fn rotate_if_due(&self, ring: &mut Ring, config: &Signing) {
        let period_over = config
            .rotation
            .filter(|period| !period.is_zero())
            .is_some_and(|period| ring.current_since.elapsed() >= period);
        if period_over || ring.current.algorithm() != config.algorithm {
            // A failed rotation keeps the current key signing.
            if let Err(error) = self.rotate_ring(ring, config) {
                tracing::error!(%error, "signing key rotation failed");
            }
        }
    }

    fn rotate_ring(&self, ring: &mut Ring, config: &Signing) -> Result<(), KeyError> {
        let generation = ring.generation + 1;
        let algorithm = config.algorithm;
        // RSA slots: current g, previous g-1, unpublished g+1: never the same.
        let current = Arc::new(SigningKey::new(algorithm, generation, &self.rng)?);
        let unpublished = Arc::new(SigningKey::new(algorithm, generation + 1, &self.rng)?);
        let now = Instant::now();
        ring.generation = generation;
        ring.previous = Some(std::mem::replace(&mut ring.current, current));
        ring.unpublished = unpublished;
        ring.current_since = now;
        ring.current_published_at = now + config.publish_delay.unwrap_or(Duration::ZERO);
        Ok(())
    }
}
