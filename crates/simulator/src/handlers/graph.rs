//! Microsoft Graph's application endpoint,
//! `GET /v1.0/applications(appId='{client_id}')`, so a client can read when
//! an application's secrets and certificates expire: its
//! `passwordCredentials` (each with the `hint` of its secret) and
//! `keyCredentials` (each with its certificate's SHA-1 thumbprint as
//! `customKeyIdentifier`, an Edm.Binary: base64 of the 20 digest bytes, as
//! real Graph writes it), `$select` honoured.
//!
//! It takes a bearer token the simulator issued for the scope
//! `https://graph.microsoft.com/.default` (else 401
//! `InvalidAuthenticationToken`); the caller needs `graph_permission`
//! (Application.Read.All; else 403 `Authorization_RequestDenied`); an
//! application the scenario does not list is 404
//! `Request_ResourceNotFound`. Errors have Graph's shape,
//! `{"error":{"code","message"}}`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{ConnectInfo, State};
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::api::bearer_token;
use super::discovery::base_url;
use super::response::{json_response, set_header};
use crate::listener::Connection;
use crate::scenario::{AppCredential, AppCredentialKind, ClientBehaviour, certificate_facts};
use crate::state::SimState;

/// Graph's path prefix (version 1.0).
pub(super) const GRAPH_PREFIX: &str = "/v1.0/";

/// How long a secret listed by default stays valid after the scenario
/// was loaded.
const DEFAULT_SECRET_LIFETIME: Duration = Duration::from_secs(365 * 86_400);

/// Every property an application answer has, in Graph's order.
const PROPERTIES: [&str; 5] = [
    "id",
    "appId",
    "displayName",
    "passwordCredentials",
    "keyCredentials",
];

/// `GET /v1.0/{rest}`: the application endpoint, or Graph's 404.
pub(super) async fn application(
    State(state): State<Arc<SimState>>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let caller = bearer_token(&headers).and_then(|token| state.valid_token(token));
    let Some(caller) = caller.filter(|token| token.graph) else {
        let mut response = graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty, invalid or not issued for Microsoft Graph.",
        );
        set_header(&mut response, WWW_AUTHENTICATE, "Bearer");
        return response;
    };
    let clients = state.clients();
    if !clients.for_api_call(&caller.client_id).graph_permission {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let Some(app_id) = app_id_of(uri.path()) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "The simulator serves only /v1.0/applications(appId='{appId}').",
        );
    };
    let Some(app) = clients.listed(&app_id) else {
        return graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{app_id}' does not exist or one of its queried reference-property objects are not present."
            ),
        );
    };
    let selected = selected(uri.query());
    let base = base_url(&state, &headers, &connection);
    let mut body = Map::new();
    let context = match &selected {
        Some(names) => format!(
            "{base}/v1.0/$metadata#applications({})/$entity",
            names.join(",")
        ),
        None => format!("{base}/v1.0/$metadata#applications/$entity"),
    };
    body.insert("@odata.context".into(), json!(context));
    let whole = application_json(&app, clients.loaded_at);
    for name in PROPERTIES {
        let wanted = selected
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n.eq_ignore_ascii_case(name)));
        if wanted && let Some(value) = whole.get(name) {
            body.insert(name.into(), value.clone());
        }
    }
    json_response(StatusCode::OK, &Value::Object(body))
}

/// The `appId` of `/v1.0/applications(appId='…')`, percent-decoded.
fn app_id_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix(GRAPH_PREFIX)?;
    let decoded = url::form_urlencoded::parse(format!("x={}", rest.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())?;
    let quoted = decoded
        .strip_prefix("applications(appId=")?
        .strip_suffix(')')?;
    let id = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// The properties `$select` names, if the query has it.
fn selected(query: Option<&str>) -> Option<Vec<String>> {
    let (_, value) = url::form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name.eq_ignore_ascii_case("$select"))?;
    Some(
        value
            .split(',')
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .collect(),
    )
}

