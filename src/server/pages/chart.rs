//! The latency chart of a tenant's page: the recent probes of each step
//! (the token request and every endpoint) as lines over time, in inline
//! SVG (nothing to load, nothing the Content-Security-Policy must allow).
//! A failed probe is a red dot on its line (at zero when no request was
//! sent); every point names its step, result, latency and time.

use maud::{Markup, html};

use super::format::{clock, latency};
use crate::fleet::ProbeRecord;
use crate::unix_time::unix_seconds;
use crate::views::TenantView;

/// The drawing's size in SVG units (it scales to the page's width).
const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 200.0;
/// Room for the axis labels.
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 20.0;
const TOP: f64 = 8.0;
const RIGHT: f64 = 8.0;
/// Step colours (CSS classes k0..k7), repeating after eight steps.
const COLOURS: usize = 8;

/// One step's points: (unix seconds, latency seconds or none, record).
struct Series<'a> {
    name: &'a str,
    points: Vec<(f64, Option<f64>, &'a ProbeRecord)>,
}

/// The chart of `recent` (any order) for the steps of `view`.
pub fn latency_chart(view: &TenantView, recent: &[ProbeRecord]) -> Markup {
    let mut series: Vec<Series<'_>> = std::iter::once("token")
        .chain(view.endpoints.iter().map(|e| e.name.as_str()))
        .map(|name| Series {
            name,
            points: Vec::new(),
        })
        .collect();
    for record in recent {
        if let Some(s) = series.iter_mut().find(|s| *s.name == *record.step) {
            s.points
                .push((unix_seconds(record.at), record.latency_seconds, record));
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let times = || series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (Some(first), Some(last)) = (
        times().min_by(f64::total_cmp),
        times().max_by(f64::total_cmp),
    ) else {
        return html! { p.muted { "No probe yet." } };
    };
    let top = nice_ceiling(
        series
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|p| p.1))
            .fold(0.0, f64::max),
    );
    let span = (last - first).max(1.0);
    let x = |t: f64| LEFT + (t - first) / span * (WIDTH - LEFT - RIGHT);
    let y = |l: f64| HEIGHT - BOTTOM - l / top * (HEIGHT - BOTTOM - TOP);
    let base = HEIGHT - BOTTOM;
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label="Latency of the recent probes per step" {
                line.axis x1=(LEFT) y1=(base) x2=(WIDTH - RIGHT) y2=(base) {}
                line.axis x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(base) {}
                @for fraction in [0.0, 0.5, 1.0] {
                    text.tick x=(LEFT - 6.0) y=(y(top * fraction) + 4.0) text-anchor="end" { (latency(top * fraction)) }
                }
                text.tick x=(LEFT) y=(HEIGHT - 4.0) { (clock(first)) " UTC" }
                text.tick x=(WIDTH - RIGHT) y=(HEIGHT - 4.0) text-anchor="end" { (clock(last)) " UTC" }
                @for (i, s) in series.iter().enumerate() {
                    @let colour = format!("k{}", i % COLOURS);
                    polyline class=(colour) points=(polyline(&s.points, &x, &y)) {}
                    @for (t, l, record) in &s.points {
                        circle class=(if record.ok() { colour.as_str() } else { "fail" })
                            cx=(format!("{:.1}", x(*t))) cy=(format!("{:.1}", l.map_or(base, &y))) r="2.5" {
                            title { (s.name) " " (record.result) " " @if let Some(l) = l { (latency(*l)) " " } "at " (clock(*t)) " UTC" }
                        }
                    }
                }
            }
            figcaption {
                @for (i, s) in series.iter().enumerate() {
                    span class={ "legend k" (i % COLOURS) } { b {} (s.name) }
                }
            }
        }
    }
}

/// The `points` attribute of a step's line: its probes that have a
/// latency, in time order.
fn polyline(
    points: &[(f64, Option<f64>, &ProbeRecord)],
    x: &impl Fn(f64) -> f64,
    y: &impl Fn(f64) -> f64,
) -> String {
    let mut out = String::new();
    for (t, l, _) in points {
        if let Some(l) = l {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&format!("{:.1},{:.1}", x(*t), y(*l)));
        }
    }
    out
}

/// A round upper bound for the latency axis: 1, 2 or 5 times a power of
/// ten, at least 1 ms.
fn nice_ceiling(max: f64) -> f64 {
    let max = max.max(0.001);
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_ends_on_a_round_value() {
        assert_eq!(nice_ceiling(0.0), 0.001);
        assert_eq!(nice_ceiling(0.0123), 0.02);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(nice_ceiling(0.5), 0.5);
        assert_eq!(nice_ceiling(1.5), 2.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
    }
}
