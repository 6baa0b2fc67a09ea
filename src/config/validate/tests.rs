//! The loader, case by case: each invalid configuration must yield exactly
//! one problem, naming the file, tenant and field a user has to fix; the
//! valid ones must derive the values the probes will use.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{LoadOptions, load_str, load_with};
use crate::config::{Config, ConfigProblem, Tenant};

/// Inline secrets are how these cases stay short; the warning is noise here.
const QUIET: LoadOptions = LoadOptions {
    warn_inline_secrets: false,
    log_warnings: false,
    shard: crate::shard::Shard::ALL,
};

/// A main file with one valid tenant, `acme`, plus the flow-mapping entries
/// given (each starting with `, `).
macro_rules! acme {
    ($extra:literal) => {
        concat!(
            "tenants: [{name: acme, token_url: 'https://login.example.com/oauth2/token', ",
            "client_id: abc, client_secret: s",
            $extra,
            "}]\n"
        )
    };
}

/// [`acme!`] with a base URL and one endpoint, `e`, holding the fields given.
macro_rules! endpoint {
    ($fields:literal) => {
        concat!(
            "tenants: [{name: acme, token_url: 'https://login.example.com/oauth2/token', ",
            "client_id: abc, client_secret: s, base_url: 'https://api.example.com', ",
            "endpoints: [{name: e, ",
            $fields,
            "}]}]\n"
        )
    };
}

/// One invalid configuration and the one problem it must produce.
struct Case {
    /// What the case shows; names it in failures.
    name: &'static str,
    /// The main file's text.
    main: &'static str,
    /// More files beside the main file (tenant files, secrets, CA). With
    /// none, the main file is checked with `load_str` as `cfg/main.yml`;
    /// with some, everything is written to a temporary folder and loaded.
    files: &'static [(&'static str, &'static str)],
    /// The problem's file, relative to the main file's folder.
    file: &'static str,
    /// The problem's tenant.
    tenant: Option<&'static str>,
    /// The problem's field.
    field: Option<&'static str>,
    /// A fragment of the problem's message.
    message: &'static str,
}

/// A case whose problem is in the main file, about tenant `acme`.
const fn acme_case(
    name: &'static str,
    main: &'static str,
    field: &'static str,
    message: &'static str,
) -> Case {
    Case {
        name,
        main,
        files: &[],
        file: "main.yml",
        tenant: Some("acme"),
        field: Some(field),
        message,
    }
}

/// A case whose problem is a main-file setting outside any tenant.
const fn main_case(
    name: &'static str,
    main: &'static str,
    field: &'static str,
    message: &'static str,
) -> Case {
    Case {
        name,
        main,
        files: &[],
        file: "main.yml",
        tenant: None,
        field: Some(field),
        message,
    }
}

const LABEL_RULE: &str = "label names must match [a-zA-Z_][a-zA-Z0-9_]*";

