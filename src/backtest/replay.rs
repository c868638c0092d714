//! The decision core replayed over a history.
//!
//! - [`ClosedLoop`]: prescale *in charge*, on the queue model. Each tick it calls the same
//!   [`crate::core::decide`] the controller calls, at the tick's Unix time, with what the
//!   model says its own schedule would have left (queue, arrivals, completions, wait) and
//!   only the metrics the target configures; in a gap of the history it gets no metric, as
//!   the controller gets none when Prometheus has none. Causal by construction: the model
//!   hands it the previous tick, never a later one. This is `prescale simulate`'s prescale
//!   policy, placed at the history's Unix time and fed the gaps.
//! - [`learn`]: prescale *in shadow* over what really happened (observed replicas, queue and
//!   completions), which is how the controller learns a workload's per-replica capacity and
//!   pod start-up time; the backtest's model uses what it learned.

use crate::config::TargetConfig;
use crate::core::{Observation, Reason, TargetState, decide};
use crate::simulate::{BenchObservation, BenchParams, BenchPolicy};

use super::history::{History, replica_count};

/// One replayed decision, for `--decisions-out`.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Desired replicas.
    pub replicas: u32,
    /// The forecast arrival rate over the lead time, when there was a forecast.
    pub forecast_rate: Option<f64>,
    /// Why.
    pub reasons: Vec<Reason>,
}

/// prescale deciding on the queue model, tick by tick.
pub struct ClosedLoop<'a> {
    config: TargetConfig,
    state: TargetState,
    origin: f64,
    seen: &'a [bool],
    record: Option<Vec<Recorded>>,
}

impl<'a> ClosedLoop<'a> {
    /// The target's decision core, told the model's parameters as `prescale simulate` tells
    /// its prescale policy (bounds, interval, start-up, SLO, per-replica capacity), its
    /// forecaster backfilled with `warmup`. Model time `t` is Unix time `origin + t`;
    /// `seen[j]` says whether the decision of tick `j` had its metrics.
    pub fn new(
        config: &TargetConfig,
        params: &BenchParams,
        origin: f64,
        warmup: &[(f64, f64)],
        seen: &'a [bool],
    ) -> Self {
        let mut config = config.clone();
        params.tell(&mut config);
        let mut state = TargetState::new(&config);
        state.backfill(&config, params.tick, warmup);
        ClosedLoop {
            config,
            state,
            origin,
            seen,
            record: None,
        }
    }

    /// Keep every decision with its reasons (for `--decisions-out`).
    pub fn recording(mut self) -> Self {
        self.record = Some(Vec::new());
        self
    }

    /// The decisions kept by [`Self::recording`].
    pub fn into_recorded(self) -> Vec<Recorded> {
        self.record.unwrap_or_default()
    }
}

impl BenchPolicy for ClosedLoop<'_> {
    fn decide(&mut self, obs: &BenchObservation) -> u32 {
        let tick = self.config.interval.as_secs_f64();
        let t = self.origin + obs.t;
        let m = &self.config.metrics;
        let observation = if self.seen.get(obs.tick).copied().unwrap_or(true) {
            Observation {
                t,
                queue_depth: m.queue_depth.is_some().then_some(obs.queue_depth),
                arrival_rate: m.arrival_rate.is_some().then_some(obs.arrivals / tick),
                completion_rate: m.completions.is_some().then_some(obs.completions / tick),
                wait_s: m.wait_p95.is_some().then_some(obs.wait_s),
                ready: obs.ready,
                current: obs.pods,
            }
        } else {
            Observation {
                t,
                ready: obs.ready,
                current: obs.pods,
                ..Observation::default()
            }
        };
        let decision = decide(&self.config, &mut self.state, &observation);
        if let Some(record) = &mut self.record {
            record.push(Recorded {
                replicas: decision.replicas,
                forecast_rate: decision.forecast_rate,
                reasons: decision.reasons,
            });
        }
        decision.replicas
    }
}

