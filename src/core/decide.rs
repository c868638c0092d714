//! The decision function.

use super::{Decision, Observation, TargetState};
use crate::config::TargetConfig;

/// Decide the desired replicas for one target at `obs.t`.
///
/// Pure: the same config, state and observation always give the same decision and the
/// same next state.
pub fn decide(config: &TargetConfig, state: &mut TargetState, obs: &Observation) -> Decision {
    let _ = state;
    Decision {
        replicas: obs.current.clamp(config.min_replicas, config.max_replicas),
        reasons: Vec::new(),
        forecast_rate: None,
        capacity_per_replica: config.capacity.per_replica,
        startup_s: config.startup_time.as_secs_f64(),
    }
}
