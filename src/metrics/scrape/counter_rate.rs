//! Per-second rates of counters between two scrapes.

/// A counter's value at a time (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CounterPoint {
    /// The counter's value.
    pub value: f64,
    /// When it was sampled, Unix seconds.
    pub t: f64,
}

/// The per-second rate from `previous` to `current`, or `None` when no time passed.
///
/// A counter that went down was reset (the process restarted): it counted up from zero, so
/// the increase is its current value, as PromQL's `rate()` assumes.
pub fn counter_rate(previous: CounterPoint, current: CounterPoint) -> Option<f64> {
    let elapsed = current.t - previous.t;
    if elapsed.is_nan() || elapsed <= 0.0 {
        return None;
    }
    let increase = if current.value < previous.value {
        current.value
    } else {
        current.value - previous.value
    };
    Some(increase / elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(value: f64, t: f64) -> CounterPoint {
        CounterPoint { value, t }
    }

    #[test]
    fn rate_is_increase_over_time() {
        assert_eq!(counter_rate(p(100.0, 10.0), p(150.0, 20.0)), Some(5.0));
    }

    #[test]
    fn reset_counts_from_zero() {
        assert_eq!(counter_rate(p(100.0, 10.0), p(30.0, 20.0)), Some(3.0));
    }

    #[test]
    fn no_elapsed_time_has_no_rate() {
        assert_eq!(counter_rate(p(1.0, 10.0), p(2.0, 10.0)), None);
        assert_eq!(counter_rate(p(1.0, 10.0), p(2.0, 9.0)), None);
    }
}
