//! Tests of the tenant records, and builders the other modules' tests
//! share (tenants from YAML, cycle reports).

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::LoadOptions;
use crate::config::validate::load_str;
use crate::probe::inventory::{Found, InventoryError};
use crate::probe::tls::CertificateSeen;
use crate::probe::{EndpointResult, Grant, Outcome, TokenResult};

/// The tenants of a YAML configuration (inline secrets, no warning).
pub(crate) fn tenants(yaml: &str) -> Vec<Arc<Tenant>> {
    load_str(
        yaml,
        Path::new("test.yml"),
        &LoadOptions {
            warn_inline_secrets: false,
            ..LoadOptions::default()
        },
    )
    .expect("valid test configuration")
    .tenants
}

/// One tenant `a` with labels, a credential expiry and one endpoint `e`.
pub(crate) const ONE: &str = "tenants: [{name: a, labels: {tier: gold}, credential_expires: \"2030-01-01\", base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, endpoints: [{name: e, path: /x}]}]";

/// A token outcome of `result` after 5 ms, with status 200 or 401.
pub(crate) fn token(result: TokenResult) -> Outcome<TokenResult> {
    Outcome {
        result,
        latency: Some(Duration::from_millis(5)),
        status: Some(if result.is_success() { 200 } else { 401 }),
        detail: (!result.is_success()).then(|| "HTTP 401 invalid_client".into()),
        certificate: None,
        phases: None,
    }
}

/// An endpoint outcome of `result` after `ms`, with `status`.
pub(crate) fn call(
    result: EndpointResult,
    ms: u64,
    status: Option<u16>,
) -> Outcome<EndpointResult> {
    Outcome {
        result,
        latency: Some(Duration::from_millis(ms)),
        status,
        detail: (!result.is_success()).then(|| format!("HTTP {}", status.unwrap_or(0)).into()),
        certificate: None,
        phases: None,
    }
}

/// A 900 s token, issued now.
pub(crate) fn grant() -> Grant {
    Grant {
        expires_at: Some(SystemTime::now() + Duration::from_secs(900)),
        lifetime: Some(Duration::from_secs(900)),
        scopes: None,
    }
}

/// A cycle of a token outcome (with a grant on success) and endpoint
/// outcomes by index.
pub(crate) fn cycle(
    token_outcome: Option<Outcome<TokenResult>>,
    endpoints: Vec<(usize, Outcome<EndpointResult>)>,
) -> CycleReport {
    CycleReport {
        rejection: None,
        verification: None,
        grant: token_outcome.as_ref().filter(|t| t.ok()).map(|_| grant()),
        token: token_outcome,
        endpoints,
        next_credential: None,
    }
}

#[test]
fn one_cycle_is_one_write_of_every_step_history_and_last_error() {
    let fleet = Fleet::new(&[0.01, 0.1]);
    let tenant = &tenants(ONE)[0];
    let record = fleet.add(tenant);
    record.record_cycle(&cycle(
        Some(token(TokenResult::CredentialsRejected)),
        vec![(
            0,
            Outcome::failed(EndpointResult::NoToken, None, "no valid token to send"),
        )],
    ));
    record.read(|state| {
        assert_eq!(state.cycles, 1);
        assert_eq!(state.token.count(TokenResult::CredentialsRejected), 1);
        assert_eq!(state.endpoints[0].count(EndpointResult::NoToken), 1);
        assert!(state.endpoints[0].duration.is_none(), "nothing was sent");
        assert!(state.grant.is_none());
        assert!(state.last_success_at.is_none());
        // The token's failure is the cycle's error, not the no_token it caused.
        let error = state.last_error.as_ref().unwrap();
        assert_eq!(&*error.step, "token");
        assert_eq!(error.result.as_str(), "credentials_rejected");
        let steps: Vec<&str> = state.history.iter().map(|r| &*r.step).collect();
        assert_eq!(steps, ["token", "e"]);
    });
    record.record_cycle(&cycle(
        Some(token(TokenResult::Success)),
        vec![(0, call(EndpointResult::Success, 20, Some(200)))],
    ));
    record.read(|state| {
        assert_eq!(state.cycles, 2);
        assert!(state.grant.is_some());
        assert!(state.last_success_at.is_some());
        assert_eq!(
            state.endpoints[0].last_result(),
            Some(EndpointResult::Success)
        );
        assert_eq!(state.history.len(), 4);
        // Records share the step names instead of allocating them.
        let names: Vec<&Arc<str>> = state.history.iter().map(|r| &r.step).collect();
        assert!(Arc::ptr_eq(names[0], names[2]));
        assert!(Arc::ptr_eq(names[1], names[3]));
        assert!(Arc::ptr_eq(names[0], &TOKEN_STEP));
    });
}

