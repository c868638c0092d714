//! The configuration file exactly as written: every key optional where the file may omit it,
//! nothing checked beyond its type. Validation turns these into the types in `types.rs`.
//!
//! Keys are camelCase like a Kubernetes object (a later CRD reuses these types and their JSON
//! Schema). Unknown keys are rejected everywhere (`deny_unknown_fields`); because serde's
//! `flatten` does not combine with that, a target's overrides are spelled out by
//! [`settings_struct!`] rather than flattened from [`RawSettings`].

mod backtest;
mod metrics;
mod schedule;
mod settings;

pub use backtest::{RawBacktest, RawHistoryQuery};
pub use metrics::{RawMetricSource, RawMetrics, RawPods, RawScrape};
pub use schedule::RawSchedule;
pub use settings::{
    RawActivation, RawBehavior, RawCapacity, RawEvents, RawFallback, RawForecast, RawPlan,
    RawPodDeletionCost, RawPolicy, RawScalingRules, RawSlo,
};

use super::duration::DurationText;
use super::types::{Actuation, Mode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "prescale configuration")]
#[schemars(rename = "Config")]
pub struct RawConfig {
    /// How to reach Prometheus. Required when any target has a `promql:` metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<RawPrometheus>,
    /// Shared PromQL queries by name: each runs once per interval, and every target that
    /// refers to it (`metrics.X.query`) takes its own series from the result by labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub queries: BTreeMap<String, RawSharedQuery>,
    /// Settings every target inherits; a target may override any of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<RawSettings>,
    /// The Deployments to scale. Absent or `[]` is valid: the controller starts and idles
    /// (and `prescale simulate --config` runs the `defaults:`).
    #[serde(default)]
    pub targets: Vec<RawTarget>,
}

/// How to reach Prometheus's HTTP API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Prometheus")]
pub struct RawPrometheus {
    /// Base URL, e.g. `http://prometheus.monitoring.svc:9090`.
    pub url: String,
    /// Per-request timeout. Default `5s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    /// File holding a bearer token (mounted from a Secret); re-read when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    /// HTTP basic auth; the password is read from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<RawBasicAuth>,
    /// Extra request headers (no secrets here: use the token or password files).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// PEM file of the CA that signs Prometheus's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Skip TLS certificate verification. Default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    /// Retries of a failed query within one tick. Default `2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Queries in flight at once, across all targets (>= 1). Default `8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_concurrent_queries: Option<u32>,
}

/// A PromQL query shared by many targets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "SharedQuery")]
pub struct RawSharedQuery {
    /// The query: an instant vector whose series carry the labels targets match on, e.g.
    /// `sum by (namespace, deployment) (rate(docs_enqueued_total[1m]))`.
    pub promql: String,
}

/// HTTP basic auth for Prometheus.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "BasicAuth")]
pub struct RawBasicAuth {
    /// User name.
    pub username: String,
    /// File holding the password (mounted from a Secret).
    pub password_file: String,
}