const CASES: &[Case] = &[
    // The main file's own settings.
    main_case(
        "defaults interval below 1s",
        "defaults: {interval: 500ms, timeout: 100ms}\n",
        "defaults.interval",
        "must be at least 1s",
    ),
    main_case(
        "defaults timeout equal to the interval",
        "defaults: {interval: 5s, timeout: 5s}\n",
        "defaults.timeout",
        "must be above 0 and below the interval (5s)",
    ),
    main_case(
        "defaults timeout 0",
        "defaults: {timeout: 0s}\n",
        "defaults.timeout",
        "must be above 0 and below the interval (1m)",
    ),
    main_case(
        "defaults max_body_bytes 0",
        "defaults: {max_body_bytes: 0}\n",
        "defaults.max_body_bytes",
        "must be above 0",
    ),
    main_case(
        "defaults max_token_body_bytes 0",
        "defaults: {max_token_body_bytes: 0}\n",
        "defaults.max_token_body_bytes",
        "must be above 0",
    ),
    main_case(
        "max_concurrent_requests 0",
        "max_concurrent_requests: 0\n",
        "max_concurrent_requests",
        "must be at least 1",
    ),
    main_case(
        "histogram buckets descending",
        "histogram_buckets: [1, 0.5]\n",
        "histogram_buckets",
        "ascending order",
    ),
    main_case(
        "histogram buckets empty",
        "histogram_buckets: []\n",
        "histogram_buckets",
        "non-empty list",
    ),
    main_case(
        "histogram bucket 0",
        "histogram_buckets: [0, 1]\n",
        "histogram_buckets",
        "positive seconds",
    ),
    // Identity and labels.
    Case {
        name: "tenant name with a space",
        main: "tenants: [{name: 'acme prod', token_url: 'https://login.example.com/t', \
               client_id: abc, client_secret: s}]\n",
        files: &[],
        file: "main.yml",
        tenant: Some("acme prod"),
        field: Some("name"),
        message: "must be 1 to 128 letters, digits, '.', '_' or '-'",
    },
    acme_case(
        "label tenant is reserved",
        acme!(", labels: {tenant: x}"),
        "labels.tenant",
        LABEL_RULE,
    ),
    acme_case(
        "label job is reserved",
        acme!(", labels: {job: x}"),
        "labels.job",
        LABEL_RULE,
    ),
    acme_case(
        "label instance is reserved",
        acme!(", labels: {instance: x}"),
        "labels.instance",
        LABEL_RULE,
    ),
    acme_case(
        "label le is reserved",
        acme!(", labels: {le: x}"),
        "labels.le",
        LABEL_RULE,
    ),
    acme_case(
        "label quantile is reserved",
        acme!(", labels: {quantile: x}"),
        "labels.quantile",
        LABEL_RULE,
    ),
    acme_case(
        "label starting with __",
        acme!(", labels: {__x: x}"),
        "labels.__x",
        LABEL_RULE,
    ),
    acme_case(
        "label starting with a digit",
        acme!(", labels: {1abc: x}"),
        "labels.1abc",
        LABEL_RULE,
    ),
    Case {
        name: "duplicate tenant in two tenant files names the second",
        main: "tenant_files: ['tenants.d/*.yml']\n",
        files: &[
            (
                "tenants.d/a.yml",
                "name: acme\ntoken_url: https://login.example.com/t\nclient_id: a\nclient_secret: s\n",
            ),
            (
                "tenants.d/b.yml",
                "name: acme\ntoken_url: https://login.example.com/t\nclient_id: b\nclient_secret: s\n",
            ),
        ],
        file: "tenants.d/b.yml",
        tenant: Some("acme"),
        field: Some("name"),
        message: "tenants.d/a.yml:1)",
    },
    Case {
        name: "tenant in a tenant file duplicating the main file's",
        main: concat!(acme!(""), "tenant_files: ['tenants.d/*.yml']\n"),
        files: &[(
            "tenants.d/a.yml",
            "name: acme\ntoken_url: https://login.example.com/t\nclient_id: a\nclient_secret: s\n",
        )],
        file: "tenants.d/a.yml",
        tenant: Some("acme"),
        field: Some("name"),
        message: "main.yml:1)",
    },
    Case {
        name: "YAML error in a tenant file names that file",
        main: "tenant_files: ['tenants.d/*.yml']\n",
        files: &[("tenants.d/bad.yml", "name: acme\nlabels: [unclosed\n")],
        file: "tenants.d/bad.yml",
        tenant: None,
        field: None,
        message: "did not find expected ',' or ']' at line 3",
    },
    Case {
        name: "unknown key in a tenant file names that file",
        main: "tenant_files: ['tenants.d/*.yml']\n",
        files: &[("tenants.d/typo.yml", "name: acme\nclient_secert: s\n")],
        file: "tenants.d/typo.yml",
        tenant: Some("acme"),
        field: Some("client_secert"),
        message: "unknown field `client_secert`, did you mean `client_secret`?",
    },
    // Timing.
    acme_case(
        "tenant interval below 1s",
        acme!(", interval: 500ms, timeout: 100ms"),
        "interval",
        "must be at least 1s",
    ),
    acme_case(
        "tenant timeout equal to its interval",
        acme!(", interval: 10s, timeout: 10s"),
        "timeout",
        "must be above 0 and below the interval (10s)",
    ),
    acme_case(
        "tenant timeout above the default interval",
        acme!(", timeout: 2m"),
        "timeout",
        "must be above 0 and below the interval (1m)",
    ),
    acme_case(
        "tenant timeout 0",
        acme!(", timeout: 0s"),
        "timeout",
        "must be above 0 and below the interval (1m)",
    ),
    acme_case(
        "tenant interval at or below the default timeout",
        acme!(", interval: 10s"),
        "timeout",
        "below the interval (10s)",
    ),
    acme_case(
        "tenant max_body_bytes 0",
        acme!(", max_body_bytes: 0"),
        "max_body_bytes",
        "must be above 0",
    ),
    acme_case(
        "tenant max_token_body_bytes 0",
        acme!(", max_token_body_bytes: 0"),
        "max_token_body_bytes",
        "must be above 0",
    ),
    // Targets.
    acme_case(
        "missing token_url",
        "tenants: [{name: acme, client_id: abc, client_secret: s}]\n",
        "token_url",
        "required unless issuer: is set (its discovery document names the token endpoint), \
         or use the `nexthink:` or `entra:` preset",
    ),
    acme_case(
        "entra tenant_id neither a GUID nor a domain",
        "tenants: [{name: acme, entra: {tenant_id: common, resource: 'https://graph.microsoft.com'}, \
         client_id: abc, client_secret: s}]\n",
        "entra.tenant_id",
        "must be the directory's GUID",
    ),
    acme_case(
        "entra without a resource or base_url",
        "tenants: [{name: acme, entra: {tenant_id: contoso.onmicrosoft.com}, client_id: abc, \
         client_secret: s}]\n",
        "entra.resource",
        "needs the resource the token is for",
    ),
    acme_case(
        "entra tenant with a key beside its default post secret",
        "tenants: [{name: acme, entra: {tenant_id: contoso.onmicrosoft.com, \
         resource: 'https://graph.microsoft.com'}, client_id: abc, client_secret: s, \
         client_key_file: key.pem}]\n",
        "client_key_file",
        "(client_auth is post, the default)",
    ),
    acme_case(
        "entra resource not a URI",
        "tenants: [{name: acme, entra: {tenant_id: contoso.onmicrosoft.com, resource: graph}, \
         client_id: abc, client_secret: s}]\n",
        "entra.resource",
        "is not an absolute URI",
    ),
    acme_case(
        "both presets",
        "tenants: [{name: acme, entra: {tenant_id: contoso.onmicrosoft.com, resource: 'https://x.example'}, \
         nexthink: {instance: acme, region: eu}, client_id: abc, client_secret: s}]\n",
        "entra",
        "one preset: nexthink or entra, not both",
    ),
    acme_case(
        "nexthink permission without a read endpoint",
        "tenants: [{name: acme, nexthink: {instance: acme, region: eu, permissions: [workflows, nql]}, \
         client_id: abc, client_secret: s}]\n",
        "nexthink.permissions",
        "\"nql\" has no read-only endpoint",
    ),
    acme_case(
        "unknown nexthink permission",
        "tenants: [{name: acme, nexthink: {instance: acme, region: eu, permissions: [admin]}, \
         client_id: abc, client_secret: s}]\n",
        "nexthink.permissions",
        "\"admin\" is not a Nexthink permission",
    ),
    acme_case(
        "nexthink permissions and endpoints",
        "tenants: [{name: acme, nexthink: {instance: acme, region: eu, permissions: [workflows]}, \
         endpoints: [{name: w, path: /w}], client_id: abc, client_secret: s}]\n",
        "nexthink.permissions",
        "give endpoints: or nexthink.permissions, not both",
    ),
    acme_case(
        "expect_scopes listed twice",
        acme!(", expect_scopes: [read, read]"),
        "expect_scopes[1]",
        "\"read\" is listed twice",
    ),
    acme_case(
        "expect_scopes with white space",
        acme!(", expect_scopes: ['a b']"),
        "expect_scopes[0]",
        "without white space",
    ),
    acme_case(
        "token_url not a URL",
        "tenants: [{name: acme, token_url: 'not a url', client_id: abc, client_secret: s}]\n",
        "token_url",
        "\"not a url\" is not a URL",
    ),
    acme_case(
        "plain http to a non-loopback token_url",
        "tenants: [{name: acme, token_url: 'http://login.example.com/t', client_id: abc, \
         client_secret: s}]\n",
        "token_url",
        "plain http to login.example.com is refused: use https, or set insecure_http: true",
    ),
    acme_case(
        "plain http to a non-loopback base_url",
        acme!(", base_url: 'http://api.example.com'"),
        "base_url",
        "plain http to api.example.com is refused",
    ),
    acme_case(
        "credentials in the token_url",
        "tenants: [{name: acme, token_url: 'https://user:pw@login.example.com/t', \
         client_id: abc, client_secret: s}]\n",
        "token_url",
        "credentials in the URL are refused",
    ),
    acme_case(
        "token_url with an ftp scheme",
        "tenants: [{name: acme, token_url: 'ftp://login.example.com/t', client_id: abc, \
         client_secret: s}]\n",
        "token_url",
        "scheme \"ftp\" is not http or https",
    ),
    acme_case(
        "unknown nexthink region",
        "tenants: [{name: acme, nexthink: {instance: acme, region: mars}, client_id: abc, \
         client_secret: s}]\n",
        "nexthink.region",
        "region \"mars\" is not a Nexthink region; valid regions: us, eu, pac, meta",
    ),
    acme_case(
        "nexthink instance that is no DNS label",
        "tenants: [{name: acme, nexthink: {instance: 'Acme!', region: eu}, client_id: abc, \
         client_secret: s}]\n",
        "nexthink.instance",
        "must be a DNS label",
    ),
    acme_case(
        "endpoint paths say nothing more when the base_url failed",
        acme!(", base_url: 'ftp://api.example.com', endpoints: [{name: e, path: /v1}]"),
        "base_url",
        "scheme \"ftp\"",
    ),
    acme_case(
        "proxy_url with a socks scheme",
        acme!(", proxy_url: 'socks5://proxy.example.com:1080'"),
        "proxy_url",
        "scheme \"socks5\" is not http or https",
    ),
    acme_case(
        "proxy_url not a URL",
        acme!(", proxy_url: proxy"),
        "proxy_url",
        "\"proxy\" is not a URL",
    ),
    acme_case(
        "missing ca_file",
        acme!(", ca_file: missing.pem"),
        "ca_file",
        "cannot read cfg/missing.pem",
    ),
    Case {
        name: "ca_file that holds no PEM",
        main: acme!(", ca_file: ca.pem"),
        files: &[("ca.pem", "not a certificate\n")],
        file: "main.yml",
        tenant: Some("acme"),
        field: Some("ca_file"),
        message: "ca.pem holds no PEM certificate",
    },
    Case {
        name: "ca_file whose certificate block is not a certificate",
        main: acme!(", ca_file: ca.pem"),
        files: &[(
            "ca.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )],
        file: "main.yml",
        tenant: Some("acme"),
        field: Some("ca_file"),
        message: "ca.pem unusable CA certificate",
    },
    // Credential.
    acme_case(
        "missing client_id",
        "tenants: [{name: acme, token_url: 'https://login.example.com/t', client_secret: s}]\n",
        "client_id",
        "required",
    ),
    acme_case(
        "blank client_id",
        "tenants: [{name: acme, token_url: 'https://login.example.com/t', client_id: ' ', \
         client_secret: s}]\n",
        "client_id",
        "required",
    ),
    acme_case(
        "no secret source",
        "tenants: [{name: acme, token_url: 'https://login.example.com/t', client_id: abc}]\n",
        "client_secret_file",
        "exactly one of client_secret_file, client_secret_env or client_secret is required",
    ),
    acme_case(
        "two secret sources",
        acme!(", client_secret_env: SOME_VARIABLE"),
        "client_secret_file",
        "exactly one of client_secret_file, client_secret_env or client_secret is required",
    ),
    acme_case(
        "missing secret file",
        "tenants: [{name: acme, token_url: 'https://login.example.com/t', client_id: abc, \
         client_secret_file: missing}]\n",
        "client_secret_file",
        "cannot read cfg/missing",
    ),
    Case {
        name: "empty secret file",
        main: "tenants: [{name: acme, token_url: 'https://login.example.com/t', client_id: abc, \
               client_secret_file: secret}]\n",
        files: &[("secret", "\n")],
        file: "main.yml",
        tenant: Some("acme"),
        field: Some("client_secret_file"),
        message: "secret is empty",
    },
    acme_case(
        "unset environment variable",
        "tenants: [{name: acme, token_url: 'https://login.example.com/t', client_id: abc, \
         client_secret_env: CREDPROBE_TEST_SURELY_UNSET}]\n",
        "client_secret_env",
        "environment variable CREDPROBE_TEST_SURELY_UNSET is not set",
    ),
    acme_case(
        "empty inline secret",
        "tenants: [{name: acme, token_url: 'https://login.example.com/t', client_id: abc, \
         client_secret: ' '}]\n",
        "client_secret",
        "is empty",
    ),
    acme_case(
        "credential_expires not a date",
        acme!(", credential_expires: next year"),
        "credential_expires",
        "\"next year\" is not a date (YYYY-MM-DD) or RFC 3339 time",
    ),
    // Token form.
    acme_case(
        "params setting grant_type",
        acme!(", params: {grant_type: password}"),
        "params.grant_type",
        "set by credprobe",
    ),
    acme_case(
        "params setting scope",
        acme!(", params: {scope: read}"),
        "params.scope",
        "use scopes: for scope",
    ),
    // Endpoints.
    acme_case(
        "endpoint path without a leading /",
        endpoint!("path: v1"),
        "endpoints[0].path",
        "must start with /",
    ),
    acme_case(
        "endpoint path without a base_url",
        acme!(", endpoints: [{name: e, path: /v1}]"),
        "endpoints[0].path",
        "needs the tenant's base_url (or use url:)",
    ),
    acme_case(
        "endpoint with both path and url",
        endpoint!("path: /v1, url: 'https://api.example.com/v1'"),
        "endpoints[0].path",
        "exactly one of path or url is required",
    ),
    acme_case(
        "endpoint with neither path nor url",
        endpoint!("method: GET"),
        "endpoints[0].path",
        "exactly one of path or url is required",
    ),
    acme_case(
        "endpoint url with plain http",
        endpoint!("url: 'http://api.example.com/v1'"),
        "endpoints[0].url",
        "plain http to api.example.com is refused",
    ),
    acme_case(
        "duplicate endpoint name",
        acme!(
            ", base_url: 'https://api.example.com', \
             endpoints: [{name: e, path: /a}, {name: e, path: /b}]"
        ),
        "endpoints[1].name",
        "duplicate endpoint name \"e\"",
    ),
    acme_case(
        "endpoint name with a slash",
        acme!(", base_url: 'https://api.example.com', endpoints: [{name: a/b, path: /a}]"),
        "endpoints[0].name",
        "must be 1 to 128 letters",
    ),
    acme_case(
        "POST without allow_mutating",
        endpoint!("path: /v1, method: post"),
        "endpoints[0].method",
        "POST may change data upstream; set allow_mutating: true if this request only reads",
    ),
    acme_case(
        "method that is no HTTP method",
        endpoint!("path: /v1, method: 'GE T'"),
        "endpoints[0].method",
        "\"GE T\" is not an HTTP method",
    ),
    acme_case(
        "Authorization header",
        endpoint!("path: /v1, headers: {Authorization: Bearer x}"),
        "endpoints[0].headers.authorization",
        "Authorization is set from the token",
    ),
    acme_case(
        "header name with a space",
        endpoint!("path: /v1, headers: {'X Probe': x}"),
        "endpoints[0].headers.X Probe",
        "not a valid header name and value",
    ),
    acme_case(
        "endpoint interval shorter than the tenant's",
        endpoint!("path: /v1, interval: 30s"),
        "endpoints[0].interval",
        "must not be shorter than the tenant interval (1m)",
    ),
    acme_case(
        "endpoint timeout equal to the tenant interval",
        endpoint!("path: /v1, timeout: 1m"),
        "endpoints[0].timeout",
        "must be above 0 and below the tenant interval (1m)",
    ),
    acme_case(
        "endpoint timeout 0",
        endpoint!("path: /v1, timeout: 0s"),
        "endpoints[0].timeout",
        "must be above 0 and below the tenant interval (1m)",
    ),
    acme_case(
        "endpoint max_body_bytes 0",
        endpoint!("path: /v1, max_body_bytes: 0"),
        "endpoints[0].max_body_bytes",
        "must be above 0",
    ),
    acme_case(
        "expect status below 100",
        endpoint!("path: /v1, expect: {status: [200, 99]}"),
        "endpoints[0].expect.status",
        "must list HTTP status codes between 100 and 599",
    ),
    acme_case(
        "expect status empty",
        endpoint!("path: /v1, expect: {status: []}"),
        "endpoints[0].expect.status",
        "must list HTTP status codes between 100 and 599",
    ),
    acme_case(
        "body_regex that does not compile",
        endpoint!("path: /v1, expect: {body_regex: '('}"),
        "endpoints[0].expect.body_regex",
        "regex parse error",
    ),
    acme_case(
        "json check with both exists and equals",
        endpoint!("path: /v1, expect: {json: [{pointer: /state, exists: true, equals: ok}]}"),
        "endpoints[0].expect.json[0]",
        "give exists or equals, not both",
    ),
    acme_case(
        "json pointer without a leading /",
        endpoint!("path: /v1, expect: {json: [{pointer: /a}, {pointer: state}]}"),
        "endpoints[0].expect.json[1].pointer",
        "a JSON pointer is empty or starts with /",
    ),
];

/// Loads a case the way its `files` say; returns the result and the folder
/// its relative file names resolve against.
fn load_case(case: &Case, dir: &Path) -> (Result<Config, crate::config::ConfigError>, PathBuf) {
    if case.files.is_empty() {
        let main = Path::new("cfg/main.yml");
        return (load_str(case.main, main, &QUIET), PathBuf::from("cfg"));
    }
    for (name, text) in case.files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let main = dir.join("main.yml");
    std::fs::write(&main, case.main).unwrap();
    (load_with(&main, &QUIET), dir.to_owned())
}

/// Why `case` failed, if it did.
fn check(case: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let (result, base) = load_case(case, dir.path());
    let problems = match result {
        Ok(_) => return Err("loaded without a problem".to_owned()),
        Err(error) => error.problems,
    };
    let [problem] = problems.as_slice() else {
        return Err(format!("expected one problem, got {problems:#?}"));
    };
    if problem.line.is_none() {
        return Err(format!("no line: {problem:#?}"));
    }
    let expected = ConfigProblem {
        file: base.join(case.file),
        line: problem.line,
        tenant: case.tenant.map(str::to_owned),
        field: case.field.map(str::to_owned),
        message: problem.message.clone(),
    };
    if *problem != expected {
        return Err(format!("expected {expected:#?}\ngot {problem:#?}"));
    }
    if !problem.message.contains(case.message) {
        return Err(format!(
            "message {:?} lacks {:?}",
            problem.message, case.message
        ));
    }
    Ok(())
}

#[test]
fn each_invalid_configuration_yields_one_problem_with_file_tenant_and_field() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|case| check(case).err().map(|why| format!("{}: {why}", case.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}

#[test]
fn case_names_are_unique() {
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "two cases share a name");
}

/// Loads `text` as `cfg/main.yml` and returns its only tenant.
fn only_tenant(text: &str) -> std::sync::Arc<Tenant> {
    let config =
        load_str(text, Path::new("cfg/main.yml"), &QUIET).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.tenants.len(), 1);
    std::sync::Arc::clone(&config.tenants[0])
}

fn form(tenant: &Tenant) -> Vec<(&str, &str)> {
    tenant
        .token
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn nexthink_legacy_token_url_follows_an_overridden_base_url() {
    let tenant = only_tenant(
        "tenants: [{name: acme, nexthink: {instance: acme, region: eu, token_endpoint: legacy}, \
         base_url: 'https://gateway.example.com/nx', client_id: abc, client_secret: s}]\n",
    );
    assert_eq!(
        tenant.token.url.configured().unwrap().as_str(),
        "https://gateway.example.com/nx/api/v1/token"
    );
    assert!(tenant.token.form.is_empty(), "legacy sends an empty body");
    assert_eq!(
        tenant.endpoints[0].url.as_str(),
        "https://gateway.example.com/nx/api/v1/workflows"
    );
}

#[test]
fn nexthink_login_token_url_stays_on_the_login_host() {
    let tenant = only_tenant(
        "tenants: [{name: acme, nexthink: {instance: acme, region: eu}, \
         base_url: 'https://gateway.example.com', client_id: abc, client_secret: s}]\n",
    );
    assert_eq!(
        tenant.token.url.configured().unwrap().as_str(),
        "https://acme-login.eu.nexthink.cloud/oauth2/default/v1/token"
    );
    assert_eq!(
        form(&tenant),
        [
            ("grant_type", "client_credentials"),
            ("scope", "service:integration")
        ]
    );
    assert_eq!(tenant.endpoints[0].name, "workflows");
}

#[test]
fn scopes_replace_the_preset_scope_and_params_follow() {
    let tenant = only_tenant(
        "tenants: [{name: acme, nexthink: {instance: acme, region: us}, client_id: abc, \
         client_secret: s, scopes: [read, write], params: {audience: api}}]\n",
    );
    assert_eq!(
        form(&tenant),
        [
            ("grant_type", "client_credentials"),
            ("scope", "read write"),
            ("audience", "api")
        ]
    );
    let no_scope = only_tenant(
        "tenants: [{name: acme, nexthink: {instance: acme, region: us}, client_id: abc, \
         client_secret: s, scopes: []}]\n",
    );
    assert_eq!(form(&no_scope), [("grant_type", "client_credentials")]);
}

#[test]
fn endpoint_interval_rounds_up_to_whole_tenant_cycles() {
    let tenant = only_tenant(acme!(
        ", base_url: 'https://api.example.com', endpoints: [{name: a, path: /a}, \
         {name: b, path: /b, interval: 1m}, {name: c, path: /c, interval: 61s}, \
         {name: d, path: /d, interval: 150s}]"
    ));
    let cycles: Vec<(&str, u32)> = tenant
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.every_cycles))
        .collect();
    assert_eq!(cycles, [("a", 1), ("b", 1), ("c", 2), ("d", 3)]);
}

