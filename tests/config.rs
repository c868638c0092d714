//! The configuration file through its public API and the `prescale check` / `prescale config
//! schema` commands: every rejected input names the key path, the line and what to write.

use prescale::config::{
    self, Aggregate, Behavior, Config, ConfigError, FallbackBehavior, ForecastConfig, MetricSource,
    MetricsConfig, Mode, PolicyKind, ScaleTargetRef, ScalingPolicy, ScrapeFrom, ScrapeScheme,
    SelectPolicy, TargetConfig, parse_duration,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[path = "support/config_problems.rs"]
mod config_problems;

use config_problems::{ORIGIN, assert_problem, report};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join(name)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A valid target whose metrics are scraped, so no `prometheus:` is needed.
const SCRAPED: &str = "    metrics:
      queueDepth: { scrape: { url: 'http://app.docs.svc:8080/metrics', metric: docs_queue_depth } }
";

// ---- the example files ----

#[test]
fn the_full_example_validates_with_its_overrides() {
    let config = config::load(&example("prescale.yaml")).unwrap();
    assert_eq!(config.targets.len(), 3);
    let prometheus = config.prometheus.as_ref().unwrap();
    assert_eq!(prometheus.url, "http://prometheus.monitoring.svc:9090");
    assert_eq!(prometheus.retries, 2);

    let summarizer = &config.targets[0];
    assert_eq!(summarizer.name, "summarizer");
    assert_eq!(summarizer.mode, Mode::Active);
    assert_eq!(summarizer.max_replicas, 80);
    assert_eq!(summarizer.slo.queue_wait, secs(30));
    assert!(matches!(
        summarizer.metrics.arrival_rate,
        Some(MetricSource::Promql {
            aggregate: Some(_),
            ..
        })
    ));

    let translator = &config.targets[1];
    assert_eq!(translator.mode, Mode::Shadow, "inherited from defaults");
    assert_eq!(translator.min_replicas, 2);
    assert_eq!(translator.startup_time, secs(180));
    assert_eq!(translator.behavior.scale_up, Behavior::default().scale_up);
    let down = &translator.behavior.scale_down;
    assert_eq!(down.stabilization_window, secs(600));
    assert_eq!(
        down.policies,
        [ScalingPolicy {
            kind: PolicyKind::Pods,
            value: 2,
            period: secs(60)
        }]
    );
    assert!(matches!(
        translator.metrics.wait_p95,
        Some(MetricSource::Scrape { quantile: Some(q), .. }) if q == 0.95
    ));
    assert!(matches!(
        &translator.metrics.completions,
        Some(MetricSource::Scrape {
            from: ScrapeFrom::Pods { port: 9100, .. },
            ..
        })
    ));

    let ocr = &config.targets[2];
    assert_eq!(ocr.scale_target_ref.to_string(), "StatefulSet docs/ocr-gpu");
    assert!(!ocr.scale_target_ref.is_deployment());
}

#[test]
fn the_minimal_example_has_exactly_the_default_settings() {
    let config = config::load(&example("minimal.yaml")).unwrap();
    let [target] = config.targets.as_slice() else {
        panic!("one target expected: {config:#?}");
    };
    let expected = TargetConfig {
        name: "summarizer".into(),
        scale_target_ref: ScaleTargetRef::deployment("docs", "summarizer"),
        metrics: target.metrics.clone(),
        ..TargetConfig::default()
    };
    assert_eq!(*target, expected);
    assert!(target.metrics.queue_depth.is_some());
}

#[test]
fn effective_settings_read_back_as_the_same_config() {
    let config = config::load(&example("prescale.yaml")).unwrap();
    let yaml = serde_saphyr::to_string(&config::effective(&config)).unwrap();
    assert_eq!(config::parse(&yaml, "effective.yaml").unwrap(), config);
}

#[test]
fn the_built_in_defaults_are_valid() {
    let config = Config {
        prometheus: None,
        targets: vec![TargetConfig {
            scale_target_ref: ScaleTargetRef::deployment("docs", "app"),
            metrics: MetricsConfig {
                queue_depth: Some(MetricSource::Scrape {
                    from: ScrapeFrom::Url("http://app:8080/metrics".into()),
                    metric: "q".into(),
                    labels: Default::default(),
                    aggregate: None,
                    quantile: None,
                }),
                ..MetricsConfig::default()
            },
            ..TargetConfig::default()
        }],
    };
    let yaml = serde_saphyr::to_string(&config::effective(&config)).unwrap();
    assert_eq!(config::parse(&yaml, "defaults.yaml").unwrap(), config);
}

// ---- merging defaults ----

#[test]
fn nested_sections_merge_key_by_key() {
    let text = format!(
        "defaults:
  slo: {{ queueWait: 2m }}
  forecast: {{ history: 7d, targetUtilization: 0.7 }}
  fallback: {{ behavior: static, replicas: 3 }}
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    forecast: {{ targetUtilization: 0.9 }}
    fallback: {{ replicas: 4 }}
{SCRAPED}"
    );
    let target = &config::parse(&text, ORIGIN).unwrap().targets[0];
    assert_eq!(target.slo.queue_wait, secs(120));
    assert_eq!(
        target.forecast,
        ForecastConfig {
            history: secs(7 * 86_400),
            target_utilization: 0.9,
            ..ForecastConfig::default()
        }
    );
    assert_eq!(target.fallback.behavior, FallbackBehavior::Static);
    assert_eq!(target.fallback.replicas, 4);
    assert_eq!(target.fallback.failure_threshold, 3);
}

#[test]
fn a_targets_scale_up_replaces_the_inherited_one_whole() {
    let text = format!(
        "defaults:
  behavior:
    scaleUp: {{ stabilizationWindow: 60s, policies: [{{ type: Pods, value: 10, period: 30s }}] }}
    scaleDown: {{ stabilizationWindow: 10m }}
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    behavior:
      scaleUp: {{ selectPolicy: Min }}
{SCRAPED}"
    );
    let behavior = &config::parse(&text, ORIGIN).unwrap().targets[0].behavior;
    let built_in = Behavior::default();
    assert_eq!(behavior.scale_up.select_policy, SelectPolicy::Min);
    assert_eq!(behavior.scale_up.stabilization_window, Duration::ZERO);
    assert_eq!(behavior.scale_up.policies, built_in.scale_up.policies);
    assert_eq!(behavior.scale_down.stabilization_window, secs(600));
    assert_eq!(behavior.scale_down.policies, built_in.scale_down.policies);
}

#[test]
fn prometheus_is_dropped_when_no_target_uses_promql() {
    let text = format!(
        "prometheus: {{ url: 'http://prometheus:9090' }}
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
{SCRAPED}"
    );
    let loaded = config::parse_with_warnings(&text, ORIGIN).unwrap();
    assert_eq!(loaded.config.prometheus, None);
    assert!(
        loaded.warnings.to_string().contains("unused"),
        "{}",
        loaded.warnings
    );
}

// ---- durations ----

#[test]
fn durations_are_human() {
    for (text, expected) in [
        ("90s", secs(90)),
        ("5m", secs(300)),
        ("1h30m", secs(5_400)),
        ("14d", secs(14 * 86_400)),
        ("0s", Duration::ZERO),
        ("500ms", Duration::from_millis(500)),
    ] {
        assert_eq!(parse_duration(text), Ok(expected), "{text}");
    }
    for (text, why) in [
        ("90", "no unit"),
        ("1.5h", "fraction"),
        ("5x", "unknown unit"),
        ("5min", "unknown unit"),
        ("-5s", "negative"),
        ("1h 30m", "spaces"),
        ("", "empty"),
        ("99999999999999999999d", "too long"),
    ] {
        let error = parse_duration(text).unwrap_err();
        assert!(error.contains(why), "{text}: {error}");
    }
}

proptest::proptest! {
    #[test]
    fn formatted_durations_parse_back(ms in 0u64..10_000_000_000) {
        let duration = Duration::from_millis(ms);
        proptest::prop_assert_eq!(parse_duration(&config::format_duration(duration)), Ok(duration));
    }
}

// ---- errors: one test per case ----

#[test]
fn unknown_key_suggests_the_closest_known_key() {
    let report = report(
        "targets:
  - name: a
    scaleTargetRef: { namespace: docs, name: a }
    minReplica: 3
",
    );
    assert_problem(
        &report,
        4,
        "targets[0].minReplica",
        &["unknown key", "did you mean `minReplicas`?"],
    );
}

#[test]
fn unknown_key_far_from_any_lists_the_known_keys() {
    let report = report("prometheus: { url: 'http://p:9090', tls: true }\ntargets: []\n");
    assert_problem(
        &report,
        1,
        "prometheus.tls",
        &["unknown key", "write one of: url, timeout"],
    );
}

#[test]
fn wrong_type_says_what_to_write() {
    let report = report(
        "targets:
  - name: a
    scaleTargetRef: { namespace: docs, name: a }
    minReplicas: ten
",
    );
    assert_problem(
        &report,
        4,
        "targets[0].minReplicas",
        &["not a whole number", "e.g. `3`"],
    );

    let report = self::report("defaults:\n  slo: 30s\ntargets: []\n");
    assert_problem(
        &report,
        2,
        "defaults.slo",
        &["expected a mapping", "`key: value`"],
    );
}

#[test]
fn unknown_enum_value_lists_the_allowed_ones() {
    let report = report(
        "defaults:
  behavior:
    scaleUp:
      policies:
        - { type: Pods, value: 1, period: 15s }
        - { type: pod, value: 1, period: 15s }
targets: []
",
    );
    assert_problem(
        &report,
        6,
        "defaults.behavior.scaleUp.policies[1].type",
        &["unknown value \"pod\"", "Pods, Percent"],
    );
}

#[test]
fn bad_duration_asks_for_a_unit() {
    let report = report(
        "defaults:
  interval: 90
  startupTime: 2x
targets: []
",
    );
    assert_problem(
        &report,
        2,
        "defaults.interval",
        &["no unit", "write a duration with a unit, e.g. `90s`"],
    );
    assert_problem(
        &report,
        3,
        "defaults.startupTime",
        &["unknown unit `x`", "e.g. `90s`"],
    );
}

#[test]
fn zero_or_negative_interval_is_rejected() {
    let report = report(&format!(
        "defaults:
  interval: 0s
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    interval: -5s
{SCRAPED}"
    ));
    assert_problem(
        &report,
        2,
        "defaults.interval",
        &["longer than 0s", "positive duration"],
    );
    assert_problem(
        &report,
        6,
        "targets[0].interval",
        &["negative", "e.g. `90s`"],
    );
}

#[test]
fn durations_out_of_their_bounds_are_rejected_where_written() {
    // `100000000d` of history parsed and passed `check`, then aborted the controller on
    // allocation; a 1ns interval would tick without pause.
    let report = report(&format!(
        "defaults:
  interval: 50ms
  forecast: {{ history: 100000000d }}
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    interval: 2h
    startupTime: 90m
{SCRAPED}"
    ));
    assert_problem(
        &report,
        2,
        "defaults.interval",
        &["`50ms` is shorter than 100ms", "write at least `100ms`"],
    );
    assert_problem(
        &report,
        3,
        "defaults.forecast.history",
        &[
            "`100000000d` is longer than 90d",
            "in memory",
            "write at most `90d`",
        ],
    );
    assert_problem(
        &report,
        7,
        "targets[0].interval",
        &["`2h` is longer than 1h", "write at most `1h`"],
    );
    assert_problem(
        &report,
        8,
        "targets[0].startupTime",
        &["`90m` is longer than 1h", "write at most `1h`"],
    );
}

#[test]
fn durations_at_their_bounds_are_accepted() {
    let text = format!(
        "targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    interval: 100ms
    startupTime: 1h
    forecast: {{ history: 90d }}
{SCRAPED}"
    );
    let config = config::parse(&text, ORIGIN).expect("valid");
    let t = &config.targets[0];
    assert_eq!(t.interval, Duration::from_millis(100));
    assert_eq!(t.startup_time, secs(3_600));
    assert_eq!(t.forecast.history, secs(90 * 86_400));
}

#[test]
fn min_replicas_above_max_names_both() {
    let report = report(&format!(
        "defaults:
  maxReplicas: 5
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    minReplicas: 10
{SCRAPED}"
    ));
    assert_problem(
        &report,
        6,
        "targets[0].minReplicas",
        &[
            "minReplicas 10 is greater than maxReplicas 5",
            "defaults.maxReplicas (line 2)",
            "make minReplicas <= maxReplicas",
        ],
    );
}

#[test]
fn max_replicas_zero_is_rejected() {
    let report = report(&format!(
        "targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    maxReplicas: 0
{SCRAPED}"
    ));
    assert_problem(
        &report,
        4,
        "targets[0].maxReplicas",
        &["0 is less than 1", "whole number >= 1"],
    );
}

#[test]
fn zero_or_negative_capacity_is_rejected() {
    let report = report(&format!(
        "defaults:
  capacity: {{ perReplica: 0 }}
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    capacity: {{ perReplica: -2.5 }}
{SCRAPED}"
    ));
    assert_problem(
        &report,
        2,
        "defaults.capacity.perReplica",
        &["0 is not greater than 0", "write a number greater than 0"],
    );
    assert_problem(
        &report,
        6,
        "targets[0].capacity.perReplica",
        &["-2.5 is not greater than 0"],
    );
}

#[test]
fn duplicate_target_names_name_both_lines() {
    let report = report(&format!(
        "targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
{SCRAPED}  - name: a
    scaleTargetRef: {{ namespace: docs, name: b }}
{SCRAPED}"
    ));
    assert_problem(
        &report,
        6,
        "targets[1].name",
        &[
            "duplicate target name \"a\"",
            "targets[0].name (line 2)",
            "unique name",
        ],
    );
}

#[test]
fn two_targets_may_not_scale_one_deployment() {
    let report = report(&format!(
        "targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: app }}
{SCRAPED}  - name: b
    scaleTargetRef: {{ namespace: docs, name: app }}
{SCRAPED}"
    ));
    assert_problem(
        &report,
        7,
        "targets[1].scaleTargetRef",
        &["docs/app", "line 3", "one target only"],
    );
}

#[test]
fn empty_or_invalid_kubernetes_names_are_rejected() {
    let report = report(&format!(
        "targets:
  - name: ''
    scaleTargetRef: {{ namespace: '', name: '' }}
{SCRAPED}  - name: Summarizer
    scaleTargetRef: {{ namespace: docs.prod, name: -app }}
{SCRAPED}"
    ));
    let hint = "lowercase letters, digits and `-`";
    assert_problem(&report, 2, "targets[0].name", &["is empty", hint]);
    assert_problem(
        &report,
        3,
        "targets[0].scaleTargetRef.namespace",
        &["is empty", hint],
    );
    assert_problem(
        &report,
        3,
        "targets[0].scaleTargetRef.name",
        &["is empty", hint],
    );
    assert_problem(
        &report,
        6,
        "targets[1].name",
        &["\"Summarizer\" contains `S`", hint],
    );
    assert_problem(
        &report,
        7,
        "targets[1].scaleTargetRef.namespace",
        &["contains `.`", hint],
    );
    assert_problem(
        &report,
        7,
        "targets[1].scaleTargetRef.name",
        &["start and end with a letter or digit"],
    );
}

#[test]
fn missing_scale_target_ref_is_rejected() {
    let report = report(&format!("targets:\n  - name: a\n{SCRAPED}"));
    assert_problem(
        &report,
        2,
        "targets[0]",
        &[
            "missing key `scaleTargetRef`",
            "scaleTargetRef: {namespace: NAMESPACE, name: DEPLOYMENT}",
        ],
    );
}

#[test]
fn a_target_without_queue_depth_or_arrival_rate_is_rejected() {
    let report = report(
        "targets:
  - name: a
    scaleTargetRef: { namespace: docs, name: a }
    metrics:
      completions: { scrape: { url: 'http://a:8080/metrics', metric: done_total } }
",
    );
    assert_problem(
        &report,
        5,
        "targets[0].metrics",
        &[
            "target \"a\" has neither `queueDepth` nor `arrivalRate`",
            "add at least one",
        ],
    );
}

#[test]
fn a_metric_with_both_promql_and_scrape_is_rejected() {
    let report = report(
        "prometheus: { url: 'http://p:9090' }
targets:
  - name: a
    scaleTargetRef: { namespace: docs, name: a }
    metrics:
      queueDepth:
        promql: sum(q)
        scrape: { url: 'http://a:8080/metrics', metric: q }
",
    );
    assert_problem(
        &report,
        8,
        "targets[0].metrics.queueDepth.scrape",
        &["both `promql` and `scrape`", "keep one"],
    );
}

#[test]
fn promql_without_prometheus_names_the_target() {
    let report = report(
        "targets:
  - name: summarizer
    scaleTargetRef: { namespace: docs, name: a }
    metrics:
      queueDepth: { promql: 'sum(q)' }
",
    );
    assert_problem(
        &report,
        5,
        "targets[0].metrics.queueDepth.promql",
        &[
            "target \"summarizer\" uses PromQL",
            "add `prometheus: {url: ",
        ],
    );
}

#[test]
fn bad_urls_are_rejected() {
    let report = report(
        "prometheus: { url: 'prometheus:9090' }
targets:
  - name: a
    scaleTargetRef: { namespace: docs, name: a }
    metrics:
      queueDepth: { promql: 'sum(q)' }
      arrivalRate: { scrape: { url: 'not a url', metric: q } }
",
    );
    assert_problem(
        &report,
        1,
        "prometheus.url",
        &[
            "scheme `prometheus`",
            "e.g. `http://prometheus.monitoring.svc:9090`",
        ],
    );
    assert_problem(
        &report,
        7,
        "targets[0].metrics.arrivalRate.scrape.url",
        &["not a valid URL", "absolute URL"],
    );
}

/// The queue-depth source of the only target of `text` (valid, scraped).
fn scraped_queue_depth(text: &str) -> MetricSource {
    let config = config::parse(text, ORIGIN).unwrap();
    config.targets[0].metrics.queue_depth.clone().unwrap()
}

fn with_queue_depth(source: &str) -> String {
    format!(
        "targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    metrics:
      queueDepth: {source}
"
    )
}

#[test]
fn pods_scrape_every_ready_pod_with_defaults_and_a_sum() {
    let source = scraped_queue_depth(&with_queue_depth(
        "{ scrape: { pods: { port: 9100 }, metric: q } }",
    ));
    assert_eq!(
        source,
        MetricSource::Scrape {
            from: ScrapeFrom::Pods {
                port: 9100,
                path: "/metrics".into(),
                scheme: ScrapeScheme::Http,
            },
            metric: "q".into(),
            labels: Default::default(),
            aggregate: Some(Aggregate::Sum),
            quantile: None,
        }
    );
    let source = scraped_queue_depth(&with_queue_depth(
        "{ scrape: { pods: { port: 8443, path: /stats/prom, scheme: https }, metric: q, aggregate: max } }",
    ));
    assert!(matches!(
        source,
        MetricSource::Scrape {
            from: ScrapeFrom::Pods { port: 8443, ref path, scheme: ScrapeScheme::Https },
            aggregate: Some(Aggregate::Max),
            ..
        } if path == "/stats/prom"
    ));
    // A single URL keeps "several series are an error" unless asked to combine.
    let source = scraped_queue_depth(&with_queue_depth(
        "{ scrape: { url: 'http://a:8080/metrics', metric: q } }",
    ));
    assert!(matches!(
        source,
        MetricSource::Scrape {
            from: ScrapeFrom::Url(_),
            aggregate: None,
            ..
        }
    ));
}

#[test]
fn a_scrape_needs_exactly_one_of_url_and_pods() {
    let problems = report(&with_queue_depth(
        "{ scrape: { url: 'http://a:8080/metrics', pods: { port: 9100 }, metric: q } }",
    ));
    assert_problem(
        &problems,
        5,
        "targets[0].metrics.queueDepth.scrape.pods",
        &["both `url` and `pods`", "keep one"],
    );
    let problems = report(&with_queue_depth("{ scrape: { metric: q } }"));
    assert_problem(
        &problems,
        5,
        "targets[0].metrics.queueDepth.scrape",
        &["neither `url` nor `pods`", "`pods: {port: 9100}`"],
    );
}

#[test]
fn bad_pod_ports_paths_and_schemes_are_rejected() {
    for port in ["0", "70000"] {
        let problems = report(&with_queue_depth(&format!(
            "{{ scrape: {{ pods: {{ port: {port} }}, metric: q }} }}"
        )));
        assert_problem(
            &problems,
            5,
            "targets[0].metrics.queueDepth.scrape.pods.port",
            &[
                &format!("port {port} is not in 1-65535"),
                "e.g. `port: 9100`",
            ],
        );
    }
    let problems = report(&with_queue_depth(
        "{ scrape: { pods: { port: 9100, path: metrics }, metric: q } }",
    ));
    assert_problem(
        &problems,
        5,
        "targets[0].metrics.queueDepth.scrape.pods.path",
        &["\"metrics\" is not a URL path", "starting with `/`"],
    );
    let problems = report(&with_queue_depth(
        "{ scrape: { pods: { port: 9100, scheme: ftp }, metric: q } }",
    ));
    assert!(
        problems.contains("scrape.pods.scheme")
            && problems.contains("http")
            && problems.contains("https"),
        "{problems}"
    );
    let problems = report(&with_queue_depth(
        "{ scrape: { pods: { path: /metrics }, metric: q } }",
    ));
    assert_problem(
        &problems,
        5,
        "targets[0].metrics.queueDepth.scrape.pods",
        &["missing key `port`"],
    );
}

#[test]
fn pod_scrapes_read_back_from_the_effective_settings() {
    let text = with_queue_depth(
        "{ scrape: { pods: { port: 9100, scheme: https }, metric: q, labels: { queue: a } } }",
    );
    let config = config::parse(&text, ORIGIN).unwrap();
    let yaml = serde_saphyr::to_string(&config::effective(&config)).unwrap();
    assert!(
        yaml.contains("pods:")
            && yaml.contains("path: /metrics")
            && yaml.contains("aggregate: sum"),
        "defaults are spelled out:\n{yaml}"
    );
    assert_eq!(config::parse(&yaml, "effective.yaml").unwrap(), config);
}

#[test]
fn policies_with_zero_value_or_bad_period_are_rejected() {
    let report = report(
        "defaults:
  behavior:
    scaleDown:
      policies:
        - { type: Percent, value: 0, period: 15s }
        - { type: Pods, value: 1, period: 0s }
        - { type: Pods, value: 1, period: 31m }
targets: []
",
    );
    let path = "defaults.behavior.scaleDown.policies";
    assert_problem(
        &report,
        5,
        &format!("{path}[0].value"),
        &["0 is less than 1", ">= 1"],
    );
    assert_problem(
        &report,
        6,
        &format!("{path}[1].period"),
        &["longer than 0s"],
    );
    assert_problem(
        &report,
        7,
        &format!("{path}[2].period"),
        &["longer than 30m", "HPA", "at most `30m`"],
    );
}

#[test]
fn stabilization_window_over_an_hour_is_rejected() {
    let report = report(&format!(
        "targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    behavior:
      scaleDown: {{ stabilizationWindow: 3601s }}
{SCRAPED}"
    ));
    assert_problem(
        &report,
        5,
        "targets[0].behavior.scaleDown.stabilizationWindow",
        &["longer than 1h", "HPA", "at most `1h`"],
    );
}

#[test]
fn target_utilization_must_be_in_zero_to_one() {
    for bad in ["0", "1.5", "-0.1"] {
        let report = report(&format!(
            "defaults:\n  forecast: {{ targetUtilization: {bad} }}\ntargets: []\n"
        ));
        assert_problem(
            &report,
            2,
            "defaults.forecast.targetUtilization",
            &["not in (0, 1]", "e.g. `0.85`"],
        );
    }
    config::parse(
        "defaults:\n  forecast: { targetUtilization: 1 }\ntargets: []\n",
        ORIGIN,
    )
    .unwrap();
}

#[test]
fn error_quantile_must_be_strictly_between_zero_and_one() {
    for bad in ["0", "1", "1.0"] {
        let report = report(&format!(
            "defaults:\n  forecast:\n    errorQuantile: {bad}\ntargets: []\n"
        ));
        assert_problem(
            &report,
            3,
            "defaults.forecast.errorQuantile",
            &["not in (0, 1)", "e.g. `0.95`"],
        );
    }
}

#[test]
fn failure_threshold_zero_is_rejected() {
    let report = report("defaults:\n  fallback: { failureThreshold: 0 }\ntargets: []\n");
    assert_problem(
        &report,
        2,
        "defaults.fallback.failureThreshold",
        &["0 is less than 1", ">= 1"],
    );
}

#[test]
fn static_fallback_replicas_must_lie_within_min_and_max() {
    let report = report(&format!(
        "defaults:
  fallback: {{ behavior: static, replicas: 2 }}
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    minReplicas: 3
{SCRAPED}"
    ));
    assert_problem(
        &report,
        2,
        "defaults.fallback.replicas",
        &[
            "static fallback to 2 replicas is outside minReplicas..maxReplicas (3..50) of target \"a\"",
            "between 3 and 50",
        ],
    );
    // The same replicas are fine for a fallback that only floors the current replicas.
    let text = format!(
        "defaults:
  fallback: {{ behavior: currentReplicasIfHigher, replicas: 2 }}
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    minReplicas: 3
{SCRAPED}"
    );
    config::parse(&text, ORIGIN).unwrap();
}

#[test]
fn an_empty_file_is_rejected() {
    for text in ["", "\n\n", "# only a comment\n", "---\n"] {
        let error = config::parse(text, ORIGIN).unwrap_err();
        assert!(
            matches!(error, ConfigError::Empty { .. }),
            "{text:?}: {error}"
        );
        assert!(error.to_string().contains("config/minimal.yaml"), "{error}");
    }
}

#[test]
fn invalid_yaml_syntax_points_at_the_line() {
    let error = config::parse(
        "targets:\n  - name: a\n    scaleTargetRef: { namespace: docs\n",
        ORIGIN,
    )
    .unwrap_err();
    assert!(matches!(error, ConfigError::Syntax(_)), "{error}");
    let report = error.to_string();
    assert!(report.starts_with(&format!("{ORIGIN}:3:")), "{report}");
    assert!(report.contains("fix the YAML syntax"), "{report}");
}

#[test]
fn zero_targets_is_valid_with_a_warning() {
    let loaded = config::parse_with_warnings("targets: []\n", ORIGIN).unwrap();
    assert!(loaded.config.targets.is_empty());
    let warnings = loaded.warnings.to_string();
    assert!(
        warnings.contains("targets: no targets: the controller will start and idle"),
        "{warnings}"
    );
}

#[test]
fn a_target_that_sleeps_with_only_its_own_pods_to_read_is_warned() {
    let yaml = |queue_depth: &str| {
        format!(
            "prometheus: {{ url: 'http://p:9090' }}
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    minReplicas: 0
    metrics:
      queueDepth: {queue_depth}
"
        )
    };
    let warned = config::parse_with_warnings(
        &yaml("{ scrape: { pods: { port: 8080 }, metric: queue_depth } }"),
        ORIGIN,
    )
    .unwrap()
    .warnings
    .to_string();
    assert!(
        warned.contains("targets[0].metrics")
            && warned.contains("scales to zero")
            && warned.contains("from the queue itself"),
        "{warned}"
    );
    // Read from Prometheus, the queue is there with no pods: nothing to say.
    let fine = config::parse_with_warnings(&yaml("{ promql: 'sum(queue_depth)' }"), ORIGIN)
        .unwrap()
        .warnings
        .to_string();
    assert!(!fine.contains("scales to zero"), "{fine}");
}

#[test]
fn every_problem_is_reported_in_file_order_and_once() {
    let report = report(&format!(
        "defaults:
  interval: 0s
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    maxReplicas: 0
{SCRAPED}  - name: b
    scaleTargetRef: {{ namespace: docs, name: b }}
    forecast: {{ errorQuantile: 2 }}
{SCRAPED}"
    ));
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "the inherited interval is reported once:\n{report}"
    );
    assert!(lines[0].starts_with(&format!("{ORIGIN}:2:")), "{report}");
    assert!(lines[1].starts_with(&format!("{ORIGIN}:6:")), "{report}");
    assert!(lines[2].starts_with(&format!("{ORIGIN}:11:")), "{report}");
}

