//! A target's history cut into what the replay needs: the warm-up the forecaster is
//! backfilled with, and the replayed ticks with their arrivals, gaps and what ran.
//!
//! Alignment: the instant `T_k` carries what was seen *at* `T_k`, so a rate sampled at
//! `T_k` covers the interval ending there and a replica count is what was running as that
//! interval ended. Replayed tick `j` is the interval `[T_{p+j}, T_{p+j+1})` (`p`: the first
//! replayed instant): its arrivals and what ran come from the instant at its end, and the
//! decision at its start sees only instants up to `T_{p+j}`.

use std::time::Duration;

use super::history::{History, Points, replica_count, span};
use crate::simulate::default_warmup_days;

const DAY_S: f64 = 86_400.0;

/// The replay's input for one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// Unix time of the first replayed decision.
    pub origin: f64,
    /// Tick length, seconds (the target's interval).
    pub tick: f64,
    /// Arrival rate of each replayed tick, documents/s; a gap's ticks are interpolated
    /// between the rates around it (they are not scored).
    pub rates: Vec<f64>,
    /// Whether each tick's arrivals were observed: the ticks that are scored.
    pub known: Vec<bool>,
    /// Whether the decision at each tick's start had its metrics (not in a gap).
    pub seen: Vec<bool>,
    /// Arrival-rate samples before the first decision, `(Unix seconds, documents/s)`: the
    /// forecaster is backfilled with them as the controller backfills it when it starts.
    pub warmup: Vec<(f64, f64)>,
    /// What was observed at the first decision.
    pub at_start: AtStart,
    /// The replicas that ran.
    pub what_ran: WhatRan,
    /// Observed p95 queue wait at the end of each tick, when a `waitP95` history exists.
    pub observed_wait: Option<Points>,
    /// How much of the window had data.
    pub coverage: Coverage,
    /// What the user should know about this history (gaps, retention, filled values).
    pub notes: Vec<String>,
}

/// What was observed at the instant of the first decision.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AtStart {
    /// Arrival rate over the interval before it.
    pub arrival_rate: Option<f64>,
    /// Documents waiting.
    pub queue_depth: Option<f64>,
    /// Replicas running.
    pub replicas: Option<u32>,
}

/// The schedule that really ran, per replayed tick.
#[derive(Debug, Clone, PartialEq)]
pub enum WhatRan {
    /// No replicas history: only prescale and the oracle can be scored.
    Unknown {
        /// Why, for the report.
        reason: String,
    },
    /// `spec.replicas` (and ready replicas, when known) of each tick.
    Known {
        /// `spec.replicas` of each tick.
        replicas: Vec<u32>,
        /// Ready replicas of each tick; `None`: no readiness history (the model's start-up
        /// time stands in).
        ready: Option<Vec<u32>>,
    },
}

/// How much of the asked window had data, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Coverage {
    /// Start of the window asked for (step-aligned).
    pub asked_from: f64,
    /// End of the window asked for (step-aligned).
    pub asked_to: f64,
    /// First instant with an arrival rate.
    pub data_from: f64,
    /// Last instant with an arrival rate.
    pub data_to: f64,
    /// Warm-up: seconds of arrival-rate history backfilled before the first decision.
    pub warmup_s: f64,
    /// Arrival-rate samples in the warm-up.
    pub warmup_samples: usize,
    /// Replayed ticks.
    pub ticks: usize,
    /// Replayed ticks without observed arrivals (not scored).
    pub gap_ticks: usize,
}

/// Why a history cannot be replayed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrepareError {
    /// The arrival-rate history is empty.
    #[error(
        "the arrival-rate history has no sample in the window; check the query with `prescale probe`, and that the window lies within Prometheus's retention (15 days by default)"
    )]
    NoArrivals,
    /// The data does not outlast the warm-up.
    #[error(
        "only {available_h:.1} h of arrival-rate history, not more than the {warmup_h:.1} h warm-up; pass a shorter --warmup or a longer window"
    )]
    TooShort {
        /// Hours of data.
        available_h: f64,
        /// Hours of warm-up.
        warmup_h: f64,
    },
}

/// The warm-up when none is asked for: BENCH.md's rule on the days with data (7 days from
/// a 14-day history, 1 day from 3 days, half a day below).
pub fn default_warmup(available: Duration) -> Duration {
    Duration::from_secs_f64(default_warmup_days(available.as_secs_f64() / DAY_S) * DAY_S)
}

