//! `credprobe demo`: the simulated API on a loopback port and the daemon
//! probing it, with no configuration, so a newcomer sees healthy and
//! failing tenants side by side on /metrics within seconds.
//!
//! Four tenants show what issue 21 added: the Entra credential inventory
//! (a secret expiring with no successor, and a rotation in progress whose
//! next secret works), a next secret that is rejected, and a verified
//! token for the wrong audience. The next secrets are files in the same
//! private folder as the keys.
//!
//! Two tenants authenticate without a secret: their keys and certificates
//! are made at start (a throwaway CA, [`credprobe_simulator::pki`]) in a
//! private temporary folder that is removed when the demo stops, and one
//! of them talks to a second simulator that asks for client certificates.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;
use credprobe_simulator::pki::{TestCa, days};
use credprobe_simulator::{
    AppCredential, ClientBehaviour, EntraRefusal, Preset, Scenario, Simulator,
};

use crate::config::{self, LoadOptions};
use crate::daemon::{self, ConfigSource, Controls, DaemonOptions};
use crate::server::ServerLimits;
use crate::web_config::WebConfig;

/// How long the certificate of the demo's `tls_client_auth` tenant has
/// left when the demo starts: within the 14 days the status page and the
/// alert rules warn about.
pub const EXPIRING_CERTIFICATE_DAYS: u64 = 5;

/// How long the client secrets of the demo's two Entra tenants with the
/// credential inventory have left, as the simulated Microsoft Graph lists
/// them: within the 14 days of `CredprobeCredentialExpiringSoon`, which
/// fires for the one without a successor and stays quiet for the one
/// whose rotation has started.
pub const EXPIRING_SECRET_DAYS: u64 = 10;

/// The next secret of `litware-entra-rotating`'s rotation, which the
/// simulator accepts beside the current one (its hint, `nxt`, tells it
/// apart from the current secret's in Graph's list).
const ROTATING_NEXT_SECRET: &str = "nxt-litware-entra-rotating";

/// The next secret of `adatum-next-rejected`'s rotation, which the
/// simulator does not accept.
const REJECTED_NEXT_SECRET: &str = "adatum-next-rejected-not-yet-registered";

/// The demo's configuration; `{sim}` becomes the simulator's base URL,
/// `{mtls}` the mTLS simulator's and `{keys}` the folder of the generated
/// keys and certificates. Each tenant's client id selects its behaviour in
/// [`demo_scenario`].
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
  - name: tyrell-jwt                # private_key_jwt: an ES256 client assertion with x5t#S256
    labels: {customer: tyrell, tier: gold}
    base_url: {sim}
    token_url: {sim}/oauth2/token
    client_id: tyrell-jwt
    client_auth: private_key_jwt
    client_key_file: {keys}/tyrell-jwt.pem
    client_certificate_file: {keys}/tyrell-jwt.crt
    endpoints:
      - {name: workflows, path: /api/v1/workflows}
  - name: cyberdyne-mtls            # tls_client_auth; its certificate expires within days
    labels: {customer: cyberdyne, tier: silver}
    base_url: {mtls}
    token_url: {mtls}/oauth2/token
    ca_file: {keys}/demo-ca.pem
    client_id: cyberdyne-mtls
    client_auth: tls_client_auth
    client_key_file: {keys}/cyberdyne-mtls.pem
    client_certificate_file: {keys}/cyberdyne-mtls.crt
    fresh_connections: true         # a new connection every request: DNS, connect and TLS every cycle
    phase_metrics: true             # opt-in: the credprobe_*_phase_seconds gauges (5 series per step)
    endpoints:
      - {name: workflows, path: /api/v1/workflows}
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
  - name: northwind-entra-expiring  # Entra ID credential inventory: the secret expires in 10 days, no successor
    labels: {customer: northwind, tier: gold}
    entra: {tenant_id: northwind.onmicrosoft.com, resource: "https://graph.microsoft.com", credential_inventory: true, graph_url: "{sim}"}
    token_url: {sim}/northwind.onmicrosoft.com/oauth2/v2.0/token
    client_id: northwind-entra-expiring
    client_secret: northwind-entra-expiring-secret
    endpoints: []
  - name: litware-entra-rotating    # a rotation in progress: the next secret works, Graph lists it as the successor
    labels: {customer: litware, tier: silver}
    entra: {tenant_id: litware.onmicrosoft.com, resource: "https://graph.microsoft.com", credential_inventory: true, graph_url: "{sim}"}
    token_url: {sim}/litware.onmicrosoft.com/oauth2/v2.0/token
    client_id: litware-entra-rotating
    client_secret: litware-entra-rotating-secret
    next_client_secret_file: {keys}/litware-entra-rotating.next-secret
    endpoints: []
  - name: adatum-next-rejected      # a rotation whose next secret the provider rejects
    labels: {customer: adatum, tier: bronze}
    base_url: {sim}
    token_url: {sim}/oauth2/token
    client_id: adatum-next-rejected
    client_secret: adatum-next-rejected-secret
    next_client_secret_file: {keys}/adatum-next-rejected.next-secret
    endpoints:
      - {name: status, path: /api/v1/status}
  - name: woodgrove-audience        # verified token, but for another API (aud): credprobe_token_verified 0
    labels: {customer: woodgrove, tier: gold}
    base_url: {sim}
    token_url: {sim}/oauth2/token
    issuer: {sim}
    expect_audience: ["https://api.woodgrove.example"]
    client_id: woodgrove-audience
    client_secret: woodgrove-audience-secret
    endpoints:
      - {name: status, path: /api/v1/status}
