//! [`AutoscalerCache`]: the HPAs and KEDA ScaledObjects of the whole cluster, kept by two
//! watches started once and shared by every target, so the per-tick conflict check reads
//! memory instead of listing both resources for every active target on every tick (at
//! 1,000 targets every 15 s that would be ~130 list calls a second).

use super::{ClusterError, OtherAutoscaler};
use crate::config::ScaleTargetRef;
use futures::StreamExt;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use std::fmt::Debug;
use std::hash::Hash;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The KEDA ScaledObject resource (`keda.sh/v1alpha1`), read as a dynamic object so KEDA's
/// types are not a dependency.
pub fn scaled_object_resource() -> ApiResource {
    ApiResource {
        group: "keda.sh".into(),
        version: "v1alpha1".into(),
        api_version: "keda.sh/v1alpha1".into(),
        kind: "ScaledObject".into(),
        plural: "scaledobjects".into(),
    }
}

/// Whether `hpa` scales Deployment `target`.
pub fn hpa_targets(hpa: &HorizontalPodAutoscaler, target: &ScaleTargetRef) -> bool {
    if hpa.metadata.namespace.as_deref() != Some(target.namespace.as_str()) {
        return false;
    }
    let Some(spec) = &hpa.spec else { return false };
    let r = &spec.scale_target_ref;
    let group_ok = r
        .api_version
        .as_deref()
        .is_none_or(|v| v == "apps/v1" || v.starts_with("apps/"));
    r.kind == "Deployment" && r.name == target.name && group_ok
}

/// Whether ScaledObject `so` scales Deployment `target`.
pub fn scaled_object_targets(so: &DynamicObject, target: &ScaleTargetRef) -> bool {
    if so.metadata.namespace.as_deref() != Some(target.namespace.as_str()) {
        return false;
    }
    let r = &so.data["spec"]["scaleTargetRef"];
    // KEDA defaults kind to Deployment when it is not given.
    let kind = r["kind"].as_str().unwrap_or("Deployment");
    kind == "Deployment" && r["name"].as_str() == Some(target.name.as_str())
}

/// Cluster-wide caches of HPAs and ScaledObjects, filled by watches (list once, then
/// watch from the list's resourceVersion; re-list only when the watch is too old).
#[derive(Clone)]
pub struct AutoscalerCache {
    /// One store per watched scope (the cluster, or each watched namespace).
    pub(super) hpas: Vec<Store<HorizontalPodAutoscaler>>,
    pub(super) scaled_objects: Vec<Store<DynamicObject>>,
    synced: Vec<watch::Receiver<bool>>,
}

impl AutoscalerCache {
    /// Start both watches, cluster-wide (`namespaces` is `None`) or one pair per namespace
    /// (a namespaced install, whose RBAC grants nothing cluster-wide); they run until `stop`
    /// turns true. A watch that fails backs off and retries, keeping its last known state.
    /// A cluster without KEDA (404 on `scaledobjects`) has no ScaledObjects; the watch keeps
    /// retrying so KEDA installed later is picked up.
    pub fn start(
        client: Client,
        namespaces: Option<&[String]>,
        stop: watch::Receiver<bool>,
    ) -> (Self, Vec<JoinHandle<()>>) {
        let scopes: Vec<Option<&str>> = match namespaces {
            None => vec![None],
            Some(list) => list.iter().map(|n| Some(n.as_str())).collect(),
        };
        let ar = scaled_object_resource();
        let mut cache = Self {
            hpas: Vec::new(),
            scaled_objects: Vec::new(),
            synced: Vec::new(),
        };
        let mut handles = Vec::new();
        for scope in scopes {
            let (hpa_tx, hpa_synced) = watch::channel(false);
            let (so_tx, so_synced) = watch::channel(false);
            let hpa_writer = reflector::store::Writer::<HorizontalPodAutoscaler>::default();
            let so_writer = reflector::store::Writer::<DynamicObject>::new(ar.clone());
            cache.hpas.push(hpa_writer.as_reader());
            cache.scaled_objects.push(so_writer.as_reader());
            cache.synced.extend([hpa_synced, so_synced]);
            let (hpa_api, so_api) = match scope {
                None => (Api::all(client.clone()), Api::all_with(client.clone(), &ar)),
                Some(ns) => (
                    Api::namespaced(client.clone(), ns),
                    Api::namespaced_with(client.clone(), ns, &ar),
                ),
            };
            handles.push(tokio::spawn(keep_watching(
                hpa_api,
                hpa_writer,
                hpa_tx,
                Watched {
                    what: "HorizontalPodAutoscalers (autoscaling/v2)",
                    absent_means_none: false,
                },
                stop.clone(),
            )));
            handles.push(tokio::spawn(keep_watching(
                so_api,
                so_writer,
                so_tx,
                Watched {
                    what: "ScaledObjects (keda.sh/v1alpha1)",
                    absent_means_none: true,
                },
                stop.clone(),
            )));
        }
        (cache, handles)
    }

    /// Every cache has been filled from a complete list at least once.
    pub fn is_synced(&self) -> bool {
        self.synced.iter().all(|s| *s.borrow())
    }

