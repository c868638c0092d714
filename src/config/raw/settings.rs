//! The nested settings sections (`slo`, `capacity`, `behavior`, `fallback`, `forecast`, `plan`), each
//! key optional: a target's section overrides `defaults:` key by key.

use crate::config::duration::DurationText;
use crate::config::types::{FallbackBehavior, PolicyKind, SelectPolicy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Service-level objective.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Slo")]
pub struct RawSlo {
    /// A document that waits longer than this in the queue is late. Default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_wait: Option<DurationText>,
}

/// Per-replica throughput.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Capacity")]
pub struct RawCapacity {
    /// Documents per second one ready replica serves (> 0): a starting hint, learned online.
    /// Default `1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_replica: Option<f64>,
}

/// KEDA's `activationThreshold`, for a target that may sleep (`minReplicas: 0`): at zero
/// replicas it wakes (to at least one) only when a reading exceeds its threshold, or when
/// the forecast expects documents within the lead window and its upper bound exceeds
/// `arrivalRate`; at one or more it goes to zero only when the plan needs none and the
/// readings are at or below the thresholds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ActivationThreshold")]
pub struct RawActivation {
    /// Documents waiting (>= 0) above which a sleeping target wakes. Default `0`: any
    /// document wakes it (KEDA's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub queue_depth: Option<f64>,
    /// Arrivals, documents/s (>= 0), above which a sleeping target wakes. Default `0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub arrival_rate: Option<f64>,
}

/// HPA-style `behavior`. A given `scaleUp`/`scaleDown` replaces the inherited one whole (as
/// in HPA); keys missing inside it take the built-in defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Behavior")]
pub struct RawBehavior {
    /// Rules when the recommendation is above the current replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<RawScalingRules>,
    /// Rules when the recommendation is below the current replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<RawScalingRules>,
    /// No scale-down until this long after the last scale-up, `0s` (off) to `1h`. Default `0s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_cooldown: Option<DurationText>,
}

/// HPA `HPAScalingRules`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ScalingRules")]
pub struct RawScalingRules {
    /// Window of past recommendations considered, `0s` to `1h`. Default `0s` (the forecast already
    /// holds capacity over the start-up lead time; HPA's default down window is `300s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window: Option<DurationText>,
    /// `Max`, `Min` or `Disabled`. Default `Max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<SelectPolicy>,
    /// Rate limits. Default up: 100% or 4 pods per 15s; down: 100% per 15s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<RawPolicy>>,
}

/// One HPA rate-limit policy: at most `value` pods (or percent) per `period`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Policy")]
pub struct RawPolicy {
    /// `Pods` or `Percent`.
    #[serde(rename = "type")]
    pub kind: PolicyKind,
    /// Pods, or percent of the replicas at the start of the period (>= 1).
    #[schemars(range(min = 1))]
    pub value: u32,
    /// The period the change is limited over, `1s` to `30m`.
    pub period: DurationText,
}

/// KEDA-style fallback when metrics fail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Fallback")]
pub struct RawFallback {
    /// Consecutive failed ticks before the fallback applies (>= 1). Default `3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub failure_threshold: Option<u32>,
    /// `static`, `currentReplicas`, `currentReplicasIfHigher` or `currentReplicasIfLower`.
    /// Default `currentReplicasIfHigher`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<FallbackBehavior>,
    /// Replicas for `static` (within min/max), floor or ceiling for the others. Default `1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
}

/// The predictive policy's knobs.
///
/// To add a key: add an `Option<_>` field here, the validated field to `ForecastConfig`
/// (`types.rs`, with its default), and one line in `validate/forecast.rs` (merge and
/// check); the compiler then points at the one line to add in `effective.rs` (what
/// `prescale check` prints).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Forecast")]
pub struct RawForecast {
    /// Use the forecast at all; when `false` the policy is purely reactive. Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// How much arrival-rate history to backfill and keep. Default `14d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<DurationText>,
    /// Target utilisation of the reactive signal, in (0, 1]. Default `1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_utilization: Option<f64>,
    /// The largest margin considered: this quantile of the forecast's own errors over lead
    /// windows, in (0, 1). Default `0.99`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_quantile: Option<f64>,
    /// How much a missed document weighs against a replica's share of capacity when the margin
    /// is chosen, above 0. Default `8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miss_cost: Option<f64>,
}

/// How the planner turns the forecast into replicas.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Plan")]
pub struct RawPlan {
    /// The queue wait the plan aims for, as a fraction of `slo.queueWait`, in (0, 1].
    /// Default `0.5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_target: Option<f64>,
    /// A scale-up asks for what the lead window and this much after it need, `0s` to `2h`.
    /// Default: the start-up time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_ahead: Option<DurationText>,
    /// Pods are released only when the lead window and this much after it do not need them,
    /// `0s` to `2h`. Default: twice the start-up time, at least `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_for: Option<DurationText>,
    /// Steps are at least this fraction of the replicas, in [0, 1): a scale-up asks this much
    /// above the need, a scale-down waits until this much is spare. Default `0.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_tolerance: Option<f64>,
}

/// Work-aware scale-down (`controller.kubernetes.io/pod-deletion-cost`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "PodDeletionCost")]
pub struct RawPodDeletionCost {
    /// Before a scale-down through `/scale`, annotate the pods that should go first with
    /// `controller.kubernetes.io/pod-deletion-cost`. Needs `list` and `patch` on pods (the
    /// `pod-deletion-cost` overlay). Default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Each pod's in-flight work: a gauge scraped from every pod
    /// (`{scrape: {pods: {port: 9100}, metric: NAME}}`). Default: the target's `queueDepth`
    /// when it is scraped from every pod; without either, pods go not-ready first, then
    /// newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<super::RawMetricSource>,
}

/// Decision Events (`Recommendation`, `Rescaled`, `FloorRaised`, `FloorReturned`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Events")]
pub struct RawEvents {
    /// At most one decision Event per target this often, except that a change of direction
    /// (up after down, down after up) is always published. `0s` publishes every change.
    /// Default `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<DurationText>,
}
