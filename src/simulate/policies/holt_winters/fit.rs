//! statsmodels' `ExponentialSmoothing(...).fit()` for the additive damped-trend,
//! additive-seasonal model with estimated initialisation, step for step:
//! 1. starting states from the heuristic (`initial.rs`), alpha = 0.5 / 24, phi = 0.99;
//! 2. a grid search over (alpha, beta, gamma) with those states (`_setup_brute`);
//! 3. every parameter nudged strictly inside its bounds (`_enforce_bounds`), the smoothing
//!    parameters mapped to [0, 1]: beta as a fraction of alpha, gamma of 1 - alpha
//!    (`to_unrestricted`), which is how statsmodels keeps beta <= alpha <= 1 - gamma;
//! 4. L-BFGS-B on the sum of squared one-step errors over all 30 parameters, with
//!    finite-difference gradients, bounds [0, 1] on the three fractions and [0.8, 0.995] on
//!    phi, scipy's default tolerances.

use super::initial::estimated;
use super::lbfgsb::{self, Bounds, Function};
use super::smoothing::{PERIOD, Smoothing, sse_many};

/// `sqrt(f64::EPSILON)`: statsmodels keeps alpha this far inside (0, 1).
const LOWER_BOUND: f64 = 1.490_116_119_384_765_6e-8;
/// The damping parameter's bounds.
const PHI_BOUNDS: (f64, f64) = (0.8, 0.995);
/// Grid points per smoothing parameter: `87 // 3`.
const GRID: usize = 29;
/// Parameters: alpha, beta, gamma, level, trend, phi, then the seasonal effects.
const PARAMS: usize = 6 + PERIOD;

/// Why a series cannot be fitted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    /// Fewer than two whole seasons.
    #[error(
        "{hours} hourly values: the seasonal fit needs at least {} (two days)",
        2 * PERIOD
    )]
    TooShort {
        /// Observations given.
        hours: usize,
    },
    /// A value is NaN or infinite.
    #[error("hourly value {index} is {value}: the fit needs finite arrival rates")]
    NotFinite {
        /// Its index.
        index: usize,
        /// The value.
        value: f64,
    },
}

/// Fit the model to `y` (hourly mean arrival rates) as statsmodels does.
pub fn fit(y: &[f64]) -> Result<Smoothing, FitError> {
    if let Some((index, &value)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(FitError::NotFinite { index, value });
    }
    let states = estimated(y).ok_or(FitError::TooShort { hours: y.len() })?;
    let alpha0 = 0.5 / PERIOD as f64;
    let start = Smoothing {
        alpha: alpha0,
        beta: 0.1 * alpha0,
        gamma: 0.05 * (1.0 - alpha0),
        phi: 0.99,
        level: states.level,
        trend: states.trend,
        seasonal: states.seasonal,
    };
    let (alpha, beta, gamma) = best_on_grid(y, &start);
    let mut x = [0.0; PARAMS];
    x[0] = alpha;
    x[1] = beta;
    x[2] = gamma;
    x[3] = start.level;
    x[4] = start.trend;
    x[5] = start.phi;
    x[6..].copy_from_slice(&start.seasonal);
    let (lower, upper) = bounds();
    enforce_bounds(&mut x, &lower, &upper);
    let (a, b, g) = (x[0], x[1], x[2]);
    x[0] = (a - LOWER_BOUND) / ((1.0 - LOWER_BOUND) - LOWER_BOUND);
    x[1] = b / a.min(1.0);
    x[2] = g / (1.0 - a).min(1.0);
    let bounds = Bounds {
        lower: &lower,
        upper: &upper,
    };
    let solution = lbfgsb::minimize(Sse { y }, &x, &bounds);
    Ok(restricted(&solution.x))
}

/// Parameter sets evaluated together (see [`sse_many`]).
const LANES: usize = 8;

/// The objective in the optimiser's parameters.
struct Sse<'a> {
    y: &'a [f64],
}

impl Function for Sse<'_> {
    fn values(&mut self, points: &[Vec<f64>]) -> Vec<f64> {
        let sets: Vec<Smoothing> = points.iter().map(|p| restricted(p)).collect();
        sets.chunks(LANES)
            .flat_map(|chunk| sse_batch(chunk, self.y, f64::INFINITY))
            .collect()
    }
}

