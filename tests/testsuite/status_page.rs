//! The status page (`/`), the tenant view (`/tenants/{name}`) and their JSON
//! (`/api/v1/tenants[/{name}]`) against the real daemon and the simulator:
//! states and their order, recent probes, the `?q=` filter, 404s, HTML
//! escaping, no secret anywhere, and a real browser rendering the demo.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use credprobe_simulator::Scenario;
use serde_json::Value;

use crate::support::{self, Daemon, start_simulator};

const LABEL_ATTACK: &str = "<script>alert(1)</script>";
const LABEL_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

/// Distinctive secrets, so a match can only mean a leak.
const SECRETS: [(&str, &str); 4] = [
    ("ok", "sekret-ok-7f3a9c1d"),
    ("gone", "sekret-gone-2b8e4f60"),
    ("idp", "sekret-idp-91c0d7aa"),
    ("noperm", "sekret-noperm-5e6f1b23"),
];

fn scenario() -> Scenario {
    let [ok, gone, idp, noperm] = SECRETS.map(|(_, s)| s);
    Scenario::from_yaml_str(&format!(
        "clients:\n\
         \x20 - {{client_id: ok, client_secret: {ok}}}\n\
         \x20 - {{client_id: gone, client_secret: {gone}, scenario: revoked}}\n\
         \x20 - {{client_id: idp, client_secret: {idp}, token_status: 503}}\n\
         \x20 - {{client_id: noperm, client_secret: {noperm}, scenario: missing_permission}}\n"
    ))
    .unwrap()
}

fn config(base: &str) -> String {
    let [ok, gone, idp, noperm] = SECRETS.map(|(_, s)| s);
    let common = format!("base_url: \"{base}\", token_url: \"{base}/oauth2/token\"");
    format!(
        "defaults: {{interval: 1s, timeout: 500ms}}\n\
tenants:\n\
\x20 - {{name: healthy, labels: {{customer: \"{LABEL_ATTACK}\", tier: gold}}, {common}, client_id: ok, client_secret: {ok}, credential_expires: \"2099-01-01\", endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n\
\x20 - {{name: revoked, labels: {{customer: globex, tier: silver}}, {common}, client_id: gone, client_secret: {gone}, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n\
\x20 - {{name: idp-down, labels: {{customer: initech, tier: bronze}}, {common}, client_id: idp, client_secret: {idp}, endpoints: [{{name: workflows, path: /api/v1/workflows}}]}}\n\
\x20 - {{name: noperm, labels: {{customer: umbrella, tier: silver}}, {common}, client_id: noperm, client_secret: {noperm}, endpoints: [{{name: workflows, path: /api/v1/workflows}}, {{name: remote_actions, path: /api/v1/act/remote-action}}]}}\n"
    )
}

async fn get_json(daemon: &Daemon, path: &str) -> (u16, Value) {
    let (status, body) = daemon.get(path).await;
    let value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path} is not JSON ({e}): {body}"));
    (status, value)
}

/// Waits until every tenant has finished at least two cycles.
async fn wait_for_two_cycles(daemon: &Daemon) {
    let start = Instant::now();
    loop {
        let mut done = true;
        for (name, steps) in [
            ("healthy", 2),
            ("revoked", 2),
            ("idp-down", 2),
            ("noperm", 3),
        ] {
            let (status, view) = get_json(daemon, &format!("/api/v1/tenants/{name}")).await;
            assert_eq!(status, 200, "{view}");
            let recent = view["recent"].as_array().map_or(0, Vec::len);
            done &= recent >= 2 * steps;
        }
        if done {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "tenants did not finish two cycles:\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// (tenant, data-state) of the overview's rows, in page order.
fn rows(html: &str) -> Vec<(String, String)> {
    html.split("<tr class=\"row ")
        .skip(1)
        .map(|row| {
            let state = between(row, "data-state=\"", "\"");
            let name = between(row, "href=\"tenants/", "\"");
            (name.to_owned(), state.to_owned())
        })
        .collect()
}

fn row_of<'a>(html: &'a str, tenant: &str) -> &'a str {
    let marker = format!("href=\"tenants/{tenant}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no row {tenant}"));
    let end = html[at..].find("</tr>").unwrap() + at;
    &html[at..end]
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {text}"))
        + start.len();
    let to = text[from..].find(end).unwrap() + from;
    &text[from..to]
}