"#;

/// The simulator's behaviour for the demo tenants: the simulator's own demo
/// scenario plus a malformed-token client, a generic provider client, an
/// Entra ID client whose secret expired, one whose token lacks a scope,
/// two Entra applications whose secrets Graph lists as expiring (one with
/// a successor, whose next secret works), a client whose next secret is
/// rejected and one whose tokens are for another audience.
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
    let expiring_at = SystemTime::now() + days(EXPIRING_SECRET_DAYS);
    let mut expiring = ClientBehaviour::new(
        "northwind-entra-expiring",
        "northwind-entra-expiring-secret",
    );
    expiring.app_credentials = Some(vec![AppCredential::secret(
        &expiring.client_secret,
        expiring_at,
    )]);
    scenario.clients.push(expiring);
    let mut rotating =
        ClientBehaviour::new("litware-entra-rotating", "litware-entra-rotating-secret");
    rotating.additional_client_secrets = vec![ROTATING_NEXT_SECRET.to_owned()];
    rotating.app_credentials = Some(vec![
        AppCredential::secret(&rotating.client_secret, expiring_at),
        AppCredential::secret(ROTATING_NEXT_SECRET, SystemTime::now() + days(730)),
    ]);
    scenario.clients.push(rotating);
    scenario.clients.push(ClientBehaviour::new(
        "adatum-next-rejected",
        "adatum-next-rejected-secret",
    ));
    // Tokens carry the simulator's default audience, not the one expected.
    scenario.clients.push(ClientBehaviour::new(
        "woodgrove-audience",
        "woodgrove-audience-secret",
    ));
    scenario
}

/// What the demo probes: the simulator, the mTLS simulator, and the keys
/// and certificates made for the two tenants without a secret.
pub struct DemoUpstream {
    /// The simulated API of every tenant but `cyberdyne-mtls`.
    pub simulator: Simulator,
    /// A simulator that asks for client certificates (`tls_client_auth`).
    pub mtls: Simulator,
    /// The folder of the generated keys and certificates.
    pub keys: DemoKeys,
}

