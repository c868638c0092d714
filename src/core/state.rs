//! Per-target state owned by the decision core.

use super::behavior::BehaviorState;
use super::capacity::CapacityEstimate;
use super::startup::StartupEstimate;
use crate::config::TargetConfig;
use crate::forecast::{Forecaster, ForecasterSettings};

/// Width of the forecaster's history buckets, seconds.
const BUCKET_S: f64 = 300.0;
/// Recent forecast errors kept for the margin: one day of ticks, at most.
const MAX_ERROR_WINDOW: usize = 5760;

/// Everything [`crate::core::decide`] remembers about one target between ticks.
#[derive(Debug, Clone)]
pub struct TargetState {
    pub(crate) failures: u32,
    pub(crate) previous: Option<PreviousTick>,
    pub(crate) capacity: CapacityEstimate,
    pub(crate) startup: StartupEstimate,
    pub(crate) forecaster: Forecaster,
    pub(crate) behavior: BehaviorState,
    /// Arrival rates of the last ticks, newest last: (t, documents/s).
    pub(crate) recent_rates: std::collections::VecDeque<(f64, f64)>,
}

/// What the last tick saw and decided.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreviousTick {
    pub t: f64,
    pub current: u32,
    pub decided: u32,
}

impl TargetState {
    /// Fresh state for `config`: nothing learned yet.
    pub fn new(config: &TargetConfig) -> Self {
        let interval = config.interval.as_secs_f64().max(1.0);
        let error_window = ((86_400.0 / interval) as usize).clamp(64, MAX_ERROR_WINDOW);
        TargetState {
            failures: 0,
            previous: None,
            capacity: CapacityEstimate::new(config.capacity.per_replica),
            startup: StartupEstimate::default(),
            forecaster: Forecaster::new(ForecasterSettings {
                bucket_s: BUCKET_S,
                history_s: config.forecast.history.as_secs_f64().max(BUCKET_S),
                error_quantile: config.forecast.error_quantile,
                error_window,
            }),
            behavior: BehaviorState::default(),
            recent_rates: std::collections::VecDeque::new(),
        }
    }

    /// Warm the forecaster with past arrival rates `(t, documents/s)`, oldest first, one
    /// sample per `step_s` seconds ending at `t` (from a Prometheus range query).
    pub fn backfill(&mut self, step_s: f64, samples: &[(f64, f64)]) {
        for &(t, rate) in samples {
            self.forecaster.observe(t, step_s, rate);
        }
    }

    /// The learned per-replica capacity, documents/s.
    pub fn capacity_per_replica(&self) -> f64 {
        self.capacity.per_replica()
    }

    /// The start-up lead time in use, seconds.
    pub fn startup_s(&self, config: &TargetConfig) -> f64 {
        self.startup.lead_time(config.startup_time.as_secs_f64())
    }

    /// Consecutive ticks with a required metric missing.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The forecaster (for reports).
    pub fn forecaster(&self) -> &Forecaster {
        &self.forecaster
    }
}
