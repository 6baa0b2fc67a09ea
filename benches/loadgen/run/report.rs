//! BENCHMARKS.md as `loadgen run` writes it: the measured figures
//! (`results.rs`) rendered into the same sections and table rows as every
//! earlier run, so that runs can be compared line by line. Pure text,
//! tested by `tests/testsuite/loadgen_run.rs`.

use std::fmt::Write as _;

use super::assertion_report::assertion_section;
use super::figures::{Fig, late_ok, ratio, thousands, verdict};
use super::paired_report::{judged_pair, paired_ratio, paired_section, ratios, shown_ratio};
use super::results::{Fleet, Report, SCRAPE_EVERY};

fn minutes(seconds: u64) -> String {
    format!("{} min {} s", seconds / 60, seconds % 60)
}

/// `per_k_ms`: CPU-seconds per 1,000 requests shown as CPU-ms per request.
pub(super) fn ms(fig: Fig) -> Fig {
    fig.with(3)
}

/// BENCHMARKS.md, with the private_key_jwt section (if run) before the kept
/// sections.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let big = r.big();
    let bign = thousands(big.n);
    let m = &r.machine;
    let _ = write!(
        out,
        "# Benchmarks

Produced by `{command}` (the single entry point; `make bench` runs it) on
the machine below, loopback only: {elapsed} of measuring after
the build ({total} in all with an up-to-date build). Every figure can be reproduced from the repository on a fresh Debian
machine: `bench/run` installs what it lacks (`bench/install-deps`: wrk,
prometheus-blackbox-exporter, jq, curl), builds release, and writes this
file. Raw material of this run (configs, logs, scrapes, simulator counters):
`{work}/` (not committed).

## Machine

| | |
|---|---|
| date | {date} |
| command | `{command}` |
| CPU | {cpu} |
| nproc | {nproc} |
| memory | {memory} |
| OS / kernel | {os} / {kernel} |
| rustc | {rustc} |
| credprobe revision | {revision} (release profile) |
| blackbox_exporter | {bb} (Debian package) |
| wrk | {wrk} (Debian package) |

",
        command = r.command,
        elapsed = minutes(r.elapsed),
        total = minutes(r.total),
        work = r.work,
        date = m.date,
        cpu = m.cpu,
        nproc = m.nproc,
        memory = m.memory,
        os = m.os,
        kernel = m.kernel,
        rustc = m.rustc,
        revision = m.revision,
        bb = m.blackbox,
        wrk = m.wrk,
    );
    targets(&mut out, r);
    fleet(&mut out, r);
    let c = &r.concurrent;
    let (one, many, n) = (&c.single, &c.many, c.concurrency);
    let _ = write!(
        out,
        "
## Concurrent scrapes: one render for scrapes that arrive together

The {bign}-tenant daemon of the fleet phase, settled (after window B), scraped
plain (no gzip): {rounds} times by one client, then {rounds} times by {n} clients at once
(singles first: the memory glibc keeps after a burst would raise the later single peaks); medians.
Command: `{cmd}` with N = 1, then N = {n}: N connections, the requests
released together, every body read to its end. The peak is the daemon's
`VmHWM`, reset (`echo 5 > /proc/PID/clear_refs`) just before the requests and
read after the last body; `VmRSS` sampled every millisecond meanwhile is the cross-check.

| figure | 1 scrape | {n} scrapes at once |
|---|---:|---:|
| RSS before the requests | {} MiB | {} MiB |
| **peak RSS (VmHWM)** | {} MiB | {} MiB |
| peak of VmRSS sampled every ms | {} MiB | {} MiB |
| peak above the RSS before (a single scrape may reuse heap that earlier scrapes left) | {} MiB | {} MiB |
| slowest time to first byte | {} ms | {} ms |
| time until the last body was read | {} ms | {} ms |
| body bytes (smallest / largest; different sizes: separate renders) | {} / {} | {} / {} |

**Peak of {n} at once / peak of one: {ratio} ×** (target ≤ 1.3: {verdict}).
",
        one.before_mib,
        many.before_mib,
        one.peak_mib,
        many.peak_mib,
        one.sampled_mib,
        many.sampled_mib,
        one.growth_mib,
        many.growth_mib,
        one.first_byte_ms_max,
        many.first_byte_ms_max,
        one.body_ms_max,
        many.body_ms_max,
        one.bytes_min,
        one.bytes_max,
        many.bytes_min,
        many.bytes_max,
        rounds = c.rounds,
        cmd = c.command,
        ratio = c.ratio,
        verdict = verdict(c.ratio.value <= 1.3),
    );
    let s = &r.steady;
    let note = if s.cycles * 3 >= 50 {
        "3 records a cycle: every tenant's status history of 50 records is full"
    } else {
        "too few for the status history of 50 records to fill: a --quick run"
    };
    let _ = write!(
        out,
        "
## Steady state: status history full

The {bign}-tenant configuration with a {si} s interval, run for
{cycles} cycles ({note}), then scraped once plain and twice gzip. The fleet phases above stop after
2–3 cycles, before the history has filled.

| figure | {bign} tenants every {si} s |
|---|---:|
| upstream requests/s (expected {}) | {} |
| CPU, % of one core | {} % |
| CPU-seconds per 1,000 upstream requests | {} |
| RSS before any scrape | {} MiB ({} KiB per tenant) |
| RSS after 3 scrapes | {} MiB |
| peak RSS (VmHWM) | {} MiB |
| schedule lateness p99 | {} s (bucket ≤ {} s) |
| cycles more than 1 s late / cycles | {} / {} |
| /metrics gzip total time (median of 2) | {} ms |
",
        s.expected,
        s.rate,
        s.cpu_pct,
        s.cpu_per_k,
        s.rss_mib,
        s.rss_per_tenant,
        s.rss_after_mib,
        s.hwm_mib,
        s.late.p99,
        s.late.p99_le,
        s.late.over_1s,
        s.late.cycles,
        s.gzip_ms,
        si = s.interval,
        cycles = s.cycles,
    );
    peer_and_floor(&mut out, r);
    sources(&mut out, r);
    if let Some(assertion) = &r.assertion {
        out.push_str(&assertion_section(assertion));
    }
    if !r.kept.is_empty() {
        let _ = write!(out, "\n{}\n", r.kept);
    }
    out
}

