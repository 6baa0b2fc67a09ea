//! Where a key or an item is in a YAML file, so a problem can name its
//! line.
//!
//! serde_norway gives positions only with its errors, and its
//! [`serde_norway::Value`] has none, yet a problem found after parsing (a
//! bad URL, a duplicate name) must name its line too. This module reads
//! the file's event stream with libyaml (the parser serde_norway itself
//! runs on, `unsafe-libyaml-norway`), one pass, keeping the position of
//! only the paths asked for: `tenants[3].endpoints[0].path` is the key
//! `path` of the first item of `endpoints` of the fourth item of
//! `tenants`. A mapping entry is found at its key, a list item where the
//! item starts. It runs only when there is something to report, so a
//! valid configuration never pays for it.
//!
//! The unsafe code is the few calls into libyaml's C-shaped API, kept here
//! and nowhere else.

use std::collections::{HashMap, HashSet};
use std::mem::MaybeUninit;
use std::ops::Range;

use unsafe_libyaml_norway as unsafe_libyaml;

/// Where a node starts (1-based line and column) and the bytes it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    /// 1-based line of its first character (a mapping entry: its key's).
    pub(crate) line: usize,
    /// 1-based column of that character, counted in characters.
    pub(crate) column: usize,
    /// The node's bytes in the text (a mapping entry: its value's), so it
    /// can be parsed again on its own.
    pub(crate) bytes: Range<usize>,
}

/// The parent of a path: `a.b[2]` -> `a.b` -> `a` -> `` (the document).
pub(crate) fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(path.rfind(['.', '[']).map_or("", |at| &path[..at]))
}

/// `parent` joined with a key (either may be empty: the document, the
/// node itself).
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    match (parent.is_empty(), key.is_empty()) {
        (true, _) => key.to_owned(),
        (false, true) => parent.to_owned(),
        (false, false) => format!("{parent}.{key}"),
    }
}

/// The spans of those `wanted` paths that are in `text`'s first document.
/// A path under an alias is not found (its parent is); a syntax error ends
/// the pass with what was found before it.
pub(crate) fn find(text: &str, wanted: &HashSet<String>) -> HashMap<String, Span> {
    let mut found = HashMap::new();
    if wanted.is_empty() {
        return found;
    }
    let mut events = Events::new(text.as_bytes());
    // The path of the node being read, and the collections open around it.
    let mut path = String::new();
    let mut open: Vec<Frame> = Vec::new();
    while let Some(Event { kind, start, end }) = events.next() {
        match kind {
            Kind::Other => continue,
            Kind::DocumentEnd | Kind::StreamEnd => break,
            Kind::MappingEnd | Kind::SequenceEnd => {
                let Some(frame) = open.pop() else { break };
                if frame.recorded
                    && let Some(span) = found.get_mut(&path)
                {
                    span.bytes.end = end.index;
                }
                if frame.role == Role::ComplexKey {
                    // The key is read; its value comes next.
                    continue;
                }
                node_done(&mut open, &mut path);
                continue;
            }
            _ => {}
        }
        let collection = matches!(kind, Kind::MappingStart | Kind::SequenceStart);
        match open.last_mut() {
            Some(frame) if frame.role == Role::Skipped || frame.role == Role::ComplexKey => {
                if collection {
                    open.push(Frame::new(Role::Skipped, path.len(), false));
                }
                continue;
            }
            Some(frame) if frame.role == Role::Mapping && frame.expect_key => {
                frame.expect_key = false;
                if !path.is_empty() {
                    path.push('.');
                }
                match &kind {
                    Kind::Scalar(key) => path.push_str(key),
                    _ => path.push('?'),
                }
                if wanted.contains(&path) {
                    found.insert(path.clone(), span_at(start, end.index..end.index));
                }
                if collection {
                    open.push(Frame::new(Role::ComplexKey, path.len(), false));
                }
                continue;
            }
            Some(frame) if frame.role == Role::Sequence => {
                path.push_str(&format!("[{}]", frame.next_index));
                frame.next_index += 1;
            }
            // The document's root, or a mapping's value (at its key's path).
            _ => {}
        }
        let recorded = wanted.contains(&path);
        if recorded {
            match found.get_mut(&path) {
                // A mapping's value: found at its key, spanning its own bytes.
                Some(span) => span.bytes = start.index..end.index,
                None => {
                    found.insert(path.clone(), span_at(start, start.index..end.index));
                }
            }
        }
        match kind {
            Kind::MappingStart => open.push(Frame::new(Role::Mapping, path.len(), recorded)),
            Kind::SequenceStart => open.push(Frame::new(Role::Sequence, path.len(), recorded)),
            _ => node_done(&mut open, &mut path),
        }
    }
    found
}

