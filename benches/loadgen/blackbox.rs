//! `loadgen blackbox`: drives blackbox_exporter's `/probe` at a fixed
//! rate, one module per tenant, alternating between two targets. Its own
//! CPU is not what the benchmark measures (blackbox_exporter's is).

use std::sync::Arc;

use crate::pacing::{Tally, client, paced};
use crate::{Options, loopback};

/// Runs the mode; `Ok` is the JSON to print.
pub(crate) async fn blackbox(options: &Options) -> Result<String, String> {
    let exporter = options.loopback_url("exporter")?;
    let targets: Vec<String> = options
        .text("targets")?
        .split(',')
        .map(loopback)
        .collect::<Result<_, _>>()?;
    let modules = options.number("modules")? as u64;
    let prefix = options.text("module-prefix")?.to_owned();
    let rate = options.number("rate")?;
    let window = options.seconds()?;
    let client = client()?;
    let tally = Arc::new(Tally::default());
    let (started, skipped, seconds) = paced(rate, window, |i| {
        let target = &targets[(i % targets.len() as u64) as usize];
        // Consecutive probes of one tenant hit both targets, as credprobe's
        // cycle calls both endpoints.
        let module = format!("{prefix}{:05}", (i / targets.len() as u64) % modules);
        let url = format!("{exporter}/probe?target={target}&module={module}");
        let (client, tally) = (client.clone(), tally.clone());
        async move {
            let answer = match client.get(&url).send().await {
                Ok(response) => response.text().await,
                Err(error) => Err(error),
            };
            match answer {
                Ok(body) if body.lines().any(|line| line == "probe_success 1") => {
                    Tally::add(&tally.ok, 1)
                }
                Ok(_) => Tally::add(&tally.failed, 1),
                Err(_) => Tally::add(&tally.errors, 1),
            }
        }
    })
    .await;
    Ok(format!(
        "{{\"mode\":\"blackbox\",\"rate\":{rate},\"paced_seconds\":{seconds:.3},\"probes\":{started},\"skipped\":{skipped},\"probe_success\":{},\"probe_failed\":{},\"errors\":{}}}",
        Tally::get(&tally.ok),
        Tally::get(&tally.failed),
        Tally::get(&tally.errors),
    ))
}
