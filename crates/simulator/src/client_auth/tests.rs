//! Each way the simulator refuses a client assertion or a client
//! certificate, with its `error_description`, and what it accepts.

use std::time::Duration;

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::*;
use crate::pki::TestCa;
use crate::{ClientBehaviour, Scenario, Simulator};

const RSA_A: &str = include_str!("../../../../tests/keys/example-rsa-a.pem");
const RSA_B: &str = include_str!("../../../../tests/keys/example-rsa-b.pem");
const PATH: &str = "/oauth2/token";

fn public_pem(private_pem: &str) -> String {
    rcgen::KeyPair::from_pem(private_pem)
        .unwrap()
        .public_key_pem()
}

/// Signs `header` and `claims` as a JWS with the key `pem`.
fn sign(pem: &str, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let rng = SystemRandom::new();
    let PrivateKeyDer::Pkcs8(der) = der else {
        panic!("PKCS#8 expected")
    };
    let sig = match header["alg"].as_str() {
        Some("ES256") => EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der.secret_pkcs8_der(),
            &rng,
        )
        .unwrap()
        .sign(&rng, input.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec(),
        alg => {
            let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
            let mut out = vec![0; pair.public().modulus_len()];
            let padding: &dyn signature::RsaEncoding = if alg == Some("PS256") {
                &signature::RSA_PSS_SHA256
            } else {
                &signature::RSA_PKCS1_SHA256
            };
            pair.sign(padding, &rng, input.as_bytes(), &mut out)
                .unwrap();
            out
        }
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Claims a good assertion of `client` to `aud` carries.
fn claims(client: &str, aud: &str) -> Value {
    let now = unix_now();
    json!({
        "iss": client, "sub": client, "aud": aud,
        "iat": now, "nbf": now, "exp": now + 60,
        "jti": format!("jti-{}", fastrand::u64(..)),
    })
}

fn rs256() -> Value {
    json!({"alg": "RS256", "typ": "JWT"})
}

struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    /// The refusal's description; panics unless it is 401 invalid_client.
    fn refusal(&self) -> &str {
        assert_eq!(self.status, 401, "{}", self.body);
        assert_eq!(self.body["error"], "invalid_client", "{}", self.body);
        self.body["error_description"].as_str().unwrap()
    }
}

async fn post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Answer {
    let response = client.post(url).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    Answer {
        status,
        body: response.json().await.unwrap_or(Value::Null),
    }
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn assertion_request(sim: &Simulator, client: &str, assertion: &str) -> Answer {
    let url = format!("{}{PATH}", sim.base_url());
    post(
        &http(),
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    )
    .await
}

async fn plain(scenario: Scenario) -> Simulator {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Simulator::start(listener, scenario).await.unwrap()
}

fn jwt_client(id: &str) -> ClientBehaviour {
    let mut client = ClientBehaviour::new(id, "unused");
    client.public_key = Some(public_pem(RSA_A));
    client
}

#[tokio::test]
async fn a_good_assertion_gets_a_token_and_each_bad_one_its_own_refusal() {
    let ec = rcgen::KeyPair::generate().unwrap();
    let ec_pem = ec.serialize_pem();
    let ca = TestCa::new("test CA").unwrap();
    let ec_cert = ca
        .client(
            "ec-client",
            Some(&ec_pem),
            std::time::SystemTime::now() + Duration::from_secs(86_400),
        )
        .unwrap();
    let mut with_certificate = ClientBehaviour::new("ec", "unused");
    with_certificate.certificate = Some(ec_cert.cert_pem.clone());
    let mut audience = jwt_client("aud");
    audience.assertion_audience = Some("https://issuer.example.com".into());
    let mut revoked = jwt_client("revoked");
    revoked.revoked = true;
    let sim = plain(Scenario {
        clients: vec![
            jwt_client("jwt"),
            with_certificate,
            audience,
            revoked,
            ClientBehaviour::new("secret-only", "s"),
        ],
        ..Scenario::default()
    })
    .await;
    let url = format!("{}{PATH}", sim.base_url());

    let good = sign(RSA_A, &rs256(), &claims("jwt", &url));
    let answer = assertion_request(&sim, "jwt", &good).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body["access_token"].is_string());
    assert_eq!(
        assertion_request(&sim, "jwt", &good).await.refusal(),
        "client_assertion jti was already used"
    );
    let ps = sign(RSA_A, &json!({"alg": "PS256"}), &claims("jwt", &url));
    assert_eq!(assertion_request(&sim, "jwt", &ps).await.status, 200);
    let listed = {
        let mut claims = claims("jwt", "https://elsewhere.example.com");
        claims["aud"] = json!(["https://elsewhere.example.com", url]);
        sign(RSA_A, &rs256(), &claims)
    };
    assert_eq!(assertion_request(&sim, "jwt", &listed).await.status, 200);
    let configured = sign(
        RSA_A,
        &rs256(),
        &claims("aud", "https://issuer.example.com"),
    );
    assert_eq!(
        assertion_request(&sim, "aud", &configured).await.status,
        200
    );

    // ES256, verified with the registered certificate's key; x5t#S256 checked.
    let thumbprint = {
        let der =
            rustls::pki_types::CertificateDer::from_pem_slice(ec_cert.cert_pem.as_bytes()).unwrap();
        URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &der))
    };
    let es = sign(
        &ec_pem,
        &json!({"alg": "ES256", "x5t#S256": thumbprint}),
        &claims("ec", &url),
    );
    let answer = assertion_request(&sim, "ec", &es).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let now = unix_now();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims("jwt", &url);
        change(&mut claims);
        sign(RSA_A, &rs256(), &claims)
    };
    let cases: Vec<(String, &str, &str)> = vec![
        (
            sign(RSA_B, &rs256(), &claims("jwt", &url)),
            "jwt",
            "client_assertion signature does not verify",
        ),
        (
            with(&|c| c["aud"] = json!("https://login.example.com/token")),
            "jwt",
            "client_assertion aud is not this token endpoint",
        ),
        (
            with(&|c| c["exp"] = json!(now - 5)),
            "jwt",
            "client_assertion has expired",
        ),
        (
            with(&|c| c["exp"] = json!(now + MAX_AHEAD + 120)),
            "jwt",
            "client_assertion exp is more than 10 minutes ahead",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "jwt",
            "client_assertion has no exp",
        ),
        (
            with(&|c| c["nbf"] = json!(now + 600)),
            "jwt",
            "client_assertion is not valid yet (nbf)",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "jwt",
            "client_assertion has no jti",
        ),
        (
            with(&|c| c["iss"] = json!("someone-else")),
            "jwt",
            "client_assertion iss and sub must both be the client id",
        ),
        (
            sign(RSA_A, &json!({"alg": "RS512"}), &claims("jwt", &url)),
            "jwt",
            "client_assertion alg is not RS256, PS256 or ES256",
        ),
        (
            sign(&ec_pem, &json!({"alg": "ES256"}), &claims("jwt", &url)),
            "jwt",
            "client_assertion alg does not suit the client's registered key",
        ),
        (
            "not.a.jwt".to_owned(),
            "jwt",
            "client_assertion is not a signed JWT",
        ),
        (
            sign(
                &ec_pem,
                &json!({"alg": "ES256", "x5t#S256": "AAAA"}),
                &claims("ec", &url),
            ),
            "ec",
            "client_assertion x5t#S256 is not the registered certificate's thumbprint",
        ),
        (
            sign(RSA_A, &rs256(), &claims("secret-only", &url)),
            "secret-only",
            "the client has no registered public_key or certificate to verify client_assertion",
        ),
        (
            sign(RSA_A, &rs256(), &claims("revoked", &url)),
            "revoked",
            "Client authentication failed",
        ),
    ];
    for (assertion, client, why) in cases {
        assert_eq!(
            assertion_request(&sim, client, &assertion).await.refusal(),
            why,
            "{client}"
        );
    }

    // The form's client_id must be the assertion's subject.
    let other = sign(RSA_A, &rs256(), &claims("aud", &url));
    assert_eq!(
        assertion_request(&sim, "jwt", &other).await.refusal(),
        "client_id differs from the client_assertion's sub"
    );
    // Without client_id the subject names the client.
    let answer = post(
        &http(),
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            (
                "client_assertion",
                &sign(RSA_A, &rs256(), &claims("jwt", &url)),
            ),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let recorded = sim.requests();
    assert_eq!(recorded.last().unwrap().client_id.as_deref(), Some("jwt"));
    // The wrong assertion type.
    let answer = post(
        &http(),
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "jwt"),
            ("client_assertion_type", "urn:other"),
            (
                "client_assertion",
                &sign(RSA_A, &rs256(), &claims("jwt", &url)),
            ),
        ],
    )
    .await;
    assert_eq!(
        answer.refusal(),
        "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    // An assertion and a secret at once.
    let answer = post(
        &http(),
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "secret-only"),
            ("client_secret", "s"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &good),
        ],
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["error"], "invalid_request");
    // No secret, no assertion, no certificate: tls_client_auth without TLS.
    let answer = post(
        &http(),
        &url,
        &[("grant_type", "client_credentials"), ("client_id", "jwt")],
    )
    .await;
    assert_eq!(
        answer.refusal(),
        "no client certificate was presented (tls_client_auth)"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn accept_any_verifies_unlisted_clients_with_the_shared_public_key() {
    let sim = plain(Scenario {
        accept_any: true,
        accept_any_public_key: Some(public_pem(RSA_A)),
        ..Scenario::default()
    })
    .await;
    let url = format!("{}{PATH}", sim.base_url());
    let good = sign(RSA_A, &rs256(), &claims("tenant-00042", &url));
    assert_eq!(
        assertion_request(&sim, "tenant-00042", &good).await.status,
        200
    );
    let bad = sign(RSA_B, &rs256(), &claims("tenant-00043", &url));
    assert_eq!(
        assertion_request(&sim, "tenant-00043", &bad)
            .await
            .refusal(),
        "client_assertion signature does not verify"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn additional_public_keys_verify_assertions_during_a_key_rotation() {
    let mut rotating = jwt_client("rotating");
    rotating.additional_public_keys = vec![public_pem(RSA_B)];
    let ec = rcgen::KeyPair::generate().unwrap();
    let sim = plain(Scenario {
        clients: vec![rotating, jwt_client("single")],
        ..Scenario::default()
    })
    .await;
    let url = format!("{}{PATH}", sim.base_url());
    for key in [RSA_A, RSA_B] {
        let assertion = sign(key, &rs256(), &claims("rotating", &url));
        let answer = assertion_request(&sim, "rotating", &assertion).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    // A key in neither place, and the new key for a client without it.
    let es256 = json!({"alg": "ES256", "typ": "JWT"});
    let stranger = sign(&ec.serialize_pem(), &es256, &claims("rotating", &url));
    assert_eq!(
        assertion_request(&sim, "rotating", &stranger)
            .await
            .refusal(),
        "client_assertion alg does not suit the client's registered key"
    );
    let next = sign(RSA_B, &rs256(), &claims("single", &url));
    assert_eq!(
        assertion_request(&sim, "single", &next).await.refusal(),
        "client_assertion signature does not verify"
    );
    sim.shutdown().await;
}

#[test]
fn the_replay_cache_forgets_expired_jtis_and_stays_bounded() {
    let mut cache = ReplayCache::default();
    assert!(cache.first_use("a".into(), 100, 10));
    assert!(!cache.first_use("a".into(), 100, 50));
    // Expired: forgotten, usable again (the exp check refuses it anyway).
    assert!(cache.first_use("b".into(), 200, 150));
    assert!(!cache.seen.contains_key("a"));
    for n in 0..REPLAY_CAPACITY + 10 {
        cache.first_use(format!("k{n}"), 10_000, 160);
    }
    assert!(cache.order.len() <= REPLAY_CAPACITY);
    assert_eq!(cache.seen.len(), cache.order.len());
}

/// A client over TLS that trusts `ca` and presents `identity`, if any.
fn mtls_client(ca: &TestCa, identity: Option<&crate::pki::Issued>) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(ca.pem().as_bytes()).unwrap());
    if let Some(issued) = identity {
        let pem = format!("{}{}", issued.key_pem, issued.cert_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn tls_client_auth_maps_the_certificate_subject_and_binds_the_token() {
    let ca = TestCa::new("client CA").unwrap();
    let server = ca.server().unwrap();
    let later = std::time::SystemTime::now() + Duration::from_secs(86_400);
    let cert_a = ca.client("client-a", None, later).unwrap();
    let cert_other = ca.client("someone-else", None, later).unwrap();
    let stranger_ca = TestCa::new("another CA").unwrap();
    let cert_stranger = stranger_ca.client("client-a", None, later).unwrap();
    let mut client_a = ClientBehaviour::new("a", "unused");
    client_a.certificate = Some(cert_a.cert_pem.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Simulator::start_mtls(
        listener,
        Scenario {
            clients: vec![client_a, ClientBehaviour::new("unregistered", "s")],
            ..Scenario::default()
        },
        &server.cert_pem,
        &server.key_pem,
        &ca.pem(),
    )
    .await
    .unwrap();
    let url = format!("{}{PATH}", sim.base_url());
    let form = |id: &'static str| [("grant_type", "client_credentials"), ("client_id", id)];

    let with_a = mtls_client(&ca, Some(&cert_a));
    let answer = post(&with_a, &url, &form("a")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.body["access_token"].as_str().unwrap().to_owned();
    let api = format!("{}/api/v1/workflows", sim.base_url());
    let call = |client: reqwest::Client| {
        let (api, token) = (api.clone(), token.clone());
        async move {
            client
                .get(&api)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(call(with_a.clone()).await, 200, "the bound certificate");
    assert_eq!(call(mtls_client(&ca, None)).await, 401, "no certificate");
    assert_eq!(
        call(mtls_client(&ca, Some(&cert_other))).await,
        401,
        "another certificate"
    );

    let answer = post(&mtls_client(&ca, None), &url, &form("a")).await;
    assert_eq!(
        answer.refusal(),
        "no client certificate was presented (tls_client_auth)"
    );
    let answer = post(&mtls_client(&ca, Some(&cert_other)), &url, &form("a")).await;
    assert_eq!(
        answer.refusal(),
        "the client certificate's subject is not the client's tls_client_auth_subject_dn"
    );
    let answer = post(&with_a, &url, &form("unregistered")).await;
    assert_eq!(
        answer.refusal(),
        "the client has no registered certificate for tls_client_auth"
    );
    // A certificate of another CA does not get through the handshake.
    let refused = mtls_client(&ca, Some(&cert_stranger))
        .post(&url)
        .form(&form("a"))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    // Secrets still work on the mTLS listener.
    let answer = post(
        &mtls_client(&ca, None),
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "unregistered"),
            ("client_secret", "s"),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    sim.shutdown().await;
}

#[test]
fn scenario_knobs_take_pem_or_a_path_and_must_parse() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("public.pem");
    std::fs::write(&path, public_pem(RSA_A)).unwrap();
    let yaml = format!(
        "clients:\n  - client_id: a\n    public_key: {}\n    assertion_audience: https://issuer.example.com\naccept_any: true\naccept_any_public_key: {}\n",
        path.display(),
        path.display()
    );
    let scenario = Scenario::from_yaml_str(&yaml).unwrap();
    assert!(
        scenario.clients[0]
            .public_key
            .as_deref()
            .unwrap()
            .contains("BEGIN PUBLIC KEY")
    );
    assert!(scenario.accept_any_public_key.is_some());
    let error = Scenario::from_yaml_str(
        "clients:\n  - client_id: a\n    certificate: \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("certificate:"), "{error}");
    let error =
        Scenario::from_yaml_str("clients:\n  - {client_id: a, public_key: /no/such/file}\n")
            .unwrap_err()
            .to_string();
    assert!(error.contains("cannot read /no/such/file"), "{error}");
}

#[test]
fn a_pem_path_over_the_limit_is_refused_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.pem");
    std::fs::write(&path, vec![b'a'; 4 * 1024 * 1024 + 1]).unwrap();
    let yaml = format!(
        "clients:\n  - {{client_id: a, public_key: {}}}\n",
        path.display()
    );
    let error = Scenario::from_yaml_str(&yaml).unwrap_err().to_string();
    assert!(error.contains("larger than 4 MiB"), "{error}");
}
