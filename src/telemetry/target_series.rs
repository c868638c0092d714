//! One target's series, looked up once and then set directly: a tick sets about thirty
//! series, and looking each up by its labels (hashing and comparing three strings under the
//! family's lock) cost more than the decision itself at thousands of targets. A metric
//! handle shares its value with the family's series, so setting it is setting the series.
//!
//! The handles are taken again after every per-target series was dropped (a change of
//! leadership: [`Telemetry::generation`]) or after this target's were removed
//! ([`TargetSeries::forget`]). Series that come and go (a gauge without a value this tick)
//! are kept as `Option`s: present while the series is.

use super::block_family::{
    BlockFamily, Cell, FloatCounterKind, FloatGaugeKind, IntGaugeKind, Kind, TickHistogramKind,
};
use super::metrics::{ScheduleCounters, TargetLabels, Telemetry};
use super::{SCHEDULES, ScheduleLabels};

/// The series a tick always sets.
pub struct Handles {
    /// `prescale_recommended_replicas`.
    pub recommended_replicas: Cell<IntGaugeKind>,
    /// `prescale_current_replicas`.
    pub current_replicas: Cell<IntGaugeKind>,
    /// `prescale_ready_replicas`.
    pub ready_replicas: Cell<IntGaugeKind>,
    /// `prescale_slo_queue_wait_seconds`.
    pub slo_queue_wait_seconds: Cell<FloatGaugeKind>,
    /// `prescale_metrics_missing_ticks`.
    pub metrics_missing_ticks: Cell<IntGaugeKind>,
    /// `prescale_capacity_per_replica`.
    pub capacity_per_replica: Cell<FloatGaugeKind>,
    /// `prescale_startup_seconds`.
    pub startup_seconds: Cell<FloatGaugeKind>,
    /// `prescale_report_replica_seconds`, by schedule in [`SCHEDULES`] order.
    pub report_replica_seconds: [Cell<FloatCounterKind>; 2],
    /// `prescale_report_documents`, by schedule.
    pub report_documents: [Cell<FloatCounterKind>; 2],
    /// `prescale_report_late_documents`, by schedule.
    pub report_late_documents: [Cell<FloatCounterKind>; 2],
    /// `prescale_report_modelled_seconds`.
    pub report_modelled_seconds: Cell<FloatCounterKind>,
    /// `prescale_report_unmodelled_seconds`.
    pub report_unmodelled_seconds: Cell<FloatCounterKind>,
    /// `prescale_tick_duration_seconds`.
    pub tick_duration: Cell<TickHistogramKind>,
}

impl Handles {
    fn take(t: &Telemetry, l: &TargetLabels) -> Self {
        let schedule = |family: &ScheduleCounters| {
            SCHEDULES.map(|s| {
                family.get_or_create_owned(&ScheduleLabels {
                    target: l.clone(),
                    schedule: s,
                })
            })
        };
        Handles {
            recommended_replicas: t.recommended_replicas.get_or_create_owned(l),
            current_replicas: t.current_replicas.get_or_create_owned(l),
            ready_replicas: t.ready_replicas.get_or_create_owned(l),
            slo_queue_wait_seconds: t.slo_queue_wait_seconds.get_or_create_owned(l),
            metrics_missing_ticks: t.metrics_missing_ticks.get_or_create_owned(l),
            capacity_per_replica: t.capacity_per_replica.get_or_create_owned(l),
            startup_seconds: t.startup_seconds.get_or_create_owned(l),
            report_replica_seconds: schedule(&t.report_replica_seconds),
            report_documents: schedule(&t.report_documents),
            report_late_documents: schedule(&t.report_late_documents),
            report_modelled_seconds: t.report_modelled_seconds.get_or_create_owned(l),
            report_unmodelled_seconds: t.report_unmodelled_seconds.get_or_create_owned(l),
            tick_duration: t.tick_duration.get_or_create_owned(l),
        }
    }
}

/// One target's handles on its series.
#[derive(Default)]
pub struct TargetSeries {
    generation: u64,
    always: Option<Handles>,
    /// Handles on the series that come and go, by family; see [`TargetSeries::set_or_remove`].
    optional: Vec<(usize, Cell<FloatGaugeKind>)>,
    optional_counts: Vec<(usize, Cell<IntGaugeKind>)>,
}

impl std::fmt::Debug for TargetSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetSeries")
            .field("generation", &self.generation)
            .field("taken", &self.always.is_some())
            .finish()
    }
}

impl TargetSeries {
    /// Drop every handle (the target's series were removed, or its labels changed).
    pub fn forget(&mut self) {
        self.always = None;
        self.optional.clear();
        self.optional_counts.clear();
    }

