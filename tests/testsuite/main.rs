//! credprobe's integration tests: one test binary (one link of the crate
//! instead of one per file), a module per area, and the helpers in one
//! place, [`support`].
//!
//! Run everything with `cargo test`; one area with
//! `cargo test --test testsuite -- reload::`; one test with its full path,
//! e.g. `cargo test --test testsuite -- reload::sigterm_lets_a_slow_probe_finish_and_exits_zero --exact`;
//! the names with `cargo test --test testsuite -- --list`.
//!
//! # Areas
//!
//! - [`check_config`]: `credprobe check-config` on real files, exit codes
//!   and every problem with its file, tenant and field.
//! - [`client_auth`]: `private_key_jwt` and `tls_client_auth` against the
//!   simulator, rotation, and no key in any output.
//! - [`daemon`]: the real daemon over time: schedules, Retry-After, token
//!   reuse, secret rotation, TLS expiry, lifecycle endpoints, no secret in
//!   any output, promtool on a scrape.
//! - [`entra_inventory`]: the Entra credential inventory against the
//!   simulator's Graph: matching, latest expiry, a 403, hourly readings.
//! - [`discovery`]: the token endpoint found from `issuer:` (every
//!   authority, RFC 8414, an explicit `token_url` winning, hourly reads)
//!   and `discovery_failed` with nothing sent.
//! - [`dashboards`]: the Grafana dashboards are import-ready and query only
//!   what credprobe exports.
//! - [`docs`]: the documents cannot go stale: the metric table is the
//!   exported families, the demo's tenants are what the demo runs, the
//!   flags are what `--help` lists, every query parses, every relative
//!   link leads somewhere.
//! - [`examples`]: the example configurations under `examples/` are what
//!   README.md and docs/ show, and `check-config` accepts them.
//! - [`exposition`]: the hand-written exposition passes `promtool check
//!   metrics` where the demo never goes.
//! - [`fault_matrix`]: forty tenants, each meeting one upstream fault, each
//!   classified as its fault says.
//! - [`fleet_shards`]: a shard reads the secret files of its own tenants
//!   only.
//! - [`loadgen_expo`]: the exposition reading and statistics of `bench/run`
//!   (`benches/loadgen/expo.rs`, included by path).
//! - [`loadgen_run`]: the benchmark driver's knobs, generated
//!   configurations, figures and report (`benches/loadgen/run/`, its pure
//!   modules included by path).
//! - [`next_credential`]: the next credential of a rotation
//!   (`next_client_secret_file`) probed beside the current one, apart
//!   from it.
//! - [`oidc_provider`]: against a real OAuth 2.0 server
//!   (panva/node-oidc-provider, from `tests/oidc-provider/`).
//! - [`phase_timing`]: where a request's time goes (DNS, connect, TLS,
//!   processing, transfer).
//! - [`probe_now`]: `POST /api/v1/tenants/{name}/probe` runs the cycle at
//!   once, spaced per tenant, behind basic auth, never from another site.
//! - [`prometheus_e2e`]: `credprobe demo` scraped by two real Prometheus
//!   servers with the shipped rules; every dashboard query returns data.
//! - [`properties`]: property tests of the parsers of outside input.
//! - [`redirects`]: the redirect policy, end to end.
//! - [`rejections_and_scopes`]: why a credential was rejected, which scopes
//!   it holds.
//! - [`reload`]: SIGHUP, `POST /-/reload`, `--config.watch`, graceful
//!   shutdown.
//! - [`result_classes`]: every result class produced by a real upstream.
//! - [`scale`]: shards and gzip-compressed scrapes.
//! - [`server_limits`]: slowloris, connection floods and slow readers.
//! - [`status_page`]: the status page, the tenant view and their JSON; a
//!   real browser rendering the demo.
//! - [`token_requests`]: what goes over the wire; `credprobe probe`.
//! - [`web_config`]: `--web.config.file` on the real binary.
//! - [`web_config_e2e`]: a real Prometheus scraping over HTTPS with a
//!   client certificate and basic auth.
//! - [`web_config_examples`]: the documented web configurations stay valid.
//!
//! # One process
//!
//! `cargo test` runs the tests of every area in this one process, on
//! several threads at once, so no test changes what the process shares:
//! environment variables and the working directory are set on the child
//! processes' `Command`s only, signals go to children (`kill`), never to
//! this process, and the one process-wide setting, rustls' default crypto
//! provider, is installed by [`support::install_crypto_provider`] (the
//! same provider every time; the library does the same).
//!
//! One file cannot share the process: `tests/metrics_memory.rs` counts
//! every heap allocation of its process with a `#[global_allocator]`, which
//! tests running beside it would distort; it stays a test binary of its
//! own.
//!
//! Data the tests read stays beside this folder: `tests/keys/` (example
//! keys, included as `../keys/...`) and `tests/oidc-provider/` (the node
//! server); paths from `CARGO_MANIFEST_DIR` start at the crate root.

mod support;

mod check_config;
mod client_auth;
mod daemon;
mod dashboards;
mod discovery;
mod docs;
mod entra_inventory;
mod examples;
mod exposition;
mod fault_matrix;
mod fleet_shards;
mod loadgen_expo;
mod loadgen_run;
mod next_credential;
mod oidc_provider;
mod phase_timing;
mod probe_now;
mod prometheus_e2e;
mod properties;
mod redirects;
mod rejections_and_scopes;
mod reload;
mod result_classes;
mod scale;
mod server_limits;
mod status_page;
mod token_requests;
mod token_verification;
mod web_config;
mod web_config_e2e;
mod web_config_examples;
