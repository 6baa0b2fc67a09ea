//! Property tests of the parsers that read outside input: `Retry-After`
//! values, token responses, configuration text and endpoint expectations.
//! The same four parsers have coverage-guided fuzz targets in `fuzz/`
//! (`make fuzz`); crashes those found are kept here as `regression_*`
//! tests, with the input that crashed.

use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use credprobe::config::validate::{MAX_INTERVAL, load_str};
use credprobe::config::{Expect, JsonCheck, JsonCondition, LoadOptions, Pattern};
use credprobe::probe::backoff::parse_retry_after;
use credprobe::probe::endpoint::judge_answer;
use credprobe::probe::http::Answer;
use credprobe::probe::token::{TokenAttempt, classify_token_answer};
use credprobe::probe::{EndpointResult, TokenResult};
use proptest::prelude::*;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// The last second an HTTP date can name: 9999-12-31T23:59:59Z.
const LAST_HTTP_DATE: u64 = 253_402_300_799;

fn answer(status: u16, body: impl Into<Vec<u8>>) -> Answer {
    Answer {
        status,
        retry_after: None,
        body: body.into(),
        over_limit: false,
        certificate: None,
    }
}

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

// ---------------------------------------------------------------- Retry-After

/// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") in asctime form
/// ("Sun Nov  6 08:49:37 1994"), the third form RFC 9110 accepts.
fn asctime(imf: &str) -> String {
    let parts: Vec<&str> = imf.split(' ').collect();
    let day: u8 = parts[1].parse().unwrap();
    format!(
        "{} {} {day:>2} {} {}",
        parts[0].trim_end_matches(','),
        parts[2],
        parts[4],
        parts[3]
    )
}

proptest! {
    #[test]
    fn retry_after_seconds_round_trip(seconds in any::<u64>(), now in 0..LAST_HTTP_DATE) {
        let expected = Some(Duration::from_secs(seconds));
        prop_assert_eq!(parse_retry_after(&seconds.to_string(), at(now)), expected);
        prop_assert_eq!(parse_retry_after(&format!(" {seconds}\t"), at(now)), expected);
    }

    #[test]
    fn retry_after_dates_give_the_time_to_them(
        now in 0..LAST_HTTP_DATE,
        offset in 0..LAST_HTTP_DATE,
        future in any::<bool>(),
    ) {
        let date = if future {
            (now + offset).min(LAST_HTTP_DATE)
        } else {
            now.saturating_sub(offset)
        };
        let expected = Some(Duration::from_secs(date.saturating_sub(now)));
        let imf = httpdate::fmt_http_date(at(date));
        prop_assert_eq!(parse_retry_after(&imf, at(now)), expected, "{}", imf);
        let asctime = asctime(&imf);
        prop_assert_eq!(parse_retry_after(&asctime, at(now)), expected, "{}", asctime);
    }

    #[test]
    fn retry_after_never_panics(value in "\\PC*", now in 0..LAST_HTTP_DATE) {
        let parsed = parse_retry_after(&value, at(now));
        let trimmed = value.trim();
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            prop_assert_eq!(parsed, trimmed.parse().ok().map(Duration::from_secs));
        }
    }

    #[test]
    fn retry_after_date_like_text_never_panics(
        value in "[A-Za-z]{3}, [0-9]{1,2} [A-Za-z]{3} [0-9]{1,5} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
        now in 0..LAST_HTTP_DATE,
    ) {
        if let Some(wait) = parse_retry_after(&value, at(now)) {
            prop_assert!(now + wait.as_secs() <= LAST_HTTP_DATE);
        }
    }
}

// ------------------------------------------------------------ token responses

fn token_type() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![
        None,
        Some("Bearer"),
        Some("bearer"),
        Some("BEARER"),
        Some("bEaReR"),
    ])
}

/// `expires_in` values RFC 6749 allows nobody to send: zero, negative, not
/// a number, absurdly far.
fn invalid_expires_in() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!("0")),
        Just(json!(0.0)),
        Just(json!(true)),
        Just(json!([])),
        Just(json!({})),
        (i64::MIN..0).prop_map(|n| json!(n)),
        (i64::MIN..0).prop_map(|n| json!(n.to_string())),
        (-1e300..0.0f64).prop_map(|n| json!(n)),
        (1e10..1e300f64).prop_map(|n| json!(n)),
        (f64::MIN_POSITIVE..1e-10).prop_map(|n| json!(n)),
        "[a-zA-Z ]{1,12}".prop_map(|s| json!(s)),
    ]
}

