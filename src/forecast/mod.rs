//! Forecasting the arrival rate over the start-up lead time.
//!
//! [`Forecaster`] keeps the arrival-rate history in buckets and three models of it (the
//! recent level, a daily and a weekly season). Each model is judged at the horizon it is used
//! for: the highest rate of the lead window (start-up time plus an interval), the number a
//! scale-up decision must cover. Its margin is the configured quantile of those errors
//! ([`Calibration`]), and the model whose calibrated upper forecast has been cheapest, its
//! missed windows priced at `missCost`, forecasts: the season is detected from data and only
//! wins where it actually predicts. Every model
//! forecasts at least what arrived in the last window (persistence), so a rise already seen
//! is never forecast away.

mod calibration;
mod compact;
mod demand;
mod error_record;
mod history;
mod seasonal;
mod window_max;

pub use calibration::{Calibration, MarginRule, central, upper};
pub use compact::{decode_rate, encode_rate};
pub use demand::Demand;
pub use history::History;
pub use seasonal::{Prepared, Season, forecast};
pub use window_max::WindowMax;

use calibration::{ERRORS_TO_COMPETE, SAMPLE_EVERY_S};
use seasonal::buckets_read;

/// A forecast for a window of time.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    /// The model that made it.
    pub season: Season,
    /// Highest expected arrival rate in the window, documents/s.
    pub rate: f64,
    /// That rate plus the error margin: what capacity should cover, documents/s.
    pub upper: f64,
    /// The margin, in square-root space (`upper = (sqrt(rate) + margin)²`).
    pub margin: f64,
}

/// How a [`Forecaster`] is set up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecasterSettings {
    /// Bucket width, seconds.
    pub bucket_s: f64,
    /// History kept, seconds.
    pub history_s: f64,
    /// How margins are chosen from the errors.
    pub margin: MarginRule,
}

/// Buckets of history a forecaster holds: of the `history_s` it is given, what its models
/// can read ([`buckets_read`]; 7 days and 2.5 hours of a 14-day history, half its memory).
fn buckets_kept(settings: &ForecasterSettings) -> usize {
    let given = (settings.history_s / settings.bucket_s).ceil() as i64;
    // At least one bucket: `History` holds one whatever it is given.
    buckets_read(settings.bucket_s, given).max(1) as usize
}

/// Buckets ahead whose forecasts are cached at each completed bucket (two hours of 5-minute
/// buckets: the longest hold the policy plans for); later ones are computed when asked.
const AHEAD: i64 = 24;

/// A cached forecast that is not there: a signalling NaN, which no arithmetic yields, so
/// every `f64` a model computes (a NaN included) is kept as it is.
const NO_FORECAST: u64 = 0x7ff0_0000_0000_0d0e;

fn pack(f: Option<f64>) -> u64 {
    f.map_or(NO_FORECAST, f64::to_bits)
}

fn unpack(bits: u64) -> Option<f64> {
    (bits != NO_FORECAST).then(|| f64::from_bits(bits))
}

/// One competing model: its forecasts ahead and its record.
#[derive(Debug, Clone)]
struct Model {
    season: Season,
    /// Forecasts of the buckets after the newest completed one; they change only when a
    /// bucket completes, so ticks read them instead of recomputing. Kept as the bits of an
    /// `f64` with [`NO_FORECAST`] for none: half an `Option<f64>`'s 16 bytes, exactly.
    ahead: Vec<u64>,
    calibration: Calibration,
}

/// The arrival-rate forecaster of one target.
#[derive(Debug, Clone)]
pub struct Forecaster {
    settings: ForecasterSettings,
    history: History,
    models: [Model; 3],
    /// What the last lead window needed: the persistence floor, and the observed need that
    /// settles the models' predictions.
    demand: Demand,
    next_sample: f64,
    chosen: Season,
    /// Mean upper forecast of the level model (documents/s): the scale that makes the
    /// models' capacity costs comparable with their missed windows.
    reference_upper: Option<f64>,
}

