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

fn replicas(rate: f64, per_replica: f64) -> u32 {
    let r = (rate / per_replica - 1e-9).ceil();
    if r.is_finite() && r > 0.0 {
        r.min(f64::from(u32::MAX)) as u32
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
    let cap = (DRAIN_CAP * replicas(expected, i.per_replica)).max(1);
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
