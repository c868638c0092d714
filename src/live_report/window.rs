//! Windowed totals for `GET /report?since=24h`: the last day in hourly buckets, the six
//! days before it in six-hour blocks, plus the total since the target started, in bounded
//! memory. A window of up to a day starts at most an hour early, a longer one at most six
//! hours early, and says where it starts.
//!
//! The hour being filled is summed in `f64`; a finished hour is kept in 16 bits a sum (the
//! forecaster's history encoding, [`crate::forecast::encode_rate`]: within 0.05 %, integers
//! up to 2,048 and most round figures exact), and a block is the sum of its six hours,
//! encoded once more (within 0.1 % of the ticks' own sums). At most 29 hours and 25 blocks
//! of 16 bytes: 0.9 KB per target, allocated once, where a week of hours took 2.7 KB.
//! Longer windows come from the `prescale_report_*` counters in Prometheus.

use super::{ScheduleTotals, Totals};
use crate::forecast::{decode_rate, encode_rate};
use std::collections::VecDeque;

/// Width of a bucket, seconds.
pub const BUCKET_S: f64 = 3600.0;

/// Hours of buckets kept: 7 days, the longest `--since`.
pub const RETAINED_HOURS: usize = 168;

/// The longest window `since` may ask for, seconds.
pub const RETENTION_S: f64 = RETAINED_HOURS as f64 * BUCKET_S;

/// The hours before the open one that stay hourly: a window of a day, wherever it ends in
/// the open hour, starts on an hour of its own.
const HOURLY_BEFORE_OPEN: i64 = 24;

/// The longest window answered to the hour, seconds: longer ones start on a block.
pub const HOURLY_WINDOW_S: f64 = HOURLY_BEFORE_OPEN as f64 * BUCKET_S;

/// Hours in a block; blocks start at multiples of this hour index (UTC 00, 06, 12, 18).
const BLOCK_HOURS: i64 = 6;

/// Finished hours held at most: the last day, and the hours of a block not yet whole
/// before it.
const MAX_HOURS: usize = HOURLY_BEFORE_OPEN as usize + BLOCK_HOURS as usize - 1;

/// Blocks held at most: those touching the rest of the week.
const MAX_BLOCKS: usize =
    (RETAINED_HOURS - 1 - HOURLY_BEFORE_OPEN as usize).div_ceil(BLOCK_HOURS as usize) + 1;

/// Totals over a stretch of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Where the window starts: the first bucket's start, or when the target started if
    /// that is later.
    pub start: f64,
    /// The sums.
    pub totals: Totals,
}

/// A finished bucket's [`Totals`] (an hour or a block) in 16 bits a sum: a quarter of the
/// memory of `f64`s. Every sum is a count or a duration, never negative.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sums {
    /// Replica-seconds, documents, late documents (actual, then recommended), modelled and
    /// unmodelled seconds.
    sums: [u16; 8],
}

impl Sums {
    const ZERO: Sums = Sums { sums: [0; 8] };