fn targets(out: &mut String, r: &Report) {
    let big = r.big();
    let c = &r.concurrent;
    let with_scrapes = r.cpu_with_scrapes();
    let s = &r.steady;
    let _ = write!(
        out,
        "## Against the issue's targets ({} tenants, 3 upstream requests per tenant every {} s)

| target | measured | |
|---|---:|---|
| daemon CPU < 10 % of one core (probing) | {} % | {} |
| daemon CPU < 10 % of one core (probing + a gzip scrape every {} s) | {with_scrapes} % | {} |
| RSS < 300 MiB, fleet phase (2–3 cycles) | {} MiB before any scrape, {} MiB after 6 scrapes, peak {} MiB | {} |
| RSS < 300 MiB, steady state (status history full) | {} MiB before any scrape, {} MiB after 3 scrapes, peak {} MiB | {} |
| no probe more than 1 s late (lateness p99 < 1 s, none over 1 s) | p99 {} s, {} of {} cycles over 1 s | {} |
| busiest second ≤ 2 × average | {} × | {} |
| {} concurrent plain scrapes peak ≤ 1.3 × the peak of one scrape | {} MiB against {} MiB: {} × | {} |
| CPU per upstream request ≤ 1.1 × the reqwest floor (side by side, median of the windows) | {} | {} |
",
        thousands(big.n),
        r.interval,
        big.cpu_pct,
        verdict(big.cpu_pct.value < 10.0),
        SCRAPE_EVERY,
        verdict(with_scrapes.value < 10.0),
        big.rss_a_mib,
        big.rss_mib,
        big.hwm_mib,
        verdict(big.hwm_mib.value < 300.0),
        s.rss_mib,
        s.rss_after_mib,
        s.hwm_mib,
        verdict(s.hwm_mib.value < 300.0),
        big.late.p99,
        big.late.over_1s,
        big.late.cycles,
        late_ok(&big.late.p99, big.late.over_1s),
        big.even.ratio,
        verdict(big.even.ratio.value <= 2.0),
        c.concurrency,
        c.many.peak_mib,
        c.single.peak_mib,
        c.ratio,
        verdict(c.ratio.value <= 1.3),
        judged_pair(r).map_or_else(
            || "n/a".to_owned(),
            |(pair, x)| format!(
                "{x:.2}× (median of {}: {}; {} against {} CPU-ms in that pair; both on one CPU: {})",
                r.floor.paired.len(),
                ratios(r),
                ms(pair.credprobe_cpu_per_k),
                ms(pair.loop_cpu_per_k),
                shown_ratio(&r.floor.pinned),
            )
        ),
        verdict(paired_ratio(r).is_some_and(|x| x <= 1.1)),
    );
    if let Some((n, _, even)) = &r.even_side {
        let _ = writeln!(
            out,
            "| busiest second ≤ 2 × average ({} tenants, side run) | {} × (busiest {} requests, average {}) | {} |",
            thousands(*n),
            even.ratio,
            even.busiest,
            even.average,
            verdict(even.ratio.value <= 2.0)
        );
    }
    for f in r.fleets.iter().filter(|f| f.n != big.n) {
        let n = thousands(f.n);
        let _ = writeln!(
            out,
            "| busiest second ≤ 2 × average ({n} tenants) | {} × | {} |",
            f.even.ratio,
            verdict(f.even.ratio.value <= 2.0)
        );
        let _ = writeln!(
            out,
            "| lateness ({n} tenants) | p99 {} s, {} over 1 s | {} |",
            f.late.p99,
            f.late.over_1s,
            late_ok(&f.late.p99, f.late.over_1s)
        );
    }
}

