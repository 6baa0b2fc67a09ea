//! The Entra credential inventory's task: one per tenant with
//! `entra.credential_inventory`, beside (never inside) its probe cycles.
//! It reads Graph at start, then hourly; a failed attempt is retried after
//! [`RETRY_AFTER_FAILURE`], so at most 12 attempts an hour. Each result goes
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

/// Time before a failed reading is tried again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(300);

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
    let mut last: Option<Result<(), String>> = None;
    loop {
        // Taken each time: the client certificate may have changed.
        let clients = transport.tenant_clients(&tenant.http);
        let result = inventory::fetch(&transport, &clients, &tenant, settings).await;
        log_change(&tenant.name, &result, &mut last);
        let wait = if result.is_ok() {
            PERIOD
        } else {
            RETRY_AFTER_FAILURE
        };
        record.record_inventory(result);
        tokio::time::sleep(wait).await;
    }
}

/// Logs the result when it differs from the last one logged.
fn log_change(
    tenant: &str,
    result: &Result<Found, InventoryError>,
    last: &mut Option<Result<(), String>>,
) {
    let now = result.as_ref().map(|_| ()).map_err(ToString::to_string);
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
