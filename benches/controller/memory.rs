//! Heap per target, by component, measured in this process with a counting allocator:
//! each component built for many targets, the heap difference divided by their number.
//! The components are the real types the controller keeps per target.

use futures::future::BoxFuture;
use prescale::actuator::{EventLimits, EventSink, EventSpec, PublishEvent, Validity, view_of};
use prescale::config::{ScaleTargetRef, TargetConfig};
use prescale::controller::{Reports, TargetReport, TargetTask};
use prescale::core::{Observation, TargetState, decide};
use prescale::live_report::{LiveReports, Totals};
use prescale::telemetry::{
    MetricErrorLabels, ReasonLabels, ResultLabels, SCHEDULES, ScheduleLabels, StageLabels,
    TargetLabels, Telemetry, WarningLabels,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

/// The system allocator, counting bytes in use.
pub struct Counting;

static IN_USE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the counter only observes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        IN_USE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        IN_USE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        IN_USE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn in_use() -> isize {
    IN_USE.load(Ordering::Relaxed)
}

/// Heap bytes per item of what `build` returns, over `n` items kept alive together.
fn per_item<T>(n: usize, mut build: impl FnMut(usize) -> T) -> f64 {
    let before = in_use();
    let kept: Vec<T> = (0..n).map(&mut build).collect();
    let after = in_use();
    let bytes = (after - before) as f64 - (n * std::mem::size_of::<T>()) as f64;
    drop(kept);
    // The items' own size (not only what they point to) counts too.
    bytes / n as f64 + std::mem::size_of::<T>() as f64
}

fn config(i: usize) -> TargetConfig {
    TargetConfig {
        name: format!("target-{i}"),
        scale_target_ref: ScaleTargetRef::deployment(format!("ns-{}", i % 50), format!("d{i}")),
        ..TargetConfig::default()
    }
}

const DAY: f64 = 86_400.0;

/// A target's decision core as the controller keeps it after a start-up backfill of 14 days
/// (5-minute means, as a shared query's batched backfill gives) and one day of 15 s ticks.
fn warm_core(i: usize) -> TargetState {
    let c = config(i);
    let mut state = TargetState::new(&c);
    let rate = |t: f64| 2.0 + 1.5 * (std::f64::consts::TAU * t / DAY + i as f64).sin();
    let start = 1_700_000_000.0;
    let history: Vec<(f64, f64)> = (1..=14 * 288)
        .map(|k| {
            let t = start + k as f64 * 300.0;
            (t, rate(t))
        })
        .collect();
    state.backfill(&c, 300.0, &history);
    let mut t = start + 14.0 * DAY;
    for _ in 0..5760 {
        t += 15.0;
        let obs = Observation {
            t,
            queue_depth: Some(3.0 * rate(t)),
            arrival_rate: Some(rate(t)),
            completion_rate: Some(rate(t)),
            wait_s: None,
            ready: 4,
            current: 4,
        };
        decide(&c, &mut state, &obs);
    }
    state
}

/// Every per-target series a tick sets (the gauges, the tick histogram, the live report's
/// counters, a reason, a write result, an error of each label kind, the blocked gauges).
fn series(t: &Telemetry, c: &TargetConfig) {
    let l = TargetLabels::of(c);
    for g in [
        &t.recommended_replicas,
        &t.current_replicas,
        &t.ready_replicas,
        &t.metrics_missing_ticks,
    ] {
        g.get_or_create(&l).set(3);
    }
    for g in [
        &t.forecast_arrival_rate,
        &t.forecast_arrival_rate_upper,
        &t.forecast_error_ratio,
        &t.capacity_per_replica,
        &t.startup_seconds,
        &t.observed_queue_depth,
        &t.observed_arrival_rate,
        &t.observed_completion_rate,
        &t.slo_queue_wait_seconds,
    ] {
        g.get_or_create(&l).set(1.5);
    }
    t.tick_duration.get_or_create(&l).observe(0.001);
    for schedule in SCHEDULES {
        let s = ScheduleLabels {
            target: l.clone(),
            schedule,
        };
        for c in [
            &t.report_replica_seconds,
            &t.report_documents,
            &t.report_late_documents,
        ] {
            c.get_or_create(&s).inc_by(1.0);
        }
    }
    t.report_modelled_seconds.get_or_create(&l).inc_by(15.0);
    t.report_unmodelled_seconds.get_or_create(&l).inc_by(0.0);
    t.decision_reason
        .get_or_create(&ReasonLabels {
            target: l.clone(),
            reason: "winner:forecast".into(),
        })
        .set(1);
    t.metric_errors
        .get_or_create(&MetricErrorLabels {
            target: l.clone(),
            metric: "queueDepth".into(),
            reason: "stale".into(),
        })
        .inc();
    t.tick_errors
        .get_or_create(&StageLabels {
            target: l.clone(),
            stage: "metrics".into(),
        })
        .inc();
    t.scale_writes
        .get_or_create(&ResultLabels {
            target: l.clone(),
            result: "ok".into(),
        })
        .inc();
    t.write_blocked
        .get_or_create(&WarningLabels {
            target: l,
            kind: "paused".into(),
        })
        .set(0);
}

fn deployment(i: usize) -> k8s_openapi::api::apps::v1::Deployment {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": format!("d{i}"), "namespace": format!("ns-{}", i % 50),
            "uid": format!("0b4f5c3e-1d2a-4e5f-8a9b-{i:012}"), "resourceVersion": "123456789",
            "generation": 7, "labels": { "app": format!("d{i}") },
            "annotations": { "deployment.kubernetes.io/revision": "3" },
            "managedFields": [
                { "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
                  "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                  "fieldsV1": { "f:spec": { "f:replicas": {}, "f:template": {} } } },
            ],
        },
        "spec": {
            "replicas": 4,
            "selector": { "matchLabels": { "app": format!("d{i}") } },
            "template": { "metadata": { "labels": { "app": format!("d{i}") } },
                          "spec": { "containers": [ { "name": "worker", "image": "worker:1.2.3" } ] } },
        },
        "status": { "replicas": 4, "readyReplicas": 4, "observedGeneration": 7 },
    }))
    .expect("a Deployment")
}

