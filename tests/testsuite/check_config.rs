//! `credprobe check-config --config.file FILE` on real files: exit 0 with a
//! summary when the configuration is valid, otherwise exit 2 with every
//! problem on stderr, each naming its file, line, tenant and field;
//! warnings (a secret file others can read, an expiry passed) are printed
//! and do not fail the check.
//!
//! Nothing here connects anywhere: check-config only reads files, so the
//! example.com and nexthink.cloud URLs below are never contacted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::support;

/// Runs `check-config` on `config`: (exit code, stdout, stderr).
fn check(config: &Path) -> (i32, String, String) {
    let path = config.to_str().expect("temporary path is UTF-8");
    support::run_binary(
        &["check-config", "--config.file", path],
        Duration::from_secs(30),
    )
}

/// A temporary folder holding a non-empty secret file named `secret`,
/// private to its owner.
fn folder() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let secret = support::write(dir.path(), "secret", "s3cret\n");
    chmod(&secret, 0o600);
    (dir, secret)
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Writes `text` as `credprobe.yml` in `dir`.
fn main_config(dir: &Path, text: &str) -> PathBuf {
    support::write(dir, "credprobe.yml", text)
}

/// Writes `text` as `tenants.d/{name}` in `dir`.
fn tenant_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let folder = dir.join("tenants.d");
    std::fs::create_dir_all(&folder).unwrap();
    support::write(&folder, name, text)
}

/// A valid Nexthink tenant (one default endpoint), as a list item.
fn nexthink_tenant(name: &str, secret: &Path) -> String {
    format!(
        "  - name: {name}\n    nexthink: {{instance: acme, region: eu}}\n    client_id: id-{name}\n    client_secret_file: \"{}\"\n",
        secret.display()
    )
}

/// Asserts a valid configuration: exit 0 and the summary on stdout.
fn assert_ok(config: &Path, tenants: usize, endpoints: usize) {
    let (code, stdout, stderr) = check(config);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let summary = format!(
        "{}: OK, {}, {}",
        config.display(),
        plural(tenants, "tenant"),
        plural(endpoints, "endpoint")
    );
    assert!(
        stdout.contains(&summary),
        "expected {summary:?} in stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("configuration problem"),
        "stderr:\n{stderr}"
    );
}

/// Asserts a failed check: exit 2, no summary, and a header
/// `N configuration problem(s):` followed by exactly N problem lines.
/// Returns N and stderr.
fn failed(config: &Path) -> (usize, String) {
    let (code, stdout, stderr) = check(config);
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        !stdout.contains("OK"),
        "a failed check must not say OK:\n{stdout}"
    );
    let count = stderr
        .lines()
        .find_map(|line| {
            let (n, rest) = line.split_once(' ')?;
            let n: usize = n.parse().ok()?;
            let plural = if n == 1 { "problem:" } else { "problems:" };
            (rest == format!("configuration {plural}")).then_some(n)
        })
        .unwrap_or_else(|| panic!("no `N configuration problem(s):` header in stderr:\n{stderr}"));
    let listed = stderr.lines().filter(|line| line.starts_with("  ")).count();
    assert_eq!(listed, count, "problem lines in stderr:\n{stderr}");
    (count, stderr)
}

/// Asserts exit 2 with exactly `count` problems; returns stderr.
fn assert_problems(config: &Path, count: usize) -> String {
    let (found, stderr) = failed(config);
    assert_eq!(found, count, "stderr:\n{stderr}");
    stderr
}

/// The line and message of the problem line
/// `{file}:{line}: tenant {tenant}: {field}: ...`, or a panic showing the
/// whole stderr.
fn problem_at<'a>(stderr: &'a str, file: &Path, tenant: &str, field: &str) -> (usize, &'a str) {
    let file = format!("{}:", file.display());
    let rest = format!(": tenant {tenant}: {field}: ");
    stderr
        .lines()
        .find_map(|line| {
            let after = line.strip_prefix("  ")?.strip_prefix(&file)?;
            let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let message = after[digits..].strip_prefix(&rest)?;
            Some((after[..digits].parse().ok()?, message))
        })
        .unwrap_or_else(|| panic!("no problem line {file}LINE{rest} in stderr:\n{stderr}"))
}

