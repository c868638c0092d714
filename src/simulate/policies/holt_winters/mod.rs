//! `holt-winters`: the PHPA/AWS-style predictive peer of issue 10's bar.
//!
//! Definition (`shared/bench-reference.json`, "peers"): every hour from 48 h on, fit additive
//! damped-trend, additive-seasonal (24 h) exponential smoothing (statsmodels
//! `ExponentialSmoothing`, estimated initialisation) to the hourly mean arrival rate observed
//! so far; raw = max(hpa raw, ceil(forecast rate of the hour containing t + startup /
//! (0.85 * mu))); then the HPA's stabilisation, limits and bounds.
//!
//! The fit is statsmodels' (`fit.rs`): its starting states, its grid search for the smoothing
//! parameters, its parameter transform and bounds, the same objective, and a bounded
//! L-BFGS-B (`lbfgsb/`). The policy is causal: it fits what it has observed, nothing else.

mod fit;
mod initial;
mod lbfgsb;
mod smoothing;
#[cfg(test)]
mod tests;

pub use fit::{FitError, fit};
pub use smoothing::{PERIOD, Smoothing};

use super::hpa::{DefaultBehavior, HpaMetric};
use crate::simulate::{
    BenchObservation, BenchParams, BenchPolicy, HPA_TARGET_UTILIZATION, bench_ceil,
};

const HOUR_S: f64 = 3_600.0;
/// The first fit needs two whole days of hourly means.
const FIRST_FIT_HOURS: usize = 48;
/// The forecast is divided by this target utilisation, as PHPA's recipe does.
const TARGET_UTILIZATION: f64 = 0.85;

/// The forecasts of the latest fit: hourly mean arrival rates for the hours from
/// `first_hour` on (`first_hour` = the number of hours the fit saw).
#[derive(Debug, Clone, PartialEq)]
pub struct HourlyForecasts {
    /// Index of the first forecast hour.
    pub first_hour: usize,
    /// Forecast arrival rate (documents/s) of hours `first_hour`, `first_hour + 1`, ….
    pub rates: Vec<f64>,
}

impl HourlyForecasts {
    /// The forecast rate of hour `hour`, if this fit covers it.
    pub fn rate(&self, hour: usize) -> Option<f64> {
        let k = hour.checked_sub(self.first_hour)?;
        self.rates.get(k).copied().filter(|r| r.is_finite())
    }
}

/// The HPA with a floor from hourly Holt-Winters forecasts.
pub struct HoltWinters {
    params: BenchParams,
    /// Mean arrival rate of every whole hour observed.
    hourly: Vec<f64>,
    /// Sum and count of the rates observed in the hour being filled.
    current: (f64, usize),
    forecasts: Option<HourlyForecasts>,
    /// Forecasts each fit makes: enough to reach the hour containing `t + startup` until the
    /// next fit.
    steps: usize,
    behavior: DefaultBehavior,
}

impl HoltWinters {
    /// The policy, told the bench's parameters (the start-up is its lead time).
    pub fn new(params: &BenchParams) -> Self {
        HoltWinters {
            params: *params,
            hourly: Vec::new(),
            current: (0.0, 0),
            forecasts: None,
            steps: ((HOUR_S + params.startup) / HOUR_S).floor() as usize + 1,
            behavior: DefaultBehavior::default(),
        }
    }

    /// The latest fit's forecasts.
    pub fn forecasts(&self) -> Option<&HourlyForecasts> {
        self.forecasts.as_ref()
    }

    /// Add the previous tick's arrivals; close every hour that has ended by `t`. True when a
    /// new whole hour was closed.
    fn observe(&mut self, obs: &BenchObservation) -> bool {
        let tick = self.params.tick;
        if obs.tick == 0 {
            return false;
        }
        let start = obs.t - tick;
        let hour = (start / HOUR_S).floor() as usize;
        while self.hourly.len() < hour {
            self.close_hour();
        }
        self.current.0 += obs.arrivals / tick;
        self.current.1 += 1;
        let mut closed = false;
        while obs.t >= HOUR_S * (self.hourly.len() + 1) as f64 {
            self.close_hour();
            closed = true;
        }
        closed
    }

    fn close_hour(&mut self) {
        let (sum, count) = self.current;
        self.hourly
            .push(if count == 0 { 0.0 } else { sum / count as f64 });
        self.current = (0.0, 0);
    }

    fn refit(&mut self) {
        match fit(&self.hourly) {
            Ok(fitted) => {
                self.forecasts = Some(HourlyForecasts {
                    first_hour: self.hourly.len(),
                    rates: fitted.forecast(&self.hourly, self.steps),
                });
            }
            Err(e) => {
                // The previous forecasts stay in force; a fit only fails on a series the
                // policy never builds (fewer than two days), so this is a bug to report.
                tracing::warn!(hours = self.hourly.len(), error = %e, "holt-winters: fit failed");
            }
        }
    }
}

impl BenchPolicy for HoltWinters {
    fn decide(&mut self, obs: &BenchObservation) -> u32 {
        if self.observe(obs) && self.hourly.len() >= FIRST_FIT_HOURS {
            self.refit();
        }
        let hpa = HpaMetric::Utilization(HPA_TARGET_UTILIZATION).raw(obs, &self.params);
        let hour = ((obs.t + self.params.startup) / HOUR_S).floor() as usize;
        let forecast = self
            .forecasts
            .as_ref()
            .and_then(|f| f.rate(hour))
            .map_or(0, |rate| {
                bench_ceil(rate / (TARGET_UTILIZATION * self.params.mu)).max(0.0) as u32
            });
        self.behavior.apply(obs.t, obs.pods, hpa.max(forecast))
    }
}
