//! Configuration text (YAML) into `credprobe::config::validate::load_str`,
//! as if read from a fixed path.
//!
//! The fixed path lies in a scratch folder laid out like `examples/` (its
//! secrets and its tenant file), so inputs based on the example
//! configuration reach the tenant-file and secret-file code as well. An
//! input that names a file outside that folder (an absolute path or `..`
//! under a `*_file`/`tenant_files` key) is skipped: loading reads the
//! files a configuration names, and `/dev/zero` or a FIFO would hang the
//! fuzzer rather than find a bug.
//!
//! Checked: no panic; every error is a `ConfigError` with at least one
//! problem, each naming a file of the scratch folder, and its message
//! names that file; a loaded configuration has unique, sorted tenant names
//! and timings the daemon can schedule (no clock overflows).

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

use credprobe::config::validate::load_str;
use credprobe::config::{LoadOptions, Tenant};
use libfuzzer_sys::fuzz_target;
use serde_norway::Value;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if !names_only_local_files(&text) {
        return;
    }
    let folder = scratch();
    let path = folder.join("credprobe.yml");
    let options = LoadOptions {
        warn_inline_secrets: false,
        ..LoadOptions::default()
    };
    match load_str(&text, &path, &options) {
        Ok(config) => {
            assert_eq!(config.source, path);
            let names: Vec<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
            assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
            let tenants = u32::try_from(config.tenants.len()).unwrap();
            for tenant in &config.tenants {
                assert!(
                    schedulable(tenant),
                    "tenant {}: {:?} cannot be scheduled",
                    tenant.name,
                    tenant.interval
                );
                // The scheduler spreads the tenants of one interval over it
                // (interval × k / n).
                assert!(tenant.interval.checked_mul(tenants).is_some());
            }
        }
        Err(error) => {
            assert!(!error.problems.is_empty(), "an error without a problem");
            let message = error.to_string();
            for problem in &error.problems {
                assert!(
                    problem.file.starts_with(folder),
                    "a problem outside the configuration's files: {problem}"
                );
                assert!(message.contains(&*problem.file.to_string_lossy()));
            }
        }
    }
});

/// Whether the daemon can schedule the tenant: a cycle's end (interval
/// plus timeout) from now is a time both clocks can hold.
fn schedulable(tenant: &Tenant) -> bool {
    tenant
        .interval
        .checked_add(tenant.token.timeout)
        .is_some_and(|cycle| {
            Instant::now().checked_add(cycle).is_some()
                && SystemTime::now().checked_add(cycle).is_some()
        })
}

/// The scratch folder, laid out like `examples/` on first use.
fn scratch() -> &'static PathBuf {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| {
        let folder = std::env::temp_dir().join("credprobe-fuzz-config");
        let files = [
            (
                "secrets/acme-prod",
                include_str!("../../examples/secrets/acme-prod"),
            ),
            (
                "secrets/example-api",
                include_str!("../../examples/secrets/example-api"),
            ),
            (
                "secrets/initech-prod",
                include_str!("../../examples/secrets/initech-prod"),
            ),
            (
                "tenants.d/initech-prod.yml",
                include_str!("../../examples/tenants.d/initech-prod.yml"),
            ),
        ];
        for (name, content) in files {
            let file = folder.join(name);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, content).unwrap();
        }
        // SAFETY: set once, before anything reads the environment, from
        // the fuzzer's one thread that runs inputs.
        unsafe { std::env::set_var("CREDPROBE_GLOBEX_SECRET", "fuzz") };
        folder
    })
}

/// Whether every file the text may name stays inside the scratch folder:
/// each string under a `*_file` or `*_files` key is relative and has no
/// `..`. Text that is not YAML to `serde_norway::Value` may still load
/// (a struct field accepts what a `Value` refuses, e.g. a duplicate label
/// key), so it runs only if it cannot spell a file key at all.
fn names_only_local_files(text: &str) -> bool {
    match serde_norway::from_str::<Value>(text) {
        Ok(value) => local(&value, false),
        Err(_) => {
            let lower = text.to_ascii_lowercase();
            !["file", "\\x", "\\u"].iter().any(|s| lower.contains(s))
        }
    }
}

fn local(value: &Value, under_file_key: bool) -> bool {
    match value {
        Value::String(s) => !under_file_key || !(s.starts_with('/') || s.contains("..")),
        Value::Sequence(items) => items.iter().all(|v| local(v, under_file_key)),
        Value::Mapping(map) => map.iter().all(|(key, v)| {
            let file_key = key
                .as_str()
                .is_some_and(|k| k.ends_with("_file") || k.ends_with("_files"));
            local(key, under_file_key) && local(v, under_file_key || file_key)
        }),
        Value::Tagged(tagged) => local(&tagged.value, under_file_key),
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    }
}
