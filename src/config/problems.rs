//! The one collector of configuration problems ([`Problems`]) for every
//! configuration the daemon reads (the main file and its tenant files, the
//! `--web.config.file`), and what it reports ([`ConfigProblem`],
//! [`ConfigError`]): every problem at once, each with its file and, where
//! known, line, tenant and field; beside them the warnings, risks that do
//! not stop the configuration from loading.
//!
//! A problem found after parsing knows where it is as a path in its file
//! (`tenants[3].endpoints[0].path`); its line is looked up once, when the
//! problems are finished, by one pass over each file concerned
//! ([`super::locate`]), so a valid configuration never pays for it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use super::locate;

/// One thing wrong with the configuration, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file it is in.
    pub file: PathBuf,
    /// The 1-based line of the key or item concerned, when known.
    pub line: Option<usize>,
    /// The tenant it concerns, if any.
    pub tenant: Option<String>,
    /// The field (dotted path), if known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(tenant) = &self.tenant {
            write!(f, ": tenant {tenant}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything wrong with a configuration, reported at once.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// Each problem found.
    pub problems: Vec<ConfigProblem>,
    /// The warnings found beside them (see [`Problems::warn_in`]), so
    /// `check-config` can show them with the problems.
    pub warnings: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} configuration problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// A configuration error with a single problem about a whole file.
    pub fn file(file: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError {
            problems: vec![ConfigProblem {
                file: file.to_owned(),
                line: None,
                tenant: None,
                field: None,
                message: message.into(),
            }],
            warnings: Vec::new(),
        }
    }
}

/// A problem or warning, and where in its file it is when its line is not
/// known yet.
#[derive(Debug)]
struct Entry {
    problem: ConfigProblem,
    /// The path of the key or item in the file, to find its line.
    at: Option<String>,
    /// A duplicate's first definition (file and path): its place is added
    /// to the message once known.
    first: Option<(PathBuf, String)>,
}

/// Problems found so far: every check pushes here and goes on, so one run
/// reports everything; a check that added none has passed.
#[derive(Debug, Default)]
pub struct Problems {
    found: Vec<Entry>,
    warnings: Vec<Entry>,
}

impl Problems {
    /// No problems yet.
    pub fn new() -> Problems {
        Problems::default()
    }

    /// Records a problem in `file`, of `tenant` when it concerns one, at
    /// `field` (empty: the whole file).
    pub fn push(
        &mut self,
        file: &Path,
        tenant: Option<&str>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push_at(file, None, tenant, field, message);
    }

    /// [`Problems::push`] with the line, when the parser told it.
    pub fn push_at(
        &mut self,
        file: &Path,
        line: Option<usize>,
        tenant: Option<&str>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.found.push(Entry {
            problem: problem(file, line, tenant, field.into(), message.into()),
            at: None,
            first: None,
        });
    }

    /// [`Problems::push`] of a problem at `at`, the path of its key or item
    /// in the file (`tenants[3].interval`), whose line is looked up when
    /// the problems are finished (the nearest enclosing key or item that
    /// is in the file when that one is not).
    pub fn push_in(
        &mut self,
        file: &Path,
        at: String,
        tenant: Option<&str>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.found.push(Entry {
            problem: problem(file, None, tenant, field.into(), message.into()),
            at: Some(at),
            first: None,
        });
    }

    /// A second definition of a name at `at` in `file`, the first at
    /// `first_at` in `first_file`: one problem naming both places
    /// (`message (first defined at FILE:LINE)`).
    #[allow(clippy::too_many_arguments)]
    pub fn push_duplicate(
        &mut self,
        file: &Path,
        at: String,
        tenant: Option<&str>,
        field: impl Into<String>,
        message: impl Into<String>,
        first_file: &Path,
        first_at: String,
    ) {
        self.found.push(Entry {
            problem: problem(file, None, tenant, field.into(), message.into()),
            at: Some(at),
            first: Some((first_file.to_owned(), first_at)),
        });
    }

    /// Records a warning: a risk that does not stop the configuration from
    /// loading (a secret file others can read, an expiry date passed).
    /// Placed like [`Problems::push_in`].
    pub fn warn_in(
        &mut self,
        file: &Path,
        at: String,
        tenant: Option<&str>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.warnings.push(Entry {
            problem: problem(file, None, tenant, field.into(), message.into()),
            at: Some(at),
            first: None,
        });
    }

