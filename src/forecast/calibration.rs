//! One model's record at the horizon its forecasts are used for.
//!
//! A capacity decision taken now must cover the highest arrival rate of the whole lead
//! window (start-up time plus an interval). So every model is judged on exactly that: at
//! sampled ticks it predicts the window's maximum; a window later the observed maximum is
//! known, and the error (in square-root space, where the noise of counts is about the same at
//! every load) joins a day's worth of errors. The margin is the configured quantile of those
//! errors (or a lower one, where covering a few more windows costs more capacity than
//! `missCost` says they are worth); the model's cost is the mean of that upper forecast, and
//! its record the share of windows it missed, so models compete on the same objective their
//! margins are chosen by: capacity plus `missCost` times the windows missed.

use super::compact::{decode_signed, encode_signed};
use super::error_record::ErrorRecord;
use std::collections::VecDeque;

/// Errors kept per model: one day at one error every [`SAMPLE_EVERY_S`].
pub const ERRORS_KEPT: usize = 576;
/// Seconds between sampled predictions (consecutive windows overlap, so every tick would
/// add little but memory).
pub const SAMPLE_EVERY_S: f64 = 150.0;
/// Errors a model needs before it competes and its margin is trusted (four hours).
pub const ERRORS_TO_COMPETE: usize = 96;
/// New errors between re-estimates of the margin once the record is full (an hour).
const MARGIN_EVERY: usize = 24;
/// Weight of one sample in the cost score: about a day of samples count.
const COST_ALPHA: f64 = 1.0 / ERRORS_KEPT as f64;

/// Predictions waiting for their window to pass, the errors of those that did, and what
/// follows from them.
#[derive(Debug, Clone, Default)]
pub struct Calibration {
    /// `(made at, predicted window maximum)`, oldest first.
    pending: VecDeque<(f64, f32)>,
    /// When the oldest pending prediction was made, exactly (infinite or 0 with none
    /// pending: either way `settle` has nothing to do). Read instead of the queue itself: a
    /// prediction is sampled every [`SAMPLE_EVERY_S`], so most ticks settle nothing, and the
    /// queue's buffer, cold at thousands of targets, is then not read at all.
    oldest_pending: f64,
    /// Square-root-space errors `sqrt(actual) - sqrt(predicted)`, oldest first, in 16 bits
    /// ([`super::compact`]: within 0.05 %), the values of those below zero left out
    /// ([`ErrorRecord`]: they never set a margin).
    errors: ErrorRecord,
    new_errors: usize,
    margin: f64,
    cost: Option<f64>,
    /// Share of settled windows whose maximum the upper forecast missed (about a day's).
    missed: f64,
    /// Mean square root of the settled predictions, and their mean: what a margin adds to the
    /// capacity, relative to it.
    mean_sqrt: f64,
    mean: f64,
}

/// How the margin is chosen from the errors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarginRule {
    /// The most windows the margin covers: its quantile of the errors.
    pub coverage: f64,
    /// What a missed window costs, in capacity: a margin that covers one more window in a
    /// hundred is worth it while it adds less than `miss_cost` per cent of capacity. Spikes
    /// nothing predicts are then left to the queue and the backlog rules instead of being
    /// paid for around the clock; misses that a small margin covers are covered.
    pub miss_cost: f64,
}

impl Calibration {
    /// Record that the model predicted `max_rate` as the maximum of the window starting at `t`.
    pub fn predict(&mut self, t: f64, max_rate: f64) {
        self.pending.push_back((t, max_rate as f32));
        if self.pending.len() == 1 {
            self.oldest_pending = t;
        }
    }

    /// Add one sample of what provisioning with this model costs (its upper forecast,
    /// relative to a reference model's on the same tick).
    pub fn add_cost(&mut self, value: f64) {
        self.cost = Some(day_mean(self.cost, value));
    }