fn tenant<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tenant {name} in {list}"))
}

fn endpoint<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no endpoint {name} in {view}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_detail_and_json_show_states_history_and_no_secret() {
    let sim = start_simulator(scenario()).await;
    let daemon = Daemon::start(&config(&sim.base_url()), &[]);
    wait_for_two_cycles(&daemon).await;

    let mut bodies: Vec<(String, String)> = Vec::new();

    // --- The overview: states, failing first, summary, labels, links.
    let (status, html) = daemon.get("/").await;
    assert_eq!(status, 200);
    let order = rows(&html);
    assert_eq!(
        order,
        [
            ("revoked", "credentials_rejected"),
            ("idp-down", "idp_down"),
            ("noperm", "permission_missing"),
            ("healthy", "healthy"),
        ]
        .map(|(n, s)| (n.to_owned(), s.to_owned())),
        "{html}"
    );
    for (name, words) in [
        ("revoked", "credentials rejected"),
        ("idp-down", "IdP down"),
        ("noperm", "permission missing"),
        ("healthy", "healthy"),
    ] {
        assert!(
            row_of(&html, name).contains(&format!("\">{words}</span>")),
            "{name} is not shown as {words}: {}",
            row_of(&html, name)
        );
    }
    assert!(
        html.contains("<b>4</b> tenants, <b class=\"n-ok\">1</b> healthy, <b class=\"n-bad\">3</b> failing, <b class=\"warn\">0</b> warning, <b class=\"n-grey\">0</b> pending"),
        "{html}"
    );
    assert!(html.contains("href=\"metrics\""));
    assert!(row_of(&html, "revoked").contains("credentials_rejected"));
    assert!(row_of(&html, "noperm").contains("remote_actions"));
    assert!(row_of(&html, "noperm").contains(">403</span> <span class=\"bad\">forbidden</span>"));
    assert!(row_of(&html, "revoked").contains("customer=</i>globex"));
    assert!(row_of(&html, "healthy").contains("tier=</i>gold"));
    assert!(row_of(&html, "healthy").contains("credential</small>"));
    // Nothing inline to run and nothing to fetch from elsewhere: only the
    // pages' own stylesheet and script, by a relative path.
    assert_eq!(html.matches("<link").count(), 1, "{html}");
    assert!(html.contains("<link rel=\"stylesheet\" href=\"assets/style.css\">"));
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(html.contains("<script src=\"assets/page.js\"></script>"));
    for external in [
        " style=",
        "@import",
        "url(",
        "href=\"http",
        "href=\"//",
        "src=\"http",
        "src=\"//",
    ] {
        assert!(!html.contains(external), "overview references {external}");
    }
    // A strip of each tenant's recent probes: red cells for failures.
    assert!(
        row_of(&html, "revoked").contains(
            "<div class=\"strip\"><i class=\"bad\" title=\"token credentials_rejected 401"
        ),
        "{}",
        row_of(&html, "revoked")
    );
    assert!(
        row_of(&html, "healthy").contains("<div class=\"strip\"><i title=\"token success 200"),
        "{}",
        row_of(&html, "healthy")
    );
    bodies.push(("/".into(), html.clone()));

    // --- The label `<script>` appears only escaped.
    assert!(html.contains(LABEL_ESCAPED), "{html}");
    let (_, detail) = daemon.get("/tenants/healthy").await;
    assert!(detail.contains(LABEL_ESCAPED), "{detail}");
    bodies.push(("/tenants/healthy".into(), detail));

    // --- JSON: same states, results and codes.
    let (status, list) = get_json(&daemon, "/api/v1/tenants").await;
    assert_eq!(status, 200);
    assert_eq!(list["summary"]["tenants"], 4);
    assert_eq!(list["summary"]["healthy"], 1);
    assert_eq!(list["summary"]["failing"], 3);
    assert_eq!(list["summary"]["pending"], 0);
    assert_eq!(list["summary"]["by_state"]["idp_down"], 1);
    assert!(list["generated_at"].as_f64().unwrap() > 1.7e9);
    let names: Vec<&str> = list["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["revoked", "idp-down", "noperm", "healthy"]);

    let revoked = tenant(&list, "revoked");
    assert_eq!(revoked["state"], "credentials_rejected");
    assert_eq!(revoked["state_text"], "credentials rejected");
    assert_eq!(revoked["failing"], true);
    assert_eq!(revoked["token"]["result"], "credentials_rejected");
    assert_eq!(revoked["token"]["status"], 401);
    assert_eq!(revoked["last_error"]["step"], "token");
    assert_eq!(revoked["last_error"]["result"], "credentials_rejected");
    assert_eq!(revoked["last_success_at"], Value::Null);
    assert_eq!(endpoint(revoked, "workflows")["result"], "no_token");
    assert_eq!(revoked["labels"]["customer"], "globex");

    let idp = tenant(&list, "idp-down");
    assert_eq!(idp["state"], "idp_down");
    assert_eq!(idp["token"]["result"], "server_error");
    assert_eq!(idp["token"]["status"], 503);

    let noperm = tenant(&list, "noperm");
    assert_eq!(noperm["state"], "permission_missing");
    assert_eq!(noperm["token"]["result"], "success");
    assert_eq!(endpoint(noperm, "workflows")["result"], "success");
    assert_eq!(endpoint(noperm, "workflows")["status"], 200);
    assert_eq!(endpoint(noperm, "remote_actions")["result"], "forbidden");
    assert_eq!(endpoint(noperm, "remote_actions")["status"], 403);
    assert_eq!(
        endpoint(noperm, "remote_actions")["last_success_at"],
        Value::Null
    );
    assert!(
        endpoint(noperm, "remote_actions")["url"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/act/remote-action")
    );

    let healthy = tenant(&list, "healthy");
    assert_eq!(healthy["state"], "healthy");
    assert_eq!(healthy["failing"], false);
    assert_eq!(healthy["labels"]["customer"], LABEL_ATTACK);
    assert_eq!(healthy["labels"]["tier"], "gold");
    assert_eq!(healthy["token"]["result"], "success");
    assert_eq!(healthy["token"]["status"], 200);
    assert!(healthy["token"]["latency_seconds"].as_f64().unwrap() < 0.5);
    let expires_in = healthy["token"]["expires_in_seconds"].as_i64().unwrap();
    assert!((800..=900).contains(&expires_in), "{expires_in}");
    let expires_at = healthy["token"]["expires_at"].as_f64().unwrap();
    let generated = list["generated_at"].as_f64().unwrap();
    assert!((expires_at - generated - expires_in as f64).abs() < 2.0);
    assert_eq!(healthy["token"]["lifetime_seconds"], 900.0);
    assert!(healthy["credential_expires_in_seconds"].as_i64().unwrap() > 365 * 86_400);
    assert!(healthy["last_success_at"].as_f64().unwrap() > 1.7e9);
    assert_eq!(healthy["last_error"], Value::Null);
    assert!(endpoint(healthy, "workflows")["latency_seconds"].is_f64());
    // The overview carries no history; the tenant view does.
    assert!(healthy.get("recent").is_none());
    bodies.push(("/api/v1/tenants".into(), list.to_string()));

    // --- The tenant view: recent probes with steps, results, codes.
    let (status, page) = daemon.get("/tenants/noperm").await;
    assert_eq!(status, 200);
    let recent = between(&page, "<table id=\"recent\">", "</table>");
    let recent_rows = recent.matches("<tr class=").count();
    assert!(recent_rows >= 6, "{recent}");
    assert!(recent.contains("<td>token</td>"), "{recent}");
    assert!(recent.contains("<td>remote_actions</td>"), "{recent}");
    assert!(recent.contains(">forbidden</span>"), "{recent}");
    assert!(recent.contains(">success</span>"), "{recent}");
    assert!(recent.contains(">403</td>"), "{recent}");
    assert!(page.contains("permission missing"));
    assert!(page.contains("href=\"../metrics\""));
    assert!(page.contains("href=\"../assets/style.css\""));
    // The latency chart: a line per step, the 403s as failed points.
    let chart = between(&page, "<figure class=\"chart\">", "</figure>");
    assert_eq!(chart.matches("<polyline").count(), 3, "{chart}");
    assert!(chart.contains("<circle class=\"fail\""), "{chart}");
    assert!(
        chart.contains("<title>remote_actions forbidden "),
        "{chart}"
    );
    for step in ["token", "workflows", "remote_actions"] {
        assert!(
            chart.contains(&format!("<b></b>{step}</span>")),
            "{step}: {chart}"
        );
    }
    bodies.push(("/tenants/noperm".into(), page));

    let (status, view) = get_json(&daemon, "/api/v1/tenants/noperm").await;
    assert_eq!(status, 200);
    assert_eq!(view["state"], "permission_missing");
    let recent = view["recent"].as_array().unwrap();
    assert!(recent.len() >= 6 && recent.len() <= 50, "{view}");
    // Newest first.
    let times: Vec<f64> = recent.iter().map(|r| r["at"].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let forbidden = recent
        .iter()
        .find(|r| r["step"] == "remote_actions")
        .unwrap();
    assert_eq!(forbidden["result"], "forbidden");
    assert_eq!(forbidden["status"], 403);
    assert!(forbidden["latency_seconds"].is_f64());
    assert!(
        recent
            .iter()
            .any(|r| r["step"] == "token" && r["result"] == "success")
    );
    bodies.push(("/api/v1/tenants/noperm".into(), view.to_string()));

    for name in ["revoked", "idp-down"] {
        let (status, page) = daemon.get(&format!("/tenants/{name}")).await;
        assert_eq!(status, 200);
        bodies.push((format!("/tenants/{name}"), page));
        let (status, view) = get_json(&daemon, &format!("/api/v1/tenants/{name}")).await;
        assert_eq!(status, 200);
        bodies.push((format!("/api/v1/tenants/{name}"), view.to_string()));
    }
    let (_, view) = get_json(&daemon, "/api/v1/tenants/revoked").await;
    let recent = view["recent"].as_array().unwrap();
    assert!(recent.iter().any(|r| r["step"] == "token"
        && r["result"] == "credentials_rejected"
        && r["status"] == 401));

    // --- ?q= filters on name, labels and state, without JavaScript.
    for (query, expected) in [
        ("revoked", vec!["revoked"]),
        ("REVOKED", vec!["revoked"]),
        ("tier=silver", vec!["revoked", "noperm"]),
        ("umbrella", vec!["noperm"]),
        ("permission+missing", vec!["noperm"]),
        ("idp_down", vec!["idp-down"]),
        ("healthy", vec!["healthy"]),
        ("nothing-matches-this", vec![]),
    ] {
        let (status, html) = daemon.get(&format!("/?q={query}")).await;
        assert_eq!(status, 200);
        let shown: Vec<String> = rows(&html).into_iter().map(|(n, _)| n).collect();
        assert_eq!(shown, expected, "?q={query}");
        let (_, list) = get_json(&daemon, &format!("/api/v1/tenants?q={query}")).await;
        let names: Vec<&str> = list["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "api ?q={query}");
        // The summary still counts every tenant.
        assert_eq!(list["summary"]["tenants"], 4);
        bodies.push((format!("/?q={query}"), html));
    }
    // The filter is echoed escaped.
    let (_, html) = daemon.get("/?q=%3Cb%3Ex%22").await;
    assert!(html.contains("value=\"&lt;b&gt;x&quot;\""), "{html}");
    assert!(!html.contains("<b>x"));

    // --- Unknown tenants.
    let (status, page) = daemon.get("/tenants/nope").await;
    assert_eq!(status, 404);
    assert!(page.contains("No tenant named"), "{page}");
    let (status, error) = get_json(&daemon, "/api/v1/tenants/nope").await;
    assert_eq!(status, 404);
    assert!(error["error"].as_str().unwrap().contains("nope"), "{error}");
    let (status, page) = daemon.get("/tenants/%3Cscript%3E").await;
    assert_eq!(status, 404);
    assert!(
        !page.contains("<script>") && page.contains("&lt;script&gt;"),
        "{page}"
    );

    // --- The raw label never appears in HTML.
    for (path, body) in &bodies {
        if !path.starts_with("/api/") {
            assert!(
                !body.contains(LABEL_ATTACK),
                "{path} shows the label unescaped"
            );
        }
    }

    // --- No secret anywhere: configured secrets, and every Authorization
    // value (Basic credentials, bearer tokens) the simulator saw.
    let mut secrets: Vec<String> = SECRETS.iter().map(|(_, s)| (*s).to_owned()).collect();
    let requests = sim.requests();
    assert!(!requests.is_empty());
    let mut bearer = 0;
    for request in &requests {
        if let Some(value) = request.header("authorization") {
            secrets.push(value.to_owned());
            if let Some((scheme, credential)) = value.split_once(' ') {
                bearer += usize::from(scheme.eq_ignore_ascii_case("bearer"));
                secrets.push(credential.trim().to_owned());
            }
        }
    }
    assert!(bearer > 0, "the simulator saw no bearer token");
    for (path, body) in &bodies {
        for secret in &secrets {
            assert!(
                !body.contains(secret.as_str()),
                "{path} shows a secret or token"
            );
        }
    }
}

/// Text from upstream (here a token_type the provider sent) is shown as
/// text on every page, never as markup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_text_holding_markup_is_shown_as_text() {
    const MARKUP: &str = "<script>alert(2)</script>";
    const ESCAPED: &str = "&lt;script&gt;alert(2)&lt;/script&gt;";
    let sim = start_simulator(
        Scenario::from_yaml_str(&format!(
            "clients:\n  - {{client_id: odd, client_secret: s3, token_type: \"{MARKUP}\"}}\n"
        ))
        .unwrap(),
    )
    .await;
    let base = sim.base_url();
    let daemon = Daemon::start(
        &format!(
            "defaults: {{interval: 1s, timeout: 500ms}}\ntenants:\n  - {{name: odd, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: odd, client_secret: s3}}\n"
        ),
        &[],
    );
    let start = Instant::now();
    let view = loop {
        let (_, view) = get_json(&daemon, "/api/v1/tenants/odd").await;
        if view["token"]["result"] == "invalid_response" {
            break view;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The JSON carries the text as it came (JSON strings are not markup).
    assert!(
        view["token"]["detail"].as_str().unwrap().contains(MARKUP),
        "{view}"
    );
    for path in ["/", "/tenants/odd"] {
        let (status, html) = daemon.get(path).await;
        assert_eq!(status, 200);
        assert!(html.contains(ESCAPED), "{path}: {html}");
        assert!(
            !html.contains(MARKUP),
            "{path} shows upstream markup: {html}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_allow_only_their_own_assets_and_serve_them() {
    let sim = start_simulator(scenario()).await;
    let daemon = Daemon::start(&config(&sim.base_url()), &[]);
    let client = support::client();
    let page = client.get(daemon.url("/")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    for (path, kind, needle) in [
        ("/assets/style.css", "text/css", "--ok:"),
        ("/assets/page.js", "text/javascript", "data-script"),
    ] {
        let response = client.get(daemon.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert!(response.text().await.unwrap().contains(needle), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_pending_before_their_first_cycle() {
    let sim = start_simulator(scenario()).await;
    let base = sim.base_url();
    // A long interval: two tenants are spread over it, the second starts
    // half an hour in.
    let tenant_line = |name: &str| {
        format!(
            "  - {{name: {name}, base_url: \"{base}\", token_url: \"{base}/oauth2/token\", client_id: ok, client_secret: {}}}\n",
            SECRETS[0].1
        )
    };
    let daemon = Daemon::start(
        &format!(
            "defaults: {{interval: 1h, timeout: 500ms}}\ntenants:\n{}{}",
            tenant_line("sooner"),
            tenant_line("later-a")
        ),
        &[],
    );
    // Whichever the spread puts second is pending for half an hour.
    let start = std::time::Instant::now();
    let list = loop {
        let (_, list) = get_json(&daemon, "/api/v1/tenants").await;
        if list["summary"]["pending"] == 1 {
            break list;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let pending = list["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["state"] == "pending")
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let later = tenant(&list, &pending);
    assert_eq!(later["state"], "pending", "{list}");
    assert_eq!(later["failing"], false);
    assert_eq!(later["last_cycle_at"], Value::Null);
    assert_eq!(later["token"]["result"], Value::Null);
    let (_, html) = daemon.get("/").await;
    assert!(
        row_of(&html, &pending).contains(">pending</span>"),
        "{html}"
    );
    assert!(html.contains("<b class=\"n-grey\">1</b> pending"), "{html}");
    let (status, page) = daemon.get(&format!("/tenants/{pending}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("No probe yet."), "{page}");
}

/// Headless Chromium renders the demo's status page (scripts/browser-check).
/// Chromium must be installed (the Makefile's deps step does it); without it
/// the script fails with the install hint.
#[test]
fn browser_renders_the_demo_status_page() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new(format!("{root}/scripts/browser-check"))
        .current_dir(root)
        .env("CREDPROBE", support::binary())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/browser-check");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            panic!("scripts/browser-check did not finish within 240 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "scripts/browser-check failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
