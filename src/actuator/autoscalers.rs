//! [`AutoscalerCache`]: the HPAs and KEDA ScaledObjects of the whole cluster (or of each
//! watched namespace, in a namespaced install), kept by watches started once and shared by
//! every target, so the per-tick conflict check reads memory instead of listing both
//! resources for every active target on every tick (at 1,000 targets every 15 s that would
//! be ~130 list calls a second). A cache is trusted once synced and until its watch has
//! been failing for `WatchSettings::stale_after`.

use super::cache_watch::{WatchHealth, WatchSettings, Watched, keep_watching};
use super::crd_presence::keep_scaled_objects;
use super::{ClusterError, OtherAutoscaler};
use crate::config::ScaleTargetRef;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector::{self, Store};
use std::time::Duration;
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

/// Whether `hpa` scales `target` (same namespace, kind, API group and name).
pub fn hpa_targets(hpa: &HorizontalPodAutoscaler, target: &ScaleTargetRef) -> bool {
    if hpa.metadata.namespace.as_deref() != Some(target.namespace.as_str()) {
        return false;
    }
    let Some(spec) = &hpa.spec else { return false };
    let r = &spec.scale_target_ref;
    r.name == target.name && target.same_kind(&r.kind, r.api_version.as_deref())
}

/// Whether ScaledObject `so` scales `target`.
pub fn scaled_object_targets(so: &DynamicObject, target: &ScaleTargetRef) -> bool {
    if so.metadata.namespace.as_deref() != Some(target.namespace.as_str()) {
        return false;
    }
    let r = &so.data["spec"]["scaleTargetRef"];
    r["name"].as_str() == Some(target.name.as_str()) && keda_ref_matches(r, target)
}

/// A KEDA `scaleTargetRef` (`kind` defaults to Deployment, `apiVersion` to `apps/v1`) names
/// `target`'s kind.
pub(super) fn keda_ref_matches(r: &serde_json::Value, target: &ScaleTargetRef) -> bool {
    let kind = r["kind"].as_str().unwrap_or("Deployment");
    let api_version = r["apiVersion"].as_str().or_else(|| {
        // KEDA defaults apiVersion to apps/v1 only for its own default kind.
        (kind == "Deployment").then_some("apps/v1")
    });
    target.same_kind(kind, api_version)
}

/// Caches of HPAs and ScaledObjects, filled by watches (list once, then watch from the
/// list's resourceVersion; re-list only when the watch is too old): one pair for the whole
/// cluster, or one per watched namespace.
#[derive(Clone)]
pub struct AutoscalerCache {
    /// One store per watched scope (the cluster, or each watched namespace).
    pub(super) hpas: Vec<Store<HorizontalPodAutoscaler>>,
    pub(super) scaled_objects: Vec<Store<DynamicObject>>,
    hpas_health: Vec<watch::Receiver<WatchHealth>>,
    scaled_objects_health: Vec<watch::Receiver<WatchHealth>>,
    stale_after: Duration,
}

const HPAS: &str = "HorizontalPodAutoscalers (autoscaling/v2)";
const SCALED_OBJECTS: &str = "ScaledObjects (keda.sh/v1alpha1)";

