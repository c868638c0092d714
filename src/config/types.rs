//! Validated configuration: every value here has passed validation.

use std::time::Duration;

/// Whether a target's decisions are applied to the workload.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Compute and report recommendations; never write to the workload.
    #[default]
    Shadow,
    /// Write the recommendation through the Deployment's `/scale` subresource.
    Active,
}

/// The validated configuration file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// Where PromQL metrics are read from; `None` when no target uses PromQL.
    pub prometheus: Option<PrometheusConfig>,
    /// The workloads to scale, each with its effective (defaults + overrides) settings.
    pub targets: Vec<TargetConfig>,
}

/// How to reach Prometheus's HTTP API.
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusConfig {
    /// Base URL, e.g. `http://prometheus.monitoring.svc:9090`.
    pub url: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// File holding a bearer token, re-read when it changes (mounted from a Secret).
    pub bearer_token_file: Option<String>,
    /// HTTP basic auth; the password is read from a file (mounted from a Secret).
    pub basic_auth: Option<BasicAuth>,
    /// Extra request headers (no secrets here: use the token or password files).
    pub headers: std::collections::BTreeMap<String, String>,
    /// PEM file of the CA that signs Prometheus's certificate.
    pub ca_file: Option<String>,
    /// Skip TLS verification: only when explicitly asked for.
    pub insecure_skip_verify: bool,
    /// Retries of a failed query (with jittered backoff) within one tick.
    pub retries: u32,
    /// Queries in flight at once, across all targets.
    pub max_concurrent_queries: u32,
}

/// HTTP basic auth for Prometheus.
#[derive(Debug, Clone, PartialEq)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// File holding the password.
    pub password_file: String,
}

/// A Deployment to scale, with its effective settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetConfig {
    /// Unique name of the target in this config.
    pub name: String,
    /// The `apps/v1` Deployment this target scales.
    pub scale_target_ref: ScaleTargetRef,
    /// Shadow or active.
    pub mode: Mode,
    /// Decision interval.
    pub interval: Duration,
    /// Lower bound on replicas.
    pub min_replicas: u32,
    /// Upper bound on replicas.
    pub max_replicas: u32,
    /// Time from a scale-up decision until the new pods are ready (starting value; learned).
    pub startup_time: Duration,
    /// Service-level objective.
    pub slo: Slo,
    /// Per-replica throughput.
    pub capacity: Capacity,
    /// HPA-style stabilisation and rate limits.
    pub behavior: Behavior,
    /// What to do when metrics keep failing.
    pub fallback: Fallback,
    /// The predictive policy's knobs.
    pub forecast: ForecastConfig,
    /// How the planner turns the forecast into replicas.
    pub plan: PlanConfig,
    /// Where each signal comes from.
    pub metrics: MetricsConfig,
    /// PromQL for reading the target's history (`prescale backtest`, `prescale tune`).
    pub backtest: super::Backtest,
    /// How an active target's recommendation reaches the workload.
    pub actuation: Actuation,
    /// Work-aware scale-down: mark the pods that should go first.
    pub pod_deletion_cost: PodDeletionCost,
    /// How often decision Events are published.
    pub events: EventsConfig,
    /// Scheduled windows (KEDA's cron scaler): bounds on replicas at known times.
    pub schedules: Vec<super::Schedule>,
    /// What wakes a target that sleeps at zero replicas (KEDA's `activationThreshold`).
    pub activation: Activation,
}

/// KEDA's `activationThreshold`: what decides 0 <-> 1 for a target whose bounds allow zero
/// replicas. At zero, a reading above a threshold (or a forecast that expects documents
/// within the lead window above `arrival_rate`) wakes it; at one or more, it sleeps only
/// when the plan needs no pod and every reading is at or below its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Activation {
    /// Documents waiting above which a sleeping target wakes.
    pub queue_depth: f64,
    /// Arrivals (documents/s) above which a sleeping target wakes.
    pub arrival_rate: f64,
}

/// How an active target acts on its recommendation, named as HPA and KEDA name the field
/// prescale writes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Actuation {
    /// Write `spec.replicas` through the Deployment's `/scale` subresource; refuse while an
    /// HPA or a ScaledObject targets the Deployment.
    #[default]
    Scale,
    /// Raise the `spec.minReplicas` of the HorizontalPodAutoscaler that targets the
    /// Deployment to the recommendation (a floor under the HPA), and return it to the
    /// owner's own value when the recommendation falls back.
    HpaMinReplicas,
    /// The same with the `spec.minReplicaCount` of the KEDA ScaledObject that targets the
    /// Deployment.
    KedaMinReplicaCount,
}

