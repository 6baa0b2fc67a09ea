//! `credprobe probe`: one cycle now for the chosen tenants, and a report a
//! person reads at a glance, e.g.
//! `acme-prod: token OK in 182 ms, expires in 15m; workflows 200 in 95 ms`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::{self, Tenant};
use crate::probe::{self, CycleReport, EndpointResult, TenantState, TokenResult, Transport};

/// Runs one cycle of each selected tenant (all when `only` is empty),
/// prints one line per tenant, and returns 0 when everything succeeded,
/// 1 when anything failed, 2 for an unknown tenant name.
pub async fn probe_once(config_path: &Path, only: &[String]) -> anyhow::Result<ExitCode> {
    let config = config::load(config_path)?;
    let unknown: Vec<&String> = only
        .iter()
        .filter(|name| !config.tenants.iter().any(|t| &t.name == *name))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
        eprintln!(
            "credprobe: unknown tenant {}; configured: {}",
            unknown
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            known.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let tenants: Vec<Arc<Tenant>> = config
        .tenants
        .iter()
        .filter(|t| only.is_empty() || only.contains(&t.name))
        .cloned()
        .collect();
    let transport = Transport::new(config.max_concurrent_requests);
    let mut tasks = tokio::task::JoinSet::new();
    for (index, tenant) in tenants.iter().enumerate() {
        let transport = Arc::clone(&transport);
        let tenant = Arc::clone(tenant);
        tasks.spawn(async move {
            let mut state = TenantState::default();
            let report = probe::run_cycle(&transport, &tenant, &mut state).await;
            (index, report)
        });
    }
    let mut reports: Vec<Option<CycleReport>> = (0..tenants.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (index, report) = joined?;
        reports[index] = Some(report);
    }
    let mut all_ok = true;
    for (tenant, report) in tenants.iter().zip(reports) {
        let report = report.expect("every task reported");
        all_ok &= report.all_ok();
        println!("{}", describe(tenant, &report, SystemTime::now()));
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line for one tenant's cycle.
pub fn describe(tenant: &Tenant, report: &CycleReport, now: SystemTime) -> String {
    let mut parts = Vec::new();
    match &report.token {
        Some(token) if token.result == TokenResult::Success => {
            let mut text = format!("token OK in {}", millis(token.latency));
            match token.token.as_ref().and_then(|t| t.remaining(now)) {
                Some(left) => text.push_str(&format!(", expires in {}", rounded(left))),
                None => text.push_str(", expiry unknown"),
            }
            parts.push(text);
        }
        Some(token) => parts.push(format!(
            "token FAILED: {}{} after {}",
            token.result.as_str(),
            token
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default(),
            millis(token.latency)
        )),
        None => parts.push("token not requested (host asked to wait)".to_owned()),
    }
    for (name, outcome) in &report.endpoints {
        let status = outcome
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".to_owned());
        let latency = outcome
            .latency
            .map(|l| format!(" in {}", millis(l)))
            .unwrap_or_default();
        if outcome.result == EndpointResult::Success {
            parts.push(format!("{name} {status}{latency}"));
        } else {
            parts.push(format!(
                "{name} FAILED: {} {status}{latency}{}",
                outcome.result.as_str(),
                outcome
                    .detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ));
        }
    }
    format!("{}: {}", tenant.name, parts.join("; "))
}

fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// A duration rounded to whole seconds, printed like `15m` or `14m 59s`.
fn rounded(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs_f64().round() as u64)).to_string()
}
