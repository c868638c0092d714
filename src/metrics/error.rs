//! Why a metric could not be read.

/// A failed metric read, with what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// The source could not be reached or answered with an HTTP error.
    #[error("cannot reach {url}: {detail}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The value is older than two intervals.
    #[error("stale: last value is {age_s:.0}s old (more than two intervals)")]
    Stale {
        /// Age of the last value, seconds.
        age_s: f64,
    },
}

impl MetricError {
    /// A short, stable label for `prescale_metric_errors_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "unreachable",
            Self::Stale { .. } => "stale",
        }
    }
}
