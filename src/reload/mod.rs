//! Config hot reload: watch the config file's directory, debounce bursts of changes, load
//! and validate the new config, and hand it (or the reason it was rejected) to the
//! controller, which swaps it in atomically.
//!
//! The directory is watched, not the file: a mounted ConfigMap is updated by swapping a
//! `..data` symlink, which a watch on the file itself never sees.

mod debounce;
mod watcher;

pub use debounce::next_burst;
pub use watcher::{DirWatcher, ReloadError};

use crate::config::Config;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Loads and validates a config file; its error message names the file and what to fix.
pub type Loader = Arc<dyn Fn(&Path) -> Result<Config, String> + Send + Sync>;

/// Wrap any `Fn(&Path) -> Result<Config, E>` as a [`Loader`].
pub fn loader<F, E>(f: F) -> Loader
where
    F: Fn(&Path) -> Result<Config, E> + Send + Sync + 'static,
    E: std::fmt::Display,
{
    Arc::new(move |p: &Path| f(p).map_err(|e| e.to_string()))
}

/// A reload attempt's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Reloaded {
    /// The file loaded and validated.
    Valid(Config),
    /// The file is invalid; the message says where and why.
    Invalid(String),
}

/// Watch `path`'s directory and send a [`Reloaded`] after every burst of changes that
/// settles for `quiet`. The watch starts before this returns, so a directory that cannot be
/// watched is an error at start-up rather than a silent loss of reloads. The task ends when
/// `out` is closed.
pub fn watch_config(
    path: PathBuf,
    load: Loader,
    quiet: Duration,
    out: mpsc::Sender<Reloaded>,
) -> Result<tokio::task::JoinHandle<()>, ReloadError> {
    let (watcher, mut changes) = DirWatcher::start(&path)?;
    Ok(tokio::spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        while next_burst(&mut changes, quiet).await.is_some() {
            let result = match load(&path) {
                Ok(c) => Reloaded::Valid(c),
                Err(e) => Reloaded::Invalid(e),
            };
            if out.send(result).await.is_err() {
                break;
            }
        }
    }))
}
