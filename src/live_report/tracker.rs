//! One target's two schedules, advanced tick by tick on the observed arrivals with the
//! bench's fluid queue: what ran (the Deployment's replicas, serving with its ready ones) and
//! what prescale recommends (each recommendation applied at its tick, new pods ready a
//! start-up time later, removals taking starting pods first, as in BENCH.md).
//!
//! Pure: the controller, tests and any replay feed it [`TickInput`]s. The interval between
//! two ticks is modelled at the second one, with the arrivals it reports, the capacity per
//! replica then known, and the pods each schedule had at the first (the bench's `n_j`: pods
//! ready at the start of the tick serve during it).

use super::{ScheduleTotals, Totals};
use crate::simulate::{FluidQueue, Pods, Settled};

/// An interval longer than this many decision intervals is not modelled: one arrival-rate
/// reading cannot stand for it (a stalled controller, a clock jump, a long outage).
pub const MAX_STEP_INTERVALS: f64 = 4.0;

/// What one tick saw and decided, in the controller's units (documents, seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TickInput {
    /// Time of the tick, seconds (Unix time in the controller).
    pub t: f64,
    /// Arrival rate over the interval that ends now, documents/s.
    pub arrival_rate: Option<f64>,
    /// Documents waiting now.
    pub queue_depth: Option<f64>,
    /// Completion rate over the interval that ends now, documents/s.
    pub completion_rate: Option<f64>,
    /// The Deployment's replicas from now on (`spec.replicas`, after any write this tick).
    pub current: u32,
    /// Ready replicas now.
    pub ready: u32,
    /// prescale's recommendation now.
    pub recommended: u32,
    /// Documents/s one ready replica serves (learned).
    pub capacity_per_replica: f64,
    /// Start-up lead time in use, seconds.
    pub startup_s: f64,
}

#[derive(Debug, Clone, Copy)]
struct Previous {
    t: f64,
    current: u32,
    ready: u32,
    queue_depth: Option<f64>,
}

#[derive(Debug, Clone)]
struct Schedules {
    actual: FluidQueue,
    recommended: FluidQueue,
    /// The recommended schedule's pods.
    pods: Pods,
}

/// One target's live comparison of what ran with what prescale recommends.
#[derive(Debug, Clone)]
pub struct LiveTracker {
    slo_s: f64,
    max_step_s: f64,
    previous: Option<Previous>,
    schedules: Option<Schedules>,
}

fn usable(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite() && *v >= 0.0)
}

impl LiveTracker {
    /// A tracker for a target with queue-wait SLO `slo_s` ticking every `interval_s`.
    pub fn new(slo_s: f64, interval_s: f64) -> Self {
        let mut tracker = LiveTracker {
            slo_s,
            max_step_s: 0.0,
            previous: None,
            schedules: None,
        };
        tracker.reconfigure(slo_s, interval_s);
        tracker
    }

    /// Take a new SLO and interval (a reloaded config) without losing the queues.
    pub fn reconfigure(&mut self, slo_s: f64, interval_s: f64) {
        self.slo_s = slo_s;
        self.max_step_s = MAX_STEP_INTERVALS * interval_s;
        if let Some(s) = &mut self.schedules {
            s.actual.set_late_after(Some(slo_s));
            s.recommended.set_late_after(Some(slo_s));
        }
    }

    /// Documents that arrived under each schedule whose wait is not settled yet (actual,
    /// recommended): at most the SLO's worth of arrivals each.
    pub fn unsettled(&self) -> (f64, f64) {
        self.schedules.as_ref().map_or((0.0, 0.0), |s| {
            (
                s.actual.unsettled_arrivals(),
                s.recommended.unsettled_arrivals(),
            )
        })
    }

    /// Model the interval since the previous tick, then apply this tick's recommendation.
    /// Returns what the interval added.
    pub fn tick(&mut self, input: &TickInput) -> Totals {
        let mut delta = Totals::default();
        if let (Some(previous), Some(schedules)) = (self.previous, &mut self.schedules) {
            let dt = input.t - previous.t;
            // dt <= 0 (a clock stepped back, a repeated reading): nothing to model.
            if dt > 0.0 {
                let arrivals = arrivals(&previous, input, dt);
                let mu = input.capacity_per_replica;
                match arrivals {
                    Some(a) if dt <= self.max_step_s && mu.is_finite() && mu >= 0.0 => {
                        let slo = self.slo_s;
                        let ready = f64::from(previous.ready);
                        schedules.actual.advance(
                            dt,
                            a,
                            dt * (mu * ready),
                            settle(&mut delta.actual, slo),
                        );
                        delta.actual.replica_seconds += f64::from(previous.current) * dt;
                        let ready = f64::from(schedules.pods.ready_at(previous.t));
                        schedules.recommended.advance(
                            dt,
                            a,
                            dt * (mu * ready),
                            settle(&mut delta.recommended, slo),
                        );
                        delta.recommended.replica_seconds += f64::from(schedules.pods.total()) * dt;
                        delta.modelled_seconds += dt;
                    }
                    _ => delta.unmodelled_seconds += dt,
                }
            }
        }
        let schedules = self.schedules.get_or_insert_with(|| {
            // Both schedules start from the workload as it is: its queue and its pods.
            let backlog = usable(input.queue_depth).unwrap_or(0.0);
            let queue = || {
                let mut q = FluidQueue::with_backlog(backlog);
                q.set_late_after(Some(self.slo_s));
                q
            };
            let ready = input.ready.min(input.current);
            Schedules {
                actual: queue(),
                recommended: queue(),
                pods: Pods::existing(
                    ready,
                    input.current - ready,
                    input.t,
                    input.t + input.startup_s,
                ),
            }
        });
        schedules
            .pods
            .scale_to(input.recommended, input.t, input.startup_s);
        self.previous = Some(Previous {
            t: input.t,
            current: input.current,
            ready: input.ready,
            queue_depth: input.queue_depth,
        });
        delta
    }
}