    /// Drop the handles if every series was dropped since they were taken.
    fn refresh(&mut self, t: &Telemetry) {
        let generation = t.generation();
        if generation != self.generation {
            self.forget();
            self.generation = generation;
        }
    }

    /// The series a tick always sets.
    pub fn always(&mut self, t: &Telemetry, l: &TargetLabels) -> &Handles {
        self.refresh(t);
        self.always.get_or_insert_with(|| Handles::take(t, l))
    }

    /// Set the gauge of `family` (told apart by `key`, any number unique per family) to
    /// `value`, or remove its series while there is none (never a stale value).
    pub fn set_or_remove(
        &mut self,
        t: &Telemetry,
        key: usize,
        family: &BlockFamily<TargetLabels, FloatGaugeKind>,
        l: &TargetLabels,
        value: Option<f64>,
    ) {
        self.refresh(t);
        set_or_remove_in(&mut self.optional, key, family, l, value);
    }

    /// [`TargetSeries::set_or_remove`] for an integer gauge.
    pub fn set_or_remove_count(
        &mut self,
        t: &Telemetry,
        key: usize,
        family: &BlockFamily<TargetLabels, IntGaugeKind>,
        l: &TargetLabels,
        value: Option<u32>,
    ) {
        self.refresh(t);
        set_or_remove_in(
            &mut self.optional_counts,
            key,
            family,
            l,
            value.map(i64::from),
        );
    }

    /// Whether every series was dropped since `generation` (as [`TargetSeries::generation`]
    /// gave it): sets of series a target keeps track of itself must be set again.
    pub fn generation(&mut self, t: &Telemetry) -> u64 {
        self.refresh(t);
        self.generation
    }
}

/// The handle of `key` in `slots` set to `value` (its series created on first use), or the
/// series removed and its handle dropped while there is no value.
fn set_or_remove_in<V: Kind, N>(
    slots: &mut Vec<(usize, Cell<V>)>,
    key: usize,
    family: &BlockFamily<TargetLabels, V>,
    l: &TargetLabels,
    value: Option<N>,
) where
    Cell<V>: SetGauge<N>,
{
    let at = slots.iter().position(|(k, _)| *k == key);
    match (value, at) {
        (Some(v), Some(i)) => {
            slots[i].1.set_to(v);
        }
        (Some(v), None) => {
            let g = family.get_or_create_owned(l);
            g.set_to(v);
            slots.push((key, g));
        }
        (None, Some(i)) => {
            family.remove(l);
            slots.swap_remove(i);
        }
        (None, None) => {}
    }
}

/// A gauge's handle, set to an `N`.
trait SetGauge<N> {
    fn set_to(&self, v: N);
}

impl SetGauge<f64> for Cell<FloatGaugeKind> {
    fn set_to(&self, v: f64) {
        self.set(v);
    }
}

impl SetGauge<i64> for Cell<IntGaugeKind> {
    fn set_to(&self, v: i64) {
        self.set(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> TargetLabels {
        TargetLabels {
            target: "t".into(),
            namespace: "ns".into(),
            deployment: "d".into(),
        }
    }

    #[test]
    fn a_handle_sets_the_exported_series_and_is_taken_again_after_a_change_of_leadership() {
        let t = Telemetry::new();
        t.set_exporting_targets(true);
        let mut s = TargetSeries::default();
        s.always(&t, &labels()).recommended_replicas.set(7);
        assert!(t.encode().contains(
            "prescale_recommended_replicas{target=\"t\",namespace=\"ns\",deployment=\"d\"} 7"
        ));
        // Losing and regaining leadership drops every series: the handle is taken afresh.
        t.set_exporting_targets(false);
        t.set_exporting_targets(true);
        s.always(&t, &labels()).recommended_replicas.set(8);
        assert!(t.encode().contains(
            "prescale_recommended_replicas{target=\"t\",namespace=\"ns\",deployment=\"d\"} 8"
        ));
    }

    #[test]
    fn an_optional_gauge_is_there_only_while_it_has_a_value() {
        let t = Telemetry::new();
        t.set_exporting_targets(true);
        let mut s = TargetSeries::default();
        let family = &t.observed_queue_depth;
        s.set_or_remove(&t, 0, family, &labels(), Some(3.0));
        assert!(t.encode().contains("prescale_observed_queue_depth{"));
        s.set_or_remove(&t, 0, family, &labels(), None);
        assert!(!t.encode().contains("prescale_observed_queue_depth{"));
        s.set_or_remove(&t, 0, family, &labels(), Some(4.0));
        assert!(t.encode().contains(
            "prescale_observed_queue_depth{target=\"t\",namespace=\"ns\",deployment=\"d\"} 4"
        ));
    }
}