impl Forecaster {
    /// An empty forecaster.
    pub fn new(settings: ForecasterSettings) -> Self {
        let model = |season| Model {
            season,
            ahead: Vec::new(),
            calibration: Calibration::default(),
        };
        Forecaster {
            settings,
            history: History::with_buckets(settings.bucket_s, buckets_kept(&settings)),
            models: Season::ALL.map(model),
            demand: Demand::default(),
            next_sample: f64::NEG_INFINITY,
            chosen: Season::None,
            reference_upper: None,
        }
    }

    /// Choose margins by `rule` from now on (a reloaded config changes it without losing
    /// what was learned).
    pub fn set_margin_rule(&mut self, rule: MarginRule) {
        if rule != self.settings.margin {
            self.settings.margin = rule;
            for m in &mut self.models {
                m.calibration.update_margin(rule);
            }
        }
    }

    /// The model forecasting now.
    pub fn season(&self) -> Season {
        self.chosen
    }

    /// The forecasting model's margin, square-root space.
    pub fn margin(&self) -> f64 {
        self.model(self.chosen).calibration.margin()
    }

    /// The history (for reports and tests).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The capacity the last lead window needed (documents/s), if one was observed.
    pub fn recent_peak(&self) -> Option<f64> {
        self.demand.need()
    }

    fn model(&self, season: Season) -> &Model {
        &self.models[Season::ALL.iter().position(|&s| s == season).unwrap_or(0)]
    }

    /// Record that arrivals ran at `rate` documents/s over the `seconds` ending at `t`;
    /// forecasts are judged over lead windows of `window_s` seconds by the capacity each
    /// window needed with waits of `slack_s` allowed ([`Demand`]).
    pub fn observe(&mut self, t: f64, seconds: f64, rate: f64, window_s: f64, slack_s: f64) {
        self.observe_then(t, seconds, rate, window_s, slack_s, true);
    }

    /// [`Forecaster::observe`] for each of a run of past samples `(t, rate)`, oldest first
    /// (a start-up backfill). The same forecaster results; the forecasts cached at each
    /// completed bucket are made only for the last one (a backfill completes a bucket at
    /// nearly every sample and reads one or two of the 24 forecasts before the next).
    pub fn observe_history(
        &mut self,
        seconds: f64,
        samples: &[(f64, f64)],
        window_s: f64,
        slack_s: f64,
    ) {
        for &(t, rate) in samples {
            self.observe_then(t, seconds, rate, window_s, slack_s, false);
        }
        if let Some(newest) = self.history.newest()
            && self.models.iter().any(|m| m.ahead.is_empty())
        {
            self.on_bucket_completed(newest);
        }
    }

    fn observe_then(
        &mut self,
        t: f64,
        seconds: f64,
        rate: f64,
        window_s: f64,
        slack_s: f64,
        cache_ahead: bool,
    ) {
        if !(rate.is_finite() && rate >= 0.0 && seconds > 0.0 && t.is_finite()) {
            return;
        }
        if let Some(completed) = self.history.record(t, seconds, rate) {
            if cache_ahead {
                self.on_bucket_completed(completed);
            } else {
                for m in &mut self.models {
                    m.ahead.clear();
                }
            }
        }
        self.demand.push(t, seconds, rate, window_s, slack_s);
        let peak = self.demand.need().unwrap_or(rate);
        let rule = self.settings.margin;
        for m in &mut self.models {
            m.calibration.settle(t, window_s, peak, rule);
        }
        if t >= self.next_sample {
            self.next_sample = (t / SAMPLE_EVERY_S).floor() * SAMPLE_EVERY_S + SAMPLE_EVERY_S;
            self.sample(t, window_s, peak);
        }
    }

