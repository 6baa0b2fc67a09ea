//! Client assertions of `private_key_jwt` (RFC 7523 section 2.2, as
//! OpenID Connect Core section 9 defines them): a JWT with `iss` = `sub` =
//! the client id, `aud` = the token URL (or `client_assertion.audience`),
//! a fresh random `jti`, `iat` = `nbf` = now and `exp` one minute later,
//! signed with the tenant's key. One is made for every token request; it
//! is a bearer credential for its minute, so it is a [`SecretString`] from
//! the moment it exists.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom as _, SystemRandom};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use crate::config::AssertionSettings;
use crate::config::keys::KeyMaterial;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 section 2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid: long enough for a slow identity
/// provider, short enough that a leaked one is soon worthless.
pub const LIFETIME: Duration = Duration::from_secs(60);

/// Why a client assertion could not be made: the token request is then not
/// sent, and its result is `signing_error` (not a transport class: nothing
/// went over the network). Holds no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The system's random source failed (no `jti`).
    #[error("cannot sign the client assertion: no random bytes for its jti")]
    Random,
    /// The key refused to sign (its reason names the algorithm and key
    /// kind, never the key).
    #[error("cannot sign the client assertion: {0}")]
    Key(String),
}

/// Makes and signs the assertion of one token request to `token_url` at
/// `now`, with the key files' current version.
pub fn client_assertion(
    settings: &AssertionSettings,
    material: &KeyMaterial,
    client_id: &str,
    token_url: &url::Url,
    now: SystemTime,
) -> Result<SecretString, SigningError> {
    let rng = SystemRandom::new();
    let mut jti = [0u8; 16];
    rng.fill(&mut jti).map_err(|_| SigningError::Random)?;
    let mut header = Map::new();
    header.insert("alg".into(), json!(material.algorithm.name()));
    header.insert("typ".into(), json!("JWT"));
    if let Some(key_id) = &settings.key_id {
        header.insert("kid".into(), json!(key_id));
    }
    if let Some(certificate) = &material.certificate {
        header.insert("x5t#S256".into(), json!(certificate.thumbprint));
    }
    let iat = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let audience = settings.audience.as_deref().unwrap_or(token_url.as_str());
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": URL_SAFE_NO_PAD.encode(jti),
        "iat": iat,
        "nbf": iat,
        "exp": iat + LIFETIME.as_secs(),
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = material
        .key
        .sign(material.algorithm, signing_input.as_bytes(), &rng)
        .map_err(|why| SigningError::Key(why.to_string()))?;
    Ok(SecretString::from(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use ring::signature;
    use secrecy::ExposeSecret;

    use super::*;
    use crate::config::keys::{KeyFiles, SigningAlgorithm};

    const RSA_A: &str = include_str!("../../tests/keys/example-rsa-a.pem");

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn files(
        dir: &Path,
        key: &str,
        certificate: bool,
        algorithm: Option<SigningAlgorithm>,
    ) -> Arc<KeyFiles> {
        let key_path = dir.join("key.pem");
        std::fs::write(&key_path, key).unwrap();
        let cert_path = dir.join("key.crt");
        if certificate {
            let pair = rcgen::KeyPair::from_pem(key).unwrap();
            let cert = rcgen::CertificateParams::new(vec!["c".to_owned()])
                .unwrap()
                .self_signed(&pair)
                .unwrap();
            std::fs::write(&cert_path, cert.pem()).unwrap();
        }
        KeyFiles::open(
            &key_path,
            certificate.then_some(cert_path.as_path()),
            algorithm,
        )
        .unwrap()
    }

    #[test]
    fn claims_header_and_signature_for_each_algorithm() {
        let url = url::Url::parse("https://login.example.com/oauth2/v2.0/token").unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ec = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let cases: [(
            &str,
            Option<SigningAlgorithm>,
            &str,
            &'static dyn signature::VerificationAlgorithm,
        ); 3] = [
            (RSA_A, None, "RS256", &signature::RSA_PKCS1_2048_8192_SHA256),
            (
                RSA_A,
                Some(SigningAlgorithm::Ps256),
                "PS256",
                &signature::RSA_PSS_2048_8192_SHA256,
            ),
            (&ec, None, "ES256", &signature::ECDSA_P256_SHA256_FIXED),
        ];
        for (key, algorithm, alg, verifier) in cases {
            let dir = tempfile::tempdir().unwrap();
            let keys = files(dir.path(), key, true, algorithm);
            let settings = AssertionSettings {
                keys: keys.clone(),
                key_id: Some("key-1".into()),
                audience: None,
            };
            let material = keys.current();
            let jwt = client_assertion(&settings, &material, "client-9", &url, now).unwrap();
            let jwt = jwt.expose_secret();
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header = decode(parts[0]);
            assert_eq!(header["alg"], alg);
            assert_eq!(header["typ"], "JWT");
            assert_eq!(header["kid"], "key-1");
            let thumbprint = &material.certificate.as_ref().unwrap().thumbprint;
            assert_eq!(header["x5t#S256"], thumbprint.as_str());
            let claims = decode(parts[1]);
            assert_eq!(claims["iss"], "client-9");
            assert_eq!(claims["sub"], "client-9");
            assert_eq!(claims["aud"], "https://login.example.com/oauth2/v2.0/token");
            assert_eq!(claims["iat"], 1_800_000_000u64);
            assert_eq!(claims["nbf"], 1_800_000_000u64);
            assert_eq!(claims["exp"], 1_800_000_060u64);
            assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
            let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
            signature::UnparsedPublicKey::new(verifier, material.key.public_key())
                .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
                .unwrap_or_else(|_| panic!("{alg} signature does not verify"));
        }
    }

    #[test]
    fn jti_is_fresh_and_audience_and_header_follow_the_settings() {
        let dir = tempfile::tempdir().unwrap();
        let keys = files(dir.path(), RSA_A, false, None);
        let settings = AssertionSettings {
            keys: keys.clone(),
            key_id: None,
            audience: Some("https://issuer.example.com".into()),
        };
        let url = url::Url::parse("https://login.example.com/token").unwrap();
        let material = keys.current();
        let now = SystemTime::now();
        let one = client_assertion(&settings, &material, "c", &url, now).unwrap();
        let two = client_assertion(&settings, &material, "c", &url, now).unwrap();
        let (one, two) = (one.expose_secret(), two.expose_secret());
        let claims_one = decode(one.split('.').nth(1).unwrap());
        let claims_two = decode(two.split('.').nth(1).unwrap());
        assert_ne!(claims_one["jti"], claims_two["jti"]);
        assert_eq!(claims_one["aud"], "https://issuer.example.com");
        let header = decode(one.split('.').next().unwrap());
        assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
        assert!(!format!("{:?}", SecretString::from(one.to_owned())).contains(one));
    }

    #[test]
    fn a_key_that_cannot_sign_is_a_signing_error_without_key_material() {
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::parse("https://login.example.com/token").unwrap();
        let keys = files(dir.path(), RSA_A, false, None);
        // An RSA key asked for ES256: what the configuration check refuses
        // at load, forced here to reach the signing failure.
        let material = KeyMaterial {
            key: crate::config::keys::ClientKey::from_pem(RSA_A.as_bytes().to_vec()).unwrap(),
            certificate: None,
            algorithm: SigningAlgorithm::Es256,
            version: 1,
        };
        let settings = AssertionSettings {
            keys: Arc::clone(&keys),
            key_id: None,
            audience: None,
        };
        let error = client_assertion(&settings, &material, "c", &url, SystemTime::now())
            .expect_err("an RSA key cannot sign ES256");
        assert!(matches!(error, SigningError::Key(_)), "{error:?}");
        let text = error.to_string();
        assert!(
            text.starts_with("cannot sign the client assertion: "),
            "{text}"
        );
        assert!(
            !text.contains("PRIVATE KEY") && !text.contains("MII"),
            "{text}"
        );
    }
}
