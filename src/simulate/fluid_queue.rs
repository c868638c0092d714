//! BENCH.md's fluid FIFO queue advanced one tick at a time, for callers that learn each
//! tick's arrivals and capacity only as time goes on (the running controller's shadow
//! report), rather than running a whole load at once like [`super::run`].
//!
//! The arithmetic is the bench's, operation for operation: served `s = min(b + a, capacity)`,
//! backlog `b' = b + a - s`, cumulative arrivals `A` and departures `D = A - b` linear
//! between tick boundaries, and the wait of tick j's mid-point arrival
//! `w_j = D⁻¹(A(m_j)) - m_j`. Driven with the bench's ticks it gives `simulate::run`'s
//! served, backlog and waits exactly (`tests/fluid_queue.rs`).
//!
//! A wait is known only once `D` reaches the mid-point arrival, which may be many ticks
//! later; ticks wait in a FIFO until then. With [`FluidQueue::late_after`] a tick is
//! settled as late as soon as its wait must exceed the SLO, so the FIFO never holds more
//! than the SLO's worth of ticks, whatever the backlog does.

use std::collections::VecDeque;

/// The fate of one tick's arrivals, known once `D` reaches its mid-point arrival (or, with
/// [`FluidQueue::late_after`], once its wait must exceed the cutoff).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settled {
    /// Index of the tick (0 for the first [`FluidQueue::advance`]).
    pub tick: u64,
    /// Documents that arrived in the tick.
    pub arrivals: f64,
    /// The wait `w_j` (exact), or a lower bound above the cutoff (`exact == false`).
    pub wait: f64,
    /// Whether `wait` is the exact wait; `false` when settled by the cutoff.
    pub exact: bool,
}

/// One tick of the queue: what it served and what it left waiting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Documents served in the tick, `s_j`.
    pub served: f64,
    /// Backlog at the end of the tick, `b_{j+1}`.
    pub backlog: f64,
}

/// A tick whose wait is not known yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    tick: u64,
    /// `m_j`, on the queue's own clock.
    mid: f64,
    /// `A(m_j)`: the document whose departure ends the wait.
    reach: f64,
    arrivals: f64,
}

/// The bench's fluid FIFO queue, one tick at a time (see the module documentation).
#[derive(Debug, Clone)]
pub struct FluidQueue {
    /// The queue's own clock: the sum of the ticks' lengths so far.
    time: f64,
    backlog: f64,
    cum_arrivals: f64,
    cum_departures: f64,
    ticks: u64,
    pending: VecDeque<Pending>,
    late_after: Option<f64>,
}

impl Default for FluidQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl FluidQueue {
    /// An empty queue at time 0 (BENCH.md's initial state).
    pub fn new() -> Self {
        Self::with_backlog(0.0)
    }

    /// A queue that starts with `backlog` documents already waiting (ahead of every
    /// arrival; their own waits are not reported). Negative or non-finite counts as 0.
    pub fn with_backlog(backlog: f64) -> Self {
        let backlog = if backlog.is_finite() {
            backlog.max(0.0)
        } else {
            0.0
        };
        FluidQueue {
            time: 0.0,
            backlog,
            cum_arrivals: backlog,
            cum_departures: 0.0,
            ticks: 0,
            pending: VecDeque::new(),
            late_after: None,
        }
    }

    /// Settle a tick as late (with `exact: false`) once its wait must exceed `cutoff_s`
    /// seconds, instead of holding it until its exact wait is known. Whether a tick is late
    /// (`wait > cutoff_s`) is unchanged; memory stays bounded by the cutoff.
    pub fn late_after(mut self, cutoff_s: f64) -> Self {
        self.set_late_after(Some(cutoff_s));
        self
    }

    /// Change the cutoff of [`FluidQueue::late_after`] (`None`: exact waits only).
    pub fn set_late_after(&mut self, cutoff_s: Option<f64>) {
        self.late_after = cutoff_s;
    }

    /// Documents waiting now.
    pub fn backlog(&self) -> f64 {
        self.backlog
    }

    /// The queue's own clock: the sum of the ticks' lengths.
    pub fn time(&self) -> f64 {
        self.time
    }

    /// Documents that arrived in ticks whose wait is not settled yet.
    pub fn unsettled_arrivals(&self) -> f64 {
        self.pending.iter().map(|p| p.arrivals).sum()
    }

