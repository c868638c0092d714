//! The search: coordinate descent over [`KNOBS`] from the target's own values, each
//! candidate replayed over the whole window and judged on the tuning part only. A knob's
//! candidates run in parallel (one thread per core); configurations already replayed are
//! not replayed again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::backtest::{ClosedLoop, Model, Prepared};
use crate::config::TargetConfig;
use crate::simulate::Scores;

use super::knobs::{KNOBS, apply, read};
use super::split::Split;

/// Passes over every knob at most; the search stops earlier when a pass changes nothing.
pub const MAX_ROUNDS: usize = 3;

/// Late fractions this close count as equal (float noise), so cost decides.
const LATE_EPSILON: f64 = 1e-12;

/// One configuration replayed: its knob values and its scores on both parts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evaluated {
    /// Knob values, in [`KNOBS`] order.
    pub values: Vec<f64>,
    /// Scores on the tuning part.
    pub tuning: Scores,
    /// Scores on the held-back part.
    pub holdout: Scores,
}

/// What makes one result better than another: within the late fraction asked for, lower
/// cost; above it, lower lateness (then lower cost).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    /// The late fraction asked for.
    pub max_late: f64,
}

impl Objective {
    /// Whether `a` is strictly better than `b`.
    pub fn better(&self, a: &Scores, b: &Scores) -> bool {
        let ok = |s: &Scores| s.late_fraction <= self.max_late;
        match (ok(a), ok(b)) {
            (true, false) => true,
            (false, true) => false,
            (true, true) => a.replica_hours < b.replica_hours,
            (false, false) => {
                a.late_fraction < b.late_fraction - LATE_EPSILON
                    || ((a.late_fraction - b.late_fraction).abs() <= LATE_EPSILON
                        && a.replica_hours < b.replica_hours)
            }
        }
    }

    /// Whether `s` meets the late fraction asked for.
    pub fn met(&self, s: &Scores) -> bool {
        s.late_fraction <= self.max_late
    }
}

/// The search's result.
#[derive(Debug, Clone)]
pub struct Tuned {
    /// The target's own configuration.
    pub current: Evaluated,
    /// The best found on the tuning part (the current one when nothing beat it).
    pub best: Evaluated,
    /// Configurations replayed.
    pub evaluations: usize,
    /// Passes over the knobs.
    pub rounds: usize,
}

/// Everything one replay needs.
pub struct Search<'a> {
    /// The target's config (the knobs' starting values).
    pub config: &'a TargetConfig,
    /// The replay's input.
    pub prepared: &'a Prepared,
    /// The queue model.
    pub model: &'a Model,
    /// Tuning and held-back parts.
    pub split: Split,
    /// The oracle's replica-hours on each part (costs are relative to them).
    pub oracle_hours: (f64, f64),
    /// What better means.
    pub objective: Objective,
    /// Threads to replay on.
    pub threads: usize,
}

impl Search<'_> {
    /// Replay `values` over the whole window and score both parts.
    pub fn evaluate(&self, values: &[f64]) -> Evaluated {
        let config = apply(self.config, values);
        let mut policy = ClosedLoop::new(
            &config,
            &self.model.params,
            self.prepared.origin,
            &self.prepared.warmup,
            &self.prepared.seen,
        );
        let run = self.model.run(&mut policy, None);
        let split = self.split;
        Evaluated {
            values: values.to_vec(),
            tuning: self
                .model
                .score(&run, Some(self.oracle_hours.0), |j| split.tuning(j)),
            holdout: self
                .model
                .score(&run, Some(self.oracle_hours.1), |j| !split.tuning(j)),
        }
    }

    /// Run the search; `progress(done, expected)` after each replay.
    pub fn run(&self, progress: &(dyn Fn(usize, usize) + Sync)) -> Tuned {
        let expected = 1 + KNOBS.iter().map(|k| k.values.len()).sum::<usize>();
        let mut seen: HashMap<Vec<u64>, Evaluated> = HashMap::new();
        let key = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let current = self.evaluate(&read(self.config));
        progress(1, expected);
        seen.insert(key(&current.values), current.clone());
        let mut best = current.clone();
        let mut rounds = 0;
        while rounds < MAX_ROUNDS {
            rounds += 1;
            let mut changed = false;
            for (i, knob) in KNOBS.iter().enumerate() {
                let candidates: Vec<Vec<f64>> = knob
                    .values
                    .iter()
                    .map(|&v| {
                        let mut values = best.values.clone();
                        values[i] = v;
                        values
                    })
                    .filter(|v| !seen.contains_key(&key(v)))
                    .collect();
                let done = seen.len();
                for e in
                    self.evaluate_all(&candidates, &|n| progress(done + n, expected.max(done + n)))
                {
                    if self.objective.better(&e.tuning, &best.tuning) {
                        best = e.clone();
                        changed = true;
                    }
                    seen.insert(key(&e.values), e);
                }
            }
            if !changed {
                break;
            }
        }
        Tuned {
            current,
            best,
            evaluations: seen.len(),
            rounds,
        }
    }

    /// Replay `candidates` on [`Search::threads`] threads; results in `candidates` order.
    fn evaluate_all(
        &self,
        candidates: &[Vec<f64>],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Vec<Evaluated> {
        let next = AtomicUsize::new(0);
        let finished = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Evaluated>>> = Mutex::new(vec![None; candidates.len()]);
        std::thread::scope(|scope| {
            for _ in 0..self.threads.clamp(1, candidates.len().max(1)) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(values) = candidates.get(i) else {
                            break;
                        };
                        let e = self.evaluate(values);
                        results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(e);
                        progress(finished.fetch_add(1, Ordering::Relaxed) + 1);
                    }
                });
            }
        });
        results
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(late_fraction: f64, replica_hours: f64) -> Scores {
        Scores::late_and_hours(late_fraction, replica_hours)
    }

    #[test]
    fn within_the_asked_lateness_cheaper_wins_and_above_it_less_late_wins() {
        let o = Objective { max_late: 0.001 };
        assert!(o.better(&s(0.0005, 90.0), &s(0.0, 100.0)));
        assert!(!o.better(&s(0.002, 50.0), &s(0.0, 100.0)), "too late");
        assert!(o.better(&s(0.002, 200.0), &s(0.003, 100.0)));
        assert!(o.better(&s(0.002, 90.0), &s(0.002, 100.0)));
        assert!(
            !o.better(&s(0.0, 100.0), &s(0.0, 100.0)),
            "a tie keeps the incumbent"
        );
    }
}