/// Declares a struct holding every inheritable setting (each optional) between the fields
/// given in braces and those given after them. `defaults:` and each target share the
/// settings this way, keeping one list of keys with one set of docs, without `flatten`
/// (which would disable `deny_unknown_fields`).
macro_rules! settings_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($head:tt)* } $($tail:tt)*) => {
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        $(#[$meta])*
        pub struct $name {
            $($head)*
            /// `shadow` (recommend only) or `active` (write replicas). Default `shadow`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub mode: Option<Mode>,
            /// How often to decide. Default `15s`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub interval: Option<DurationText>,
            /// Lower bound on replicas. Default `1`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub min_replicas: Option<u32>,
            /// Upper bound on replicas (>= 1). Default `50`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(range(min = 1))]
            pub max_replicas: Option<u32>,
            /// Scale-up lead time: decision to ready pods (a starting value; learned). Default `90s`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub startup_time: Option<DurationText>,
            /// Service-level objective.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub slo: Option<RawSlo>,
            /// Per-replica throughput.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub capacity: Option<RawCapacity>,
            /// HPA-style stabilisation windows and rate limits.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub behavior: Option<RawBehavior>,
            /// What to do when metrics keep failing (KEDA-style).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub fallback: Option<RawFallback>,
            /// The predictive policy's knobs.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub forecast: Option<RawForecast>,
            /// How the forecast becomes replicas: the wait aimed at, and calm steps.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub plan: Option<RawPlan>,
            /// How an active target acts: `scale` (write `spec.replicas` through `/scale`),
            /// `hpaMinReplicas` (raise the floor of the HPA that targets the Deployment) or
            /// `kedaMinReplicaCount` (the same for a KEDA ScaledObject). Default `scale`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub actuation: Option<Actuation>,
            /// Work-aware scale-down: annotate the pods that should go first.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub pod_deletion_cost: Option<RawPodDeletionCost>,
            /// How often decision Events are published.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub events: Option<RawEvents>,
            /// Scheduled windows (like KEDA's cron scaler): from each cron time, for
            /// `duration`, the replicas stay within the window's `minReplicas`/`maxReplicas`.
            /// A target's list replaces the inherited one whole; `[]` clears it.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub schedules: Option<Vec<RawSchedule>>,
            /// Scale to zero and back (KEDA's `activationThreshold`), for `minReplicas: 0`:
            /// the readings that wake a sleeping target. Default `{queueDepth: 0, arrivalRate: 0}`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub activation_threshold: Option<RawActivation>,
            $($tail)*
        }
    };
}

settings_struct! {
    /// Settings a target inherits from `defaults:` unless it sets them itself.
    #[schemars(rename = "Settings")]
    pub struct RawSettings {}
    /// Metrics every target inherits, each key on its own (a target's own `metrics.X`
    /// replaces `X` here). Use `${namespace}`, `${name}` and `${target}` in `promql` and in
    /// a shared query's `match` so one entry serves every target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<RawMetrics>,
}

settings_struct! {
    /// A workload to scale. Any key of `defaults:` may be overridden here.
    #[schemars(rename = "Target")]
    pub struct RawTarget {
        /// Unique name of this target (a DNS-1123 subdomain, e.g. `summarizer`).
        pub name: String,
        /// The object to scale: an `apps/v1` Deployment unless `apiVersion` and `kind` say
        /// otherwise.
        pub scale_target_ref: RawScaleTargetRef,
    }
    /// Where each signal comes from: `queueDepth` and/or `arrivalRate` are required, here
    /// or in `defaults.metrics`.
    #[serde(default)]
    pub metrics: RawMetrics,
    /// PromQL for reading the target's history (`prescale backtest`, `prescale tune`).
    /// Optional: the defaults read kube-state-metrics and the metrics' own PromQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtest: Option<RawBacktest>,
}

impl RawTarget {
    /// The target's own settings (its overrides of `defaults:`).
    pub fn overrides(&self) -> RawSettings {
        RawSettings {
            mode: self.mode,
            interval: self.interval.clone(),
            min_replicas: self.min_replicas,
            max_replicas: self.max_replicas,
            startup_time: self.startup_time.clone(),
            slo: self.slo.clone(),
            capacity: self.capacity.clone(),
            behavior: self.behavior.clone(),
            fallback: self.fallback.clone(),
            forecast: self.forecast.clone(),
            plan: self.plan.clone(),
            actuation: self.actuation,
            pod_deletion_cost: self.pod_deletion_cost.clone(),
            events: self.events.clone(),
            schedules: self.schedules.clone(),
            activation_threshold: self.activation_threshold.clone(),
            // Metrics are merged key by key (`validate::metrics`), not as one setting.
            metrics: None,
        }
    }
}

/// The object to scale, as in an HPA's `scaleTargetRef`: any kind with a `/scale`
/// subresource (Deployment, StatefulSet, Argo Rollout, a custom resource).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ScaleTargetRef")]
pub struct RawScaleTargetRef {
    /// API group and version of the object (`apps/v1`, `argoproj.io/v1alpha1`); default
    /// `apps/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the object (`Deployment`, `StatefulSet`, `Rollout`); default `Deployment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Namespace of the object (a DNS-1123 label).
    pub namespace: String,
    /// Name of the object (a DNS-1123 subdomain).
    pub name: String,
}