    /// How many problems were found so far: a check that adds none has
    /// passed. Warnings do not count.
    pub fn count(&self) -> usize {
        self.found.len()
    }

    /// True while nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// `Ok` when nothing was found, else every problem as one error.
    pub fn finish(self) -> Result<(), ConfigError> {
        self.finish_with_warnings().map(|_| ())
    }

    /// The warnings when nothing was found, else every problem (and the
    /// warnings) as one error; lines are looked up first.
    pub fn finish_with_warnings(self) -> Result<Vec<ConfigProblem>, ConfigError> {
        self.finish_with_text(None)
    }

    /// [`Problems::finish_with_warnings`] where one file's text is given
    /// (configuration checked from text, not read from its file).
    pub fn finish_with_text(
        mut self,
        given: Option<(&Path, &str)>,
    ) -> Result<Vec<ConfigProblem>, ConfigError> {
        locate_all(&mut self.found, &mut self.warnings, given);
        in_file_order(&mut self.found);
        in_file_order(&mut self.warnings);
        let warnings = self.warnings.into_iter().map(|e| e.problem).collect();
        if self.found.is_empty() {
            Ok(warnings)
        } else {
            Err(ConfigError {
                problems: self.found.into_iter().map(|e| e.problem).collect(),
                warnings,
            })
        }
    }
}

fn problem(
    file: &Path,
    line: Option<usize>,
    tenant: Option<&str>,
    field: String,
    message: String,
) -> ConfigProblem {
    ConfigProblem {
        file: file.to_owned(),
        line,
        tenant: tenant.map(str::to_owned),
        field: (!field.is_empty()).then_some(field),
        message,
    }
}

/// Files in the order they were first reported on, each file's problems
/// by line (those about the whole file first); a stable sort, so problems
/// on one line keep the order they were found in.
fn in_file_order(entries: &mut [Entry]) {
    let mut rank: HashMap<PathBuf, usize> = HashMap::new();
    for entry in entries.iter() {
        let next = rank.len();
        rank.entry(entry.problem.file.clone()).or_insert(next);
    }
    entries.sort_by_key(|e| (rank[&e.problem.file], e.problem.line.unwrap_or(0)));
}

