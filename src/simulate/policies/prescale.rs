//! prescale's own policy on the bench: the decision core, exactly as the controller runs it.

use crate::config::TargetConfig;
use crate::core::{Observation, TargetState, decide};
use crate::simulate::{BenchObservation, BenchParams, BenchPolicy};

/// The decision core driven by the bench's observations.
pub struct Prescale {
    config: TargetConfig,
    state: TargetState,
}

impl Prescale {
    /// prescale with `config`, told what BENCH.md lets a policy be told.
    pub fn new(mut config: TargetConfig, params: &BenchParams) -> Self {
        params.tell(&mut config);
        let state = TargetState::new(&config);
        Prescale { config, state }
    }
}

impl BenchPolicy for Prescale {
    fn decide(&mut self, obs: &BenchObservation) -> u32 {
        let tick = self.config.interval.as_secs_f64();
        let observation = Observation {
            t: obs.t,
            queue_depth: Some(obs.queue_depth),
            arrival_rate: Some(obs.arrivals / tick),
            completion_rate: Some(obs.completions / tick),
            wait_s: Some(obs.wait_s),
            ready: obs.ready,
            current: obs.pods,
        };
        decide(&self.config, &mut self.state, &observation).replicas
    }
}