/// Heap bytes per target of each component.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PerTarget {
    /// The decision core's state (forecaster history and errors, capacity, start-up,
    /// behaviour), warm: 14 days backfilled and a day of ticks.
    pub core: f64,
    /// The rest of a target task's own state at start (the live report's tracker, the
    /// forecast-error tracker, the controller's memory), without the core.
    pub task_besides_core: f64,
    /// The live report's hourly totals for `/report` (7 days, allocated once).
    pub live_report_windows: f64,
    /// Every per-target series in the metrics registry.
    pub metric_series: f64,
    /// The `/recommendations` entry.
    pub recommendation: f64,
    /// The Deployment cache's entry.
    pub deployment_cache: f64,
    /// A decision Event waiting its turn in the Event queue (at 10,000 targets and 5
    /// Events/s nearly every target has one: 9,537 pending in a run of the bench).
    pub pending_event: f64,
}

impl PerTarget {
    /// Sum of the components.
    pub fn total(&self) -> f64 {
        self.core
            + self.task_besides_core
            + self.live_report_windows
            + self.metric_series
            + self.recommendation
            + self.deployment_cache
            + self.pending_event
    }
}

/// Measure every component.
pub fn measure() -> PerTarget {
    const N: usize = 200;
    let core = per_item(N, warm_core);
    let fresh_core = per_item(N, |i| TargetState::new(&config(i)));
    let task = per_item(N, |i| TargetTask::new(config(i)));
    let live = {
        let reports = LiveReports::default();
        let before = in_use();
        for i in 0..N {
            // As a target's task does: its slot taken once, then added to every tick.
            let slot = reports.slot(&config(i));
            for h in 0..169 {
                slot.add(1_700_000_000.0 + f64::from(h) * 3600.0, &Totals::default());
            }
        }
        let bytes = (in_use() - before) as f64 / N as f64;
        drop(reports);
        bytes
    };
    let metric_series = {
        let t = Telemetry::new();
        t.set_exporting_targets(true);
        let before = in_use();
        for i in 0..N {
            series(&t, &config(i));
        }
        (in_use() - before) as f64 / N as f64
    };
    let recommendation = {
        let reports = Reports::default();
        let before = in_use();
        for i in 0..N {
            reports.put(TargetReport {
                target: format!("target-{i}").into(),
                deployment: format!("ns-{}/d{i}", i % 50).into(),
                mode: prescale::config::Mode::Shadow,
                current_replicas: Some(4),
                ready_replicas: Some(4),
                recommended_replicas: Some(5),
                reasons: Vec::new(),
                forecast_arrival_rate: Some(2.0),
                forecast_arrival_rate_upper: Some(2.4),
                forecast_model: Some(prescale::forecast::Season::Daily),
                startup_seconds: Some(90.0),
                capacity_per_replica: Some(1.0),
                action: "hold:shadow".into(),
                updated_at: 1_700_000_000.0,
                error: None,
                ticks: 5760,
                floor: None,
            });
        }
        (in_use() - before) as f64 / N as f64
    };
    let deployment_cache = per_item(N, |i| view_of(&deployment(i)));
    let pending_event = pending_event(N);
    PerTarget {
        core,
        task_besides_core: task - fresh_core,
        live_report_windows: live,
        metric_series,
        recommendation,
        deployment_cache,
        pending_event,
    }
}