/// The whole application as Graph describes it.
fn application_json(app: &ClientBehaviour, loaded_at: SystemTime) -> Value {
    let credentials = app
        .app_credentials
        .clone()
        .unwrap_or_else(|| default_credentials(app, loaded_at));
    let mut passwords = Vec::new();
    let mut keys = Vec::new();
    for (index, credential) in credentials.iter().enumerate() {
        let key_id = credential
            .key_id
            .clone()
            .unwrap_or_else(|| derived_id(&app.client_id, &format!("credential {index}")));
        let end = credential.end;
        let start = credential
            .start
            .unwrap_or_else(|| end.checked_sub(DEFAULT_SECRET_LIFETIME).unwrap_or(end));
        let mut entry = json!({
            "keyId": key_id,
            "displayName": credential.display_name,
            "startDateTime": rfc3339(start),
            "endDateTime": rfc3339(end),
        });
        match &credential.kind {
            AppCredentialKind::Secret { hint } => {
                entry["hint"] = json!(hint);
                entry["secretText"] = Value::Null;
                passwords.push(entry);
            }
            AppCredentialKind::Certificate { thumbprint } => {
                entry["customKeyIdentifier"] = json!(edm_binary(thumbprint));
                entry["type"] = json!("AsymmetricX509Cert");
                entry["usage"] = json!("Verify");
                entry["key"] = Value::Null;
                keys.push(entry);
            }
        }
    }
    json!({
        "id": derived_id(&app.client_id, "object"),
        "appId": app.client_id,
        "displayName": app.client_id,
        "passwordCredentials": passwords,
        "keyCredentials": keys,
    })
}

/// What Graph lists for a client whose scenario gives no
/// `app_credentials`: every secret it accepts, ending a year after the
/// scenario was loaded, and its certificate, ending at its notAfter.
fn default_credentials(app: &ClientBehaviour, loaded_at: SystemTime) -> Vec<AppCredential> {
    let end = loaded_at + DEFAULT_SECRET_LIFETIME;
    let mut list: Vec<AppCredential> = std::iter::once(&app.client_secret)
        .chain(&app.additional_client_secrets)
        .map(|secret| AppCredential::secret(secret, end))
        .collect();
    if let Some((thumbprint, not_after)) = app
        .certificate
        .as_deref()
        .and_then(|pem| certificate_facts(pem).ok())
    {
        list.push(AppCredential::certificate(&thumbprint, not_after));
    }
    list
}

/// A hex thumbprint as Graph's JSON writes an Edm.Binary: base64 of its
/// bytes (the scenario checked it is 40 hex digits).
fn edm_binary(hex: &str) -> String {
    let bytes: Vec<u8> = hex
        .as_bytes()
        .chunks(2)
        .filter_map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect();
    STANDARD.encode(bytes)
}

/// A stable GUID-shaped id for `what` of `client_id`.
fn derived_id(client_id: &str, what: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{client_id}\n{what}").as_bytes(),
    );
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// An error in Graph's shape.
fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_are_read_from_the_key_segment() {
        assert_eq!(
            app_id_of("/v1.0/applications(appId='acme')").as_deref(),
            Some("acme")
        );
        assert_eq!(
            app_id_of("/v1.0/applications(appId=%27a%20b%27)").as_deref(),
            Some("a b")
        );
        for path in [
            "/v1.0/applications",
            "/v1.0/applications(appId='')",
            "/v1.0/applications(appId=acme)",
            "/v1.0/me",
        ] {
            assert_eq!(app_id_of(path), None, "{path}");
        }
    }

    #[test]
    fn thumbprints_are_written_as_base64_of_their_bytes() {
        assert_eq!(
            edm_binary("D40F52CEEE288DE4ED7C51D668FDDDF4A04D5F7E"),
            "1A9Szu4ojeTtfFHWaP3d9KBNX34="
        );
    }

    #[test]
    fn select_names_properties() {
        assert_eq!(
            selected(Some("%24select=passwordCredentials,keyCredentials")),
            Some(vec!["passwordCredentials".into(), "keyCredentials".into()])
        );
        assert_eq!(selected(Some("x=1")), None);
        assert_eq!(selected(None), None);
    }
}
