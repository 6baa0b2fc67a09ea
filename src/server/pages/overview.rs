//! The overview (`/`): every tenant, failing first, with a filter and a
//! strip of each tenant's recent probes.

use maud::{Markup, html};

use super::Overview;
use super::format::{ago, clock, path_segment, utc};
use super::layout::{badge, expiry, labels, page, step_brief, warnings};
use crate::fleet::ProbeRecord;
use crate::unix_time::unix_seconds;
use crate::views::{Health, SearchWords, TenantView};

/// The whole overview page; its `q` is the filter applied to the rows
/// here (the summary counts every tenant).
pub fn render(overview: &Overview<'_>) -> Markup {
    let &Overview {
        summary,
        views,
        q,
        now,
        failed_reload,
    } = overview;
    let now_s = unix_seconds(now);
    // Each tenant's search text is built once: for the filter here and
    // for the page script's filter (data-search).
    let words = SearchWords::of(q);
    let shown: Vec<(&TenantView, String)> = views
        .iter()
        .map(|view| (view, view.search_text()))
        .filter(|(_, text)| words.found_in(text))
        .collect();
    let title = if summary.failing > 0 {
        format!(
            "credprobe: {} failing of {}",
            summary.failing, summary.tenants
        )
    } else {
        format!("credprobe: {} tenants", summary.tenants)
    };
    let content = html! {
        header {
            h1 { "credprobe" }
            nav { a href="metrics" { "Metrics" } a href="api/v1/tenants" { "JSON" } a href="-/ready" { "Readiness" } }
        }
        p.summary #summary {
            b { (summary.tenants) } " tenants, "
            b.n-ok { (summary.healthy) } " healthy, "
            b.n-bad[summary.failing > 0].n-ok[summary.failing == 0] { (summary.failing) } " failing, "
            b.warn { (summary.warning) } " warning, "
            b.n-grey { (summary.pending) } " pending"
        }
        form method="get" role="search" {
            input type="search" #q name="q" value=(q) placeholder="Filter: name, label or state" aria-label="Filter tenants";
            button type="submit" { "Filter" }
            a href="./" { "Clear" }
            span.muted { span #shown { (shown.len()) } " of " (views.len()) " shown" }
        }
        table #tenants {
            thead { tr {
                th { "Tenant" } th { "State" } th { "Recent" } th { "Token" } th { "Expires" }
                th { "Endpoints" } th { "Last error" } th { "Last success" }
            } }
            tbody {
                @for (view, search) in &shown { (row(view, search, now_s)) }
                @if shown.is_empty() {
                    tr { td colspan="8" .muted {
                        @if views.is_empty() { "No tenant is configured." }
                        @else { "No tenant matches \u{201c}" (q) "\u{201d}." }
                    } }
                }
            }
        }
    };
    page(&title, "", true, now, failed_reload, content)
}

fn row(view: &TenantView, search: &str, now: f64) -> Markup {
    let state = view.state.as_str();
    html! {
        tr class={ "row s-" (state) } data-search=(search) data-state=(state) {
            td.name {
                a href={ "tenants/" (path_segment(&view.name)) } { (view.name) }
                div.labels { (labels(view)) }
            }
            td { (badge(view.state)) (warnings(view)) }
            td { (strip(&view.strip)) }
            td {
                @match view.token.step.result {
                    Some(_) => {
                        (step_brief(&view.token.step, None))
                        @if let Some(reason) = view.token.rejection_reason {
                            " " small.bad { "(" (reason.as_str()) ")" }
                        }
                        @for scope in view.token.expected_scopes.iter().filter(|s| s.granted == Some(false)) {
                            div.bad { "scope missing: " (scope.scope) }
                        }
                    },
                    None if view.state == Health::Pending => span.muted { "—" },
                    None => span.muted { "not requested" },
                }
            }
            td.nowrap {
                div { small { "token" } " " (expiry(view.token.expires_at, view.token.expires_in_seconds, 60)) }
                @if view.credential_expires_at.is_some() {
                    div { small { "credential" } " " (expiry(view.credential_expires_at, view.credential_expires_in_seconds, 14 * 86_400)) }
                }
            }
            td {
                @if view.endpoints.is_empty() { span.muted { "none" } }
                @for endpoint in &view.endpoints {
                    div.ep title=(endpoint.step.detail.as_deref().unwrap_or(&endpoint.step.url)) {
                        (step_brief(&endpoint.step, Some(&endpoint.name)))
                        @if endpoint.step.result.is_none() { " " span.muted { "not called yet" } }
                    }
                }
            }
            td {
                @match &view.last_error {
                    Some(error) => {
                        span.bad title=(error.detail.as_deref().unwrap_or("")) { (error.result) }
                        " " small { (error.step) @if let Some(status) = error.status { " " (status) } }
                        br; small { (ago(unix_seconds(error.at), now)) }
                    },
                    None => span.muted { "none" },
                }
            }
            td.nowrap {
                @match view.last_success_at {
                    Some(at) => span title=(utc(at)) { (ago(at, now)) },
                    None if view.state == Health::Pending => span.muted { "—" },
                    None => span.bad { "never" },
                }
            }
        }
    }
}

/// The tenant's last probes as a strip of cells, oldest first: green for
/// success, red for a failure, each with its step, result and time.
fn strip(records: &[ProbeRecord]) -> Markup {
    html! {
        div.strip {
            @for record in records {
                i class=[(!record.ok()).then_some("bad")] title={
                    (record.step) " " (record.result)
                    @if let Some(status) = record.status { " " (status) }
                    " · " (clock(unix_seconds(record.at))) " UTC"
                } {}
            }
        }
    }
}
