//! INTERIM metrics source for `prescale run`, until the Prometheus and scrape adapters
//! land: every configured metric reads as unreachable, so the decision core sees missing
//! metrics (and never scales down on them). Replace the one use in `cli/run.rs` with the
//! real source and delete this file.

use crate::config::TargetConfig;
use crate::metrics::{MetricError, MetricsSource, Reading, TargetReadings};
use futures::future::BoxFuture;

/// Reports every configured metric as not readable yet.
pub struct NotWiredSource;

fn missing<T>(configured: &Option<T>) -> Option<Reading> {
    configured.as_ref().map(|_| {
        Err(MetricError::Unreachable {
            url: "-".into(),
            detail: "metric adapters are not wired into this build yet".into(),
        })
    })
}

impl MetricsSource for NotWiredSource {
    fn read<'a>(&'a self, target: &'a TargetConfig) -> BoxFuture<'a, TargetReadings> {
        let m = &target.metrics;
        let r = TargetReadings {
            queue_depth: missing(&m.queue_depth),
            arrival_rate: missing(&m.arrival_rate),
            completion_rate: missing(&m.completions),
            wait_s: missing(&m.wait_p95),
        };
        Box::pin(async move { r })
    }
}
