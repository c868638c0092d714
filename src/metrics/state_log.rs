//! Logging a metric's failures once per change of state, not every tick.

use super::{MetricError, MetricKind};
use std::collections::HashMap;
use std::sync::Mutex;

/// Remembers each (target, metric)'s last state and logs only transitions: working to
/// failing, one failure reason to another, failing to working, and changed warnings. Only
/// metrics failing or with warnings are remembered: a working one is the state of a metric
/// without an entry, so thousands of healthy targets keep nothing here, and a healthy tick
/// allocates nothing.
#[derive(Debug, Default)]
pub struct StateLog {
    states: Mutex<HashMap<String, Vec<(MetricKind, State)>>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct State {
    /// `Some(reason)` while failing.
    failing: Option<&'static str>,
    /// Consecutive failed reads.
    failures: u64,
    warnings: Vec<String>,
}

/// What [`StateLog::record`] logged, so callers and tests can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing changed: nothing logged.
    Unchanged,
    /// Started failing, or failing for a different reason.
    Failing,
    /// Working again.
    Recovered,
    /// The source's warnings changed.
    Warnings,
}

impl StateLog {
    /// Record this tick's outcome for `target`'s `metric` and log it if the state changed.
    pub fn record(
        &self,
        target: &str,
        metric: MetricKind,
        outcome: &Result<f64, MetricError>,
        warnings: &[String],
    ) -> Transition {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let known = states
            .get(target)
            .is_some_and(|kinds| kinds.iter().any(|(k, _)| *k == metric));
        if !known && outcome.is_ok() && warnings.is_empty() {
            // Working, as it was: nothing to log or remember.
            return Transition::Unchanged;
        }
        if !states.contains_key(target) {
            states.insert(target.to_string(), Vec::new());
        }
        let Some(kinds) = states.get_mut(target) else {
            return Transition::Unchanged;
        };
        let at = match kinds.iter().position(|(k, _)| *k == metric) {
            Some(at) => at,
            None => {
                kinds.push((metric, State::default()));
                kinds.len() - 1
            }
        };
        let transition = Self::update(target, metric, &mut kinds[at].1, outcome, warnings);
        // Working again without warnings: the same as never having failed.
        if kinds[at].1 == State::default() {
            kinds.swap_remove(at);
            if kinds.is_empty() {
                states.remove(target);
            }
        }
        transition
    }

    /// Move `state` by this tick's outcome, logging a change.
    fn update(
        target: &str,
        metric: MetricKind,
        state: &mut State,
        outcome: &Result<f64, MetricError>,
        warnings: &[String],
    ) -> Transition {
        let mut transition = Transition::Unchanged;
        match outcome {
            Err(e) => {
                state.failures += 1;
                if state.failing != Some(e.reason()) {
                    tracing::warn!(
                        target_name = target,
                        metric = metric.name(),
                        reason = e.reason(),
                        error = %e,
                        "metric read failing"
                    );
                    state.failing = Some(e.reason());
                    transition = Transition::Failing;
                }
            }
            Ok(_) => {
                if let Some(reason) = state.failing.take() {
                    tracing::info!(
                        target_name = target,
                        metric = metric.name(),
                        previous_reason = reason,
                        failed_reads = state.failures,
                        "metric read recovered"
                    );
                    transition = Transition::Recovered;
                }
                state.failures = 0;
            }
        }
        if state.warnings != warnings {
            if !warnings.is_empty() {
                tracing::warn!(
                    target_name = target,
                    metric = metric.name(),
                    warnings = ?warnings,
                    "Prometheus attached warnings to the query"
                );
                if transition == Transition::Unchanged {
                    transition = Transition::Warnings;
                }
            }
            state.warnings = warnings.to_vec();
        }
        transition
    }

    /// Forget a target (removed from the config).
    pub fn forget(&self, target: &str) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states.remove(target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_only_transitions() {
        let log = StateLog::default();
        let down = Err(MetricError::Unreachable {
            url: "u".into(),
            detail: "refused".into(),
        });
        let m = MetricKind::QueueDepth;
        assert_eq!(log.record("t", m, &Ok(1.0), &[]), Transition::Unchanged);
        assert_eq!(log.record("t", m, &down, &[]), Transition::Failing);
        assert_eq!(log.record("t", m, &down, &[]), Transition::Unchanged);
        let stale = Err(MetricError::Stale { age_s: 99.0 });
        assert_eq!(log.record("t", m, &stale, &[]), Transition::Failing);
        assert_eq!(log.record("t", m, &Ok(2.0), &[]), Transition::Recovered);
        assert_eq!(log.record("t", m, &Ok(2.0), &[]), Transition::Unchanged);
        let w = vec!["w".to_string()];
        assert_eq!(log.record("t", m, &Ok(2.0), &w), Transition::Warnings);
        assert_eq!(log.record("t", m, &Ok(2.0), &w), Transition::Unchanged);
        assert_eq!(log.record("other", m, &down, &[]), Transition::Failing);
        assert_eq!(log.record("t", m, &Ok(2.0), &[]), Transition::Unchanged);
        log.forget("other");
        assert_eq!(log.record("other", m, &down, &[]), Transition::Failing);
    }

    #[test]
    fn working_metrics_without_warnings_are_not_remembered() {
        let log = StateLog::default();
        let m = MetricKind::ArrivalRate;
        let len = |log: &StateLog| log.states.lock().map(|s| s.len()).unwrap_or(usize::MAX);
        for _ in 0..3 {
            log.record("t", m, &Ok(1.0), &[]);
        }
        assert_eq!(len(&log), 0);
        let down = Err(MetricError::Stale { age_s: 99.0 });
        log.record("t", m, &down, &[]);
        assert_eq!(len(&log), 1);
        assert_eq!(log.record("t", m, &Ok(2.0), &[]), Transition::Recovered);
        assert_eq!(len(&log), 0, "recovered: forgotten");
    }
}
