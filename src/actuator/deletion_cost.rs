//! `controller.kubernetes.io/pod-deletion-cost` on a Deployment's pods: the ReplicaSet
//! controller removes pods with the lowest cost first on a scale-down (after pods that are
//! not yet scheduled, running or ready). prescale marks the pods that should go first
//! before it lowers `spec.replicas`, and remembers which marks are its own in a second
//! annotation, so it never overwrites or clears a cost somebody else set.

use super::error::with_deadline;
use super::{ClusterError, FIELD_MANAGER, KubeCluster};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

/// The annotation the ReplicaSet controller reads (beta since Kubernetes 1.22, on by
/// default).
pub const DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";
/// The cost prescale set, so a mark is known to be prescale's own.
pub const PRESCALE_COST_ANNOTATION: &str = "prescale.io/pod-deletion-cost";

/// A pod's cost as the ReplicaSet controller sees it, and whether prescale set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostMark {
    /// No cost (0 to the ReplicaSet controller).
    None,
    /// prescale's mark.
    Ours(i32),
    /// Someone else's cost (or an unreadable one): left alone.
    Foreign,
}

/// The mark on `pod`.
pub fn cost_mark(pod: &Pod) -> CostMark {
    let annotations = pod.metadata.annotations.as_ref();
    let get = |k: &str| annotations.and_then(|a| a.get(k)).map(|v| v.trim());
    match (get(DELETION_COST_ANNOTATION), get(PRESCALE_COST_ANNOTATION)) {
        (None, _) => CostMark::None,
        (Some(cost), Some(ours)) if cost == ours => {
            cost.parse().map_or(CostMark::Foreign, CostMark::Ours)
        }
        (Some(_), _) => CostMark::Foreign,
    }
}

/// The merge patch that sets prescale's mark `cost`, or removes it (`None`).
pub fn cost_patch(cost: Option<i32>) -> Value {
    let value = cost.map_or(Value::Null, |c| json!(c.to_string()));
    json!({
        "metadata": {
            "annotations": {
                DELETION_COST_ANNOTATION: value.clone(),
                PRESCALE_COST_ANNOTATION: value,
            }
        }
    })
}

impl KubeCluster {
    /// Set prescale's deletion-cost mark on pod `name` in `namespace`, or remove it
    /// (`None`). Only the two annotations are patched.
    pub async fn mark_pod(
        &self,
        namespace: &str,
        name: &str,
        cost: Option<i32>,
    ) -> Result<(), ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client().clone(), namespace);
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        let body = cost_patch(cost);
        with_deadline(
            format!("Pod {namespace}/{name} annotation {DELETION_COST_ANNOTATION}"),
            self.deadline(),
            api.patch(name, &pp, &Patch::Merge(&body)),
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(annotations: Value) -> Pod {
        serde_json::from_value(json!({ "metadata": { "name": "p", "annotations": annotations } }))
            .expect("pod")
    }

    #[test]
    fn only_a_cost_equal_to_prescales_own_record_is_prescales() {
        assert_eq!(cost_mark(&pod(Value::Null)), CostMark::None);
        assert_eq!(
            cost_mark(&pod(
                json!({ DELETION_COST_ANNOTATION: "-999", PRESCALE_COST_ANNOTATION: "-999" })
            )),
            CostMark::Ours(-999)
        );
        assert_eq!(
            cost_mark(&pod(json!({ DELETION_COST_ANNOTATION: "500" }))),
            CostMark::Foreign
        );
        // Someone changed prescale's mark: theirs now.
        assert_eq!(
            cost_mark(&pod(
                json!({ DELETION_COST_ANNOTATION: "5", PRESCALE_COST_ANNOTATION: "-999" })
            )),
            CostMark::Foreign
        );
    }

    #[test]
    fn a_mark_is_set_and_removed_with_its_record() {
        assert_eq!(
            cost_patch(Some(-1000))["metadata"]["annotations"],
            json!({ DELETION_COST_ANNOTATION: "-1000", PRESCALE_COST_ANNOTATION: "-1000" })
        );
        assert_eq!(
            cost_patch(None)["metadata"]["annotations"],
            json!({ DELETION_COST_ANNOTATION: null, PRESCALE_COST_ANNOTATION: null })
        );
    }
}
