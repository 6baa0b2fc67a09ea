//! Operations on the real binary: reload by SIGHUP, `POST /-/reload` and
//! `--config.watch` (a Kubernetes-style symlink swap), invalid configs that
//! change nothing, and graceful shutdown.

use std::time::{Duration, Instant};

use credprobe_simulator::Scenario;

use crate::support::{self, Daemon, at_least, signal, start_simulator, value};

const CLIENTS: &str = "clients:\n  - {client_id: c, client_secret: s}\n  - {client_id: slow, client_secret: s, api_delay: 3s}\n  - {client_id: hang, client_secret: s, api_delay: 1h}\n";

fn tenant(name: &str, base: &str, extra: &str) -> String {
    format!(
        "  - {{name: {name}, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: c, client_secret: s, endpoints: [{{name: workflows, path: /api/v1/workflows}}{extra}]}}\n"
    )
}

fn config(tenants: &[String]) -> String {
    format!(
        "defaults: {{interval: 1s, timeout: 500ms}}\ntenants:\n{}",
        tenants.concat()
    )
}

fn successes(text: &str, tenant: &str) -> f64 {
    value(
        text,
        "credprobe_token_requests_total",
        &[("tenant", tenant), ("result", "success")],
    )
    .unwrap_or(-1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_a_diff_and_an_invalid_config_changes_nothing() {
    let sim = start_simulator(Scenario::from_yaml_str(CLIENTS).unwrap()).await;
    let base = sim.base_url();
    let v1 = config(&[
        tenant("keep", &base, ""),
        tenant("drop", &base, ""),
        tenant("change", &base, ""),
    ]);
    let daemon = Daemon::start(&v1, &[]);
    let before = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            ["keep", "drop", "change"]
                .iter()
                .all(|n| successes(t, n) >= 2.0)
        })
        .await;
    let keep_before = successes(&before, "keep");

    // v2 by SIGHUP: keep unchanged, drop removed, change gets a second endpoint, fresh added.
    let v2 = config(&[
        tenant("keep", &base, ""),
        tenant(
            "change",
            &base,
            ", {name: remote_actions, path: /api/v1/act/remote-action}",
        ),
        tenant("fresh", &base, ""),
    ]);
    std::fs::write(daemon.config_path(), &v2).unwrap();
    signal(&daemon.child, "HUP");
    let after = daemon
        .wait_for_metrics(Duration::from_secs(15), |t| {
            successes(t, "fresh") >= 1.0
                && at_least(
                    t,
                    "credprobe_endpoint_requests_total",
                    &[
                        ("tenant", "change"),
                        ("endpoint", "remote_actions"),
                        ("result", "success"),
                    ],
                    1.0,
                )
        })
        .await;
    assert!(
        !after.contains("tenant=\"drop\""),
        "a removed tenant's series must all disappear:\n{after}"
    );
    assert!(
        successes(&after, "keep") >= keep_before,
        "the unchanged tenant's counter was reset"
    );
    assert_eq!(value(&after, "credprobe_tenants", &[]), Some(3.0));
    assert_eq!(
        value(&after, "credprobe_config_last_reload_successful", &[]),
        Some(1.0)
    );
    // The unchanged tenant kept its schedule: no gap of more than ~1 interval.
    let keep_mark = successes(&after, "keep");

    // v3 by POST /-/reload: fresh removed; the answer says what happened.
    let v3 = config(&[
        tenant("keep", &base, ""),
        tenant(
            "change",
            &base,
            ", {name: remote_actions, path: /api/v1/act/remote-action}",
        ),
    ]);
    std::fs::write(daemon.config_path(), &v3).unwrap();
    let response = support::client()
        .post(daemon.url("/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("1 removed (fresh)") && body.contains("2 unchanged"),
        "{body}"
    );
    let text = daemon.metrics().await;
    assert!(!text.contains("tenant=\"fresh\""), "{text}");

    // An invalid config: 400 with the problem, gauge 0, nothing stops.
    let broken = v3.replace(
        "name: change,",
        "name: change, nexthink: {instance: x, region: mars},",
    );
    std::fs::write(daemon.config_path(), &broken).unwrap();
    let response = support::client()
        .post(daemon.url("/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(
        body.lines().any(|line| line
            .split_once("credprobe.yml:")
            .and_then(|(_, rest)| rest.split_once(": tenant change: nexthink.region"))
            .is_some_and(|(line, _)| line.parse::<usize>().is_ok())),
        "{body}"
    );
    signal(&daemon.child, "HUP");
    let text = daemon
        .wait_for_metrics(Duration::from_secs(10), |t| {
            successes(t, "keep") >= keep_mark + 2.0
        })
        .await;
    assert_eq!(
        value(&text, "credprobe_config_last_reload_successful", &[]),
        Some(0.0)
    );
    assert_eq!(value(&text, "credprobe_tenants", &[]), Some(2.0));
    assert!(
        daemon
            .logs()
            .contains("reload failed; the running configuration stays in force")
    );
}

/// The daemon on `path` with `--config.watch` every 200 ms, once its
/// tenant `one` has succeeded.
async fn watching(dir: tempfile::TempDir, path: &std::path::Path) -> Daemon {
    let daemon = Daemon::spawn(
        dir,
        path,
        &["--config.watch", "--config.watch-interval", "200ms"],
    );
    daemon
        .wait_for_metrics(Duration::from_secs(10), |t| successes(t, "one") >= 1.0)
        .await;
    daemon
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_watch_follows_a_kubernetes_style_symlink_swap() {
    let sim = start_simulator(Scenario::from_yaml_str(CLIENTS).unwrap()).await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A ConfigMap volume: credprobe.yml -> ..data/credprobe.yml, ..data -> ..v1
    std::fs::create_dir(root.join("..v1")).unwrap();
    std::fs::write(
        root.join("..v1/credprobe.yml"),
        config(&[tenant("one", &base, "")]),
    )
    .unwrap();
    std::os::unix::fs::symlink("..v1", root.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/credprobe.yml", root.join("credprobe.yml")).unwrap();
    let path = root.join("credprobe.yml");
    let daemon = watching(dir, &path).await;

    let root = daemon.dir.path();
    std::fs::create_dir(root.join("..v2")).unwrap();
    std::fs::write(
        root.join("..v2/credprobe.yml"),
        config(&[tenant("one", &base, ""), tenant("two", &base, "")]),
    )
    .unwrap();
    std::os::unix::fs::symlink("..v2", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    daemon
        .wait_for_metrics(Duration::from_secs(10), |t| successes(t, "two") >= 1.0)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_watch_follows_tenant_files_patterns_changed_by_a_reload() {
    let sim = start_simulator(Scenario::from_yaml_str(CLIENTS).unwrap()).await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("old.d")).unwrap();
    std::fs::create_dir(root.join("new.d")).unwrap();
    // A tenant file holds one tenant mapping: the list item without its dash.
    let tenant_file = |name: &str| tenant(name, &base, "").replacen("  - ", "", 1);
    std::fs::write(root.join("old.d/one.yml"), tenant_file("one")).unwrap();
    let main = |pattern: &str| {
        format!("defaults: {{interval: 1s, timeout: 500ms}}\ntenant_files: [\"{pattern}\"]\n")
    };
    let path = root.join("credprobe.yml");
    std::fs::write(&path, main("old.d/*.yml")).unwrap();
    let daemon = watching(dir, &path).await;

    // The main file now takes its tenants from new.d: the watch reloads.
    let root = daemon.dir.path();
    std::fs::write(root.join("new.d/two.yml"), tenant_file("two")).unwrap();
    std::fs::write(&path, main("new.d/*.yml")).unwrap();
    daemon
        .wait_for_metrics(Duration::from_secs(10), |t| {
            successes(t, "two") >= 1.0 && !t.contains("tenant=\"one\"")
        })
        .await;

    // A file that appears later under the new pattern is seen too: the
    // watch follows the patterns of the running configuration, not the
    // ones it started with.
    std::fs::write(root.join("new.d/three.yml"), tenant_file("three")).unwrap();
    daemon
        .wait_for_metrics(Duration::from_secs(10), |t| successes(t, "three") >= 1.0)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_slow_probe_finish_and_exits_zero() {
    let sim = start_simulator(Scenario::from_yaml_str(CLIENTS).unwrap()).await;
    let base = sim.base_url();
    let mut daemon = Daemon::start(
        &format!(
            "defaults: {{interval: 10s, timeout: 5s}}\ntenants:\n  - {{name: slow, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: slow, client_secret: s, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n"
        ),
        &["--shutdown.grace", "10s"],
    );
    // Wait until the slow API call is in flight.
    let start = Instant::now();
    while !sim.requests().iter().any(|r| r.path == "/api/v1/workflows") {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the probe never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = Instant::now();
    let status = daemon
        .terminate(Duration::from_secs(12))
        .expect("exits within the grace period");
    assert!(status.success(), "{status:?}\n{}", daemon.logs());
    let took = sent.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "exited after {took:?}: the in-flight probe was not waited for"
    );
    assert!(
        daemon.logs().contains("credprobe stopped"),
        "{}",
        daemon.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_bounds_shutdown_and_a_second_signal_exits_at_once() {
    let sim = start_simulator(Scenario::from_yaml_str(CLIENTS).unwrap()).await;
    let base = sim.base_url();
    let hanging = format!(
        "defaults: {{interval: 10s, timeout: 8s}}\ntenants:\n  - {{name: hang, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: hang, client_secret: s, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n"
    );
    let in_flight = |sim: &credprobe_simulator::Simulator, n: usize| {
        sim.requests()
            .iter()
            .filter(|r| r.path == "/api/v1/workflows")
            .count()
            >= n
    };

    let mut bounded = Daemon::start(&hanging, &["--shutdown.grace", "1s"]);
    let start = Instant::now();
    while !in_flight(&sim, 1) {
        assert!(start.elapsed() < Duration::from_secs(15));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = Instant::now();
    let status = bounded
        .terminate(Duration::from_secs(6))
        .expect("exits soon after the grace period");
    assert!(status.success(), "{status:?}");
    assert!(sent.elapsed() < Duration::from_secs(6));

    let mut impatient = Daemon::start(&hanging, &["--shutdown.grace", "60s"]);
    let start = Instant::now();
    while !in_flight(&sim, 2) {
        assert!(start.elapsed() < Duration::from_secs(15));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(&impatient.child, "TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&impatient.child, "TERM");
    let status = impatient
        .wait_exit(Duration::from_secs(3))
        .expect("a second signal exits at once");
    assert_eq!(status.code(), Some(128 + 15), "{status:?}");
}

/// `path`'s JSON.
async fn json(daemon: &Daemon, path: &str) -> serde_json::Value {
    let (status, body) = daemon.get(path).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The failed-reload banner of a page, if it has one.
fn banner(page: &str) -> Option<&str> {
    let rest = page.split("id=\"failed-reload\"").nth(1)?;
    rest.split("</div>").next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reload_is_a_banner_and_in_the_json_until_a_reload_succeeds() {
    let sim = start_simulator(Scenario::from_yaml_str(CLIENTS).unwrap()).await;
    let base = sim.base_url();
    let v1 = config(&[tenant("keep", &base, ""), tenant("other", &base, "")]);
    let daemon = Daemon::start(&v1, &[]);
    daemon
        .wait_for_metrics(Duration::from_secs(15), |t| successes(t, "keep") >= 1.0)
        .await;
    let (_, page) = daemon.get("/").await;
    assert_eq!(banner(&page), None, "no banner before a failed reload");
    assert!(json(&daemon, "/api/v1/tenants").await["failed_reload"].is_null());

    // Two problems, in two tenants.
    let broken = v1
        .replace(
            "name: keep,",
            "name: keep, nexthink: {instance: x, region: mars},",
        )
        .replace(
            "name: other,",
            "name: other, nexthink: {instance: y, region: venus},",
        );
    std::fs::write(daemon.config_path(), &broken).unwrap();
    let response = support::client()
        .post(daemon.url("/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer = response.text().await.unwrap();
    for expected in [
        "reload failed; the running configuration stays in force",
        "tenant keep: nexthink.region",
        "tenant other: nexthink.region",
    ] {
        assert!(answer.contains(expected), "{expected}: {answer}");
    }

    // The overview, a tenant page and an unknown tenant's page: the banner
    // with both problems.
    for path in ["/", "/tenants/keep", "/tenants/nobody"] {
        let (_, page) = daemon.get(path).await;
        let banner = banner(&page).unwrap_or_else(|| panic!("{path}: no banner: {page}"));
        assert!(
            banner.contains("The last configuration reload failed")
                && banner.contains("2 problems")
                && banner.contains("tenant <b>keep</b>")
                && banner.contains("tenant <b>other</b>")
                && banner.contains("mars")
                && banner.contains("venus"),
            "{path}: {banner}"
        );
    }
    // The JSON: when, and every problem with its file, tenant and field.
    for path in ["/api/v1/tenants", "/api/v1/tenants/keep"] {
        let failed = json(&daemon, path).await["failed_reload"].clone();
        assert!(failed["failed_at"].as_f64().is_some(), "{path}: {failed}");
        let problems = failed["problems"].as_array().unwrap();
        let tenants: Vec<&str> = problems
            .iter()
            .map(|p| p["tenant"].as_str().unwrap())
            .collect();
        assert_eq!(tenants, ["keep", "other"], "{path}: {failed}");
        for problem in problems {
            assert!(
                problem["file"].as_str().unwrap().ends_with("credprobe.yml"),
                "{problem}"
            );
            assert_eq!(problem["field"], "nexthink.region", "{problem}");
            assert!(problem["message"].as_str().is_some(), "{problem}");
        }
    }
    // The log: the failure, then one line per problem.
    let logs = daemon.logs();
    let problem_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("reload problem"))
        .collect();
    assert_eq!(problem_lines.len(), 2, "{logs}");
    assert!(
        problem_lines[0].contains("tenant=keep") && problem_lines[1].contains("tenant=other"),
        "{logs}"
    );
    // The tenants still run, under the configuration loaded before.
    assert_eq!(json(&daemon, "/api/v1/tenants/keep").await["name"], "keep");

    // A good reload clears it, and its log line names what changed.
    let v2 = config(&[tenant("keep", &base, ""), tenant("fresh", &base, "")]);
    std::fs::write(daemon.config_path(), &v2).unwrap();
    let response = support::client()
        .post(daemon.url("/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for path in ["/", "/tenants/keep"] {
        let (_, page) = daemon.get(path).await;
        assert_eq!(banner(&page), None, "{path}: {page}");
    }
    for path in ["/api/v1/tenants", "/api/v1/tenants/keep"] {
        assert!(
            json(&daemon, path).await["failed_reload"].is_null(),
            "{path}"
        );
    }
    let logs = daemon.logs();
    let reloaded = logs
        .lines()
        .find(|l| l.contains("configuration reloaded"))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(
        reloaded.contains("added_tenants=fresh") && reloaded.contains("removed_tenants=other"),
        "{reloaded}"
    );
    assert!(!reloaded.contains("changed_tenants"), "{reloaded}");
}
