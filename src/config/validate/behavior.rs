//! `behavior.scaleUp` / `behavior.scaleDown`, checked against Kubernetes HPA's limits.

use super::context::{Cx, DurationRule, Picked};
use super::layers::Layers;
use crate::config::locate::join;
use crate::config::raw::{RawPolicy, RawScalingRules};
use crate::config::types::{Behavior, ScalingPolicy, ScalingRules, SelectPolicy};
use std::time::Duration;

/// HPA rejects a stabilisation window over an hour.
const MAX_WINDOW: DurationRule = DurationRule {
    positive: false,
    min: None,
    max: Some((Duration::from_secs(3_600), "Kubernetes HPA's limit")),
};

/// HPA rejects a policy period of zero or over 30 minutes.
const PERIOD: DurationRule = DurationRule {
    positive: true,
    min: None,
    max: Some((Duration::from_secs(1_800), "Kubernetes HPA's limit")),
};

/// The effective behaviour. A `scaleUp`/`scaleDown` given by the target replaces the one in
/// `defaults:` whole (as in HPA); keys missing inside take the built-in defaults.
pub fn resolve_behavior(layers: &Layers<'_>, cx: &mut Cx<'_>) -> Behavior {
    let base = Behavior::default();
    let scale_up = layers.pick("behavior.scaleUp", |s| {
        s.behavior.as_ref()?.scale_up.as_ref()
    });
    let scale_down = layers.pick("behavior.scaleDown", |s| {
        s.behavior.as_ref()?.scale_down.as_ref()
    });
    let scale_down_cooldown = layers
        .pick("behavior.scaleDownCooldown", |s| {
            s.behavior.as_ref()?.scale_down_cooldown.as_ref()
        })
        .and_then(|c| cx.duration(&c, MAX_WINDOW))
        .unwrap_or(base.scale_down_cooldown);
    Behavior {
        scale_down_cooldown,
        scale_up: match scale_up {
            Some(rules) => resolve_rules(&rules, base.scale_up, cx),
            None => base.scale_up,
        },
        scale_down: match scale_down {
            Some(rules) => resolve_rules(&rules, base.scale_down, cx),
            None => base.scale_down,
        },
    }
}

fn resolve_rules(
    rules: &Picked<'_, RawScalingRules>,
    base: ScalingRules,
    cx: &mut Cx<'_>,
) -> ScalingRules {
    let at = |key: &str| join(&rules.path, key);
    let raw = rules.value;
    let stabilization_window = raw
        .stabilization_window
        .as_ref()
        .and_then(|w| cx.duration(&Picked::new(w, at("stabilizationWindow")), MAX_WINDOW))
        .unwrap_or(base.stabilization_window);
    let select_policy = raw.select_policy.unwrap_or(base.select_policy);
    let policies = match &raw.policies {
        None => base.policies,
        Some(list) if list.is_empty() && select_policy != SelectPolicy::Disabled => {
            cx.error(
                &at("policies"),
                "no policies",
                "give at least one, e.g. `[{type: Percent, value: 100, period: 15s}]`, or set `selectPolicy: Disabled`",
            );
            base.policies
        }
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(index, policy)| {
                resolve_policy(policy, &format!("{}[{index}]", at("policies")), cx)
            })
            .collect(),
    };
    ScalingRules {
        stabilization_window,
        select_policy,
        policies,
    }
}

fn resolve_policy(policy: &RawPolicy, path: &str, cx: &mut Cx<'_>) -> Option<ScalingPolicy> {
    let value = cx.at_least(&Picked::new(&policy.value, join(path, "value")), 1);
    let period = cx.duration(&Picked::new(&policy.period, join(path, "period")), PERIOD);
    Some(ScalingPolicy {
        kind: policy.kind,
        value: value?,
        period: period?,
    })
}
