//! Two phases of their own: the steady state (the largest fleet on a short
//! interval until every tenant's status history is full, then scraped: the
//! memory a long-running daemon settles at) and private_key_jwt (what
//! signing an RS256 client assertion per token request costs, against a
//! simulator of its own).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::config::{self, Auth};
use super::figures::{Fig, cpu_s_per_k, mib, pct_of_core};
use super::processes::run_to_end;
use super::results::{Assertion, AuthRun, Steady};
use super::{
    Ctx, Simulator, check_answers, lateness, median, mkdir, now, procfs, read, sleep_until,
    warnings, write, write_secrets,
};
use crate::expo;

/// The steady-state phase.
pub async fn steady(ctx: &mut Ctx, sim: &Simulator) -> Result<Steady, String> {
    let knobs = ctx.knobs.clone();
    let (n, si, cycles, clk) = (
        knobs.max_size(),
        knobs.steady_interval,
        knobs.steady_cycles,
        ctx.clk_tck as f64,
    );
    let dir = ctx.work.join("steady");
    mkdir(&dir)?;
    // The largest fleet's file (its secrets) with the steady interval.
    let secrets = ctx
        .work
        .join(format!("fleet-{n}/secrets"))
        .display()
        .to_string();
    let text = config::credprobe(
        n,
        &sim.url,
        si,
        si.div_ceil(2),
        &Auth::Secret {
            secrets_dir: &secrets,
        },
    );
    write(&dir.join("credprobe.yml"), text.as_bytes())?;
    let (pid, port, t0) = ctx
        .credprobe(&dir.join("credprobe.yml"), &dir, "credprobe (steady state)")
        .await?;
    let command = format!(
        "credprobe run --config.file steady/credprobe.yml --web.listen-address 127.0.0.1:{port} --log.level warn"
    );
    ctx.log(&format!(
        "steady state: {n} tenants every {si}s for {cycles} cycles (pid {pid})"
    ));
    sleep_until(t0 + si as f64 + 2.0).await;
    let c0 = procfs::cpu_ticks(pid)?;
    let w0 = now();
    let stats0 = ctx.stats(&sim.url, &dir.join("stats-0.json")).await?;
    sleep_until(t0 + (si * (cycles + 1)) as f64).await;
    ctx.procs.check(pid, "credprobe (steady state) died")?;
    let c1 = procfs::cpu_ticks(pid)?;
    let w1 = now();
    let stats1 = ctx.stats(&sim.url, &dir.join("stats-1.json")).await?;
    let rss = procfs::rss_kib(pid)?;
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut records = String::new();
    for i in 1..=3 {
        let mode = if i == 1 { "plain" } else { "gzip" };
        let scrape = ctx
            .scrape(
                pid,
                &url,
                &dir.join(format!("metrics-{i}.{mode}")),
                mode == "gzip",
            )
            .await?;
        records.push_str(&scrape.record(mode));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    write(&dir.join("scrapes.txt"), records.as_bytes())?;
    let (rss_after, hwm) = (procfs::rss_kib(pid)?, procfs::hwm_kib(pid)?);
    ctx.procs.stop(pid).await;
    let secs = Fig::new(w1 - w0, 3).value;
    let requests = stats1.requests.saturating_sub(stats0.requests);
    if requests == 0 {
        return Err("no upstream requests in the steady-state phase".to_owned());
    }
    check_answers(
        stats1.other.saturating_sub(stats0.other),
        requests,
        "steady state",
    )?;
    let steady = Steady {
        interval: si,
        cycles,
        command,
        expected: Fig::new((n * 3) as f64 / si as f64, 1),
        rate: Fig::new(requests as f64 / secs, 1),
        cpu_pct: Fig::new(pct_of_core(c1 - c0, clk, secs), 2),
        cpu_per_k: Fig::new(cpu_s_per_k(c1 - c0, clk, requests), 4),
        rss_mib: mib(rss as f64),
        rss_per_tenant: Fig::new(rss as f64 / n as f64, 1),
        rss_after_mib: mib(rss_after as f64),
        hwm_mib: mib(hwm as f64),
        late: lateness(&read(&dir.join("metrics-1.plain"))?)?,
        gzip_ms: median(expo::column(&records, Some("gzip"), 3, 1000.0)?),
    };
    ctx.log(&format!(
        "steady state: rss {} MiB before scrapes, {} MiB after, peak {} MiB; cpu {}% at {} req/s",
        steady.rss_mib, steady.rss_after_mib, steady.hwm_mib, steady.cpu_pct, steady.rate
    ));
    Ok(steady)
}

/// private_key_jwt: the same `n` tenants twice against a simulator of
/// their own (accept_any, assertions verified with accept_any_public_key),
/// each run one interval of warm-up then one interval measured: with client
/// secrets and with private_key_jwt. One 2048-bit RSA key serves every
/// tenant: a signature costs the same whichever key makes it.
pub async fn assertion(ctx: &mut Ctx, n: u64) -> Result<Assertion, String> {
    let interval = ctx.knobs.interval;
    let dir = ctx.work.join(format!("assertion-{n}"));
    mkdir(&dir)?;
    let (key, public) = (dir.join("key.pem"), dir.join("key.pub"));
    let mut genkey = Command::new("openssl");
    genkey
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key);
    run_to_end(
        &mut ctx.procs,
        "openssl genpkey",
        genkey,
        &dir.join("openssl.log"),
        Duration::from_secs(120),
    )
    .await
    .map_err(|e| format!("openssl cannot make an RSA key: {e}"))?;
    let mut pubout = Command::new("openssl");
    pubout
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public);
    run_to_end(
        &mut ctx.procs,
        "openssl pkey",
        pubout,
        &dir.join("openssl.log"),
        Duration::from_secs(60),
    )
    .await?;
    let scenario = dir.join("scenario.yml");
    write(
        &scenario,
        format!(
            "accept_any: true\naccept_any_public_key: {}\n",
            public.display()
        )
        .as_bytes(),
    )?;
    let sim = ctx.simulator(&scenario, &dir).await?;
    let secret_dir = dir.join("secret");
    let jwt_dir = dir.join("jwt");
    mkdir(&jwt_dir)?;
    let secrets = write_secrets(n, &secret_dir)?.display().to_string();
    let timeout = config::timeout_for(interval);
    let key_file = key.display().to_string();
    let secret_text = config::credprobe(
        n,
        &sim.url,
        interval,
        timeout,
        &Auth::Secret {
            secrets_dir: &secrets,
        },
    );
    let jwt_text = config::credprobe(
        n,
        &sim.url,
        interval,
        timeout,
        &Auth::Jwt {
            key_file: &key_file,
        },
    );
    write(&secret_dir.join("credprobe.yml"), secret_text.as_bytes())?;
    write(&jwt_dir.join("credprobe.yml"), jwt_text.as_bytes())?;
    let secret = auth_run(ctx, &sim, n, "secret", &secret_dir).await?;
    let jwt = auth_run(ctx, &sim, n, "jwt", &jwt_dir).await?;
    ctx.procs.stop(sim.pid).await;
    let sign_ms = Fig::new(
        (jwt.cycle.value - secret.cycle.value) * 1000.0 / n as f64,
        3,
    );
    Ok(Assertion {
        n,
        interval,
        dir: ctx.rel(&dir),
        secret,
        jwt,
        sign_ms,
    })
}

