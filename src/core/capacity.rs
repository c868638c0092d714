//! The learned per-replica throughput.

/// Documents per second one ready replica serves, learned from ticks where the replicas
/// were saturated (a backlog before and after: they served all they could).
///
/// Each update reads the median of the last few samples of its kind rather than the sample
/// itself. One absurd completion rate (a counter queried without `rate()`, a scrape of the
/// wrong series, a restart's catch-up burst) would otherwise raise the estimate at once,
/// and only saturated ticks ever lower it: the workload would run on a fraction of the
/// replicas it needs for hours. A median of five ignores up to two such samples in a row,
/// costs nothing when the samples agree, and follows a real change two ticks later.
#[derive(Debug, Clone)]
pub struct CapacityEstimate {
    per_replica: f64,
    previous_backlog: bool,
    /// Per-replica completion rates of saturated ticks: measurements of the capacity.
    saturated: Recent,
    /// Per-replica completion rates of other ticks: lower bounds of the capacity.
    unsaturated: Recent,
}

/// Weight of a new saturated sample: about the last 20 saturated ticks count.
const ALPHA: f64 = 0.1;
/// Samples a median is taken over.
const WINDOW: usize = 5;
/// Samples needed before a median is trusted: with three, one outlier cannot be the median.
const MIN_SAMPLES: usize = 3;

/// The last [`WINDOW`] samples of one kind, in a ring.
#[derive(Debug, Clone, Default)]
struct Recent {
    samples: [f64; WINDOW],
    len: usize,
    next: usize,
}

impl Recent {
    fn push(&mut self, sample: f64) {
        self.samples[self.next] = sample;
        self.next = (self.next + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
    }

    /// The (lower) median once there are [`MIN_SAMPLES`]: with four samples, two high
    /// outliers still do not move it up.
    fn median(&self) -> Option<f64> {
        if self.len < MIN_SAMPLES {
            return None;
        }
        let mut sorted = self.samples;
        let sorted = &mut sorted[..self.len];
        sorted.sort_by(f64::total_cmp);
        Some(sorted[(self.len - 1) / 2])
    }
}

impl CapacityEstimate {
    /// Start from the configured hint.
    pub fn new(hint: f64) -> Self {
        CapacityEstimate {
            per_replica: hint,
            previous_backlog: false,
            saturated: Recent::default(),
            unsaturated: Recent::default(),
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
                self.saturated.push(sample);
                if let Some(m) = self.saturated.median() {
                    self.per_replica += ALPHA * (m - self.per_replica);
                }
            } else {
                self.unsaturated.push(sample);
                // Unsaturated replicas served this much, so they can serve at least this much.
                if let Some(m) = self.unsaturated.median()
                    && m > self.per_replica
                {
                    self.per_replica = m;
                }
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
    fn unsaturated_samples_above_the_estimate_raise_it() {
        let mut c = CapacityEstimate::new(1.0);
        for _ in 0..3 {
            c.observe(Some(0.0), Some(6.0), 2);
        }
        assert_eq!(c.per_replica(), 3.0);
    }

    #[test]
    fn one_absurd_completion_rate_does_not_move_the_estimate() {
        // A counter read without rate(): one tick reports a billion completions a second.
        for backlog in [0.0, 50.0] {
            let mut c = CapacityEstimate::new(1.0);
            for tick in 0..100 {
                let done = if tick == 40 { 1e9 } else { 4.0 };
                c.observe(Some(backlog), Some(done), 4);
                assert!(
                    c.per_replica() <= 1.0 + 1e-9,
                    "tick {tick}: {}",
                    c.per_replica()
                );
            }
        }
        // Two in a row do not either.
        let mut c = CapacityEstimate::new(1.0);
        for tick in 0..100 {
            let done = if (40..42).contains(&tick) { 1e9 } else { 4.0 };
            c.observe(Some(0.0), Some(done), 4);
        }
        assert_eq!(c.per_replica(), 1.0);
    }

    #[test]
    fn a_lasting_change_is_followed_within_a_few_ticks() {
        let mut c = CapacityEstimate::new(1.0);
        for _ in 0..10 {
            c.observe(Some(0.0), Some(4.0), 4);
        }
        // Twice the throughput from now on: believed on the third tick.
        c.observe(Some(0.0), Some(8.0), 4);
        c.observe(Some(0.0), Some(8.0), 4);
        assert_eq!(c.per_replica(), 1.0);
        c.observe(Some(0.0), Some(8.0), 4);
        assert_eq!(c.per_replica(), 2.0);
    }
}
