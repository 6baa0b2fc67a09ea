//! Files that can change under the running daemon, watched one way: a
//! tenant's client secret, its private key with its certificate, the web
//! server's certificate and key. Each is a [`WatchedFile`]: one file, or a
//! set read and checked together (a key and the certificate that must
//! match it), with the last good version parsed.
//!
//! - Looking is explicit and rare: a tenant's credential files are looked
//!   at once per interval by one task for all of them, in batches
//!   ([`refresher`]); the web server's certificate by its own periodic
//!   task ([`WatchedFile::refresh`]). Using the value is
//!   [`WatchedFile::current`], which never touches the disk.
//! - A look is a `stat` of each file ([`FileStamp`]); only a changed file
//!   is read, bounded by its format's [`FileFormat::LIMIT`], and parsed,
//!   all on the blocking pool.
//! - A version that cannot be used (missing, unreadable, too large,
//!   unparsable) keeps the last good one. It is logged once, when it
//!   breaks, and once more when it recovers; a refused version is not
//!   read again until a file changes again. [`WatchedFile::problem`] says
//!   which file, since when and why, for the tenant's state.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use secrecy::zeroize::Zeroizing;

use crate::bounded_file::{self, FileStamp};

pub mod refresher;

pub use refresher::{Refresher, Watch, Watching};

/// How a kind of watched file is read: its size bound, what the log calls
/// it, and the parser that turns one version of its files into a value.
pub trait FileFormat: Send + Sync + 'static {
    /// What a good version parses into.
    type Value: Send + Sync + 'static;
    /// Why a version cannot be used. Its message names the file and never
    /// shows any of its content.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The most read from each file ([`bounded_file`]'s limits).
    const LIMIT: u64;
    /// What the log calls these files, e.g. "secret file".
    const LABEL: &'static str;

    /// The error for the file at `path` (the `index`-th watched one) when
    /// it cannot be looked at or read.
    fn unreadable(&self, index: usize, path: &Path, error: io::Error) -> Self::Error;

    /// Parses one version: the content of every watched file, in the
    /// order the paths were given. Bytes not taken out are zeroed when
    /// dropped.
    fn parse(&self, contents: Vec<Zeroizing<Vec<u8>>>) -> Result<Self::Value, Self::Error>;

    /// Which watched file (its index) `error` is about; the first unless
    /// the format says otherwise.
    fn culprit(&self, _error: &Self::Error) -> usize {
        0
    }
}

/// Why the files of a [`WatchedFile`] are not usable now, while its last
/// good version stays in use: which file, since when and why. Made for
/// the tenant's state (which file is broken, since when) and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// The file at fault.
    pub path: PathBuf,
    /// When the problem was first seen: the start of this spell, even if
    /// the reason changed since.
    pub since: SystemTime,
    /// What is wrong, naming the file, never showing its content.
    pub reason: Arc<str>,
}

/// What a [`WatchedFile::refresh`] found, so a caller (and a test) can
/// tell what was logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// Nothing new: the same files as at the last look, good or refused.
    Unchanged,
    /// A new good version replaced the previous good one.
    Updated,
    /// The files cannot be used now (a new reason, logged as a warning);
    /// the last good version stays in use.
    Broke(FileProblem),
    /// Usable again after a problem (logged once): a new good version,
    /// or the good version back.
    Recovered,
}

/// A watched file (or set of files) with the last good version parsed
/// from it; see the module documentation.
pub struct WatchedFile<F: FileFormat> {
    /// What is read and how; shared with the blocking pool's reads.
    source: Arc<Source<F>>,
    /// The last good version and what the last look found.
    state: Mutex<State<F::Value>>,
    /// Held through a refresh: tenants sharing files (and refreshing them
    /// at the same moment) read a new version once, and an older look is
    /// never applied over a newer one.
    refreshing: tokio::sync::Mutex<()>,
}

/// The paths and their format.
struct Source<F> {
    /// The watched files, in the order the format's parser expects.
    paths: Vec<PathBuf>,
    /// The parser (with anything it checks a version against).
    format: F,
}

/// The stamps of every watched file, in order.
type Stamps = Vec<FileStamp>;

/// What a [`WatchedFile`] holds between looks.
struct State<T> {
    /// The last good version.
    current: Arc<T>,
    /// The file versions `current` was read from.
    good: Stamps,
    /// The file versions the last look found (`None`: a file could not be
    /// looked at), so a refused version is not read again.
    seen: Option<Stamps>,
    /// Set while the files cannot be used.
    problem: Option<FileProblem>,
}

