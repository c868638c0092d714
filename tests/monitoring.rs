//! The dashboard and the alerts in `deploy/components/monitoring/`: every PromQL expression
//! in them names only metrics prescale really exports (as its telemetry registry writes
//! them, `_total` and `_bucket` suffixes included), `promtool check rules` accepts the alert
//! rules and every dashboard expression, and `promtool test rules` shows each alert firing
//! when it should and not before.
//!
//! Needs `promtool` (Debian's `prometheus` package, `.ci/install-prometheus.sh`): without it
//! the promtool test says SKIPPED, and fails under CI.

mod support;

use prescale::telemetry::Telemetry;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Metrics the expressions may name that Prometheus itself makes, not prescale.
const PROMETHEUS_OWN: &[&str] = &["up"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn dashboard() -> Value {
    let path = root().join("deploy/components/monitoring/prescale-dashboard.json");
    let text = std::fs::read_to_string(&path).expect("the dashboard");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

fn rule_groups() -> Value {
    let path = root().join("deploy/components/monitoring/prometheusrule.yaml");
    let text = std::fs::read_to_string(&path).expect("the PrometheusRule");
    let rule: Value = serde_saphyr::from_str(&text).expect("the PrometheusRule is YAML");
    assert_eq!(rule["kind"], "PrometheusRule");
    rule["spec"]["groups"].clone()
}

/// `(where, expression)` of every alert and recording rule.
fn rule_exprs(groups: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for g in groups.as_array().expect("groups") {
        for r in g["rules"].as_array().expect("rules") {
            let name = r["alert"].as_str().or(r["record"].as_str()).expect("named");
            out.push((
                name.to_string(),
                r["expr"].as_str().expect("expr").to_string(),
            ));
        }
    }
    out
}

/// `(where, expression)` of every panel target in the dashboard, and the metric selector of
/// every `label_values(selector, label)` variable query.
fn dashboard_exprs(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(v: &Value, title: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                let title = map.get("title").and_then(Value::as_str).unwrap_or(title);
                if let Some(Value::String(expr)) = map.get("expr") {
                    out.push((format!("panel {title:?}"), expr.clone()));
                }
                for value in map.values() {
                    walk(value, title, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, title, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], "", &mut out);
    for var in dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
    {
        let query = match &var["query"] {
            Value::String(q) => q.clone(),
            Value::Object(q) => q["query"].as_str().unwrap_or_default().to_string(),
            _ => continue,
        };
        if var["type"] != "query" {
            continue;
        }
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable {}: only label_values() is used", var["name"]));
        // label_values(selector, label): the selector is everything before the last comma.
        let (selector, _) = inner
            .rsplit_once(',')
            .unwrap_or_else(|| panic!("variable {}: label_values without a metric", var["name"]));
        out.push((format!("variable {}", var["name"]), selector.to_string()));
    }
    out
}

/// The metric names a PromQL expression reads: identifiers that are not functions,
/// aggregations, keywords, label names (in `{...}`, `by (...)`, `on (...)`...), strings,
/// durations, numbers or Grafana variables.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
        "atan2",
    ];
    const LABEL_LISTS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let c: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let skip_to = |mut i: usize, close: char| {
        let mut quote = None;
        while i < c.len() {
            match (quote, c[i]) {
                (Some(q), ch) if ch == q => quote = None,
                (Some(_), '\\') => i += 1,
                (None, '"' | '\'' | '`') => quote = Some(c[i]),
                (None, ch) if ch == close => return i + 1,
                _ => {}
            }
            i += 1;
        }
        i
    };
    while i < c.len() {
        let ch = c[i];
        if ch == '"' || ch == '\'' || ch == '`' {
            i = skip_to(i + 1, ch);
        } else if ch == '{' {
            i = skip_to(i + 1, '}');
        } else if ch == '[' {
            i = skip_to(i + 1, ']');
        } else if ch == '$' {
            i += 1;
            while i < c.len() && (c[i].is_alphanumeric() || "_{}".contains(c[i])) {
                i += 1;
            }
        } else if ch.is_ascii_digit()
            || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '.') {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' || ch == ':' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == ':') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let mut next = i;
            while next < c.len() && c[next].is_whitespace() {
                next += 1;
            }
            let lower = word.to_ascii_lowercase();
            let following: String = c[next..]
                .iter()
                .take_while(|ch| ch.is_alphanumeric() || **ch == '_')
                .collect();
            if LABEL_LISTS.contains(&lower.as_str()) && c.get(next) == Some(&'(') {
                i = skip_to(next + 1, ')');
            } else if matches!(following.as_str(), "by" | "without") {
                // An aggregation with its grouping first: `sum by (le) (...)`.
                i = skip_to(next + 1, ')');
            } else if c.get(next) == Some(&'(') || KEYWORDS.contains(&lower.as_str()) {
                // A function or aggregation, or a keyword.
            } else {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Every sample name prescale's `/metrics` carries, read from the telemetry registry's own
/// output once every registered metric has a series (so `_total`, `_bucket`, `_sum` and
/// `_count` are as the encoder writes them).
fn exported_names() -> BTreeSet<String> {
    use prescale::telemetry::{
        EventLabels, MetricErrorLabels, ReasonLabels, ReloadLabels, ResultLabels, ScheduleLabels,
        StageLabels, TargetLabels, WarningLabels,
    };
    let t = Telemetry::new();
    t.set_exporting_targets(true);
    let target = TargetLabels {
        target: "t".into(),
        namespace: "ns".into(),
        deployment: "d".into(),
    };
    for gauge in [
        &t.recommended_replicas,
        &t.current_replicas,
        &t.ready_replicas,
        &t.metrics_missing_ticks,
    ] {
        gauge.get_or_create(&target).set(1);
    }
    for gauge in [
        &t.forecast_arrival_rate,
        &t.forecast_arrival_rate_upper,
        &t.forecast_error_ratio,
        &t.capacity_per_replica,
        &t.startup_seconds,
        &t.observed_queue_depth,
        &t.observed_arrival_rate,
        &t.observed_completion_rate,
        &t.observed_queue_wait_seconds,
        &t.slo_queue_wait_seconds,
    ] {
        gauge.get_or_create(&target).set(1.0);
    }
    for counter in [&t.report_modelled_seconds, &t.report_unmodelled_seconds] {
        counter.get_or_create(&target).inc_by(1.0);
    }
    let schedule = ScheduleLabels {
        target: target.clone(),
        schedule: "actual",
    };
    for counter in [
        &t.report_replica_seconds,
        &t.report_documents,
        &t.report_late_documents,
    ] {
        counter.get_or_create(&schedule).inc_by(1.0);
    }
    t.decision_reason
        .get_or_create(&ReasonLabels {
            target: target.clone(),
            reason: "fallback".into(),
        })
        .set(1);
    t.tick_duration.get_or_create(&target).observe(0.1);
    t.tick_errors
        .get_or_create(&StageLabels {
            target: target.clone(),
            stage: "metrics".into(),
        })
        .inc();
    t.metric_errors
        .get_or_create(&MetricErrorLabels {
            target: target.clone(),
            metric: "queueDepth".into(),
            reason: "stale".into(),
        })
        .inc();
    t.scale_writes
        .get_or_create(&ResultLabels {
            target: target.clone(),
            result: "ok".into(),
        })
        .inc();
    t.write_blocked
        .get_or_create(&WarningLabels {
            target: target.clone(),
            kind: "paused".into(),
        })
        .set(1);
    t.manual_scale.get_or_create(&target).inc();
    for gauge in [&t.floor_replicas, &t.floor_owner_replicas] {
        gauge.get_or_create(&target).set(2);
    }
    for counter in [&t.floor_writes, &t.pod_deletion_cost_writes] {
        counter
            .get_or_create(&ResultLabels {
                target: target.clone(),
                result: "ok".into(),
            })
            .inc();
    }
    for counter in [&t.gitops_resets, &t.events_suppressed] {
        counter.get_or_create(&target).inc();
    }
    t.config_reload
        .get_or_create(&ReloadLabels {
            result: "applied".into(),
        })
        .inc();
    t.is_leader.set(1);
    t.leader_transitions.inc();
    t.events
        .get_or_create(&EventLabels {
            result: "published".into(),
        })
        .inc();
    t.events_pending.set(0);
    t.tick_lag.observe(0.002);
    t.tick_cpu.inc_by(0.001);

    let text = t.encode();
    for name in Telemetry::registered_names() {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} has no series here: give it one in exported_names()"
        );
    }
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(['{', ' ']).next().expect("a name").to_string())
        .collect()
}

#[test]
fn exported_names_follow_the_openmetrics_suffixes() {
    let names = exported_names();
    for name in [
        "prescale_tick_errors_total",
        "prescale_tick_duration_seconds_bucket",
        "prescale_tick_duration_seconds_count",
        "prescale_report_replica_seconds_total",
        "prescale_recommended_replicas",
    ] {
        assert!(names.contains(name), "{name} not in {names:?}");
    }
    assert!(
        !names.contains("prescale_tick_errors"),
        "a counter's samples end in _total"
    );
    assert!(!names.contains("prescale_tick_duration_seconds"));
}

#[test]
fn the_promql_reader_finds_metric_names_and_nothing_else() {
    let names = metric_names(
        r#"sum by (target, le) (rate(prescale_tick_duration_seconds_bucket{namespace=~"$namespace", target=~"${target}"}[$__rate_interval])) / on (target) group_left (x) max(prescale_a_total offset 1h) > 0.25 and absent(up{job="p"} == 1) unless bool 1e-9"#,
    );
    let want: BTreeSet<String> = [
        "prescale_tick_duration_seconds_bucket",
        "prescale_a_total",
        "up",
    ]
    .map(String::from)
    .into();
    assert_eq!(names, want);
}

#[test]
fn every_expression_names_only_metrics_prescale_exports() {
    let exported = exported_names();
    let mut exprs = dashboard_exprs(&dashboard());
    let dashboard_count = exprs.len();
    exprs.extend(rule_exprs(&rule_groups()));
    assert!(
        dashboard_count >= 20,
        "{dashboard_count} dashboard expressions"
    );
    let mut used = BTreeSet::new();
    for (place, expr) in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{place}: reads no metric: {expr}");
        for name in names {
            assert!(
                exported.contains(&name) || PROMETHEUS_OWN.contains(&name.as_str()),
                "{place}: `{name}` is not a metric prescale exports (in {expr})"
            );
            used.insert(name);
        }
    }
    // The report counters and the alert metrics are shown, not only defined.
    for name in [
        "prescale_report_replica_seconds_total",
        "prescale_report_late_documents_total",
        "prescale_report_documents_total",
        "prescale_forecast_error_ratio",
        "prescale_metrics_missing_ticks",
        "prescale_forecast_arrival_rate_upper",
    ] {
        assert!(used.contains(name), "{name} is on no panel or rule");
    }
}

