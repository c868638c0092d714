//! The trace scaled to the bench's load (BENCH.md, "Load" and the horizon rules).

use super::{BenchParams, Trace};

const DAY: f64 = 86_400.0;

/// The arrival rate of every tick of the horizon, and how it was derived.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// Tick length, seconds.
    pub tick: f64,
    /// Arrival rate `λ_j` of each tick, documents/s.
    pub rates: Vec<f64>,
    /// End of the last whole tick of the horizon, seconds.
    pub end_s: f64,
    /// Ticks starting before this are simulated but not scored, seconds.
    pub warmup_s: f64,
    /// 99th percentile of `value / Δ` over the intervals inside the horizon.
    pub r99: f64,
    /// The scale factor `peak_replicas * mu / r99`.
    pub k: f64,
    /// Largest `λ` over the intervals inside the horizon.
    pub max_rate: f64,
}

/// Why a trace cannot be scaled.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LoadError {
    /// The 99th percentile is zero: no load to scale.
    #[error(
        "{0}: the 99th percentile of the arrival rate is 0, so the load cannot be scaled; use a trace with arrivals in more than 1% of its intervals"
    )]
    NoLoad(String),
    /// The trace is shorter than one tick, or its step is not a multiple of the tick.
    #[error(
        "{0}: the trace's step must be a multiple of the tick and the trace at least one tick long"
    )]
    Step(String),
}

impl Load {
    /// Scale `trace` as BENCH.md says.
    pub fn new(trace: &Trace, params: &BenchParams) -> Result<Load, LoadError> {
        let tick = params.tick;
        let step = trace.step_s as f64;
        if trace.step_s as f64 % tick != 0.0 {
            return Err(LoadError::Step(trace.name.clone()));
        }
        let full = trace.values.len() as f64 * step;
        let horizon = full.min(params.horizon_days * DAY);
        let ticks = (horizon / tick).floor() as usize;
        if ticks == 0 {
            return Err(LoadError::Step(trace.name.clone()));
        }
        let end_s = ticks as f64 * tick;
        let intervals = ((end_s / step).ceil() as usize).min(trace.values.len());
        let inside = &trace.values[..intervals];
        let per_second: Vec<f64> = inside.iter().map(|v| v / step).collect();
        let r99 = percentile_linear(&per_second, 0.99);
        if r99 <= 0.0 {
            return Err(LoadError::NoLoad(trace.name.clone()));
        }
        let k = params.peak_replicas * params.mu / r99;
        let interval_rates: Vec<f64> = inside.iter().map(|v| (k * v) / step).collect();
        let max_rate = interval_rates.iter().copied().fold(0.0, f64::max);
        let ticks_per_interval = (step / tick) as usize;
        let rates = (0..ticks)
            .map(|j| interval_rates[j / ticks_per_interval])
            .collect();
        let warmup_s = match params.warmup_days {
            Some(days) => days * DAY,
            None => default_warmup_days(end_s / DAY) * DAY,
        };
        Ok(Load {
            tick,
            rates,
            end_s,
            warmup_s,
            r99,
            k,
            max_rate,
        })
    }

    /// A load observed in the workload's own units (a backtest's arrivals, documents/s per
    /// tick): not rescaled (`k = 1`), no warm-up (the caller chooses the ticks it scores).
    pub fn observed(tick: f64, rates: Vec<f64>) -> Load {
        let r99 = percentile_linear(&rates, 0.99);
        let max_rate = rates.iter().copied().fold(0.0, f64::max);
        Load {
            tick,
            end_s: rates.len() as f64 * tick,
            rates,
            warmup_s: 0.0,
            r99,
            k: 1.0,
            max_rate,
        }
    }

    /// Number of ticks in the horizon.
    pub fn ticks(&self) -> usize {
        self.rates.len()
    }

    /// Index of the first scored tick.
    pub fn first_scored_tick(&self) -> usize {
        ((self.warmup_s / self.tick).ceil() as usize).min(self.ticks())
    }
}

/// BENCH.md's warm-up: 7 days; 1 day under a 14-day horizon; half a day under 3 days.
pub fn default_warmup_days(horizon_days: f64) -> f64 {
    if horizon_days < 3.0 {
        0.5
    } else if horizon_days < 14.0 {
        1.0
    } else {
        7.0
    }
}

/// The `q` quantile with linear interpolation between order statistics, computed as
/// numpy's default `percentile` does (including its two-sided interpolation formula), so
/// that the scale factor matches other implementations to the last bit.
pub fn percentile_linear(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = (sorted.len() - 1) as f64 * q;
    let below = index.floor();
    let gamma = index - below;
    let lo = below as usize;
    let a = sorted[lo];
    let b = sorted[(lo + 1).min(sorted.len() - 1)];
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_between_order_statistics() {
        assert_eq!(percentile_linear(&[4.0, 1.0, 3.0, 2.0], 0.5), 2.5);
        assert_eq!(percentile_linear(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.99), 4.96);
        assert_eq!(percentile_linear(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn scales_the_99th_percentile_to_the_peak_replicas() {
        let trace = Trace {
            name: "t".into(),
            step_s: 30,
            values: vec![30.0, 60.0, 0.0, 90.0],
        };
        let params = BenchParams {
            peak_replicas: 4.0,
            ..BenchParams::default()
        };
        let load = Load::new(&trace, &params).unwrap();
        // per-second values 1, 2, 0, 3: r99 = 2.97; k = 4 / 2.97.
        assert!((load.r99 - 2.97).abs() < 1e-12);
        assert_eq!(load.ticks(), 8);
        assert_eq!(load.rates[0], load.rates[1]);
        assert!((load.rates[6] - 3.0 * 4.0 / 2.97).abs() < 1e-12);
        assert_eq!(load.warmup_s, 0.5 * DAY);
    }

    #[test]
    fn horizon_is_cut_to_whole_days_limit() {
        let trace = Trace {
            name: "t".into(),
            step_s: 15,
            values: vec![1.0; 100],
        };
        let params = BenchParams {
            horizon_days: 600.0 / DAY,
            ..BenchParams::default()
        };
        let load = Load::new(&trace, &params).unwrap();
        assert_eq!(load.ticks(), 40);
        assert_eq!(load.end_s, 600.0);
    }
}
