//! History backfill of a shared query, batched: the targets that start together and read
//! the same shared query share one series of range queries, whose results are split among
//! them by labels and handed to each chunk by chunk, oldest first, as they arrive (so a
//! target's forecaster warms as the data comes, and no target's whole history is ever held
//! twice).
//!
//! The query is evaluated at the forecaster's bucket width with the bucket's mean taken by
//! Prometheus (`avg_over_time((Q)[5m:interval])`): one point per 5 minutes instead of one per
//! tick, 20 times less to transfer and parse at a 15 s interval, with the same bucket means.
//! Chunks are sized by the number of series seen (at most [`POINTS_PER_QUERY`] points, and
//! Prometheus's 11,000 per series), and every range query takes a permit of the backfill
//! limit, so start-up never crowds out the ticks' own queries.

use super::select::Selector;
use crate::config::Aggregate;
use crate::metrics::prometheus::{
    Labels, MAX_POINTS_PER_QUERY, PromApi, RangeSeries, format_labels,
};
use crate::metrics::{HistoryChunk, MetricError};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Duration, Instant};

/// Width of the forecaster's history buckets: the step of a batched backfill.
pub const BACKFILL_STEP: Duration = Duration::from_secs(300);

/// Points (series × steps) asked of Prometheus per range query: a few MB of JSON.
pub const POINTS_PER_QUERY: u64 = 200_000;

/// Steps of the first query, before the number of series is known: one hour.
const FIRST_STEPS: u64 = 12;

/// A batch starts once no target has joined it for this long...
const GATHER_QUIET: Duration = Duration::from_millis(300);
/// ... or once it has been gathering this long.
const GATHER_MAX: Duration = Duration::from_secs(5);

/// What one target wants from a batch, and where to send it.
struct Member {
    labels: Labels,
    aggregate: Option<Aggregate>,
    /// Unix seconds: points older than this are not this target's history.
    since: f64,
    interval: Duration,
    tx: mpsc::Sender<Result<HistoryChunk, MetricError>>,
}

/// Targets waiting for the same shared query's history.
struct Batch {
    members: Vec<Member>,
    last_join: Instant,
}

/// What a target asks of a batched backfill.
#[derive(Debug, Clone)]
pub struct HistoryWant {
    /// The shared query's name (for logs).
    pub name: String,
    /// Its PromQL.
    pub query: String,
    /// The labels of the target's series.
    pub labels: Labels,
    /// How to combine several matching series.
    pub aggregate: Option<Aggregate>,
    /// How much history.
    pub history: Duration,
    /// The target's interval (the subquery's resolution).
    pub interval: Duration,
}

/// Batches of shared-query backfills, by query.
pub struct SharedBackfill {
    api: Arc<dyn PromApi>,
    limit: Arc<Semaphore>,
    gathering: Mutex<HashMap<String, Arc<Mutex<Batch>>>>,
}

impl SharedBackfill {
    /// Backfills through `api`, each range query holding a permit of `limit`.
    pub fn new(api: Arc<dyn PromApi>, limit: Arc<Semaphore>) -> Self {
        Self {
            api,
            limit,
            gathering: Mutex::new(HashMap::new()),
        }
    }

    /// Join (or start) the batch of `want.query`; the target's history arrives on the
    /// returned channel, chunk by chunk, oldest first, and the channel closes at the end.
    /// Dropping the receiver leaves the batch.
    pub fn join(
        self: &Arc<Self>,
        want: HistoryWant,
        now: SystemTime,
    ) -> mpsc::Receiver<Result<HistoryChunk, MetricError>> {
        let (tx, rx) = mpsc::channel(2);
        let member = Member {
            labels: want.labels,
            aggregate: want.aggregate,
            since: crate::metrics::unix_seconds(now) - want.history.as_secs_f64(),
            interval: want.interval,
            tx,
        };
        let mut gathering = self.gathering.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(batch) = gathering.get(&want.query) {
            let mut b = batch.lock().unwrap_or_else(|p| p.into_inner());
            b.members.push(member);
            b.last_join = Instant::now();
            return rx;
        }
        let batch = Arc::new(Mutex::new(Batch {
            members: vec![member],
            last_join: Instant::now(),
        }));
        gathering.insert(want.query.clone(), batch.clone());
        let this = self.clone();
        tokio::spawn(async move {
            let members = this.gather(&want.query, batch).await;
            this.run(&want.name, &want.query, members, now).await;
        });
        rx
    }

