//! The scrape source (`scrape:` metrics): GET text-exposition pages and compute the value
//! prescale needs from them, keeping what a rate needs between scrapes.
//!
//! Scraping one URL and scraping every ready pod of a target (listed by the controller,
//! [`ScrapeSource::evaluate_instances`]) are the same code: series from all pages are
//! combined with the metric's `aggregate`, and each pod's series are remembered under the
//! pod (name and uid), so rates stay per pod as pods come and go.

mod compute;
mod counter_rate;
mod exposition;
mod fetch;
mod histogram;
mod per_pod;

pub use counter_rate::{CounterPoint, counter_rate};
pub use exposition::{Page, format_selector, parse, select};
pub use fetch::{MAX_PAGE, SCRAPE_TIMEOUT, ScrapeClient};
pub use histogram::{Bucket, bucket_increases, histogram_quantile};

use super::{Evaluation, MetricError};
use crate::config::Aggregate;
use compute::{Found, Memory, compute};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::SystemTime;

/// What to read from the pages.
#[derive(Debug, Clone, Copy)]
pub struct ScrapeSpec<'a> {
    /// Metric name (a histogram's base name).
    pub metric: &'a str,
    /// Labels a series must carry.
    pub labels: &'a BTreeMap<String, String>,
    /// How to combine several series; `None` makes several an error.
    pub aggregate: Option<Aggregate>,
    /// Quantile of a histogram or summary.
    pub quantile: Option<f64>,
}

/// Scrapes pages and remembers, per metric of each target, the last counter and histogram
/// values that rates need.
#[derive(Debug)]
pub struct ScrapeSource {
    client: ScrapeClient,
    memory: Mutex<HashMap<String, Memory>>,
}

impl ScrapeSource {
    /// A source with an empty memory.
    pub fn new() -> Result<Self, MetricError> {
        Ok(Self {
            client: ScrapeClient::new()?,
            memory: Mutex::new(HashMap::new()),
        })
    }

    /// Forget what `state_key` remembered (a target removed or reconfigured).
    pub fn forget(&self, state_key: &str) {
        self.lock().remove(state_key);
    }

    /// Scrape `urls` at `at` and compute the metric. `state_key` names the target's metric so
    /// that each keeps its own counter memory even when two scrape the same page.
    pub async fn evaluate(
        &self,
        state_key: &str,
        urls: &[String],
        spec: &ScrapeSpec<'_>,
        at: SystemTime,
    ) -> Evaluation {
        let texts = futures::future::join_all(urls.iter().map(|u| self.client.fetch(u))).await;
        let pages: Vec<(&str, Result<String, MetricError>)> =
            urls.iter().map(String::as_str).zip(texts).collect();
        self.evaluate_pages(state_key, &pages, spec, at)
    }

    /// Scrape each `(instance, URL)` of `endpoints` (a target's ready pods) at `at` and
    /// compute the metric over all of them. Each series is remembered under its instance,
    /// so a pod's counters are its own whatever other pods come and go, and a pod that is
    /// gone is forgotten.
    pub async fn evaluate_instances(
        &self,
        state_key: &str,
        endpoints: &[(String, String)],
        spec: &ScrapeSpec<'_>,
        at: SystemTime,
    ) -> Evaluation {
        let texts =
            futures::future::join_all(endpoints.iter().map(|(_, u)| self.client.fetch(u))).await;
        let pages: Vec<Fetched<'_>> = endpoints
            .iter()
            .zip(texts)
            .map(|((instance, url), text)| Fetched {
                instance: Some(instance),
                url,
                text,
            })
            .collect();
        self.compute_fetched(state_key, &pages, spec, at)
    }

    /// Compute the metric from pages already fetched (URL and body, or the fetch's error),
    /// as [`Self::evaluate`] does after fetching.
    pub fn evaluate_pages(
        &self,
        state_key: &str,
        fetched: &[(&str, Result<String, MetricError>)],
        spec: &ScrapeSpec<'_>,
        at: SystemTime,
    ) -> Evaluation {
        let several = fetched.len() > 1;
        let pages: Vec<Fetched<'_>> = fetched
            .iter()
            .map(|(url, text)| Fetched {
                instance: several.then_some(*url),
                url,
                text: text.clone(),
            })
            .collect();
        self.compute_fetched(state_key, &pages, spec, at)
    }

    fn compute_fetched(
        &self,
        state_key: &str,
        fetched: &[Fetched<'_>],
        spec: &ScrapeSpec<'_>,
        at: SystemTime,
    ) -> Evaluation {
        let mut pages = Vec::with_capacity(fetched.len());
        for f in fetched {
            // A pod that cannot be read would silently lower a sum: the whole read fails.
            let page = f
                .text
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|t| parse(f.url, t, at));
            match page {
                Ok(page) => pages.push((f, page)),
                Err(e) => return Evaluation::failed(e),
            }
        }
        let mut found = Vec::new();
        for (f, page) in &pages {
            match select(page, f.url, spec.metric, spec.labels) {
                Ok(samples) => found.extend(samples.into_iter().map(|sample| Found {
                    key: match f.instance {
                        Some(instance) => {
                            format!("{instance} {}{{{}}}", sample.metric, sample.labels)
                        }
                        None => format!("{}{{{}}}", sample.metric, sample.labels),
                    },
                    sample,
                })),
                Err(e) => return Evaluation::failed(e),
            }
        }
        let what = format!("{}{}", spec.metric, format_selector(spec.labels));
        let first_url = fetched.first().map_or("", |f| f.url);
        let sample_time = found
            .iter()
            .map(|f| f.sample.timestamp.timestamp_micros() as f64 / 1e6)
            .reduce(f64::min);
        let mut memory = self.lock();
        let memory = memory.entry(state_key.to_string()).or_default();
        let (value, series) = compute(memory, &found, spec, &what, first_url);
        Evaluation {
            value,
            series,
            warnings: Vec::new(),
            sample_time,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Memory>> {
        // The memory is plain data: a panic elsewhere cannot leave it inconsistent.
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One page fetched: where from, and its text or the fetch's error.
struct Fetched<'a> {
    /// What the page's series are remembered under besides their labels (the pod), when
    /// several pages are combined.
    instance: Option<&'a str>,
    url: &'a str,
    text: Result<String, MetricError>,
}
