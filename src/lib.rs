//! credprobe proves, tenant by tenant, that OAuth2 client-credentials API
//! credentials still work, and exports what it saw as Prometheus metrics.
//!
//! # Layout
//!
//! Data flows one way, top to bottom:
//!
//! - [`cli`]: the command line (clap) and the dispatch of each subcommand.
//! - [`logging`]: tracing set-up, logfmt (default) or JSON lines.
//! - [`memory`]: how the process hands memory back (two malloc arenas,
//!   a trim after a large render).
//! - [`config`]: YAML files parsed into raw serde structs ([`config::raw`]),
//!   then validated into a ready-to-use [`config::Config`]
//!   ([`config::validate`]), every problem of every configuration file the
//!   daemon reads (the web configuration's too) collected by one
//!   [`config::Problems`], each with its line ([`config::locate`]); secrets ([`config::secrets`]), private keys,
//!   client certificates and CA bundles ([`config::keys`]), what each
//!   `client_auth` method authenticates with and the refresh of its files
//!   once per cycle ([`config::client_auth`]), the Nexthink and Entra ID
//!   presets ([`config::nexthink`], [`config::entra`]) and where token
//!   requests go, configured or discovered from `issuer:`
//!   ([`config::discovery`]) live beside them.
//! - [`probe`]: one shared request/measure/classify path ([`probe::http`]),
//!   the token request ([`probe::token`]; its answer read field by field
//!   by [`probe::token_answer`] and [`probe::json_fields`]) at its configured or discovered
//!   endpoint ([`probe::discovery`]) with its credential
//!   ([`probe::client_auth`], signed `private_key_jwt` assertions in
//!   [`probe::assertion`]), endpoint calls
//!   ([`probe::endpoint`]), the closed result classes
//!   ([`probe::classify`]) and the one outcome type of every step
//!   ([`probe::outcome`]), 429 back-off per credential and per API origin
//!   ([`probe::backoff`]), the clients' TLS configuration and the hooks
//!   that time DNS, connect and TLS ([`probe::connect`]), each request's
//!   phases ([`probe::phases`]) and certificate expiry ([`probe::tls`]);
//!   token verification ([`probe::verify`], keys and discovery documents
//!   fetched by [`probe::jwks`]) and the Entra credential inventory
//!   ([`probe::inventory`]).
//! - [`daemon::scheduler`]: one task per tenant, staggered, under a global
//!   cap on requests in flight; each cycle's outcomes go into the tenant's
//!   record in one write, and to the log.
//! - [`fleet`]: one record per tenant (latest results, counters,
//!   histograms, recent history), created and removed with the tenant,
//!   written only by its task.
//! - [`views`]: read-only views of the records: the state rule, the tenant
//!   views of the pages, the JSON and the `probe` report, the log lines.
//! - [`metrics`]: the families with their HELP text
//!   ([`metrics::FAMILIES`]), the text writer, the per-tenant series
//!   written from the records, credprobe's own telemetry (the
//!   `prometheus` crate), and `/metrics` responses shared by scrapes that
//!   arrive together.
//! - [`daemon`]: the long-running process and its lifecycle, in one
//!   folder: the [`daemon::scheduler`] plus the server, reloads
//!   (SIGHUP, `/-/reload`, `--config.watch` polling the files in
//!   [`daemon::config_watch`]) and signals ([`daemon::signals`]: SIGHUP
//!   reloads, SIGTERM/SIGINT shut down, twice: at once) until shutdown.
//! - [`reload`]: a reload's request, outcome and the failed reload kept
//!   until one succeeds: the messages between the daemon and the server,
//!   below both.
//! - [`shard`]: which tenants this replica probes (consistent hashing).
//! - [`web_config`]: `--web.config.file` in the exporter-toolkit format,
//!   raw serde structs then one validation into a ready
//!   [`web_config::WebConfig`]: the rustls server configuration
//!   ([`web_config::tls`]) with its certificate, refreshed from its files by
//!   a task of the server ([`web_config::server_certificate`]), and client
//!   certificate policies ([`web_config::client_certs`]), bcrypt users
//!   ([`web_config::basic_auth`]), response headers.
//! - [`server`]: the HTTP server: `/metrics`, the status pages and their
//!   JSON ([`server::pages`], maud templates), `/-/healthy`, `/-/ready`,
//!   `/-/reload`; the accept loop with its limits and TLS
//!   ([`server::connections`]) beside the task refreshing its
//!   certificate; authentication and headers on every path
//!   ([`server::access`]).
//! - [`report`]: the human report of `credprobe probe`.
//! - [`unix_time`], [`version`]: timestamps as exported, and the build.
//! - [`bounded_file`]: size-bounded reads of secret, key, certificate and
//!   web configuration files, and the stamp that tells one changed
//!   ([`bounded_file::FileStamp`]).
//! - [`watched_file`]: every file that can change under the running
//!   daemon (client secrets, keys and certificates, the web server's
//!   certificate) as one type: refreshed once per period off the runtime
//!   (the tenants' files by one batch task, [`watched_file::refresher`]),
//!   its last good version read without I/O, a broken version kept out
//!   and reported once.
//! - [`demo`]: `credprobe demo`, the simulator plus a daemon probing it
//!   (cargo feature `demo`, on by default).
//!
//! The simulated API is not a module but a crate of the workspace,
//! `credprobe-simulator` (`crates/simulator/`): a simulated Nexthink-like
//! and Entra-like API with a throwaway PKI, the shared fake upstream of the
//! demo, `credprobe simulate`, the tests and the benchmarks. The daemon
//! links it only with the `demo` feature, for `credprobe demo` and
//! `credprobe simulate`; built without it, neither the simulator nor its
//! certificate generator (rcgen) is in the daemon's tree.

pub mod bounded_file;
pub mod cli;
pub mod config;
pub mod daemon;
#[cfg(feature = "demo")]
pub mod demo;
pub mod fleet;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod probe;
pub mod reload;
pub mod report;
pub mod server;
pub mod shard;
pub mod unix_time;
pub mod version;
pub mod views;
pub mod watched_file;
pub mod web_config;
