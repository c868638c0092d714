//! The three schedules of a backtest (what ran, prescale, the oracle) on BENCH.md's queue
//! model, with the observed arrivals in the workload's own units and one per-replica
//! capacity for all three. Only ticks with observed arrivals are scored.

use crate::config::TargetConfig;
use crate::simulate::policies::Oracle;
use crate::simulate::{
    BenchParams, BenchPolicy, Evaluation, Load, Run, Scores, Setup, Start, bench_ceil, run_with,
    score_where, waits, weighted_quantile,
};

use super::prepare::{Prepared, WhatRan};
use super::replay::{ClosedLoop, Recorded};

/// The queue model set up for one target's history.
#[derive(Debug, Clone)]
pub struct Model {
    /// The observed arrivals, one rate per replayed tick.
    pub load: Load,
    /// Capacity, start-up, SLO and the target's bounds.
    pub params: BenchParams,
    /// What the workload had at the first decision.
    pub start: Start,
    /// Ticks with observed arrivals: the scored ones.
    pub scored: Vec<bool>,
}

/// The label each schedule carries in reports.
pub const WHAT_RAN: &str = "what ran";
/// See [`WHAT_RAN`].
pub const PRESCALE: &str = "prescale";
/// See [`WHAT_RAN`].
pub const ORACLE: &str = "oracle";

impl Model {
    /// The model of `prepared` for `config`'s SLO and bounds, with `mu` documents/s per ready
    /// replica and pods ready `startup_s` after they are asked for. It starts from the
    /// replicas and queue observed at the first decision (the load's need and an empty
    /// queue when they are unknown), all pods ready.
    pub fn new(prepared: &Prepared, config: &TargetConfig, mu: f64, startup_s: f64) -> Model {
        let tick = prepared.tick;
        let load = Load::observed(tick, prepared.rates.clone());
        let params = BenchParams {
            mu,
            peak_replicas: 1.0,
            tick,
            startup: startup_s,
            slo_wait: config.slo.queue_wait.as_secs_f64(),
            min_replicas: config.min_replicas,
            max_replicas: config.max_replicas,
            warmup_days: Some(0.0),
            horizon_days: load.end_s / 86_400.0,
        };
        let need = |rate: f64| {
            (bench_ceil(rate / mu).max(0.0) as u32).clamp(config.min_replicas, config.max_replicas)
        };
        let start = Start {
            pods: prepared
                .at_start
                .replicas
                .unwrap_or_else(|| need(prepared.rates.first().copied().unwrap_or(0.0))),
            backlog: prepared.at_start.queue_depth.unwrap_or(0.0).max(0.0),
            arrivals_before: prepared.at_start.arrival_rate.unwrap_or(0.0) * tick,
        };
        Model {
            load,
            params,
            start,
            scored: prepared.known.clone(),
        }
    }

    /// Run `policy` from the start state; `ready`: observed readiness instead of the
    /// model's start-up time.
    pub fn run(&self, policy: &mut dyn BenchPolicy, ready: Option<&[u32]>) -> Run {
        let setup = Setup {
            start: self.start,
            ready,
        };
        run_with(&self.load, &self.params, policy, &setup, |_| {})
    }

    /// The oracle's run: perfect foresight of the observed arrivals, zero queue.
    pub fn oracle(&self) -> Run {
        self.run(&mut Oracle::new(&self.load, &self.params), None)
    }

    /// The schedule that ran, with its own readiness when known. Its counts are taken as
    /// they were, outside the target's bounds too.
    pub fn what_ran(&self, replicas: &[u32], ready: Option<&[u32]>) -> Run {
        let unbounded = BenchParams {
            min_replicas: 0,
            max_replicas: u32::MAX,
            ..self.params
        };
        let setup = Setup {
            start: self.start,
            ready,
        };
        run_with(&self.load, &unbounded, &mut Given(replicas), &setup, |_| {})
    }

    /// Score `run` on the scored ticks that `part` also picks.
    pub fn score(
        &self,
        run: &Run,
        oracle_hours: Option<f64>,
        part: impl Fn(usize) -> bool,
    ) -> Scores {
        score_where(&self.load, &self.params, run, oracle_hours, |j| {
            self.scored[j] && part(j)
        })
    }

    /// The arrival-weighted 95th percentile of the modelled waits of `run` over the scored
    /// ticks where `observed` has a value, and of those observed values: how well the model
    /// reproduces the workload's own wait. `None` without such ticks.
    pub fn wait_p95(&self, run: &Run, observed: &[Option<f64>]) -> Option<WaitCheck> {
        let modelled = waits(run, &self.load);
        let mut model = Vec::new();
        let mut seen = Vec::new();
        for (j, obs) in observed.iter().enumerate() {
            if let Some(o) = obs
                && self.scored[j]
            {
                model.push((modelled[j].max(0.0), run.arrivals[j]));
                seen.push((o.max(0.0), run.arrivals[j]));
            }
        }
        if model.is_empty() {
            return None;
        }
        Some(WaitCheck {
            ticks: model.len(),
            modelled_s: weighted_quantile(&mut model, 0.95),
            observed_s: weighted_quantile(&mut seen, 0.95),
        })
    }
}

