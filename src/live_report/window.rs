//! Windowed totals for `GET /report?since=24h`: one bucket per hour for the last
//! [`RETAINED_HOURS`] hours, plus the total since the target started, in bounded memory.
//! The hour being filled is summed in `f64`; a finished hour is kept in 16 bits a sum (the
//! forecaster's history encoding, [`crate::forecast::encode_rate`]: within 0.05 %, integers
//! up to 2,048 and most round figures exact): 167 buckets of 16 bytes, one per hour in
//! order, an hour without ticks as zeros: 2.7 KB per target, allocated once. Longer windows
//! come from the `prescale_report_*` counters in Prometheus.

use super::{ScheduleTotals, Totals};
use crate::forecast::{decode_rate, encode_rate};
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

/// A finished hour's [`Totals`] in 16 bits a sum: a quarter of the memory of a week of hours
/// in `f64`. Every sum is a count or a duration, never negative.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hour {
    /// Replica-seconds, documents, late documents (actual, then recommended), modelled and
    /// unmodelled seconds.
    sums: [u16; 8],
}

impl Hour {
    const ZERO: Hour = Hour { sums: [0; 8] };

    fn of(t: &Totals) -> Self {
        let (a, r) = (&t.actual, &t.recommended);
        Hour {
            sums: [
                a.replica_seconds,
                a.documents,
                a.late_documents,
                r.replica_seconds,
                r.documents,
                r.late_documents,
                t.modelled_seconds,
                t.unmodelled_seconds,
            ]
            .map(|v| encode_rate(Some(v as f32))),
        }
    }

    fn totals(&self) -> Totals {
        let v = self.sums.map(|c| decode_rate(c).map_or(0.0, f64::from));
        Totals {
            actual: ScheduleTotals {
                replica_seconds: v[0],
                documents: v[1],
                late_documents: v[2],
            },
            recommended: ScheduleTotals {
                replica_seconds: v[3],
                documents: v[4],
                late_documents: v[5],
            },
            modelled_seconds: v[6],
            unmodelled_seconds: v[7],
        }
    }
}

