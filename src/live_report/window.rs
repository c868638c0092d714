//! Windowed totals for `GET /report?since=24h`: one bucket per hour for the last
//! [`RETAINED_HOURS`] hours, plus the total since the target started, in bounded memory
//! (168 buckets of 72 bytes: 12 KB per target, allocated once). Longer windows come from the
//! `prescale_report_*` counters in Prometheus.

use super::Totals;
use std::collections::VecDeque;

/// Width of a bucket, seconds.
pub const BUCKET_S: f64 = 3600.0;

/// Hourly buckets kept: 7 days, the longest `--since`.
pub const RETAINED_HOURS: usize = 168;

/// The longest window `since` may ask for, seconds.
pub const RETENTION_S: f64 = RETAINED_HOURS as f64 * BUCKET_S;

/// Totals over a stretch of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Where the window starts: the first bucket's start, or when the target started if
    /// that is later.
    pub start: f64,
    /// The sums.
    pub totals: Totals,
}

/// One target's hourly buckets and its total since it started.
#[derive(Debug, Clone, Default)]
pub struct HourlyTotals {
    /// `(hour index, totals)`, oldest first.
    buckets: VecDeque<(i64, Totals)>,
    lifetime: Totals,
    started: Option<f64>,
}

fn hour_of(t: f64) -> i64 {
    (t / BUCKET_S).floor() as i64
}

impl HourlyTotals {
    /// Add what the tick at `t` contributed. The first call marks the start (even with
    /// nothing to add). A `t` before the newest bucket (a clock stepping back) is added to
    /// the newest bucket.
    pub fn add(&mut self, t: f64, delta: &Totals) {
        if self.started.is_none() {
            self.started = Some(t);
            // Room for a week and the bucket that pushes the oldest out: never regrown.
            self.buckets.reserve_exact(RETAINED_HOURS + 1);
        }
        self.lifetime += *delta;
        let hour = hour_of(t);
        match self.buckets.back_mut() {
            Some((newest, totals)) if *newest >= hour => *totals += *delta,
            _ => self.buckets.push_back((hour, *delta)),
        }
        while self
            .buckets
            .front()
            .is_some_and(|(h, _)| *h <= hour - RETAINED_HOURS as i64)
        {
            self.buckets.pop_front();
        }
    }

    /// Everything since the target started; `None` before its first tick.
    pub fn lifetime(&self) -> Option<Window> {
        Some(Window {
            start: self.started?,
            totals: self.lifetime,
        })
    }

    /// The buckets that overlap `[now - since_s, now]`: at least the last `since_s`
    /// seconds, at most an hour more. `None` before the first tick. `since_s` beyond
    /// [`RETENTION_S`] gives what is kept.
    pub fn since(&self, now: f64, since_s: f64) -> Option<Window> {
        let started = self.started?;
        let first =
            hour_of(now - since_s.min(RETENTION_S)).max(hour_of(now) - RETAINED_HOURS as i64 + 1);
        let mut totals = Totals::default();
        for (_, t) in self.buckets.iter().filter(|(h, _)| *h >= first) {
            totals += *t;
        }
        Some(Window {
            start: (first as f64 * BUCKET_S).max(started),
            totals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(modelled: f64) -> Totals {
        Totals {
            modelled_seconds: modelled,
            ..Totals::default()
        }
    }

    #[test]
    fn since_sums_the_hours_that_overlap_the_window() {
        let mut w = HourlyTotals::default();
        let h = 1_000 * 3600;
        w.add(f64::from(h) + 100.0, &seconds(1.0));
        w.add(f64::from(h + 3600) + 100.0, &seconds(2.0));
        w.add(f64::from(h + 2 * 3600) + 100.0, &seconds(4.0));
        let now = f64::from(h + 2 * 3600) + 200.0;
        assert_eq!(w.since(now, 60.0).unwrap().totals.modelled_seconds, 4.0);
        let hour = w.since(now, 3600.0).unwrap();
        assert_eq!(hour.totals.modelled_seconds, 6.0);
        assert_eq!(hour.start, f64::from(h + 3600));
        let all = w.since(now, RETENTION_S).unwrap();
        assert_eq!(all.totals.modelled_seconds, 7.0);
        assert_eq!(all.start, f64::from(h) + 100.0, "not before the start");
        assert_eq!(w.lifetime().unwrap().totals.modelled_seconds, 7.0);
    }

    #[test]
    fn memory_is_bounded_to_the_retained_hours_and_the_lifetime_keeps_counting() {
        let mut w = HourlyTotals::default();
        for hour in 0..1000 {
            w.add(f64::from(hour) * 3600.0, &seconds(1.0));
        }
        assert_eq!(w.buckets.len(), RETAINED_HOURS);
        assert!(
            w.buckets.capacity() <= RETAINED_HOURS + 1,
            "{}",
            w.buckets.capacity()
        );
        assert_eq!(std::mem::size_of::<(i64, Totals)>(), 72);
        assert_eq!(w.lifetime().unwrap().totals.modelled_seconds, 1000.0);
        let now = 999.0 * 3600.0 + 1.0;
        let week = w.since(now, RETENTION_S).unwrap();
        assert_eq!(week.totals.modelled_seconds, RETAINED_HOURS as f64);
    }

    #[test]
    fn nothing_before_the_first_tick_and_a_clock_stepping_back_adds_to_the_newest_hour() {
        let mut w = HourlyTotals::default();
        assert_eq!(w.lifetime(), None);
        assert_eq!(w.since(0.0, 60.0), None);
        w.add(7200.0, &seconds(1.0));
        w.add(3000.0, &seconds(1.0));
        assert_eq!(w.buckets.len(), 1);
        assert_eq!(w.since(7300.0, 60.0).unwrap().totals.modelled_seconds, 2.0);
    }
}
