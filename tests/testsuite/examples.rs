//! The documented example configuration stays valid and stays documented:
//! `credprobe check-config` accepts `examples/credprobe.yml` (with the
//! environment variable it names), and the first YAML block of the README's
//! "Configuration" section is byte-identical to that file. The README's
//! metric table also lists exactly the metric families credprobe exports
//! (`credprobe::metrics::FAMILIES`).
//!
//! Nothing here connects anywhere: check-config only reads files, so the
//! nexthink.cloud and example.com hosts of the example are never contacted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The example configuration, relative to the crate root.
const EXAMPLE: &str = "examples/credprobe.yml";

/// The environment variable the example's `globex-prod` tenant reads its
/// client secret from (`client_secret_env`).
const EXAMPLE_SECRET_ENV: &str = "CREDPROBE_GLOBEX_SECRET";

/// Tenants in the example: three inline plus one from `tenants.d/`.
const EXAMPLE_TENANTS: usize = 4;

/// Endpoints in the example: acme-prod 3, globex-prod 1 (the Nexthink
/// default), example-api 2, initech-prod 1 (the Nexthink default).
const EXAMPLE_ENDPOINTS: usize = 7;

/// The heading whose first fenced YAML block is the example.
const CONFIG_HEADING: &str = "## Configuration";

fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn example_path() -> PathBuf {
    crate_root().join(EXAMPLE)
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Runs `credprobe check-config` on the example: (exit code, stdout, stderr).
/// `secret` is the value of the example's environment variable, or `None`
/// to leave it unset.
fn check_example(secret: Option<&str>) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_credprobe"));
    command
        .arg("check-config")
        .arg("--config")
        .arg(example_path())
        .current_dir(crate_root())
        .env_remove("RUST_LOG");
    match secret {
        Some(value) => command.env(EXAMPLE_SECRET_ENV, value),
        None => command.env_remove(EXAMPLE_SECRET_ENV),
    };
    let output = command.output().expect("run credprobe check-config");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn example_configuration_passes_check_config() {
    let (code, stdout, stderr) = check_example(Some("replace-me"));
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let summary = format!(
        "{}: OK, {}, {}",
        example_path().display(),
        plural(EXAMPLE_TENANTS, "tenant"),
        plural(EXAMPLE_ENDPOINTS, "endpoint")
    );
    assert!(
        stdout.contains(&summary),
        "expected {summary:?} in stdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

#[test]
fn example_configuration_needs_its_environment_variable() {
    // The README tells readers to set the variable; without it the example
    // must fail with a message naming it, not pass by accident.
    let (code, stdout, stderr) = check_example(None);
    assert_eq!(code, Some(2), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains(EXAMPLE_SECRET_ENV),
        "expected {EXAMPLE_SECRET_ENV} in stderr:\n{stderr}"
    );
}

/// The text of the first ```yaml block after the line `heading` in
/// `markdown`, up to and including the newline before the closing fence.
fn first_yaml_block_after<'a>(markdown: &'a str, heading: &str) -> Option<&'a str> {
    let heading_at = markdown
        .match_indices(heading)
        .map(|(at, _)| at)
        .find(|&at| {
            (at == 0 || markdown[..at].ends_with('\n'))
                && markdown[at + heading.len()..].starts_with('\n')
        })?;
    let after_heading = &markdown[heading_at + heading.len()..];
    const OPEN: &str = "\n```yaml\n";
    let start = after_heading.find(OPEN)? + OPEN.len();
    let body = &after_heading[start..];
    let end = if body.starts_with("```\n") {
        0
    } else {
        body.find("\n```\n")? + 1
    };
    Some(&body[..end])
}

#[test]
fn readme_configuration_block_is_the_example_file() {
    let readme_path = crate_root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("read README.md");
    let example = std::fs::read_to_string(example_path()).expect("read the example");
    let block = first_yaml_block_after(&readme, CONFIG_HEADING).unwrap_or_else(|| {
        panic!(
            "README.md has no ```yaml block after a line {CONFIG_HEADING:?}; \
             the example configuration must be shown there"
        )
    });
    if block != example {
        let line = block
            .lines()
            .zip(example.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| block.lines().count().min(example.lines().count()));
        panic!(
            "the first ```yaml block after {CONFIG_HEADING:?} in README.md differs from \
             {EXAMPLE} (first difference at line {} of the block); copy the file into \
             the README verbatim",
            line + 1
        );
    }
}

#[test]
fn yaml_block_extraction() {
    let markdown = "# t\n\n## Configuration x\n\n```yaml\nno: 1\n```\n\n\
                    ## Configuration\n\ntext\n\n```sh\nls\n```\n\n```yaml\na: 1\n\nb: 2\n```\n\n\
                    ```yaml\nc: 3\n```\n";
    assert_eq!(
        first_yaml_block_after(markdown, CONFIG_HEADING),
        Some("a: 1\n\nb: 2\n")
    );
    assert_eq!(
        first_yaml_block_after("## Configuration\n```yaml\n```\n", CONFIG_HEADING),
        Some("")
    );
    assert_eq!(
        first_yaml_block_after("## Other\n```yaml\na: 1\n```\n", CONFIG_HEADING),
        None
    );
}

/// The heading of the README section whose table lists every metric family.
const METRICS_HEADING: &str = "## Metrics";

/// The first-column names (`| `credprobe_...` |`) of the table rows between
/// the line `heading` and the next heading (`## ` or `### `).
fn metric_names_in_readme(readme: &str, heading: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut inside = false;
    for line in readme.lines() {
        if line.starts_with("## ") || line.starts_with("### ") {
            inside = line == heading;
            continue;
        }
        if let Some(rest) = line.strip_prefix("| `credprobe_")
            && inside
            && let Some(end) = rest.find('`')
        {
            names.insert(format!("credprobe_{}", &rest[..end]));
        }
    }
    names
}

#[test]
fn readme_metric_table_lists_every_family() {
    let readme = std::fs::read_to_string(crate_root().join("README.md")).expect("read README.md");
    let in_source: BTreeSet<String> = credprobe::metrics::FAMILIES
        .iter()
        .map(|f| f.name.to_owned())
        .collect();
    let in_readme = metric_names_in_readme(&readme, METRICS_HEADING);
    let undocumented: Vec<&String> = in_source.difference(&in_readme).collect();
    let unknown: Vec<&String> = in_readme.difference(&in_source).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "the metric table under {METRICS_HEADING:?} in README.md must list exactly the \
         families of credprobe::metrics::FAMILIES; missing from the README: {undocumented:?}; \
         in the README but not exported: {unknown:?}"
    );
}

#[test]
fn readme_metric_table_extraction() {
    let readme = "## Metrics\n\n| `credprobe_a` | gauge |\n| `credprobe_b_total` | counter |\n\
                  ### Cost\n\n| `credprobe_c` | 1 |\n## Other\n\n| `credprobe_d` | gauge |\n";
    assert_eq!(
        metric_names_in_readme(readme, METRICS_HEADING),
        BTreeSet::from(["credprobe_a".to_owned(), "credprobe_b_total".to_owned()])
    );
}
