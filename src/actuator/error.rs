//! Why a call to the Kubernetes API failed, classified by what the controller does next.

use std::time::Duration;

/// A failed API call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// The object does not exist (404).
    #[error("{what} not found: check the target's scaleTargetRef (namespace, name and kind)")]
    NotFound {
        /// `Deployment ns/name`.
        what: String,
    },
    /// A concurrent change won (409): re-read and decide again.
    #[error("{what} changed since it was read (409 Conflict)")]
    Conflict {
        /// `Deployment ns/name`.
        what: String,
    },
    /// The API server asked to slow down (429) or failed (5xx): back off.
    #[error("{what}: API server answered {code}: {message}; backing off")]
    Unavailable {
        /// What was called.
        what: String,
        /// HTTP status.
        code: u16,
        /// The Status message.
        message: String,
    },
    /// Any other rejection (403, 422...): the request itself or RBAC needs fixing.
    #[error(
        "{what}: API server rejected the request with {code}: {message}{}",
        if *.code == 403 { "; grant that verb on that resource to prescale's service account (docs/deploy.md, \"Other kinds\")" } else { "" }
    )]
    Rejected {
        /// What was called.
        what: String,
        /// HTTP status.
        code: u16,
        /// The Status message.
        message: String,
    },
    /// No answer within the deadline.
    #[error("{what}: no answer from the API server within {after:?}")]
    Timeout {
        /// What was called.
        what: String,
        /// The deadline.
        after: Duration,
    },
    /// A watch-backed cache has not been filled from a complete list yet (just after the
    /// start, or while the API server refuses the list): its answer would be a guess.
    #[error(
        "{what}: the cache has not synced with the API server yet; check RBAC (list, watch) if this persists"
    )]
    NotSynced {
        /// What the cache holds.
        what: String,
    },
    /// A watch-backed cache whose watch keeps failing: it never synced, or it has been
    /// failing for longer than it may be trusted (an object created meanwhile, such as a new
    /// HPA, would be missing from it).
    #[error(
        "{what}: the watch has been failing for {}s (trusted for {}s){}; its cache may miss objects created meanwhile, so writes hold until it recovers (check the API server and RBAC: list, watch)",
        .failing_for.as_secs(),
        .bound.as_secs(),
        .error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
    )]
    WatchFailing {
        /// What the cache holds.
        what: String,
        /// The HTTP status the API server answered, when it did (403: RBAC).
        code: Option<u16>,
        /// The watch's last error, when known.
        error: Option<String>,
        /// How long the watch has been failing.
        failing_for: Duration,
        /// How long a failing watch is still trusted.
        bound: Duration,
    },
    /// The object was read without a `resourceVersion`: a write without one would overwrite
    /// any concurrent change, so it is never sent; the object is read again.
    #[error(
        "{what} was read without a resourceVersion; not writing without one (it would overwrite a concurrent change)"
    )]
    NoResourceVersion {
        /// What was to be written.
        what: String,
    },
    /// The configured `apiVersion`/`kind` cannot be scaled here: the API server does not
    /// serve it, or serves it without a `/scale` subresource (found through discovery).
    #[error("{what}: {problem}")]
    Unscalable {
        /// `StatefulSet shop/web`.
        what: String,
        /// What discovery found, and the fix.
        problem: String,
    },
    /// The connection failed or the answer could not be read.
    #[error("{what}: cannot reach the API server: {detail}")]
    Transport {
        /// What was called.
        what: String,
        /// The client's error.
        detail: String,
    },
}

impl ClusterError {
    /// Classify a kube client error for the call `what`.
    pub fn from_kube(what: impl Into<String>, err: kube::Error) -> Self {
        let what = what.into();
        match err {
            kube::Error::Api(status) => match status.code {
                404 => Self::NotFound { what },
                409 => Self::Conflict { what },
                429 | 500..=599 => Self::Unavailable {
                    what,
                    code: status.code,
                    message: status.message,
                },
                code => Self::Rejected {
                    what,
                    code,
                    message: status.message,
                },
            },
            other => Self::Transport {
                what,
                detail: other.to_string(),
            },
        }
    }

    /// The API server answered (so it is reachable), even if with an error.
    pub fn api_answered(&self) -> bool {
        matches!(
            self,
            Self::NotFound { .. } | Self::Conflict { .. } | Self::Rejected { .. }
        ) || matches!(self, Self::Unavailable { code, .. } if *code == 429)
    }

    /// Short stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::Unavailable { code: 429, .. } => "throttled",
            Self::Unavailable { .. } => "server_error",
            Self::Rejected { .. } => "rejected",
            Self::Timeout { .. } => "timeout",
            Self::Transport { .. } => "transport",
            Self::NotSynced { .. } => "not_synced",
            Self::WatchFailing { .. } => "watch_failing",
            Self::NoResourceVersion { .. } => "no_resource_version",
            Self::Unscalable { .. } => "unscalable",
        }
    }
}

/// Run an API call with a deadline, mapping both failure kinds to [`ClusterError`].
pub(crate) async fn with_deadline<T>(
    what: impl Into<String>,
    after: Duration,
    call: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, ClusterError> {
    let what = what.into();
    match tokio::time::timeout(after, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ClusterError::from_kube(what, e)),
        Err(_) => Err(ClusterError::Timeout { what, after }),
    }
}
