//! The [`MetricsSource`] the controller uses: each metric of a target goes to the Prometheus
//! or the scrape adapter its config names; staleness is enforced and failures are logged
//! once per change of state.

use super::prometheus::{self, PromApi, PromClient};
use super::scrape::{ScrapeSource, ScrapeSpec};
use super::shared::{HistoryWant, SharedBackfill, SharedInstant, Want};
use super::{
    Evaluation, History, HistoryChunk, MetricError, MetricKind, MetricsSource, PodEndpoint,
    PodEndpoints, StateLog, TargetReadings, check_fresh, empty_as_zero, reject_negative,
    unix_seconds,
};
use crate::config::{Config, MetricSource, ScrapeFrom, TargetConfig};
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::Semaphore;

/// Range queries of history backfills in flight at once, across all targets: start-up
/// backfills never take more of Prometheus (or of `maxConcurrentQueries`) than this, so the
/// ticks' own queries keep flowing while thousands of targets warm up.
pub const BACKFILL_CONCURRENCY: usize = 2;

/// Reads targets' metrics from Prometheus and `/metrics` endpoints.
pub struct Sources {
    prometheus: Option<Arc<dyn PromApi>>,
    shared: Option<SharedInstant>,
    shared_backfill: Option<Arc<SharedBackfill>>,
    backfill_limit: Arc<Semaphore>,
    scrape: ScrapeSource,
    log: StateLog,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("prometheus", &self.prometheus.is_some())
            .finish_non_exhaustive()
    }
}

impl Sources {
    /// Sources for `config`: a Prometheus client when the config has a `prometheus:`
    /// section (its CA file is read now), and a scrape client.
    pub fn new(config: &Config) -> Result<Self, MetricError> {
        let prometheus = match &config.prometheus {
            Some(p) => Some(Arc::new(PromClient::new(p)?) as Arc<dyn PromApi>),
            None => None,
        };
        Self::with_prometheus_api(prometheus)
    }

    /// Sources using `api` for PromQL metrics (e.g. a batching implementation).
    pub fn with_prometheus_api(api: Option<Arc<dyn PromApi>>) -> Result<Self, MetricError> {
        let backfill_limit = Arc::new(Semaphore::new(BACKFILL_CONCURRENCY));
        Ok(Self {
            shared: api.clone().map(SharedInstant::new),
            shared_backfill: api
                .clone()
                .map(|api| Arc::new(SharedBackfill::new(api, backfill_limit.clone()))),
            prometheus: api,
            backfill_limit,
            scrape: ScrapeSource::new()?,
            log: StateLog::default(),
        })
    }

    /// Read every configured metric of `target` as of `now`, concurrently. Failures are
    /// logged when a metric's state changes. Metrics scraped from every pod fail (nobody
    /// listed the pods): see [`Self::read_at_with`].
    pub async fn read_at(&self, target: &TargetConfig, now: SystemTime) -> TargetReadings {
        self.read_at_with(target, now, &not_listed(target)).await
    }

    /// [`Self::read_at`], scraping `pods` for the metrics scraped from every ready pod.
    pub async fn read_at_with(
        &self,
        target: &TargetConfig,
        now: SystemTime,
        pods: &PodEndpoints,
    ) -> TargetReadings {
        let evaluations =
            futures::future::join_all(MetricKind::ALL.into_iter().map(|kind| async move {
                (kind, self.evaluate_as(target, kind, now, pods, false).await)
            }))
            .await;
        let mut readings = TargetReadings::default();
        for (kind, evaluation) in evaluations {
            if let Some(e) = evaluation {
                self.log.record(&target.name, kind, &e.value, &e.warnings);
                readings.set(kind, e.value);
            }
        }
        readings
    }

    /// Evaluate one metric of `target` as of `now`, with the series and warnings seen;
    /// `None` when the metric is not configured. Nothing is logged (for `prescale probe`).
    /// Metrics scraped from every pod fail (nobody listed the pods): see
    /// [`Self::evaluate_with`].
    pub async fn evaluate(
        &self,
        target: &TargetConfig,
        kind: MetricKind,
        now: SystemTime,
    ) -> Option<Evaluation> {
        self.evaluate_with(target, kind, now, &not_listed(target))
            .await
    }

    /// [`Self::evaluate`], scraping `pods` for a metric scraped from every ready pod.
    pub async fn evaluate_with(
        &self,
        target: &TargetConfig,
        kind: MetricKind,
        now: SystemTime,
        pods: &PodEndpoints,
    ) -> Option<Evaluation> {
        self.evaluate_as(target, kind, now, pods, true).await
    }

