//! The per-tenant series, written straight from the tenant records
//! ([`crate::fleet`]) in the text format: kube-state-metrics' design for
//! many object series. A general registry keeps the help text, label names
//! and values with every series (about 30 KiB per tenant here); the
//! records keep counters and histograms compactly and this writes them.
//!
//! The table [`FAMILIES`] says where each family's values come from; the
//! token request and the endpoints share [`StepSeries`], so each kind of
//! step series is written by one piece of code.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::SystemTime;

use super::families::{self as f, Family, Kind};
use super::protobuf::FamilyBuilder;
use super::samples::{ProtoSamples, Samples, TextSamples};
use super::text::{FamilyWriter, le_labels};
use crate::config::Tenant;
use crate::fleet::{self, StepRecord, TenantRecord, TenantState};
use crate::probe::{EndpointResult, ResultClass, TokenResult};
use crate::unix_time::unix_seconds;
use crate::views::health::{self, Assessment};

/// One kind of series every step (token request or endpoint) has.
#[derive(Debug, Clone, Copy)]
pub enum StepSeries {
    /// When the step last succeeded.
    LastSuccess,
    /// The latency histogram.
    Duration,
    /// Where the last request's time went, one series per phase.
    Phases,
    /// Results by class: `success` from the first cycle, a failure class
    /// from its first occurrence (the lean contract: most classes never
    /// happen to most tenants, and a series that is always 0 still costs
    /// Prometheus a series).
    Requests,
    /// The last HTTP status, 0 when there was no answer.
    Status,
    /// 1 if the last result was success.
    Success,
}

/// Where a tenant family's values come from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// A series of the token request, labelled `tenant`.
    Token(StepSeries),
    /// A series of each endpoint, labelled `tenant` and `endpoint`.
    Endpoint(StepSeries),
    /// One gauge per tenant, absent while `None`.
    Gauge(fn(&Tenant, &TenantState) -> Option<f64>),
    /// credprobe_tenant_success: the one state rule ([`Assessment`]).
    Success,
    /// credprobe_tenant_info: the configured labels.
    Info,
    /// One series per TLS host seen.
    Tls,
    /// The newest token request's rejection reason, while it is rejected.
    Rejection,
    /// One series per expected scope, once a token said what it grants.
    Scopes,
}

/// Every per-tenant family in name order, with its source.
pub const FAMILIES: [(&Family, Source); 25] = [
    (&f::CREDENTIAL_EXPIRY, Source::Gauge(credential_expiry)),
    (&f::CREDENTIAL_FILES_OK, Source::Gauge(credential_files_ok)),
    (
        &f::CREDENTIAL_LATEST_EXPIRY,
        Source::Gauge(credential_latest_expiry),
    ),
    (
        &f::ENDPOINT_LAST_SUCCESS,
        Source::Endpoint(StepSeries::LastSuccess),
    ),
    (&f::ENDPOINT_PHASE, Source::Endpoint(StepSeries::Phases)),
    (
        &f::ENDPOINT_DURATION,
        Source::Endpoint(StepSeries::Duration),
    ),
    (
        &f::ENDPOINT_REQUESTS,
        Source::Endpoint(StepSeries::Requests),
    ),
    (&f::ENDPOINT_STATUS, Source::Endpoint(StepSeries::Status)),
    (&f::ENDPOINT_SUCCESS, Source::Endpoint(StepSeries::Success)),
    (
        &f::NEXT_CREDENTIAL_SUCCESS,
        Source::Gauge(next_credential_success),
    ),
    (&f::TENANT_INFO, Source::Info),
    (&f::INTERVAL, Source::Gauge(interval)),
    (&f::CYCLE_LAST, Source::Gauge(last_cycle)),
    (&f::TENANT_SUCCESS, Source::Success),
    (&f::TLS_EXPIRY, Source::Tls),
    (&f::TOKEN_CLOCK_SKEW, Source::Gauge(token_clock_skew)),
    (&f::TOKEN_EXPIRY, Source::Gauge(token_expiry)),
    (
        &f::TOKEN_LAST_SUCCESS,
        Source::Token(StepSeries::LastSuccess),
    ),
    (&f::TOKEN_PHASE, Source::Token(StepSeries::Phases)),
    (&f::TOKEN_REJECTION, Source::Rejection),
    (&f::TOKEN_DURATION, Source::Token(StepSeries::Duration)),
    (&f::TOKEN_REQUESTS, Source::Token(StepSeries::Requests)),
    (&f::TOKEN_SCOPE_GRANTED, Source::Scopes),
    (&f::TOKEN_SUCCESS, Source::Token(StepSeries::Success)),
    (&f::TOKEN_VERIFIED, Source::Gauge(token_verified)),
];

