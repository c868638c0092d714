//! Forecasting the arrival rate over the start-up lead time.
//!
//! [`Forecaster`] keeps the arrival-rate history in buckets, lets seasonal models compete on
//! their recent errors (so the season is detected from data), and sizes a safety margin from
//! the chosen model's own recent errors: a quantile of them, in square-root space, where
//! the noise of counts is about the same at every load level.

mod history;
mod seasonal;

pub use history::History;
pub use seasonal::{Season, forecast};

use std::collections::VecDeque;

use statrs::statistics::{Data, OrderStatistics};

/// A forecast for a window of time.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Prediction {
    /// The model that made it.
    pub season: Season,
    /// Highest expected arrival rate in the window, documents/s.
    pub rate: f64,
    /// That rate plus the error margin: what capacity should cover, documents/s.
    pub upper: f64,
}

/// How a [`Forecaster`] is set up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecasterSettings {
    /// Bucket width, seconds.
    pub bucket_s: f64,
    /// History kept, seconds.
    pub history_s: f64,
    /// Quantile of recent errors used as the margin.
    pub error_quantile: f64,
    /// Recent errors kept for the margin.
    pub error_window: usize,
}

/// The arrival-rate forecaster of one target.
#[derive(Debug, Clone)]
pub struct Forecaster {
    settings: ForecasterSettings,
    history: History,
    /// Each model's exponentially weighted mean absolute error (square-root space).
    scores: [Option<f64>; 3],
    /// Each model's forecast for the bucket now filling, made when the last one completed.
    pending: [Option<f64>; 3],
    chosen: Season,
    errors: VecDeque<f32>,
    margin: f64,
    /// The chosen model's forecasts for the buckets after the newest completed one: they
    /// change only when a bucket completes, so ticks read them instead of recomputing.
    ahead: Vec<Option<f64>>,
}

/// Buckets ahead kept in the cache (40 minutes of lead time at 5-minute buckets).
const AHEAD: i64 = 8;
/// How far ahead the margin's errors were measured, seconds: windows up to this long use
/// the margin as it is, longer ones widen it.
const MARGIN_MEASURED_AHEAD_S: f64 = 120.0;
/// Buckets between re-estimates of the margin once the error window is full.
const MARGIN_EVERY_BUCKETS: i64 = 12;

/// Weight of one bucket's error in a model's score: about two days of buckets count.
const SCORE_ALPHA: f64 = 1.0 / 576.0;
/// How much larger a seasonal model's error may be than the level model's and still win.
const SEASONAL_PREFERENCE: f64 = 1.0;

impl Forecaster {
    /// An empty forecaster.
    pub fn new(settings: ForecasterSettings) -> Self {
        Forecaster {
            settings,
            history: History::new(settings.bucket_s, settings.history_s),
            scores: [None; 3],
            pending: [None; 3],
            chosen: Season::None,
            errors: VecDeque::with_capacity(settings.error_window),
            margin: 0.0,
            ahead: Vec::new(),
        }
    }

    /// Use `quantile` of the recent errors as the margin from the next re-estimate on (a
    /// reloaded config changes it without losing what was learned).
    pub fn set_error_quantile(&mut self, quantile: f64) {
        self.settings.error_quantile = quantile;
    }

    /// The model forecasting now.
    pub fn season(&self) -> Season {
        self.chosen
    }

    /// The current margin, in square-root space.
    pub fn margin(&self) -> f64 {
        self.margin
    }

    /// The history (for reports and tests).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Record that arrivals ran at `rate` documents/s over the `seconds` ending at `t`.
    pub fn observe(&mut self, t: f64, seconds: f64, rate: f64) {
        if !(rate.is_finite() && rate >= 0.0 && seconds > 0.0) {
            return;
        }
        if let Some(newest) = self.history.newest() {
            let index = self.history.index_of(t - seconds * 0.5);
            if let Some(expected) = self.bucket_forecast(newest, index) {
                if self.errors.len() == self.settings.error_window {
                    self.errors.pop_front();
                }
                self.errors
                    .push_back((rate.sqrt() - expected.sqrt()) as f32);
            }
        }
        if let Some(completed) = self.history.record(t, seconds, rate) {
            self.on_bucket_completed(completed);
        }
    }

