//! Probing: one cycle of a tenant is a token request followed by calls to
//! its due endpoints with the newest valid token.
//!
//! - [`http`]: the shared request/measure/classify path and the clients.
//! - [`token`]: the token request and its parsing.
//! - [`endpoint`]: endpoint calls and body expectations.
//! - [`classify`]: the closed result classes.
//! - [`backoff`]: Retry-After per host.
//! - [`tls`]: leaf certificate expiry.

pub mod backoff;
pub mod classify;
pub mod endpoint;
pub mod http;
pub mod tls;
pub mod token;

use std::time::SystemTime;

pub use classify::{EndpointResult, TokenResult};
pub use endpoint::EndpointOutcome;
pub use http::Transport;
pub use token::{IssuedToken, TokenOutcome};

use crate::config::{Tenant, TokenReuse};

/// What a tenant carries from one cycle to the next.
#[derive(Debug, Default)]
pub struct TenantState {
    /// The newest token obtained, valid or not.
    pub token: Option<IssuedToken>,
    /// Cycles run so far; endpoint intervals count in cycles.
    pub cycles: u64,
}

/// What one cycle did.
#[derive(Debug)]
pub struct CycleReport {
    /// The token request, if one was sent.
    pub token: Option<TokenOutcome>,
    /// The endpoint calls made this cycle, by endpoint name.
    pub endpoints: Vec<(String, EndpointOutcome)>,
}

impl CycleReport {
    /// True when nothing failed.
    pub fn all_ok(&self) -> bool {
        self.token
            .as_ref()
            .is_none_or(|t| t.result == TokenResult::Success)
            && self
                .endpoints
                .iter()
                .all(|(_, e)| e.result == EndpointResult::Success)
    }
}

/// Runs one cycle: a token request (unless a reused token is still good),
/// then every due endpoint with the newest valid token.
pub async fn run_cycle(
    transport: &Transport,
    tenant: &Tenant,
    state: &mut TenantState,
) -> CycleReport {
    // Waiting out a Retry-After is worth it only if the cycle still fits.
    let max_wait = tenant.interval.saturating_sub(tenant.token.timeout) / 2;
    let now = SystemTime::now();
    let needs_token = match (tenant.token_reuse, &state.token) {
        (TokenReuse::Never, _) | (TokenReuse::UntilExpiry, None) => true,
        (TokenReuse::UntilExpiry, Some(token)) => {
            // Refresh while the token would still outlive the next cycle.
            let margin = tenant.interval + tenant.token.timeout;
            !token.valid_at(now + margin, tenant.interval)
        }
    };
    let token_outcome = if needs_token {
        token::request_token(transport, tenant, max_wait).await
    } else {
        None
    };
    if let Some(fresh) = token_outcome.as_ref().and_then(|o| o.token.clone()) {
        state.token = Some(fresh);
    }

    let now = SystemTime::now();
    let valid = state
        .token
        .as_ref()
        .filter(|t| t.valid_at(now, tenant.interval));
    let mut endpoints = Vec::new();
    for endpoint in &tenant.endpoints {
        if !state
            .cycles
            .is_multiple_of(u64::from(endpoint.every_cycles))
        {
            continue;
        }
        if let Some(outcome) = endpoint::call(transport, tenant, endpoint, valid, max_wait).await {
            endpoints.push((endpoint.name.clone(), outcome));
        }
    }
    state.cycles += 1;
    CycleReport {
        token: token_outcome,
        endpoints,
    }
}
