//! A tenant's key file and optional certificate file, watched as one set
//! ([`WatchedFile`]): a key and its certificate are rotated together, and
//! a version where they do not match (half a rotation) is refused as a
//! whole, the last good pair staying in use.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use secrecy::zeroize::Zeroizing;

use super::SigningAlgorithm;
use super::material::{KeyError, KeyField, KeyMaterial, KeyProblem, material};
use super::registry::Registry;
use crate::bounded_file;
use crate::watched_file::{FileFormat, FileProblem, Watch, WatchedFile};

/// The key files open in this process: tenants naming the same files
/// share one [`KeyFiles`].
static OPEN: LazyLock<Registry<KeyPairFormat, KeyFiles>> = LazyLock::new(Registry::default);

/// A tenant's key file and optional certificate file, with the last good
/// version read from them. One exists per set of files in the process
/// ([`super::registry`]): tenants naming the same files share it.
#[derive(Debug)]
pub struct KeyFiles {
    /// The files and their last good version.
    watched: WatchedFile<KeyPairFormat>,
}

/// Key files compare by what was configured: their content is re-read
/// whenever it changes, so a rotated key needs no restart.
impl PartialEq for KeyFiles {
    fn eq(&self, other: &KeyFiles) -> bool {
        self.watched.format() == other.watched.format()
    }
}

impl KeyFiles {
    /// Reads and checks the files now (a configuration problem otherwise):
    /// the key parses, the certificate's public key is the key's, the
    /// algorithm suits the key. Files already open in this process are
    /// shared; when they changed since, the new version is read and checked.
    pub fn open(
        key_path: &Path,
        certificate_path: Option<&Path>,
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<Arc<KeyFiles>, KeyError> {
        let format = KeyPairFormat {
            key_path: key_path.to_owned(),
            certificate_path: certificate_path.map(Path::to_owned),
            algorithm,
        };
        OPEN.open_shared(format, KeyFiles::check_now, |format| {
            let paths = format.paths();
            Ok(KeyFiles {
                watched: WatchedFile::open(format, paths)?,
            })
        })
    }

    /// Loading a configuration that names these files again: a version
    /// changed since the last good one is read and checked now.
    pub(super) fn check_now(&self) -> Result<(), KeyError> {
        self.watched.check_now().map(drop)
    }

    /// The key file.
    pub fn key_path(&self) -> &Path {
        &self.watched.format().key_path
    }

    /// The certificate file, if configured.
    pub fn certificate_path(&self) -> Option<&Path> {
        self.watched.format().certificate_path.as_deref()
    }

    /// True while a file is unreadable or its new version was refused (the
    /// last good version stays in use).
    pub fn file_problem(&self) -> bool {
        self.watched.is_broken()
    }

    /// Which file cannot be used, since when and why.
    pub fn problem(&self) -> Option<FileProblem> {
        self.watched.problem()
    }

    /// The last good version, without any I/O.
    pub fn current(&self) -> Arc<KeyMaterial> {
        self.watched.current()
    }

    /// Re-reads the files if either changed since the last look (once per
    /// cycle); a version that cannot be used (or a file that cannot be
    /// read) keeps the last good one, and the log says why, once.
    pub async fn refresh(&self) {
        self.watched.refresh().await;
    }
}

/// The batch refresher's look ([`crate::watched_file::refresher`]).
impl Watch for KeyFiles {
    fn look_now(&self) {
        self.watched.look_now();
    }
}

/// What identifies a set of key files: the paths as configured (resolved
/// against the defining file) and the algorithm every version must suit.
/// It reads a version of them into [`KeyMaterial`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct KeyPairFormat {
    /// `client_key_file`.
    key_path: PathBuf,
    /// `client_certificate_file`, if configured.
    certificate_path: Option<PathBuf>,
    /// `client_assertion.algorithm`, if configured.
    algorithm: Option<SigningAlgorithm>,
}

impl KeyPairFormat {
    /// The files in the order [`FileFormat::parse`] takes them.
    fn paths(&self) -> Vec<PathBuf> {
        std::iter::once(self.key_path.clone())
            .chain(self.certificate_path.clone())
            .collect()
    }
}

impl FileFormat for KeyPairFormat {
    type Value = KeyMaterial;
    type Error = KeyError;
    const LIMIT: u64 = bounded_file::PEM_LIMIT;
    const LABEL: &'static str = "key or certificate file";

    fn unreadable(&self, index: usize, path: &Path, error: io::Error) -> KeyError {
        let field = if index == 0 {
            KeyField::Key
        } else {
            KeyField::Certificate
        };
        KeyError::new(field, path, KeyProblem::Unreadable(error))
    }

    fn parse(&self, contents: Vec<Zeroizing<Vec<u8>>>) -> Result<KeyMaterial, KeyError> {
        let mut contents = contents
            .into_iter()
            .map(|mut bytes| std::mem::take(&mut *bytes));
        let key = contents.next().unwrap_or_default();
        let certificate = self
            .certificate_path
            .as_deref()
            .map(|path| (path, contents.next().unwrap_or_default()));
        material(&self.key_path, key, certificate, self.algorithm)
    }

    fn culprit(&self, error: &KeyError) -> usize {
        match error.field {
            KeyField::Certificate => 1,
            KeyField::Key | KeyField::Algorithm => 0,
        }
    }
}
