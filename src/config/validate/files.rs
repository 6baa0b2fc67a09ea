//! The files matched by `tenant_files`: found, read and parsed into raw
//! tenants, each remembered with the file that defined it.

use std::path::{Path, PathBuf};

use super::Problems;
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

/// Reads the files matching `full` (the pattern as written, `pattern`,
/// resolved against the main file's folder), in name order.
pub(super) fn read_tenant_files(
    full: &str,
    pattern: &str,
    main: &Path,
    sources: &mut Vec<(PathBuf, RawTenant)>,
    problems: &mut Problems,
) {
    let paths = match glob::glob(full) {
        Ok(paths) => paths,
        Err(error) => {
            problems.push(
                main,
                None,
                "tenant_files",
                format!("bad pattern {pattern:?}: {error}"),
            );
            return;
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
        match std::fs::read_to_string(&file) {
            Ok(text) => match parse_tenant_file(&text) {
                Ok(found) => sources.extend(found.into_iter().map(|t| (file.clone(), t))),
                Err(message) => problems.push(&file, None, "", message),
            },
            Err(error) => problems.push(&file, None, "", format!("cannot read: {error}")),
        }
    }
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
