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

    /// The query for the Deployment's `spec.replicas` over time.
    pub fn replicas_query(&self) -> (HistoryQuery, QueryOrigin) {
        match &self.backtest.replicas {
            Some(q) => (q.clone(), QueryOrigin::Backtest),
            None => (
                kube_state_metrics("kube_deployment_spec_replicas", &self.scale_target_ref),
                QueryOrigin::KubeStateMetrics,
            ),
        }
    }

    /// The query for the Deployment's ready replicas over time.
    pub fn ready_replicas_query(&self) -> (HistoryQuery, QueryOrigin) {
        match &self.backtest.ready_replicas {
            Some(q) => (q.clone(), QueryOrigin::Backtest),
            None => (
                kube_state_metrics(
                    "kube_deployment_status_replicas_ready",
                    &self.scale_target_ref,
                ),
                QueryOrigin::KubeStateMetrics,
            ),
        }
    }
}

/// kube-state-metrics' series `metric` for the Deployment; `max` because two
/// kube-state-metrics replicas export the same series twice. Namespace and name are
/// validated DNS-1123 names, so they need no escaping inside the quotes.
fn kube_state_metrics(metric: &str, deployment: &ScaleTargetRef) -> HistoryQuery {
    HistoryQuery {
        query: format!(
            "max({metric}{{namespace=\"{}\",deployment=\"{}\"}})",
            deployment.namespace, deployment.name
        ),
        aggregate: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_default_to_kube_state_metrics_for_the_deployment() {
        let mut t = TargetConfig {
            scale_target_ref: ScaleTargetRef {
                namespace: "docs".into(),
                name: "ocr".into(),
            },
            ..TargetConfig::default()
        };
        let (q, origin) = t.replicas_query();
        assert_eq!(
            q.query,
            r#"max(kube_deployment_spec_replicas{namespace="docs",deployment="ocr"})"#
        );
        assert_eq!(origin, QueryOrigin::KubeStateMetrics);
        assert!(t.ready_replicas_query().0.query.contains("replicas_ready"));
        t.backtest.replicas = Some(HistoryQuery {
            query: "my_replicas".into(),
            aggregate: None,
        });
        assert_eq!(t.replicas_query().0.query, "my_replicas");
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
