//! Endpoint expectations (status list, body regex, JSON pointer checks) and
//! an answer into the endpoint judge.
//!
//! Input, as text, one part per line, then the body:
//!
//! ```text
//! 200,204                      accepted statuses; `*` or empty: any 2xx
//! "state"                      body regex; `#N`: pattern N of KNOWN; empty: none
//! /state="ok"→!/errors→/data   JSON checks, tab-separated (→ here):
//!                              POINTER=JSON (equals; not JSON: a
//!                              string), !POINTER (absent), POINTER
//!                              (exists)
//! 200                          the answer's status; `+` after it: body cut
//! {"state":"ok"}               the body (the rest of the input)
//! ```
//!
//! A fuzzed regex is compiled with the loader's size limit and skipped if
//! it does not compile, as the loader would refuse it. Checked: no panic;
//! an unlisted status never succeeds; success means every expectation
//! really holds; a failure says why, in words bounded by the expectation's
//! own size (never the body's).

#![no_main]

use credprobe::config::{Expect, JsonCheck, JsonCondition, Pattern};
use credprobe::probe::EndpointResult;
use credprobe::probe::endpoint::judge_answer;
use credprobe::probe::http::Answer;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Patterns seen in real configurations, so the body side gets fuzzed
/// against sensible regexes too.
const KNOWN: [&str; 8] = [
    r#""state""#,
    r#""state"\s*:\s*"ok""#,
    r"^\{",
    r"(?i)healthy|ok",
    r#""data"\s*:\s*\["#,
    r"\d{3,}",
    r"(?s).*",
    r"^$",
];

/// The loader's `body_regex` size limit.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(5, '\n');
    let (Some(statuses), Some(regex), Some(checks), Some(status)) =
        (lines.next(), lines.next(), lines.next(), lines.next())
    else {
        return;
    };
    let body = lines.next().unwrap_or("");
    let Some(expect) = expect(statuses, regex, checks) else {
        return;
    };
    let (digits, over_limit) = match status.strip_suffix('+') {
        Some(digits) => (digits, true),
        None => (status, false),
    };
    let Ok(status) = digits.trim().parse::<u16>() else {
        return;
    };
    let answer = Answer {
        status,
        headers: Default::default(),
        body: body.as_bytes().to_vec(),
        over_limit,
        certificate: None,
    };
    let (result, detail) = judge_answer(&expect, &answer);
    check(&expect, &answer, result, detail.as_deref());
});

fn expect(statuses: &str, regex: &str, checks: &str) -> Option<Expect> {
    let statuses = statuses.trim();
    let status = if statuses.is_empty() || statuses == "*" {
        None
    } else {
        let codes: Result<Vec<u16>, _> = statuses.split(',').map(|s| s.trim().parse()).collect();
        Some(codes.ok()?)
    };
    let body_regex = match regex.strip_prefix('#').map(str::parse::<usize>) {
        _ if regex.is_empty() => None,
        Some(Ok(n)) => Some(regex::Regex::new(KNOWN[n % KNOWN.len()]).unwrap()),
        _ => Some(
            regex::RegexBuilder::new(regex)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .ok()?,
        ),
    };
    let json = checks
        .split('\t')
        .filter(|c| !c.is_empty())
        .map(|c| {
            if let Some(pointer) = c.strip_prefix('!') {
                json_check(pointer, JsonCondition::Exists(false))
            } else if let Some((pointer, want)) = c.split_once('=') {
                let want = serde_json::from_str(want).unwrap_or_else(|_| Value::from(want));
                json_check(pointer, JsonCondition::Equals(want))
            } else {
                json_check(c, JsonCondition::Exists(true))
            }
        })
        .collect();
    Some(Expect {
        status,
        body_regex: body_regex.map(Pattern::from),
        json,
    })
}

fn json_check(pointer: &str, condition: JsonCondition) -> JsonCheck {
    JsonCheck {
        pointer: pointer.to_owned(),
        condition,
    }
}

fn check(expect: &Expect, answer: &Answer, result: EndpointResult, detail: Option<&str>) {
    let listed = match &expect.status {
        Some(list) => list.contains(&answer.status),
        None => (200..300).contains(&answer.status),
    };
    if !listed {
        assert_ne!(
            result,
            EndpointResult::Success,
            "HTTP {} is not listed",
            answer.status
        );
    }
    if result == EndpointResult::Success {
        assert!(detail.is_none());
        assert!(!answer.over_limit, "success with a cut body");
        let text = String::from_utf8_lossy(&answer.body);
        if let Some(re) = &expect.body_regex {
            assert!(re.is_match(&text), "success but the body does not match");
        }
        if !expect.json.is_empty() {
            let value: Value = serde_json::from_slice(&answer.body).expect("success on non-JSON");
            for check in &expect.json {
                let found = value.pointer(&check.pointer);
                match &check.condition {
                    JsonCondition::Exists(true) => assert!(found.is_some()),
                    JsonCondition::Exists(false) => assert!(found.is_none()),
                    JsonCondition::Equals(want) => assert_eq!(found, Some(want)),
                }
            }
        }
        return;
    }
    let detail = detail.expect("a failure says why");
    let own_words: usize = 64
        + expect.body_regex.as_ref().map_or(0, |re| re.as_str().len())
        + expect
            .json
            .iter()
            .map(|c| {
                c.pointer.len()
                    + match &c.condition {
                        JsonCondition::Equals(want) => want.to_string().len(),
                        JsonCondition::Exists(_) => 0,
                    }
            })
            .max()
            .unwrap_or(0);
    assert!(
        detail.len() <= own_words,
        "detail of {} bytes quotes more than the expectation: {detail:?}",
        detail.len()
    );
}