fn credential_expiry(tenant: &Tenant, state: &TenantState) -> Option<f64> {
    state.credential_expiry(tenant).map(unix_seconds)
}

/// Only tenants with the credential inventory, once Graph listed a
/// credential: no series for the others.
fn credential_latest_expiry(_: &Tenant, state: &TenantState) -> Option<f64> {
    state.latest_credential_expiry().map(unix_seconds)
}

/// 1 while every credential file can be used, by the one rule the state's
/// warning and the views read ([`health::credential_file_problem`]).
fn credential_files_ok(tenant: &Tenant, _: &TenantState) -> Option<f64> {
    Some(f64::from(u8::from(
        health::credential_file_problem(tenant).is_none(),
    )))
}

/// Only tenants with a next credential, once it was tried: no series for
/// the others.
fn next_credential_success(tenant: &Tenant, state: &TenantState) -> Option<f64> {
    tenant.token.next_credential.as_ref()?;
    let next = state.next_credential.as_ref()?;
    Some(f64::from(u8::from(next.last.result.is_success())))
}

fn interval(tenant: &Tenant, _: &TenantState) -> Option<f64> {
    Some(tenant.interval.as_secs_f64())
}

fn last_cycle(_: &Tenant, state: &TenantState) -> Option<f64> {
    state.last_cycle_at.map(unix_seconds)
}

fn token_expiry(_: &Tenant, state: &TenantState) -> Option<f64> {
    state.grant.as_ref()?.expires_at.map(unix_seconds)
}

/// 1/0 for the newest token's verification: only tenants that verify
/// tokens have it, and not for a token not meant to be verified.
fn token_verified(tenant: &Tenant, state: &TenantState) -> Option<f64> {
    tenant.verification.as_ref()?;
    let verified = state.verification.as_ref()?.verified?;
    Some(f64::from(u8::from(verified)))
}

/// Our receive time minus the newest token's `iat`, when verifying.
fn token_clock_skew(tenant: &Tenant, state: &TenantState) -> Option<f64> {
    tenant.verification.as_ref()?;
    state
        .verification
        .as_ref()?
        .clock_skew_seconds
        .map(|skew| skew as f64)
}

/// What every family's writing shares, computed once per render.
struct Shared<'a> {
    /// Result class indexes in label value order, per kind of step.
    token_order: Vec<usize>,
    endpoint_order: Vec<usize>,
    /// Label names of credprobe_tenant_info.
    info_keys: Vec<&'a str>,
    /// The render's time, for the state rule (credential expiry).
    now: SystemTime,
}