/// After a whole node: back to the path of the collection holding it; a
/// mapping then waits for its next key.
fn node_done(open: &mut [Frame], path: &mut String) {
    let Some(frame) = open.last_mut() else { return };
    match frame.role {
        Role::Mapping => {
            frame.expect_key = true;
            path.truncate(frame.base);
        }
        Role::Sequence => path.truncate(frame.base),
        Role::Skipped | Role::ComplexKey => {}
    }
}

/// What an open collection is to the paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A mapping: keys and values alternate.
    Mapping,
    /// A sequence: items are numbered.
    Sequence,
    /// A collection used as a key, read past.
    ComplexKey,
    /// Inside a complex key, read past.
    Skipped,
}

/// An open mapping or sequence.
struct Frame {
    role: Role,
    /// In a mapping: the next node is a key.
    expect_key: bool,
    /// In a sequence: the index of the next item.
    next_index: usize,
    /// The length of the path of this collection itself.
    base: usize,
    /// Its span was asked for: its end is set when it closes.
    recorded: bool,
}

impl Frame {
    fn new(role: Role, base: usize, recorded: bool) -> Frame {
        Frame {
            role,
            expect_key: true,
            next_index: 0,
            base,
            recorded,
        }
    }
}

fn span_at(mark: Mark, bytes: Range<usize>) -> Span {
    Span {
        line: mark.line + 1,
        column: mark.column + 1,
        bytes,
    }
}

/// A position as libyaml counts it: 0-based line and column, byte index.
#[derive(Debug, Clone, Copy)]
struct Mark {
    index: usize,
    line: usize,
    column: usize,
}

impl From<unsafe_libyaml::yaml_mark_t> for Mark {
    fn from(mark: unsafe_libyaml::yaml_mark_t) -> Mark {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Mark {
            index: size(mark.index),
            line: size(mark.line),
            column: size(mark.column),
        }
    }
}

/// What an event is, as far as paths need to know.
enum Kind {
    Scalar(String),
    Alias,
    MappingStart,
    MappingEnd,
    SequenceStart,
    SequenceEnd,
    DocumentEnd,
    StreamEnd,
    /// Stream and document starts.
    Other,
}

struct Event {
    kind: Kind,
    start: Mark,
    end: Mark,
}

/// libyaml's parser over a borrowed text, boxed so its address (which
/// libyaml keeps pointers into) does not move.
struct Events<'a> {
    parser: Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>>,
    /// The text the parser reads: borrowed for as long as it lives.
    _input: &'a [u8],
    /// Stream end or an error was seen: no more events.
    done: bool,
}

