//! A tenant's state at a glance, computed once by one rule ([`Assessment`])
//! from its record and configuration: what the status page colours and
//! sorts by, what the JSON calls `state` and `warnings`, and what
//! `credprobe_tenant_success` exports. The three cannot disagree because
//! they all call [`Assessment::of`].

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::Tenant;
use crate::fleet::TenantState;
use crate::probe::{EndpointResult, TokenResult};
use crate::watched_file::FileProblem;

/// A credential that expires within this is a warning (the same 14 days
/// as the `CredprobeCredentialExpiringSoon` warning alert).
pub const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 86_400);

/// A tenant's state at a glance, in the order the status page sorts them
/// (failing states first, then warning, pending, healthy).
///
/// The rule, first match wins, on the last token result and the last
/// result of every endpoint:
/// 1. no cycle has finished yet → [`Pending`](Health::Pending);
/// 2. token `credentials_rejected`, or `signing_error` (the credential
///    cannot even be presented) → [`CredentialsRejected`](Health::CredentialsRejected);
/// 3. token or any endpoint `rate_limited` (a 429 this time) →
///    [`RateLimited`](Health::RateLimited);
/// 4. token `forbidden`, `client_error`, `server_error`, `timeout`,
///    `dns_error`, `connect_error`, `tls_error`, `invalid_response` or
///    `discovery_failed` →
///    [`IdpDown`](Health::IdpDown): the identity provider, or the path to
///    it, fails;
/// 5. some step `backed_off` (skipped while waiting out a Retry-After) and
///    no step succeeded, so nothing was proven → [`RateLimited`](Health::RateLimited);
/// 6. an endpoint `forbidden` (403) → [`PermissionMissing`](Health::PermissionMissing);
/// 7. an endpoint result other than `success` or `backed_off` →
///    [`EndpointFailing`](Health::EndpointFailing);
/// 8. any [`Warning`] → [`Warning`](Health::Warning);
/// 9. otherwise → [`Healthy`](Health::Healthy).
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
    /// The identity provider or the API answered 429, or every request was
    /// skipped waiting out a Retry-After.
    RateLimited,
    /// Everything that was sent succeeded, but something needs attention
    /// soon (see [`Warning`]).
    Warning,
    /// No cycle has finished yet.
    Pending,
    /// Everything succeeded and nothing needs attention.
    Healthy,
}

/// Why a tenant whose requests succeed is not simply healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    /// The newest token does not grant an expected scope (`expect_scopes`).
    ScopeMissing,
    /// The credential (`credential_expires`, or the client certificate)
    /// expires within [`EXPIRY_WARNING`], or has expired.
    CredentialExpiring,
    /// A request was skipped this cycle, waiting out a 429's Retry-After.
    BackedOff,
    /// A secret, key or certificate file is missing, unreadable or holds a
    /// version that cannot be used; the last good copy is in use.
    CredentialFileUnreadable,
}

impl Warning {
    /// Every warning, in the order they are listed.
    pub const ALL: [Warning; 4] = [
        Warning::ScopeMissing,
        Warning::CredentialExpiring,
        Warning::BackedOff,
        Warning::CredentialFileUnreadable,
    ];

    /// The machine name (in the JSON's `warnings`).
    pub fn as_str(self) -> &'static str {
        match self {
            Warning::ScopeMissing => "scope_missing",
            Warning::CredentialExpiring => "credential_expiring",
            Warning::BackedOff => "backed_off",
            Warning::CredentialFileUnreadable => "credential_file_unreadable",
        }
    }

    /// The words shown to people.
    pub fn text(self) -> &'static str {
        match self {
            Warning::ScopeMissing => "an expected scope is not granted",
            Warning::CredentialExpiring => "the credential expires within 14 days",
            Warning::BackedOff => "a request was skipped, backing off after a 429",
            Warning::CredentialFileUnreadable => {
                "a credential file cannot be read; the last good copy is in use"
            }
        }
    }
}

impl Health {
    /// Every state, in sort order.
    pub const ALL: [Health; 8] = [
        Health::CredentialsRejected,
        Health::IdpDown,
        Health::PermissionMissing,
        Health::EndpointFailing,
        Health::RateLimited,
        Health::Warning,
        Health::Pending,
        Health::Healthy,
    ];

