//! A sharded fleet: every shard checks the whole fleet's configuration (a
//! typo anywhere stops every shard, so shards agree), but reads the secret
//! files of its own tenants only. Proven with secret files that exist for
//! shard 0's tenants alone: shard 0 starts and probes exactly its tenants
//! (in both layouts: one large file, and one tenant per file), while
//! `check-config`, which checks every file, names the missing ones.

use std::path::Path;
use std::time::Duration;

use credprobe::shard::shard_of;
use credprobe_simulator::Scenario;

use crate::support::{Daemon, run_binary, start_simulator, value, write};

const TENANTS: usize = 2000;
const SHARDS: u32 = 4;

fn name(i: usize) -> String {
    format!("tenant-{i:05}")
}

/// One tenant's YAML lines, as an item of a `tenants:` list at `indent`.
fn tenant(i: usize, base: &str, indent: &str) -> String {
    let name = name(i);
    format!(
        "{indent}- name: {name}\n\
         {indent}  labels: {{customer: c{i}}}\n\
         {indent}  base_url: \"{base}\"\n\
         {indent}  token_url: \"{base}/oauth2/token\"\n\
         {indent}  client_id: {name}\n\
         {indent}  client_secret_file: secrets/{name}\n\
         {indent}  endpoints:\n\
         {indent}    - {{name: workflows, path: /api/v1/workflows}}\n"
    )
}

/// Secret files for shard 0's tenants only; returns how many.
fn shard_zero_secrets(dir: &Path) -> usize {
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    let mut owned = 0;
    for i in 0..TENANTS {
        if shard_of(&name(i), SHARDS) == 0 {
            write(
                &dir.join("secrets"),
                &name(i),
                &format!("{}-secret\n", name(i)),
            );
            owned += 1;
        }
    }
    owned
}

const HEAD: &str = "defaults: {interval: 1h, timeout: 5s}\n";

async fn shard_zero_probes_only_its_own(dir: tempfile::TempDir, path: &Path, owned: usize) {
    let daemon = Daemon::spawn(
        dir,
        path,
        &["--shard.count", &SHARDS.to_string(), "--shard.index", "0"],
    );
    let text = daemon
        .wait_for_metrics(Duration::from_secs(60), |t| {
            value(t, "credprobe_tenants", &[]).is_some()
        })
        .await;
    assert_eq!(value(&text, "credprobe_tenants", &[]), Some(owned as f64));
    let infos = text
        .lines()
        .filter(|l| l.starts_with("credprobe_tenant_info{"))
        .count();
    assert_eq!(infos, owned, "one info series per own tenant");
    assert!(
        daemon.logs().contains(&format!("configured={TENANTS}")),
        "{}",
        daemon.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_reads_only_its_own_secret_files_in_one_large_file() {
    let sim = start_simulator(Scenario::from_yaml_str("accept_any: true").unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let owned = shard_zero_secrets(dir.path());
    assert!(owned > TENANTS / 8 && owned < TENANTS / 2, "{owned}");
    let mut text = format!("{HEAD}tenants:\n");
    for i in 0..TENANTS {
        text.push_str(&tenant(i, &sim.base_url(), "  "));
    }
    let path = write(dir.path(), "credprobe.yml", &text);

    // check-config reads every file: the other shards' are missing.
    let (code, _, stderr) = run_binary(
        &["check-config", "--config.file", path.to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert_eq!(code, 2, "{stderr}");
    let missing = stderr.matches("client_secret_file: cannot read").count();
    assert_eq!(missing, TENANTS - owned, "{stderr}");

    shard_zero_probes_only_its_own(dir, &path, owned).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_reads_only_its_own_secret_files_with_one_file_per_tenant() {
    let sim = start_simulator(Scenario::from_yaml_str("accept_any: true").unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let owned = shard_zero_secrets(dir.path());
    std::fs::create_dir_all(dir.path().join("tenants.d")).unwrap();
    for i in 0..TENANTS {
        let item = tenant(i, &sim.base_url(), "");
        // One tenant per file, as a mapping (the list's item without `- `),
        // its secret path relative to the tenant file's folder.
        let mapping: String = item
            .lines()
            .map(|l| {
                l.strip_prefix("- ")
                    .or_else(|| l.strip_prefix("  "))
                    .unwrap_or(l)
            })
            .map(|l| l.replace("secrets/", "../secrets/") + "\n")
            .collect();
        write(
            &dir.path().join("tenants.d"),
            &format!("{}.yml", name(i)),
            &mapping,
        );
    }
    let path = write(
        dir.path(),
        "credprobe.yml",
        &format!("{HEAD}tenant_files: [\"tenants.d/*.yml\"]\n"),
    );
    shard_zero_probes_only_its_own(dir, &path, owned).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typo_in_another_shards_tenant_stops_every_shard() {
    let dir = tempfile::tempdir().unwrap();
    shard_zero_secrets(dir.path());
    let other = (0..TENANTS)
        .find(|&i| shard_of(&name(i), SHARDS) == 1)
        .unwrap();
    let mut text = format!("{HEAD}tenants:\n");
    for i in 0..TENANTS {
        let item = tenant(i, "http://127.0.0.1:9", "  ");
        text.push_str(&if i == other {
            item.replace("client_id:", "clientid:")
        } else {
            item
        });
    }
    let path = write(dir.path(), "credprobe.yml", &text);
    let (code, _, stderr) = run_binary(
        &[
            "run",
            "--config.file",
            path.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
            "--shard.count",
            &SHARDS.to_string(),
            "--shard.index",
            "0",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("credprobe.yml"), "names the file: {stderr}");
    assert!(stderr.contains("unknown field `clientid`"), "{stderr}");
}
