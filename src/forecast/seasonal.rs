//! Candidate models of the arrival rate, scored online; the best one forecasts.
//!
//! The season is not assumed: a no-season model (the recent level), a daily and a weekly
//! seasonal model compete on their own recent one-bucket-ahead errors, and the one with the
//! lowest error forecasts. Before a day of history only the level model can, which is the
//! reactive behaviour a cold start needs.

use super::History;

/// The models that compete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Season {
    /// No season: the recent level.
    None,
    /// A daily pattern.
    Daily,
    /// A weekly pattern.
    Weekly,
}

impl Season {
    /// Every model, in order of preference on equal error.
    pub const ALL: [Season; 3] = [Season::None, Season::Daily, Season::Weekly];

    fn period_s(self) -> Option<f64> {
        match self {
            Season::None => None,
            Season::Daily => Some(86_400.0),
            Season::Weekly => Some(7.0 * 86_400.0),
        }
    }
}

/// Buckets the recent level is measured over (the no-season model).
const LEVEL_BUCKETS: i64 = 2;
/// How much of a rise under way the no-season model carries into each next bucket: the rise
/// per bucket (the recent level over the one before it) is extrapolated with this damping,
/// so a ramp is met a lead time ahead without a straight line running off to infinity (at
/// most `TREND_DAMPING / (1 - TREND_DAMPING)` buckets of it: 45 minutes of the rise).
const TREND_DAMPING: f64 = 0.9;
/// Buckets a seasonal model compares today's level with the season's over: long enough
/// that a short outage (arrivals stop, then return with a surge) does not talk the model
/// out of the season's capacity just before the surge.
const RATIO_BUCKETS: i64 = 24;
/// How far back a collapsed level is still held against (see [`forecast`]).
const HOLD_BUCKETS: i64 = 6;
/// Fraction of the level of `HOLD_BUCKETS` ago the no-season model holds on to.
const HOLD_FRACTION: f64 = 0.75;
/// Past seasons averaged by a seasonal model.
const SEASONS_AVERAGED: i64 = 3;

/// How many of a history's newest `kept` buckets the models can ever read: the buckets
/// older than that would change no forecast, so they need not be held.
///
/// The oldest reads are a past season's level, the [`RATIO_BUCKETS`] ending
/// [`HOLD_BUCKETS`] before the same time that season ago, and the level model's same bucket
/// of past days. A past season counts only where its level window has at least half its
/// buckets kept ([`level`]): with 14 days kept, two weeks ago is out of reach by 2.5 hours,
/// so the weekly model averages last week alone and nothing older than 7 days and 30 buckets
/// is read; with 15 days, two weeks count, and 14 days and 30 buckets are read.
pub(super) fn buckets_read(bucket_s: f64, kept: i64) -> i64 {
    let period = |season: Season| {
        season
            .period_s()
            .map_or(0, |s| (s / bucket_s).round() as i64)
    };
    // The level model: its recent levels, and the same bucket of the past days it holds to.
    let mut oldest = (HOLD_BUCKETS + LEVEL_BUCKETS).max(SEASONS_AVERAGED * period(Season::Daily));
    for season in [Season::Daily, Season::Weekly] {
        for n in 1..=SEASONS_AVERAGED {
            let shift = n * period(season);
            // The level window nearest to now (no hold) is the one most of which is kept.
            let reached = (kept - shift).clamp(0, RATIO_BUCKETS) >= fewest_for_level(RATIO_BUCKETS);
            if reached {
                oldest = oldest.max(shift + HOLD_BUCKETS + RATIO_BUCKETS);
            }
        }
    }
    kept.min(oldest)
}

/// Forecast of bucket `target` by `season`, from the buckets completed up to `newest`.
pub fn forecast(history: &History, season: Season, newest: i64, target: i64) -> Option<f64> {
    Prepared::new(history, season, newest).at(target)
}

/// A model set up at the newest completed bucket: what does not depend on the bucket
/// forecast (levels and ratios) is computed once, so forecasting many buckets ahead is cheap.
pub struct Prepared<'h> {
    history: &'h History,
    season: Season,
    /// Buckets per season (0 for the level model).
    period: i64,
    /// The level model: the recent level, and the level a collapse is held against.
    now: Option<f64>,
    hold: f64,
    /// The level model: the rise per bucket under way (0 when the level is flat or falling).
    rise: f64,
    newest: i64,
    /// A seasonal model: for each past season averaged, today's level over that season's.
    ratios: [Option<f64>; SEASONS_AVERAGED as usize],
}

