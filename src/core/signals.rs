//! The signals that propose a replica count, each from one reading of the situation.

use super::Signal;
use crate::forecast::Prediction;

/// Everything the signals need, already learned and observed.
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    /// Documents/s one ready replica serves.
    pub per_replica: f64,
    /// The highest observed arrival rate of the last lead time and interval (`None` when
    /// the arrival rate is missing now).
    pub arrival_rate: Option<f64>,
    /// Documents waiting.
    pub queue_depth: Option<f64>,
    /// Observed queue wait, seconds.
    pub wait_s: Option<f64>,
    /// Queue-wait SLO, seconds.
    pub slo_s: f64,
    /// Target utilisation of the reactive signal.
    pub target_utilization: f64,
    /// The forecast over `[t, t + lead time + interval]`.
    pub prediction: Option<Prediction>,
}

/// Fraction of the SLO the backlog is drained within.
const DRAIN_WITHIN: f64 = 0.5;
/// The drain signals ask for at most this multiple of the replicas the arrivals need.
const DRAIN_CAP: u32 = 3;
/// Wait, as a fraction of the SLO, at which the latency guard acts.
const GUARD_AT: f64 = 0.5;

/// Replicas for `rate` at `per_replica` each, saturating: arithmetic on an absurd reading
/// that overflows to +inf asks for the most replicas, never for none.
fn replicas(rate: f64, per_replica: f64) -> u32 {
    let r = (rate / per_replica - 1e-9).ceil();
    if r > 0.0 {
        // `as` saturates (+inf becomes u32::MAX); NaN fails `r > 0.0` and asks for none.
        r as u32
    } else {
        0
    }
}

/// Each signal's proposal; signals without their inputs propose nothing.
pub fn proposals(i: &Inputs) -> Vec<(Signal, u32)> {
    let mut out = Vec::with_capacity(4);
    let expected = i
        .prediction
        .map_or(0.0, |p| p.rate)
        .max(i.arrival_rate.unwrap_or(0.0));
    if let Some(rate) = i.arrival_rate {
        out.push((
            Signal::Reactive,
            replicas(rate / i.target_utilization, i.per_replica),
        ));
    }
    if let Some(p) = i.prediction {
        out.push((Signal::Forecast, replicas(p.upper, i.per_replica)));
    }
    // A backlog is drained by at most this many: new pods arrive a lead time from now, so
    // asking for far more than the load needs only overshoots once they come.
    // Saturating: a counter queried without rate() reads ~1e9/s, and its replica count
    // (clamped to u32::MAX) times the cap must not overflow.
    let cap = replicas(expected, i.per_replica)
        .saturating_mul(DRAIN_CAP)
        .max(1);
    if let Some(q) = i.queue_depth
        && q > 0.0
    {
        out.push((
            Signal::BacklogDrain,
            replicas(expected + q / (DRAIN_WITHIN * i.slo_s), i.per_replica).min(cap),
        ));
        if let Some(w) = i.wait_s
            && w > GUARD_AT * i.slo_s
        {
            // Waits near the SLO: drain twice as fast, now.
            out.push((
                Signal::LatencyGuard,
                replicas(expected + 2.0 * q / (DRAIN_WITHIN * i.slo_s), i.per_replica).min(cap),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(rate: f64, queue: f64) -> Inputs {
        Inputs {
            per_replica: 1.0,
            arrival_rate: Some(rate),
            queue_depth: Some(queue),
            wait_s: Some(1e9),
            slo_s: 60.0,
            target_utilization: 0.85,
            prediction: None,
        }
    }

    #[test]
    fn absurd_readings_saturate_instead_of_overflowing_the_drain_cap() {
        // A counter queried without rate(): ~1e9/s, or a total in the trillions.
        for rate in [1e9, 1e13, f64::MAX] {
            let out = proposals(&inputs(rate, 1e12));
            // Every signal asks for at least what the arrivals need, saturating at u32::MAX.
            let floor = rate.min(f64::from(u32::MAX)) as u32;
            assert_eq!(out.len(), 3, "{out:?}");
            assert!(out.iter().all(|&(_, r)| r >= floor), "{rate}: {out:?}");
        }
    }

    #[test]
    fn the_drain_cap_still_bounds_a_backlog() {
        // 2/s arriving needs 2 replicas; a huge backlog asks for at most 3 x 2.
        let out = proposals(&inputs(2.0, 1e6));
        assert!(out.contains(&(Signal::BacklogDrain, 6)), "{out:?}");
    }
}