    fn on_bucket_completed(&mut self, completed: i64) {
        if let Some(actual) = self.history.get(completed) {
            for (i, pending) in self.pending.iter().enumerate() {
                if let Some(f) = pending {
                    let error = (actual.sqrt() - f.sqrt()).abs();
                    self.scores[i] = Some(match self.scores[i] {
                        Some(s) => s + SCORE_ALPHA * (error - s),
                        None => error,
                    });
                }
            }
        }
        for (i, season) in Season::ALL.into_iter().enumerate() {
            self.pending[i] = forecast(&self.history, season, completed, completed + 1);
        }
        // A model competes once it has been scored and can forecast now.
        // A seasonal model anticipates where the level only follows, so it is preferred
        // while its error is within `SEASONAL_PREFERENCE` of the level model's.
        let mut best: Option<(Season, f64)> = None;
        for (i, season) in Season::ALL.into_iter().enumerate() {
            let handicap = if season == Season::None {
                1.0
            } else {
                1.0 / SEASONAL_PREFERENCE
            };
            if let (Some(score), Some(_)) = (self.scores[i], self.pending[i])
                && best.is_none_or(|(_, b)| score * handicap < b)
            {
                best = Some((season, score * handicap));
            }
        }
        self.chosen = best.map_or(Season::None, |(s, _)| s);
        self.ahead = (1..=AHEAD)
            .map(|k| self.compute(completed, completed + k))
            .collect();
        // The margin moves slowly (a day of errors): re-estimating it hourly is enough, and
        // the quantile's selection is the costliest step of a tick.
        let warming = self.errors.len() < self.settings.error_window;
        if warming || completed.rem_euclid(MARGIN_EVERY_BUCKETS) == 0 {
            self.update_margin();
        }
    }

    fn update_margin(&mut self) {
        // A temporary copy, not a kept buffer: the selection reorders it, and keeping it
        // would double the memory every target holds for one hourly computation.
        let mut errors: Vec<f64> = self.errors.iter().map(|&e| f64::from(e)).collect();
        if !errors.is_empty() {
            self.margin = Data::new(errors.as_mut_slice())
                .quantile(self.settings.error_quantile)
                .max(0.0);
        }
    }

    /// The highest forecast rate over `[from, to]`, or `None` before there is enough history.
    pub fn predict(&self, from: f64, to: f64) -> Option<Prediction> {
        let newest = self.history.newest()?;
        let first = self.history.index_of(from).max(newest + 1);
        let last = self.history.index_of(to).max(first);
        let mut rate: Option<f64> = None;
        for index in first..=last {
            let f = self.bucket_forecast(newest, index)?;
            rate = Some(rate.map_or(f, |r: f64| r.max(f)));
        }
        let rate = rate?;
        // The errors were measured a few minutes ahead; a longer window ahead errs more, by
        // about the square root of its length (a random walk's spread).
        let ahead = (to - from).max(0.0);
        let widen = (ahead / MARGIN_MEASURED_AHEAD_S).max(1.0).sqrt();
        let upper = (rate.sqrt() + self.margin * widen).powi(2);
        Some(Prediction {
            season: self.chosen,
            rate,
            upper,
        })
    }
}

impl Forecaster {
    /// The chosen model's forecast of bucket `index` (the level model's where the chosen
    /// one has no data for it), from the cache when it is there.
    fn bucket_forecast(&self, newest: i64, index: i64) -> Option<f64> {
        let k = index - newest;
        if k >= 1 && k <= self.ahead.len() as i64 {
            return self.ahead[(k - 1) as usize];
        }
        self.compute(newest, index)
    }

    fn compute(&self, newest: i64, index: i64) -> Option<f64> {
        forecast(&self.history, self.chosen, newest, index)
            .or_else(|| forecast(&self.history, Season::None, newest, index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ForecasterSettings {
        ForecasterSettings {
            bucket_s: 300.0,
            history_s: 14.0 * 86_400.0,
            error_quantile: 0.95,
            error_window: 5760,
        }
    }

    #[test]
    fn detects_a_daily_season_from_data() {
        let mut f = Forecaster::new(settings());
        let shape = |t: f64| 10.0 + 9.0 * (2.0 * std::f64::consts::PI * t / 86_400.0).sin();
        let mut t = 0.0;
        while t < 5.0 * 86_400.0 {
            t += 15.0;
            f.observe(t, 15.0, shape(t));
        }
        assert_eq!(f.season(), Season::Daily);
        let p = f.predict(t + 3600.0, t + 3700.0).unwrap();
        let truth = shape(t + 3700.0).max(shape(t + 3600.0));
        assert!((p.rate - truth).abs() / truth < 0.1, "{p:?} vs {truth}");
        assert!(p.upper >= p.rate);
    }

    #[test]
    fn without_history_there_is_no_forecast() {
        let mut f = Forecaster::new(settings());
        assert!(f.predict(0.0, 100.0).is_none());
        f.observe(15.0, 15.0, 3.0);
        assert!(f.predict(15.0, 120.0).is_none());
    }

    #[test]
    fn flat_noisy_load_keeps_the_level_model() {
        let mut f = Forecaster::new(settings());
        let mut rng = fastrand::Rng::with_seed(7);
        let mut t = 0.0;
        while t < 3.0 * 86_400.0 {
            t += 15.0;
            f.observe(t, 15.0, 5.0 + rng.f64());
        }
        let p = f.predict(t, t + 105.0).unwrap();
        assert!((p.rate - 5.5).abs() < 0.3, "{p:?}");
        assert!(p.upper > 5.5 && p.upper < 7.0, "{p:?}");
    }
}
