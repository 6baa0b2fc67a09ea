//! CPU per upstream request of credprobe and of the reqwest floor, measured
//! in the same window: a fresh credprobe with the largest fleet's
//! configuration, warmed up for one interval, while `loadgen floor` sends
//! the same requests at the same rate beside it. On a shared machine the
//! cost of a request moves with what else runs (an idle CPU's wake-ups cost
//! more than a busy one's); measured minutes apart, the two figures differ
//! by that as well. Side by side, both pay the same conditions, and the
//! ratio is the comparison. (The figures above, measured apart, stay as
//! they were.)
//!
//! Run `BENCH_PAIRS` times (3) as the scheduler places the two processes
//! (the target is judged on their median ratio: single windows of the
//! same build measured from 1.00x to 1.21x), then once with both
//! pinned to one CPU (`taskset`), as a check that the ratio is not made by
//! where each process runs.

use std::path::Path;
use std::time::Duration;

use super::figures::{Fig, cpu_s_per_k};
use super::peer::{LoopRun, reqwest_loop};
use super::results::Paired;
use super::{Ctx, Simulator, check_answers, procfs};

/// Runs credprobe (`MAX` tenants) and the reqwest loop (at `up` requests/s
/// for `seconds`) side by side against `sim`, both on CPU `pin` when given;
/// files go into `dir`.
pub async fn side_by_side(
    ctx: &mut Ctx,
    sim: &Simulator,
    dir: &Path,
    up: Fig,
    seconds: u64,
    pin: Option<usize>,
) -> Result<Paired, String> {
    let n = ctx.knobs.max_size();
    let clk = ctx.clk_tck as f64;
    let config = ctx.work.join(format!("fleet-{n}/credprobe.yml"));
    if !config.exists() {
        return Err(format!(
            "{} is missing (the fleet phase writes it)",
            config.display()
        ));
    }
    let (pid, _port, _started) = ctx
        .credprobe(&config, dir, "credprobe beside the floor")
        .await?;
    if let Some(cpu) = pin {
        pin_process(pid, cpu)?;
    }
    let warm = ctx.knobs.interval + 5;
    let on = pin.map_or_else(String::new, |cpu| format!(", both on CPU {cpu}"));
    ctx.log(&format!(
        "side by side{on}: credprobe ({n} tenants) warming up for {warm}s, then the reqwest loop beside it for {seconds}s"
    ));
    tokio::time::sleep(Duration::from_secs(warm)).await;
    ctx.procs.check(pid, "credprobe beside the floor")?;

    let stats0 = ctx
        .stats(&sim.url, &dir.join("paired-stats-0.json"))
        .await?;
    let credprobe0 = procfs::cpu_ticks(pid)?;
    let (json_path, log) = (
        dir.join("paired-loadgen.json"),
        dir.join("paired-loadgen.log"),
    );
    let what = "the reqwest floor beside credprobe";
    let ended = reqwest_loop(ctx, sim, up, seconds, what, &json_path, &log, pin).await?;
    let credprobe1 = procfs::cpu_ticks(pid)?;
    let stats1 = ctx
        .stats(&sim.url, &dir.join("paired-stats-1.json"))
        .await?;
    ctx.procs.check(pid, "credprobe beside the floor")?;
    ctx.procs.stop(pid).await;
    if ended.code != Some(0) {
        return Err(format!("the reqwest floor failed (see {})", log.display()));
    }

    let run = LoopRun::read(&json_path, "reqwest floor beside credprobe")?;
    let (loop_req, loop_ticks, paced) = (run.requests, run.cpu_ticks, run.paced()?);
    let all = stats1.requests.saturating_sub(stats0.requests);
    check_answers(
        stats1.other.saturating_sub(stats0.other),
        all,
        "side by side",
    )?;
    let credprobe_req = all.saturating_sub(loop_req);
    if loop_req == 0 || credprobe_req == 0 {
        return Err(format!(
            "side by side: {credprobe_req} credprobe and {loop_req} reqwest-loop requests"
        ));
    }
    let credprobe_ticks = credprobe1.saturating_sub(credprobe0);
    let paired = Paired {
        seconds: Fig::new(paced, 1),
        credprobe_req,
        credprobe_cpu_per_k: Fig::new(cpu_s_per_k(credprobe_ticks, clk, credprobe_req), 4),
        loop_req,
        loop_cpu_per_k: Fig::new(cpu_s_per_k(loop_ticks, clk, loop_req), 4),
        cpu: pin,
    };
    ctx.log(&format!(
        "side by side{on}: credprobe {} cpu-s/1k req ({credprobe_req} req), reqwest loop {} ({loop_req} req)",
        paired.credprobe_cpu_per_k, paired.loop_cpu_per_k
    ));
    Ok(paired)
}

/// Pins every thread of process `pid` (and the threads it starts later,
/// which inherit it) to CPU `cpu`.
fn pin_process(pid: u32, cpu: usize) -> Result<(), String> {
    let status = std::process::Command::new("taskset")
        .args(["--all-tasks", "--cpu-list", "--pid"])
        .arg(cpu.to_string())
        .arg(pid.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|error| format!("taskset (util-linux): {error}"))?;
    if !status.success() {
        return Err(format!(
            "taskset could not pin process {pid} to CPU {cpu}: {status}"
        ));
    }
    Ok(())
}

/// The CPU both processes of the pinned pair run on: the last one.
pub fn pair_cpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) - 1
}
