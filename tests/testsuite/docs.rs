//! The documents cannot go stale where the code can say what is true:
//!
//! - docs/metrics.md's table lists exactly the exported families
//!   (`credprobe::metrics::FAMILIES`), each with its type and an example
//!   query that names it;
//! - the README's demo sentence and table name exactly the tenants a real
//!   `credprobe demo` probes, at the interval it probes them, and the demo
//!   figures the table quotes are the demo scenario's;
//! - docs/command-line.md's command and flag tables are what the real
//!   binary's `--help` lists, command by command, with its defaults, and
//!   every `credprobe` command line in a code block of README.md or
//!   docs/*.md uses only flags that command takes;
//! - every relative link of README.md and docs/*.md leads to a file that
//!   exists and, with a `#fragment`, to a heading of that file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::examples::documents;
use crate::support;

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(crate_root().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The lines of `markdown` between the heading line `heading` and the next
/// heading of the same or a higher level, outside code blocks.
fn section<'a>(markdown: &'a str, heading: &str) -> Vec<&'a str> {
    let level = heading.chars().take_while(|&c| c == '#').count();
    let mut lines = Vec::new();
    let mut inside = false;
    let mut fenced = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if !fenced && line.starts_with('#') {
            let this = line.chars().take_while(|&c| c == '#').count();
            if inside && this <= level {
                break;
            }
            if line == heading {
                inside = true;
                continue;
            }
        }
        if inside {
            lines.push(line);
        }
    }
    lines
}

/// The cells of a table row (`| a | b |`), trimmed; `\|` stays inside a cell.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => cells.push(String::new()),
            _ => cells.last_mut().unwrap().push(c),
        }
    }
    cells.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// The body rows of the tables in `lines` whose first cell starts with a
/// backtick: the cells of each.
fn table_rows(lines: &[&str]) -> Vec<Vec<String>> {
    lines
        .iter()
        .filter(|line| line.starts_with("| `"))
        .map(|line| cells(line))
        .collect()
}

/// The words in backticks in `text`.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

// ---- metrics ---------------------------------------------------------------

const METRICS_DOC: &str = "docs/metrics.md";
const METRICS_HEADING: &str = "## Every series";

#[test]
fn metric_table_is_the_exported_families() {
    let doc = read(METRICS_DOC);
    let rows = table_rows(&section(&doc, METRICS_HEADING));
    let mut documented = BTreeMap::new();
    for row in &rows {
        let name = code_spans(&row[0])
            .first()
            .copied()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            row.len(),
            5,
            "{METRICS_DOC}: the row of {name} needs 5 cells: {row:?}"
        );
        assert!(
            documented.insert(name.clone(), row.clone()).is_none(),
            "{METRICS_DOC}: {name} is listed twice"
        );
    }
    let exported: BTreeSet<&str> = credprobe::metrics::FAMILIES
        .iter()
        .map(|f| f.name)
        .collect();
    let listed: BTreeSet<&str> = documented.keys().map(String::as_str).collect();
    let missing: Vec<_> = exported.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&exported).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "the table under {METRICS_HEADING:?} in {METRICS_DOC} must list exactly the families of \
         credprobe::metrics::FAMILIES; missing: {missing:?}; not exported: {unknown:?}"
    );
    for family in credprobe::metrics::FAMILIES {
        let row = &documented[family.name];
        assert_eq!(
            row[1],
            family.kind.as_str(),
            "{METRICS_DOC}: {} is a {}",
            family.name,
            family.kind.as_str()
        );
        assert!(
            !row[3].is_empty() && row[4].contains(family.name),
            "{METRICS_DOC}: {} needs a meaning and an example query that uses it: {row:?}",
            family.name
        );
    }
}

#[test]
fn table_extraction() {
    let doc = "## Every series\n\n| metric | type |\n|---|---|\n| `credprobe_a` | gauge | `x \\| y` |\n\
               ### More\n\n| `credprobe_b` | gauge |\n## Other\n\n| `credprobe_c` | gauge |\n";
    let rows = table_rows(&section(doc, METRICS_HEADING));
    assert_eq!(
        rows,
        vec![
            vec![
                "`credprobe_a`".to_owned(),
                "gauge".to_owned(),
                "`x | y`".to_owned()
            ],
            vec!["`credprobe_b`".to_owned(), "gauge".to_owned()],
        ]
    );
}