    /// Settle every prediction whose window of `window_s` has passed by `t`, against the
    /// observed maximum `actual` of the window ending at `t`.
    pub fn settle(&mut self, t: f64, window_s: f64, actual: f64, rule: MarginRule) {
        if self.oldest_pending > t - window_s + 1e-6 {
            // The loop below would stop at once: the oldest prediction's window is still open.
            return;
        }
        while let Some(&(made, predicted)) = self.pending.front() {
            if made > t - window_s + 1e-6 {
                break;
            }
            self.pending.pop_front();
            let predicted = f64::from(predicted).max(0.0);
            let error = actual.max(0.0).sqrt() - predicted.sqrt();
            let error = encode_signed(error as f32);
            self.errors.push(error);
            self.new_errors += 1;
            let weight = (1.0 / self.errors.len() as f64).max(COST_ALPHA);
            let missed = if f64::from(decode_signed(error)) > self.margin + 1e-9 {
                1.0
            } else {
                0.0
            };
            self.missed += weight * (missed - self.missed);
            self.mean_sqrt += weight * (predicted.sqrt() - self.mean_sqrt);
            self.mean += weight * (predicted - self.mean);
            if !self.errors.is_full() || self.new_errors >= MARGIN_EVERY {
                self.update_margin(rule);
            }
        }
        self.oldest_pending = self
            .pending
            .front()
            .map_or(f64::INFINITY, |&(made, _)| made);
    }

    /// Re-estimate the margin: of the margins up to the `coverage` quantile of the errors
    /// kept, the one with the least capacity plus `miss_cost` times the windows it misses.
    pub fn update_margin(&mut self, rule: MarginRule) {
        self.new_errors = 0;
        if self.errors.is_empty() {
            return;
        }
        // The errors at or above zero in descending order (those below zero, whose values
        // are not kept, would follow them), sorted as 16-bit keys whose order is the errors'
        // (`order_key`): a few times faster than sorting the floats, and this hourly sort is
        // the slowest step of any tick (it set `decide`'s p99). A temporary copy: keeping a
        // sorted record would double what every target holds for one hourly computation.
        let keys = sorted_descending(self.errors.at_or_above_zero().map(order_key));
        let sorted: Vec<f32> = keys
            .iter()
            .map(|&k| decode_signed(from_order_key(k)))
            .collect();
        let n = self.errors.len();
        let rank = ((rule.coverage * n as f64).ceil() as usize).clamp(1, n);
        // The `rank`-th smallest error, not negative: zero when that error is below zero.
        let cap = sorted.get(n - rank).map_or(0.0, |&e| f64::from(e).max(0.0));
        if !(rule.miss_cost.is_finite() && self.mean > 0.0) {
            self.margin = cap;
            return;
        }
        // Margin `m` misses the windows whose error exceeds it and adds
        // `(2 m E[sqrt p] + m²) / E[p]` of capacity.
        let objective = |m: f64, missed: usize| {
            (2.0 * m * self.mean_sqrt + m * m) / self.mean
                + rule.miss_cost * missed as f64 / n as f64
        };
        let above = |m: f64| sorted.iter().take_while(|&&e| f64::from(e) > m).count();
        let mut best = (cap, objective(cap, above(cap)));
        // Only margins below the cap and not negative can do better (the cap itself gives
        // `best`; `sorted` holds no error below zero): each error there, after the `i`
        // larger ones it would miss (equal ones are tried once, at the first of them).
        for (i, &e) in sorted.iter().enumerate() {
            let m = f64::from(e);
            if m >= cap || (i > 0 && sorted[i - 1] == e) {
                continue;
            }
            // The windows missed alone cost this much (capacity adds to it, never takes
            // away), and more with every smaller margin: none further down can do better.
            if rule.miss_cost >= 0.0 && rule.miss_cost * i as f64 / n as f64 >= best.1 {
                break;
            }
            let j = objective(m, i);
            if j < best.1 {
                best = (m, j);
            }
        }
        let zero = objective(0.0, above(0.0));
        if zero < best.1 {
            best = (0.0, zero);
        }
        self.margin = best.0;
    }

    /// The margin, square-root space.
    pub fn margin(&self) -> f64 {
        self.margin
    }

    /// Errors recorded so far (at most [`ERRORS_KEPT`]).
    pub fn errors(&self) -> usize {
        self.errors.len()
    }

    /// Mean of the cost samples: what provisioning with this model has cost.
    pub fn cost(&self) -> Option<f64> {
        self.cost
    }

    /// Share of the settled windows (about the last day's) whose maximum the upper forecast
    /// did not cover.
    pub fn missed(&self) -> f64 {
        self.missed
    }

    /// Forget pending predictions (the window length changed, or the model stopped).
    pub fn drop_pending(&mut self) {
        self.pending.clear();
        self.oldest_pending = f64::INFINITY;
    }
}

/// A key of an error's code whose order is the decoded errors' total order (negative
/// codes, sign and magnitude, below positive ones, larger magnitudes lower; -0 below +0):
/// codes of different errors decode to different values, so sorting keys sorts errors.
fn order_key(code: u16) -> u16 {
    if code & 0x8000 != 0 {
        0x7fff - (code & 0x7fff)
    } else {
        code | 0x8000
    }
}