    /// Wait until [`AutoscalerCache::is_synced`]; returns at once if it already is (and
    /// never returns if the watches stop before syncing).
    pub async fn wait_synced(&self) {
        for s in &self.synced {
            let mut s = s.clone();
            if s.wait_for(|s| *s).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Other autoscalers that target this Deployment, from the caches (no API call). Until
    /// both caches have synced once the answer is unknown, and an error says so: the caller
    /// must not write on a guess.
    pub fn other_autoscalers(
        &self,
        target: &ScaleTargetRef,
    ) -> Result<Vec<OtherAutoscaler>, ClusterError> {
        if !self.is_synced() {
            return Err(ClusterError::NotSynced {
                what: "HorizontalPodAutoscalers and ScaledObjects".into(),
            });
        }
        let mut found: Vec<OtherAutoscaler> = self
            .hpas
            .iter()
            .flat_map(|store| store.state_filter(|h| hpa_targets(h, target)))
            .map(|h| OtherAutoscaler::Hpa(h.metadata.name.clone().unwrap_or_default()))
            .collect();
        found.extend(
            self.scaled_objects
                .iter()
                .flat_map(|store| store.state_filter(|so| scaled_object_targets(so, target)))
                .map(|so| {
                    OtherAutoscaler::ScaledObject(so.metadata.name.clone().unwrap_or_default())
                }),
        );
        // Stable order, so reports and Events do not change with the cache's hash order.
        found.sort_by_key(|o| o.to_string());
        Ok(found)
    }
}

/// What one watch is of, for logs, and whether a 404 means "none exist" (a CRD that is
/// not installed) rather than an error.
struct Watched {
    what: &'static str,
    absent_means_none: bool,
}

/// The watch failed because the resource does not exist on the API server (404).
fn resource_absent(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code == 404,
        watcher::Error::WatchError(s) => s.code == 404,
        _ => false,
    }
}

async fn keep_watching<K>(
    api: Api<K>,
    mut writer: reflector::store::Writer<K>,
    synced: watch::Sender<bool>,
    watched: Watched,
    mut stop: watch::Receiver<bool>,
) where
    K: Resource + Clone + serde::de::DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    let what = watched.what;
    // The default back-off: 0.8 s doubling to 30 s with jitter, reset after 2 min of health.
    let stream = watcher::watcher(api, watcher::Config::default())
        // Only the name, namespace, labels, owners, spec and prescale's own annotations
        // (the floor it holds) are read: dropping managedFields and the other annotations
        // (kubectl's last-applied copy) keeps a large cluster's cache small.
        .modify(|o: &mut K| {
            let meta = o.meta_mut();
            meta.managed_fields = None;
            if let Some(a) = meta.annotations.as_mut() {
                a.retain(|k, _| k.starts_with(super::PRESCALE_ANNOTATION_PREFIX));
            }
        })
        .default_backoff();
    let mut stream = std::pin::pin!(stream);
    // Log a failure once per episode, not on every retry.
    let mut failing = false;
    let mut absent = false;
    loop {
        let next = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            next = stream.next() => next,
        };
        match next {
            None => return,
            Some(Ok(event)) => {
                writer.apply_watcher_event(&event);
                if matches!(event, Event::InitDone) {
                    synced.send_replace(true);
                    tracing::info!(
                        resource = what,
                        count = writer.as_reader().len(),
                        "cache synced"
                    );
                }
                if failing || absent {
                    tracing::info!(resource = what, "watch recovered");
                }
                failing = false;
                absent = false;
            }
            Some(Err(e)) if watched.absent_means_none && resource_absent(&e) => {
                // The CRD is not installed (or was removed): there are none. Replace the
                // cache with an empty set, and keep retrying in case it is installed.
                writer.apply_watcher_event(&Event::Init);
                writer.apply_watcher_event(&Event::InitDone);
                synced.send_replace(true);
                if !absent {
                    tracing::info!(
                        resource = what,
                        "not installed (404); treating as none and retrying with back-off"
                    );
                }
                absent = true;
            }
            Some(Err(e)) => {
                if !failing {
                    tracing::warn!(resource = what, error = %e, "watch failed; keeping the last known state and retrying with back-off");
                } else {
                    tracing::debug!(resource = what, error = %e, "watch failed again");
                }
                failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> ScaleTargetRef {
        ScaleTargetRef {
            namespace: "shop".into(),
            name: "web".into(),
        }
    }

    fn hpa(ns: &str, kind: &str, name: &str, api_version: Option<&str>) -> HorizontalPodAutoscaler {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "h", "namespace": ns },
            "spec": {
                "scaleTargetRef": { "kind": kind, "name": name, "apiVersion": api_version },
                "maxReplicas": 3,
            },
        }))
        .expect("hpa")
    }

    fn so(ns: &str, target_ref: serde_json::Value) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": { "name": "s", "namespace": ns },
            "spec": { "scaleTargetRef": target_ref },
        }))
        .expect("scaled object")
    }

    #[test]
    fn an_hpa_matches_only_the_same_deployment_in_the_same_namespace() {
        assert!(hpa_targets(
            &hpa("shop", "Deployment", "web", Some("apps/v1")),
            &target()
        ));
        assert!(hpa_targets(
            &hpa("shop", "Deployment", "web", None),
            &target()
        ));
        assert!(!hpa_targets(
            &hpa("other", "Deployment", "web", Some("apps/v1")),
            &target()
        ));
        assert!(!hpa_targets(
            &hpa("shop", "StatefulSet", "web", Some("apps/v1")),
            &target()
        ));
        assert!(!hpa_targets(
            &hpa("shop", "Deployment", "api", Some("apps/v1")),
            &target()
        ));
        assert!(!hpa_targets(
            &hpa("shop", "Deployment", "web", Some("example.com/v1")),
            &target()
        ));
    }

    #[test]
    fn a_scaled_object_without_kind_targets_a_deployment() {
        let t = target();
        assert!(scaled_object_targets(
            &so("shop", serde_json::json!({ "name": "web" })),
            &t
        ));
        assert!(!scaled_object_targets(
            &so("other", serde_json::json!({ "name": "web" })),
            &t
        ));
        assert!(!scaled_object_targets(
            &so(
                "shop",
                serde_json::json!({ "name": "web", "kind": "StatefulSet" })
            ),
            &t
        ));
    }
}