/// The SSE of up to [`LANES`] sets at once (a short batch padded with its last set); see
/// [`sse_many`] for `abandon_at`.
fn sse_batch(chunk: &[Smoothing], y: &[f64], abandon_at: f64) -> Vec<f64> {
    let Some(last) = chunk.len().checked_sub(1) else {
        return Vec::new();
    };
    let batch: [Smoothing; LANES] = std::array::from_fn(|k| chunk[k.min(last)].clone());
    sse_many(&batch, y, abandon_at)[..chunk.len()].to_vec()
}

/// The optimiser's bounds: [0, 1] for the three fractions, phi's, none for the states.
fn bounds() -> ([f64; PARAMS], [f64; PARAMS]) {
    let mut lower = [f64::NEG_INFINITY; PARAMS];
    let mut upper = [f64::INFINITY; PARAMS];
    for i in 0..3 {
        lower[i] = 0.0;
        upper[i] = 1.0;
    }
    (lower[5], upper[5]) = PHI_BOUNDS;
    (lower, upper)
}

/// `_enforce_bounds`: a value on or past a bound moves 1e-4 of the range inside (an
/// unbounded side counts as ±100).
fn enforce_bounds(x: &mut [f64], lower: &[f64], upper: &[f64]) {
    for ((v, &lb), &ub) in x.iter_mut().zip(lower).zip(upper) {
        if *v <= lb {
            let top = if ub.is_finite() { ub } else { 100.0 };
            *v = lb + 1e-4 * (top - lb);
        } else if *v >= ub {
            let bottom = if lb.is_finite() { lb } else { -100.0 };
            *v = ub - 1e-4 * (ub - bottom);
        }
    }
}

/// `to_restricted`: the optimiser's parameters as the model's.
fn restricted(p: &[f64]) -> Smoothing {
    let alpha = LOWER_BOUND + p[0] * ((1.0 - LOWER_BOUND) - LOWER_BOUND);
    let beta = p[1] * alpha.min(1.0);
    let gamma = p[2] * (1.0 - alpha).min(1.0);
    let mut seasonal = [0.0; PERIOD];
    seasonal.copy_from_slice(&p[6..PARAMS]);
    Smoothing {
        alpha,
        beta,
        gamma,
        phi: p[5],
        level: p[3],
        trend: p[4],
        seasonal,
    }
}

/// `_setup_brute` and the search over it: alpha on 29 points of [0.005, 0.995]; for each,
/// `ceil(29 sqrt(alpha))` values of beta on [0, alpha] and `ceil(29 sqrt(1 - alpha))` of gamma
/// on [0, 1 - alpha], the rest of `start` fixed. The first best point wins ties.
fn best_on_grid(y: &[f64], start: &Smoothing) -> (f64, f64, f64) {
    let mut points = Vec::new();
    for a in linspace(0.005, 0.995, GRID) {
        let betas = linspace(0.0, a.min(1.0), (GRID as f64 * a.sqrt()).ceil() as usize);
        let gammas = linspace(
            0.0,
            (1.0 - a).min(1.0),
            (GRID as f64 * (1.0 - a).sqrt()).ceil() as usize,
        );
        // numpy's meshgrid(b, g) flattened: beta varies fastest.
        for &g in &gammas {
            for &b in &betas {
                points.push((a, b, g));
            }
        }
    }
    let sets: Vec<Smoothing> = points
        .iter()
        .map(|&(alpha, beta, gamma)| Smoothing {
            alpha,
            beta,
            gamma,
            ..start.clone()
        })
        .collect();
    // The first point wins ties, as numpy's scan keeps the first of equal values; a batch
    // that cannot beat the best so far is abandoned part way (its values only grow).
    let mut best = (f64::INFINITY, points.first().copied());
    for (chunk, chunk_points) in sets.chunks(LANES).zip(points.chunks(LANES)) {
        for (value, &point) in sse_batch(chunk, y, best.0).into_iter().zip(chunk_points) {
            if value < best.0 {
                best = (value, Some(point));
            }
        }
    }
    best.1.unwrap_or((start.alpha, start.beta, start.gamma))
}

/// numpy's `linspace(start, stop, num)` (endpoint included, the last point exactly `stop`).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    match num {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (stop - start) / (num - 1) as f64;
            let mut v: Vec<f64> = (0..num).map(|i| start + i as f64 * step).collect();
            v[num - 1] = stop;
            v
        }
    }
}
