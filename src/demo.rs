//! `credprobe demo`: the simulated API on a loopback port and the daemon
//! probing it, with no configuration, so a newcomer sees healthy and
//! failing tenants side by side on /metrics within seconds.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;

use crate::config::{self, LoadOptions};
use crate::daemon::{self, ConfigSource, Controls, DaemonOptions};
use crate::server::ServerLimits;
use crate::simulator::{ClientBehaviour, EntraRefusal, Preset, Scenario, Simulator};
use crate::web_config::WebConfig;

/// The demo's configuration; `{sim}` becomes the simulator's base URL.
/// Each tenant's client id selects its behaviour in [`demo_scenario`].
pub const DEMO_CONFIG: &str = r#"
defaults:
  interval: 10s
  timeout: 5s
tenants:
  - name: acme-prod                 # healthy; Nexthink login token form
    labels: {customer: acme, tier: gold}
    nexthink: {instance: acme, region: eu, token_endpoint: login}
    base_url: {sim}
    token_url: {sim}/oauth2/default/v1/token
    client_id: acme-prod
    client_secret: acme-prod-secret
    credential_expires: "2027-06-30"
    endpoints:
      - {name: workflows, path: /api/v1/workflows}
      - {name: remote_actions, path: /api/v1/act/remote-action}
  - name: globex-revoked            # credentials revoked; Nexthink legacy token form
    labels: {customer: globex, tier: silver}
    nexthink: {instance: globex, region: us, token_endpoint: legacy}
    base_url: {sim}
    client_id: globex-revoked
    client_secret: globex-revoked-secret
  - name: initech-slow              # slow identity provider (1.5 s)
    labels: {customer: initech, tier: bronze}
    nexthink: {instance: initech, region: pac}
    base_url: {sim}
    token_url: {sim}/oauth2/default/v1/token
    client_id: initech-slow
    client_secret: initech-slow-secret
  - name: umbrella-noperm           # lacks the Remote Actions permission (403)
    labels: {customer: umbrella, tier: gold}
    nexthink: {instance: umbrella, region: meta}
    base_url: {sim}
    token_url: {sim}/oauth2/default/v1/token
    client_id: umbrella-noperm
    client_secret: umbrella-noperm-secret
    endpoints:
      - {name: workflows, path: /api/v1/workflows}
      - {name: remote_actions, path: /api/v1/act/remote-action}
  - name: hooli-flaky               # the API answers 503 three times in ten
    labels: {customer: hooli, tier: silver}
    nexthink: {instance: hooli, region: eu}
    base_url: {sim}
    token_url: {sim}/oauth2/default/v1/token
    client_id: hooli-flaky
    client_secret: hooli-flaky-secret
  - name: stark-ratelimited         # 429 with Retry-After: backs off
    labels: {customer: stark, tier: gold}
    nexthink: {instance: stark, region: us}
    base_url: {sim}
    token_url: {sim}/oauth2/default/v1/token
    client_id: stark-ratelimited
    client_secret: stark-ratelimited-secret
  - name: oscorp-malformed          # the token endpoint answers 200 with garbage
    labels: {customer: oscorp, tier: bronze}
    nexthink: {instance: oscorp, region: eu}
    base_url: {sim}
    token_url: {sim}/oauth2/default/v1/token
    client_id: oscorp-malformed
    client_secret: oscorp-malformed-secret
  - name: wayne-generic             # any OAuth2 provider: client_secret_post, scopes, JSON checks
    labels: {customer: wayne, tier: gold}
    base_url: {sim}
    token_url: {sim}/oauth2/token
    client_id: wayne-generic
    client_secret: wayne-generic-secret
    client_auth: post
    scopes: [read]
    params: {audience: "https://api.example.com"}
    endpoints:
      - name: status
        path: /api/v1/status
        expect:
          status: [200]
          json: [{pointer: /state, equals: ok}]
  - name: contoso-entra-expired     # Microsoft Entra ID: the client secret expired (AADSTS7000222)
    labels: {customer: contoso, tier: silver}
    entra: {tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47, resource: "https://graph.microsoft.com"}
    token_url: {sim}/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token
    base_url: {sim}
    client_id: contoso-entra-expired
    client_secret: contoso-entra-expired-secret
    endpoints:
      - {name: workflows, path: /api/v1/workflows}
  - name: fabrikam-scopes           # the token lacks an expected scope (read from the JWT's scp/roles)
    labels: {customer: fabrikam, tier: gold}
    entra: {tenant_id: fabrikam.onmicrosoft.com, resource: "https://graph.microsoft.com"}
    token_url: {sim}/fabrikam.onmicrosoft.com/oauth2/v2.0/token
    base_url: {sim}
    client_id: fabrikam-scopes
    client_secret: fabrikam-scopes-secret
    expect_scopes: [Workflows.Read, RemoteActions.Read]
    endpoints:
      - {name: workflows, path: /api/v1/workflows}
