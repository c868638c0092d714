//! Listing a target's ready pods (for metrics scraped from every pod): one `list` of the
//! Deployment's namespace by its `matchLabels` per tick.

use super::error::with_deadline;
use super::{ClusterError, KubeCluster};
use crate::metrics::PodEndpoint;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use std::collections::BTreeMap;

/// `matchLabels` as a `labelSelector` of equalities, `k=v,k2=v2`.
pub fn selector_query(match_labels: &BTreeMap<String, String>) -> String {
    match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The pod's endpoint when it is one to scrape: it has an IP, is not being deleted, and its
/// `Ready` condition is `True` (as an Endpoints controller would route traffic to it).
pub fn ready_endpoint(pod: &Pod) -> Option<PodEndpoint> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref()?;
    let ip = status.pod_ip.clone().filter(|ip| !ip.is_empty())?;
    let ready = status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    ready.then(|| PodEndpoint {
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        ip,
    })
}

impl KubeCluster {
    /// The pods in `namespace` carrying every label of `match_labels` (a Deployment's
    /// selector), sorted by name. (An empty selector matches every pod of the namespace: the
    /// caller does not ask with one.)
    pub async fn list_pods(
        &self,
        namespace: &str,
        match_labels: &BTreeMap<String, String>,
    ) -> Result<Vec<Pod>, ClusterError> {
        let selector = selector_query(match_labels);
        let api: Api<Pod> = Api::namespaced(self.client().clone(), namespace);
        let params = ListParams::default().labels(&selector);
        let list = with_deadline(
            format!("list of pods in {namespace} with labels {selector}"),
            self.deadline(),
            api.list(&params),
        )
        .await?;
        let mut pods = list.items;
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(pods)
    }

    /// The ready pods among [`KubeCluster::list_pods`], sorted by name.
    pub async fn ready_pods(
        &self,
        namespace: &str,
        match_labels: &BTreeMap<String, String>,
    ) -> Result<Vec<PodEndpoint>, ClusterError> {
        let pods = self.list_pods(namespace, match_labels).await?;
        Ok(pods.iter().filter_map(ready_endpoint).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ip: Option<&str>, ready: &str, deleting: bool) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "w-1", "uid": "u-1",
                "deletionTimestamp": deleting.then_some("2026-01-01T00:00:00Z"),
            },
            "status": {
                "podIP": ip,
                "conditions": [
                    { "type": "PodScheduled", "status": "True" },
                    { "type": "Ready", "status": ready },
                ],
            },
        }))
        .unwrap()
    }

    #[test]
    fn only_ready_pods_with_an_ip_that_are_not_terminating_are_scraped() {
        assert_eq!(
            ready_endpoint(&pod(Some("10.1.2.3"), "True", false)),
            Some(PodEndpoint {
                name: "w-1".into(),
                uid: "u-1".into(),
                ip: "10.1.2.3".into(),
            })
        );
        assert_eq!(ready_endpoint(&pod(Some("10.1.2.3"), "False", false)), None);
        assert_eq!(ready_endpoint(&pod(Some("10.1.2.3"), "True", true)), None);
        assert_eq!(ready_endpoint(&pod(None, "True", false)), None);
    }

    #[test]
    fn match_labels_become_an_equality_selector() {
        let labels = BTreeMap::from([
            ("app".to_string(), "worker".to_string()),
            ("tier".to_string(), "batch".to_string()),
        ]);
        assert_eq!(selector_query(&labels), "app=worker,tier=batch");
    }
}
