//! The fleet phases: each size its own credprobe against the shared
//! simulator for BENCH_PHASE_SECONDS (one interval of warm-up, window A
//! probing only, window B probing while /metrics is scraped 6 times), the
//! evenness side run beside the first, and the concurrent scrapes of the
//! largest fleet once it is settled.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::config::{self, Auth};
use super::figures::{
    Evenness, Fig, cpu_s_per_k, evenness, mib, pct_of_core, thousands, ticks_between, whole,
};
use super::processes::Output;
use super::results::{Burst, Concurrent, Fleet, Scrapes};
use super::{
    Ctx, Simulator, check_answers, lateness, median, mkdir, now, procfs, read, sleep_until,
    warnings, write, write_secrets,
};
use crate::expo;

/// Scrapes during window B, alternately plain and gzip.
const SCRAPES: u64 = 6;

/// What the fleet phases measured.
pub struct Fleets {
    /// One per size, in the order of BENCH_SIZES.
    pub fleets: Vec<Fleet>,
    /// The evenness side run: size, command, evenness.
    pub even_side: Option<(u64, String, Evenness)>,
    /// The concurrent scrapes of the largest fleet.
    pub concurrent: Concurrent,
}

/// A small fleet beside the first phase, against a simulator of its own.
struct Side {
    n: u64,
    sim: Simulator,
    pid: u32,
    t0: f64,
    command: String,
}

/// Writes the configuration of `n` tenants against `simulator` into `dir`.
pub fn generate(n: u64, dir: &Path, simulator: &str, interval: u64) -> Result<(), String> {
    let secrets = write_secrets(n, dir)?.display().to_string();
    let auth = Auth::Secret {
        secrets_dir: &secrets,
    };
    let text = config::credprobe(n, simulator, interval, config::timeout_for(interval), &auth);
    write(&dir.join("credprobe.yml"), text.as_bytes())
}

/// Every fleet phase, with the side run beside the first.
pub async fn all(ctx: &mut Ctx, sim: &Simulator) -> Result<Fleets, String> {
    let mut fleets = Vec::new();
    let mut even_side = None;
    let mut concurrent = None;
    for (index, n) in ctx.knobs.sizes.clone().into_iter().enumerate() {
        let side = if index == 0 && ctx.knobs.even_size > 0 {
            Some(side_start(ctx).await?)
        } else {
            None
        };
        let side_pids: Vec<u32> = side
            .iter()
            .flat_map(|side| [side.sim.pid, side.pid])
            .collect();
        let (fleet, burst) = phase(ctx, sim, n, &side_pids).await?;
        fleets.push(fleet);
        if burst.is_some() {
            concurrent = burst;
        }
        if let Some(side) = side {
            even_side = Some(side_finish(ctx, side).await?);
        }
    }
    let concurrent = concurrent.ok_or("no concurrent scrapes were measured")?;
    Ok(Fleets {
        fleets,
        even_side,
        concurrent,
    })
}

async fn side_start(ctx: &mut Ctx) -> Result<Side, String> {
    let n = ctx.knobs.even_size;
    let dir = ctx.work.join(format!("even-{n}"));
    mkdir(&dir)?;
    let sim = ctx.simulator(&ctx.work.join("scenario.yml"), &dir).await?;
    generate(n, &dir, &sim.url, ctx.knobs.interval)?;
    let (pid, port, t0) = ctx
        .credprobe(
            &dir.join("credprobe.yml"),
            &dir,
            &format!("credprobe ({n} tenants)"),
        )
        .await?;
    let command = format!(
        "credprobe run --config.file even-{n}/credprobe.yml --web.listen-address 127.0.0.1:{port} --log.level warn"
    );
    ctx.log(&format!(
        "evenness side run: {n} tenants against their own simulator {}",
        sim.url
    ));
    Ok(Side {
        n,
        sim,
        pid,
        t0,
        command,
    })
}