"#;

/// The simulator's behaviour for the demo tenants: the simulator's own demo
/// scenario plus a malformed-token client, a generic provider client, an
/// Entra ID client whose secret expired and one whose token lacks a scope.
pub fn demo_scenario() -> Scenario {
    let mut scenario = Scenario::demo();
    // A Retry-After longer than half a cycle: the next token request is
    // skipped (backed_off) instead of waited for.
    if let Some(stark) = scenario
        .clients
        .iter_mut()
        .find(|c| c.client_id == "stark-ratelimited")
    {
        stark.token_retry_after = Some("15".to_owned());
    }
    scenario.clients.push(
        ClientBehaviour::new("oscorp-malformed", "oscorp-malformed-secret")
            .with_preset(Preset::MalformedToken),
    );
    scenario.clients.push(ClientBehaviour::new(
        "wayne-generic",
        "wayne-generic-secret",
    ));
    let mut expired = ClientBehaviour::new("contoso-entra-expired", "contoso-entra-expired-secret");
    expired.entra_refusal = Some(EntraRefusal::ExpiredSecret);
    scenario.clients.push(expired);
    let mut scoped = ClientBehaviour::new("fabrikam-scopes", "fabrikam-scopes-secret");
    scoped.granted_scopes = Some(vec!["Workflows.Read".to_owned()]);
    scoped.scope_in_response = false;
    scenario.clients.push(scoped);
    scenario
}

/// The demo configuration text, pointed at a simulator.
pub fn demo_config(simulator_base_url: &str) -> String {
    DEMO_CONFIG.replace("{sim}", simulator_base_url)
}

/// Runs the simulator and the daemon until `controls` says stop; the
/// daemon's server follows `web` (TLS, users) within `limits`.
pub async fn run(
    listen: SocketAddr,
    web: WebConfig,
    limits: ServerLimits,
    controls: Controls,
) -> anyhow::Result<()> {
    let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the simulator on 127.0.0.1")?;
    let simulator = Simulator::start(sim_listener, demo_scenario()).await?;
    let text = demo_config(&simulator.base_url());
    let options = LoadOptions {
        warn_inline_secrets: false,
        ..LoadOptions::default()
    };
    let config = config::validate::load_str(&text, Path::new("<demo>"), &options)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let scheme = if web.tls.is_some() { "https" } else { "http" };
    tracing::info!(
        simulator = %simulator.base_url(),
        metrics = %format!("{scheme}://{}/metrics", listener.local_addr()?),
        "demo: simulated Nexthink-like API started; probing {} tenants every 10s",
        config.tenants.len()
    );
    daemon::run(
        ConfigSource::Fixed,
        config,
        listener,
        DaemonOptions {
            web,
            limits,
            ..DaemonOptions::default()
        },
        controls,
    )
    .await?;
    simulator.shutdown().await;
    Ok(())
}
