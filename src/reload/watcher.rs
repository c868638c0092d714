//! Watch a config file's directory with `notify`.

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Why the config directory cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The path has no parent directory to watch.
    #[error("config path {0} has no parent directory to watch")]
    NoDirectory(PathBuf),
    /// The OS watcher failed.
    #[error(
        "cannot watch {dir} for config changes: {source}; check the directory exists and inotify limits (fs.inotify.max_user_watches)"
    )]
    Watch {
        /// The directory.
        dir: PathBuf,
        /// The watcher's error.
        source: notify::Error,
    },
}

/// A running directory watch; dropping it stops the watch.
pub struct DirWatcher {
    _watcher: RecommendedWatcher,
}

impl DirWatcher {
    /// Watch the directory of `file` (non-recursively). Every change in it sends `()`.
    pub fn start(file: &Path) -> Result<(Self, mpsc::UnboundedReceiver<()>), ReloadError> {
        let dir = match file.parent() {
            Some(d) if d.as_os_str().is_empty() => PathBuf::from("."),
            Some(d) => d.to_path_buf(),
            None => return Err(ReloadError::NoDirectory(file.to_path_buf())),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            match ev {
                // Reads (access events) do not change the config.
                Ok(ev) if ev.kind.is_access() => {}
                Ok(_) => {
                    let _ = tx.send(());
                }
                Err(e) => tracing::warn!(error = %e, "config watch error"),
            }
        })
        .map_err(|source| ReloadError::Watch {
            dir: dir.clone(),
            source,
        })?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|source| ReloadError::Watch {
                dir: dir.clone(),
                source,
            })?;
        Ok((Self { _watcher: watcher }, rx))
    }
}
