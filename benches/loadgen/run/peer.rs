//! The comparisons: blackbox_exporter side by side (one oauth2 module per
//! tenant, probes driven by `loadgen blackbox` at the upstream request rate
//! of the largest fleet; only the exporter's CPU counts) and the floor (the
//! same token + 2 GETs at that rate from wrk and from `loadgen floor`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::config;
use super::figures::{Fig, cpu_s_per_k, mib, pct_of_core, ticks_between};
use super::processes::{Ended, Output, free_port};
use super::results::{Floor, Peer};
use super::{Ctx, Simulator, check_answers, mkdir, now, procfs, read, write};

/// The upstream request rate of the largest fleet (3 a tenant a cycle).
fn rate_up(ctx: &Ctx) -> Fig {
    Fig::new(
        (ctx.knobs.max_size() * 3) as f64 / ctx.knobs.interval as f64,
        3,
    )
}

/// blackbox_exporter side by side.
pub async fn blackbox(ctx: &mut Ctx, sim: &Simulator) -> Result<Peer, String> {
    let (n, seconds, clk) = (
        ctx.knobs.max_size(),
        ctx.knobs.peer_seconds,
        ctx.clk_tck as f64,
    );
    let up = rate_up(ctx);
    let probes_per_s = Fig::new(up.value / 2.0, 3);
    let dir = ctx.work.join("blackbox");
    mkdir(&dir)?;
    write(
        &dir.join("blackbox.yml"),
        config::blackbox(n, &sim.url).as_bytes(),
    )?;
    let port = free_port()?;
    let listen = format!("--web.listen-address=127.0.0.1:{port}");
    let command = format!(
        "prometheus-blackbox-exporter --config.file=blackbox.yml {listen} --log.level=warn"
    );
    let mut exporter = Command::new("prometheus-blackbox-exporter");
    exporter
        .arg(format!(
            "--config.file={}",
            dir.join("blackbox.yml").display()
        ))
        .arg(&listen)
        .arg("--log.level=warn");
    let bb = ctx.procs.spawn(
        "blackbox_exporter",
        exporter,
        Output::Log(&dir.join("blackbox.log")),
    )?;
    ctx.wait_http(
        &format!("http://127.0.0.1:{port}/-/healthy"),
        bb,
        30,
        "blackbox_exporter",
    )
    .await?;
    ctx.log(&format!("blackbox_exporter pid {bb}: {probes_per_s} probes/s ({up} upstream requests/s) for {seconds}s"));
    let targets = format!("{0}/api/v1/workflows,{0}/api/v1/act/remote-action", sim.url);
    let args = [
        "blackbox".to_owned(),
        "--exporter".to_owned(),
        format!("http://127.0.0.1:{port}"),
        "--targets".to_owned(),
        targets,
        "--modules".to_owned(),
        n.to_string(),
        "--module-prefix".to_owned(),
        "t".to_owned(),
        "--rate".to_owned(),
        probes_per_s.to_string(),
        "--seconds".to_owned(),
        (seconds + 10).to_string(),
    ];
    let driver = format!("loadgen {}", args.join(" "));
    let mut loadgen = Command::new(&ctx.loadgen);
    loadgen.args(&args);
    let (json_path, log) = (dir.join("loadgen.json"), dir.join("loadgen.log"));
    let lg = ctx.procs.spawn(
        "the blackbox driver",
        loadgen,
        Output::Split(&json_path, &log),
    )?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let skip = [bb, sim.pid, lg];
    let m0 = procfs::other_ticks(&skip);
    let b0 = procfs::cpu_ticks(bb)?;
    let t0 = now();
    let stats0 = ctx.stats(&sim.url, &dir.join("stats-0.json")).await?;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let b1 = procfs::cpu_ticks(bb)?;
    let t1 = now();
    let stats1 = ctx.stats(&sim.url, &dir.join("stats-1.json")).await?;
    let m1 = procfs::other_ticks(&skip);
    let (rss, hwm) = (procfs::rss_kib(bb)?, procfs::hwm_kib(bb)?);
    let ended = ctx
        .procs
        .wait(lg, Duration::from_secs(seconds + 10 + 60))
        .await?;
    if ended.code != Some(0) {
        return Err(format!(
            "the blackbox driver failed (see {})",
            log.display()
        ));
    }
    ctx.procs.stop(bb).await;
    let requests = stats1.requests.saturating_sub(stats0.requests);
    if requests == 0 {
        return Err("blackbox_exporter made no upstream requests".to_owned());
    }
    check_answers(
        stats1.other.saturating_sub(stats0.other),
        requests,
        "blackbox_exporter",
    )?;
    let json: Value = serde_json::from_str(&read(&json_path)?)
        .map_err(|e| format!("{}: {e}", json_path.display()))?;
    let (probes, ok) = (
        json["probes"].as_u64().unwrap_or(0),
        json["probe_success"].as_u64().unwrap_or(0),
    );
    if ok * 100 < probes * 99 {
        return Err(format!(
            "blackbox_exporter: only {ok} of {probes} probes succeeded"
        ));
    }
    let secs = Fig::new(t1 - t0, 3).value;
    let peer = Peer {
        probes_per_s,
        command,
        driver,
        req: requests,
        rate: Fig::new(requests as f64 / secs, 1),
        cpu_pct: Fig::new(pct_of_core(b1 - b0, clk, secs), 2),
        cpu_per_k: Fig::new(cpu_s_per_k(b1 - b0, clk, requests), 4),
        rss_mib: mib(rss as f64),
        hwm_mib: mib(hwm as f64),
        seconds,
        ok,
        probes,
        other_pct: Fig::new(100.0 * ticks_between(&m0, &m1) as f64 / clk / secs, 1),
    };
    ctx.log(&format!(
        "blackbox_exporter: {} cpu-s/1k req, rss {} MiB",
        peer.cpu_per_k, peer.rss_mib
    ));
    Ok(peer)
}

