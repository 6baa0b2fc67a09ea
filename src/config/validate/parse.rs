//! Parsing that reports every mistake, each with its line: the tenants of
//! a document are parsed one at a time, so one tenant's mistake hides no
//! other's, and a parse error becomes a problem naming its file, line,
//! tenant and field, with a suggestion for a mistyped key.
//!
//! serde_norway's errors carry their line and their path in the document
//! being parsed; a tenant is parsed first from the document's value (fast,
//! but without positions) and only when that fails again from its own
//! text, found by [`crate::config::locate`], for the error's position.

use std::path::Path;

use serde::Deserialize as _;
use serde_norway::Value;

use crate::config::Problems;
use crate::config::locate::{self, key_path};
use crate::config::raw::RawTenant;

/// What a tenant of a file parsed to.
pub(super) enum Parsed {
    /// Its settings, to be checked (boxed: a tenant is large beside a
    /// name).
    Tenant(Box<RawTenant>),
    /// Its problem is reported; its name, when readable, still counts
    /// among the names (a duplicate of it is a problem too).
    Broken(Option<String>),
}

/// The tenant's name as written, if it is text.
fn name_of(value: &Value) -> Option<String> {
    value.get("name").and_then(Value::as_str).map(str::to_owned)
}

/// Each item of a document's tenant list (`list`: `tenants` or `` for a
/// document that is a list), with its path (`tenants[3]`).
pub(super) fn tenants(
    text: &str,
    file: &Path,
    list: &str,
    values: Vec<Value>,
    problems: &mut Problems,
) -> Vec<(String, Parsed)> {
    let mut parsed = Vec::with_capacity(values.len());
    let mut failed = Vec::new();
    for (i, value) in values.into_iter().enumerate() {
        let at = format!("{list}[{i}]");
        match RawTenant::deserialize(&value) {
            Ok(tenant) => parsed.push((at, Parsed::Tenant(Box::new(tenant)))),
            Err(error) => {
                failed.push((parsed.len(), value, error));
                parsed.push((at, Parsed::Broken(None)));
            }
        }
    }
    if failed.is_empty() {
        return parsed;
    }
    let wanted = failed.iter().map(|(i, ..)| parsed[*i].0.clone()).collect();
    let spans = locate::find(text, &wanted);
    for (i, value, error) in failed {
        let (at, slot) = &mut parsed[i];
        let name = name_of(&value);
        // The item's own text, its first line indented as in the file, so
        // it parses alone and its error says where.
        let located = spans.get(at.as_str()).and_then(|span| {
            let item = text.get(span.bytes.clone())?;
            let alone = format!("{}{item}", " ".repeat(span.column - 1));
            let error = serde_norway::from_str::<RawTenant>(&alone).err()?;
            error.location()?;
            Some((error, span.line - 1))
        });
        match located {
            Some((error, before)) => report(problems, file, &error, at, name.as_deref(), before),
            None => {
                let (field, message) = describe(&error);
                let place = key_path(at, &field);
                let field = if name.is_some() { field } else { place.clone() };
                problems.push_in(file, place, name.as_deref(), field, message);
            }
        }
        *slot = Parsed::Broken(name);
    }
    parsed
}

/// A document that is one tenant, at `at` in its file.
pub(super) fn tenant(text: &str, file: &Path, at: &str, problems: &mut Problems) -> Parsed {
    match serde_norway::from_str::<RawTenant>(text) {
        Ok(tenant) => Parsed::Tenant(Box::new(tenant)),
        Err(error) => {
            let name = serde_norway::from_str::<Value>(text)
                .ok()
                .as_ref()
                .and_then(name_of);
            report(problems, file, &error, at, name.as_deref(), 0);
            Parsed::Broken(name)
        }
    }
}

