//! The main file's `tenants:` list, one tenant at a time.
//!
//! serde_norway reads a whole document as a list of events before it
//! deserializes anything: for a 50,000-tenant file that list alone is
//! about 150 MiB, more than the running daemon of one shard. Most large
//! files are generated in block style (`tenants:` at the start of a line,
//! then one `- ` item per tenant), and such a list can be cut into its
//! items by their indentation alone; each item is then parsed on its own,
//! checked, and dropped unless this process probes it. The file is read
//! twice, line by line (once to find the list, once to hand its items
//! on), so not even its text is held whole.
//!
//! The cut is only an optimisation: whatever it cannot cut with certainty
//! (flow style, a list under another key, a tab, a line that breaks the
//! item's indentation), and any item that does not parse on its own (an
//! alias of an anchor in another item, say), falls back to parsing the
//! whole document, so errors read the same and every YAML feature works.

use std::io;

/// Where a cuttable `tenants:` list is, in lines counted from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Layout {
    /// The `tenants:` line.
    key: usize,
    /// The first line after the list (the file's end when it ends there).
    end: usize,
    /// The items' indentation: each starts with `-` in this column.
    item_indent: usize,
}

/// An item of the list cannot stand alone (the caller parses whole
/// documents instead).
#[derive(Debug)]
pub(super) struct Uncut;

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Blank or a comment.
fn skippable(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// `tenants:` alone on a line at column 0 (a comment may follow).
fn is_key(line: &str) -> bool {
    let line = line.trim_end();
    line == "tenants:"
        || line
            .strip_prefix("tenants:")
            .is_some_and(|rest| rest.starts_with(' ') && rest.trim_start().starts_with('#'))
}

/// Finds a top-level `tenants:` block list in `lines` (as `str::lines` or
/// `BufRead::lines` split them) and makes the file without it (the list's
/// lines blank, so line numbers of what remains are unchanged), or says
/// it cannot (`None`).
pub(super) fn layout<S: AsRef<str>>(lines: impl Iterator<Item = S>) -> Option<(Layout, String)> {
    let mut key = None;
    let mut item_indent = None;
    let mut end = None;
    let mut count = 0;
    let mut rest = String::new();
    for (i, line) in lines.enumerate() {
        let line = line.as_ref();
        count = i + 1;
        if key.is_none() || end.is_some() {
            rest.push_str(line);
        }
        rest.push('\n');
        if is_key(line) {
            if key.is_some() {
                return None;
            }
            key = Some(i);
            rest.truncate(rest.len() - line.len() - 1);
            rest.push('\n');
            continue;
        }
        let Some(_) = key else { continue };
        if end.is_some() || skippable(line) {
            continue;
        }
        if line.trim_start_matches(' ').starts_with('\t') {
            return None;
        }
        match item_indent {
            None => {
                let at = indent(line);
                if !is_item(line, at) {
                    return None;
                }
                item_indent = Some(at);
            }
            Some(at) if is_item(line, at) => {}
            // The list has ended: the next top-level key, or a document
            // marker, follows (and is part of the rest).
            Some(at) if indent(line) <= at => {
                end = Some(i);
                rest.pop();
                rest.push_str(line);
                rest.push('\n');
            }
            Some(_) => {}
        }
    }
    let layout = Layout {
        key: key?,
        end: end.unwrap_or(count),
        item_indent: item_indent?,
    };
    Some((layout, rest))
}

fn is_item(line: &str, at: usize) -> bool {
    indent(line) == at && {
        let rest = &line[at..];
        rest.starts_with("- ") || rest.trim_end() == "-"
    }
}

/// Hands each item of the list to `each` as a YAML document of its own
/// (its `-` turned into a space, every line dedented), with the 1-based
/// line it starts on. `Err(Uncut)` when a line of an item is indented less
/// than the item's content, when reading fails, or when `each` says so.
pub(super) fn each_item<S: AsRef<str>>(
    lines: impl Iterator<Item = io::Result<S>>,
    layout: &Layout,
    mut each: impl FnMut(usize, &str) -> Result<(), Uncut>,
) -> Result<(), Uncut> {
    let cut = layout.item_indent + 2;
    let mut current: Option<(usize, String)> = None;
    for (i, line) in lines.enumerate() {
        let line = line.map_err(|_| Uncut)?;
        let line = line.as_ref();
        if i <= layout.key {
            continue;
        }
        if i >= layout.end {
            break;
        }
        let body = line.trim_end_matches('\r');
        if is_item(body, layout.item_indent) {
            if let Some((start, text)) = current.take() {
                each(start, &text)?;
            }
            // The `-` becomes a space: the content keeps its column.
            let dash = layout.item_indent;
            let replaced = format!("{} {}", &body[..dash], &body[dash + 1..]);
            let mut text = replaced.get(cut..).unwrap_or("").to_owned();
            text.push('\n');
            current = Some((i + 1, text));
            continue;
        }
        let Some((_, text)) = current.as_mut() else {
            continue;
        };
        // A comment less indented than the item's content cannot be inside
        // it (a `#` line inside a block scalar is content, and is indented
        // as such): it goes, keeping the line count.
        let outdented = indent(body) < cut;
        if body.trim().is_empty() || (outdented && body.trim_start().starts_with('#')) {
            text.push('\n');
            continue;
        }
        if outdented {
            return Err(Uncut);
        }
        text.push_str(&body[cut..]);
        text.push('\n');
    }
    if let Some((start, text)) = current {
        each(start, &text)?;
    }
    Ok(())
}

/// Every item of `text`'s list, as [`each_item`] makes them (for tests).
#[cfg(test)]
fn items(text: &str) -> Option<Vec<(usize, String)>> {
    let (layout, _) = layout(text.lines())?;
    let mut items = Vec::new();
    each_item(text.lines().map(Ok), &layout, |start, item| {
        items.push((start, item.to_owned()));
        Ok(())
    })
    .ok()?;
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::{RawConfig, RawTenant};

    /// What the whole document says, and what the cut says, agree.
    fn same_as_whole(text: &str) {
        let whole: RawConfig = serde_norway::from_str(text).unwrap();
        let (_, rest_text) = layout(text.lines()).unwrap_or_else(|| panic!("not cut:\n{text}"));
        let mut rest: RawConfig = serde_norway::from_str(&rest_text).unwrap();
        assert!(rest.tenants.is_empty(), "{rest_text}");
        for (_, item) in items(text).unwrap() {
            let tenant: RawTenant =
                serde_norway::from_str(&item).unwrap_or_else(|e| panic!("{e}\n---\n{item}"));
            rest.tenants.push(tenant);
        }
        assert_eq!(rest, whole, "{text}");
    }

    #[test]
    fn block_lists_split_into_the_same_tenants() {
        same_as_whole(
            "defaults: {interval: 30s}\n\
             tenants:\n\
             \x20 - name: a\n\
             \x20   labels: {customer: x}\n\
             \x20   token_url: https://login.example/t   # comment\n\
             \x20   client_id: c\n\
             \x20   client_secret: s\n\
             \n\
             \x20   # a comment inside an item\n\
             \x20   endpoints:\n\
             \x20     - {name: w, path: /w}\n\
             \x20     - name: r\n\
             \x20       path: /r\n\
             \x20       expect:\n\
             \x20         body_regex: |\n\
             \x20           multi\n\
             \x20           # not a comment: part of the pattern\n\
             \x20           line\n\
             # a comment at the start of a line, between two items\n\
             \x20 - {name: b, token_url: 'https://login.example/t', client_id: c, client_secret: s}\n\
             \x20 -   name: c\n\
             \x20     token_url: https://login.example/t\n\
             \x20     client_id: c\n\
             \x20     client_secret: s\n\
             max_concurrent_requests: 7\n",
        );
        // Items at the key's own indentation, CRLF line ends, a list at
        // the end of a file without a final newline.
        same_as_whole(
            "tenants:\r\n\
             - name: a\r\n\
             \x20 token_url: https://login.example/t\r\n\
             \x20 client_id: c\r\n\
             \x20 client_secret: s\r\n\
             -\r\n\
             \x20 name: b\r\n\
             \x20 token_url: https://login.example/t\r\n\
             \x20 client_id: c\r\n\
             \x20 client_secret: s",
        );
    }

    #[test]
    fn the_shipped_examples_split_into_the_same_tenants() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("examples/credprobe.yml")).unwrap();
        same_as_whole(&text);
        let demo = crate::demo::demo_config(
            "http://127.0.0.1:9",
            "https://127.0.0.1:10",
            std::path::Path::new("/keys"),
        );
        same_as_whole(&demo);
    }

    #[test]
    fn what_cannot_be_cut_surely_is_not_cut() {
        for text in [
            "tenants: [{name: a}]\n",
            "tenants:\n  name: a\n",
            "x:\n  tenants:\n    - name: a\n",
            "tenants:\n  - name: a\ntenants:\n  - name: b\n",
            "tenants:\n  - name: a\n\tclient_id: c\n",
        ] {
            assert_eq!(layout(text.lines()), None, "{text}");
        }
        // An item line less indented than the item's content.
        assert_eq!(items("tenants:\n  - name: a\n   client_id: c\n"), None);
    }

    #[test]
    fn line_numbers_of_items_and_the_rest_are_kept() {
        let text = "defaults: {}\ntenants:\n  - name: a\n  - name: b\nmax_concurrent_requests: 1\n";
        assert_eq!(
            items(text).unwrap(),
            [(3, "name: a\n".to_owned()), (4, "name: b\n".to_owned())]
        );
        let (_, rest) = layout(text.lines()).unwrap();
        assert_eq!(rest, "defaults: {}\n\n\n\nmax_concurrent_requests: 1\n");
    }
}