    /// Every model predicts the maximum of the window starting now, and is scored on the
    /// cost of its upper forecast relative to the level model's (the one always present, so
    /// models that joined later compare on the same ticks) plus `missCost` times the share of
    /// windows it missed: the objective its margin is chosen by, so a model that saves
    /// capacity by missing every morning rise does not win over one that forecasts it.
    fn sample(&mut self, t: f64, window_s: f64, peak: f64) {
        let Some(newest) = self.history.newest() else {
            return;
        };
        let (first, last) = (
            self.history.index_of(t),
            self.history.index_of(t + window_s),
        );
        // `models[0]` is the level model: the reference the others are costed against.
        let mut reference = None;
        for i in 0..self.models.len() {
            let m = &self.models[i];
            let Some(f) = window_max(&self.history, m, newest, first, last) else {
                continue;
            };
            let predicted = f.max(peak);
            let upper = upper(predicted, m.calibration.margin());
            if i == 0 {
                reference = Some(upper);
                self.reference_upper = Some(calibration::day_mean(self.reference_upper, upper));
            }
            let m = &mut self.models[i];
            m.calibration.predict(t, predicted);
            if let Some(reference) = reference {
                m.calibration.add_cost(upper - reference);
            }
        }
        let miss_cost = self.settings.margin.miss_cost;
        let scale = self.reference_upper.unwrap_or(0.0);
        let score = |m: &Model| {
            let cost = m.calibration.cost()?;
            if !(miss_cost.is_finite() && scale > 0.0) {
                // Margins at the coverage quantile: the same coverage, so capacity decides.
                return Some(cost);
            }
            Some(cost / scale + miss_cost * m.calibration.missed())
        };
        self.chosen = self
            .models
            .iter()
            .filter(|m| m.calibration.errors() >= ERRORS_TO_COMPETE)
            .filter_map(|m| score(m).map(|c| (m.season, c)))
            .fold(None, |best: Option<(Season, f64)>, (s, c)| match best {
                Some((_, b)) if b <= c => best,
                _ => Some((s, c)),
            })
            .map_or(Season::None, |(s, _)| s);
    }

    fn on_bucket_completed(&mut self, completed: i64) {
        for m in &mut self.models {
            let prepared = Prepared::new(&self.history, m.season, completed);
            m.ahead.clear();
            m.ahead
                .extend((1..=AHEAD).map(|k| pack(prepared.at(completed + k))));
        }
    }

    /// The forecasting model's upper forecast for each of `ticks` ticks of `interval`
    /// seconds from `t` into `out`, and its summary over the first `window_s` seconds.
    /// Without any observation there is nothing to forecast (`None`, `out` empty).
    pub fn upper_path(
        &self,
        t: f64,
        interval: f64,
        ticks: usize,
        window_s: f64,
        out: &mut Vec<f64>,
    ) -> Option<Prediction> {
        out.clear();
        let peak = self.demand.need()?;
        let model = self.model(self.chosen);
        let newest = self.history.newest();
        let margin = model.calibration.margin();
        let mut summary = Prediction {
            season: self.chosen,
            rate: 0.0,
            upper: 0.0,
            margin,
        };
        let mut prepared = None;
        // Ticks in the same bucket have the same forecast: computed once per bucket.
        let mut last: Option<(i64, f64, f64)> = None;
        for k in 0..ticks {
            let at = t + (k as f64 + 0.5) * interval;
            let index = self.history.index_of(at);
            let (rate, up) = match last {
                Some((i, rate, up)) if i == index => (rate, up),
                _ => {
                    let f = newest.and_then(|newest| {
                        bucket_forecast(&self.history, model, newest, index, &mut prepared)
                    });
                    let rate = f.map_or(peak, |f| f.max(peak));
                    let up = upper(rate, margin);
                    last = Some((index, rate, up));
                    (rate, up)
                }
            };
            out.push(up);
            if (k as f64) * interval < window_s {
                summary.rate = summary.rate.max(rate);
                summary.upper = summary.upper.max(up);
            }
        }
        Some(summary)
    }

    /// The highest forecast rate over `[from, to]`, with its margin.
    pub fn predict(&self, from: f64, to: f64) -> Option<Prediction> {
        let newest = self.history.newest()?;
        let model = self.model(self.chosen);
        let (first, last) = (self.history.index_of(from), self.history.index_of(to));
        let rate = window_max(&self.history, model, newest, first, last)?
            .max(self.demand.need().unwrap_or(0.0));
        let margin = model.calibration.margin();
        Some(Prediction {
            season: self.chosen,
            rate,
            upper: upper(rate, margin),
            margin,
        })
    }
}

/// A model's highest bucket forecast over buckets `first..=last`.
fn window_max(history: &History, m: &Model, newest: i64, first: i64, last: i64) -> Option<f64> {
    let mut prepared = None;
    let mut max: Option<f64> = None;
    for index in first..=last.max(first) {
        let f = bucket_forecast(history, m, newest, index, &mut prepared)?;
        max = Some(max.map_or(f, |x| x.max(f)));
    }
    max
}