/// Any JSON value, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JWT whose payload is `claims`; the signature is not checked.
fn jwt(claims: &Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig",
        b64.encode(r#"{"alg":"RS256"}"#),
        b64.encode(claims.to_string())
    )
}

proptest! {
    #[test]
    fn valid_token_responses_succeed_with_their_lifetime(
        access_token in "[A-Za-z0-9._~+/-]{1,200}",
        token_type in token_type(),
        seconds in 1..10_000_000_000u64,
        as_string in any::<bool>(),
        scope in prop::option::of("[a-z:. ]{0,40}"),
    ) {
        let mut body = json!({ "access_token": access_token });
        if let Some(kind) = token_type {
            body["token_type"] = json!(kind);
        }
        body["expires_in"] = if as_string { json!(seconds.to_string()) } else { json!(seconds) };
        if let Some(scope) = scope {
            body["scope"] = json!(scope);
        }
        let TokenAttempt { outcome, token, .. } = classify_token_answer(&answer(200, body.to_string()));
        prop_assert_eq!(outcome.result, TokenResult::Success, "{:?}", outcome.detail);
        let token = token.unwrap();
        prop_assert_eq!(token.access_token.expose_secret(), access_token.as_str());
        prop_assert_eq!(token.lifetime, Some(Duration::from_secs(seconds)));
        prop_assert_eq!(
            token.expires_at,
            Some(token.obtained_at + Duration::from_secs(seconds))
        );
    }

    #[test]
    fn invalid_expires_in_never_succeeds(
        access_token in "[A-Za-z0-9]{1,40}",
        expires_in in invalid_expires_in(),
    ) {
        let body = json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": expires_in,
        });
        let TokenAttempt { outcome, token, .. } = classify_token_answer(&answer(200, body.to_string()));
        prop_assert_eq!(outcome.result, TokenResult::InvalidResponse, "{}", body);
        prop_assert!(token.is_none());
        prop_assert!(outcome.detail.unwrap().contains("expires_in"));
    }

    #[test]
    fn arbitrary_bodies_never_panic(status in any::<u16>(), body in prop::collection::vec(any::<u8>(), 0..256)) {
        let TokenAttempt { outcome, token, .. } = classify_token_answer(&answer(status, body));
        prop_assert_eq!(outcome.result == TokenResult::Success, token.is_some());
        // As in fuzz/fuzz_targets/token_response.rs: at most 32 quoted
        // characters, escaped, plus the classifier's own words.
        prop_assert!(outcome.detail.map_or(0, |d| d.len()) <= 400);
    }

    #[test]
    fn any_jwt_claims_never_panic(
        exp in any_json(),
        iat in any_json(),
        number in any::<f64>(),
    ) {
        for claims in [
            json!({ "exp": exp, "iat": iat }),
            json!({ "exp": number }),
            json!({ "exp": number, "iat": number / 2.0 }),
        ] {
            let body = json!({ "access_token": jwt(&claims), "token_type": "Bearer" });
            let TokenAttempt { outcome, token, .. } = classify_token_answer(&answer(200, body.to_string()));
            prop_assert_eq!(outcome.result, TokenResult::Success);
            prop_assert!(token.is_some());
        }
    }

    #[test]
    fn the_access_token_never_reaches_the_detail(
        status in any::<u16>(),
        marker in "[A-Za-z0-9]{24,40}",
        fields in prop::collection::btree_map(
            prop::sample::select(vec!["token_type", "expires_in", "error", "error_description", "scope"]),
            any_json(),
            0..5,
        ),
    ) {
        let mut body = json!({ "access_token": marker });
        for (key, value) in fields {
            body[key] = value;
        }
        let TokenAttempt { outcome, .. } = classify_token_answer(&answer(status, body.to_string()));
        if let Some(detail) = outcome.detail {
            prop_assert!(!detail.contains(&marker), "{}", detail);
        }
    }
}

