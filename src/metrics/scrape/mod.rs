//! The scrape source (`scrape:` metrics): GET text-exposition pages and compute the value
//! prescale needs from them, keeping what a rate needs between scrapes.
//!
//! Built around a list of URLs so that scraping every ready pod of a target (the
//! controller's job to discover) is the same code as scraping one endpoint: series from all
//! pages are combined with the metric's `aggregate`.

mod counter_rate;
mod exposition;
mod fetch;
mod histogram;

pub use counter_rate::{CounterPoint, counter_rate};
pub use exposition::{Page, format_selector, parse, select};
pub use fetch::{SCRAPE_TIMEOUT, ScrapeClient};
pub use histogram::{Bucket, bucket_increases, histogram_quantile};

use super::aggregate::{SeriesValue, not_a_number, reduce};
use super::{Evaluation, MetricError};
use crate::config::Aggregate;
use prometheus_parse::{Sample, Value};
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

/// What one metric of one target remembers between scrapes, per series.
#[derive(Debug, Default)]
struct Memory {
    counters: HashMap<String, CounterMemo>,
    histograms: HashMap<String, HistogramMemo>,
}

#[derive(Debug, Clone, Copy)]
struct CounterMemo {
    point: CounterPoint,
    last_rate: Option<f64>,
}

#[derive(Debug, Clone)]
struct HistogramMemo {
    t: f64,
    buckets: Vec<Bucket>,
    last_increase: Option<Vec<Bucket>>,
}

/// A matched sample and where it came from.
struct Found<'p> {
    key: String,
    sample: &'p Sample,
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

    /// Compute the metric from pages already fetched (URL and body, or the fetch's error),
    /// as [`Self::evaluate`] does after fetching.
    pub fn evaluate_pages(
        &self,
        state_key: &str,
        fetched: &[(&str, Result<String, MetricError>)],
        spec: &ScrapeSpec<'_>,
        at: SystemTime,
    ) -> Evaluation {
        let mut pages = Vec::with_capacity(fetched.len());
        for (url, text) in fetched {
            // A pod that cannot be read would silently lower a sum: the whole read fails.
            let page = text
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|t| parse(url, t, at));
            match page {
                Ok(page) => pages.push((*url, page)),
                Err(e) => return Evaluation::failed(e),
            }
        }
        let mut found = Vec::new();
        for (url, page) in &pages {
            match select(page, url, spec.metric, spec.labels) {
                Ok(samples) => found.extend(samples.into_iter().map(|sample| Found {
                    key: if fetched.len() > 1 {
                        format!("{url} {}{{{}}}", sample.metric, sample.labels)
                    } else {
                        format!("{}{{{}}}", sample.metric, sample.labels)
                    },
                    sample,
                })),
                Err(e) => return Evaluation::failed(e),
            }
        }
        let what = format!("{}{}", spec.metric, format_selector(spec.labels));
        let first_url = fetched.first().map_or("", |(url, _)| *url);
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