/// One client-authentication variant of the private_key_jwt phase.
async fn auth_run(
    ctx: &mut Ctx,
    sim: &Simulator,
    n: u64,
    variant: &str,
    dir: &Path,
) -> Result<AuthRun, String> {
    let (interval, clk) = (ctx.knobs.interval, ctx.clk_tck as f64);
    let config = dir.join("credprobe.yml");
    ctx.check_config(&config, dir).await?;
    let (pid, _, t0) = ctx
        .credprobe(&config, dir, &format!("credprobe ({variant})"))
        .await?;
    ctx.log(&format!(
        "client auth {variant}, {n} tenants: one interval of warm-up, then one measured (pid {pid})"
    ));
    sleep_until(t0 + interval as f64 + 5.0).await;
    let c0 = procfs::cpu_ticks(pid)?;
    let w0 = now();
    let stats0 = ctx.stats(&sim.url, &dir.join("stats-0.json")).await?;
    sleep_until(w0 + interval as f64).await;
    ctx.procs
        .check(pid, &format!("credprobe ({variant}) died"))?;
    let c1 = procfs::cpu_ticks(pid)?;
    let w1 = now();
    let stats1 = ctx.stats(&sim.url, &dir.join("stats-1.json")).await?;
    let rss = procfs::rss_kib(pid)?;
    ctx.procs.stop(pid).await;
    let secs = Fig::new(w1 - w0, 3).value;
    let requests = stats1.requests.saturating_sub(stats0.requests);
    let tokens = stats1.tokens.saturating_sub(stats0.tokens);
    if tokens == 0 {
        return Err(format!("no token requests measured ({variant})"));
    }
    check_answers(
        stats1.other.saturating_sub(stats0.other),
        requests,
        &format!("client auth {variant}"),
    )?;
    let cpu = (c1 - c0) as f64 / clk;
    let run = AuthRun {
        pct: Fig::new(pct_of_core(c1 - c0, clk, secs), 2),
        cycle: Fig::new(cpu * interval as f64 / secs, 3),
        token_ms: Fig::new(1000.0 * cpu / tokens as f64, 3),
        tokens,
        rss_mib: mib(rss as f64),
        warnings: warnings(&dir.join("credprobe.log")),
    };
    ctx.log(&format!(
        "client auth {variant}: {}% of a core, {} CPU-s per {interval}s cycle, {tokens} token requests",
        run.pct, run.cycle
    ));
    Ok(run)
}