/// The message of the problem line `{file}:{line}: tenant {tenant}:
/// {field}: ...`, whatever its line.
fn problem<'a>(stderr: &'a str, file: &Path, tenant: &str, field: &str) -> &'a str {
    problem_at(stderr, file, tenant, field).1
}

#[test]
fn valid_nexthink_and_generic_tenants_pass() {
    let (dir, secret) = folder();
    support::write(dir.path(), "other-secret", "another\n");
    let config = main_config(
        dir.path(),
        &format!(
            "defaults:\n  interval: 60s\n  timeout: 10s\ntenants:\n{}  - name: other-api\n    labels: {{customer: other, tier: gold}}\n    base_url: https://api.example.com\n    token_url: https://login.example.com/oauth2/token\n    client_id: abc\n    # relative to the configuration file's folder\n    client_secret_file: other-secret\n    client_auth: post\n    scopes: [read]\n    params: {{audience: https://api.example.com}}\n    endpoints:\n      - name: status\n        path: /v1/status\n        expect:\n          status: [200]\n          json: [{{pointer: /state, equals: ok}}]\n",
            nexthink_tenant("acme-prod", &secret)
        ),
    );
    assert_ok(&config, 2, 2);
}

#[test]
fn unknown_key_is_reported_with_field_line_and_the_field_meant() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!(
            "tenants:\n  - name: acme\n    nexthink: {{instance: acme, region: eu}}\n    client_id: abc\n    client_secert_file: \"{}\"\n",
            secret.display()
        ),
    );
    let stderr = assert_problems(&config, 1);
    assert_eq!(
        problem_at(&stderr, &config, "acme", "client_secert_file"),
        (
            5,
            "unknown field `client_secert_file`, did you mean `client_secret_file`?"
        )
    );
}

#[test]
fn unknown_key_in_a_tenant_file_names_that_file_and_line() {
    let (dir, secret) = folder();
    let config = main_config(dir.path(), "tenant_files: [\"tenants.d/*.yml\"]\n");
    let file = tenant_file(
        dir.path(),
        "acme.yml",
        &format!(
            "name: acme\nnexthink: {{instance: acme, region: eu}}\nclient_id: abc\nclient_secert_file: \"{}\"\n",
            secret.display()
        ),
    );
    let stderr = assert_problems(&config, 1);
    assert_eq!(
        problem_at(&stderr, &file, "acme", "client_secert_file"),
        (
            4,
            "unknown field `client_secert_file`, did you mean `client_secret_file`?"
        )
    );
}

#[test]
fn duplicate_tenant_name_in_one_file_names_both_lines() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!(
            "tenants:\n{}{}",
            nexthink_tenant("acme", &secret),
            nexthink_tenant("acme", &secret)
        ),
    );
    let stderr = assert_problems(&config, 1);
    assert_eq!(
        problem_at(&stderr, &config, "acme", "name"),
        (
            6,
            format!(
                "duplicate tenant name (first defined at {}:2)",
                config.display()
            )
            .as_str()
        )
    );
}

#[test]
fn duplicate_tenant_name_across_tenant_files_names_both_files_and_lines() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!(
            "tenant_files: [\"tenants.d/*.yml\"]\ntenants:\n{}",
            nexthink_tenant("acme", &secret)
        ),
    );
    let file = tenant_file(
        dir.path(),
        "acme.yml",
        &format!(
            "# the same tenant again\nname: acme\nnexthink: {{instance: acme, region: us}}\nclient_id: abc\nclient_secret_file: \"{}\"\n",
            secret.display()
        ),
    );
    let stderr = assert_problems(&config, 1);
    assert_eq!(
        problem_at(&stderr, &file, "acme", "name"),
        (
            2,
            format!(
                "duplicate tenant name (first defined at {}:3)",
                config.display()
            )
            .as_str()
        )
    );
}

#[test]
fn unknown_nexthink_region_lists_the_valid_ones() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!(
            "tenants:\n  - name: acme\n    nexthink: {{instance: acme, region: mars}}\n    client_id: abc\n    client_secret_file: \"{}\"\n",
            secret.display()
        ),
    );
    let stderr = assert_problems(&config, 1);
    let message = problem(&stderr, &config, "acme", "nexthink.region");
    assert!(message.contains("\"mars\""), "{message}");
    assert!(message.contains("us, eu, pac, meta"), "{message}");
}

