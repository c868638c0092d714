//! The controller's metrics, exposed in OpenMetrics text by the admin server.
//!
//! Two kinds: per-target series (every family labelled with [`TargetLabels`]: `target`,
//! `namespace`, `deployment`, so they join with kube-state-metrics) and the process's own
//! (leadership, config reloads). Per-target series are exported only while this instance
//! leads: with two replicas nothing is counted twice. Each change of leadership starts
//! them afresh, so a new leader's counters count only its own leadership (a counter reset
//! to PromQL) and a follower exports none.
//!
//! Every metric is one entry of the table in [`Telemetry`]'s definition below: its field,
//! type, constructor, name and help. Adding a per-target metric is adding a line there; it
//! is then registered, cleared on a change of leadership and described in `/metrics`.

use super::block_family::{
    BlockFamily, Blocks, FloatCounterKind, FloatGaugeKind, IntGaugeKind, TickHistogramKind,
};
use crate::config::TargetConfig;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// `{target, namespace, deployment}`: one series per configured target. The values are
/// shared (`Arc<str>`): every series of a target and every tick's lookup use the same three
/// strings instead of copies (at 10,000 targets, 30 series each).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    /// Target name from the config.
    pub target: Arc<str>,
    /// The Deployment's namespace (kube-state-metrics' `namespace`).
    pub namespace: Arc<str>,
    /// The Deployment's name (kube-state-metrics' `deployment`).
    pub deployment: Arc<str>,
}

impl TargetLabels {
    /// The labels of a configured target.
    pub fn of(config: &TargetConfig) -> Self {
        TargetLabels {
            target: config.name.as_str().into(),
            namespace: config.scale_target_ref.namespace.as_str().into(),
            deployment: config.scale_target_ref.name.as_str().into(),
        }
    }
}

/// `{target..., reason}`: which reasons shaped the latest decision.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// The target.
    #[prometheus(flatten)]
    pub target: TargetLabels,
    /// Reason kind, e.g. `winner:forecast` or `limited:ScaleUpLimit` (most are static
    /// strings: a target's set is kept and compared every tick without copies).
    pub reason: std::borrow::Cow<'static, str>,
}

/// `{target..., metric, reason}`: a failed metric read.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MetricErrorLabels {
    /// The target.
    #[prometheus(flatten)]
    pub target: TargetLabels,
    /// `queueDepth`, `arrivalRate`, `completions`, `waitP95`.
    pub metric: String,
    /// The error's stable reason (`MetricError::reason`).
    pub reason: String,
}

/// `{target..., stage}`: where a tick failed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// The target.
    #[prometheus(flatten)]
    pub target: TargetLabels,
    /// `deployment`, `metrics`, `conflicts`, `scale`, `panic`.
    pub stage: String,
}

/// `{target..., result}`: outcome of a scale write.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// The target.
    #[prometheus(flatten)]
    pub target: TargetLabels,
    /// `ok`, `conflict`, or the failure's label (`throttled`, `server_error`, ...).
    pub result: String,
}

/// `{target..., kind}`: why prescale is not writing to a Deployment.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WarningLabels {
    /// The target.
    #[prometheus(flatten)]
    pub target: TargetLabels,
    /// `hpa`, `scaledobject`, `paused`, `manual_scale`, `backoff`.
    pub kind: String,
}

/// `{target..., schedule}`: the live report's two schedules.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScheduleLabels {
    /// The target.
    #[prometheus(flatten)]
    pub target: TargetLabels,
    /// `actual` (what ran) or `recommended` (what prescale recommends): one of
    /// [`SCHEDULES`], not a copy per series.
    pub schedule: &'static str,
}

/// The values of `schedule` in [`ScheduleLabels`].
pub const SCHEDULES: [&str; 2] = ["actual", "recommended"];

/// `{result}` of a config reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `applied`, `unchanged` or `rejected`.
    pub result: String,
}

