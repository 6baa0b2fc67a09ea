//! The Entra credential inventory as the tenant page and its JSON show it
//! (`credential_inventory`): when the credential in use and the latest
//! credential expire, whether a rotation has started, and why the last
//! reading failed (naming the missing Graph permission on a 403). Never a
//! hint, a thumbprint or a token.

use std::time::SystemTime;

use serde::Serialize;

use crate::config::Tenant;
use crate::fleet::TenantState;
use crate::unix_time::{seconds_until, unix_seconds};

/// What the inventory found of one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct InventoryView {
    /// `ok`, or why the last reading failed (`forbidden`, `unauthorized`,
    /// `not_found`, `token_failed`, `no_answer`, `unexpected_status`,
    /// `backed_off`, `invalid_response`); `null` before the first.
    pub result: Option<&'static str>,
    /// The last failure in words, while the last reading failed.
    pub error: Option<String>,
    /// The Graph permission to grant, when that is what failed
    /// (`Application.Read.All` on a 403).
    pub missing_permission: Option<&'static str>,
    /// When the last reading finished (unix seconds).
    pub last_attempt_at: Option<f64>,
    /// When the last good listing was read.
    pub last_success_at: Option<f64>,
    /// When the credential in use expires, as Graph lists it.
    pub in_use_expires_at: Option<f64>,
    /// True when the credential in use was recognised by its hint or
    /// thumbprint; false when the earliest is shown because it could not
    /// be told.
    pub in_use_matched: Option<bool>,
    /// When the latest of the application's credentials expires.
    pub latest_expires_at: Option<f64>,
    /// Seconds until then.
    pub latest_expires_in_seconds: Option<i64>,
    /// True when a credential ending later than the one in use exists: a
    /// rotation has started, so an expiring credential is information.
    pub rotation_started: bool,
    /// How many secrets and certificates Graph lists.
    pub secrets: Option<usize>,
    /// How many certificates Graph lists.
    pub certificates: Option<usize>,
}

impl InventoryView {
    /// The view of a tenant with the inventory on; `None` for the others.
    pub fn of(tenant: &Tenant, state: &TenantState, now: SystemTime) -> Option<InventoryView> {
        tenant.inventory.as_ref()?;
        let inventory = state.inventory.as_ref();
        let found = inventory.and_then(|i| i.found.as_ref());
        let error = inventory.and_then(|i| i.error.as_ref());
        let latest = found.and_then(|f| f.latest_expiry);
        Some(InventoryView {
            result: match (inventory, error) {
                (None, _) => None,
                (Some(_), None) => Some("ok"),
                (Some(_), Some(why)) => Some(why.kind()),
            },
            error: error.map(ToString::to_string),
            missing_permission: error.and_then(|why| why.missing_permission()),
            last_attempt_at: inventory.and_then(|i| i.last_attempt_at).map(unix_seconds),
            last_success_at: inventory.and_then(|i| i.last_success_at).map(unix_seconds),
            in_use_expires_at: found.and_then(|f| f.in_use_expiry).map(unix_seconds),
            in_use_matched: found.map(|f| f.matched),
            latest_expires_at: latest.map(unix_seconds),
            latest_expires_in_seconds: latest.map(|t| seconds_until(t, now)),
            rotation_started: state.successor_exists(tenant),
            secrets: found.map(|f| f.secrets),
            certificates: found.map(|f| f.certificates),
        })
    }
}
