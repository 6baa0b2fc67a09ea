//! credprobe-simulator: a simulated Nexthink-like API, the fake upstream of
//! `credprobe demo`, `credprobe simulate`, credprobe's integration tests and
//! its benchmarks. A crate of its own, so the daemon links it (and its
//! throwaway PKI's certificate generator, rcgen) only with its `demo`
//! feature.
//!
//! It is a real HTTP server on a real socket (plain HTTP, or HTTPS for
//! certificate-expiry tests) that issues OAuth2 client-credentials tokens on
//! Nexthink's two token paths, Microsoft Entra ID's and a generic one (and
//! can refuse like Entra ID does), and answers Nexthink's read-only API
//! endpoints with those tokens. A [`Scenario`] says, per
//! client, how it misbehaves: revoked credentials, a slow identity provider,
//! a missing permission, flaky or rate-limited APIs, malformed token
//! responses... so that every result class credprobe exports can be produced
//! on demand and tested end to end.
//!
//! Beside client secrets (one, or more during a rotation:
//! `additional_client_secrets`), the token endpoints take `private_key_jwt`
//! client assertions (RFC 7523), verified against the client's `public_key`
//! (or `certificate`, or one of its `additional_public_keys`), and, on a
//! listener started with [`Simulator::start_mtls`], RFC 8705
//! `tls_client_auth`.
//!
//! It also plays the identity provider a verifier needs. Access tokens
//! are JWTs signed with ES256 (or RS256: the scenario's `signing`), with
//! `kid`, `iss`, `aud`, `iat`, `nbf`, `exp`, `jti`, the client id as
//! `sub`/`azp`/`appid` and the scopes as before; per client they can be
//! opaque, for another audience or issuer, skewed in time, signed with an
//! unpublished key or expired on arrival. Each authority (the generic
//! root, Nexthink's login, an Entra ID directory) publishes discovery
//! documents (`/.well-known/openid-configuration` and RFC 8414's
//! `/.well-known/oauth-authorization-server`, which the scenario's
//! `discovery` can break) and a JWK Set; the signing key rotates on a
//! period, or at `POST /__simulator/rotate-signing-key`
//! ([`Simulator::rotate_signing_key`]), the previous key staying
//! published and a new one appearing after `signing.publish_delay`.
//! Microsoft Graph's `GET /v1.0/applications(appId='…')` lists an
//! application's secrets (by hint) and certificates (by thumbprint) with
//! their end dates, to a token issued for Graph's scope, with Graph's 401,
//! 403 and 404.
//!
//! `/__simulator/redirect?to=URL` answers any method with a redirect
//! (`status=`, `hops=` for a chain), so tests can check which redirects
//! credprobe follows and what it carries along.
//!
//! Every request is recorded ([`Simulator::requests`], or
//! `GET /__simulator/requests` from another process) so tests can check what
//! credprobe sent: headers, body, and which client it was attributed to.
//! Every request is also counted, in total and per wall-clock second
//! (`GET /__simulator/stats`), so benchmarks can count upstream requests and
//! check how evenly they arrive. The control routes (`/__simulator/requests`,
//! `stats`, `healthy`, `rotate-signing-key`) are neither recorded nor
//! counted; the redirect route
//! is both, as it is traffic of the client under test (and a test counts
//! the hops it followed there).
//!
//! # Layout
//!
//! - `scenario`: [`Scenario`], [`ClientBehaviour`] and their YAML form
//!   (`scenario::raw`), the identity-provider knobs
//!   (`scenario::identity`: signing, discovery, token shapes, the
//!   application credentials Graph lists), and why a scenario is refused
//!   (`scenario::error`: [`ScenarioError`] and the errors it carries).
//! - `handlers`: the HTTP surface: the paths and the route table, and a
//!   module per job behind them: `recording` (the middleware that records
//!   and counts every request, and the control routes that read them
//!   back), `redirect` (`/__simulator/redirect`), `token` (the token
//!   endpoints: the request, the client's authentication, the answer),
//!   `api` (the Nexthink-like API endpoints), `discovery` (discovery
//!   documents, JWK Sets, key rotation on demand), `graph` (Microsoft
//!   Graph's application endpoint) and `response` (answers they share,
//!   and the faults that break a body).
//! - `access_token`: what a token says: its claims, from the grant and
//!   the client's token knobs; opaque tokens; which are Graph tokens.
//! - `signing`: the keys that sign tokens, their rotation and the JWK Set.
//! - `client_auth`: client assertions and client certificates: checks,
//!   the replay cache of `jti`s, certificate-bound tokens.
//! - `client_keys`: the public keys and certificates clients register.
//! - `state`: the signing keys, issued tokens, counters, the request log and the traffic
//!   counters, shared by handlers.
//! - `listener`: plain and TLS listeners whose connections end on shutdown.
//! - [`pki`]: a CA and certificates made at start, for the demo and tests.

