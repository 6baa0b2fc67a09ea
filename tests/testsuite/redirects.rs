//! The redirect policy, end to end: the real daemon probes endpoints and
//! token URLs that the simulator's `/__simulator/redirect` sends elsewhere,
//! and each case is checked twice: by its result class on /metrics, and by
//! what the simulators actually received: which hops arrived, and whether
//! they carried the token. Header values are never printed: a failure says only whether one
//! was there.

use std::time::Duration;

use credprobe::probe::{EndpointResult, ResultClass, TokenResult};
use credprobe_simulator::{RecordedRequest, Scenario};

use crate::support::{self, Daemon, at_least, start_simulator, value, write};

const SCENARIO: &str = "clients: [{client_id: acme, client_secret: acme-secret}]";
const REDIRECT: &str = "/__simulator/redirect";
const WORKFLOWS: &str = "/api/v1/workflows";

/// Generous: every case settles in the first cycle or two (2 s interval).
const SETTLE: Duration = Duration::from_secs(20);

/// `{base}/__simulator/redirect?to=...` plus `extra` query pairs.
fn redirect_via(base: &str, to: &str, extra: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("to", to)
        .extend_pairs(extra)
        .finish();
    format!("{base}{REDIRECT}?{query}")
}

/// A query parameter of a recorded request.
fn param(request: &RecordedRequest, name: &str) -> Option<String> {
    let query = request.query.as_deref()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The requests to `path` whose query has `from=<from>` (the endpoint that
/// was redirected there).
fn arrivals<'a>(
    requests: &'a [RecordedRequest],
    path: &str,
    from: &str,
) -> Vec<&'a RecordedRequest> {
    requests
        .iter()
        .filter(|r| r.path == path && param(r, "from").as_deref() == Some(from))
        .collect()
}

/// The redirect-route requests whose `to` target carries `from=<from>`.
fn hops_towards<'a>(requests: &'a [RecordedRequest], from: &str) -> Vec<&'a RecordedRequest> {
    let marker = format!("from={from}");
    requests
        .iter()
        .filter(|r| r.path == REDIRECT && param(r, "to").is_some_and(|to| to.ends_with(&marker)))
        .collect()
}

fn has_bearer(request: &RecordedRequest) -> bool {
    request
        .header("authorization")
        .is_some_and(|value| value.starts_with("Bearer ") && value.len() > "Bearer ".len())
}

/// At least one request, and every one carried a bearer token.
fn all_with_bearer(requests: &[&RecordedRequest]) -> bool {
    !requests.is_empty() && requests.iter().all(|r| has_bearer(r))
}

/// A tenant `t` that gets its token from `base` (client acme) and probes
/// `endpoints`, each `(name, url)`.
fn tenant_config(base: &str, endpoints: &[(&str, String)]) -> String {
    let mut text = format!(
        "defaults: {{interval: 2s, timeout: 1500ms}}\ntenants:\n  - name: t\n    token_url: \"{base}/oauth2/token\"\n    client_id: acme\n    client_secret: acme-secret\n    endpoints:\n"
    );
    for (name, url) in endpoints {
        text.push_str(&format!("      - {{name: {name}, url: \"{url}\"}}\n"));
    }
    text
}

/// Waits until every `(endpoint, result)` has been recorded at least once,
/// then checks that each endpoint produced only that class and exported
/// `status` as its last status code. Returns the scrape.
async fn expect_endpoint_results(daemon: &Daemon, expected: &[(&str, &str, u16)]) -> String {
    let text = daemon
        .wait_for_metrics(SETTLE, |text| {
            expected.iter().all(|(endpoint, result, _)| {
                at_least(
                    text,
                    "credprobe_endpoint_requests_total",
                    &[("tenant", "t"), ("endpoint", endpoint), ("result", result)],
                    1.0,
                )
            })
        })
        .await;
    for (endpoint, result, status) in expected {
        for other in EndpointResult::ALL.iter().map(|r| r.as_str()) {
            if other != *result {
                assert_eq!(
                    value(
                        &text,
                        "credprobe_endpoint_requests_total",
                        &[("tenant", "t"), ("endpoint", endpoint), ("result", other)],
                    )
                    .unwrap_or(0.0),
                    0.0,
                    "{endpoint} also produced {other}\n{text}"
                );
            }
        }
        assert_eq!(
            value(
                &text,
                "credprobe_endpoint_status_code",
                &[("tenant", "t"), ("endpoint", endpoint)],
            ),
            Some(f64::from(*status)),
            "{endpoint}\n{text}"
        );
    }
    text
}

