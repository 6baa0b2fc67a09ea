//! The Prometheus protobuf exposition format: `io.prometheus.client`
//! `MetricFamily` messages, each prefixed by its length as a varint. It is
//! what a scrape gets when it asks for it (Prometheus does with
//! `--enable-feature=native-histograms`), as the text format cannot carry
//! native histograms: each latency histogram goes out with its classic
//! buckets and its native (sparse exponential) buckets, as client_golang
//! sends a histogram with a `NativeHistogramBucketFactor`.
//!
//! The messages are derived with prost from client_model's `metrics.proto`
//! (proto2: optional scalars are `Option`s, so only what is set is sent,
//! and repeated numbers are unpacked, as Go sends them).

use std::io::{self, Write};

use prost::Message;

use super::families::{Family, Kind};
use crate::fleet::native::NativeBuckets;
use model::{Bucket, BucketSpan, LabelPair, Metric, MetricFamily, MetricType};

/// client_model's `io/prometheus/client/metrics.proto`, with its field
/// numbers and types, less exemplars, created timestamps and `unit`
/// (credprobe sends none of them).
pub mod model {
    /// One label of a series.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        /// The label name.
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        /// The label value.
        #[prost(string, optional, tag = "2")]
        pub value: Option<String>,
    }

    /// The value of a gauge.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Gauge {
        /// The value.
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
    }

    /// The value of a counter.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Counter {
        /// The value.
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
    }

    /// One quantile of a summary.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Quantile {
        /// Which quantile (0 to 1).
        #[prost(double, optional, tag = "1")]
        pub quantile: Option<f64>,
        /// Its value.
        #[prost(double, optional, tag = "2")]
        pub value: Option<f64>,
    }

    /// A summary.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Summary {
        /// How many values were observed.
        #[prost(uint64, optional, tag = "1")]
        pub sample_count: Option<u64>,
        /// Their sum.
        #[prost(double, optional, tag = "2")]
        pub sample_sum: Option<f64>,
        /// The quantiles.
        #[prost(message, repeated, tag = "3")]
        pub quantile: Vec<Quantile>,
    }

    /// The value of an untyped series.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Untyped {
        /// The value.
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
    }

    /// A histogram: classic buckets, native buckets, or both.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        /// How many values were observed.
        #[prost(uint64, optional, tag = "1")]
        pub sample_count: Option<u64>,
        /// Their sum.
        #[prost(double, optional, tag = "2")]
        pub sample_sum: Option<f64>,
        /// Classic buckets, by increasing bound; `+Inf` may be left out.
        #[prost(message, repeated, tag = "3")]
        pub bucket: Vec<Bucket>,
        /// The count of a float histogram (overrides `sample_count`).
        #[prost(double, optional, tag = "4")]
        pub sample_count_float: Option<f64>,
        /// Native buckets' resolution: factor `2^(2^-schema)`.
        #[prost(sint32, optional, tag = "5")]
        pub schema: Option<i32>,
        /// Width of the native zero bucket.
        #[prost(double, optional, tag = "6")]
        pub zero_threshold: Option<f64>,
        /// Observations in the zero bucket.
        #[prost(uint64, optional, tag = "7")]
        pub zero_count: Option<u64>,
        /// The zero count of a float histogram.
        #[prost(double, optional, tag = "8")]
        pub zero_count_float: Option<f64>,
        /// Spans of the negative native buckets.
        #[prost(message, repeated, tag = "9")]
        pub negative_span: Vec<BucketSpan>,
        /// Count deltas of the negative buckets.
        #[prost(sint64, repeated, packed = "false", tag = "10")]
        pub negative_delta: Vec<i64>,
        /// Counts of the negative buckets of a float histogram.
        #[prost(double, repeated, packed = "false", tag = "11")]
        pub negative_count: Vec<f64>,
        /// Spans of the positive native buckets.
        #[prost(message, repeated, tag = "12")]
        pub positive_span: Vec<BucketSpan>,
        /// Count deltas of the positive buckets (the first absolute).
        #[prost(sint64, repeated, packed = "false", tag = "13")]
        pub positive_delta: Vec<i64>,
        /// Counts of the positive buckets of a float histogram.
        #[prost(double, repeated, packed = "false", tag = "14")]
        pub positive_count: Vec<f64>,
    }

    /// One classic bucket.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Bucket {
        /// Observations at or below `upper_bound`.
        #[prost(uint64, optional, tag = "1")]
        pub cumulative_count: Option<u64>,
        /// The bucket's upper bound (inclusive).
        #[prost(double, optional, tag = "2")]
        pub upper_bound: Option<f64>,
        /// The count of a float histogram's bucket.
        #[prost(double, optional, tag = "4")]
        pub cumulative_count_float: Option<f64>,
    }

    /// Consecutive native buckets.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BucketSpan {
        /// Gap to the previous span, or the first bucket's index.
        #[prost(sint32, optional, tag = "1")]
        pub offset: Option<i32>,
        /// How many buckets.
        #[prost(uint32, optional, tag = "2")]
        pub length: Option<u32>,
    }

    /// One series: its labels and the value its family's type says.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        /// The labels.
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        /// The value of a gauge.
        #[prost(message, optional, tag = "2")]
        pub gauge: Option<Gauge>,
        /// The value of a counter.
        #[prost(message, optional, tag = "3")]
        pub counter: Option<Counter>,
        /// The value of a summary.
        #[prost(message, optional, tag = "4")]
        pub summary: Option<Summary>,
        /// The value of an untyped series.
        #[prost(message, optional, tag = "5")]
        pub untyped: Option<Untyped>,
        /// An explicit timestamp (milliseconds since the epoch).
        #[prost(int64, optional, tag = "6")]
        pub timestamp_ms: Option<i64>,
        /// The value of a histogram.
        #[prost(message, optional, tag = "7")]
        pub histogram: Option<Histogram>,
    }

    /// One family: name, HELP, type and series.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricFamily {
        /// The metric name.
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        /// The HELP text.
        #[prost(string, optional, tag = "2")]
        pub help: Option<String>,
        /// The [`MetricType`].
        #[prost(enumeration = "MetricType", optional, tag = "3")]
        pub r#type: Option<i32>,
        /// The series.
        #[prost(message, repeated, tag = "4")]
        pub metric: Vec<Metric>,
    }

    /// A family's type.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        /// Uses `Metric::counter`.
        Counter = 0,
        /// Uses `Metric::gauge`.
        Gauge = 1,
        /// Uses `Metric::summary`.
        Summary = 2,
        /// Uses `Metric::untyped`.
        Untyped = 3,
        /// Uses `Metric::histogram`.
        Histogram = 4,
        /// Uses `Metric::histogram`, for values that go up and down.
        GaugeHistogram = 5,
    }
}

