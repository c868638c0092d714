//! How far off the forecast has been lately, for the "forecast error far above its usual
//! level" alert: at each tick the forecast for the interval ahead is remembered, and at the
//! next tick compared with the arrival rate observed over it. The gauge is the weighted
//! absolute percentage error over about the last hour: the mean absolute error divided by
//! the mean arrival rate (both exponentially weighted with a one-hour time constant), so
//! quiet minutes do not blow it up the way a per-tick percentage would.

/// The time constant of the averages, seconds.
pub const WINDOW_S: f64 = 3600.0;

/// Below this mean arrival rate (documents/s) there is too little load for a relative error.
const MIN_LEVEL: f64 = 1e-6;

/// One target's recent forecast error.
#[derive(Debug, Clone, Default)]
pub struct ForecastError {
    /// `(t, rate)`: the forecast made at `t` for the interval after it.
    expected: Option<(f64, f64)>,
    abs_error: f64,
    level: f64,
    samples: u64,
}

impl ForecastError {
    /// Compare the arrival rate observed at `t` (over the interval that ends at `t`) with
    /// the forecast made at the previous tick, if it was made at most `max_step_s` before.
    pub fn observe(&mut self, t: f64, observed: Option<f64>, max_step_s: f64) {
        let Some((at, forecast)) = self.expected.take() else {
            return;
        };
        let Some(rate) = observed.filter(|r| r.is_finite() && *r >= 0.0) else {
            return;
        };
        let dt = t - at;
        if !(dt > 0.0 && dt <= max_step_s) {
            return;
        }
        let error = (rate - forecast).abs();
        if self.samples == 0 {
            (self.abs_error, self.level) = (error, rate);
        } else {
            let w = 1.0 - (-dt / WINDOW_S).exp();
            self.abs_error += w * (error - self.abs_error);
            self.level += w * (rate - self.level);
        }
        self.samples += 1;
    }

    /// Remember the forecast made at `t` for the interval after it (`None`: no forecast).
    pub fn expect(&mut self, t: f64, forecast: Option<f64>) {
        self.expected = forecast
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| (t, f));
    }

    /// The recent mean absolute error over the recent mean arrival rate (0.2: forecasts
    /// off by 20 % of the load); `None` before a comparison, or without load to compare.
    pub fn ratio(&self) -> Option<f64> {
        (self.samples > 0 && self.level > MIN_LEVEL).then(|| self.abs_error / self.level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forecast_off_by_a_fifth_reads_as_0_2() {
        let mut e = ForecastError::default();
        let mut t = 0.0;
        for _ in 0..500 {
            e.observe(t, Some(10.0), 60.0);
            e.expect(t, Some(12.0));
            t += 15.0;
        }
        let r = e.ratio().expect("a ratio");
        assert!((r - 0.2).abs() < 1e-9, "{r}");
    }

    #[test]
    fn a_worse_recent_hour_raises_it_above_its_usual_level() {
        let mut e = ForecastError::default();
        let mut t = 0.0;
        for j in 0..2000 {
            let observed = if j < 1700 { 10.0 } else { 20.0 };
            e.observe(t, Some(observed), 60.0);
            e.expect(t, Some(10.5));
            t += 15.0;
        }
        assert!(e.ratio().expect("a ratio") > 0.3);
    }

    #[test]
    fn no_forecast_a_gap_or_no_load_gives_no_sample() {
        let mut e = ForecastError::default();
        e.observe(0.0, Some(5.0), 60.0);
        assert_eq!(e.ratio(), None, "nothing forecast yet");
        e.expect(0.0, Some(5.0));
        e.observe(120.0, Some(5.0), 60.0);
        assert_eq!(e.ratio(), None, "too long after the forecast");
        e.expect(120.0, Some(1.0));
        e.observe(135.0, Some(0.0), 60.0);
        assert_eq!(e.ratio(), None, "no load to compare with");
    }
}