    /// [`Self::evaluate_with`]; without `detail` a shared query's [`Evaluation::series`]
    /// may be left empty (a tick reads the value only).
    async fn evaluate_as(
        &self,
        target: &TargetConfig,
        kind: MetricKind,
        now: SystemTime,
        pods: &PodEndpoints,
        detail: bool,
    ) -> Option<Evaluation> {
        let source = source_of(target, kind)?;
        // A read slowed down by retries delivers an older value than it started with.
        let started = std::time::Instant::now();
        let mut evaluation = match source {
            MetricSource::Promql {
                query,
                aggregate,
                ignore_null_values,
            } => match &self.prometheus {
                Some(api) => {
                    let evaluation =
                        prometheus::evaluate(api.as_ref(), query, *aggregate, now).await;
                    if *ignore_null_values {
                        empty_as_zero(evaluation, now)
                    } else {
                        evaluation
                    }
                }
                None => Evaluation::failed(MetricError::NoPrometheus),
            },
            MetricSource::Shared {
                name,
                query,
                labels,
                aggregate,
                ignore_null_values,
            } => match &self.shared {
                Some(shared) => {
                    let want = Want {
                        name,
                        query,
                        labels,
                        aggregate: *aggregate,
                        interval: target.interval,
                        detail,
                    };
                    let evaluation = shared.evaluate(&want, now).await;
                    if *ignore_null_values {
                        empty_as_zero(evaluation, now)
                    } else {
                        evaluation
                    }
                }
                None => Evaluation::failed(MetricError::NoPrometheus),
            },
            MetricSource::Scrape {
                from,
                metric,
                labels,
                aggregate,
                quantile,
            } => {
                let spec = ScrapeSpec {
                    metric,
                    labels,
                    aggregate: *aggregate,
                    quantile: *quantile,
                };
                let key = format!("{}/{}", target.name, kind.name());
                match from {
                    ScrapeFrom::Url(url) => {
                        self.scrape
                            .evaluate(&key, std::slice::from_ref(url), &spec, now)
                            .await
                    }
                    ScrapeFrom::Pods { port, path, scheme } => {
                        match pods.urls(*port, path, *scheme) {
                            Ok(endpoints) => {
                                self.scrape
                                    .evaluate_instances(&key, &endpoints, &spec, now)
                                    .await
                            }
                            Err(e) => Evaluation::failed(e),
                        }
                    }
                }
            }
        };
        let finished = now + started.elapsed();
        if evaluation.value.is_ok()
            && let Err(stale) = check_fresh(evaluation.sample_time, finished, target.interval)
        {
            evaluation.value = Err(stale);
        }
        // The source's description is formatted only for the error it goes into (per target
        // and tick it would be most of a shared query's reading cost).
        if let Ok(value) = evaluation.value
            && value < 0.0
        {
            evaluation.value = reject_negative(&describe(source), value);
        }
        Some(evaluation)
    }

    /// Arrival-rate history for `target` up to `end`: `forecast.history` of it, oldest first,
    /// fetched with range queries in chunks under Prometheus's points limit; at the target's
    /// interval for its own query, in 5-minute means for a shared query. Empty when the
    /// arrival rate is scraped (a `/metrics` endpoint has no history), not configured, or
    /// the forecast is disabled.
    pub async fn backfill(
        &self,
        target: &TargetConfig,
        end: SystemTime,
    ) -> Result<History, MetricError> {
        let mut all = History::new();
        let mut chunks = self.history_chunks(target, end);
        while let Some(chunk) = chunks.next().await {
            all.extend(chunk?.samples);
        }
        Ok(all)
    }

    /// [`Self::backfill`] as it arrives, chunk by chunk, oldest first; a shared query's
    /// history comes in one batch with every target starting at the same time. Range
    /// queries of backfills are limited to [`BACKFILL_CONCURRENCY`] at once.
    pub fn history_chunks<'a>(
        &'a self,
        target: &'a TargetConfig,
        end: SystemTime,
    ) -> BoxStream<'a, Result<HistoryChunk, MetricError>> {
        if !target.forecast.enabled || target.forecast.history.is_zero() {
            return futures::stream::empty().boxed();
        }
        match &target.metrics.arrival_rate {
            Some(MetricSource::Promql {
                query, aggregate, ..
            }) => match &self.prometheus {
                Some(api) => prometheus::backfill_chunks(
                    api.as_ref(),
                    query,
                    *aggregate,
                    unix_seconds(end),
                    target.forecast.history,
                    target.interval,
                    Some(&self.backfill_limit),
                ),
                None => futures::stream::once(async { Err(MetricError::NoPrometheus) }).boxed(),
            },
            Some(MetricSource::Shared {
                name,
                query,
                labels,
                aggregate,
                ..
            }) => match &self.shared_backfill {
                Some(batches) => {
                    let want = HistoryWant {
                        name: name.clone(),
                        query: query.clone(),
                        labels: labels.clone(),
                        aggregate: *aggregate,
                        history: target.forecast.history,
                        interval: target.interval,
                    };
                    let rx = batches.join(want, end);
                    futures::stream::unfold(rx, |mut rx| async move {
                        rx.recv().await.map(|chunk| (chunk, rx))
                    })
                    .boxed()
                }
                None => futures::stream::once(async { Err(MetricError::NoPrometheus) }).boxed(),
            },
            Some(MetricSource::Scrape { .. }) | None => futures::stream::empty().boxed(),
        }
    }

    /// Forget a target's remembered counters and logged states (removed or reconfigured).
    pub fn forget(&self, target: &str) {
        for kind in MetricKind::ALL {
            self.scrape.forget(&format!("{target}/{}", kind.name()));
        }
        self.log.forget(target);
    }
}

