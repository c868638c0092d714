//! Raw configuration to validated [`Config`]: merge `defaults:` into each target, check every
//! value, and collect every problem (not just the first) with its key path and line.

mod activation;
mod actuation;
mod backtest;
mod behavior;
mod context;
mod forecast;
mod layers;
mod metrics;
mod names;
mod plan;
mod prometheus;
mod queries;
mod scale_target;
mod schedule;
mod settings;
mod target;
mod template;

pub use prometheus::{DEFAULT_MAX_CONCURRENT_QUERIES, DEFAULT_RETRIES, DEFAULT_TIMEOUT};

use super::error::Problem;
use super::locate::Positions;
use super::raw::RawConfig;
use super::types::{self, Config, MetricSource, TargetConfig};
use context::Cx;
use layers::Layers;
use std::collections::HashMap;

/// The validated configuration, or every problem found; warnings either way.
pub struct Outcome {
    /// The configuration, if there was no problem.
    pub config: Result<Config, Vec<Problem>>,
    /// Things worth saying about a valid file.
    pub warnings: Vec<Problem>,
}

/// Validate `raw`, pointing at lines through `positions`.
pub fn validate(raw: &RawConfig, positions: &Positions) -> Outcome {
    let mut cx = Cx::new(positions);
    let queries = queries::resolve_queries(&raw.queries, &mut cx);
    let mut default_metrics = None;
    if let Some(defaults) = &raw.defaults {
        // Checked on its own once, so its problems show even when no target inherits them.
        settings::resolve_settings(&Layers::defaults(defaults), &mut cx);
        default_metrics = defaults
            .metrics
            .as_ref()
            .map(|m| metrics::resolve_templates(m, "defaults.metrics", &queries, &mut cx));
    }
    let inherited = target::Inherited {
        defaults: raw.defaults.as_ref(),
        metrics: default_metrics.as_ref(),
        queries: &queries,
    };
    let targets: Vec<_> = raw
        .targets
        .iter()
        .enumerate()
        .map(|(index, target)| target::resolve_target(target, index, &inherited, &mut cx))
        .collect();
    check_unique(raw, &mut cx);
    check_queries_used(&queries, &targets, &mut cx);
    let prometheus = raw
        .prometheus
        .as_ref()
        .and_then(|p| prometheus::resolve_prometheus(p, &mut cx));
    let uses_promql = check_prometheus_needed(raw, &mut cx);
    if targets.is_empty() {
        cx.warn(
            "targets",
            "no targets: the controller will start and idle",
            "add a target to scale a Deployment (see config/prescale.yaml)",
        );
    }
    let config = if cx.problems.is_empty() {
        Ok(Config {
            prometheus: prometheus.filter(|_| uses_promql),
            targets,
        })
    } else {
        Err(cx.problems)
    };
    Outcome {
        config,
        warnings: cx.warnings,
    }
}

/// The settings of `raw`'s `defaults:` (the built-in ones where it is silent or absent).
/// Only meaningful once [`validate`] found no problem.
pub fn defaults_settings(raw: &RawConfig, positions: &Positions) -> TargetConfig {
    let mut cx = Cx::new(positions);
    match &raw.defaults {
        Some(defaults) => settings::resolve_settings(&Layers::defaults(defaults), &mut cx),
        None => TargetConfig::default(),
    }
}

/// Target names must be unique, and so must the scaled objects (one writer per object).
fn check_unique(raw: &RawConfig, cx: &mut Cx<'_>) {
    let mut names = HashMap::new();
    let mut deployments = HashMap::new();
    for (index, target) in raw.targets.iter().enumerate() {
        if let Some(first) = names.insert(target.name.as_str(), index) {
            let first_at = cx.at(&format!("targets[{first}].name"));
            cx.error(
                &format!("targets[{index}].name"),
                format!(
                    "duplicate target name \"{}\", first used at {first_at}",
                    target.name
                ),
                "give each target a unique name",
            );
            names.insert(target.name.as_str(), first);
        }
        let reference = &target.scale_target_ref;
        let kind = reference
            .kind
            .as_deref()
            .unwrap_or(types::DEFAULT_SCALE_KIND);
        let group = types::api_group(
            reference
                .api_version
                .as_deref()
                .unwrap_or(types::DEFAULT_SCALE_API_VERSION),
        );
        let key = (
            group,
            kind,
            reference.namespace.as_str(),
            reference.name.as_str(),
        );
        if let Some(first) = deployments.insert(key, index) {
            let first_at = cx.at(&format!("targets[{first}].scaleTargetRef"));
            cx.error(
                &format!("targets[{index}].scaleTargetRef"),
                format!(
                    "{kind} {}/{} is already scaled by the target at {first_at}",
                    reference.namespace, reference.name
                ),
                "scale each object from one target only (two would fight over its replicas)",
            );
            deployments.insert(key, first);
        }
    }
}