#[test]
fn a_failed_token_keeps_the_last_grant_and_a_new_token_replaces_it() {
    let fleet = Fleet::new(&[0.1]);
    let record = fleet.add(&tenants(ONE)[0]);
    record.record_cycle(&cycle(Some(token(TokenResult::Success)), vec![]));
    let first = record.read(|s| s.grant.clone());
    record.record_cycle(&cycle(Some(token(TokenResult::ServerError)), vec![]));
    assert_eq!(record.read(|s| s.grant.clone()), first);
    let without_expiry = CycleReport {
        token: Some(token(TokenResult::Success)),
        grant: Some(Grant {
            expires_at: None,
            lifetime: None,
            scopes: None,
        }),
        rejection: None,
        verification: None,
        endpoints: vec![],
        next_credential: None,
    };
    record.record_cycle(&without_expiry);
    assert_eq!(record.read(|s| s.grant.as_ref().unwrap().expires_at), None);
}

#[test]
fn a_cycle_that_did_nothing_is_not_a_success_but_is_a_cycle() {
    let fleet = Fleet::new(&[0.1]);
    let record = fleet.add(&tenants(ONE)[0]);
    record.record_cycle(&CycleReport::default());
    record.read(|state| {
        assert_eq!(state.cycles, 1);
        assert!(state.last_cycle_at.is_some());
        assert!(state.last_success_at.is_none());
        assert!(state.history.is_empty());
    });
    assert_eq!(fleet.readiness(), (1, 1));
}

#[test]
fn certificates_are_kept_per_host_and_updated() {
    let fleet = Fleet::new(&[0.1]);
    let record = fleet.add(&tenants(ONE)[0]);
    let seen = |host: &str, not_after| CertificateSeen {
        host: host.into(),
        not_after,
    };
    for (host, not_after) in [
        ("login.example:8443", 5),
        ("api.example", 6),
        ("login.example:8443", 7),
    ] {
        let mut outcome = token(TokenResult::Success);
        outcome.certificate = Some(seen(host, not_after));
        record.record_cycle(&cycle(Some(outcome), vec![]));
    }
    let hosts: Vec<(String, i64)> = record.read(|s| {
        s.tls_expiry
            .iter()
            .map(|(h, n)| (h.to_string(), *n))
            .collect()
    });
    assert_eq!(
        hosts,
        [
            ("api.example".to_owned(), 6),
            ("login.example:8443".to_owned(), 7)
        ]
    );
}

#[test]
fn a_record_lives_from_add_to_remove_and_only_the_one_removed_goes() {
    let fleet = Fleet::new(&[0.1]);
    let config = tenants(ONE);
    let old = fleet.add(&config[0]);
    old.record_cycle(&cycle(Some(token(TokenResult::Success)), vec![]));
    assert_eq!(fleet.readiness(), (1, 1));
    // A restart: a new record of the same name starts from zero.
    let new = fleet.add(&config[0]);
    assert_eq!(fleet.readiness(), (0, 1));
    // Removing the old record leaves the new one alone.
    fleet.remove(&old);
    assert!(Arc::ptr_eq(&fleet.get("a").unwrap(), &new));
    // A late write to the old record shows nowhere.
    old.record_cycle(&cycle(Some(token(TokenResult::Success)), vec![]));
    assert_eq!(fleet.get("a").unwrap().read(|s| s.cycles), 0);
    fleet.remove(&new);
    assert!(fleet.is_empty());
    assert_eq!(fleet.readiness(), (0, 0));
}

#[test]
fn label_keys_are_the_union_of_the_tenants_labels() {
    let fleet = Fleet::new(&[0.1]);
    for tenant in tenants(
        "tenants: [{name: a, labels: {tier: gold}, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}, {name: b, labels: {customer: x}, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}]",
    ) {
        fleet.add(&tenant);
    }
    assert_eq!(label_keys(&fleet.records()), ["customer", "tier"]);
}

