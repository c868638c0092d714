//! [`ClusterReads`]: where a tick reads its Deployment and, for metrics scraped from every
//! pod, the Deployment's ready pods. Two implementations: [`super::WatchedReads`] (the
//! default: watch-backed caches, no API call per tick) and [`DirectReads`] (a GET of the
//! Deployment and a list of its pods on every tick, for clusters that grant no list/watch).

use super::scale_kind::{KindKey, kind_key};
use super::{ClusterError, DeploymentView, KubeCluster};
use crate::config::{Config, ScaleTargetRef};
use crate::metrics::{PodEndpoint, scrapes_pods};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The namespaces a config's targets need read: every target's Deployment's (or, for other
/// kinds, its object's), and those of targets with a metric scraped from every ready pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Followed {
    /// Namespaces whose Deployments are read.
    pub deployments: BTreeSet<String>,
    /// Per other kind (`apiVersion`, `kind`), the namespaces whose objects are read.
    pub others: BTreeMap<KindKey, BTreeSet<String>>,
    /// Namespaces whose pods are read.
    pub pods: BTreeSet<String>,
}

impl Followed {
    /// What `config`'s targets read.
    pub fn of(config: &Config) -> Self {
        let mut f = Followed::default();
        for t in &config.targets {
            let r = &t.scale_target_ref;
            let ns = &r.namespace;
            if r.is_deployment() {
                f.deployments.insert(ns.clone());
            } else {
                f.others.entry(kind_key(r)).or_default().insert(ns.clone());
            }
            if scrapes_pods(t) {
                f.pods.insert(ns.clone());
            }
        }
        f
    }
}

/// How ticks read the cluster.
pub trait ClusterReads: Send + Sync {
    /// Read what `followed` names from now on (called at start and on every reload).
    fn follow(&self, followed: &Followed);

    /// The object `target` scales (a Deployment or another kind), shared with the cache
    /// that holds it (a tick reads it; copying it would cost more than the tick's reading).
    fn deployment<'a>(
        &'a self,
        target: &'a ScaleTargetRef,
    ) -> BoxFuture<'a, Result<Arc<DeploymentView>, ClusterError>>;

    /// The ready pods in `namespace` carrying every label of `match_labels`, by name.
    fn ready_pods<'a>(
        &'a self,
        namespace: &'a str,
        match_labels: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Vec<PodEndpoint>, ClusterError>>;

    /// Wait until reads of `target`'s object can be answered (its cache has synced, or
    /// discovery has said why its kind cannot be read); at once when there is nothing to
    /// wait for.
    fn wait_synced<'a>(&'a self, target: &'a ScaleTargetRef) -> BoxFuture<'a, ()>;

    /// Stop background work (watches) at shutdown.
    fn stop(&self) {}
}

/// A GET of the scaled object and a list of its pods on every tick.
pub struct DirectReads {
    cluster: KubeCluster,
}

impl DirectReads {
    /// Read through `cluster`.
    pub fn new(cluster: KubeCluster) -> Self {
        Self { cluster }
    }
}

impl ClusterReads for DirectReads {
    fn follow(&self, _: &Followed) {}

    fn deployment<'a>(
        &'a self,
        target: &'a ScaleTargetRef,
    ) -> BoxFuture<'a, Result<Arc<DeploymentView>, ClusterError>> {
        Box::pin(async move { self.cluster.read_deployment(target).await.map(Arc::new) })
    }

    fn ready_pods<'a>(
        &'a self,
        namespace: &'a str,
        match_labels: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Vec<PodEndpoint>, ClusterError>> {
        Box::pin(self.cluster.ready_pods(namespace, match_labels))
    }

    fn wait_synced<'a>(&'a self, _: &'a ScaleTargetRef) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}