/// The detail's bound above is reached by a `token_type` of characters
/// that Debug escapes at full length: 32 of them are quoted, no more.
#[test]
fn a_quoted_token_type_is_cut_at_32_characters() {
    let body = json!({"access_token": "abc", "token_type": "\u{10ffff}".repeat(100)});
    let TokenAttempt { outcome, .. } = classify_token_answer(&answer(200, body.to_string()));
    let detail = outcome.detail.unwrap();
    assert_eq!(detail.matches("\\u{10ffff}").count(), 32, "{detail}");
    assert!(
        detail.len() > 256 && detail.len() <= 400,
        "{}",
        detail.len()
    );
}

// ---------------------------------------------------------- configuration

/// A main file that does not exist: `tenant_files` patterns and relative
/// secret paths resolve against a folder with nothing in it.
const CONFIG_PATH: &str = "/nonexistent/credprobe-properties/credprobe.yml";

/// What a generated valid tenant should load as.
#[derive(Debug, Clone)]
struct TenantSpec {
    name: String,
    interval: u64,
    timeout: u64,
    base_url: String,
    endpoints: Vec<(String, String)>,
}

fn tenant_spec(name: String) -> impl Strategy<Value = TenantSpec> {
    (
        2..86_400u64,
        prop::sample::select(vec![
            "https://api.example.com",
            "https://acme.api.eu.nexthink.cloud",
            "http://127.0.0.1:8080",
            "http://localhost:9999/prefix",
        ]),
        prop::collection::btree_set("[a-z][a-z0-9_]{0,10}", 0..4),
        prop::collection::vec("(/[a-z0-9_-]{1,8}){1,3}", 4),
    )
        .prop_flat_map(move |(interval, base_url, names, paths)| {
            let name = name.clone();
            (1..interval).prop_map(move |timeout| TenantSpec {
                name: name.clone(),
                interval,
                timeout,
                base_url: base_url.to_owned(),
                endpoints: names.iter().cloned().zip(paths.iter().cloned()).collect(),
            })
        })
}

fn tenant_specs() -> impl Strategy<Value = Vec<TenantSpec>> {
    prop::collection::btree_set("[a-z][a-z0-9.-]{0,20}", 1..5)
        .prop_flat_map(|names| names.into_iter().map(tenant_spec).collect::<Vec<_>>())
}

fn yaml_of(tenants: &[TenantSpec]) -> String {
    let tenants: Vec<Value> = tenants
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "base_url": t.base_url,
                "token_url": format!("{}/oauth2/token", t.base_url),
                "client_id": format!("id-{}", t.name),
                "client_secret": "not-a-real-secret",
                "interval": format!("{}s", t.interval),
                "timeout": format!("{}s", t.timeout),
                "labels": { "customer": t.name },
                "endpoints": t.endpoints.iter().map(|(name, path)| json!({
                    "name": name,
                    "path": path,
                    "expect": { "status": [200, 204], "json": [{ "pointer": "/state", "equals": "ok" }] },
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_norway::to_string(&json!({ "tenants": tenants })).unwrap()
}

/// Words of the configuration, so generated YAML reaches past the first
/// unknown key. The file keys (`*_file`, `tenant_files`) are left out:
/// loading reads the files a configuration names.
const CONFIG_WORDS: [&str; 32] = [
    "defaults",
    "interval",
    "timeout",
    "token_reuse",
    "max_body_bytes",
    "max_token_body_bytes",
    "max_concurrent_requests",
    "histogram_buckets",
    "tenants",
    "name",
    "labels",
    "nexthink",
    "instance",
    "region",
    "token_endpoint",
    "base_url",
    "token_url",
    "client_id",
    "client_secret",
    "client_secret_env",
    "client_auth",
    "scopes",
    "params",
    "credential_expires",
    "proxy_url",
    "insecure_http",
    "endpoints",
    "path",
    "url",
    "method",
    "expect",
    "body_regex",
];

/// Any YAML value, keys mostly from [`CONFIG_WORDS`].
fn config_like_yaml() -> impl Strategy<Value = serde_norway::Value> {
    use serde_norway::Value as Yaml;
    let leaf = prop_oneof![
        Just(Yaml::Null),
        any::<bool>().prop_map(Yaml::from),
        any::<i64>().prop_map(Yaml::from),
        any::<f64>().prop_map(Yaml::from),
        prop::sample::select(vec![
            "60s",
            "0s",
            "1ms",
            "99999999999y",
            "eu",
            "acme",
            "login",
            "legacy",
            "post",
            "basic",
            "never",
            "until_expiry",
            "https://api.example.com",
            "http://127.0.0.1:1/x",
            "/v1/x",
            "2027-06-30",
            "2027-02-30",
            "GET",
            "POST",
            "(",
            "[a-",
            "",
        ])
        .prop_map(Yaml::from),
        "\\PC{0,12}".prop_map(Yaml::from),
    ];
    let key = prop_oneof![
        4 => prop::sample::select(CONFIG_WORDS.to_vec()).prop_map(str::to_owned),
        1 => "[a-z_]{1,8}",
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Yaml::Sequence),
            prop::collection::btree_map(key.clone(), inner, 0..6).prop_map(|m| {
                Yaml::Mapping(m.into_iter().map(|(k, v)| (Yaml::from(k), v)).collect())
            }),
        ]
    })
}

