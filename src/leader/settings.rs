//! How the Lease is held, and the rules that keep one leader at a time.

use tokio::time::Duration;

/// Where the Lease is and how it is held.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// Lease name (`prescale-leader`).
    pub name: String,
    /// The controller's own namespace.
    pub namespace: String,
    /// This instance's identity (the Pod name).
    pub identity: String,
    /// How long a Lease holds without renewal (client-go: 15 s). Written into the Lease as
    /// `leaseDurationSeconds`, so it must be whole seconds.
    pub lease_duration: Duration,
    /// The leader stops acting this long after the start of its last successful renewal,
    /// whatever is in flight (client-go: 10 s). Honoured to the millisecond.
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew (client-go: 2 s). Honoured to the
    /// millisecond.
    pub retry_period: Duration,
    /// Shards the targets are split into, each with its own Lease (`--shards`; 1: the
    /// single Lease `name`, N: `name-NN-of-NN`).
    pub shards: u32,
}

impl LeaseSettings {
    /// client-go's defaults for `name` in `namespace`, held as `identity`.
    pub fn new(name: String, namespace: String, identity: String) -> Self {
        Self {
            name,
            namespace,
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            shards: 1,
        }
    }

    /// Check the timings: a leader must stop acting before any other instance may take the
    /// Lease, and the Lease must say exactly how long it holds.
    pub fn validate(&self) -> Result<(), LeaseSettingsError> {
        if !(1..=super::MAX_SHARDS).contains(&self.shards) {
            return Err(LeaseSettingsError::Shards {
                shards: self.shards,
            });
        }
        let lease = self.lease_duration;
        if lease.subsec_nanos() != 0 || lease.is_zero() {
            return Err(LeaseSettingsError::LeaseNotWholeSeconds { lease });
        }
        if self.retry_period.is_zero() {
            return Err(LeaseSettingsError::NoRetryPeriod);
        }
        if !(lease > self.renew_deadline && self.renew_deadline > self.retry_period) {
            return Err(LeaseSettingsError::Order {
                lease,
                renew: self.renew_deadline,
                retry: self.retry_period,
            });
        }
        Ok(())
    }
}

/// Lease timings that cannot keep one leader at a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseSettingsError {
    /// The Lease records its duration in whole seconds; another instance would read less.
    #[error(
        "--lease-duration {lease:?}: a Lease records its duration in whole seconds (leaseDurationSeconds), so other instances would read a different one; write a whole number of seconds of at least 1s, e.g. 15s"
    )]
    LeaseNotWholeSeconds {
        /// --lease-duration.
        lease: Duration,
    },
    /// No shard, or more than a replica can keep reading.
    #[error(
        "--shards {shards}: write a number from 1 (one Lease, one acting replica) to {max}; each replica reads every shard's Lease once per --retry-period",
        max = super::MAX_SHARDS
    )]
    Shards {
        /// --shards.
        shards: u32,
    },
    /// Attempts would follow each other without pause.
    #[error("--retry-period must be longer than 0s; write e.g. 2s")]
    NoRetryPeriod,
    /// The leader could still act when another instance may take over.
    #[error(
        "--lease-duration ({lease:?}) must be longer than --renew-deadline ({renew:?}), which must be longer than --retry-period ({retry:?}): a leader must step down before its Lease can pass on"
    )]
    Order {
        /// --lease-duration.
        lease: Duration,
        /// --renew-deadline.
        renew: Duration,
        /// --retry-period.
        retry: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(lease_ms: u64, renew_ms: u64, retry_ms: u64) -> LeaseSettings {
        LeaseSettings {
            lease_duration: Duration::from_millis(lease_ms),
            renew_deadline: Duration::from_millis(renew_ms),
            retry_period: Duration::from_millis(retry_ms),
            ..LeaseSettings::new("l".into(), "ns".into(), "me".into())
        }
    }

    #[test]
    fn client_go_defaults_and_sub_second_local_timers_are_valid() {
        assert_eq!(settings(15_000, 10_000, 2_000).validate(), Ok(()));
        assert_eq!(settings(2_000, 1_500, 250).validate(), Ok(()));
    }

    #[test]
    fn the_shard_count_is_bounded() {
        for shards in [0, super::super::MAX_SHARDS + 1] {
            let s = LeaseSettings {
                shards,
                ..settings(15_000, 10_000, 2_000)
            };
            let e = s.validate().expect_err("rejected");
            assert!(e.to_string().contains("--shards"), "{e}");
        }
        let s = LeaseSettings {
            shards: 6,
            ..settings(15_000, 10_000, 2_000)
        };
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn a_lease_duration_that_is_not_whole_seconds_is_rejected() {
        for lease in [1_500, 500, 0] {
            let e = settings(lease, 400, 100).validate().expect_err("rejected");
            assert!(
                matches!(e, LeaseSettingsError::LeaseNotWholeSeconds { .. }),
                "{e}"
            );
            assert!(e.to_string().contains("whole number of seconds"), "{e}");
        }
    }

    #[test]
    fn the_deadline_must_fall_between_the_retry_period_and_the_lease_duration() {
        for (renew, retry) in [(15_000, 2_000), (2_000, 2_000), (1_000, 2_000)] {
            let e = settings(15_000, renew, retry)
                .validate()
                .expect_err("rejected");
            assert!(matches!(e, LeaseSettingsError::Order { .. }), "{e}");
        }
        assert_eq!(
            settings(15_000, 10_000, 0).validate(),
            Err(LeaseSettingsError::NoRetryPeriod)
        );
    }
}
