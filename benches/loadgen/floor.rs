//! `loadgen floor`: the same upstream requests as a credprobe cycle (a
//! client-credentials token request, then two GETs with that token) at a
//! fixed request rate, on the HTTP stack credprobe uses (reqwest, hyper,
//! tokio), with nothing else around it. Its own CPU is the figure: it
//! reports the CPU it used while sending.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::Options;
use crate::pacing::{Tally, client, paced};

/// This process's user+system CPU in clock ticks (utime + stime of
/// /proc/self/stat).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3,
    // utime field 14, stime field 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}

/// Runs the mode; `Ok` is the JSON to print.
pub(crate) async fn floor(options: &Options) -> Result<String, String> {
    let simulator = options.loopback_url("simulator")?;
    let tenants = options.number("tenants")? as u64;
    let rate = options.number("rate")?;
    let window = options.seconds()?;
    let client = client()?;
    let tally = Arc::new(Tally::default());
    let token_url = format!("{simulator}/oauth2/token");
    let endpoints = [
        format!("{simulator}/api/v1/workflows"),
        format!("{simulator}/api/v1/act/remote-action"),
    ];
    let ticks_before = cpu_ticks();
    // Three requests per cycle.
    let (started, skipped, seconds) = paced(rate / 3.0, window, |i| {
        let id = format!("tenant-{:05}", i % tenants);
        let (client, tally) = (client.clone(), tally.clone());
        let (token_url, endpoints) = (token_url.clone(), endpoints.clone());
        async move {
            let outcome = floor_cycle(&client, &token_url, &endpoints, &id, &tally).await;
            match outcome {
                Ok(true) => Tally::add(&tally.ok, 1),
                Ok(false) => Tally::add(&tally.failed, 1),
                Err(_) => Tally::add(&tally.errors, 1),
            }
        }
    })
    .await;
    let ticks = cpu_ticks().saturating_sub(ticks_before);
    let mut json = String::new();
    let _ = write!(
        json,
        "{{\"mode\":\"floor\",\"rate\":{rate},\"paced_seconds\":{seconds:.3},\"cycles\":{started},\"skipped\":{skipped},\"requests\":{},\"cycles_ok\":{},\"cycles_failed\":{},\"errors\":{},\"cpu_ticks\":{ticks}}}",
        Tally::get(&tally.requests),
        Tally::get(&tally.ok),
        Tally::get(&tally.failed),
        Tally::get(&tally.errors),
    );
    Ok(json)
}

/// A token request then each endpoint with the token; true when all
/// answered 2xx.
async fn floor_cycle(
    client: &reqwest::Client,
    token_url: &str,
    endpoints: &[String],
    id: &str,
    tally: &Tally,
) -> Result<bool, reqwest::Error> {
    Tally::add(&tally.requests, 1);
    let response = client
        .post(token_url)
        .basic_auth(id, Some(format!("secret-{id}")))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    let ok = response.status().is_success();
    let body: serde_json::Value = response.json().await?;
    let Some(token) = body.get("access_token").and_then(|t| t.as_str()) else {
        return Ok(false);
    };
    let mut all_ok = ok;
    for endpoint in endpoints {
        Tally::add(&tally.requests, 1);
        let response = client.get(endpoint).bearer_auth(token).send().await?;
        all_ok &= response.status().is_success();
        response.bytes().await?;
    }
    Ok(all_ok)
}
