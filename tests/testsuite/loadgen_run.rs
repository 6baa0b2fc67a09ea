//! The pure parts of `loadgen run`, the benchmark driver behind `bench/run`
//! (`benches/loadgen/run/`): its knobs, the configurations it generates,
//! the arithmetic of its figures and the report it writes. loadgen is a
//! `harness = false` bench that `cargo test` does not run, so this module
//! includes those files by path. (Not every item is used here.)

#[allow(dead_code)]
#[path = "../../benches/loadgen/run/assertion_report.rs"]
mod assertion_report;
#[allow(dead_code)]
#[path = "../../benches/loadgen/run/config.rs"]
mod config;
#[allow(dead_code)]
#[path = "../../benches/loadgen/run/figures.rs"]
mod figures;
#[allow(dead_code)]
#[path = "../../benches/loadgen/run/knobs.rs"]
mod knobs;
#[allow(dead_code)]
#[path = "../../benches/loadgen/run/paired_report.rs"]
mod paired_report;
#[allow(dead_code)]
#[path = "../../benches/loadgen/run/report.rs"]
mod report;
#[allow(dead_code)]
#[path = "../../benches/loadgen/run/results.rs"]
mod results;

use std::collections::HashMap;

use figures::*;
use knobs::{Knobs, Parsed};
use paired_report::*;
use report::*;
use results::*;

#[test]
fn a_figure_is_used_as_shown() {
    let cpu = Fig::new(4.666_666, 2);
    assert_eq!((cpu.to_string(), cpu.value), ("4.67".to_owned(), 4.67));
    assert_eq!(Fig::new(0.18714, 4).with(3).to_string(), "0.187");
    assert_eq!(Fig::new(12.0, 1).to_string(), "12.0");
    // A ratio of two shown figures is the ratio of what the reader sees.
    assert_eq!(
        ratio(Fig::new(0.92949, 4).value, Fig::new(0.18714, 4).value),
        "5.0×"
    );
    assert_eq!(ratio(1.0, 0.0), "n/a");
}

#[test]
fn cpu_shares_come_from_clock_ticks() {
    // 467 ticks of 1/100 s over 100 s of wall time: 4.67 % of one core.
    assert_eq!(
        Fig::new(pct_of_core(467, 100.0, 100.0), 2).to_string(),
        "4.67"
    );
    // The same CPU over 24,950 requests: 0.1872 CPU-seconds per 1,000.
    assert_eq!(
        Fig::new(cpu_s_per_k(467, 100.0, 24_950), 4).to_string(),
        "0.1872"
    );
    assert_eq!(mib(76_697.0).to_string(), "74.9");
}

#[test]
fn proc_stat_fields_are_read_past_the_command_name() {
    // The command name may hold spaces and parentheses.
    let stat =
        "4242 (cred (probe) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 731 52 9 4 20 0 7 0 1000 1 1";
    assert_eq!(stat_ticks(stat, false), Some(731 + 52));
    assert_eq!(stat_ticks(stat, true), Some(731 + 52 + 9 + 4));
    assert_eq!(stat_ticks("garbage", false), None);
}

#[test]
fn other_processes_count_what_they_ran_in_the_window() {
    let ticks = |pairs: &[(u32, u64)]| pairs.iter().copied().collect::<HashMap<u32, u64>>();
    let before = ticks(&[(1, 100), (2, 50), (3, 900)]);
    // 1 ran 30 ticks, 2 none, 3 ended (left out, not subtracted: the
    // difference of the two sums would be 187 - 1,050), 4 is new.
    let after = ticks(&[(1, 130), (2, 50), (4, 7)]);
    assert_eq!(ticks_between(&before, &after), 37);
    // A reused pid with fewer ticks than before counts as nothing.
    assert_eq!(ticks_between(&ticks(&[(5, 40)]), &ticks(&[(5, 3)])), 0);
    assert_eq!(ticks_between(&HashMap::new(), &HashMap::new()), 0);
}

