//! The shipped Grafana dashboards as tests read them: loaded from
//! `dashboards/`, walked panel by panel, their PromQL with the Grafana
//! variables substituted. `tests/testsuite/dashboards.rs` checks their
//! structure; `tests/testsuite/prometheus_e2e.rs` runs the same queries
//! against a Prometheus scraping `credprobe demo`. One copy here, so both
//! read the dashboards the same way.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Panels whose queries may return nothing on `credprobe demo`, as
/// (dashboard uid, panel title), each with why. None today: every target
/// returns data once a Prometheus has scraped the demo for a couple of
/// minutes (with `$tenant` as `.*`); the TLS panels too, since the demo's
/// `cyberdyne-mtls` tenant talks https. The token lifetime panels compute
/// it from two series every demo tenant with a token has
/// (`credprobe_token_expiry_timestamp_seconds -
/// credprobe_token_last_success_timestamp_seconds`; the lifetime series is
/// gone), and the phase panels have data because one demo tenant opts in
/// (see [`OPT_IN`]). Every latency query has a classic and a native
/// branch joined with `or`: the demo scraped in the text format feeds the
/// classic one.
pub const EMPTY_ON_DEMO: &[(&str, &str)] = &[];

/// Series families a tenant exports only when its configuration opts in,
/// as (family, the tenant option that turns it on, the `credprobe demo`
/// tenant that sets it). A panel showing one is empty for every other
/// tenant, so its description says it is opt-in and names the option
/// (`tests/testsuite/dashboards.rs` checks it); on the demo it has data
/// through that one tenant, with `$tenant` as `.*`.
pub const OPT_IN: &[(&str, &str, &str)] = &[
    (
        "credprobe_token_phase_seconds",
        "phase_metrics: true",
        "cyberdyne-mtls",
    ),
    (
        "credprobe_endpoint_phase_seconds",
        "phase_metrics: true",
        "cyberdyne-mtls",
    ),
];

/// The option that turns `family` on, when it is opt-in ([`OPT_IN`]).
pub fn opt_in_option(family: &str) -> Option<&'static str> {
    OPT_IN
        .iter()
        .find(|&&(f, _, _)| f == family)
        .map(|&(_, option, _)| option)
}

/// Where the dashboards ship, so every test reads the same files.
pub fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// Every `dashboards/*.json`, parsed, with its file name, in name order.
/// Panics (failing the test) when there are none or one is not JSON.
pub fn dashboards() -> Vec<(String, Value)> {
    let dir = dashboards_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboards in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, json)
        })
        .collect()
}

/// A dashboard's fixed uid, or a placeholder that no check accepts, so a
/// message can always name the dashboard.
pub fn uid(dashboard: &Value) -> &str {
    dashboard["uid"].as_str().unwrap_or("<no uid>")
}

/// A JSON array's items, or none when the value is missing or not an array:
/// dashboards leave out empty lists.
pub fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// A panel's title, or a placeholder that the import-ready check rejects.
pub fn title(panel: &Value) -> &str {
    panel["title"].as_str().unwrap_or("<untitled>")
}

/// Every panel that is not a row, with the title of the row it belongs to:
/// panels nested in a collapsed row, and top-level panels after an expanded
/// row. Queries live only in these.
pub fn panels(dashboard: &Value) -> Vec<(Option<&str>, &Value)> {
    let mut out = Vec::new();
    let mut row_title = None;
    for panel in array(&dashboard["panels"]) {
        if panel["type"] == "row" {
            row_title = panel["title"].as_str();
            for nested in array(&panel["panels"]) {
                out.push((row_title, nested));
            }
        } else {
            out.push((row_title, panel));
        }
    }
    out
}

/// Replaces Grafana variables (`$name`, `${name}`, `${name:format}`) with
/// `value(name)`; an unknown variable is an error, so a dashboard cannot
/// grow a variable that no test substitutes.
pub fn substitute(expr: &str, value: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {expr:?}"))?;
            let name = braced[..end].split(':').next().unwrap_or_default();
            (name, end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if name.is_empty() {
            return Err(format!("a lone $ in {expr:?}"));
        }
        let replacement =
            value(name).ok_or_else(|| format!("unknown variable ${name} in {expr:?}"))?;
        out.push_str(&replacement);
        rest = &after[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The values an end-to-end run uses: every series of every replica and
/// tenant, a one-minute rate window.
pub fn demo_value(name: &str) -> Option<String> {
    match name {
        "__rate_interval" | "__interval" => Some("1m".into()),
        "__range" => Some("1h".into()),
        "job" | "instance" | "tenant" => Some(".*".into()),
        _ => None,
    }
}

/// (dashboard uid, panel title, expr with the variables substituted by
/// [`demo_value`]) for every target of every dashboard: what the
/// end-to-end test asks a real Prometheus.
pub fn dashboard_queries() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (_, dashboard) in dashboards() {
        for (_, panel) in panels(&dashboard) {
            for target in array(&panel["targets"]) {
                let expr = target["expr"].as_str().unwrap_or_default();
                let expr = substitute(expr, &demo_value)
                    .unwrap_or_else(|e| panic!("{} / {}: {e}", uid(&dashboard), title(panel)));
                out.push((uid(&dashboard).to_owned(), title(panel).to_owned(), expr));
            }
        }
    }
    out
}

/// True when a panel is listed in [`EMPTY_ON_DEMO`].
pub fn empty_on_demo(uid: &str, title: &str) -> bool {
    EMPTY_ON_DEMO.iter().any(|&(u, t)| (u, t) == (uid, title))
}