fn run(promtool: &Path, args: &[&str], dir: &Path) -> String {
    let out = Command::new(promtool)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// A dashboard expression with Grafana's variables replaced by values PromQL accepts.
fn with_grafana_variables(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "1h")
        .replace("$__interval", "1m")
        .replace("${namespace}", ".*")
        .replace("$namespace", ".*")
        .replace("${target}", ".*")
        .replace("$target", ".*")
}

#[test]
fn promtool_accepts_the_rules_and_the_dashboard_and_the_alerts_fire_when_they_should() {
    let Some(promtool) = support::prometheus::promtool() else {
        let message = "SKIPPED promtool_accepts_the_rules...: no promtool (install Debian's \
                       `prometheus` with .ci/install-prometheus.sh, or set PROMTOOL_BIN)";
        if std::env::var_os("CI").is_some() {
            panic!("{message}; under CI this is a failure");
        }
        eprintln!("\n!!!!!!!!!! {message} !!!!!!!!!!\n");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let groups = rule_groups();

    // The rules as Prometheus loads them (JSON is YAML), annotations' templates included.
    let rules = serde_json::json!({ "groups": groups });
    std::fs::write(dir.path().join("full.json"), rules.to_string()).expect("write");
    let out = run(&promtool, &["check", "rules", "full.json"], dir.path());
    assert!(out.contains("SUCCESS"), "{out}");

    // Every dashboard expression, as a recording rule, so promtool parses each one.
    let records: Vec<Value> = dashboard_exprs(&dashboard())
        .into_iter()
        .enumerate()
        .map(|(i, (_, expr))| {
            serde_json::json!({
                "record": format!("prescale:dashboard_expression_{i}"),
                "expr": with_grafana_variables(&expr),
            })
        })
        .collect();
    let dashboard_rules =
        serde_json::json!({ "groups": [{ "name": "dashboard", "rules": records }] });
    std::fs::write(
        dir.path().join("dashboard.json"),
        dashboard_rules.to_string(),
    )
    .expect("write");
    let out = run(&promtool, &["check", "rules", "dashboard.json"], dir.path());
    assert!(out.contains("SUCCESS"), "{out}");

    // The alerts' behaviour: expressions, `for` and labels (annotations left out).
    let mut bare = groups.clone();
    for g in bare.as_array_mut().expect("groups") {
        for r in g["rules"].as_array_mut().expect("rules") {
            r.as_object_mut().expect("rule").remove("annotations");
        }
    }
    std::fs::write(
        dir.path().join("prescale-rules.json"),
        serde_json::json!({ "groups": bare }).to_string(),
    )
    .expect("write");
    std::fs::copy(
        root().join("tests/data/prometheusrule_test.yaml"),
        dir.path().join("prometheusrule_test.yaml"),
    )
    .expect("copy the rule tests");
    let out = run(
        &promtool,
        &["test", "rules", "prometheusrule_test.yaml"],
        dir.path(),
    );
    assert!(out.contains("SUCCESS"), "{out}");
    // Every alert is exercised by the unit tests.
    let tests = std::fs::read_to_string(root().join("tests/data/prometheusrule_test.yaml"))
        .expect("the rule tests");
    for (alert, _) in rule_exprs(&groups) {
        assert!(
            tests.contains(&format!("alertname: {alert}")),
            "{alert} has no promtool unit test"
        );
    }
}
