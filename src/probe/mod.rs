//! Probing: one cycle of a tenant is a token request followed by calls to
//! its due endpoints with the newest valid token.
//!
//! - [`http`]: the shared request/measure/classify path and the clients
//!   (with the client certificate of `tls_client_auth`).
//! - [`token`]: the token request and its classification.
//! - [`token_answer`]: what a token answer says (token, lifetime, scopes,
//!   error body), read field by field by [`json_fields`].
//! - [`discovery`]: the token endpoint a tenant with `issuer:` only reads
//!   from its issuer's discovery document.
//! - [`client_auth`]: how the token request presents the credential.
//! - [`assertion`]: `private_key_jwt` client assertions, signed per request.
//! - [`endpoint`]: endpoint calls and body expectations.
//! - [`inventory`]: the Entra credential inventory read from Microsoft
//!   Graph, off the cycle's path.
//! - [`classify`]: the closed result classes.
//! - [`outcome`]: the one outcome type of every step.
//! - [`backoff`]: Retry-After, per credential at a token endpoint and per
//!   tenant on an API origin.
//! - [`connect`]: the clients' TLS configuration and the hooks that time
//!   DNS, connect and TLS.
//! - [`phases`]: where one request's time went.
//! - [`tls`]: leaf certificate expiry.
//! - [`verify`]: whether the access token verifies against the keys the
//!   identity provider publishes, fetched and cached by [`jwks`]
//!   (discovery documents and JWK Sets).

pub mod assertion;
pub mod backoff;
pub mod classify;
pub mod client_auth;
pub mod connect;
pub mod discovery;
pub mod endpoint;
pub mod http;
pub mod inventory;
pub mod json_fields;
pub mod jwks;
pub mod outcome;
pub mod phases;
pub mod tls;
pub mod token;
pub mod token_answer;
pub mod verify;

use std::time::SystemTime;

use secrecy::ExposeSecret as _;

pub use classify::{EndpointResult, RejectionReason, ResultClass, StepResult, TokenResult};
pub use http::{Pacing, TenantClients, Transport};

use backoff::BackoffScope;
pub use outcome::{Grant, Outcome};
pub use phases::Phases;
pub use token::IssuedToken;
pub use verify::{TokenVerification, VerifyReason};

use crate::config::{ClientIdentity, Credential, HttpProfile, Tenant, TokenReuse};

/// What a tenant's task carries from one cycle to the next.
#[derive(Debug, Default)]
pub struct ProbeState {
    /// The newest token obtained, valid or not.
    pub token: Option<IssuedToken>,
    /// Cycles run so far; endpoint intervals count in cycles.
    pub cycles: u64,
    /// The back-off scopes of the tenant's requests, made at its first
    /// cycle: they depend only on its configuration, which a task keeps
    /// for life.
    scopes: Option<Scopes>,
    /// The tenant's HTTP clients, taken at its first cycle and again only
    /// when its client certificate changed.
    clients: Option<TenantClients>,
    /// The clients presenting the next client certificate of a rotation
    /// (`tls_client_auth` with `next_client_key_file`), kept the same way;
    /// boxed, as most tenants never have them and every tenant's state
    /// would otherwise carry their room.
    next_clients: Option<Box<TenantClients>>,
}

/// What a 429 backs off, for each of a tenant's requests.
#[derive(Debug)]
struct Scopes {
    token: BackoffScope,
    /// The next credential's token requests, apart from the current one's.
    next_token: BackoffScope,
    /// By endpoint index.
    endpoints: Vec<BackoffScope>,
}

impl Scopes {
    fn of(tenant: &Tenant) -> Scopes {
        Scopes {
            token: BackoffScope::token(tenant.token.url.scope_url(), &tenant.token.client_id),
            next_token: BackoffScope::next_credential(
                tenant.token.url.scope_url(),
                &tenant.token.client_id,
            ),
            endpoints: tenant
                .endpoints
                .iter()
                .map(|endpoint| BackoffScope::api(&tenant.name, &endpoint.url))
                .collect(),
        }
    }
}

/// What one cycle did.
#[derive(Debug, Default)]
pub struct CycleReport {
    /// The token request, if one was sent.
    pub token: Option<Outcome<TokenResult>>,
    /// What the token this cycle obtained said of itself, when one came.
    pub grant: Option<Grant>,
    /// Why this cycle's token request was rejected, when it was.
    pub rejection: Option<RejectionReason>,
    /// Whether the token this cycle obtained verified, for a tenant that
    /// verifies tokens.
    pub verification: Option<TokenVerification>,
    /// The endpoint calls made this cycle: the endpoint's index in the
    /// tenant's `endpoints`, and what the call found.
    pub endpoints: Vec<(usize, Outcome<EndpointResult>)>,
    /// The token request made with the next credential (a rotation in
    /// progress), when the tenant has one and a token was requested.
    /// Apart from the cycle's own success: the current credential is what
    /// the tenant runs on.
    pub next_credential: Option<NextCredentialAttempt>,
}

