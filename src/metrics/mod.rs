//! Metric sources: Prometheus HTTP API and /metrics scraping.
//!
//! A source reads one target's configured metrics and returns each as a value or a typed
//! error; staleness is explicit, and nothing is ever reported as NaN.

mod error;

pub use error::MetricError;

use crate::config::TargetConfig;
use futures::future::BoxFuture;

/// One metric's reading this tick.
pub type Reading = Result<f64, MetricError>;

/// A target's readings for one tick. `None`: the metric is not configured for the target.
#[derive(Debug, Clone, Default)]
pub struct TargetReadings {
    /// Documents waiting.
    pub queue_depth: Option<Reading>,
    /// Documents arriving per second.
    pub arrival_rate: Option<Reading>,
    /// Documents completed per second.
    pub completion_rate: Option<Reading>,
    /// Queue wait (p95), seconds.
    pub wait_s: Option<Reading>,
}

/// Reads a target's metrics. The controller holds one behind `Arc<dyn MetricsSource>`.
pub trait MetricsSource: Send + Sync {
    /// Read every configured metric of `target` once.
    fn read<'a>(&'a self, target: &'a TargetConfig) -> BoxFuture<'a, TargetReadings>;
}
