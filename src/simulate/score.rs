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

#[cfg(test)]
impl Scores {
    /// Scores with only a late fraction and replica-hours (for tests of what compares them).
    pub(crate) fn late_and_hours(late_fraction: f64, replica_hours: f64) -> Scores {
        Scores {
            late_fraction,
            p99_wait_s: 0.0,
            replica_hours,
            cost_vs_oracle: 1.0,
            scale_events: 0,
        }
    }
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
    score_where(load, params, run, oracle_hours, |j| j >= first)
}

/// [`score`] over the ticks `scored` picks instead of those after the warm-up (a backtest
/// leaves out the ticks whose arrivals are unknown, and `tune` scores two parts of a window
/// apart). A scale event is counted in a scored tick whose pods differ from the tick
/// before's (or from the run's initial pods, for the first tick).
pub fn score_where(
    load: &Load,
    params: &BenchParams,
    run: &Run,
    oracle_hours: Option<f64>,
    scored: impl Fn(usize) -> bool,
) -> Scores {
    let waits = waits(run, load);
    let mut weighted = Vec::with_capacity(run.arrivals.len());
    let mut pod_ticks: u64 = 0;
    let mut scale_events = 0;
    for j in (0..run.arrivals.len()).filter(|&j| scored(j)) {
        weighted.push((waits[j].max(0.0), run.arrivals[j]));
        pod_ticks += u64::from(run.pods[j]);
        let before = if j == 0 {
            run.initial_pods
        } else {
            run.pods[j - 1]
        };
        if run.pods[j] != before {
            scale_events += 1;
        }
    }
    // Folded from +0.0: an empty float `sum()` is -0.0, which would print as `-0`.
    let total = weighted.iter().fold(0.0, |acc, (_, a)| acc + a);
    let late = weighted
        .iter()
        .filter(|(w, _)| *w > params.slo_wait)
        .fold(0.0, |acc, (_, a)| acc + a);
    let p99 = weighted_quantile(&mut weighted, 0.99);
    let replica_hours = pod_ticks as f64 * load.tick / 3600.0;
    Scores {
        late_fraction: if total > 0.0 { late / total } else { 0.0 },
        p99_wait_s: p99,
        replica_hours,
        cost_vs_oracle: replica_hours / oracle_hours.unwrap_or(replica_hours),
        scale_events,
    }
}

/// The weighted `q` quantile of `(value, weight)` pairs as BENCH.md defines the p99 wait:
/// the smallest value whose cumulative weight (values sorted) reaches `q` of the total
/// (summed in the order given, as the bench's reference implementations do); 0 when there
/// are no pairs. Sorts `pairs`.
pub fn weighted_quantile(pairs: &mut [(f64, f64)], q: f64) -> f64 {
    let total = pairs.iter().fold(0.0, |acc, (_, a)| acc + a);
    pairs.sort_by(|x, y| x.0.total_cmp(&y.0));
    let threshold = q * total;
    let mut cumulative = 0.0;
    for (w, a) in pairs.iter() {
        cumulative += a;
        if cumulative >= threshold {
            return *w;
        }
    }
    pairs.last().map_or(0.0, |(w, _)| *w)
}