/// What the controller would have learned from the history in shadow mode.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Learned {
    /// Documents/s per ready replica at the end of the history (the configured hint when
    /// nothing could be learned).
    pub capacity_per_replica: f64,
    /// Whether completions and ready replicas were there to learn from.
    pub capacity_learnable: bool,
    /// Instants where the replicas were saturated (a backlog before and after): where the
    /// capacity is measured rather than bounded from below.
    pub saturated_samples: usize,
    /// The pod start-up lead time in use at the end, seconds.
    pub startup_s: f64,
    /// Whether it was learned (enough scale-ups seen becoming ready) or is the configured one.
    pub startup_learned: bool,
}

/// Run the decision core over the observed history (open loop: what ran stays what ran)
/// and read what it learned. Instants without replicas or ready replicas are skipped.
pub fn learn(config: &TargetConfig, history: &History) -> Learned {
    let mut state = TargetState::new(config);
    let at = |series: &Option<Vec<Option<f64>>>, k: usize| series.as_ref().and_then(|s| s[k]);
    let mut saturated = 0;
    let mut backlog_before = false;
    let mut learnable = false;
    for k in 0..history.grid.points {
        let (Some(current), Some(ready)) = (
            at(&history.replicas, k).and_then(replica_count),
            at(&history.ready, k).and_then(replica_count),
        ) else {
            continue;
        };
        let queue = at(&history.queue_depth, k);
        let done = at(&history.completions, k);
        let backlog = queue.is_some_and(|q| q > 0.0);
        if done.is_some_and(|d| d > 0.0) && ready > 0 {
            learnable = true;
            if backlog && backlog_before {
                saturated += 1;
            }
        }
        backlog_before = backlog;
        let observation = Observation {
            t: history.grid.time(k),
            queue_depth: queue,
            arrival_rate: history.arrival_rate[k],
            completion_rate: done,
            wait_s: at(&history.wait_p95, k),
            ready,
            current,
        };
        decide(config, &mut state, &observation);
    }
    let configured_startup = config.startup_time.as_secs_f64();
    let startup_s = state.startup_s(config);
    Learned {
        capacity_per_replica: state.capacity_per_replica(),
        capacity_learnable: learnable,
        saturated_samples: saturated,
        startup_s,
        startup_learned: startup_s != configured_startup,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::window::Grid;
    use crate::simulate::{Load, Setup, Start, run_with};

    fn params() -> BenchParams {
        BenchParams {
            max_replicas: 50,
            ..BenchParams::default()
        }
    }

    /// A target reading queue depth and arrival rate from Prometheus.
    fn config() -> TargetConfig {
        let promql = |q: &str| {
            Some(crate::config::MetricSource::Promql {
                query: q.into(),
                aggregate: None,
                ignore_null_values: false,
            })
        };
        let mut config = TargetConfig::default();
        config.metrics.queue_depth = promql("q");
        config.metrics.arrival_rate = promql("a");
        config
    }

    fn replay(rates: Vec<f64>, seen: &[bool]) -> Vec<Recorded> {
        let load = Load::observed(15.0, rates);
        let mut policy =
            ClosedLoop::new(&config(), &params(), 1_800_000_000.0, &[], seen).recording();
        run_with(
            &load,
            &params(),
            &mut policy,
            &Setup {
                start: Start::BENCH,
                ready: None,
            },
            |_| {},
        );
        policy.into_recorded()
    }

    #[test]
    fn a_target_with_min_zero_sleeps_when_idle_and_wakes_on_arrivals() {
        // What the backtest's params say of a target with `minReplicas: 0`
        // (`score::Model::new`): the config's bounds.
        let params = BenchParams {
            min_replicas: 0,
            ..params()
        };
        let rates: Vec<f64> = (0..600)
            .map(|j| if (200..300).contains(&j) { 5.0 } else { 0.0 })
            .collect();
        let load = Load::observed(15.0, rates);
        let seen = vec![true; 600];
        let mut policy =
            ClosedLoop::new(&config(), &params, 1_800_000_000.0, &[], &seen).recording();
        let run = run_with(
            &load,
            &params,
            &mut policy,
            &Setup {
                start: Start::BENCH,
                ready: None,
            },
            |_| {},
        );
        let replicas: Vec<u32> = policy.into_recorded().iter().map(|d| d.replicas).collect();
        assert!(replicas[100..200].contains(&0), "asleep before the load");
        assert!(replicas[210..300].iter().all(|&r| r >= 5), "awake for it");
        assert_eq!(replicas[560..], vec![0; 40][..], "asleep again after it");
        // No document was lost while asleep: every arrival was served in the end.
        let arrived: f64 = run.arrivals.iter().sum();
        let served: f64 = run.served.iter().sum();
        assert!((arrived - served).abs() < 1e-6, "{arrived} vs {served}");
    }

    #[test]
    fn a_decision_never_sees_a_later_tick() {
        let base: Vec<f64> = (0..400).map(|j| 5.0 + (j % 40) as f64 * 0.25).collect();
        let mut changed = base.clone();
        for r in changed.iter_mut().skip(250) {
            *r *= 3.0;
        }
        let seen = vec![true; 400];
        let replicas = |r: Vec<Recorded>| r.iter().map(|d| d.replicas).collect::<Vec<_>>();
        let (a, b) = (replay(base, &seen), replay(changed, &seen));
        // Tick 250's arrivals are first observed by the decision of tick 251.
        assert_eq!(a[..=250], b[..=250]);
        let (a, b) = (replicas(a), replicas(b));
        // Half the SLO is slack for one tick's burst, so the rise is acted on once it lasts
        // or leaves a queue.
        assert!(
            (251..=254).any(|k| b[k] > a[k]),
            "the change is acted on once seen: {:?} vs {:?}",
            &a[250..255],
            &b[250..255]
        );
    }

    #[test]
    fn in_a_gap_the_decisions_get_no_metrics_and_never_scale_down() {
        let rates = vec![20.0; 120];
        let mut seen = vec![true; 120];
        for s in seen.iter_mut().take(90).skip(60) {
            *s = false;
        }
        let decisions = replay(rates, &seen);
        let before = decisions[59].replicas;
        for d in &decisions[60..90] {
            assert!(
                d.reasons
                    .iter()
                    .any(|r| matches!(r, Reason::MetricsMissing { .. })),
                "{d:?}"
            );
            assert!(d.replicas >= before);
        }
        assert!(
            !decisions[90]
                .reasons
                .iter()
                .any(|r| matches!(r, Reason::MetricsMissing { .. }))
        );
    }

    #[test]
    fn the_shadow_pass_learns_capacity_from_saturated_instants() {
        let points = 200;
        let some = |v: f64| Some(vec![Some(v); points]);
        let history = History {
            grid: Grid {
                start: 0.0,
                step: 15.0,
                points,
            },
            arrival_rate: vec![Some(40.0); points],
            queue_depth: some(500.0),
            completions: some(30.0),
            wait_p95: None,
            replicas: some(10.0),
            ready: some(10.0),
        };
        let mut config = TargetConfig::default();
        config.metrics.completions = Some(crate::config::MetricSource::Promql {
            query: "c".into(),
            aggregate: None,
            ignore_null_values: false,
        });
        let learned = learn(&config, &history);
        assert!(learned.capacity_learnable);
        assert_eq!(learned.saturated_samples, points - 1);
        assert!(
            (learned.capacity_per_replica - 3.0).abs() < 1e-6,
            "{learned:?}"
        );
        assert!(!learned.startup_learned);
        let blind = History {
            completions: None,
            ..history
        };
        let learned = learn(&config, &blind);
        assert!(!learned.capacity_learnable);
        assert_eq!(learned.capacity_per_replica, 1.0, "the configured hint");
    }
}