/// A model's forecast of bucket `index`: the cache when it holds it, the history for a
/// completed bucket, else computed (preparing the model once per call site).
fn bucket_forecast<'h>(
    history: &'h History,
    m: &Model,
    newest: i64,
    index: i64,
    prepared: &mut Option<Prepared<'h>>,
) -> Option<f64> {
    let k = index - newest;
    if k <= 0 {
        return history.get(index).or_else(|| match m.ahead.first() {
            Some(&cached) => unpack(cached),
            // Not cached (during a backfill): what the cache would hold.
            None => prepared
                .get_or_insert_with(|| Prepared::new(history, m.season, newest))
                .at(newest + 1),
        });
    }
    if let Some(&f) = m.ahead.get((k - 1) as usize) {
        return unpack(f);
    }
    prepared
        .get_or_insert_with(|| Prepared::new(history, m.season, newest))
        .at(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ForecasterSettings {
        ForecasterSettings {
            bucket_s: 300.0,
            history_s: 14.0 * 86_400.0,
            margin: MarginRule {
                coverage: 0.95,
                miss_cost: f64::INFINITY,
            },
        }
    }

    #[test]
    fn detects_a_daily_season_from_data_at_a_long_lead() {
        let mut f = Forecaster::new(settings());
        let shape = |t: f64| 10.0 + 9.0 * (2.0 * std::f64::consts::PI * t / 86_400.0).sin();
        let mut t = 0.0;
        while t < 5.0 * 86_400.0 {
            t += 15.0;
            f.observe(t, 15.0, shape(t), 1800.0, 30.0);
        }
        assert_eq!(f.season(), Season::Daily);
        let p = f.predict(t + 3600.0, t + 3700.0).unwrap();
        let truth = shape(t + 3700.0).max(shape(t + 3600.0));
        assert!((p.rate - truth).abs() / truth < 0.1, "{p:?} vs {truth}");
        // The margin comes from the model's own errors at this lead: small for a clean shape.
        assert!((p.upper - truth).abs() / truth < 0.15, "{p:?} vs {truth}");
    }

    #[test]
    fn without_history_there_is_no_forecast() {
        let mut f = Forecaster::new(settings());
        assert!(f.predict(0.0, 100.0).is_none());
        f.observe(15.0, 15.0, 3.0, 105.0, 30.0);
        assert!(f.predict(15.0, 120.0).is_none());
        let mut path = Vec::new();
        let p = f.upper_path(15.0, 15.0, 4, 105.0, &mut path).unwrap();
        assert!(
            path.len() == 4 && path.iter().all(|r| (r - 3.0).abs() < 1e-9),
            "persistence of what was seen: {path:?}"
        );
        assert_eq!(p.season, Season::None);
    }

    #[test]
    fn a_backfill_forecasts_exactly_as_observing_each_sample_would() {
        let mut rng = fastrand::Rng::with_seed(11);
        let shape = |t: f64| 10.0 + 9.0 * (2.0 * std::f64::consts::PI * t / 86_400.0).sin();
        let history: Vec<(f64, f64)> = (1..=9 * 288)
            .map(|k| {
                let t = f64::from(k) * 300.0;
                // A gap now and then, as Prometheus gives.
                let rate = if k % 97 == 5 {
                    f64::NAN
                } else {
                    shape(t) * (0.8 + 0.4 * rng.f64())
                };
                (t, rate)
            })
            .collect();
        let mut one_by_one = Forecaster::new(settings());
        for &(t, rate) in &history {
            one_by_one.observe(t, 300.0, rate, 105.0, 30.0);
        }
        let mut backfilled = Forecaster::new(settings());
        for chunk in history.chunks(1000) {
            backfilled.observe_history(300.0, chunk, 105.0, 30.0);
        }
        let mut t = history.last().map_or(0.0, |&(t, _)| t);
        assert_same_forecasts(&one_by_one, &backfilled, t, "after the backfill");
        // And live ticks after it.
        for _ in 0..100 {
            t += 15.0;
            let rate = shape(t);
            one_by_one.observe(t, 15.0, rate, 105.0, 30.0);
            backfilled.observe(t, 15.0, rate, 105.0, 30.0);
            assert_same_forecasts(&one_by_one, &backfilled, t, "a live tick");
        }
    }

    /// `a` and `b` forecast exactly alike at `t`: the same model and margin, the same
    /// predictions of windows up to two hours ahead, the same upper path over two hours.
    fn assert_same_forecasts(a: &Forecaster, b: &Forecaster, t: f64, what: &str) {
        assert_eq!(a.season(), b.season(), "{what} at {t} s");
        assert_eq!(
            a.margin().to_bits(),
            b.margin().to_bits(),
            "{what} at {t} s"
        );
        for ahead in [0.0, 100.0, 105.0, 900.0, 3600.0, 7000.0] {
            assert_eq!(
                a.predict(t, t + ahead),
                b.predict(t, t + ahead),
                "{what} at {t} s, {ahead} s ahead"
            );
        }
        let (mut pa, mut pb) = (Vec::new(), Vec::new());
        assert_eq!(
            a.upper_path(t, 15.0, 500, 105.0, &mut pa),
            b.upper_path(t, 15.0, 500, 105.0, &mut pb),
            "{what} at {t} s"
        );
        assert_eq!(pa, pb, "{what} at {t} s");
    }

    #[test]
    fn holding_only_the_buckets_the_models_read_changes_no_forecast() {
        const DAY: f64 = 86_400.0;
        // A daily and a weekly shape with noise and outages, 23 days of it: past seasons
        // up to three weeks back are there to be read.
        let mut rng = fastrand::Rng::with_seed(23);
        let shape = |t: f64| {
            let day = (std::f64::consts::TAU * t / DAY).sin();
            let week = (std::f64::consts::TAU * t / (7.0 * DAY)).sin();
            (10.0 + 8.0 * day) * (1.5 + week)
        };
        let samples: Vec<(f64, f64)> = (1..=23 * 576)
            .map(|k| {
                let t = f64::from(k) * 150.0;
                let outage = k % 1009 < 40 || (9.0 * DAY..9.6 * DAY).contains(&t);
                let rate = if outage {
                    f64::NAN
                } else {
                    shape(t) * (0.7 + 0.6 * rng.f64())
                };
                (t, rate)
            })
            .collect();
        // Histories on either side of each past season's reach (its level window half kept
        // 12 buckets after the season), and the default.
        let reach = |days: f64, buckets: f64| days * DAY + buckets * 300.0;
        let cases = [
            (0.5 * DAY, 144),
            (reach(3.0, 11.0), 864),
            (reach(3.0, 12.0), 876),
            (reach(7.0, 11.0), 894),
            (reach(7.0, 12.0), 2028),
            (14.0 * DAY, 2046),
            (reach(14.0, 11.0), 2046),
            (reach(14.0, 12.0), 4044),
            (15.0 * DAY, 4062),
            (reach(21.0, 40.0), 6078),
        ];
        for (history_s, buckets) in cases {
            let s = ForecasterSettings {
                history_s,
                ..settings()
            };
            let mut held = Forecaster::new(s);
            let mut full = Forecaster::new(s);
            full.history = History::new(s.bucket_s, s.history_s);
            assert_eq!(held.history.buckets(), buckets, "{history_s}");
            for (i, &(t, rate)) in samples.iter().enumerate() {
                held.observe(t, 150.0, rate, 105.0, 30.0);
                full.observe(t, 150.0, rate, 105.0, 30.0);
                if i % 7 != 0 {
                    continue;
                }
                assert_same_forecasts(&held, &full, t, &format!("history {history_s} s"));
            }
        }
    }

    #[test]
    fn flat_noisy_load_keeps_the_level_model() {
        let mut f = Forecaster::new(settings());
        let mut rng = fastrand::Rng::with_seed(7);
        let mut t = 0.0;
        while t < 3.0 * 86_400.0 {
            t += 15.0;
            f.observe(t, 15.0, 5.0 + rng.f64(), 105.0, 30.0);
        }
        let p = f.predict(t, t + 105.0).unwrap();
        assert!((p.rate - 5.5).abs() < 0.6, "{p:?}");
        assert!(p.upper > 5.5 && p.upper < 7.0, "{p:?}");
    }
}
