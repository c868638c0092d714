//! `oracle` and `static`: the reference policies that see the whole load.

use crate::simulate::{BenchObservation, BenchParams, BenchPolicy, Load, params::bench_ceil};

/// Perfect foresight, zero queue: at t, the most replicas any tick starting in
/// `[t, t + startup]` needs.
pub struct Oracle {
    need: Vec<u32>,
    lookahead: usize,
    min: u32,
}

impl Oracle {
    /// The oracle for `load`.
    pub fn new(load: &Load, params: &BenchParams) -> Self {
        let need = load
            .rates
            .iter()
            .map(|r| bench_ceil(r / params.mu) as u32)
            .collect();
        let lookahead = (params.startup / load.tick).floor() as usize;
        Oracle {
            need,
            lookahead,
            min: params.min_replicas,
        }
    }
}

impl BenchPolicy for Oracle {
    fn decide(&mut self, obs: &BenchObservation) -> u32 {
        let end = (obs.tick + self.lookahead + 1).min(self.need.len());
        let peak = self.need[obs.tick..end].iter().copied().max().unwrap_or(0);
        peak.max(self.min)
    }
}

/// Provisioned for the peak: `ceil(max λ / mu)` from t = 0 on.
pub struct Static {
    replicas: u32,
}

impl Static {
    /// The static policy for `load`.
    pub fn new(load: &Load, params: &BenchParams) -> Self {
        Static {
            replicas: bench_ceil(load.max_rate / params.mu) as u32,
        }
    }
}

impl BenchPolicy for Static {
    fn decide(&mut self, _obs: &BenchObservation) -> u32 {
        self.replicas
    }
}