impl Actuation {
    /// The config spelling (`scale`, `hpaMinReplicas`, `kedaMinReplicaCount`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scale => "scale",
            Self::HpaMinReplicas => "hpaMinReplicas",
            Self::KedaMinReplicaCount => "kedaMinReplicaCount",
        }
    }

    /// Whether prescale writes a floor under another autoscaler rather than `/scale`.
    pub fn is_floor(self) -> bool {
        !matches!(self, Self::Scale)
    }
}

/// Work-aware scale-down: before a scale-down (active `/scale` mode), the pods that should
/// go first are annotated with `controller.kubernetes.io/pod-deletion-cost`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodDeletionCost {
    /// Off by default.
    pub enabled: bool,
    /// Each pod's in-flight work, scraped from every pod (`scrape: {pods: ...}`); `None`:
    /// the target's `queueDepth` when it is scraped from every pod, else the pods are
    /// ordered not-ready first, then newest first.
    pub in_flight: Option<MetricSource>,
}

/// How often decision Events (`Recommendation`, `Rescaled`, `FloorRaised`...) are
/// published, like Kubernetes' own event aggregation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventsConfig {
    /// At most one decision Event per target this often, unless the direction changes (up
    /// after down, or down after up), which is always published.
    pub min_interval: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(300),
        }
    }
}

/// The object a target scales, as in an HPA's `scaleTargetRef`: any kind with a `/scale`
/// subresource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScaleTargetRef {
    /// API group and version (`apps/v1`, `argoproj.io/v1alpha1`, `v1` for the core group).
    pub api_version: String,
    /// Kind (`Deployment`, `StatefulSet`, `Rollout`).
    pub kind: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
}

/// `apiVersion` of a target that names none.
pub const DEFAULT_SCALE_API_VERSION: &str = "apps/v1";
/// `kind` of a target that names none.
pub const DEFAULT_SCALE_KIND: &str = "Deployment";

/// The group of an `apiVersion` (`apps` of `apps/v1`; `""`, the core group, of `v1`).
pub fn api_group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

impl Default for ScaleTargetRef {
    fn default() -> Self {
        Self::deployment("", "")
    }
}

impl ScaleTargetRef {
    /// The `apps/v1` Deployment `namespace/name`.
    pub fn deployment(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            api_version: DEFAULT_SCALE_API_VERSION.into(),
            kind: DEFAULT_SCALE_KIND.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The API group (`""` for the core group's `v1`).
    pub fn group(&self) -> &str {
        api_group(&self.api_version)
    }

    /// The API version within the group.
    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(_, v)| v)
            .unwrap_or(&self.api_version)
    }

    /// An `apps` Deployment (read and written through the typed client, no discovery).
    pub fn is_deployment(&self) -> bool {
        self.kind == DEFAULT_SCALE_KIND && self.group() == "apps"
    }

    /// Whether an autoscaler's `scaleTargetRef` (kind, and apiVersion when it names one)
    /// points at the same object's kind: the group must match, the version may differ (an
    /// HPA written against `apps/v1beta2` still scales the same Deployment).
    pub fn same_kind(&self, kind: &str, api_version: Option<&str>) -> bool {
        kind == self.kind && api_version.is_none_or(|v| api_group(v) == self.group())
    }
}

impl std::fmt::Display for ScaleTargetRef {
    /// `Deployment shop/web`, `Rollout.argoproj.io shop/web` outside the built-in groups.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = self.group();
        if group.is_empty() || group == "apps" {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        } else {
            write!(f, "{}.{group} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Service-level objective.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// A document that waits longer than this in the queue is late.
    pub queue_wait: Duration,
}

/// Per-replica throughput.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    /// Documents per second one ready replica serves: a starting hint, learned online.
    pub per_replica: f64,
}

/// Scale-up and scale-down behaviour, as in HPA's `behavior`.
#[derive(Debug, Clone, PartialEq)]
pub struct Behavior {
    /// Rules applied when the recommendation is above the current replicas.
    pub scale_up: ScalingRules,
    /// Rules applied when the recommendation is below the current replicas.
    pub scale_down: ScalingRules,
    /// No scale-down until this long after the last scale-up (prescale's own knob; 0 = off).
    pub scale_down_cooldown: Duration,
}

/// HPA `HPAScalingRules`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingRules {
    /// Recommendations within this window are considered (max for down, min for up).
    pub stabilization_window: Duration,
    /// How to combine the policies.
    pub select_policy: SelectPolicy,
    /// Rate-limit policies.
    pub policies: Vec<ScalingPolicy>,
}

