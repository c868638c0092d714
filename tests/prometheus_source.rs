//! The Prometheus source against a real Prometheus scraping a test exporter every second.
//!
//! One Prometheus and one exporter serve every test in this binary; the exporter's values
//! are fixed at start so tests do not disturb each other: queue depth 7, 5 documents/s
//! enqueued, 20 waits/s with a p95 of 3 s.

mod support;

use prescale::config::{Aggregate, Config, MetricSource, ScrapeFrom};
use prescale::metrics::prometheus::{PromApi, PromClient};
use prescale::metrics::{MetricKind, Sources, unix_seconds};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};
use support::exporter::{Exporter, WAIT_FRACTIONS, WAIT_P95};
use support::prometheus::{Job, PrometheusServer, skip_without_binary};
use support::{eventually, prometheus_config, promql, target};

const ARRIVALS_PER_S: f64 = 5.0;
const DEPTH: f64 = 7.0;
const ARRIVAL_QUERY: &str = "sum(rate(documents_enqueued_total[5s]))";
const WAIT_QUERY: &str =
    "histogram_quantile(0.95, sum by (le) (rate(queue_wait_seconds_bucket[5s])))";

struct Env {
    exporter: Exporter,
    _garbage: Exporter,
    prometheus: PrometheusServer,
    started: SystemTime,
}

/// The shared servers, started on first use; `None` (after a loud message) without a binary.
fn env(test: &str) -> Option<&'static Env> {
    static ENV: OnceLock<Result<Option<Env>, String>> = OnceLock::new();
    let env = ENV
        .get_or_init(|| {
            let exporter = Exporter::start();
            exporter.set_queue_depth(DEPTH);
            // Counters start well above zero so that rate()'s extrapolation is never cut
            // at zero, which would bend the expected values.
            exporter.set_enqueued(1000.0);
            exporter.set_arrival_rate(ARRIVALS_PER_S);
            exporter.set_wait_buckets(WAIT_FRACTIONS.map(|f| 1000.0 * f));
            exporter.set_wait_rate(20.0);
            let garbage = Exporter::start();
            garbage.serve_raw(Some("<html><body>502 Bad Gateway</body></html>\n"));
            let jobs = [
                Job {
                    name: "exporter".into(),
                    target: exporter.host_port(),
                },
                Job {
                    name: "garbage".into(),
                    target: garbage.host_port(),
                },
            ];
            let started = SystemTime::now();
            PrometheusServer::start(&jobs).map(|server| {
                server.map(|prometheus| Env {
                    exporter,
                    _garbage: garbage,
                    prometheus,
                    started,
                })
            })
        })
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"))
        .as_ref();
    if env.is_none() {
        skip_without_binary(test);
    }
    env
}

fn sources(env: &Env) -> Sources {
    let config = Config {
        prometheus: Some(prometheus_config(&env.prometheus.url())),
        targets: Vec::new(),
    };
    Sources::new(&config).expect("sources")
}

