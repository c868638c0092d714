//! The validated `backtest:` section of a target: which PromQL reads its history.

use super::types::{Aggregate, MetricSource, ScaleTargetRef, TargetConfig};
use crate::metrics::MetricKind;

/// One validated history query.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    /// The PromQL query.
    pub query: String,
    /// How to reduce several series; `None` makes several series an error.
    pub aggregate: Option<Aggregate>,
}

/// The queries a target's history is read with, as written (`None`: the default).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BacktestQueries {
    /// `spec.replicas` over time.
    pub replicas: Option<HistoryQuery>,
    /// Ready replicas over time.
    pub ready_replicas: Option<HistoryQuery>,
    /// Documents waiting.
    pub queue_depth: Option<HistoryQuery>,
    /// Documents arriving per second.
    pub arrival_rate: Option<HistoryQuery>,
    /// Documents completed per second.
    pub completions: Option<HistoryQuery>,
    /// 95th percentile of queue wait, seconds.
    pub wait_p95: Option<HistoryQuery>,
}

/// A target's [`BacktestQueries`], held out of line when any is written: a running
/// target keeps its config, and most write none (inline they were 192 bytes a target).
/// Reads as the queries (none written: all `None`); written through, it holds them.
#[derive(Debug, Clone, Default)]
pub struct Backtest(Option<Box<BacktestQueries>>);

/// The queries of a target that writes none.
const NO_QUERIES: BacktestQueries = BacktestQueries {
    replicas: None,
    ready_replicas: None,
    queue_depth: None,
    arrival_rate: None,
    completions: None,
    wait_p95: None,
};

impl From<BacktestQueries> for Backtest {
    fn from(queries: BacktestQueries) -> Self {
        Backtest((queries != NO_QUERIES).then(|| Box::new(queries)))
    }
}

impl std::ops::Deref for Backtest {
    type Target = BacktestQueries;

    fn deref(&self) -> &BacktestQueries {
        self.0.as_deref().unwrap_or(&NO_QUERIES)
    }
}

impl std::ops::DerefMut for Backtest {
    fn deref_mut(&mut self) -> &mut BacktestQueries {
        self.0.get_or_insert_with(Box::default)
    }
}

/// Equal when the queries are (none written equals all written as `None`).
impl PartialEq for Backtest {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// Where a history query came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryOrigin {
    /// `targets[].backtest.<key>`.
    Backtest,
    /// `targets[].metrics.<key>.promql`.
    Metrics,
    /// The built-in kube-state-metrics default.
    KubeStateMetrics,
}

impl BacktestQueries {
    /// The override written for `kind`, if any.
    pub fn metric(&self, kind: MetricKind) -> Option<&HistoryQuery> {
        match kind {
            MetricKind::QueueDepth => self.queue_depth.as_ref(),
            MetricKind::ArrivalRate => self.arrival_rate.as_ref(),
            MetricKind::Completions => self.completions.as_ref(),
            MetricKind::WaitP95 => self.wait_p95.as_ref(),
        }
    }
}

impl TargetConfig {
    /// The query for `kind`'s history: `backtest.<key>`, else the metric's own PromQL;
    /// `None` when neither exists (not configured, or scraped without a `backtest` query).
    pub fn history_query(&self, kind: MetricKind) -> Option<(HistoryQuery, QueryOrigin)> {
        if let Some(q) = self.backtest.metric(kind) {
            return Some((q.clone(), QueryOrigin::Backtest));
        }
        let source = match kind {
            MetricKind::QueueDepth => self.metrics.queue_depth.as_ref(),
            MetricKind::ArrivalRate => self.metrics.arrival_rate.as_ref(),
            MetricKind::Completions => self.metrics.completions.as_ref(),
            MetricKind::WaitP95 => self.metrics.wait_p95.as_ref(),
        };
        match source {
            Some(MetricSource::Promql {
                query, aggregate, ..
            }) => Some((
                HistoryQuery {
                    query: query.clone(),
                    aggregate: *aggregate,
                },
                QueryOrigin::Metrics,
            )),
            _ => None,
        }
    }

    /// The query for the scaled object's `spec.replicas` over time: `backtest.replicas`,
    /// else kube-state-metrics' series for a Deployment or a StatefulSet; `None` for other
    /// kinds without `backtest.replicas` (kube-state-metrics does not export them by
    /// default).
    pub fn replicas_query(&self) -> Option<(HistoryQuery, QueryOrigin)> {
        match &self.backtest.replicas {
            Some(q) => Some((q.clone(), QueryOrigin::Backtest)),
            None => kube_state_metrics(KubeStateSeries::Replicas, &self.scale_target_ref)
                .map(|q| (q, QueryOrigin::KubeStateMetrics)),
        }
    }