/// The value and the series descriptions (for `prescale probe`).
fn compute(
    memory: &mut Memory,
    found: &[Found<'_>],
    spec: &ScrapeSpec<'_>,
    what: &str,
    url: &str,
) -> (Result<f64, MetricError>, Vec<String>) {
    let describe = |f: &Found<'_>, value: &str| format!("{} {value}", f.key);
    let wrong_type = |detail: String| MetricError::WrongMetricType {
        url: url.to_string(),
        metric: spec.metric.to_string(),
        detail,
    };
    let Some(first) = found.first() else {
        return (
            Err(MetricError::NoData {
                query: what.to_string(),
            }),
            Vec::new(),
        );
    };
    match (&first.sample.value, spec.quantile) {
        (Value::Untyped(_), None) if counts_up(spec.metric) => {
            counter(memory, found, spec, what, describe)
        }
        (Value::Gauge(_) | Value::Untyped(_), None) => {
            let values: Vec<SeriesValue> = found
                .iter()
                .filter_map(|f| match f.sample.value {
                    Value::Gauge(v) | Value::Untyped(v) => Some(SeriesValue {
                        labels: f.key.clone(),
                        value: v,
                        raw: v.to_string(),
                    }),
                    _ => None,
                })
                .collect();
            let series = values.iter().map(|s| format!("{} {}", s.labels, s.raw)).collect();
            (reduce(what, &values, spec.aggregate), series)
        }
        (Value::Counter(_), None) => counter(memory, found, spec, what, describe),
        (Value::Histogram(_), Some(q)) => histogram(memory, found, spec, what, q),
        (Value::Summary(_), Some(q)) => {
            let mut values = Vec::new();
            for f in found {
                let Value::Summary(quantiles) = &f.sample.value else {
                    continue;
                };
                match quantiles.iter().find(|s| (s.quantile - q).abs() < 1e-9) {
                    Some(s) => values.push(SeriesValue {
                        labels: f.key.clone(),
                        value: s.count,
                        raw: s.count.to_string(),
                    }),
                    None => {
                        let have: Vec<String> =
                            quantiles.iter().map(|s| s.quantile.to_string()).collect();
                        return (
                            Err(wrong_type(format!(
                                "the summary has no quantile {q} (it has {}); set `quantile` to one of those",
                                have.join(", ")
                            ))),
                            Vec::new(),
                        );
                    }
                }
            }
            let series = values.iter().map(|s| format!("{} {}", s.labels, s.raw)).collect();
            (reduce(what, &values, spec.aggregate), series)
        }
        (Value::Histogram(_) | Value::Summary(_), None) => (
            Err(wrong_type(
                "it is a histogram or summary: set `quantile` (e.g. 0.95) to read a quantile"
                    .into(),
            )),
            Vec::new(),
        ),
        (_, Some(_)) => (
            Err(wrong_type(
                "`quantile` applies to histograms and summaries, and this is a counter or gauge; remove `quantile`"
                    .into(),
            )),
            Vec::new(),
        ),
    }
}

/// Whether an untyped series is by its name a counter: `_total` by convention, and a
/// histogram's or summary's `_count` and `_sum`, which `prometheus-parse` leaves untyped
/// (its `# TYPE` line names the base metric). Reading those as gauges would pass a running
/// total off as a rate.
fn counts_up(metric: &str) -> bool {
    ["_total", "_count", "_sum"]
        .iter()
        .any(|suffix| metric.ends_with(suffix))
}

fn counter(
    memory: &mut Memory,
    found: &[Found<'_>],
    spec: &ScrapeSpec<'_>,
    what: &str,
    describe: impl Fn(&Found<'_>, &str) -> String,
) -> (Result<f64, MetricError>, Vec<String>) {
    let mut next = HashMap::new();
    let mut rates = Vec::new();
    let mut series = Vec::new();
    for f in found {
        let (Value::Counter(value) | Value::Untyped(value)) = f.sample.value else {
            continue;
        };
        let t = f.sample.timestamp.timestamp_micros() as f64 / 1e6;
        let point = CounterPoint { value, t };
        let memo = match memory.counters.get(&f.key) {
            Some(prev) => match counter_rate(prev.point, point) {
                Some(rate) => CounterMemo {
                    point,
                    last_rate: Some(rate),
                },
                // No time passed (an exporter repeating an explicit timestamp): keep the last.
                None => *prev,
            },
            None => CounterMemo {
                point,
                last_rate: None,
            },
        };
        series.push(describe(f, &format!("{value} (rate {:?})", memo.last_rate)));
        if let Some(rate) = memo.last_rate {
            // A series without a rate yet (a new pod) is left out, as `rate()` leaves out
            // a series with a single sample.
            rates.push(SeriesValue {
                labels: f.key.clone(),
                value: rate,
                raw: rate.to_string(),
            });
        }
        next.insert(f.key.clone(), memo);
    }
    memory.counters = next;
    if rates.is_empty() {
        return (
            Err(MetricError::FirstSample {
                metric: spec.metric.to_string(),
            }),
            series,
        );
    }
    (reduce(what, &rates, spec.aggregate), series)
}

fn histogram(
    memory: &mut Memory,
    found: &[Found<'_>],
    spec: &ScrapeSpec<'_>,
    what: &str,
    q: f64,
) -> (Result<f64, MetricError>, Vec<String>) {
    let mut next = HashMap::new();
    let mut windows: Vec<(String, Vec<Bucket>)> = Vec::new();
    let mut series = Vec::new();
    for f in found {
        let Value::Histogram(counts) = &f.sample.value else {
            continue;
        };
        let t = f.sample.timestamp.timestamp_micros() as f64 / 1e6;
        let buckets: Vec<Bucket> = counts
            .iter()
            .map(|c| Bucket {
                upper: c.less_than,
                count: c.count,
            })
            .collect();
        let last_increase = match memory.histograms.get(&f.key) {
            Some(prev) if t > prev.t => Some(bucket_increases(&prev.buckets, &buckets)),
            Some(prev) => prev.last_increase.clone(),
            None => None,
        };
        let total = buckets.iter().map(|b| b.count).fold(0.0, f64::max);
        series.push(format!(
            "{} ({} buckets, {total} observations)",
            f.key,
            buckets.len()
        ));
        if let Some(window) = &last_increase {
            windows.push((f.key.clone(), window.clone()));
        }
        next.insert(
            f.key.clone(),
            HistogramMemo {
                t,
                buckets,
                last_increase,
            },
        );
    }
    memory.histograms = next;
    if windows.is_empty() {
        return (
            Err(MetricError::FirstSample {
                metric: spec.metric.to_string(),
            }),
            series,
        );
    }
    if windows.len() > 1 && spec.aggregate.is_none() {
        return (
            Err(MetricError::MultipleSeries {
                query: what.to_string(),
                series: windows.into_iter().map(|(k, _)| k).collect(),
            }),
            series,
        );
    }
    let quantile_of = |buckets: &[Bucket]| -> Result<f64, MetricError> {
        let value = histogram_quantile(q, buckets);
        if value.is_finite() {
            return Ok(value);
        }
        let observations = buckets.iter().map(|b| b.count).fold(0.0, f64::max);
        if observations <= 0.0 {
            Err(MetricError::NoObservations {
                metric: spec.metric.to_string(),
            })
        } else {
            Err(not_a_number(what, &value.to_string(), value))
        }
    };
    let value = match spec.aggregate {
        // As `histogram_quantile(q, sum by (le) (rate(...)))`: buckets of all series added.
        Some(Aggregate::Sum) | None => {
            let all: Vec<Bucket> = windows
                .iter()
                .flat_map(|(_, w)| w.iter().copied())
                .collect();
            quantile_of(&all)
        }
        Some(Aggregate::Max) => windows
            .iter()
            .map(|(_, w)| quantile_of(w))
            .collect::<Result<Vec<f64>, _>>()
            .map(|qs| qs.into_iter().fold(f64::NEG_INFINITY, f64::max)),
    };
    (value, series)
}
