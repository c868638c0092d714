//! HPA's `behavior`: stabilisation windows and rate-limit policies, as kube-controller-manager
//! applies them (`stabilizeRecommendationWithBehaviors` and
//! `convertDesiredReplicasWithBehaviorRate`), plus prescale's scale-down cooldown and the bounds.

use std::collections::VecDeque;

use super::schedule::Bounds;
use super::{Limit, Reason};
use crate::config::{Behavior, PolicyKind, ScalingRules, SelectPolicy, TargetConfig};

/// Longest window any rule can look back (HPA caps windows at 3600 s and periods at 1800 s).
const MAX_LOOKBACK_S: f64 = 3600.0;

/// Recommendations and scale events remembered for the behaviour rules.
#[derive(Debug, Clone, Default)]
pub struct BehaviorState {
    recommendations: VecDeque<(f64, u32)>,
    /// Applied changes: (time, +added or -removed).
    events: VecDeque<(f64, i64)>,
    last_scale_up: Option<f64>,
}

impl BehaviorState {
    /// Apply stabilisation, cooldown, rate limits and `bounds` (the target's, narrowed by
    /// any scheduled window) to `raw` at time `t`, with `current` replicas now; pushes a [`Reason::Limited`] for every limit that changed it.
    pub fn apply(
        &mut self,
        config: &TargetConfig,
        bounds: Bounds,
        t: f64,
        current: u32,
        raw: u32,
        reasons: &mut Vec<Reason>,
    ) -> u32 {
        let behavior = &config.behavior;
        self.forget_before(t, behavior);
        // Stabilisation: the lowest recommendation in the up window and the highest in the
        // down window bound the result; the current count stays between them.
        self.recommendations.push_back((t, raw));
        let up_cutoff = t - behavior.scale_up.stabilization_window.as_secs_f64();
        let down_cutoff = t - behavior.scale_down.stabilization_window.as_secs_f64();
        let mut up = raw;
        let mut down = raw;
        for &(at, r) in &self.recommendations {
            if at > up_cutoff {
                up = up.min(r);
            }
            if at > down_cutoff {
                down = down.max(r);
            }
        }
        let stabilized = current.max(up).min(down);
        let mut value = stabilized;
        if raw > current && value < raw {
            reasons.push(Reason::Limited {
                limit: Limit::ScaleUpStabilized,
                from: raw,
                to: value,
            });
        } else if raw < current && value > raw {
            reasons.push(Reason::Limited {
                limit: Limit::ScaleDownStabilized,
                from: raw,
                to: value,
            });
        }
        // Cooldown: no scale-down too soon after a scale-up.
        let cooldown = behavior.scale_down_cooldown.as_secs_f64();
        if value < current
            && cooldown > 0.0
            && let Some(up_at) = self.last_scale_up
            && t - up_at < cooldown
        {
            reasons.push(Reason::Limited {
                limit: Limit::Cooldown,
                from: value,
                to: current,
            });
            value = current;
        }
        // Rate limits, then the bounds.
        if value > current {
            let limit = self
                .scale_up_limit(&behavior.scale_up, t, current)
                .max(current);
            if value > limit && limit < bounds.max {
                reasons.push(Reason::Limited {
                    limit: Limit::ScaleUpLimit,
                    from: value,
                    to: limit,
                });
                value = limit;
            }
        } else if value < current {
            let limit = self
                .scale_down_limit(&behavior.scale_down, t, current)
                .min(current);
            if value < limit && limit > bounds.min {
                reasons.push(Reason::Limited {
                    limit: Limit::ScaleDownLimit,
                    from: value,
                    to: limit,
                });
                value = limit;
            }
        }
        if value > bounds.max {
            reasons.push(Reason::Limited {
                limit: Limit::TooManyReplicas,
                from: value,
                to: bounds.max,
            });
            value = bounds.max;
        }
        if value < bounds.min {
            reasons.push(Reason::Limited {
                limit: Limit::TooFewReplicas,
                from: value,
                to: bounds.min,
            });
            value = bounds.min;
        }
        value
    }

    /// Record that the workload went from `from` to `to` replicas at `t`, by prescale
    /// (`ours`) or by someone else. As in HPA, only prescale's own changes count against the
    /// rate limits; any scale-up starts the cooldown.
    pub fn record_change(&mut self, t: f64, from: u32, to: u32, ours: bool) {
        if ours && to != from {
            self.events.push_back((t, i64::from(to) - i64::from(from)));
        }
        if to > from {
            self.last_scale_up = Some(t);
        }
    }

    /// Drop what no rule can look at any more: recommendations older than both windows,
    /// events older than every policy period.
    fn forget_before(&mut self, t: f64, behavior: &Behavior) {
        let window = behavior
            .scale_up
            .stabilization_window
            .max(behavior.scale_down.stabilization_window)
            .as_secs_f64()
            .min(MAX_LOOKBACK_S);
        while self
            .recommendations
            .front()
            .is_some_and(|&(at, _)| at <= t - window)
        {
            self.recommendations.pop_front();
        }
        let period = [&behavior.scale_up, &behavior.scale_down]
            .iter()
            .flat_map(|rules| rules.policies.iter().map(|p| p.period.as_secs_f64()))
            .fold(0.0, f64::max)
            .min(MAX_LOOKBACK_S);
        while self.events.front().is_some_and(|&(at, _)| at <= t - period) {
            self.events.pop_front();
        }
    }

    /// Replicas added and removed in the `period` seconds before `t`.
    fn changes_within(&self, t: f64, period: f64) -> (i64, i64) {
        let cutoff = t - period;
        self.events.iter().filter(|&&(at, _)| at > cutoff).fold(
            (0, 0),
            |(added, removed), &(_, d)| {
                if d > 0 {
                    (added + d, removed)
                } else {
                    (added, removed - d)
                }
            },
        )
    }

    fn period_start(&self, rules_period: f64, t: f64, current: u32) -> i64 {
        let (added, removed) = self.changes_within(t, rules_period);
        i64::from(current) - added + removed
    }

    fn scale_up_limit(&self, rules: &ScalingRules, t: f64, current: u32) -> u32 {
        let proposals = rules.policies.iter().map(|p| {
            let start = self.period_start(p.period.as_secs_f64(), t, current);
            match p.kind {
                PolicyKind::Pods => start + i64::from(p.value),
                PolicyKind::Percent => {
                    (start as f64 * (1.0 + f64::from(p.value) / 100.0)).ceil() as i64
                }
            }
        });
        let limit = match rules.select_policy {
            SelectPolicy::Disabled => return current,
            SelectPolicy::Max => proposals.max(),
            SelectPolicy::Min => proposals.min(),
        };
        // No policies: unlimited, as HPA treats an empty list.
        limit.map_or(u32::MAX, |l| l.clamp(0, i64::from(u32::MAX)) as u32)
    }

    fn scale_down_limit(&self, rules: &ScalingRules, t: f64, current: u32) -> u32 {
        let proposals = rules.policies.iter().map(|p| {
            let start = self.period_start(p.period.as_secs_f64(), t, current);
            match p.kind {
                PolicyKind::Pods => start - i64::from(p.value),
                PolicyKind::Percent => (start as f64 * (1.0 - f64::from(p.value) / 100.0)) as i64,
            }
        });
        let limit = match rules.select_policy {
            SelectPolicy::Disabled => return current,
            // Max picks the policy allowing the largest change: the lowest floor.
            SelectPolicy::Max => proposals.min(),
            SelectPolicy::Min => proposals.max(),
        };
        limit.map_or(0, |l| l.clamp(0, i64::from(u32::MAX)) as u32)
    }
}