fn fleet(out: &mut String, r: &Report) {
    let big = r.big();
    let _ = write!(
        out,
        "
## Fleet: credprobe and the simulator

Each size is its own credprobe process, run for {} s: one interval of
warm-up (every tenant starts, staggered over the interval), then window A
(probing only, nothing scrapes the daemon) and window B (probing while
`/metrics` is scraped 6 times, alternately plain and gzip).

",
        r.phase
    );
    let mut head = "| figure |".to_owned();
    let mut sep = "|---|".to_owned();
    for f in &r.fleets {
        let _ = write!(head, " {} tenants |", thousands(f.n));
        sep.push_str("---:|");
    }
    let _ = write!(out, "{head}\n{sep}\n");
    let mut row = |label: &str, cell: &dyn Fn(&Fleet) -> String| {
        let _ = write!(out, "| {label} |");
        for f in &r.fleets {
            let _ = write!(out, " {} |", cell(f));
        }
        out.push('\n');
    };
    let expected = format!(
        "upstream requests/s (window A; expected N × 3 / {} s)",
        r.interval
    );
    row(&expected, &|f| f.req_rate.to_string());
    row("CPU, % of one core (window A, probing only)", &|f| {
        format!("{} %", f.cpu_pct)
    });
    row("CPU, % of one core (window B, probing + 6 scrapes)", &|f| {
        format!("{} %", f.cpu_pct_b)
    });
    row(
        "**CPU-seconds per 1,000 upstream requests** (window A)",
        &|f| f.cpu_per_k.to_string(),
    );
    row(
        "RSS after the first interval, before any scrape (start of window A)",
        &|f| format!("{} MiB", f.rss_a0_mib),
    );
    row("RSS before any scrape (end of window A)", &|f| {
        format!("{} MiB", f.rss_a_mib)
    });
    row("RSS after 6 scrapes (VmRSS at the end of window B)", &|f| {
        format!("{} MiB", f.rss_mib)
    });
    row("peak RSS (VmHWM)", &|f| format!("{} MiB", f.hwm_mib));
    row("RSS per tenant (VmRSS / N)", &|f| {
        format!("{} KiB", f.rss_per_tenant)
    });
    row("schedule lateness p50 (all cycles since start)", &|f| {
        format!("{} s", f.late.p50)
    });
    row("**schedule lateness p99**", &|f| {
        format!("{} s", f.late.p99)
    });
    row("upper bound of the bucket holding p99", &|f| {
        format!("{} s", f.late.p99_le)
    });
    row("cycles more than 1 s late / cycles", &|f| {
        f.late.over_1s.to_string()
    });
    row(
        "busiest second / average second (requests reaching the simulator)",
        &|f| format!("{} ×", f.even.ratio),
    );
    row("busiest second (requests)", &|f| f.even.busiest.to_string());
    row("average second (requests)", &|f| f.even.average.to_string());
    row("/metrics plain: bytes", &|f| f.plain.bytes.clone());
    row("/metrics plain: time to first byte", &|f| {
        format!("{} ms", f.plain.ttfb_ms)
    });
    row("/metrics plain: total time", &|f| {
        format!("{} ms", f.plain.total_ms)
    });
    row("/metrics plain: daemon CPU per scrape", &|f| {
        format!("{} ms", f.plain.cpu_ms)
    });
    row("/metrics gzip: bytes", &|f| f.gzip.bytes.clone());
    row("/metrics gzip: time to first byte", &|f| {
        format!("{} ms", f.gzip.ttfb_ms)
    });
    row("/metrics gzip: total time", &|f| {
        format!("{} ms", f.gzip.total_ms)
    });
    row("/metrics gzip: daemon CPU per scrape", &|f| {
        format!("{} ms", f.gzip.cpu_ms)
    });
    row("series exposed", &|f| f.series.to_string());
    row("series per tenant (2 endpoints, default 7 bounds)", &|f| {
        f.series_tenant.to_string()
    });
    row("series not per tenant", &|f| f.series_fixed.to_string());
    row("requests by credprobe's own counters (since start)", &|f| {
        f.own_requests.clone()
    });
    row("of which not success", &|f| f.own_failures.clone());
    row("upstream answers not 2xx (windows A+B, simulator)", &|f| {
        f.non2xx.to_string()
    });
    row(
        "simulator CPU, % of one core (window A; not counted)",
        &|f| format!("{} %", f.sim_pct),
    );
    row(
        "other processes on the machine, % of one core (window A; 0 on a quiet machine)",
        &|f| format!("{} %", f.other_pct),
    );
    row("WARN/ERROR log lines", &|f| f.warnings.to_string());
    let first = &r.fleets[0];
    let _ = write!(
        out,
        "
Marginal RSS per tenant between the two sizes: **{} KiB**
((RSS at {} − RSS at {}) / {} tenants).
",
        r.rss_marginal(),
        thousands(big.n),
        thousands(first.n),
        big.n as i64 - first.n as i64,
    );
}