/// A publisher whose turn never comes: the queue's task is never run.
struct NeverPublished;

impl PublishEvent for NeverPublished {
    fn publish<'a>(
        &'a self,
        _regarding: &'a k8s_openapi::api::core::v1::ObjectReference,
        _event: &'a EventSpec,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(futures::future::pending())
    }
}

/// Heap bytes of one pending decision Event per target, as a shadow target's tick queues it
/// (the note as the controller words it, with a warm decision's reasons).
fn pending_event(n: usize) -> f64 {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return f64::NAN;
    };
    // The queue's task is spawned on a runtime never driven: every Event stays queued.
    let _context = runtime.enter();
    let sink = EventSink::with_publisher(
        Arc::new(NeverPublished),
        EventLimits::default(),
        Arc::new(Telemetry::new()),
    );
    let c = config(0);
    let mut state = warm_core(0);
    // The tick after warm_core's last (which ends 15 days after its start).
    let t = 1_700_000_000.0 + 15.0 * DAY + 15.0;
    let decision = decide(
        &c,
        &mut state,
        &Observation {
            t,
            queue_depth: Some(6.0),
            arrival_rate: Some(2.0),
            completion_rate: Some(2.0),
            wait_s: None,
            ready: 4,
            current: 4,
        },
    );
    let reasons = serde_json::to_string(&decision.reasons).unwrap_or_default();
    // One validity shared by all (its clone allocates nothing): the controller's shadow
    // Events carry none.
    let valid: Validity = Arc::new(|| true);
    // The views stay alive, as the Deployment cache keeps them, and an Event shares its
    // view's object reference: what the queue adds is counted.
    let views: Vec<_> = (0..n).map(|i| view_of(&deployment(i))).collect();
    let before = in_use();
    for view in &views {
        let event = EventSpec {
            warning: false,
            reason: "Recommendation",
            action: "Recommend",
            note: format!(
                "recommends {} replicas (now {}, {} ready); shadow mode, not applied; reasons: {reasons}",
                decision.replicas, view.replicas, view.ready
            ),
        };
        sink.publish_if(&view.reference, event, valid.clone());
    }
    let bytes = (in_use() - before) as f64 / n as f64;
    drop(sink);
    drop(views);
    bytes
}
