//! A validated [`Config`] written back in the file's own vocabulary, every key explicit:
//! what `prescale check` shows. Reading it back gives the same [`Config`].

use super::backtest::{BacktestQueries, HistoryQuery};
use super::duration::DurationText;
use super::raw::{
    RawActivation, RawBacktest, RawBasicAuth, RawBehavior, RawCapacity, RawConfig, RawEvents,
    RawFallback, RawForecast, RawHistoryQuery, RawMetricSource, RawMetrics, RawPlan,
    RawPodDeletionCost, RawPods, RawPolicy, RawPrometheus, RawScaleTargetRef, RawScalingRules,
    RawSchedule, RawScrape, RawSharedQuery, RawSlo, RawTarget,
};
use super::schedule::Schedule;
use super::types::{
    Config, ForecastConfig, MetricSource, MetricsConfig, PrometheusConfig, ScalingRules,
    ScrapeFrom, TargetConfig,
};
use std::collections::BTreeMap;

/// The effective configuration with every key spelled out (no `defaults:`: each target
/// carries its merged settings).
pub fn effective(config: &Config) -> RawConfig {
    RawConfig {
        prometheus: config.prometheus.as_ref().map(prometheus),
        queries: shared_queries(config),
        defaults: None,
        targets: config.targets.iter().map(target).collect(),
    }
}

/// The shared queries the targets use, by name.
fn shared_queries(config: &Config) -> BTreeMap<String, RawSharedQuery> {
    let mut queries = BTreeMap::new();
    for t in &config.targets {
        let m = &t.metrics;
        for source in [&m.queue_depth, &m.arrival_rate, &m.completions, &m.wait_p95]
            .into_iter()
            .flatten()
        {
            if let MetricSource::Shared { name, query, .. } = source {
                queries.insert(
                    name.clone(),
                    RawSharedQuery {
                        promql: query.clone(),
                    },
                );
            }
        }
    }
    queries
}

fn prometheus(p: &PrometheusConfig) -> RawPrometheus {
    RawPrometheus {
        url: p.url.clone(),
        timeout: Some(p.timeout.into()),
        bearer_token_file: p.bearer_token_file.clone(),
        basic_auth: p.basic_auth.as_ref().map(|auth| RawBasicAuth {
            username: auth.username.clone(),
            password_file: auth.password_file.clone(),
        }),
        headers: p.headers.clone(),
        ca_file: p.ca_file.clone(),
        insecure_skip_verify: Some(p.insecure_skip_verify),
        retries: Some(p.retries),
        max_concurrent_queries: Some(p.max_concurrent_queries),
    }
}

fn target(t: &TargetConfig) -> RawTarget {
    RawTarget {
        name: t.name.clone(),
        scale_target_ref: RawScaleTargetRef {
            api_version: Some(t.scale_target_ref.api_version.clone()),
            kind: Some(t.scale_target_ref.kind.clone()),
            namespace: t.scale_target_ref.namespace.clone(),
            name: t.scale_target_ref.name.clone(),
        },
        metrics: metrics(&t.metrics),
        backtest: backtest(&t.backtest),
        mode: Some(t.mode),
        interval: Some(t.interval.into()),
        min_replicas: Some(t.min_replicas),
        max_replicas: Some(t.max_replicas),
        startup_time: Some(t.startup_time.into()),
        slo: Some(RawSlo {
            queue_wait: Some(t.slo.queue_wait.into()),
        }),
        capacity: Some(RawCapacity {
            per_replica: Some(t.capacity.per_replica),
        }),
        behavior: Some(RawBehavior {
            scale_up: Some(rules(&t.behavior.scale_up)),
            scale_down: Some(rules(&t.behavior.scale_down)),
            scale_down_cooldown: Some(t.behavior.scale_down_cooldown.into()),
        }),
        fallback: Some(RawFallback {
            failure_threshold: Some(t.fallback.failure_threshold),
            behavior: Some(t.fallback.behavior),
            replicas: Some(t.fallback.replicas),
        }),
        forecast: Some(forecast(&t.forecast)),
        plan: Some(RawPlan {
            wait_target: Some(t.plan.wait_target),
            step_ahead: t.plan.step_ahead.map(Into::into),
            hold_for: t.plan.hold_for.map(Into::into),
            release_tolerance: Some(t.plan.release_tolerance),
        }),
        actuation: Some(t.actuation),
        pod_deletion_cost: Some(RawPodDeletionCost {
            enabled: Some(t.pod_deletion_cost.enabled),
            in_flight: t.pod_deletion_cost.in_flight.as_ref().map(metric_source),
        }),
        events: Some(RawEvents {
            min_interval: Some(t.events.min_interval.into()),
        }),
        schedules: Some(t.schedules.iter().map(schedule).collect()),
        // Only where it applies: a target with `minReplicas` above 0 never sleeps.
        activation_threshold: (t.min_replicas == 0).then_some(RawActivation {
            queue_depth: Some(t.activation.queue_depth),
            arrival_rate: Some(t.activation.arrival_rate),
        }),
    }
}

