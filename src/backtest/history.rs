//! A target's history on the grid: one value (or none) per instant for each series, and
//! the checks that turn bad points into gaps rather than numbers.

use super::window::Grid;

/// One series on the grid: the value at each instant, `None` where there is none.
pub type Points = Vec<Option<f64>>;

/// What was read for one target, on one grid. A series that was not read (not configured,
/// or its query returned nothing) is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The instants.
    pub grid: Grid,
    /// Documents arriving per second over the interval ending at each instant.
    pub arrival_rate: Points,
    /// Documents waiting at each instant.
    pub queue_depth: Option<Points>,
    /// Documents completed per second over the interval ending at each instant.
    pub completions: Option<Points>,
    /// Observed p95 queue wait, seconds.
    pub wait_p95: Option<Points>,
    /// The Deployment's `spec.replicas`.
    pub replicas: Option<Points>,
    /// The Deployment's ready replicas.
    pub ready: Option<Points>,
}

/// Samples `(Unix seconds, value)` placed on `grid`; samples off the grid and non-finite
/// values are left out (a gap, never a number).
pub fn align(grid: &Grid, samples: &[(f64, f64)]) -> Points {
    let mut points = vec![None; grid.points];
    for &(t, v) in samples {
        if let Some(k) = grid.index(t)
            && v.is_finite()
        {
            points[k] = Some(v);
        }
    }
    points
}

/// Turn negative values into gaps; returns how many there were. A rate or a depth below
/// zero is not a measurement: typically a counter reset seen by `delta()`/`deriv()`/`idelta()`
/// (`rate()`, `irate()` and `increase()` account for resets) or a subtraction in the query.
pub fn drop_negative(points: &mut Points) -> usize {
    let mut dropped = 0;
    for p in points.iter_mut() {
        if p.is_some_and(|v| v < 0.0) {
            *p = None;
            dropped += 1;
        }
    }
    dropped
}

/// Arrivals per second from completions and the change of the queue: what entered the
/// queue over an interval is what left it plus what it grew by. `None` where either is
/// missing; a negative result (the two series sampled at slightly different times) is 0.
pub fn derive_arrivals(completions: &Points, queue_depth: &Points, step: f64) -> Points {
    (0..completions.len())
        .map(|k| {
            let done = completions[k]?;
            let now = queue_depth[k]?;
            let before = queue_depth[k.checked_sub(1)?]?;
            Some((done + (now - before) / step).max(0.0))
        })
        .collect()
}

/// The first and last instants with a value.
pub fn span(points: &Points) -> Option<(usize, usize)> {
    let first = points.iter().position(Option::is_some)?;
    let last = points.iter().rposition(Option::is_some)?;
    Some((first, last))
}

/// A replica count from a sample: a whole, non-negative, finite number.
pub fn replica_count(v: f64) -> Option<u32> {
    (v.is_finite() && v >= 0.0 && v <= f64::from(u32::MAX)).then(|| v.round() as u32)
}

/// A load trace (BENCH.md's CSV: arrivals per step) as a history on a grid of `tick`
/// seconds from t = 0: the rate of each tick at the instant it ends, and 0 at t = 0 (the
/// trace starts from nothing, as on the bench). No queue, completions or replicas.
/// `None` when `tick` does not divide the trace's step.
pub fn from_trace(trace: &crate::simulate::Trace, tick: f64) -> Option<History> {
    let step = trace.step_s as f64;
    if !(tick > 0.0 && step % tick == 0.0) {
        return None;
    }
    let per_step = (step / tick) as usize;
    let ticks = trace.values.len() * per_step;
    let mut arrival_rate = Vec::with_capacity(ticks + 1);
    arrival_rate.push(Some(0.0));
    arrival_rate.extend((0..ticks).map(|j| Some(trace.values[j / per_step] / step)));
    Some(History {
        grid: Grid {
            start: 0.0,
            step: tick,
            points: ticks + 1,
        },
        arrival_rate,
        queue_depth: None,
        completions: None,
        wait_p95: None,
        replicas: None,
        ready: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(points: usize) -> Grid {
        Grid {
            start: 1_000.0,
            step: 15.0,
            points,
        }
    }

    #[test]
    fn samples_land_on_their_instants_and_missing_ones_are_gaps() {
        let points = align(
            &grid(4),
            &[
                (1_000.0, 1.0),
                (1_030.0, f64::NAN),
                (1_045.0, 4.0),
                (1_007.0, 9.0),
            ],
        );
        assert_eq!(points, vec![Some(1.0), None, None, Some(4.0)]);
    }

    #[test]
    fn negative_rates_from_a_counter_reset_are_gaps_not_numbers() {
        let mut points = vec![Some(2.0), Some(-150.0), Some(3.0), None];
        assert_eq!(drop_negative(&mut points), 1);
        assert_eq!(points, vec![Some(2.0), None, Some(3.0), None]);
    }

    #[test]
    fn arrivals_are_completions_plus_queue_growth() {
        let done = vec![Some(1.0), Some(2.0), Some(2.0), Some(1.0), None];
        let queue = vec![Some(10.0), Some(40.0), Some(10.0), None, Some(0.0)];
        assert_eq!(
            derive_arrivals(&done, &queue, 15.0),
            vec![None, Some(4.0), Some(0.0), None, None]
        );
    }

    #[test]
    fn a_trace_becomes_a_rate_per_tick_at_the_end_of_each_tick() {
        let trace = crate::simulate::Trace {
            name: "t".into(),
            step_s: 30,
            values: vec![30.0, 60.0],
        };
        let h = from_trace(&trace, 15.0).unwrap();
        assert_eq!(h.grid.points, 5);
        assert_eq!(
            h.arrival_rate,
            vec![Some(0.0), Some(1.0), Some(1.0), Some(2.0), Some(2.0)]
        );
        assert!(from_trace(&trace, 20.0).is_none());
    }

    #[test]
    fn the_span_is_from_the_first_to_the_last_value() {
        assert_eq!(
            span(&vec![None, Some(1.0), None, Some(2.0), None]),
            Some((1, 3))
        );
        assert_eq!(span(&vec![None, None]), None);
        assert_eq!(replica_count(3.0000001), Some(3));
        assert_eq!(replica_count(-1.0), None);
    }
}
