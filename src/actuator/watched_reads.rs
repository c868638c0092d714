//! [`WatchedReads`]: Deployments (and, where a target scrapes every ready pod, pods) of the
//! targets' namespaces, from one list-then-watch per namespace. A tick costs no API call;
//! writes still carry the `resourceVersion` read, so a cache that lags loses with 409 and
//! the tick re-reads with a GET.

use super::kind_caches::KindCaches;
use super::namespaced_cache::NamespacedCache;
use super::pods::ready_endpoint;
use super::reads::{ClusterReads, Followed};
use super::{ClusterError, DeploymentView, KubeCluster, view_of};
use crate::config::ScaleTargetRef;
use crate::metrics::PodEndpoint;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the pod cache keeps of a pod: its labels (to match a selector) and, when it is
/// ready to be scraped, its endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct PodEntry {
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `Some` when the pod has an IP, is not terminating and is `Ready`.
    pub endpoint: Option<PodEndpoint>,
}

fn pod_entry(pod: &Pod) -> PodEntry {
    PodEntry {
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        endpoint: ready_endpoint(pod),
    }
}

/// Watch-backed reads.
pub struct WatchedReads {
    deployments: NamespacedCache<Deployment, DeploymentView>,
    /// StatefulSets, Rollouts, custom resources: per kind, once discovery has found it.
    others: KindCaches,
    /// Completes the view of an object that reports no ready count or selector from its
    /// `/scale` (a GET per tick, as an HPA reads `/scale`).
    cluster: KubeCluster,
    pods: NamespacedCache<Pod, PodEntry>,
}

impl WatchedReads {
    /// Caches (watches through `client`) that follow no namespace until
    /// [`ClusterReads::follow`]; other kinds are found through `cluster`'s discovery.
    pub fn new(client: Client, cluster: KubeCluster) -> Self {
        Self {
            deployments: NamespacedCache::new(client.clone(), "Deployments (apps/v1)", view_of),
            others: KindCaches::new(client.clone(), cluster.kinds().clone()),
            cluster,
            pods: NamespacedCache::new(client, "Pods (v1)", pod_entry),
        }
    }

    /// Scaled objects (Deployments and other kinds) and pods kept (for benchmarks and
    /// tests).
    pub fn sizes(&self) -> (usize, usize) {
        (self.deployments.len() + self.others.len(), self.pods.len())
    }
}

impl ClusterReads for WatchedReads {
    fn follow(&self, followed: &Followed) {
        self.deployments.follow(&followed.deployments);
        self.others.follow(&followed.others);
        self.pods.follow(&followed.pods);
    }

    fn deployment<'a>(
        &'a self,
        target: &'a ScaleTargetRef,
    ) -> BoxFuture<'a, Result<Arc<DeploymentView>, ClusterError>> {
        let found = if target.is_deployment() {
            self.deployments.get(&target.namespace, &target.name)
        } else {
            self.others.get(target)
        }
        .and_then(|d| {
            d.ok_or_else(|| ClusterError::NotFound {
                what: target.to_string(),
            })
        });
        Box::pin(async move {
            let mut view = found?;
            if view.from_scale {
                // Completed from `/scale` on a copy: the cache's own stays as watched.
                self.cluster
                    .complete_from_scale(target, Arc::make_mut(&mut view))
                    .await?;
            }
            Ok(view)
        })
    }

    fn ready_pods<'a>(
        &'a self,
        namespace: &'a str,
        match_labels: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Vec<PodEndpoint>, ClusterError>> {
        let found = self
            .pods
            .filter(namespace, |p| {
                p.endpoint.is_some() && match_labels.iter().all(|(k, v)| p.labels.get(k) == Some(v))
            })
            .map(|pods| {
                let mut pods: Vec<PodEndpoint> = pods
                    .into_iter()
                    .filter_map(|(_, p)| p.endpoint.clone())
                    .collect();
                pods.sort_by(|a, b| a.name.cmp(&b.name));
                pods
            });
        Box::pin(async move { found })
    }

    fn wait_synced<'a>(&'a self, target: &'a ScaleTargetRef) -> BoxFuture<'a, ()> {
        if target.is_deployment() {
            Box::pin(self.deployments.wait_synced(&target.namespace))
        } else {
            Box::pin(self.others.wait_synced(target))
        }
    }

    fn stop(&self) {
        self.deployments.stop();
        self.others.stop();
        self.pods.stop();
    }
}
