//! The documented example configurations stay valid and stay what the
//! documents show. A complete configuration in README.md or docs/*.md is
//! marked by a line `<!-- example: PATH -->` just above its ```yaml block;
//! each marked block must be byte-identical to the file PATH, every YAML
//! file under `examples/` must be shown by such a block somewhere, and
//! `credprobe check-config` must accept every example configuration (with
//! the environment variable and the key files they need). A documented
//! check-config run on an example (`credprobe check-config --config.file
//! examples/X.yml` followed by a `# ...` line in a ```sh block) must print
//! exactly that line.
//!
//! Nothing here connects anywhere: check-config only reads files, so the
//! example hosts are never contacted.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The annotated example configuration, relative to the crate root.
const EXAMPLE: &str = "examples/credprobe.yml";

/// The environment variable the annotated example's `globex-prod` tenant
/// reads its client secret from (`client_secret_env`).
const EXAMPLE_SECRET_ENV: &str = "CREDPROBE_GLOBEX_SECRET";

/// The line that marks the next ```yaml block as the complete file it names.
const MARK: &str = "<!-- example: ";

/// The examples the README promises a first-time user: one per provider
/// kind. Each must be shown (marked) in README.md itself.
const README_EXAMPLES: [&str; 4] = [
    "examples/nexthink.yml",
    "examples/entra.yml",
    "examples/generic-secret.yml",
    "examples/generic-private-key-jwt.yml",
];

fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every docs/*.md, as (path relative to the crate root, text).
pub fn documents() -> Vec<(String, String)> {
    let mut names = vec!["README.md".to_owned()];
    let mut docs: Vec<String> = std::fs::read_dir(crate_root().join("docs"))
        .expect("read docs/")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    names.extend(docs);
    names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(crate_root().join(&name))
                .unwrap_or_else(|error| panic!("read {name}: {error}"));
            (name, text)
        })
        .collect()
}

/// The marked blocks of `markdown`: (the path the mark names, the block's
/// text up to and including the newline before the closing fence). A mark
/// not followed by a ```yaml block is an error naming its line.
fn marked_blocks(markdown: &str) -> Result<Vec<(String, String)>, String> {
    let lines: Vec<&str> = markdown.split_inclusive('\n').collect();
    let mut blocks = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let line = lines[at].trim_end();
        at += 1;
        let Some(rest) = line.strip_prefix(MARK) else {
            continue;
        };
        let path = rest
            .strip_suffix(" -->")
            .ok_or_else(|| format!("line {at}: a mark ends with \" -->\""))?;
        if lines.get(at).map(|l| l.trim_end()) != Some("```yaml") {
            return Err(format!(
                "line {at}: the mark for {path} must be followed by a ```yaml line"
            ));
        }
        at += 1;
        let mut body = String::new();
        loop {
            let Some(line) = lines.get(at) else {
                return Err(format!("the block for {path} is never closed"));
            };
            at += 1;
            if line.trim_end() == "```" {
                break;
            }
            body.push_str(line);
        }
        blocks.push((path.to_owned(), body));
    }
    Ok(blocks)
}

/// Every marked block of README.md and docs/*.md: (document, path, block).
fn all_marked_blocks() -> Vec<(String, String, String)> {
    let mut all = Vec::new();
    for (document, text) in documents() {
        let blocks = marked_blocks(&text).unwrap_or_else(|error| panic!("{document}: {error}"));
        for (path, block) in blocks {
            all.push((document.clone(), path, block));
        }
    }
    all
}

/// The YAML files under `examples/` (recursively), relative to the crate root.
fn example_files() -> BTreeSet<String> {
    fn walk(dir: &Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                let relative = path.strip_prefix(crate_root()).unwrap();
                found.insert(relative.to_string_lossy().into_owned());
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(&crate_root().join("examples"), &mut found);
    found
}

/// The example configurations check-config can load: the YAML files
/// directly under `examples/` (those below it are tenant files).
fn example_configurations() -> Vec<String> {
    example_files()
        .into_iter()
        .filter(|path| path.matches('/').count() == 1)
        .collect()
}

#[test]
fn every_marked_block_is_its_file() {
    let blocks = all_marked_blocks();
    assert!(
        !blocks.is_empty(),
        "no marked example in README.md or docs/"
    );
    for (document, path, block) in &blocks {
        let file = std::fs::read_to_string(crate_root().join(path)).unwrap_or_else(|error| {
            panic!("{document} marks {path}, which cannot be read: {error}")
        });
        if block != &file {
            let line = block
                .lines()
                .zip(file.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| block.lines().count().min(file.lines().count()));
            panic!(
                "the block marked {path} in {document} differs from the file (first \
                 difference at line {} of the block); copy the file into the block verbatim",
                line + 1
            );
        }
    }
}

#[test]
fn every_example_file_is_shown_and_the_readme_shows_one_per_provider() {
    let blocks = all_marked_blocks();
    let shown: BTreeSet<String> = blocks.iter().map(|(_, path, _)| path.clone()).collect();
    let unshown: Vec<String> = example_files()
        .into_iter()
        .filter(|p| !shown.contains(p))
        .collect();
    assert!(
        unshown.is_empty(),
        "every file under examples/ must be shown, marked, in README.md or docs/: {unshown:?}"
    );
    for expected in README_EXAMPLES {
        assert!(
            blocks
                .iter()
                .any(|(document, path, _)| document == "README.md" && path == expected),
            "README.md must show {expected} as a marked block"
        );
    }
}

/// A copy of `examples/` in a temporary folder, with a throwaway key (and
/// certificate) made for every `client_key_file` (`client_certificate_file`)
/// the examples name and do not ship: no private key is committed.
fn examples_with_keys() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
                // The README's `chmod 600 examples/secrets/*`: git
                // checks files out 0644, which check-config warns about.
                if from.ends_with("secrets") {
                    use std::os::unix::fs::PermissionsExt;
                    let private = std::fs::Permissions::from_mode(0o600);
                    std::fs::set_permissions(&target, private).unwrap();
                }
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let examples = dir.path().join("examples");
    copy(&crate_root().join("examples"), &examples);
    for config in example_configurations() {
        let text = std::fs::read_to_string(crate_root().join(&config)).unwrap();
        let yaml: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        let Some(tenants) = yaml["tenants"].as_sequence() else {
            continue;
        };
        for tenant in tenants {
            let Some(key_file) = tenant["client_key_file"].as_str() else {
                continue;
            };
            let key = rcgen::KeyPair::generate().unwrap();
            let key_path = examples.join(key_file);
            if key_path.exists() {
                continue;
            }
            std::fs::create_dir_all(key_path.parent().unwrap()).unwrap();
            std::fs::write(&key_path, key.serialize_pem()).unwrap();
            if let Some(cert_file) = tenant["client_certificate_file"].as_str() {
                let cert = rcgen::CertificateParams::new(vec!["credprobe-monitor".to_owned()])
                    .unwrap()
                    .self_signed(&key)
                    .unwrap();
                std::fs::write(examples.join(cert_file), cert.pem()).unwrap();
            }
        }
    }
    dir
}

/// Runs `credprobe check-config` on `config` (relative to `dir`, from
/// `dir`): (exit code, stdout, stderr). `secret` is the value of the
/// annotated example's environment variable, or `None` to leave it unset.
fn check_config(dir: &Path, config: &str, secret: Option<&str>) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_credprobe"));
    command
        .args(["check-config", "--config.file", config])
        .current_dir(dir)
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
fn every_example_configuration_passes_check_config() {
    let dir = examples_with_keys();
    let configs = example_configurations();
    assert!(configs.len() >= 5, "examples: {configs:?}");
    for config in configs {
        let (code, stdout, stderr) = check_config(dir.path(), &config, Some("replace-me"));
        assert_eq!(
            code,
            Some(0),
            "{config}:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            stdout.starts_with(&format!("{config}: OK, ")),
            "{config}: {stdout}"
        );
    }
}

#[test]
fn example_configuration_needs_its_environment_variable() {
    // The docs tell readers to set the variable; without it the example
    // must fail with a message naming it, not pass by accident.
    let (code, stdout, stderr) = check_config(crate_root(), EXAMPLE, None);
    assert_eq!(code, Some(2), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains(EXAMPLE_SECRET_ENV),
        "expected {EXAMPLE_SECRET_ENV} in stderr:\n{stderr}"
    );
}

/// The documented check-config runs on examples: every line of a ```sh
/// block that runs `credprobe check-config --config.file examples/...`,
/// with the `# ` line after it: (config path, expected output).
fn documented_check_config_runs(markdown: &str) -> Vec<(String, String)> {
    const COMMAND: &str = "credprobe check-config --config.file ";
    let mut runs = Vec::new();
    let mut in_sh = false;
    let lines: Vec<&str> = markdown.lines().collect();
    for (at, line) in lines.iter().enumerate() {
        if line.starts_with("```") {
            in_sh = !in_sh && *line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let Some(start) = line.find(COMMAND) else {
            continue;
        };
        let config = line[start + COMMAND.len()..].split_whitespace().next();
        let output = lines.get(at + 1).and_then(|l| l.strip_prefix("# "));
        if let (Some(config), Some(output)) = (config, output)
            && config.starts_with("examples/")
        {
            runs.push((config.to_owned(), output.to_owned()));
        }
    }
    runs
}

#[test]
fn documented_check_config_runs_print_what_they_say() {
    let dir = examples_with_keys();
    let mut checked = 0;
    for (document, text) in documents() {
        for (config, expected) in documented_check_config_runs(&text) {
            let (code, stdout, stderr) = check_config(dir.path(), &config, Some("replace-me"));
            assert_eq!(code, Some(0), "{document}: {config}: {stderr}");
            assert_eq!(
                stdout.trim_end(),
                expected,
                "{document} says `credprobe check-config --config.file {config}` prints \
                 {expected:?}; it prints {:?}",
                stdout.trim_end()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "only {checked} documented check-config runs found"
    );
}

#[test]
fn marked_block_extraction() {
    let markdown = "# t\n\n<!-- example: a.yml -->\n```yaml\na: 1\n\nb: 2\n```\n\ntext\n\
                    ```yaml\nno: 1\n```\n<!-- example: b.yml -->\n```yaml\n```\n";
    assert_eq!(
        marked_blocks(markdown).unwrap(),
        vec![
            ("a.yml".to_owned(), "a: 1\n\nb: 2\n".to_owned()),
            ("b.yml".to_owned(), String::new())
        ]
    );
    assert!(marked_blocks("<!-- example: a.yml -->\ntext\n```yaml\na: 1\n```\n").is_err());
    assert!(marked_blocks("<!-- example: a.yml -->\n```yaml\na: 1\n").is_err());
    assert_eq!(
        documented_check_config_runs(
            "```sh\nX=1 credprobe check-config --config.file examples/a.yml\n# examples/a.yml: OK\n```\n\
             credprobe check-config --config.file examples/b.yml\n# not in a block\n"
        ),
        vec![("examples/a.yml".to_owned(), "examples/a.yml: OK".to_owned())]
    );
}
