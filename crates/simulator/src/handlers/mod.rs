//! The simulated HTTP surface: four token endpoints, four Nexthink-like API
//! endpoints, discovery documents and JWK Sets, Microsoft Graph's
//! application endpoint, a redirect endpoint, the simulator's own
//! `/__simulator/*` control endpoints, and the middleware that records and
//! counts every request but the control ones.
//!
//! This module holds the paths and the route table; each job behind them
//! has its own module:
//!
//! - `recording`: the middleware that buffers, records and counts each
//!   request, and the control routes that read the log and the counts.
//! - `redirect`: `/__simulator/redirect`, chains of redirects on demand.
//! - `token`: the token endpoints: the OAuth2 request, the client's
//!   authentication, and the answer the scenario asks for (tokens, OAuth2
//!   and Entra ID refusals, malformed bodies).
//! - `api`: the Nexthink-like API endpoints: the bearer token, the
//!   scenario's refusals and failures, the canned answers.
//! - `discovery`: the three authorities (root, Nexthink login, Entra
//!   directory), their discovery documents and JWK Sets, and signing-key
//!   rotation on demand.
//! - `graph`: Microsoft Graph's application endpoint: the credentials of
//!   an application and when they expire.
//! - `response`: answers more than one of them sends, and the faults that
//!   break an answer's body.

mod api;
mod discovery;
mod graph;
mod recording;
mod redirect;
mod response;
mod token;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{any, get, post};

use crate::scenario::REMOTE_ACTION_PATH;
use crate::state::SimState;
use api::ApiRoute;
use discovery::{Authority, Document};
use response::not_found;
use token::TokenFlavor;

/// Nexthink's current ("login") token path.
const LOGIN_TOKEN_PATH: &str = "/oauth2/default/v1/token";

/// Nexthink's legacy token path, on the API host.
const LEGACY_TOKEN_PATH: &str = "/api/v1/token";

/// A generic OAuth2 provider's token path.
const GENERIC_TOKEN_PATH: &str = "/oauth2/token";

/// Microsoft Entra ID's v2.0 token path, under any directory (tenant) id.
const ENTRA_TOKEN_PATH: &str = "/{tenant}/oauth2/v2.0/token";

const WORKFLOWS_PATH: &str = "/api/v1/workflows";
const NQL_EXECUTE_PATH: &str = "/api/v2/nql/execute";
const STATUS_PATH: &str = "/api/v1/status";

/// Answers any method with a redirect to `?to=`: upstream traffic a client
/// under test is pointed at, so it is recorded, unlike the control routes.
const REDIRECT_PATH: &str = "/__simulator/redirect";

/// Every route of the simulator; every request passes
/// [`recording::record`] first.
pub(super) fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route(LOGIN_TOKEN_PATH, token::endpoint(TokenFlavor::Login))
        .route(LEGACY_TOKEN_PATH, token::endpoint(TokenFlavor::Legacy))
        .route(GENERIC_TOKEN_PATH, token::endpoint(TokenFlavor::Generic))
        .route(ENTRA_TOKEN_PATH, token::endpoint(TokenFlavor::Generic))
        .route(WORKFLOWS_PATH, api::endpoint(ApiRoute::Workflows))
        .route(REMOTE_ACTION_PATH, api::endpoint(ApiRoute::RemoteActions))
        .route(NQL_EXECUTE_PATH, api::endpoint(ApiRoute::NqlExecute))
        .route(STATUS_PATH, api::endpoint(ApiRoute::Status))
        .route(
            "/.well-known/openid-configuration",
            discovery::document_route(Authority::Root, Document::OpenId),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            discovery::document_route(Authority::Root, Document::OAuth),
        )
        .route(
            "/.well-known/oauth-authorization-server/{*issuer_path}",
            get(discovery::rfc8414_with_path).fallback(not_found),
        )
        .route(
            "/oauth2/default/.well-known/openid-configuration",
            discovery::document_route(Authority::Login, Document::OpenId),
        )
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::entra_openid).fallback(not_found),
        )
        .route(
            discovery::ROOT_JWKS_PATH,
            get(discovery::jwks).fallback(not_found),
        )
        .route(
            discovery::LOGIN_JWKS_PATH,
            get(discovery::jwks).fallback(not_found),
        )
        .route(
            "/discovery/v2.0/keys",
            get(discovery::jwks).fallback(not_found),
        )
        .route(
            discovery::ENTRA_JWKS_PATH,
            get(discovery::jwks).fallback(not_found),
        )
        .route("/v1.0/{*rest}", get(graph::application).fallback(not_found))
        .route(REDIRECT_PATH, any(redirect::redirect))
        .route(
            "/__simulator/rotate-signing-key",
            post(discovery::rotate).fallback(not_found),
        )
        .route(
            "/__simulator/requests",
            get(recording::recorded_requests).fallback(not_found),
        )
        .route(
            "/__simulator/stats",
            get(recording::traffic).fallback(not_found),
        )
        .route(
            "/__simulator/healthy",
            get(|| async { "ok" }).fallback(not_found),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            recording::record,
        ))
        .with_state(state)
}

/// The simulator's own routes (request log, stats, health, key rotation),
/// which are not recorded or counted: everything under `/__simulator/`
/// except the redirect route, which is where a client under test is sent.
fn is_control_path(path: &str) -> bool {
    path.starts_with("/__simulator/") && path != REDIRECT_PATH
}

fn is_token_path(path: &str) -> bool {
    matches!(
        path,
        LOGIN_TOKEN_PATH | LEGACY_TOKEN_PATH | GENERIC_TOKEN_PATH
    ) || is_entra_token_path(path)
}

/// Whether `path` is [`ENTRA_TOKEN_PATH`] with some tenant filled in.
fn is_entra_token_path(path: &str) -> bool {
    let suffix = ENTRA_TOKEN_PATH
        .strip_prefix("/{tenant}")
        .expect("the Entra route starts with its tenant");
    path.strip_suffix(suffix)
        .and_then(|head| head.strip_prefix('/'))
        .is_some_and(|tenant| !tenant.is_empty() && !tenant.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_paths_include_the_entra_route_for_any_one_tenant_segment() {
        for path in [
            LOGIN_TOKEN_PATH,
            LEGACY_TOKEN_PATH,
            GENERIC_TOKEN_PATH,
            "/contoso.onmicrosoft.com/oauth2/v2.0/token",
            "/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token",
        ] {
            assert!(is_token_path(path), "{path}");
        }
        for path in [
            "/oauth2/v2.0/token",
            "//oauth2/v2.0/token",
            "/a/b/oauth2/v2.0/token",
            "/contoso/oauth2/v2.0/token/x",
            "/api/v1/workflows",
        ] {
            assert!(!is_token_path(path), "{path}");
        }
    }
}