async fn side_finish(ctx: &mut Ctx, side: Side) -> Result<(u64, String, Evenness), String> {
    let (n, knobs) = (side.n, ctx.knobs.clone());
    let dir = ctx.work.join(format!("even-{n}"));
    sleep_until(side.t0 + knobs.phase as f64 - 2.0).await;
    ctx.procs
        .check(side.pid, &format!("credprobe ({n} tenants) died"))?;
    let stats = ctx.stats(&side.sim.url, &dir.join("stats.json")).await?;
    ctx.procs.stop(side.pid).await;
    ctx.procs.stop(side.sim.pid).await;
    if stats.requests == 0 {
        return Err(format!("evenness side run: no requests ({n} tenants)"));
    }
    check_answers(stats.other, stats.requests, "evenness side run")?;
    let from = whole(side.t0 + knobs.interval as f64 + 5.0);
    let to = whole(side.t0 + knobs.phase as f64 - 3.0);
    let even =
        evenness(&stats.per_second, from, to).ok_or("evenness side run: no whole seconds")?;
    ctx.log(&format!(
        "evenness side run: {n} tenants: busiest second {} requests, average {}, ratio {}",
        even.busiest, even.average, even.ratio
    ));
    Ok((n, side.command, even))
}

/// One fleet phase of `n` tenants; the largest also measures concurrent
/// scrapes after window B.
async fn phase(
    ctx: &mut Ctx,
    sim: &Simulator,
    n: u64,
    side_pids: &[u32],
) -> Result<(Fleet, Option<Concurrent>), String> {
    let knobs = ctx.knobs.clone();
    let (interval, clk) = (knobs.interval, ctx.clk_tck as f64);
    let dir = ctx.work.join(format!("fleet-{n}"));
    ctx.log(&format!("fleet {n} tenants: generating config"));
    mkdir(&dir)?;
    generate(n, &dir, &sim.url, interval)?;
    let config = dir.join("credprobe.yml");
    ctx.check_config(&config, &dir)
        .await
        .map_err(|e| format!("check-config failed for {n} tenants: {e}"))?;
    let what = format!("credprobe ({n} tenants)");
    let (pid, port, t0) = ctx.credprobe(&config, &dir, &what).await?;
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let command = format!(
        "credprobe run --config.file fleet-{n}/credprobe.yml --web.listen-address 127.0.0.1:{port} --log.level warn"
    );
    ctx.log(&format!(
        "fleet {n} tenants: credprobe pid {pid} on :{port}; warming up for one interval"
    ));
    // Window A, probing only (no scrapes): CPU, requests, RSS.
    let mut wa0 = t0 + interval as f64 + 5.0;
    let a_len = (knobs.phase - interval - 5) * 55 / 100;
    let mut wa1 = wa0 + a_len as f64;
    let mut wb1 = t0 + knobs.phase as f64 - 2.0;
    sleep_until(wa0).await;
    ctx.procs
        .check(pid, &format!("{what} exited during warm-up"))?;
    let skip: Vec<u32> = [pid, sim.pid]
        .into_iter()
        .chain(side_pids.iter().copied())
        .collect();
    let (m0, s0) = (procfs::other_ticks(&skip), procfs::cpu_ticks(sim.pid)?);
    let ca0 = procfs::cpu_ticks(pid)?;
    wa0 = now();
    let stats_a0 = ctx.stats(&sim.url, &dir.join("stats-a0.json")).await?;
    let rss_a0 = procfs::rss_kib(pid)?;
    ctx.log(&format!(
        "fleet {n} tenants: window A (probing only, {a_len}s)"
    ));
    sleep_until(wa1).await;
    let ca1 = procfs::cpu_ticks(pid)?;
    wa1 = now();
    let stats_a1 = ctx.stats(&sim.url, &dir.join("stats-a1.json")).await?;
    let (m1, s1) = (procfs::other_ticks(&skip), procfs::cpu_ticks(sim.pid)?);
    let rss_a = procfs::rss_kib(pid)?;
    // Window B: probing plus scrapes, alternately plain and gzip, spread out.
    let (cb0, wb0) = (ca1, wa1);
    let b_len = whole(wb1 - wb0);
    let spacing = Fig::new(b_len as f64 / SCRAPES as f64, 3).value;
    ctx.log(&format!(
        "fleet {n} tenants: window B (probing + {SCRAPES} scrapes, {b_len}s)"
    ));
    let mut records = String::new();
    let mut last_plain = None;
    for i in 1..=SCRAPES {
        sleep_until(wb0 + (i as f64 - 0.5) * spacing).await;
        let mode = if i % 2 == 1 { "plain" } else { "gzip" };
        let body = dir.join(format!("metrics-{i}.{mode}"));
        let scrape = ctx.scrape(pid, &metrics_url, &body, mode == "gzip").await?;
        records.push_str(&scrape.record(mode));
        if mode == "plain" {
            last_plain = Some(body);
        }
    }
    write(&dir.join("scrapes.txt"), records.as_bytes())?;
    sleep_until(wb1).await;
    let cb1 = procfs::cpu_ticks(pid)?;
    wb1 = now();
    let stats_b1 = ctx.stats(&sim.url, &dir.join("stats-b1.json")).await?;
    ctx.procs.check(pid, &format!("{what} died"))?;
    let (rss, hwm) = (procfs::rss_kib(pid)?, procfs::hwm_kib(pid)?);
    // The largest fleet, settled and scraped: do concurrent scrapes share a render?
    let concurrent = if n == knobs.max_size() {
        Some(concurrent_scrapes(ctx, pid, &metrics_url, &dir).await?)
    } else {
        None
    };
    ctx.procs.stop(pid).await;
    let warnings = warnings(&dir.join("credprobe.log"));

    // Figures.
    let (a_secs, b_secs) = (Fig::new(wa1 - wa0, 3).value, Fig::new(wb1 - wb0, 3).value);
    let req_a = stats_a1.requests.saturating_sub(stats_a0.requests);
    let req_b = stats_b1.requests.saturating_sub(stats_a1.requests);
    let non2xx = stats_b1.other.saturating_sub(stats_a0.other);
    if req_a == 0 {
        return Err(format!("no upstream requests in window A ({n} tenants)"));
    }
    check_answers(non2xx, req_a + req_b, &format!("{n} tenants, windows A+B"))?;
    let last_plain = last_plain.ok_or("no plain scrape")?;
    let exposition = read(&last_plain)?;
    let late = lateness(&exposition)?;
    // Evenness over whole seconds after the first interval.
    let (from, to) = (whole(t0 + interval as f64 + 5.0), whole(wb1 - 1.0));
    let even = evenness(&stats_b1.per_second, from, to).ok_or("no whole seconds for evenness")?;
    let tick_ms = Fig::new(1000.0 / clk, 6).value;
    let medians = |mode: &str| -> Result<Scrapes, String> {
        let column = |field, scale| expo::column(&records, Some(mode), field, scale).map(median);
        Ok(Scrapes {
            ttfb_ms: column(2, 1000.0)?,
            total_ms: column(3, 1000.0)?,
            bytes: column(4, 1.0)?,
            cpu_ms: column(5, tick_ms)?,
        })
    };
    let matcher = |text: &str| expo::Matcher::parse(text);
    let sum = |name: &str, matchers: &[expo::Matcher]| expo::sum(&exposition, name, matchers);
    let success = [matcher("result=success")?];
    let (tokens, tokens_ok) = (
        sum("credprobe_token_requests_total", &[])?,
        sum("credprobe_token_requests_total", &success)?,
    );
    let (calls, calls_ok) = (
        sum("credprobe_endpoint_requests_total", &[])?,
        sum("credprobe_endpoint_requests_total", &success)?,
    );
    let fleet = Fleet {
        n,
        command,
        req_a,
        req_rate: Fig::new(req_a as f64 / a_secs, 1),
        cpu_pct: Fig::new(pct_of_core(ca1 - ca0, clk, a_secs), 2),
        cpu_pct_b: Fig::new(pct_of_core(cb1 - cb0, clk, b_secs), 2),
        cpu_per_k: Fig::new(cpu_s_per_k(ca1 - ca0, clk, req_a), 4),
        rss_kib: rss,
        rss_a0_mib: mib(rss_a0 as f64),
        rss_a_mib: mib(rss_a as f64),
        rss_mib: mib(rss as f64),
        hwm_mib: mib(hwm as f64),
        rss_per_tenant: Fig::new(rss as f64 / n as f64, 1),
        late,
        even,
        plain: medians("plain")?,
        gzip: medians("gzip")?,
        series: expo::series(&exposition, &[])?,
        series_tenant: expo::series(&exposition, &[matcher("tenant=tenant-00000")?])?,
        series_fixed: expo::series(&exposition, &[matcher("tenant=")?])?,
        own_requests: expo::format_number(tokens + calls),
        own_failures: expo::format_number(tokens - tokens_ok + calls - calls_ok),
        non2xx,
        sim_pct: Fig::new(pct_of_core(s1 - s0, clk, a_secs), 1),
        other_pct: Fig::new(100.0 * ticks_between(&m0, &m1) as f64 / clk / a_secs, 1),
        warnings,
    };
    // Only the last plain scrape is kept (they are ~9 KiB per tenant).
    for i in (1..=SCRAPES).step_by(2) {
        let body = dir.join(format!("metrics-{i}.plain"));
        if body != last_plain {
            let _ = std::fs::remove_file(body);
        }
    }
    ctx.log(&format!(
        "fleet {n} tenants: cpu {}% of a core, {} cpu-s/1k req, rss {} MiB, lateness p99 {} s, busiest/avg {}",
        fleet.cpu_pct, fleet.cpu_per_k, fleet.rss_mib, fleet.late.p99, fleet.even.ratio
    ));
    Ok((fleet, concurrent))
}