fn peer_and_floor(out: &mut String, r: &Report) {
    let big = r.big();
    let bign = thousands(big.n);
    let (p, fl, m) = (&r.peer, &r.floor, &r.machine);
    let _ = write!(
        out,
        "
## Side by side: blackbox_exporter

blackbox_exporter {bb} with one `http` module per tenant, each with
`oauth2: {{client_id, client_secret, token_url}}` against the same simulator,
driven by `benches/loadgen.rs` at {probes} probes/s alternating between the
two endpoints, so that it makes the same upstream request rate as credprobe
with {bign} tenants (blackbox fetches a new token for every probe: 2
upstream requests per probe). Only blackbox_exporter's own CPU is counted,
over a {secs} s window after 5 s of warm-up; the driver's is not.

| figure | credprobe ({bign} tenants) | blackbox_exporter | blackbox / credprobe |
|---|---:|---:|---:|
| upstream requests/s | {} | {} | |
| CPU, % of one core | {} % | {} % | {} |
| **CPU-ms per upstream request** | {} | {} | {} |
| RSS | {} MiB | {} MiB | {} |
| peak RSS | {} MiB | {} MiB | |
| probes succeeded | | {} of {} | |
| other processes on the machine (besides the simulator and the driver), % of one core | {} % | {} % | |

blackbox_exporter keeps no per-tenant state between probes (the scraper
holds the schedule and the series); its RSS grows only with its
configuration (one module per tenant here). credprobe holds the schedule,
tokens, status history and every tenant's series.

## Floor: the same requests from a minimal client

The same pattern (token request, then GET workflows and GET remote-action
with the token) at about the same request rate, against the same simulator.

| client | upstream requests | requests/s | CPU-ms per upstream request | credprobe / this |
|---|---:|---:|---:|---:|
| wrk {wrk} + `bench/floor.lua` (C, one connection) | {} | {} | {} | {} |
| reqwest loop (`benches/loadgen.rs floor`: credprobe's HTTP stack, nothing else) | {} | {} | {} | {} |
| credprobe, {bign} tenants | {} | {} | {} | 1.0× |
| blackbox_exporter | {} | {} | {} | |
",
        big.req_rate,
        p.rate,
        big.cpu_pct,
        p.cpu_pct,
        ratio(p.cpu_pct.value, big.cpu_pct.value),
        ms(big.cpu_per_k),
        ms(p.cpu_per_k),
        ratio(p.cpu_per_k.value, big.cpu_per_k.value),
        big.rss_mib,
        p.rss_mib,
        ratio(p.rss_mib.value, big.rss_mib.value),
        big.hwm_mib,
        p.hwm_mib,
        p.ok,
        p.probes,
        big.other_pct,
        p.other_pct,
        fl.wrk_req,
        fl.wrk_rate,
        ms(fl.wrk_cpu_per_k),
        ratio(big.cpu_per_k.value, fl.wrk_cpu_per_k.value),
        fl.loop_req,
        fl.loop_rate,
        ms(fl.loop_cpu_per_k),
        ratio(big.cpu_per_k.value, fl.loop_cpu_per_k.value),
        big.req_a,
        big.req_rate,
        ms(big.cpu_per_k),
        p.req,
        p.rate,
        ms(p.cpu_per_k),
        bb = m.blackbox,
        wrk = m.wrk,
        probes = p.probes_per_s,
        secs = p.seconds,
    );
    out.push_str(&paired_section(r));
}

fn sources(out: &mut String, r: &Report) {
    let big = r.big();
    let _ = write!(
        out,
        "
## Where each figure comes from

- **Commands.** Simulator: `credprobe simulate --listen 127.0.0.1:{} --scenario scenario.yml`
  (`accept_any: true`; its CPU is never counted). Fleet:
",
        r.sim_port
    );
    for f in &r.fleets {
        let _ = writeln!(
            out,
            "  `{}` ({} tenants, generated by `bench/run`: 2 endpoints each, `client_secret_file` per tenant, interval {} s, timeout 10 s, max_concurrent_requests 100, default histogram buckets);",
            f.command, f.n, r.interval
        );
    }
    if let Some((_, command, _)) = &r.even_side {
        let _ = writeln!(
            out,
            "  evenness side run: `{command}` against a second simulator, beside the first fleet phase;"
        );
    }
    let _ = write!(
        out,
        "  steady state: `{}` (the {}-tenant file with interval {} s);
  peer: `{}` driven by `{}`;
  floor: `{}` and `{}`; side by side: the largest fleet's `credprobe run` (a fresh process, one interval + 5 s of warm-up) with the same `loadgen floor` beside it
  (`loadgen` is `benches/loadgen.rs`, built by `cargo build --release --bench loadgen`; `loadgen run` drives the whole benchmark).
- **CPU**: utime + stime of the process from `/proc/<pid>/stat`, difference over
  the window, divided by `getconf CLK_TCK` ({}); \"% of one core\" is that over
  the window's wall time. wrk's CPU is its user + system time as the kernel
  reports it when wrk is reaped (`wait4`, the whole run); the reqwest loop reads its own
  `/proc/self/stat` around its paced window.
- **Upstream requests**: the simulator's counters (`GET /__simulator/stats`,
  `requests_total` difference over the same window); every answer is checked
  to be 2xx (the run fails above 1 % otherwise). credprobe's own
  `credprobe_token_requests_total` + `credprobe_endpoint_requests_total` are shown as a cross-check.
- **RSS**: `VmRSS` and `VmHWM` from `/proc/<pid>/status` at the end of the phase.
- **Lateness**: `histogram_quantile`-style linear interpolation over
  `credprobe_schedule_lateness_seconds` buckets (0.001 … 5 s) from the last plain
  scrape, so over every cycle since start; \"over 1 s\" is `count − bucket{{le=\"1\"}}`.
- **Busiest second**: the simulator's per-second arrival counts
  (`per_second` of `/__simulator/stats`, wall-clock seconds, missing seconds
  count as 0) over every whole second from one interval + 5 s after start
  to the end of the phase ({} s at {} tenants).
- **/metrics**: one GET at a time from `loadgen run` (time to the response head,
  time to the end of the body, bytes received, microsecond resolution),
  plain and with `Accept-Encoding: gzip` (bytes are the compressed bytes sent;
  the body is checked to be gzip), median of 3 each during window B;
  \"daemon CPU per scrape\" is the daemon's CPU ticks across the request (it
  includes the little probing done meanwhile; 10 ms resolution).
- **Series**: lines of the plain exposition that are not comments; per tenant:
  those with `tenant=\"tenant-00000\"`.
- **Reading the expositions and scrape records** (lateness quantiles, bucket
  counts, credprobe's own counters, series, medians): `benches/loadgen/expo.rs`,
  tested by `cargo test --test testsuite -- loadgen_expo::`; the report's
  arithmetic and text: `benches/loadgen/run/`, tested by
  `cargo test --test testsuite -- loadgen_run::`.
",
        r.steady.command,
        thousands(big.n),
        r.steady.interval,
        r.peer.command,
        r.peer.driver,
        r.floor.wrk_command,
        r.floor.loop_command,
        r.clk_tck,
        big.even.seconds,
        thousands(big.n),
    );
}
