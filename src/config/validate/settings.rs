//! The inheritable settings: merged (target over `defaults:` over built-in) and checked,
//! including the checks that relate two keys (min/max replicas, static fallback).

use super::activation::resolve_activation;
use super::actuation::{resolve_actuation, resolve_events, resolve_pod_deletion_cost};
use super::behavior::resolve_behavior;
use super::context::{Bounds, Cx, DurationRule};
use super::forecast::resolve_forecast;
use super::layers::Layers;
use super::plan::resolve_plan;
use super::schedule::{TargetRange, resolve_schedules};
use crate::config::types::{Capacity, Fallback, FallbackBehavior, Slo, TargetConfig};
use std::time::Duration;

/// `interval`: each tick reads the Deployment and every metric, so a very short interval
/// only spends CPU and API requests (and the history's 5-minute buckets gain nothing), and
/// one over an hour cannot follow a daily pattern's ramps.
const INTERVAL: DurationRule = DurationRule {
    positive: true,
    min: Some((
        Duration::from_millis(100),
        "every tick reads the Deployment and every metric; real workloads use 5s to 60s",
    )),
    max: Some((
        Duration::from_secs(3_600),
        "a longer interval cannot follow a daily pattern's ramps",
    )),
};

/// `startupTime`: the forecast covers the lead time bucket by bucket, and a pod that takes
/// over an hour to start is beyond what a forecast of arrivals can plan for.
const STARTUP_TIME: DurationRule = DurationRule {
    positive: false,
    min: None,
    max: Some((
        Duration::from_secs(3_600),
        "the longest lead time the forecast plans for",
    )),
};

/// `capacity.perReplica`: any positive, finite throughput.
const THROUGHPUT: Bounds = Bounds {
    low: 0.0,
    low_inclusive: false,
    high: None,
    spelled: "greater than 0",
    example: "1.5",
};

/// The effective settings of one target (or of `defaults:` alone); the target-only fields
/// (`name`, `scaleTargetRef`, `metrics`) are left at their defaults for the caller to fill.
pub fn resolve_settings(layers: &Layers<'_>, cx: &mut Cx<'_>) -> TargetConfig {
    let base = TargetConfig::default();
    let replicas = resolve_replicas(layers, cx);
    let (min_replicas, max_replicas) =
        replicas.map_or((base.min_replicas, base.max_replicas), |r| (r.min, r.max));
    TargetConfig {
        mode: layers
            .pick("mode", |s| s.mode.as_ref())
            .map_or(base.mode, |p| *p.value),
        interval: layers
            .pick("interval", |s| s.interval.as_ref())
            .and_then(|p| cx.duration(&p, INTERVAL))
            .unwrap_or(base.interval),
        min_replicas,
        max_replicas,
        startup_time: layers
            .pick("startupTime", |s| s.startup_time.as_ref())
            .and_then(|p| cx.duration(&p, STARTUP_TIME))
            .unwrap_or(base.startup_time),
        slo: Slo {
            queue_wait: layers
                .pick("slo.queueWait", |s| s.slo.as_ref()?.queue_wait.as_ref())
                .and_then(|p| cx.duration(&p, DurationRule::POSITIVE))
                .unwrap_or(base.slo.queue_wait),
        },
        capacity: Capacity {
            per_replica: layers
                .pick("capacity.perReplica", |s| {
                    s.capacity.as_ref()?.per_replica.as_ref()
                })
                .and_then(|p| cx.within(&p, THROUGHPUT))
                .unwrap_or(base.capacity.per_replica),
        },
        behavior: resolve_behavior(layers, cx),
        fallback: resolve_fallback(layers, base.fallback, replicas, cx),
        forecast: resolve_forecast(layers, cx),
        plan: resolve_plan(layers, cx),
        actuation: resolve_actuation(layers),
        pod_deletion_cost: resolve_pod_deletion_cost(layers, cx),
        events: resolve_events(layers, cx),
        schedules: resolve_schedules(
            layers,
            replicas.map(|r| TargetRange {
                min: r.min,
                max: r.max,
                own: r.own,
            }),
            cx,
        ),
        activation: resolve_activation(layers, replicas.map(|r| r.min), cx),
        ..base
    }
}

