//! Reading a target's history from Prometheus: range queries at the target's interval
//! over the window, through the controller's client (credentials, TLS, retries, the limit
//! on queries in flight) and its chunked backfill (under Prometheus's points limit).

use std::collections::BTreeMap;

use crate::config::{HistoryQuery, MetricSource, QueryOrigin, TargetConfig};
use crate::metrics::prometheus::{PromApi, backfill};
use crate::metrics::{MetricError, MetricKind};

use super::history::{History, Points, align, derive_arrivals, drop_negative};
use super::window::{Grid, Window, format_time};

/// A target's history and how it was read.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The series on the grid.
    pub history: History,
    /// Each series' query, by the config key it stands for.
    pub queries: BTreeMap<String, String>,
    /// What went wrong with optional series, and other things worth saying.
    pub notes: Vec<String>,
}

/// Why a target's history cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No way to know the arrivals.
    #[error("target {target}: no arrival-rate history to replay: {why}; {fix}")]
    NoArrivalQuery {
        /// The target.
        target: String,
        /// Why there is none.
        why: String,
        /// What to write.
        fix: String,
    },
    /// The arrival-rate query failed.
    #[error("target {target}: {key} query `{query}` failed: {source}")]
    Query {
        /// The target.
        target: String,
        /// The config key of the series.
        key: String,
        /// The query.
        query: String,
        /// What Prometheus or the client said.
        source: Box<MetricError>,
    },
    /// The arrival-rate query answered with nothing.
    #[error(
        "target {target}: {key} query `{query}` returned no data from {from} to {to}; check it with `prescale probe`, and that the window lies within Prometheus's retention (15 days by default)"
    )]
    NoData {
        /// The target.
        target: String,
        /// The config key of the series.
        key: String,
        /// The query.
        query: String,
        /// Window start.
        from: String,
        /// Window end.
        to: String,
    },
}

/// The grid `target`'s history is read on for `window`.
pub fn grid(target: &TargetConfig, window: &Window) -> Grid {
    Grid::ending_at(window.to, window.length(), target.interval)
}

/// Read `target`'s history over `window`. The arrivals are required (from
/// `backtest.arrivalRate`, `metrics.arrivalRate.promql`, or derived from completions and
/// queue depth); every other series is optional and its failure becomes a note.
pub async fn fetch(
    api: &dyn PromApi,
    target: &TargetConfig,
    window: &Window,
) -> Result<Fetched, FetchError> {
    let grid = grid(target, window);
    let mut queries = BTreeMap::new();
    let mut notes = Vec::new();
    let arrival_query = target.history_query(MetricKind::ArrivalRate);
    let [arrivals, queue_depth, completions, wait_p95] = [
        MetricKind::ArrivalRate,
        MetricKind::QueueDepth,
        MetricKind::Completions,
        MetricKind::WaitP95,
    ]
    .map(|kind| (kind.name(), target.history_query(kind).map(|(q, _)| q)));
    let replicas = target.replicas_query();
    let replicas_origin = replicas.as_ref().map(|(_, o)| *o);
    if replicas.is_none() {
        notes.push(format!(
            "replicas: kube-state-metrics exports no replica series for a {} by default, so what ran is unknown; set `backtest.replicas` and `backtest.readyReplicas` to read them",
            target.scale_target_ref.kind
        ));
    }
    let series: Vec<(&str, Option<HistoryQuery>)> = vec![
        arrivals,
        queue_depth,
        completions,
        wait_p95,
        ("replicas", replicas.map(|(q, _)| q)),
        (
            "readyReplicas",
            target.ready_replicas_query().map(|(q, _)| q),
        ),
    ];
    let read = futures::future::join_all(series.iter().map(|(key, query)| async move {
        let query = query.as_ref()?;
        let samples = backfill(
            api,
            &query.query,
            query.aggregate,
            window.to,
            window.length(),
            target.interval,
        )
        .await;
        Some((*key, query.query.clone(), samples))
    }))
    .await;
    let mut points: BTreeMap<&str, Points> = BTreeMap::new();
    for (key, query, samples) in read.into_iter().flatten() {
        queries.insert(key.to_string(), query.clone());
        match samples {
            Ok(samples) if samples.is_empty() => {
                if key == "arrivalRate" {
                    return Err(FetchError::NoData {
                        target: target.name.clone(),
                        key: key.into(),
                        query,
                        from: format_time(window.from),
                        to: format_time(window.to),
                    });
                }
                notes.push(no_data_note(key, &query, replicas_origin));
            }
            Ok(samples) => {
                points.insert(key, align(&grid, &samples));
            }
            Err(source) if key == "arrivalRate" => {
                return Err(FetchError::Query {
                    target: target.name.clone(),
                    key: key.into(),
                    query,
                    source: Box::new(source),
                });
            }
            Err(e) => notes.push(format!(
                "{key}: query `{query}` failed ({e}); scored without it"
            )),
        }
    }
    for key in ["arrivalRate", "queueDepth", "completions", "waitP95"] {
        if let Some(p) = points.get_mut(key) {
            let dropped = drop_negative(p);
            if dropped > 0 {
                notes.push(format!(
                    "{key}: {dropped} negative sample(s) are gaps, not numbers; a counter reset seen by delta()/deriv()/idelta() or a subtraction in the query does this (rate(), irate() and increase() handle resets)"
                ));
            }
        }
    }
    let arrival_rate = match (arrival_query, points.remove("arrivalRate")) {
        (Some(_), Some(p)) => p,
        _ => derived_arrivals(target, &points, &grid, &mut notes)?,
    };
    for kind in [
        MetricKind::QueueDepth,
        MetricKind::Completions,
        MetricKind::WaitP95,
    ] {
        if let Some(MetricSource::Scrape { .. }) = scraped(target, kind)
            && target.history_query(kind).is_none()
        {
            notes.push(format!(
                "{0}: scraped from /metrics, which keeps no history; give `backtest.{0}.promql` to read it from Prometheus",
                kind.name()
            ));
        }
    }
    Ok(Fetched {
        history: History {
            grid,
            arrival_rate,
            queue_depth: points.remove("queueDepth"),
            completions: points.remove("completions"),
            wait_p95: points.remove("waitP95"),
            replicas: points.remove("replicas"),
            ready: points.remove("readyReplicas"),
        },
        queries,
        notes,
    })
}