/// HPA `selectPolicy`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub enum SelectPolicy {
    /// The policy allowing the largest change.
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No change in this direction at all.
    Disabled,
}

/// One HPA rate-limit policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalingPolicy {
    /// Pods or Percent.
    pub kind: PolicyKind,
    /// Pods, or percent of the replicas at the start of the period.
    pub value: u32,
    /// The period the change is limited over.
    pub period: Duration,
}

/// HPA policy type.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub enum PolicyKind {
    /// An absolute number of pods per period.
    Pods,
    /// A percentage of the current replicas per period.
    Percent,
}

/// KEDA-style fallback when metrics fail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fallback {
    /// Consecutive failed ticks before the fallback applies.
    pub failure_threshold: u32,
    /// What the fallback does.
    pub behavior: FallbackBehavior,
    /// Replicas for `static` (and the floor/ceiling of the `currentReplicasIf*` variants).
    pub replicas: u32,
}

/// KEDA's fallback behaviours.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum FallbackBehavior {
    /// Scale to `replicas`.
    Static,
    /// Keep the current replicas.
    CurrentReplicas,
    /// `max(current, replicas)`.
    CurrentReplicasIfHigher,
    /// `min(current, replicas)`.
    CurrentReplicasIfLower,
}

/// The predictive policy's knobs (see `config/prescale.yaml` for what each does).
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastConfig {
    /// Use the forecast at all; when off the policy is purely reactive.
    pub enabled: bool,
    /// How much arrival-rate history to backfill and keep.
    pub history: Duration,
    /// Target utilisation of ready replicas for the reactive and forecast signals (0-1].
    pub target_utilization: f64,
    /// The most lead windows the forecast's margin covers: its quantile of the errors.
    pub error_quantile: f64,
    /// What a lead window the margin misses costs, in capacity (see
    /// [`crate::forecast::MarginRule::miss_cost`]).
    pub miss_cost: f64,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            history: Duration::from_secs(14 * 86_400),
            target_utilization: 1.0,
            error_quantile: 0.99,
            miss_cost: 7.0,
        }
    }
}

/// How the planner turns the forecast into replicas (see `config/prescale.yaml`).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanConfig {
    /// The waits the plan aims for, as a fraction of the SLO: the rest of the SLO is slack
    /// for what the forecast did not see.
    pub wait_target: f64,
    /// A scale-up asks for what the lead window and this much after it need, so it lasts;
    /// `None`: the start-up time.
    pub step_ahead: Option<Duration>,
    /// Pods are released only when the forecast does not need them for the lead window and
    /// this much after it (a pod released and asked for again costs a start-up); `None`:
    /// twice the start-up time, at least ten minutes.
    pub hold_for: Option<Duration>,
    /// Pods are released only when at least this fraction of them is spare (as the HPA's
    /// tolerance): fewer, larger steps down.
    pub release_tolerance: f64,
}

impl Default for PlanConfig {
    fn default() -> Self {
        Self {
            wait_target: 0.5,
            step_ahead: None,
            hold_for: None,
            release_tolerance: 0.15,
        }
    }
}

/// Where each signal comes from. Queue depth and arrival rate are required by the policy;
/// completions and wait are optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsConfig {
    /// Documents waiting.
    pub queue_depth: Option<MetricSource>,
    /// Documents arriving per second.
    pub arrival_rate: Option<MetricSource>,
    /// Documents completed per second.
    pub completions: Option<MetricSource>,
    /// 95th percentile of queue wait, seconds.
    pub wait_p95: Option<MetricSource>,
}