/// The `Content-Type` of a protobuf exposition.
pub const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// True when the `Accept` header asks for the protobuf exposition (media
/// type with `proto=io.prometheus.client.MetricFamily` and
/// `encoding=delimited`, names and spacing as they come) with a weight
/// above 0 and not below the best one of the text format (`text/plain`,
/// `text/*` or `*/*`). A range whose `q` is not a number in [0, 1] is
/// ignored.
pub fn accepts_protobuf(accept: &str) -> bool {
    let mut protobuf: Option<f64> = None;
    let mut text = 0f64;
    for range in accept.split(',') {
        let mut params = range.split(';');
        let media = params.next().unwrap_or_default().trim();
        let (mut q, mut proto, mut delimited) = (1.0, false, false);
        for (name, value) in params.filter_map(|param| param.split_once('=')) {
            let (name, value) = (name.trim(), value.trim().trim_matches('"'));
            if name.eq_ignore_ascii_case("q") {
                q = value.parse().unwrap_or(f64::NAN);
            } else if name.eq_ignore_ascii_case("proto") {
                proto = value == "io.prometheus.client.MetricFamily";
            } else if name.eq_ignore_ascii_case("encoding") {
                delimited = value.eq_ignore_ascii_case("delimited");
            }
        }
        if !(0.0..=1.0).contains(&q) {
            continue;
        }
        if media.eq_ignore_ascii_case("application/vnd.google.protobuf") {
            if proto && delimited {
                protobuf = Some(protobuf.map_or(q, |best| best.max(q)));
            }
        } else if ["text/plain", "text/*", "*/*"]
            .iter()
            .any(|t| media.eq_ignore_ascii_case(t))
        {
            text = text.max(q);
        }
    }
    protobuf.is_some_and(|q| q > 0.0 && q >= text)
}

