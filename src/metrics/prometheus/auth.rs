//! Credentials for Prometheus, read from files that Kubernetes may rotate under us.
//!
//! A mounted Secret is updated in place (an atomic symlink swap), so the token or password
//! is re-read whenever the file's modification time or size changes; otherwise the cached
//! value is used and a request costs one `stat`.

use crate::config::PrometheusConfig;
use crate::metrics::MetricError;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

/// A secret held in a file, re-read when the file changes.
#[derive(Debug)]
pub struct SecretFile {
    path: PathBuf,
    cache: Mutex<Option<Cached>>,
}

#[derive(Debug, Clone)]
struct Cached {
    modified: Option<SystemTime>,
    len: u64,
    value: String,
}

impl SecretFile {
    /// A secret read from `path` on first use.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            cache: Mutex::new(None),
        }
    }

    /// The file's current content, trimmed of surrounding whitespace (a trailing newline is
    /// the usual accident when a Secret is created from a file).
    pub fn read(&self) -> Result<String, MetricError> {
        let error = |detail: String| MetricError::CredentialsFile {
            path: self.path.display().to_string(),
            detail,
        };
        let meta = std::fs::metadata(&self.path).map_err(|e| error(e.to_string()))?;
        let (modified, len) = (meta.modified().ok(), meta.len());
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.as_ref()
            && c.modified.is_some()
            && c.modified == modified
            && c.len == len
        {
            return Ok(c.value.clone());
        }
        let value = std::fs::read_to_string(&self.path)
            .map_err(|e| error(e.to_string()))?
            .trim()
            .to_string();
        if value.is_empty() {
            return Err(error("the file is empty".into()));
        }
        *cache = Some(Cached {
            modified,
            len,
            value: value.clone(),
        });
        Ok(value)
    }
}

/// The credentials configured for Prometheus.
#[derive(Debug, Default)]
pub struct Credentials {
    bearer: Option<SecretFile>,
    basic: Option<(String, SecretFile)>,
}

impl Credentials {
    /// Credentials from the config; files are read lazily, on each request.
    pub fn from_config(config: &PrometheusConfig) -> Self {
        Self {
            bearer: config.bearer_token_file.as_ref().map(SecretFile::new),
            basic: config
                .basic_auth
                .as_ref()
                .map(|b| (b.username.clone(), SecretFile::new(&b.password_file))),
        }
    }

    /// Add the `Authorization` header to `request`.
    pub fn apply(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, MetricError> {
        let mut request = request;
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token.read()?);
        }
        if let Some((user, password)) = &self.basic {
            request = request.basic_auth(user, Some(password.read()?));
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_file_is_re_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let secret = SecretFile::new(&path);
        assert_eq!(secret.read().unwrap(), "first");
        // A different length changes the size even when the mtime granularity is coarse.
        std::fs::write(&path, "second-token").unwrap();
        assert_eq!(secret.read().unwrap(), "second-token");
    }

    #[test]
    fn missing_or_empty_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let e = SecretFile::new(&path).read().unwrap_err();
        assert_eq!(e.reason(), "credentials_file");
        assert!(e.to_string().contains("absent"), "{e}");
        std::fs::write(&path, "  \n").unwrap();
        assert!(SecretFile::new(&path).read().is_err());
    }
}