#[test]
fn unparsable_default_interval_is_reported() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!(
            "defaults:\n  interval: 5 parsecs\ntenants:\n{}",
            nexthink_tenant("acme", &secret)
        ),
    );
    let stderr = assert_problems(&config, 1);
    // A setting of the main file: file, line and dotted field.
    let expected = format!(
        "  {}:2: defaults.interval: invalid value: string \"5 parsecs\", expected a duration",
        config.display()
    );
    assert!(stderr.lines().any(|line| line == expected), "{stderr}");
}

#[test]
fn tenant_timeout_not_below_its_interval_is_reported() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!(
            "tenants:\n  - name: acme\n    nexthink: {{instance: acme, region: eu}}\n    client_id: abc\n    client_secret_file: \"{}\"\n    interval: 5s\n    timeout: 5s\n",
            secret.display()
        ),
    );
    let stderr = assert_problems(&config, 1);
    let message = problem(&stderr, &config, "acme", "timeout");
    assert!(message.contains("below the interval (5s)"), "{message}");
}

#[test]
fn missing_secret_file_names_the_path() {
    let (dir, _secret) = folder();
    let missing = dir.path().join("no-such-secret");
    let config = main_config(
        dir.path(),
        &format!(
            "tenants:\n  - name: acme\n    nexthink: {{instance: acme, region: eu}}\n    client_id: abc\n    client_secret_file: \"{}\"\n",
            missing.display()
        ),
    );
    let stderr = assert_problems(&config, 1);
    let message = problem(&stderr, &config, "acme", "client_secret_file");
    assert!(
        message.contains(&format!("cannot read {}", missing.display())),
        "{message}"
    );
}

#[test]
fn a_secret_file_over_the_size_bound_names_the_path_and_the_bound() {
    let (dir, _secret) = folder();
    let huge = support::write(dir.path(), "huge-secret", &"s".repeat(64 * 1024 + 1));
    let config = main_config(
        dir.path(),
        &format!("tenants:\n{}", nexthink_tenant("acme", &huge)),
    );
    let stderr = assert_problems(&config, 1);
    let message = problem(&stderr, &config, "acme", "client_secret_file");
    assert!(
        message.contains(&format!(
            "cannot read {}: it is larger than 64 KiB",
            huge.display()
        )),
        "{message}"
    );
}

#[test]
fn a_secret_variable_that_is_not_utf8_is_named_and_not_shown() {
    use std::os::unix::ffi::OsStrExt as _;
    let (dir, _secret) = folder();
    let config = main_config(
        dir.path(),
        "tenants:\n  - name: acme\n    nexthink: {instance: acme, region: eu}\n    client_id: abc\n    client_secret_env: CREDPROBE_TEST_LATIN1_SECRET\n",
    );
    let value = std::ffi::OsStr::from_bytes(b"s\xe9cret-latin1");
    let (code, _stdout, stderr) = support::run_binary_with_env(
        &["check-config", "--config.file", config.to_str().unwrap()],
        &[("CREDPROBE_TEST_LATIN1_SECRET", value)],
        Duration::from_secs(30),
    );
    assert_eq!(code, 2, "{stderr}");
    let message = problem(&stderr, &config, "acme", "client_secret_env");
    assert!(
        message.contains("environment variable CREDPROBE_TEST_LATIN1_SECRET is not UTF-8 text"),
        "{message}"
    );
    assert!(!stderr.contains("cret-latin1"), "{stderr}");
}

/// A generic tenant with the given token URL and extra tenant lines.
fn generic_tenant(secret: &Path, base_url: &str, token_url: &str, extra: &str) -> String {
    format!(
        "tenants:\n  - name: api\n    base_url: {base_url}\n    token_url: {token_url}\n    client_id: abc\n    client_secret_file: \"{}\"\n{extra}    endpoints:\n      - name: status\n        path: /v1/status\n",
        secret.display()
    )
}