/// A shared query no target refers to is a warning (it would never run).
fn check_queries_used(queries: &queries::Queries, targets: &[TargetConfig], cx: &mut Cx<'_>) {
    let used: std::collections::BTreeSet<&str> = targets
        .iter()
        .flat_map(|t| {
            let m = &t.metrics;
            [&m.queue_depth, &m.arrival_rate, &m.completions, &m.wait_p95]
        })
        .filter_map(|source| match source {
            Some(MetricSource::Shared { name, .. }) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    for name in queries.keys().filter(|n| !used.contains(n.as_str())) {
        cx.warn(
            &format!("queries.{name}"),
            format!("no target uses the shared query \"{name}\", so it never runs"),
            "refer to it from a metric (`query: NAME` with `match:`), or remove it",
        );
    }
}

/// `prometheus:` is required when a target uses PromQL (an error naming each place that
/// does, a target's own metric or `defaults.metrics`) and pointless otherwise (a warning).
/// Returns whether any target uses PromQL, for its metrics or for reading its history
/// (`backtest:`).
fn check_prometheus_needed(raw: &RawConfig, cx: &mut Cx<'_>) -> bool {
    let default_keys: Vec<String> = raw
        .defaults
        .as_ref()
        .and_then(|d| d.metrics.as_ref())
        .map(metrics::prometheus_keys)
        .unwrap_or_default();
    let mut uses_promql = false;
    let mut reported_defaults = false;
    for (index, target) in raw.targets.iter().enumerate() {
        let own = metrics::prometheus_keys(&target.metrics);
        // A key the target does not write itself comes from `defaults.metrics`.
        let written = |key: &str| {
            let metric = key.split('.').next().unwrap_or(key);
            [
                ("queueDepth", target.metrics.queue_depth.is_some()),
                ("arrivalRate", target.metrics.arrival_rate.is_some()),
                ("completions", target.metrics.completions.is_some()),
                ("waitP95", target.metrics.wait_p95.is_some()),
            ]
            .iter()
            .any(|(k, w)| *k == metric && *w)
        };
        let inherited: Vec<&String> = default_keys.iter().filter(|k| !written(k)).collect();
        if own.is_empty() && inherited.is_empty() {
            continue;
        }
        uses_promql = true;
        if raw.prometheus.is_some() {
            continue;
        }
        let message = format!(
            "target \"{}\" uses PromQL but the file has no `prometheus:` section",
            target.name
        );
        let hint = "add `prometheus: {url: http://prometheus.monitoring.svc:9090}` at the top level, or use `scrape:`";
        if let Some(key) = own.first() {
            cx.error(&format!("targets[{index}].metrics.{key}"), message, hint);
        } else if let Some(key) = inherited.first()
            && !reported_defaults
        {
            reported_defaults = true;
            cx.error(&format!("defaults.metrics.{key}"), message, hint);
        }
    }
    // `backtest:` queries read history from Prometheus too (only `prescale backtest` and
    // `prescale tune` do, so their absence is not an error for the controller).
    let reads_history = raw.targets.iter().any(|t| t.backtest.is_some());
    if raw.prometheus.is_some() && !uses_promql && !reads_history {
        cx.warn(
            "prometheus",
            "no target uses PromQL, so `prometheus:` is unused",
            "remove it, or give a metric a `promql:` query (or a target `backtest:` queries to read its history)",
        );
    }
    uses_promql || reads_history
}
