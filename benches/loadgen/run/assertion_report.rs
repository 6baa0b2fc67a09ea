//! The private_key_jwt section of BENCHMARKS.md (also what `bench/run
//! --assertion-only` prints): the cost of signing a client assertion per
//! token request, against client secrets. Pure text, tested by
//! `tests/testsuite/loadgen_run.rs`.

use super::figures::thousands;
use super::results::Assertion;

/// The private_key_jwt section (also what `--assertion-only` prints).
pub fn assertion_section(a: &Assertion) -> String {
    let (s, j) = (&a.secret, &a.jwt);
    format!(
        "
## private_key_jwt: the cost of signing

{n} tenants, each a token request and 2 endpoint calls every {i} s
against a simulator of their own, run twice: with client secrets and with
an RS256 client assertion (2048-bit RSA, ring) signed for every token
request. Each run: one interval of warm-up, then one interval measured.
Raw material: `{dir}/`.

| figure | client secret | private_key_jwt (RS256) |
|---|---:|---:|
| CPU, % of one core | {} % | {} % |
| **CPU-seconds per cycle** (all tenants, one {i} s interval) | {} | {} |
| CPU-ms per token request (with its endpoint calls) | {} | {} |
| token requests measured | {} | {} |
| RSS at the end | {} MiB | {} MiB |
| WARN/ERROR log lines | {} | {} |

Signing adds about **{sign} CPU-ms per tenant per cycle** (the difference of the two runs over {n} tenants).
",
        s.pct,
        j.pct,
        s.cycle,
        j.cycle,
        s.token_ms,
        j.token_ms,
        s.tokens,
        j.tokens,
        s.rss_mib,
        j.rss_mib,
        s.warnings,
        j.warnings,
        n = thousands(a.n),
        i = a.interval,
        dir = a.dir,
        sign = a.sign_ms,
    )
}
