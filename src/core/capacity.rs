//! The learned per-replica throughput.

/// Documents per second one ready replica serves, learned from ticks where the replicas
/// were saturated (a backlog before and after: they served all they could).
#[derive(Debug, Clone)]
pub struct CapacityEstimate {
    per_replica: f64,
    previous_backlog: bool,
}

/// Weight of a new saturated sample: about the last 20 saturated ticks count.
const ALPHA: f64 = 0.1;

impl CapacityEstimate {
    /// Start from the configured hint.
    pub fn new(hint: f64) -> Self {
        CapacityEstimate {
            per_replica: hint,
            previous_backlog: false,
        }
    }

    /// The current estimate, documents/s per ready replica.
    pub fn per_replica(&self) -> f64 {
        self.per_replica
    }

    /// Learn from one tick: `completion_rate` documents/s served by `ready` replicas, with
    /// `queue_depth` left waiting now.
    pub fn observe(&mut self, queue_depth: Option<f64>, completion_rate: Option<f64>, ready: u32) {
        let backlog = queue_depth.is_some_and(|q| q > 0.0);
        if let Some(done) = completion_rate
            && ready > 0
            && done.is_finite()
            && done > 0.0
        {
            let sample = done / f64::from(ready);
            if backlog && self.previous_backlog {
                self.per_replica += ALPHA * (sample - self.per_replica);
            } else if sample > self.per_replica {
                // Unsaturated replicas served this much, so they can serve at least this much.
                self.per_replica = sample;
            }
        }
        self.previous_backlog = backlog;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_throughput_only_from_saturated_ticks() {
        let mut c = CapacityEstimate::new(1.0);
        // Unsaturated at 0.5/replica: tells nothing above the hint.
        for _ in 0..10 {
            c.observe(Some(0.0), Some(2.0), 4);
        }
        assert_eq!(c.per_replica(), 1.0);
        // Saturated at 2.5/replica: converges there.
        for _ in 0..200 {
            c.observe(Some(100.0), Some(10.0), 4);
        }
        assert!((c.per_replica() - 2.5).abs() < 1e-6);
    }

    #[test]
    fn an_unsaturated_sample_above_the_estimate_raises_it() {
        let mut c = CapacityEstimate::new(1.0);
        c.observe(Some(0.0), Some(6.0), 2);
        assert_eq!(c.per_replica(), 3.0);
    }
}