/// Every PromQL query of the documents parses: the ```promql blocks and
/// the example column of the metric table, as recording rules checked by
/// `promtool check rules`.
#[test]
fn documented_queries_parse() {
    let Some(promtool) = support::which("promtool") else {
        panic!("promtool is required: run `make test` or scripts/install-test-deps");
    };
    let mut queries = Vec::new();
    for (document, text) in documents() {
        let mut in_promql = false;
        for line in text.lines() {
            if line.starts_with("```") {
                in_promql = !in_promql && line == "```promql";
            } else if in_promql && !line.trim().is_empty() && !line.starts_with('#') {
                queries.push((document.clone(), line.to_owned()));
            }
        }
    }
    let doc = read(METRICS_DOC);
    for row in table_rows(&section(&doc, METRICS_HEADING)) {
        let query = code_spans(&row[4]).first().copied().unwrap_or_default();
        queries.push((METRICS_DOC.to_owned(), query.to_owned()));
    }
    assert!(queries.len() > 29, "{} queries", queries.len());
    let mut rules = String::from("groups:\n  - name: documented\n    rules:\n");
    for (at, (_, query)) in queries.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: documented:query_{at}\n        expr: {}\n",
            serde_json::to_string(query).unwrap()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = support::write(dir.path(), "queries.yml", &rules);
    let output = Command::new(promtool)
        .arg("check")
        .arg("rules")
        .arg(&file)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "a documented query does not parse ({} queries: {:?}):\n{report}",
        queries.len(),
        queries
    );
}

// ---- the demo --------------------------------------------------------------

/// The README section that describes the demo.
const DEMO_HEADING: &str = "## Try it in one minute";