#[test]
fn insecure_http_allows_plain_http_and_loopback_needs_no_flag() {
    let insecure = only_tenant(
        "tenants: [{name: acme, token_url: 'http://login.example.com/t', insecure_http: true, \
         client_id: abc, client_secret: s}]\n",
    );
    assert_eq!(insecure.token.url.configured().unwrap().scheme(), "http");
    for host in ["127.0.0.1:8080", "localhost", "sim.localhost", "[::1]"] {
        let text = format!(
            "tenants: [{{name: acme, token_url: 'http://{host}/t', client_id: abc, client_secret: s}}]\n"
        );
        assert_eq!(
            only_tenant(&text).token.url.configured().unwrap().scheme(),
            "http",
            "{host}"
        );
    }
}

#[test]
fn timing_inherits_defaults_down_to_endpoints() {
    let text = concat!(
        "defaults: {interval: 30s, timeout: 5s, max_body_bytes: 100, token_reuse: until_expiry}\n",
        endpoint!("path: /v1")
    );
    let tenant = only_tenant(text);
    assert_eq!(tenant.interval, Duration::from_secs(30));
    assert_eq!(tenant.token.timeout, Duration::from_secs(5));
    assert_eq!(tenant.token_reuse, crate::config::TokenReuse::UntilExpiry);
    let endpoint = &tenant.endpoints[0];
    assert_eq!(endpoint.timeout, Duration::from_secs(5));
    assert_eq!(endpoint.max_body_bytes, 100);
    assert_eq!(endpoint.url.as_str(), "https://api.example.com/v1");
}

