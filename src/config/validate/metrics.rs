//! A target's `metrics:`: which signals, each from exactly one of PromQL or a scrape.

use super::context::{Cx, Picked, QUANTILE};
use super::names::{label_name_problem, metric_name_problem, url_problem};
use super::queries::Queries;
use super::template::{Vars, for_target, template_problem};
use crate::config::locate::join;
use crate::config::raw::{RawMetricSource, RawMetrics, RawPods, RawScrape};
use crate::config::suggest::closest;
use crate::config::types::{Aggregate, MetricSource, MetricsConfig, ScrapeFrom};

/// `scrape.pods.path` when not given.
pub const DEFAULT_POD_PATH: &str = "/metrics";

/// The metrics of one target: each key its own (written at `target_path`) or else
/// inherited from `defaults.metrics` (checked once, in `inherited`), with the target's
/// variables substituted. `target_name` names it in messages.
pub fn resolve_metrics(
    raw: &RawMetrics,
    inherited: Option<&MetricsConfig>,
    target_path: &str,
    vars: &Vars<'_>,
    queries: &Queries,
    cx: &mut Cx<'_>,
) -> MetricsConfig {
    let path = join(target_path, "metrics");
    let own = resolve_templates(raw, &path, queries, cx);
    let pick = |own: Option<MetricSource>, written: bool, inherited: Option<&MetricSource>| {
        if written { own } else { inherited.cloned() }.map(|source| for_target(&source, vars))
    };
    let empty = MetricsConfig::default();
    let inherited = inherited.unwrap_or(&empty);
    let merged = MetricsConfig {
        queue_depth: pick(
            own.queue_depth,
            raw.queue_depth.is_some(),
            inherited.queue_depth.as_ref(),
        ),
        arrival_rate: pick(
            own.arrival_rate,
            raw.arrival_rate.is_some(),
            inherited.arrival_rate.as_ref(),
        ),
        completions: pick(
            own.completions,
            raw.completions.is_some(),
            inherited.completions.as_ref(),
        ),
        wait_p95: pick(
            own.wait_p95,
            raw.wait_p95.is_some(),
            inherited.wait_p95.as_ref(),
        ),
    };
    let has_demand = raw.queue_depth.is_some()
        || raw.arrival_rate.is_some()
        || inherited.queue_depth.is_some()
        || inherited.arrival_rate.is_some();
    if !has_demand {
        cx.error(
            &path,
            format!(
                "target \"{}\" has neither `queueDepth` nor `arrivalRate` (here or in `defaults.metrics`)",
                vars.target
            ),
            "add at least one of them, e.g. `queueDepth: {promql: 'sum(my_queue_depth)'}`",
        );
    }
    merged
}

/// The metrics written at `path` (a target's, or `defaults.metrics`), checked, with any
/// `${...}` left for [`for_target`].
pub fn resolve_templates(
    raw: &RawMetrics,
    path: &str,
    queries: &Queries,
    cx: &mut Cx<'_>,
) -> MetricsConfig {
    let mut source = |key: &str, raw: &Option<RawMetricSource>| {
        raw.as_ref()
            .and_then(|raw| resolve_source(raw, &join(path, key), queries, cx))
    };
    MetricsConfig {
        queue_depth: source("queueDepth", &raw.queue_depth),
        arrival_rate: source("arrivalRate", &raw.arrival_rate),
        completions: source("completions", &raw.completions),
        wait_p95: source("waitP95", &raw.wait_p95),
    }
}

/// The metrics of `raw` read from Prometheus (`promql` or a shared `query`), as key paths
/// below `metrics`.
pub fn prometheus_keys(raw: &RawMetrics) -> Vec<String> {
    [
        ("queueDepth", &raw.queue_depth),
        ("arrivalRate", &raw.arrival_rate),
        ("completions", &raw.completions),
        ("waitP95", &raw.wait_p95),
    ]
    .into_iter()
    .filter_map(|(key, source)| {
        let source = source.as_ref()?;
        if source.promql.is_some() {
            Some(format!("{key}.promql"))
        } else if source.query.is_some() {
            Some(format!("{key}.query"))
        } else {
            None
        }
    })
    .collect()
}