/// A `private_key_jwt` tenant whose client certificate ends at midnight
/// UTC of `not_after` (year, month, day), with `credential_expires` when
/// given; its key and certificate files are written into `dir`.
fn certified(dir: &Path, not_after: (i32, u8, u8), expires: Option<&str>) -> Arc<Tenant> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["client".to_owned()]).unwrap();
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let cert = params.self_signed(&key).unwrap();
    // Files of their own: a tenant's key files are re-read when they change.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let key_path = dir.join(format!("client-{n}.key"));
    let cert_path = dir.join(format!("client-{n}.crt"));
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    std::fs::write(&cert_path, cert.pem()).unwrap();
    let expires = expires.map_or(String::new(), |day| {
        format!(", credential_expires: \"{day}\"")
    });
    let yaml = format!(
        "tenants: [{{name: a, token_url: \"http://127.0.0.1:9/t\", client_id: c, \
         client_auth: private_key_jwt, client_key_file: \"{}\", \
         client_certificate_file: \"{}\"{expires}}}]",
        key_path.display(),
        cert_path.display()
    );
    Arc::clone(&tenants(&yaml)[0])
}

/// Midnight UTC of `day` (YYYY-MM-DD).
fn day(day: &str) -> SystemTime {
    humantime::parse_rfc3339(&format!("{day}T00:00:00Z")).unwrap()
}

/// What Graph listed: the credential in use ending `in_use`, the latest
/// of all ending `latest`.
fn listing(in_use: Option<&str>, latest: Option<&str>) -> Found {
    Found {
        in_use_expiry: in_use.map(day),
        matched: true,
        latest_expiry: latest.map(day),
        secrets: 0,
        certificates: 2,
    }
}

#[test]
fn credential_expiry_is_configured_then_graph_then_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = Fleet::new(&[0.1]);
    // Configured, Graph and certificate all known: the configured day wins,
    // whether it is earlier or later than the others.
    for configured in ["2030-01-01", "2032-01-01"] {
        let tenant = certified(dir.path(), (2031, 1, 1), Some(configured));
        let record = fleet.add(&tenant);
        record.record_inventory(Ok(listing(Some("2029-06-01"), Some("2029-06-01"))));
        assert_eq!(
            record.read(|s| s.credential_expiry(&tenant)),
            Some(day(configured))
        );
    }
    // No configured day: Graph's end of the credential in use, before the
    // certificate's notAfter, earlier or later.
    let tenant = certified(dir.path(), (2031, 1, 1), None);
    let record = fleet.add(&tenant);
    assert_eq!(
        record.read(|s| s.credential_expiry(&tenant)),
        Some(day("2031-01-01")),
        "before any listing: the certificate"
    );
    for graph in ["2029-06-01", "2033-06-01"] {
        record.record_inventory(Ok(listing(Some(graph), Some(graph))));
        assert_eq!(
            record.read(|s| s.credential_expiry(&tenant)),
            Some(day(graph))
        );
    }
    // A later failed reading keeps the last listing.
    record.record_inventory(Err(InventoryError::Forbidden));
    assert_eq!(
        record.read(|s| s.credential_expiry(&tenant)),
        Some(day("2033-06-01"))
    );
    // A listing that names no credential in use: the certificate.
    let record = fleet.add(&tenant);
    record.record_inventory(Ok(listing(None, None)));
    assert_eq!(
        record.read(|s| s.credential_expiry(&tenant)),
        Some(day("2031-01-01"))
    );
}

#[test]
fn a_successor_is_a_listed_credential_ending_after_the_one_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = Fleet::new(&[0.1]);
    let tenant = certified(dir.path(), (2031, 1, 1), None);
    let record = fleet.add(&tenant);
    let successor = || record.read(|s| s.successor_exists(&tenant));
    assert!(!successor(), "no listing: nothing known");
    record.record_inventory(Ok(listing(Some("2029-06-01"), Some("2029-06-01"))));
    assert!(!successor(), "the one in use is the latest");
    record.record_inventory(Ok(listing(Some("2029-06-01"), Some("2029-09-01"))));
    assert!(successor());
    assert_eq!(
        record.read(TenantState::latest_credential_expiry),
        Some(day("2029-09-01"))
    );
    // A configured expiry is the one in use: a later listed credential is
    // a successor only if it ends after that day.
    let configured = certified(dir.path(), (2031, 1, 1), Some("2029-12-01"));
    let record = fleet.add(&configured);
    record.record_inventory(Ok(listing(Some("2029-06-01"), Some("2029-09-01"))));
    assert!(!record.read(|s| s.successor_exists(&configured)));
    record.record_inventory(Ok(listing(Some("2029-06-01"), Some("2030-03-01"))));
    assert!(record.read(|s| s.successor_exists(&configured)));
}
