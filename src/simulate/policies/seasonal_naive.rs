//! `seasonal-naive`: Grafana Mimir's predictive recipe, a predictive peer of issue 10's bar.
//!
//! Definition (`shared/bench-reference.json`, "peers"): raw = max(hpa raw, ceil(max arrival
//! rate observed in the ticks starting in `[t - L + startup, t - L + 1800]` / mu)),
//! L = 7 days (1 day when the horizon is under 14 days); then the HPA's stabilisation,
//! limits and bounds.
//!
//! Two readings of that text give different scores; the reference files are reproduced to
//! the last digit only by this one (the others move nasa's scale events from 3,938 to 3,946
//! or 5,123):
//! - the window is closed at both ends (a tick starting exactly at `t - L + 1800` counts);
//! - the stabilisation window records the combined raw value (the max), not the HPA's alone.

use std::collections::VecDeque;

use super::hpa::{DefaultBehavior, HpaMetric};
use crate::simulate::{
    BenchObservation, BenchParams, BenchPolicy, HPA_TARGET_UTILIZATION, Load, bench_ceil,
};

const DAY_S: f64 = 86_400.0;
/// The end of the look-ahead window, seconds after the lagged time.
const WINDOW_END_S: f64 = 1_800.0;

/// The lag `L`: a week, or a day when the horizon is under 14 days.
pub fn season_lag_s(horizon_s: f64) -> f64 {
    if horizon_s < 14.0 * DAY_S {
        DAY_S
    } else {
        7.0 * DAY_S
    }
}

/// The HPA with a floor from the same time one season ago.
pub struct SeasonalNaive {
    params: BenchParams,
    lag_s: f64,
    /// Observed arrival rates `(tick start, rate)`, oldest first, as far back as the window
    /// can reach.
    observed: VecDeque<(f64, f64)>,
    behavior: DefaultBehavior,
}

impl SeasonalNaive {
    /// The policy for `load` (it is told the horizon, to choose the lag).
    pub fn new(load: &Load, params: &BenchParams) -> Self {
        SeasonalNaive {
            params: *params,
            lag_s: season_lag_s(load.end_s),
            observed: VecDeque::new(),
            behavior: DefaultBehavior::default(),
        }
    }

    /// `ceil(max rate / mu)` over the ticks starting in `[from, to]`; 0 when none was observed.
    fn lagged_floor(&self, from: f64, to: f64) -> u32 {
        let peak = self
            .observed
            .iter()
            .take_while(|&&(start, _)| start <= to)
            .filter(|&&(start, _)| start >= from)
            .map(|&(_, rate)| rate)
            .fold(None, |acc: Option<f64>, r| {
                Some(acc.map_or(r, |a| a.max(r)))
            });
        peak.map_or(0, |rate| bench_ceil(rate / self.params.mu) as u32)
    }
}

impl BenchPolicy for SeasonalNaive {
    fn decide(&mut self, obs: &BenchObservation) -> u32 {
        let tick = self.params.tick;
        if obs.tick > 0 {
            self.observed.push_back((obs.t - tick, obs.arrivals / tick));
        }
        let from = obs.t - self.lag_s + self.params.startup;
        let to = obs.t - self.lag_s + WINDOW_END_S;
        // Nothing older than the window's start is needed again (the window only moves on).
        while self
            .observed
            .front()
            .is_some_and(|&(start, _)| start < from.min(to))
        {
            self.observed.pop_front();
        }
        let hpa = HpaMetric::Utilization(HPA_TARGET_UTILIZATION).raw(obs, &self.params);
        let raw = hpa.max(self.lagged_floor(from, to));
        self.behavior.apply(obs.t, obs.pods, raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_is_a_week_from_a_14_day_horizon_on() {
        assert_eq!(season_lag_s(13.9 * DAY_S), DAY_S);
        assert_eq!(season_lag_s(14.0 * DAY_S), 7.0 * DAY_S);
    }

    /// The decisions at `at` (ticks) on a 2-day horizon (lag: one day) when one tick, starting
    /// at 3,600 s, had 10 documents/s and every other none; 10 pods exist throughout.
    fn decisions(at: &[usize]) -> Vec<u32> {
        let params = BenchParams::default();
        let load = Load {
            tick: 15.0,
            rates: Vec::new(),
            end_s: 2.0 * DAY_S,
            warmup_s: 0.0,
            r99: 1.0,
            k: 1.0,
            max_rate: 10.0,
        };
        let mut policy = SeasonalNaive::new(&load, &params);
        let last = at.iter().copied().max().unwrap_or(0);
        let mut out = Vec::new();
        for j in 0..=last {
            let arrivals = if j == 241 { 150.0 } else { 0.0 };
            let obs = BenchObservation {
                tick: j,
                t: 15.0 * j as f64,
                arrivals,
                completions: arrivals,
                ready: 10,
                pods: 10,
                ..BenchObservation::default()
            };
            let desired = policy.decide(&obs);
            if at.contains(&j) {
                out.push(desired);
            }
        }
        out
    }

    #[test]
    fn the_floor_is_the_peak_of_the_window_a_season_ago_closed_at_both_ends() {
        // The busy tick starts at 3,600 s; it is in [t - L + 90, t - L + 1800] for
        // t in [88,200, 89,910] s: ticks 5,880 ..= 5,994.
        assert_eq!(decisions(&[5_879, 5_880, 5_994]), vec![0, 10, 10]);
    }
}