/// The modelled and the observed p95 wait of what ran.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct WaitCheck {
    /// Arrival-weighted p95 of the model's waits, seconds.
    pub modelled_s: f64,
    /// Arrival-weighted p95 of the observed `waitP95` samples, seconds.
    pub observed_s: f64,
    /// Ticks compared.
    pub ticks: usize,
}

/// A given schedule, tick by tick.
struct Given<'a>(&'a [u32]);

impl BenchPolicy for Given<'_> {
    fn decide(&mut self, obs: &crate::simulate::BenchObservation) -> u32 {
        self.0.get(obs.tick).copied().unwrap_or(obs.pods)
    }
}

/// A backtest's three schedules, scored.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The model they ran on.
    pub model: Model,
    /// The oracle.
    pub oracle: Evaluation,
    /// prescale in charge.
    pub prescale: Evaluation,
    /// What ran; `None` when unknown.
    pub what_ran: Option<Evaluation>,
    /// prescale's decisions with their reasons, when asked for.
    pub decisions: Vec<Recorded>,
    /// The modelled against the observed p95 wait of what ran, when both exist.
    pub wait_p95: Option<WaitCheck>,
}

/// Run and score the three schedules; `record`: keep prescale's decisions.
pub fn backtest(
    prepared: &Prepared,
    config: &TargetConfig,
    mu: f64,
    startup_s: f64,
    record: bool,
) -> Outcome {
    let model = Model::new(prepared, config, mu, startup_s);
    let evaluation = |policy: &str, run: Run, oracle_hours: Option<f64>| Evaluation {
        policy: policy.into(),
        scores: model.score(&run, oracle_hours, |_| true),
        run,
    };
    let oracle = evaluation(ORACLE, model.oracle(), None);
    let hours = Some(oracle.scores.replica_hours);
    let mut policy = ClosedLoop::new(
        config,
        &model.params,
        prepared.origin,
        &prepared.warmup,
        &prepared.seen,
    );
    if record {
        policy = policy.recording();
    }
    let run = model.run(&mut policy, None);
    let prescale = evaluation(PRESCALE, run, hours);
    let decisions = policy.into_recorded();
    let what_ran = match &prepared.what_ran {
        WhatRan::Unknown { .. } => None,
        WhatRan::Known { replicas, ready } => Some(evaluation(
            WHAT_RAN,
            model.what_ran(replicas, ready.as_deref()),
            hours,
        )),
    };
    let wait_p95 = match (&what_ran, &prepared.observed_wait) {
        (Some(ran), Some(observed)) => model.wait_p95(&ran.run, observed),
        _ => None,
    };
    Outcome {
        model,
        oracle,
        prescale,
        what_ran,
        decisions,
        wait_p95,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::history::History;
    use crate::backtest::prepare::prepare;
    use crate::backtest::window::Grid;
    use std::time::Duration;

    fn history(rates: Vec<Option<f64>>, replicas: Option<f64>) -> History {
        let points = rates.len();
        History {
            grid: Grid {
                start: 7_200.0,
                step: 15.0,
                points,
            },
            arrival_rate: rates,
            queue_depth: Some(vec![Some(0.0); points]),
            completions: None,
            wait_p95: None,
            replicas: replicas.map(|r| vec![Some(r); points]),
            ready: replicas.map(|r| vec![Some(r); points]),
        }
    }

    #[test]
    fn gaps_are_left_out_of_every_schedule_never_scored_as_zero_load() {
        let mut rates = vec![Some(8.0); 200];
        for r in rates.iter_mut().take(150).skip(100) {
            *r = None;
        }
        let prepared = prepare(&history(rates, Some(10.0)), Some(Duration::ZERO)).unwrap();
        let config = TargetConfig::default();
        let out = backtest(&prepared, &config, 1.0, 90.0, false);
        let scored = prepared.known.iter().filter(|k| **k).count();
        // 10 replicas all the time, costed over the scored ticks only.
        let ran = out.what_ran.unwrap().scores;
        assert_eq!(ran.replica_hours, 10.0 * scored as f64 * 15.0 / 3600.0);
        assert_eq!(ran.late_fraction, 0.0);
        // The gap's load was interpolated (8/s), not zero: the oracle held 8 replicas.
        assert!(out.oracle.run.pods[100..148].iter().all(|&p| p == 8));
    }

    #[test]
    fn what_ran_is_scored_as_it_ran_even_outside_the_bounds() {
        let prepared = prepare(
            &history(vec![Some(2.0); 50], Some(80.0)),
            Some(Duration::ZERO),
        )
        .unwrap();
        let config = TargetConfig::default(); // maxReplicas 50
        let out = backtest(&prepared, &config, 1.0, 90.0, false);
        let ran = out.what_ran.unwrap();
        assert!(ran.run.pods.iter().all(|&p| p == 80));
        assert!(out.prescale.run.pods.iter().all(|&p| p <= 50));
    }

    #[test]
    fn without_replicas_history_prescale_and_the_oracle_are_still_scored() {
        let prepared = prepare(&history(vec![Some(30.0); 60], None), Some(Duration::ZERO)).unwrap();
        let out = backtest(&prepared, &TargetConfig::default(), 1.0, 90.0, true);
        assert!(out.what_ran.is_none());
        assert_eq!(out.decisions.len(), 59);
        assert_eq!(out.model.start.pods, 30, "the load's need at the start");
        assert!(out.prescale.scores.replica_hours > 0.0);
    }
}