mod access_token;
mod client_auth;
mod client_keys;
mod handlers;
mod listener;
pub mod pki;
mod scenario;
mod signing;
mod state;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use client_keys::ClientKeyError;
pub use scenario::{
    ApiResponse, AppCredential, AppCredentialError, AppCredentialKind, BodyFault, ClientBehaviour,
    ClientError, Discovery, DiscoveryAnswer, EntraRefusal, Preset, Scenario, ScenarioError,
    Signing, SigningAlgorithm, TimeError, TokenFormat, TokenResponse, secret_hint,
};

use axum::extract::connect_info::Connected;
use listener::{Connection, PlainListener, TlsListener};
use state::SimState;

/// How long `shutdown` lets in-flight requests finish before it cuts their
/// connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How long `shutdown` waits for cut connections to notice before it gives
/// up on the server task.
const SHUTDOWN_CUT_WAIT: Duration = Duration::from_millis(500);

/// Why the simulator could not load a scenario or start.
///
/// Messages carry their cause inline (file, line, column), so printing the
/// error alone is enough.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// The scenario file could not be read.
    #[error("cannot read scenario file {}: {error}", path.display())]
    ReadScenario {
        /// The file named on the command line.
        path: PathBuf,
        /// What reading it returned.
        error: std::io::Error,
    },
    /// The scenario file is not a valid scenario.
    #[error("invalid scenario file {}: {error}", path.display())]
    InvalidScenarioFile {
        /// The file named on the command line.
        path: PathBuf,
        /// What is wrong, with line and column when serde gives them.
        error: ScenarioError,
    },
    /// Scenario text is not a valid scenario.
    #[error("invalid scenario: {error}")]
    InvalidScenario {
        /// What is wrong, with line and column when serde gives them.
        error: ScenarioError,
    },
    /// The certificate or key given to `start_tls` is unusable.
    #[error("invalid TLS certificate or key: {message}")]
    Tls {
        /// What is wrong.
        message: String,
    },
    /// The listener failed (for instance, it has no local address).
    #[error("simulator listener: {0}")]
    Io(#[from] std::io::Error),
    /// No key to sign access tokens could be made.
    #[error("simulator signing key: {message}")]
    SigningKey {
        /// What went wrong.
        message: String,
    },
}

/// One request the simulator received, so tests can assert on what the
/// daemon actually sent.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RecordedRequest {
    /// When it arrived (serialised as unix seconds, fractional).
    #[serde(serialize_with = "serialize_unix_seconds")]
    pub at: SystemTime,
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Header names (lowercase) and values, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as lossy UTF-8, at most its first 64 KiB.
    pub body: String,
    /// The client it was attributed to: from Basic auth, the form's
    /// client_id or a client assertion's `sub` on token requests, from the
    /// bearer token on API calls.
    pub client_id: Option<String>,
    /// Over TLS: whether the connection's handshake resumed an earlier
    /// session (`None` over plain http).
    pub tls_resumed: Option<bool>,
}

impl RecordedRequest {
    /// The first value of a header (name in any case), for test assertions.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

fn serialize_unix_seconds<S: serde::Serializer>(
    at: &SystemTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let seconds = at
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64());
    serializer.serialize_f64(seconds)
}

