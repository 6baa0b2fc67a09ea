//! Scale features on the real binary: shards that split one config between
//! processes, and gzip-compressed scrapes.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::time::Duration;

use credprobe_simulator::Scenario;

use crate::support::{self, Daemon, start_simulator, value};

fn tenants_of(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("credprobe_tenant_info{"))
        .filter_map(|l| {
            let at = l.find("tenant=\"")? + 8;
            Some(l[at..].split('"').next()?.to_owned())
        })
        .collect()
}

fn fleet(base: &str, n: usize) -> String {
    let mut text = String::from("defaults: {interval: 1s, timeout: 500ms}\ntenants:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - {{name: t{i:02}, token_url: \"{base}/oauth2/token\", client_id: t{i:02}, client_secret: secret-t{i:02}}}\n"
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_probe_disjoint_tenant_sets_that_cover_the_fleet() {
    let sim = start_simulator(Scenario::from_yaml_str("accept_any: true").unwrap()).await;
    let config = fleet(&sim.base_url(), 20);
    let zero = Daemon::start(&config, &["--shard.count", "2", "--shard.index", "0"]);
    let one = Daemon::start(&config, &["--shard.count", "2", "--shard.index", "1"]);
    let (a, b) = (zero.metrics().await, one.metrics().await);
    let (set_a, set_b) = (tenants_of(&a), tenants_of(&b));
    assert!(
        !set_a.is_empty() && !set_b.is_empty(),
        "{set_a:?} {set_b:?}"
    );
    assert!(set_a.is_disjoint(&set_b), "{set_a:?} {set_b:?}");
    assert_eq!(set_a.len() + set_b.len(), 20);
    assert_eq!(value(&a, "credprobe_shard_index", &[]), Some(0.0));
    assert_eq!(value(&b, "credprobe_shard_index", &[]), Some(1.0));
    assert_eq!(value(&b, "credprobe_shards", &[]), Some(2.0));
    assert_eq!(
        value(&a, "credprobe_tenants", &[]),
        Some(set_a.len() as f64)
    );
    // And they really probe only their own: the simulator saw each tenant from one shard.
    zero.wait_for_metrics(Duration::from_secs(10), |t| {
        set_a
            .iter()
            .all(|n| value(t, "credprobe_token_success", &[("tenant", n)]) == Some(1.0))
    })
    .await;
    let text = one.metrics().await;
    assert!(
        set_a
            .iter()
            .all(|n| !text.contains(&format!("tenant=\"{n}\"")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_shard_flags_are_usage_errors() {
    let (code, _, stderr) = support::run_binary(
        &[
            "run",
            "--config.file",
            "/nonexistent.yml",
            "--shard.count",
            "2",
            "--shard.index",
            "2",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--shard.index 2 is not below --shard.count 2"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_are_gzipped_when_the_scraper_asks() {
    let sim = start_simulator(Scenario::from_yaml_str("accept_any: true").unwrap()).await;
    let daemon = Daemon::start(&fleet(&sim.base_url(), 5), &[]);
    // Both scrapes after every tenant's first cycle, so they hold the same families.
    let start = std::time::Instant::now();
    while daemon.get("/-/ready").await.0 != 200 {
        assert!(start.elapsed() < Duration::from_secs(10), "never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let plain = daemon.metrics().await;
    let response = support::client()
        .get(daemon.url("/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let bytes = response.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        bytes.len() < text.len() / 3,
        "{} compressed vs {} plain",
        bytes.len(),
        text.len()
    );
    let names = |t: &str| -> BTreeSet<String> {
        t.lines()
            .filter(|l| l.starts_with("# TYPE"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(names(&plain), names(&text));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_without_tenants_still_serves_metrics() {
    let sim = start_simulator(Scenario::from_yaml_str("accept_any: true").unwrap()).await;
    let config = fleet(&sim.base_url(), 1);
    let owner = credprobe::shard::shard_of("t00", 2);
    let idle = (1 - owner).to_string();
    let daemon = Daemon::start(&config, &["--shard.count", "2", "--shard.index", &idle]);
    let text = daemon.metrics().await;
    assert_eq!(value(&text, "credprobe_tenants", &[]), Some(0.0));
    assert!(!text.contains("credprobe_tenant_info"), "{text}");
    assert_eq!(daemon.get("/-/ready").await.0, 200);
}