/// What the token request with the next credential found.
#[derive(Debug, Clone)]
pub struct NextCredentialAttempt {
    /// The step's outcome, classified as the current token request's.
    pub outcome: Outcome<TokenResult>,
    /// Why the next credential was rejected, when it was.
    pub rejection: Option<RejectionReason>,
}

impl CycleReport {
    /// True when the cycle sent or decided anything; a cycle whose every
    /// request waited out a Retry-After proves nothing.
    pub fn did_something(&self) -> bool {
        self.token.is_some() || !self.endpoints.is_empty()
    }

    /// True when nothing failed.
    pub fn all_ok(&self) -> bool {
        self.token.as_ref().is_none_or(Outcome::ok) && self.endpoints.iter().all(|(_, e)| e.ok())
    }
}

/// Runs one cycle: a token request (unless a reused token is still good),
/// then every due endpoint with the newest valid token.
pub async fn run_cycle(
    transport: &Transport,
    tenant: &Tenant,
    state: &mut ProbeState,
) -> CycleReport {
    // The credential's files are looked at by the refresher, once per
    // interval (crate::watched_file::refresher): nothing to read here.
    // Waiting out a Retry-After is worth it only if the cycle still fits.
    let max_wait = tenant.interval.saturating_sub(tenant.token.timeout) / 2;
    let cap = backoff::cap_for(tenant.interval);
    let now = SystemTime::now();
    let needs_token = match (tenant.token_reuse, &state.token) {
        (TokenReuse::Never, _) | (TokenReuse::UntilExpiry, None) => true,
        (TokenReuse::UntilExpiry, Some(token)) => {
            // Refresh while the token would still outlive the next cycle.
            let margin = tenant.interval + tenant.token.timeout;
            !token.valid_at(now + margin, tenant.interval)
        }
    };
    let scopes = state.scopes.get_or_insert_with(|| Scopes::of(tenant));
    let clients = match state.clients.take() {
        Some(clients) if clients.current_for(&tenant.http) => clients,
        _ => transport.tenant_clients(&tenant.http),
    };
    let clients = state.clients.insert(clients);
    let mut report = CycleReport::default();
    if needs_token {
        let pacing = Pacing {
            scope: &scopes.token,
            max_wait,
            cap,
        };
        let attempt = token::request_token(transport, clients, tenant, &pacing).await;
        if let Some(fresh) = attempt.token {
            report.grant = Some(fresh.grant());
            if let Some(settings) = &tenant.verification {
                // After the token request's measurement: the keys are
                // fetched (rarely) outside its latency. On the heap, so
                // only the tenants that verify pay for its room.
                report.verification = Some(
                    Box::pin(verify::verify(
                        clients,
                        settings,
                        fresh.access_token.expose_secret(),
                        fresh.obtained_at,
                        tenant.token.timeout,
                    ))
                    .await,
                );
            }
            state.token = Some(fresh);
        }
        report.rejection = attempt.rejection;
        report.token = Some(attempt.outcome);
        if let Some(next) = &tenant.token.next_credential {
            // Token only: the next credential's token is dropped unused.
            let pacing = Pacing {
                scope: &scopes.next_token,
                max_wait,
                cap,
            };
            let clients = next_clients(transport, tenant, next, clients, &mut state.next_clients);
            let attempt = token::request_token_with(
                transport,
                clients,
                &tenant.token,
                next,
                &tenant.token.form,
                &pacing,
            )
            .await;
            report.next_credential = Some(NextCredentialAttempt {
                outcome: attempt.outcome,
                rejection: attempt.rejection,
            });
        }
    }

    let now = SystemTime::now();
    let valid = state
        .token
        .as_ref()
        .filter(|t| t.valid_at(now, tenant.interval));
    for ((index, endpoint), scope) in tenant.endpoints.iter().enumerate().zip(&scopes.endpoints) {
        if !state
            .cycles
            .is_multiple_of(u64::from(endpoint.every_cycles))
        {
            continue;
        }
        let pacing = Pacing {
            scope,
            max_wait,
            cap,
        };
        let outcome = endpoint::call(transport, clients, endpoint, valid, &pacing).await;
        report.endpoints.push((index, outcome));
    }
    state.cycles += 1;
    report
}

/// The clients the next credential's token request goes through: the
/// tenant's own, except for a next client certificate (`tls_client_auth`),
/// which is presented in the TLS handshake by clients of its own, built
/// like the tenant's (same proxy and CA) and rebuilt when the files change.
fn next_clients<'a>(
    transport: &Transport,
    tenant: &Tenant,
    next: &Credential,
    own: &'a TenantClients,
    kept: &'a mut Option<Box<TenantClients>>,
) -> &'a TenantClients {
    let Credential::Certificate(files) = next else {
        return own;
    };
    let profile = HttpProfile {
        identity: Some(ClientIdentity(std::sync::Arc::clone(files))),
        ..tenant.http.clone()
    };
    let clients = match kept.take() {
        Some(clients) if clients.current_for(&profile) => clients,
        _ => Box::new(transport.tenant_clients(&profile)),
    };
    kept.insert(clients)
}
