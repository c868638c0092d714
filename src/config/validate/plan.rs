//! The `plan:` section, merged and checked.

use super::context::{Bounds, Cx, DurationRule, Picked};
use super::layers::Layers;
use crate::config::raw::RawPlan;
use crate::config::types::PlanConfig;
use std::time::Duration;

/// `waitTarget`: a fraction of the SLO; above 1 would plan for late documents.
const WAIT_TARGET: Bounds = Bounds {
    low: 0.0,
    low_inclusive: false,
    high: Some((1.0, true)),
    spelled: "in (0, 1]",
    example: "0.5",
};

/// `releaseTolerance`: 1 or more would never release a pod.
const RELEASE_TOLERANCE: Bounds = Bounds {
    low: 0.0,
    low_inclusive: true,
    high: Some((1.0, false)),
    spelled: "in [0, 1)",
    example: "0.2",
};

/// `stepAhead` and `holdFor`: the planner's forecast path reaches two hours.
const AHEAD: DurationRule = DurationRule {
    positive: false,
    min: None,
    max: Some((
        Duration::from_secs(7200),
        "the planner looks at most two hours past the lead window",
    )),
};

/// The effective plan settings: each key from the target, else `defaults:`, else
/// [`PlanConfig::default`].
pub fn resolve_plan(layers: &Layers<'_>, cx: &mut Cx<'_>) -> PlanConfig {
    let base = PlanConfig::default();
    let pick = Plan(layers);
    PlanConfig {
        wait_target: pick
            .key("waitTarget", |p| p.wait_target.as_ref())
            .and_then(|p| cx.within(&p, WAIT_TARGET))
            .unwrap_or(base.wait_target),
        step_ahead: pick
            .key("stepAhead", |p| p.step_ahead.as_ref())
            .and_then(|p| cx.duration(&p, AHEAD))
            .or(base.step_ahead),
        hold_for: pick
            .key("holdFor", |p| p.hold_for.as_ref())
            .and_then(|p| cx.duration(&p, AHEAD))
            .or(base.hold_for),
        release_tolerance: pick
            .key("releaseTolerance", |p| p.release_tolerance.as_ref())
            .and_then(|p| cx.within(&p, RELEASE_TOLERANCE))
            .unwrap_or(base.release_tolerance),
    }
}

/// Looks up keys below `plan:`.
struct Plan<'l, 'a>(&'l Layers<'a>);

impl<'a> Plan<'_, 'a> {
    fn key<T>(
        &self,
        key: &str,
        get: impl Fn(&'a RawPlan) -> Option<&'a T>,
    ) -> Option<Picked<'a, T>> {
        self.0
            .pick(&format!("plan.{key}"), |s| get(s.plan.as_ref()?))
    }
}
