//! The Grafana dashboards in `dashboards/` are import-ready and query only
//! what credprobe exports.
//!
//! Every target's PromQL is parsed with `promql-parser` after the Grafana
//! variables are substituted, and its syntax tree is checked: every metric
//! name is one of `credprobe::metrics::FAMILIES` (plus the histogram series
//! suffixes and `up`), counters appear only as the range argument of
//! `rate`/`increase`/`irate` over `$__rate_interval`, and every selector is
//! filtered by the dashboard's `job`, `instance` and (for per-tenant series)
//! `tenant` variables. A histogram family's plain name is a native
//! histogram (what Prometheus stores when it scrapes with native histograms
//! enabled: then there are no `_bucket`, `_sum` and `_count` series), so it
//! too appears only inside `rate()`, and every latency query answers for
//! both kinds: a classic branch and a native branch joined with `or`.
//! Panels showing opt-in series say so. The import-ready rules (datasource
//! variable, fixed uids, a title, description, unit and `${datasource}` on
//! every panel) are checked on the JSON.
//!
//! The loader, the panel walk, the variable substitution and the demo
//! queries live in `tests/testsuite/support/dashboards.rs`, shared with the
//! end-to-end test (`tests/testsuite/prometheus_e2e.rs`) that runs those
//! queries against a Prometheus scraping `credprobe demo`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, VectorSelector};
use serde_json::Value;

use crate::support::dashboards::{
    EMPTY_ON_DEMO, OPT_IN, array, dashboard_queries, dashboards, opt_in_option, panels, substitute,
    title, uid,
};

/// Substituted for `$__rate_interval` by the structural checks, so that a
/// range selector can be traced back to that variable.
const RATE_INTERVAL_SENTINEL: &str = "4242s";

/// Metrics without a `tenant` label, so not filtered by `$tenant`.
const PROCESS_METRICS: &[&str] = &[
    "up",
    "credprobe_build_info",
    "credprobe_tenants",
    "credprobe_config_last_reload_successful",
    "credprobe_config_last_reload_success_timestamp_seconds",
];

const DATASOURCE: &str = "${datasource}";

/// Every row panel, top level and (never, but checked) nested.
fn rows(dashboard: &Value) -> Vec<&Value> {
    array(&dashboard["panels"])
        .iter()
        .filter(|panel| panel["type"] == "row")
        .collect()
}

/// Values for the structural checks: the rate interval is a sentinel and
/// each template variable becomes `VAR_<name>`, so a matcher can be traced
/// back to the variable it came from.
fn check_value(name: &str) -> Option<String> {
    match name {
        "__rate_interval" => Some(RATE_INTERVAL_SENTINEL.into()),
        "__interval" => Some("1m".into()),
        "__range" => Some("1h".into()),
        "job" | "instance" | "tenant" => Some(format!("VAR_{name}")),
        _ => None,
    }
}

/// The metric names credprobe exports ([`credprobe::metrics::FAMILIES`]),
/// with `_bucket`/`_sum`/`_count` for the histogram families, plus `up`.
/// Returns (all names, histogram family names).
fn exported_names() -> (BTreeSet<String>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    let mut histograms = BTreeSet::new();
    for family in credprobe::metrics::FAMILIES {
        names.insert(family.name.to_owned());
        if family.kind == credprobe::metrics::Kind::Histogram {
            histograms.insert(family.name.to_owned());
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{}{suffix}", family.name));
            }
        }
    }
    names.insert("up".into());
    (names, histograms)
}

