//! Arrival-rate history in fixed buckets: the memory the forecasters read.

use super::compact::{RATE_NONE, decode_rate, encode_rate};

/// Marks a bucket with no data.
const NO_DATA: u16 = RATE_NONE;

/// Mean arrival rate per bucket for the last `capacity` buckets, indexed by absolute bucket
/// number `floor(t / bucket_s)`. Each mean is kept in 16 bits ([`super::compact`]: within
/// 0.05 %): a week of 5-minute buckets is 4 KB per target.
#[derive(Debug, Clone)]
pub struct History {
    bucket_s: f64,
    ring: Vec<u16>,
    /// Absolute index of the newest completed bucket, if any.
    newest: Option<i64>,
    /// The bucket being filled: (index, sum of rate × seconds, seconds covered).
    open: Option<(i64, f64, f64)>,
}

impl History {
    /// Keep `span_s` seconds of history in buckets of `bucket_s` seconds.
    pub fn new(bucket_s: f64, span_s: f64) -> Self {
        Self::with_buckets(bucket_s, (span_s / bucket_s).ceil() as usize)
    }

    /// Keep the newest `buckets` buckets (at least one) of `bucket_s` seconds.
    pub fn with_buckets(bucket_s: f64, buckets: usize) -> Self {
        let capacity = buckets.max(1);
        History {
            bucket_s,
            ring: vec![NO_DATA; capacity],
            newest: None,
            open: None,
        }
    }

    /// Buckets held.
    pub fn buckets(&self) -> usize {
        self.ring.len()
    }

    /// Bucket width, seconds.
    pub fn bucket_s(&self) -> f64 {
        self.bucket_s
    }

    /// Absolute bucket index of time `t`.
    pub fn index_of(&self, t: f64) -> i64 {
        (t / self.bucket_s).floor() as i64
    }

    /// Newest completed bucket index.
    pub fn newest(&self) -> Option<i64> {
        self.newest
    }

    /// Record that arrivals ran at `rate` for `seconds` ending at `t`. Returns the index of
    /// a bucket this completed, if any.
    pub fn record(&mut self, t: f64, seconds: f64, rate: f64) -> Option<i64> {
        let index = self.index_of(t - seconds * 0.5);
        let mut completed = None;
        match self.open {
            Some((open, sum, covered)) if open == index => {
                self.open = Some((open, sum + rate * seconds, covered + seconds))
            }
            Some((open, sum, covered)) if open < index => {
                self.store(open, encode_rate(Some((sum / covered) as f32)));
                completed = Some(open);
                self.open = Some((index, rate * seconds, seconds));
            }
            // Time went backwards (a restart with an old clock): ignore the sample.
            Some(_) => {}
            None => self.open = Some((index, rate * seconds, seconds)),
        }
        completed
    }

    fn store(&mut self, index: i64, mean: u16) {
        if let Some(newest) = self.newest {
            // Buckets skipped since the newest one have no data.
            for gap in (newest + 1)..index.min(newest + 1 + self.ring.len() as i64) {
                let slot = self.slot(gap);
                self.ring[slot] = NO_DATA;
            }
        }
        let slot = self.slot(index);
        self.ring[slot] = mean;
        self.newest = Some(self.newest.map_or(index, |n| n.max(index)));
    }

    fn slot(&self, index: i64) -> usize {
        index.rem_euclid(self.ring.len() as i64) as usize
    }

    /// The sum and number of the buckets with data among the `count` buckets ending at
    /// `last`, newest first: what summing [`History::get`] over `last, last - 1, ...` gives,
    /// in the same order, without a division per bucket (the seasonal models' levels read
    /// hundreds of buckets at each completed bucket).
    pub fn sum_back(&self, last: i64, count: i64) -> (f64, usize) {
        let (mut sum, mut n) = (0.0, 0);
        let Some(newest) = self.newest else {
            return (sum, n);
        };
        let len = self.ring.len() as i64;
        // Indices kept: (newest - len, newest].
        let hi = last.min(newest);
        let lo = (last - count + 1).max(newest - len + 1);
        if hi < lo {
            return (sum, n);
        }
        let mut slot = self.slot(hi);
        for _ in lo..=hi {
            if let Some(v) = decode_rate(self.ring[slot]) {
                sum += f64::from(v);
                n += 1;
            }
            slot = if slot == 0 {
                self.ring.len() - 1
            } else {
                slot - 1
            };
        }
        (sum, n)
    }

    /// Mean rate of completed bucket `index`, if it is kept and has data.
    pub fn get(&self, index: i64) -> Option<f64> {
        let newest = self.newest?;
        if index > newest || index <= newest - self.ring.len() as i64 {
            return None;
        }
        decode_rate(self.ring[self.slot(index)]).map(f64::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_average_the_rate_over_time() {
        let mut h = History::new(60.0, 600.0);
        assert_eq!(h.record(15.0, 15.0, 1.0), None);
        h.record(30.0, 15.0, 3.0);
        h.record(45.0, 15.0, 3.0);
        h.record(60.0, 15.0, 1.0);
        assert_eq!(h.record(75.0, 15.0, 9.0), Some(0));
        assert_eq!(h.get(0), Some(2.0));
        assert_eq!(h.get(1), None, "still open");
    }

    #[test]
    fn a_sum_back_is_the_sum_of_the_buckets_read_one_by_one() {
        let mut h = History::new(60.0, 600.0);
        let mut t = 0.0;
        for k in 0..40 {
            t += 60.0;
            // A gap now and then.
            if k % 7 != 3 {
                h.record(t, 60.0, f64::from(k) * 0.37);
            }
        }
        for last in -3..45 {
            for count in 0..14 {
                let (mut sum, mut n) = (0.0, 0);
                for i in 0..count {
                    if let Some(v) = h.get(last - i) {
                        sum += v;
                        n += 1;
                    }
                }
                assert_eq!(h.sum_back(last, count), (sum, n), "{last} {count}");
            }
        }
    }

    #[test]
    fn gaps_have_no_data_and_old_buckets_are_forgotten() {
        let mut h = History::new(60.0, 180.0);
        h.record(60.0, 60.0, 1.0);
        h.record(120.0, 60.0, 2.0); // completes 0
        h.record(300.0, 60.0, 5.0); // completes 1; 4 open
        h.record(360.0, 60.0, 5.0); // completes 4
        assert_eq!(h.get(1), None, "forgotten: only 3 buckets kept");
        assert_eq!(h.get(2), None, "gap");
        assert_eq!(h.get(4), Some(5.0));
    }
}
