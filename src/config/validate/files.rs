//! The files matched by `tenant_files`: found, read and parsed into raw
//! tenants, each handed on with the file that defined it, one file at a
//! time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::parse::{self, Parsed};
use super::split::{self, Uncut};
use crate::config::Problems;
use crate::config::raw::{RawTenant, RawTenantFile};

/// A pattern as written, resolved against the main file's folder unless it
/// is absolute.
pub(super) fn resolve_pattern(base_dir: &Path, pattern: &str) -> String {
    if Path::new(pattern).is_absolute() {
        pattern.to_owned()
    } else {
        base_dir.join(pattern).to_string_lossy().into_owned()
    }
}

/// Hands every tenant of the files matching `full` (the pattern as
/// written, `pattern`, resolved against the main file's folder) to `each`,
/// with its path in its file,
/// files in name order, one file in memory at a time. With `cut`, a file
/// holding a `tenants:` block list is cut into its items (see [`split`])
/// and each is parsed alone; `Err(Uncut)` when an item does not parse on
/// its own (the caller then loads again without cutting, for the exact
/// error).
pub(super) fn each_tenant(
    full: &str,
    pattern: &str,
    main: &Path,
    cut: bool,
    problems: &mut Problems,
    mut each: impl FnMut(&Arc<Path>, &str, &Parsed, &mut Problems),
) -> Result<(), Uncut> {
    let paths = match glob::glob(full) {
        Ok(paths) => paths,
        Err(error) => {
            problems.push(
                main,
                None,
                "tenant_files",
                format!("bad pattern {pattern:?}: {error}"),
            );
            return Ok(());
        }
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in paths {
        match entry {
            Ok(file) if file.is_file() => files.push(file),
            Ok(_) => {}
            Err(error) => problems.push(
                error.path(),
                None,
                "",
                format!("cannot read: {}", error.error()),
            ),
        }
    }
    files.sort();
    for file in files {
        let file: Arc<Path> = Arc::from(file);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) => {
                problems.push(&file, None, "", format!("cannot read: {error}"));
                continue;
            }
        };
        if cut
            && let Some((layout, rest)) = split::layout(text.lines())
            && rest.trim().is_empty()
        {
            let mut index = 0;
            split::each_item(
                text.lines().map(Ok::<_, std::io::Error>),
                &layout,
                |_, item| {
                    let tenant: RawTenant = serde_norway::from_str(item).map_err(|_| Uncut)?;
                    let at = format!("tenants[{index}]");
                    index += 1;
                    each(&file, &at, &Parsed::Tenant(Box::new(tenant)), problems);
                    Ok(())
                },
            )?;
            continue;
        }
        for (at, tenant) in parse_tenant_file(&text, &file, problems) {
            each(&file, &at, &tenant, problems);
        }
    }
    Ok(())
}

/// A tenant file holds `tenants: [...]`, a list of tenants, or one tenant:
/// each tenant with its path in the file, parsed one at a time (the shape
/// is decided first so a problem's field fits it).
fn parse_tenant_file(text: &str, file: &Path, problems: &mut Problems) -> Vec<(String, Parsed)> {
    let value: serde_norway::Value = match serde_norway::from_str(text) {
        Ok(value) => value,
        Err(error) => {
            parse::report(problems, file, &error, "", None, 0);
            return Vec::new();
        }
    };
    match value {
        serde_norway::Value::Null => Vec::new(),
        serde_norway::Value::Sequence(items) => parse::tenants(text, file, "", items, problems),
        serde_norway::Value::Mapping(map) if map.contains_key("tenants") => {
            match serde_norway::from_str::<RawTenantFile<Vec<serde_norway::Value>>>(text) {
                Ok(found) => parse::tenants(text, file, "tenants", found.tenants, problems),
                Err(error) => {
                    parse::report(problems, file, &error, "", None, 0);
                    Vec::new()
                }
            }
        }
        serde_norway::Value::Mapping(_) => {
            vec![(String::new(), parse::tenant(text, file, "", problems))]
        }
        _ => {
            problems.push_at(
                file,
                Some(1),
                None,
                "",
                "expected a tenant, a list of tenants, or `tenants:`",
            );
            Vec::new()
        }
    }
}