#[test]
fn evenness_counts_missing_seconds_as_zero() {
    // Seconds 100..104: 104 has no entry, 99 and 105 are outside.
    let per_second = [
        (99, 500),
        (100, 4),
        (101, 6),
        (102, 5),
        (103, 5),
        (105, 700),
    ];
    let even = evenness(&per_second, 100, 105).unwrap();
    assert_eq!(even.busiest, 6);
    assert_eq!(even.average.to_string(), "4.0");
    assert_eq!(even.ratio.to_string(), "1.50");
    assert_eq!(even.seconds, 5);
    let idle = evenness(&[], 10, 20).unwrap();
    assert_eq!((idle.busiest, idle.ratio.value), (0, 0.0));
    assert!(evenness(&per_second, 10, 10).is_none());
    assert_eq!(whole(1_700_000_065.500_1), 1_700_000_066);
}

#[test]
fn verdicts_and_lateness() {
    assert_eq!(verdict(true), "pass");
    assert_eq!(verdict(false), "**miss**");
    assert_eq!(late_ok("0.0049", 0), "pass");
    assert_eq!(late_ok("0.0049", 1), "**miss**");
    assert_eq!(late_ok("1.2000", 0), "**miss**");
    assert_eq!(late_ok(">5", 0), "**miss**");
    assert_eq!(late_ok("n/a", 0), "**miss**");
    assert_eq!(thousands(5000), "5,000");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(50_000_000), "50,000,000");
}

#[test]
fn the_sections_other_scripts_wrote_are_kept_in_order() {
    let report = "# Benchmarks\n<!-- a comment -->\n## old figures\n\
        <!-- fleet: written by bench/fleet -->\n## Fleet\nF\n<!-- /fleet -->\n\ntext\n\
        <!-- soak: written by bench/soak -->\n## Soak\nS\n<!-- /soak -->\n\
        <!-- fuzz: unterminated\n";
    assert_eq!(
        kept_sections(report),
        "<!-- fleet: written by bench/fleet -->\n## Fleet\nF\n<!-- /fleet -->\n\
         <!-- soak: written by bench/soak -->\n## Soak\nS\n<!-- /soak -->"
    );
    assert_eq!(kept_sections("# Benchmarks\nnothing\n"), "");
}

#[test]
fn generated_configurations() {
    let secret = config::credprobe(
        2,
        "http://127.0.0.1:9",
        60,
        config::timeout_for(60),
        &config::Auth::Secret {
            secrets_dir: "/w/secrets",
        },
    );
    assert!(secret.starts_with(
        "# generated by bench/run: 2 tenants against the simulator\ndefaults:\n  interval: 60s\n  timeout: 10s\nmax_concurrent_requests: 100\ntenants:\n"
    ));
    assert!(secret.contains(
        "  - name: tenant-00001\n    token_url: http://127.0.0.1:9/oauth2/token\n    base_url: http://127.0.0.1:9\n    client_id: tenant-00001\n    client_secret_file: /w/secrets/tenant-00001\n    endpoints:\n      - {name: workflows, path: /api/v1/workflows}\n      - {name: remote_actions, path: /api/v1/act/remote-action}\n"
    ));
    assert_eq!(secret.matches("- name: ").count(), 2);
    let jwt = config::credprobe(
        1,
        "http://127.0.0.1:9",
        10,
        config::timeout_for(10),
        &config::Auth::Jwt {
            key_file: "/w/key.pem",
        },
    );
    assert!(jwt.contains("  timeout: 5s\n"));
    assert!(jwt.contains(
        "    client_auth: private_key_jwt\n    client_key_file: /w/key.pem\n    endpoints:\n"
    ));
    assert!(!jwt.contains("client_secret_file"));
    assert_eq!(config::secret("tenant-00007"), "secret-tenant-00007");
    let blackbox = config::blackbox(2, "http://127.0.0.1:9");
    assert!(blackbox.contains(
        "  t00001:\n    prober: http\n    timeout: 10s\n    http:\n      valid_status_codes: [200]\n      oauth2:\n        client_id: tenant-00001\n        client_secret: secret-tenant-00001\n        token_url: http://127.0.0.1:9/oauth2/token\n"
    ));
}

fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Parsed, String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Knobs::parse(&args, &move |name| env.get(name).cloned())
}