/// Documents that arrived in the `dt` seconds before `input`: the arrival rate times `dt`,
/// or, without one, what the queue gained plus what was served.
fn arrivals(previous: &Previous, input: &TickInput, dt: f64) -> Option<f64> {
    if let Some(rate) = usable(input.arrival_rate) {
        return Some(dt * rate);
    }
    let (q0, q1, done) = (
        usable(previous.queue_depth)?,
        usable(input.queue_depth)?,
        usable(input.completion_rate)?,
    );
    Some((q1 - q0 + done * dt).max(0.0))
}

fn settle(totals: &mut ScheduleTotals, slo_s: f64) -> impl FnMut(Settled) + '_ {
    move |s| {
        totals.documents += s.arrivals;
        if s.wait > slo_s {
            totals.late_documents += s.arrivals;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(t: f64, rate: f64, current: u32, recommended: u32) -> TickInput {
        TickInput {
            t,
            arrival_rate: Some(rate),
            queue_depth: Some(0.0),
            completion_rate: None,
            current,
            ready: current,
            recommended,
            capacity_per_replica: 1.0,
            startup_s: 30.0,
        }
    }

    #[test]
    fn the_first_tick_only_starts_the_schedules() {
        let mut t = LiveTracker::new(60.0, 15.0);
        assert_eq!(t.tick(&input(1000.0, 5.0, 5, 5)), Totals::default());
    }

    #[test]
    fn replica_seconds_follow_each_schedule_and_new_pods_wait_for_startup() {
        let mut t = LiveTracker::new(60.0, 15.0);
        t.tick(&input(0.0, 2.0, 2, 4));
        // Interval [0, 15): actual 2 pods, recommended 4 (2 of them starting until 30 s).
        let d = t.tick(&input(15.0, 2.0, 2, 4));
        assert_eq!(d.actual.replica_seconds, 30.0);
        assert_eq!(d.recommended.replica_seconds, 60.0);
        assert_eq!(d.modelled_seconds, 15.0);
        // 30 arrivals, 2 ready pods serve 30: both settle all, nothing late.
        assert_eq!((d.actual.documents, d.recommended.documents), (30.0, 30.0));
        assert_eq!(d.actual.late_documents + d.recommended.late_documents, 0.0);
    }

    #[test]
    fn an_underprovisioned_schedule_makes_documents_late_and_the_other_does_not() {
        // 4 documents/s; what ran has 1 pod (1/s), prescale asks for 4 at once.
        let mut t = LiveTracker::new(60.0, 15.0);
        t.tick(&input(0.0, 4.0, 1, 4));
        let mut total = Totals::default();
        for j in 1..=40 {
            total += t.tick(&input(15.0 * f64::from(j), 4.0, 1, 4));
        }
        let late = |s: &ScheduleTotals| s.late_fraction().unwrap_or(0.0);
        assert!(late(&total.actual) > 0.5, "{total:?}");
        // Recommended: 1 pod serves for the first 30 s (the start-up), then 4 drain it.
        assert_eq!(total.recommended.late_documents, 0.0, "{total:?}");
        assert!(total.recommended.documents > 0.0);
    }

    #[test]
    fn gaps_and_long_steps_are_unmodelled_never_zero_load() {
        let mut t = LiveTracker::new(60.0, 15.0);
        t.tick(&input(0.0, 2.0, 2, 2));
        let mut missing = input(15.0, 2.0, 2, 2);
        missing.arrival_rate = None;
        missing.queue_depth = None;
        let d = t.tick(&missing);
        assert_eq!((d.modelled_seconds, d.unmodelled_seconds), (0.0, 15.0));
        assert_eq!(d.actual.replica_seconds, 0.0);
        let d = t.tick(&input(15.0 + 61.0, 2.0, 2, 2));
        assert_eq!(d.unmodelled_seconds, 61.0, "more than 4 intervals");
        let d = t.tick(&input(91.0, 2.0, 2, 2));
        assert_eq!(d.modelled_seconds, 15.0);
        let d = t.tick(&input(80.0, 2.0, 2, 2));
        assert_eq!(d, Totals::default(), "a clock stepping back models nothing");
    }

    #[test]
    fn without_an_arrival_rate_arrivals_come_from_the_queue_and_completions() {
        let mut t = LiveTracker::new(60.0, 15.0);
        let mut first = input(0.0, 0.0, 2, 2);
        first.arrival_rate = None;
        first.queue_depth = Some(10.0);
        t.tick(&first);
        let mut next = first;
        next.t = 15.0;
        next.queue_depth = Some(40.0);
        next.completion_rate = Some(2.0);
        t.tick(&next);
        // 30 more waiting plus 30 served: 60 arrived, behind the 10 already waiting; 2
        // ready pods served 30, so tick 1's mid-point arrival (the 40th) is still queued.
        assert_eq!(t.unsettled(), (60.0, 60.0));
        let d = t.tick(&input(30.0, 0.0, 2, 2));
        // Departures reach 40 at 20 s: a 12.5 s wait for all 60, none late.
        assert_eq!(d.actual.documents, 60.0);
        assert_eq!(d.actual.late_documents, 0.0);
        assert_eq!(d.modelled_seconds, 15.0);
        assert_eq!(t.unsettled(), (0.0, 0.0));
    }
}
