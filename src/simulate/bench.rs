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

/// Build the named policy for `load`.
pub fn policy<'a>(
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