/// `{result}` of an Event: `published`, `failed`, `coalesced` (replaced by a newer one about
/// the same object and reason before it was sent) or `dropped` (leadership moved on, or
/// shutdown).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// What became of the Event.
    pub result: String,
}

/// A gauge of `f64`.
pub type FloatGauge = Gauge<f64, AtomicU64>;
/// A counter of `f64`.
pub type FloatCounter = Counter<f64, AtomicU64>;
/// A gauge of `i64` for every target, kept in the targets' blocks.
pub type TargetIntGauges = BlockFamily<TargetLabels, IntGaugeKind>;
/// A gauge of `f64` for every target, kept in the targets' blocks.
pub type TargetFloatGauges = BlockFamily<TargetLabels, FloatGaugeKind>;
/// A counter of `f64` for every target, kept in the targets' blocks.
pub type TargetFloatCounters = BlockFamily<TargetLabels, FloatCounterKind>;
/// A counter of `f64` for every target and schedule, kept in the targets' blocks.
pub type ScheduleCounters = BlockFamily<ScheduleLabels, FloatCounterKind>;
/// The tick-duration histogram of every target, kept in the targets' blocks.
pub type TickHistograms = BlockFamily<TargetLabels, TickHistogramKind>;

/// A metric's help text from its doc comment (the encoder adds the final full stop).
fn help(doc: &str) -> &str {
    doc.trim().trim_end_matches('.')
}

