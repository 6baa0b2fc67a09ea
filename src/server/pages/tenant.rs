//! A tenant's page (`/tenants/{name}`): its state, token and credential,
//! each endpoint, a latency chart of the recent probes per step, and the
//! recent probes themselves.

use std::time::SystemTime;

use maud::{Markup, html};

use super::format::{ago, latency, span, utc};
use super::layout::{badge, expiry, labels, latency_suffix, page, result, status_code, when};
use super::{chart, phases};
use crate::fleet::ProbeRecord;
use crate::reload::FailedReload;
use crate::unix_time::unix_seconds;
use crate::views::TenantView;
use crate::views::inventory::InventoryView;

/// What the Entra credential inventory found: the latest expiry, a
/// rotation started, or why Graph could not be read (naming the missing
/// permission).
fn inventory_text(inventory: &InventoryView, now_s: f64) -> Markup {
    html! {
        @if let Some(error) = &inventory.error {
            span.bad { "cannot read Microsoft Graph: " } span.detail { (error) } " "
            @if let Some(permission) = inventory.missing_permission {
                "(missing permission: " code { (permission) } ") "
            }
        }
        @match inventory.latest_expires_at {
            Some(latest) if inventory.rotation_started => {
                span.ok { "rotation started: a newer credential expires on " (utc(latest)) }
            },
            Some(latest) => {
                "latest credential expires " span.mono { (utc(latest)) } " "
                small { "(no later credential: rotate before the one in use expires)" }
            },
            None if inventory.last_success_at.is_some() => span.muted { "Graph lists no credential" },
            None if inventory.result.is_none() => span.muted { "not read yet" },
            None => {},
        }
        @if inventory.in_use_matched == Some(false) {
            " " small { "(the credential in use was not recognised: the earliest is shown)" }
        }
        @if let Some(at) = inventory.last_success_at {
            " " small { "read " (ago(at, now_s)) }
        }
    }
}

