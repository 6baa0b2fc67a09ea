//! What an access token says: the claims of a token granted to a client
//! (issuer, audience, times, scopes), shaped by the client's token knobs
//! (`token_format`, `audience`, `token_issuer`, `iat_offset`,
//! `nbf_offset`, `expired_on_arrival`); and which tokens Microsoft Graph takes.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::scenario::ClientBehaviour;

/// The scope every simulated token carries, as Nexthink's do.
pub(crate) const SCOPE: &str = "service:integration";

/// A token's `aud` when the client has no `audience` and asked for no
/// `.../.default` scope.
pub(crate) const DEFAULT_AUDIENCE: &str = "api://credprobe-simulator";

/// Microsoft Graph's resource: a `/.default` scope of it asks for a Graph
/// token, and Graph tokens carry it as `aud`.
pub(crate) const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

/// Graph's application id, which Entra ID also takes as the resource.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// What a successful token request grants, before it is minted.
pub(crate) struct Grant<'a> {
    /// The client it is issued to.
    pub(crate) client: &'a ClientBehaviour,
    /// The issuer of the authority whose token path was called.
    pub(crate) issuer: &'a str,
    /// The `scope` form parameter, if sent.
    pub(crate) requested_scope: Option<&'a str>,
}

impl Grant<'_> {
    /// Whether the request asked for a Microsoft Graph token: the simulated
    /// Graph takes only those. Its claims are shaped like any other's.
    pub(crate) fn is_graph(&self) -> bool {
        self.requested_scope.is_some_and(|scope| {
            scope.split_whitespace().any(|scope| {
                let resource = scope.strip_suffix("/.default").unwrap_or("");
                resource.eq_ignore_ascii_case(GRAPH_RESOURCE)
                    || resource.eq_ignore_ascii_case(GRAPH_APP_ID)
            })
        })
    }

    /// The resource of the first `.../.default` scope asked for.
    fn requested_resource(&self) -> Option<&str> {
        self.requested_scope?
            .split_whitespace()
            .find_map(|scope| scope.strip_suffix("/.default"))
            .filter(|resource| !resource.is_empty())
    }

    /// The `scope` of the token response.
    pub(crate) fn response_scope(&self) -> String {
        self.client
            .granted_scopes
            .as_ref()
            .map_or_else(|| SCOPE.to_owned(), |scopes| scopes.join(" "))
    }

    /// The JWT claims of the token, valid for `lifetime_secs`: `iss`,
    /// `aud`, `sub`/`azp`/`appid` (the client id), `iat`/`nbf`/`exp`, a
    /// random `jti`, and the scopes (`scp` and `roles`, or `scope`).
    pub(crate) fn claims(&self, lifetime_secs: u64) -> Value {
        let client = self.client;
        let mut iat = unix_now().saturating_add_signed(client.iat_offset);
        if client.expired_on_arrival {
            // Issued a lifetime and a minute ago: expired a minute ago.
            iat = iat.saturating_sub(lifetime_secs.saturating_add(60));
        }
        let issuer = client.token_issuer.as_deref().unwrap_or(self.issuer);
        let audience = client
            .audience
            .as_deref()
            .or(self.requested_resource())
            .unwrap_or(DEFAULT_AUDIENCE);
        let mut jti = [0u8; 16];
        fastrand::fill(&mut jti);
        let mut claims = json!({
            "iss": issuer,
            "aud": audience,
            "sub": client.client_id,
            "azp": client.client_id,
            "appid": client.client_id,
            "iat": iat,
            "nbf": iat.saturating_add_signed(client.nbf_offset),
            "exp": iat.saturating_add(lifetime_secs),
            "jti": URL_SAFE_NO_PAD.encode(jti),
        });
        match &client.granted_scopes {
            // As Entra ID does: delegated-style `scp`, application `roles`.
            Some(scopes) => {
                claims["scp"] = json!(scopes.join(" "));
                claims["roles"] = json!(scopes);
            }
            None => claims["scope"] = json!(SCOPE),
        }
        claims
    }
}

/// An opaque access token: 32 random bytes, base64url, no dots.
pub(crate) fn opaque() -> String {
    let mut random = [0u8; 32];
    fastrand::fill(&mut random);
    URL_SAFE_NO_PAD.encode(random)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant<'a>(client: &'a ClientBehaviour, scope: Option<&'a str>) -> Grant<'a> {
        Grant {
            client,
            issuer: "http://issuer",
            requested_scope: scope,
        }
    }

    #[test]
    fn graph_scopes_are_recognised_by_name_or_app_id() {
        let client = ClientBehaviour::new("a", "s");
        for scope in [
            "https://graph.microsoft.com/.default",
            "openid 00000003-0000-0000-c000-000000000000/.default",
        ] {
            assert!(grant(&client, Some(scope)).is_graph(), "{scope}");
        }
        for scope in [None, Some("api://x/.default"), Some("service:integration")] {
            assert!(!grant(&client, scope).is_graph(), "{scope:?}");
        }
    }

    #[test]
    fn audience_comes_from_the_knob_then_the_default_scope() {
        let mut client = ClientBehaviour::new("a", "s");
        let claims = grant(&client, Some("api://res/.default")).claims(60);
        assert_eq!(claims["aud"], "api://res");
        assert_eq!(grant(&client, None).claims(60)["aud"], DEFAULT_AUDIENCE);
        client.audience = Some("api://other".into());
        let claims = grant(&client, Some("api://res/.default")).claims(60);
        assert_eq!(claims["aud"], "api://other");
        client.audience = None;
        let graph = grant(&client, Some("https://graph.microsoft.com/.default")).claims(60);
        assert_eq!(graph["aud"], GRAPH_RESOURCE);
    }

    #[test]
    fn nbf_is_iat_unless_the_knob_dates_it_ahead() {
        let mut client = ClientBehaviour::new("a", "s");
        let claims = grant(&client, None).claims(60);
        assert_eq!(claims["nbf"], claims["iat"]);
        client.nbf_offset = 300;
        let claims = grant(&client, None).claims(60);
        assert_eq!(
            claims["nbf"].as_u64().unwrap(),
            claims["iat"].as_u64().unwrap() + 300
        );
        let scenario =
            crate::Scenario::from_yaml_str("clients:\n  - {client_id: a, nbf_offset: 5m}\n")
                .unwrap();
        assert_eq!(scenario.clients[0].nbf_offset, 300);
    }
}