    /// Applies the rule documented on [`Health`].
    pub fn of(
        cycle_done: bool,
        token: Option<TokenResult>,
        endpoints: impl IntoIterator<Item = EndpointResult>,
        warnings: &[Warning],
    ) -> Health {
        if !cycle_done {
            return Health::Pending;
        }
        let endpoints: Vec<EndpointResult> = endpoints.into_iter().collect();
        match token {
            Some(TokenResult::CredentialsRejected | TokenResult::SigningError) => {
                return Health::CredentialsRejected;
            }
            Some(TokenResult::RateLimited) => return Health::RateLimited,
            _ => {}
        }
        if endpoints.contains(&EndpointResult::RateLimited) {
            return Health::RateLimited;
        }
        if token.is_some_and(|t| !matches!(t, TokenResult::Success | TokenResult::BackedOff)) {
            return Health::IdpDown;
        }
        let backed_off =
            token == Some(TokenResult::BackedOff) || endpoints.contains(&EndpointResult::BackedOff);
        let proven =
            token == Some(TokenResult::Success) || endpoints.contains(&EndpointResult::Success);
        if backed_off && !proven {
            return Health::RateLimited;
        }
        if endpoints.contains(&EndpointResult::Forbidden) {
            return Health::PermissionMissing;
        }
        if endpoints
            .iter()
            .any(|e| !matches!(e, EndpointResult::Success | EndpointResult::BackedOff))
        {
            return Health::EndpointFailing;
        }
        if warnings.is_empty() {
            Health::Healthy
        } else {
            Health::Warning
        }
    }

    /// The machine name (`state` in the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::CredentialsRejected => "credentials_rejected",
            Health::IdpDown => "idp_down",
            Health::PermissionMissing => "permission_missing",
            Health::EndpointFailing => "endpoint_failing",
            Health::RateLimited => "rate_limited",
            Health::Warning => "warning",
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
            Health::Warning => "warning",
            Health::Pending => "pending",
            Health::Healthy => "healthy",
        }
    }

    /// True for every state but warning, pending and healthy.
    pub fn is_failing(self) -> bool {
        !matches!(self, Health::Warning | Health::Pending | Health::Healthy)
    }

    /// The value of `credprobe_tenant_success`: 1 for healthy and warning
    /// (every request sent succeeded), 0 for a failing state, none while
    /// pending (the series is absent until the first cycle).
    pub fn success_value(self) -> Option<u8> {
        match self {
            Health::Pending => None,
            Health::Healthy | Health::Warning => Some(1),
            _ => Some(0),
        }
    }
}

/// A tenant's state and its warnings: the one assessment every view reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The state.
    pub state: Health,
    /// What needs attention, whatever the state (a failing tenant may also
    /// have an expiring credential); in [`Warning::ALL`] order.
    pub warnings: Vec<Warning>,
    /// The credential file that cannot be used, while one cannot
    /// ([`credential_file_problem`]): the fact behind
    /// [`Warning::CredentialFileUnreadable`], for the views to say which
    /// file, since when and why.
    pub credential_file: Option<FileProblem>,
}

impl Assessment {
    /// The assessment of a tenant's record at `now`.
    pub fn of(tenant: &Tenant, state: &TenantState, now: SystemTime) -> Assessment {
        let credential_file = credential_file_problem(tenant);
        let warnings = warnings(tenant, state, now, credential_file.is_some());
        Assessment {
            state: Health::of(
                state.cycles > 0,
                state.token.last_result(),
                state.endpoint_results(),
                &warnings,
            ),
            warnings,
            credential_file,
        }
    }
}

/// The one rule for a tenant's credential files: the secret, key or
/// certificate file of its credential, or of the next credential of a
/// rotation (`next_client_secret_file`, `next_client_key_file`), that is
/// missing, unreadable or holds a version that cannot be used (the last
/// good copy stays in use), with since when and why (the current
/// credential's first); `None` while every one can be used, or the
/// credentials read no file. The state's warning
/// ([`Warning::CredentialFileUnreadable`]), the views and
/// `credprobe_credential_files_ok` all read this.
pub fn credential_file_problem(tenant: &Tenant) -> Option<FileProblem> {
    tenant.token.credential.broken_file().or_else(|| {
        tenant
            .token
            .next_credential
            .as_ref()
            .and_then(|next| next.broken_file())
    })
}

