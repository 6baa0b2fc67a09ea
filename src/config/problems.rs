//! The one collector of configuration problems ([`Problems`]) for every
//! configuration the daemon reads (the main file and its tenant files, the
//! `--web.config.file`), and what it reports ([`ConfigProblem`],
//! [`ConfigError`]): every problem at once, each with its file and, where
//! known, tenant and field.

use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with the configuration, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file it is in.
    pub file: PathBuf,
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
                tenant: None,
                field: None,
                message: message.into(),
            }],
        }
    }
}

/// Problems found so far: every check pushes here and goes on, so one run
/// reports everything; a check that added none has passed.
#[derive(Debug, Default)]
pub struct Problems(Vec<ConfigProblem>);

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
        let field: String = field.into();
        self.0.push(ConfigProblem {
            file: file.to_owned(),
            tenant: tenant.map(str::to_owned),
            field: (!field.is_empty()).then_some(field),
            message: message.into(),
        });
    }

    /// How many problems were found so far: a check that adds none has
    /// passed.
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// True while nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was found, else every problem as one error.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems: self.0 })
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
}
