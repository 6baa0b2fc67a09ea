//! Discovery and keys: the OpenID Connect discovery document
//! (`.well-known/openid-configuration`), its RFC 8414 twin
//! (`.well-known/oauth-authorization-server`), and the JWK Set of the keys
//! that sign access tokens, for each of the simulator's three authorities:
//!
//! - the root one: issuer `{base}`, token path `/oauth2/token`;
//! - Nexthink's login one (Okta-like): issuer `{base}/oauth2/default`,
//!   token path `/oauth2/default/v1/token`;
//! - Microsoft Entra ID's, per directory: issuer `{base}/{tenant}/v2.0`,
//!   token path `/{tenant}/oauth2/v2.0/token`.
//!
//! `{base}` is the scenario's `discovery.issuer`, else the simulator's URL
//! as the request reached it (scheme and `Host`). The scenario's
//! `discovery` knobs make each document fail in its own way.

use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde_json::json;

use super::response::{json_response, not_found};
use super::{ENTRA_TOKEN_PATH, GENERIC_TOKEN_PATH, LOGIN_TOKEN_PATH};
use crate::client_auth;
use crate::listener::Connection;
use crate::scenario::DiscoveryAnswer;
use crate::state::SimState;

/// The JWKS path of the root authority.
pub(super) const ROOT_JWKS_PATH: &str = "/jwks";

/// The JWKS path of the login authority.
pub(super) const LOGIN_JWKS_PATH: &str = "/oauth2/default/v1/keys";

/// The JWKS path of an Entra directory (also served without the tenant).
pub(super) const ENTRA_JWKS_PATH: &str = "/{tenant}/discovery/v2.0/keys";

/// The issuer `discovery: wrong_issuer` documents name.
const WRONG_ISSUER: &str = "https://mismatched-issuer.invalid";

/// Which identity provider the simulator plays on a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Authority {
    /// The generic provider (and Nexthink's legacy token path).
    Root,
    /// Nexthink's login provider.
    Login,
    /// An Entra ID directory.
    Entra(String),
}

impl Authority {
    /// The authority whose token path `path` is.
    pub(super) fn of_token_path(path: &str) -> Authority {
        if path == LOGIN_TOKEN_PATH {
            return Authority::Login;
        }
        let entra_suffix = ENTRA_TOKEN_PATH.trim_start_matches("/{tenant}");
        match path
            .strip_suffix(entra_suffix)
            .and_then(|head| head.strip_prefix('/'))
        {
            Some(tenant) if !tenant.is_empty() && !tenant.contains('/') => {
                Authority::Entra(tenant.to_owned())
            }
            _ => Authority::Root,
        }
    }

    /// Its issuer, under `base`.
    pub(super) fn issuer(&self, base: &str) -> String {
        match self {
            Authority::Root => base.to_owned(),
            Authority::Login => format!("{base}/oauth2/default"),
            Authority::Entra(tenant) => format!("{base}/{tenant}/v2.0"),
        }
    }

    fn token_endpoint(&self, base: &str) -> String {
        match self {
            Authority::Root => format!("{base}{GENERIC_TOKEN_PATH}"),
            Authority::Login => format!("{base}{LOGIN_TOKEN_PATH}"),
            Authority::Entra(tenant) => format!("{base}/{tenant}/oauth2/v2.0/token"),
        }
    }

    fn jwks_uri(&self, base: &str) -> String {
        match self {
            Authority::Root => format!("{base}{ROOT_JWKS_PATH}"),
            Authority::Login => format!("{base}{LOGIN_JWKS_PATH}"),
            Authority::Entra(tenant) => format!("{base}/{tenant}/discovery/v2.0/keys"),
        }
    }
}

/// The base of issuers and endpoint URLs: the scenario's
/// `discovery.issuer`, else the URL the request reached.
pub(super) fn base_url(state: &SimState, headers: &HeaderMap, connection: &Connection) -> String {
    match &state.clients().discovery.issuer {
        Some(issuer) => issuer.trim_end_matches('/').to_owned(),
        None => client_auth::token_url(headers, "", connection),
    }
}

/// Which of the two well-known documents is asked for.
#[derive(Clone, Copy, Debug)]
pub(super) enum Document {
    /// `openid-configuration` (OpenID Connect Discovery).
    OpenId,
    /// `oauth-authorization-server` (RFC 8414).
    OAuth,
}

