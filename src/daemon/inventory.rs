//! The Entra credential inventory's task: one per tenant with
//! `entra.credential_inventory`, beside (never inside) its probe cycles.
//! It reads Graph at start, then hourly. A refusal that a retry will not
//! fix (401, 403, 404 and the other 4xx: a configuration problem) waits
//! the hour too; a failure that may pass (no answer, 5xx, 408, 429, the
//! Graph token request failing, an answer that is not an application) is
//! retried after [`RETRY_AFTER_FAILURE`], so at most 12 attempts an hour
//! ([`wait_after`]). Each result goes
//! into the tenant's record; the log gets a line when the result changes
//! (a 403 names the missing permission once, not every hour).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::fleet::TenantRecord;
use crate::probe::Transport;
use crate::probe::inventory::{self, Found, InventoryError};

/// Time between two readings that succeeded.
pub const PERIOD: Duration = Duration::from_secs(3600);

/// Time before a failed reading that may pass is tried again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(300);

/// How long to wait after `result` before reading again: [`PERIOD`] after
/// a listing and after a refusal that only a change of configuration fixes
/// (a missing permission, an unknown application, a token Graph does not
/// take, another 4xx), so such a tenant costs one Graph request an hour as
/// promised; [`RETRY_AFTER_FAILURE`] after a failure that may pass by
/// itself.
pub fn wait_after(result: &Result<Found, InventoryError>) -> Duration {
    match result {
        Ok(_)
        | Err(
            InventoryError::Forbidden | InventoryError::NotFound | InventoryError::Unauthorized,
        ) => PERIOD,
        Err(InventoryError::Status(status))
            if (400..500).contains(status) && !matches!(status, 408 | 429) =>
        {
            PERIOD
        }
        Err(_) => RETRY_AFTER_FAILURE,
    }
}

/// The inventory task of a tenant, ended when this is dropped (with the
/// tenant's own task).
#[derive(Debug)]
pub struct InventoryTask(JoinHandle<()>);

impl Drop for InventoryTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the inventory task of the record's tenant, if it has the
/// inventory on.
pub fn start(transport: &Arc<Transport>, record: &Arc<TenantRecord>) -> Option<InventoryTask> {
    record.tenant().inventory.as_ref()?;
    Some(InventoryTask(tokio::spawn(run(
        Arc::clone(transport),
        Arc::clone(record),
    ))))
}

async fn run(transport: Arc<Transport>, record: Arc<TenantRecord>) {
    let tenant = Arc::clone(record.tenant());
    let Some(settings) = &tenant.inventory else {
        return;
    };
    let mut last: Option<Result<(), InventoryError>> = None;
    loop {
        // Taken each time: the client certificate may have changed.
        let clients = transport.tenant_clients(&tenant.http);
        let result = inventory::fetch(&transport, &clients, &tenant, settings).await;
        log_change(&tenant.name, &result, &mut last);
        let wait = wait_after(&result);
        record.record_inventory(result);
        tokio::time::sleep(wait).await;
    }
}

/// Logs the result when it differs from the last one logged.
fn log_change(
    tenant: &str,
    result: &Result<Found, InventoryError>,
    last: &mut Option<Result<(), InventoryError>>,
) {
    let now = result.as_ref().map(|_| ()).map_err(Clone::clone);
    if last.as_ref() == Some(&now) {
        return;
    }
    match result {
        Ok(found) => tracing::info!(
            tenant,
            secrets = found.secrets,
            certificates = found.certificates,
            matched = found.matched,
            "credential inventory read from Microsoft Graph"
        ),
        Err(why) => tracing::warn!(
            tenant,
            result = why.kind(),
            missing_permission = why.missing_permission(),
            "credential inventory failed: {why}"
        ),
    }
    *last = Some(now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::TokenResult;

    #[test]
    fn configuration_refusals_wait_the_hour_and_passing_failures_retry_soon() {
        let listing = Found {
            in_use_expiry: None,
            matched: false,
            latest_expiry: None,
            secrets: 0,
            certificates: 0,
        };
        assert_eq!(wait_after(&Ok(listing)), PERIOD);
        for refusal in [
            InventoryError::Forbidden,
            InventoryError::NotFound,
            InventoryError::Unauthorized,
            InventoryError::Status(400),
        ] {
            assert_eq!(wait_after(&Err(refusal.clone())), PERIOD, "{refusal}");
        }
        for passing in [
            InventoryError::Transport("connection refused".into()),
            InventoryError::Status(503),
            InventoryError::Status(429),
            InventoryError::Status(408),
            InventoryError::BackedOff(Duration::from_secs(30)),
            InventoryError::InvalidBody("not JSON"),
            InventoryError::Token {
                result: TokenResult::ServerError,
                detail: "HTTP 503".into(),
            },
        ] {
            assert_eq!(
                wait_after(&Err(passing.clone())),
                RETRY_AFTER_FAILURE,
                "{passing}"
            );
        }
    }
}