/// A running simulator; dropping it does not stop it, `shutdown()` does.
///
/// Exists so tests and the demo can start the fake upstream in-process, read
/// what it received and change its behaviour while it runs.
pub struct Simulator {
    /// Where it listens.
    local_addr: SocketAddr,
    /// Whether it serves HTTPS (changes `base_url`).
    tls: bool,
    /// Shared with the handlers.
    state: Arc<SimState>,
    /// Cancelled first: stop accepting, end delays, close idle connections.
    graceful: CancellationToken,
    /// Cancelled after the grace period: fail every connection's I/O.
    hard_stop: CancellationToken,
    /// The `axum::serve` task; it ends when every connection has.
    server: JoinHandle<()>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Serves plain HTTP on an already-bound listener (tests bind
    /// 127.0.0.1:0); the server runs on its own task and this returns at once.
    pub async fn start(listener: TcpListener, scenario: Scenario) -> std::io::Result<Simulator> {
        let local_addr = listener.local_addr()?;
        let graceful = CancellationToken::new();
        let hard_stop = CancellationToken::new();
        let listener = PlainListener::new(listener, hard_stop.clone());
        Self::spawn(listener, local_addr, false, scenario, graceful, hard_stop)
            .map_err(std::io::Error::other)
    }

    /// Serves HTTPS with the given PEM certificate chain and PEM private
    /// key, so tests can check certificate-expiry metrics and TLS errors.
    pub async fn start_tls(
        listener: TcpListener,
        scenario: Scenario,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<Simulator, SimulatorError> {
        Self::serve_tls(listener, scenario, tls_config(cert_pem, key_pem, None)?)
    }

    /// Serves HTTPS like [`Simulator::start_tls`], and asks every client
    /// for a certificate, which must chain to a CA of `client_ca_pem` (the
    /// handshake fails otherwise). Token requests with `client_id` alone
    /// are then RFC 8705 `tls_client_auth`: the certificate's subject must
    /// be that of the client's registered `certificate`, and the token is
    /// bound to the certificate, so API calls with it must present the
    /// same one. A connection without a certificate is served, and such a
    /// token request is refused with `invalid_client`.
    pub async fn start_mtls(
        listener: TcpListener,
        scenario: Scenario,
        cert_pem: &str,
        key_pem: &str,
        client_ca_pem: &str,
    ) -> Result<Simulator, SimulatorError> {
        let config = tls_config(cert_pem, key_pem, Some(client_ca_pem))?;
        Self::serve_tls(listener, scenario, config)
    }

    /// Serves `scenario` over TLS with `config` on `listener`.
    fn serve_tls(
        listener: TcpListener,
        scenario: Scenario,
        config: rustls::ServerConfig,
    ) -> Result<Simulator, SimulatorError> {
        let local_addr = listener.local_addr()?;
        let graceful = CancellationToken::new();
        let hard_stop = CancellationToken::new();
        let listener = TlsListener::spawn(
            listener,
            Arc::new(config),
            graceful.clone(),
            hard_stop.clone(),
        )?;
        Ok(Self::spawn(
            listener, local_addr, true, scenario, graceful, hard_stop,
        )?)
    }

    fn spawn<L>(
        listener: L,
        local_addr: SocketAddr,
        tls: bool,
        scenario: Scenario,
        graceful: CancellationToken,
        hard_stop: CancellationToken,
    ) -> Result<Simulator, signing::KeyError>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
        Connection: for<'a> Connected<axum::serve::IncomingStream<'a, L>>,
    {
        let state = Arc::new(SimState::new(scenario, graceful.clone())?);
        let app =
            handlers::router(state.clone()).into_make_service_with_connect_info::<Connection>();
        let signal = graceful.clone().cancelled_owned();
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
            {
                tracing::error!(%error, "simulator server failed");
            }
        });
        Ok(Simulator {
            local_addr,
            tls,
            state,
            graceful,
            hard_stop,
            server,
        })
    }

