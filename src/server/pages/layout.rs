//! The page shell and the small pieces the overview and the tenant page
//! share. Markup is built with maud, which escapes every value it is
//! given: no text from the configuration or from upstream can become
//! markup.

use std::time::SystemTime;

use maud::{DOCTYPE, Markup, html};

use super::format::{ago, latency, utc};
use crate::probe::ResultClass;
use crate::reload::FailedReload;
use crate::unix_time::unix_seconds;
use crate::version::VERSION;
use crate::views::{Health, StepView, TenantView};

/// How often a page reloads itself when its script runs.
pub const REFRESH_SECONDS: u32 = 30;

/// A whole page around `content`, under the banner of a failed reload
/// while there is one. `root` leads from the page's path back to the
/// server's root (`""` or `"../"`), so links and assets work behind a path
/// prefix too.
pub fn page(
    title: &str,
    root: &str,
    refresh: bool,
    now: SystemTime,
    failed_reload: Option<&FailedReload>,
    content: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href={ (root) "assets/style.css" };
            }
            body data-refresh=[refresh.then_some(REFRESH_SECONDS)] {
                @if let Some(failure) = failed_reload { (reload_banner(failure, unix_seconds(now))) }
                (content)
                footer {
                    "credprobe " (VERSION) " · generated " (utc(unix_seconds(now)))
                    @if refresh { " · reloads every " (REFRESH_SECONDS) " s" }
                }
                script src={ (root) "assets/page.js" } {}
            }
        }
    }
}

/// The banner of a failed reload: when, every problem, and that the
/// configuration loaded before still runs.
fn reload_banner(failure: &FailedReload, now: f64) -> Markup {
    let n = failure.problems.len();
    html! {
        div.banner #failed-reload role="alert" {
            b { "The last configuration reload failed" } " at "
            span title=(ago(failure.failed_at, now)) { (utc(failure.failed_at)) }
            " with " (n) " problem" @if n != 1 { "s" }
            "; the configuration loaded before stays in force until a reload succeeds."
            ul {
                @for problem in &failure.problems {
                    li {
                        @if let Some(file) = &problem.file { code { (file) } ": " }
                        @if let Some(tenant) = &problem.tenant { "tenant " b { (tenant) } ": " }
                        @if let Some(field) = &problem.field { code { (field) } ": " }
                        (problem.message)
                    }
                }
            }
        }
    }
}

/// A tenant's state as a coloured badge.
pub fn badge(state: Health) -> Markup {
    html! { span class={ "badge s-" (state.as_str()) } { (state.text()) } }
}

/// What needs attention in a tenant, as small lines under its state
/// (nothing when there is nothing).
pub fn warnings(view: &TenantView) -> Markup {
    html! {
        @for warning in &view.warnings {
            div.warn { small.warn { "⚠ " (warning.text()) } }
        }
    }
}

/// The tenant's labels, customer and tier first (what people scan for).
pub fn labels(view: &TenantView) -> Markup {
    let mut keys: Vec<&String> = view.labels.keys().collect();
    keys.sort_by_key(|k| match k.as_str() {
        "customer" => 0,
        "tier" => 1,
        _ => 2,
    });
    html! {
        @for key in keys {
            span.label { i { (key) "=" } (view.labels[key]) }
        }
    }
}

/// " 200", the status of a step's answer, in a monospace span.
pub fn status_code(status: Option<u16>) -> Markup {
    html! { @if let Some(status) = status { " " span.mono { (status) } } }
}

/// " 12 ms", small, never split over two lines.
pub fn latency_suffix(seconds: Option<f64>) -> Markup {
    html! { @if let Some(seconds) = seconds { " " small.nowrap { (latency(seconds)) } } }
}

/// A result class, green for success and red otherwise.
pub fn result<R: ResultClass>(result: R) -> Markup {
    html! { span.ok[result.is_success()].bad[!result.is_success()] { (result.as_str()) } }
}

/// "12s ago" with the UTC time as a tooltip, or `none` when unknown.
pub fn when(at: Option<f64>, now: f64, none: &str) -> Markup {
    html! {
        @match at {
            Some(at) => span title=(utc(at)) { (ago(at, now)) },
            None if none.is_empty() => {},
            None => span.muted { (none) },
        }
    }
}

/// "in 14m 50s" / "expired 3d ago", coloured when within `warn_seconds`.
pub fn expiry(at: Option<f64>, remaining: Option<i64>, warn_seconds: i64) -> Markup {
    use super::format::span;
    let (Some(at), Some(remaining)) = (at, remaining) else {
        return html! { span.muted { "—" } };
    };
    let distance = span(remaining.unsigned_abs());
    html! {
        @if remaining <= 0 {
            span.bad title=(utc(at)) { "expired " (distance) " ago" }
        } @else if remaining < warn_seconds {
            span.warn title=(utc(at)) { "in " (distance) }
        } @else {
            span title=(utc(at)) { "in " (distance) }
        }
    }
}

/// A dot, the step's `name` if given, then the status, latency and (for
/// failures) class of its last result: a step at a glance, as the
/// overview shows the token request and each endpoint.
pub fn step_brief<R: ResultClass>(step: &StepView<R>, name: Option<&str>) -> Markup {
    html! {
        span.dot.ok[step.ok()].bad[step.result.is_some() && !step.ok()] {}
        @if let Some(name) = name { (name) }
        @if let Some(result) = step.result {
            (status_code(step.status))
            @if !result.is_success() { " " span.bad { (result.as_str()) } }
            (latency_suffix(step.latency_seconds))
        }
    }
}
