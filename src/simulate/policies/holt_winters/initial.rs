//! Starting states for the fit: statsmodels' `initialization_method="estimated"` starts the
//! optimiser from Hyndman et al.'s heuristic (section 2.6 of *Forecasting with exponential
//! smoothing*) and then estimates the states with the smoothing parameters.

use super::smoothing::PERIOD;

/// Initial level, trend and seasonal effects.
#[derive(Debug, Clone, PartialEq)]
pub struct InitialStates {
    /// Initial level.
    pub level: f64,
    /// Initial trend.
    pub trend: f64,
    /// Initial seasonal effects (they sum to 0 with the heuristic).
    pub seasonal: [f64; PERIOD],
}

/// Fewest observations the heuristic's level needs: 10 seasonally adjusted values after
/// losing half a period at each end of the moving average.
const HEURISTIC_MIN: usize = 10 + 2 * (PERIOD / 2);

/// statsmodels' "estimated" starting states for a seasonal model: the heuristic (its simple
/// alternative is only chosen below [`HEURISTIC_MIN`] observations, where both refuse a
/// series shorter than two periods). `None` with fewer than two whole periods.
pub fn estimated(y: &[f64]) -> Option<InitialStates> {
    (y.len() >= 2 * PERIOD).then(|| heuristic(y))
}

/// A centred 2×PERIOD moving average over the first few whole periods (at most 5) gives the
/// trend; the mean detrended value at each hour of the period, centred on 0, the effects; a
/// line through the first 10 trend values the level (at x = 0) and trend (its slope).
fn heuristic(y: &[f64]) -> InitialStates {
    let m = PERIOD;
    let cycles = (y.len() / m).min(5).max(HEURISTIC_MIN.div_ceil(m));
    let series = &y[..m * cycles];
    let n = series.len();
    let half = m / 2;
    // pandas `rolling(m, center=True).mean()`: label i averages series[i - m/2 .. i + m/2).
    let centred: Vec<f64> = (half..=n - half)
        .map(|i| series[i - half..i + half].iter().sum::<f64>() / m as f64)
        .collect();
    // `.shift(-1).rolling(2).mean()`: the mean of labels i and i + 1, for i in m/2..n - m/2.
    let trend: Vec<f64> = centred.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    let mut sums = [0.0; PERIOD];
    let mut counts = [0usize; PERIOD];
    for (k, t) in trend.iter().enumerate() {
        let i = half + k;
        sums[i % m] += series[i] - t;
        counts[i % m] += 1;
    }
    let mut seasonal = [0.0; PERIOD];
    for h in 0..m {
        seasonal[h] = sums[h] / counts[h] as f64;
    }
    let mean = seasonal.iter().sum::<f64>() / m as f64;
    for s in &mut seasonal {
        *s -= mean;
    }
    let (level, slope) = line_through(&trend[..10]);
    InitialStates {
        level,
        trend: slope,
        seasonal,
    }
}

/// Least-squares intercept and slope of `values` against x = 1, 2, ….
fn line_through(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean_x = (n + 1.0) / 2.0;
    let mean_y = values.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in values.iter().enumerate() {
        let dx = (i + 1) as f64 - mean_x;
        sxy += dx * (v - mean_y);
        sxx += dx * dx;
    }
    let slope = sxy / sxx;
    (mean_y - slope * mean_x, slope)
}
