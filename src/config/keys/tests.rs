use std::path::Path;
use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature;

use super::*;
use crate::bounded_file;

const RSA_A: &str = include_str!("../../../tests/keys/example-rsa-a.pem");
const RSA_A_PKCS1: &str = include_str!("../../../tests/keys/example-rsa-a-pkcs1.pem");
const RSA_B: &str = include_str!("../../../tests/keys/example-rsa-b.pem");
const EC_SEC1: &str = include_str!("../../../tests/keys/example-ec-sec1.pem");
const EC_P384: &str = include_str!("../../../tests/keys/example-ec-p384.pem");
const ED25519: &str = include_str!("../../../tests/keys/example-ed25519.pem");

fn key(pem: &str) -> Result<ClientKey, PrivateKeyError> {
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
        let error = key(pem).unwrap_err().to_string();
        assert!(error.contains(why), "{error}");
        assert!(!error.contains("MII"), "{error}");
    }
}

#[test]
fn debug_never_shows_the_key() {
    let material =
        material::material(Path::new("k.pem"), RSA_A.as_bytes().to_vec(), None, None).unwrap();
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
            .to_string()
            .contains("b.crt is not the certificate of the key in")
            && error.to_string().contains("a.pem"),
        "{error}"
    );
    let error = KeyFiles::open(&key_a, None, Some(SigningAlgorithm::Es256)).unwrap_err();
    assert_eq!(error.field, KeyField::Algorithm);
    assert!(
        error.to_string().ends_with(
            "a.pem holds an RSA key, which cannot sign ES256 (that needs a P-256 EC key)"
        ),
        "{error}"
    );
    let error = KeyFiles::open(&dir.path().join("missing.pem"), None, None).unwrap_err();
    assert_eq!(error.field, KeyField::Key);
    assert!(
        error.to_string().contains("missing.pem cannot be read"),
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

    // Half a rotation (a key without its certificate) is refused, and
    // the certificate, which is not the new key's, is the file at fault.
    assert!(!files.file_problem());
    replace(&key_path, RSA_A);
    files.refresh().await;
    assert_eq!(files.current().version, second.version);
    let problem = files.problem().unwrap();
    assert_eq!(problem.path, cert_path);
    assert!(
        problem
            .reason
            .contains("is not the certificate of the key in"),
        "{}",
        problem.reason
    );
    std::fs::remove_file(&key_path).unwrap();
    files.refresh().await;
    assert_eq!(files.current().version, second.version);
    let missing = files.problem().unwrap();
    assert_eq!(missing.path, key_path);
    assert_eq!(missing.since, problem.since, "the same spell");

    // A key file grown past the size bound is refused, the last good kept.
    std::fs::write(&key_path, RSA_B).unwrap();
    files.refresh().await;
    assert!(!files.file_problem());
    let third = files.current();
    let mut huge = RSA_A.as_bytes().to_vec();
    huge.resize(bounded_file::PEM_LIMIT as usize + 1, b'\n');
    replace_bytes(&key_path, &huge);
    files.refresh().await;
    assert_eq!(files.current().version, third.version);
    assert!(files.file_problem());
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
    let error = KeyFiles::open(&key_path, None, None)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&*key_path.to_string_lossy()) && error.contains("larger than 4 MiB"),
        "{error}"
    );
}