/// Series that only make sense as a rate: counters, the series of a
/// classic histogram, and a histogram family's plain name, which is the
/// native histogram (cumulative too).
fn is_counter_series(name: &str, histograms: &BTreeSet<String>) -> bool {
    histograms.contains(name)
        || ["_total", "_bucket", "_count", "_sum"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// One series selector of a query.
#[derive(Debug)]
struct Selector {
    name: String,
    /// (label, is regex match, value), without `__name__`.
    matchers: Vec<(String, bool, String)>,
    range: Option<Duration>,
    /// The range argument of rate/increase/irate.
    in_counter_function: bool,
}

fn selector(
    vs: &VectorSelector,
    range: Option<Duration>,
    in_counter_function: bool,
) -> Result<Selector, String> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err("`or` inside a selector's braces".into());
    }
    let mut name = vs.name.clone();
    let mut matchers = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == "__name__" {
            match m.op {
                MatchOp::Equal => name = Some(m.value.clone()),
                _ => return Err(format!("__name__ matched other than with =: {m:?}")),
            }
        } else {
            let regex = matches!(m.op, MatchOp::Re(_));
            matchers.push((m.name.clone(), regex, m.value.clone()));
        }
    }
    let name = name.ok_or("a selector without a metric name")?;
    Ok(Selector {
        name,
        matchers,
        range,
        in_counter_function,
    })
}

/// Every selector in `expr`, in order.
fn selectors(expr: &Expr, out: &mut Vec<Selector>) -> Result<(), String> {
    match expr {
        Expr::Aggregate(a) => {
            selectors(&a.expr, out)?;
            if let Some(param) = &a.param {
                selectors(param, out)?;
            }
        }
        Expr::Unary(u) => selectors(&u.expr, out)?,
        Expr::Binary(b) => {
            selectors(&b.lhs, out)?;
            selectors(&b.rhs, out)?;
        }
        Expr::Paren(p) => selectors(&p.expr, out)?,
        Expr::Subquery(s) => selectors(&s.expr, out)?,
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        Expr::VectorSelector(vs) => out.push(selector(vs, None, false)?),
        Expr::MatrixSelector(ms) => out.push(selector(&ms.vs, Some(ms.range), false)?),
        Expr::Call(call) => {
            let counter_function = matches!(call.func.name, "rate" | "increase" | "irate");
            for arg in &call.args.args {
                match arg.as_ref() {
                    Expr::MatrixSelector(ms) if counter_function => {
                        out.push(selector(&ms.vs, Some(ms.range), true)?)
                    }
                    other => selectors(other, out)?,
                }
            }
        }
        Expr::Extension(_) => return Err("an extension node".into()),
    }
    Ok(())
}

/// The names of the functions `expr` calls, nested ones included.
fn functions(expr: &Expr, out: &mut BTreeSet<&'static str>) {
    match expr {
        Expr::Aggregate(a) => {
            functions(&a.expr, out);
            if let Some(param) = &a.param {
                functions(param, out);
            }
        }
        Expr::Unary(u) => functions(&u.expr, out),
        Expr::Binary(b) => {
            functions(&b.lhs, out);
            functions(&b.rhs, out);
        }
        Expr::Paren(p) => functions(&p.expr, out),
        Expr::Subquery(s) => functions(&s.expr, out),
        Expr::Call(call) => {
            out.insert(call.func.name);
            for arg in &call.args.args {
                functions(arg, out);
            }
        }
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => {}
    }
}

/// Every target as (where, raw expr, selectors of the expr substituted by
/// [`check_value`]); panics when an expression does not parse.
fn parsed_targets() -> Vec<(String, String, Vec<Selector>)> {
    parsed_targets_with_functions()
        .into_iter()
        .map(|(at, raw, found, _)| (at, raw, found))
        .collect()
}