/// `keys` in descending order: a radix sort, one pass per byte (two counting passes over a
/// day of errors instead of a comparison sort's dozen).
fn sorted_descending(keys: impl ExactSizeIterator<Item = u16>) -> Vec<u16> {
    let n = keys.len();
    let mut a: Vec<u16> = keys.map(|k| !k).collect();
    let mut b = vec![0u16; n];
    for shift in [0u32, 8] {
        let mut count = [0usize; 257];
        for &k in &a {
            count[usize::from((k >> shift) as u8) + 1] += 1;
        }
        for d in 1..257 {
            count[d] += count[d - 1];
        }
        for &k in &a {
            let d = usize::from((k >> shift) as u8);
            b[count[d]] = k;
            count[d] += 1;
        }
        std::mem::swap(&mut a, &mut b);
    }
    // Sorted ascending as complements: descending as keys.
    for k in &mut a {
        *k = !*k;
    }
    a
}

/// The code of an [`order_key`].
fn from_order_key(key: u16) -> u16 {
    if key & 0x8000 != 0 {
        key & 0x7fff
    } else {
        (0x7fff - key) | 0x8000
    }
}

/// `mean` (about a day of samples) moved by one more sample `value`; the first sample is
/// the mean.
pub(crate) fn day_mean(mean: Option<f64>, value: f64) -> f64 {
    match mean {
        Some(m) => m + COST_ALPHA * (value - m),
        None => value,
    }
}

/// The rate an `upper` forecast was widened from by a square-root-space `margin` (the
/// inverse of [`upper`]).
pub fn central(upper: f64, margin: f64) -> f64 {
    (upper.max(0.0).sqrt() - margin.max(0.0)).max(0.0).powi(2)
}

