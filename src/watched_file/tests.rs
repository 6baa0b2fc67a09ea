use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// Text files whose content must not start with "bad"; counts its parses,
/// so a test sees every read.
#[derive(Default)]
struct Text {
    parses: Arc<AtomicUsize>,
}

#[derive(Debug, thiserror::Error)]
enum TextError {
    #[error("{path} cannot be read: {source}")]
    Unreadable {
        index: usize,
        path: PathBuf,
        source: io::Error,
    },
    #[error("file {index} is bad")]
    Bad { index: usize },
}

impl FileFormat for Text {
    type Value = String;
    type Error = TextError;
    const LIMIT: u64 = 64;
    const LABEL: &'static str = "test file";

    fn unreadable(&self, index: usize, path: &Path, source: io::Error) -> TextError {
        TextError::Unreadable {
            index,
            path: path.to_owned(),
            source,
        }
    }

    fn parse(&self, contents: Vec<Zeroizing<Vec<u8>>>) -> Result<String, TextError> {
        self.parses.fetch_add(1, Ordering::Relaxed);
        let mut value = String::new();
        for (index, bytes) in contents.iter().enumerate() {
            let text = String::from_utf8_lossy(bytes);
            if text.starts_with("bad") {
                return Err(TextError::Bad { index });
            }
            value.push_str(&text);
        }
        Ok(value)
    }

    fn culprit(&self, error: &TextError) -> usize {
        match error {
            TextError::Unreadable { index, .. } | TextError::Bad { index } => *index,
        }
    }
}

/// Replaces a file the Kubernetes way: a new file renamed over it.
fn replace(path: &Path, text: &str) {
    let next = path.with_extension("new");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, path).unwrap();
}