/// The route of `document` of the root or login authority.
pub(super) fn document_route(
    authority: Authority,
    document: Document,
) -> MethodRouter<Arc<SimState>> {
    get(
        move |State(state): State<Arc<SimState>>,
              ConnectInfo(connection): ConnectInfo<Connection>,
              headers: HeaderMap| async move {
            answer(&state, &authority, document, &headers, &connection)
        },
    )
    .fallback(not_found)
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(super) async fn entra_openid(
    State(state): State<Arc<SimState>>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let authority = Authority::Entra(tenant);
    answer(&state, &authority, Document::OpenId, &headers, &connection)
}

/// `GET /.well-known/oauth-authorization-server/{issuer path}` (RFC 8414
/// section 3: the issuer's path after the well-known part).
pub(super) async fn rfc8414_with_path(
    State(state): State<Arc<SimState>>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    Path(issuer_path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let authority = match issuer_path.trim_end_matches('/') {
        "oauth2/default" => Authority::Login,
        path => match path.strip_suffix("/v2.0") {
            Some(tenant) if !tenant.is_empty() && !tenant.contains('/') => {
                Authority::Entra(tenant.to_owned())
            }
            _ => return not_found().await,
        },
    };
    answer(&state, &authority, Document::OAuth, &headers, &connection)
}

/// A discovery document, or the failure the scenario asks for.
fn answer(
    state: &SimState,
    authority: &Authority,
    document: Document,
    headers: &HeaderMap,
    connection: &Connection,
) -> Response {
    let discovery = &state.clients().discovery;
    let how = match document {
        Document::OpenId => discovery.openid_configuration,
        Document::OAuth => discovery.oauth_authorization_server,
    };
    let base = base_url(state, headers, connection);
    let issuer = match how {
        DiscoveryAnswer::NotFound => {
            return json_response(StatusCode::NOT_FOUND, &json!({"error": "not_found"}));
        }
        DiscoveryAnswer::ServerError => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "server_error"}),
            );
        }
        DiscoveryAnswer::InvalidJson => {
            let truncated = format!("{{\"issuer\": \"{}\", \"token_endpoint\": ", base);
            return (
                StatusCode::OK,
                [(CONTENT_TYPE, "application/json")],
                truncated,
            )
                .into_response();
        }
        DiscoveryAnswer::WrongIssuer => WRONG_ISSUER.to_owned(),
        DiscoveryAnswer::Normal | DiscoveryAnswer::NoTokenEndpoint => authority.issuer(&base),
    };
    let algorithm = state.clients().signing.algorithm.name();
    let mut document = json!({
            "issuer": issuer,
            "token_endpoint": authority.token_endpoint(&base),
            "jwks_uri": authority.jwks_uri(&base),
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": ["token"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "tls_client_auth",
            ],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "id_token_signing_alg_values_supported": [algorithm],
            "subject_types_supported": ["public"],
    });
    if how == DiscoveryAnswer::NoTokenEndpoint
        && let Some(fields) = document.as_object_mut()
    {
        fields.remove("token_endpoint");
    }
    json_response(StatusCode::OK, &document)
}

/// `GET` of any JWKS path: the keys that verify access tokens (one key
/// set for every authority).
pub(super) async fn jwks(State(state): State<Arc<SimState>>) -> Response {
    let keys = state.keys.jwks(&state.clients().signing);
    json_response(StatusCode::OK, &keys)
}

/// `POST /__simulator/rotate-signing-key`: a new key signs from now on;
/// answers its `kid`.
pub(super) async fn rotate(State(state): State<Arc<SimState>>) -> Response {
    match state.keys.rotate(&state.clients().signing) {
        Ok(kid) => json_response(StatusCode::OK, &json!({"kid": kid})),
        Err(error) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": error.to_string()}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_paths_name_their_authority() {
        assert_eq!(
            Authority::of_token_path(GENERIC_TOKEN_PATH),
            Authority::Root
        );
        assert_eq!(Authority::of_token_path("/api/v1/token"), Authority::Root);
        assert_eq!(Authority::of_token_path(LOGIN_TOKEN_PATH), Authority::Login);
        assert_eq!(
            Authority::of_token_path("/contoso/oauth2/v2.0/token"),
            Authority::Entra("contoso".into())
        );
        assert_eq!(
            Authority::Entra("contoso".into()).issuer("http://h"),
            "http://h/contoso/v2.0"
        );
    }
}
