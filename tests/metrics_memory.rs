//! The tenant records stay compact: what a tenant's ~50 series, and then
//! its full history, cost on the heap is bounded. Counted exactly by a global allocator wrapper, so the
//! figure does not depend on timing or on what else the machine does (RSS
//! and speed are measured by `make bench`, not here).
//!
//! The bound guards the design: a general-purpose registry that keeps label
//! names and values with every series costs tens of KiB per tenant, which
//! at 5,000 tenants broke the 300 MiB budget.
//!
//! A test binary of its own, not an area of `tests/testsuite/`: the
//! `#[global_allocator]` below counts the allocations of every thread of
//! the process, and the test reads the difference between two moments. In
//! the suite's binary, tests of other areas run on other threads meanwhile
//! (starting daemons, parsing scrapes), and their allocations and frees
//! would land in that difference. Counting per thread instead would miss
//! what the code under test hands to another thread, and would put the
//! counting allocator under every other test; one more link is cheaper than
//! either.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, SystemTime};

use credprobe::config::validate::{LoadOptions, load_str};
use credprobe::fleet::{Fleet, HISTORY};
use credprobe::metrics::{Encoding, Exposition, Telemetry};
use credprobe::probe::tls::CertificateSeen;
use credprobe::probe::{CycleReport, EndpointResult, Grant, Outcome, TokenResult};

/// Bytes allocated and not yet freed, by every thread of this test binary.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call is passed to the system allocator unchanged; only the
// live byte count is kept on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes per tenant that a record may use for a tenant with two
/// endpoints after one cycle: every series present (token, both endpoints,
/// a TLS host), the default 7 latency buckets, and the history's buffer,
/// reserved at once for [`HISTORY`] records of 72 bytes (3,600 bytes).
/// Measured: 5,300. Before the records were merged, the metrics store alone
/// took 1,292 and the status board about 9 KiB more once its history was
/// full; the registry-based store took 30,029 for the series alone.
const BOUND_PER_TENANT: isize = 6 * 1024;

/// The same with the history full of successes (no record allocates):
/// the buffer was reserved whole, so nothing grows.
const BOUND_PER_TENANT_FULL: isize = 6 * 1024;

const TENANTS: usize = 500;

fn fleet() -> String {
    let mut yaml = String::from("tenants:\n");
    for i in 0..TENANTS {
        yaml.push_str(&format!(
            "  - {{name: tenant-{i:05}, labels: {{customer: c{i}}}, base_url: \"http://127.0.0.1:9\", \
             token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, \
             credential_expires: \"2030-01-01\", \
             endpoints: [{{name: workflows, path: /a}}, {{name: remote_actions, path: /b}}]}}\n"
        ));
    }
    yaml
}

#[test]
fn a_tenants_record_stays_compact() {
    let config = load_str(
        &fleet(),
        Path::new("fleet.yml"),
        &LoadOptions {
            warn_inline_secrets: false,
            ..LoadOptions::default()
        },
    )
    .expect("valid fleet");
    let fleet = Fleet::new(&config.histogram_buckets);
    let exposition = Exposition::new(Arc::clone(&fleet), Arc::new(Telemetry::new()));
    let certificate = || {
        Some(CertificateSeen {
            host: "login.example.test".into(),
            not_after: 1_900_000_000,
        })
    };
    let report = |endpoints: usize| CycleReport {
        token: Some(Outcome {
            result: TokenResult::Success,
            latency: Some(Duration::from_millis(120)),
            status: Some(200),
            detail: None,
            certificate: certificate(),
            phases: None,
        }),
        grant: Some(Grant {
            lifetime: Some(Duration::from_secs(900)),
            expires_at: Some(SystemTime::now() + Duration::from_secs(900)),
            scopes: None,
        }),
        rejection: None,
        verification: None,
        next_credential: None,
        endpoints: (0..endpoints)
            .map(|i| {
                (
                    i,
                    Outcome {
                        result: EndpointResult::Success,
                        latency: Some(Duration::from_millis(80)),
                        status: Some(200),
                        detail: None,
                        certificate: certificate(),
                        phases: None,
                    },
                )
            })
            .collect(),
    };

    let before = LIVE.load(Ordering::Relaxed);
    let mut records = Vec::new();
    for tenant in &config.tenants {
        let record = fleet.add(tenant);
        record.record_cycle(&report(tenant.endpoints.len()));
        records.push(record);
    }
    let text = exposition.render(Encoding::Plain).expect("render");
    let series = text
        .split(|b| *b == b'\n')
        .filter(|l| l.first().is_some_and(|b| *b != b'#'))
        .count();
    drop(text);
    let per_tenant = (LIVE.load(Ordering::Relaxed) - before) / TENANTS as isize;

    // Fill every history: each cycle adds three records.
    for record in &records {
        for _ in 0..HISTORY / 3 + 1 {
            record.record_cycle(&report(2));
        }
    }
    let full = (LIVE.load(Ordering::Relaxed) - before) / TENANTS as isize;

    println!(
        "{TENANTS} tenants, {series} series: {per_tenant} heap bytes per tenant after one cycle, \
         {full} with the history full"
    );
    // The lean contract: 47 series for a token request and two endpoints
    // (credprobe_credential_files_ok among them;
    // tests/testsuite/prometheus_e2e.rs proves it against Prometheus), plus
    // the credential expiry and one TLS host of this fleet: 49 per tenant,
    // and the process's own few dozen.
    assert!(
        (TENANTS * 49..TENANTS * 49 + 200).contains(&series),
        "49 series per tenant and the telemetry: {series} for {TENANTS} tenants"
    );
    assert!(
        per_tenant <= BOUND_PER_TENANT,
        "a record holds {per_tenant} heap bytes per tenant, over the bound of {BOUND_PER_TENANT}"
    );
    assert!(
        full <= BOUND_PER_TENANT_FULL,
        "a record with its history full holds {full} heap bytes per tenant, over the bound of {BOUND_PER_TENANT_FULL}"
    );
}