fn knobs(args: &[&str], env: &[(&str, &str)]) -> Knobs {
    match parse(args, env) {
        Ok(Parsed::Run(knobs)) => knobs,
        other => panic!("{other:?}"),
    }
}

#[test]
fn knobs_have_full_and_quick_defaults() {
    let full = knobs(&[], &[]);
    assert_eq!(
        (full.sizes.clone(), full.interval, full.phase),
        (vec![1000, 5000], 60, 150)
    );
    assert_eq!(
        (full.even_size, full.steady_cycles, full.assertion_size),
        (100, 20, 5000)
    );
    assert_eq!(
        (
            full.peer_seconds,
            full.floor_seconds,
            full.scrape_concurrency
        ),
        (40, 30, 20)
    );
    assert_eq!(full.pairs, 3);
    assert!(full.fleet && full.promcost && !full.quick && full.out.is_none());
    let quick = knobs(&["--quick"], &[]);
    assert_eq!(
        (quick.sizes.clone(), quick.interval, quick.phase),
        (vec![200, 1000], 10, 45)
    );
    assert_eq!(
        (quick.even_size, quick.steady_cycles, quick.assertion_size),
        (20, 6, 1000)
    );
    assert_eq!(quick.pairs, 1);
    let set = knobs(
        &["--quick"],
        &[
            ("BENCH_SIZES", "300 100"),
            ("BENCH_FLEET", "0"),
            ("BENCH_OUT", "x.md"),
        ],
    );
    assert_eq!(
        (
            set.sizes.clone(),
            set.max_size(),
            set.fleet,
            set.out.as_deref()
        ),
        (vec![300, 100], 300, false, Some("x.md"))
    );
    assert_eq!(parse(&["-h"], &[]), Ok(Parsed::Help));
    assert!(
        knobs::USAGE.contains("BENCH_SCRAPE_ROUNDS") && knobs::USAGE.contains("--assertion-only")
    );
}

#[test]
fn bad_knobs_are_refused_by_name() {
    let refused = |args: &[&str], env: &[(&str, &str)], says: &str| {
        let problem = parse(args, env).unwrap_err();
        assert!(problem.contains(says), "{problem:?} does not say {says:?}");
    };
    refused(&["--fast"], &[], "--fast");
    refused(&[], &[("BENCH_SIZES", "1000 0")], "bad size 0");
    refused(&[], &[("BENCH_SIZES", "+5")], "bad size +5");
    refused(&[], &[("BENCH_SIZES", "1000000")], "bad size 1000000");
    refused(
        &[],
        &[("BENCH_PHASE_SECONDS", "80")],
        "at least the interval + 30 (90)",
    );
    refused(
        &[],
        &[("BENCH_SCRAPE_CONCURRENCY", "1")],
        "BENCH_SCRAPE_CONCURRENCY",
    );
    refused(
        &[],
        &[("BENCH_PAIRS", "0")],
        "BENCH_PAIRS must be a number from 1",
    );
    refused(
        &[],
        &[("BENCH_ASSERTION_SIZE", "many")],
        "BENCH_ASSERTION_SIZE",
    );
    refused(
        &["--assertion-only"],
        &[("BENCH_ASSERTION_SIZE", "0")],
        "above 0",
    );
}

