//! The server limits against hostile clients on the real binary: slowloris
//! connections (a partial request head, trickled forever) and a flood of
//! idle connections three times the connection limit, reconnecting as soon
//! as they are cut. Under that:
//! - a scrape arriving while slow clients hold some connections is
//!   answered at once;
//! - a scrape arriving during the flood is answered within a bound (it
//!   waits its turn in the listen queue; every slot comes free within the
//!   header read timeout);
//! - the process never holds more client sockets than the limit;
//! - slow and idle connections are cut at the header read timeout;
//! - the probes keep their schedule: every tenant cycles, and cycles start
//!   on time.
//!
//! And clients that request responses and never read them (slow readers)
//! lose their connection, so they cannot hold every slot for long either.
//!
//! Bounds are generous (a 2-core machine shared with builds): the test
//! asserts behaviour, not speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support;
use crate::support::web::{self, Credprobe, http_client};

const LIMIT: usize = 32;
const HEADER_READ_TIMEOUT: &str = "2s";
const DEMO_TENANTS: [&str; 8] = [
    "acme-prod",
    "globex-revoked",
    "initech-slow",
    "umbrella-noperm",
    "hooli-flaky",
    "stark-ratelimited",
    "oscorp-malformed",
    "wayne-generic",
];

/// What the attackers share: when to stop, and how often the server cut
/// one of them off.
#[derive(Default)]
struct Attack {
    stop: AtomicBool,
    cut: AtomicUsize,
}

/// One hostile client: connects, sends a partial request head and
/// trickles a header line every 500 ms (`slow`), or sends nothing at all;
/// counts the server closing on it; reconnects when `again`.
async fn hostile(addr: String, slow: bool, again: bool, attack: Arc<Attack>) {
    while !attack.stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = TcpStream::connect(&addr).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if slow {
            let _ = stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .await;
        }
        let mut buf = [0u8; 1024];
        while !attack.stop.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    attack.cut.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Ok(Ok(_)) => {}
                Err(_) => {
                    if slow {
                        let _ = stream.write_all(b"X-Slow: 1\r\n").await;
                    }
                }
            }
        }
        if !again {
            return;
        }
    }
}

/// Scrapes /metrics: (seconds it took, body).
async fn scrape(url: &str) -> (f64, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let start = Instant::now();
    let response = client.get(url).send().await.expect("scrape answered");
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    (start.elapsed().as_secs_f64(), body)
}

