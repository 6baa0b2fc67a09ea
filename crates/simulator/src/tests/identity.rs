//! Discovery, the JWKS, signed access tokens, key rotation and the token
//! shape knobs, over real sockets with reqwest; signatures are checked
//! with ring against the published keys, as a verifier would.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::{ClientBehaviour, Scenario, Simulator, TokenFormat};

pub(super) fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(super) async fn start(scenario: Scenario) -> Simulator {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Simulator::start(listener, scenario).await.unwrap()
}

pub(super) fn client(id: &str) -> ClientBehaviour {
    ClientBehaviour::new(id, format!("{id}-secret"))
}

pub(super) fn with_clients(clients: Vec<ClientBehaviour>) -> Scenario {
    Scenario {
        clients,
        ..Scenario::default()
    }
}

/// GET `url`: the status and the body as JSON (`Null` when not JSON).
pub(super) async fn get_json(url: &str) -> (u16, Value) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A client-credentials token from `token_url` for `id` with `secret`,
/// asking for `scope`: the status and the body.
pub(super) async fn token_answer(
    token_url: &str,
    id: &str,
    secret: &str,
    scope: &str,
) -> (u16, Value) {
    let response = http()
        .post(token_url)
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The access token of a successful token request.
pub(super) async fn access_token(token_url: &str, id: &str, scope: &str) -> String {
    let (status, body) = token_answer(token_url, id, &format!("{id}-secret"), scope).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

fn part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header(token: &str) -> Value {
    part(token, 0)
}

fn claims(token: &str) -> Value {
    part(token, 1)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Whether `token` verifies against the key of its `kid` in `jwks`, as a
/// verifier does it (no key with that kid: false).
fn verifies(token: &str, jwks: &Value) -> bool {
    let kid = header(token)["kid"].as_str().unwrap().to_owned();
    let Some(jwk) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid.as_str())
    else {
        return false;
    };
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let number = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["alg"], header(token)["alg"]);
    match jwk["kty"].as_str().unwrap() {
        "EC" => {
            assert_eq!(jwk["crv"], "P-256");
            let mut point = vec![4u8];
            point.extend(number("x"));
            point.extend(number("y"));
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(signed.as_bytes(), &sig)
                .is_ok()
        }
        "RSA" => signature::RsaPublicKeyComponents {
            n: number("n"),
            e: number("e"),
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &sig,
        )
        .is_ok(),
        other => panic!("unexpected kty {other}"),
    }
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_authority_publishes_discovery_that_leads_to_its_token_path_and_keys() {
    let sim = start(with_clients(vec![client("acme")])).await;
    let base = sim.base_url();
    let cases = [
        (
            format!("{base}/.well-known/openid-configuration"),
            base.clone(),
            "/oauth2/token",
        ),
        (
            format!("{base}/.well-known/oauth-authorization-server"),
            base.clone(),
            "/oauth2/token",
        ),
        (
            format!("{base}/oauth2/default/.well-known/openid-configuration"),
            format!("{base}/oauth2/default"),
            "/oauth2/default/v1/token",
        ),
        (
            format!("{base}/.well-known/oauth-authorization-server/oauth2/default"),
            format!("{base}/oauth2/default"),
            "/oauth2/default/v1/token",
        ),
        (
            format!("{base}/contoso/v2.0/.well-known/openid-configuration"),
            format!("{base}/contoso/v2.0"),
            "/contoso/oauth2/v2.0/token",
        ),
        (
            format!("{base}/.well-known/oauth-authorization-server/contoso/v2.0"),
            format!("{base}/contoso/v2.0"),
            "/contoso/oauth2/v2.0/token",
        ),
    ];
    for (url, issuer, token_path) in cases {
        let (status, doc) = get_json(&url).await;
        assert_eq!(status, 200, "{url}: {doc}");
        assert_eq!(doc["issuer"], issuer.as_str(), "{url}");
        assert_eq!(
            doc["token_endpoint"],
            format!("{base}{token_path}"),
            "{url}"
        );
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!(["client_credentials"])
        );
        let methods = doc["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap();
        assert!(methods.iter().any(|m| m == "private_key_jwt"), "{doc}");
        // The token endpoint it names issues tokens with its issuer, whose
        // signature verifies against the key set at its jwks_uri.
        let token_url = doc["token_endpoint"].as_str().unwrap();
        let token = access_token(token_url, "acme", "service:integration").await;
        assert_eq!(claims(&token)["iss"], issuer.as_str(), "{url}");
        let (status, jwks) = get_json(doc["jwks_uri"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        assert!(verifies(&token, &jwks), "{url}: {token} against {jwks}");
    }
    // Entra's key path also without a tenant; an unknown RFC 8414 path is 404.
    let (status, jwks) = get_json(&format!("{base}/discovery/v2.0/keys")).await;
    assert_eq!((status, kids(&jwks).len()), (200, 1));
    let (status, _) = get_json(&format!(
        "{base}/.well-known/oauth-authorization-server/nowhere"
    ))
    .await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn discovery_knobs_break_each_document_their_own_way() {
    let yaml = "
discovery:
  issuer: https://idp.example/
  openid_configuration: not_found
clients: [{client_id: acme}]
";
    let sim = start(Scenario::from_yaml_str(yaml).unwrap()).await;
    let base = sim.base_url();
    let (status, _) = get_json(&format!("{base}/.well-known/openid-configuration")).await;
    assert_eq!(status, 404, "openid-configuration is gone");
    let (status, doc) = get_json(&format!("{base}/.well-known/oauth-authorization-server")).await;
    assert_eq!(status, 200, "the RFC 8414 fallback answers");
    assert_eq!(doc["issuer"], "https://idp.example");
    assert_eq!(doc["token_endpoint"], "https://idp.example/oauth2/token");
    let token = access_token(&format!("{base}/contoso/oauth2/v2.0/token"), "acme", "x").await;
    assert_eq!(claims(&token)["iss"], "https://idp.example/contoso/v2.0");

    for (knob, expected_status) in [
        ("server_error", 500),
        ("invalid_json", 200),
        ("wrong_issuer", 200),
        ("no_token_endpoint", 200),
    ] {
        let yaml = format!("discovery: {{oauth_authorization_server: {knob}}}");
        sim.set_scenario(Scenario::from_yaml_str(&yaml).unwrap());
        let url = format!("{base}/.well-known/oauth-authorization-server");
        let response = http().get(&url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), expected_status, "{knob}");
        let body = response.text().await.unwrap();
        let parsed = serde_json::from_str::<Value>(&body);
        match knob {
            "invalid_json" => assert!(parsed.is_err(), "{body}"),
            "wrong_issuer" => {
                let doc = parsed.unwrap();
                assert_eq!(doc["issuer"], "https://mismatched-issuer.invalid");
                assert_eq!(doc["token_endpoint"], format!("{base}/oauth2/token"));
            }
            "no_token_endpoint" => {
                let doc = parsed.unwrap();
                assert_eq!(doc["issuer"], Value::from(base.as_str()));
                assert_eq!(doc.get("token_endpoint"), None, "{doc}");
                assert_eq!(doc["jwks_uri"], format!("{base}/jwks"));
            }
            _ => {}
        }
        let (status, doc) = get_json(&format!("{base}/.well-known/openid-configuration")).await;
        assert_eq!((status, &doc["issuer"]), (200, &Value::from(base.as_str())));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_are_signed_jwts_with_issuer_audience_and_times() {
    for algorithm in ["ES256", "RS256"] {
        let yaml = format!("signing: {{algorithm: {algorithm}}}\nclients: [{{client_id: acme}}]");
        let sim = start(Scenario::from_yaml_str(&yaml).unwrap()).await;
        let base = sim.base_url();
        let token = access_token(
            &format!("{base}/oauth2/token"),
            "acme",
            "api://res/.default",
        )
        .await;
        assert_eq!(header(&token)["alg"], algorithm);
        let claims = claims(&token);
        assert_eq!(claims["iss"], base.as_str());
        assert_eq!(
            claims["aud"], "api://res",
            "the resource of the .default scope"
        );
        for name in ["sub", "azp", "appid"] {
            assert_eq!(claims[name], "acme", "{name}");
        }
        let iat = claims["iat"].as_i64().unwrap();
        assert!((iat - now()).abs() < 60, "{claims}");
        assert_eq!(claims["nbf"].as_i64(), Some(iat));
        assert_eq!(claims["exp"].as_i64(), Some(iat + 900));
        assert!(!claims["jti"].as_str().unwrap().is_empty());
        let (_, jwks) = get_json(&format!("{base}/jwks")).await;
        assert!(verifies(&token, &jwks), "{algorithm}");
        // Tampered claims do not verify, and the API refuses them.
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let mut forged = claims.clone();
        forged["sub"] = "mallory".into();
        let forged = format!(
            "{head}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(forged.to_string())
        );
        assert!(!verifies(&forged, &jwks));
        let api = http()
            .get(format!("{base}/api/v1/status"))
            .bearer_auth(&forged)
            .send()
            .await
            .unwrap();
        assert_eq!(api.status().as_u16(), 401);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_rotation_signs_with_a_new_kid_and_the_jwks_keeps_the_previous_key() {
    for algorithm in ["ES256", "RS256"] {
        let yaml = format!("signing: {{algorithm: {algorithm}}}\nclients: [{{client_id: acme}}]");
        let sim = start(Scenario::from_yaml_str(&yaml).unwrap()).await;
        let base = sim.base_url();
        let token_url = format!("{base}/oauth2/token");
        let before = access_token(&token_url, "acme", "x").await;
        let rotated: Value = http()
            .post(format!("{base}/__simulator/rotate-signing-key"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let after = access_token(&token_url, "acme", "x").await;
        assert_eq!(header(&after)["kid"], rotated["kid"]);
        assert_ne!(header(&after)["kid"], header(&before)["kid"]);
        let (_, jwks) = get_json(&format!("{base}/jwks")).await;
        assert_eq!(kids(&jwks).len(), 2, "{jwks}");
        assert!(
            verifies(&before, &jwks),
            "the previous key is still published"
        );
        assert!(verifies(&after, &jwks));
        // A third key: the oldest leaves the set.
        sim.rotate_signing_key().unwrap();
        let (_, jwks) = get_json(&format!("{base}/jwks")).await;
        assert!(!verifies(&before, &jwks));
        assert!(verifies(&after, &jwks));
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_rotated_key_reaches_the_jwks_only_after_the_publish_delay() {
    let yaml = "signing: {publish_delay: 3s}\nclients: [{client_id: acme}]";
    let sim = start(Scenario::from_yaml_str(yaml).unwrap()).await;
    let base = sim.base_url();
    let kid = sim.rotate_signing_key().unwrap();
    let token = access_token(&format!("{base}/oauth2/token"), "acme", "x").await;
    assert_eq!(header(&token)["kid"], kid.as_str());
    let (_, jwks) = get_json(&format!("{base}/jwks")).await;
    assert!(!kids(&jwks).contains(&kid), "not yet: {jwks}");
    assert_eq!(kids(&jwks).len(), 1, "the previous key stays: {jwks}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, jwks) = get_json(&format!("{base}/jwks")).await;
        if kids(&jwks).contains(&kid) {
            assert!(verifies(&token, &jwks));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never published");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn periodic_rotation_changes_the_kid() {
    let yaml = "signing: {rotation: 1s}\nclients: [{client_id: acme}]";
    let sim = start(Scenario::from_yaml_str(yaml).unwrap()).await;
    let token_url = format!("{}/oauth2/token", sim.base_url());
    let first = access_token(&token_url, "acme", "x").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = access_token(&token_url, "acme", "x").await;
    assert_ne!(header(&first)["kid"], header(&second)["kid"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_knobs_shape_wrong_tokens() {
    let mut opaque = client("opaque");
    opaque.token_format = TokenFormat::Opaque;
    let mut wrong_aud = client("wrong-aud");
    wrong_aud.audience = Some("api://someone-else".into());
    let mut wrong_iss = client("wrong-iss");
    wrong_iss.token_issuer = Some("https://evil.example".into());
    let mut skewed = client("skewed");
    skewed.iat_offset = -300;
    let mut unpublished = client("unpublished");
    unpublished.sign_with_unpublished_key = true;
    let mut expired = client("expired");
    expired.expired_on_arrival = true;
    let sim = start(with_clients(vec![
        opaque,
        wrong_aud,
        wrong_iss,
        skewed,
        unpublished,
        expired,
        client("plain"),
    ]))
    .await;
    let base = sim.base_url();
    let token_url = format!("{base}/oauth2/token");
    let get = |id: &'static str| {
        let token_url = token_url.clone();
        async move { access_token(&token_url, id, "service:integration").await }
    };
    let (_, jwks) = get_json(&format!("{base}/jwks")).await;
    let api = |token: String| {
        let url = format!("{base}/api/v1/status");
        async move {
            let response = http().get(url).bearer_auth(token).send().await.unwrap();
            response.status().as_u16()
        }
    };

    let token = get("opaque").await;
    assert!(!token.contains('.'), "{token}");
    assert!(token.len() >= 32);
    assert_eq!(api(token).await, 200, "an opaque token works on the API");

    let token = get("plain").await;
    assert_eq!(claims(&token)["aud"], "api://credprobe-simulator");
    let token = get("wrong-aud").await;
    assert_eq!(claims(&token)["aud"], "api://someone-else");
    assert!(verifies(&token, &jwks));
    let token = get("wrong-iss").await;
    assert_eq!(claims(&token)["iss"], "https://evil.example");

    let token = get("skewed").await;
    let skewed = claims(&token);
    let iat = skewed["iat"].as_i64().unwrap();
    assert!((iat - (now() - 300)).abs() < 60, "{skewed}");
    assert_eq!(skewed["nbf"].as_i64(), Some(iat));
    assert_eq!(skewed["exp"].as_i64(), Some(iat + 900));

    let token = get("unpublished").await;
    let kid = header(&token)["kid"].as_str().unwrap().to_owned();
    assert!(!kids(&jwks).contains(&kid));
    assert!(!verifies(&token, &jwks));
    assert_eq!(api(token).await, 200);

    let token = get("expired").await;
    let exp = claims(&token)["exp"].as_i64().unwrap();
    assert!(exp < now(), "exp {exp} is past");
    assert!(verifies(&token, &jwks));
    assert_eq!(api(token).await, 200, "the API goes by expires_in");
    sim.shutdown().await;
}

#[tokio::test]
async fn additional_secrets_authenticate_and_any_other_is_refused() {
    let yaml = "
clients:
  - client_id: rotating
    client_secret: old-secret
    additional_client_secrets: [new-secret]
";
    let sim = start(Scenario::from_yaml_str(yaml).unwrap()).await;
    let token_url = format!("{}/oauth2/token", sim.base_url());
    for secret in ["old-secret", "new-secret"] {
        let (status, body) = token_answer(&token_url, "rotating", secret, "x").await;
        assert_eq!(status, 200, "{secret}: {body}");
    }
    let (status, body) = token_answer(&token_url, "rotating", "rejected-secret", "x").await;
    assert_eq!(
        (status, &body["error"]),
        (401, &Value::from("invalid_client"))
    );
    sim.shutdown().await;
}

#[test]
fn yaml_errors_name_the_identity_knob() {
    for (yaml, expected) in [
        ("clients: [{client_id: a, iat_offset: soon}]", "iat_offset"),
        (
            "clients: [{client_id: a, app_credentials: [{type: secret, expires: tomorrow}]}]",
            "app_credentials[0]: expires",
        ),
        (
            "clients: [{client_id: a, app_credentials: [{type: certificate}]}]",
            "app_credentials[0]: a certificate credential needs",
        ),
        (
            "clients: [{client_id: a, app_credentials: [{type: certificate, thumbprint: xyz}]}]",
            "not 40 hexadecimal digits",
        ),
        ("signing: {algorithm: HS256}", "HS256"),
        ("discovery: {openid_configuration: sometimes}", "sometimes"),
        ("clients: [{client_id: a, token_format: jwe}]", "jwe"),
    ] {
        let error = Scenario::from_yaml_str(yaml).unwrap_err().to_string();
        assert!(error.contains(expected), "{yaml}: {error}");
    }
}
