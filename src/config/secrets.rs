//! Client secrets: read once at load, kept in [`SecretString`] from then on.
//! A secret file is a [`WatchedFile`]: the tenant's task refreshes it once
//! per cycle (Kubernetes rotates mounted Secrets in place by swapping a
//! symlink), and a token request reads the cached value, never the disk.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

use crate::watched_file::{FileFormat, FileProblem, Watch, WatchedFile};

/// Where a tenant's client secret comes from.
#[derive(Debug)]
pub enum SecretSource {
    /// A file, re-read when its identity or modification time changes.
    File(SecretFile),
    /// A value fixed at load time (environment variable or inline).
    Fixed(Arc<SecretString>),
}

impl SecretSource {
    /// The secret to use for the next token request: the last good value,
    /// without any I/O. A file that has become unreadable keeps its last
    /// good value, so a rotation caught half-way never turns into a false
    /// "credentials rejected".
    pub fn current(&self) -> Arc<SecretString> {
        match self {
            SecretSource::Fixed(secret) => Arc::clone(secret),
            SecretSource::File(file) => file.watched.current(),
        }
    }

    /// Looks at the secret file and re-reads it if it changed (once per
    /// cycle, before the cycle's requests); a fixed value has nothing to
    /// look at.
    pub async fn refresh(&self) {
        if let SecretSource::File(file) = self {
            file.watched.refresh().await;
        }
    }

    /// The file the refresher looks at ([`crate::watched_file::refresher`]);
    /// a fixed value has none.
    pub fn watched(&self) -> Option<Arc<dyn Watch>> {
        match self {
            SecretSource::Fixed(_) => None,
            SecretSource::File(file) => Some(file.watched.clone()),
        }
    }

    /// True while the secret file is unreadable or its new version cannot
    /// be used (the last good value stays in use).
    pub fn file_problem(&self) -> bool {
        match self {
            SecretSource::Fixed(_) => false,
            SecretSource::File(file) => file.watched.is_broken(),
        }
    }

    /// Which file cannot be used, since when and why.
    pub fn problem(&self) -> Option<FileProblem> {
        match self {
            SecretSource::Fixed(_) => None,
            SecretSource::File(file) => file.watched.problem(),
        }
    }
}

/// Two sources are equal when they are the same file or the same fixed value,
/// so a reload can tell an unchanged tenant. A file compares by path only: its
/// content is re-read whenever it changes, so a rotated secret needs no
/// restart. A fixed value is exposed only inside this comparison.
impl PartialEq for SecretSource {
    fn eq(&self, other: &SecretSource) -> bool {
        match (self, other) {
            (SecretSource::File(a), SecretSource::File(b)) => a == b,
            (SecretSource::Fixed(a), SecretSource::Fixed(b)) => {
                a.expose_secret() == b.expose_secret()
            }
            _ => false,
        }
    }
}

/// A secret file with the last good value read from it.
///
/// Debug shows the path and any problem, never the value.
#[derive(Debug)]
pub struct SecretFile {
    /// The file and its last good value; shared with the refresher.
    watched: Arc<WatchedFile<SecretText>>,
}

/// Two handles on the same path are the same secret file: the cache is what
/// was last read from it, not part of what was configured.
impl PartialEq for SecretFile {
    fn eq(&self, other: &SecretFile) -> bool {
        self.path() == other.path()
    }
}

/// Why a secret file cannot be used (at load, or a new version of it).
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The secret file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file holds nothing but white space.
    #[error("{path} is empty")]
    Empty {
        /// The secret file.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text")]
    NotText {
        /// The secret file.
        path: PathBuf,
    },
}

impl SecretFile {
    /// Reads the file now, so a missing or empty secret is a config error.
    pub fn open(path: &Path) -> Result<SecretFile, SecretError> {
        let format = SecretText {
            path: path.to_owned(),
        };
        Ok(SecretFile {
            watched: Arc::new(WatchedFile::open(format, vec![path.to_owned()])?),
        })
    }

    /// The configured path.
    pub fn path(&self) -> &Path {
        &self.watched.format().path
    }
}

