//! Every metric family credprobe exports, with its type and HELP text,
//! in one place: the tenant series writer and the telemetry registry both
//! take their names from here, and nothing else invents a metric name.

/// The `# TYPE` of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A count that only goes up (reset when the tenant restarts).
    Counter,
    /// `_bucket`, `_sum` and `_count` series.
    Histogram,
}

impl Kind {
    /// The word in `# TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family: what the README, the dashboards' and rules' tests and
/// the renderer agree on.
#[derive(Debug)]
pub struct Family {
    /// The metric name.
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// The `# TYPE`.
    pub kind: Kind,
}

/// A family, for the constants below.
const fn family(name: &'static str, help: &'static str, kind: Kind) -> Family {
    Family { name, help, kind }
}

/// `credprobe_build_info`.
pub const BUILD_INFO: Family = family(
    "credprobe_build_info",
    "Always 1; the version and revision of this build.",
    Kind::Gauge,
);
/// `credprobe_config_last_reload_success_timestamp_seconds`.
pub const RELOAD_SUCCESS_TIME: Family = family(
    "credprobe_config_last_reload_success_timestamp_seconds",
    "Time of the last successful configuration load (unix seconds).",
    Kind::Gauge,
);
/// `credprobe_config_last_reload_successful`.
pub const RELOAD_SUCCESSFUL: Family = family(
    "credprobe_config_last_reload_successful",
    "1 if the last configuration load succeeded, 0 if it failed.",
    Kind::Gauge,
);
/// `credprobe_credential_expiry_timestamp_seconds`.
pub const CREDENTIAL_EXPIRY: Family = family(
    "credprobe_credential_expiry_timestamp_seconds",
    "When the tenant's credential expires (unix seconds): credential_expires, else what Microsoft Graph lists for the credential in use (entra.credential_inventory), else the notAfter of its client certificate.",
    Kind::Gauge,
);
/// `credprobe_credential_latest_expiry_timestamp_seconds`.
pub const CREDENTIAL_LATEST_EXPIRY: Family = family(
    "credprobe_credential_latest_expiry_timestamp_seconds",
    "When the latest of the application's credentials expires (unix seconds), as Microsoft Graph lists them; only for tenants with entra.credential_inventory. Later than credprobe_credential_expiry_timestamp_seconds: a rotation has started.",
    Kind::Gauge,
);
/// `credprobe_credential_files_ok`.
pub const CREDENTIAL_FILES_OK: Family = family(
    "credprobe_credential_files_ok",
    "1 when every secret, key and certificate file of the tenant's credential and of its next credential can be used (also when they read none), 0 while one is missing, unreadable or invalid: the last good copy stays in use; the status page and the JSON say which file, since when and why.",
    Kind::Gauge,
);
/// `credprobe_endpoint_last_success_timestamp_seconds`.
pub const ENDPOINT_LAST_SUCCESS: Family = family(
    "credprobe_endpoint_last_success_timestamp_seconds",
    "Time of the last successful call of the endpoint (unix seconds).",
    Kind::Gauge,
);
/// `credprobe_endpoint_phase_seconds`.
pub const ENDPOINT_PHASE: Family = family(
    "credprobe_endpoint_phase_seconds",
    "Where the last call of the endpoint spent its time, by phase (dns, connect, tls, processing, transfer); dns, connect and tls are 0 on a reused connection.",
    Kind::Gauge,
);
/// `credprobe_endpoint_request_duration_seconds`.
pub const ENDPOINT_DURATION: Family = family(
    "credprobe_endpoint_request_duration_seconds",
    "Latency of endpoint calls, from send to the last body byte.",
    Kind::Histogram,
);
/// `credprobe_endpoint_requests_total`.
pub const ENDPOINT_REQUESTS: Family = family(
    "credprobe_endpoint_requests_total",
    "Endpoint calls by result class; result=\"success\" exists from the first cycle, a failure class from its first occurrence.",
    Kind::Counter,
);
/// `credprobe_endpoint_status_code`.
pub const ENDPOINT_STATUS: Family = family(
    "credprobe_endpoint_status_code",
    "HTTP status of the last call, 0 when there was no response.",
    Kind::Gauge,
);
/// `credprobe_endpoint_success`.
pub const ENDPOINT_SUCCESS: Family = family(
    "credprobe_endpoint_success",
    "1 if the last call of the endpoint succeeded, 0 if it failed.",
    Kind::Gauge,
);
/// `credprobe_schedule_lateness_seconds`.
pub const LATENESS: Family = family(
    "credprobe_schedule_lateness_seconds",
    "How late probe cycles start against their schedule; grows when the process is overloaded.",
    Kind::Histogram,
);
/// `credprobe_shard_index`.
pub const SHARD_INDEX: Family = family(
    "credprobe_shard_index",
    "Which shard this process is (--shard.index), from 0.",
    Kind::Gauge,
);
/// `credprobe_shards`.
pub const SHARDS: Family = family(
    "credprobe_shards",
    "How many shards the tenants are split into (--shard.count); not credprobe_shard_count, as a _count suffix is reserved for histograms.",
    Kind::Gauge,
);
/// `credprobe_tenant_info`.
pub const TENANT_INFO: Family = family(
    "credprobe_tenant_info",
    "Always 1; the tenant's configured labels, to join on tenant.",
    Kind::Gauge,
);
/// `credprobe_tenant_success`.
pub const TENANT_SUCCESS: Family = family(
    "credprobe_tenant_success",
    "1 when the tenant's last cycle is healthy (state healthy or warning), 0 when it is failing (credentials rejected, IdP down, permission missing, endpoint failing, rate limited); absent until the first cycle. The status page and the JSON state follow the same rule.",
    Kind::Gauge,
);
/// `credprobe_tenant_interval_seconds`.
pub const INTERVAL: Family = family(
    "credprobe_tenant_interval_seconds",
    "The tenant's configured probe interval.",
    Kind::Gauge,
);
/// `credprobe_tenant_last_cycle_timestamp_seconds`.
pub const CYCLE_LAST: Family = family(
    "credprobe_tenant_last_cycle_timestamp_seconds",
    "When the tenant's last probe cycle finished (unix seconds); stale means the scheduler is stuck.",
    Kind::Gauge,
);
/// `credprobe_tenants`.
pub const TENANTS: Family = family(
    "credprobe_tenants",
    "Tenants probed by this process.",
    Kind::Gauge,
);
/// `credprobe_tls_certificate_expiry_timestamp_seconds`.
pub const TLS_EXPIRY: Family = family(
    "credprobe_tls_certificate_expiry_timestamp_seconds",
    "notAfter of the leaf certificate presented by the token or API host (unix seconds).",
    Kind::Gauge,
);
/// `credprobe_token_expiry_timestamp_seconds`.
pub const TOKEN_EXPIRY: Family = family(
    "credprobe_token_expiry_timestamp_seconds",
    "When the newest token expires (unix seconds); absent when the expiry is unknown.",
    Kind::Gauge,
);
/// `credprobe_token_last_success_timestamp_seconds`.
pub const TOKEN_LAST_SUCCESS: Family = family(
    "credprobe_token_last_success_timestamp_seconds",
    "Time of the last successful token request (unix seconds).",
    Kind::Gauge,
);
/// `credprobe_token_request_duration_seconds`.
pub const TOKEN_DURATION: Family = family(
    "credprobe_token_request_duration_seconds",
    "Latency of token requests, from send to the last body byte.",
    Kind::Histogram,
);
/// `credprobe_token_requests_total`.
pub const TOKEN_REQUESTS: Family = family(
    "credprobe_token_requests_total",
    "Token requests by result class; result=\"success\" exists from the first cycle, a failure class from its first occurrence.",
    Kind::Counter,
);
/// `credprobe_token_phase_seconds`.
pub const TOKEN_PHASE: Family = family(
    "credprobe_token_phase_seconds",
    "Where the last token request spent its time, by phase (dns, connect, tls, processing, transfer); dns, connect and tls are 0 on a reused connection.",
    Kind::Gauge,
);
/// `credprobe_token_rejection_reason`.
pub const TOKEN_REJECTION: Family = family(
    "credprobe_token_rejection_reason",
    "1 for the reason the identity provider gave for rejecting the newest token request (expired, invalid_secret, unknown_client, disabled, other); absent while it is not rejected.",
    Kind::Gauge,
);
/// `credprobe_token_scope_granted`.
pub const TOKEN_SCOPE_GRANTED: Family = family(
    "credprobe_token_scope_granted",
    "1 if the newest token grants the expected scope (expect_scopes), 0 if not; absent until a token says what it grants.",
    Kind::Gauge,
);
/// `credprobe_token_success`.
pub const TOKEN_SUCCESS: Family = family(
    "credprobe_token_success",
    "1 if the last token request succeeded, 0 if it failed.",
    Kind::Gauge,
);
/// `credprobe_token_verified`.
pub const TOKEN_VERIFIED: Family = family(
    "credprobe_token_verified",
    "1 if the newest access token verifies (signature by a published key, iss, exp, nbf, aud), 0 if not (the reason is on the status page and in the JSON; an opaque token is 0); only for tenants with issuer or jwks_url, absent for a Microsoft Graph token (not verifiable by design).",
    Kind::Gauge,
);
/// `credprobe_token_clock_skew_seconds`.
pub const TOKEN_CLOCK_SKEW: Family = family(
    "credprobe_token_clock_skew_seconds",
    "Our receive time of the newest access token minus its iat claim (seconds; negative when the identity provider's clock is ahead); only for tenants with issuer or jwks_url and a JWT with iat.",
    Kind::Gauge,
);
/// `credprobe_scrape_duration_seconds`.
pub const SCRAPE_DURATION: Family = family(
    "credprobe_scrape_duration_seconds",
    "Time to render and compress a /metrics response, by encoding (plain, gzip, protobuf, protobuf_gzip); scrapes that arrive together share one render.",
    Kind::Histogram,
);
/// `credprobe_scrape_response_bytes`.
pub const SCRAPE_BYTES: Family = family(
    "credprobe_scrape_response_bytes",
    "Size of the last /metrics response body, by encoding (plain, gzip, protobuf, protobuf_gzip).",
    Kind::Gauge,
);

/// `credprobe_next_credential_success`.
pub const NEXT_CREDENTIAL_SUCCESS: Family = family(
    "credprobe_next_credential_success",
    "1 if the latest token request with the tenant's next credential (next_client_secret_file or next_client_key_file, a rotation in progress) got a token, 0 if not; only for tenants that configure one.",
    Kind::Gauge,
);

/// Every family credprobe exports, in name order: what the README, the
/// dashboards' and rules' tests and the two writers (tenant series and
/// telemetry) agree on.
pub const FAMILIES: [&Family; 34] = [
    &BUILD_INFO,
    &RELOAD_SUCCESS_TIME,
    &RELOAD_SUCCESSFUL,
    &CREDENTIAL_EXPIRY,
    &CREDENTIAL_FILES_OK,
    &CREDENTIAL_LATEST_EXPIRY,
    &ENDPOINT_LAST_SUCCESS,
    &ENDPOINT_PHASE,
    &ENDPOINT_DURATION,
    &ENDPOINT_REQUESTS,
    &ENDPOINT_STATUS,
    &ENDPOINT_SUCCESS,
    &NEXT_CREDENTIAL_SUCCESS,
    &LATENESS,
    &SCRAPE_DURATION,
    &SCRAPE_BYTES,
    &SHARD_INDEX,
    &SHARDS,
    &TENANT_INFO,
    &INTERVAL,
    &CYCLE_LAST,
    &TENANT_SUCCESS,
    &TENANTS,
    &TLS_EXPIRY,
    &TOKEN_CLOCK_SKEW,
    &TOKEN_EXPIRY,
    &TOKEN_LAST_SUCCESS,
    &TOKEN_PHASE,
    &TOKEN_REJECTION,
    &TOKEN_DURATION,
    &TOKEN_REQUESTS,
    &TOKEN_SCOPE_GRANTED,
    &TOKEN_SUCCESS,
    &TOKEN_VERIFIED,
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn families_are_listed_in_name_order_once_each_with_help() {
        let names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), FAMILIES.len());
        assert!(
            FAMILIES
                .iter()
                .all(|f| !f.help.is_empty() && f.name.starts_with("credprobe_"))
        );
    }
}