/// Defines [`Telemetry`] from one table of metrics: the per-target families (registered in
/// their own registry, exported while leading, cleared on a change of leadership) and the
/// process's metrics.
macro_rules! telemetry {
    (
        per_target($blocks:ident) { $( #[doc = $tdoc:literal] $tfield:ident: $tty:ty = $tinit:expr, $tname:literal; )* }
        process { $( #[doc = $pdoc:literal] $pfield:ident: $pty:ty = $pinit:expr, $pname:literal; )* }
    ) => {
        /// Every `prescale_*` metric. Shared behind an `Arc` by all tasks.
        pub struct Telemetry {
            per_target: Registry,
            process: Registry,
            exporting_targets: AtomicBool,
            /// With --shards above 1: whose series are exported.
            shard_export: std::sync::Mutex<super::shard_export::ShardExport>,
            /// Bumped each time every per-target series is dropped, so handles kept by the
            /// targets ([`crate::telemetry::TargetSeries`]) know to look theirs up again.
            generation: AtomicU64,
            /// Length of the last `/metrics` page: the next one is written into a buffer of
            /// about that size at once, not grown by doubling (tens of MB at 10,000 targets).
            last_page: std::sync::atomic::AtomicUsize,
            $( #[doc = $tdoc] pub $tfield: $tty, )*
            $( #[doc = $pdoc] pub $pfield: $pty, )*
        }

        impl Telemetry {
            /// Create every metric and register it under its `prescale_` name.
            pub fn new() -> Self {
                let mut per_target = Registry::with_prefix("prescale");
                let mut process = Registry::with_prefix("prescale");
                let $blocks = Arc::new(Blocks::default());
                $(
                    let $tfield: $tty = $tinit;
                    per_target.register($tname, help($tdoc), $tfield.clone());
                )*
                $(
                    let $pfield: $pty = $pinit;
                    process.register($pname, help($pdoc), $pfield.clone());
                )*
                Telemetry {
                    per_target,
                    process,
                    exporting_targets: AtomicBool::new(false),
                    shard_export: Default::default(),
                    generation: AtomicU64::new(0),
                    last_page: Default::default(),
                    $( $tfield, )*
                    $( $pfield, )*
                }
            }

            /// Drop every per-target series.
            fn clear_per_target(&self) {
                // Bumped first: a handle taken while the families are being cleared is
                // looked up again at its next use.
                self.generation.fetch_add(1, Ordering::SeqCst);
                $( self.$tfield.clear(); )*
            }

            /// The name of every metric as registered (`prescale_` and its name; a counter's
            /// samples add `_total`, a histogram's `_bucket`, `_sum` and `_count`).
            pub fn registered_names() -> Vec<String> {
                vec![
                    $( format!("prescale_{}", $tname), )*
                    $( format!("prescale_{}", $pname), )*
                ]
            }
        }
    };
}

telemetry! {
    per_target(blocks) {
        /// Replicas the decision core recommends.
        recommended_replicas: TargetIntGauges = BlockFamily::new(&blocks), "recommended_replicas";
        /// The Deployment's spec.replicas at the last tick.
        current_replicas: TargetIntGauges = BlockFamily::new(&blocks), "current_replicas";
        /// The Deployment's status.readyReplicas at the last tick.
        ready_replicas: TargetIntGauges = BlockFamily::new(&blocks), "ready_replicas";
        /// Forecast arrival rate over the start-up lead time, documents per second (absent without a forecast).
        forecast_arrival_rate: TargetFloatGauges = BlockFamily::new(&blocks), "forecast_arrival_rate";
        /// The forecast plus its error margin: the arrival rate capacity is planned for, documents per second.
        forecast_arrival_rate_upper: TargetFloatGauges = BlockFamily::new(&blocks), "forecast_arrival_rate_upper";
        /// Recent mean absolute error of the forecast for the next interval over the recent mean arrival rate (about an hour).
        forecast_error_ratio: TargetFloatGauges = BlockFamily::new(&blocks), "forecast_error_ratio";
        /// Learned documents per second one ready replica serves.
        capacity_per_replica: TargetFloatGauges = BlockFamily::new(&blocks), "capacity_per_replica";
        /// Start-up lead time in use (configured, then learned).
        startup_seconds: TargetFloatGauges = BlockFamily::new(&blocks), "startup_seconds";
        /// Queue depth prescale read at the last tick (absent when the read failed).
        observed_queue_depth: TargetFloatGauges = BlockFamily::new(&blocks), "observed_queue_depth";
        /// Arrival rate prescale read at the last tick, documents per second.
        observed_arrival_rate: TargetFloatGauges = BlockFamily::new(&blocks), "observed_arrival_rate";
        /// Completion rate prescale read at the last tick, documents per second.
        observed_completion_rate: TargetFloatGauges = BlockFamily::new(&blocks), "observed_completion_rate";
        /// Queue wait prescale read at the last tick (the waitP95 metric), seconds.
        observed_queue_wait_seconds: TargetFloatGauges = BlockFamily::new(&blocks), "observed_queue_wait_seconds";
        /// The target's queue-wait SLO (slo.queueWait), seconds.
        slo_queue_wait_seconds: TargetFloatGauges = BlockFamily::new(&blocks), "slo_queue_wait_seconds";
        /// Consecutive ticks with a demand metric missing (the fallback starts at fallback.failureThreshold).
        metrics_missing_ticks: TargetIntGauges = BlockFamily::new(&blocks), "metrics_missing_ticks";
        /// 1 for each reason that shaped the latest decision.
        decision_reason: Family<ReasonLabels, Gauge> = Family::default(), "decision_reason";
        /// Wall time of one target's tick.
        tick_duration: TickHistograms = BlockFamily::new(&blocks), "tick_duration_seconds";
        /// Ticks that failed, by stage.
        tick_errors: Family<StageLabels, Counter> = Family::default(), "tick_errors";
        /// Metric reads that failed, by metric and reason.
        metric_errors: Family<MetricErrorLabels, Counter> = Family::default(), "metric_errors";
        /// Writes to a Deployment's /scale subresource, by result.
        scale_writes: Family<ResultLabels, Counter> = Family::default(), "scale_writes";
        /// 1 while writes to the target are withheld, by cause.
        write_blocked: Family<WarningLabels, Gauge> = Family::default(), "write_blocked";
        /// Changes of spec.replicas made by someone other than prescale.
        manual_scale: Family<TargetLabels, Counter> = Family::default(), "manual_scale";
        /// Floor targets: the HPA's minReplicas or ScaledObject's minReplicaCount prescale holds (active) or would set (shadow).
        floor_replicas: TargetIntGauges = BlockFamily::new(&blocks), "floor_replicas";
        /// Floor targets: the owner's own minReplicas or minReplicaCount, returned to when the floor falls back.
        floor_owner_replicas: TargetIntGauges = BlockFamily::new(&blocks), "floor_owner_replicas";
        /// Writes of a floor to an HPA or ScaledObject, by result.
        floor_writes: Family<ResultLabels, Counter> = Family::default(), "floor_writes";
        /// Pods annotated with controller.kubernetes.io/pod-deletion-cost before a scale-down, by result.
        pod_deletion_cost_writes: Family<ResultLabels, Counter> = Family::default(), "pod_deletion_cost_writes";
        /// Changes of spec.replicas made by a GitOps tool's field manager.
        gitops_resets: Family<TargetLabels, Counter> = Family::default(), "gitops_resets";
        /// Decision Events held back by the rate limit (events.minInterval).
        events_suppressed: Family<TargetLabels, Counter> = Family::default(), "events_suppressed";
        /// Live report: replica-seconds paid for, by schedule (actual: what ran; recommended: what prescale recommends).
        report_replica_seconds: ScheduleCounters = BlockFamily::new(&blocks), "report_replica_seconds";
        /// Live report: documents whose modelled wait is settled, by schedule.
        report_documents: ScheduleCounters = BlockFamily::new(&blocks), "report_documents";
        /// Live report: documents whose modelled wait exceeded the SLO, by schedule.
        report_late_documents: ScheduleCounters = BlockFamily::new(&blocks), "report_late_documents";
        /// Live report: seconds in which both schedules were modelled.
        report_modelled_seconds: TargetFloatCounters = BlockFamily::new(&blocks), "report_modelled_seconds";
        /// Live report: seconds not modelled (no arrivals known, or too long between ticks).
        report_unmodelled_seconds: TargetFloatCounters = BlockFamily::new(&blocks), "report_unmodelled_seconds";
    }
    process {
        /// Config reloads, by result.
        config_reload: Family<ReloadLabels, Counter> = Family::default(), "config_reload";
        /// 1 while this instance holds the leader Lease (with --shards above 1: shard 0's, whose holder publishes the controller's own Events).
        is_leader: Gauge = Gauge::default(), "is_leader";
        /// Shards whose Lease this instance holds (with one shard: as is_leader).
        shards_held: Gauge = Gauge::default(), "shards_held";
        /// 1 while this instance waits for replicas run with another --shards to stop leading (a rolling change of --shards).
        shards_fenced: Gauge = Gauge::default(), "shards_fenced";
        /// Times this instance acquired the leader Lease.
        leader_transitions: Counter = Counter::default(), "leader_transitions";
        /// Kubernetes Events, by result (published, failed, coalesced, dropped).
        events: Family<EventLabels, Counter> = Family::default(), "events";
        /// Events queued for publishing (at most one per object and reason).
        events_pending: Gauge = Gauge::default(), "events_pending";
        /// How late a target's tick started after its scheduled time.
        tick_lag: Histogram = Histogram::new(exponential_buckets(0.001, 2.0, 16)), "tick_lag_seconds";
        /// CPU time of the ticks' decisions and bookkeeping (the decision core, the live report, metrics, reports and logs; no waiting on the network), summed over targets: an estimate, each target's CPU read on one tick in 8 and counted 8 times.
        tick_cpu: FloatCounter = FloatCounter::default(), "tick_cpu_seconds";
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// Export per-target series (this instance leads) or not. A change starts them afresh,
    /// so a new leader's counters count only its own leadership and a follower exports
    /// nothing, even after it led before.
    pub fn set_exporting_targets(&self, on: bool) {
        if self.exporting_targets.swap(on, Ordering::SeqCst) != on {
            self.clear_per_target();
        }
    }

    /// With --shards above 1: export the series of the targets of `held` (the shards this
    /// instance leads), none when empty. A change starts every series afresh, as a change
    /// of leadership does with one shard.
    pub fn set_held_shards(&self, held: std::collections::BTreeSet<u32>) {
        let on = !held.is_empty();
        if self.export().set_held(held) {
            self.exporting_targets.store(on, Ordering::SeqCst);
            self.clear_per_target();
        }
    }

    /// Record which shard `target` is in (`None`: it was removed), for
    /// [`Self::set_held_shards`].
    pub fn place_target(&self, target: &str, shard: Option<u32>) {
        self.export().place(target, shard);
    }

    fn export(&self) -> std::sync::MutexGuard<'_, super::shard_export::ShardExport> {
        self.shard_export.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes whenever every per-target series was dropped (a change of leadership).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Whether per-target series are exported (this instance leads).
    pub fn exporting_targets(&self) -> bool {
        self.exporting_targets.load(Ordering::SeqCst)
    }

    /// The metrics in OpenMetrics text format: the process's, and the per-target series
    /// while leading.
    pub fn encode(&self) -> String {
        let last = self.last_page.load(Ordering::Relaxed);
        let mut out = String::with_capacity(last + last / 16);
        // Writing into a String cannot fail; an error here would be a bug in a metric's encoder.
        if let Err(e) = self.encode_to(&mut out) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }

    /// [`Telemetry::encode`] written to `out` as it is encoded (`/metrics` streams it in
    /// chunks: at 10,000 targets the page is about 40 MB, which held whole was resident on
    /// every scrape). An error is `out`'s (a scraper that went away) or a metric encoder's.
    pub fn encode_to(&self, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        use std::fmt::Write as _;
        let mut counted = Counted { out, bytes: 0 };
        encode_registry(&mut counted, &self.process)?;
        if self.exporting_targets() {
            if self.export().filters() {
                let mut targets = String::new();
                encode_registry(&mut targets, &self.per_target)?;
                let mut kept = String::new();
                self.export().filter_into(&targets, &mut kept);
                counted.write_str(&kept)?;
            } else {
                // One shard: every target's series, written as they are encoded.
                encode_registry(&mut counted, &self.per_target)?;
            }
        }
        encode_eof(&mut counted)?;
        self.last_page.store(counted.bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Drop the gauges, the tick-duration histogram and the live-report and manual-scale
    /// counters of a target that was removed from the config (or now scales another
    /// Deployment), so dashboards do not show a stopped target's last values forever. The
    /// error and write counters, labelled by open-ended reasons, stay (their rates are 0).
    pub fn forget_target(&self, target: &TargetLabels, reasons: &[std::borrow::Cow<'static, str>]) {
        self.tick_duration.remove(target);
        self.manual_scale.remove(target);
        self.gitops_resets.remove(target);
        self.events_suppressed.remove(target);
        for gauge in [
            &self.recommended_replicas,
            &self.current_replicas,
            &self.ready_replicas,
            &self.metrics_missing_ticks,
            &self.floor_replicas,
            &self.floor_owner_replicas,
        ] {
            gauge.remove(target);
        }
        for gauge in [
            &self.forecast_arrival_rate,
            &self.forecast_arrival_rate_upper,
            &self.forecast_error_ratio,
            &self.capacity_per_replica,
            &self.startup_seconds,
            &self.observed_queue_depth,
            &self.observed_arrival_rate,
            &self.observed_completion_rate,
            &self.observed_queue_wait_seconds,
            &self.slo_queue_wait_seconds,
        ] {
            gauge.remove(target);
        }
        for counter in [
            &self.report_modelled_seconds,
            &self.report_unmodelled_seconds,
        ] {
            counter.remove(target);
        }
        for schedule in SCHEDULES {
            let labels = ScheduleLabels {
                target: target.clone(),
                schedule,
            };
            for counter in [
                &self.report_replica_seconds,
                &self.report_documents,
                &self.report_late_documents,
            ] {
                counter.remove(&labels);
            }
        }
        for reason in reasons {
            self.decision_reason.remove(&ReasonLabels {
                target: target.clone(),
                reason: reason.clone(),
            });
        }
        for kind in crate::controller::BLOCK_KINDS {
            self.write_blocked.remove(&WarningLabels {
                target: target.clone(),
                kind: kind.to_string(),
            });
        }
    }
}

/// A writer that counts what passes through it (the page's size, to size the next one).
struct Counted<'a, W> {
    out: &'a mut W,
    bytes: usize,
}

impl<W: std::fmt::Write> std::fmt::Write for Counted<'_, W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.bytes += s.len();
        self.out.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> TargetLabels {
        TargetLabels {
            target: "docs".into(),
            namespace: "shop".into(),
            deployment: "docs-worker".into(),
        }
    }

    #[test]
    fn per_target_series_carry_namespace_and_deployment_and_only_a_leader_exports_them() {
        let t = Telemetry::new();
        t.recommended_replicas.get_or_create(&labels()).set(3);
        t.is_leader.set(0);
        let follower = t.encode();
        assert!(follower.contains("prescale_is_leader 0"), "{follower}");
        assert!(!follower.contains("target="), "{follower}");
        assert!(follower.ends_with("# EOF\n"));

        t.set_exporting_targets(true);
        t.recommended_replicas.get_or_create(&labels()).set(3);
        let leader = t.encode();
        assert!(
            leader.contains(
                "prescale_recommended_replicas{target=\"docs\",namespace=\"shop\",deployment=\"docs-worker\"} 3"
            ),
            "{leader}"
        );
        assert_eq!(leader.matches("# EOF").count(), 1);
    }

    #[test]
    fn a_change_of_leadership_starts_counters_afresh() {
        let t = Telemetry::new();
        let s = ScheduleLabels {
            target: labels(),
            schedule: "actual",
        };
        // Counted as a follower: never exported, and gone when it becomes leader.
        t.report_replica_seconds.get_or_create(&s).inc_by(100.0);
        t.set_exporting_targets(true);
        assert!(t.report_replica_seconds.get(&s).is_none());
        t.report_replica_seconds.get_or_create(&s).inc_by(15.0);
        assert!(t.encode().contains(
            "prescale_report_replica_seconds_total{target=\"docs\",namespace=\"shop\",deployment=\"docs-worker\",schedule=\"actual\"} 15.0"
        ));
        // Stepping down drops them; leading again starts from zero.
        t.set_exporting_targets(false);
        assert!(t.report_replica_seconds.get(&s).is_none());
        t.set_exporting_targets(true);
        t.set_exporting_targets(true);
        t.report_replica_seconds.get_or_create(&s).inc_by(1.0);
        assert_eq!(t.report_replica_seconds.get_or_create(&s).get(), 1.0);
    }

    #[test]
    fn a_forgotten_target_leaves_no_gauge_or_report_counter() {
        let t = Telemetry::new();
        t.set_exporting_targets(true);
        let l = labels();
        t.recommended_replicas.get_or_create(&l).set(1);
        t.observed_queue_depth.get_or_create(&l).set(5.0);
        t.report_modelled_seconds.get_or_create(&l).inc_by(15.0);
        for schedule in SCHEDULES {
            t.report_documents
                .get_or_create(&ScheduleLabels {
                    target: l.clone(),
                    schedule,
                })
                .inc_by(1.0);
        }
        t.forget_target(&l, &[]);
        assert!(!t.encode().contains("target=\"docs\""), "{}", t.encode());
    }
}
