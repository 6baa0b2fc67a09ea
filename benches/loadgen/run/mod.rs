//! `loadgen run`: the whole benchmark behind `bench/run` and `make bench`
//! (`bench/run` only installs the tools, builds release and runs this).
//! It starts and stops every process itself, measures, and writes
//! BENCHMARKS.md; then, as `make bench` has always done, runs bench/fleet
//! and bench/prometheus-cost.
//!
//! By job: [`knobs`] (arguments and BENCH_* variables), [`ctx`] (the run
//! context and what every phase does with it), [`processes`] (the
//! children, stopped however the run ends), [`procfs`] (CPU, memory and
//! machine facts from /proc), [`config`] (generated configurations),
//! [`fleet`] (the fleet phases, the evenness side run, concurrent
//! scrapes), [`phases`] (steady state, private_key_jwt), [`peer`]
//! (blackbox_exporter and the floor), [`paired`] (credprobe and the floor
//! side by side in one window, a few times; [`paired_report`] its
//! rows), [`figures`] (the arithmetic),
//! [`results`] (what was measured) and
//! [`report`] with [`assertion_report`] (the markdown). The pure ones are tested by
//! `tests/testsuite/loadgen_run.rs`.

pub mod assertion_report;
pub mod config;
mod ctx;
pub mod figures;
mod fleet;
pub mod knobs;
mod paired;
pub mod paired_report;
mod peer;
mod phases;
mod processes;
mod procfs;
pub mod report;
pub mod results;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use ctx::{
    Ctx, Simulator, check_answers, lateness, median, mkdir, read, warnings, write, write_secrets,
};
use knobs::{Knobs, Parsed};
use processes::Output;

/// Runs `loadgen run ARGS`; returns the exit status.
pub fn main(args: &[String]) -> i32 {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let knobs = match Knobs::parse(args, &env) {
        Ok(Parsed::Help) => {
            println!("{}", knobs::USAGE);
            return 0;
        }
        Ok(Parsed::Run(knobs)) => knobs,
        Err(problem) => {
            eprintln!("bench/run: {problem} (try --help)");
            return 2;
        }
    };
    // reqwest is built without a crypto provider of its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ctx = match Ctx::new(knobs, args) {
        Ok(ctx) => ctx,
        Err(problem) => {
            eprintln!("bench/run: {problem}");
            return 2;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bench/run: tokio runtime: {error}");
            return 1;
        }
    };
    let started_at = ctx.started_at;
    match runtime.block_on(interruptible(run(ctx))) {
        Ok(()) => 0,
        Err(Stop::Signal(name)) => {
            log_at(
                started_at,
                &format!("stopped by {name}; every process started is stopped"),
            );
            130
        }
        Err(Stop::Failed(problem)) => {
            log_at(started_at, &format!("ERROR: {problem}"));
            1
        }
    }
}

/// Why a run ended early.
enum Stop {
    /// SIGINT or SIGTERM.
    Signal(&'static str),
    /// Something did not run.
    Failed(String),
}

/// `work` unless SIGINT or SIGTERM comes first: then `work` is dropped, and
/// with it the processes it started.
async fn interruptible(
    work: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), Stop> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind| signal(kind).map_err(|error| Stop::Failed(error.to_string()));
    let (mut term, mut int) = (
        listen(SignalKind::terminate())?,
        listen(SignalKind::interrupt())?,
    );
    tokio::select! {
        result = work => result.map_err(Stop::Failed),
        _ = term.recv() => Err(Stop::Signal("SIGTERM")),
        _ = int.recv() => Err(Stop::Signal("SIGINT")),
    }
}

/// Seconds since the epoch, as a decimal.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Sleeps until `epoch` (seconds since the epoch); at once if it is past.
pub async fn sleep_until(epoch: f64) {
    let left = epoch - now();
    if left > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(left)).await;
    }
}

fn log_at(started_at: f64, message: &str) {
    eprintln!("[bench {:4}s] {message}", (now() - started_at) as i64);
}

