//! `activationThreshold:` (KEDA's `activationThreshold`), merged and checked.

use super::context::{Bounds, Cx};
use super::layers::Layers;
use crate::config::types::Activation;

/// A threshold: any finite number of documents (or documents/s) from zero up.
const THRESHOLD: Bounds = Bounds {
    low: 0.0,
    low_inclusive: true,
    high: None,
    spelled: "at least 0",
    example: "0",
};

/// The effective activation thresholds. A target that writes `activationThreshold` itself
/// while its `minReplicas` is above 0 is an error rather than a warning: such a target
/// never sleeps, so the thresholds would silently do nothing, and a user who wrote them
/// expects it to scale to zero. Thresholds inherited from `defaults:` are not (they serve
/// the targets that do sleep) and do not apply to it: its thresholds are the defaults.
pub fn resolve_activation(
    layers: &Layers<'_>,
    min_replicas: Option<u32>,
    cx: &mut Cx<'_>,
) -> Activation {
    let base = Activation::default();
    let queue_depth = layers.pick("activationThreshold.queueDepth", |s| {
        s.activation_threshold.as_ref()?.queue_depth.as_ref()
    });
    let arrival_rate = layers.pick("activationThreshold.arrivalRate", |s| {
        s.activation_threshold.as_ref()?.arrival_rate.as_ref()
    });
    let own_section = layers.pick("activationThreshold", |s| s.activation_threshold.as_ref());
    if let (Some(section), Some(min)) = (&own_section, min_replicas)
        && min > 0
        && layers.is_target()
        && layers.is_own(&section.path)
    {
        cx.error(
            &section.path,
            format!(
                "{} sets activationThreshold, but its minReplicas is {min}: it never scales to zero, so the thresholds would do nothing",
                layers.whose()
            ),
            "set `minReplicas: 0` on the target to let it sleep, or remove `activationThreshold`",
        );
    }
    let activation = Activation {
        queue_depth: queue_depth
            .and_then(|p| cx.within(&p, THRESHOLD))
            .unwrap_or(base.queue_depth),
        arrival_rate: arrival_rate
            .and_then(|p| cx.within(&p, THRESHOLD))
            .unwrap_or(base.arrival_rate),
    };
    // A target that never sleeps has no thresholds (inherited ones do not apply to it).
    if min_replicas.is_some_and(|min| min > 0) {
        return base;
    }
    activation
}