/// A secret file's format: UTF-8 text, at most
/// [`crate::bounded_file::SECRET_LIMIT`].
#[derive(Debug)]
struct SecretText {
    /// The file, for errors.
    path: PathBuf,
}

impl FileFormat for SecretText {
    type Value = SecretString;
    type Error = SecretError;
    const LIMIT: u64 = crate::bounded_file::SECRET_LIMIT;
    const LABEL: &'static str = "secret file";

    fn unreadable(&self, _index: usize, path: &Path, source: io::Error) -> SecretError {
        SecretError::Unreadable {
            path: path.to_owned(),
            source,
        }
    }

    fn parse(&self, contents: Vec<Zeroizing<Vec<u8>>>) -> Result<SecretString, SecretError> {
        let bytes = contents.first().map_or(&[][..], |bytes| bytes.as_slice());
        parse_secret(&self.path, bytes)
    }
}

/// Trims the trailing newline editors and `echo` add; everything else is
/// part of the secret. Only the secret itself is copied (the file's bytes
/// are zeroed by their owner).
fn parse_secret(path: &Path, bytes: &[u8]) -> Result<SecretString, SecretError> {
    let text = std::str::from_utf8(bytes).map_err(|_| SecretError::NotText {
        path: path.to_owned(),
    })?;
    let trimmed = text.trim_end_matches(['\n', '\r']);
    if trimmed.trim().is_empty() {
        return Err(SecretError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rereads_a_changed_file_and_keeps_the_last_good_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "first\n").unwrap();
        let source = SecretSource::File(SecretFile::open(&path).unwrap());
        // What a cycle does: one refresh, then the requests read the value.
        let next_cycle = || async {
            source.refresh().await;
            source.current().expose_secret().to_owned()
        };
        assert_eq!(next_cycle().await, "first");

        // Rotation the Kubernetes way: a new file renamed over the old one.
        let next = dir.path().join("secret.new");
        std::fs::write(&next, "second").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(
            source.current().expose_secret(),
            "first",
            "until the refresh"
        );
        assert_eq!(next_cycle().await, "second");

        assert!(!source.file_problem());
        std::fs::remove_file(&path).unwrap();
        assert_eq!(next_cycle().await, "second");
        assert!(source.file_problem(), "the tenant's state says so");
        let problem = source.problem().unwrap();
        assert_eq!(problem.path, path);
        assert!(
            problem.reason.starts_with("cannot read"),
            "{}",
            problem.reason
        );

        // Back, unchanged or new: no problem any more.
        std::fs::write(&path, "third").unwrap();
        assert_eq!(next_cycle().await, "third");
        assert!(!source.file_problem());

        // A new version that cannot be used keeps the last one, and says so.
        std::fs::write(&next, "\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(next_cycle().await, "third");
        assert!(source.file_problem());
        assert!(source.problem().unwrap().reason.ends_with("is empty"));
    }

    #[test]
    fn empty_and_missing_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        std::fs::write(&path, "\n").unwrap();
        let error = SecretFile::open(&path).unwrap_err().to_string();
        assert!(error.contains("empty") && error.contains(&*path.to_string_lossy()));
        let missing = dir.path().join("missing");
        let error = SecretFile::open(&missing).unwrap_err().to_string();
        assert!(error.contains("missing"), "{error}");
    }

    #[tokio::test]
    async fn a_file_over_the_size_bound_is_refused_at_load_and_on_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let huge = vec![b's'; crate::bounded_file::SECRET_LIMIT as usize + 1];
        std::fs::write(&path, &huge).unwrap();
        let error = SecretFile::open(&path).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "cannot read {}: it is larger than 64 KiB, the most credprobe reads from such a file",
                path.display()
            )
        );

        // A secret that grows past the bound while running: the last good one stays.
        std::fs::write(&path, "good").unwrap();
        let source = SecretSource::File(SecretFile::open(&path).unwrap());
        let next = dir.path().join("secret.new");
        std::fs::write(&next, &huge).unwrap();
        std::fs::rename(&next, &path).unwrap();
        source.refresh().await;
        assert_eq!(source.current().expose_secret(), "good");
        assert!(source.file_problem());
    }
}
