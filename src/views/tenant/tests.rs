//! Tests of the tenant views: what they show of a record, and that the
//! JSON keeps its shape.

use std::time::{Duration, SystemTime};

use super::*;
use crate::fleet::tests::{ONE, call, cycle, tenants, token};
use crate::probe::{EndpointResult, Outcome, TokenResult};

#[test]
fn a_view_shows_the_records_latest_results_details_and_history() {
    let fleet = Fleet::new(&[0.1]);
    let record = fleet.add(&tenants(ONE)[0]);
    let pending = TenantView::of(&record, SystemTime::now(), Depth::History);
    assert_eq!(pending.state, Health::Pending);
    assert_eq!(pending.token.step.result, None);
    assert_eq!(pending.recent.as_deref().map(<[_]>::len), Some(0));
    record.record_cycle(&cycle(
        Some(token(TokenResult::CredentialsRejected)),
        vec![(
            0,
            Outcome::failed(EndpointResult::NoToken, None, "no valid token"),
        )],
    ));
    let view = TenantView::of(&record, SystemTime::now(), Depth::History);
    assert_eq!(view.state, Health::CredentialsRejected);
    assert!(view.failing);
    assert_eq!(
        view.token.step.result,
        Some(TokenResult::CredentialsRejected)
    );
    assert_eq!(
        view.token.step.detail.as_deref(),
        Some("HTTP 401 invalid_client")
    );
    assert_eq!(view.endpoints[0].name, "e");
    assert_eq!(
        view.endpoints[0].step.detail.as_deref(),
        Some("no valid token")
    );
    assert_eq!(view.endpoints[0].step.latency_seconds, None);
    let recent = view.recent.unwrap();
    assert_eq!(
        recent.iter().map(|r| &*r.step).collect::<Vec<_>>(),
        ["e", "token"]
    );
    assert_eq!(
        view.last_error.unwrap().result.as_str(),
        "credentials_rejected"
    );
    assert!(view.strip.is_empty(), "the strip is the overview's");
}

#[test]
fn the_json_keeps_its_shape() {
    let fleet = Fleet::new(&[0.1]);
    let record = fleet.add(&tenants(ONE)[0]);
    record.record_cycle(&cycle(
        Some(token(TokenResult::Success)),
        vec![(0, call(EndpointResult::Forbidden, 12, Some(403)))],
    ));
    let view = TenantView::of(&record, SystemTime::now(), Depth::Latest);
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["state"], "permission_missing");
    assert_eq!(json["state_text"], "permission missing");
    assert_eq!(json["token"]["result"], "success");
    assert_eq!(json["token"]["url"], "http://127.0.0.1:9/t");
    assert_eq!(json["token"]["lifetime_seconds"], 900.0);
    assert!(json["token"]["expires_in_seconds"].as_i64().unwrap() > 890);
    assert!(json["token"].get("name").is_none());
    let endpoint = &json["endpoints"][0];
    assert_eq!(endpoint["name"], "e");
    assert_eq!(endpoint["result"], "forbidden");
    assert_eq!(endpoint["status"], 403);
    assert_eq!(endpoint["last_success_at"], serde_json::Value::Null);
    assert!(endpoint["checked_at"].as_f64().unwrap() > 1.7e9);
    assert!(json.get("recent").is_none());
    assert!(json.get("strip").is_none());
    assert!(json["credential_expires_in_seconds"].as_i64().unwrap() > 0);
}

#[test]
fn the_overview_sorts_failing_first_and_carries_a_strip_of_the_newest() {
    let fleet = Fleet::new(&[0.1]);
    for tenant in tenants(
        "tenants: [{name: b, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}, {name: a, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}, {name: c, token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}]",
    ) {
        let record = fleet.add(&tenant);
        let result = if tenant.name == "c" {
            TokenResult::Timeout
        } else {
            TokenResult::Success
        };
        for _ in 0..STRIP + 5 {
            record.record_cycle(&cycle(Some(token(result)), vec![]));
        }
    }
    let (summary, views) = overview(&fleet, SystemTime::now(), Depth::Strip);
    let names: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["c", "a", "b"]);
    assert_eq!(
        (summary.tenants, summary.failing, summary.healthy),
        (3, 1, 2)
    );
    assert_eq!(summary.by_state["idp_down"], 1);
    assert!(
        views
            .iter()
            .all(|v| v.strip.len() == STRIP && v.recent.is_none())
    );
    let (_, latest) = overview(&fleet, SystemTime::now(), Depth::Latest);
    assert!(latest.iter().all(|v| v.strip.is_empty()));
    assert!(tenant(&fleet, "nope", SystemTime::now()).is_none());
    assert_eq!(
        tenant(&fleet, "a", SystemTime::now())
            .unwrap()
            .recent
            .unwrap()
            .len(),
        STRIP + 5
    );
}