fn fleet(n: u64, cpu: f64, rss_kib: u64, p99: &str) -> Fleet {
    let scrapes = |ms: &str| Scrapes {
        bytes: "1000".into(),
        ttfb_ms: ms.into(),
        total_ms: ms.into(),
        cpu_ms: ms.into(),
    };
    Fleet {
        n,
        command: format!("credprobe run --config.file fleet-{n}/credprobe.yml"),
        req_a: n * 3,
        req_rate: Fig::new(n as f64 * 3.0 / 60.0, 1),
        cpu_pct: Fig::new(cpu, 2),
        cpu_pct_b: Fig::new(cpu * 1.5, 2),
        cpu_per_k: Fig::new(cpu / 25.0, 4),
        rss_kib,
        rss_a0_mib: mib(rss_kib as f64),
        rss_a_mib: mib(rss_kib as f64),
        rss_mib: mib(rss_kib as f64),
        hwm_mib: mib(rss_kib as f64 * 1.5),
        rss_per_tenant: Fig::new(rss_kib as f64 / n as f64, 1),
        late: Lateness {
            p50: "0.0019".into(),
            p99: p99.into(),
            p99_le: "0.005".into(),
            cycles: 100,
            over_1s: 0,
        },
        even: evenness(&[(10, 5), (11, 4)], 10, 12).unwrap(),
        plain: scrapes("50"),
        gzip: scrapes("210"),
        series: 115_052,
        series_tenant: 115,
        series_fixed: 52,
        own_requests: "6942".into(),
        own_failures: "0".into(),
        non2xx: 0,
        sim_pct: Fig::new(0.7, 1),
        other_pct: Fig::new(1.4, 1),
        warnings: 0,
    }
}

/// One side-by-side pair as the scheduler placed it: credprobe's requests
/// and CPU-seconds per 1,000 beside the loop's 7,500 at 0.1500.
fn pair(credprobe_req: u64, credprobe_cpu_per_k: f64) -> Paired {
    Paired {
        seconds: Fig::new(30.0, 1),
        credprobe_req,
        credprobe_cpu_per_k: Fig::new(credprobe_cpu_per_k, 4),
        loop_req: 7500,
        loop_cpu_per_k: Fig::new(0.1500, 4),
        cpu: None,
    }
}

fn sample_report() -> Report {
    let burst = |peak: f64| Burst {
        before_mib: Fig::new(80.0, 1),
        peak_mib: Fig::new(peak, 1),
        sampled_mib: Fig::new(peak, 1),
        growth_mib: Fig::new(peak - 80.0, 1),
        first_byte_ms_max: "191.748".into(),
        body_ms_max: "210.954".into(),
        bytes_min: "54453774".into(),
        bytes_max: "54453774".into(),
    };
    let run = |pct: f64| AuthRun {
        pct: Fig::new(pct, 2),
        cycle: Fig::new(pct * 0.6, 3),
        token_ms: Fig::new(0.7, 3),
        tokens: 5001,
        rss_mib: Fig::new(74.8, 1),
        warnings: 0,
    };
    Report {
        command: "bench/run --quick".into(),
        elapsed: 190,
        total: 200,
        work: "target/bench/run-X".into(),
        machine: Machine {
            date: "2026-11-30 08:34 UTC".into(),
            nproc: 2,
            blackbox: "0.23.0".into(),
            ..Machine::default()
        },
        interval: 60,
        phase: 150,
        fleets: vec![
            fleet(1000, 1.24, 23_962, "0.0049"),
            fleet(5000, 9.9, 76_697, ">5"),
        ],
        even_side: Some((
            100,
            "credprobe run --config.file even-100/credprobe.yml".into(),
            evenness(&[(1, 6), (2, 4)], 1, 3).unwrap(),
        )),
        concurrent: Concurrent {
            command: "loadgen scrape --url U --concurrency N --pid 1".into(),
            concurrency: 20,
            rounds: 3,
            single: burst(131.9),
            many: burst(200.0),
            ratio: Fig::new(200.0 / 131.9, 2),
        },
        steady: Steady {
            interval: 5,
            cycles: 20,
            command: "credprobe run --config.file steady/credprobe.yml".into(),
            expected: Fig::new(3000.0, 1),
            rate: Fig::new(2990.0, 1),
            cpu_pct: Fig::new(20.0, 2),
            cpu_per_k: Fig::new(0.07, 4),
            rss_mib: Fig::new(78.0, 1),
            rss_per_tenant: Fig::new(16.0, 1),
            rss_after_mib: Fig::new(80.4, 1),
            hwm_mib: Fig::new(330.3, 1),
            late: Lateness {
                p50: "0.001".into(),
                p99: "0.0049".into(),
                p99_le: "0.005".into(),
                cycles: 10_000,
                over_1s: 0,
            },
            gzip_ms: "192.5".into(),
        },
        peer: Peer {
            probes_per_s: Fig::new(125.0, 3),
            command: "prometheus-blackbox-exporter --config.file=blackbox.yml".into(),
            driver: "loadgen blackbox --seconds 50".into(),
            req: 10_004,
            rate: Fig::new(250.0, 1),
            cpu_pct: Fig::new(23.2, 2),
            cpu_per_k: Fig::new(0.9291, 4),
            rss_mib: Fig::new(30.0, 1),
            hwm_mib: Fig::new(31.0, 1),
            seconds: 40,
            ok: 5000,
            probes: 5000,
            other_pct: Fig::new(1.0, 1),
        },
        floor: Floor {
            wrk_command: "wrk -t1".into(),
            loop_command: "loadgen floor".into(),
            wrk_req: 7500,
            wrk_rate: Fig::new(250.0, 1),
            wrk_cpu_per_k: Fig::new(0.0396, 4),
            loop_req: 7500,
            loop_rate: Fig::new(250.0, 1),
            loop_cpu_per_k: Fig::new(0.1469, 4),
            paired: vec![pair(7480, 0.1550), pair(7470, 0.1830), pair(7460, 0.1590)],
            pinned: Paired {
                seconds: Fig::new(30.0, 1),
                credprobe_req: 7490,
                credprobe_cpu_per_k: Fig::new(0.1800, 4),
                loop_req: 7500,
                loop_cpu_per_k: Fig::new(0.1500, 4),
                cpu: Some(1),
            },
        },
        sim_port: 49_273,
        clk_tck: 100,
        assertion: Some(Assertion {
            n: 5000,
            interval: 60,
            dir: "target/bench/run-X/assertion-5000".into(),
            secret: run(5.83),
            jwt: run(12.19),
            sign_ms: Fig::new(0.763, 3),
        }),
        kept: "<!-- soak: s -->\n## Soak\n<!-- /soak -->".into(),
    }
}

