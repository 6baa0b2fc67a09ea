//! The files matched by `tenant_files`: found, read and parsed into raw
//! tenants, each handed on with the file that defined it, one file at a
//! time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    mut each: impl FnMut(&Arc<Path>, &RawTenant, &mut Problems),
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
            split::each_item(
                text.lines().map(Ok::<_, std::io::Error>),
                &layout,
                |_, item| {
                    let tenant: RawTenant = serde_norway::from_str(item).map_err(|_| Uncut)?;
                    each(&file, &tenant, problems);
                    Ok(())
                },
            )?;
            continue;
        }
        match parse_tenant_file(&text) {
            Ok(found) => {
                for tenant in &found {
                    each(&file, tenant, problems);
                }
            }
            Err(message) => problems.push(&file, None, "", message),
        }
    }
    Ok(())
}

/// A tenant file holds `tenants: [...]`, a list of tenants, or one tenant.
/// The shape is decided first so serde's message (with its line) fits it.
fn parse_tenant_file(text: &str) -> Result<Vec<RawTenant>, String> {
    let value: serde_norway::Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    let result = match &value {
        serde_norway::Value::Null => return Ok(Vec::new()),
        serde_norway::Value::Sequence(_) => serde_norway::from_str::<Vec<RawTenant>>(text),
        serde_norway::Value::Mapping(map) if map.contains_key("tenants") => {
            serde_norway::from_str::<RawTenantFile>(text).map(|f| f.tenants)
        }
        serde_norway::Value::Mapping(_) => {
            serde_norway::from_str::<RawTenant>(text).map(|t| vec![t])
        }
        _ => return Err("expected a tenant, a list of tenants, or `tenants:`".to_owned()),
    };
    result.map_err(|e| e.to_string())
}