impl<'a> Events<'a> {
    fn new(input: &'a [u8]) -> Events<'a> {
        let mut parser = Box::new(MaybeUninit::<unsafe_libyaml::yaml_parser_t>::uninit());
        let raw = parser.as_mut_ptr();
        // SAFETY: `raw` points to writable memory for a parser, which
        // yaml_parser_initialize zeroes and sets up; the input outlives the
        // parser (it is borrowed for 'a, and the parser is deleted in Drop).
        let ok = unsafe {
            let ok = !unsafe_libyaml::yaml_parser_initialize(raw).fail;
            if ok {
                unsafe_libyaml::yaml_parser_set_encoding(raw, unsafe_libyaml::YAML_UTF8_ENCODING);
                unsafe_libyaml::yaml_parser_set_input_string(
                    raw,
                    input.as_ptr(),
                    input.len() as u64,
                );
            }
            ok
        };
        Events {
            parser,
            _input: input,
            done: !ok,
        }
    }

    fn next(&mut self) -> Option<Event> {
        if self.done {
            return None;
        }
        let mut event = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
        let raw = self.parser.as_mut_ptr();
        // SAFETY: the parser was initialized (else `done`), and `event` is
        // written by yaml_parser_parse before it is read; a scalar's value
        // is `length` bytes owned by the event until yaml_event_delete,
        // copied out before that.
        unsafe {
            if unsafe_libyaml::yaml_parser_parse(raw, event.as_mut_ptr()).fail {
                self.done = true;
                return None;
            }
            let event = event.as_mut_ptr();
            let kind = match (*event).type_ {
                unsafe_libyaml::YAML_SCALAR_EVENT => {
                    let scalar = (*event).data.scalar;
                    let bytes = std::slice::from_raw_parts(scalar.value, scalar.length as usize);
                    Kind::Scalar(String::from_utf8_lossy(bytes).into_owned())
                }
                unsafe_libyaml::YAML_ALIAS_EVENT => Kind::Alias,
                unsafe_libyaml::YAML_MAPPING_START_EVENT => Kind::MappingStart,
                unsafe_libyaml::YAML_MAPPING_END_EVENT => Kind::MappingEnd,
                unsafe_libyaml::YAML_SEQUENCE_START_EVENT => Kind::SequenceStart,
                unsafe_libyaml::YAML_SEQUENCE_END_EVENT => Kind::SequenceEnd,
                unsafe_libyaml::YAML_DOCUMENT_END_EVENT => Kind::DocumentEnd,
                unsafe_libyaml::YAML_STREAM_END_EVENT => Kind::StreamEnd,
                _ => Kind::Other,
            };
            let found = Event {
                kind,
                start: (*event).start_mark.into(),
                end: (*event).end_mark.into(),
            };
            unsafe_libyaml::yaml_event_delete(event);
            if matches!(found.kind, Kind::StreamEnd) {
                self.done = true;
            }
            Some(found)
        }
    }
}

impl Drop for Events<'_> {
    fn drop(&mut self) {
        // SAFETY: initialized in `new` unless that failed (then `done` is
        // set before any event and the parser's memory was zeroed by
        // yaml_parser_initialize, which deleting accepts).
        unsafe { unsafe_libyaml::yaml_parser_delete(self.parser.as_mut_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str, paths: &[&str]) -> Vec<Option<(usize, usize)>> {
        let wanted = paths.iter().map(|p| (*p).to_owned()).collect();
        let found = find(text, &wanted);
        paths
            .iter()
            .map(|p| found.get(*p).map(|s| (s.line, s.column)))
            .collect()
    }

    #[test]
    fn keys_and_items_are_found_at_their_lines() {
        let text = "defaults:\n  interval: 5s\ntenants:\n  - name: a\n    endpoints:\n      - {name: e, path: /x}\n      - name: f\n        path: /y\n  - name: b\n    labels: {team: x}\nmax_concurrent_requests: 3\n";
        assert_eq!(
            lines(
                text,
                &[
                    "defaults.interval",
                    "tenants",
                    "tenants[0]",
                    "tenants[0].name",
                    "tenants[0].endpoints[0].path",
                    "tenants[0].endpoints[1]",
                    "tenants[0].endpoints[1].path",
                    "tenants[1].name",
                    "tenants[1].labels.team",
                    "max_concurrent_requests",
                    "tenants[2]",
                    "tenants[0].nope",
                ]
            ),
            [
                Some((2, 3)),
                Some((3, 1)),
                Some((4, 5)),
                Some((4, 5)),
                Some((6, 19)),
                Some((7, 9)),
                Some((8, 9)),
                Some((9, 5)),
                Some((10, 14)),
                Some((11, 1)),
                None,
                None,
            ]
        );
    }

    #[test]
    fn a_flow_list_and_a_root_list_are_found_too() {
        let text = "tenants: [{name: a, client_id: x},\n  {name: b,\n   client_id: y}]\n";
        assert_eq!(
            lines(text, &["tenants[1]", "tenants[1].client_id"]),
            [Some((2, 3)), Some((3, 4))]
        );
        let text = "- name: a\n- name: b\n  client_id: c\n";
        assert_eq!(lines(text, &["[1].client_id"]), [Some((3, 3))]);
    }

    #[test]
    fn an_item_spans_its_own_bytes() {
        let text = "tenants:\n  - name: a\n    client_id: x\n  - {name: b}\n";
        let wanted = ["tenants[0]".to_owned(), "tenants[1]".to_owned()].into();
        let found = find(text, &wanted);
        let first = &text[found["tenants[0]"].bytes.clone()];
        assert!(
            first.starts_with("name: a\n    client_id: x\n"),
            "{first:?}"
        );
        assert_eq!(&text[found["tenants[1]"].bytes.clone()], "{name: b}");
    }

    #[test]
    fn parents_walk_up_to_the_document() {
        assert_eq!(
            parent("tenants[3].endpoints[0].path"),
            Some("tenants[3].endpoints[0]")
        );
        assert_eq!(
            parent("tenants[3].endpoints[0]"),
            Some("tenants[3].endpoints")
        );
        assert_eq!(parent("tenants"), Some(""));
        assert_eq!(parent(""), None);
    }

    #[test]
    fn broken_yaml_keeps_what_came_before() {
        let text = "a: 1\nb: [unclosed\n";
        assert_eq!(lines(text, &["a", "b"]), [Some((1, 1)), Some((2, 1))]);
    }
}
