//! The controller's metrics, exposed in OpenMetrics text by the admin server.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// `{target}`: one series per configured target.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    /// Target name from the config.
    pub target: String,
}

/// `{target, reason}`: which reasons shaped the latest decision.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Target name.
    pub target: String,
    /// Reason kind, e.g. `winner_forecast` or `limited_scale_up_limit`.
    pub reason: String,
}

/// `{target, metric, reason}`: a failed metric read.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MetricErrorLabels {
    /// Target name.
    pub target: String,
    /// `queueDepth`, `arrivalRate`, `completions`, `waitP95`.
    pub metric: String,
    /// The error's stable reason (`MetricError::reason`).
    pub reason: String,
}

/// `{target, stage}`: where a tick failed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// Target name.
    pub target: String,
    /// `deployment`, `metrics`, `conflicts`, `scale`.
    pub stage: String,
}

/// `{target, result}`: outcome of a scale write.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// Target name.
    pub target: String,
    /// `ok`, `conflict`, `throttled`, `error`.
    pub result: String,
}

/// `{target, kind}`: why prescale is not writing to a Deployment.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WarningLabels {
    /// Target name.
    pub target: String,
    /// `hpa`, `scaledobject`, `paused`, `manual_scale`, `shared_deployment`.
    pub kind: String,
}

/// `{result}` of a config reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `applied`, `unchanged` or `rejected`.
    pub result: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every `prescale_*` metric. Shared behind an `Arc` by all tasks.
pub struct Telemetry {
    registry: Registry,
    /// Replicas the decision core recommends.
    pub recommended_replicas: Family<TargetLabels, Gauge>,
    /// The Deployment's `spec.replicas` at the last tick.
    pub current_replicas: Family<TargetLabels, Gauge>,
    /// The Deployment's `status.readyReplicas` at the last tick.
    pub ready_replicas: Family<TargetLabels, Gauge>,
    /// Forecast arrival rate over the lead time (absent while there is no forecast).
    pub forecast_arrival_rate: Family<TargetLabels, FloatGauge>,
    /// Learned per-replica capacity, documents/s.
    pub capacity_per_replica: Family<TargetLabels, FloatGauge>,
    /// Start-up lead time in use, seconds.
    pub startup_seconds: Family<TargetLabels, FloatGauge>,
    /// 1 for each reason in the latest decision.
    pub decision_reason: Family<ReasonLabels, Gauge>,
    /// Wall time of one target's tick.
    pub tick_duration: Family<TargetLabels, Histogram, fn() -> Histogram>,
    /// Ticks that failed, by stage.
    pub tick_errors: Family<StageLabels, Counter>,
    /// Metric reads that failed, by metric and reason.
    pub metric_errors: Family<MetricErrorLabels, Counter>,
    /// Scale writes by outcome.
    pub scale_writes: Family<ResultLabels, Counter>,
    /// 1 while a write is withheld for this kind of reason (another autoscaler, paused...).
    pub write_blocked: Family<WarningLabels, Gauge>,
    /// Manual changes of `spec.replicas` by someone else.
    pub manual_scale: Family<TargetLabels, Counter>,
    /// Config reloads by result.
    pub config_reload: Family<ReloadLabels, Counter>,
    /// 1 while this instance holds the leader Lease.
    pub is_leader: Gauge,
    /// Leadership acquisitions by this instance.
    pub leader_transitions: Counter,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

fn tick_histogram() -> Histogram {
    // 5 ms .. ~40 s: a tick is a few API calls and queries; anything near the interval is slow.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

impl Telemetry {
    /// Create every metric and register it under its `prescale_` name.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("prescale");
        let t = Self {
            recommended_replicas: Family::default(),
            current_replicas: Family::default(),
            ready_replicas: Family::default(),
            forecast_arrival_rate: Family::default(),
            capacity_per_replica: Family::default(),
            startup_seconds: Family::default(),
            decision_reason: Family::default(),
            tick_duration: Family::new_with_constructor(tick_histogram),
            tick_errors: Family::default(),
            metric_errors: Family::default(),
            scale_writes: Family::default(),
            write_blocked: Family::default(),
            manual_scale: Family::default(),
            config_reload: Family::default(),
            is_leader: Gauge::default(),
            leader_transitions: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "recommended_replicas",
            "Replicas the decision core recommends",
            t.recommended_replicas.clone(),
        );
        registry.register(
            "current_replicas",
            "The Deployment's spec.replicas at the last tick",
            t.current_replicas.clone(),
        );
        registry.register(
            "ready_replicas",
            "The Deployment's status.readyReplicas at the last tick",
            t.ready_replicas.clone(),
        );
        registry.register(
            "forecast_arrival_rate",
            "Forecast arrival rate over the start-up lead time, documents per second",
            t.forecast_arrival_rate.clone(),
        );
        registry.register(
            "capacity_per_replica",
            "Learned documents per second one ready replica serves",
            t.capacity_per_replica.clone(),
        );
        registry.register(
            "startup_seconds",
            "Start-up lead time in use (configured, then learned)",
            t.startup_seconds.clone(),
        );
        registry.register(
            "decision_reason",
            "1 for each reason that shaped the latest decision",
            t.decision_reason.clone(),
        );
        registry.register(
            "tick_duration_seconds",
            "Wall time of one target's tick",
            t.tick_duration.clone(),
        );
        registry.register(
            "tick_errors",
            "Ticks that failed, by stage",
            t.tick_errors.clone(),
        );
        registry.register(
            "metric_errors",
            "Metric reads that failed, by metric and reason",
            t.metric_errors.clone(),
        );
        registry.register(
            "scale_writes",
            "Writes to a Deployment's /scale subresource, by result",
            t.scale_writes.clone(),
        );
        registry.register(
            "write_blocked",
            "1 while writes to the target are withheld, by cause",
            t.write_blocked.clone(),
        );
        registry.register(
            "manual_scale",
            "Changes of spec.replicas made by someone other than prescale",
            t.manual_scale.clone(),
        );
        registry.register(
            "config_reload",
            "Config reloads, by result",
            t.config_reload.clone(),
        );
        registry.register(
            "is_leader",
            "1 while this instance holds the leader Lease",
            t.is_leader.clone(),
        );
        registry.register(
            "leader_transitions",
            "Times this instance acquired the leader Lease",
            t.leader_transitions.clone(),
        );
        Self { registry, ..t }
    }

    /// The registry in OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an error here would be a bug in a metric's encoder.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }

    /// Drop every per-target series of a target that was removed from the config, so
    /// dashboards do not show a stopped target's last values forever.
    pub fn forget_target(&self, target: &str, reasons: &[String]) {
        let l = TargetLabels {
            target: target.to_string(),
        };
        self.recommended_replicas.remove(&l);
        self.current_replicas.remove(&l);
        self.ready_replicas.remove(&l);
        self.forecast_arrival_rate.remove(&l);
        self.capacity_per_replica.remove(&l);
        self.startup_seconds.remove(&l);
        for reason in reasons {
            self.decision_reason.remove(&ReasonLabels {
                target: target.to_string(),
                reason: reason.clone(),
            });
        }
        for kind in crate::controller::BLOCK_KINDS {
            self.write_blocked.remove(&WarningLabels {
                target: target.to_string(),
                kind: kind.to_string(),
            });
        }
    }
}
