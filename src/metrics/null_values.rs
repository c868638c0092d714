//! KEDA's `ignoreNullValues` for PromQL metrics: an empty result read as 0, where the user
//! says that is what it means (a counter that does not exist until the first document, a
//! `sum()` over no series when the queue is idle, a queue's series missing from a shared
//! `sum by` while it is idle).

use super::{Evaluation, MetricError, unix_seconds};
use std::time::SystemTime;

/// `evaluation` with an empty result ([`MetricError::NoData`], or no series for this target
/// in a shared query's result, [`MetricError::NoMatchingSeries`]) read as 0 at `at`, and a
/// warning saying so; any other outcome unchanged (an error is still an error).
pub fn empty_as_zero(mut evaluation: Evaluation, at: SystemTime) -> Evaluation {
    if matches!(
        evaluation.value,
        Err(MetricError::NoData { .. } | MetricError::NoMatchingSeries { .. })
    ) {
        evaluation.value = Ok(0.0);
        // Fresh: the query was answered now, with nothing.
        evaluation.sample_time = Some(unix_seconds(at));
        evaluation
            .warnings
            .push("the query returned no series: read as 0 (ignoreNullValues: true)".into());
    }
    evaluation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_empty_result_becomes_zero() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(100);
        let empty = Evaluation::failed(MetricError::NoData { query: "q".into() });
        let read = empty_as_zero(empty, at);
        assert_eq!(read.value, Ok(0.0));
        assert_eq!(read.sample_time, Some(100.0));
        assert_eq!(read.warnings.len(), 1);

        let down = Evaluation::failed(MetricError::NoPrometheus);
        assert_eq!(
            empty_as_zero(down, at).value,
            Err(MetricError::NoPrometheus)
        );
    }
}
