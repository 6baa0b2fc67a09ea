//! The "where the time went" table of a tenant's page: the last request of
//! each step split into DNS, connect, TLS, processing and transfer, with a
//! bar per step drawn in inline SVG (widths are attributes, not styles, so
//! the Content-Security-Policy needs nothing more).

use maud::{Markup, html};

use super::format::latency;
use crate::probe::phases::Phase;
use crate::views::{PhasesView, TenantView};

/// The bar's width in SVG units.
const BAR: f64 = 240.0;

/// The table for every step of `view` that sent a request.
pub fn table(view: &TenantView) -> Markup {
    let steps: Vec<(&str, Option<&PhasesView>)> = view.phases_by_step().collect();
    html! {
        table #phases {
            thead { tr {
                th { "Step" }
                @for phase in Phase::ALL { th { span class={ "swatch phase-" (phase.as_str()) } {} (phase.title()) } }
                th { "Connection" }
                th { "Split" }
            } }
            tbody {
                @for (step, seen) in &steps {
                    tr {
                        td { b { (step) } }
                        @match seen {
                            Some(seen) => {
                                @for (phase, took) in seen.phases.named() {
                                    td.nowrap.mono data-phase=(phase.as_str()) { (latency(took.as_secs_f64())) }
                                }
                                td { @if seen.reused_connection { span.muted { "reused" } } @else { "new" } }
                                td { (bar(seen)) }
                            },
                            None => td colspan="7" .muted { "no request sent yet" },
                        }
                    }
                }
            }
        }
        p.muted {
            small {
                "A request on a reused connection spends nothing on DNS, connect or TLS; "
                "set " code { "fresh_connections: true" } " on the tenant to measure them every cycle."
            }
        }
    }
}

/// One step's phases as a stacked bar, each part titled with its phase.
fn bar(seen: &PhasesView) -> Markup {
    let named = seen.phases.named();
    let total: f64 = named.iter().map(|(_, took)| took.as_secs_f64()).sum();
    let mut x = 0.0;
    let mut parts = Vec::with_capacity(named.len());
    for (phase, took) in named {
        let width = if total > 0.0 {
            took.as_secs_f64() / total * BAR
        } else {
            0.0
        };
        if width > 0.0 {
            parts.push((phase, took, x, width));
        }
        x += width;
    }
    html! {
        svg.phases viewBox={ "0 0 " (BAR) " 12" } width=(BAR) height="12" role="img" aria-label="phases" {
            @for (phase, took, x, width) in parts {
                rect class={ "phase-" (phase.as_str()) } x=(format!("{x:.1}")) y="0" width=(format!("{width:.1}")) height="12" {
                    title { (phase.title()) " " (latency(took.as_secs_f64())) }
                }
            }
        }
    }
}
