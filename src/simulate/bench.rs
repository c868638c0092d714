//! One bench run of a named policy, scored beside the oracle.

use super::policies::{
    HoltWinters, Hpa, HpaMetric, Oracle, PolicyName, Prescale, SeasonalNaive, Static,
};
use super::{BenchParams, BenchPolicy, Load, Run, Scores, run_observed, score};
use crate::config::TargetConfig;

/// The HPA's utilisation target in the `hpa` reference policy.
pub const HPA_TARGET_UTILIZATION: f64 = 0.7;
/// The documents per replica of the `keda-queue` reference policy.
pub const KEDA_QUEUE_PER_REPLICA: f64 = 30.0;

/// A reactive policy under `--min 0`: an HPA (and the policies built on it) cannot wake a
/// workload from zero replicas (it measures the pods it has), so it keeps at least one.
struct AtLeastOne<'a>(Box<dyn BenchPolicy + 'a>);

impl BenchPolicy for AtLeastOne<'_> {
    fn decide(&mut self, obs: &super::BenchObservation) -> u32 {
        self.0.decide(obs).max(1)
    }
}

/// Build the named policy for `load`. With `min_replicas` 0, prescale and the oracle may
/// scale to zero; the reactive policies keep one replica.
pub fn policy<'a>(
    name: PolicyName,
    load: &'a Load,
    params: &BenchParams,
    config: &TargetConfig,
) -> Box<dyn BenchPolicy + 'a> {
    let policy = named(name, load, params, config);
    match name {
        PolicyName::Prescale | PolicyName::Oracle => policy,
        _ if params.min_replicas == 0 => Box::new(AtLeastOne(policy)),
        _ => policy,
    }
}

fn named<'a>(
    name: PolicyName,
    load: &'a Load,
    params: &BenchParams,
    config: &TargetConfig,
) -> Box<dyn BenchPolicy + 'a> {
    match name {
        PolicyName::Prescale => Box::new(Prescale::new(config.clone(), params)),
        PolicyName::Oracle => Box::new(Oracle::new(load, params)),
        PolicyName::Static => Box::new(Static::new(load, params)),
        PolicyName::Hpa => Box::new(Hpa::new(
            HpaMetric::Utilization(HPA_TARGET_UTILIZATION),
            params,
        )),
        PolicyName::KedaQueue => Box::new(Hpa::new(
            HpaMetric::QueueAverage(KEDA_QUEUE_PER_REPLICA),
            params,
        )),
        PolicyName::SeasonalNaive => Box::new(SeasonalNaive::new(load, params)),
        PolicyName::HoltWinters => Box::new(HoltWinters::new(params)),
    }
}

/// A scored run.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Which policy (a reference name, `prescale`, or a replayed schedule).
    pub policy: String,
    /// Its scores.
    pub scores: Scores,
    /// The run itself, for plots and schedules.
    pub run: Run,
}

/// Runs policies on one load and scores each against the oracle of the same run.
pub struct Bench<'a> {
    load: &'a Load,
    params: BenchParams,
    oracle: Evaluation,
}

impl<'a> Bench<'a> {
    /// Run the oracle on `load` (every cost is relative to it).
    pub fn new(load: &'a Load, params: BenchParams) -> Self {
        let mut oracle_policy = Oracle::new(load, &params);
        let run = run_observed(load, &params, &mut oracle_policy, |_| {});
        let scores = score(load, &params, &run, None);
        Bench {
            load,
            params,
            oracle: Evaluation {
                policy: PolicyName::Oracle.as_str().into(),
                scores,
                run,
            },
        }
    }

    /// The oracle's evaluation.
    pub fn oracle(&self) -> &Evaluation {
        &self.oracle
    }

    /// Run and score `policy`, reporting progress in ticks.
    pub fn evaluate(
        &self,
        label: &str,
        policy: &mut dyn BenchPolicy,
        progress: impl FnMut(usize),
    ) -> Evaluation {
        let run = run_observed(self.load, &self.params, policy, progress);
        let scores = score(
            self.load,
            &self.params,
            &run,
            Some(self.oracle.scores.replica_hours),
        );
        Evaluation {
            policy: label.into(),
            scores,
            run,
        }
    }

    /// Run and score a named policy.
    pub fn evaluate_named(
        &self,
        name: PolicyName,
        config: &TargetConfig,
        progress: impl FnMut(usize),
    ) -> Evaluation {
        if name == PolicyName::Oracle {
            return self.oracle.clone();
        }
        let mut p = policy(name, self.load, &self.params, config);
        self.evaluate(name.as_str(), p.as_mut(), progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two weeks of office hours (08:00-18:00, a half-sine up to 12 documents/s) and no
    /// document at all at night, in 15 s ticks.
    fn office_hours() -> Load {
        let rates = (0..14 * 5760)
            .map(|j| {
                let hour = (j % 5760) as f64 * 15.0 / 3600.0;
                if (8.0..18.0).contains(&hour) {
                    12.0 * (std::f64::consts::PI * (hour - 8.0) / 10.0).sin() + 0.5
                } else {
                    0.0
                }
            })
            .collect();
        Load {
            warmup_s: 7.0 * 86_400.0,
            ..Load::observed(15.0, rates)
        }
    }

    #[test]
    fn with_min_zero_prescale_sleeps_at_night_and_wakes_before_the_first_document() {
        let load = office_hours();
        let params = BenchParams {
            min_replicas: 0,
            ..BenchParams::default()
        };
        let bench = Bench::new(&load, params);
        let config = TargetConfig::default();
        let prescale = bench.evaluate_named(PolicyName::Prescale, &config, |_| {});
        let hpa = bench.evaluate_named(PolicyName::Hpa, &config, |_| {});
        let first = load.first_scored_tick();
        let night = |j: usize| (j % 5760) < 8 * 240 - 60 || (j % 5760) >= 18 * 240 + 60;
        let asleep = (first..load.ticks())
            .filter(|&j| night(j) && prescale.run.pods[j] == 0)
            .count();
        let nights = (first..load.ticks()).filter(|&j| night(j)).count();
        assert!(
            asleep as f64 > 0.8 * nights as f64,
            "asleep {asleep} of {nights} night ticks"
        );
        // Awake when each day's first document arrives: none late.
        assert_eq!(prescale.scores.late_fraction, 0.0, "{:?}", prescale.scores);
        assert!(prescale.scores.replica_hours < hpa.scores.replica_hours);
        // The HPA cannot wake from zero: it keeps one replica all night.
        assert!(hpa.run.pods[first..].iter().all(|&p| p >= 1));
    }
}
