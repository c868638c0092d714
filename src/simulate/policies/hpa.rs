//! `hpa` and `keda-queue`: the Kubernetes HPA algorithm with its default behaviour.

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

/// kube-controller-manager's `normalizeDesiredReplicasWithBehaviors` with the default
/// behaviour: 300 s scale-down stabilisation, scale-up limited to `max(2 * pods, pods + 4)`.
pub struct Hpa {
    metric: HpaMetric,
    mu: f64,
    tick: f64,
    recommendations: VecDeque<(f64, u32)>,
}

const TOLERANCE: f64 = 0.1;
const DOWN_WINDOW_S: f64 = 300.0;

impl Hpa {
    /// An HPA on `metric`.
    pub fn new(metric: HpaMetric, params: &BenchParams) -> Self {
        Hpa {
            metric,
            mu: params.mu,
            tick: params.tick,
            recommendations: VecDeque::new(),
        }
    }

    fn raw(&self, obs: &BenchObservation) -> u32 {
        let pods = obs.pods;
        match self.metric {
            HpaMetric::Utilization(target) => {
                let u = obs.completions / (self.tick * self.mu * obs.ready as f64);
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

impl BenchPolicy for Hpa {
    fn decide(&mut self, obs: &BenchObservation) -> u32 {
        let raw = self.raw(obs);
        self.recommendations.push_back((obs.t, raw));
        while let Some(&(at, _)) = self.recommendations.front() {
            if at <= obs.t - DOWN_WINDOW_S {
                self.recommendations.pop_front();
            } else {
                break;
            }
        }
        let pods = obs.pods;
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