#[test]
fn the_filter_matches_every_word_in_name_labels_or_state() {
    let fleet = Fleet::new(&[0.1]);
    let record = fleet.add(&tenants(ONE)[0]);
    record.record_cycle(&cycle(Some(token(TokenResult::Success)), vec![]));
    let view = TenantView::of(&record, SystemTime::now(), Depth::Latest);
    for (query, matches) in [
        ("", true),
        ("A", true),
        ("tier=gold", true),
        ("gold healthy", true),
        ("gold failing", false),
        ("silver", false),
    ] {
        assert_eq!(view.matches(&SearchWords::of(query)), matches, "{query:?}");
    }
}

#[test]
fn public_urls_lose_credentials() {
    let url = url::Url::parse("https://user:pw@api.example.com/v1/x?api_key=k#f").unwrap();
    assert_eq!(public_url(&url), "https://api.example.com/v1/x");
}

#[test]
fn expiries_count_down_from_now() {
    let fleet = Fleet::new(&[0.1]);
    let record = fleet.add(&tenants(ONE)[0]);
    record.record_cycle(&cycle(Some(token(TokenResult::Success)), vec![]));
    let later = SystemTime::now() + Duration::from_secs(1000);
    let view = TenantView::of(&record, later, Depth::Latest);
    assert!(
        view.token.expires_in_seconds.unwrap() < 0,
        "expired by then"
    );
}

#[test]
fn warnings_come_from_the_record_and_the_configuration_and_are_never_healthy() {
    use crate::views::health::Warning;

    let fleet = Fleet::new(&[0.1]);
    let config = tenants(
        "tenants: [{name: scopes, expect_scopes: [read, write], token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}, {name: expiring, credential_expires: \"2030-01-10\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s}, {name: backing, base_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/t\", client_id: c, client_secret: s, endpoints: [{name: e, path: /x}]}]",
    );
    // Loaded sorted by name (backing, expiring, scopes): reversed.
    let mut records: Vec<_> = config.iter().map(|t| fleet.add(t)).collect();
    records.reverse();
    let mut granted = cycle(Some(token(TokenResult::Success)), vec![]);
    granted.grant.as_mut().unwrap().scopes = Some(std::sync::Arc::from(vec![Box::from("read")]));
    records[0].record_cycle(&granted);
    records[1].record_cycle(&cycle(Some(token(TokenResult::Success)), vec![]));
    records[2].record_cycle(&cycle(
        Some(token(TokenResult::BackedOff)),
        vec![(0, call(EndpointResult::Success, 1, Some(200)))],
    ));
    // 2030-01-01: the credential expires in 9 days.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_893_456_000);
    let view = |i: usize, at| TenantView::of(&records[i], at, Depth::Latest);
    let scopes = view(0, now);
    assert_eq!((scopes.state, scopes.success), (Health::Warning, Some(1)));
    assert_eq!(scopes.warnings, [Warning::ScopeMissing]);
    let expiring = view(1, now);
    assert_eq!(expiring.warnings, [Warning::CredentialExpiring]);
    assert_eq!(expiring.state, Health::Warning);
    // Two months earlier the same credential is fine.
    let earlier = view(1, now - Duration::from_secs(60 * 86_400));
    assert_eq!(
        (earlier.state, earlier.warnings.len()),
        (Health::Healthy, 0)
    );
    let backing = view(2, now);
    assert_eq!(backing.warnings, [Warning::BackedOff]);
    assert_eq!(backing.state, Health::Warning);
    let json = serde_json::to_value(&backing).unwrap();
    assert_eq!(json["state"], "warning");
    assert_eq!(json["warnings"], serde_json::json!(["backed_off"]));
    assert_eq!(json["success"], 1);
    let summary = Summary::of(&[scopes, expiring, backing]);
    assert_eq!(
        (summary.warning, summary.healthy, summary.failing),
        (3, 0, 0)
    );
}
