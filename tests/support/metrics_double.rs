//! A test implementation of prescale's own `MetricsSource` trait whose readings the test
//! sets, for the controller tests about the cluster side. `tests/e2e.rs` reads real
//! metrics from a real Prometheus instead.
#![allow(dead_code)]

use futures::future::BoxFuture;
use prescale::config::TargetConfig;
use prescale::metrics::{MetricsSource, TargetReadings};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Readings per target name, as set by the test; targets not set read as "not configured".
#[derive(Default)]
pub struct SetMetrics {
    readings: Mutex<BTreeMap<String, TargetReadings>>,
}

impl SetMetrics {
    /// Set queue depth and arrival rate of `target`.
    pub fn set(&self, target: &str, queue_depth: f64, arrival_rate: f64) {
        self.readings.lock().expect("lock").insert(
            target.into(),
            TargetReadings {
                queue_depth: Some(Ok(queue_depth)),
                arrival_rate: Some(Ok(arrival_rate)),
                completion_rate: None,
                wait_s: None,
            },
        );
    }
}

impl MetricsSource for SetMetrics {
    fn read<'a>(&'a self, target: &'a TargetConfig) -> BoxFuture<'a, TargetReadings> {
        let r = self
            .readings
            .lock()
            .expect("lock")
            .get(&target.name)
            .cloned()
            .unwrap_or_default();
        Box::pin(async move { r })
    }
}
