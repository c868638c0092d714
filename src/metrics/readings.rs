//! Turning a tick's readings into what the decision core and telemetry consume.

use super::{MetricError, MetricKind, Reading, TargetReadings};
use crate::core::Observation;

impl TargetReadings {
    /// The reading of `kind`; `None` when the metric is not configured.
    pub fn get(&self, kind: MetricKind) -> Option<&Reading> {
        match kind {
            MetricKind::QueueDepth => self.queue_depth.as_ref(),
            MetricKind::ArrivalRate => self.arrival_rate.as_ref(),
            MetricKind::Completions => self.completion_rate.as_ref(),
            MetricKind::WaitP95 => self.wait_s.as_ref(),
        }
    }

    /// Set the reading of `kind`.
    pub fn set(&mut self, kind: MetricKind, reading: Reading) {
        let slot = match kind {
            MetricKind::QueueDepth => &mut self.queue_depth,
            MetricKind::ArrivalRate => &mut self.arrival_rate,
            MetricKind::Completions => &mut self.completion_rate,
            MetricKind::WaitP95 => &mut self.wait_s,
        };
        *slot = Some(reading);
    }

    /// The failed readings, for `prescale_metric_errors_total{metric,reason}`.
    pub fn errors(&self) -> Vec<(MetricKind, &MetricError)> {
        MetricKind::ALL
            .into_iter()
            .filter_map(|kind| match self.get(kind) {
                Some(Err(e)) => Some((kind, e)),
                _ => None,
            })
            .collect()
    }

    /// The observation for [`crate::core::decide`] at `t` (Unix seconds): a failed or
    /// unconfigured metric is `None`, which the core treats as missing.
    pub fn observation(&self, t: f64, ready: u32, current: u32) -> Observation {
        let value = |kind| self.get(kind).and_then(|r| r.as_ref().ok().copied());
        Observation {
            t,
            queue_depth: value(MetricKind::QueueDepth),
            arrival_rate: value(MetricKind::ArrivalRate),
            completion_rate: value(MetricKind::Completions),
            wait_s: value(MetricKind::WaitP95),
            ready,
            current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_metrics_are_missing_in_the_observation_and_listed_as_errors() {
        let mut r = TargetReadings::default();
        r.set(MetricKind::QueueDepth, Ok(7.0));
        r.set(
            MetricKind::ArrivalRate,
            Err(MetricError::Stale { age_s: 40.0 }),
        );
        let obs = r.observation(100.0, 2, 3);
        assert_eq!(obs.queue_depth, Some(7.0));
        assert_eq!(obs.arrival_rate, None);
        assert_eq!(obs.wait_s, None);
        assert_eq!((obs.t, obs.ready, obs.current), (100.0, 2, 3));
        let errors = r.errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].0.name(), errors[0].1.reason()),
            ("arrivalRate", "stale")
        );
    }
}