/// A parse error of the node at `at` in `file` (a tenant's, named
/// `tenant` when its name could be read), whose text starts after line
/// `before` of the file.
pub(super) fn report(
    problems: &mut Problems,
    file: &Path,
    error: &serde_norway::Error,
    at: &str,
    tenant: Option<&str>,
    before: usize,
) {
    let (field, message) = describe(error);
    // Without a name, the field says which tenant: `tenants[3].interval`.
    let field = if tenant.is_some() {
        field
    } else {
        key_path(at, &field)
    };
    match error.location() {
        Some(location) => {
            let line = Some(before + location.line());
            problems.push_at(file, line, tenant, field, message);
        }
        None => problems.push_in(file, at.to_owned(), tenant, field, message),
    }
}

/// An error's field (its path in the parsed node, the unknown key itself
/// for an unknown field) and message, without the position serde_norway
/// appends (the problem shows its line).
pub(super) fn describe(error: &serde_norway::Error) -> (String, String) {
    let mut text = error.to_string();
    if let Some(location) = error.location() {
        let suffix = format!(" at line {} column {}", location.line(), location.column());
        if let Some(kept) = text.strip_suffix(&suffix) {
            text = kept.to_owned();
        }
    }
    let (path, message) = match text.split_once(": ") {
        Some((path, message)) if is_path(path) => (path.to_owned(), message.to_owned()),
        _ => (String::new(), text),
    };
    match unknown_field(&message) {
        Some((name, suggestion)) => {
            let message = match suggestion {
                Some(known) => format!("unknown field `{name}`, did you mean `{known}`?"),
                None => format!("unknown field `{name}`"),
            };
            (key_path(&path, &name), message)
        }
        None => (path, message),
    }
}

/// serde_norway's path of a node: `endpoints[0].expect`.
fn is_path(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']'))
}

/// serde's `unknown field `X`, expected one of `a`, `b`` (or `expected
/// `a` or `b``, or `there are no fields`): the key, and the known one it
/// was most likely meant to be.
fn unknown_field(message: &str) -> Option<(String, Option<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, known) = rest.split_once('`')?;
    let known: Vec<&str> = known.split('`').skip(1).step_by(2).collect();
    Some((name.to_owned(), closest(name, &known).map(str::to_owned)))
}

/// The known name closest to `typed` in edit distance (a swap of two
/// neighbours counts as one edit), when it is close enough to be what was
/// meant: at most a third of its length, and at most 3 edits.
pub(super) fn closest<'a>(typed: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (typed.chars().count() / 3).clamp(1, 3);
    known
        .iter()
        .map(|k| (edit_distance(&typed.to_lowercase(), k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance: insertions, deletions,
/// substitutions and swaps of neighbours, each one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_answered_with_the_one_field_meant() {
        let known = [
            "client_secret",
            "client_secret_file",
            "client_secret_env",
            "interval",
        ];
        assert_eq!(
            closest("client_secert_file", &known),
            Some("client_secret_file")
        );
        assert_eq!(closest("intervall", &known), Some("interval"));
        assert_eq!(closest("Interval", &known), Some("interval"));
        assert_eq!(closest("colour", &known), None);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn an_unknown_field_names_itself_and_not_every_field() {
        let error = serde_norway::from_str::<RawTenant>(
            "name: a\nendpoints:\n  - name: e\n    pathh: /x\n",
        )
        .unwrap_err();
        assert_eq!(
            describe(&error),
            (
                "endpoints[0].pathh".to_owned(),
                "unknown field `pathh`, did you mean `path`?".to_owned()
            )
        );
        let error = serde_norway::from_str::<RawTenant>("name: a\nzzzzzz: 1\n").unwrap_err();
        assert_eq!(
            describe(&error),
            ("zzzzzz".to_owned(), "unknown field `zzzzzz`".to_owned())
        );
        let error =
            serde_norway::from_str::<RawTenant>("name: a\ninterval: 5 parsecs\n").unwrap_err();
        assert_eq!(
            describe(&error),
            (
                "interval".to_owned(),
                "invalid value: string \"5 parsecs\", expected a duration".to_owned()
            )
        );
    }
}