    fn of(t: &Totals) -> Self {
        let (a, r) = (&t.actual, &t.recommended);
        Sums {
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

/// One target's hours and blocks, and its total since it started.
#[derive(Debug, Clone, Default)]
pub struct HourlyTotals {
    /// Finished hours, one per hour without a gap (an hour without ticks as zeros), oldest
    /// first, up to `last_finished`.
    hours: VecDeque<Sums>,
    /// The hour index of the newest hour finished.
    last_finished: i64,
    /// Six-hour blocks older than `hours`, one per block without a gap, oldest first, up
    /// to `last_block`.
    blocks: VecDeque<Sums>,
    /// The block index of `blocks`' newest entry.
    last_block: i64,
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
            // Room for the most each holds: never regrown.
            self.hours.reserve_exact(MAX_HOURS);
            self.blocks.reserve_exact(MAX_BLOCKS);
        }
        self.lifetime += *delta;
        let hour = hour_of(t);
        match &mut self.open {
            Some((newest, totals)) if *newest >= hour => *totals += *delta,
            open => {
                let done = open.replace((hour, *delta));
                let oldest_kept = hour - RETAINED_HOURS as i64 + 1;
                if let Some((h, totals)) = done.filter(|(h, _)| *h >= oldest_kept) {
                    self.finish(h, &totals, hour);
                }
                self.fold_into_blocks(hour);
                self.forget_before(oldest_kept);
            }
        }
    }

    /// Keep hour `h`'s sums, after zeros for the hours since the last finished one (they
    /// had no ticks), folding into blocks what the hour `open` allows on the way.
    fn finish(&mut self, h: i64, totals: &Totals, open: i64) {
        let gap = if self.hours.is_empty() {
            0
        } else {
            h - self.last_finished - 1
        };
        if gap >= RETAINED_HOURS as i64 {
            // Everything held is older than the week.
            self.hours.clear();
        } else {
            for _ in 0..gap {
                self.push_hour(self.last_finished + 1, Sums::ZERO, open);
            }
        }
        self.push_hour(h, Sums::of(totals), open);
    }

    /// Append hour `index` (the one after `last_finished`, or any when `hours` is empty),
    /// folding first what is complete: `hours` never outgrows [`MAX_HOURS`].
    fn push_hour(&mut self, index: i64, sums: Sums, open: i64) {
        self.fold_into_blocks(open);
        self.hours.push_back(sums);
        self.last_finished = index;
    }

    /// Fold into blocks the oldest hours whose whole block is finished and more than
    /// [`HOURLY_BEFORE_OPEN`] hours before the hour `open`. A block's hours are summed in
    /// `f64` and encoded once.
    fn fold_into_blocks(&mut self, open: i64) {
        let hourly_from = open - HOURLY_BEFORE_OPEN;
        while !self.hours.is_empty() {
            let block = self.first_hour().div_euclid(BLOCK_HOURS);
            let after_block = (block + 1) * BLOCK_HOURS;
            if after_block > hourly_from || after_block - 1 > self.last_finished {
                return;
            }
            let mut sum = Totals::default();
            while !self.hours.is_empty() && self.first_hour() < after_block {
                if let Some(hour) = self.hours.pop_front() {
                    sum += hour.totals();
                }
            }
            self.push_block(block, Sums::of(&sum));
        }
    }

    /// Append block `index`, after zeros for blocks without ticks since the last one,
    /// dropping the oldest first when full, so the deque never holds more than it was
    /// given room for (it would double).
    fn push_block(&mut self, index: i64, sums: Sums) {
        let gap = if self.blocks.is_empty() {
            0
        } else {
            (index - self.last_block - 1).clamp(0, MAX_BLOCKS as i64)
        };
        for _ in 0..gap {
            self.push_block_bounded(Sums::ZERO);
        }
        self.push_block_bounded(sums);
        self.last_block = index;
    }

    fn push_block_bounded(&mut self, sums: Sums) {
        if self.blocks.len() >= MAX_BLOCKS {
            self.blocks.pop_front();
        }
        self.blocks.push_back(sums);
    }

    /// Drop the blocks wholly before hour `oldest_kept`, and the hours of such blocks: an
    /// hour of a block that is partly kept stays, to be folded into it.
    fn forget_before(&mut self, oldest_kept: i64) {
        while !self.blocks.is_empty() && (self.first_block() + 1) * BLOCK_HOURS <= oldest_kept {
            self.blocks.pop_front();
        }
        while !self.hours.is_empty()
            && (self.first_hour().div_euclid(BLOCK_HOURS) + 1) * BLOCK_HOURS <= oldest_kept
        {
            self.hours.pop_front();
        }
    }

    /// The hour index of `hours`' oldest entry.
    fn first_hour(&self) -> i64 {
        self.last_finished - self.hours.len() as i64 + 1
    }

    /// The block index of `blocks`' oldest entry.
    fn first_block(&self) -> i64 {
        self.last_block - self.blocks.len() as i64 + 1
    }

    /// Everything since the target started; `None` before its first tick.
    pub fn lifetime(&self) -> Option<Window> {
        Some(Window {
            start: self.started?,
            totals: self.lifetime,
        })
    }

    /// The buckets that overlap `[now - since_s, now]`: at least the last `since_s`
    /// seconds; at most an hour more up to a day, at most six hours more beyond (a block
    /// counts whole). `None` before the first tick. `since_s` beyond [`RETENTION_S`] gives
    /// what is kept.
    pub fn since(&self, now: f64, since_s: f64) -> Option<Window> {
        let started = self.started?;
        let first =
            hour_of(now - since_s.min(RETENTION_S)).max(hour_of(now) - RETAINED_HOURS as i64 + 1);
        let mut totals = Totals::default();
        let mut start_hour = first;
        for (block, sums) in (self.first_block()..).zip(&self.blocks) {
            if (block + 1) * BLOCK_HOURS > first {
                start_hour = start_hour.min(block * BLOCK_HOURS);
                totals += sums.totals();
            }
        }
        let skip = (first - self.first_hour()).max(0) as usize;
        for sums in self.hours.iter().skip(skip) {
            totals += sums.totals();
        }
        if let Some((_, open)) = self.open.filter(|(h, _)| *h >= first) {
            totals += open;
        }
        Some(Window {
            start: (start_hour as f64 * BUCKET_S).max(started),
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
    fn memory_is_bounded_to_a_day_of_hours_and_a_week_of_blocks_and_the_lifetime_keeps_counting() {
        let mut w = HourlyTotals::default();
        for hour in 0..1000 {
            w.add(f64::from(hour) * 3600.0, &seconds(1.0));
            assert!(w.hours.len() <= MAX_HOURS && w.blocks.len() <= MAX_BLOCKS);
        }
        assert_eq!(w.hours.capacity(), MAX_HOURS, "never regrown");
        assert_eq!(w.blocks.capacity(), MAX_BLOCKS, "never regrown");
        assert_eq!(std::mem::size_of::<Sums>(), 16);
        assert_eq!((MAX_HOURS, MAX_BLOCKS), (29, 25), "0.9 KB, as documented");
        assert_eq!(w.lifetime().unwrap().totals.modelled_seconds, 1000.0);
        // The week from 999:00:01 reaches back to hour 832, in the block of hours 828..833:
        // it counts whole, and the window says it starts there.
        let now = 999.0 * 3600.0 + 1.0;
        let week = w.since(now, RETENTION_S).unwrap();
        assert_eq!(week.start, 828.0 * 3600.0);
        assert_eq!(week.totals.modelled_seconds, 172.0);
    }

    #[test]
    fn a_day_starts_on_its_own_hour_wherever_it_ends() {
        let mut w = HourlyTotals::default();
        // A tick every 10 minutes for 10 days, each adding a second.
        let ticks: Vec<f64> = (0..10 * 144).map(|i| f64::from(i) * 600.0).collect();
        for (i, &t) in ticks.iter().enumerate() {
            w.add(t, &seconds(1.0));
            if t < 2.0 * 86_400.0 {
                continue;
            }
            let day = w.since(t, 86_400.0).unwrap();
            let first = ((t - 86_400.0) / 3600.0).floor() * 3600.0;
            assert_eq!(day.start, first, "at {t}");
            let inside = ticks[..=i].iter().filter(|&&u| u >= first).count();
            assert_eq!(day.totals.modelled_seconds, inside as f64, "at {t}");
        }
    }

    proptest::proptest! {
        /// Any window, after any pattern of ticks and gaps, starts on the hour asked for up
        /// to a day, at most five hours before it beyond (its block's start), and holds
        /// what the ticks since its start added (within 0.1 %); the memory is never regrown.
        #[test]
        fn any_window_sums_the_ticks_since_its_start(
            ticks in proptest::collection::vec(
                // Mostly ticks minutes apart, now and then a pause of up to two weeks.
                (proptest::prop_oneof![20 => 1u32..=300, 1 => 300u32..=20_000], 0.0f64..100.0),
                50..600,
            )
        ) {
            let mut w = HourlyTotals::default();
            let mut added: Vec<(f64, f64)> = Vec::new();
            let mut t = 1_000_000.0 * 3600.0 + 123.0;
            for &(gap_minutes, value) in &ticks {
                t += f64::from(gap_minutes) * 60.0;
                w.add(t, &seconds(value));
                added.push((t, value));
                proptest::prop_assert_eq!(
                    (w.hours.capacity(), w.blocks.capacity()),
                    (MAX_HOURS, MAX_BLOCKS),
                    "never regrown"
                );
                for hours in [1.0, 5.0, 24.0, 25.0, 72.0, 168.0, 240.0] {
                    let since = hours * 3600.0;
                    let window = w.since(t, since).unwrap();
                    // The hour the window asks for, at most a week of hours back.
                    let asked = ((t - since) / 3600.0)
                        .floor()
                        .max((t / 3600.0).floor() - 167.0)
                        * 3600.0;
                    let started = added[0].0;
                    if hours <= 24.0 {
                        proptest::prop_assert_eq!(window.start, asked.max(started));
                    } else {
                        proptest::prop_assert!(window.start <= asked.max(started));
                        proptest::prop_assert!(window.start >= asked - 5.0 * 3600.0);
                    }
                    let from = (window.start / 3600.0).floor() * 3600.0;
                    let want: f64 = added.iter().filter(|(u, _)| *u >= from).map(|(_, v)| v).sum();
                    let got = window.totals.modelled_seconds;
                    proptest::prop_assert!(
                        (got - want).abs() <= want * 0.001 + 1e-9,
                        "{hours} h at {t}: {got} against {want}"
                    );
                }
            }
        }
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
        assert!(w.hours.len() <= MAX_HOURS && w.blocks.is_empty());
    }

    #[test]
    fn nothing_before_the_first_tick_and_a_clock_stepping_back_adds_to_the_newest_hour() {
        let mut w = HourlyTotals::default();
        assert_eq!(w.lifetime(), None);
        assert_eq!(w.since(0.0, 60.0), None);
        w.add(7200.0, &seconds(1.0));
        w.add(3000.0, &seconds(1.0));
        assert_eq!(w.hours.len(), 0);
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
