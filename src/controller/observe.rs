//! Build the decision core's [`Observation`] from a Deployment and the metric readings.

use crate::actuator::DeploymentView;
use crate::core::Observation;
use crate::metrics::{MetricError, Reading, TargetReadings, not_a_number, reject_negative};

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
    // Sources report NaN and negative values as errors; a source that does not (the trait
    // is pluggable) gets the same treatment here, so neither reaches the core as a number.
    let checked = match reading {
        None => return None,
        Some(Ok(v)) if !v.is_finite() => Err(not_a_number(metric, &v.to_string(), *v)),
        Some(Ok(v)) => reject_negative(metric, *v),
        Some(Err(e)) => Err(e.clone()),
    };
    match checked {
        Ok(v) => Some(v),
        Err(error) => {
            failures.push(MetricFailure { metric, error });
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
            from_scale: false,
        }
    }

    #[test]
    fn current_is_spec_replicas_and_ready_is_ready_replicas() {
        let (obs, failures) = observation(10.0, &view(5, 3), &TargetReadings::default());
        assert_eq!((obs.current, obs.ready, obs.t), (5, 3, 10.0));
        assert!(failures.is_empty());
    }

    #[test]
    fn failed_non_finite_and_negative_readings_become_none_and_failures_are_named() {
        let readings = TargetReadings {
            queue_depth: Some(Err(MetricError::Stale { age_s: 99.0 })),
            arrival_rate: Some(Ok(f64::NAN)),
            completion_rate: Some(Ok(2.5)),
            wait_s: Some(Ok(-1.0)),
        };
        let (obs, failures) = observation(0.0, &view(1, 1), &readings);
        assert_eq!(obs.queue_depth, None);
        assert_eq!(obs.arrival_rate, None);
        assert_eq!(obs.completion_rate, Some(2.5));
        assert_eq!(obs.wait_s, None);
        let named: Vec<(&str, &str)> = failures
            .iter()
            .map(|f| (f.metric, f.error.reason()))
            .collect();
        assert_eq!(
            named,
            [
                ("queueDepth", "stale"),
                ("arrivalRate", "not_a_number"),
                ("waitP95", "negative")
            ]
        );
    }
}