#[test]
fn the_report_has_every_section_in_order() {
    let text = render(&sample_report());
    let sections: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("## "))
        .collect();
    assert_eq!(
        sections,
        [
            "## Machine",
            "## Against the issue's targets (5,000 tenants, 3 upstream requests per tenant every 60 s)",
            "## Fleet: credprobe and the simulator",
            "## Concurrent scrapes: one render for scrapes that arrive together",
            "## Steady state: status history full",
            "## Side by side: blackbox_exporter",
            "## Floor: the same requests from a minimal client",
            "## Where each figure comes from",
            "## private_key_jwt: the cost of signing",
            "## Soak",
        ]
    );
    assert!(text.starts_with("# Benchmarks\n\nProduced by `bench/run --quick` (the single entry point; `make bench` runs it)"));
    assert!(
        text.contains("loopback only: 3 min 10 s of measuring after\nthe build (3 min 20 s in all")
    );
    assert!(text.ends_with("<!-- soak: s -->\n## Soak\n<!-- /soak -->\n"));
}

#[test]
fn the_cpu_target_is_judged_on_the_median_pair() {
    let mut r = sample_report();
    let judged = |r: &Report| paired_ratio(r).map(|x| (x * 100.0).round() / 100.0);
    assert_eq!(judged(&r), Some(1.06));
    // Two of three over 1.1×: the median misses, though one pair passed.
    r.floor.paired = vec![pair(7480, 0.1550), pair(7470, 0.1830), pair(7460, 0.1700)];
    assert_eq!(judged(&r), Some(1.13));
    assert!(render(&r).contains("| 1.13× (median of 3: 1.03×, 1.22×, 1.13×;"));
    assert!(
        render(&r).contains(
            "0.170 against 0.150 CPU-ms in that pair; both on one CPU: 1.20×) | **miss** |"
        )
    );
    // An even count is judged on the upper of the two middle ratios.
    r.floor.paired = vec![pair(7480, 0.1550), pair(7470, 0.1830)];
    assert_eq!(judged(&r), Some(1.22));
    // One pair: its own ratio; a pair without requests from the loop: none.
    r.floor.paired = vec![pair(7480, 0.1550)];
    assert_eq!(judged(&r), Some(1.03));
    r.floor.paired[0].loop_cpu_per_k = Fig::new(0.0, 4);
    assert_eq!(judged(&r), None);
}

