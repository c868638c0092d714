//! Scores of a run (BENCH.md, "Scores").

use super::{BenchParams, Load, Run, model::FirstReach};

/// The bench's scores for one policy on one trace.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Scores {
    /// Arrival-weighted fraction of documents whose wait exceeds the SLO.
    pub late_fraction: f64,
    /// Arrival-weighted 99th percentile of the wait, seconds.
    pub p99_wait_s: f64,
    /// Pod-hours paid for, starting pods included.
    pub replica_hours: f64,
    /// `replica_hours / replica_hours(oracle)`.
    pub cost_vs_oracle: f64,
    /// Scored decisions that changed the pod count.
    pub scale_events: u64,
}

/// The wait of each tick's mid-point arrival: `w_j = D⁻¹(A(m_j)) - m_j`.
pub fn waits(run: &Run, load: &Load) -> Vec<f64> {
    let tick = load.tick;
    let mut reach = FirstReach::default();
    let a = &run.cum_arrivals;
    (0..run.arrivals.len())
        .map(|j| {
            let start = tick * j as f64;
            let mid = start + tick / 2.0;
            let at_mid = a[j] + (a[j + 1] - a[j]) * ((mid - start) / tick);
            match reach.try_time(&run.cum_departures, at_mid, tick) {
                Some(t) => t - mid,
                None => load.end_s - mid,
            }
        })
        .collect()
}

/// Score `run`; `oracle_hours` is the oracle's replica-hours on the same load (pass the
/// run's own hours to score the oracle itself).
pub fn score(load: &Load, params: &BenchParams, run: &Run, oracle_hours: Option<f64>) -> Scores {
    let first = load.first_scored_tick();
    let waits = waits(run, load);
    let mut weighted: Vec<(f64, f64)> = (first..run.arrivals.len())
        .map(|j| (waits[j].max(0.0), run.arrivals[j]))
        .collect();
    // Folded from +0.0: an empty float `sum()` is -0.0, which would print as `-0`.
    let total = weighted.iter().fold(0.0, |acc, (_, a)| acc + a);
    let late = weighted
        .iter()
        .filter(|(w, _)| *w > params.slo_wait)
        .fold(0.0, |acc, (_, a)| acc + a);
    weighted.sort_by(|x, y| x.0.total_cmp(&y.0));
    let threshold = 0.99 * total;
    let mut cumulative = 0.0;
    let mut p99 = weighted.last().map_or(0.0, |(w, _)| *w);
    for (w, a) in &weighted {
        cumulative += a;
        if cumulative >= threshold {
            p99 = *w;
            break;
        }
    }
    let pod_ticks: u64 = run.pods[first..].iter().map(|&p| p as u64).sum();
    let replica_hours = pod_ticks as f64 * load.tick / 3600.0;
    let mut scale_events = 0;
    let mut before = if first == 0 { 1 } else { run.pods[first - 1] };
    for &p in &run.pods[first..] {
        if p != before {
            scale_events += 1;
        }
        before = p;
    }
    Scores {
        late_fraction: if total > 0.0 { late / total } else { 0.0 },
        p99_wait_s: p99,
        replica_hours,
        cost_vs_oracle: replica_hours / oracle_hours.unwrap_or(replica_hours),
        scale_events,
    }
}