    /// Advance one tick of `dt` seconds in which `arrivals` documents arrive and the ready
    /// pods can serve `capacity` documents (the bench's `dt * (mu * n_j)`); `on_settled` is
    /// called, oldest first, for every tick whose wait became known. A tick without
    /// arrivals has no documents and so no wait: it is never reported.
    ///
    /// `dt` must be positive and every count finite and non-negative; anything else leaves
    /// the queue unchanged and returns `None`.
    pub fn advance(
        &mut self,
        dt: f64,
        arrivals: f64,
        capacity: f64,
        mut on_settled: impl FnMut(Settled),
    ) -> Option<Step> {
        let valid = |x: f64| x.is_finite() && x >= 0.0;
        if !(dt.is_finite() && dt > 0.0 && valid(arrivals) && valid(capacity)) {
            return None;
        }
        let start = self.time;
        let end = start + dt;
        let served = (self.backlog + arrivals).min(capacity);
        let backlog = self.backlog + arrivals - served;
        let (cum_before, dep_before) = (self.cum_arrivals, self.cum_departures);
        let cum = cum_before + arrivals;
        let dep = cum - backlog;
        if arrivals > 0.0 {
            let mid = start + dt / 2.0;
            self.pending.push_back(Pending {
                tick: self.ticks,
                mid,
                reach: cum_before + (cum - cum_before) * ((mid - start) / dt),
                arrivals,
            });
        }
        // D reached these mid-point arrivals within this tick: interpolate where.
        while let Some(p) = self.pending.front().copied()
            && p.reach <= dep
        {
            self.pending.pop_front();
            let at = start + dt * (p.reach - dep_before) / (dep - dep_before);
            on_settled(Settled {
                tick: p.tick,
                arrivals: p.arrivals,
                wait: at - p.mid,
                exact: true,
            });
        }
        if let Some(cutoff) = self.late_after {
            while let Some(p) = self.pending.front().copied()
                && end - p.mid > cutoff
            {
                self.pending.pop_front();
                on_settled(Settled {
                    tick: p.tick,
                    arrivals: p.arrivals,
                    wait: end - p.mid,
                    exact: false,
                });
            }
        }
        self.time = end;
        self.backlog = backlog;
        self.cum_arrivals = cum;
        self.cum_departures = dep;
        self.ticks += 1;
        Some(Step { served, backlog })
    }

    /// End of the horizon: every unsettled tick gets BENCH.md's `w_j = end - m_j`, with
    /// `end` the queue's clock now.
    pub fn finish(&mut self, mut on_settled: impl FnMut(Settled)) {
        while let Some(p) = self.pending.pop_front() {
            on_settled(Settled {
                tick: p.tick,
                arrivals: p.arrivals,
                wait: self.time - p.mid,
                exact: true,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle_all(q: &mut FluidQueue, ticks: &[(f64, f64)]) -> Vec<Settled> {
        let mut out = Vec::new();
        for &(a, c) in ticks {
            q.advance(15.0, a, c, |s| out.push(s)).expect("valid tick");
        }
        out
    }

    #[test]
    fn one_pod_under_twice_its_capacity_waits_as_computed_by_hand() {
        // bench_model.rs's hand case: 30 arrivals, 15 served per tick; A = 2t, D = t.
        let mut q = FluidQueue::new();
        let settled = settle_all(&mut q, &[(30.0, 15.0); 4]);
        assert_eq!(q.backlog(), 60.0);
        // The mid-point arrivals 15, 45 are reached at t = 15, 45: waits 7.5 and 22.5.
        let waits: Vec<f64> = settled.iter().map(|s| s.wait).collect();
        assert_eq!(waits, [7.5, 22.5]);
        let mut rest = Vec::new();
        q.finish(|s| rest.push(s.wait));
        assert_eq!(rest, [22.5, 7.5], "end - m_j for the ticks never reached");
    }

    #[test]
    fn the_cutoff_settles_a_growing_queue_as_late_and_keeps_memory_bounded() {
        let mut q = FluidQueue::new().late_after(60.0);
        let mut late = 0;
        for _ in 0..10_000 {
            q.advance(15.0, 30.0, 0.0, |s| {
                assert!(!s.exact && s.wait > 60.0);
                late += 1;
            });
        }
        assert!(q.pending.len() <= 5, "{}", q.pending.len());
        assert!(late >= 9_995);
    }

    #[test]
    fn a_backlog_at_start_delays_the_first_arrivals() {
        // 15 documents ahead, 15 served per tick: tick 0's mid-point arrival (the 7.5th
        // new one) leaves at 15 + 7.5 = 22.5 s, 15 s after it arrived at 7.5 s.
        let mut q = FluidQueue::with_backlog(15.0);
        let settled = settle_all(&mut q, &[(15.0, 15.0), (15.0, 15.0)]);
        assert_eq!(settled[0].wait, 15.0);
    }

    #[test]
    fn invalid_ticks_change_nothing() {
        let mut q = FluidQueue::with_backlog(f64::NAN);
        assert_eq!(q.backlog(), 0.0);
        for (dt, a, c) in [
            (0.0, 1.0, 1.0),
            (-15.0, 1.0, 1.0),
            (15.0, f64::NAN, 1.0),
            (15.0, -1.0, 1.0),
            (15.0, 1.0, f64::INFINITY),
        ] {
            assert_eq!(q.advance(dt, a, c, |_| panic!("nothing settles")), None);
        }
        assert_eq!((q.time(), q.backlog()), (0.0, 0.0));
    }
}