/// [`parsed_targets`], each with the names of the functions it calls.
fn parsed_targets_with_functions() -> Vec<(String, String, Vec<Selector>, BTreeSet<&'static str>)> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (file, dashboard) in dashboards() {
        for (_, panel) in panels(&dashboard) {
            for target in array(&panel["targets"]) {
                let at = format!(
                    "{file} / {} / {}",
                    title(panel),
                    target["refId"].as_str().unwrap_or("?")
                );
                let raw = target["expr"].as_str().unwrap_or_default().to_owned();
                let parsed = substitute(&raw, &check_value)
                    .and_then(|expr| parser::parse(&expr))
                    .and_then(|expr| {
                        let mut found = Vec::new();
                        let mut called = BTreeSet::new();
                        functions(&expr, &mut called);
                        selectors(&expr, &mut found).map(|()| (found, called))
                    });
                match parsed {
                    Ok((found, called)) => out.push((at, raw, found, called)),
                    Err(e) => problems.push(format!("{at}: {e}\n    {raw}")),
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "queries that do not parse:\n{}",
        problems.join("\n")
    );
    assert!(!out.is_empty(), "no queries at all");
    out
}

fn assert_no_problems(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

#[test]
fn metric_names_come_from_the_family_list() {
    let (names, histograms) = exported_names();
    for expected in [
        "credprobe_token_success",
        "credprobe_token_requests_total",
        "credprobe_tenant_info",
        "credprobe_tenant_last_cycle_timestamp_seconds",
        "credprobe_token_request_duration_seconds_bucket",
        "credprobe_endpoint_request_duration_seconds_count",
        "credprobe_tenant_success",
    ] {
        assert!(
            names.contains(expected),
            "{expected} not among the exported families: {names:?}"
        );
    }
    assert!(
        histograms.contains("credprobe_token_request_duration_seconds")
            && histograms.contains("credprobe_endpoint_request_duration_seconds"),
        "histogram families not recognised: {histograms:?}"
    );
}

#[test]
fn every_query_parses_and_names_only_exported_metrics() {
    let (names, _) = exported_names();
    let mut problems = Vec::new();
    for (at, raw, found) in parsed_targets() {
        if found.is_empty() {
            problems.push(format!("{at}: selects no metric: {raw}"));
        }
        for s in found {
            if !names.contains(&s.name) {
                problems.push(format!("{at}: {} is not exported by credprobe", s.name));
            }
        }
    }
    assert_no_problems("unknown metrics", problems);
}

#[test]
fn counters_appear_only_inside_rate_over_the_rate_interval() {
    let (_, histograms) = exported_names();
    let sentinel = Duration::from_secs(4242);
    let mut problems = Vec::new();
    for (at, raw, found) in parsed_targets() {
        for s in found {
            let counter = is_counter_series(&s.name, &histograms);
            if counter && !s.in_counter_function {
                problems.push(format!(
                    "{at}: counter {} outside rate()/increase(): {raw}",
                    s.name
                ));
            }
            if s.in_counter_function && !counter {
                problems.push(format!("{at}: rate()/increase() of the gauge {}", s.name));
            }
            if s.in_counter_function && s.range != Some(sentinel) {
                problems.push(format!(
                    "{at}: rate()/increase() of {} over {:?}, not $__rate_interval",
                    s.name, s.range
                ));
            }
        }
        // Belt and braces on the text: every rate window is the variable.
        for (i, _) in raw.match_indices('[') {
            if !raw[i..].starts_with("[$__rate_interval]") {
                problems.push(format!(
                    "{at}: a range other than [$__rate_interval]: {raw}"
                ));
            }
        }
    }
    assert_no_problems("counter misuse", problems);
}

#[test]
fn latency_queries_work_on_classic_and_native_histograms() {
    let (_, histograms) = exported_names();
    let mut problems = Vec::new();
    let mut both = 0;
    for (at, raw, found, called) in parsed_targets_with_functions() {
        let names: BTreeSet<&str> = found.iter().map(|s| s.name.as_str()).collect();
        for family in &histograms {
            let series = |suffix: &str| names.contains(format!("{family}{suffix}").as_str());
            let classic = series("_bucket") || series("_sum") || series("_count");
            let native = names.contains(family.as_str());
            match (classic, native) {
                (true, false) => problems.push(format!(
                    "{at}: classic {family} series without the native branch \
                     (`or` the same query over rate({family}[...])): {raw}"
                )),
                (false, true) => problems.push(format!(
                    "{at}: native {family} without the classic branch: {raw}"
                )),
                (true, true) => both += 1,
                (false, false) => {}
            }
            // A mean from _sum / _count: histogram_sum / histogram_count
            // of the native histogram.
            if (series("_sum") || series("_count"))
                && !(called.contains("histogram_sum") && called.contains("histogram_count"))
            {
                problems.push(format!(
                    "{at}: {family}_sum/_count without histogram_sum()/histogram_count() of the native histogram: {raw}"
                ));
            }
        }
    }
    assert_no_problems("latency queries for one kind of histogram only", problems);
    assert!(both >= 5, "only {both} latency queries found");
}

#[test]
fn panels_of_opt_in_series_say_so() {
    let (names, _) = exported_names();
    for &(family, option, _) in OPT_IN {
        assert!(
            names.contains(family),
            "opt-in family {family} is not exported"
        );
        assert!(option.ends_with(": true"), "{family}: option {option}");
    }
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (file, dashboard) in dashboards() {
        for (_, panel) in panels(&dashboard) {
            let description = panel["description"].as_str().unwrap_or_default();
            for target in array(&panel["targets"]) {
                let expr = target["expr"].as_str().unwrap_or_default();
                for &(family, _, _) in OPT_IN {
                    if !expr.contains(family) {
                        continue;
                    }
                    seen.insert(family);
                    let option = opt_in_option(family).unwrap();
                    if !description.starts_with("Opt-in") || !description.contains(option) {
                        problems.push(format!(
                            "{file} / {}: shows {family} but its description does not \
                             start with \"Opt-in\" and name `{option}`",
                            title(panel)
                        ));
                    }
                }
            }
        }
    }
    assert_no_problems("opt-in panels that do not say so", problems);
    assert_eq!(
        seen.len(),
        OPT_IN.len(),
        "opt-in families on no panel: {seen:?}"
    );
}

#[test]
fn every_selector_is_filtered_by_the_dashboard_variables() {
    let mut problems = Vec::new();
    for (at, _, found) in parsed_targets() {
        for s in found {
            let mut wanted = vec!["job", "instance"];
            if !PROCESS_METRICS.contains(&s.name.as_str()) {
                wanted.push("tenant");
            }
            for label in wanted {
                let var = format!("VAR_{label}");
                let ok = s
                    .matchers
                    .iter()
                    .any(|(name, regex, value)| name == label && *regex && *value == var);
                if !ok {
                    problems.push(format!("{at}: {} lacks {label}=~\"${label}\"", s.name));
                }
            }
        }
    }
    assert_no_problems("unfiltered selectors", problems);
}

#[test]
fn panels_are_import_ready() {
    let datasource = serde_json::json!({"type": "prometheus", "uid": DATASOURCE});
    let mut problems = Vec::new();
    for (file, dashboard) in dashboards() {
        let mut ids = BTreeSet::new();
        for row in rows(&dashboard) {
            if title(row).trim().is_empty() || title(row) == "<untitled>" {
                problems.push(format!("{file}: a row without a title"));
            }
            if !ids.insert(row["id"].as_u64()) {
                problems.push(format!(
                    "{file}: row {} reuses id {}",
                    title(row),
                    row["id"]
                ));
            }
            if row["collapsed"] == false && !array(&row["panels"]).is_empty() {
                problems.push(format!("{file}: expanded row {} nests panels", title(row)));
            }
        }
        let all = panels(&dashboard);
        if all.is_empty() {
            problems.push(format!("{file}: no panels"));
        }
        for (_, panel) in all {
            let at = format!("{file} / {}", title(panel));
            if panel["type"] == "row" {
                problems.push(format!("{at}: a row nested in a row"));
                continue;
            }
            if panel["title"].as_str().is_none_or(|t| t.trim().is_empty()) {
                problems.push(format!("{at}: no title"));
            }
            if panel["description"]
                .as_str()
                .is_none_or(|d| d.trim().is_empty())
            {
                problems.push(format!("{at}: no description"));
            }
            if panel["datasource"] != datasource {
                problems.push(format!("{at}: datasource is {}", panel["datasource"]));
            }
            let unit = &panel["fieldConfig"]["defaults"]["unit"];
            if unit.as_str().is_none_or(|u| u.trim().is_empty()) {
                problems.push(format!("{at}: no fieldConfig.defaults.unit"));
            }
            if !ids.insert(panel["id"].as_u64()) {
                problems.push(format!("{at}: id {} missing or reused", panel["id"]));
            }
            let grid = &panel["gridPos"];
            if grid["w"].as_u64().unwrap_or(0) == 0 || grid["h"].as_u64().unwrap_or(0) == 0 {
                problems.push(format!("{at}: no gridPos"));
            }
            if panel["type"] == "table" {
                for o in array(&panel["fieldConfig"]["overrides"]) {
                    let has_unit = array(&o["properties"]).iter().any(|p| p["id"] == "unit");
                    if !has_unit {
                        problems.push(format!(
                            "{at}: column {} has no unit",
                            o["matcher"]["options"]
                        ));
                    }
                }
            }
            let targets = array(&panel["targets"]);
            if targets.is_empty() {
                problems.push(format!("{at}: no targets"));
            }
            let mut ref_ids = BTreeSet::new();
            for target in targets {
                if target["datasource"] != datasource {
                    problems.push(format!(
                        "{at}: target datasource is {}",
                        target["datasource"]
                    ));
                }
                if target["expr"].as_str().is_none_or(|e| e.trim().is_empty()) {
                    problems.push(format!("{at}: a target without expr"));
                }
                if !ref_ids.insert(target["refId"].as_str()) {
                    problems.push(format!("{at}: refId {} missing or reused", target["refId"]));
                }
            }
        }
    }
    assert_no_problems("panels not import-ready", problems);
}

#[test]
fn dashboards_are_import_ready() {
    let mut problems = Vec::new();
    let mut uids = BTreeMap::new();
    for (file, dashboard) in dashboards() {
        let Some(uid) = dashboard["uid"].as_str() else {
            problems.push(format!("{file}: no fixed uid"));
            continue;
        };
        if format!("{uid}.json") != file {
            problems.push(format!("{file}: uid {uid} does not match the file name"));
        }
        if let Some(other) = uids.insert(uid.to_owned(), file.clone()) {
            problems.push(format!("{file}: uid {uid} already used by {other}"));
        }
        for key in ["__inputs", "__requires"] {
            if dashboard.get(key).is_some() {
                problems.push(format!("{file}: has {key}"));
            }
        }
        if !dashboard["id"].is_null() {
            problems.push(format!("{file}: id must be null for import"));
        }
        if dashboard["title"]
            .as_str()
            .is_none_or(|t| t.trim().is_empty())
        {
            problems.push(format!("{file}: no title"));
        }
        let expect = [
            ("schemaVersion", serde_json::json!(39)),
            ("refresh", serde_json::json!("30s")),
            ("tags", serde_json::json!(["credprobe"])),
        ];
        for (key, value) in expect {
            if dashboard[key] != value {
                problems.push(format!("{file}: {key} is {}, want {value}", dashboard[key]));
            }
        }
        if dashboard["time"]["from"] != "now-6h" {
            problems.push(format!(
                "{file}: time.from is {}",
                dashboard["time"]["from"]
            ));
        }
        // Anything that names a datasource uid names the variable.
        walk(&dashboard, &mut |key, value| {
            let other = value.as_str().is_some_and(|v| v != uid && v != DATASOURCE);
            if key == "uid" && other {
                problems.push(format!(
                    "{file}: a datasource uid other than ${{datasource}}: {value}"
                ));
            }
        });
    }
    assert_no_problems("dashboards not import-ready", problems);
}

fn walk(value: &Value, visit: &mut dyn FnMut(&str, &Value)) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                visit(key, inner);
                walk(inner, visit);
            }
        }
        Value::Array(items) => items.iter().for_each(|inner| walk(inner, visit)),
        _ => {}
    }
}

