//! A tenant's state at a glance ([`Health`]), from the latest results in
//! its record: what the status page colours and sorts by and what the JSON
//! calls `state`.

use serde::Serialize;

use crate::fleet::TenantState;
use crate::probe::{EndpointResult, TokenResult};

/// A tenant's state at a glance, in the order the status page sorts them
/// (failing states first, then pending, then healthy).
///
/// The rule, first match wins, on the last token result and the last
/// result of every endpoint:
/// 1. no cycle has finished yet → [`Pending`](Health::Pending);
/// 2. token `credentials_rejected` → [`CredentialsRejected`](Health::CredentialsRejected);
/// 3. token `rate_limited` or `backed_off`, or any endpoint `rate_limited`
///    or `backed_off` → [`RateLimited`](Health::RateLimited);
/// 4. token `forbidden`, `client_error`, `server_error`, `timeout`,
///    `dns_error`, `connect_error`, `tls_error` or `invalid_response` →
///    [`IdpDown`](Health::IdpDown): the identity provider, or the path to
///    it, fails;
/// 5. token `success` (this cycle or reused from an earlier one) but an
///    endpoint `forbidden` (403) → [`PermissionMissing`](Health::PermissionMissing);
/// 6. any other endpoint result than `success` → [`EndpointFailing`](Health::EndpointFailing);
/// 7. otherwise → [`Healthy`](Health::Healthy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// The identity provider refuses the credential (revoked, deleted,
    /// expired, wrong).
    CredentialsRejected,
    /// The token request fails for another reason than the credential.
    IdpDown,
    /// The credential lacks an API's permission (403 on an endpoint).
    PermissionMissing,
    /// An endpoint fails.
    EndpointFailing,
    /// The identity provider or the API answers 429, or credprobe is
    /// waiting out its Retry-After.
    RateLimited,
    /// No cycle has finished yet.
    Pending,
    /// Everything succeeded.
    Healthy,
}

impl Health {
    /// Every state, in sort order.
    pub const ALL: [Health; 7] = [
        Health::CredentialsRejected,
        Health::IdpDown,
        Health::PermissionMissing,
        Health::EndpointFailing,
        Health::RateLimited,
        Health::Pending,
        Health::Healthy,
    ];

    /// Applies the rule documented on [`Health`].
    pub fn of(
        cycle_done: bool,
        token: Option<TokenResult>,
        endpoints: impl IntoIterator<Item = EndpointResult>,
    ) -> Health {
        if !cycle_done {
            return Health::Pending;
        }
        let endpoints: Vec<EndpointResult> = endpoints.into_iter().collect();
        match token {
            Some(TokenResult::CredentialsRejected) => return Health::CredentialsRejected,
            Some(TokenResult::RateLimited | TokenResult::BackedOff) => return Health::RateLimited,
            _ => {}
        }
        if endpoints
            .iter()
            .any(|e| matches!(e, EndpointResult::RateLimited | EndpointResult::BackedOff))
        {
            return Health::RateLimited;
        }
        if token.is_some_and(|t| t != TokenResult::Success) {
            return Health::IdpDown;
        }
        if endpoints.contains(&EndpointResult::Forbidden) {
            return Health::PermissionMissing;
        }
        if endpoints.iter().any(|e| *e != EndpointResult::Success) {
            return Health::EndpointFailing;
        }
        Health::Healthy
    }

    /// The machine name (`state` in the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::CredentialsRejected => "credentials_rejected",
            Health::IdpDown => "idp_down",
            Health::PermissionMissing => "permission_missing",
            Health::EndpointFailing => "endpoint_failing",
            Health::RateLimited => "rate_limited",
            Health::Pending => "pending",
            Health::Healthy => "healthy",
        }
    }

    /// The words shown to people (`state_text` in the JSON).
    pub fn text(self) -> &'static str {
        match self {
            Health::CredentialsRejected => "credentials rejected",
            Health::IdpDown => "IdP down",
            Health::PermissionMissing => "permission missing",
            Health::EndpointFailing => "endpoint failing",
            Health::RateLimited => "rate limited",
            Health::Pending => "pending",
            Health::Healthy => "healthy",
        }
    }

    /// True for every state but pending and healthy.
    pub fn is_failing(self) -> bool {
        !matches!(self, Health::Pending | Health::Healthy)
    }
}

impl Health {
    /// The state of a tenant's record.
    pub fn of_state(state: &TenantState) -> Health {
        Health::of(
            state.cycles > 0,
            state.token.last_result(),
            state.endpoint_results(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EndpointResult as E;
    use TokenResult as T;

    #[test]
    fn the_state_rule() {
        assert_eq!(Health::of(false, None, []), Health::Pending);
        assert_eq!(
            Health::of(false, Some(T::CredentialsRejected), []),
            Health::Pending
        );
        assert_eq!(
            Health::of(true, Some(T::CredentialsRejected), [E::NoToken]),
            Health::CredentialsRejected
        );
        assert_eq!(
            Health::of(true, Some(T::RateLimited), [E::Success]),
            Health::RateLimited
        );
        assert_eq!(
            Health::of(true, Some(T::BackedOff), [E::Success]),
            Health::RateLimited
        );
        assert_eq!(
            Health::of(true, Some(T::Success), [E::BackedOff]),
            Health::RateLimited
        );
        assert_eq!(
            Health::of(true, Some(T::Success), [E::Success, E::RateLimited]),
            Health::RateLimited
        );
        for token in [
            T::Forbidden,
            T::ClientError,
            T::ServerError,
            T::Timeout,
            T::DnsError,
            T::ConnectError,
            T::TlsError,
            T::InvalidResponse,
        ] {
            assert_eq!(
                Health::of(true, Some(token), [E::NoToken]),
                Health::IdpDown,
                "{token:?}"
            );
        }
        assert_eq!(
            Health::of(true, Some(T::Success), [E::Success, E::Forbidden]),
            Health::PermissionMissing
        );
        // A reused token: no token request this cycle or before.
        assert_eq!(
            Health::of(true, None, [E::Forbidden]),
            Health::PermissionMissing
        );
        assert_eq!(
            Health::of(true, Some(T::Success), [E::Forbidden, E::ServerError]),
            Health::PermissionMissing
        );
        assert_eq!(
            Health::of(true, Some(T::Success), [E::Success, E::Unauthorized]),
            Health::EndpointFailing
        );
        assert_eq!(
            Health::of(true, Some(T::Success), [E::Success]),
            Health::Healthy
        );
        assert_eq!(Health::of(true, Some(T::Success), []), Health::Healthy);
    }

    #[test]
    fn failing_states_sort_first_then_pending_then_healthy() {
        let mut sorted = Health::ALL;
        sorted.sort();
        assert_eq!(sorted, Health::ALL);
        assert!(Health::ALL[..5].iter().all(|h| h.is_failing()));
        assert!(!Health::Pending.is_failing() && !Health::Healthy.is_failing());
        assert_eq!(
            serde_json::to_value(Health::IdpDown).unwrap(),
            Health::IdpDown.as_str()
        );
    }
}
