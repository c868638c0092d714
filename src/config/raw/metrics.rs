//! Where each signal comes from: a PromQL query or a scraped `/metrics` endpoint.

use crate::config::types::{Aggregate, ScrapeScheme};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A target's signals. At least one of `queueDepth` and `arrivalRate` is required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Metrics")]
pub struct RawMetrics {
    /// Documents waiting in the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<RawMetricSource>,
    /// Documents arriving per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<RawMetricSource>,
    /// Documents completed per second (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completions: Option<RawMetricSource>,
    /// 95th percentile of queue wait, seconds (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_p95: Option<RawMetricSource>,
}

/// One metric's source: exactly one of `promql`, `query` and `scrape`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "MetricSource")]
pub struct RawMetricSource {
    /// A PromQL instant query (needs the top-level `prometheus:` section). May use
    /// `${namespace}`, `${name}` (the Deployment's) and `${target}` (the target's name), so
    /// one query under `defaults.metrics` serves every target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promql: Option<String>,
    /// The name of a shared query (`queries:` at the top level), run once per interval for
    /// every target that uses it; this target's series are those carrying the labels in
    /// `match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// With `query`: the labels (and values) of this target's series in the shared query's
    /// result. Values may use `${namespace}`, `${name}` and `${target}`.
    #[serde(default, rename = "match", skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// With `promql` or `query`: how to reduce several series (`sum` or `max`); without it
    /// several series are an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Aggregate>,
    /// With `promql`: read an empty result as 0 instead of a missing metric, as KEDA's
    /// Prometheus scaler's `ignoreNullValues: true` does. Default `false` (an empty result is
    /// missing: prescale never scales down on it and the fallback applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_null_values: Option<bool>,
    /// A text-exposition endpoint scraped directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape: Option<RawScrape>,
}

/// A `/metrics` endpoint scraped directly: one URL, or every ready pod of the target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Scrape")]
pub struct RawScrape {
    /// URL of the endpoint, e.g. `http://summarizer.docs.svc:8080/metrics`. Exactly one of
    /// `url` and `pods`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Scrape every ready pod of the target's Deployment at this port and path, and combine
    /// the pods' series with `aggregate` (default `sum`). Exactly one of `url` and `pods`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<RawPods>,
    /// Metric name, e.g. `docs_queue_depth`.
    pub metric: String,
    /// Labels the series must have.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// How to reduce several matching series (`sum` or `max`); without it several series are
    /// an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Aggregate>,
    /// For a histogram: the quantile to compute, in (0, 1), as PromQL's `histogram_quantile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<f64>,
}

/// Where on each ready pod the `/metrics` endpoint is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ScrapePods")]
pub struct RawPods {
    /// The container port serving the metrics, 1-65535. Required.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
    /// The path, starting with `/`. Default `/metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `http` or `https`. Default `http`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<ScrapeScheme>,
}