fn schedule(s: &Schedule) -> RawSchedule {
    RawSchedule {
        name: s.name.clone(),
        cron: s.cron_text.clone(),
        timezone: Some(s.timezone_name.clone()),
        duration: s.duration.into(),
        min_replicas: s.min_replicas,
        max_replicas: s.max_replicas,
    }
}

fn rules(r: &ScalingRules) -> RawScalingRules {
    RawScalingRules {
        stabilization_window: Some(r.stabilization_window.into()),
        select_policy: Some(r.select_policy),
        policies: Some(
            r.policies
                .iter()
                .map(|p| RawPolicy {
                    kind: p.kind,
                    value: p.value,
                    period: DurationText::from(p.period),
                })
                .collect(),
        ),
    }
}

fn forecast(f: &ForecastConfig) -> RawForecast {
    RawForecast {
        enabled: Some(f.enabled),
        history: Some(f.history.into()),
        target_utilization: Some(f.target_utilization),
        error_quantile: Some(f.error_quantile),
        miss_cost: Some(f.miss_cost),
    }
}

fn metrics(m: &MetricsConfig) -> RawMetrics {
    let source = |s: &Option<MetricSource>| s.as_ref().map(metric_source);
    RawMetrics {
        queue_depth: source(&m.queue_depth),
        arrival_rate: source(&m.arrival_rate),
        completions: source(&m.completions),
        wait_p95: source(&m.wait_p95),
    }
}

fn metric_source(s: &MetricSource) -> RawMetricSource {
    match s {
        MetricSource::Promql {
            query,
            aggregate,
            ignore_null_values,
        } => RawMetricSource {
            promql: Some(query.clone()),
            aggregate: *aggregate,
            ignore_null_values: Some(*ignore_null_values),
            ..RawMetricSource::default()
        },
        MetricSource::Shared {
            name,
            labels,
            aggregate,
            ignore_null_values,
            ..
        } => RawMetricSource {
            query: Some(name.clone()),
            match_labels: labels.into(),
            aggregate: *aggregate,
            ignore_null_values: Some(*ignore_null_values),
            ..RawMetricSource::default()
        },
        MetricSource::Scrape {
            from,
            metric,
            labels,
            aggregate,
            quantile,
        } => RawMetricSource {
            scrape: Some(RawScrape {
                url: match from {
                    ScrapeFrom::Url(url) => Some(url.clone()),
                    ScrapeFrom::Pods { .. } => None,
                },
                pods: match from {
                    ScrapeFrom::Url(_) => None,
                    ScrapeFrom::Pods { port, path, scheme } => Some(RawPods {
                        port: u32::from(*port),
                        path: Some(path.clone()),
                        scheme: Some(*scheme),
                    }),
                },
                metric: metric.clone(),
                labels: labels.clone(),
                aggregate: *aggregate,
                quantile: *quantile,
            }),
            ..RawMetricSource::default()
        },
    }
}

/// Only the queries written in the file: the defaults depend on the Deployment and the
/// metrics, which the effective settings already show.
fn backtest(b: &BacktestQueries) -> Option<RawBacktest> {
    let query = |q: &Option<HistoryQuery>| {
        q.as_ref().map(|q| RawHistoryQuery {
            promql: q.query.clone(),
            aggregate: q.aggregate,
        })
    };
    let raw = RawBacktest {
        replicas: query(&b.replicas),
        ready_replicas: query(&b.ready_replicas),
        queue_depth: query(&b.queue_depth),
        arrival_rate: query(&b.arrival_rate),
        completions: query(&b.completions),
        wait_p95: query(&b.wait_p95),
    };
    (raw != RawBacktest::default()).then_some(raw)
}
