//! The metrics store stays compact: what a tenant's ~100 series cost on the
//! heap is bounded. Counted exactly by a global allocator wrapper, so the
//! figure does not depend on timing or on what else the machine does (RSS
//! and speed are measured by `make bench`, not here).
//!
//! The bound guards the design: a general-purpose registry that keeps label
//! names and values with every series costs tens of KiB per tenant, which
//! at 5,000 tenants broke the 300 MiB budget.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, SystemTime};

use credprobe::config::validate::{LoadOptions, load_str};
use credprobe::metrics::Metrics;
use credprobe::probe::tls::CertificateSeen;
use credprobe::probe::{EndpointOutcome, EndpointResult, IssuedToken, TokenOutcome, TokenResult};

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

/// Heap bytes per tenant that the store may use for a tenant with two
/// endpoints, every series present (token, both endpoints, a TLS host) and
/// the default 12 latency buckets. Measured: 1,292 bytes.
const BOUND_PER_TENANT: isize = 3 * 1024;

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
fn a_tenants_series_cost_about_a_kibibyte_of_heap() {
    let config = load_str(
        &fleet(),
        Path::new("fleet.yml"),
        &LoadOptions {
            warn_inline_secrets: false,
        },
    )
    .expect("valid fleet");
    let metrics = Metrics::new(&config.histogram_buckets);
    let certificate = || {
        Some(CertificateSeen {
            host: "login.example.test".into(),
            not_after: 1_900_000_000,
        })
    };

    let before = LIVE.load(Ordering::Relaxed);
    metrics.set_tenants(&config.tenants);
    for tenant in &config.tenants {
        metrics.add_tenant(tenant);
        let token = TokenOutcome {
            result: TokenResult::Success,
            latency: Duration::from_millis(120),
            status: Some(200),
            detail: None,
            token: Some(IssuedToken {
                access_token: "not-a-real-token".to_owned().into(),
                obtained_at: SystemTime::now(),
                lifetime: Some(Duration::from_secs(900)),
                expires_at: Some(SystemTime::now() + Duration::from_secs(900)),
            }),
            certificate: certificate(),
        };
        metrics.record_token(&tenant.name, &token);
        for endpoint in tenant.endpoint_names() {
            let call = EndpointOutcome {
                result: EndpointResult::Success,
                latency: Some(Duration::from_millis(80)),
                status: Some(200),
                detail: None,
                certificate: certificate(),
            };
            metrics.record_endpoint(&tenant.name, endpoint, &call);
        }
        metrics.record_cycle(&tenant.name);
    }
    let text = metrics.render().expect("render");
    let series = text
        .split(|b| *b == b'\n')
        .filter(|l| l.first().is_some_and(|b| *b != b'#'))
        .count();
    drop(text);
    let per_tenant = (LIVE.load(Ordering::Relaxed) - before) / TENANTS as isize;

    println!("{TENANTS} tenants, {series} series: {per_tenant} heap bytes per tenant");
    assert!(
        series > TENANTS * 90,
        "every series is present: {series} for {TENANTS} tenants"
    );
    assert!(
        per_tenant <= BOUND_PER_TENANT,
        "the metrics store holds {per_tenant} heap bytes per tenant, over the bound of {BOUND_PER_TENANT}"
    );
}
