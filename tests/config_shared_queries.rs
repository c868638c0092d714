//! Shared queries (`queries:`), metrics inherited from `defaults.metrics` and the `${...}`
//! variables: each target gets its own labels and query, and every mistake is named with its
//! key path, its line and what to write.

use prescale::config::{self, MetricSource};
use prescale::metrics::prometheus::Labels;
use std::path::Path;

#[path = "support/config_problems.rs"]
mod config_problems;

use config_problems::{ORIGIN, assert_problem, report};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn one_shared_query_in_defaults_gives_every_target_its_own_series() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/many-targets.yaml");
    let loaded = config::load_with_warnings(&path).expect("valid");
    assert!(loaded.warnings.problems.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    assert_eq!(config.targets.len(), 3);
    let invoices = &config.targets[0];
    assert_eq!(
        invoices.metrics.arrival_rate,
        Some(MetricSource::Shared {
            name: "enqueued".into(),
            query: "sum by (namespace, deployment) (rate(docs_enqueued_total[1m]))".into(),
            labels: labels(&[("namespace", "ocr"), ("deployment", "invoices")]),
            aggregate: None,
            ignore_null_values: false,
        })
    );
    // `ignoreNullValues` on a shared query's metric: no series for this target reads as 0.
    assert!(matches!(
        &invoices.metrics.completions,
        Some(MetricSource::Shared { name, ignore_null_values: true, .. }) if name == "completed"
    ));
    let receipts = &config.targets[1];
    assert!(matches!(
        &receipts.metrics.queue_depth,
        Some(MetricSource::Shared { name, labels: l, .. })
            if name == "depth" && *l == labels(&[("namespace", "ocr"), ("deployment", "receipts")])
    ));
    // A target's own metric replaces the inherited one, with its variables substituted;
    // the metrics it does not write are still inherited.
    let legal = &config.targets[2];
    assert_eq!(
        legal.metrics.queue_depth,
        Some(MetricSource::Promql {
            query: r#"max(docs_queue_depth{namespace="genai",deployment="summarize-legal"})"#
                .into(),
            aggregate: None,
            ignore_null_values: false,
        })
    );
    assert!(matches!(
        &legal.metrics.completions,
        Some(MetricSource::Shared { name, .. }) if name == "completed"
    ));

    // `prescale check`'s effective settings spell out the shared queries and read back.
    let yaml = serde_saphyr::to_string(&config::effective(&config)).unwrap();
    assert!(
        yaml.contains("queries:") && yaml.contains("enqueued:"),
        "{yaml}"
    );
    assert_eq!(config::parse(&yaml, "effective.yaml").unwrap(), config);
}

#[test]
fn a_reference_to_an_unknown_query_suggests_the_closest() {
    let report = report(
        "prometheus: { url: 'http://p:9090' }
queries:
  enqueued: { promql: 'sum by (queue) (rate(x[1m]))' }
targets:
  - name: a
    scaleTargetRef: { namespace: docs, name: a }
    metrics:
      arrivalRate: { query: enqueud, match: { queue: a } }
",
    );
    assert_problem(
        &report,
        8,
        "targets[0].metrics.arrivalRate.query",
        &[
            "no shared query named \"enqueud\"",
            "did you mean `enqueued`",
        ],
    );
}

#[test]
fn bad_variables_labels_and_shapes_are_named_where_written() {
    let report = report(
        "prometheus: { url: 'http://p:9090' }
queries:
  enqueued: { promql: 'sum by (queue) (rate(x{ns=\"${namespace}\"}[1m]))' }
  depth: { promql: 'sum by (queue) (q)' }
defaults:
  metrics:
    arrivalRate: { query: depth, match: { queue: '${deployment}' } }
targets:
  - name: a
    scaleTargetRef: { namespace: docs, name: a }
    metrics:
      queueDepth: { promql: 'sum(q{d=\"${name\"})' }
      completions: { promql: 'sum(c)', query: depth }
      waitP95: { promql: 'w', match: { queue: a } }
  - name: b
    scaleTargetRef: { namespace: docs, name: b }
    metrics:
      queueDepth: { query: depth, match: { 9queue: b } }
",
    );
    assert_problem(
        &report,
        3,
        "queries.enqueued.promql",
        &["cannot use `${...}`", "match:"],
    );
    assert_problem(
        &report,
        7,
        "defaults.metrics.arrivalRate.match.queue",
        &["unknown variable `${deployment}`", "${namespace}"],
    );
    assert_problem(
        &report,
        12,
        "targets[0].metrics.queueDepth.promql",
        &["unknown variable `${name\"}`"],
    );
    assert_problem(
        &report,
        13,
        "targets[0].metrics.completions.query",
        &["both `promql` and `query`"],
    );
    assert_problem(
        &report,
        14,
        "targets[0].metrics.waitP95.match",
        &["`match` applies to a shared `query` only"],
    );
    assert_problem(
        &report,
        18,
        "targets[1].metrics.queueDepth.match.9queue",
        &["label name", "starts with a digit"],
    );
}

#[test]
fn inherited_promql_without_prometheus_is_reported_once_at_the_defaults() {
    let report = report(
        "defaults:
  metrics:
    queueDepth: { promql: 'sum(q{deployment=\"${name}\"})' }
targets:
  - name: a
    scaleTargetRef: { namespace: docs, name: a }
  - name: b
    scaleTargetRef: { namespace: docs, name: b }
",
    );
    assert_problem(
        &report,
        3,
        "defaults.metrics.queueDepth.promql",
        &["uses PromQL but the file has no `prometheus:` section"],
    );
    assert_eq!(
        report.matches("no `prometheus:` section").count(),
        1,
        "{report}"
    );
}

#[test]
fn a_target_with_no_demand_metric_anywhere_is_rejected_and_an_unused_query_is_a_warning() {
    let text = "prometheus: { url: 'http://p:9090' }
queries:
  unused: { promql: 'sum by (queue) (q)' }
targets:
  - name: a
    scaleTargetRef: { namespace: docs, name: a }
";
    assert_problem(
        &report(text),
        5,
        "targets[0].metrics",
        &["has neither `queueDepth` nor `arrivalRate` (here or in `defaults.metrics`)"],
    );
    let valid = format!("{text}    metrics:\n      queueDepth: {{ promql: 'sum(q)' }}\n");
    let loaded = config::parse_with_warnings(&valid, ORIGIN).expect("valid");
    let warnings = loaded.warnings.to_string();
    assert!(
        warnings
            .lines()
            .any(|w| w.contains("queries.unused") && w.contains("never runs")),
        "{warnings}"
    );
}