fn check_load(text: &str) -> Result<(), TestCaseError> {
    let path = Path::new(CONFIG_PATH);
    let options = LoadOptions {
        warn_inline_secrets: false,
        ..LoadOptions::default()
    };
    let loaded = load_str(text, path, &options);
    if let Ok(config) = &loaded {
        for tenant in &config.tenants {
            prop_assert!(tenant.interval <= MAX_INTERVAL);
        }
    }
    if let Err(error) = loaded {
        prop_assert!(!error.problems.is_empty());
        for problem in &error.problems {
            prop_assert_eq!(&problem.file, path);
        }
        prop_assert!(error.to_string().contains(CONFIG_PATH));
    }
    Ok(())
}

proptest! {
    #[test]
    fn generated_valid_tenants_load(specs in tenant_specs()) {
        let text = yaml_of(&specs);
        let options = LoadOptions { warn_inline_secrets: false, ..LoadOptions::default() };
        let config = match load_str(&text, Path::new(CONFIG_PATH), &options) {
            Ok(config) => config,
            Err(error) => return Err(TestCaseError::fail(format!("{error}\n{text}"))),
        };
        prop_assert_eq!(config.tenants.len(), specs.len());
        // Tenants come back sorted by name, as the specs (a set) were.
        for (tenant, spec) in config.tenants.iter().zip(&specs) {
            prop_assert_eq!(&tenant.name, &spec.name);
            prop_assert_eq!(tenant.interval, Duration::from_secs(spec.interval));
            prop_assert_eq!(tenant.token.timeout, Duration::from_secs(spec.timeout));
            prop_assert_eq!(tenant.endpoints.len(), spec.endpoints.len());
            for (endpoint, (name, path)) in tenant.endpoints.iter().zip(&spec.endpoints) {
                prop_assert_eq!(&endpoint.name, name);
                prop_assert!(endpoint.url.as_str().ends_with(path.as_str()), "{}", endpoint.url);
                prop_assert_eq!(endpoint.expect.status.as_deref(), Some(&[200, 204][..]));
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check_load(&text)?;
    }

    #[test]
    fn arbitrary_config_like_yaml_never_panics(value in config_like_yaml()) {
        check_load(&serde_norway::to_string(&value).unwrap())?;
    }

    #[test]
    fn arbitrary_tenants_never_panic(
        tenants in prop::collection::vec(config_like_yaml(), 0..3),
        defaults in config_like_yaml(),
    ) {
        let text = serde_norway::to_string(&serde_norway::Value::Mapping(
            [
                ("tenants".into(), serde_norway::Value::Sequence(tenants)),
                ("defaults".into(), defaults),
            ]
            .into_iter()
            .collect(),
        ))
        .unwrap();
        check_load(&text)?;
    }
}

// ---------------------------------------------------- endpoint expectations

/// RFC 6901: `~` is written `~0` and `/` is written `~1`.
fn pointer_of(segments: &[String]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// A JSON value that survives a trip through text unchanged (no floats:
/// serde_json without `float_roundtrip` may read one back a bit off).
fn exact_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KNOWN_PATTERNS: [&str; 5] = [r#""state""#, r"^\{", r"(?i)ok", r"\d+", r"(?s).*"];

fn expectation() -> impl Strategy<Value = Expect> {
    let check = (
        prop_oneof![
            Just(String::new()),
            prop::collection::vec("[a-z0-9~/]{0,4}", 1..4).prop_map(|s| pointer_of(&s)),
            "\\PC{0,8}",
        ],
        prop_oneof![
            any::<bool>().prop_map(JsonCondition::Exists),
            exact_json().prop_map(JsonCondition::Equals),
        ],
    )
        .prop_map(|(pointer, condition)| JsonCheck { pointer, condition });
    (
        prop::option::of(prop::collection::vec(100..600u16, 1..4)),
        prop::option::of(prop::sample::select(KNOWN_PATTERNS.to_vec())),
        prop::collection::vec(check, 0..3),
    )
        .prop_map(|(status, pattern, json)| Expect {
            status,
            body_regex: pattern.map(|p| Pattern::from(regex::Regex::new(p).unwrap())),
            json,
        })
}

proptest! {
    #[test]
    fn a_body_holding_the_value_at_the_pointer_passes(
        segments in prop::collection::vec("[a-z0-9~/]{0,6}", 0..4),
        want in exact_json(),
        other in exact_json(),
        sibling in "[a-z]{1,6}",
    ) {
        // Nest `want` under the segments, with a sibling at every level.
        let mut body = want.clone();
        for segment in segments.iter().rev() {
            let mut object = serde_json::Map::new();
            object.insert(format!("{sibling}-x"), json!(1));
            object.insert(segment.clone(), body);
            body = Value::Object(object);
        }
        let pointer = pointer_of(&segments);
        let text = body.to_string();
        let with = |condition| Expect {
            json: vec![JsonCheck { pointer: pointer.clone(), condition }],
            ..Expect::default()
        };
        let (result, detail) = judge_answer(&with(JsonCondition::Equals(want.clone())), &answer(200, text.clone()));
        prop_assert_eq!(result, EndpointResult::Success, "{:?} {} {}", detail, pointer, text);
        let (result, _) = judge_answer(&with(JsonCondition::Exists(true)), &answer(200, text.clone()));
        prop_assert_eq!(result, EndpointResult::Success);
        let (result, detail) = judge_answer(&with(JsonCondition::Exists(false)), &answer(200, text.clone()));
        prop_assert_eq!(result, EndpointResult::ValidationFailed);
        prop_assert_eq!(detail, Some(format!("{pointer} is present")));
        if other != want {
            let (result, _) = judge_answer(&with(JsonCondition::Equals(other)), &answer(200, text));
            prop_assert_eq!(result, EndpointResult::ValidationFailed);
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic_the_judge(
        expect in expectation(),
        status in any::<u16>(),
        over_limit in any::<bool>(),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..128),
            exact_json().prop_map(|v| v.to_string().into_bytes()),
        ],
    ) {
        let mut answer = answer(status, body);
        answer.over_limit = over_limit;
        let (result, detail) = judge_answer(&expect, &answer);
        let listed = match &expect.status {
            Some(list) => list.contains(&status),
            None => (200..300).contains(&status),
        };
        if result == EndpointResult::Success {
            prop_assert!(listed && !over_limit && detail.is_none());
        } else {
            prop_assert!(detail.is_some());
        }
        if !listed {
            prop_assert_eq!(detail, Some(format!("HTTP {status}")));
        }
    }
}

// ---------------------------------------------------------------- regressions

/// fuzz `token_response`, crash-9e2b5ff2 (kept as
/// fuzz/corpus/token_response/regression-jwt-exp-equals-iat): a JWT with
/// `exp` equal to `iat` and no `expires_in` succeeded with a zero lifetime,
/// while `exp` before `iat` gave none. Both now give none.
#[test]
fn regression_jwt_exp_equal_to_iat_has_no_lifetime() {
    for claims in [
        json!({"iat": 17_000_000, "exp": 17_000_000}),
        json!({"iat": 17_000_000, "exp": 16_999_999}),
    ] {
        let body = json!({"access_token": jwt(&claims), "token_type": "Bearer"});
        let TokenAttempt { outcome, token, .. } =
            classify_token_answer(&answer(200, body.to_string()));
        assert_eq!(outcome.result, TokenResult::Success);
        let token = token.unwrap();
        assert_eq!(token.lifetime, None, "{claims}");
        assert_eq!(token.expires_at, Some(at(claims["exp"].as_u64().unwrap())));
    }
}

/// `any_jwt_claims_never_panic` above (minimal input
/// `exp = 8.246656580931186e307`): a JWT `exp` (or `iat`) claim beyond what
/// a `Duration` or a `SystemTime` holds panicked the token classifier
/// ("cannot convert float seconds to Duration", "overflow when adding
/// duration to instant"). Such a claim now counts as absent.
#[test]
fn regression_huge_jwt_claims_count_as_absent() {
    for (exp, iat) in [
        (json!(8.246656580931186e307), json!(1_700_000_000)),
        (json!(1e19), json!(1_700_000_000)),
        (json!(u64::MAX), json!(1_700_000_000)),
        (json!(1_700_000_900), json!(1e300)),
    ] {
        let claims = json!({"exp": exp, "iat": iat});
        let body = json!({"access_token": jwt(&claims), "token_type": "Bearer"});
        let TokenAttempt { outcome, token, .. } =
            classify_token_answer(&answer(200, body.to_string()));
        assert_eq!(outcome.result, TokenResult::Success, "{claims}");
        let token = token.unwrap();
        match exp.as_u64() {
            Some(1_700_000_900) => {
                assert_eq!(token.expires_at, Some(at(1_700_000_900)));
                assert_eq!(token.lifetime, None);
            }
            _ => assert_eq!((token.expires_at, token.lifetime), (None, None), "{claims}"),
        }
    }
}

/// Found reading `expires_in` while fixing the zero JWT lifetime above: an
/// `expires_in` under a nanosecond (`1e-10`) is zero to a `Duration`, and
/// succeeded with a zero lifetime where zero is `invalid_response`.
#[test]
fn regression_expires_in_under_a_nanosecond_is_zero() {
    for expires_in in [json!(1e-10), json!("1e-10"), json!(5e-324)] {
        let body = json!({"access_token": "abc", "token_type": "Bearer", "expires_in": expires_in});
        let TokenAttempt { outcome, token, .. } =
            classify_token_answer(&answer(200, body.to_string()));
        assert_eq!(outcome.result, TokenResult::InvalidResponse, "{body}");
        assert!(token.is_none());
    }
    let body = json!({"access_token": "abc", "expires_in": 1e-9});
    let TokenAttempt { token, .. } = classify_token_answer(&answer(200, body.to_string()));
    assert_eq!(token.unwrap().lifetime, Some(Duration::from_nanos(1)));
}

/// Found reading the scheduler while writing the config target's
/// "schedulable" check (the fuzzer did not reach it): `check-config`
/// accepted `interval: 18446744073709551615s`, and `credprobe run` then
/// panicked ("overflow when adding duration to instant") starting the
/// second tenant of that interval. Intervals above `1y` are now refused.
/// The input is kept as fuzz/corpus/config/regression-huge-interval.yml.
#[test]
fn regression_intervals_above_a_year_are_refused() {
    let options = LoadOptions {
        warn_inline_secrets: false,
        ..LoadOptions::default()
    };
    let tenant = |interval: &str| {
        format!(
            "  - {{name: t{}, interval: {interval}, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}}\n",
            interval.len()
        )
    };
    for interval in ["18446744073709551615s", "300000000000y", "1y 1s"] {
        let text = format!(
            "tenants:\n{}{}",
            tenant(interval),
            tenant(&format!(" {interval}"))
        );
        let error = load_str(&text, Path::new(CONFIG_PATH), &options).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("interval: must be at most 1year"),
            "{error}"
        );
        let defaults = format!("defaults: {{interval: {interval}}}\n");
        let error = load_str(&defaults, Path::new(CONFIG_PATH), &options).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("defaults.interval: must be at most 1year"),
            "{error}"
        );
    }
    let text = format!("tenants:\n{}", tenant("1y"));
    let config = load_str(&text, Path::new(CONFIG_PATH), &options).unwrap();
    assert_eq!(config.tenants[0].interval, Duration::from_secs(31_557_600));
}
