//! Watches a manifests folder and reports each file's objects to the store.
//!
//! Each file is one source: a change replaces that file's objects and nothing else. A file that
//! fails to parse is logged and sends nothing, so its last good objects stay in force. inotify
//! (via notify) wakes the scan 25 ms after a change; a rescan every 2 s catches anything the
//! watch missed (a replaced folder, a filesystem without inotify).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc::{self, UnboundedSender};
use tracing::{debug, error, info, warn};

use super::parse::parse_manifest;
use crate::store::{SourceId, StoreEvent};

/// Quiet time after a change event before the folder is scanned, so a burst of writes
/// (truncate, write, rename) is read once, finished.
const DEBOUNCE: Duration = Duration::from_millis(25);
/// Rescan period when no event arrives.
const RESCAN: Duration = Duration::from_secs(2);

/// Why the manifests source cannot start: the folder is the user's to fix; retrying won't help.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestsError {
    /// The folder cannot be read.
    #[error("--manifests {}: cannot read: {source}", path.display())]
    Unreadable {
        /// The folder.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The path is not a folder.
    #[error("--manifests {}: not a directory", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
}

/// What was last read from one file.
struct FileState {
    /// Hash of the bytes last read, good or bad, so an unchanged file is not parsed again.
    fingerprint: u64,
    /// True once the file has contributed objects to the store.
    reported: bool,
}

/// Reads the folder, sends one `Replace` per file and then `Synced`, then follows changes.
/// Returns `Ok(())` when the receiver is gone; it does not stop for unreadable files or a
/// folder that disappears for a while (it keeps the last good objects and rescans).
pub async fn run_manifests_source(
    dir: PathBuf,
    events: UnboundedSender<StoreEvent>,
) -> Result<(), ManifestsError> {
    let metadata = std::fs::metadata(&dir).map_err(|source| ManifestsError::Unreadable {
        path: dir.clone(),
        source,
    })?;
    if !metadata.is_dir() {
        return Err(ManifestsError::NotADirectory { path: dir });
    }
    let (wake, mut woken) = mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.as_ref().map_or(true, changes_contents) {
            let _ = wake.send(());
        }
    })
    .and_then(|mut watcher| {
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        Ok(watcher)
    });
    let _watcher = match watcher {
        Ok(watcher) => Some(watcher),
        Err(problem) => {
            warn!(
                "cannot watch {} ({problem}); changes are picked up by a rescan every {}s",
                dir.display(),
                RESCAN.as_secs()
            );
            None
        }
    };

    let mut files: HashMap<PathBuf, FileState> = HashMap::new();
    if !scan(&dir, &mut files, &events) {
        return Ok(());
    }
    if events.send(StoreEvent::Synced).is_err() {
        return Ok(());
    }
    info!(files = files.len(), dir = %dir.display(), "manifests read");
    loop {
        tokio::select! {
            signal = woken.recv() => {
                if signal.is_none() {
                    // The watcher is gone; rescans carry on.
                    tokio::time::sleep(RESCAN).await;
                }
                tokio::time::sleep(DEBOUNCE).await;
                while woken.try_recv().is_ok() {}
            }
            _ = tokio::time::sleep(RESCAN) => {}
        }
        if !scan(&dir, &mut files, &events) {
            return Ok(());
        }
    }
}

/// Reads every manifest file, reports the changed ones, and the removed ones as empty.
/// Returns false when nobody listens any more.
fn scan(
    dir: &Path,
    files: &mut HashMap<PathBuf, FileState>,
    events: &UnboundedSender<StoreEvent>,
) -> bool {
    let present = match manifest_files(dir) {
        Ok(present) => present,
        Err(problem) => {
            warn!(
                "cannot list {}: {problem}; keeping the last good objects",
                dir.display()
            );
            return true;
        }
    };
    for path in &present {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(problem) => {
                // Removed between listing and reading, or unreadable: try again next scan.
                debug!("cannot read {}: {problem}", path.display());
                continue;
            }
        };
        let fingerprint = fingerprint(&bytes);
        if files
            .get(path)
            .is_some_and(|state| state.fingerprint == fingerprint)
        {
            continue;
        }
        let reported = files.get(path).is_some_and(|state| state.reported);
        let name = path.display().to_string();
        let text = String::from_utf8_lossy(&bytes);
        match parse_manifest(&name, &text) {
            Ok(parsed) => {
                for skipped in &parsed.skipped {
                    debug!(
                        "{name}:{}: skipping {} {}",
                        skipped.line, skipped.api_version, skipped.kind
                    );
                }
                let source = SourceId(name.into());
                let event = StoreEvent::Replace {
                    source,
                    objects: parsed.objects,
                };
                if events.send(event).is_err() {
                    return false;
                }
                files.insert(
                    path.clone(),
                    FileState {
                        fingerprint,
                        reported: true,
                    },
                );
            }
            Err(problem) => {
                let kept = if reported {
                    "the objects it last contributed stay in force"
                } else {
                    "nothing from this file is applied"
                };
                error!("{problem}; {kept}");
                files.insert(
                    path.clone(),
                    FileState {
                        fingerprint,
                        reported,
                    },
                );
            }
        }
    }
    let removed: Vec<PathBuf> = files
        .keys()
        .filter(|p| !present.contains(*p))
        .cloned()
        .collect();
    for path in removed {
        if files.remove(&path).is_some_and(|state| state.reported) {
            info!("{} removed; its objects are withdrawn", path.display());
            let event = StoreEvent::Replace {
                source: SourceId(path.display().to_string().into()),
                objects: Vec::new(),
            };
            if events.send(event).is_err() {
                return false;
            }
        }
    }
    true
}

/// The manifest files at the top level of `dir`, sorted: `*.yaml`, `*.yml`, `*.json`, not
/// hidden, not editor backups.
fn manifest_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let is_manifest = [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if is_manifest && !name.starts_with('.') && !name.starts_with('#') && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// True for events that can change what a file holds. Opens and reads are not: the scan itself
/// opens every file, and waking on that would rescan forever.
fn changes_contents(event: &notify::Event) -> bool {
    !matches!(event.kind, notify::EventKind::Access(_))
}

fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

impl portcullis_fault::Classified for ManifestsError {
    /// `--manifests` names something this process cannot read as a folder.
    fn fault(&self) -> portcullis_fault::Fault {
        portcullis_fault::Fault::Operator
    }

    /// The process exits on it; a restart with the same flag fails the same way.
    fn retryable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
