//! Additive damped-trend, additive-seasonal exponential smoothing: statsmodels'
//! `ExponentialSmoothing(trend="add", damped_trend=True, seasonal="add")` recursion, its
//! sum of squared one-step errors and its forecasts, operation for operation.

/// The seasonal period, in observations (hours of a day).
pub const PERIOD: usize = 24;

/// Smoothing parameters and initial states: everything the fit estimates.
#[derive(Debug, Clone, PartialEq)]
pub struct Smoothing {
    /// Level smoothing, in (0, 1).
    pub alpha: f64,
    /// Trend smoothing, in [0, alpha].
    pub beta: f64,
    /// Seasonal smoothing, in [0, 1 - alpha].
    pub gamma: f64,
    /// Trend damping, in [0.8, 0.995].
    pub phi: f64,
    /// Initial level.
    pub level: f64,
    /// Initial trend.
    pub trend: f64,
    /// Initial seasonal effects, one per hour of the period.
    pub seasonal: [f64; PERIOD],
}

impl Smoothing {
    /// The sum of squared one-step-ahead errors over `y` (statsmodels' fit objective).
    pub fn sse(&self, y: &[f64]) -> f64 {
        sse_many(std::array::from_ref(self), y, f64::INFINITY)[0]
    }

    /// Forecasts 1..=`steps` observations past the end of `y`, as statsmodels'
    /// `HoltWintersResults.forecast` gives them. Its quirk is kept: a forecast a whole
    /// number of periods ahead uses the seasonal effect as it was before the last
    /// observation updated it.
    pub fn forecast(&self, y: &[f64], steps: usize) -> Vec<f64> {
        let n = y.len();
        let m = PERIOD;
        let (alpha, beta, gamma, phi) = (self.alpha, self.beta, self.gamma, self.phi);
        let (alphac, betac, gammac) = (1.0 - alpha, 1.0 - beta, 1.0 - gamma);
        let mut s = vec![0.0; n + m + steps + 1];
        s[..m].copy_from_slice(&self.seasonal);
        let mut level = self.level;
        let mut trend = self.trend;
        // statsmodels' `_predict` (numpy), whose order of operations differs a little from
        // the fit's objective: `betac * (b * phi)` here, `(betac * phi) * b` there.
        for i in 1..=n {
            let damped = level + trend * phi;
            let new_level = alpha * y[i - 1] - alpha * s[i - 1] + alphac * damped;
            let new_trend = beta * (new_level - level) + betac * (trend * phi);
            s[i + m - 1] = gamma * y[i - 1] - gamma * damped + gammac * s[i - 1];
            level = new_level;
            trend = new_trend;
        }
        // `s[nobs + m - 1:] = [s[(nobs - 1) + j % m] for j in range(h + 2)]`
        let tail: Vec<f64> = (0..steps + 2).map(|j| s[n - 1 + j % m]).collect();
        s[n + m - 1..].copy_from_slice(&tail);
        let mut damping = 0.0;
        (1..=steps)
            .map(|k| {
                damping += phi.powf(k as f64);
                level + trend * damping + s[n + k - 1]
            })
            .collect()
    }
}

/// The sum of squared one-step-ahead errors over `y` for `K` parameter sets at once, each
/// exactly as statsmodels' `holt_win_add_add_dam` computes it (the same operations in the
/// same order). The recursions are independent; running them in lockstep lets the processor
/// overlap their dependency chains, several times faster than one after the other.
///
/// A search for the smallest SSE can give up early: once every set's running sum (which only
/// grows) has reached `abandon_at`, none of them can beat it and all are returned as
/// infinite. With `abandon_at` infinite the sums are always exact.
///
/// A ring of one period holds the seasonal effects: slot `i % PERIOD` is the effect for
/// observation `i`.
pub fn sse_many<const K: usize>(sets: &[Smoothing; K], y: &[f64], abandon_at: f64) -> [f64; K] {
    let mut sse = [0.0; K];
    let Some(&first) = y.first() else {
        return sse;
    };
    let lanes = |f: fn(&Smoothing) -> f64| -> [f64; K] { std::array::from_fn(|k| f(&sets[k])) };
    let alpha = lanes(|p| p.alpha);
    let beta = lanes(|p| p.beta);
    let gamma = lanes(|p| p.gamma);
    let phi = lanes(|p| p.phi);
    let alphac = lanes(|p| 1.0 - p.alpha);
    let gammac = lanes(|p| 1.0 - p.gamma);
    // C evaluates `betac * phi * b` as `(betac * phi) * b`.
    let betac_phi = lanes(|p| (1.0 - p.beta) * p.phi);
    let mut level = lanes(|p| p.level);
    let mut trend = lanes(|p| p.trend);
    let mut season = [[0.0; K]; PERIOD];
    for (h, slot) in season.iter_mut().enumerate() {
        *slot = std::array::from_fn(|k| sets[k].seasonal[h]);
    }
    for k in 0..K {
        let e = first - (level[k] + phi[k] * trend[k] + season[0][k]);
        sse[k] = e * e;
    }
    let mut prev_slot = 0;
    for (i, &yi) in y.iter().enumerate().skip(1) {
        let slot = if prev_slot + 1 == PERIOD {
            0
        } else {
            prev_slot + 1
        };
        let yp = y[i - 1];
        for k in 0..K {
            let s_prev = season[prev_slot][k];
            let damped = level[k] + phi[k] * trend[k];
            let new_level = (alpha[k] * yp) - (alpha[k] * s_prev) + (alphac[k] * damped);
            trend[k] = (beta[k] * (new_level - level[k])) + (betac_phi[k] * trend[k]);
            // The effect for observation i - 1 + PERIOD takes the slot of i - 1.
            season[prev_slot][k] = gamma[k] * yp - (gamma[k] * damped) + (gammac[k] * s_prev);
            level[k] = new_level;
            let e = yi - (level[k] + phi[k] * trend[k] + season[slot][k]);
            sse[k] += e * e;
        }
        prev_slot = slot;
        if slot == 0 && sse.iter().all(|&v| v >= abandon_at) {
            return [f64::INFINITY; K];
        }
    }
    sse
}
