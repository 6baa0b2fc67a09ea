//! blackbox_exporter's side: the series an `http_2xx` probe of each of a
//! tenant's endpoints yields, to compare with credprobe's per tenant.

use serde_json::{Value, json};

use super::ENDPOINTS;
use super::measure::Plan;
use super::processes::{Processes, free_port, mkdir, version, wait_ready, write};

/// blackbox_exporter with an `http_2xx` module: the sample lines of one
/// `/probe` per endpoint, plus the series Prometheus adds per target.
pub(super) async fn blackbox(
    plan: &Plan,
    simulator: &str,
    synthetic: Option<f64>,
    client: &reqwest::Client,
    processes: &mut Processes,
) -> Result<Value, String> {
    let dir = plan.work.join("blackbox");
    mkdir(&dir)?;
    // The simulator's endpoints want a bearer token: the module gets one
    // through blackbox's oauth2 client (tenant-00000's credentials), so the
    // probe passes as credprobe's check does. blackbox exports nothing about
    // that token request.
    let config = dir.join("blackbox.yml");
    write(
        &config,
        &format!(
            "modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n    http:\n      \
             valid_status_codes: [200]\n      oauth2:\n        client_id: tenant-00000\n        \
             client_secret: secret-tenant-00000\n        token_url: {simulator}/oauth2/token\n"
        ),
    )?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let args = [
        format!("--config.file={}", config.display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--log.level=warn".to_owned(),
    ];
    let pid = processes.spawn(
        "blackbox_exporter",
        &plan.blackbox,
        &args,
        &dir.join("blackbox.log"),
    )?;
    wait_ready(client, &format!("{url}/-/healthy"), processes).await?;
    let mut targets = Vec::new();
    let mut lines_total = 0usize;
    for (_, path) in ENDPOINTS {
        let target = format!("{simulator}{path}");
        let mut probe = url::Url::parse(&format!("{url}/probe")).map_err(|e| e.to_string())?;
        probe
            .query_pairs_mut()
            .append_pair("module", "http_2xx")
            .append_pair("target", &target);
        let text = client
            .get(probe.as_str())
            .send()
            .await
            .map_err(|error| format!("GET {probe}: {error}"))?
            .text()
            .await
            .map_err(|error| format!("GET {probe}: {error}"))?;
        write(
            &dir.join(format!("probe{}.txt", path.replace('/', "_"))),
            &text,
        )?;
        let samples: Vec<_> = crate::expo::samples(&text).collect::<Result<_, _>>()?;
        let success = samples
            .iter()
            .find(|sample| sample.name == "probe_success")
            .map(|sample| sample.value);
        let mut names: Vec<&str> = samples.iter().map(|sample| sample.name).collect();
        names.dedup();
        lines_total += samples.len();
        targets.push(json!({
            "target": target,
            "sample_lines": samples.len(),
            "probe_success": success,
            "names": names,
        }));
    }
    processes.stop(pid);
    let synthetic_per_target = synthetic.unwrap_or(f64::NAN);
    let per_tenant = lines_total as f64 + synthetic_per_target * ENDPOINTS.len() as f64;
    Ok(json!({
        "version": version(&plan.blackbox),
        "module": "http_2xx",
        "oauth2_token_series": 0,
        "targets": targets,
        "synthetic_series_per_target": synthetic,
        "series_per_tenant": per_tenant.is_finite().then_some(per_tenant),
    }))
}
