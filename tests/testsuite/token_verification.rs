//! Verified tokens against the simulator playing the identity provider:
//! discovery (OpenID Connect's document, RFC 8414's when that one is 404,
//! and neither), the signature against the JWKS (ES256 and RS256), `iss`,
//! `aud` (`expect_audience`), `exp` on arrival, opaque tokens, a key
//! rotation published late (an unknown `kid` refetched, at most once a
//! minute), the clock skew, `nbf` ahead on arrival, and Microsoft Graph's
//! tokens (not verifiable by design where Graph is expected, a wrong
//! audience elsewhere); on /metrics, in the JSON and on the page.

use std::time::Duration;

use credprobe_simulator::Scenario;
use serde_json::Value;

use crate::support::{Daemon, start_simulator, value};

fn scenario(extra: &str) -> Scenario {
    Scenario::from_yaml_str(&format!(
        "{extra}clients:\n\
         \x20 - {{client_id: good, client_secret: s}}\n\
         \x20 - {{client_id: elsewhere, client_secret: s, audience: 'api://someone-else'}}\n\
         \x20 - {{client_id: impostor, client_secret: s, token_issuer: 'https://impostor.example'}}\n\
         \x20 - {{client_id: unpublished, client_secret: s, sign_with_unpublished_key: true}}\n\
         \x20 - {{client_id: stale, client_secret: s, expired_on_arrival: true}}\n\
         \x20 - {{client_id: opaque, client_secret: s, token_format: opaque}}\n\
         \x20 - {{client_id: skewed, client_secret: s, iat_offset: '-2m'}}\n\
         \x20 - {{client_id: graphy, client_secret: s, audience: 'https://graph.microsoft.com'}}\n\
         \x20 - {{client_id: early, client_secret: s, nbf_offset: 5m}}\n"
    ))
    .unwrap()
}

/// A tenant of client `client` at the simulator's root authority.
fn tenant(base: &str, name: &str, client: &str, extra: &str) -> String {
    format!(
        "  - {{name: {name}, token_url: \"{base}/oauth2/token\", client_id: {client}, \
         client_secret: s, endpoints: []{extra}}}\n"
    )
}

async fn verification(daemon: &Daemon, tenant: &str) -> Value {
    let (_, json) = daemon.get(&format!("/api/v1/tenants/{tenant}")).await;
    let view: Value = serde_json::from_str(&json).unwrap();
    view["token"]["verification"].clone()
}