/// What needs attention in a tenant, by the checks of [`Warning`];
/// `file_problem` is [`credential_file_problem`]'s answer.
fn warnings(
    tenant: &Tenant,
    state: &TenantState,
    now: SystemTime,
    file_problem: bool,
) -> Vec<Warning> {
    let scope_missing = state.grant.as_ref().is_some_and(|grant| {
        tenant
            .expect_scopes
            .iter()
            .any(|scope| grant.grants(scope) == Some(false))
    });
    // A successor listed by the credential inventory makes an expiring
    // credential information (the page says "rotation started"), as the
    // alert does.
    let expiring = state
        .credential_expiry(tenant)
        .is_some_and(|at| at <= now + EXPIRY_WARNING)
        && !state.successor_exists(tenant);
    let backed_off = state.token.last_result() == Some(TokenResult::BackedOff)
        || state
            .endpoint_results()
            .any(|e| e == EndpointResult::BackedOff);
    Warning::ALL
        .into_iter()
        .zip([scope_missing, expiring, backed_off, file_problem])
        .filter_map(|(warning, on)| on.then_some(warning))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use EndpointResult as E;
    use TokenResult as T;

    fn of(token: Option<T>, endpoints: &[E]) -> Health {
        Health::of(true, token, endpoints.iter().copied(), &[])
    }

    #[test]
    fn the_state_rule() {
        assert_eq!(Health::of(false, None, [], &[]), Health::Pending);
        assert_eq!(
            Health::of(false, Some(T::CredentialsRejected), [], &[]),
            Health::Pending
        );
        assert_eq!(
            of(Some(T::CredentialsRejected), &[E::NoToken]),
            Health::CredentialsRejected
        );
        assert_eq!(of(Some(T::RateLimited), &[E::Success]), Health::RateLimited);
        assert_eq!(
            of(Some(T::Success), &[E::Success, E::RateLimited]),
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
            assert_eq!(of(Some(token), &[E::NoToken]), Health::IdpDown, "{token:?}");
        }
        assert_eq!(
            of(Some(T::Success), &[E::Success, E::Forbidden]),
            Health::PermissionMissing
        );
        // A reused token: no token request this cycle or before.
        assert_eq!(of(None, &[E::Forbidden]), Health::PermissionMissing);
        assert_eq!(
            of(Some(T::Success), &[E::Forbidden, E::ServerError]),
            Health::PermissionMissing
        );
        assert_eq!(
            of(Some(T::Success), &[E::Success, E::Unauthorized]),
            Health::EndpointFailing
        );
        assert_eq!(of(Some(T::Success), &[E::Success]), Health::Healthy);
        assert_eq!(of(Some(T::Success), &[]), Health::Healthy);
    }

    #[test]
    fn backing_off_is_a_warning_while_something_else_proves_the_credential() {
        // The token request waits out a Retry-After; the endpoints succeed
        // with the token still valid.
        assert_eq!(
            Health::of(
                true,
                Some(T::BackedOff),
                [E::Success],
                &[Warning::BackedOff]
            ),
            Health::Warning
        );
        // An endpoint waits; the token request proves the credential.
        assert_eq!(
            Health::of(
                true,
                Some(T::Success),
                [E::BackedOff],
                &[Warning::BackedOff]
            ),
            Health::Warning
        );
        // Nothing was sent: nothing proven.
        assert_eq!(of(Some(T::BackedOff), &[E::NoToken]), Health::RateLimited);
        assert_eq!(of(Some(T::BackedOff), &[E::BackedOff]), Health::RateLimited);
        assert_eq!(of(Some(T::BackedOff), &[]), Health::RateLimited);
    }

    #[test]
    fn warnings_never_show_as_healthy_and_never_hide_a_failure() {
        for warning in Warning::ALL {
            assert_eq!(
                Health::of(true, Some(T::Success), [E::Success], &[warning]),
                Health::Warning
            );
            assert_eq!(
                Health::of(true, Some(T::CredentialsRejected), [], &[warning]),
                Health::CredentialsRejected
            );
            assert_eq!(
                Health::of(false, None, [], &[warning]),
                Health::Pending,
                "no cycle, no state"
            );
        }
    }

    #[test]
    fn the_metric_is_one_for_healthy_and_warning_zero_for_failing_and_absent_while_pending() {
        for state in Health::ALL {
            let expected = match state {
                Health::Pending => None,
                Health::Healthy | Health::Warning => Some(1),
                _ => Some(0),
            };
            assert_eq!(state.success_value(), expected, "{state:?}");
            assert_eq!(state.success_value() == Some(0), state.is_failing());
        }
    }

    #[test]
    fn failing_states_sort_first_then_warning_pending_healthy() {
        let mut sorted = Health::ALL;
        sorted.sort();
        assert_eq!(sorted, Health::ALL);
        assert!(Health::ALL[..5].iter().all(|h| h.is_failing()));
        assert!(Health::ALL[5..].iter().all(|h| !h.is_failing()));
        assert_eq!(
            serde_json::to_value(Health::IdpDown).unwrap(),
            Health::IdpDown.as_str()
        );
        for warning in Warning::ALL {
            assert_eq!(serde_json::to_value(warning).unwrap(), warning.as_str());
        }
    }
}