/// Wait until Prometheus holds enough samples for full 5 s rate windows.
async fn wait_for_history(env: &Env) {
    let client = PromClient::new(&prometheus_config(&env.prometheus.url())).unwrap();
    eventually(
        "7 scrapes of the exporter",
        Duration::from_secs(30),
        || async {
            let r = client
                .instant(
                    "count_over_time(documents_enqueued_total[10s])",
                    SystemTime::now(),
                )
                .await;
            match r {
                Ok(r) if r.series.first().is_some_and(|s| s.value >= 7.0) => Ok(()),
                other => Err(other),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn instant_values_rates_and_quantiles_match_the_exporter() {
    let Some(env) = env("instant_values_rates_and_quantiles_match_the_exporter") else {
        return;
    };
    wait_for_history(env).await;
    let mut t = target("docs", Duration::from_secs(1));
    t.metrics.queue_depth = Some(promql(r#"queue_depth{queue="docs"}"#));
    t.metrics.arrival_rate = Some(promql(ARRIVAL_QUERY));
    t.metrics.wait_p95 = Some(promql(WAIT_QUERY));
    let readings = sources(env).read_at(&t, SystemTime::now()).await;

    assert_eq!(readings.queue_depth, Some(Ok(DEPTH)));
    assert!(readings.errors().is_empty(), "{readings:?}");
    let rate = readings.arrival_rate.expect("configured").expect("a rate");
    assert!(
        (rate - ARRIVALS_PER_S).abs() < 0.05 * ARRIVALS_PER_S,
        "rate {rate}"
    );
    let p95 = readings.wait_s.expect("configured").expect("a quantile");
    assert!((p95 - WAIT_P95).abs() < 0.01, "p95 {p95}");
    assert!(readings.completion_rate.is_none(), "not configured");
}

#[tokio::test]
async fn several_series_are_an_error_naming_their_labels_unless_aggregated() {
    let Some(env) = env("several_series_are_an_error_naming_their_labels_unless_aggregated") else {
        return;
    };
    wait_for_history(env).await;
    let sources = sources(env);
    let mut t = target("docs", Duration::from_secs(1));
    t.metrics.queue_depth = Some(promql(r#"queue_depth{job="exporter"}"#));
    let e = sources
        .evaluate(&t, MetricKind::QueueDepth, SystemTime::now())
        .await
        .expect("configured");
    let error = e.value.expect_err("two series");
    assert_eq!(error.reason(), "multiple_series");
    let text = error.to_string();
    assert!(
        text.contains(r#"queue="docs""#) && text.contains(r#"queue="other""#),
        "{text}"
    );
    assert_eq!(e.series.len(), 2);

    for (aggregate, expected) in [(Aggregate::Sum, DEPTH + 1.0), (Aggregate::Max, DEPTH)] {
        t.metrics.queue_depth = Some(MetricSource::Promql {
            query: r#"queue_depth{job="exporter"}"#.into(),
            aggregate: Some(aggregate),
            ignore_null_values: false,
        });
        let e = sources
            .evaluate(&t, MetricKind::QueueDepth, SystemTime::now())
            .await
            .expect("configured");
        assert_eq!(e.value, Ok(expected), "{aggregate:?}");
    }
}

#[tokio::test]
async fn nan_infinity_empty_and_bad_queries_are_reported_never_numbers() {
    let Some(env) = env("nan_infinity_empty_and_bad_queries_are_reported_never_numbers") else {
        return;
    };
    let sources = sources(env);
    let cases = [
        ("0/0", "not_a_number"),
        ("1/0", "not_a_number"),
        ("-1/0", "not_a_number"),
        ("no_such_metric_anywhere", "no_data"),
        ("sum(", "query_failed"),
        ("queue_depth[1m]", "unsupported_result"),
    ];
    for (query, reason) in cases {
        let mut t = target("docs", Duration::from_secs(15));
        t.metrics.arrival_rate = Some(promql(query));
        let e = sources
            .evaluate(&t, MetricKind::ArrivalRate, SystemTime::now())
            .await
            .expect("configured");
        let error = e.value.expect_err(query);
        assert_eq!(error.reason(), reason, "{query}: {error}");
        assert!(error.to_string().contains(query), "{query}: {error}");
    }
}

#[tokio::test]
async fn a_target_serving_garbage_is_down_and_its_metrics_are_missing_with_a_hint() {
    let Some(env) = env("a_target_serving_garbage_is_down_and_its_metrics_are_missing_with_a_hint")
    else {
        return;
    };
    wait_for_history(env).await;
    let sources = sources(env);
    let mut t = target("garbage", Duration::from_secs(1));
    t.metrics.queue_depth = Some(promql(r#"up{job="garbage"}"#));
    t.metrics.arrival_rate = Some(promql(
        r#"sum(rate(documents_enqueued_total{job="garbage"}[5s]))"#,
    ));
    t.metrics.wait_p95 = Some(promql(r#"queue_depth{job="garbage"}"#));
    let readings = sources.read_at(&t, SystemTime::now()).await;
    assert_eq!(
        readings.queue_depth,
        Some(Ok(0.0)),
        "Prometheus marks it down"
    );
    // sum() of nothing is an empty vector, not 0: no silent zero arrivals.
    let error = readings
        .arrival_rate
        .expect("configured")
        .expect_err("empty");
    assert_eq!(error.reason(), "no_data");
    assert!(error.to_string().contains("`up`"), "{error}");
    assert_eq!(
        readings.wait_s.expect("configured").unwrap_err().reason(),
        "no_data"
    );
}

#[tokio::test]
async fn backfill_returns_the_history_written_so_far_in_chunks_under_the_points_limit() {
    let Some(env) =
        env("backfill_returns_the_history_written_so_far_in_chunks_under_the_points_limit")
    else {
        return;
    };
    wait_for_history(env).await;
    let mut t = target("docs", Duration::from_secs(1));
    t.metrics.arrival_rate = Some(promql(ARRIVAL_QUERY));
    // Four hours at one second is 14,401 points: more than one range query may return.
    t.forecast.history = Duration::from_secs(4 * 3600);
    let end = SystemTime::now();
    let client = PromClient::new(&prometheus_config(&env.prometheus.url())).unwrap();
    let end_s = unix_seconds(end).floor();
    let whole = client
        .range(
            ARRIVAL_QUERY,
            end_s - 4.0 * 3600.0,
            end_s,
            Duration::from_secs(1),
        )
        .await
        .expect_err("Prometheus refuses more than 11,000 points");
    assert_eq!(whole.reason(), "query_failed", "{whole}");

    let history = sources(env).backfill(&t, end).await.expect("history");
    let started = unix_seconds(env.started);
    assert!(history.len() >= 3, "{history:?}");
    for pair in history.windows(2) {
        assert!(pair[1].0 > pair[0].0, "oldest first: {pair:?}");
        assert_eq!(pair[0].0.fract(), 0.0, "on the 1 s step: {pair:?}");
    }
    let (first_t, _) = history[0];
    let (last_t, last_rate) = *history.last().unwrap();
    assert!(
        first_t >= started - 1.0,
        "no data before Prometheus started"
    );
    assert!(
        last_t <= end_s && last_t >= end_s - 3.0,
        "up to the end: {last_t} vs {end_s}"
    );
    assert!(
        (last_rate - ARRIVALS_PER_S).abs() < 0.05 * ARRIVALS_PER_S,
        "{last_rate}"
    );
    // Every point with a full 5 s window of scrapes behind it is the exporter's rate.
    for &(ts, rate) in history.iter().filter(|(ts, _)| *ts >= first_t + 6.0) {
        assert!(
            (rate - ARRIVALS_PER_S).abs() < 0.05 * ARRIVALS_PER_S,
            "{ts}: {rate}"
        );
    }
}

#[tokio::test]
async fn backfill_of_a_scraped_or_disabled_metric_is_empty() {
    let Some(env) = env("backfill_of_a_scraped_or_disabled_metric_is_empty") else {
        return;
    };
    let sources = sources(env);
    let mut t = target("docs", Duration::from_secs(1));
    t.metrics.arrival_rate = Some(promql(ARRIVAL_QUERY));
    t.forecast.enabled = false;
    assert_eq!(
        sources.backfill(&t, SystemTime::now()).await,
        Ok(Vec::new())
    );
}

#[tokio::test]
async fn probe_reports_values_series_history_and_errors_with_what_to_fix() {
    use prescale::cli::probe::{ProbeFailure, ProbeOptions, probe};
    let Some(env) = env("probe_reports_values_series_history_and_errors_with_what_to_fix") else {
        return;
    };
    wait_for_history(env).await;
    let mut t = target("docs", Duration::from_secs(1));
    t.forecast.history = Duration::from_secs(3600);
    t.metrics.queue_depth = Some(promql(r#"queue_depth{queue="docs"}"#));
    t.metrics.arrival_rate = Some(promql(ARRIVAL_QUERY));
    t.metrics.completions = Some(MetricSource::Scrape {
        from: ScrapeFrom::Url(env.exporter.url()),
        metric: "documents_enqueued_total".into(),
        labels: Default::default(),
        aggregate: None,
        quantile: None,
    });
    t.metrics.wait_p95 = Some(promql("sum(rate(queue_wait_seconds_bucket[5s]) by (le)"));
    let config = Config {
        prometheus: Some(prometheus_config(&env.prometheus.url())),
        targets: vec![t],
    };
    let options = ProbeOptions {
        rescrape_after: Duration::from_millis(300),
    };
    let report = probe(&config, None, options).await.expect("probe");
    let docs = &report.targets[0];
    assert_eq!(docs.metrics.len(), 4);
    assert_eq!(docs.metrics[0].value, Some(DEPTH));
    assert_eq!(
        docs.metrics[0].series,
        vec![format!(
            r#"queue_depth{{instance="{}",job="exporter",queue="docs"}} 7"#,
            env.exporter.host_port()
        )]
    );
    let scraped_rate = docs.metrics[2]
        .value
        .expect("a rate after the second scrape");
    assert!(
        (scraped_rate - ARRIVALS_PER_S).abs() < 0.25 * ARRIVALS_PER_S,
        "{scraped_rate}"
    );
    let error = docs.metrics[3].error.as_ref().expect("a bad query");
    assert_eq!(error.reason, "query_failed");
    assert_eq!(report.failures(), 1);
    assert!(docs.backfill.samples >= 3, "{:?}", docs.backfill);

    let text = report.to_text();
    assert!(
        text.contains("queueDepth: promql: queue_depth{queue=\"docs\"}"),
        "{text}"
    );
    assert!(text.contains("value: 7"), "{text}");
    assert!(text.contains("ERROR [query_failed]"), "{text}");
    assert!(
        text.contains(&format!("backfill: {} samples", docs.backfill.samples)),
        "{text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["targets"][0]["metrics"][3]["error"]["reason"],
        "query_failed"
    );
    assert_eq!(json["targets"][0]["metrics"][0]["metric"], "queueDepth");

    let e = probe(&config, Some("nope"), options).await.unwrap_err();
    assert!(matches!(e, ProbeFailure::UnknownTarget { .. }));
    assert!(e.to_string().contains("docs"), "{e}");
}

#[tokio::test]
async fn the_probe_command_prints_json_and_fails_when_a_metric_fails() {
    let Some(env) = env("the_probe_command_prints_json_and_fails_when_a_metric_fails") else {
        return;
    };
    wait_for_history(env).await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, wait_query: &str| {
        let yaml = format!(
            "prometheus:\n  url: {}\ntargets:\n  - name: docs\n    scaleTargetRef: {{namespace: docs, name: worker}}\n    interval: 1s\n    forecast: {{history: 1h}}\n    metrics:\n      queueDepth:\n        promql: 'queue_depth{{queue=\"docs\"}}'\n      arrivalRate:\n        promql: '{ARRIVAL_QUERY}'\n      waitP95:\n        promql: '{wait_query}'\n",
            env.prometheus.url()
        );
        let path = dir.path().join(name);
        std::fs::write(&path, yaml).unwrap();
        path
    };
    let good = write("good.yaml", WAIT_QUERY);
    let bad = write("bad.yaml", "sum(");
    let run = |path: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_prescale"))
                .args(["probe", "--json", "--target", "docs", "--config"])
                .arg(path)
                .output()
                .unwrap()
        })
    };

    let out = run(good).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let target = &report["targets"][0];
    assert_eq!(target["metrics"][0]["value"], DEPTH);
    assert!(
        target["backfill"]["samples"].as_u64().unwrap() >= 3,
        "{target}"
    );

    let out = run(bad).await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 metric read(s) failed"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["targets"][0]["metrics"][2]["error"]["reason"],
        "query_failed"
    );
}