/// Valid `minReplicas..maxReplicas`.
#[derive(Debug, Clone, Copy)]
struct ReplicaRange {
    min: u32,
    max: u32,
    /// Whether the target set either bound itself.
    own: bool,
}

/// `minReplicas` and `maxReplicas`: max at least 1, min not above max. `None` if either is
/// bad (so checks that depend on them are skipped rather than misleading).
fn resolve_replicas(layers: &Layers<'_>, cx: &mut Cx<'_>) -> Option<ReplicaRange> {
    let base = TargetConfig::default();
    let min = layers.pick("minReplicas", |s| s.min_replicas.as_ref());
    let max = layers.pick("maxReplicas", |s| s.max_replicas.as_ref());
    let max_value = match &max {
        Some(p) => cx.at_least(p, 1)?,
        None => base.max_replicas,
    };
    let min_value = min.as_ref().map_or(base.min_replicas, |p| *p.value);
    let own = [&min, &max]
        .into_iter()
        .flatten()
        .any(|p| layers.is_own(&p.path));
    if min_value <= max_value {
        return Some(ReplicaRange {
            min: min_value,
            max: max_value,
            own,
        });
    }
    if !layers.concerns(own) {
        return None;
    }
    // Report at the key this target wrote itself (the other may be inherited), and say
    // where the other one comes from.
    let (path, other) = match (&min, &max) {
        (Some(m), Some(x)) if !layers.is_own(&m.path) && layers.is_own(&x.path) => (
            x.path.clone(),
            format!("minReplicas is set at {}", cx.at(&m.path)),
        ),
        (Some(m), Some(x)) => (
            m.path.clone(),
            format!("maxReplicas is set at {}", cx.at(&x.path)),
        ),
        (Some(m), None) => (m.path.clone(), "maxReplicas is the default".to_owned()),
        (None, Some(x)) => (x.path.clone(), "minReplicas is the default".to_owned()),
        (None, None) => return None,
    };
    cx.error(
        &path,
        format!(
            "minReplicas {min_value} is greater than maxReplicas {max_value} in {} ({other})",
            layers.whose()
        ),
        "make minReplicas <= maxReplicas",
    );
    None
}

/// `fallback:`; a `static` fallback's replicas must lie within min/max (when those are
/// valid: `replicas` is `None` otherwise).
fn resolve_fallback(
    layers: &Layers<'_>,
    base: Fallback,
    range: Option<ReplicaRange>,
    cx: &mut Cx<'_>,
) -> Fallback {
    let threshold = layers.pick("fallback.failureThreshold", |s| {
        s.fallback.as_ref()?.failure_threshold.as_ref()
    });
    let behavior = layers.pick("fallback.behavior", |s| {
        s.fallback.as_ref()?.behavior.as_ref()
    });
    let replicas = layers.pick("fallback.replicas", |s| {
        s.fallback.as_ref()?.replicas.as_ref()
    });
    let fallback = Fallback {
        failure_threshold: threshold
            .and_then(|p| cx.at_least(&p, 1))
            .unwrap_or(base.failure_threshold),
        behavior: behavior.as_ref().map_or(base.behavior, |p| *p.value),
        replicas: replicas.as_ref().map_or(base.replicas, |p| *p.value),
    };
    let own = replicas.as_ref().is_some_and(|p| layers.is_own(&p.path))
        || behavior.as_ref().is_some_and(|p| layers.is_own(&p.path));
    if let Some(ReplicaRange {
        min,
        max,
        own: own_range,
    }) = range
        && fallback.behavior == FallbackBehavior::Static
        && !(min..=max).contains(&fallback.replicas)
        && layers.concerns(own || own_range)
    {
        // Point at `replicas` if written, else at the `behavior: static` that needs it.
        let path = replicas
            .as_ref()
            .map(|p| p.path.clone())
            .or_else(|| behavior.as_ref().map(|p| p.path.clone()))
            .unwrap_or_else(|| "fallback".to_owned());
        cx.error(
            &path,
            format!(
                "a static fallback to {} replicas is outside minReplicas..maxReplicas ({min}..{max}) of {}",
                fallback.replicas,
                layers.whose()
            ),
            format!("set `fallback.replicas` between {min} and {max}"),
        );
    }
    fallback
}
