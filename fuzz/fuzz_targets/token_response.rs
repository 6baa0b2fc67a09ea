//! Token endpoint answers (status + body) into the token classifier.
//!
//! Input, as text: the first line is the HTTP status, with a `+` after it
//! when the body was cut at the size limit (`200`, `400`, `200+`); the rest
//! is the body. `<jwt>CLAIMS</jwt>` in the body is replaced by a JWT whose
//! payload is CLAIMS, so the fuzzer can reach the `exp`/`iat` reading
//! without having to invent base64.
//!
//! Checked: no panic; success only with a non-empty `access_token` that
//! is the body's, a 2xx status and a whole body, and never with a zero
//! lifetime; a failure always says why, in a bounded detail; and the
//! detail does not depend on the access token's value (so it cannot show
//! it): the same body with another token gives the same result and detail.

#![no_main]

use base64::Engine as _;
use credprobe::probe::TokenResult;
use credprobe::probe::http::Answer;
use credprobe::probe::token::{TokenAttempt, classify_token_answer};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use serde_json::Value;

/// The longest detail the classifier may write: its own words plus the
/// bounded bits of upstream text it quotes (an `error` code of at most 64
/// characters, or a `token_type` of at most 32 characters Debug-escaped,
/// up to 10 bytes each as in `\u{10ffff}`).
const MAX_DETAIL: usize = 400;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (first, body) = text.split_once('\n').unwrap_or((&text, ""));
    let (digits, over_limit) = match first.strip_suffix('+') {
        Some(digits) => (digits, true),
        None => (first, false),
    };
    let Ok(status) = digits.trim().parse::<u16>() else {
        return;
    };
    let body = with_jwts(body);
    check(status, body.into_bytes(), over_limit);
});

fn answer(status: u16, body: Vec<u8>, over_limit: bool) -> Answer {
    Answer {
        status,
        headers: Default::default(),
        body,
        over_limit,
        certificate: None,
    }
}

fn check(status: u16, body: Vec<u8>, over_limit: bool) {
    let TokenAttempt { outcome, token, .. } =
        classify_token_answer(&answer(status, body.clone(), over_limit));
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let body_token = parsed
        .as_ref()
        .and_then(|v| v.get("access_token"))
        .and_then(Value::as_str);
    if outcome.result == TokenResult::Success {
        let token = token.expect("success without a token");
        assert!((200..300).contains(&status), "success with HTTP {status}");
        assert!(!over_limit, "success with a cut body");
        assert!(outcome.detail.is_none());
        let sent = token.access_token.expose_secret();
        assert!(!sent.is_empty(), "success with an empty token");
        assert_eq!(Some(sent), body_token, "the token is not the body's");
        if let Some(lifetime) = token.lifetime {
            assert!(!lifetime.is_zero(), "success with a zero lifetime");
        }
    } else {
        assert!(token.is_none(), "a token from a failed request");
        let detail = outcome.detail.as_deref().expect("a failure says why");
        assert!(
            detail.len() <= MAX_DETAIL,
            "detail of {} bytes",
            detail.len()
        );
    }

    // Non-interference: another token of the same shape changes neither
    // the result nor the detail.
    if let Some(mut object) = parsed.and_then(|v| v.as_object().cloned())
        && let Some(Value::String(original)) = object.get("access_token").cloned()
        && !original.is_empty()
    {
        let stand_in = if original.starts_with('Q') { "R" } else { "Q" }.repeat(original.len());
        let a = serde_json::to_vec(&object).unwrap();
        object.insert("access_token".into(), Value::String(stand_in));
        let b = serde_json::to_vec(&object).unwrap();
        let TokenAttempt {
            outcome: with_original,
            ..
        } = classify_token_answer(&answer(status, a, false));
        let TokenAttempt {
            outcome: with_stand_in,
            ..
        } = classify_token_answer(&answer(status, b, false));
        assert_eq!(with_original.result, with_stand_in.result);
        assert_eq!(
            with_original.detail, with_stand_in.detail,
            "the detail depends on the access token"
        );
    }
}

/// Replaces each `<jwt>CLAIMS</jwt>` with `header.base64url(CLAIMS).sig`.
fn with_jwts(body: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("<jwt>") {
        let Some(len) = rest[start + 5..].find("</jwt>") else {
            break;
        };
        let claims = &rest[start + 5..start + 5 + len];
        out.push_str(&rest[..start]);
        out.push_str(&b64.encode(r#"{"alg":"RS256","typ":"JWT"}"#));
        out.push('.');
        out.push_str(&b64.encode(claims));
        out.push_str(".sig");
        rest = &rest[start + 5 + len + 6..];
    }
    out.push_str(rest);
    out
}
