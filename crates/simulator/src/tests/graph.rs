//! Microsoft Graph's application endpoint over real sockets: the
//! credentials of an application with hints, thumbprints and end dates,
//! and each refusal in Graph's shape.

use std::time::{Duration, SystemTime};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::Value;

use super::identity::{access_token, client, get_json, http, start, with_clients};
use crate::pki::{TestCa, days};
use crate::{AppCredential, Scenario};

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// The application URL of `app_id` with `$select` of both credential lists.
fn app_url(base: &str, app_id: &str) -> String {
    format!("{base}/v1.0/applications(appId='{app_id}')?$select=passwordCredentials,keyCredentials")
}

async fn graph_get(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = http().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// SHA-1 of the certificate's DER in base64, as Graph writes the
/// Edm.Binary `customKeyIdentifier`, computed here.
fn thumbprint(cert_pem: &str) -> String {
    use base64::Engine as _;
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

fn parse_time(text: &Value) -> SystemTime {
    humantime::parse_rfc3339(text.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn graph_lists_an_applications_secrets_and_certificates_with_their_end() {
    let ca = TestCa::new("graph test CA").unwrap();
    let not_after = SystemTime::now() + days(90);
    let cert = ca.client("cert-app", None, not_after).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    let yaml = format!(
        "
clients:
  - client_id: reader
  - client_id: soon
    client_secret: abcdef-current
    additional_client_secrets: [xyz-next]
    app_credentials:
      - type: secret
        expires: in 10d
        display_name: current
      - type: secret
        secret: xyz-next
        expires: 2030-01-31T00:00:00Z
        key_id: 11111111-2222-3333-4444-555555555555
      - type: certificate
        certificate: {}
",
        cert_path.display()
    );
    let sim = start(Scenario::from_yaml_str(&yaml).unwrap()).await;
    let base = sim.base_url();
    let token = access_token(
        &format!("{base}/common/oauth2/v2.0/token"),
        "reader",
        GRAPH_SCOPE,
    )
    .await;
    let (status, app) = graph_get(&app_url(&base, "soon"), Some(&token)).await;
    assert_eq!(status, 200, "{app}");
    assert!(
        app.get("appId").is_none(),
        "$select leaves out the rest: {app}"
    );
    assert!(
        app["@odata.context"]
            .as_str()
            .unwrap()
            .contains("$metadata#applications")
    );
    let secrets = app["passwordCredentials"].as_array().unwrap();
    assert_eq!(secrets.len(), 2, "{app}");
    assert_eq!(secrets[0]["hint"], "abc");
    assert_eq!(secrets[0]["displayName"], "current");
    let in_ten_days = SystemTime::now() + days(10);
    let end = parse_time(&secrets[0]["endDateTime"]);
    let off = end
        .duration_since(in_ten_days)
        .unwrap_or_else(|e| e.duration());
    assert!(off < Duration::from_secs(120), "{end:?}");
    assert!(parse_time(&secrets[0]["startDateTime"]) < end);
    assert_eq!(secrets[1]["hint"], "xyz");
    assert_eq!(secrets[1]["endDateTime"], "2030-01-31T00:00:00Z");
    assert_eq!(secrets[1]["keyId"], "11111111-2222-3333-4444-555555555555");
    let keys = app["keyCredentials"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{app}");
    assert_eq!(keys[0]["customKeyIdentifier"], thumbprint(&cert.cert_pem));
    assert_eq!(keys[0]["type"], "AsymmetricX509Cert");
    assert_eq!(keys[0]["usage"], "Verify");
    let cert_end = parse_time(&keys[0]["endDateTime"]);
    let off = cert_end
        .duration_since(not_after)
        .unwrap_or_else(|e| e.duration());
    assert!(off < Duration::from_secs(2), "the certificate's notAfter");

    // Without $select: the whole application; without app_credentials:
    // its secrets, a year ahead.
    let url = format!("{base}/v1.0/applications(appId='reader')");
    let (status, app) = graph_get(&url, Some(&token)).await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["appId"], "reader");
    let secrets = app["passwordCredentials"].as_array().unwrap();
    assert_eq!(secrets.len(), 1, "{app}");
    assert_eq!(secrets[0]["hint"], "rea");
    let end = parse_time(&secrets[0]["endDateTime"]);
    assert!(end > SystemTime::now() + days(360), "{app}");
    assert_eq!(app["keyCredentials"], Value::Array(vec![]));
    sim.shutdown().await;
}

#[tokio::test]
async fn graph_refuses_without_a_graph_token_without_permission_and_for_unknown_apps() {
    let mut denied = client("denied");
    denied.graph_permission = false;
    let mut listed = client("listed");
    listed.app_credentials = Some(vec![AppCredential::secret(
        "listed-secret",
        SystemTime::now() + days(1),
    )]);
    let sim = start(with_clients(vec![client("reader"), denied, listed])).await;
    let base = sim.base_url();
    let token_url = format!("{base}/oauth2/token");
    let url = app_url(&base, "listed");

    let (status, body) = graph_get(&url, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    let api_token = access_token(&token_url, "reader", "service:integration").await;
    let (status, body) = graph_get(&url, Some(&api_token)).await;
    assert_eq!(status, 401, "a token for another resource: {body}");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    let denied_token = access_token(&token_url, "denied", GRAPH_SCOPE).await;
    let (status, body) = graph_get(&url, Some(&denied_token)).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(
        body["error"]["message"],
        "Insufficient privileges to complete the operation."
    );

    let token = access_token(&token_url, "reader", GRAPH_SCOPE).await;
    let (status, body) = graph_get(&app_url(&base, "nobody"), Some(&token)).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
    let (status, body) = graph_get(&url, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["passwordCredentials"][0]["hint"], "lis");
    // Graph requests are upstream traffic: recorded, with their caller.
    let recorded = sim.requests();
    let graph = recorded
        .iter()
        .filter(|r| r.path.starts_with("/v1.0/"))
        .count();
    assert_eq!(graph, 5);
    let (status, _) = get_json(&format!("{base}/v1.0/me")).await;
    assert_eq!(status, 401);
    sim.shutdown().await;
}
