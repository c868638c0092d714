//! Helpers shared by the integration tests: a controllable exporter, a real Prometheus
//! server, and config builders.

// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

pub mod exporter;
pub mod prometheus;
pub mod skip;

use prescale::config::{MetricSource, PrometheusConfig, TargetConfig};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

/// Poll `probe` every 200 ms until it returns `Some`, or panic after `timeout` naming `what`
/// and the last state seen. For waiting on a real server (Prometheus scraping), where a
/// paused clock cannot help.
pub async fn eventually<T, S, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    S: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, S>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe().await {
            Ok(value) => return value,
            Err(state) => state,
        };
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last seen: {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A Prometheus config for `url` with test-friendly limits.
pub fn prometheus_config(url: &str) -> PrometheusConfig {
    PrometheusConfig {
        url: url.to_string(),
        timeout: Duration::from_secs(5),
        bearer_token_file: None,
        basic_auth: None,
        headers: BTreeMap::new(),
        ca_file: None,
        insecure_skip_verify: false,
        retries: 0,
        max_concurrent_queries: 4,
    }
}

/// A PromQL metric source.
pub fn promql(query: &str) -> MetricSource {
    MetricSource::Promql {
        query: query.to_string(),
        aggregate: None,
        ignore_null_values: false,
    }
}

/// A target named `name` checked every `interval`, with default settings otherwise.
pub fn target(name: &str, interval: Duration) -> TargetConfig {
    TargetConfig {
        name: name.to_string(),
        interval,
        ..TargetConfig::default()
    }
}