#[test]
fn credential_expires_is_midnight_utc_of_that_day() {
    let tenant = only_tenant(acme!(", credential_expires: '2027-06-30'"));
    let expected = humantime::parse_rfc3339("2027-06-30T00:00:00Z").unwrap();
    assert_eq!(tenant.credential_expires, Some(expected));
}

#[test]
fn a_tenant_file_resolves_its_secret_beside_itself() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("tenants.d");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("secret"), "s3cret\n").unwrap();
    std::fs::write(
        folder.join("acme.yml"),
        "name: acme\ntoken_url: https://login.example.com/t\nclient_id: abc\nclient_secret_file: secret\n",
    )
    .unwrap();
    let main = dir.path().join("main.yml");
    std::fs::write(&main, "tenant_files: ['tenants.d/*.yml']\n").unwrap();
    let config = load_with(&main, &QUIET).unwrap_or_else(|error| panic!("{error}"));
    let tenant = &config.tenants[0];
    assert_eq!(tenant.source, folder.join("acme.yml"));
    let crate::config::Credential::Secret(crate::config::SecretSource::File(file)) =
        &tenant.token.credential
    else {
        panic!("expected a secret file");
    };
    assert_eq!(file.path(), folder.join("secret"));
    assert_eq!(
        config.tenant_file_patterns,
        [dir.path().join("tenants.d/*.yml").to_string_lossy()]
    );
}