/// Looks up every line still unknown: one pass per file concerned.
fn locate_all(found: &mut [Entry], warnings: &mut [Entry], given: Option<(&Path, &str)>) {
    let mut wanted: HashMap<PathBuf, HashSet<String>> = HashMap::new();
    let mut want = |file: &Path, at: &str| {
        let paths = wanted.entry(file.to_owned()).or_default();
        let mut path = Some(at);
        while let Some(p) = path.filter(|p| !p.is_empty()) {
            paths.insert(p.to_owned());
            path = locate::parent(p);
        }
    };
    for entry in found.iter().chain(warnings.iter()) {
        if let Some(at) = &entry.at {
            want(&entry.problem.file, at);
        }
        if let Some((file, at)) = &entry.first {
            want(file, at);
        }
    }
    let spans: HashMap<PathBuf, HashMap<String, locate::Span>> = wanted
        .into_iter()
        .filter_map(|(file, paths)| {
            let spans = match given {
                Some((path, text)) if path == file => locate::find(text, &paths),
                _ => locate::find(&std::fs::read_to_string(&file).ok()?, &paths),
            };
            Some((file, spans))
        })
        .collect();
    let line_of = |file: &Path, at: &str| {
        let spans = spans.get(file)?;
        let mut path = Some(at);
        while let Some(p) = path.filter(|p| !p.is_empty()) {
            if let Some(span) = spans.get(p) {
                return Some(span.line);
            }
            path = locate::parent(p);
        }
        None
    };
    for entry in found.iter_mut().chain(warnings.iter_mut()) {
        if let Some(at) = &entry.at
            && entry.problem.line.is_none()
        {
            entry.problem.line = line_of(&entry.problem.file, at);
        }
        if let Some((file, at)) = &entry.first {
            let place = match line_of(file, at) {
                Some(line) => format!("at {}:{line}", file.display()),
                None => format!("in {}", file.display()),
            };
            entry.problem.message = format!("{} (first defined {place})", entry.problem.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_collect_in_order_and_become_one_error() {
        let problems = Problems::new();
        assert!(problems.is_empty());
        assert!(problems.finish().is_ok());

        let mut problems = Problems::new();
        let file = Path::new("/etc/credprobe/credprobe.yml");
        problems.push(file, Some("acme"), "interval", "must be at least 1s");
        problems.push(file, None, "", "not YAML");
        assert_eq!(problems.count(), 2);
        let error = problems.finish().unwrap_err();
        assert_eq!(
            error.to_string(),
            "2 configuration problems:\n  /etc/credprobe/credprobe.yml: tenant acme: interval: must be at least 1s\n  /etc/credprobe/credprobe.yml: not YAML"
        );
        assert_eq!(
            error.problems[1].field, None,
            "an empty field is the whole file"
        );
    }

    /// The configuration the tests below place their problems in.
    const TEXT: &str = "interval: 30s\ntenants:\n  - name: acme\n    interval: 0s\n  - name: acme\n    endpoints:\n      - path: x\n";

    #[test]
    fn lines_are_looked_up_from_the_path_or_its_nearest_parent() {
        let file = Path::new("/etc/credprobe/credprobe.yml");
        let mut problems = Problems::new();
        // Found in this order; reported whole-file first, then by line.
        problems.push_in(
            file,
            "tenants[1].endpoints[0].path".into(),
            Some("acme"),
            "endpoints[0].path",
            "must start with /",
        );
        problems.push_in(
            file,
            "tenants[0].interval".into(),
            Some("acme"),
            "interval",
            "must be at least 1s",
        );
        problems.push_in(
            file,
            "tenants[1].timeout".into(),
            Some("acme"),
            "timeout",
            "is missing",
        );
        problems.push(file, None, "", "whole file");
        let error = problems.finish_with_text(Some((file, TEXT))).unwrap_err();
        let placed: Vec<_> = error
            .problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(
            placed,
            [
                (None, "whole file"),
                (Some(4), "must be at least 1s"),
                // tenants[1].timeout is not in the file: its tenant's line.
                (Some(5), "is missing"),
                (Some(7), "must start with /"),
            ]
        );
        assert!(error.warnings.is_empty());
    }

    #[test]
    fn a_duplicate_names_where_it_was_first_defined() {
        let file = Path::new("/etc/credprobe/credprobe.yml");
        let other = Path::new("/nonexistent/credprobe-tenants.yml");
        let mut problems = Problems::new();
        let name = "tenants[1].name".to_owned();
        problems.push_duplicate(
            file,
            name.clone(),
            Some("acme"),
            "name",
            "tenant acme is defined twice",
            file,
            "tenants[0].name".into(),
        );
        problems.push_duplicate(
            file,
            name,
            Some("acme"),
            "name",
            "again",
            other,
            "tenants[0].name".into(),
        );
        let error = problems.finish_with_text(Some((file, TEXT))).unwrap_err();
        assert_eq!(error.problems[0].line, Some(5));
        assert_eq!(
            error.problems[0].message,
            "tenant acme is defined twice (first defined at /etc/credprobe/credprobe.yml:3)"
        );
        // A first file that cannot be read: the file without a line.
        assert_eq!(
            error.problems[1].message,
            "again (first defined in /nonexistent/credprobe-tenants.yml)"
        );
    }

    #[test]
    fn warnings_do_not_count_and_travel_with_the_problems() {
        let file = Path::new("/etc/credprobe/credprobe.yml");
        let warned = || {
            let mut problems = Problems::new();
            problems.warn_in(
                file,
                "tenants[0].interval".into(),
                Some("acme"),
                "interval",
                "is short",
            );
            problems
        };
        let problems = warned();
        assert_eq!((problems.count(), problems.is_empty()), (0, true));
        let warnings = problems.finish_with_text(Some((file, TEXT))).unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].line, Some(4));
        assert_eq!(
            warnings[0].to_string(),
            "/etc/credprobe/credprobe.yml:4: tenant acme: interval: is short"
        );
        let mut problems = warned();
        problems.push(file, None, "", "not YAML");
        let error = problems.finish_with_text(Some((file, TEXT))).unwrap_err();
        assert_eq!(error.problems.len(), 1);
        assert_eq!(
            error.warnings.len(),
            1,
            "warnings are kept beside the problems"
        );
        assert!(
            !error.to_string().contains("is short"),
            "the error lists problems only"
        );
    }
}
