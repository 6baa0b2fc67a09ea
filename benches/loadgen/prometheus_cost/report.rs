//! `loadgen prometheus-cost-section`: the JSON of `loadgen prometheus-cost`
//! as the Markdown section of BENCHMARKS.md.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::JOB;
use crate::Options;

pub(super) fn section_command(options: &Options) -> Result<String, String> {
    let path = options.text("json")?;
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("cannot read {path}: {error}"))?;
    let measured: Value =
        serde_json::from_str(&text).map_err(|error| format!("{path} is not JSON: {error}"))?;
    Ok(section(
        &measured,
        options.text("command")?,
        options.text("revision")?,
        options.text("date")?,
    ))
}

/// 12345 -> "12,345"; not a number -> "n/a".
fn thousands(value: &Value) -> String {
    let Some(number) = value.as_f64() else {
        return "n/a".to_owned();
    };
    let digits = format!("{:.0}", number.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if number < 0.0 { format!("-{out}") } else { out }
}

/// A number with `decimals` decimals, "n/a" when absent.
fn fixed(value: &Value, decimals: usize) -> String {
    value
        .as_f64()
        .filter(|number| number.is_finite())
        .map_or_else(|| "n/a".to_owned(), |number| format!("{number:.decimals$}"))
}

/// KiB as MiB with one decimal.
fn mib(value: &Value) -> String {
    fixed(&json!(value.as_f64().map(|kib| kib / 1024.0)), 1)
}

/// Bytes as MB (10^6) with two decimals.
fn megabytes(value: &Value) -> String {
    fixed(&json!(value.as_f64().map(|bytes| bytes / 1e6)), 2)
}

/// Seconds as milliseconds.
fn millis(value: &Value) -> String {
    fixed(&json!(value.as_f64().map(|seconds| seconds * 1000.0)), 0)
}

/// The Markdown section (markers included) for the measured JSON.
pub fn section(m: &Value, command: &str, revision: &str, date: &str) -> String {
    let mut s = String::new();
    let runs = m["runs"].as_array().cloned().unwrap_or_default();
    let bb = &m["blackbox"];
    let tenants = thousands(&m["tenants"]);
    let _ = writeln!(
        s,
        "<!-- prometheus-cost: written by bench/prometheus-cost; bench/run keeps this section -->"
    );
    let _ = writeln!(
        s,
        "## What credprobe costs the Prometheus that scrapes it\n"
    );
    let _ = writeln!(
        s,
        "`{command}` on {date}, {} cores (shared), commit {revision}, {}: {tenants} tenants \
         (a client-credentials token request and {} plain-http endpoints each) on credprobe's \
         simulator, default configuration but the interval ({} s), scraped every {} s by \
         `{}` for {} s per run: {}. Each run has its own credprobe and its own Prometheus \
         (own `--storage.tsdb.path`, only credprobe as target), started once every tenant had cycled (one interval + 5 s). \
         Driver: `loadgen {}` (`benches/loadgen/prometheus_cost/`).\n",
        m["cores"],
        elapsed(&m["elapsed_seconds"]),
        m["endpoints_per_tenant"],
        m["interval_seconds"],
        m["scrape_interval_seconds"],
        m["prometheus_version"].as_str().unwrap_or("prometheus"),
        m["seconds"],
        runs.iter()
            .map(|run| match run["run"].as_str() {
                Some("native") => "once with `--enable-feature=native-histograms`",
                _ => "once plain",
            })
            .collect::<Vec<_>>()
            .join(" and "),
        m["args"]
            .as_array()
            .map(|args| args
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "))
            .unwrap_or_default(),
    );
    let _ = writeln!(
        s,
        "| run | tenants | head series | series per tenant (query / from head) | Prometheus RSS end / peak | scrape duration median (max) | samples per scrape (median) | /metrics bytes plain / gzip |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for run in &runs {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} / {} | {} / {} MiB | {} ms ({} ms) | {} | {} / {} MB |",
            run["run"].as_str().unwrap_or("?"),
            thousands(&run["tenants"]),
            thousands(&run["head_series"]),
            fixed(&run["series_per_tenant"], 1),
            fixed(&run["series_per_tenant_from_head"], 1),
            mib(&run["prometheus_rss_kib"]),
            mib(&run["prometheus_hwm_kib"]),
            millis(&run["scrape_duration_median_seconds"]),
            millis(&run["scrape_duration_max_seconds"]),
            thousands(&run["samples_scraped_median"]),
            megabytes(&run["metrics_fetch_plain"]["bytes"]),
            megabytes(&run["metrics_fetch_gzip"]["bytes"]),
        );
    }
    let _ = writeln!(
        s,
        "\n*Head series*: `prometheus_tsdb_head_series` from Prometheus's own `/metrics` at the \
         end. *Series per tenant*: `count({{__name__=~\"credprobe_.+\", tenant!=\"\"}})` over \
         the tenants (a native histogram counts as one series), and (head series − \
         `count({{tenant=\"\"}})`) over the tenants. *RSS*: VmRSS and VmHWM of the Prometheus \
         process at the end. *Scrape duration*: `quantile_over_time(0.5, …)` and \
         `max_over_time` of `scrape_duration_seconds{{job=\"{JOB}\"}}` over the run; *samples*: \
         `quantile_over_time(0.5, scrape_samples_scraped{{…}})`. */metrics bytes*: one GET of \
         credprobe's `/metrics` after the run with the Accept header that Prometheus sent \
         (captured from its first scrape of a loopback listener), without and with \
         `Accept-Encoding: gzip`.\n"
    );
    for run in &runs {
        let _ = writeln!(s, "{}", run_notes(run, &m["scrape_interval_seconds"]));
    }
    let targets = bb["targets"].as_array().cloned().unwrap_or_default();
    let per_target = targets
        .iter()
        .map(|target| {
            let path = target["target"]
                .as_str()
                .and_then(|t| t.find("/api").map(|at| &t[at..]))
                .unwrap_or("?");
            format!(
                "{} sample lines for `{path}` (probe_success {})",
                thousands(&target["sample_lines"]),
                fixed(&target["probe_success"], 0)
            )
        })
        .collect::<Vec<_>>()
        .join(" and ");
    let bb_per_tenant = &bb["series_per_tenant"];
    let ratios = runs
        .iter()
        .map(|run| {
            let ratio = run["series_per_tenant"]
                .as_f64()
                .zip(bb_per_tenant.as_f64())
                .map(|(ours, theirs)| ours / theirs);
            format!(
                "{} {}×",
                run["run"].as_str().unwrap_or("?"),
                fixed(&json!(ratio), 2)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        s,
        "\n**Beside it, blackbox_exporter** (`{}`) with an `http_2xx` module for the same {} \
         endpoints: `/probe?module=http_2xx&target=…` answers {per_target}; with the {} series \
         Prometheus adds per target (`up` and `scrape_*`, counted in the runs above) that is \
         **{} series per tenant**. They cover no token request at all: the module gets its \
         bearer token through blackbox's `oauth2` client (the simulator's endpoints want one) \
         and exports nothing about it: no token latency, expiry or rejection reason. \
         credprobe's series per tenant over blackbox's: {ratios}.",
        bb["version"].as_str().unwrap_or("blackbox_exporter"),
        m["endpoints_per_tenant"],
        thousands(&bb["synthetic_series_per_target"]),
        fixed(bb_per_tenant, 0),
    );
    let _ = writeln!(s, "<!-- /prometheus-cost -->");
    s
}

/// The bullet of one run below the table: what was negotiated and the
/// figures the table has no room for.
fn run_notes(run: &Value, scrape_interval: &Value) -> String {
    let join = |items: Vec<String>, separator: &str| items.join(separator);
    let plain = &run["metrics_fetch_plain"];
    let gzip = &run["metrics_fetch_gzip"];
    let flags = run["prometheus_flags"]
        .as_array()
        .map(|flags| {
            join(
                flags
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|f| format!("`{f}`"))
                    .collect(),
                " ",
            )
        })
        .filter(|flags| !flags.is_empty())
        .unwrap_or_else(|| "no feature flag".to_owned());
    let mut answer = format!("`{}`", plain["content_type"].as_str().unwrap_or("?"));
    if plain["sample_lines"].is_number() {
        let _ = write!(
            answer,
            " ({} sample lines)",
            thousands(&plain["sample_lines"])
        );
    }
    match gzip["content_encoding"].as_str() {
        Some("") | None => answer.push_str(", not compressed when asked for gzip"),
        Some(encoding) => {
            let _ = write!(answer, ", `{encoding}` when asked for it");
        }
    }
    let (mut stored, mut zero) = (Vec::new(), Vec::new());
    for (key, value) in run["credprobe_scrape_response_bytes"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let key = key.strip_prefix("encoding=").unwrap_or(key).to_owned();
        if value.as_f64() == Some(0.0) {
            zero.push(key);
        } else {
            stored.push(format!("{key} {} bytes", thousands(value)));
        }
    }
    if !zero.is_empty() {
        stored.push(format!("0 for {}", zero.join(", ")));
    }
    let top = run["series_count_by_metric_name"]
        .as_array()
        .map(|names| {
            join(
                names
                    .iter()
                    .take(5)
                    .map(|entry| {
                        format!(
                            "`{}` {}",
                            entry["name"].as_str().unwrap_or("?"),
                            thousands(&entry["value"])
                        )
                    })
                    .collect(),
                ", ",
            )
        })
        .unwrap_or_default();
    let trace = run["prometheus_rss_trace_kib"]
        .as_array()
        .map(|trace| join(trace.iter().map(|point| mib(&point[1])).collect(), ", "))
        .unwrap_or_default();
    let encoding = match run["accept_encoding"].as_str() {
        Some("") | None => String::new(),
        Some(encoding) => format!(" and `Accept-Encoding: {encoding}`"),
    };
    format!(
        "- **{}** ({flags}): Prometheus scraped with `Accept: {}`{encoding}; credprobe answered \
         {answer}. Native histogram series in Prometheus: {} ({} with a tenant label). {} \
         scrapes, `up` {} on average; series Prometheus adds per target: {}. \
         `credprobe_scrape_response_bytes` as Prometheus last stored it: {}. Largest families \
         (TSDB status): {top}. Prometheus VmRSS every {scrape_interval} s: {trace} MiB. \
         credprobe's own VmRSS at the end: {} MiB.",
        run["run"].as_str().unwrap_or("?"),
        run["accept"].as_str().unwrap_or("?"),
        thousands(&run["native_histogram_series"]),
        thousands(&run["tenant_native_histogram_series"]),
        thousands(&run["scrapes"]),
        fixed(&run["up_avg"], 2),
        thousands(&run["synthetic_series_per_target"]),
        stored.join(", "),
        mib(&run["credprobe_rss_kib"]),
    )
}

fn elapsed(seconds: &Value) -> String {
    let seconds = seconds.as_f64().unwrap_or(0.0) as u64;
    format!("{} min {} s of measuring", seconds / 60, seconds % 60)
}