impl AutoscalerCache {
    /// Start both watches, cluster-wide (`namespaces` is `None`) or one pair per namespace
    /// (a namespaced install, whose RBAC grants nothing cluster-wide); they run until `stop`
    /// turns true. A watch that fails backs off and retries, keeping its last known state,
    /// trusted for `settings.stale_after`. A cluster without KEDA has no ScaledObjects: API
    /// discovery says so, and is asked again every `settings.crd_recheck` so KEDA installed
    /// later is picked up.
    pub fn start(
        client: Client,
        settings: WatchSettings,
        namespaces: Option<&[String]>,
        stop: watch::Receiver<bool>,
    ) -> (Self, Vec<JoinHandle<()>>) {
        let scopes: Vec<Option<String>> = match namespaces {
            None => vec![None],
            Some(list) => list.iter().map(|n| Some(n.clone())).collect(),
        };
        let ar = scaled_object_resource();
        let mut cache = Self {
            hpas: Vec::new(),
            scaled_objects: Vec::new(),
            hpas_health: Vec::new(),
            scaled_objects_health: Vec::new(),
            stale_after: settings.stale_after,
        };
        let mut handles = Vec::new();
        for scope in scopes {
            let (hpa_tx, hpa_health) = watch::channel(WatchHealth::default());
            let (so_tx, so_health) = watch::channel(WatchHealth::default());
            let mut hpa_writer = reflector::store::Writer::<HorizontalPodAutoscaler>::default();
            let so_writer = reflector::store::Writer::<DynamicObject>::new(ar.clone());
            cache.hpas.push(hpa_writer.as_reader());
            cache.scaled_objects.push(so_writer.as_reader());
            cache.hpas_health.push(hpa_health);
            cache.scaled_objects_health.push(so_health);
            let hpa_api: Api<HorizontalPodAutoscaler> = match &scope {
                None => Api::all(client.clone()),
                Some(ns) => Api::namespaced(client.clone(), ns),
            };
            let mut hpa_stop = stop.clone();
            handles.push(tokio::spawn(async move {
                let watched = Watched {
                    what: HPAS,
                    absent_ends: false,
                    health: &hpa_tx,
                    settings,
                };
                keep_watching(hpa_api, &mut hpa_writer, watched, &mut hpa_stop).await;
            }));
            handles.push(tokio::spawn(keep_scaled_objects(
                client.clone(),
                ar.clone(),
                scope,
                so_writer,
                so_tx,
                settings,
                stop.clone(),
            )));
        }
        (cache, handles)
    }

    /// Every cache has been filled from a complete list at least once.
    pub fn is_synced(&self) -> bool {
        self.hpas_health
            .iter()
            .chain(&self.scaled_objects_health)
            .all(|h| h.borrow().synced)
    }

    /// Wait until [`AutoscalerCache::is_synced`]; returns at once if it already is (and
    /// never returns if the watches stop before syncing).
    pub async fn wait_synced(&self) {
        for h in self.hpas_health.iter().chain(&self.scaled_objects_health) {
            let mut h = h.clone();
            if h.wait_for(|h| h.synced).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// An error when a cache's answer cannot be trusted now: one of its scopes never
    /// synced, or its watch has been failing for longer than `stale_after`.
    fn check(
        &self,
        what: &str,
        health: &[watch::Receiver<WatchHealth>],
    ) -> Result<(), ClusterError> {
        for h in health {
            let h = *h.borrow();
            if !h.synced {
                return Err(ClusterError::NotSynced { what: what.into() });
            }
            if let Some(since) = h.failing_since {
                let failing_for = since.elapsed();
                if failing_for >= self.stale_after {
                    return Err(ClusterError::WatchFailing {
                        what: what.into(),
                        code: None,
                        error: None,
                        failing_for,
                        bound: self.stale_after,
                    });
                }
            }
        }
        Ok(())
    }

    /// [`AutoscalerCache::check`] of both kinds.
    pub(super) fn trusted(&self) -> Result<(), ClusterError> {
        self.check(HPAS, &self.hpas_health)?;
        self.check(SCALED_OBJECTS, &self.scaled_objects_health)
    }

    /// Other autoscalers that target this Deployment, from the caches (no API call). Until
    /// both caches have synced once, or while a watch has been failing for longer than its
    /// bound, the answer is unknown and an error says so: the caller must not write on a
    /// guess.
    pub fn other_autoscalers(
        &self,
        target: &ScaleTargetRef,
    ) -> Result<Vec<OtherAutoscaler>, ClusterError> {
        self.trusted()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> ScaleTargetRef {
        ScaleTargetRef::deployment("shop", "web")
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