/// The UTC time as RFC 3339 (`2026-11-30T08:34:05Z`).
fn utc_now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The whole run.
async fn run(mut ctx: Ctx) -> Result<(), String> {
    ctx.log(&format!("work dir: {}", ctx.rel(&ctx.work)));
    if ctx.knobs.assertion_only {
        let size = ctx.knobs.assertion_size;
        let assertion = phases::assertion(&mut ctx, size).await?;
        print!("{}", assertion_report::assertion_section(&assertion));
        return Ok(());
    }
    let machine = procfs::machine(
        &ctx.root,
        utc_now()
            .replacen('T', " ", 1)
            .get(..16)
            .unwrap_or_default()
            .to_owned()
            + " UTC",
    );
    let out = match &ctx.knobs.out {
        Some(out) => ctx.root.join(out),
        None if ctx.knobs.quick => ctx.work.join("BENCHMARKS.md"),
        None => ctx.root.join("BENCHMARKS.md"),
    };
    // The simulator: one process for the whole run; its CPU is not counted.
    write(&ctx.work.join("scenario.yml"), b"accept_any: true\n")?;
    let sim = ctx
        .simulator(&ctx.work.join("scenario.yml"), &ctx.work.clone())
        .await?;
    ctx.log(&format!("simulator on {} (pid {})", sim.url, sim.pid));
    let fleets = fleet::all(&mut ctx, &sim).await?;
    let assertion = match ctx.knobs.assertion_size {
        0 => None,
        n => Some(phases::assertion(&mut ctx, n).await?),
    };
    let steady = phases::steady(&mut ctx, &sim).await?;
    let peer = peer::blackbox(&mut ctx, &sim).await?;
    let floor = peer::floor(&mut ctx, &sim).await?;
    ctx.procs.stop(sim.pid).await;
    let done = now();
    let kept = std::fs::read_to_string(&out)
        .map(|text| figures::kept_sections(&text))
        .unwrap_or_default();
    let report = results::Report {
        command: ctx.command.clone(),
        elapsed: (done - ctx.built_at) as u64,
        total: (done - ctx.started_at) as u64,
        work: ctx.rel(&ctx.work),
        machine,
        interval: ctx.knobs.interval,
        phase: ctx.knobs.phase,
        fleets: fleets.fleets,
        even_side: fleets.even_side,
        concurrent: fleets.concurrent,
        steady,
        peer,
        floor,
        sim_port: sim.port,
        clk_tck: ctx.clk_tck,
        assertion,
        kept,
    };
    write(&out, report::render(&report).as_bytes())?;
    if !ctx.knobs.quick && ctx.knobs.fleet {
        ctx.log("fleet phase: bench/fleet (BENCH_FLEET=0 skips it)");
        let mut command = Command::new(ctx.root.join("bench/fleet"));
        command
            .env("FLEET_OUT", &out)
            .env("CREDPROBE", &ctx.credprobe);
        let pid = ctx.procs.spawn("bench/fleet", command, Output::Inherit)?;
        // Exit status 3 is a missed target (reported in its section), not a failure.
        let ended = ctx.procs.wait(pid, Duration::from_secs(4 * 3600)).await?;
        if !matches!(ended.code, Some(0 | 3)) {
            return Err("bench/fleet did not run".to_owned());
        }
    }
    if !ctx.knobs.quick && ctx.knobs.promcost {
        ctx.log("prometheus-cost phase: bench/prometheus-cost (BENCH_PROMCOST=0 skips it)");
        let mut command = Command::new(ctx.root.join("bench/prometheus-cost"));
        command
            .env("PROMCOST_OUT", &out)
            .env("CREDPROBE", &ctx.credprobe)
            .env("LOADGEN", &ctx.loadgen);
        let pid = ctx
            .procs
            .spawn("bench/prometheus-cost", command, Output::Inherit)?;
        let ended = ctx.procs.wait(pid, Duration::from_secs(4 * 3600)).await?;
        if ended.code != Some(0) {
            return Err("bench/prometheus-cost did not run".to_owned());
        }
    }
    print!("{}", read(&out)?);
    let (elapsed, total) = (report.elapsed, report.total);
    ctx.log(&format!(
        "report written to {}: {} min {} s of measuring, {} min {} s in all",
        ctx.rel(&out),
        elapsed / 60,
        elapsed % 60,
        total / 60,
        total % 60
    ));
    Ok(())
}
