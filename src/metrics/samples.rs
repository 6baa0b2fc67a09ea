//! Where one family's samples go, whatever the format: [`Samples`] is what
//! [`super::tenant_series`] writes to, once for both formats, and the text
//! writer ([`TextSamples`]) and the protobuf builder ([`ProtoSamples`])
//! are its two implementations. Knows nothing of tenants.

use std::io::{self, Write};

use super::protobuf::FamilyBuilder;
use super::text::{FamilyWriter, Float};
use crate::fleet::Histogram;

/// One family's samples, as the format at hand writes them.
pub trait Samples {
    /// One gauge or counter series (the family says which); `extra` is one
    /// more label after `labels` (e.g. `result`).
    fn sample(
        &mut self,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
        value: f64,
    ) -> io::Result<()>;

    /// One histogram series: classic buckets, and native buckets where the
    /// format carries them.
    fn histogram(&mut self, labels: &[(&str, &str)], histogram: &Histogram) -> io::Result<()>;
}

/// The text format: classic buckets only, `le` labels spelled once per
/// render.
pub struct TextSamples<'a, 'w, W> {
    /// The family's writer (header with the first sample).
    pub writer: FamilyWriter<'w, W>,
    /// The `le` label values of the buckets, `+Inf` last.
    pub le: &'a [Box<str>],
}

impl<W: Write> Samples for TextSamples<'_, '_, W> {
    fn sample(
        &mut self,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
        value: f64,
    ) -> io::Result<()> {
        match extra {
            Some(extra) => self.writer.sample_with(labels, extra, Float(value)),
            None => self.writer.sample(labels, Float(value)),
        }
    }

    fn histogram(&mut self, labels: &[(&str, &str)], histogram: &Histogram) -> io::Result<()> {
        self.writer
            .histogram(labels, self.le, histogram.counts(), histogram.sum())
    }
}

/// The protobuf format: each histogram classic and native at once.
pub struct ProtoSamples<'a> {
    /// The family being built.
    pub builder: &'a mut FamilyBuilder,
    /// Whether its samples are counters (else gauges).
    pub counter: bool,
    /// The classic bucket bounds.
    pub bounds: &'a [f64],
}

impl Samples for ProtoSamples<'_> {
    fn sample(
        &mut self,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
        value: f64,
    ) -> io::Result<()> {
        match (self.counter, extra) {
            (true, Some(extra)) => self.builder.counter_with(labels, extra, value),
            (true, None) => self.builder.counter(labels, value),
            (false, Some(extra)) => self.builder.gauge_with(labels, extra, value),
            (false, None) => self.builder.gauge(labels, value),
        }
        Ok(())
    }

    fn histogram(&mut self, labels: &[(&str, &str)], histogram: &Histogram) -> io::Result<()> {
        self.builder.histogram(
            labels,
            self.bounds,
            histogram.counts(),
            histogram.sum(),
            Some(histogram.native()),
        );
        Ok(())
    }
}