fn scraped(target: &TargetConfig, kind: MetricKind) -> Option<&MetricSource> {
    crate::metrics::source_of(target, kind).filter(|s| matches!(s, MetricSource::Scrape { .. }))
}

fn no_data_note(key: &str, query: &str, replicas_origin: Option<QueryOrigin>) -> String {
    match key {
        "replicas" if replicas_origin == Some(QueryOrigin::KubeStateMetrics) => format!(
            "replicas: `{query}` returned no data, so what ran is unknown (is kube-state-metrics installed and scraped? set `backtest.replicas` to read replicas another way)"
        ),
        "replicas" => format!("replicas: `{query}` returned no data, so what ran is unknown"),
        "readyReplicas" => format!(
            "readyReplicas: `{query}` returned no data; what ran's new pods are taken to be ready after the model's start-up time"
        ),
        _ => format!("{key}: `{query}` returned no data; scored without it"),
    }
}

/// Arrivals from completions and queue growth, when both histories exist.
fn derived_arrivals(
    target: &TargetConfig,
    points: &BTreeMap<&str, Points>,
    grid: &Grid,
    notes: &mut Vec<String>,
) -> Result<Points, FetchError> {
    if let (Some(done), Some(queue)) = (points.get("completions"), points.get("queueDepth")) {
        notes.push(
            "arrivalRate: no history query, so arrivals are derived as completions plus the queue's growth"
                .into(),
        );
        return Ok(derive_arrivals(done, queue, grid.step));
    }
    let why = match scraped(target, MetricKind::ArrivalRate) {
        Some(MetricSource::Scrape { metric, labels, .. }) => {
            let selector = if labels.is_empty() {
                metric.clone()
            } else {
                format!(
                    "{metric}{}",
                    crate::metrics::scrape::format_selector(labels)
                )
            };
            return Err(FetchError::NoArrivalQuery {
                target: target.name.clone(),
                why: "metrics.arrivalRate is scraped from /metrics, which keeps no history".into(),
                fix: format!(
                    "give its PromQL as `backtest: {{arrivalRate: {{promql: 'sum(rate({selector}[1m]))'}}}}` (adjust if it is not a counter)"
                ),
            });
        }
        _ => {
            "the target has no metrics.arrivalRate, and not both completions and queueDepth in PromQL"
        }
    };
    Err(FetchError::NoArrivalQuery {
        target: target.name.clone(),
        why: why.into(),
        fix: "add `backtest: {arrivalRate: {promql: 'sum(rate(docs_enqueued_total[1m]))'}}` (the rate documents arrive at)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ScrapeFrom;

    fn grid() -> Grid {
        Grid {
            start: 0.0,
            step: 15.0,
            points: 3,
        }
    }

    #[test]
    fn scraped_arrivals_without_a_history_query_say_what_promql_to_write() {
        let mut target = TargetConfig::default();
        target.metrics.arrival_rate = Some(MetricSource::Scrape {
            from: ScrapeFrom::Url("http://w/metrics".into()),
            metric: "docs_in_total".into(),
            labels: [("queue".to_string(), "ocr".to_string())].into(),
            aggregate: None,
            quantile: None,
        });
        let e = derived_arrivals(&target, &BTreeMap::new(), &grid(), &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                r#"backtest: {arrivalRate: {promql: 'sum(rate(docs_in_total{queue="ocr"}[1m]))'}}"#
            ),
            "{e}"
        );
    }

    #[test]
    fn without_an_arrival_query_arrivals_come_from_completions_and_queue_growth() {
        let mut points = BTreeMap::new();
        points.insert("completions", vec![Some(1.0), Some(1.0), Some(1.0)]);
        points.insert("queueDepth", vec![Some(0.0), Some(30.0), Some(30.0)]);
        let mut notes = Vec::new();
        let arrivals =
            derived_arrivals(&TargetConfig::default(), &points, &grid(), &mut notes).unwrap();
        assert_eq!(arrivals, vec![None, Some(3.0), Some(1.0)]);
        assert!(notes[0].contains("derived"), "{notes:?}");
        let e = derived_arrivals(
            &TargetConfig::default(),
            &BTreeMap::new(),
            &grid(),
            &mut notes,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no metrics.arrivalRate"), "{e}");
    }
}
