//! `--config.watch`: polls the files the running configuration is made of
//! and asks for a reload when any of them changed. What it watches follows
//! every applied reload, since a reload may change the `tenant_files`
//! patterns or the files the web configuration names.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::bounded_file::FileStamp;
use crate::config::Config;
use crate::reload::ReloadRequest;
use crate::web_config::WebConfig;

/// The files and patterns the running configuration is made of: what the
/// watch polls. The daemon replaces it after every reload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchList {
    /// Files watched by path (the main file, the web configuration's).
    pub files: Vec<PathBuf>,
    /// `tenant_files` patterns, expanded again at every poll, so a new
    /// matching file is seen.
    pub patterns: Vec<String>,
}

impl WatchList {
    /// What to watch for a configuration loaded from a file (`None` when
    /// the tenants are not from a file) and the running web configuration.
    pub fn of(config: Option<&Config>, web: &WebConfig) -> WatchList {
        let mut files = Vec::new();
        let mut patterns = Vec::new();
        if let Some(config) = config {
            files.push(config.source.clone());
            patterns.clone_from(&config.tenant_file_patterns);
        }
        files.extend(web.watched_files.iter().cloned());
        WatchList { files, patterns }
    }
}

/// Polls the watched files every `every` and asks for a reload when any
/// changed. Metadata is read through symlinks, so Kubernetes' ConfigMap
/// update (an atomic swap of the `..data` symlink) is seen even though the
/// path itself never changes. When a reload changes the list itself, the
/// files are looked at once more through a reload of their own, so a file
/// that appeared between that reload's read and the new list is not missed.
pub async fn run(
    mut list: watch::Receiver<WatchList>,
    every: Duration,
    reloads: mpsc::Sender<ReloadRequest>,
    shutdown: CancellationToken,
) {
    let current = list.borrow_and_update().clone();
    let mut last = stamp(current).await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let changed_list = list.has_changed().unwrap_or(false);
        let current = list.borrow_and_update().clone();
        let now = stamp(current).await;
        if now != last {
            if changed_list {
                tracing::info!("the watched files changed with the configuration; reloading");
            } else {
                tracing::info!("configuration files changed; reloading");
            }
            last = now;
            if reloads.send(ReloadRequest { reply: None }).await.is_err() {
                return;
            }
        }
    }
}

async fn stamp(list: WatchList) -> u64 {
    tokio::task::spawn_blocking(move || files_stamp(&list.files, &list.patterns))
        .await
        .unwrap_or_default()
}

/// A hash of the identity, size and modification time of every file the
/// configuration is made of (and of which files match the patterns).
fn files_stamp(files: &[PathBuf], patterns: &[String]) -> u64 {
    let mut hasher = DefaultHasher::new();
    let mut add = |path: &Path| {
        path.hash(&mut hasher);
        FileStamp::current(path).ok().hash(&mut hasher);
    };
    for file in files {
        add(file);
    }
    for pattern in patterns {
        if let Ok(paths) = glob::glob(pattern) {
            let mut files: Vec<PathBuf> = paths.flatten().collect();
            files.sort();
            for file in files {
                add(&file);
            }
        }
    }
    hasher.finish()
}