/// Cut `history` into warm-up and replay. `warmup`: `None` for [`default_warmup`].
pub fn prepare(history: &History, warmup: Option<Duration>) -> Result<Prepared, PrepareError> {
    let grid = history.grid;
    let step = grid.step;
    let (first, last) = span(&history.arrival_rate).ok_or(PrepareError::NoArrivals)?;
    let available = Duration::from_secs_f64((last - first) as f64 * step);
    let warmup = warmup.unwrap_or_else(|| default_warmup(available));
    let warmup_points = (warmup.as_secs_f64() / step).round() as usize;
    let p = first + warmup_points;
    if p >= last {
        return Err(PrepareError::TooShort {
            available_h: available.as_secs_f64() / 3600.0,
            warmup_h: warmup.as_secs_f64() / 3600.0,
        });
    }
    let ticks = last - p;
    let rate = &history.arrival_rate;
    let filled = fill_linear(&rate[first..=last]);
    let rates = (0..ticks).map(|j| filled[p + j + 1 - first]).collect();
    let known: Vec<bool> = (0..ticks).map(|j| rate[p + j + 1].is_some()).collect();
    let seen = (0..ticks).map(|j| rate[p + j].is_some()).collect();
    let warmup_samples: Vec<(f64, f64)> = (first..p)
        .filter_map(|k| rate[k].map(|v| (grid.time(k), v)))
        .collect();
    let what_ran = what_ran(history, p, last);
    let observed_wait = history
        .wait_p95
        .as_ref()
        .map(|w| (0..ticks).map(|j| w[p + j + 1]).collect());
    let gap_ticks = known.iter().filter(|k| !**k).count();
    let coverage = Coverage {
        asked_from: grid.start,
        asked_to: grid.time(grid.points - 1),
        data_from: grid.time(first),
        data_to: grid.time(last),
        warmup_s: warmup_points as f64 * step,
        warmup_samples: warmup_samples.len(),
        ticks,
        gap_ticks,
    };
    let mut notes = Vec::new();
    note_coverage(&coverage, step, &mut notes);
    note_gaps(&known, step, &mut notes);
    if let WhatRan::Known { replicas, .. } = &what_ran
        && let Some(series) = &history.replicas
    {
        let carried = (0..replicas.len())
            .filter(|&j| series[p + j + 1].is_none())
            .count();
        if carried > 0 {
            notes.push(format!(
                "replicas: {carried} of {ticks} ticks had no sample; each took the nearest earlier value (the first ones the next value)"
            ));
        }
    }
    Ok(Prepared {
        origin: grid.time(p),
        tick: step,
        rates,
        known,
        seen,
        warmup: warmup_samples,
        at_start: AtStart {
            arrival_rate: rate[p],
            queue_depth: history.queue_depth.as_ref().and_then(|q| q[p]),
            replicas: history
                .replicas
                .as_ref()
                .and_then(|r| r[p])
                .and_then(replica_count),
        },
        what_ran,
        observed_wait,
        coverage,
        notes,
    })
}

/// Linear interpolation over the missing values between known ones; the ends take the
/// nearest known value; all missing is all zero.
pub fn fill_linear(points: &[Option<f64>]) -> Vec<f64> {
    let mut out = vec![0.0; points.len()];
    let mut previous: Option<(usize, f64)> = None;
    for (k, p) in points.iter().enumerate() {
        let Some(v) = *p else { continue };
        match previous {
            Some((i, before)) => {
                for (gap, slot) in out.iter_mut().enumerate().take(k).skip(i + 1) {
                    let f = (gap - i) as f64 / (k - i) as f64;
                    *slot = before + (v - before) * f;
                }
            }
            None => out[..k].fill(v),
        }
        out[k] = v;
        previous = Some((k, v));
    }
    if let Some((i, v)) = previous {
        out[i + 1..].fill(v);
    }
    out
}

/// Each tick's replicas (and ready replicas) from the instant at its end, carried forward
/// over missing samples (and back from the first sample at the start).
fn what_ran(history: &History, p: usize, last: usize) -> WhatRan {
    let ticks = last - p;
    let per_tick = |series: &Points| -> Option<Vec<u32>> {
        let counts: Vec<Option<u32>> = (0..ticks)
            .map(|j| series[p + j + 1].and_then(replica_count))
            .collect();
        let first = counts.iter().flatten().next().copied()?;
        let mut carried = first;
        Some(
            counts
                .iter()
                .map(|c| {
                    if let Some(c) = c {
                        carried = *c;
                    }
                    carried
                })
                .collect(),
        )
    };
    let Some(series) = &history.replicas else {
        return WhatRan::Unknown {
            reason: "the replicas query returned no data".into(),
        };
    };
    match per_tick(series) {
        None => WhatRan::Unknown {
            reason: "the replicas query returned no data in the replayed part of the window".into(),
        },
        Some(replicas) => WhatRan::Known {
            replicas,
            ready: history.ready.as_ref().and_then(per_tick),
        },
    }
}

fn note_coverage(c: &Coverage, step: f64, notes: &mut Vec<String>) {
    let late_start = c.data_from - c.asked_from > step;
    let early_end = c.asked_to - c.data_to > step;
    if late_start || early_end {
        let asked_days = (c.asked_to - c.asked_from) / DAY_S;
        let data_days = (c.data_to - c.data_from) / DAY_S;
        notes.push(format!(
            "arrival-rate history covers {} to {} ({data_days:.2} of the {asked_days:.2} days asked{}); scored what was available",
            super::window::format_time(c.data_from),
            super::window::format_time(c.data_to),
            if late_start {
                ": older data is past Prometheus's retention, or the metric is younger"
            } else {
                ""
            },
        ));
    }
}

