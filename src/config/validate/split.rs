//! The main file's `tenants:` list, one tenant at a time.
//!
//! serde_norway reads a whole document as a list of events before it
//! deserializes anything: for a 50,000-tenant file that list alone is
//! about 150 MiB, more than the running daemon of one shard. Most large
//! files are generated in block style (`tenants:` at the start of a line,
//! then one `- ` item per tenant), and such a list can be cut into its
//! items by their indentation alone; each item is then parsed on its own,
//! validated, and dropped unless this process probes it.
//!
//! The cut is only an optimisation: whatever it cannot cut with certainty
//! (flow style, a list under another key, a line that breaks the item's
//! indentation), and any item that does not parse on its own (an alias of
//! an anchor in another item, say), falls back to parsing the whole
//! document, so errors read the same and every YAML feature works.

/// The main file with its `tenants:` list taken out, and where the list's
/// items are; each item's standalone text is made when it is wanted, so
/// the file is never held twice.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Split<'a> {
    /// The main file with the `tenants:` block blanked out (line numbers
    /// of what remains are unchanged).
    pub(super) rest: String,
    /// The file's lines.
    lines: Vec<&'a str>,
    /// Each item's lines, `[start, end)`.
    ranges: Vec<(usize, usize)>,
    /// The items' indentation plus the `- `: what every line of an item
    /// loses to stand alone.
    cut: usize,
}

impl Split<'_> {
    /// How many items the list has.
    pub(super) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Item `index` as a YAML document of its own (its first line's `-`
    /// turned into a space, every line dedented), with the 1-based line it
    /// starts on; `None` when a line of it is indented less than the
    /// item's content (the cut is then not sure: parse the whole file).
    pub(super) fn item(&self, index: usize) -> Option<(usize, String)> {
        let (start, end) = *self.ranges.get(index)?;
        let mut out = String::new();
        for (i, line) in self.lines[start..end].iter().enumerate() {
            let body = line.trim_end_matches(['\n', '\r']);
            // A comment less indented than the item's content cannot be
            // inside it (a `#` line inside a block scalar is content, and
            // is indented as such): it goes, keeping the line count.
            let outdented_comment = indent(body) < self.cut && body.trim_start().starts_with('#');
            if body.trim().is_empty() || (i > 0 && outdented_comment) {
                out.push('\n');
                continue;
            }
            if i == 0 {
                // The `-` becomes a space: the content keeps its column.
                let dash = self.cut - 2;
                let replaced = format!("{} {}", &body[..dash], &body[dash + 1..]);
                out.push_str(replaced.get(self.cut..).unwrap_or(""));
            } else if indent(body) < self.cut {
                return None;
            } else {
                out.push_str(&body[self.cut..]);
            }
            out.push('\n');
        }
        Some((start + 1, out))
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Cuts `text` at its top-level `tenants:` block list, or says it cannot
/// (`None`: parse the whole document instead).
pub(super) fn split(text: &str) -> Option<Split<'_>> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is_key = |line: &str| {
        let line = line.trim_end();
        line == "tenants:"
            || line
                .strip_prefix("tenants:")
                .is_some_and(|rest| rest.starts_with(' ') && rest.trim_start().starts_with('#'))
    };
    let mut keys = lines.iter().enumerate().filter(|(_, l)| is_key(l));
    let (start, _) = keys.next()?;
    if keys.next().is_some() {
        return None;
    }
    let skippable = |line: &str| {
        let t = line.trim();
        t.is_empty() || t.starts_with('#')
    };
    // The first item fixes the list's indentation.
    let first = (start + 1..lines.len()).find(|&i| !skippable(lines[i]))?;
    let item_indent = indent(lines[first]);
    let is_item = |line: &str| {
        indent(line) == item_indent && {
            let rest = &line[item_indent..];
            rest.starts_with("- ") || rest.trim_end() == "-"
        }
    };
    if !is_item(lines[first]) {
        return None;
    }
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate().skip(first) {
        if line.trim_start_matches(' ').starts_with('\t') {
            return None;
        }
        if is_item(line) {
            if let Some(last) = ranges.last_mut() {
                last.1 = i;
            }
            ranges.push((i, lines.len()));
            continue;
        }
        if skippable(line) {
            continue;
        }
        if indent(line) <= item_indent {
            // The list has ended: the next top-level key, or a document
            // marker, follows.
            end = i;
            break;
        }
    }
    if let Some(last) = ranges.last_mut() {
        last.1 = end;
    }
    let mut rest = String::with_capacity(text.len() / 16);
    for (i, line) in lines.iter().enumerate() {
        if i >= start && i < end {
            rest.push('\n');
        } else {
            rest.push_str(line);
        }
    }
    Some(Split {
        rest,
        lines,
        ranges,
        cut: item_indent + 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::{RawConfig, RawTenant};

    /// What the whole document says, and what the split says, agree.
    fn same_as_whole(text: &str) {
        let whole: RawConfig = serde_norway::from_str(text).unwrap();
        let split = split(text).unwrap_or_else(|| panic!("not split:\n{text}"));
        let mut rest: RawConfig = serde_norway::from_str(&split.rest).unwrap();
        assert!(rest.tenants.is_empty(), "{}", split.rest);
        for index in 0..split.len() {
            let (_, item) = split.item(index).unwrap();
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
        // Items at the key's own indentation, and a list at the end.
        same_as_whole(
            "tenants:\n\
             - name: a\n\
             \x20 token_url: https://login.example/t\n\
             \x20 client_id: c\n\
             \x20 client_secret: s\n\
             -\n\
             \x20 name: b\n\
             \x20 token_url: https://login.example/t\n\
             \x20 client_id: c\n\
             \x20 client_secret: s\n",
        );
    }

    #[test]
    fn the_shipped_examples_split_into_the_same_tenants() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("examples/credprobe.yml")).unwrap();
        same_as_whole(&text);
        let demo = crate::demo::demo_config("http://127.0.0.1:9");
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
            assert_eq!(split(text), None, "{text}");
        }
    }

    #[test]
    fn line_numbers_of_items_and_the_rest_are_kept() {
        let text = "defaults: {}\ntenants:\n  - name: a\n  - name: b\nmax_concurrent_requests: 1\n";
        let split = split(text).unwrap();
        assert_eq!(split.len(), 2);
        assert_eq!(split.item(0), Some((3, "name: a\n".to_owned())));
        assert_eq!(split.item(1), Some((4, "name: b\n".to_owned())));
        assert_eq!(split.item(2), None);
        assert_eq!(
            split.rest,
            "defaults: {}\n\n\n\nmax_concurrent_requests: 1\n"
        );
    }
}
