//! What the Entra credential inventory found of a tenant
//! ([`crate::probe::inventory`]), kept in its record, and the one rule
//! for when the credential in use expires.

use std::time::SystemTime;

use super::{TenantRecord, TenantState};
use crate::config::Tenant;
use crate::probe::inventory::{Found, InventoryError};

/// The inventory's latest attempt and its last good listing.
#[derive(Debug, Clone, Default)]
pub struct InventoryState {
    /// When the last attempt finished.
    pub last_attempt_at: Option<SystemTime>,
    /// When the last listing was read.
    pub last_success_at: Option<SystemTime>,
    /// The last good listing's conclusions (kept while later attempts
    /// fail: an expiry does not change by itself).
    pub found: Option<Found>,
    /// Why the last attempt failed, while it did.
    pub error: Option<InventoryError>,
}

impl TenantRecord {
    /// Records one inventory attempt (written by the tenant's inventory
    /// task, at most a few times an hour).
    pub fn record_inventory(&self, result: Result<Found, InventoryError>) {
        let now = SystemTime::now();
        let mut state = self.lock();
        let inventory = state.inventory.get_or_insert_with(Default::default);
        inventory.last_attempt_at = Some(now);
        match result {
            Ok(found) => {
                inventory.last_success_at = Some(now);
                inventory.found = Some(found);
                inventory.error = None;
            }
            Err(why) => inventory.error = Some(why),
        }
    }
}

impl TenantState {
    /// When the credential in use expires, by precedence: the configured
    /// `credential_expires` (explicit, so it wins), then what Graph lists
    /// for the credential in use (`entra.credential_inventory`), then the
    /// client certificate's notAfter. The one place the metrics and the
    /// views read it from.
    pub fn credential_expiry(&self, tenant: &Tenant) -> Option<SystemTime> {
        tenant
            .credential_expires
            .or_else(|| self.inventory_found()?.in_use_expiry)
            .or_else(|| tenant.token.credential.certificate_expiry())
    }

    /// The latest end of all the application's credentials, as Graph
    /// lists them; `None` without the inventory or before its first
    /// listing.
    pub fn latest_credential_expiry(&self) -> Option<SystemTime> {
        self.inventory_found()?.latest_expiry
    }

    /// True when Graph lists a credential that ends later than the one in
    /// use ([`TenantState::credential_expiry`]): a rotation has started.
    pub fn successor_exists(&self, tenant: &Tenant) -> bool {
        matches!(
            (self.latest_credential_expiry(), self.credential_expiry(tenant)),
            (Some(latest), Some(in_use)) if latest > in_use
        )
    }

    fn inventory_found(&self) -> Option<&Found> {
        self.inventory.as_ref()?.found.as_ref()
    }
}
