//! When may this instance take the Lease? Pure, so the expiry rules are tested without a
//! cluster or a clock.
//!
//! As in client-go, expiry is measured on the local clock from the moment this instance
//! first *observed* the current record, not from the `renewTime` written by another
//! machine: two nodes' clocks need not agree.

use tokio::time::{Duration, Instant};

/// A Lease record as last observed, and when it was first seen in that state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The Lease's `resourceVersion`: any change of the record (a renewal) changes it.
    pub resource_version: String,
    /// When this instance first saw that version.
    pub at: Instant,
}

impl Observed {
    /// Update with the version read now: the time moves only when the record changed.
    pub fn update(previous: Option<Observed>, resource_version: &str, now: Instant) -> Observed {
        match previous {
            Some(p) if p.resource_version == resource_version => p,
            _ => Observed {
                resource_version: resource_version.to_string(),
                at: now,
            },
        }
    }
}

/// May `me` write itself into a Lease held by `holder`?
///
/// Yes when nobody holds it (empty holder: released), when `me` already holds it (renewal),
/// or when the holder has not renewed for `lease_duration` since the record was observed.
pub fn may_acquire(
    holder: Option<&str>,
    me: &str,
    observed: &Observed,
    lease_duration: Duration,
    now: Instant,
) -> bool {
    match holder {
        None | Some("") => true,
        Some(h) if h == me => true,
        Some(_) => now >= observed.at + lease_duration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(15);

    #[test]
    fn a_released_or_empty_lease_is_free() {
        let now = Instant::now();
        let o = Observed::update(None, "1", now);
        assert!(may_acquire(None, "b", &o, LEASE, now));
        assert!(may_acquire(Some(""), "b", &o, LEASE, now));
    }

    #[test]
    fn the_holder_may_renew() {
        let now = Instant::now();
        let o = Observed::update(None, "1", now);
        assert!(may_acquire(Some("a"), "a", &o, LEASE, now));
    }

    #[test]
    fn another_holder_keeps_the_lease_until_it_stops_renewing_for_the_lease_duration() {
        let t0 = Instant::now();
        let o = Observed::update(None, "1", t0);
        assert!(!may_acquire(
            Some("a"),
            "b",
            &o,
            LEASE,
            t0 + Duration::from_secs(14)
        ));
        assert!(may_acquire(Some("a"), "b", &o, LEASE, t0 + LEASE));
    }

    #[test]
    fn a_renewal_restarts_the_expiry_clock() {
        let t0 = Instant::now();
        let o = Observed::update(None, "1", t0);
        // Same version seen again later: the clock does not move.
        let same = Observed::update(Some(o.clone()), "1", t0 + Duration::from_secs(10));
        assert_eq!(same.at, t0);
        // The holder renewed (new version): expiry counts from now.
        let renewed = Observed::update(Some(o), "2", t0 + Duration::from_secs(10));
        assert!(!may_acquire(
            Some("a"),
            "b",
            &renewed,
            LEASE,
            t0 + Duration::from_secs(20)
        ));
        assert!(may_acquire(
            Some("a"),
            "b",
            &renewed,
            LEASE,
            t0 + Duration::from_secs(25)
        ));
    }
}