/// The tenant's page, under the banner of a failed reload while there is
/// one.
pub fn render(view: &TenantView, now: SystemTime, failed_reload: Option<&FailedReload>) -> Markup {
    let now_s = unix_seconds(now);
    let recent = view.recent.as_deref().unwrap_or(&[]);
    let link = super::format::path_segment(&view.name);
    let content = html! {
        header {
            h1 { a href="../" { "credprobe" } " › " (view.name) }
            nav {
                a href="../" { "All tenants" }
                a href="../metrics" { "Metrics" }
                a href={ "../api/v1/tenants/" (link) } { "JSON" }
            }
        }
        p.summary {
            (badge(view.state)) " " span.muted { "every " (span(view.interval_seconds.round() as u64)) } " "
            // Shown by the page's script, which sends the header the
            // endpoint requires; a cross-site form cannot.
            button #probe-now type="button" hidden data-probe={ "../api/v1/tenants/" (link) "/probe" } { "Probe now" }
            " " span #probe-status .muted {}
        }
        @if !view.warnings.is_empty() {
            ul.warnings #warnings {
                @for warning in &view.warnings { li data-warning=(warning.as_str()) { (warning.text()) } }
            }
        }
        dl {
            dt { "Labels" }
            dd { (labels(view)) @if view.labels.is_empty() { span.muted { "none" } } }
            dt { "Last cycle" } dd { (when(view.last_cycle_at, now_s, "—")) }
            dt { "Last success" } dd { (when(view.last_success_at, now_s, "never")) }
            dt { "Last error" }
            dd {
                @match &view.last_error {
                    Some(error) => {
                        span.bad { (error.result) } " " (error.step) (status_code(error.status)) " "
                        (when(Some(unix_seconds(error.at)), now_s, "")) " "
                        span.detail { (error.detail.as_deref().unwrap_or("")) }
                    },
                    None => span.muted { "none" },
                }
            }
            dt { "Token endpoint" } dd { code { (view.token.step.url) } }
            dt { "Token" }
            dd {
                @match view.token.step.result {
                    Some(token) => {
                        (result(token)) (status_code(view.token.step.status))
                        @if let Some(reason) = view.token.rejection_reason {
                            " " span.bad { "(reason: " (reason.as_str()) ")" }
                        }
                        (latency_suffix(view.token.step.latency_seconds)) " "
                        span.detail { (view.token.step.detail.as_deref().unwrap_or("")) }
                    },
                    None => span.muted { "no request yet" },
                }
            }
            dt { "Scopes" }
            dd #scopes {
                @for expected in &view.token.expected_scopes {
                    @match expected.granted {
                        Some(true) => span.label.ok { "✓ " (expected.scope) },
                        Some(false) => span.label.bad { "✗ " (expected.scope) " missing" },
                        None => span.label.muted { "? " (expected.scope) },
                    }
                }
                @match &view.token.granted_scopes {
                    Some(granted) if granted.is_empty() => span.muted { "the token grants no scope" },
                    Some(granted) => small { "granted: " (granted.join(" ")) },
                    None => span.muted { "the token response and the token say nothing of their scopes" },
                }
            }
            @if let Some(next) = &view.next_credential {
                dt { "Next credential" }
                dd #next-credential {
                    @match next.result {
                        Some(token) => {
                            (result(token)) (status_code(next.status))
                            @if let Some(reason) = next.rejection_reason {
                                " " span.bad { "(reason: " (reason.as_str()) ")" }
                            }
                            " " span.detail { (next.detail.as_deref().unwrap_or("")) } " "
                            small { "last token " (when(next.last_success_at, now_s, "never")) }
                        },
                        None => span.muted { "no request yet" },
                    }
                }
            }
            @if let Some(verification) = &view.token.verification {
                dt { "Token verified" }
                dd #verification {
                    @match verification.verified {
                        Some(true) => span.label.ok { "✓ verified" },
                        Some(false) => span.label.bad { "✗ " (verification.reason.as_str()) },
                        None => span.label.muted { "not verifiable by design" },
                    }
                    " " span.detail { (verification.detail.as_deref().unwrap_or("")) }
                    @if let Some(skew) = verification.clock_skew_seconds {
                        " " small { "(clock skew " (skew) " s)" }
                    }
                }
            }
            dt { "Token expires" }
            dd {
                (expiry(view.token.expires_at, view.token.expires_in_seconds, 60))
                @if let Some(lifetime) = view.token.lifetime_seconds {
                    " " small { "(lifetime " (span(lifetime.round() as u64)) ")" }
                }
            }
            dt { "Credential expires" }
            dd { (expiry(view.credential_expires_at, view.credential_expires_in_seconds, 14 * 86_400)) }
            dt { "Credential files" }
            dd #credential-files {
                @match &view.credential_files.problem {
                    Some(problem) => {
                        span.bad { "cannot be used: " } code { (problem.file) } " "
                        "since " span.mono { (utc(problem.since)) } " " small { "(" (ago(problem.since, now_s)) ")" } ": "
                        span.detail { (problem.why) } " "
                        span.muted { "(the last good copy is in use)" }
                    },
                    None => span.muted { "usable" },
                }
            }
            @if let Some(inventory) = &view.credential_inventory {
                dt { "Credential inventory" }
                dd #credential-inventory { (inventory_text(inventory, now_s)) }
            }
        }
        h2 { "Endpoints" }
        table #endpoints {
            thead { tr {
                th { "Endpoint" } th { "URL" } th { "Result" } th { "Status" } th { "Latency" }
                th { "Checked" } th { "Last success" } th { "Detail" }
            } }
            tbody {
                @for endpoint in &view.endpoints {
                    @let step = &endpoint.step;
                    tr {
                        td { b { (endpoint.name) } }
                        td { code { (step.url) } }
                        td {
                            @match step.result {
                                Some(r) => (result(r)),
                                None => span.muted { "not called yet" },
                            }
                        }
                        td.mono { @if let Some(status) = step.status { (status) } }
                        td.nowrap { @if let Some(seconds) = step.latency_seconds { (latency(seconds)) } }
                        td.nowrap { (when(step.checked_at, now_s, "")) }
                        td.nowrap { (when(step.last_success_at, now_s, if step.result.is_some() { "never" } else { "" })) }
                        td.detail { (step.detail.as_deref().unwrap_or("")) }
                    }
                }
                @if view.endpoints.is_empty() {
                    tr { td colspan="8" .muted { "No endpoint configured: only the token is probed." } }
                }
            }
        }
        h2 { "Where the time went " small { "(last request per step)" } }
        (phases::table(view))
        h2 { "Latency " small { "(recent probes per step)" } }
        (chart::latency_chart(view, recent))
        h2 { "Recent probes " small { "(last " (recent.len()) ", newest first)" } }
        table #recent {
            thead { tr { th { "Time" } th { "Step" } th { "Result" } th { "Status" } th { "Latency" } th { "Error" } } }
            tbody {
                @for record in recent { (recent_row(record, now_s)) }
                @if recent.is_empty() { tr { td colspan="6" .muted { "No probe yet." } } }
            }
        }
    };
    page(
        &format!("{}: {} · credprobe", view.name, view.state.text()),
        "../",
        false,
        now,
        failed_reload,
        content,
    )
}

fn recent_row(record: &ProbeRecord, now: f64) -> Markup {
    let at = unix_seconds(record.at);
    html! {
        tr class=(if record.ok() { "pass" } else { "fail" }) {
            td.nowrap { span.mono { (utc(at)) } " " small { (ago(at, now)) } }
            td { (record.step) }
            td { span class=(if record.ok() { "ok" } else { "bad" }) { (record.result) } }
            td.mono { @if let Some(status) = record.status { (status) } }
            td.nowrap { @if let Some(seconds) = record.latency_seconds { (latency(seconds)) } }
            td.detail { (record.detail.as_deref().unwrap_or("")) }
        }
    }
}

/// The page for a name no tenant has.
pub fn not_found(name: &str, now: SystemTime, failed_reload: Option<&FailedReload>) -> Markup {
    let content = html! {
        header { h1 { a href="../" { "credprobe" } } }
        p.summary { "No tenant named " code { (name) } " is configured." }
        p { a href="../" { "All tenants" } }
    };
    page(
        "Unknown tenant · credprobe",
        "../",
        false,
        now,
        failed_reload,
        content,
    )
}
