//! A target's `backtest:` section: the PromQL `prescale backtest` and `prescale tune` read
//! history with, where the default or the controller's own queries do not fit.

use crate::config::types::Aggregate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// PromQL for reading a target's history. Every key is optional.
///
/// `replicas` and `readyReplicas` default to kube-state-metrics' series for the target's
/// Deployment; each metric defaults to the target's own `metrics.<key>.promql` (a `scrape:`
/// metric has no history, so give its PromQL equivalent here).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Backtest")]
pub struct RawBacktest {
    /// The Deployment's `spec.replicas` over time. Default
    /// `max(kube_deployment_spec_replicas{namespace="NS",deployment="NAME"})`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<RawHistoryQuery>,
    /// The Deployment's ready replicas over time. Default
    /// `max(kube_deployment_status_replicas_ready{namespace="NS",deployment="NAME"})`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<RawHistoryQuery>,
    /// Documents waiting. Default: `metrics.queueDepth.promql`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<RawHistoryQuery>,
    /// Documents arriving per second. Default: `metrics.arrivalRate.promql`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<RawHistoryQuery>,
    /// Documents completed per second. Default: `metrics.completions.promql`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completions: Option<RawHistoryQuery>,
    /// 95th percentile of queue wait, seconds. Default: `metrics.waitP95.promql`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_p95: Option<RawHistoryQuery>,
}

/// One history query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "HistoryQuery")]
pub struct RawHistoryQuery {
    /// A PromQL query, evaluated as a range query at the target's interval.
    pub promql: String,
    /// How to reduce a result with several series (`sum` or `max`); without it several
    /// series are an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Aggregate>,
}
