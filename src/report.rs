//! `credprobe probe`: one cycle now for the chosen tenants, recorded in
//! their records like the daemon's, and a report of those records a
//! person reads at a glance, e.g.
//! `acme-prod: token OK in 182 ms, expires in 15m; workflows 200 in 95 ms`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::{self, Tenant};
use crate::fleet::Fleet;
use crate::probe::{self, ProbeState, ResultClass, Transport};
use crate::unix_time::unix_seconds;
use crate::views::{Depth, Health, TenantView};

/// Runs one cycle of each selected tenant (all when `only` is empty),
/// prints one line per tenant (and with `phases`, one more per step that
/// sent a request), and returns 0 when everything succeeded, 1 when
/// anything failed, 2 for an unknown tenant name.
pub async fn probe_once(
    config_path: &Path,
    only: &[String],
    phases: bool,
) -> anyhow::Result<ExitCode> {
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
    let fleet = Fleet::new(&config.histogram_buckets);
    let mut tasks = tokio::task::JoinSet::new();
    let records: Vec<_> = tenants.iter().map(|tenant| fleet.add(tenant)).collect();
    for record in &records {
        let transport = Arc::clone(&transport);
        let record = Arc::clone(record);
        tasks.spawn(async move {
            let mut state = ProbeState::default();
            let report = probe::run_cycle(&transport, record.tenant(), &mut state).await;
            record.record_cycle(&report);
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined?;
    }
    let mut all_ok = true;
    let now = SystemTime::now();
    for record in &records {
        let view = TenantView::of(record, now, Depth::Latest);
        // A warning (scope missing, credential expiring, ...) is said in
        // the line; every request that was sent succeeded, so it is no
        // failure of the probe.
        all_ok &= matches!(view.state, Health::Healthy | Health::Warning);
        println!("{}", describe(&view, now));
        if phases {
            for line in describe_phases(&view) {
                println!("  {line}");
            }
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line for one tenant's cycle, from its view at `now`.
pub fn describe(view: &TenantView, now: SystemTime) -> String {
    let mut parts = Vec::new();
    let token = &view.token;
    match token.step.result {
        Some(result) if result.is_success() => {
            let mut text = format!("token OK{}", millis(token.step.latency_seconds));
            match token.expires_at {
                // Whole seconds, rounded: a 900 s token just issued reads 15m.
                Some(at) => text.push_str(&format!(
                    ", expires in {}",
                    humantime::format_duration(Duration::from_secs(
                        (at - unix_seconds(now)).round().max(0.0) as u64
                    ))
                )),
                None => text.push_str(", expiry unknown"),
            }
            if !token.expected_scopes.is_empty() {
                let missing: Vec<&str> = token
                    .expected_scopes
                    .iter()
                    .filter(|s| s.granted != Some(true))
                    .map(|s| s.scope.as_str())
                    .collect();
                match (&token.granted_scopes, missing.is_empty()) {
                    (None, _) => text.push_str(", granted scopes unknown"),
                    (Some(_), true) => text.push_str(", every expected scope granted"),
                    (Some(_), false) => {
                        text.push_str(&format!(", scopes MISSING: {}", missing.join(" ")))
                    }
                }
            }
            parts.push(text);
        }
        Some(result) => parts.push(format!(
            "token FAILED: {}{}{}{}",
            result.as_str(),
            detail(token.step.detail.as_deref()),
            millis(token.step.latency_seconds).replacen(" in ", " after ", 1),
            token
                .rejection_reason
                .map(|r| format!(", reason {}", r.as_str()))
                .unwrap_or_default()
        )),
        None => parts.push("token not requested (the cached token is still valid)".to_owned()),
    }
    for endpoint in &view.endpoints {
        let step = &endpoint.step;
        let Some(result) = step.result else {
            continue;
        };
        let status = step
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".to_owned());
        let latency = millis(step.latency_seconds);
        if result.is_success() {
            parts.push(format!("{} {status}{latency}", endpoint.name));
        } else {
            parts.push(format!(
                "{} FAILED: {} {status}{latency}{}",
                endpoint.name,
                result.as_str(),
                detail(step.detail.as_deref())
            ));
        }
    }
    for warning in &view.warnings {
        parts.push(format!("WARNING: {}", warning.text()));
    }
    format!("{}: {}", view.name, parts.join("; "))
}

/// Where each step's request spent its time, one line per step that sent
/// one, e.g. `token: dns 0.4 ms, connect 0.2 ms, tls 3.1 ms, processing
/// 120 ms, transfer 0.1 ms (new connection)`.
pub fn describe_phases(view: &TenantView) -> Vec<String> {
    view.phases_by_step()
        .filter_map(|(step, seen)| {
            let seen = seen?;
            let split: Vec<String> = seen
                .phases
                .named()
                .iter()
                .map(|(phase, took)| {
                    format!("{} {:.1} ms", phase.as_str(), took.as_secs_f64() * 1000.0)
                })
                .collect();
            let connection = if seen.reused_connection {
                "reused connection"
            } else {
                "new connection"
            };
            Some(format!("{step}: {} ({connection})", split.join(", ")))
        })
        .collect()
}

/// " in 182 ms", or nothing when no request was sent.
fn millis(seconds: Option<f64>) -> String {
    seconds
        .map(|s| format!(" in {} ms", (s * 1000.0) as u64))
        .unwrap_or_default()
}

/// " (what went wrong)", or nothing.
fn detail(detail: Option<&str>) -> String {
    detail.map(|d| format!(" ({d})")).unwrap_or_default()
}