/// The single-flight target: scrapes that arrive together share one render.
/// On the largest fleet after window B: single plain scrapes, then as many
/// rounds of BENCH_SCRAPE_CONCURRENCY at once (singles first: memory glibc
/// keeps after a burst would raise the single peaks), each by `loadgen
/// scrape`, which resets the daemon's VmHWM just before, reads it after the
/// last body, and samples VmRSS every millisecond meanwhile.
async fn concurrent_scrapes(
    ctx: &mut Ctx,
    pid: u32,
    url: &str,
    fleet_dir: &Path,
) -> Result<Concurrent, String> {
    let (concurrency, rounds) = (ctx.knobs.scrape_concurrency, ctx.knobs.scrape_rounds);
    let dir = fleet_dir.join("concurrent");
    mkdir(&dir)?;
    let command = format!("loadgen scrape --url {url} --concurrency N --pid {pid}");
    ctx.log(&format!(
        "concurrent scrapes ({} tenants): {rounds} single plain scrapes, then {rounds} times {concurrency} at once",
        thousands(ctx.knobs.max_size())
    ));
    tokio::time::sleep(Duration::from_secs(3)).await; // past the last window-B scrape
    let mut bursts = Vec::new();
    for c in [1, concurrency] {
        let mut results: Vec<Value> = Vec::new();
        for round in 1..=rounds {
            ctx.procs
                .check(pid, "credprobe died during the concurrent scrapes")?;
            let out = dir.join(format!("round-{round}-x{c}.json"));
            let mut scrape = Command::new(&ctx.loadgen);
            scrape.args([
                "scrape",
                "--url",
                url,
                "--concurrency",
                &c.to_string(),
                "--pid",
                &pid.to_string(),
            ]);
            let lg = ctx.procs.spawn(
                "loadgen scrape",
                scrape,
                Output::Split(&out, &dir.join("loadgen.log")),
            )?;
            let ended = ctx.procs.wait(lg, Duration::from_secs(300)).await?;
            if ended.code != Some(0) {
                return Err(format!(
                    "loadgen scrape --concurrency {c} failed (see {})",
                    dir.join("loadgen.log").display()
                ));
            }
            let json: Value = serde_json::from_str(&read(&out)?)
                .map_err(|e| format!("{}: {e}", out.display()))?;
            if json["ok"].as_u64() != Some(c) {
                return Err(format!(
                    "loadgen scrape: not every scrape answered (see {})",
                    out.display()
                ));
            }
            if json["hwm_reset"] != Value::Bool(true) {
                ctx.log("warning: VmHWM could not be reset; the sampled VmRSS peak stands in");
            }
            results.push(json);
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let field = |name: &str| median(results.iter().filter_map(|r| r[name].as_f64()).collect());
        let kib = |name: &str| -> f64 { field(name).parse().unwrap_or(0.0) };
        bursts.push((
            kib("peak_kib"),
            Burst {
                before_mib: mib(kib("rss_before_kib")),
                peak_mib: mib(kib("peak_kib")),
                sampled_mib: mib(kib("sampled_peak_kib")),
                growth_mib: mib(kib("growth_kib")),
                first_byte_ms_max: field("first_byte_ms_max"),
                body_ms_max: field("body_ms_max"),
                bytes_min: field("bytes_min"),
                bytes_max: field("bytes_max"),
            },
        ));
    }
    let (many_peak, many) = bursts.pop().ok_or("no concurrent scrapes")?;
    let (one_peak, single) = bursts.pop().ok_or("no single scrapes")?;
    if one_peak <= 0.0 {
        return Err("concurrent scrapes: no peak for one scrape".to_owned());
    }
    let ratio = Fig::new(many_peak / one_peak, 2);
    ctx.log(&format!(
        "concurrent scrapes: peak {} MiB for 1, {} MiB for {concurrency} at once: {ratio} x (target <= 1.3)",
        single.peak_mib, many.peak_mib
    ));
    Ok(Concurrent {
        command,
        concurrency,
        rounds,
        single,
        many,
        ratio,
    })
}