impl<'h> Prepared<'h> {
    /// Prepare `season` on `history` whose newest completed bucket is `newest`.
    pub fn new(history: &'h History, season: Season, newest: i64) -> Self {
        let mut model = Prepared {
            history,
            season,
            period: 0,
            now: None,
            hold: 0.0,
            rise: 0.0,
            newest,
            ratios: [None; SEASONS_AVERAGED as usize],
        };
        let Some(period_s) = season.period_s() else {
            model.now = level(history, newest, 0, LEVEL_BUCKETS);
            let before = level(history, newest - HOLD_BUCKETS, 0, LEVEL_BUCKETS).unwrap_or(0.0);
            model.hold = HOLD_FRACTION * before;
            // Only a rise is extrapolated: a fall is believed gradually (`hold`), never
            // projected below what arrives now.
            let previous = level(history, newest - LEVEL_BUCKETS, 0, LEVEL_BUCKETS);
            if let (Some(now), Some(previous)) = (model.now, previous) {
                model.rise = ((now - previous) / LEVEL_BUCKETS as f64).max(0.0);
            }
            return model;
        };
        model.period = (period_s / history.bucket_s()).round() as i64;
        for (n, ratio) in model.ratios.iter_mut().enumerate() {
            let shift = (n as i64 + 1) * model.period;
            // A level that just collapsed is not believed at once: the ratio of
            // `HOLD_BUCKETS` ago still counts, so a short outage keeps the season's capacity
            // for the surge that follows it.
            *ratio = [0, HOLD_BUCKETS]
                .into_iter()
                .filter_map(|back| level_ratio(history, newest - back, shift))
                .fold(None, |best: Option<f64>, r| {
                    Some(best.map_or(r, |b| b.max(r)))
                });
        }
        model
    }

    /// The forecast of bucket `target`, or `None` without the history it needs.
    pub fn at(&self, target: i64) -> Option<f64> {
        if self.season == Season::None {
            // The recent level, but a collapse is believed only gradually (see
            // `HOLD_BUCKETS`), and never held above what the same time of past days saw: the
            // end of a batch that is not part of the day's pattern releases its capacity at once.
            let now = self.now?;
            let mut hold = self.hold;
            if let Some(usual) = same_time_before(self.history, Season::Daily, target) {
                hold = hold.min(usual);
            }
            return Some((now + self.rise * damped_buckets(target - self.newest)).max(hold));
        }
        // Last seasons' values at the same point, each scaled by how today's level compares
        // with that season's.
        let mut total = 0.0;
        let mut weight = 0.0;
        for (n, ratio) in self.ratios.iter().enumerate() {
            let shift = (n as i64 + 1) * self.period;
            if let (Some(then), Some(ratio)) = (self.history.get(target - shift), ratio) {
                total += then * ratio;
                weight += 1.0;
            }
        }
        (weight > 0.0).then(|| total / weight)
    }
}

/// Buckets of a rise a forecast `ahead` buckets after the newest completed one carries:
/// `φ + φ² + … + φ^ahead` with `φ` = [`TREND_DAMPING`].
fn damped_buckets(ahead: i64) -> f64 {
    let ahead = ahead.clamp(0, i64::from(i32::MAX)) as i32;
    TREND_DAMPING * (1.0 - TREND_DAMPING.powi(ahead)) / (1.0 - TREND_DAMPING)
}

/// Mean of bucket `target`'s counterparts in the past `SEASONS_AVERAGED` seasons.
fn same_time_before(history: &History, season: Season, target: i64) -> Option<f64> {
    let period = (season.period_s()? / history.bucket_s()).round() as i64;
    let (sum, n) = (1..=SEASONS_AVERAGED)
        .filter_map(|n| history.get(target - n * period))
        .fold((0.0, 0.0), |(s, c), v| (s + v, c + 1.0));
    (n > 0.0).then(|| sum / n)
}

/// Today's level over a season's level at the same point, both over `RATIO_BUCKETS`
/// ending at `end`; a small floor keeps near-zero levels from exploding the ratio.
fn level_ratio(history: &History, end: i64, shift: i64) -> Option<f64> {
    let now = level(history, end, 0, RATIO_BUCKETS)?;
    let then = level(history, end, shift, RATIO_BUCKETS)?;
    let floor = 0.05 * now.max(then) + 1e-9;
    Some(((now + floor) / (then + floor)).clamp(0.1, 10.0))
}

/// Mean of the `buckets` buckets ending at `newest - shift` (those with data; at least
/// [`fewest_for_level`]).
fn level(history: &History, newest: i64, shift: i64, buckets: i64) -> Option<f64> {
    let (sum, n) = history.sum_back(newest - shift, buckets);
    let n = n as f64;
    (n >= fewest_for_level(buckets) as f64).then(|| sum / n)
}

