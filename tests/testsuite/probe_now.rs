//! Probe now (`POST /api/v1/tenants/{name}/probe`) on the real daemon: the
//! tenant's cycle runs at once and its result is answered; requests are
//! spaced per tenant; an unknown tenant is 404; the web configuration's
//! basic auth covers it; a request another site's page could make is
//! refused; the tenant page has the button.

use std::time::Duration;

use credprobe_simulator::Scenario;

use crate::support::web::{PASSWORD, USER, bcrypt_hash};
use crate::support::{self, Daemon, start_simulator, write};

const HEADER: &str = "X-Credprobe-Probe";

fn scenario(api_status: &str) -> Scenario {
    Scenario::from_yaml_str(&format!(
        "clients:\n  - {{client_id: acme, client_secret: s{api_status}}}\n"
    ))
    .unwrap()
}

/// One tenant probed hourly: only its first cycle runs on its own.
fn config(base: &str) -> String {
    format!(
        "tenants:\n  - {{name: acme, interval: 1h, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: acme, client_secret: s, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n"
    )
}

async fn tenant_json(daemon: &Daemon) -> serde_json::Value {
    let (status, body) = daemon.get("/api/v1/tenants/acme").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits for the tenant's first (scheduled) cycle.
async fn first_cycle(daemon: &Daemon) -> serde_json::Value {
    let start = std::time::Instant::now();
    loop {
        let json = tenant_json(daemon).await;
        if !json["last_cycle_at"].is_null() {
            return json;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no first cycle: {json}\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn api_calls(sim: &credprobe_simulator::Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path == "/api/v1/workflows")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_now_runs_the_cycle_at_once_spaced_and_never_from_another_site() {
    let sim = start_simulator(scenario("")).await;
    let base = sim.base_url();
    let daemon = Daemon::start(&config(&base), &[]);
    let before = first_cycle(&daemon).await;
    assert_eq!(before["success"], 1, "{before}");
    assert_eq!(api_calls(&sim), 1);
    // The API breaks; the next scheduled cycle is an hour away.
    sim.set_scenario(scenario(", api_status: {/api/v1/workflows: 503}"));

    let client = support::client();
    let url = daemon.url("/api/v1/tenants/acme/probe");
    // What another site's page could send: a form post (no custom header),
    // or a fetch the browser marks cross-site or from another origin.
    let refused = [
        client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "http://evil.example")
            .header("sec-fetch-site", "cross-site")
            .body("x=1"),
        client.post(&url),
        client
            .post(&url)
            .header(HEADER, "1")
            .header("sec-fetch-site", "cross-site"),
        client
            .post(&url)
            .header(HEADER, "1")
            .header("origin", "http://evil.example"),
    ];
    for request in refused {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403);
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "no CORS"
        );
    }
    assert_eq!(api_calls(&sim), 1, "a refused request runs nothing");
    // The browser's preflight for a cross-site fetch with the header is
    // not granted either.
    let preflight = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-credprobe-probe")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // The page's own request: the cycle runs now and the answer is the
    // tenant after it.
    let response = client
        .post(&url)
        .header(HEADER, "1")
        .header("sec-fetch-site", "same-origin")
        .header("origin", daemon.url(""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let after: serde_json::Value = response.json().await.unwrap();
    assert_eq!(after["name"], "acme");
    assert_eq!(after["success"], 0, "{after}");
    assert_eq!(after["endpoints"][0]["status"], 503, "{after}");
    assert_ne!(after["last_cycle_at"], before["last_cycle_at"]);
    assert_eq!(api_calls(&sim), 2);
    // The record shows that cycle too.
    let recorded = tenant_json(&daemon).await;
    assert_eq!(recorded["last_cycle_at"], after["last_cycle_at"]);
    assert_eq!(recorded["success"], 0);

    // At most once per 10 s.
    let again = client.post(&url).header(HEADER, "1").send().await.unwrap();
    assert_eq!(again.status(), 429);
    let retry_after: u64 = again.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    assert_eq!(api_calls(&sim), 2, "a spaced-out request runs nothing");

    let unknown = client
        .post(daemon.url("/api/v1/tenants/nobody/probe"))
        .header(HEADER, "1")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("nobody"));

    // A GET (a link, an image) triggers nothing.
    let (status, _) = daemon.get("/api/v1/tenants/acme/probe").await;
    assert_eq!(status, 405);

    // The tenant page has the button, and its policy lets the page's
    // script call credprobe (and nothing else).
    let page = client
        .get(daemon.url("/tenants/acme"))
        .send()
        .await
        .unwrap();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"id="probe-now""#)
            && html.contains(r#"data-probe="../api/v1/tenants/acme/probe""#),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_now_is_behind_the_web_configs_basic_auth() {
    let sim = start_simulator(scenario("")).await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let web = write(
        dir.path(),
        "web.yml",
        &format!("basic_auth_users:\n  {USER}: {}\n", bcrypt_hash(PASSWORD)),
    );
    let daemon = Daemon::start_in(
        dir,
        &config(&base),
        &["--web.config.file", web.to_str().unwrap()],
    );
    let client = support::client();
    let url = daemon.url("/api/v1/tenants/acme/probe");
    let anonymous = client.post(&url).header(HEADER, "1").send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = client
        .post(&url)
        .header(HEADER, "1")
        .basic_auth(USER, Some("not the password"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let calls = api_calls(&sim);
    let allowed = client
        .post(&url)
        .header(HEADER, "1")
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert!(api_calls(&sim) > calls, "the authenticated request probed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_now_after_a_rotation_requests_a_token_with_the_rotated_secret() {
    let secret = |s: &str| {
        Scenario::from_yaml_str(&format!(
            "clients:\n  - {{client_id: acme, client_secret: {s}}}\n"
        ))
        .unwrap()
    };
    let sim = start_simulator(secret("old-secret")).await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "acme.secret", "old-secret\n");
    let daemon = Daemon::start_in(
        dir,
        &format!(
            "tenants:\n  - {{name: acme, interval: 1h, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: acme, client_secret_file: {}, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n",
            file.display()
        ),
        &[],
    );
    assert_eq!(first_cycle(&daemon).await["success"], 1);
    // The rotation: the provider knows only the new secret, the file holds
    // it; the old token stays valid, the refresher looks in an hour.
    sim.set_scenario(secret("rotated-secret"));
    std::fs::write(&file, "rotated-secret\n").unwrap();
    let tokens = || {
        sim.requests()
            .iter()
            .filter(|r| r.path == "/oauth2/token")
            .count()
    };
    let before = tokens();

    let response = support::client()
        .post(daemon.url("/api/v1/tenants/acme/probe"))
        .header(HEADER, "1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let after: serde_json::Value = response.json().await.unwrap();
    assert_eq!(tokens(), before + 1, "a new token was requested");
    assert_eq!(after["token"]["result"], "success", "{after}");
    assert_eq!(after["success"], 1, "{after}");
}
