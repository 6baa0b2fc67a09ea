//! Prometheus metrics, split by job:
//!
//! - [`families`]: every family's name, type and HELP text.
//! - [`text`]: the text format writer (escaping, numbers, headers).
//! - [`tenant_series`]: the per-tenant series, written from the tenant
//!   records of [`crate::fleet`].
//! - [`telemetry`]: credprobe's own series (process, build, reloads,
//!   lateness, scrapes) through the `prometheus` crate.
//! - [`exposition`]: one `/metrics` response of both, plain or gzip,
//!   shared by scrapes that arrive together.

pub mod exposition;
pub mod families;
pub mod telemetry;
pub mod tenant_series;
pub mod text;

pub use exposition::Exposition;
pub use families::{FAMILIES, Family, Kind};
pub use telemetry::{Encoding, Telemetry};

#[cfg(test)]
mod tests;