fn verified(text: &str, tenant: &str) -> Option<f64> {
    value(text, "credprobe_token_verified", &[("tenant", tenant)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_verified_against_the_published_keys_with_each_reason() {
    let sim = start_simulator(scenario("")).await;
    let base = sim.base_url();
    let issuer = format!(", issuer: \"{base}\"");
    let audience = ", expect_audience: ['api://credprobe-simulator']";
    let mut config = String::from("defaults: {interval: 1s, timeout: 500ms}\ntenants:\n");
    for (name, client, extra) in [
        ("good", "good", format!("{issuer}{audience}")),
        ("wrong-aud", "elsewhere", format!("{issuer}{audience}")),
        ("wrong-iss", "impostor", issuer.clone()),
        ("unpublished", "unpublished", issuer.clone()),
        ("expired", "stale", issuer.clone()),
        ("opaque", "opaque", issuer.clone()),
        ("skewed", "skewed", issuer.clone()),
        ("jwks-only", "good", format!(", jwks_url: \"{base}/jwks\"")),
        ("plain", "good", String::new()),
    ] {
        config.push_str(&tenant(&base, name, client, &extra));
    }
    let daemon = Daemon::start(&config, &[]);
    let expected = [
        ("good", 1.0, "verified"),
        ("wrong-aud", 0.0, "wrong_audience"),
        ("wrong-iss", 0.0, "wrong_issuer"),
        ("unpublished", 0.0, "unknown_kid"),
        ("expired", 0.0, "expired"),
        ("opaque", 0.0, "opaque"),
        ("skewed", 1.0, "verified"),
        ("jwks-only", 1.0, "verified"),
    ];
    let text = daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            expected
                .iter()
                .all(|(tenant, _, _)| verified(t, tenant).is_some())
        })
        .await;
    for (tenant, gauge, reason) in expected {
        assert_eq!(verified(&text, tenant), Some(gauge), "{tenant}: {text}");
        let view = verification(&daemon, tenant).await;
        assert_eq!(view["reason"], reason, "{tenant}: {view}");
        assert_eq!(view["verified"], gauge == 1.0, "{tenant}: {view}");
        let (_, page) = daemon.get(&format!("/tenants/{tenant}")).await;
        let shown = if gauge == 1.0 {
            "✓ verified".to_owned()
        } else {
            format!("✗ {reason}")
        };
        assert!(page.contains(&shown), "{tenant}: {page}");
    }
    // The reasons say what was found, never the token.
    let wrong_aud = verification(&daemon, "wrong-aud").await;
    assert!(
        wrong_aud["detail"]
            .as_str()
            .unwrap()
            .contains("api://someone-else"),
        "{wrong_aud}"
    );
    // Clock skew: the simulator's clock two minutes behind.
    let skew = value(
        &text,
        "credprobe_token_clock_skew_seconds",
        &[("tenant", "skewed")],
    )
    .unwrap();
    assert!((115.0..=130.0).contains(&skew), "skew {skew}: {text}");
    let good_skew = value(
        &text,
        "credprobe_token_clock_skew_seconds",
        &[("tenant", "good")],
    )
    .unwrap();
    assert!(good_skew.abs() <= 5.0, "skew {good_skew}");
    // The opaque token has no iat, so no skew.
    assert_eq!(
        value(
            &text,
            "credprobe_token_clock_skew_seconds",
            &[("tenant", "opaque")]
        ),
        None
    );
    // A tenant that does not verify: no series, nothing in the JSON.
    assert_eq!(verified(&text, "plain"), None);
    assert!(!text.contains("credprobe_token_clock_skew_seconds{tenant=\"plain\"}"));
    assert_eq!(verification(&daemon, "plain").await, Value::Null);
    // Discovery and the JWKS are fetched once for every tenant sharing
    // them, not once per tenant and cycle.
    let requests = sim.requests();
    let count = |path: &str| requests.iter().filter(|r| r.path == path).count();
    assert_eq!(count("/.well-known/openid-configuration"), 1);
    assert!(count("/jwks") <= 2, "{} JWKS fetches", count("/jwks"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_falls_back_to_rfc8414_and_its_failure_is_reported() {
    let fallback = start_simulator(scenario(
        "signing: {algorithm: RS256}\ndiscovery: {openid_configuration: not_found}\n",
    ))
    .await;
    let broken = start_simulator(scenario(
        "discovery: {openid_configuration: not_found, oauth_authorization_server: server_error}\n",
    ))
    .await;
    let mismatched = start_simulator(scenario(
        "discovery: {openid_configuration: wrong_issuer}\n",
    ))
    .await;
    let mut config = String::from("defaults: {interval: 1s, timeout: 500ms}\ntenants:\n");
    for (name, sim) in [
        ("rs256", &fallback),
        ("broken", &broken),
        ("mismatched", &mismatched),
    ] {
        let base = sim.base_url();
        config.push_str(&tenant(
            &base,
            name,
            "good",
            &format!(", issuer: \"{base}\""),
        ));
    }
    let daemon = Daemon::start(&config, &[]);
    let text = daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            ["rs256", "broken", "mismatched"]
                .iter()
                .all(|tenant| verified(t, tenant).is_some())
        })
        .await;
    assert_eq!(verified(&text, "rs256"), Some(1.0), "{text}");
    let paths: Vec<String> = fallback.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths.contains(&"/.well-known/openid-configuration".to_owned())
            && paths.contains(&"/.well-known/oauth-authorization-server".to_owned()),
        "{paths:?}"
    );
    for (tenant, says) in [("broken", "HTTP 500"), ("mismatched", "names issuer")] {
        assert_eq!(verified(&text, tenant), Some(0.0), "{tenant}: {text}");
        let view = verification(&daemon, tenant).await;
        assert_eq!(view["reason"], "discovery_failed", "{view}");
        assert!(view["detail"].as_str().unwrap().contains(says), "{view}");
        // The token request itself is unaffected: its URL is configured.
        assert_eq!(
            value(&text, "credprobe_token_success", &[("tenant", tenant)]),
            Some(1.0)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_published_late_is_fetched_again_at_most_once_a_minute() {
    let sim = start_simulator(scenario("signing: {publish_delay: 3s}\n")).await;
    let base = sim.base_url();
    let config = format!(
        "defaults: {{interval: 1s, timeout: 500ms}}\ntenants:\n{}",
        tenant(&base, "rotating", "good", &format!(", issuer: \"{base}\""))
    );
    let daemon = Daemon::start(&config, &[]);
    daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            verified(t, "rotating") == Some(1.0)
        })
        .await;
    sim.rotate_signing_key().unwrap();
    // The new key signs at once; the cached JWKS does not list it, and it
    // was fetched under a minute ago: unknown_kid until the bound allows.
    daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            verified(t, "rotating") == Some(0.0)
        })
        .await;
    assert_eq!(
        verification(&daemon, "rotating").await["reason"],
        "unknown_kid"
    );
    daemon
        .wait_for_metrics(Duration::from_secs(90), |t| {
            verified(t, "rotating") == Some(1.0)
        })
        .await;
    let fetches = sim.requests().iter().filter(|r| r.path == "/jwks").count();
    assert_eq!(fetches, 2, "once at start, once for the new kid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_tokens_are_not_verifiable_by_design_only_where_graph_is_expected() {
    const GUID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let sim = start_simulator(scenario("")).await;
    let base = sim.base_url();
    let mut config = format!(
        "defaults: {{interval: 1s, timeout: 500ms}}\ntenants:\n\
         \x20 - {{name: graph, entra: {{tenant_id: {GUID}, resource: 'https://graph.microsoft.com'}}, \
         token_url: \"{base}/{GUID}/oauth2/v2.0/token\", issuer: \"{base}/{GUID}/v2.0\", \
         client_id: good, client_secret: s, endpoints: []}}\n"
    );
    config.push_str(&tenant(
        &base,
        "graph-for-api",
        "graphy",
        &format!(", issuer: \"{base}\", expect_audience: ['api://credprobe-simulator']"),
    ));
    let daemon = Daemon::start(&config, &[]);
    let text = daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            value(t, "credprobe_token_success", &[("tenant", "graph")]) == Some(1.0)
                && verified(t, "graph-for-api").is_some()
        })
        .await;
    // The Entra preset for Graph expects Graph's audience: its tokens are
    // not meant to be verified by clients, so no 0 and no series.
    assert_eq!(verified(&text, "graph"), None, "{text}");
    let view = verification(&daemon, "graph").await;
    assert_eq!(view["reason"], "not_verifiable_by_design", "{view}");
    assert_eq!(view["verified"], Value::Null, "{view}");
    // A tenant expecting another audience that gets a Graph token asks for
    // the wrong resource: a wrong audience, not "by design".
    assert_eq!(verified(&text, "graph-for-api"), Some(0.0), "{text}");
    let view = verification(&daemon, "graph-for-api").await;
    assert_eq!(view["reason"], "wrong_audience", "{view}");
    assert!(
        view["detail"]
            .as_str()
            .unwrap()
            .contains("https://graph.microsoft.com"),
        "{view}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_whose_nbf_is_ahead_on_arrival_is_not_yet_valid() {
    let sim = start_simulator(scenario("")).await;
    let base = sim.base_url();
    let issuer = format!(", issuer: \"{base}\"");
    let config = format!(
        "defaults: {{interval: 1s, timeout: 500ms}}\ntenants:\n{}{}",
        tenant(&base, "not-yet", "early", &issuer),
        tenant(&base, "now", "good", &issuer),
    );
    let daemon = Daemon::start(&config, &[]);
    let text = daemon
        .wait_for_metrics(Duration::from_secs(20), |t| {
            verified(t, "not-yet").is_some() && verified(t, "now").is_some()
        })
        .await;
    // The same client's tokens, but dated five minutes ahead: 0.
    assert_eq!(verified(&text, "now"), Some(1.0), "{text}");
    assert_eq!(verified(&text, "not-yet"), Some(0.0), "{text}");
    let view = verification(&daemon, "not-yet").await;
    assert_eq!(view["reason"], "not_yet_valid", "{view}");
    assert!(
        view["detail"]
            .as_str()
            .unwrap()
            .contains("after it arrived"),
        "{view}"
    );
}