#[test]
fn plain_http_token_url_to_a_remote_host_is_refused() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &generic_tenant(
            &secret,
            "https://api.example.com",
            "http://login.example.com/token",
            "",
        ),
    );
    let stderr = assert_problems(&config, 1);
    let message = problem(&stderr, &config, "api", "token_url");
    assert!(
        message.contains("plain http to login.example.com is refused"),
        "{message}"
    );
    assert!(message.contains("insecure_http: true"), "{message}");
}

#[test]
fn plain_http_to_a_remote_host_is_accepted_with_insecure_http() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &generic_tenant(
            &secret,
            "https://api.example.com",
            "http://login.example.com/token",
            "    insecure_http: true\n",
        ),
    );
    assert_ok(&config, 1, 1);
}

#[test]
fn plain_http_to_loopback_needs_no_flag() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &generic_tenant(&secret, "http://127.0.0.1:9", "http://127.0.0.1:9/x", ""),
    );
    assert_ok(&config, 1, 1);
}

/// A Nexthink tenant with one endpoint using `method`.
fn mutating_tenant(secret: &Path, extra: &str) -> String {
    format!(
        "tenants:\n  - name: acme\n    nexthink: {{instance: acme, region: eu}}\n    client_id: abc\n    client_secret_file: \"{}\"\n    endpoints:\n      - name: nql\n        path: /api/v1/nql/execute\n        method: POST\n        body: '{{\"queryId\": \"#devices\"}}'\n{extra}",
        secret.display()
    )
}

#[test]
fn mutating_method_without_the_flag_is_refused() {
    let (dir, secret) = folder();
    let config = main_config(dir.path(), &mutating_tenant(&secret, ""));
    let stderr = assert_problems(&config, 1);
    let message = problem(&stderr, &config, "acme", "endpoints[0].method");
    assert!(message.contains("POST"), "{message}");
    assert!(message.contains("allow_mutating: true"), "{message}");
}

#[test]
fn mutating_method_with_the_flag_passes() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &mutating_tenant(&secret, "        allow_mutating: true\n"),
    );
    assert_ok(&config, 1, 1);
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!(
            "tenants:\n  - name: mars-tenant\n    nexthink: {{instance: acme, region: mars}}\n    client_id: abc\n    client_secret_file: \"{0}\"\n  - name: no-id\n    nexthink: {{instance: acme, region: eu}}\n    client_secret_file: \"{0}\"\n",
            secret.display()
        ),
    );
    let stderr = assert_problems(&config, 2);
    let region = problem(&stderr, &config, "mars-tenant", "nexthink.region");
    assert!(region.contains("us, eu, pac, meta"), "{region}");
    assert_eq!(problem(&stderr, &config, "no-id", "client_id"), "required");
}

#[test]
fn problems_in_the_main_file_and_a_tenant_file_are_reported_together() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!(
            "tenant_files: [\"tenants.d/*.yml\"]\ntenants:\n  - name: acme\n    nexthink: {{instance: acme, region: mars}}\n    client_id: abc\n    client_secret_file: \"{}\"\n",
            secret.display()
        ),
    );
    let file = tenant_file(
        dir.path(),
        "other.yml",
        &format!(
            "name: other\nnexthink: {{instance: other, region: eu}}\nclient_id: abc\nclient_secret_file: \"{}\"\nendpoints:\n  - name: nql\n    path: /api/v1/nql/execute\n    method: POST\n",
            secret.display()
        ),
    );
    let stderr = assert_problems(&config, 2);
    problem(&stderr, &config, "acme", "nexthink.region");
    let message = problem(&stderr, &file, "other", "endpoints[0].method");
    assert!(message.contains("allow_mutating"), "{message}");
}

#[test]
fn tenant_file_with_a_single_tenant_mapping_is_loaded() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!(
            "tenant_files: [\"tenants.d/*.yml\"]\ntenants:\n{}",
            nexthink_tenant("acme", &secret)
        ),
    );
    tenant_file(
        dir.path(),
        "beta.yml",
        &format!(
            "name: beta\nlabels: {{customer: beta}}\nnexthink: {{instance: beta, region: us}}\nclient_id: abc\nclient_secret_file: \"{}\"\n",
            secret.display()
        ),
    );
    assert_ok(&config, 2, 2);
}