    /// The query for the scaled object's ready replicas over time (as
    /// [`Self::replicas_query`]).
    pub fn ready_replicas_query(&self) -> Option<(HistoryQuery, QueryOrigin)> {
        match &self.backtest.ready_replicas {
            Some(q) => Some((q.clone(), QueryOrigin::Backtest)),
            None => kube_state_metrics(KubeStateSeries::Ready, &self.scale_target_ref)
                .map(|q| (q, QueryOrigin::KubeStateMetrics)),
        }
    }
}

/// Which kube-state-metrics series.
#[derive(Clone, Copy)]
enum KubeStateSeries {
    Replicas,
    Ready,
}

/// kube-state-metrics' series for the scaled object (a Deployment or a StatefulSet, the kinds
/// it exports by default); `max` because two kube-state-metrics replicas export the same
/// series twice. Namespace and name are validated DNS-1123 names, so they need no escaping
/// inside the quotes.
fn kube_state_metrics(series: KubeStateSeries, target: &ScaleTargetRef) -> Option<HistoryQuery> {
    let (metric, label) = match (target.group(), target.kind.as_str(), series) {
        ("apps", "Deployment", KubeStateSeries::Replicas) => {
            ("kube_deployment_spec_replicas", "deployment")
        }
        ("apps", "Deployment", KubeStateSeries::Ready) => {
            ("kube_deployment_status_replicas_ready", "deployment")
        }
        ("apps", "StatefulSet", KubeStateSeries::Replicas) => {
            ("kube_statefulset_replicas", "statefulset")
        }
        ("apps", "StatefulSet", KubeStateSeries::Ready) => {
            ("kube_statefulset_status_replicas_ready", "statefulset")
        }
        _ => return None,
    };
    Some(HistoryQuery {
        query: format!(
            "max({metric}{{namespace=\"{}\",{label}=\"{}\"}})",
            target.namespace, target.name
        ),
        aggregate: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: Option<(HistoryQuery, QueryOrigin)>) -> Option<String> {
        q.map(|(q, _)| q.query)
    }

    #[test]
    fn replicas_default_to_kube_state_metrics_for_the_deployment() {
        let mut t = TargetConfig {
            scale_target_ref: ScaleTargetRef::deployment("docs", "ocr"),
            ..TargetConfig::default()
        };
        assert_eq!(
            t.replicas_query().map(|(_, o)| o),
            Some(QueryOrigin::KubeStateMetrics)
        );
        assert_eq!(
            query(t.replicas_query()).as_deref(),
            Some(r#"max(kube_deployment_spec_replicas{namespace="docs",deployment="ocr"})"#)
        );
        assert!(query(t.ready_replicas_query()).is_some_and(|q| q.contains("replicas_ready")));
        t.backtest.replicas = Some(HistoryQuery {
            query: "my_replicas".into(),
            aggregate: None,
        });
        assert_eq!(query(t.replicas_query()).as_deref(), Some("my_replicas"));
    }

    #[test]
    fn a_statefulset_reads_kube_state_metrics_and_other_kinds_need_a_query() {
        let mut t = TargetConfig {
            scale_target_ref: ScaleTargetRef {
                kind: "StatefulSet".into(),
                ..ScaleTargetRef::deployment("docs", "ocr")
            },
            ..TargetConfig::default()
        };
        assert_eq!(
            query(t.ready_replicas_query()).as_deref(),
            Some(
                r#"max(kube_statefulset_status_replicas_ready{namespace="docs",statefulset="ocr"})"#
            )
        );
        assert!(
            query(t.replicas_query()).is_some_and(|q| q.contains("kube_statefulset_replicas{"))
        );
        t.scale_target_ref.api_version = "argoproj.io/v1alpha1".into();
        t.scale_target_ref.kind = "Rollout".into();
        assert_eq!(t.replicas_query(), None);
        assert_eq!(t.ready_replicas_query(), None);
    }

    #[test]
    fn a_metric_reads_its_backtest_query_then_its_own_promql_and_never_a_scrape() {
        let mut t = TargetConfig::default();
        assert!(t.history_query(MetricKind::ArrivalRate).is_none());
        t.metrics.arrival_rate = Some(MetricSource::Promql {
            query: "sum(rate(a_total[1m]))".into(),
            aggregate: None,
            ignore_null_values: false,
        });
        let (q, origin) = t.history_query(MetricKind::ArrivalRate).unwrap();
        assert_eq!(
            (q.query.as_str(), origin),
            ("sum(rate(a_total[1m]))", QueryOrigin::Metrics)
        );
        t.metrics.queue_depth = Some(MetricSource::Scrape {
            from: super::super::types::ScrapeFrom::Url("http://x/metrics".into()),
            metric: "q".into(),
            labels: Default::default(),
            aggregate: None,
            quantile: None,
        });
        assert!(t.history_query(MetricKind::QueueDepth).is_none());
        t.backtest.queue_depth = Some(HistoryQuery {
            query: "sum(q)".into(),
            aggregate: None,
        });
        assert_eq!(
            t.history_query(MetricKind::QueueDepth).unwrap().1,
            QueryOrigin::Backtest
        );
    }
}
