//! Computing a metric's value from the samples a scrape matched: gauges as they are,
//! counters as per-second rates since the previous scrape, histograms and summaries as
//! quantiles; several series combined with the metric's `aggregate`.

use super::ScrapeSpec;
use super::counter_rate::{CounterPoint, counter_rate};
use super::histogram::{Bucket, bucket_increases, histogram_quantile};
use crate::config::Aggregate;
use crate::metrics::MetricError;
use crate::metrics::aggregate::{SeriesValue, not_a_number, reduce};
use prometheus_parse::{Sample, Value};
use std::collections::HashMap;

/// What one metric of one target remembers between scrapes, per series.
#[derive(Debug, Default)]
pub(super) struct Memory {
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
pub(super) struct Found<'p> {
    /// The series, prefixed by its instance (the pod, or the URL when several URLs are
    /// read), which keys what rates remember.
    pub key: String,
    /// The sample.
    pub sample: &'p Sample,
}

/// The value and the series descriptions (for `prescale probe`).
pub(super) fn compute(
    memory: &mut Memory,
    found: &[Found<'_>],
    spec: &ScrapeSpec<'_>,
    what: &str,
    url: &str,
) -> (Result<f64, MetricError>, Vec<String>) {
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
            counter(memory, found, spec, what)
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
        (Value::Counter(_), None) => counter(memory, found, spec, what),
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
        series.push(format!("{} {value} (rate {:?})", f.key, memo.last_rate));
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
        // The largest of the series' own quantiles; a series (a pod) that observed nothing
        // in the window has no quantile and is left out, as PromQL leaves out its NaN.
        Some(Aggregate::Max) => {
            let mut best: Option<f64> = None;
            let mut failure = None;
            for (_, w) in &windows {
                match quantile_of(w) {
                    Ok(v) => best = Some(best.map_or(v, |b| b.max(v))),
                    Err(e @ MetricError::NoObservations { .. }) => {
                        failure.get_or_insert(e);
                    }
                    Err(e) => return (Err(e), series),
                }
            }
            best.ok_or_else(|| {
                failure.unwrap_or_else(|| MetricError::NoObservations {
                    metric: spec.metric.to_string(),
                })
            })
        }
    };
    (value, series)
}
