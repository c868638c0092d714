//! Build the decision core's [`Observation`] from a Deployment and the metric readings.

use crate::actuator::DeploymentView;
use crate::core::Observation;
use crate::metrics::{MetricError, Reading, TargetReadings};

/// A failed metric read, named for the metric it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFailure {
    /// `queueDepth`, `arrivalRate`, `completions`, `waitP95` (the config's keys).
    pub metric: &'static str,
    /// What went wrong.
    pub error: MetricError,
}

fn take(
    metric: &'static str,
    reading: &Option<Reading>,
    failures: &mut Vec<MetricFailure>,
) -> Option<f64> {
    match reading {
        None => None,
        Some(Ok(v)) if v.is_finite() => Some(*v),
        // Sources never report NaN for missing, but a non-finite value must not reach the core.
        Some(Ok(_)) => None,
        Some(Err(e)) => {
            failures.push(MetricFailure {
                metric,
                error: e.clone(),
            });
            None
        }
    }
}

/// The observation at Unix time `t`, and the metrics that failed.
pub fn observation(
    t: f64,
    deployment: &DeploymentView,
    readings: &TargetReadings,
) -> (Observation, Vec<MetricFailure>) {
    let mut failures = Vec::new();
    let obs = Observation {
        t,
        queue_depth: take("queueDepth", &readings.queue_depth, &mut failures),
        arrival_rate: take("arrivalRate", &readings.arrival_rate, &mut failures),
        completion_rate: take("completions", &readings.completion_rate, &mut failures),
        wait_s: take("waitP95", &readings.wait_s, &mut failures),
        ready: deployment.ready,
        current: deployment.replicas,
    };
    (obs, failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(replicas: u32, ready: u32) -> DeploymentView {
        DeploymentView {
            replicas,
            ready,
            status_replicas: replicas,
            generation: 1,
            observed_generation: 1,
            resource_version: "1".into(),
            paused: false,
            replicas_owner: None,
            reference: Default::default(),
            match_labels: Default::default(),
            has_match_expressions: false,
        }
    }

    #[test]
    fn current_is_spec_replicas_and_ready_is_ready_replicas() {
        let (obs, failures) = observation(10.0, &view(5, 3), &TargetReadings::default());
        assert_eq!((obs.current, obs.ready, obs.t), (5, 3, 10.0));
        assert!(failures.is_empty());
    }

    #[test]
    fn failed_and_non_finite_readings_become_none_and_failures_are_named() {
        let readings = TargetReadings {
            queue_depth: Some(Err(MetricError::Stale { age_s: 99.0 })),
            arrival_rate: Some(Ok(f64::NAN)),
            completion_rate: Some(Ok(2.5)),
            wait_s: None,
        };
        let (obs, failures) = observation(0.0, &view(1, 1), &readings);
        assert_eq!(obs.queue_depth, None);
        assert_eq!(obs.arrival_rate, None);
        assert_eq!(obs.completion_rate, Some(2.5));
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].metric, "queueDepth");
    }
}
