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
        let names = ConfigNames::of(file);
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            match ev {
                // Reads (access events) do not change the config.
                Ok(ev) if ev.kind.is_access() => {}
                // Nor do other files of the directory (a log written beside the config
                // would otherwise reload, and parse, the whole config after every line).
                Ok(ev) if !names.concerned(&ev.paths) => {}
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

/// The names in the watched directory whose change may change the config: the file itself,
/// what it links to in the same directory, and Kubernetes' ConfigMap entries (`..data`,
/// `..2024_01_01_...`), swapped by rename while the file's own link is never touched.
struct ConfigNames {
    names: Vec<std::ffi::OsString>,
}

impl ConfigNames {
    fn of(file: &Path) -> Self {
        let mut names: Vec<_> = file
            .file_name()
            .map(|n| n.to_os_string())
            .into_iter()
            .collect();
        // `prescale.yaml -> real.yaml` (edited in place) or `-> ..data/prescale.yaml`: the
        // first component of the link's target, when it stays in the directory.
        if let Ok(target) = std::fs::read_link(file)
            && target.is_relative()
            && let Some(std::path::Component::Normal(first)) = target.components().next()
        {
            names.push(first.to_os_string());
        }
        Self { names }
    }

    /// Whether an event on `paths` may have changed the config (an event naming no path
    /// may have).
    fn concerned(&self, paths: &[PathBuf]) -> bool {
        paths.is_empty()
            || paths.iter().any(|p| match p.file_name() {
                Some(name) => {
                    self.names.iter().any(|n| n == name)
                        || name.as_encoded_bytes().starts_with(b"..")
                }
                None => true,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_config_its_link_and_configmap_entries_concern_the_config() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = dir.path().join("prescale.yaml");
        std::os::unix::fs::symlink("real.yaml", &file).expect("symlink");
        let names = ConfigNames::of(&file);
        let concerned = |name: &str| names.concerned(&[dir.path().join(name)]);
        assert!(concerned("prescale.yaml"));
        assert!(concerned("real.yaml"));
        assert!(concerned("..data"));
        assert!(concerned("..2026_12_02_09_00_00.123"));
        assert!(!concerned("prescale.log"));
        assert!(!concerned("prescale.yaml.swp"));
        assert!(names.concerned(&[]));
        assert!(names.concerned(&[dir.path().join("x.log"), file.clone()]));
    }
}
