//! Client secrets: read once at load, kept in [`SecretString`] from then on,
//! and for files re-read whenever the file changes (Kubernetes rotates
//! mounted Secrets in place by swapping a symlink).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use secrecy::{ExposeSecret, SecretString};

use crate::bounded_file::FileStamp;

/// Where a tenant's client secret comes from.
#[derive(Debug)]
pub enum SecretSource {
    /// A file, re-read when its identity or modification time changes.
    File(SecretFile),
    /// A value fixed at load time (environment variable or inline).
    Fixed(SecretString),
}

impl SecretSource {
    /// The secret to use for the next token request. A file that has become
    /// unreadable keeps its last good value (and logs why), so a rotation
    /// caught half-way never turns into a false "credentials rejected".
    pub async fn current(&self) -> SecretString {
        match self {
            SecretSource::Fixed(secret) => secret.clone(),
            SecretSource::File(file) => file.current().await,
        }
    }

    /// True while the secret file is unreadable or its new version cannot
    /// be used (the last good value stays in use).
    pub fn file_problem(&self) -> bool {
        match self {
            SecretSource::Fixed(_) => false,
            SecretSource::File(file) => file.problem.load(Ordering::Relaxed),
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

/// A secret file with the last value read from it.
///
/// Debug shows the path and the cache; [`SecretString`]'s Debug redacts the
/// value.
#[derive(Debug)]
pub struct SecretFile {
    /// The file, as configured.
    path: PathBuf,
    /// The version last read and its value.
    cached: Mutex<(FileStamp, SecretString)>,
    /// Whether the last look at the file failed (unreadable, or a changed
    /// version that cannot be used): the tenant's state shows a warning.
    problem: AtomicBool,
}

/// Two handles on the same path are the same secret file: the cache is what
/// was last read from it, not part of what was configured.
impl PartialEq for SecretFile {
    fn eq(&self, other: &SecretFile) -> bool {
        self.path == other.path
    }
}

/// Why a secret could not be read at load time.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The secret file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
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
        let meta = std::fs::metadata(path).map_err(|source| SecretError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        let bytes = crate::bounded_file::read(path, crate::bounded_file::SECRET_LIMIT).map_err(
            |source| SecretError::Unreadable {
                path: path.to_owned(),
                source,
            },
        )?;
        let secret = parse_secret(path, bytes)?;
        Ok(SecretFile {
            path: path.to_owned(),
            cached: Mutex::new((FileStamp::of(&meta), secret)),
            problem: AtomicBool::new(false),
        })
    }

    /// The configured path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn current(&self) -> SecretString {
        let cached = self.cached.lock().expect("secret cache poisoned").clone();
        let (stamp, secret) = cached;
        let meta = match tokio::fs::metadata(&self.path).await {
            Ok(meta) => meta,
            Err(error) => {
                tracing::warn!(file = %self.path.display(), %error, "secret file unreadable; keeping the last value read");
                self.problem.store(true, Ordering::Relaxed);
                return secret;
            }
        };
        let now = FileStamp::of(&meta);
        if now == stamp {
            self.problem.store(false, Ordering::Relaxed);
            return secret;
        }
        let read =
            crate::bounded_file::read_async(&self.path, crate::bounded_file::SECRET_LIMIT).await;
        let fresh = match read {
            Ok(bytes) => parse_secret(&self.path, bytes),
            Err(source) => Err(SecretError::Unreadable {
                path: self.path.clone(),
                source,
            }),
        };
        match fresh {
            Ok(fresh) => {
                tracing::info!(file = %self.path.display(), "secret file changed; using the new secret");
                *self.cached.lock().expect("secret cache poisoned") = (now, fresh.clone());
                self.problem.store(false, Ordering::Relaxed);
                fresh
            }
            Err(error) => {
                tracing::warn!(%error, "secret file changed but cannot be used; keeping the last value read");
                self.problem.store(true, Ordering::Relaxed);
                secret
            }
        }
    }
}

/// Trims the trailing newline editors and `echo` add; everything else is
/// part of the secret.
fn parse_secret(path: &Path, bytes: Vec<u8>) -> Result<SecretString, SecretError> {
    let text = String::from_utf8(bytes).map_err(|_| SecretError::NotText {
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
        assert_eq!(source.current().await.expose_secret(), "first");

        // Rotation the Kubernetes way: a new file renamed over the old one.
        let next = dir.path().join("secret.new");
        std::fs::write(&next, "second").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(source.current().await.expose_secret(), "second");

        assert!(!source.file_problem());
        std::fs::remove_file(&path).unwrap();
        assert_eq!(source.current().await.expose_secret(), "second");
        assert!(source.file_problem(), "the tenant's state says so");

        // Back, unchanged or new: no problem any more.
        std::fs::write(&path, "third").unwrap();
        assert_eq!(source.current().await.expose_secret(), "third");
        assert!(!source.file_problem());

        // A new version that cannot be used keeps the last one, and says so.
        std::fs::write(&next, "\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(source.current().await.expose_secret(), "third");
        assert!(source.file_problem());
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
        assert_eq!(source.current().await.expose_secret(), "good");
    }
}
