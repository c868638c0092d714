//! A target's `metrics:`: which signals, each from exactly one of PromQL or a scrape.

use super::context::{Cx, Picked, QUANTILE};
use super::names::{label_name_problem, metric_name_problem, url_problem};
use crate::config::locate::join;
use crate::config::raw::{RawMetricSource, RawMetrics, RawPods, RawScrape};
use crate::config::types::{Aggregate, MetricSource, MetricsConfig, ScrapeFrom};

/// `scrape.pods.path` when not given.
pub const DEFAULT_POD_PATH: &str = "/metrics";

/// The checked metrics of the target at `target_path`; `target_name` names it in messages.
pub fn resolve_metrics(
    raw: &RawMetrics,
    target_path: &str,
    target_name: &str,
    cx: &mut Cx<'_>,
) -> MetricsConfig {
    let path = join(target_path, "metrics");
    if raw.queue_depth.is_none() && raw.arrival_rate.is_none() {
        cx.error(
            &path,
            format!("target \"{target_name}\" has neither `queueDepth` nor `arrivalRate`"),
            "add at least one of them, e.g. `queueDepth: {promql: 'sum(my_queue_depth)'}`",
        );
    }
    let mut source = |key: &str, raw: &Option<RawMetricSource>| {
        raw.as_ref()
            .and_then(|raw| resolve_source(raw, &join(&path, key), cx))
    };
    MetricsConfig {
        queue_depth: source("queueDepth", &raw.queue_depth),
        arrival_rate: source("arrivalRate", &raw.arrival_rate),
        completions: source("completions", &raw.completions),
        wait_p95: source("waitP95", &raw.wait_p95),
    }
}

/// The first metric of `raw` that uses PromQL, as its key path below `metrics`.
pub fn first_promql(raw: &RawMetrics) -> Option<&'static str> {
    [
        ("queueDepth.promql", &raw.queue_depth),
        ("arrivalRate.promql", &raw.arrival_rate),
        ("completions.promql", &raw.completions),
        ("waitP95.promql", &raw.wait_p95),
    ]
    .into_iter()
    .find(|(_, source)| source.as_ref().is_some_and(|s| s.promql.is_some()))
    .map(|(key, _)| key)
}

/// One metric's source at `path`, checked.
pub(super) fn resolve_source(
    raw: &RawMetricSource,
    path: &str,
    cx: &mut Cx<'_>,
) -> Option<MetricSource> {
    match (&raw.promql, &raw.scrape) {
        (Some(_), Some(_)) => {
            cx.error(
                &join(path, "scrape"),
                "has both `promql` and `scrape`",
                "keep one of them: a metric comes from one source",
            );
            None
        }
        (None, None) => {
            cx.error(
                path,
                "has neither `promql` nor `scrape`",
                "add `promql: QUERY` or `scrape: {url: http://HOST:PORT/metrics, metric: NAME}`",
            );
            None
        }
        (Some(query), None) => {
            if query.trim().is_empty() {
                cx.error(
                    &join(path, "promql"),
                    "empty query",
                    "write a PromQL query that returns one value, e.g. `sum(my_queue_depth)`",
                );
                return None;
            }
            Some(MetricSource::Promql {
                query: query.clone(),
                aggregate: raw.aggregate,
                ignore_null_values: raw.ignore_null_values.unwrap_or(false),
            })
        }
        (None, Some(scrape)) => {
            if raw.aggregate.is_some() {
                cx.error(
                    &join(path, "aggregate"),
                    "`aggregate` beside `scrape` applies to nothing",
                    "move it inside `scrape:`",
                );
            }
            if raw.ignore_null_values.is_some() {
                cx.error(
                    &join(path, "ignoreNullValues"),
                    "`ignoreNullValues` applies to `promql` only",
                    "remove it: a scraped page without the series is an error, since the page itself says the metric is not exported",
                );
            }
            resolve_scrape(scrape, &join(path, "scrape"), cx)
        }
    }
}

fn resolve_scrape(raw: &RawScrape, path: &str, cx: &mut Cx<'_>) -> Option<MetricSource> {
    let mut ok = true;
    let from = match (&raw.url, &raw.pods) {
        (Some(_), Some(_)) => {
            cx.error(
                &join(path, "pods"),
                "has both `url` and `pods`",
                "keep one of them: `url` for one endpoint, `pods` to scrape every ready pod",
            );
            None
        }
        (None, None) => {
            cx.error(
                path,
                "has neither `url` nor `pods`",
                "add `url: http://HOST:PORT/metrics`, or `pods: {port: 9100}` to scrape every ready pod of the target",
            );
            None
        }
        (Some(url), None) => match url_problem(url) {
            Some(problem) => {
                cx.error(
                    &join(path, "url"),
                    problem,
                    "write an absolute URL, e.g. `http://summarizer.docs.svc:8080/metrics`",
                );
                None
            }
            None => Some(ScrapeFrom::Url(url.clone())),
        },
        (None, Some(pods)) => resolve_pods(pods, &join(path, "pods"), cx),
    };
    ok &= from.is_some();
    if let Some(problem) = metric_name_problem(&raw.metric) {
        cx.error(
            &join(path, "metric"),
            problem,
            "write a Prometheus metric name (letters, digits, `_`, `:`), e.g. `docs_queue_depth`",
        );
        ok = false;
    }
    for name in raw.labels.keys() {
        if let Some(problem) = label_name_problem(name) {
            cx.error(
                &join(&join(path, "labels"), name),
                format!("label name {problem}"),
                "write a Prometheus label name (letters, digits, `_`), e.g. `queue`",
            );
            ok = false;
        }
    }
    let quantile = match &raw.quantile {
        Some(q) => {
            let checked = cx.within(&Picked::new(q, join(path, "quantile")), QUANTILE);
            ok &= checked.is_some();
            checked
        }
        None => None,
    };
    let from = from.filter(|_| ok)?;
    // Every pod serves its own share of the series: several are the normal case, and
    // their sum is what the target as a whole sees (merged buckets for a histogram).
    let aggregate = match from {
        ScrapeFrom::Pods { .. } => Some(raw.aggregate.unwrap_or(Aggregate::Sum)),
        ScrapeFrom::Url(_) => raw.aggregate,
    };
    Some(MetricSource::Scrape {
        from,
        metric: raw.metric.clone(),
        labels: raw.labels.clone(),
        aggregate,
        quantile,
    })
}

fn resolve_pods(raw: &RawPods, path: &str, cx: &mut Cx<'_>) -> Option<ScrapeFrom> {
    let port = match u16::try_from(raw.port) {
        Ok(port) if port > 0 => Some(port),
        _ => {
            cx.error(
                &join(path, "port"),
                format!("port {} is not in 1-65535", raw.port),
                "write the container port that serves the metrics, e.g. `port: 9100`",
            );
            None
        }
    };
    let metrics_path = raw.path.as_deref().unwrap_or(DEFAULT_POD_PATH);
    let path_ok = metrics_path.starts_with('/')
        && !metrics_path.contains(['#', ' '])
        && reqwest::Url::parse(&format!("http://127.0.0.1:1{metrics_path}")).is_ok();
    if !path_ok {
        cx.error(
            &join(path, "path"),
            format!("\"{metrics_path}\" is not a URL path"),
            "write a path starting with `/`, e.g. `/metrics`",
        );
    }
    let port = port.filter(|_| path_ok)?;
    Some(ScrapeFrom::Pods {
        port,
        path: metrics_path.to_string(),
        scheme: raw.scheme.unwrap_or_default(),
    })
}