/// The floor: wrk (one connection, paced by bench/floor.lua) and the
/// reqwest loop, each for BENCH_FLOOR_SECONDS.
pub async fn floor(ctx: &mut Ctx, sim: &Simulator) -> Result<Floor, String> {
    let (n, seconds, clk) = (
        ctx.knobs.max_size(),
        ctx.knobs.floor_seconds,
        ctx.clk_tck as f64,
    );
    let up = rate_up(ctx);
    let delay_ms = ((1000.0 / up.value) as u64).max(1);
    let dir = ctx.work.join("floor");
    mkdir(&dir)?;
    ctx.log(&format!(
        "floor: wrk, one connection, {delay_ms} ms between requests, {seconds}s"
    ));
    let wrk_command = format!(
        "FLOOR_DELAY_MS={delay_ms} FLOOR_TENANTS={n} wrk -t1 -c1 -d{seconds}s -s bench/floor.lua {}",
        sim.url
    );
    let stats0 = ctx.stats(&sim.url, &dir.join("stats-0.json")).await?;
    let mut wrk = Command::new("wrk");
    wrk.env("FLOOR_DELAY_MS", delay_ms.to_string())
        .env("FLOOR_TENANTS", n.to_string());
    wrk.args(["-t1", "-c1", &format!("-d{seconds}s"), "-s"])
        .arg(ctx.root.join("bench/floor.lua"))
        .arg(&sim.url);
    let out = dir.join("wrk.out");
    let pid = ctx.procs.spawn("wrk", wrk, Output::Log(&out))?;
    let ended = ctx
        .procs
        .wait(pid, Duration::from_secs(seconds + 30))
        .await?;
    if ended.code != Some(0) {
        return Err(format!("wrk failed (see {})", out.display()));
    }
    let wrk_cpu = ended.cpu_seconds;
    write(&dir.join("wrk.cpu"), format!("{wrk_cpu:.6}\n").as_bytes())?;
    let stats1 = ctx.stats(&sim.url, &dir.join("stats-1.json")).await?;
    let wrk_req = stats1.requests.saturating_sub(stats0.requests);
    if wrk_req == 0 {
        return Err(format!("wrk made no requests (see {})", out.display()));
    }
    check_answers(stats1.other.saturating_sub(stats0.other), wrk_req, "wrk")?;

    ctx.log(&format!(
        "floor: reqwest loop at {up} requests/s, {seconds}s"
    ));
    let loop_command = format!(
        "loadgen floor --simulator {} --tenants {n} --rate {up} --seconds {seconds}",
        sim.url
    );
    let stats2 = ctx.stats(&sim.url, &dir.join("stats-2.json")).await?;
    let (json_path, log) = (dir.join("loadgen.json"), dir.join("loadgen.log"));
    let ended = reqwest_loop(
        ctx,
        sim,
        up,
        seconds,
        "the reqwest floor",
        &json_path,
        &log,
        None,
    )
    .await?;
    if ended.code != Some(0) {
        return Err(format!("the reqwest floor failed (see {})", log.display()));
    }
    let stats3 = ctx.stats(&sim.url, &dir.join("stats-3.json")).await?;
    let run = LoopRun::read(&json_path, "reqwest floor")?;
    let loop_req = run.requests;
    if loop_req == 0 {
        return Err("reqwest floor: no requests".to_owned());
    }
    check_answers(
        stats3.other.saturating_sub(stats2.other),
        loop_req,
        "reqwest floor",
    )?;
    let (paced, ticks) = (run.paced()?, run.cpu_ticks);
    // Twice the floor's window: two processes' ticks at 100 a second need
    // the length to resolve a few percent.
    let mut paired = Vec::new();
    for run in 1..=ctx.knobs.pairs {
        let pair_dir = dir.join(format!("pair-{run}"));
        mkdir(&pair_dir)?;
        paired.push(super::paired::side_by_side(ctx, sim, &pair_dir, up, 2 * seconds, None).await?);
    }
    let pinned_dir = dir.join("pinned");
    mkdir(&pinned_dir)?;
    let cpu = super::paired::pair_cpu();
    let pinned =
        super::paired::side_by_side(ctx, sim, &pinned_dir, up, 2 * seconds, Some(cpu)).await?;
    Ok(Floor {
        wrk_command,
        loop_command,
        wrk_req,
        wrk_rate: Fig::new(wrk_req as f64 / seconds as f64, 1),
        wrk_cpu_per_k: Fig::new(1000.0 * wrk_cpu / wrk_req as f64, 4),
        loop_req,
        loop_rate: Fig::new(loop_req as f64 / paced, 1),
        loop_cpu_per_k: Fig::new(cpu_s_per_k(ticks, clk, loop_req), 4),
        paired,
        pinned,
    })
}

