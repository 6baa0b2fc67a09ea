//! credprobe's own telemetry, through the `prometheus` crate's registry:
//! the process (CPU, memory, file descriptors, start time), the build,
//! configuration loads, shards, schedule lateness and the cost of
//! scrapes. A handful of series, so a general registry costs nothing
//! here; it is written after the tenant series in the same response.

use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use super::families::{self as f, Family};
use crate::shard::Shard;
use crate::unix_time::unix_seconds;
use crate::version::{REVISION, VERSION};

/// Bucket bounds of credprobe_schedule_lateness_seconds.
const LATENESS_BUCKETS: [f64; 8] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// Bucket bounds of credprobe_scrape_duration_seconds: from a small
/// fleet's few milliseconds to a large fleet's seconds.
const SCRAPE_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// How a response body was encoded: a label of the scrape families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// The text format as it is.
    Plain,
    /// The text format gzip-compressed (what Prometheus asks for).
    Gzip,
    /// The protobuf format (native histograms), as it is.
    Protobuf,
    /// The protobuf format gzip-compressed (what Prometheus asks for with
    /// native histograms on).
    ProtobufGzip,
}

impl Encoding {
    /// Every encoding, in index order.
    pub const ALL: [Encoding; 4] = [
        Encoding::Plain,
        Encoding::Gzip,
        Encoding::Protobuf,
        Encoding::ProtobufGzip,
    ];

    /// The encoding of a response in `protobuf` or text, gzipped or not.
    pub fn of(protobuf: bool, gzip: bool) -> Encoding {
        match (protobuf, gzip) {
            (false, false) => Encoding::Plain,
            (false, true) => Encoding::Gzip,
            (true, false) => Encoding::Protobuf,
            (true, true) => Encoding::ProtobufGzip,
        }
    }

    /// The `encoding` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Plain => "plain",
            Encoding::Gzip => "gzip",
            Encoding::Protobuf => "protobuf",
            Encoding::ProtobufGzip => "protobuf_gzip",
        }
    }

    /// True for the protobuf format.
    pub fn is_protobuf(self) -> bool {
        matches!(self, Encoding::Protobuf | Encoding::ProtobufGzip)
    }

    /// True when the body is gzip-compressed.
    pub fn is_gzip(self) -> bool {
        matches!(self, Encoding::Gzip | Encoding::ProtobufGzip)
    }
}

/// The process-wide series and the registry that writes them.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    lateness: Histogram,
    tenants: IntGauge,
    shard_index: IntGauge,
    shards: IntGauge,
    reload_successful: IntGauge,
    reload_success_time: Gauge,
    scrape_duration: HistogramVec,
    scrape_bytes: IntGaugeVec,
}

fn opts(family: &Family) -> Opts {
    Opts::new(family.name, family.help)
}

fn histogram_opts(family: &Family, buckets: &[f64]) -> HistogramOpts {
    HistogramOpts::new(family.name, family.help).buckets(buckets.to_vec())
}

impl Telemetry {
    /// Registers every family; the process collector where the platform
    /// has one (Linux).
    pub fn new() -> Telemetry {
        Telemetry::build().expect("the telemetry families are valid and registered once")
    }

    fn build() -> prometheus::Result<Telemetry> {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let build = IntGaugeVec::new(opts(&f::BUILD_INFO), &["version", "revision"])?;
        build.with_label_values(&[VERSION, REVISION]).set(1);
        registry.register(Box::new(build))?;
        let telemetry = Telemetry {
            lateness: Histogram::with_opts(histogram_opts(&f::LATENESS, &LATENESS_BUCKETS))?,
            tenants: IntGauge::with_opts(opts(&f::TENANTS))?,
            shard_index: IntGauge::with_opts(opts(&f::SHARD_INDEX))?,
            shards: IntGauge::with_opts(opts(&f::SHARDS))?,
            reload_successful: IntGauge::with_opts(opts(&f::RELOAD_SUCCESSFUL))?,
            reload_success_time: Gauge::with_opts(opts(&f::RELOAD_SUCCESS_TIME))?,
            scrape_duration: HistogramVec::new(
                histogram_opts(&f::SCRAPE_DURATION, &SCRAPE_BUCKETS),
                &["encoding"],
            )?,
            scrape_bytes: IntGaugeVec::new(opts(&f::SCRAPE_BYTES), &["encoding"])?,
            registry,
        };
        telemetry.shards.set(1);
        // Every encoding's series exist from the start, like every other
        // series with a closed set of label values.
        for encoding in Encoding::ALL {
            telemetry
                .scrape_duration
                .with_label_values(&[encoding.as_str()]);
            telemetry
                .scrape_bytes
                .with_label_values(&[encoding.as_str()]);
        }
        let r = &telemetry.registry;
        r.register(Box::new(telemetry.lateness.clone()))?;
        r.register(Box::new(telemetry.tenants.clone()))?;
        r.register(Box::new(telemetry.shard_index.clone()))?;
        r.register(Box::new(telemetry.shards.clone()))?;
        r.register(Box::new(telemetry.reload_successful.clone()))?;
        r.register(Box::new(telemetry.reload_success_time.clone()))?;
        r.register(Box::new(telemetry.scrape_duration.clone()))?;
        r.register(Box::new(telemetry.scrape_bytes.clone()))?;
        Ok(telemetry)
    }

    /// Records how late a cycle started against its schedule.
    pub fn record_lateness(&self, late: Duration) {
        self.lateness.observe(late.as_secs_f64());
    }

    /// Records how many tenants this process probes.
    pub fn set_tenants(&self, count: usize) {
        self.tenants.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Records which shard this process is.
    pub fn set_shard(&self, shard: Shard) {
        self.shard_index.set(i64::from(shard.index));
        self.shards.set(i64::from(shard.count));
    }

    /// Records the result of loading a configuration; a failed load keeps
    /// the time of the last good one.
    pub fn config_loaded(&self, ok: bool) {
        self.reload_successful.set(i64::from(ok));
        if ok {
            self.reload_success_time
                .set(unix_seconds(SystemTime::now()));
        }
    }

    /// Records one rendered `/metrics` response.
    pub fn observe_scrape(&self, encoding: Encoding, took: Duration, bytes: usize) {
        let label = [encoding.as_str()];
        self.scrape_duration
            .with_label_values(&label)
            .observe(took.as_secs_f64());
        self.scrape_bytes
            .with_label_values(&label)
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Writes every telemetry family in the text format.
    pub fn write<W: Write>(&self, out: &mut W) -> io::Result<()> {
        TextEncoder::new()
            .encode(&self.registry.gather(), out)
            .map_err(io::Error::other)
    }

    /// Writes every telemetry family in the protobuf format.
    pub fn write_protobuf<W: Write>(&self, out: &mut W) -> io::Result<()> {
        super::protobuf::write_registry_families(&self.registry.gather(), out)
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}
