//! Prometheus's HTTP API: its head series, memory, and the tenant series,
//! scrape durations and samples it stored, read once a run is over.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::JOB;
use super::measure::Plan;

/// Prometheus's HTTP API.
pub(super) struct Prometheus<'a> {
    pub(super) client: &'a reqwest::Client,
    pub(super) url: &'a str,
}

impl Prometheus<'_> {
    async fn get_json(&self, path: &str, query: Option<&str>) -> Result<Value, String> {
        let mut url = url::Url::parse(&format!("{}{path}", self.url)).map_err(|e| e.to_string())?;
        if let Some(query) = query {
            url.query_pairs_mut().append_pair("query", query);
        }
        let response = self
            .client
            .get(url.as_str())
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        if !status.is_success() || body["status"] != "success" {
            return Err(format!("GET {url}: {status} {body}"));
        }
        Ok(body["data"].clone())
    }

    /// An instant query's vector: (labels, value) per series.
    async fn vector(&self, query: &str) -> Result<Vec<(BTreeMap<String, String>, f64)>, String> {
        let data = self.get_json("/api/v1/query", Some(query)).await?;
        let result = data["result"].as_array().cloned().unwrap_or_default();
        Ok(result
            .into_iter()
            .filter_map(|series| {
                let labels = serde_json::from_value(series["metric"].clone()).unwrap_or_default();
                let value = series["value"][1].as_str()?.parse().ok()?;
                Some((labels, value))
            })
            .collect())
    }

    /// The single value of a query, None when it has none.
    async fn scalar(&self, query: &str) -> Result<Option<f64>, String> {
        Ok(self.vector(query).await?.first().map(|(_, value)| *value))
    }

    /// A `count(...)`: 0 when nothing matches.
    async fn count(&self, query: &str) -> Result<f64, String> {
        Ok(self
            .scalar(&format!("count({query})"))
            .await?
            .unwrap_or(0.0))
    }

    /// `prometheus_tsdb_head_series` from Prometheus's own /metrics.
    pub(super) async fn head_series(&self) -> Result<f64, String> {
        let url = format!("{}/metrics", self.url);
        let text = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?
            .text()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        crate::expo::samples(&text)
            .filter_map(Result::ok)
            .find(|sample| sample.name == "prometheus_tsdb_head_series")
            .map(|sample| sample.value)
            .ok_or_else(|| format!("no prometheus_tsdb_head_series on {url}"))
    }

    /// Every figure of a run that Prometheus holds, over the last `ran`.
    pub(super) async fn figures(&self, plan: &Plan, ran: Duration) -> Result<Value, String> {
        let tenants = plan.tenants as f64;
        let range = format!("{}s", ran.as_secs().max(1));
        let job = format!("job=\"{JOB}\"");
        let head_series = self.head_series().await?;
        let status = self.get_json("/api/v1/status/tsdb", None).await?;
        let tenant_series = self
            .count(r#"{__name__=~"credprobe_.+", tenant!=""}"#)
            .await?;
        let all_series = self.count(r#"{__name__=~".+"}"#).await?;
        let non_tenant_series = self.count(r#"{__name__=~".+", tenant=""}"#).await?;
        let native_histograms = self.count(r#"histogram_count({__name__=~".+"})"#).await?;
        let tenant_native_histograms = self
            .count(r#"histogram_count({__name__=~"credprobe_.+", tenant!=""})"#)
            .await?;
        let synthetic = self
            .count(&format!(r#"{{{job}, __name__=~"up|scrape_.+"}}"#))
            .await?;
        let duration = format!("scrape_duration_seconds{{{job}}}[{range}]");
        let scrape_median = self
            .scalar(&format!("quantile_over_time(0.5, {duration})"))
            .await?;
        let scrape_avg = self.scalar(&format!("avg_over_time({duration})")).await?;
        let scrape_max = self.scalar(&format!("max_over_time({duration})")).await?;
        let scrapes = self
            .scalar(&format!("count_over_time(up{{{job}}}[{range}])"))
            .await?;
        let up_avg = self
            .scalar(&format!("avg_over_time(up{{{job}}}[{range}])"))
            .await?;
        let samples_median = self
            .scalar(&format!(
                "quantile_over_time(0.5, scrape_samples_scraped{{{job}}}[{range}])"
            ))
            .await?;
        let samples_last = self
            .scalar(&format!("scrape_samples_scraped{{{job}}}"))
            .await?;
        let series_added = self
            .scalar(&format!(
                "sum_over_time(scrape_series_added{{{job}}}[{range}])"
            ))
            .await?;
        let response_bytes: BTreeMap<String, f64> = self
            .vector(&format!("credprobe_scrape_response_bytes{{{job}}}"))
            .await?
            .into_iter()
            .map(|(labels, value)| {
                let key = labels
                    .iter()
                    .filter(|(name, _)| !matches!(name.as_str(), "__name__" | "job" | "instance"))
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect::<Vec<_>>()
                    .join(",");
                (key, value)
            })
            .collect();
        let top: Vec<Value> = status["seriesCountByMetricName"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(json!({
            "tenants": plan.tenants,
            "head_series": head_series,
            "head_series_tsdb_status": status["headStats"]["numSeries"],
            "head_chunks_tsdb_status": status["headStats"]["chunkCount"],
            "series_count_by_metric_name": top,
            "series_now": all_series,
            "tenant_series": tenant_series,
            "non_tenant_series": non_tenant_series,
            "series_per_tenant": tenant_series / tenants,
            "series_per_tenant_from_head": (head_series - non_tenant_series) / tenants,
            "native_histogram_series": native_histograms,
            "tenant_native_histogram_series": tenant_native_histograms,
            "synthetic_series_per_target": synthetic,
            "scrapes": scrapes,
            "up_avg": up_avg,
            "scrape_duration_median_seconds": scrape_median,
            "scrape_duration_avg_seconds": scrape_avg,
            "scrape_duration_max_seconds": scrape_max,
            "samples_scraped_median": samples_median,
            "samples_scraped_last": samples_last,
            "series_added_total": series_added,
            "credprobe_scrape_response_bytes": response_bytes,
        }))
    }
}