    /// Wait for the targets starting together, then close the batch to newcomers (they
    /// start the next one).
    async fn gather(&self, query: &str, batch: Arc<Mutex<Batch>>) -> Vec<Member> {
        let opened = Instant::now();
        loop {
            let quiet_until =
                batch.lock().unwrap_or_else(|p| p.into_inner()).last_join + GATHER_QUIET;
            let until = quiet_until.min(opened + GATHER_MAX);
            if Instant::now() >= until {
                break;
            }
            tokio::time::sleep_until(until).await;
        }
        let mut gathering = self.gathering.lock().unwrap_or_else(|p| p.into_inner());
        gathering.remove(query);
        let mut b = batch.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut b.members)
    }

    async fn run(&self, name: &str, query: &str, mut members: Vec<Member>, now: SystemTime) {
        let started = Instant::now();
        let step = BACKFILL_STEP.as_secs_f64();
        let inner = members
            .iter()
            .map(|m| m.interval)
            .min()
            .unwrap_or(BACKFILL_STEP)
            .max(Duration::from_secs(1));
        let Some(since) = members.iter().map(|m| m.since).reduce(f64::min) else {
            return;
        };
        // The mean of each bucket, evaluated at its end.
        let range_query = format!(
            "avg_over_time(({query})[{}s:{}s])",
            BACKFILL_STEP.as_secs(),
            inner.as_secs().max(1)
        );
        let last = (crate::metrics::unix_seconds(now) / step).floor();
        let first = (since / step).ceil().min(last);
        let mut from = first;
        let mut steps = FIRST_STEPS;
        let (mut queries, mut points) = (0u64, 0u64);
        while from <= last && !members.is_empty() {
            let to = (from + (steps - 1) as f64).min(last);
            let result = {
                let Ok(_permit) = self.limit.acquire().await else {
                    return;
                };
                self.api
                    .range(&range_query, from * step, to * step, BACKFILL_STEP)
                    .await
            };
            queries += 1;
            let result = match result {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(query = name, error = %e, targets = members.len(), "batched history backfill failed; these targets learn from now on");
                    for m in &members {
                        let _ = m.tx.send(Err(e.clone())).await;
                    }
                    return;
                }
            };
            let series = result.series.len() as u64;
            points += result
                .series
                .iter()
                .map(|s| s.points.len() as u64)
                .sum::<u64>();
            let selector = Selector::new(result.series);
            let mut still = Vec::with_capacity(members.len());
            for m in members {
                let chunk = member_chunk(&selector, &m, &range_query);
                let failed = chunk.is_err();
                if m.tx.send(chunk).await.is_ok() && !failed {
                    still.push(m);
                }
            }
            members = still;
            from = to + 1.0;
            steps = (POINTS_PER_QUERY / series.max(1)).clamp(1, MAX_POINTS_PER_QUERY);
        }
        tracing::info!(
            query = name,
            targets = members.len(),
            range_queries = queries,
            points,
            took_s = started.elapsed().as_secs_f64(),
            "history backfilled for a shared query"
        );
        // The batch's JSON and chunks are freed: give their pages back rather than keep the
        // start-up peak resident.
        crate::heap::release_free_memory();
    }
}

/// One member's share of a chunk: its series combined per timestamp, points before its own
/// history window left out.
fn member_chunk(
    selector: &Selector<RangeSeries>,
    member: &Member,
    query: &str,
) -> Result<HistoryChunk, MetricError> {
    let mine = selector.select(&member.labels);
    if mine.len() > 1 && member.aggregate.is_none() {
        return Err(MetricError::MultipleSeries {
            query: format!("{} ({query})", format_labels(&member.labels)),
            series: mine.iter().map(|s| format_labels(&s.labels)).collect(),
        });
    }
    let mut merged: BTreeMap<i64, f64> = BTreeMap::new();
    for s in mine {
        for &(t, v) in &s.points {
            if !v.is_finite() || t < member.since {
                continue;
            }
            merged
                .entry((t * 1000.0).round() as i64)
                .and_modify(|acc| match member.aggregate {
                    Some(Aggregate::Max) => *acc = acc.max(v),
                    _ => *acc += v,
                })
                .or_insert(v);
        }
    }
    Ok(HistoryChunk {
        step_s: BACKFILL_STEP.as_secs_f64(),
        samples: merged
            .into_iter()
            .map(|(ms, v)| (ms as f64 / 1000.0, v))
            .collect(),
    })
}