/// What the README says about the demo: (tenant count, interval in
/// seconds, the table's tenants with their row text).
fn demo_as_documented(readme: &str) -> (usize, u64, BTreeMap<String, String>) {
    let lines = section(readme, DEMO_HEADING);
    let text = lines.join("\n").replace('\n', " ");
    let pattern = regex::Regex::new(r"The demo probes (\d+) tenants every (\d+) s").unwrap();
    let captures = pattern.captures(&text).unwrap_or_else(|| {
        panic!("README.md: {DEMO_HEADING:?} must say \"The demo probes N tenants every S s\"")
    });
    let rows = table_rows(&lines)
        .into_iter()
        .map(|row| {
            let name = code_spans(&row[0])[0].to_owned();
            (name, row[1..].join(" | "))
        })
        .collect();
    (
        captures[1].parse().unwrap(),
        captures[2].parse().unwrap(),
        rows,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_demo_tenants_are_what_the_demo_runs() {
    let readme = read("README.md");
    let (count, interval, rows) = demo_as_documented(&readme);

    let mut command = Command::new(support::binary());
    command.args(["demo", "--web.listen-address", "127.0.0.1:0"]);
    let (child, addr, stderr) = support::start_serving(command, Duration::from_secs(30));
    let _demo = support::Process(child);
    let base = format!("http://{addr}");
    let (status, body) = support::http_get(&format!("{base}/api/v1/tenants")).await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let running: BTreeSet<String> = json["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    let (_, metrics) = support::http_get(&format!("{base}/metrics")).await;
    let intervals: BTreeSet<String> = metrics
        .lines()
        .filter(|l| l.starts_with("credprobe_tenant_interval_seconds{"))
        .map(|l| l.rsplit(' ').next().unwrap().to_owned())
        .collect();
    drop(_demo);

    let documented: BTreeSet<String> = rows.keys().cloned().collect();
    assert_eq!(
        documented,
        running,
        "README.md's demo table must list the tenants `credprobe demo` probes (log:\n{})",
        stderr.lock().unwrap()
    );
    assert_eq!(
        count,
        running.len(),
        "README.md: \"The demo probes {count} tenants\""
    );
    assert_eq!(
        intervals,
        BTreeSet::from([interval.to_string()]),
        "README.md: \"every {interval} s\"; the demo's credprobe_tenant_interval_seconds"
    );

    // The figures the table quotes, from the demo's own scenario.
    let scenario = credprobe::demo::demo_scenario();
    let client = |id: &str| {
        scenario
            .clients
            .iter()
            .find(|c| c.client_id == id)
            .unwrap_or_else(|| panic!("the demo scenario has no {id}"))
    };
    let row = |id: &str| rows.get(id).unwrap_or_else(|| panic!("no row for {id}"));
    let expect = |id: &str, text: String| {
        assert!(
            row(id).contains(&text),
            "README.md's row of {id} must say {text:?}: {}",
            row(id)
        );
    };
    expect(
        "initech-slow",
        format!(
            "{} s per token request",
            client("initech-slow").token_delay.as_secs_f64()
        ),
    );
    expect(
        "hooli-flaky",
        format!(
            "{} calls in 10",
            (client("hooli-flaky").failure_rate * 10.0).round()
        ),
    );
    let stark = client("stark-ratelimited");
    assert!(stark.rate_limited);
    expect(
        "stark-ratelimited",
        format!(
            "Retry-After: {}",
            stark.token_retry_after.as_deref().unwrap()
        ),
    );
    expect(
        "cyberdyne-mtls",
        format!("within {} days", credprobe::demo::EXPIRING_CERTIFICATE_DAYS),
    );
    expect(
        "northwind-entra-expiring",
        format!("in {} days", credprobe::demo::EXPIRING_SECRET_DAYS),
    );
}

#[test]
fn demo_documentation_extraction() {
    let readme = "## Try it in one minute\n\nThe demo probes 2 tenants\nevery 10 s:\n\n\
                  | demo tenant | what |\n|---|---|\n| `a` | 1.5 s per token request |\n| `b` | x |\n\
                  ## Install\n| `c` | y |\n";
    let (count, interval, rows) = demo_as_documented(readme);
    assert_eq!((count, interval), (2, 10));
    assert_eq!(rows.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(rows["a"], "1.5 s per token request");
}

// ---- the command line ------------------------------------------------------

const CLI_DOC: &str = "docs/command-line.md";

/// The old name of the config flag, which `--help` shows until the
/// config-problems branch renames it; the documents use the new one.
/// `--help` of `credprobe` (no command) or of one command: its long flags
/// (without `--help` and `--version`, which every command has) with their
/// `[default: ...]`, and for the top level the commands it lists.
fn help(command: Option<&str>) -> (BTreeMap<String, Option<String>>, Vec<String>) {
    let mut args: Vec<&str> = command.into_iter().collect();
    args.push("--help");
    let (code, stdout, stderr) = support::run_binary(&args, Duration::from_secs(10));
    assert_eq!(code, 0, "credprobe {args:?}: {stderr}");
    parse_help(&stdout)
}

fn parse_help(text: &str) -> (BTreeMap<String, Option<String>>, Vec<String>) {
    let mut flags = BTreeMap::new();
    let mut commands = Vec::new();
    let mut current: Option<String> = None;
    let mut in_commands = false;
    for line in text.lines() {
        if line.ends_with(':') && !line.starts_with(' ') {
            in_commands = line == "Commands:";
            continue;
        }
        if in_commands && let Some(rest) = line.strip_prefix("  ") {
            if let Some(name) = rest.split_whitespace().next()
                && !rest.starts_with(' ')
                && name != "help"
            {
                commands.push(name.to_owned());
            }
            continue;
        }
        let trimmed = line.trim_start();
        if line.len() - trimmed.len() <= 6 && trimmed.starts_with('-') {
            current = trimmed
                .split([',', ' ', '='])
                .find(|word| word.starts_with("--"))
                .filter(|name| *name != "--help" && *name != "--version")
                .map(str::to_owned);
            if let Some(name) = &current {
                flags.insert(name.clone(), None);
            }
            continue;
        }
        if let Some(name) = &current
            && let Some(at) = line.find("[default: ")
        {
            let value = line[at + 10..].trim_end().trim_end_matches(']').to_owned();
            flags.insert(name.clone(), Some(value));
        }
    }
    (flags, commands)
}

/// A documented flag: the commands that take it, and the text of its
/// default cell.
type DocumentedFlag = (BTreeSet<String>, String);

/// What docs/command-line.md documents: the commands of its "Commands"
/// table, and per flag of its "Flags" table the commands that take it
/// ("all": every command) and the text of its default cell.
fn cli_as_documented() -> (BTreeSet<String>, BTreeMap<String, DocumentedFlag>) {
    let doc = read(CLI_DOC);
    let commands: BTreeSet<String> = table_rows(&section(&doc, "## Commands"))
        .iter()
        .map(|row| code_spans(&row[0])[0].to_owned())
        .collect();
    let mut flags = BTreeMap::new();
    for row in table_rows(&section(&doc, "## Flags")) {
        assert_eq!(row.len(), 4, "{CLI_DOC}: a flag row has 4 cells: {row:?}");
        let flag = code_spans(&row[0])[0].split(' ').next().unwrap().to_owned();
        let takers: BTreeSet<String> = if row[1] == "all" {
            commands.clone()
        } else {
            code_spans(&row[1]).into_iter().map(str::to_owned).collect()
        };
        assert!(
            flags
                .insert(flag.clone(), (takers, row[2].clone()))
                .is_none(),
            "{CLI_DOC}: {flag} is listed twice"
        );
    }
    (commands, flags)
}

#[test]
fn command_line_reference_is_what_help_says() {
    let (documented_commands, documented_flags) = cli_as_documented();
    let (top_flags, commands) = help(None);
    assert!(!commands.is_empty(), "credprobe --help lists no commands");
    assert_eq!(
        documented_commands,
        commands.iter().cloned().collect::<BTreeSet<_>>(),
        "{CLI_DOC}: the Commands table must list the commands of `credprobe --help`"
    );
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for command in &commands {
        let (flags, _) = help(Some(command));
        for (flag, default) in flags {
            let Some((takers, default_cell)) = documented_flags.get(&flag) else {
                panic!(
                    "{CLI_DOC}: `credprobe {command} --help` has {flag}, the Flags table does not"
                );
            };
            assert!(
                takers.contains(command),
                "{CLI_DOC}: {flag} is taken by `{command}`; its row says {takers:?}"
            );
            if let Some(default) = default {
                assert!(
                    default_cell.contains(&format!("`{default}`")),
                    "{CLI_DOC}: `credprobe {command} --help` says {flag} defaults to {default}; \
                     the row says {default_cell:?}"
                );
            }
            seen.entry(flag).or_default().insert(command.clone());
        }
    }
    // No command is the daemon: `credprobe --help` shows `run`'s flags.
    let run: BTreeSet<&String> = seen
        .iter()
        .filter(|(_, takers)| takers.contains("run"))
        .map(|(flag, _)| flag)
        .collect();
    assert_eq!(
        top_flags.keys().collect::<BTreeSet<_>>(),
        run,
        "credprobe --help vs run --help"
    );
    for (flag, (takers, _)) in &documented_flags {
        assert_eq!(
            seen.get(flag),
            Some(takers),
            "{CLI_DOC}: {flag} is documented for {takers:?}; --help shows it for {:?}",
            seen.get(flag)
        );
    }
}

/// Every `credprobe ...` line of a code block of `markdown`: (command, the
/// long flags it uses). `credprobe [run] ...` and a line with
/// no command are the daemon, `run`.
fn documented_command_lines(markdown: &str, commands: &[String]) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            continue;
        }
        // `NAME=value credprobe ...` sets an environment variable first.
        let line = line.split(" #").next().unwrap();
        let mut words = line
            .split_whitespace()
            .skip_while(|word| {
                word.split_once('=').is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                })
            })
            .peekable();
        if words.next() != Some("credprobe") {
            continue;
        }
        let command = match words.peek().map(|w| w.trim_matches(['[', ']'])) {
            Some(word) if commands.iter().any(|c| c == word) => {
                let word = word.to_owned();
                words.next();
                word
            }
            _ => "run".to_owned(),
        };
        let flags: Vec<String> = words
            .map(|w| w.trim_matches(['[', ']', '(', ')', '|']))
            .filter(|w| w.starts_with("--") && *w != "--help" && *w != "--version")
            .map(|w| w.split('=').next().unwrap().to_owned())
            .collect();
        found.push((command, flags));
    }
    found
}