/// Same origin: followed, and the token goes along (the API needs it), for
/// one redirect and for a chain of exactly five, the most followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_origin_redirects_are_followed_with_the_token() {
    let sim = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let base = sim.base_url();
    let daemon = Daemon::start(
        &tenant_config(
            &base,
            &[
                (
                    "moved",
                    redirect_via(&base, &format!("{base}{WORKFLOWS}?from=moved"), &[]),
                ),
                (
                    "five",
                    redirect_via(
                        &base,
                        &format!("{base}{WORKFLOWS}?from=five"),
                        &[("status", "301"), ("hops", "5")],
                    ),
                ),
            ],
        ),
        &[],
    );
    expect_endpoint_results(
        &daemon,
        &[("moved", "success", 200), ("five", "success", 200)],
    )
    .await;

    let requests = sim.requests();
    for from in ["moved", "five"] {
        let arrived = arrivals(&requests, WORKFLOWS, from);
        assert!(
            !arrived.is_empty(),
            "{from}: the redirect target was never called"
        );
        for request in &arrived {
            assert!(
                has_bearer(request),
                "{from}: arrived without its bearer token"
            );
            assert_eq!(request.client_id.as_deref(), Some("acme"), "{from}");
        }
        assert!(
            all_with_bearer(&hops_towards(&requests, from)),
            "{from}: no hop recorded, or one went without the token"
        );
    }
    let hops: Vec<String> = hops_towards(&requests, "five")
        .iter()
        .filter_map(|r| param(r, "hops"))
        .collect();
    for hop in ["5", "4", "3", "2", "1"] {
        assert!(
            hops.iter().any(|h| h == hop),
            "hop {hop} of five never seen"
        );
    }
    sim.shutdown().await;
}

/// Another origin, by port (a second simulator) or by host name (the same
/// simulator as `localhost`): not followed. The 302 is the answer,
/// `unexpected_status`; nothing reaches the other origin, so neither the
/// token nor the endpoint's headers go there, and no token-less 401 is
/// passed off as `unauthorized`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_another_origin_are_not_followed() {
    let sim = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let other = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let base = sim.base_url();
    let elsewhere = other.base_url();
    let by_name = format!("http://localhost:{}", sim.local_addr().port());
    let daemon = Daemon::start(
        &tenant_config(
            &base,
            &[
                (
                    "other_port",
                    redirect_via(
                        &base,
                        &format!("{elsewhere}{WORKFLOWS}?from=other_port"),
                        &[],
                    ),
                ),
                (
                    "other_port_307",
                    redirect_via(
                        &base,
                        &format!("{elsewhere}{WORKFLOWS}?from=other_port_307"),
                        &[("status", "307")],
                    ),
                ),
                (
                    "other_host",
                    redirect_via(&base, &format!("{by_name}{WORKFLOWS}?from=other_host"), &[]),
                ),
            ],
        ),
        &[],
    );
    expect_endpoint_results(
        &daemon,
        &[
            ("other_port", "unexpected_status", 302),
            ("other_port_307", "unexpected_status", 307),
            ("other_host", "unexpected_status", 302),
        ],
    )
    .await;

    let received = other.requests();
    assert!(
        received.is_empty(),
        "the other origin was called {} times",
        received.len()
    );
    let own = sim.requests();
    assert!(
        arrivals(&own, WORKFLOWS, "other_host").is_empty(),
        "the redirect to another host name was followed"
    );
    // The redirects themselves were asked, with the token (same origin).
    for from in ["other_port", "other_port_307", "other_host"] {
        let hops = hops_towards(&own, from);
        assert!(!hops.is_empty(), "{from}: the redirect was never asked");
        assert!(all_with_bearer(&hops), "{from}: asked without the token");
    }
    other.shutdown().await;
    sim.shutdown().await;
}

/// https down to plain http is another origin: not followed, even to a
/// loopback host, so nothing the https call carried goes out in clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_down_to_http_is_not_followed() {
    let (tls, cert) =
        support::start_tls_simulator(Scenario::from_yaml_str(SCENARIO).unwrap(), None).await;
    let plain = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let secure = tls.base_url();
    let target = format!("{}{WORKFLOWS}?from=downgrade", plain.base_url());
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ca.pem", &cert);
    let config = tenant_config(
        &secure,
        &[("downgrade", redirect_via(&secure, &target, &[]))],
    )
    .replace(
        "    client_id: acme\n",
        "    client_id: acme\n    ca_file: ca.pem\n",
    );
    let daemon = Daemon::start_in(dir, &config, &[]);
    expect_endpoint_results(&daemon, &[("downgrade", "unexpected_status", 302)]).await;

    let received = plain.requests();
    assert!(
        received.is_empty(),
        "the plain http target was called {} times",
        received.len()
    );
    assert!(all_with_bearer(&hops_towards(&tls.requests(), "downgrade")));
    plain.shutdown().await;
    tls.shutdown().await;
}

