//! One entry of `targets:`: its name, Deployment, metrics and effective settings.

use super::backtest::resolve_backtest;
use super::context::Cx;
use super::layers::Layers;
use super::metrics::resolve_metrics;
use super::names::{DNS_HINT, dns_subdomain_problem};
use super::queries::Queries;
use super::scale_target::resolve_scale_target_ref;
use super::settings::resolve_settings;
use super::template::Vars;
use crate::config::raw::{RawSettings, RawTarget};
use crate::config::types::{MetricsConfig, TargetConfig};

/// What every target inherits: `defaults:`, its metrics checked once, and the shared
/// queries.
pub struct Inherited<'a> {
    /// `defaults:` as written.
    pub defaults: Option<&'a RawSettings>,
    /// `defaults.metrics`, checked, `${...}` not yet substituted.
    pub metrics: Option<&'a MetricsConfig>,
    /// `queries:`, checked.
    pub queries: &'a Queries,
}

/// The effective configuration of `targets[index]`, its settings over `defaults`.
pub fn resolve_target(
    raw: &RawTarget,
    index: usize,
    inherited: &Inherited<'_>,
    cx: &mut Cx<'_>,
) -> TargetConfig {
    let defaults = inherited.defaults;
    let path = format!("targets[{index}]");
    name_check(
        cx,
        &format!("{path}.name"),
        &raw.name,
        dns_subdomain_problem,
    );
    let scale_target_ref =
        resolve_scale_target_ref(&raw.scale_target_ref, &format!("{path}.scaleTargetRef"), cx);
    let own = raw.overrides();
    let settings = resolve_settings(&Layers::target(&raw.name, &own, &path, defaults), cx);
    let target = TargetConfig {
        name: raw.name.clone(),
        scale_target_ref: scale_target_ref.clone(),
        metrics: resolve_metrics(
            &raw.metrics,
            inherited.metrics,
            &path,
            &Vars {
                namespace: &scale_target_ref.namespace,
                name: &scale_target_ref.name,
                target: &raw.name,
            },
            inherited.queries,
            cx,
        ),
        backtest: resolve_backtest(raw.backtest.as_ref(), &path, cx).into(),
        ..settings
    };
    warn_forecast_blind(&target, &path, cx);
    warn_deletion_cost_unused(&target, &path, cx);
    warn_keda_floor_minimum(&target, &path, cx);
    warn_asleep_blind(&target, &path, cx);
    target
}

/// Under a ScaledObject, prescale's own `minReplicas` is a floor at all times: one that
/// scales to zero would be held at that minimum.
fn warn_keda_floor_minimum(t: &TargetConfig, path: &str, cx: &mut Cx<'_>) {
    if t.actuation == crate::config::Actuation::KedaMinReplicaCount && t.min_replicas > 0 {
        cx.warn(
            &format!("{path}.actuation"),
            format!(
                "target \"{}\" raises the ScaledObject's minReplicaCount to at least its own minReplicas ({}) at all times, so a ScaledObject that scales to zero never does",
                t.name, t.min_replicas
            ),
            "set `minReplicas: 0` on the target to raise the floor by demand only",
        );
    }
}

/// Queue depth alone shows the backlog but not how fast work arrives: the forecast learns
/// the daily pattern from arrivals, given directly or derived from completions (arrivals
/// are the queue's change plus what was completed); from the queue alone they are seen only
/// while the replicas are busy.
fn warn_forecast_blind(t: &TargetConfig, path: &str, cx: &mut Cx<'_>) {
    let m = &t.metrics;
    if t.forecast.enabled
        && m.queue_depth.is_some()
        && m.arrival_rate.is_none()
        && m.completions.is_none()
    {
        cx.warn(
            &format!("{path}.metrics"),
            format!(
                "target \"{}\" has `queueDepth` but neither `arrivalRate` nor `completions`: arrivals are inferred from the queue, and seen only while every replica is busy, so the forecast learns the load late and prescale mostly reacts to the backlog",
                t.name
            ),
            "add `arrivalRate: {promql: 'sum(rate(docs_enqueued_total[1m]))'}` (documents arriving per second), or `completions: {promql: 'sum(rate(docs_completed_total[1m]))'}`, from which arrivals are derived as the queue's change plus completions",
        );
    }
}

