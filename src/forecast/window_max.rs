//! The highest value of a sliding time window, in amortised constant time per sample.

use std::collections::VecDeque;

/// Samples `(t, value)` of the last `span` seconds that can still be the window's maximum:
/// a monotonic deque, so the maximum is the front and each sample is pushed and popped once.
#[derive(Debug, Clone, Default)]
pub struct WindowMax {
    candidates: VecDeque<(f64, f64)>,
}

impl WindowMax {
    /// Add `value` observed at `t` and forget samples at or before `t - span`.
    pub fn push(&mut self, t: f64, value: f64, span: f64) {
        while self.candidates.back().is_some_and(|&(_, v)| v <= value) {
            self.candidates.pop_back();
        }
        self.candidates.push_back((t, value));
        while self
            .candidates
            .front()
            .is_some_and(|&(at, _)| at <= t - span)
        {
            self.candidates.pop_front();
        }
    }

    /// The highest value of the window, if any sample is in it.
    pub fn max(&self) -> Option<f64> {
        self.candidates.front().map(|&(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_maximum_of_the_window() {
        let mut w = WindowMax::default();
        assert_eq!(w.max(), None);
        w.push(0.0, 3.0, 30.0);
        w.push(15.0, 1.0, 30.0);
        assert_eq!(w.max(), Some(3.0));
        w.push(30.0, 2.0, 30.0);
        assert_eq!(w.max(), Some(2.0), "the sample at 0 s left the window");
        w.push(45.0, 5.0, 30.0);
        w.push(60.0, 4.0, 30.0);
        assert_eq!(w.max(), Some(5.0));
    }
}
