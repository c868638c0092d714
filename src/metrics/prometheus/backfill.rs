//! History backfill: range queries over the arrival-rate query, in chunks that stay under
//! Prometheus's limit of 11,000 points per series, merged into one oldest-first history.

use super::PromApi;
use super::decode::{RangeResult, format_labels};
use crate::config::Aggregate;
use crate::metrics::{History, HistoryChunk, MetricError};
use futures::stream::{BoxStream, StreamExt};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Points per range query: under Prometheus's hard limit of 11,000 per series.
pub const MAX_POINTS_PER_QUERY: u64 = 10_000;

/// The `[start, end]` windows (Unix seconds, both inclusive, step-aligned) covering `history`
/// up to `end`, oldest first, each with at most `max_points` points and none shared.
pub fn plan_chunks(
    end: f64,
    history: Duration,
    step: Duration,
    max_points: u64,
) -> Vec<(f64, f64)> {
    let step_s = step.as_secs_f64();
    if step_s <= 0.0 || !end.is_finite() || max_points == 0 {
        return Vec::new();
    }
    // Aligning to the step lets Prometheus's results line up across chunks and restarts.
    let last = (end / step_s).floor();
    let steps = (history.as_secs_f64() / step_s).floor();
    let first = last - steps;
    let mut chunks = Vec::new();
    let mut from = first;
    while from <= last {
        let to = (from + (max_points - 1) as f64).min(last);
        chunks.push((from * step_s, to * step_s));
        from = to + 1.0;
    }
    chunks
}

/// Fetch up to `history` of `query` at `step` ending at `end` (Unix seconds).
///
/// Several series are combined with `aggregate` per timestamp, or are an error without one.
/// NaN and infinite points are gaps, not numbers. Periods without data are simply absent.
pub async fn backfill(
    api: &dyn PromApi,
    query: &str,
    aggregate: Option<Aggregate>,
    end: f64,
    history: Duration,
    step: Duration,
) -> Result<History, MetricError> {
    let mut all = History::new();
    let mut chunks = backfill_chunks(api, query, aggregate, end, history, step, None);
    while let Some(chunk) = chunks.next().await {
        all.extend(chunk?.samples);
    }
    Ok(all)
}

/// [`backfill`] as a stream of chunks, one per range query, oldest first, each as soon as
/// Prometheus answers; each query first takes a permit of `limit` when given. The stream
/// ends after the first error.
pub fn backfill_chunks<'a>(
    api: &'a dyn PromApi,
    query: &'a str,
    aggregate: Option<Aggregate>,
    end: f64,
    history: Duration,
    step: Duration,
    limit: Option<&'a Semaphore>,
) -> BoxStream<'a, Result<HistoryChunk, MetricError>> {
    let windows = plan_chunks(end, history, step, MAX_POINTS_PER_QUERY).into_iter();
    futures::stream::unfold(Some(windows), move |windows| async move {
        let mut windows = windows?;
        let (start, stop) = windows.next()?;
        let _permit = match limit {
            Some(limit) => Some(limit.acquire().await.ok()?),
            None => None,
        };
        match api.range(query, start, stop, step).await {
            Ok(result) => {
                let chunk = merge_series(&result, query, aggregate, step);
                let next = chunk.is_ok().then_some(windows);
                Some((chunk, next))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed()
}

/// One range query's series as one history chunk, combined per timestamp.
fn merge_series(
    result: &RangeResult,
    query: &str,
    aggregate: Option<Aggregate>,
    step: Duration,
) -> Result<HistoryChunk, MetricError> {
    if result.series.len() > 1 && aggregate.is_none() {
        return Err(MetricError::MultipleSeries {
            query: query.to_string(),
            series: result
                .series
                .iter()
                .map(|s| format_labels(&s.labels))
                .collect(),
        });
    }
    // Keyed by milliseconds so that equal timestamps from different series meet.
    let mut merged: BTreeMap<i64, f64> = BTreeMap::new();
    for series in &result.series {
        for &(t, v) in &series.points {
            if !v.is_finite() {
                continue;
            }
            let key = (t * 1000.0).round() as i64;
            merged
                .entry(key)
                .and_modify(|acc| match aggregate {
                    Some(Aggregate::Max) => *acc = acc.max(v),
                    _ => *acc += v,
                })
                .or_insert(v);
        }
    }
    Ok(HistoryChunk {
        step_s: step.as_secs_f64(),
        samples: merged
            .into_iter()
            .map(|(ms, v)| (ms as f64 / 1000.0, v))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourteen_days_at_fifteen_seconds_is_chunked_under_the_limit() {
        let step = Duration::from_secs(15);
        let history = Duration::from_secs(14 * 86_400);
        let end = 1_700_000_007.0;
        let chunks = plan_chunks(end, history, step, MAX_POINTS_PER_QUERY);
        let total: f64 = chunks.iter().map(|(a, b)| (b - a) / 15.0 + 1.0).sum();
        assert_eq!(total, 14.0 * 86_400.0 / 15.0 + 1.0);
        for (a, b) in &chunks {
            assert!((b - a) / 15.0 + 1.0 <= 11_000.0);
            assert_eq!(a % 15.0, 0.0);
        }
        for pair in chunks.windows(2) {
            assert_eq!(pair[1].0, pair[0].1 + 15.0, "contiguous, no shared point");
        }
        assert_eq!(
            chunks.last().unwrap().1,
            1_700_000_000.0 - 1_700_000_000.0 % 15.0
        );
    }

    #[test]
    fn degenerate_inputs_plan_nothing_or_one_point() {
        assert!(plan_chunks(100.0, Duration::from_secs(60), Duration::ZERO, 10).is_empty());
        assert_eq!(
            plan_chunks(100.0, Duration::ZERO, Duration::from_secs(10), 10),
            vec![(100.0, 100.0)]
        );
    }
}