#[test]
fn tenant_files_as_a_list_and_under_tenants_are_loaded() {
    let (dir, secret) = folder();
    let config = main_config(dir.path(), "tenant_files: [\"tenants.d/*.yml\"]\n");
    tenant_file(
        dir.path(),
        "list.yml",
        &format!(
            "- name: one\n  nexthink: {{instance: one, region: pac}}\n  client_id: abc\n  client_secret_file: \"{}\"\n",
            secret.display()
        ),
    );
    tenant_file(
        dir.path(),
        "wrapped.yml",
        &format!(
            "tenants:\n{}{}",
            nexthink_tenant("two", &secret),
            nexthink_tenant("three", &secret)
        ),
    );
    assert_ok(&config, 3, 3);
}

#[test]
fn missing_config_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("absent.yml");
    let (code, stdout, stderr) = check(&config);
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("{}: cannot read", config.display())),
        "stderr:\n{stderr}"
    );
}

#[test]
fn relative_secret_paths_resolve_beside_the_file_that_names_them() {
    let (dir, _) = folder();
    let root = dir.path().to_owned();
    let config = main_config(&root, "tenant_files: [\"tenants.d/*.yml\"]\n");
    std::fs::create_dir_all(root.join("tenants.d/secrets")).unwrap();
    std::fs::write(root.join("tenants.d/secrets/acme"), "s3cret\n").unwrap();
    tenant_file(
        &root,
        "acme.yml",
        "name: acme\nnexthink: {instance: acme, region: eu}\nclient_id: id\nclient_secret_file: secrets/acme\n",
    );
    assert_ok(&config, 1, 1);
}

#[test]
fn label_names_prometheus_reserves_are_refused_each_by_name() {
    let (dir, secret) = folder();
    let tenant = nexthink_tenant("acme", &secret).replacen(
        "  - name: acme\n",
        "  - name: acme\n    labels: {tenant: a, job: b, instance: c, le: d, quantile: e, __x: f, team: ok}\n",
        1,
    );
    let config = main_config(dir.path(), &format!("tenants:\n{tenant}"));
    let stderr = assert_problems(&config, 6);
    for key in ["tenant", "job", "instance", "le", "quantile", "__x"] {
        let message = problem(&stderr, &config, "acme", &format!("labels.{key}"));
        assert!(message.contains("label names must"), "{key}: {message}");
    }
    assert!(!stderr.contains("labels.team"), "{stderr}");
}

#[test]
fn mistakes_in_many_tenants_are_all_reported_each_with_its_line() {
    let (dir, _secret) = folder();
    let config = main_config(
        dir.path(),
        "defaults:\n  interval: 30s\ntenants:\n  - name: alpha\n    token_url: https://login.example.com/oauth2/token\n    client_id: a\n    client_secert_file: secret\n  - name: beta\n    token_url: https://login.example.com/oauth2/token\n    client_id: b\n    client_secret_file: secret\n    interval: 5 parsecs\n  - name: gamma\n    token_url: https://login.example.com/oauth2/token\n    client_id: c\n    client_secret_file: secret\n    endpoints:\n      - name: status\n        url: https://api.example.com/status\n        verb: GET\n  - name: delta\n    token_url: https://login.example.com/oauth2/token\n    client_id: d\n    client_secert_file: secret\n  - name: epsilon\n    entra: {tenant_id: \"not a tenant\", resource: \"https://graph.microsoft.com\"}\n    client_id: e\n    client_secret_file: secret\n  - token_url: https://login.example.com/oauth2/token\n    client_id: f\ntenant_files: [\"tenants.d/*.yml\"]\n",
    );
    let zeta = tenant_file(
        dir.path(),
        "zeta.yml",
        "name: zeta\ntoken_url: https://login.example.com/oauth2/token\nclient_id: z\nclient_secret_file: ../secret\ntimeout: soon\n",
    );
    let (code, stdout, stderr) = check(&config);
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let main = config.display();
    let zeta = zeta.display();
    assert_eq!(
        stderr,
        format!(
            "7 configuration problems:\n\
             \x20 {main}:7: tenant alpha: client_secert_file: unknown field `client_secert_file`, did you mean `client_secret_file`?\n\
             \x20 {main}:12: tenant beta: interval: invalid value: string \"5 parsecs\", expected a duration\n\
             \x20 {main}:20: tenant gamma: endpoints[0].verb: unknown field `verb`\n\
             \x20 {main}:24: tenant delta: client_secert_file: unknown field `client_secert_file`, did you mean `client_secret_file`?\n\
             \x20 {main}:26: tenant epsilon: entra.tenant_id: tenant_id \"not a tenant\" must be the directory's GUID (8-4-4-4-12 hex digits) or a verified domain such as contoso.onmicrosoft.com\n\
             \x20 {main}:29: tenants[5]: missing field `name`\n\
             \x20 {zeta}:5: tenant zeta: timeout: invalid value: string \"soon\", expected a duration\n"
        )
    );
}

