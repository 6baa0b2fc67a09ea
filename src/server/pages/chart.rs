//! The latency chart of a tenant's page: the recent probes of each step
//! (the token request and every endpoint) as lines over time, in inline
//! SVG (nothing to load, nothing the Content-Security-Policy must allow).
//! A failed probe is a red dot on its line; a step that sent no request
//! (`no_token`, `backed_off`, `signing_error`: no latency) is no point at
//! all but a gap in its line, marked by a red tick under the time axis;
//! every point and tick names its step, result (and latency) and time.

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
                    @for points in polylines(&s.points, &x, &y) {
                        polyline class=(colour) points=(points) {}
                    }
                    @for (t, l, record) in &s.points {
                        @match l {
                            Some(l) => circle class=(if record.ok() { colour.as_str() } else { "fail" })
                                cx=(format!("{:.1}", x(*t))) cy=(format!("{:.1}", y(*l))) r="2.5" {
                                title { (s.name) " " (record.result) " " (latency(*l)) " at " (clock(*t)) " UTC" }
                            },
                            // Nothing was sent: no latency to plot.
                            None => line.unsent x1=(format!("{:.1}", x(*t))) y1=(base + 2.0)
                                x2=(format!("{:.1}", x(*t))) y2=(base + 7.0) {
                                title { (s.name) " " (record.result) ", no request sent, at " (clock(*t)) " UTC" }
                            },
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

/// The `points` attributes of a step's line, in time order: one line per
/// run of probes that have a latency, so a probe that sent no request
/// breaks the line (a gap) instead of joining its neighbours or dropping
/// to zero.
fn polylines(
    points: &[(f64, Option<f64>, &ProbeRecord)],
    x: &impl Fn(f64) -> f64,
    y: &impl Fn(f64) -> f64,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut out = String::new();
    for (t, l, _) in points {
        match l {
            Some(l) => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&format!("{:.1},{:.1}", x(*t), y(*l)));
            }
            None if !out.is_empty() => lines.push(std::mem::take(&mut out)),
            None => {}
        }
    }
    if !out.is_empty() {
        lines.push(out);
    }
    lines
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
    use std::time::SystemTime;

    use super::*;
    use crate::fleet::Fleet;
    use crate::fleet::tests::{ONE, call, cycle, tenants, token};
    use crate::probe::{EndpointResult, Outcome, TokenResult};
    use crate::views::{Depth, TenantView};

    #[test]
    fn a_step_that_sent_no_request_is_a_gap_not_a_zero_latency_point() {
        let fleet = Fleet::new(&[0.1]);
        let record = fleet.add(&tenants(ONE)[0]);
        let ok = || {
            cycle(
                Some(token(TokenResult::Success)),
                vec![(0, call(EndpointResult::Success, 40, Some(200)))],
            )
        };
        record.record_cycle(&ok());
        record.record_cycle(&ok());
        record.record_cycle(&cycle(
            Some(token(TokenResult::CredentialsRejected)),
            vec![(
                0,
                Outcome::failed(EndpointResult::NoToken, None, "no valid token"),
            )],
        ));
        record.record_cycle(&ok());
        let view = TenantView::of(&record, SystemTime::now(), Depth::History);
        let chart = latency_chart(&view, view.recent.as_deref().unwrap()).into_string();

        // The endpoint's line (k1) is cut at the no_token probe: two lines,
        // of two points and of one, and no point for the probe itself.
        let lines: Vec<&str> = chart
            .split("<polyline class=\"k1\" points=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        let mut sizes: Vec<usize> = lines.iter().map(|l| l.split(' ').count()).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [1, 2], "{chart}");
        assert!(
            !chart.contains("<title>e no_token "),
            "no_token is no latency point: {chart}"
        );
        // Nothing is plotted at 0 ms (the base line, y = HEIGHT - BOTTOM).
        let base = format!("cy=\"{:.1}\"", HEIGHT - BOTTOM);
        assert!(!chart.contains(&base), "{chart}");
        // It is marked under the time axis, saying no request was sent.
        assert_eq!(
            chart.matches("<line class=\"unsent\"").count(),
            1,
            "{chart}"
        );
        assert!(
            chart.contains("<title>e no_token, no request sent, at "),
            "{chart}"
        );
        // The rejected token request did send one: a failed point.
        assert!(chart.contains("<circle class=\"fail\""), "{chart}");
    }

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
