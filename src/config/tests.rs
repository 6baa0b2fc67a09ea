//! Tenant equality decides what a reload restarts, so these tests change one
//! field at a time and expect the tenants to differ: derived `PartialEq`
//! keeps that true for fields nobody has added yet.

use std::path::Path;
use std::sync::Arc;

use super::validate::{LoadOptions, load_with};
use super::{Credential, SecretSource, Tenant};

/// One tenant that sets every field the variations below change.
const BASE: &str = "\
tenants:
  - name: acme
    base_url: https://api.example.com
    token_url: https://login.example.com/oauth2/token
    client_id: abc
    client_secret_file: s1
    max_body_bytes: 1000
    proxy_url: http://proxy.example.com:3128
    endpoints:
      - name: status
        path: /v1/status
        headers: {X-Probe: credprobe}
        expect:
          body_regex: ok
          json: [{pointer: /state, equals: ok}]
";

/// Loads `text` as `dir/main.yml` and returns its only tenant.
fn only_tenant(dir: &Path, text: &str) -> Arc<Tenant> {
    let main = dir.join("main.yml");
    std::fs::write(&main, text).unwrap();
    let options = LoadOptions {
        warn_inline_secrets: false,
        ..LoadOptions::default()
    };
    let config = load_with(&main, &options).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.tenants.len(), 1, "{text}");
    Arc::clone(&config.tenants[0])
}

fn secret_files(dir: &Path) {
    std::fs::write(dir.join("s1"), "first\n").unwrap();
    std::fs::write(dir.join("s2"), "second\n").unwrap();
}

#[test]
fn identical_loads_are_equal_even_after_the_secret_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    secret_files(dir.path());
    let first = only_tenant(dir.path(), BASE);
    assert_eq!(*first, *only_tenant(dir.path(), BASE));
    // A rotated secret is re-read by the running task: no restart needed.
    std::fs::write(dir.path().join("s1"), "rotated\n").unwrap();
    assert_eq!(*first, *only_tenant(dir.path(), BASE));
}

#[test]
fn a_change_in_any_one_field_makes_tenants_unequal() {
    let dir = tempfile::tempdir().unwrap();
    secret_files(dir.path());
    let base = only_tenant(dir.path(), BASE);
    let variations = [
        ("a header value", "X-Probe: credprobe", "X-Probe: other"),
        ("a header name", "X-Probe: credprobe", "X-Other: credprobe"),
        ("the body regex", "body_regex: ok", "body_regex: okay"),
        (
            "the secret file path",
            "client_secret_file: s1",
            "client_secret_file: s2",
        ),
        ("a json check's value", "equals: ok", "equals: up"),
        ("a json check's condition", "equals: ok", "exists: true"),
        (
            "max_body_bytes",
            "max_body_bytes: 1000",
            "max_body_bytes: 2000",
        ),
        ("the proxy", "proxy.example.com", "proxy2.example.com"),
        ("the client id", "client_id: abc", "client_id: abd"),
        ("the endpoint path", "/v1/status", "/v2/status"),
        (
            "the secret source kind",
            "client_secret_file: s1",
            "client_secret: first",
        ),
    ];
    for (what, from, to) in variations {
        assert!(BASE.contains(from), "{what}: {from:?} not in the base");
        let changed = only_tenant(dir.path(), &BASE.replacen(from, to, 1));
        assert_ne!(
            *base, *changed,
            "{what} changed but the tenants compare equal"
        );
    }
}

#[test]
fn fixed_secrets_compare_by_value() {
    let dir = tempfile::tempdir().unwrap();
    secret_files(dir.path());
    let inline = BASE.replacen("client_secret_file: s1", "client_secret: one", 1);
    let a = only_tenant(dir.path(), &inline);
    assert!(matches!(
        a.token.credential,
        Credential::Secret(SecretSource::Fixed(_))
    ));
    assert_eq!(*a, *only_tenant(dir.path(), &inline));
    let other = inline.replacen("client_secret: one", "client_secret: two", 1);
    assert_ne!(*a, *only_tenant(dir.path(), &other));
}

#[test]
fn a_tenant_moved_to_another_file_is_a_different_tenant() {
    let dir = tempfile::tempdir().unwrap();
    secret_files(dir.path());
    let inline = only_tenant(dir.path(), BASE);
    // The same tenant, now in a tenant file in the same folder (so every
    // relative path still resolves to the same file).
    let body = BASE.strip_prefix("tenants:\n").unwrap();
    std::fs::write(dir.path().join("acme.yml"), body).unwrap();
    let moved = only_tenant(dir.path(), "tenant_files: [acme.yml]\n");
    assert_eq!(moved.source, dir.path().join("acme.yml"));
    assert_ne!(*inline, *moved);
}
