//! Per-target state owned by the decision core.

use super::behavior::BehaviorState;
use super::capacity::CapacityEstimate;
use super::starting::Starting;
use super::startup::StartupEstimate;
use crate::config::TargetConfig;
use crate::forecast::{Forecaster, ForecasterSettings, MarginRule};

/// Width of the forecaster's history buckets, seconds.
const BUCKET_S: f64 = 300.0;

/// Everything [`crate::core::decide`] remembers about one target between ticks.
#[derive(Debug, Clone)]
pub struct TargetState {
    pub(crate) failures: u32,
    pub(crate) previous: Option<PreviousTick>,
    pub(crate) capacity: CapacityEstimate,
    pub(crate) startup: StartupEstimate,
    pub(crate) forecaster: Forecaster,
    pub(crate) behavior: BehaviorState,
    /// prescale's own scale-ups not ready yet.
    pub(crate) starting: Starting,
    /// The queue depth of the last tick, to derive arrivals where no arrival metric is.
    pub(crate) previous_queue: Option<f64>,
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
        TargetState {
            failures: 0,
            previous: None,
            capacity: CapacityEstimate::new(config.capacity.per_replica),
            startup: StartupEstimate::default(),
            forecaster: Forecaster::new(ForecasterSettings {
                bucket_s: BUCKET_S,
                history_s: kept_history(config),
                margin: margin_rule(config),
            }),
            behavior: BehaviorState::default(),
            starting: Starting::default(),
            previous_queue: None,
        }
    }

    /// Warm the forecaster with past arrival rates `(t, documents/s)`, oldest first, one
    /// sample per `step_s` seconds ending at `t` (from a Prometheus range query), judging
    /// its models over the lead window `config` gives, as live ticks will.
    pub fn backfill(&mut self, config: &TargetConfig, step_s: f64, samples: &[(f64, f64)]) {
        let window = self.startup_s(config) + config.interval.as_secs_f64();
        let slack = config.plan.wait_target * config.slo.queue_wait.as_secs_f64();
        self.forecaster
            .observe_history(step_s, samples, window, slack);
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

/// The forecaster's margin rule from the config.
pub(crate) fn margin_rule(config: &TargetConfig) -> MarginRule {
    MarginRule {
        coverage: config.forecast.error_quantile,
        miss_cost: config.forecast.miss_cost,
    }
}

/// Seconds of arrival history the forecaster keeps: `forecast.history`, or with `0s` (no
/// backfill) the default, learnt from the ticks alone.
fn kept_history(config: &TargetConfig) -> f64 {
    let history = if config.forecast.history.is_zero() {
        crate::config::ForecastConfig::default().history
    } else {
        config.forecast.history
    };
    history.as_secs_f64().max(BUCKET_S)
}