/// Accumulates the series of one credprobe family into one `MetricFamily`
/// message, the protobuf counterpart of the text format's `FamilyWriter`.
pub struct FamilyBuilder {
    kind: Kind,
    message: MetricFamily,
}

impl FamilyBuilder {
    /// A builder of `family` without series yet.
    pub fn new(family: &'static Family) -> FamilyBuilder {
        let kind = match family.kind {
            Kind::Gauge => MetricType::Gauge,
            Kind::Counter => MetricType::Counter,
            Kind::Histogram => MetricType::Histogram,
        };
        FamilyBuilder {
            kind: family.kind,
            message: MetricFamily {
                name: Some(family.name.to_owned()),
                help: Some(family.help.to_owned()),
                r#type: Some(kind as i32),
                metric: Vec::new(),
            },
        }
    }

    /// One series of a gauge family.
    pub fn gauge(&mut self, labels: &[(&str, &str)], value: f64) {
        self.sample(Kind::Gauge, labels, None, value);
    }

    /// One series of a gauge family, with one more label after `labels`.
    pub fn gauge_with(&mut self, labels: &[(&str, &str)], extra: (&str, &str), value: f64) {
        self.sample(Kind::Gauge, labels, Some(extra), value);
    }

    /// One series of a counter family.
    pub fn counter(&mut self, labels: &[(&str, &str)], value: f64) {
        self.sample(Kind::Counter, labels, None, value);
    }

    /// One series of a counter family, with one more label after `labels`.
    pub fn counter_with(&mut self, labels: &[(&str, &str)], extra: (&str, &str), value: f64) {
        self.sample(Kind::Counter, labels, Some(extra), value);
    }

    /// One series of a histogram family. `counts` are per bucket, not
    /// cumulative, one more than `bounds` (the last above every bound);
    /// the classic buckets go out cumulative for the finite bounds, and
    /// the total as `sample_count` (client_golang leaves `+Inf` out too).
    /// With `native`, the native buckets go out as well: pass it for every
    /// series of a family or for none, as Prometheus 2.42 decides from the
    /// first series whether the family is native.
    pub fn histogram(
        &mut self,
        labels: &[(&str, &str)],
        bounds: &[f64],
        counts: &[u64],
        sum: f64,
        native: Option<&NativeBuckets>,
    ) {
        debug_assert_eq!(self.kind, Kind::Histogram, "not a histogram family");
        debug_assert_eq!(counts.len(), bounds.len() + 1, "a count per bound, +Inf");
        let mut total = 0u64;
        let bucket = bounds.iter().zip(counts).map(|(bound, count)| {
            total = total.saturating_add(*count);
            classic_bucket(*bound, total)
        });
        let bucket = bucket.collect();
        let rest = counts.get(bounds.len()..).unwrap_or_default();
        let mut histogram = model::Histogram {
            sample_count: Some(rest.iter().fold(total, |t, c| t.saturating_add(*c))),
            sample_sum: Some(sum),
            bucket,
            ..Default::default()
        };
        if let Some(native) = native {
            let (spans, deltas) = native.spans_and_deltas();
            histogram.schema = Some(native.schema());
            histogram.zero_threshold = Some(native.zero_threshold());
            histogram.zero_count = Some(native.zero_count());
            histogram.positive_span = spans.iter().map(|s| span(s.offset, s.length)).collect();
            histogram.positive_delta = deltas;
            // client_golang's no-op span: without it, a native histogram
            // with a zero threshold of 0 and no observation would look
            // classic. (Ours has a threshold above 0, which 2.42 needs.)
            if native.zero_threshold() <= 0.0 && native.zero_count() == 0 && spans.is_empty() {
                histogram.positive_span.push(span(0, 0));
            }
        }
        self.message.metric.push(Metric {
            label: label_pairs(labels, None),
            histogram: Some(histogram),
            ..Default::default()
        });
    }

    /// True while no series was added: such a family is not written.
    pub fn is_empty(&self) -> bool {
        self.message.metric.is_empty()
    }

    /// The message so far.
    pub fn message(&self) -> &MetricFamily {
        &self.message
    }