/// A sixth redirect is not followed: the 3xx is the answer
/// (`unexpected_status`, its code exported), and neither a chain of six nor
/// an endless one gets more than six requests per call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixth_redirect_is_not_followed() {
    let sim = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let base = sim.base_url();
    let daemon = Daemon::start(
        &tenant_config(
            &base,
            &[
                (
                    "six",
                    redirect_via(
                        &base,
                        &format!("{base}{WORKFLOWS}?from=six"),
                        &[("status", "307"), ("hops", "6")],
                    ),
                ),
                (
                    "endless",
                    redirect_via(
                        &base,
                        &format!("{base}{WORKFLOWS}?from=endless"),
                        &[("hops", "100")],
                    ),
                ),
            ],
        ),
        &[],
    );
    expect_endpoint_results(
        &daemon,
        &[
            ("six", "unexpected_status", 307),
            ("endless", "unexpected_status", 302),
        ],
    )
    .await;

    let requests = sim.requests();
    for (from, first) in [("six", 6), ("endless", 100)] {
        assert!(
            arrivals(&requests, WORKFLOWS, from).is_empty(),
            "{from}: the target behind the sixth redirect was reached"
        );
        let hops: Vec<u32> = hops_towards(&requests, from)
            .iter()
            .map(|r| param(r, "hops").unwrap().parse().unwrap())
            .collect();
        let calls = hops.iter().filter(|&&hop| hop == first).count();
        // The first request and five redirects followed: hops first..first-5.
        let last_followed = first - 5;
        assert!(
            hops.contains(&last_followed),
            "{from}: five redirects were not followed: {hops:?}"
        );
        assert!(
            hops.iter().all(|&hop| hop >= last_followed),
            "{from}: a sixth redirect was followed: {hops:?}"
        );
        assert!(
            hops.len() <= 6 * calls,
            "{from}: more than six requests per call: {hops:?}"
        );
    }
    sim.shutdown().await;
}

/// A token request that meets a redirect stops there (`invalid_response`),
/// even a 307 to a working token endpoint of the same origin, which would
/// re-send the credentials and succeed if followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_never_follow_redirects() {
    let sim = start_simulator(Scenario::from_yaml_str(SCENARIO).unwrap()).await;
    let base = sim.base_url();
    let token_url = redirect_via(&base, &format!("{base}/oauth2/token"), &[("status", "307")]);
    let daemon = Daemon::start(
        &format!(
            "defaults: {{interval: 2s, timeout: 1500ms}}\ntenants:\n  - {{name: t, token_url: \"{token_url}\", client_id: acme, client_secret: acme-secret, endpoints: [{{name: workflows, url: \"{base}{WORKFLOWS}\"}}]}}\n"
        ),
        &[],
    );
    let text = daemon
        .wait_for_metrics(SETTLE, |text| {
            at_least(
                text,
                "credprobe_token_requests_total",
                &[("tenant", "t"), ("result", "invalid_response")],
                1.0,
            ) && at_least(
                text,
                "credprobe_endpoint_requests_total",
                &[
                    ("tenant", "t"),
                    ("endpoint", "workflows"),
                    ("result", "no_token"),
                ],
                1.0,
            )
        })
        .await;
    for other in TokenResult::ALL.iter().map(|r| r.as_str()) {
        if other != "invalid_response" {
            assert_eq!(
                value(
                    &text,
                    "credprobe_token_requests_total",
                    &[("tenant", "t"), ("result", other)],
                )
                .unwrap_or(0.0),
                0.0,
                "the token request also produced {other}\n{text}"
            );
        }
    }
    assert_eq!(
        value(&text, "credprobe_token_success", &[("tenant", "t")]),
        Some(0.0)
    );

    let requests = sim.requests();
    let redirected: Vec<_> = requests.iter().filter(|r| r.path == REDIRECT).collect();
    assert!(!redirected.is_empty(), "the token URL was never called");
    assert!(
        redirected.iter().all(|r| r.method == "POST"),
        "token requests are POSTs"
    );
    let followed: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/oauth2/token")
        .map(|r| r.method.as_str())
        .collect();
    assert!(
        followed.is_empty(),
        "the token endpoint behind the redirect was called: {followed:?}"
    );
    assert!(
        !requests.iter().any(|r| r.path == WORKFLOWS),
        "an endpoint was called without a token"
    );
    sim.shutdown().await;
}
