//! A value older than two intervals is missing.

use super::{MetricError, unix_seconds};
use std::time::{Duration, SystemTime};

/// How many intervals a value may be old before it counts as missing.
pub const MAX_AGE_INTERVALS: u32 = 2;

/// `Ok` when a value sampled at `sample_time` (Unix seconds) is at most two `interval`s older
/// than `now`; an unknown sample time counts as fresh (it was read just now).
pub fn check_fresh(
    sample_time: Option<f64>,
    now: SystemTime,
    interval: Duration,
) -> Result<(), MetricError> {
    let Some(sample_time) = sample_time else {
        return Ok(());
    };
    let age_s = unix_seconds(now) - sample_time;
    if age_s > (interval * MAX_AGE_INTERVALS).as_secs_f64() {
        Err(MetricError::Stale { age_s })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_than_two_intervals_is_stale() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let interval = Duration::from_secs(15);
        assert!(check_fresh(Some(970.0), now, interval).is_ok());
        assert_eq!(
            check_fresh(Some(969.0), now, interval),
            Err(MetricError::Stale { age_s: 31.0 })
        );
        assert!(check_fresh(None, now, interval).is_ok());
    }
}
