//! The live report's bookkeeping each tick: advance both schedules over the interval that
//! just ended, add what it contributed to the hourly totals (`/report`) and to the
//! `prescale_report_*` counters, and compare the last forecast with what arrived.

use super::Shared;
use super::tick::{TargetTask, TickOutcome};
use crate::core::{Decision, Observation};
use crate::live_report::{MAX_STEP_INTERVALS, TickInput};

impl TargetTask {
    /// Account for this tick in the live report and the forecast-error gauge.
    pub(super) fn account(
        &mut self,
        shared: &Shared,
        obs: &Observation,
        decision: &Decision,
        outcome: &TickOutcome,
    ) {
        // What runs from now on: what prescale just wrote, or what the Deployment had.
        let current = match outcome {
            TickOutcome::Scaled { to, .. } => *to,
            _ => obs.current,
        };
        let delta = self.live.tick(&TickInput {
            t: obs.t,
            arrival_rate: obs.arrival_rate,
            queue_depth: obs.queue_depth,
            completion_rate: obs.completion_rate,
            current,
            ready: obs.ready,
            recommended: decision.replicas,
            capacity_per_replica: decision.capacity_per_replica,
            startup_s: decision.startup_s,
        });
        self.live_slot
            .get_or_insert_with(|| shared.live_reports.slot(&self.config))
            .add(obs.t, &delta);

        let t = &shared.telemetry;
        let labels = self.labels();
        let h = self.series.always(t, &labels);
        // In `SCHEDULES` order.
        for (i, totals) in [delta.actual, delta.recommended].iter().enumerate() {
            h.report_replica_seconds[i].inc_by(totals.replica_seconds);
            h.report_documents[i].inc_by(totals.documents);
            h.report_late_documents[i].inc_by(totals.late_documents);
        }
        h.report_modelled_seconds.inc_by(delta.modelled_seconds);
        h.report_unmodelled_seconds.inc_by(delta.unmodelled_seconds);

        let interval = self.config.interval.as_secs_f64();
        self.forecast_error
            .observe(obs.t, obs.arrival_rate, MAX_STEP_INTERVALS * interval);
        let next = if self.config.forecast.enabled {
            self.state
                .forecaster()
                .predict(obs.t, obs.t + interval)
                .map(|p| p.rate)
        } else {
            None
        };
        self.forecast_error.expect(obs.t, next);
        let ratio = self.forecast_error.ratio();
        self.series
            .set_or_remove(t, 6, &t.forecast_error_ratio, &labels, ratio);
    }
}