#[test]
fn template_variables() {
    let (names, _) = exported_names();
    let mut problems = Vec::new();
    for (file, dashboard) in dashboards() {
        let vars = array(&dashboard["templating"]["list"]);
        let by_name = |name: &str| vars.iter().find(|v| v["name"] == name);
        match by_name("datasource") {
            Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
            other => problems.push(format!(
                "{file}: no datasource variable of plugin type prometheus: {other:?}"
            )),
        }
        for name in ["job", "instance", "tenant"] {
            let Some(var) = by_name(name) else {
                problems.push(format!("{file}: no {name} variable"));
                continue;
            };
            if var["type"] != "query" {
                problems.push(format!("{file}: {name} is not a query variable"));
            }
            if var["datasource"] != serde_json::json!({"type": "prometheus", "uid": DATASOURCE}) {
                problems.push(format!("{file}: {name} does not use ${{datasource}}"));
            }
            let query = var["query"]["query"]
                .as_str()
                .or(var["query"].as_str())
                .unwrap_or_default();
            if var["definition"] != query {
                problems.push(format!("{file}: {name}: definition differs from query"));
            }
            let Some((metric, label)) = query
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .and_then(|q| q.rsplit_once(','))
            else {
                problems.push(format!(
                    "{file}: {name}: not label_values(selector, label): {query}"
                ));
                continue;
            };
            if label.trim() != name {
                problems.push(format!("{file}: {name}: lists the label {label}"));
            }
            let mut found = Vec::new();
            let parsed = substitute(metric, &check_value)
                .and_then(|m| parser::parse(&m))
                .and_then(|e| selectors(&e, &mut found));
            match parsed {
                Ok(()) => {
                    for s in found {
                        if !names.contains(&s.name) {
                            problems.push(format!("{file}: {name}: {} is not exported", s.name));
                        }
                    }
                }
                Err(e) => problems.push(format!("{file}: {name}: {e}")),
            }
            if var["multi"] == true && var["includeAll"] == true && var["allValue"] != ".*" {
                problems.push(format!(
                    "{file}: {name}: All should be .* (thousands of tenants)"
                ));
            }
        }
    }
    assert_no_problems("template variables", problems);
}