impl<'a> Shared<'a> {
    fn of(records: &'a [Arc<TenantRecord>]) -> Shared<'a> {
        Shared {
            token_order: label_order::<TokenResult>(),
            endpoint_order: label_order::<EndpointResult>(),
            info_keys: fleet::label_keys(records),
            now: SystemTime::now(),
        }
    }
}

/// Writes every per-tenant family of `records` (in tenant name order) to
/// `out` in the text format, families in name order, series in label
/// order.
///
/// Each tenant is locked only while its few lines are written into a
/// small scratch buffer; `out` (which may compress, or grow a large
/// buffer) gets them after the lock is released, so probes keep recording
/// while a large fleet is rendered. Each family is one pass over the
/// tenants, so a scrape that overlaps a probe may show a counter already
/// incremented beside a gauge from the cycle before; each series,
/// histograms included, is consistent in itself.
pub fn write<W: Write>(
    records: &[Arc<TenantRecord>],
    buckets: &[f64],
    out: &mut W,
) -> io::Result<()> {
    let shared = Shared::of(records);
    let le = le_labels(buckets);
    let mut scratch = Vec::with_capacity(4096);
    for (family, source) in FAMILIES {
        let mut started = false;
        for record in records {
            scratch.clear();
            record.read(|state| {
                let mut samples = TextSamples {
                    writer: FamilyWriter::resume(&mut scratch, family, started),
                    le: &le,
                };
                write_tenant(&mut samples, record, state, source, &shared)?;
                started = samples.writer.started();
                io::Result::Ok(())
            })?;
            out.write_all(&scratch)?;
        }
    }
    Ok(())
}

/// The same series in the protobuf format, each latency histogram native
/// and classic at once: one length-delimited `MetricFamily` per family
/// that has samples, families in name order. Each family's encoded bytes
/// are built up tenant by tenant (each locked only while it is encoded)
/// and written once the family is complete, as the format puts each
/// family's length first.
pub fn write_protobuf<W: Write>(
    records: &[Arc<TenantRecord>],
    buckets: &[f64],
    out: &mut W,
) -> io::Result<()> {
    let shared = Shared::of(records);
    for (family, source) in FAMILIES {
        let mut builder = FamilyBuilder::new(family);
        for record in records {
            record.read(|state| {
                let mut samples = ProtoSamples {
                    builder: &mut builder,
                    counter: family.kind == Kind::Counter,
                    bounds: buckets,
                };
                write_tenant(&mut samples, record, state, source, &shared)
            })?;
        }
        builder.write_delimited(out)?;
    }
    Ok(())
}

fn write_tenant<S: Samples>(
    w: &mut S,
    record: &TenantRecord,
    state: &TenantState,
    source: Source,
    shared: &Shared<'_>,
) -> io::Result<()> {
    let tenant = record.tenant();
    let name = tenant.name.as_str();
    match source {
        Source::Token(StepSeries::Phases) | Source::Endpoint(StepSeries::Phases)
            if !tenant.phase_metrics =>
        {
            Ok(())
        }
        Source::Token(series) => write_step(
            w,
            &[("tenant", name)],
            &state.token,
            series,
            &shared.token_order,
        ),
        Source::Endpoint(series) => {
            for &i in record.endpoint_order() {
                let labels = [
                    ("tenant", name),
                    ("endpoint", tenant.endpoints[i].name.as_str()),
                ];
                write_step(
                    w,
                    &labels,
                    &state.endpoints[i],
                    series,
                    &shared.endpoint_order,
                )?;
            }
            Ok(())
        }
        Source::Gauge(value) => match value(tenant, state) {
            Some(value) => w.sample(&[("tenant", name)], None, value),
            None => Ok(()),
        },
        Source::Success => {
            match Assessment::of(tenant, state, shared.now)
                .state
                .success_value()
            {
                Some(value) => w.sample(&[("tenant", name)], None, f64::from(value)),
                None => Ok(()),
            }
        }
        Source::Info => {
            let mut labels = Vec::with_capacity(shared.info_keys.len() + 1);
            labels.push(("tenant", name));
            for key in &shared.info_keys {
                labels.push((key, tenant.labels.get(*key).map_or("", String::as_str)));
            }
            w.sample(&labels, None, 1.0)
        }
        Source::Tls => {
            for (host, not_after) in &state.tls_expiry {
                w.sample(&[("tenant", name), ("host", host)], None, *not_after as f64)?;
            }
            Ok(())
        }
        Source::Rejection => match state.rejection {
            Some(reason) => w.sample(&[("tenant", name), ("reason", reason.as_str())], None, 1.0),
            None => Ok(()),
        },
        Source::Scopes => {
            let Some(grant) = state.grant.as_ref() else {
                return Ok(());
            };
            for scope in &tenant.expect_scopes {
                if let Some(has) = grant.grants(scope) {
                    w.sample(
                        &[("tenant", name), ("scope", scope)],
                        None,
                        f64::from(u8::from(has)),
                    )?;
                }
            }
            Ok(())
        }
    }
}

/// One step's series of one kind; `order` lists result class indexes in
/// label value order.
fn write_step<S: Samples, R: ResultClass>(
    w: &mut S,
    labels: &[(&str, &str)],
    step: &StepRecord<R>,
    series: StepSeries,
    order: &[usize],
) -> io::Result<()> {
    match series {
        StepSeries::LastSuccess => match step.last_success_at {
            Some(at) => w.sample(labels, None, unix_seconds(at)),
            None => Ok(()),
        },
        StepSeries::Duration => match &step.duration {
            Some(h) => w.histogram(labels, h),
            None => Ok(()),
        },
        StepSeries::Phases => {
            let Some(phases) = step.last.as_ref().and_then(|last| last.phases.as_ref()) else {
                return Ok(());
            };
            for (phase, took) in phases.named() {
                w.sample(labels, Some(("phase", phase.as_str())), took.as_secs_f64())?;
            }
            Ok(())
        }
        StepSeries::Requests => {
            if step.last.is_none() {
                return Ok(());
            }
            let counts = step.counts.as_ref();
            for &i in order {
                if counts[i] > 0 || R::ALL[i].is_success() {
                    w.sample(
                        labels,
                        Some(("result", R::ALL[i].as_str())),
                        counts[i] as f64,
                    )?;
                }
            }
            Ok(())
        }
        StepSeries::Status => match &step.last {
            Some(last) => w.sample(labels, None, f64::from(last.status.unwrap_or(0))),
            None => Ok(()),
        },
        StepSeries::Success => match &step.last {
            Some(last) => w.sample(labels, None, f64::from(u8::from(last.result.is_success()))),
            None => Ok(()),
        },
    }
}

/// Indexes of `R::ALL` in the order of their label values.
fn label_order<R: ResultClass>() -> Vec<usize> {
    let mut order: Vec<usize> = (0..R::ALL.len()).collect();
    order.sort_by_key(|&i| R::ALL[i].as_str());
    order
}
