//! `hpa` and `keda-queue`: the Kubernetes HPA algorithm with its default behaviour.
//!
//! Its two halves are separate so the predictive peers (`seasonal-naive`, `holt-winters`) can
//! put their own floor between them: [`HpaMetric::raw`] is the metric's recommendation,
//! [`DefaultBehavior`] the stabilisation and limits that follow it.

use std::collections::VecDeque;

use crate::simulate::{BenchObservation, BenchParams, BenchPolicy, params::bench_ceil};

/// What the HPA scales on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HpaMetric {
    /// Utilisation `completions / (tick * mu * ready)` against a target (0.7).
    Utilization(f64),
    /// KEDA queue length: AverageValue documents per replica (30).
    QueueAverage(f64),
}

const TOLERANCE: f64 = 0.1;
const DOWN_WINDOW_S: f64 = 300.0;

impl HpaMetric {
    /// The raw recommendation (BENCH.md, `hpa` and `keda-queue`): `pods` within the 0.1
    /// tolerance, otherwise the metric's ratio applied.
    pub fn raw(self, obs: &BenchObservation, params: &BenchParams) -> u32 {
        let pods = obs.pods;
        match self {
            HpaMetric::Utilization(target) => {
                let u = obs.completions / (params.tick * params.mu * obs.ready as f64);
                if (u / target - 1.0).abs() <= TOLERANCE {
                    pods
                } else {
                    bench_ceil(obs.ready as f64 * u / target) as u32
                }
            }
            HpaMetric::QueueAverage(per_replica) => {
                let ratio = obs.queue_depth / (per_replica * pods as f64);
                if (ratio - 1.0).abs() <= TOLERANCE {
                    pods
                } else {
                    bench_ceil(obs.queue_depth / per_replica) as u32
                }
            }
        }
    }
}

/// kube-controller-manager's `normalizeDesiredReplicasWithBehaviors` with the default
/// behaviour: 300 s scale-down stabilisation, scale-up limited to `max(2 * pods, pods + 4)`.
/// Every raw recommendation it is given is recorded, whatever produced it.
#[derive(Debug, Clone, Default)]
pub struct DefaultBehavior {
    recommendations: VecDeque<(f64, u32)>,
}

impl DefaultBehavior {
    /// Record `raw` at `t` and return the count the HPA would set with `pods` existing.
    pub fn apply(&mut self, t: f64, pods: u32, raw: u32) -> u32 {
        self.recommendations.push_back((t, raw));
        while let Some(&(at, _)) = self.recommendations.front() {
            if at <= t - DOWN_WINDOW_S {
                self.recommendations.pop_front();
            } else {
                break;
            }
        }
        let stabilized = if raw < pods {
            let window_max = self
                .recommendations
                .iter()
                .map(|&(_, r)| r)
                .max()
                .unwrap_or(raw);
            window_max.min(pods)
        } else {
            raw
        };
        stabilized.min((2 * pods).max(pods + 4))
    }
}

/// The HPA on one metric with the default behaviour.
pub struct Hpa {
    metric: HpaMetric,
    params: BenchParams,
    behavior: DefaultBehavior,
}

impl Hpa {
    /// An HPA on `metric`.
    pub fn new(metric: HpaMetric, params: &BenchParams) -> Self {
        Hpa {
            metric,
            params: *params,
            behavior: DefaultBehavior::default(),
        }
    }
}

impl BenchPolicy for Hpa {
    fn decide(&mut self, obs: &BenchObservation) -> u32 {
        let raw = self.metric.raw(obs, &self.params);
        self.behavior.apply(obs.t, obs.pods, raw)
    }
}
