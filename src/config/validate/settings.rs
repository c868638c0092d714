//! The inheritable settings: merged (target over `defaults:` over built-in) and checked,
//! including the checks that relate two keys (min/max replicas, static fallback).

use super::behavior::resolve_behavior;
use super::context::{Bounds, Cx, DurationRule, Picked};
use super::forecast::resolve_forecast;
use super::layers::Layers;
use crate::config::types::{Capacity, Fallback, FallbackBehavior, Slo, TargetConfig};

/// `capacity.perReplica`: any positive, finite throughput.
const THROUGHPUT: Bounds = Bounds {
    low: 0.0,
    low_inclusive: false,
    high: None,
    spelled: "(0, inf)",
    example: "1.5",
};

/// The effective settings of one target (or of `defaults:` alone); the target-only fields
/// (`name`, `scaleTargetRef`, `metrics`) are left at their defaults for the caller to fill.
pub fn resolve_settings(layers: &Layers<'_>, cx: &mut Cx<'_>) -> TargetConfig {
    let base = TargetConfig::default();
    let (min_replicas, max_replicas) = resolve_replicas(layers, base.min_replicas, base.max_replicas, cx);
    TargetConfig {
        mode: layers.pick("mode", |s| s.mode.as_ref()).map_or(base.mode, |p| *p.value),
        interval: layers
            .pick("interval", |s| s.interval.as_ref())
            .and_then(|p| cx.duration(&p, DurationRule::POSITIVE))
            .unwrap_or(base.interval),
        min_replicas,
        max_replicas,
        startup_time: layers
            .pick("startupTime", |s| s.startup_time.as_ref())
            .and_then(|p| cx.duration(&p, DurationRule::ANY))
            .unwrap_or(base.startup_time),
        slo: Slo {
            queue_wait: layers
                .pick("slo.queueWait", |s| s.slo.as_ref()?.queue_wait.as_ref())
                .and_then(|p| cx.duration(&p, DurationRule::POSITIVE))
                .unwrap_or(base.slo.queue_wait),
        },
        capacity: Capacity {
            per_replica: layers
                .pick("capacity.perReplica", |s| s.capacity.as_ref()?.per_replica.as_ref())
                .and_then(|p| cx.within(&p, THROUGHPUT))
                .unwrap_or(base.capacity.per_replica),
        },
        behavior: resolve_behavior(layers, cx),
        fallback: resolve_fallback(layers, base.fallback, (min_replicas, max_replicas), cx),
        forecast: resolve_forecast(layers, cx),
        ..base
    }
}

/// `minReplicas` and `maxReplicas`: max at least 1, min not above max.
fn resolve_replicas(
    layers: &Layers<'_>,
    base_min: u32,
    base_max: u32,
    cx: &mut Cx<'_>,
) -> (u32, u32) {
    let min = layers.pick("minReplicas", |s| s.min_replicas.as_ref());
    let max = layers.pick("maxReplicas", |s| s.max_replicas.as_ref());
    let max_value = max.as_ref().and_then(|p| cx.at_least(p, 1)).unwrap_or(base_max);
    let min_value = min.as_ref().map_or(base_min, |p| *p.value);
    if min_value <= max_value {
        return (min_value, max_value);
    }
    // Point at whichever of the two this target wrote itself (the other may be inherited).
    let describe = |picked: &Option<Picked<'_, u32>>, default: &str| match picked {
        Some(p) => cx.at(&p.path),
        None => default.to_owned(),
    };
    let min_at = describe(&min, "the built-in default");
    let max_at = describe(&max, "the built-in default");
    let path = match (&min, &max) {
        (Some(m), Some(x)) if !layers.is_own(&m.path) && layers.is_own(&x.path) => x.path.clone(),
        (Some(m), _) => m.path.clone(),
        (None, Some(x)) => x.path.clone(),
        (None, None) => "minReplicas".to_owned(),
    };
    cx.error(
        &path,
        format!(
            "minReplicas {min_value} (from {min_at}) is greater than maxReplicas {max_value} (from {max_at})"
        ),
        "make minReplicas <= maxReplicas",
    );
    (min_value.min(max_value), max_value)
}

/// `fallback:`; a `static` fallback's replicas must lie within min/max.
fn resolve_fallback(
    layers: &Layers<'_>,
    base: Fallback,
    (min, max): (u32, u32),
    cx: &mut Cx<'_>,
) -> Fallback {
    let threshold = layers.pick("fallback.failureThreshold", |s| {
        s.fallback.as_ref()?.failure_threshold.as_ref()
    });
    let behavior = layers.pick("fallback.behavior", |s| s.fallback.as_ref()?.behavior.as_ref());
    let replicas = layers.pick("fallback.replicas", |s| s.fallback.as_ref()?.replicas.as_ref());
    let fallback = Fallback {
        failure_threshold: threshold
            .and_then(|p| cx.at_least(&p, 1))
            .unwrap_or(base.failure_threshold),
        behavior: behavior.as_ref().map_or(base.behavior, |p| *p.value),
        replicas: replicas.as_ref().map_or(base.replicas, |p| *p.value),
    };
    if fallback.behavior == FallbackBehavior::Static
        && !(min..=max).contains(&fallback.replicas)
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
                "a static fallback to {} replicas is outside minReplicas..maxReplicas ({min}..{max})",
                fallback.replicas
            ),
            format!("set `fallback.replicas` between {min} and {max}"),
        );
    }
    fallback
}