#[test]
fn a_mistyped_top_level_key_names_the_key_meant_and_tenants_are_still_parsed() {
    let (dir, _secret) = folder();
    let config = main_config(
        dir.path(),
        "tenant_file: [\"tenants.d/*.yml\"]\ntenants:\n  - name: acme\n    token_url: https://login.example.com/oauth2/token\n    client_id: a\n    client_secret_file: secret\n    intervall: 30s\n",
    );
    let stderr = assert_problems(&config, 2);
    let expected = format!(
        "  {}:1: tenant_file: unknown field `tenant_file`, did you mean `tenant_files`?",
        config.display()
    );
    assert!(stderr.lines().any(|line| line == expected), "{stderr}");
    assert_eq!(
        problem_at(&stderr, &config, "acme", "intervall"),
        (7, "unknown field `intervall`, did you mean `interval`?")
    );
}

#[test]
fn a_malformed_entra_tenant_id_is_one_problem() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!(
            "tenants:\n  - name: graph\n    entra: {{tenant_id: common}}\n    client_id: abc\n    client_secret_file: \"{}\"\n    endpoints:\n      - {{name: me, path: /v1.0/organization}}\n",
            secret.display()
        ),
    );
    let stderr = assert_problems(&config, 1);
    let (line, message) = problem_at(&stderr, &config, "graph", "entra.tenant_id");
    assert_eq!(line, 3);
    assert!(
        message.starts_with("tenant_id \"common\" must be"),
        "{message}"
    );
}

/// A valid tenant whose secret is `secret_file`, checked: exit code and
/// stderr.
fn check_secret_file(dir: &Path, secret_file: &Path) -> (i32, String) {
    let config = main_config(
        dir,
        &format!(
            "tenants:\n  - name: acme\n    token_url: https://login.example.com/oauth2/token\n    client_id: abc\n    client_secret_file: \"{}\"\n",
            secret_file.display()
        ),
    );
    let (code, stdout, stderr) = check(&config);
    assert!(
        stdout.contains(": OK, 1 tenant, 0 endpoints"),
        "{stdout}\n{stderr}"
    );
    (code, stderr)
}

#[test]
fn a_secret_file_others_can_read_is_a_warning_with_its_mode_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let open = support::write(dir.path(), "open", "s3cret\n");
    chmod(&open, 0o644);
    let private = support::write(dir.path(), "private", "s3cret\n");
    chmod(&private, 0o600);
    // As a Kubernetes secret volume has them: a link (0777) to the file.
    let to_private = dir.path().join("to-private");
    std::os::unix::fs::symlink(&private, &to_private).unwrap();
    let to_open = dir.path().join("to-open");
    std::os::unix::fs::symlink(&open, &to_open).unwrap();

    let config = dir.path().join("credprobe.yml");
    for (file, reported) in [
        (&open, true),
        (&private, false),
        (&to_private, false),
        (&to_open, true),
    ] {
        let (code, stderr) = check_secret_file(dir.path(), file);
        assert_eq!(code, 0, "a warning does not fail the check:\n{stderr}");
        let expected = format!(
            "warning: {}:5: tenant acme: client_secret_file: {path} is open to others (mode 0644): chmod 600 {path} (on Kubernetes: defaultMode: 0400 on the secret volume)\n",
            config.display(),
            path = file.display()
        );
        if reported {
            assert_eq!(stderr, expected, "{}", file.display());
        } else {
            assert_eq!(stderr, "", "{}", file.display());
        }
    }
}

