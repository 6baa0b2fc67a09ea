//! Prometheus metrics, split by job:
//!
//! - [`families`]: every family's name, type and HELP text.
//! - [`text`]: the text format writer (escaping, numbers, headers).
//! - [`protobuf`]: the protobuf format (`io.prometheus.client`, delimited)
//!   with native histograms, for scrapers that ask for it.
//! - [`samples`]: one family's samples, whatever the format: the trait
//!   the tenant series are written to, with the text and protobuf sides.
//! - [`tenant_series`]: the per-tenant series, written from the tenant
//!   records of [`crate::fleet`].
//! - [`telemetry`]: credprobe's own series (process, build, reloads,
//!   lateness, scrapes) through the `prometheus` crate.
//! - [`exposition`]: one `/metrics` response of both, plain or gzip,
//!   shared by scrapes that arrive together.

pub mod exposition;
pub mod families;
pub mod protobuf;
pub mod samples;
pub mod telemetry;
pub mod tenant_series;
pub mod text;

pub use exposition::Exposition;
pub use families::{FAMILIES, Family, Kind};
pub use telemetry::{Encoding, Telemetry};

#[cfg(test)]
mod tests;