fn note_gaps(known: &[bool], step: f64, notes: &mut Vec<String>) {
    let mut runs = Vec::new();
    let mut length = 0usize;
    for &k in known.iter().chain([true].iter()) {
        if k {
            if length > 0 {
                runs.push(length);
            }
            length = 0;
        } else {
            length += 1;
        }
    }
    if runs.is_empty() {
        return;
    }
    let total: usize = runs.iter().sum();
    let longest = runs.iter().copied().max().unwrap_or(0);
    notes.push(format!(
        "arrival rate missing for {total} ticks ({:.2} % of the replay) in {} gap(s), the longest {}: those ticks are not scored (their load is unknown, never taken as zero); prescale saw no metrics there, as the controller would",
        100.0 * total as f64 / known.len() as f64,
        runs.len(),
        crate::config::format_duration(Duration::from_secs_f64(longest as f64 * step)),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::window::Grid;

    fn history(rates: Points) -> History {
        History {
            grid: Grid {
                start: 3_600.0,
                step: 15.0,
                points: rates.len(),
            },
            arrival_rate: rates,
            queue_depth: None,
            completions: None,
            wait_p95: None,
            replicas: None,
            ready: None,
        }
    }

    #[test]
    fn interpolation_fills_between_known_values_and_holds_the_ends() {
        let filled = fill_linear(&[None, Some(2.0), None, None, Some(5.0), None]);
        assert_eq!(filled, vec![2.0, 2.0, 3.0, 4.0, 5.0, 5.0]);
        assert_eq!(fill_linear(&[None, None]), vec![0.0, 0.0]);
    }

    #[test]
    fn the_warm_up_is_backfilled_and_each_tick_reads_the_instant_at_its_end() {
        let rates = (0..10).map(|k| Some(k as f64)).collect();
        let p = prepare(&history(rates), Some(Duration::from_secs(45))).unwrap();
        assert_eq!(p.origin, 3_600.0 + 45.0);
        assert_eq!(
            p.warmup,
            vec![(3_600.0, 0.0), (3_615.0, 1.0), (3_630.0, 2.0)],
            "the instants before the first decision"
        );
        assert_eq!(p.at_start.arrival_rate, Some(3.0));
        assert_eq!(p.rates, vec![4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(p.coverage.ticks, 6);
        assert!(p.known.iter().all(|k| *k) && p.seen.iter().all(|s| *s));
        assert!(matches!(p.what_ran, WhatRan::Unknown { .. }));
    }

    #[test]
    fn a_gap_is_interpolated_for_the_queue_not_scored_and_unseen_by_the_decisions() {
        let mut rates: Points = (0..8).map(|_| Some(10.0)).collect();
        rates[3] = None;
        rates[4] = None;
        rates[5] = Some(40.0);
        let p = prepare(&history(rates), Some(Duration::ZERO)).unwrap();
        // Ticks j read instant j + 1: ticks 2 and 3 have no arrivals.
        assert_eq!(p.known, vec![true, true, false, false, true, true, true]);
        assert_eq!(p.seen, vec![true, true, true, false, false, true, true]);
        assert_eq!(p.rates[2], 20.0);
        assert_eq!(p.rates[3], 30.0);
        assert_eq!(p.coverage.gap_ticks, 2);
        assert!(
            p.notes.iter().any(|n| n.contains("missing for 2 ticks")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn data_shorter_than_the_window_is_cut_and_said() {
        let mut rates: Points = vec![None; 20];
        for r in rates.iter_mut().skip(8) {
            *r = Some(1.0);
        }
        let p = prepare(&history(rates), Some(Duration::from_secs(30))).unwrap();
        assert_eq!(p.coverage.data_from, 3_600.0 + 8.0 * 15.0);
        assert_eq!(p.origin, p.coverage.data_from + 30.0);
        assert!(
            p.notes.iter().any(|n| n.contains("retention")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn no_data_or_too_little_after_the_warm_up_is_an_error() {
        assert_eq!(
            prepare(&history(vec![None; 5]), None),
            Err(PrepareError::NoArrivals)
        );
        let short = history(vec![Some(1.0); 5]);
        let e = prepare(&short, Some(Duration::from_secs(3600))).unwrap_err();
        assert!(e.to_string().contains("--warmup"), "{e}");
    }

    #[test]
    fn what_ran_is_carried_over_missing_samples() {
        let mut h = history(vec![Some(1.0); 6]);
        h.replicas = Some(vec![Some(2.0), None, Some(3.0), None, None, Some(5.0)]);
        let p = prepare(&h, Some(Duration::ZERO)).unwrap();
        let WhatRan::Known { replicas, ready } = &p.what_ran else {
            panic!("{:?}", p.what_ran)
        };
        assert_eq!(replicas, &vec![3, 3, 3, 3, 5]);
        assert_eq!(ready, &None);
        assert_eq!(p.at_start.replicas, Some(2));
        assert!(p.notes.iter().any(|n| n.contains("replicas: 3 of 5")));
        h.replicas = Some(vec![None; 6]);
        let p = prepare(&h, Some(Duration::ZERO)).unwrap();
        assert!(matches!(p.what_ran, WhatRan::Unknown { .. }));
    }
}