#[test]
fn the_entra_preset_derives_token_url_scope_and_post_auth() {
    let tenant = only_tenant(
        "tenants: [{name: acme, entra: {tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47, \
         resource: 'https://graph.microsoft.com'}, client_id: abc, client_secret: s, \
         endpoints: [{name: me, path: /v1.0/organization}]}]\n",
    );
    assert_eq!(
        tenant.token.url.configured().unwrap().as_str(),
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
    );
    assert_eq!(
        form(&tenant),
        [
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default")
        ]
    );
    assert_eq!(tenant.token.client_auth, crate::config::ClientAuth::Post);
    assert_eq!(
        tenant.endpoints[0].url.as_str(),
        "https://graph.microsoft.com/v1.0/organization"
    );
    // A token_url of its own (a proxy, the simulator) keeps the scope.
    let own = only_tenant(
        "tenants: [{name: acme, entra: {tenant_id: contoso.onmicrosoft.com, cloud: usgov}, \
         base_url: 'https://api.example.us', token_url: 'http://127.0.0.1:9/t/oauth2/v2.0/token', \
         client_id: abc, client_secret: s, client_auth: basic}]\n",
    );
    assert_eq!(
        own.token.url.configured().unwrap().as_str(),
        "http://127.0.0.1:9/t/oauth2/v2.0/token"
    );
    assert_eq!(form(&own)[1], ("scope", "https://api.example.us/.default"));
    assert_eq!(own.token.client_auth, crate::config::ClientAuth::Basic);
}