struct Fixture {
    dir: tempfile::TempDir,
    parses: Arc<AtomicUsize>,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Fixture {
            dir,
            parses: Arc::default(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn open(&self, names: &[&str]) -> WatchedFile<Text> {
        let format = Text {
            parses: Arc::clone(&self.parses),
        };
        WatchedFile::open(format, names.iter().map(|n| self.path(n)).collect()).unwrap()
    }

    fn parses(&self) -> usize {
        self.parses.load(Ordering::Relaxed)
    }
}

/// The log lines written while `run` runs (on this thread).
async fn logged<T>(run: impl Future<Output = T>) -> (T, String) {
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let out = run.await;
    drop(guard);
    let text = String::from_utf8(lock(&lines.0).clone()).unwrap();
    (out, text)
}

#[tokio::test]
async fn a_changed_file_is_picked_up_at_the_next_refresh_and_not_before() {
    let files = Fixture::new(&[("a", "one")]);
    let watched = files.open(&["a"]);
    assert_eq!(*watched.current(), "one");
    assert_eq!(watched.refresh().await, Refreshed::Unchanged);
    assert_eq!(files.parses(), 1, "an unchanged file is not read again");

    replace(&files.path("a"), "two");
    assert_eq!(*watched.current(), "one", "not before the refresh");
    assert_eq!(files.parses(), 1);
    let (refreshed, log) = logged(watched.refresh()).await;
    assert_eq!(refreshed, Refreshed::Updated);
    assert_eq!(*watched.current(), "two");
    assert!(
        log.contains("test file changed; using the new version"),
        "{log}"
    );
    assert_eq!(watched.refresh().await, Refreshed::Unchanged);
    assert_eq!(files.parses(), 2);
}

#[tokio::test]
async fn current_never_touches_the_disk() {
    let files = Fixture::new(&[("a", "one")]);
    let watched = files.open(&["a"]);
    std::fs::remove_file(files.path("a")).unwrap();
    for _ in 0..3 {
        assert_eq!(*watched.current(), "one");
    }
    assert!(!watched.is_broken(), "nothing looked yet");
    assert_eq!(files.parses(), 1);
}

#[tokio::test]
async fn a_deleted_file_keeps_the_last_good_value_says_so_once_and_recovers() {
    let files = Fixture::new(&[("a", "one")]);
    let watched = files.open(&["a"]);
    std::fs::remove_file(files.path("a")).unwrap();
    let before = SystemTime::now();
    let ((first, again), log) = logged(async {
        let first = watched.refresh().await;
        let mut again = Vec::new();
        for _ in 0..3 {
            again.push(watched.refresh().await);
        }
        (first, again)
    })
    .await;
    let Refreshed::Broke(problem) = first else {
        panic!("{first:?}")
    };
    assert_eq!(again, vec![Refreshed::Unchanged; 3]);
    assert_eq!(log.matches("cannot be used").count(), 1, "{log}");
    assert!(
        log.contains("WARN") && log.contains("keeping the last good version"),
        "{log}"
    );
    assert_eq!(problem.path, files.path("a"));
    assert!(problem.since >= before);
    assert!(
        problem.reason.contains("No such file"),
        "{}",
        problem.reason
    );
    assert!(log.contains(&*problem.path.to_string_lossy()), "{log}");
    assert_eq!(watched.problem(), Some(problem));
    assert!(watched.is_broken());
    assert_eq!(*watched.current(), "one");

    std::fs::write(files.path("a"), "two").unwrap();
    let (refreshed, log) = logged(watched.refresh()).await;
    assert_eq!(refreshed, Refreshed::Recovered);
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.contains("INFO") && log.contains("usable again"),
        "{log}"
    );
    assert_eq!(*watched.current(), "two");
    assert_eq!(watched.problem(), None);
    assert_eq!(watched.refresh().await, Refreshed::Unchanged);
}

#[tokio::test]
async fn a_file_over_the_size_bound_is_refused_and_the_last_good_kept() {
    let files = Fixture::new(&[("a", "one")]);
    let watched = files.open(&["a"]);
    replace(&files.path("a"), &"x".repeat(Text::LIMIT as usize + 1));
    let Refreshed::Broke(problem) = watched.refresh().await else {
        panic!("accepted")
    };
    assert!(
        problem.reason.contains("larger than 64 bytes"),
        "{}",
        problem.reason
    );
    assert_eq!(*watched.current(), "one");
    assert_eq!(files.parses(), 1, "never handed to the parser");
    assert_eq!(watched.refresh().await, Refreshed::Unchanged);

    // And at open: a configuration problem.
    let format = Text::default();
    let error = WatchedFile::open(format, vec![files.path("a")]).unwrap_err();
    assert!(
        error.to_string().contains("larger than 64 bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unparsable_version_is_refused_once_and_not_read_again_until_it_changes() {
    let files = Fixture::new(&[("a", "one")]);
    let watched = files.open(&["a"]);
    replace(&files.path("a"), "bad one");
    let (refreshed, log) = logged(async {
        let first = watched.refresh().await;
        for _ in 0..5 {
            assert_eq!(watched.refresh().await, Refreshed::Unchanged);
        }
        first
    })
    .await;
    let Refreshed::Broke(problem) = refreshed else {
        panic!("accepted")
    };
    assert_eq!(&*problem.reason, "file 0 is bad");
    assert_eq!(log.matches("cannot be used").count(), 1, "{log}");
    assert_eq!(files.parses(), 2, "the refused version was parsed once");

    // Another reason (the file is gone now) is worth one more line; the
    // problem's start stays.
    std::fs::remove_file(files.path("a")).unwrap();
    let Refreshed::Broke(missing) = watched.refresh().await else {
        panic!("not noticed")
    };
    assert_eq!(missing.since, problem.since);
    assert_ne!(missing.reason, problem.reason);

    replace(&files.path("a"), "three");
    assert_eq!(watched.refresh().await, Refreshed::Recovered);
    assert_eq!(*watched.current(), "three");
}

#[tokio::test]
async fn the_good_version_back_recovers_without_a_read() {
    let files = Fixture::new(&[("a", "one")]);
    let watched = files.open(&["a"]);
    let saved = files.path("a.saved");
    std::fs::hard_link(files.path("a"), &saved).unwrap();
    replace(&files.path("a"), "bad");
    assert!(matches!(watched.refresh().await, Refreshed::Broke(_)));
    std::fs::rename(&saved, files.path("a")).unwrap();
    let parses = files.parses();
    assert_eq!(watched.refresh().await, Refreshed::Recovered);
    assert_eq!(files.parses(), parses, "the same file: nothing to read");
    assert_eq!(*watched.current(), "one");
}

#[tokio::test]
async fn a_set_of_files_is_read_together_and_the_culprit_named() {
    let files = Fixture::new(&[("key", "k1"), ("cert", "c1")]);
    let watched = files.open(&["key", "cert"]);
    assert_eq!(*watched.current(), "k1c1");
    // Half a rotation: the key alone does not go with the old certificate
    // (here: the certificate's new version is bad).
    replace(&files.path("key"), "k2");
    replace(&files.path("cert"), "bad");
    let Refreshed::Broke(problem) = watched.refresh().await else {
        panic!("accepted")
    };
    assert_eq!(problem.path, files.path("cert"));
    assert_eq!(*watched.current(), "k1c1");
    replace(&files.path("cert"), "c2");
    assert_eq!(watched.refresh().await, Refreshed::Recovered);
    assert_eq!(*watched.current(), "k2c2");
}

#[tokio::test]
async fn check_now_takes_a_good_change_and_refuses_a_bad_one_without_recording_it() {
    let files = Fixture::new(&[("a", "one")]);
    let watched = files.open(&["a"]);
    assert_eq!(watched.check_now().unwrap(), Refreshed::Unchanged);
    replace(&files.path("a"), "two");
    assert_eq!(watched.check_now().unwrap(), Refreshed::Updated);
    assert_eq!(*watched.current(), "two");
    replace(&files.path("a"), "bad");
    assert!(watched.check_now().is_err());
    assert!(!watched.is_broken(), "left for the next refresh to report");
    assert!(matches!(watched.refresh().await, Refreshed::Broke(_)));
}

#[test]
fn no_files_is_a_value_that_never_changes() {
    let watched = WatchedFile::open(Text::default(), Vec::new()).unwrap();
    assert_eq!(*watched.current(), "");
    assert!(matches!(watched.check_now(), Ok(Refreshed::Unchanged)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_at_the_same_moment_read_a_new_version_once() {
    let files = Fixture::new(&[("a", "one")]);
    let watched = files.open(&["a"]);
    replace(&files.path("a"), "two");
    // Tenants sharing files refresh them at the same moment.
    let (a, b) = tokio::join!(watched.refresh(), watched.refresh());
    let updated = [&a, &b]
        .iter()
        .filter(|r| ***r == Refreshed::Updated)
        .count();
    assert_eq!(updated, 1, "{a:?} {b:?}");
    assert!([&a, &b].contains(&&Refreshed::Unchanged), "{a:?} {b:?}");
    assert_eq!(files.parses(), 2, "the new version was read once");
    assert_eq!(*watched.current(), "two");
}