/// What one look at the files found, before it is applied to the state.
enum Look<T, E> {
    /// The versions of the last look.
    Same,
    /// The versions of the good value in use, after a look that differed.
    BackToGood,
    /// A file could not be looked at.
    Unreadable(E),
    /// New versions, read and parsed (or refused).
    New(Stamps, Result<T, E>),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<F: FileFormat> Source<F> {
    fn stamps(&self) -> Result<Stamps, F::Error> {
        self.paths
            .iter()
            .enumerate()
            .map(|(index, path)| {
                FileStamp::current(path).map_err(|e| self.format.unreadable(index, path, e))
            })
            .collect()
    }

    /// Reads every file (bounded) and parses them together.
    fn read(&self) -> Result<F::Value, F::Error> {
        let contents = self
            .paths
            .iter()
            .enumerate()
            .map(|(index, path)| {
                bounded_file::read(path, F::LIMIT)
                    .map(Zeroizing::new)
                    .map_err(|e| self.format.unreadable(index, path, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.format.parse(contents)
    }

    /// Looks at the files; reads them only if they differ from both the
    /// last look (`seen`) and the good version (`good`). Blocking.
    fn look(&self, seen: Option<&Stamps>, good: &Stamps) -> Look<F::Value, F::Error> {
        let now = match self.stamps() {
            Ok(now) => now,
            Err(error) => return Look::Unreadable(error),
        };
        if seen == Some(&now) {
            Look::Same
        } else if now == *good {
            Look::BackToGood
        } else {
            // Stamped before the read: a file changed in between is read
            // again at the next look, never missed.
            let read = self.read();
            Look::New(now, read)
        }
    }

    fn culprit(&self, error: &F::Error) -> PathBuf {
        let index = self.format.culprit(error);
        self.paths
            .get(index)
            .or(self.paths.first())
            .cloned()
            .unwrap_or_default()
    }

    /// The paths as the log shows them.
    fn describe(&self) -> String {
        let paths: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        paths.join(", ")
    }
}

impl<F: FileFormat> WatchedFile<F> {
    /// Reads and parses the files now, on the calling thread (loading a
    /// configuration): a version that cannot be used is an error here.
    /// `paths` are in the order `format` parses them; none at all (every
    /// input given inline) is a value that never changes.
    pub fn open(format: F, paths: Vec<PathBuf>) -> Result<WatchedFile<F>, F::Error> {
        let source = Source { paths, format };
        let good = source.stamps()?;
        let current = Arc::new(source.read()?);
        Ok(WatchedFile {
            source: Arc::new(source),
            state: Mutex::new(State {
                current,
                seen: Some(good.clone()),
                good,
                problem: None,
            }),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// The watched files, in the order given to [`WatchedFile::open`].
    pub fn paths(&self) -> &[PathBuf] {
        &self.source.paths
    }

    /// The format, with whatever it checks versions against.
    pub fn format(&self) -> &F {
        &self.source.format
    }

    /// The last good version. No I/O: this is what every use of the value
    /// calls, however often.
    pub fn current(&self) -> Arc<F::Value> {
        Arc::clone(&lock(&self.state).current)
    }

    /// True while the files cannot be used (the last good version stays
    /// in use).
    pub fn is_broken(&self) -> bool {
        lock(&self.state).problem.is_some()
    }

    /// Which file cannot be used, since when and why; `None` while all is
    /// well.
    pub fn problem(&self) -> Option<FileProblem> {
        lock(&self.state).problem.clone()
    }

    /// Looks at the files and, if they changed, reads and parses them, on
    /// the blocking pool; logs a change, a new problem and a recovery,
    /// each once. Call it once per period of use (a tenant's cycle), not
    /// per use.
    pub async fn refresh(&self) -> Refreshed {
        let _one_at_a_time = self.refreshing.lock().await;
        let (seen, good) = {
            let state = lock(&self.state);
            (state.seen.clone(), state.good.clone())
        };
        let source = Arc::clone(&self.source);
        let look = tokio::task::spawn_blocking(move || source.look(seen.as_ref(), &good)).await;
        match look {
            Ok(look) => self.apply(look),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // The runtime is shutting down: nothing to apply.
            Err(_) => Refreshed::Unchanged,
        }
    }

    /// Looks at the files on the calling thread, which may block: what
    /// [`WatchedFile::refresh`] does on the blocking pool. A refresh in
    /// progress is left to finish its own look.
    fn look_blocking(&self) -> Option<Refreshed> {
        let _one_at_a_time = self.refreshing.try_lock().ok()?;
        let (seen, good) = {
            let state = lock(&self.state);
            (state.seen.clone(), state.good.clone())
        };
        let look = self.source.look(seen.as_ref(), &good);
        Some(self.apply(look))
    }

    /// Loading a configuration that names files already watched: if they
    /// changed since the good version was read, they are read now, on the
    /// calling thread, and a version that cannot be used is an error (the
    /// state is left for the next refresh to report).
    pub fn check_now(&self) -> Result<Refreshed, F::Error> {
        let good = lock(&self.state).good.clone();
        match self.source.look(Some(&good), &good) {
            Look::Unreadable(error) | Look::New(_, Err(error)) => Err(error),
            look => Ok(self.apply(look)),
        }
    }

    /// Applies a look to the state, then logs what changed.
    fn apply(&self, look: Look<F::Value, F::Error>) -> Refreshed {
        let mut state = lock(&self.state);
        // Whether a new version is in use, for the log.
        let mut new_version = false;
        let refreshed = match look {
            Look::Same => Refreshed::Unchanged,
            Look::BackToGood => {
                state.seen = Some(state.good.clone());
                match state.problem.take() {
                    Some(_) => Refreshed::Recovered,
                    None => Refreshed::Unchanged,
                }
            }
            // A check at load got there first.
            Look::New(stamps, _) if state.seen.as_ref() == Some(&stamps) => Refreshed::Unchanged,
            Look::New(stamps, Ok(value)) => {
                new_version = true;
                state.current = Arc::new(value);
                state.seen = Some(stamps.clone());
                state.good = stamps;
                match state.problem.take() {
                    Some(_) => Refreshed::Recovered,
                    None => Refreshed::Updated,
                }
            }
            Look::New(stamps, Err(error)) => self.broke(&mut state, Some(stamps), &error),
            Look::Unreadable(error) => self.broke(&mut state, None, &error),
        };
        drop(state);
        self.log(&refreshed, new_version);
        refreshed
    }

    /// Records that the files cannot be used; `Unchanged` when that was
    /// already known for the same reason.
    fn broke(
        &self,
        state: &mut State<F::Value>,
        seen: Option<Stamps>,
        error: &F::Error,
    ) -> Refreshed {
        let path = self.source.culprit(error);
        let reason: Arc<str> = Arc::from(error.to_string());
        let known = state.seen == seen
            && state
                .problem
                .as_ref()
                .is_some_and(|p| p.path == path && p.reason == reason);
        state.seen = seen;
        if known {
            return Refreshed::Unchanged;
        }
        let since = state
            .problem
            .as_ref()
            .map_or_else(SystemTime::now, |p| p.since);
        let problem = FileProblem {
            path,
            since,
            reason,
        };
        state.problem = Some(problem.clone());
        Refreshed::Broke(problem)
    }

    fn log(&self, refreshed: &Refreshed, new_version: bool) {
        let label = F::LABEL;
        // Described only for a line that is written: most looks change
        // nothing, and formatting every path of every look was a third of
        // the refresher's work.
        let files = || self.source.describe();
        match refreshed {
            Refreshed::Unchanged => {}
            Refreshed::Updated => {
                tracing::info!(file = %files(), "{label} changed; using the new version");
            }
            Refreshed::Recovered if new_version => tracing::info!(
                file = %files(),
                "{label} changed; using the new version, usable again"
            ),
            Refreshed::Recovered => tracing::info!(
                file = %files(),
                "{label} usable again, back to the version in use"
            ),
            Refreshed::Broke(problem) => tracing::warn!(
                file = %problem.path.display(),
                reason = %problem.reason,
                "{label} cannot be used; keeping the last good version"
            ),
        }
    }
}

/// The batch refresher's look (see [`refresher`]).
impl<F: FileFormat> Watch for WatchedFile<F> {
    fn look_now(&self) {
        self.look_blocking();
    }
}

/// Paths and the problem, if any; never the value (it may be a secret).
impl<F: FileFormat> fmt::Debug for WatchedFile<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchedFile")
            .field("paths", &self.source.paths)
            .field("problem", &lock(&self.state).problem)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