impl DemoUpstream {
    /// Makes the CA, keys and certificates and starts both simulators on
    /// 127.0.0.1.
    pub async fn start() -> anyhow::Result<DemoUpstream> {
        let keys = DemoKeys::create()?;
        let ca = TestCa::new("credprobe demo CA")?;
        let now = SystemTime::now();
        let jwt = ca.client("tyrell-jwt", None, now + days(365))?;
        let mtls_client = ca.client(
            "cyberdyne-mtls",
            None,
            now + days(EXPIRING_CERTIFICATE_DAYS),
        )?;
        let server = ca.server()?;
        keys.write("demo-ca.pem", &ca.pem())?;
        keys.write("tyrell-jwt.pem", &jwt.key_pem)?;
        keys.write("tyrell-jwt.crt", &jwt.cert_pem)?;
        keys.write("cyberdyne-mtls.pem", &mtls_client.key_pem)?;
        keys.write("cyberdyne-mtls.crt", &mtls_client.cert_pem)?;
        keys.write("litware-entra-rotating.next-secret", ROTATING_NEXT_SECRET)?;
        keys.write("adatum-next-rejected.next-secret", REJECTED_NEXT_SECRET)?;

        let mut scenario = demo_scenario();
        let mut tyrell = ClientBehaviour::new("tyrell-jwt", "unused");
        tyrell.certificate = Some(jwt.cert_pem);
        scenario.clients.push(tyrell);
        let bind = || async {
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("cannot bind a simulator on 127.0.0.1")
        };
        let simulator = Simulator::start(bind().await?, scenario).await?;
        let mut cyberdyne = ClientBehaviour::new("cyberdyne-mtls", "unused");
        cyberdyne.certificate = Some(mtls_client.cert_pem);
        let mtls_scenario = Scenario {
            clients: vec![cyberdyne],
            ..Scenario::default()
        };
        let mtls = Simulator::start_mtls(
            bind().await?,
            mtls_scenario,
            &server.cert_pem,
            &server.key_pem,
            &ca.pem(),
        )
        .await?;
        Ok(DemoUpstream {
            simulator,
            mtls,
            keys,
        })
    }

    /// The demo configuration text, pointed at these simulators and keys.
    pub fn config(&self) -> String {
        demo_config(
            &self.simulator.base_url(),
            &self.mtls.base_url(),
            &self.keys.path,
        )
    }

    /// Stops both simulators (the keys go when `keys` is dropped).
    pub async fn shutdown(self) {
        self.simulator.shutdown().await;
        self.mtls.shutdown().await;
    }
}

/// A private temporary folder (mode 0700) holding the demo's throwaway
/// keys; removed when dropped.
pub struct DemoKeys {
    /// The folder.
    pub path: PathBuf,
}

impl DemoKeys {
    fn create() -> anyhow::Result<DemoKeys> {
        use std::os::unix::fs::DirBuilderExt as _;
        remove_stale_folders();
        let path = std::env::temp_dir().join(format!(
            "{KEYS_PREFIX}{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(DemoKeys { path })
    }

    /// Writes `name` readable by this user only (0600), as secret and key
    /// files are kept.
    fn write(&self, name: &str, text: &str) -> anyhow::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.path.join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The start of a demo keys folder's name; the demo's process id follows.
const KEYS_PREFIX: &str = "credprobe-demo-";

/// Removes the keys folders of demos that were killed (no `Drop` ran):
/// those whose process no longer exists.
fn remove_stale_folders() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|name| name.strip_prefix(KEYS_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for DemoKeys {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The demo configuration text, pointed at the simulators and the folder
/// of the generated keys.
pub fn demo_config(simulator_base_url: &str, mtls_base_url: &str, keys: &Path) -> String {
    DEMO_CONFIG
        .replace("{sim}", simulator_base_url)
        .replace("{mtls}", mtls_base_url)
        .replace("{keys}", &keys.to_string_lossy())
}

/// Runs the simulators and the daemon until `controls` says stop; the
/// daemon's server follows `web` (TLS, users) within `limits`.
pub async fn run(
    listen: SocketAddr,
    web: WebConfig,
    limits: ServerLimits,
    controls: Controls,
) -> anyhow::Result<()> {
    let upstream = DemoUpstream::start().await?;
    let simulator = &upstream.simulator;
    let text = upstream.config();
    // Throwaway secrets and keys in a private (0700) folder: no warnings.
    let options = LoadOptions {
        warn_inline_secrets: false,
        log_warnings: false,
        ..LoadOptions::default()
    };
    let config = config::validate::load_str(&text, Path::new("<demo>"), &options)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let scheme = if web.tls.is_some() { "https" } else { "http" };
    let address = listener.local_addr()?;
    tracing::info!(
        simulator = %simulator.base_url(),
        status_page = %format!("{scheme}://{address}/"),
        metrics = %format!("{scheme}://{address}/metrics"),
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
    upstream.shutdown().await;
    Ok(())
}
