//! The learned start-up lead time: from a replica increase until the ready count reaches it.

use std::collections::VecDeque;

use statrs::statistics::{Data, OrderStatistics};

/// Scale-ups still waiting for their pods, and the durations measured so far.
#[derive(Debug, Clone, Default)]
pub struct StartupEstimate {
    pending: VecDeque<(f64, u32)>,
    samples: VecDeque<f64>,
    estimate: Option<f64>,
}

/// Measurements kept; the estimate is their 90th percentile.
const KEEP: usize = 20;
/// Measurements needed before the learned value replaces the configured one.
const ENOUGH: usize = 5;
/// Scale-ups tracked at once (older ones are dropped when more arrive).
const MAX_PENDING: usize = 16;

impl StartupEstimate {
    /// The lead time to use: the learned p90 once enough samples exist, else `configured`.
    pub fn lead_time(&self, configured: f64) -> f64 {
        self.estimate.unwrap_or(configured)
    }

    /// Measurements so far.
    #[cfg(test)]
    fn samples(&self) -> usize {
        self.samples.len()
    }

    /// Learn from the tick at `t`: replicas went from `previous` to `current` at `changed_at`;
    /// `ready` are ready now; `interval` is the tick length (readiness is seen up to one
    /// interval after it happens, so half an interval is taken off each measurement).
    pub fn observe(
        &mut self,
        t: f64,
        changed_at: f64,
        previous: u32,
        current: u32,
        ready: u32,
        interval: f64,
    ) {
        self.pending.retain(|&(_, wanted)| wanted <= current);
        while let Some(&(since, wanted)) = self.pending.front() {
            if ready < wanted {
                break;
            }
            self.pending.pop_front();
            if self.samples.len() == KEEP {
                self.samples.pop_front();
            }
            self.samples
                .push_back((t - since - interval / 2.0).max(0.0));
            if self.samples.len() >= ENOUGH {
                let mut scratch: Vec<f64> = self.samples.iter().copied().collect();
                self.estimate = Some(Data::new(scratch.as_mut_slice()).quantile(0.9));
            }
        }
        if current > previous && ready < current {
            if self.pending.len() == MAX_PENDING {
                self.pending.pop_front();
            }
            self.pending.push_back((changed_at, current));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_the_time_until_new_pods_are_ready() {
        let mut s = StartupEstimate::default();
        let mut t = 0.0;
        for _ in 0..6 {
            s.observe(t, t, 2, 4, 2, 15.0);
            s.observe(t + 60.0, t + 60.0, 4, 4, 3, 15.0);
            s.observe(t + 75.0, t + 75.0, 4, 4, 4, 15.0);
            s.observe(t + 90.0, t + 90.0, 4, 2, 2, 15.0);
            t += 1000.0;
        }
        assert_eq!(s.samples(), 6);
        assert_eq!(
            s.lead_time(90.0),
            67.5,
            "75 s to ready, less half a 15 s interval"
        );
    }

    #[test]
    fn keeps_the_configured_value_until_enough_samples() {
        let mut s = StartupEstimate::default();
        s.observe(0.0, 0.0, 1, 2, 1, 15.0);
        s.observe(30.0, 30.0, 2, 2, 2, 15.0);
        assert_eq!(s.samples(), 1);
        assert_eq!(s.lead_time(90.0), 90.0);
    }

    #[test]
    fn a_scale_up_undone_before_it_was_ready_is_not_measured() {
        let mut s = StartupEstimate::default();
        s.observe(0.0, 0.0, 1, 5, 1, 15.0);
        s.observe(15.0, 15.0, 5, 1, 1, 15.0);
        s.observe(30.0, 30.0, 1, 1, 1, 15.0);
        assert_eq!(s.samples(), 0);
    }
}
