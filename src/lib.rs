//! credprobe proves, tenant by tenant, that OAuth2 client-credentials API
//! credentials still work, and exports what it saw as Prometheus metrics.
//!
//! # Layout
//!
//! Data flows one way, top to bottom:
//!
//! - [`cli`]: the command line (clap) and the dispatch of each subcommand.
//! - [`logging`]: tracing set-up, logfmt (default) or JSON lines.
//! - [`config`]: YAML files parsed into raw serde structs ([`config::raw`]),
//!   then validated into a ready-to-use [`config::Config`]
//!   ([`config::validate`]); secrets ([`config::secrets`]) and the Nexthink
//!   preset ([`config::nexthink`]) live beside them.
//! - [`probe`]: one shared request/measure/classify path ([`probe::http`]),
//!   the token request ([`probe::token`]), endpoint calls
//!   ([`probe::endpoint`]), the closed result classes
//!   ([`probe::classify`]), 429 back-off per host ([`probe::backoff`]) and
//!   certificate expiry ([`probe::tls`]).
//! - [`scheduler`]: one task per tenant, staggered, under a global cap on
//!   requests in flight; runs probe cycles and hands outcomes on.
//! - [`metrics`]: every Prometheus metric family with its HELP text
//!   ([`metrics::FAMILIES`]), compact per-tenant records of what was seen,
//!   and the text exposition written straight from them.
//! - [`status`]: the latest outcomes per tenant, for readiness and people.
//! - [`daemon`]: the long-running process: scheduler plus server, reloads
//!   (SIGHUP, `/-/reload`, `--config.watch`) until shutdown.
//! - [`shard`]: which tenants this replica probes (consistent hashing).
//! - [`signals`]: SIGHUP reloads, SIGTERM/SIGINT shut down (twice: at once).
//! - [`server`]: the HTTP server: `/metrics`, `/`, `/-/healthy`, `/-/ready`.
//! - [`report`]: the human report of `credprobe probe`.
//! - [`demo`]: `credprobe demo`, the simulator plus a daemon probing it.
//! - [`simulator`]: a simulated Nexthink-like API, the shared fake upstream of
//!   the demo, the tests and the benchmarks.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod logging;
pub mod metrics;
pub mod probe;
pub mod report;
pub mod scheduler;
pub mod server;
pub mod shard;
pub mod signals;
pub mod simulator;
pub mod status;
