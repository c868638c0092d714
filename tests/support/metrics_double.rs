//! A test implementation of prescale's own `MetricsSource` trait whose readings the test
//! sets, for the controller tests about the cluster side. `tests/e2e.rs` reads real
//! metrics from a real Prometheus instead.
#![allow(dead_code)]

use futures::future::BoxFuture;
use prescale::config::TargetConfig;
use prescale::metrics::{History, MetricError, MetricsSource, TargetReadings};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Readings per target name, as set by the test; targets not set read as "not configured".
#[derive(Default)]
pub struct SetMetrics {
    readings: Mutex<BTreeMap<String, TargetReadings>>,
    history: Mutex<BTreeMap<String, History>>,
    forgotten: Mutex<Vec<String>>,
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

impl SetMetrics {
    /// Give `target` an arrival-rate history of `rate`/s for the last `seconds`, one sample
    /// every `step` seconds, ending now.
    pub fn set_history(&self, target: &str, rate: f64, seconds: f64, step: f64) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        let n = (seconds / step) as usize;
        let h = (0..n)
            .map(|i| (now - seconds + i as f64 * step, rate))
            .collect();
        self.history.lock().expect("lock").insert(target.into(), h);
    }

    /// Targets the controller told the source to forget, in order.
    pub fn forgotten(&self) -> Vec<String> {
        self.forgotten.lock().expect("lock").clone()
    }
}

impl MetricsSource for SetMetrics {
    fn history<'a>(
        &'a self,
        target: &'a TargetConfig,
    ) -> BoxFuture<'a, Result<History, MetricError>> {
        let h = self
            .history
            .lock()
            .expect("lock")
            .get(&target.name)
            .cloned()
            .unwrap_or_default();
        Box::pin(async move { Ok(h) })
    }

    fn forget(&self, target: &str) {
        self.forgotten.lock().expect("lock").push(target.into());
    }

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