#[test]
fn nexthink_permissions_choose_the_read_only_endpoints() {
    let tenant = only_tenant(
        "tenants: [{name: acme, nexthink: {instance: acme, region: eu, \
         permissions: [remote_actions, workflows]}, client_id: abc, client_secret: s, \
         expect_scopes: [service:integration]}]\n",
    );
    let endpoints: Vec<(&str, &str, &str)> = tenant
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.method.as_str(), e.url.as_str()))
        .collect();
    assert_eq!(
        endpoints,
        [
            (
                "remote_actions",
                "GET",
                "https://acme.api.eu.nexthink.cloud/api/v1/act/remote-action"
            ),
            (
                "workflows",
                "GET",
                "https://acme.api.eu.nexthink.cloud/api/v1/workflows"
            ),
        ]
    );
    assert_eq!(tenant.expect_scopes, ["service:integration"]);
}

#[test]
fn issuer_without_token_url_discovers_it_and_a_configured_url_wins() {
    use crate::config::TokenEndpoint;
    let discovered = only_tenant(
        "tenants: [{name: acme, issuer: 'https://idp.example.com/tenant', client_id: abc, \
         client_secret: s}]\n",
    );
    let TokenEndpoint::Discovered(endpoint) = &discovered.token.url else {
        panic!("{:?}", discovered.token.url);
    };
    assert_eq!(endpoint.issuer, "https://idp.example.com/tenant");
    assert!(!endpoint.insecure_http && !endpoint.https_only);
    assert_eq!(
        discovered.token.url.scope_url().as_str(),
        "https://idp.example.com/tenant"
    );
    assert_eq!(
        discovered.token.url.to_string(),
        "discovered from https://idp.example.com/tenant"
    );
    // An explicit token_url, or a preset's, wins over discovery.
    let explicit = only_tenant(
        "tenants: [{name: acme, issuer: 'https://idp.example.com', \
         token_url: 'https://login.example.com/t', client_id: abc, client_secret: s}]\n",
    );
    assert_eq!(
        explicit.token.url,
        TokenEndpoint::Configured(url::Url::parse("https://login.example.com/t").unwrap())
    );
    let preset = only_tenant(
        "tenants: [{name: acme, entra: {tenant_id: contoso.onmicrosoft.com, \
         resource: 'https://graph.microsoft.com'}, \
         issuer: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0', \
         client_id: abc, client_secret: s}]\n",
    );
    assert_eq!(
        preset.token.url.configured().map(url::Url::as_str),
        Some("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
    );
}

#[test]
fn the_entra_preset_expects_the_audience_of_its_resource() {
    let audiences = |text: &str| {
        only_tenant(text)
            .verification
            .as_ref()
            .map(|v| v.expect_audience.clone())
    };
    let issuer =
        "issuer: 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0'";
    // The resource given, or taken from base_url, is the expected audience.
    assert_eq!(
        audiences(&format!(
            "tenants: [{{name: acme, entra: {{tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47, \
             resource: 'https://graph.microsoft.com/'}}, {issuer}, client_id: abc, client_secret: s}}]\n"
        )),
        Some(vec!["https://graph.microsoft.com".to_owned()])
    );
    assert_eq!(
        audiences(&format!(
            "tenants: [{{name: acme, entra: {{tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47, \
             resource: 'api://credprobe-test'}}, {issuer}, client_id: abc, client_secret: s}}]\n"
        )),
        Some(vec!["api://credprobe-test".to_owned()])
    );
    assert_eq!(
        audiences(&format!(
            "tenants: [{{name: acme, entra: {{tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47}}, \
             base_url: 'https://api.example.com', {issuer}, client_id: abc, client_secret: s}}]\n"
        )),
        Some(vec!["https://api.example.com".to_owned()])
    );
    // expect_audience wins (a v2.0 token for a custom API names its client id).
    assert_eq!(
        audiences(&format!(
            "tenants: [{{name: acme, entra: {{tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47, \
             resource: 'api://credprobe-test'}}, {issuer}, \
             expect_audience: [0b7d5f5e-1111-2222-3333-444455556666], client_id: abc, client_secret: s}}]\n"
        )),
        Some(vec!["0b7d5f5e-1111-2222-3333-444455556666".to_owned()])
    );
    // Without a preset, nothing is expected; without issuer/jwks_url,
    // nothing is verified.
    assert_eq!(
        audiences(&format!(
            "tenants: [{{name: acme, token_url: 'https://login.example.com/t', {issuer}, \
             client_id: abc, client_secret: s}}]\n"
        )),
        Some(vec![])
    );
    assert_eq!(
        audiences(
            "tenants: [{name: acme, entra: {tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47, \
             resource: 'https://graph.microsoft.com'}, client_id: abc, client_secret: s}]\n"
        ),
        None
    );
}
