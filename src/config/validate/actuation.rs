//! How a target acts (`actuation:`), work-aware scale-down (`podDeletionCost:`) and the
//! decision Events' rate (`events:`), merged and checked.

use super::context::{Cx, DurationRule, Picked};
use super::layers::Layers;
use super::metrics::resolve_source;
use super::queries::Queries;
use crate::config::locate::join;
use crate::config::raw::RawMetricSource;
use crate::config::types::{
    Actuation, EventsConfig, MetricSource, PodDeletionCost, ScrapeFrom, TargetConfig,
};

/// `events.minInterval`: longer would hide a day's worth of changes.
const MAX_EVENT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(86_400);

/// The effective `actuation`.
pub fn resolve_actuation(layers: &Layers<'_>) -> Actuation {
    layers
        .pick("actuation", |s| s.actuation.as_ref())
        .map_or(TargetConfig::default().actuation, |p| *p.value)
}

/// The effective `podDeletionCost`. Its `inFlight` metric must be scraped from every pod:
/// it orders pods, so it needs one value per pod.
pub fn resolve_pod_deletion_cost(layers: &Layers<'_>, cx: &mut Cx<'_>) -> PodDeletionCost {
    let enabled = layers
        .pick("podDeletionCost.enabled", |s| {
            s.pod_deletion_cost.as_ref()?.enabled.as_ref()
        })
        .is_some_and(|p| *p.value);
    let in_flight = layers
        .pick("podDeletionCost.inFlight", |s| {
            s.pod_deletion_cost.as_ref()?.in_flight.as_ref()
        })
        .and_then(|p| in_flight(&p, cx));
    PodDeletionCost { enabled, in_flight }
}

fn in_flight(picked: &Picked<'_, RawMetricSource>, cx: &mut Cx<'_>) -> Option<MetricSource> {
    // A per-pod metric is scraped from each pod: no shared query to refer to.
    let source = resolve_source(picked.value, &picked.path, &Queries::new(), cx)?;
    match &source {
        MetricSource::Scrape {
            from: ScrapeFrom::Pods { .. },
            quantile: None,
            ..
        } => Some(source),
        MetricSource::Scrape {
            from: ScrapeFrom::Pods { .. },
            ..
        } => {
            cx.error(
                &join(&picked.path, "scrape.quantile"),
                "in-flight work is a gauge per pod, not a histogram quantile",
                "remove `quantile` and name a gauge, e.g. `docs_in_flight`",
            );
            None
        }
        _ => {
            cx.error(
                &picked.path,
                "in-flight work must be scraped from every pod: it orders the pods, so it needs one value per pod",
                "write `{scrape: {pods: {port: 9100}, metric: docs_in_flight}}`",
            );
            None
        }
    }
}

/// The effective `events`.
pub fn resolve_events(layers: &Layers<'_>, cx: &mut Cx<'_>) -> EventsConfig {
    let base = EventsConfig::default();
    EventsConfig {
        min_interval: layers
            .pick("events.minInterval", |s| {
                s.events.as_ref()?.min_interval.as_ref()
            })
            .and_then(|p| {
                cx.duration(
                    &p,
                    DurationRule {
                        positive: false,
                        min: None,
                        max: Some((MAX_EVENT_INTERVAL, "a decision Event at least once a day")),
                    },
                )
            })
            .unwrap_or(base.min_interval),
    }
}