    /// Writes the family, length-delimited; nothing if it has no series.
    pub fn write_delimited<W: Write>(&self, out: &mut W) -> io::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        out.write_all(&self.message.encode_length_delimited_to_vec())
    }

    /// A gauge's or a counter's series.
    fn sample(
        &mut self,
        kind: Kind,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
        value: f64,
    ) {
        debug_assert_eq!(self.kind, kind, "not a {} family", kind.as_str());
        let mut metric = Metric {
            label: label_pairs(labels, extra),
            ..Default::default()
        };
        match kind {
            Kind::Counter => metric.counter = Some(model::Counter { value: Some(value) }),
            _ => metric.gauge = Some(model::Gauge { value: Some(value) }),
        }
        self.message.metric.push(metric);
    }
}

/// Writes what the `prometheus` crate gathered (credprobe's own series) as
/// protobuf exposition, length-delimited; families without series are left
/// out.
pub fn write_registry_families<W: Write>(
    families: &[prometheus::proto::MetricFamily],
    out: &mut W,
) -> io::Result<()> {
    use prometheus::proto::MetricType as T;
    for family in families.iter().filter(|f| !f.get_metric().is_empty()) {
        let kind = match family.get_field_type() {
            T::COUNTER => MetricType::Counter,
            T::GAUGE => MetricType::Gauge,
            T::SUMMARY => MetricType::Summary,
            T::UNTYPED => MetricType::Untyped,
            T::HISTOGRAM => MetricType::Histogram,
        };
        let message = MetricFamily {
            name: Some(family.name().to_owned()),
            help: Some(family.help().to_owned()),
            r#type: Some(kind as i32),
            metric: family
                .get_metric()
                .iter()
                .map(|m| registry_metric(m, kind))
                .collect(),
        };
        out.write_all(&message.encode_length_delimited_to_vec())?;
    }
    Ok(())
}

/// One gathered series as our message, its value where `kind` wants it.
fn registry_metric(m: &prometheus::proto::Metric, kind: MetricType) -> Metric {
    let mut out = Metric {
        label: m
            .get_label()
            .iter()
            .map(|l| pair(l.name(), l.value()))
            .collect(),
        timestamp_ms: Some(m.timestamp_ms()).filter(|ms| *ms != 0),
        ..Default::default()
    };
    match kind {
        MetricType::Counter => {
            out.counter = Some(model::Counter {
                value: Some(m.get_counter().get_value()),
            });
        }
        MetricType::Gauge => {
            out.gauge = Some(model::Gauge {
                value: Some(m.get_gauge().get_value()),
            })
        }
        MetricType::Untyped => {
            out.untyped = Some(model::Untyped {
                value: Some(untyped_value(m)),
            })
        }
        MetricType::Summary => {
            let s = m.get_summary();
            let quantile = s.get_quantile().iter().map(|q| model::Quantile {
                quantile: Some(q.quantile()),
                value: Some(q.value()),
            });
            out.summary = Some(model::Summary {
                sample_count: Some(s.sample_count()),
                sample_sum: Some(s.sample_sum()),
                quantile: quantile.collect(),
            });
        }
        MetricType::Histogram | MetricType::GaugeHistogram => {
            let h = m.get_histogram();
            let bucket = h.get_bucket().iter();
            out.histogram = Some(model::Histogram {
                sample_count: Some(h.get_sample_count()),
                sample_sum: Some(h.get_sample_sum()),
                bucket: bucket
                    .map(|b| classic_bucket(b.upper_bound(), b.cumulative_count()))
                    .collect(),
                ..Default::default()
            });
        }
    }
    out
}

/// An untyped series' value (the crate marks the getter deprecated, as
/// it has no untyped metric of its own).
#[allow(deprecated)]
fn untyped_value(metric: &prometheus::proto::Metric) -> f64 {
    metric.get_untyped().get_value()
}

fn label_pairs(labels: &[(&str, &str)], extra: Option<(&str, &str)>) -> Vec<LabelPair> {
    labels
        .iter()
        .copied()
        .chain(extra)
        .map(|(name, value)| pair(name, value))
        .collect()
}

fn pair(name: &str, value: &str) -> LabelPair {
    LabelPair {
        name: Some(name.to_owned()),
        value: Some(value.to_owned()),
    }
}

fn classic_bucket(upper_bound: f64, cumulative_count: u64) -> Bucket {
    Bucket {
        cumulative_count: Some(cumulative_count),
        upper_bound: Some(upper_bound),
        cumulative_count_float: None,
    }
}

fn span(offset: i32, length: u32) -> BucketSpan {
    BucketSpan {
        offset: Some(offset),
        length: Some(length),
    }
}

#[cfg(test)]
mod tests;