#[test]
fn links_point_at_shipped_dashboards() {
    let all = dashboards();
    let uids: BTreeSet<&str> = all.iter().map(|(_, d)| uid(d)).collect();
    let mut problems = Vec::new();
    let mut tenant_links = 0;
    for (file, dashboard) in &all {
        walk(dashboard, &mut |key, value| {
            let Some(url) = value.as_str().filter(|_| key == "url") else {
                return;
            };
            if let Some(path) = url.strip_prefix("/d/") {
                let target = path.split(['/', '?']).next().unwrap_or_default();
                if !uids.contains(target) {
                    problems.push(format!("{file}: link to unknown dashboard {target}: {url}"));
                }
                if target == "credprobe-tenant" && url.contains("var-tenant=") {
                    tenant_links += 1;
                }
            }
        });
    }
    assert_no_problems("broken links", problems);
    assert!(tenant_links > 0, "the fleet board never links to a tenant");
}

#[test]
fn every_panel_is_expected_to_have_data_on_the_demo() {
    // The TLS row used to be empty on the demo (plain http only); its
    // https tenant gives it data, so nothing is excused any more.
    assert!(EMPTY_ON_DEMO.is_empty(), "{EMPTY_ON_DEMO:?}");
    let all = dashboards();
    for (_, dashboard) in &all {
        if let Some(tls_row) = rows(dashboard).into_iter().find(|r| title(r) == "TLS") {
            assert_eq!(tls_row["collapsed"], true, "the TLS row is collapsed");
        }
    }
    // The helper the end-to-end test uses covers every target, variables
    // substituted.
    let queries = dashboard_queries();
    assert!(queries.iter().all(|(_, _, expr)| !expr.contains('$')));
    assert!(queries.len() >= 30, "{}", queries.len());
}