#[test]
fn a_private_key_file_its_group_can_read_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let key = support::write(
        dir.path(),
        "client.pem",
        include_str!("../keys/example-rsa-a.pem"),
    );
    chmod(&key, 0o640);
    let config = main_config(
        dir.path(),
        "tenants:\n  - name: jwt\n    token_url: https://login.example.com/oauth2/token\n    client_id: abc\n    client_auth: private_key_jwt\n    client_key_file: client.pem\n",
    );
    let (code, stdout, stderr) = check(&config);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(": OK, 1 tenant, 0 endpoints, 1 warning"),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        format!(
            "warning: {}:6: tenant jwt: client_key_file: {key} is open to its group (mode 0640): chmod 600 {key} (on Kubernetes: defaultMode: 0400 on the secret volume)\n",
            config.display(),
            key = key.display()
        )
    );
}

#[test]
fn a_next_secret_file_others_can_read_is_a_warning() {
    let (dir, secret) = folder();
    let next = support::write(dir.path(), "next", "n3xt\n");
    chmod(&next, 0o644);
    let config = main_config(
        dir.path(),
        "tenants:\n  - name: acme\n    token_url: https://login.example.com/oauth2/token\n    client_id: abc\n    client_secret_file: secret\n    next_client_secret_file: next\n",
    );
    let (code, stdout, stderr) = check(&config);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(
        stderr,
        format!(
            "warning: {}:6: tenant acme: next_client_secret_file: {next} is open to others (mode 0644): chmod 600 {next} (on Kubernetes: defaultMode: 0400 on the secret volume)\n",
            config.display(),
            next = next.display()
        )
    );
    let _ = secret;
}

#[test]
fn a_next_secret_file_is_refused_without_a_secret_method_and_read_otherwise() {
    let (dir, _secret) = folder();
    let key = support::write(
        dir.path(),
        "client.pem",
        include_str!("../keys/example-rsa-a.pem"),
    );
    chmod(&key, 0o600);
    let config = main_config(
        dir.path(),
        "tenants:\n  - name: jwt\n    token_url: https://login.example.com/oauth2/token\n    client_id: abc\n    client_auth: private_key_jwt\n    client_key_file: client.pem\n    next_client_secret_file: secret\n  - name: missing\n    token_url: https://login.example.com/oauth2/token\n    client_id: abc\n    client_secret_file: secret\n    next_client_secret_file: absent\n",
    );
    let (code, stdout, stderr) = check(&config);
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            ":7: tenant jwt: next_client_secret_file: only used with client_auth: basic or post"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(":12: tenant missing: next_client_secret_file: cannot read"),
        "{stderr}"
    );
}

#[test]
fn a_next_key_file_others_can_read_is_a_warning() {
    let (dir, _secret) = folder();
    let key = support::write(
        dir.path(),
        "client.pem",
        include_str!("../keys/example-rsa-a.pem"),
    );
    chmod(&key, 0o600);
    let next = support::write(
        dir.path(),
        "next.pem",
        include_str!("../keys/example-rsa-b.pem"),
    );
    chmod(&next, 0o644);
    let config = main_config(
        dir.path(),
        "tenants:\n  - name: jwt\n    token_url: https://login.example.com/oauth2/token\n    client_id: abc\n    client_auth: private_key_jwt\n    client_key_file: client.pem\n    next_client_key_file: next.pem\n",
    );
    let (code, stdout, stderr) = check(&config);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(
        stderr,
        format!(
            "warning: {}:7: tenant jwt: next_client_key_file: {next} is open to others (mode 0644): chmod 600 {next} (on Kubernetes: defaultMode: 0400 on the secret volume)\n",
            config.display(),
            next = next.display()
        )
    );
}