impl MetricsSource for Sources {
    fn read<'a>(&'a self, target: &'a TargetConfig) -> BoxFuture<'a, TargetReadings> {
        Box::pin(self.read_at(target, SystemTime::now()))
    }

    fn read_with<'a>(
        &'a self,
        target: &'a TargetConfig,
        pods: &'a PodEndpoints,
    ) -> BoxFuture<'a, TargetReadings> {
        Box::pin(self.read_at_with(target, SystemTime::now(), pods))
    }

    fn history<'a>(
        &'a self,
        target: &'a TargetConfig,
    ) -> BoxFuture<'a, Result<History, MetricError>> {
        Box::pin(self.backfill(target, SystemTime::now()))
    }

    fn history_stream<'a>(
        &'a self,
        target: &'a TargetConfig,
    ) -> BoxStream<'a, Result<HistoryChunk, MetricError>> {
        self.history_chunks(target, SystemTime::now())
    }

    fn forget(&self, target: &str) {
        Sources::forget(self, target);
    }

    fn per_pod<'a>(
        &'a self,
        source: &'a MetricSource,
        pods: &'a [PodEndpoint],
    ) -> BoxFuture<'a, Vec<Result<f64, MetricError>>> {
        Box::pin(async move {
            let MetricSource::Scrape {
                from: ScrapeFrom::Pods { port, path, scheme },
                metric,
                labels,
                aggregate,
                quantile,
            } = source
            else {
                let e = MetricError::PodList {
                    deployment: String::new(),
                    detail: "the metric is not scraped from every pod (`scrape: {pods: ...}`)"
                        .into(),
                };
                return vec![Err(e); pods.len()];
            };
            let listed = PodEndpoints {
                deployment: "".into(),
                listed: Ok(pods.to_vec()),
            };
            let endpoints = match listed.urls(*port, path, *scheme) {
                Ok(e) => e,
                Err(e) => return vec![Err(e); pods.len()],
            };
            let spec = ScrapeSpec {
                metric,
                labels,
                aggregate: *aggregate,
                quantile: *quantile,
            };
            self.scrape
                .gauge_per_instance(&endpoints, &spec, SystemTime::now())
                .await
        })
    }
}

/// The source as errors name it: the PromQL query (a shared query's, with the labels that
/// pick this target's series), or the scraped metric with its labels.
fn describe(source: &MetricSource) -> String {
    match source {
        MetricSource::Promql { query, .. } => query.clone(),
        MetricSource::Shared {
            name,
            query,
            labels,
            ..
        } => {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            format!("queries.{name} ({query}) {{{}}}", labels.join(","))
        }
        MetricSource::Scrape { metric, labels, .. } => {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            if labels.is_empty() {
                metric.clone()
            } else {
                format!("{metric}{{{}}}", labels.join(","))
            }
        }
    }
}

/// The pods of `target`'s Deployment, unlisted.
fn not_listed(target: &TargetConfig) -> PodEndpoints {
    let r = &target.scale_target_ref;
    PodEndpoints::not_listed(format!("{}/{}", r.namespace, r.name))
}

/// Whether any metric of `target` is scraped from every ready pod, so the controller must
/// list the pods each tick.
pub fn scrapes_pods(target: &TargetConfig) -> bool {
    MetricKind::ALL.into_iter().any(|kind| {
        matches!(
            source_of(target, kind),
            Some(MetricSource::Scrape {
                from: ScrapeFrom::Pods { .. },
                ..
            })
        )
    })
}

/// The configured source of `kind` for `target`.
pub fn source_of(target: &TargetConfig, kind: MetricKind) -> Option<&MetricSource> {
    let m = &target.metrics;
    match kind {
        MetricKind::QueueDepth => m.queue_depth.as_ref(),
        MetricKind::ArrivalRate => m.arrival_rate.as_ref(),
        MetricKind::Completions => m.completions.as_ref(),
        MetricKind::WaitP95 => m.wait_p95.as_ref(),
    }
}