/// One metric's source.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricSource {
    /// A PromQL instant query.
    Promql {
        /// The query.
        query: String,
        /// How to reduce a result with several series; `None` makes that an error.
        aggregate: Option<Aggregate>,
        /// Read an empty result as 0 (KEDA's `ignoreNullValues`); `false`: an empty result
        /// is a missing metric.
        ignore_null_values: bool,
    },
    /// A target's series in the result of a shared query (`queries:`), which runs once per
    /// interval for every target that uses it.
    Shared {
        /// The shared query's name (its key under `queries:`).
        name: String,
        /// Its PromQL.
        query: String,
        /// The labels (and values) this target's series carry, `${...}` substituted.
        labels: crate::metrics::prometheus::Labels,
        /// How to reduce several matching series; `None` makes that an error.
        aggregate: Option<Aggregate>,
        /// Read no series for this target (a `sum by` over a queue with no series while it
        /// is idle) as 0 (KEDA's `ignoreNullValues`); `false`: a missing metric.
        ignore_null_values: bool,
    },
    /// A text-exposition endpoint scraped directly.
    Scrape {
        /// Where the `/metrics` page is: one URL, or every ready pod of the target.
        from: ScrapeFrom,
        /// Metric name.
        metric: String,
        /// Labels the series must have.
        labels: std::collections::BTreeMap<String, String>,
        /// How to reduce several matching series; `None` makes that an error.
        aggregate: Option<Aggregate>,
        /// For a histogram: the quantile to compute (as PromQL's `histogram_quantile`).
        quantile: Option<f64>,
    },
}

/// Where a scraped metric's pages are.
#[derive(Debug, Clone, PartialEq)]
pub enum ScrapeFrom {
    /// One URL of a `/metrics` endpoint.
    Url(String),
    /// Every ready pod of the target's Deployment, at `scheme://POD_IP:port/path`; the
    /// controller lists the pods each tick.
    Pods {
        /// The port serving the metrics.
        port: u16,
        /// The path, starting with `/`.
        path: String,
        /// `http` or `https`.
        scheme: ScrapeScheme,
    },
}

/// The scheme of a pod's metrics endpoint.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ScrapeScheme {
    /// Plain HTTP (the default).
    #[default]
    Http,
    /// HTTPS.
    Https,
}

impl ScrapeScheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// Reduction of several series to one value.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Aggregate {
    /// Sum of the series.
    Sum,
    /// Largest series.
    Max,
}

impl Default for Behavior {
    /// HPA's default scale-up rules; scale-down without HPA's 300 s window, because the
    /// forecast already holds capacity over the whole start-up lead time.
    fn default() -> Self {
        Self {
            scale_up: ScalingRules {
                stabilization_window: Duration::ZERO,
                select_policy: SelectPolicy::Max,
                policies: vec![
                    ScalingPolicy {
                        kind: PolicyKind::Percent,
                        value: 100,
                        period: Duration::from_secs(15),
                    },
                    ScalingPolicy {
                        kind: PolicyKind::Pods,
                        value: 4,
                        period: Duration::from_secs(15),
                    },
                ],
            },
            scale_down: ScalingRules {
                stabilization_window: Duration::ZERO,
                select_policy: SelectPolicy::Max,
                policies: vec![ScalingPolicy {
                    kind: PolicyKind::Percent,
                    value: 100,
                    period: Duration::from_secs(15),
                }],
            },
            scale_down_cooldown: Duration::ZERO,
        }
    }
}

impl Default for TargetConfig {
    /// The defaults every target inherits (the values documented in `config/prescale.yaml`).
    fn default() -> Self {
        Self {
            name: "default".into(),
            scale_target_ref: ScaleTargetRef::default(),
            mode: Mode::Shadow,
            interval: Duration::from_secs(15),
            min_replicas: 1,
            max_replicas: 50,
            startup_time: Duration::from_secs(90),
            slo: Slo {
                queue_wait: Duration::from_secs(60),
            },
            capacity: Capacity { per_replica: 1.0 },
            behavior: Behavior::default(),
            fallback: Fallback {
                failure_threshold: 3,
                behavior: FallbackBehavior::CurrentReplicasIfHigher,
                replicas: 1,
            },
            forecast: ForecastConfig::default(),
            plan: PlanConfig::default(),
            metrics: MetricsConfig::default(),
            backtest: super::Backtest::default(),
            actuation: Actuation::Scale,
            pod_deletion_cost: PodDeletionCost::default(),
            events: EventsConfig::default(),
            schedules: Vec::new(),
            activation: Activation::default(),
        }
    }
}
