//! The capacity a window of arrivals needs, given how long documents may wait.
//!
//! A queue served at a constant rate `c` keeps every wait within `slack` seconds exactly when
//! no stretch of time brings more than `c × (its length + slack)` documents. So the capacity a
//! window needs is the largest `arrivals / (length + slack)` over its stretches: a one-tick
//! spike counts for a third of its rate when the slack is two ticks, a sustained rise for
//! nearly all of it. This is what forecasts are judged against and what the recent past is
//! held at, so spikes the queue absorbs cost no margin, and rises that last do.

use std::collections::VecDeque;

use super::WindowMax;

/// Arrivals of the recent ticks and the need of each stretch ending at each of them.
#[derive(Debug, Clone, Default)]
pub struct Demand {
    /// `(end time, documents, seconds)` of the recent ticks, oldest first.
    ticks: VecDeque<(f64, f64, f64)>,
    /// The need of the stretches ending at each recent tick, over the window.
    need: WindowMax,
}

/// Ticks a stretch may span (an hour of 15-second ticks; longer windows are rare and the
/// longest stretches count least).
const MAX_TICKS: usize = 240;

impl Demand {
    /// Add the `rate` documents/s of the `seconds` ending at `t`; stretches and their need
    /// are kept for `window` seconds, with waits of `slack` seconds allowed.
    pub fn push(&mut self, t: f64, seconds: f64, rate: f64, window: f64, slack: f64) {
        self.ticks.push_back((t, rate * seconds, seconds));
        while self.ticks.len() > MAX_TICKS
            || self
                .ticks
                .front()
                .is_some_and(|&(end, _, length)| end - length < t - window - 1e-6)
        {
            self.ticks.pop_front();
        }
        let mut documents = 0.0;
        let mut length = 0.0;
        let mut need = 0.0_f64;
        for &(_, n, s) in self.ticks.iter().rev() {
            documents += n;
            length += s;
            need = need.max(documents / (length + slack.max(0.0)));
        }
        self.need.push(t, need, window);
    }

    /// The capacity the last window needed, documents/s.
    pub fn need(&self) -> Option<f64> {
        let (documents, seconds) = self
            .ticks
            .iter()
            .fold((0.0, 0.0), |(n, s), &(_, dn, ds)| (n + dn, s + ds));
        let mean = if seconds > 0.0 {
            documents / seconds
        } else {
            0.0
        };
        self.need.max().map(|need| need.max(mean))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spike_the_queue_absorbs_counts_for_less_than_a_rise_that_lasts() {
        let mut spike = Demand::default();
        let mut rise = Demand::default();
        for k in 1..=20 {
            let t = 15.0 * f64::from(k);
            spike.push(t, 15.0, if k == 10 { 12.0 } else { 4.0 }, 300.0, 30.0);
            rise.push(t, 15.0, if k >= 10 { 12.0 } else { 4.0 }, 300.0, 30.0);
        }
        let spike = spike.need().unwrap();
        let rise = rise.need().unwrap();
        // One tick at 12 among 4s: the stretch of that tick needs 12 × 15 / 45 = 4, and the
        // stretches around it a little more.
        assert!(spike > 4.0 && spike < 5.0, "{spike}");
        // Eleven ticks at 12: 12 × 165 / 195, above the window's mean of 8.4.
        assert!((rise - 12.0 * 165.0 / 195.0).abs() < 1e-9, "{rise}");
    }

    #[test]
    fn a_steady_rate_needs_all_of_itself() {
        let mut d = Demand::default();
        for k in 1..=40 {
            d.push(15.0 * f64::from(k), 15.0, 6.0, 300.0, 60.0);
        }
        assert!((d.need().unwrap() - 6.0).abs() < 1e-9);
    }

    #[test]
    fn without_slack_the_need_is_the_highest_rate() {
        let mut d = Demand::default();
        for (k, r) in [3.0, 9.0, 5.0].into_iter().enumerate() {
            d.push(15.0 * (k as f64 + 1.0), 15.0, r, 300.0, 0.0);
        }
        assert_eq!(d.need(), Some(9.0));
    }
}