/// A target that scales to zero must read its demand from somewhere that exists with no
/// pods: a metric scraped from its own pods has nothing to read while it sleeps.
fn warn_asleep_blind(t: &TargetConfig, path: &str, cx: &mut Cx<'_>) {
    let from_own_pods = |m: &Option<crate::config::MetricSource>| {
        matches!(
            m,
            Some(crate::config::MetricSource::Scrape {
                from: crate::config::ScrapeFrom::Pods { .. },
                ..
            })
        )
    };
    let m = &t.metrics;
    let demand = [&m.queue_depth, &m.arrival_rate];
    let configured = demand.iter().filter(|d| d.is_some()).count();
    if t.min_replicas == 0
        && configured > 0
        && demand.iter().filter(|d| from_own_pods(d)).count() == configured
    {
        cx.warn(
            &format!("{path}.metrics"),
            format!(
                "target \"{}\" scales to zero (`minReplicas: 0`) but reads its demand only from its own pods: with no pods there is nothing to read, so only the forecast (or the fallback) can wake it",
                t.name
            ),
            "read `queueDepth` or `arrivalRate` from the queue itself (`promql:`, or `scrape: {url: ...}` on the broker's exporter)",
        );
    }
}

/// Pod deletion costs are written before prescale's own scale-downs through `/scale`; with
/// a floor under an HPA or ScaledObject, that autoscaler scales down, not prescale.
fn warn_deletion_cost_unused(t: &TargetConfig, path: &str, cx: &mut Cx<'_>) {
    let reference = &t.scale_target_ref;
    // Argo Rollouts scale down through ReplicaSets too.
    let replica_sets = reference.is_deployment()
        || (reference.kind == "Rollout" && reference.group() == "argoproj.io");
    if t.pod_deletion_cost.enabled && !t.actuation.is_floor() && !replica_sets {
        // The ReplicaSet controller reads pod-deletion-cost; a StatefulSet always removes
        // its highest ordinal, and other kinds decide on their own.
        if reference.kind == "StatefulSet" && reference.group() == "apps" {
            cx.error(
                &format!("{path}.podDeletionCost.enabled"),
                format!(
                    "target \"{}\" scales a StatefulSet, which always removes its highest-numbered pod: pod-deletion-cost is not read",
                    t.name
                ),
                "remove `podDeletionCost` (it works for Deployments and other kinds whose pods a ReplicaSet removes)",
            );
        } else {
            cx.warn(
                &format!("{path}.podDeletionCost.enabled"),
                format!(
                    "target \"{}\" scales a {}: pod-deletion-cost is honoured only where a ReplicaSet removes the pods (Deployments, Argo Rollouts)",
                    t.name, reference.kind
                ),
                "keep it only if this kind scales down through ReplicaSets",
            );
        }
    }
    if t.pod_deletion_cost.enabled && t.actuation.is_floor() {
        cx.warn(
            &format!("{path}.podDeletionCost.enabled"),
            format!(
                "target \"{}\" raises a floor (`actuation: {}`): its scale-downs are made by that autoscaler, so prescale never marks pods for them",
                t.name,
                t.actuation.as_str()
            ),
            "remove `podDeletionCost`, or use `actuation: scale`",
        );
    }
}

/// An error at `path` when `check` finds a problem with `name` (a DNS-1123 name).
pub(super) fn name_check(
    cx: &mut Cx<'_>,
    path: &str,
    name: &str,
    check: fn(&str) -> Option<String>,
) {
    if let Some(problem) = check(name) {
        cx.error(path, format!("name {problem}"), DNS_HINT);
    }
}