/// One metric's source at `path`, checked; `queries` are the shared queries it may refer to.
pub(super) fn resolve_source(
    raw: &RawMetricSource,
    path: &str,
    queries: &Queries,
    cx: &mut Cx<'_>,
) -> Option<MetricSource> {
    let given = [
        raw.promql.is_some(),
        raw.query.is_some(),
        raw.scrape.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        let keys: Vec<&str> = ["promql", "query", "scrape"]
            .into_iter()
            .zip(given)
            .filter(|(_, g)| *g)
            .map(|(k, _)| k)
            .collect();
        cx.error(
            &join(path, keys[1]),
            format!("has both `{}` and `{}`", keys[0], keys[1]),
            "keep one of them: a metric comes from one source",
        );
        return None;
    }
    if !raw.match_labels.is_empty() && raw.query.is_none() {
        cx.error(
            &join(path, "match"),
            "`match` applies to a shared `query` only",
            "refer to a shared query with `query: NAME`, or remove `match`",
        );
        return None;
    }
    if let Some(query) = &raw.promql {
        if query.trim().is_empty() {
            cx.error(
                &join(path, "promql"),
                "empty query",
                "write a PromQL query that returns one value, e.g. `sum(my_queue_depth)`",
            );
            return None;
        }
        if let Some(problem) = template_problem(query) {
            cx.error(&join(path, "promql"), problem, TEMPLATE_HINT);
            return None;
        }
        return Some(MetricSource::Promql {
            query: query.clone(),
            aggregate: raw.aggregate,
            ignore_null_values: raw.ignore_null_values.unwrap_or(false),
        });
    }
    if let Some(name) = &raw.query {
        return resolve_shared(raw, name, path, queries, cx);
    }
    match &raw.scrape {
        None => {
            cx.error(
                path,
                "has neither `promql`, `query` nor `scrape`",
                "add `promql: QUERY`, `query: SHARED_QUERY` with `match: {LABEL: VALUE}`, or `scrape: {url: http://HOST:PORT/metrics, metric: NAME}`",
            );
            None
        }
        Some(scrape) => {
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

/// What to write instead of a bad `${...}`.
const TEMPLATE_HINT: &str =
    "use `${namespace}` and `${name}` (the target's Deployment) or `${target}` (its name)";

fn resolve_shared(
    raw: &RawMetricSource,
    name: &str,
    path: &str,
    queries: &Queries,
    cx: &mut Cx<'_>,
) -> Option<MetricSource> {
    let mut ok = true;
    let query = queries.get(name);
    if query.is_none() {
        let known: Vec<&str> = queries.keys().map(String::as_str).collect();
        let hint = match closest(name, &known) {
            Some(close) => format!("did you mean `{close}`? (shared queries are defined under `queries:` at the top level)"),
            None if known.is_empty() => "define it under `queries:` at the top level, e.g. `queries: {enqueued: {promql: 'sum by (namespace, deployment) (rate(docs_enqueued_total[1m]))'}}`".to_string(),
            None => format!("define it under `queries:` or use one of: {}", known.join(", ")),
        };
        cx.error(
            &join(path, "query"),
            format!("no shared query named \"{name}\""),
            hint,
        );
        ok = false;
    }
    let match_path = join(path, "match");
    for (label, value) in &raw.match_labels {
        if let Some(problem) = label_name_problem(label) {
            cx.error(
                &join(&match_path, label),
                format!("label name {problem}"),
                "write a Prometheus label name (letters, digits, `_`), e.g. `deployment`",
            );
            ok = false;
        }
        if let Some(problem) = template_problem(value) {
            cx.error(&join(&match_path, label), problem, TEMPLATE_HINT);
            ok = false;
        }
    }
    let query = query.filter(|_| ok)?;
    Some(MetricSource::Shared {
        name: name.to_string(),
        query: query.clone(),
        labels: raw.match_labels.clone().into(),
        aggregate: raw.aggregate,
        ignore_null_values: raw.ignore_null_values.unwrap_or(false),
    })
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