fn open_sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .filter(|entry| {
                    std::fs::read_link(entry.path())
                        .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

fn lateness(text: &str) -> (f64, f64) {
    (
        support::value(text, "credprobe_schedule_lateness_seconds_sum", &[]).unwrap_or(0.0),
        support::value(text, "credprobe_schedule_lateness_seconds_count", &[]).unwrap_or(0.0),
    )
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_flooding_clients_neither_starve_the_scrape_nor_the_probes() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let limit = LIMIT.to_string();
    let daemon = Credprobe::start(
        &[
            "demo",
            "--web.max-connections",
            &limit,
            "--web.header-read-timeout",
            HEADER_READ_TIMEOUT,
        ],
        &[],
    );
    let pid = daemon.child.id();
    let url = daemon.http("/metrics");

    // Every tenant has finished a first cycle (the demo's interval is 10s).
    let start = Instant::now();
    loop {
        let (status, _) = web::get_as(&http_client(), &daemon.http("/-/ready"), None)
            .await
            .unwrap();
        if status == 200 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(40), "never ready");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, before) = scrape(&url).await;
    let (sum_before, count_before) = lateness(&before);
    let sockets_before = open_sockets(pid);
    let attack_start = now();
    let attack = Arc::new(Attack::default());
    let mut attackers = Vec::new();

    // Phase 1: slow clients hold three quarters of the slots, once each.
    let first_wave = LIMIT * 3 / 4;
    for _ in 0..first_wave {
        attackers.push(tokio::spawn(hostile(
            daemon.addr.clone(),
            true,
            false,
            Arc::clone(&attack),
        )));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (took, _) = scrape(&url).await;
    assert!(
        took < 5.0,
        "with slots left, a scrape waited {took:.1}s behind slow clients"
    );

    // Phase 2: three times the limit, slow and idle, reconnecting when cut.
    for i in 0..LIMIT * 3 {
        attackers.push(tokio::spawn(hostile(
            daemon.addr.clone(),
            i % 3 == 0,
            true,
            Arc::clone(&attack),
        )));
    }
    let sampler = {
        let attack = Arc::clone(&attack);
        tokio::spawn(async move {
            let mut most = 0;
            while !attack.stop.load(Ordering::Relaxed) {
                most = most.max(open_sockets(pid));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            most
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut waits = Vec::new();
    let mut during = String::new();
    // Scrape through the flood until the window covers a whole interval.
    while now() - attack_start < 16.0 {
        let (took, body) = scrape(&url).await;
        waits.push(took);
        during = body;
    }
    attack.stop.store(true, Ordering::Relaxed);
    let most_sockets = sampler.await.unwrap();
    for attacker in attackers {
        let _ = tokio::time::timeout(Duration::from_secs(5), attacker).await;
    }
    let cut = attack.cut.load(Ordering::Relaxed);
    let logs = daemon.logs();
    eprintln!(
        "scrape waits during the flood {waits:.2?}s; sockets at most {most_sockets} \
         (before {sockets_before}, limit {LIMIT}); hostile connections cut {cut}"
    );

    // Scrapes during the flood were answered within a bound: a few header
    // read timeouts of queueing, never starved.
    let worst = waits.iter().copied().fold(0.0, f64::max);
    assert!(
        worst < 20.0,
        "a scrape during the flood took {worst:.1}s ({waits:?})"
    );
    // The process held at most the limit of client sockets (plus its own:
    // the listener, and the probes' connections to the in-process
    // simulator, both ends, which come and go: without the limit it would
    // be over 100 more).
    assert!(
        most_sockets <= sockets_before + LIMIT + 24,
        "{most_sockets} sockets open at most, {sockets_before} before, limit {LIMIT}"
    );
    // Slow and idle clients were cut at the header read timeout: the first
    // wave alone was cut once each, the flood many times over.
    assert!(
        cut >= first_wave + LIMIT,
        "only {cut} hostile connections were cut by the server"
    );
    assert!(
        logs.contains("connection limit reached"),
        "the limit was never reached:\n{logs}"
    );

    // The probes kept their schedule: every tenant cycled during the attack
    // and the cycles started on time.
    for tenant in DEMO_TENANTS {
        let ended = support::value(
            &during,
            "credprobe_tenant_last_cycle_timestamp_seconds",
            &[("tenant", tenant)],
        )
        .unwrap_or(0.0);
        assert!(
            ended > attack_start,
            "{tenant} did not finish a cycle during the attack"
        );
    }
    let (sum_after, count_after) = lateness(&during);
    let cycles = count_after - count_before;
    assert!(
        cycles >= DEMO_TENANTS.len() as f64,
        "only {cycles} cycles during the attack"
    );
    let mean = (sum_after - sum_before) / cycles;
    assert!(
        mean < 2.0,
        "cycles started {mean:.2}s late on average during the attack"
    );

    // And the server is still fine afterwards.
    let (took, _) = scrape(&url).await;
    assert!(took < 5.0, "after the attack a scrape took {took:.1}s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_stop_reading_lose_their_slots_and_the_scrape_gets_in() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    const SLOTS: usize = 4;
    let daemon = Credprobe::start(
        &[
            "demo",
            "--web.max-connections",
            &SLOTS.to_string(),
            "--web.header-read-timeout",
            HEADER_READ_TIMEOUT,
        ],
        &[],
    );
    let url = daemon.http("/metrics");
    // Every slot taken by a client that asks for /metrics a thousand times
    // over one connection (HTTP/1.1 pipelining, some 38 MB of answers) and
    // reads none of it: the server's writes stall once the socket buffers
    // are full.
    let mut readers = Vec::new();
    for _ in 0..SLOTS {
        let addr = daemon.addr.clone();
        readers.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            let requests = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(1000);
            let _ = stream.write_all(requests.as_bytes()).await;
            // Hold the connection (unread) until the test ends.
            tokio::time::sleep(Duration::from_secs(120)).await;
            drop(stream);
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (took, _) = scrape(&url).await;
    eprintln!("scrape behind {SLOTS} stalled readers took {took:.2}s");
    assert!(
        took < 20.0,
        "a scrape waited {took:.1}s behind clients that stopped reading"
    );
    for reader in readers {
        reader.abort();
    }
}
