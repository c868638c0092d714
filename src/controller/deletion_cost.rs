//! Work-aware scale-down (`podDeletionCost.enabled`): before prescale lowers `spec.replicas`
//! through `/scale`, it lists the Deployment's pods, reads each ready pod's in-flight work
//! (when a per-pod metric is configured), and marks the pods that should go first with
//! `controller.kubernetes.io/pod-deletion-cost` (`deletion_order.rs`). Only then is the
//! scale-down written: the ReplicaSet controller then removes the idle pods, not the one
//! halfway through a long document.

use super::Shared;
use super::deletion_order::{PodFacts, plan_costs};
use super::tick::{TargetTask, deployment_name};
use crate::actuator::{ClusterError, DeploymentView, cost_mark, ready_endpoint};
use crate::config::{MetricSource, ScrapeFrom, TargetConfig};
use crate::telemetry::{MetricErrorLabels, ResultLabels};
use k8s_openapi::api::core::v1::Pod;

/// The per-pod metric that measures in-flight work: `podDeletionCost.inFlight`, else the
/// target's `queueDepth` when it is scraped from every pod (each pod's own backlog).
pub fn in_flight_source(config: &TargetConfig) -> Option<&MetricSource> {
    if let Some(s) = &config.pod_deletion_cost.in_flight {
        return Some(s);
    }
    config.metrics.queue_depth.as_ref().filter(|s| {
        matches!(
            s,
            MetricSource::Scrape {
                from: ScrapeFrom::Pods { .. },
                quantile: None,
                ..
            }
        )
    })
}

fn facts(pod: &Pod) -> PodFacts {
    let ready = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    PodFacts {
        name: pod.metadata.name.clone().unwrap_or_default(),
        ready,
        terminating: pod.metadata.deletion_timestamp.is_some(),
        created: pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(0.0, |t| t.0.as_millisecond() as f64 / 1000.0),
        in_flight: None,
        mark: cost_mark(pod),
    }
}

/// Why the pods could not be marked (the scale-down is not written this tick).
#[derive(Debug, thiserror::Error)]
#[error("cannot mark the pods to remove first before scaling {deployment} down: {source}{hint}")]
pub struct MarkError {
    /// `namespace/name`.
    deployment: String,
    /// The API's answer.
    #[source]
    pub source: ClusterError,
    /// What to grant, when RBAC refused.
    hint: String,
}

impl TargetTask {
    /// Mark the pods that should go first when the Deployment loses `remove` replicas.
    pub(super) async fn mark_pods_for_scale_down(
        &mut self,
        shared: &Shared,
        view: &DeploymentView,
        remove: u32,
    ) -> Result<(), MarkError> {
        let namespace = self.config.scale_target_ref.namespace.clone();
        let fail = |source: ClusterError| {
            let hint = if matches!(source, ClusterError::Rejected { code: 403, .. }) {
                "; grant `list` and `patch` on pods (deploy/overlays/pod-deletion-cost, or deploy/components/pod-deletion-cost in your overlay)".to_string()
            } else {
                String::new()
            };
            MarkError {
                deployment: deployment_name(&self.config),
                source,
                hint,
            }
        };
        if view.match_labels.is_empty() {
            // Listing with an empty selector would return every pod of the namespace.
            return Err(fail(ClusterError::Rejected {
                what: self.config.scale_target_ref.to_string(),
                code: 422,
                message: "its selector has no matchLabels, which pods are found by".into(),
            }));
        }
        let pods = shared
            .cluster
            .list_pods(&namespace, &view.match_labels)
            .await
            .map_err(fail)?;
        let mut facts: Vec<PodFacts> = pods.iter().map(facts).collect();
        let by_work = match in_flight_source(&self.config) {
            Some(source) => {
                self.read_in_flight(shared, source, &pods, &mut facts).await;
                true
            }
            None => false,
        };
        let plan = plan_costs(&facts, remove, by_work);
        let writes = plan
            .set
            .iter()
            .map(|(name, cost)| (name, Some(*cost)))
            .chain(plan.clear.iter().map(|name| (name, None)));
        for (name, cost) in writes {
            match shared.cluster.mark_pod(&namespace, name, cost).await {
                Ok(()) => self.count_marks(shared, "ok"),
                // Gone since the list: nothing to mark.
                Err(ClusterError::NotFound { .. }) => self.count_marks(shared, "not_found"),
                Err(e) => {
                    self.count_marks(shared, e.label());
                    return Err(fail(e));
                }
            }
        }
        tracing::info!(
            target_name = %self.config.name,
            deployment = %deployment_name(&self.config),
            remove,
            first = ?plan.chosen,
            by_work,
            "pods to remove first marked with controller.kubernetes.io/pod-deletion-cost"
        );
        Ok(())
    }

    /// Each ready pod's in-flight work into `facts`; a pod whose read fails stays unknown
    /// (it goes after the pods measured), and the failure is counted.
    async fn read_in_flight(
        &self,
        shared: &Shared,
        source: &MetricSource,
        pods: &[Pod],
        facts: &mut [PodFacts],
    ) {
        let endpoints: Vec<_> = pods.iter().filter_map(ready_endpoint).collect();
        let values = shared.source().per_pod(source, &endpoints).await;
        for (endpoint, value) in endpoints.iter().zip(values) {
            match value {
                Ok(v) => {
                    if let Some(f) = facts.iter_mut().find(|f| f.name == endpoint.name) {
                        f.in_flight = Some(v);
                    }
                }
                Err(e) => {
                    shared
                        .telemetry
                        .metric_errors
                        .get_or_create(&MetricErrorLabels {
                            target: self.labels(),
                            metric: "inFlight".into(),
                            reason: e.reason().into(),
                        })
                        .inc();
                    tracing::debug!(target_name = %self.config.name, pod = %endpoint.name, error = %e, "in-flight work not read; the pod goes after those measured");
                }
            }
        }
    }

    fn count_marks(&self, shared: &Shared, result: &str) {
        shared
            .telemetry
            .pod_deletion_cost_writes
            .get_or_create(&ResultLabels {
                target: self.labels(),
                result: result.into(),
            })
            .inc();
    }
}
