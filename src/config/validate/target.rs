//! One entry of `targets:`: its name, Deployment, metrics and effective settings.

use super::backtest::resolve_backtest;
use super::context::Cx;
use super::layers::Layers;
use super::metrics::resolve_metrics;
use super::names::{DNS_HINT, dns_label_problem, dns_subdomain_problem};
use super::queries::Queries;
use super::settings::resolve_settings;
use super::template::Vars;
use crate::config::raw::{RawSettings, RawTarget};
use crate::config::types::{MetricsConfig, ScaleTargetRef, TargetConfig};

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
    let reference = &raw.scale_target_ref;
    let reference_path = format!("{path}.scaleTargetRef");
    name_check(
        cx,
        &format!("{reference_path}.namespace"),
        &reference.namespace,
        dns_label_problem,
    );
    name_check(
        cx,
        &format!("{reference_path}.name"),
        &reference.name,
        dns_subdomain_problem,
    );
    let own = raw.overrides();
    let settings = resolve_settings(&Layers::target(&raw.name, &own, &path, defaults), cx);
    TargetConfig {
        name: raw.name.clone(),
        scale_target_ref: ScaleTargetRef {
            namespace: reference.namespace.clone(),
            name: reference.name.clone(),
        },
        metrics: resolve_metrics(
            &raw.metrics,
            inherited.metrics,
            &path,
            &Vars {
                namespace: &reference.namespace,
                name: &reference.name,
                target: &raw.name,
            },
            inherited.queries,
            cx,
        ),
        backtest: resolve_backtest(raw.backtest.as_ref(), &path, cx),
        ..settings
    }
}

fn name_check(cx: &mut Cx<'_>, path: &str, name: &str, check: fn(&str) -> Option<String>) {
    if let Some(problem) = check(name) {
        cx.error(path, format!("name {problem}"), DNS_HINT);
    }
}
