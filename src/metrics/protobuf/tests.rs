//! Tests of the protobuf exposition: decoding what is encoded, byte
//! fixtures checked by hand against the wire format, and the Accept
//! headers Prometheus sends.

use super::*;
use crate::fleet::native::ZERO_THRESHOLD;
use model::Histogram;

static GAUGE: Family = Family {
    name: "a",
    help: "h",
    kind: Kind::Gauge,
};
static COUNTER: Family = Family {
    name: "c_total",
    help: "c",
    kind: Kind::Counter,
};
static LATENCY: Family = Family {
    name: "l_seconds",
    help: "l",
    kind: Kind::Histogram,
};

fn decode_all(mut bytes: &[u8]) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    while !bytes.is_empty() {
        families.push(MetricFamily::decode_length_delimited(&mut bytes).expect("decodes"));
    }
    families
}

fn written(builder: &FamilyBuilder) -> Vec<u8> {
    let mut out = Vec::new();
    builder.write_delimited(&mut out).expect("writes to a Vec");
    out
}

fn only_histogram(builder: &FamilyBuilder) -> Histogram {
    let mut families = decode_all(&written(builder));
    assert_eq!(families.len(), 1);
    let family = families.remove(0);
    assert_eq!(family.r#type, Some(MetricType::Histogram as i32));
    family.metric[0].histogram.clone().expect("a histogram")
}

/// Prometheus 2.42's textparse.isNativeHistogram.
fn native_for_2_42(h: &Histogram) -> bool {
    !h.negative_delta.is_empty()
        || !h.positive_delta.is_empty()
        || h.zero_count.unwrap_or(0) > 0
        || h.zero_threshold.unwrap_or(0.0) > 0.0
}

#[test]
fn a_gauge_family_is_encoded_byte_for_byte() {
    let mut builder = FamilyBuilder::new(&GAUGE);
    builder.gauge(&[("t", "x")], 1.0);
    #[rustfmt::skip]
    let expected = [
        0x1d, // 29 bytes follow
        0x0a, 0x01, b'a', // 1: name
        0x12, 0x01, b'h', // 2: help
        0x18, 0x01, // 3: type GAUGE
        0x22, 0x13, // 4: metric, 19 bytes
        0x0a, 0x06, 0x0a, 0x01, b't', 0x12, 0x01, b'x', // 1: label t="x"
        0x12, 0x09, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // 2: gauge 1.0
    ];
    assert_eq!(written(&builder), expected);
}

#[test]
fn native_fields_are_zigzag_and_unpacked_as_go_sends_them() {
    let h = Histogram {
        schema: Some(3),
        positive_span: vec![span(-79, 1)],
        positive_delta: vec![1, -1],
        ..Default::default()
    };
    let expected = [
        0x28, 0x06, 0x62, 0x05, 0x08, 0x9d, 0x01, 0x10, 0x01, 0x68, 0x02, 0x68, 0x01,
    ];
    assert_eq!(h.encode_to_vec(), expected);
}

#[test]
fn gauges_and_counters_decode_as_written() {
    let mut builder = FamilyBuilder::new(&COUNTER);
    builder.counter(&[("tenant", "a")], 3.0);
    builder.counter_with(&[("tenant", "b")], ("result", "ok"), 4.5);
    let families = decode_all(&written(&builder));
    assert_eq!(families, vec![builder.message().clone()]);
    let family = &families[0];
    assert_eq!(
        (family.name.as_deref(), family.help.as_deref()),
        (Some("c_total"), Some("c"))
    );
    assert_eq!(family.r#type, Some(MetricType::Counter as i32));
    assert_eq!(
        family.metric[1].label,
        vec![pair("tenant", "b"), pair("result", "ok")]
    );
    assert_eq!(
        family.metric[1].counter,
        Some(model::Counter { value: Some(4.5) })
    );
    assert_eq!(
        (
            family.metric[1].gauge.as_ref(),
            family.metric[1].timestamp_ms
        ),
        (None, None)
    );
    let mut builder = FamilyBuilder::new(&GAUGE);
    builder.gauge_with(&[], ("k", "v"), -2.0);
    let gauge = &decode_all(&written(&builder))[0].metric[0];
    assert_eq!(
        (gauge.label.clone(), gauge.gauge.clone()),
        (
            vec![pair("k", "v")],
            Some(model::Gauge { value: Some(-2.0) })
        )
    );
}

#[test]
fn a_histogram_carries_classic_and_native_buckets() {
    let bounds = [0.005, 0.5, 5.0];
    let mut native = NativeBuckets::new();
    for v in [0.0, 0.001, 0.1, 0.1, 2.5, 10.0] {
        native.observe(v);
    }
    let mut builder = FamilyBuilder::new(&LATENCY);
    builder.histogram(
        &[("tenant", "a")],
        &bounds,
        &[2, 2, 1, 1],
        12.701,
        Some(&native),
    );
    let h = only_histogram(&builder);
    assert_eq!((h.sample_count, h.sample_sum), (Some(6), Some(12.701)));
    let classic: Vec<_> = h
        .bucket
        .iter()
        .map(|b| (b.upper_bound, b.cumulative_count))
        .collect();
    assert_eq!(
        classic,
        vec![
            (Some(0.005), Some(2)),
            (Some(0.5), Some(4)),
            (Some(5.0), Some(5))
        ]
    );
    assert_eq!(
        (h.schema, h.zero_threshold, h.zero_count),
        (Some(3), Some(ZERO_THRESHOLD), Some(1))
    );
    // Indices -79 (0.001), -26 (0.1 twice), 11 (2.5), 27 (10), gaps > 2.
    let spans = vec![span(-79, 1), span(52, 1), span(36, 1), span(15, 1)];
    assert_eq!(
        (h.positive_span, h.positive_delta),
        (spans, vec![1, 1, -1, 0])
    );
    assert!(h.negative_span.is_empty() && h.negative_delta.is_empty());
    assert!(h.sample_count_float.is_none() && h.zero_count_float.is_none());
    assert!(native_for_2_42(&only_histogram(&builder)));
}

#[test]
fn an_empty_native_histogram_is_still_native() {
    let mut builder = FamilyBuilder::new(&LATENCY);
    builder.histogram(&[], &[0.1], &[0, 0], 0.0, Some(&NativeBuckets::new()));
    let h = only_histogram(&builder);
    assert_eq!(
        (h.schema, h.zero_threshold, h.zero_count),
        (Some(3), Some(ZERO_THRESHOLD), Some(0))
    );
    assert!(
        h.positive_span.is_empty(),
        "no no-op span: the threshold is not 0"
    );
    assert!(native_for_2_42(&h));
    let mut classic = FamilyBuilder::new(&LATENCY);
    classic.histogram(&[], &[0.1], &[1, 1], 2.0, None);
    let h = only_histogram(&classic);
    assert_eq!(
        (h.schema, h.zero_threshold, h.sample_count),
        (None, None, Some(2))
    );
    assert!(!native_for_2_42(&h));
}

#[test]
fn an_empty_family_writes_nothing() {
    let builder = FamilyBuilder::new(&GAUGE);
    assert!(builder.is_empty());
    assert!(written(&builder).is_empty());
}

#[test]
fn registry_families_are_converted() {
    use prometheus::{Gauge, HistogramOpts, IntCounterVec, Opts, Registry};
    let registry = Registry::new();
    let gauge = Gauge::new("g", "gauge").expect("valid");
    let counter = IntCounterVec::new(Opts::new("c_total", "counter"), &["k"]).expect("valid");
    let opts = HistogramOpts::new("h_seconds", "histogram").buckets(vec![0.1, 1.0]);
    let histogram = prometheus::Histogram::with_opts(opts).expect("valid");
    registry
        .register(Box::new(gauge.clone()))
        .expect("registers");
    registry
        .register(Box::new(counter.clone()))
        .expect("registers");
    registry
        .register(Box::new(histogram.clone()))
        .expect("registers");
    gauge.set(2.5);
    counter.with_label_values(&["v"]).inc_by(3);
    [0.05, 0.5, 5.0].iter().for_each(|v| histogram.observe(*v));
    let mut out = Vec::new();
    write_registry_families(&registry.gather(), &mut out).expect("writes to a Vec");
    let families = decode_all(&out);
    let names: Vec<_> = families
        .iter()
        .map(|f| f.name.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(names, ["c_total", "g", "h_seconds"]);
    let types: Vec<_> = families.iter().map(|f| f.r#type).collect();
    let expected = [
        MetricType::Counter,
        MetricType::Gauge,
        MetricType::Histogram,
    ];
    assert_eq!(types, expected.map(|t| Some(t as i32)));
    assert_eq!(families[0].metric[0].label, vec![pair("k", "v")]);
    assert_eq!(
        families[0].metric[0].counter,
        Some(model::Counter { value: Some(3.0) })
    );
    assert_eq!(
        families[1].metric[0].gauge,
        Some(model::Gauge { value: Some(2.5) })
    );
    let h = families[2].metric[0]
        .histogram
        .clone()
        .expect("a histogram");
    assert_eq!(
        (h.sample_count, h.sample_sum, h.schema),
        (Some(3), Some(5.55), None)
    );
    let classic: Vec<_> = h
        .bucket
        .iter()
        .map(|b| (b.upper_bound, b.cumulative_count))
        .collect();
    assert_eq!(classic, vec![(Some(0.1), Some(1)), (Some(1.0), Some(2))]);
}

#[test]
fn accept_headers_of_prometheus_2_42() {
    let native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let classic = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let weighted = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    assert!(accepts_protobuf(native));
    assert!(accepts_protobuf(weighted));
    assert!(!accepts_protobuf(classic));
    assert!(accepts_protobuf(CONTENT_TYPE));
}

#[test]
fn accept_parameters_and_weights() {
    let pb = "application/vnd.google.protobuf";
    let with = |params: &str| accepts_protobuf(&format!("{pb}{params}"));
    assert!(with(
        " ; Proto = io.prometheus.client.MetricFamily ; ENCODING=\"delimited\""
    ));
    assert!(with(
        ";encoding=delimited;proto=io.prometheus.client.MetricFamily;q=0.5, text/plain;q=0.5"
    ));
    assert!(!with(
        ";proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0"
    ));
    assert!(!with(
        ";proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.4, text/plain;q=0.5"
    ));
    assert!(!with(
        ";proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.4,*/*"
    ));
    assert!(!with(
        ";proto=io.prometheus.client.MetricFamily;encoding=text"
    ));
    assert!(!with(
        ";proto=io.prometheus.client.Metric;encoding=delimited"
    ));
    assert!(!with(";proto=io.prometheus.client.MetricFamily"));
    assert!(!with(
        ";proto=io.prometheus.client.MetricFamily;encoding=delimited;q=x"
    ));
    assert!(!accepts_protobuf(""));
    assert!(!accepts_protobuf("text/plain"));
}
