//! Metric sources: Prometheus HTTP API and /metrics scraping.
//!
//! A source reads one target's configured metrics and returns each as a value or a typed
//! error; staleness is explicit, and nothing is ever reported as NaN.
//!
//! - [`Sources`] is the [`MetricsSource`] the controller holds: each metric goes to
//!   [`prometheus`] (`promql:`) or [`scrape`] (`scrape:`); [`Sources::backfill`] fetches the
//!   arrival-rate history that warms the forecaster.
//! - A value sampled more than two intervals before the read finished is
//!   [`MetricError::Stale`]. For PromQL, Prometheus's own staleness handling applies to the
//!   series (a raw selector may return a sample up to its lookback delta, 5 minutes by
//!   default, old; `rate()`/`*_over_time()` over a short window avoid that).
//! - A negative value is [`MetricError::Negative`], never a number ([`reject_negative`]).
//! - Every failure is a [`MetricError`] with a stable [`MetricError::reason`] for
//!   `prescale_metric_errors_total{target,metric,reason}` ([`TargetReadings::errors`] lists
//!   them per tick); [`StateLog`] logs them once per change of state.
//! - [`TargetReadings::observation`] turns a tick's readings into the core's
//!   [`crate::core::Observation`], a failed metric becoming `None`.

mod aggregate;
mod body;
mod error;
mod http_error;
mod kind;
mod negative;
mod null_values;
mod pods;
pub mod prometheus;
mod readings;
pub mod scrape;
pub mod shared;
mod sources;
mod staleness;
mod state_log;
pub mod tls;

pub use aggregate::{Matched, SeriesValue, not_a_number, reduce, reduce_matched};
pub use body::BodyCap;
pub use error::MetricError;
pub use kind::MetricKind;
pub use negative::reject_negative;
pub use null_values::empty_as_zero;
pub use pods::{PodEndpoint, PodEndpoints};
pub use sources::{Sources, scrapes_pods, source_of};
pub use staleness::check_fresh;
pub use state_log::{StateLog, Transition};

use crate::config::{MetricSource, TargetConfig};
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use std::time::SystemTime;

/// One metric's reading this tick.
pub type Reading = Result<f64, MetricError>;

/// Arrival-rate history for the forecaster: `(Unix seconds, arrivals per second)` at the
/// target's interval, oldest first; periods without data are absent.
pub type History = Vec<(f64, f64)>;

/// A stretch of history as it arrives: samples, oldest first, each the mean arrival rate
/// over the `step_s` seconds ending at its time.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryChunk {
    /// Seconds each sample covers.
    pub step_s: f64,
    /// `(Unix seconds, arrivals per second)`.
    pub samples: History,
}

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

    /// Read every configured metric of `target` once, scraping `pods` (the target's ready
    /// pods this tick) for metrics scraped from every pod. A source without such metrics
    /// (the default) reads as [`MetricsSource::read`].
    fn read_with<'a>(
        &'a self,
        target: &'a TargetConfig,
        pods: &'a PodEndpoints,
    ) -> BoxFuture<'a, TargetReadings> {
        let _ = pods;
        self.read(target)
    }

    /// Arrival-rate history of `target` up to now, to warm the forecaster when the target
    /// starts. A source without history (the default) returns none.
    fn history<'a>(
        &'a self,
        target: &'a TargetConfig,
    ) -> BoxFuture<'a, Result<History, MetricError>> {
        let _ = target;
        Box::pin(async { Ok(History::new()) })
    }

    /// Arrival-rate history of `target` up to now as it arrives, oldest first (the
    /// forecaster warms chunk by chunk, and a long history is never held whole). The default
    /// is [`MetricsSource::history`] as one chunk at the target's interval.
    fn history_stream<'a>(
        &'a self,
        target: &'a TargetConfig,
    ) -> BoxStream<'a, Result<HistoryChunk, MetricError>> {
        let step_s = target.interval.as_secs_f64();
        futures::stream::once(self.history(target))
            .filter_map(move |history| async move {
                match history {
                    Ok(samples) if samples.is_empty() => None,
                    Ok(samples) => Some(Ok(HistoryChunk { step_s, samples })),
                    Err(e) => Some(Err(e)),
                }
            })
            .boxed()
    }

    /// Forget what the source remembers about a target that was removed or reconfigured.
    fn forget(&self, target: &str) {
        let _ = target;
    }

    /// Each pod's own value of `source` (a gauge scraped from every pod: in-flight work),
    /// in the order of `pods`, to order the pods of a scale-down. A source that cannot read
    /// single pods (the default) answers an error for each.
    fn per_pod<'a>(
        &'a self,
        source: &'a MetricSource,
        pods: &'a [PodEndpoint],
    ) -> BoxFuture<'a, Vec<Reading>> {
        let _ = source;
        let n = pods.len();
        Box::pin(async move {
            vec![
                Err(MetricError::PodList {
                    deployment: String::new(),
                    detail: "this metrics source does not read single pods".into(),
                });
                n
            ]
        })
    }
}

/// One metric evaluated once, with what was seen on the way (for logs and `prescale probe`).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The value, or why there is none.
    pub value: Reading,
    /// The series the query or scrape matched, as `name{labels} value`.
    pub series: Vec<String>,
    /// Warnings the source attached (Prometheus's `warnings`/`infos`).
    pub warnings: Vec<String>,
    /// When the value was sampled (Unix seconds), if known; staleness is judged on it.
    pub sample_time: Option<f64>,
}

impl Evaluation {
    /// An evaluation that failed before seeing any series.
    pub fn failed(error: MetricError) -> Self {
        Self {
            value: Err(error),
            series: Vec::new(),
            warnings: Vec::new(),
            sample_time: None,
        }
    }
}

/// `t` as Unix seconds (0 for times before 1970, which do not occur in practice).
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