/// Buckets with data a level over `buckets` needs: half of them ([`buckets_read`] relies on
/// the same count).
fn fewest_for_level(buckets: i64) -> i64 {
    buckets / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(days: usize, rate: impl Fn(f64) -> f64) -> History {
        filled_keeping(14.0, days, rate)
    }

    fn filled_keeping(kept_days: f64, days: usize, rate: impl Fn(f64) -> f64) -> History {
        let mut h = History::new(300.0, kept_days * 86_400.0);
        let mut t = 0.0;
        while t < days as f64 * 86_400.0 {
            t += 60.0;
            h.record(t, 60.0, rate(t));
        }
        h
    }

    #[test]
    fn the_level_model_carries_a_rise_under_way_but_never_projects_a_fall() {
        // A ramp of 1 document/s more every 5-minute bucket, then the same ramp down.
        let ramp = filled(1, |t| 1.0 + t / 300.0);
        let newest = ramp.newest().unwrap();
        let now = forecast(&ramp, Season::None, newest, newest + 1).unwrap();
        let later = forecast(&ramp, Season::None, newest, newest + 3).unwrap();
        let last = ramp.get(newest).unwrap();
        // One bucket ahead: the level of the last two buckets (half a bucket behind the
        // newest) plus 0.9 of the rise per bucket.
        assert!(now > last && later > now, "{last} {now} {later}");
        assert!((later - now - (0.81 + 0.729)).abs() < 0.3, "{now} {later}");
        // Far ahead the rise is damped out: at most 9 buckets of it.
        let far = forecast(&ramp, Season::None, newest, newest + 500).unwrap();
        assert!(far < last + 10.0, "{far}");
        let flat = filled(1, |_| 5.0);
        let newest = flat.newest().unwrap();
        assert_eq!(forecast(&flat, Season::None, newest, newest + 6), Some(5.0));
        let fall = filled(1, |t| 400.0 - t / 300.0);
        let newest = fall.newest().unwrap();
        let level = forecast(&fall, Season::None, newest, newest + 6).unwrap();
        assert!(
            level >= fall.get(newest).unwrap(),
            "a fall is not projected: {level}"
        );
    }

    #[test]
    fn a_daily_model_recovers_a_daily_pattern() {
        let shape = |t: f64| 10.0 + 8.0 * (2.0 * std::f64::consts::PI * t / 86_400.0).sin();
        let h = filled(4, shape);
        let newest = h.newest().unwrap();
        let target = newest + 12; // an hour ahead
        let truth = shape((target as f64 + 0.5) * 300.0);
        let daily = forecast(&h, Season::Daily, newest, target).unwrap();
        let level = forecast(&h, Season::None, newest, target).unwrap();
        assert!(
            (daily - truth).abs() / truth < 0.05,
            "daily {daily} vs {truth}"
        );
        assert!((daily - truth).abs() < (level - truth).abs());
        assert!(
            forecast(&h, Season::Weekly, newest, target).is_none(),
            "no week of history yet"
        );
    }

    #[test]
    fn the_weekly_model_averages_the_weeks_its_level_comparison_reaches() {
        // Three weeks of a weekly shape; in one variant days 6 to 13 (the week before last,
        // around the time forecast) are doubled.
        const DAY: f64 = 86_400.0;
        let shape = |t: f64| 10.0 + 5.0 * (std::f64::consts::TAU * t / (7.0 * DAY)).sin();
        let doubled = |t: f64| {
            if (6.0 * DAY..13.0 * DAY).contains(&t) {
                2.0 * shape(t)
            } else {
                shape(t)
            }
        };
        let weekly = |kept_days: f64, rate: &dyn Fn(f64) -> f64| {
            let h = filled_keeping(kept_days, 21, rate);
            let newest = h.newest().unwrap();
            forecast(&h, Season::Weekly, newest, newest + 12).unwrap()
        };
        // 14 days: the week before last is kept, but not the 2.5 hours before its same time
        // that its level is compared over, so it does not count at all.
        assert_eq!(weekly(14.0, &shape), weekly(14.0, &doubled));
        // 15 days: it counts (scaled to today's level, so not twice as much).
        let (normal, with_doubled) = (weekly(15.0, &shape), weekly(15.0, &doubled));
        assert!(
            with_doubled > normal && with_doubled < 1.1 * normal,
            "{normal} {with_doubled}"
        );
    }
}