    /// The address it listens on (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL to configure as base_url and token host: "http://127.0.0.1:PORT",
    /// or "https://localhost:PORT" for `start_tls` (the name test certificates
    /// are issued for). No trailing slash.
    pub fn base_url(&self) -> String {
        if self.tls {
            return format!("https://localhost:{}", self.local_addr.port());
        }
        // A wildcard bind is reached through loopback.
        let ip = match self.local_addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.local_addr.port()))
    }

    /// Every request received so far, oldest first (the last 10 000).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.recorded()
    }

    /// Replaces the scenario while running (tests flip a client from healthy
    /// to revoked). Tokens already issued stay valid until they expire.
    pub fn set_scenario(&self, scenario: Scenario) {
        self.state.set_scenario(scenario);
    }

    /// Rotates the key that signs access tokens now (as
    /// `POST /__simulator/rotate-signing-key` does) and returns its `kid`;
    /// the JWKS lists it after the scenario's `signing.publish_delay`.
    pub fn rotate_signing_key(&self) -> Result<String, SimulatorError> {
        Ok(self.state.keys.rotate(&self.state.clients().signing)?)
    }

    /// Stops accepting and ends all connections; resolves when the server
    /// task has ended. In-flight requests get 2 s (delayed
    /// ones answer 503 at once); connections still open after that are cut,
    /// so this never hangs on a hanging client.
    pub async fn shutdown(self) {
        self.graceful.cancel();
        let mut server = self.server;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
            .await
            .is_err()
        {
            self.hard_stop.cancel();
            if tokio::time::timeout(SHUTDOWN_CUT_WAIT, &mut server)
                .await
                .is_err()
            {
                server.abort();
                let _ = server.await;
            }
        }
        self.hard_stop.cancel();
    }
}

/// The server's TLS configuration; with `client_ca_pem`, clients are asked
/// for a certificate, verified against those CAs when one is presented.
fn tls_config(
    cert_pem: &str,
    key_pem: &str,
    client_ca_pem: Option<&str>,
) -> Result<rustls::ServerConfig, SimulatorError> {
    let tls_error = |message: String| SimulatorError::Tls { message };
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| tls_error(format!("certificate PEM: {error}")))?;
    if certs.is_empty() {
        return Err(tls_error("no certificate in the certificate PEM".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|error| tls_error(format!("private key PEM: {error}")))?;
    // An explicit provider: no dependence on a process-wide default.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error(error.to_string()))?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            builder.with_client_cert_verifier(client_auth::client_verifier(pem, provider)?)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|error| tls_error(error.to_string()))?;
    // Only HTTP/1.1 is served.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The PEM texts `credprobe simulate` serves https with: the server's
/// certificate chain and key, and, for RFC 8705 `tls_client_auth`, the CA
/// that client certificates must chain to.
pub struct ServeTls {
    /// Server certificate chain, PEM.
    pub cert_pem: String,
    /// Server private key, PEM.
    pub key_pem: String,
    /// CA bundle for client certificates, PEM; `None`: none asked for.
    pub client_ca_pem: Option<String>,
}

/// Runs the simulator until `shutdown` resolves (ctrl-c for
/// `credprobe simulate --listen ADDR [--scenario FILE] [--tls.*]`), then
/// stops it the same bounded way as [`Simulator::shutdown`].
pub async fn run(
    listener: TcpListener,
    scenario: Scenario,
    tls: Option<ServeTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimulatorError> {
    let clients = scenario.clients.len();
    let accept_any = scenario.accept_any;
    let simulator = match &tls {
        None => Simulator::start(listener, scenario).await?,
        Some(tls) => {
            let config = tls_config(&tls.cert_pem, &tls.key_pem, tls.client_ca_pem.as_deref())?;
            Simulator::serve_tls(listener, scenario, config)?
        }
    };
    tracing::info!(
        listen = %simulator.local_addr(),
        base_url = %simulator.base_url(),
        clients,
        accept_any,
        client_certificates = tls.as_ref().is_some_and(|tls| tls.client_ca_pem.is_some()),
        "simulated API listening"
    );
    shutdown.await;
    tracing::info!("simulated API stopping");
    simulator.shutdown().await;
    Ok(())
}

impl From<signing::KeyError> for SimulatorError {
    fn from(error: signing::KeyError) -> Self {
        SimulatorError::SigningKey {
            message: error.to_string(),
        }
    }
}