/// One target's hourly buckets and its total since it started.
#[derive(Debug, Clone, Default)]
pub struct HourlyTotals {
    /// The finished hours kept, one per hour, oldest first, up to `last_finished`.
    finished: VecDeque<Hour>,
    /// The hour index of `finished`'s newest entry.
    last_finished: i64,
    /// The newest hour, still being added to.
    open: Option<(i64, Totals)>,
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
            // Room for a week (the open hour is the 168th): never regrown.
            self.finished.reserve_exact(RETAINED_HOURS - 1);
        }
        self.lifetime += *delta;
        let hour = hour_of(t);
        match &mut self.open {
            Some((newest, totals)) if *newest >= hour => *totals += *delta,
            open => {
                let done = open.replace((hour, *delta));
                let oldest_kept = hour - RETAINED_HOURS as i64 + 1;
                if let Some((h, totals)) = done.filter(|(h, _)| *h >= oldest_kept) {
                    // Hours between the last finished one and this one had no ticks.
                    let gap = if self.finished.is_empty() {
                        0
                    } else {
                        (h - self.last_finished - 1).clamp(0, RETAINED_HOURS as i64)
                    };
                    for _ in 0..gap {
                        self.push_hour(Hour::ZERO);
                    }
                    self.push_hour(Hour::of(&totals));
                    self.last_finished = h;
                }
                // Hours out of the week go.
                while !self.finished.is_empty() && self.first_finished() < oldest_kept {
                    self.finished.pop_front();
                }
            }
        }
    }

    /// Append a finished hour, dropping the oldest first when the week is full, so the
    /// deque never holds more than it was given room for (it would double).
    fn push_hour(&mut self, hour: Hour) {
        if self.finished.len() >= RETAINED_HOURS - 1 {
            self.finished.pop_front();
        }
        self.finished.push_back(hour);
    }

    /// The hour index of `finished`'s oldest entry.
    fn first_finished(&self) -> i64 {
        self.last_finished - self.finished.len() as i64 + 1
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
        let skip = (first - self.first_finished()).max(0) as usize;
        for h in self.finished.iter().skip(skip) {
            totals += h.totals();
        }
        if let Some((_, open)) = self.open.filter(|(h, _)| *h >= first) {
            totals += open;
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
        assert_eq!(w.finished.len() + 1, RETAINED_HOURS);
        assert_eq!(w.finished.capacity(), RETAINED_HOURS - 1, "never regrown");
        assert_eq!(std::mem::size_of::<Hour>(), 16);
        assert_eq!(w.lifetime().unwrap().totals.modelled_seconds, 1000.0);
        let now = 999.0 * 3600.0 + 1.0;
        let week = w.since(now, RETENTION_S).unwrap();
        assert_eq!(week.totals.modelled_seconds, RETAINED_HOURS as f64);
    }

    #[test]
    fn hours_without_ticks_count_as_nothing_and_still_age_out() {
        let mut w = HourlyTotals::default();
        // Ticks in hours 0, 1, 5 and 9 only.
        for hour in [0, 1, 5, 9] {
            w.add(
                f64::from(hour) * 3600.0 + 10.0,
                &seconds(f64::from(hour + 1)),
            );
        }
        let now = 9.0 * 3600.0 + 20.0;
        // The last 5 hours overlap hours 5..=9: 6 + 10.
        assert_eq!(
            w.since(now, 4.0 * 3600.0 + 30.0)
                .unwrap()
                .totals
                .modelled_seconds,
            16.0
        );
        assert_eq!(
            w.since(now, 9.0 * 3600.0).unwrap().totals.modelled_seconds,
            19.0
        );
        // A week later only the newest hour is left of them.
        let later = 9.0 * 3600.0 + RETENTION_S;
        w.add(later, &seconds(100.0));
        let week = w.since(later, RETENTION_S).unwrap();
        assert_eq!(week.totals.modelled_seconds, 100.0);
        assert!(w.finished.len() < RETAINED_HOURS);
    }

    #[test]
    fn nothing_before_the_first_tick_and_a_clock_stepping_back_adds_to_the_newest_hour() {
        let mut w = HourlyTotals::default();
        assert_eq!(w.lifetime(), None);
        assert_eq!(w.since(0.0, 60.0), None);
        w.add(7200.0, &seconds(1.0));
        w.add(3000.0, &seconds(1.0));
        assert_eq!(w.finished.len(), 0);
        assert_eq!(w.since(7300.0, 60.0).unwrap().totals.modelled_seconds, 2.0);
    }

    #[test]
    fn a_finished_hour_keeps_its_sums_within_a_twentieth_of_a_percent() {
        let mut w = HourlyTotals::default();
        let odd = Totals {
            actual: ScheduleTotals {
                replica_seconds: 14_400.0,
                documents: 7_234.567,
                late_documents: 0.125,
            },
            recommended: ScheduleTotals {
                replica_seconds: 12_345.678,
                documents: 7_234.567,
                late_documents: 0.0,
            },
            modelled_seconds: 3_600.0,
            unmodelled_seconds: 0.0,
        };
        w.add(10.0, &odd);
        w.add(3_610.0, &seconds(0.0));
        let hour = w.since(3_620.0, 2.0 * 3600.0).unwrap().totals;
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.0005;
        assert!(close(hour.actual.documents, 7_234.567), "{hour:?}");
        assert!(
            close(hour.recommended.replica_seconds, 12_345.678),
            "{hour:?}"
        );
        // Round figures are kept exactly.
        assert_eq!(hour.actual.replica_seconds, 14_400.0);
        assert_eq!(hour.actual.late_documents, 0.125);
        assert_eq!(hour.modelled_seconds, 3_600.0);
        assert_eq!(hour.recommended.late_documents, 0.0);
    }
}