#[test]
fn documented_command_lines_use_real_flags() {
    let (_, commands) = help(None);
    let mut takes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for command in &commands {
        takes.insert(command.clone(), help(Some(command)).0.into_keys().collect());
    }
    let mut checked = 0;
    for (document, text) in documents() {
        for (command, flags) in documented_command_lines(&text, &commands) {
            for flag in flags {
                assert!(
                    takes[&command].contains(&flag),
                    "{document}: `credprobe {command}` has no flag {flag} (see its --help)"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "only {checked} documented flags found");
}

#[test]
fn help_and_command_line_extraction() {
    let help = "Usage: credprobe [OPTIONS]\n\nCommands:\n  run           Run the daemon\n  check-config  Validate\n                the configuration\n  help          Print this\n\n\
                Options:\n      --config.file <FILE>\n          The file\n\n      --shard.count <N>\n          Shards\n          \n          [default: 1]\n\n      --config.watch\n          Watch\n\n  -h, --help\n          Print help\n  -V, --version\n          Print version\n";
    let (flags, commands) = parse_help(help);
    assert_eq!(commands, ["run", "check-config"]);
    assert_eq!(
        flags,
        BTreeMap::from([
            ("--config.file".to_owned(), None),
            ("--config.watch".to_owned(), None),
            ("--shard.count".to_owned(), Some("1".to_owned())),
        ])
    );
    let commands = vec!["run".to_owned(), "probe".to_owned()];
    let lines = documented_command_lines(
        "credprobe probe --nope\n```sh\ncredprobe probe --config.file x --tenant a  # --not-this\n\
         X_Y=1 credprobe --config.file x\ndocker build -t credprobe --build-arg A=1\n```\n```text\ncredprobe [run] [--shard.count N (--shard.index I | --shard.from-hostname)]\n```\n",
        &commands,
    );
    assert_eq!(
        lines,
        vec![
            (
                "probe".to_owned(),
                vec!["--config.file".to_owned(), "--tenant".to_owned()]
            ),
            ("run".to_owned(), vec!["--config.file".to_owned()]),
            (
                "run".to_owned(),
                vec![
                    "--shard.count".to_owned(),
                    "--shard.index".to_owned(),
                    "--shard.from-hostname".to_owned()
                ]
            ),
        ]
    );
}

// ---- links -----------------------------------------------------------------

/// GitHub's anchor of a heading: lower case, backticks and punctuation
/// other than `-` and `_` dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of every heading of `markdown` (outside code blocks), with
/// GitHub's `-1`, `-2` for repeats.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut found = BTreeSet::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let base = anchor(line.trim_start_matches('#'));
        let count = seen.entry(base.clone()).or_insert(0);
        found.insert(if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    found
}

/// The targets of the inline links `[text](target)` of `markdown`, outside
/// code blocks and code spans.
fn links(markdown: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop code spans: a `](` inside one is not a link.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                found.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    found
}

/// Why `target`, linked from the document `from` (relative to the crate
/// root), leads nowhere; `None` when it leads to a file (and heading).
fn broken(from: &str, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, fragment) = match target.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        crate_root().join(from)
    } else {
        crate_root()
            .join(Path::new(from).parent().unwrap())
            .join(path)
    };
    if !file.exists() {
        return Some(format!("{} does not exist", file.display()));
    }
    let fragment = fragment?;
    if file.extension().is_none_or(|e| e != "md") {
        return Some("a fragment of a file that is not Markdown".to_owned());
    }
    let text = std::fs::read_to_string(&file).unwrap();
    (!anchors(&text).contains(fragment))
        .then(|| format!("no heading #{fragment} in {}", file.display()))
}

#[test]
fn every_relative_link_leads_somewhere() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for (document, text) in documents() {
        for target in links(&text) {
            checked += 1;
            if let Some(why) = broken(&document, &target) {
                problems.push(format!("{document}: ({target}): {why}"));
            }
        }
    }
    assert!(checked > 50, "only {checked} links found");
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn link_and_anchor_extraction() {
    assert_eq!(
        anchor(" Rules `check-config` enforces"),
        "rules-check-config-enforces"
    );
    assert_eq!(
        anchor(" The HTTP server: TLS, authentication, limits"),
        "the-http-server-tls-authentication-limits"
    );
    assert_eq!(
        anchor(" Where a request's time goes"),
        "where-a-requests-time-goes"
    );
    assert_eq!(
        anchors("# A\n## B c\n```sh\n# not a heading\n```\n## B c\n"),
        BTreeSet::from(["a".to_owned(), "b-c".to_owned(), "b-c-1".to_owned()])
    );
    assert_eq!(
        links("see [a](x.md#y) and `[b](not)`\n```\n[c](no)\n```\n[d](https://e) [f](#g)\n"),
        ["x.md#y", "https://e", "#g"]
    );
    assert_eq!(broken("README.md", "docs/metrics.md#every-series"), None);
    assert!(broken("README.md", "docs/metrics.md#no-such-heading").is_some());
    assert!(broken("README.md", "docs/no-such-file.md").is_some());
    assert!(broken("docs/metrics.md", "metrics.md#every-series").is_none());
}
