//! Quantiles of a classic histogram, computed as PromQL's `histogram_quantile` does.

/// One cumulative bucket: observations less than or equal to `upper`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The bucket's upper bound (`le`).
    pub upper: f64,
    /// Cumulative count of observations `<= upper`.
    pub count: f64,
}

/// The `q`-quantile of cumulative `buckets`, interpolated linearly inside the bucket it falls
/// in, exactly as PromQL's `histogram_quantile` (classic buckets):
///
/// - `q < 0` gives `-Inf`, `q > 1` gives `+Inf`, NaN gives NaN;
/// - no `+Inf` bucket, fewer than two buckets, or no observations give NaN;
/// - a quantile in the `+Inf` bucket gives the largest finite upper bound;
/// - the first bucket's lower bound is 0, unless its upper bound is not positive;
/// - counts that decrease (a race between bucket reads) are made monotonic first.
pub fn histogram_quantile(q: f64, buckets: &[Bucket]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut sorted: Vec<Bucket> = buckets
        .iter()
        .copied()
        .filter(|b| !b.upper.is_nan() && !b.count.is_nan())
        .collect();
    sorted.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    // Buckets with the same bound (e.g. from several series) are added up.
    let mut merged: Vec<Bucket> = Vec::with_capacity(sorted.len());
    for b in sorted {
        match merged.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => merged.push(b),
        }
    }
    let Some(last) = merged.last() else {
        return f64::NAN;
    };
    if last.upper != f64::INFINITY || merged.len() < 2 {
        return f64::NAN;
    }
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        max = max.max(b.count);
        b.count = max;
    }
    let n = merged.len();
    let observations = merged[n - 1].count;
    if observations <= 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let i = merged.partition_point(|b| b.count < rank);
    if i >= n - 1 {
        return merged[n - 2].upper;
    }
    if i == 0 && merged[0].upper <= 0.0 {
        return merged[0].upper;
    }
    let mut start = 0.0;
    let end = merged[i].upper;
    let mut count = merged[i].count;
    if i > 0 {
        start = merged[i - 1].upper;
        count -= merged[i - 1].count;
        rank -= merged[i - 1].count;
    }
    start + (end - start) * (rank / count)
}

/// The increase of each bucket from `previous` to `current`, as `rate()`/`increase()` of
/// bucket counters would see it. A bucket that went down means the process restarted: then
/// the current counts are the increase (Prometheus's counter-reset rule).
pub fn bucket_increases(previous: &[Bucket], current: &[Bucket]) -> Vec<Bucket> {
    let reset = current.iter().any(|c| {
        previous
            .iter()
            .find(|p| p.upper == c.upper)
            .is_some_and(|p| c.count < p.count)
    });
    current
        .iter()
        .map(|c| {
            let before = if reset {
                0.0
            } else {
                previous
                    .iter()
                    .find(|p| p.upper == c.upper)
                    .map_or(0.0, |p| p.count)
            };
            Bucket {
                upper: c.upper,
                count: c.count - before,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs
            .iter()
            .map(|&(upper, count)| Bucket { upper, count })
            .collect()
    }

    #[test]
    fn interpolates_inside_the_bucket() {
        // 100 observations: 50 <= 1s, 90 <= 2s, all <= 4s.
        let b = h(&[
            (1.0, 50.0),
            (2.0, 90.0),
            (4.0, 100.0),
            (f64::INFINITY, 100.0),
        ]);
        assert_eq!(histogram_quantile(0.5, &b), 1.0);
        // rank 95 falls in (2, 4]: 2 + 2 * (95 - 90) / 10.
        assert_eq!(histogram_quantile(0.95, &b), 3.0);
        // rank 25 in the first bucket, lower bound 0.
        assert_eq!(histogram_quantile(0.25, &b), 0.5);
    }

    #[test]
    fn edge_cases_follow_promql() {
        let in_inf = h(&[(1.0, 1.0), (2.0, 2.0), (f64::INFINITY, 10.0)]);
        assert_eq!(histogram_quantile(0.9, &in_inf), 2.0);
        assert!(histogram_quantile(0.5, &h(&[(1.0, 1.0), (2.0, 2.0)])).is_nan());
        assert!(histogram_quantile(0.5, &h(&[(1.0, 0.0), (f64::INFINITY, 0.0)])).is_nan());
        assert_eq!(histogram_quantile(-0.1, &in_inf), f64::NEG_INFINITY);
        assert_eq!(histogram_quantile(1.1, &in_inf), f64::INFINITY);
        let negative = h(&[(-1.0, 5.0), (0.0, 8.0), (f64::INFINITY, 10.0)]);
        assert_eq!(histogram_quantile(0.1, &negative), -1.0);
    }

    #[test]
    fn increases_handle_resets() {
        let before = h(&[(1.0, 10.0), (f64::INFINITY, 20.0)]);
        let after = h(&[(1.0, 15.0), (f64::INFINITY, 30.0)]);
        assert_eq!(
            bucket_increases(&before, &after),
            h(&[(1.0, 5.0), (f64::INFINITY, 10.0)])
        );
        let restarted = h(&[(1.0, 2.0), (f64::INFINITY, 3.0)]);
        assert_eq!(bucket_increases(&before, &restarted), restarted);
    }
}