#[test]
fn a_next_key_file_is_refused_on_a_secret_tenant_and_needs_its_certificate_beside_one() {
    let (dir, _secret) = folder();
    let key = support::write(
        dir.path(),
        "client.pem",
        include_str!("../keys/example-rsa-a.pem"),
    );
    chmod(&key, 0o600);
    let config = main_config(
        dir.path(),
        "tenants:\n  - name: acme\n    token_url: https://login.example.com/oauth2/token\n    client_id: abc\n    client_secret_file: secret\n    next_client_key_file: client.pem\n  - name: jwt\n    token_url: https://login.example.com/oauth2/token\n    client_id: abc\n    client_auth: private_key_jwt\n    client_key_file: client.pem\n    client_certificate_file: client.crt\n    next_client_key_file: client.pem\n",
    );
    let (code, stdout, stderr) = check(&config);
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            ":6: tenant acme: next_client_key_file: only used with client_auth: private_key_jwt or tls_client_auth"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "tenant jwt: next_client_certificate_file: required with next_client_key_file when client_certificate_file is set"
        ),
        "{stderr}"
    );
}

#[test]
fn a_credential_expiry_already_passed_is_a_warning() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!(
            "tenants:\n  - name: acme\n    token_url: https://login.example.com/oauth2/token\n    client_id: abc\n    client_secret_file: \"{}\"\n    credential_expires: 2020-01-01\n  - name: later\n    token_url: https://login.example.com/oauth2/token\n    client_id: abc\n    client_secret_file: \"{}\"\n    credential_expires: 2999-01-01\n",
            secret.display(),
            secret.display()
        ),
    );
    let (code, stdout, stderr) = check(&config);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let prefix = format!(
        "warning: {}:6: tenant acme: credential_expires: 2020-01-01 has passed (",
        config.display()
    );
    let rest = stderr
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        rest.ends_with(
            " days ago): the credential has expired; renew it and update credential_expires\n"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "only the passed date: {stderr}");
}

#[test]
fn config_file_is_the_flag_and_config_still_works() {
    let (dir, secret) = folder();
    let config = main_config(
        dir.path(),
        &format!("tenants:\n{}", nexthink_tenant("acme", &secret)),
    );
    let path = config.to_str().unwrap();
    for flag in ["--config.file", "--config"] {
        let (code, stdout, stderr) =
            support::run_binary(&["check-config", flag, path], Duration::from_secs(30));
        assert_eq!(code, 0, "{flag}: {stdout}\n{stderr}");
        assert!(stdout.contains(": OK, 1 tenant"), "{flag}: {stdout}");
    }
    let (code, stdout, _) = support::run_binary(&["--help"], Duration::from_secs(30));
    assert_eq!(code, 0);
    assert!(stdout.contains("--config.file <FILE>"), "{stdout}");
    let (_, stdout, _) = support::run_binary(&["check-config", "--help"], Duration::from_secs(30));
    assert!(stdout.contains("--config.file <FILE>"), "{stdout}");
}

#[tokio::test]
async fn warnings_are_logged_at_start_up_and_at_reload() {
    let (dir, _secret) = folder();
    let open = support::write(dir.path(), "open", "s3cret\n");
    chmod(&open, 0o644);
    let tenant = |name: &str, secret: &str| {
        format!(
            "  - name: {name}\n    token_url: http://127.0.0.1:9/token\n    client_id: abc\n    client_secret_file: {secret}\n"
        )
    };
    let v1 = format!("tenants:\n{}", tenant("acme", "open"));
    let daemon = support::Daemon::start_in(dir, &v1, &[]);
    let warning = format!("{} is open to others (mode 0644)", open.display());
    let logs = daemon.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("configuration warning") && l.contains(&warning)),
        "{logs}"
    );

    let v2 = format!("{v1}{}", tenant("beta", "secret"));
    std::fs::write(daemon.config_path(), v2).unwrap();
    let response = support::client()
        .post(daemon.url("/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The log is read from the daemon's stderr by another thread: the
    // reload's lines may arrive a moment after its answer.
    let count = |logs: &str| {
        logs.lines()
            .filter(|l| l.contains("configuration warning") && l.contains(&warning))
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while count(&daemon.logs()) < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A moment more: a third line would be a warning logged twice.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = daemon.logs();
    assert_eq!(
        count(&logs),
        2,
        "once at start-up, once at the reload:\n{logs}"
    );
}
