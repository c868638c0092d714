//! The Prometheus HTTP API source (`promql:` metrics).

mod auth;
mod backfill;
mod client;
mod decode;
mod one_pass;
mod range_answer;
mod vector_answer;

pub use auth::{Credentials, SecretFile};
pub use backfill::{MAX_POINTS_PER_QUERY, backfill, backfill_chunks, plan_chunks};
pub use client::{MAX_ANSWER, PromClient};
pub use decode::{
    InstantResult, InstantSeries, Labels, RangeResult, RangeSeries, decode_instant, decode_range,
    format_labels, parse_value,
};

use super::aggregate::{Matched, reduce_matched};
use super::{Evaluation, MetricError};
use crate::config::Aggregate;
use futures::future::BoxFuture;
use std::time::{Duration, SystemTime};

/// The two queries prescale asks of Prometheus.
///
/// Kept behind a trait so that a later implementation can batch the queries of targets that
/// differ only by label values into one, and hand each target its own series.
pub trait PromApi: Send + Sync {
    /// `/api/v1/query` evaluated at `at`.
    fn instant<'a>(
        &'a self,
        query: &'a str,
        at: SystemTime,
    ) -> BoxFuture<'a, Result<InstantResult, MetricError>>;

    /// `/api/v1/query_range` from `start` to `end` (Unix seconds, inclusive) every `step`.
    fn range<'a>(
        &'a self,
        query: &'a str,
        start: f64,
        end: f64,
        step: Duration,
    ) -> BoxFuture<'a, Result<RangeResult, MetricError>>;
}

/// A series of an instant answer as the reduction reads it.
impl Matched for InstantSeries {
    fn value(&self) -> f64 {
        self.value
    }
    fn labels_text(&self) -> String {
        format_labels(&self.labels)
    }
    fn raw_text(&self) -> String {
        self.raw.clone()
    }
}

/// Evaluate `query` at `at` and reduce it to one value.
pub async fn evaluate(
    api: &dyn PromApi,
    query: &str,
    aggregate: Option<Aggregate>,
    at: SystemTime,
) -> Evaluation {
    match api.instant(query, at).await {
        Err(e) => Evaluation::failed(e),
        Ok(result) => {
            // Prometheus stamps instant results with the evaluation time; the oldest one
            // is what staleness is judged on.
            let sample_time = result.series.iter().map(|s| s.t).reduce(f64::min);
            Evaluation {
                value: reduce_matched(|| query.to_string(), &result.series, aggregate),
                series: result
                    .series
                    .iter()
                    .map(|s| format!("{} {}", format_labels(&s.labels), s.raw))
                    .collect(),
                warnings: result.warnings,
                sample_time,
            }
        }
    }
}