/// `rate` widened by a square-root-space `margin`.
pub fn upper(rate: f64, margin: f64) -> f64 {
    (rate.max(0.0).sqrt() + margin).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: MarginRule = MarginRule {
        coverage: 0.95,
        miss_cost: f64::INFINITY,
    };

    #[test]
    fn the_margin_covers_the_asked_share_of_window_maxima() {
        let mut c = Calibration::default();
        // Predict 4 every time; the window's maximum is 4 nine times in ten and 9 otherwise.
        for i in 0..200 {
            let t = 150.0 * f64::from(i);
            c.predict(t, 4.0);
            let actual = if i % 10 == 0 { 9.0 } else { 4.0 };
            c.settle(t + 150.0, 150.0, actual, RULE);
        }
        assert_eq!(c.errors(), 200);
        // sqrt(9) - sqrt(4) = 1: the 95th percentile must cover the misses.
        assert!((c.margin() - 1.0).abs() < 1e-6, "{}", c.margin());
        c.update_margin(MarginRule {
            coverage: 0.8,
            miss_cost: f64::INFINITY,
        });
        assert_eq!(c.margin(), 0.0, "four in five windows need no margin");
    }

    /// The margin by its definition: every error sorted, each candidate margin tried.
    fn margin_by_full_sort(c: &Calibration, errors: &[u16], rule: MarginRule) -> f64 {
        let mut sorted: Vec<f32> = errors.iter().map(|&e| decode_signed(e)).collect();
        sorted.sort_unstable_by(|a, b| b.total_cmp(a));
        let n = sorted.len();
        let rank = ((rule.coverage * n as f64).ceil() as usize).clamp(1, n);
        let cap = f64::from(sorted[n - rank]).max(0.0);
        if !(rule.miss_cost.is_finite() && c.mean > 0.0) {
            return cap;
        }
        let objective = |m: f64, missed: usize| {
            (2.0 * m * c.mean_sqrt + m * m) / c.mean + rule.miss_cost * missed as f64 / n as f64
        };
        let over = |m: f64| sorted.iter().take_while(|&&e| f64::from(e) > m).count();
        let mut best = (cap, objective(cap, over(cap)));
        for (i, &e) in sorted.iter().enumerate() {
            let m = f64::from(e);
            if m < 0.0 {
                break;
            }
            if m > cap || (i > 0 && sorted[i - 1] == e) {
                continue;
            }
            let j = objective(m, i);
            if j < best.1 {
                best = (m, j);
            }
        }
        let zero = objective(0.0, sorted.iter().take_while(|&&e| e > 0.0).count());
        if zero < best.1 {
            best = (0.0, zero);
        }
        best.0
    }

    #[test]
    fn the_margin_is_the_one_trying_every_error_would_choose() {
        let mut rng = fastrand::Rng::with_seed(3);
        for case in 0..300 {
            let mut c = Calibration {
                mean: 4.0 + rng.f64() * 10.0,
                mean_sqrt: 2.0 + rng.f64(),
                ..Calibration::default()
            };
            // Up to two days of them: the record keeps the last day's.
            let n = 1 + rng.usize(..2 * ERRORS_KEPT);
            let mut errors = Vec::new();
            // Errors on a coarse grid (ties), both signs, zeros of both signs.
            for _ in 0..n {
                let e = match rng.u8(..10) {
                    0 => 0.0,
                    1 => -0.0,
                    _ => (rng.f32() - 0.4) * 3.0,
                };
                let e = if case % 2 == 0 {
                    (e * 8.0).round() / 8.0
                } else {
                    e
                };
                c.errors.push(encode_signed(e));
                errors.push(encode_signed(e));
            }
            let errors = &errors[errors.len().saturating_sub(ERRORS_KEPT)..];
            for rule in [
                RULE,
                MarginRule {
                    coverage: 0.99,
                    miss_cost: 7.0,
                },
                MarginRule {
                    coverage: 0.9,
                    miss_cost: 0.5,
                },
                MarginRule {
                    coverage: 1.0,
                    miss_cost: 50.0,
                },
            ] {
                let expected = margin_by_full_sort(&c, errors, rule);
                c.update_margin(rule);
                assert_eq!(
                    c.margin().to_bits(),
                    expected.to_bits(),
                    "case {case} {rule:?}"
                );
            }
        }
    }

    #[test]
    fn the_radix_sort_sorts() {
        let mut rng = fastrand::Rng::with_seed(9);
        for n in [0, 1, 2, 7, 576, 1000] {
            let keys: Vec<u16> = (0..n).map(|_| rng.u16(..)).collect();
            let mut expected = keys.clone();
            expected.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(sorted_descending(keys.into_iter()), expected);
        }
    }

    #[test]
    fn error_codes_sort_by_their_order_keys_as_the_errors_do() {
        let codes: Vec<u16> = (0..=u16::MAX).collect();
        assert!(codes.iter().all(|&c| from_order_key(order_key(c)) == c));
        let mut by_key = codes.clone();
        by_key.sort_unstable_by_key(|&c| order_key(c));
        for pair in by_key.windows(2) {
            let (a, b) = (decode_signed(pair[0]), decode_signed(pair[1]));
            assert_eq!(a.total_cmp(&b), std::cmp::Ordering::Less, "{a} {b}");
        }
    }

    #[test]
    fn predictions_settle_only_once_their_window_has_passed() {
        let mut c = Calibration::default();
        c.predict(0.0, 1.0);
        c.settle(100.0, 300.0, 4.0, RULE);
        assert_eq!(c.errors(), 0);
        c.settle(300.0, 300.0, 4.0, RULE);
        assert_eq!(c.errors(), 1);
        assert!((c.margin() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn each_prediction_settles_when_its_own_window_has_passed_whatever_else_is_pending() {
        let mut c = Calibration::default();
        c.settle(0.0, 300.0, 1.0, RULE);
        assert_eq!(c.errors(), 0, "nothing pending, nothing settled");
        for t in [0.0, 150.0, 300.0] {
            c.predict(t, 1.0);
        }
        c.settle(299.0, 300.0, 1.0, RULE);
        assert_eq!(c.errors(), 0);
        c.settle(450.0, 300.0, 1.0, RULE);
        assert_eq!(c.errors(), 2, "the predictions made at 0 and 150");
        // A shorter window settles what is left sooner.
        c.settle(400.0, 100.0, 1.0, RULE);
        assert_eq!(c.errors(), 3);
        c.settle(10_000.0, 100.0, 1.0, RULE);
        assert_eq!(c.errors(), 3, "nothing left pending");
        // Dropped predictions never settle; one made after them settles at its own time.
        c.predict(10_000.0, 1.0);
        c.drop_pending();
        c.predict(10_050.0, 1.0);
        c.settle(10_100.0, 100.0, 1.0, RULE);
        assert_eq!(c.errors(), 3);
        c.settle(10_150.0, 100.0, 1.0, RULE);
        assert_eq!(c.errors(), 4);
    }
}
