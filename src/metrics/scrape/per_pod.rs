//! One value per pod: each ready pod's own gauge (its in-flight work), for ordering the
//! pods of a scale-down rather than summing them into one reading.

use super::{ScrapeSource, ScrapeSpec, parse, select};
use crate::metrics::MetricError;
use crate::metrics::aggregate::not_a_number;
use prometheus_parse::Value;
use std::time::SystemTime;

impl ScrapeSource {
    /// Scrape each `(instance, URL)` of `endpoints` at `at` and read `spec`'s gauge there:
    /// the sum of the matching series of that page (a worker may report one per queue).
    /// A counter or histogram is an error: in-flight work is a level, not a rate.
    pub async fn gauge_per_instance(
        &self,
        endpoints: &[(String, String)],
        spec: &ScrapeSpec<'_>,
        at: SystemTime,
    ) -> Vec<Result<f64, MetricError>> {
        let texts =
            futures::future::join_all(endpoints.iter().map(|(_, u)| self.client.fetch(u))).await;
        endpoints
            .iter()
            .zip(texts)
            .map(|((_, url), text)| {
                let page = parse(url, &text?, at)?;
                let samples = select(&page, url, spec.metric, spec.labels)?;
                let mut sum = 0.0;
                for s in samples {
                    let v = match s.value {
                        Value::Gauge(v) | Value::Untyped(v) => v,
                        _ => {
                            return Err(MetricError::MetricNotFound {
                                url: url.clone(),
                                metric: spec.metric.to_string(),
                                labels: super::format_selector(spec.labels),
                                detail: "; it is not a gauge: in-flight work must be a gauge (a level per pod)".into(),
                            });
                        }
                    };
                    if !v.is_finite() {
                        return Err(not_a_number(spec.metric, &v.to_string(), v));
                    }
                    sum += v;
                }
                Ok(sum)
            })
            .collect()
    }
}