/// Runs `loadgen floor` against `sim` (the largest fleet's tenants) at
/// `up` requests/s for `seconds`, its JSON into `json_path`, its log into
/// `log`; returns how it ended. Used alone and beside credprobe; on CPU
/// `pin` when given.
#[allow(clippy::too_many_arguments)]
pub(super) async fn reqwest_loop(
    ctx: &mut Ctx,
    sim: &Simulator,
    up: Fig,
    seconds: u64,
    what: &str,
    json_path: &Path,
    log: &Path,
    pin: Option<usize>,
) -> Result<Ended, String> {
    let n = ctx.knobs.max_size();
    let mut floor = match pin {
        Some(cpu) => {
            let mut taskset = Command::new("taskset");
            taskset
                .args(["--cpu-list", &cpu.to_string()])
                .arg(&ctx.loadgen);
            taskset
        }
        None => Command::new(&ctx.loadgen),
    };
    floor.args([
        "floor",
        "--simulator",
        &sim.url,
        "--tenants",
        &n.to_string(),
    ]);
    floor.args(["--rate", &up.to_string(), "--seconds", &seconds.to_string()]);
    let pid = ctx
        .procs
        .spawn(what, floor, Output::Split(json_path, log))?;
    ctx.procs.wait(pid, Duration::from_secs(seconds + 30)).await
}

/// What `loadgen floor` reported of its run.
pub(super) struct LoopRun {
    /// Upstream requests it made.
    pub requests: u64,
    /// Its own CPU over the paced window, clock ticks.
    pub cpu_ticks: u64,
    /// The paced window, seconds (`None`: missing or not positive).
    paced_seconds: Option<f64>,
    /// What the errors call it.
    what: String,
}

impl LoopRun {
    /// Reads the JSON `loadgen floor` printed; `what` names it in errors.
    pub fn read(json_path: &Path, what: &str) -> Result<LoopRun, String> {
        let json: Value = serde_json::from_str(&read(json_path)?)
            .map_err(|e| format!("{}: {e}", json_path.display()))?;
        Ok(LoopRun {
            requests: json["requests"].as_u64().unwrap_or(0),
            cpu_ticks: json["cpu_ticks"].as_u64().unwrap_or(0),
            paced_seconds: json["paced_seconds"].as_f64().filter(|s| *s > 0.0),
            what: what.to_owned(),
        })
    }

    /// The paced window, an error when the loop did not report one.
    pub fn paced(&self) -> Result<f64, String> {
        self.paced_seconds
            .ok_or_else(|| format!("{}: no paced_seconds", self.what))
    }
}