#[test]
fn the_report_shows_figures_and_verdicts() {
    let text = render(&sample_report());
    let has = |line: &str| assert!(text.contains(line), "no {line:?} in\n{text}");
    has("| daemon CPU < 10 % of one core (probing) | 9.90 % | pass |\n");
    // 9.90 % + 100 × 210 ms / 1000 / 15 s = 11.30 %: a miss.
    has(
        "| daemon CPU < 10 % of one core (probing + a gzip scrape every 15 s) | 11.30 % | **miss** |\n",
    );
    has(
        "| RSS < 300 MiB, steady state (status history full) | 78.0 MiB before any scrape, 80.4 MiB after 3 scrapes, peak 330.3 MiB | **miss** |\n",
    );
    has(
        "| no probe more than 1 s late (lateness p99 < 1 s, none over 1 s) | p99 >5 s, 0 of 100 cycles over 1 s | **miss** |\n",
    );
    has(
        "| 20 concurrent plain scrapes peak ≤ 1.3 × the peak of one scrape | 200.0 MiB against 131.9 MiB: 1.52 × | **miss** |\n",
    );
    has(
        "| busiest second ≤ 2 × average (100 tenants, side run) | 1.20 × (busiest 6 requests, average 5.0) | pass |\n",
    );
    has("| lateness (1,000 tenants) | p99 0.0049 s, 0 over 1 s | pass |\n");
    has(
        "| figure | 1,000 tenants | 5,000 tenants |\n|---|---:|---:|\n| upstream requests/s (window A; expected N × 3 / 60 s) | 50.0 | 250.0 |\n",
    );
    has("| CPU, % of one core (window A, probing only) | 1.24 % | 9.90 % |\n");
    has("| RSS per tenant (VmRSS / N) | 24.0 KiB | 15.3 KiB |\n");
    // (76,697 − 23,962) KiB / 4,000 tenants.
    has(
        "Marginal RSS per tenant between the two sizes: **13.2 KiB**\n((RSS at 5,000 − RSS at 1,000) / 4000 tenants).",
    );
    has("| **CPU-ms per upstream request** | 0.396 | 0.929 | 2.3× |\n");
    has("| wrk  + `bench/floor.lua` (C, one connection) | 7500 | 250.0 | 0.040 | 10.0× |\n");
    has("| credprobe, 5,000 tenants | 15000 | 250.0 | 0.396 | 1.0× |\n");
    // Side by side as placed: 0.1550, 0.1830 and 0.1590 against 0.1500 =
    // 1.03, 1.22 and 1.06; the median (1.06, the third pair) is judged.
    // Pinned to one CPU: 0.1800 / 0.1500 = 1.20.
    has(
        "| credprobe, 5,000 tenants, pair 1 | 7480 | 0.155 | 1.03× |\n| reqwest loop, pair 1 | 7500 | 0.150 | |\n",
    );
    has("| credprobe, 5,000 tenants, pair 2 | 7470 | 0.183 | 1.22× |\n");
    has("| credprobe, 5,000 tenants, pair 3 | 7460 | 0.159 | **1.06×** |\n");
    has("| credprobe, 5,000 tenants, both on one CPU | 7490 | 0.180 | 1.20× |\n");
    has("Run three times as the scheduler places the two\nprocesses");
    has("Then once with both pinned to CPU 1\n(`taskset`)");
    has(
        "| CPU per upstream request ≤ 1.1 × the reqwest floor (side by side, median of the windows) | 1.06× (median of 3: 1.03×, 1.22×, 1.06×; 0.159 against 0.150 CPU-ms in that pair; both on one CPU: 1.20×) | pass |\n",
    );
    has("over a 40 s window after 5 s of warm-up");
    has("| **CPU-seconds per cycle** (all tenants, one 60 s interval) | 3.498 | 7.314 |\n");
    has(
        "Signing adds about **0.763 CPU-ms per tenant per cycle** (the difference of the two runs over 5,000 tenants).",
    );
    has("to the end of the phase (2 s at 5,000 tenants).");
}