// ---- the commands ----

fn prescale(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_prescale"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn check_prints_the_effective_settings_of_a_valid_file() {
    let file = example("prescale.yaml");
    let (code, stdout, stderr) = prescale(&["check", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("valid, 3 targets"), "{stdout}");
    // Read back, the printed settings are the same configuration (every key merged in).
    let printed = config::parse(&stdout, "stdout").unwrap();
    assert_eq!(printed, config::load(&file).unwrap());
    for default in ["errorQuantile: 0.99", "missCost: 7", "waitTarget: 0.5"] {
        assert!(
            stdout.contains(default),
            "defaults are spelled out ({default}):\n{stdout}"
        );
    }

    let (code, stdout, _) = prescale(&["check", "--config", file.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["targets"][0]["maxReplicas"], 80);
    assert_eq!(
        json["targets"][1]["behavior"]["scaleDown"]["stabilizationWindow"],
        "10m"
    );
}

#[test]
fn check_reports_every_problem_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "defaults:\n  interval: 90\n  minReplicas: -1\ntargets: []\n",
    )
    .unwrap();
    let (code, stdout, stderr) = prescale(&["check", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("bad.yaml:3:16: defaults.minReplicas: not a whole number >= 0"),
        "{stderr}"
    );

    std::fs::write(
        &file,
        "defaults:\n  interval: 90\n  maxReplicas: 0\ntargets: []\n",
    )
    .unwrap();
    let (code, _, stderr) = prescale(&["check", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("bad.yaml:2:13: defaults.interval: `90` has no unit"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.yaml:3:16: defaults.maxReplicas: 0 is less than 1"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.yaml: 2 problems"), "{stderr}");
}

#[test]
fn check_says_when_there_are_no_targets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("idle.yaml");
    std::fs::write(&file, "targets: []\n").unwrap();
    let (code, stdout, stderr) = prescale(&["check", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("valid, 0 targets"), "{stdout}");
    assert!(
        stderr.contains("warning:") && stderr.contains("no targets"),
        "{stderr}"
    );
}

#[test]
fn check_of_a_missing_file_says_so() {
    let (code, _, stderr) = prescale(&["check", "--config", "/nonexistent/prescale.yaml"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("/nonexistent/prescale.yaml: cannot read"),
        "{stderr}"
    );
}

#[test]
fn config_schema_prints_the_json_schema_of_the_file() {
    let (code, stdout, stderr) = prescale(&["config", "schema"]);
    assert_eq!(code, 0, "{stderr}");
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(schema, config::schema());
    // A file with only `defaults:` is valid (for `simulate --config`): no key is required.
    assert_eq!(schema.get("required"), None, "{}", schema["required"]);
    assert_eq!(schema["additionalProperties"], false);
    let target = &schema["$defs"]["Target"];
    for key in [
        "name",
        "scaleTargetRef",
        "metrics",
        "minReplicas",
        "forecast",
        "plan",
    ] {
        assert!(
            target["properties"].get(key).is_some(),
            "{key} missing from {target}"
        );
    }
    assert_eq!(target["additionalProperties"], false);
    let pods = &schema["$defs"]["ScrapePods"];
    assert_eq!(pods["required"], serde_json::json!(["port"]), "{pods}");
    assert_eq!(pods["properties"]["port"]["maximum"], 65535, "{pods}");
    assert!(
        schema["$defs"]["Scrape"]["properties"]
            .get("pods")
            .is_some(),
        "{}",
        schema["$defs"]["Scrape"]
    );
}

// ---- scale to zero (activationThreshold) ----

#[test]
fn activation_thresholds_are_at_least_zero_and_need_min_replicas_zero() {
    let report = report(&format!(
        "defaults:
  activationThreshold: {{ queueDepth: -1 }}
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    minReplicas: 0
    activationThreshold: {{ arrivalRate: -0.5 }}
{SCRAPED}  - name: b
    scaleTargetRef: {{ namespace: docs, name: b }}
    minReplicas: 2
    activationThreshold: {{ queueDepth: 3 }}
{SCRAPED}"
    ));
    assert_problem(
        &report,
        2,
        "defaults.activationThreshold.queueDepth",
        &["-1 is not at least 0", "write a number at least 0"],
    );
    assert_problem(
        &report,
        7,
        "targets[0].activationThreshold.arrivalRate",
        &["-0.5 is not at least 0"],
    );
    assert_problem(
        &report,
        13,
        "targets[1].activationThreshold",
        &[
            "minReplicas is 2",
            "never scales to zero",
            "set `minReplicas: 0`",
        ],
    );
}

#[test]
fn activation_thresholds_apply_to_sleeping_targets_and_read_back() {
    let text = format!(
        "defaults:
  activationThreshold: {{ queueDepth: 5 }}
targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    minReplicas: 0
    activationThreshold: {{ arrivalRate: 0.5 }}
{SCRAPED}  - name: b
    scaleTargetRef: {{ namespace: docs, name: b }}
{SCRAPED}"
    );
    let config = config::parse(&text, "zero.yaml").unwrap();
    let a = &config.targets[0].activation;
    assert_eq!((a.queue_depth, a.arrival_rate), (5.0, 0.5));
    // Inherited by a target that never sleeps: no error, and no thresholds.
    assert_eq!(
        config.targets[1].activation,
        prescale::config::Activation::default()
    );
    let yaml = serde_saphyr::to_string(&config::effective(&config)).unwrap();
    assert!(yaml.contains("activationThreshold"), "{yaml}");
    assert_eq!(config::parse(&yaml, "effective.yaml").unwrap(), config);
}

#[test]
fn scale_target_kinds_are_checked_where_written() {
    let report = report(
        "targets:
  - name: a
    scaleTargetRef: { apiVersion: apps, kind: StatefulSet, namespace: docs, name: a }
  - name: b
    scaleTargetRef: { kind: statefulset, namespace: docs, name: b }
  - name: c
    scaleTargetRef: { kind: DaemonSet, namespace: docs, name: c }
  - name: d
    scaleTargetRef: { apiVersion: v1, kind: Deployment, namespace: docs, name: d }
  - name: e
    scaleTargetRef: { apiVersion: apps/v1, kind: StatefulSet, namespace: docs, name: e }
    podDeletionCost: { enabled: true }
",
    );
    assert_problem(
        &report,
        3,
        "targets[0].scaleTargetRef.apiVersion",
        &["\"apps\"", "not a Kubernetes API version", "GROUP/VERSION"],
    );
    assert_problem(
        &report,
        5,
        "targets[1].scaleTargetRef.kind",
        &["\"statefulset\"", "UpperCamelCase"],
    );
    assert_problem(
        &report,
        7,
        "targets[2].scaleTargetRef.kind",
        &["DaemonSet cannot be scaled", "no `/scale` subresource"],
    );
    assert_problem(
        &report,
        9,
        "targets[3].scaleTargetRef.apiVersion",
        &["served in the `apps` group", "apiVersion: apps/v1"],
    );
    assert_problem(
        &report,
        12,
        "targets[4].podDeletionCost.enabled",
        &["StatefulSet", "highest-numbered pod"],
    );
}

#[test]
fn one_name_may_be_scaled_once_per_kind() {
    let metrics = "    metrics: { queueDepth: { promql: 'sum(q)' } }\n";
    let text = format!(
        "prometheus: {{ url: 'http://p:9090' }}
targets:
  - name: web
    scaleTargetRef: {{ namespace: docs, name: web }}
{metrics}  - name: web-db
    scaleTargetRef: {{ apiVersion: apps/v1, kind: StatefulSet, namespace: docs, name: web }}
{metrics}  - name: web-canary
    scaleTargetRef: {{ apiVersion: argoproj.io/v1alpha1, kind: Rollout, namespace: docs, name: web }}
{metrics}"
    );
    let loaded = config::parse(&text, ORIGIN).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<String> = loaded
        .targets
        .iter()
        .map(|t| t.scale_target_ref.to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "Deployment docs/web",
            "StatefulSet docs/web",
            "Rollout.argoproj.io docs/web"
        ]
    );
    let report = report(&format!(
        "{text}  - name: web-db-again
    scaleTargetRef: {{ apiVersion: apps/v1, kind: StatefulSet, namespace: docs, name: web }}
{metrics}"
    ));
    assert_problem(
        &report,
        13,
        "targets[3].scaleTargetRef",
        &["StatefulSet docs/web is already scaled by the target at"],
    );
}

// ---- backtest: the history queries of `prescale backtest` and `prescale tune` ----

#[test]
fn backtest_queries_parse_with_camel_case_keys_and_read_back() {
    let text = "prometheus: { url: 'http://prometheus:9090' }
targets:
  - name: ocr
    scaleTargetRef: { namespace: docs, name: ocr }
    metrics:
      queueDepth: { promql: 'sum(docs_queue_depth)' }
      arrivalRate: { promql: 'sum(rate(docs_enqueued_total[1m]))' }
    backtest:
      replicas: { promql: 'max(my_replicas{app=\"ocr\"})' }
      readyReplicas: { promql: 'my_ready{app=\"ocr\"}', aggregate: sum }
      arrivalRate: { promql: 'sum(rate(docs_enqueued_total[5m]))' }
      waitP95: { promql: 'max(docs_wait_p95_seconds)' }
";
    let config = config::parse(text, "backtest.yaml").unwrap();
    let t = &config.targets[0];
    let query_of =
        |q: &Option<config::HistoryQuery>| q.as_ref().map(|q| (q.query.clone(), q.aggregate));
    assert_eq!(
        query_of(&t.backtest.replicas),
        Some(("max(my_replicas{app=\"ocr\"})".into(), None))
    );
    assert_eq!(
        query_of(&t.backtest.ready_replicas),
        Some(("my_ready{app=\"ocr\"}".into(), Some(Aggregate::Sum)))
    );
    let query = |kind| t.history_query(kind).map(|(q, o)| (q.query, o));
    use prescale::metrics::MetricKind;
    assert_eq!(
        query(MetricKind::ArrivalRate),
        Some((
            "sum(rate(docs_enqueued_total[5m]))".into(),
            config::QueryOrigin::Backtest
        ))
    );
    assert_eq!(
        query(MetricKind::WaitP95),
        Some((
            "max(docs_wait_p95_seconds)".into(),
            config::QueryOrigin::Backtest
        ))
    );
    // A key not overridden falls back to the metric's own PromQL.
    assert_eq!(
        query(MetricKind::QueueDepth),
        Some(("sum(docs_queue_depth)".into(), config::QueryOrigin::Metrics))
    );
    assert_eq!(query(MetricKind::Completions), None);
    // The effective settings show the overrides, and read back to the same config.
    let yaml = serde_saphyr::to_string(&config::effective(&config)).unwrap();
    assert!(
        yaml.contains("readyReplicas") && yaml.contains("waitP95"),
        "{yaml}"
    );
    assert_eq!(config::parse(&yaml, "effective.yaml").unwrap(), config);
}

#[test]
fn an_empty_backtest_query_is_rejected_naming_the_key() {
    let report = report(&format!(
        "targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
{SCRAPED}    backtest:
      replicas: {{ promql: 'max(kube_deployment_spec_replicas)' }}
      queueDepth: {{ promql: '  ' }}
"
    ));
    assert_problem(
        &report,
        8,
        "targets[0].backtest.queueDepth.promql",
        &[
            "empty query",
            "write a PromQL query",
            "remove the key to use the default",
        ],
    );
    assert_eq!(report.lines().count(), 1, "only the empty one: {report}");
}

#[test]
fn backtest_keys_are_camel_case_and_need_promql() {
    let report = report(&format!(
        "targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
{SCRAPED}    backtest:
      ready_replicas: {{ promql: 'up' }}
"
    ));
    assert_problem(
        &report,
        7,
        "targets[0].backtest.ready_replicas",
        &["unknown key", "did you mean `readyReplicas`?"],
    );
    let report = self::report(&format!(
        "targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
{SCRAPED}    backtest:
      arrivalRate: {{ query: 'sum(rate(x[1m]))' }}
"
    ));
    assert_problem(
        &report,
        7,
        "targets[0].backtest.arrivalRate.query",
        &["unknown key", "write one of: promql, aggregate"],
    );
}
