//! Merge patches of any object as the API server applies them (`resourceVersion` checked
//! for 409, the patching field manager recorded in `managedFields` for each `spec` field it
//! changed, `generation` bumped on a spec change), with the validation the API server (or
//! KEDA's webhook) does for the objects prescale patches: an HPA's `minReplicas` between 1
//! and `maxReplicas` (defaulted to 1 when removed), a ScaledObject's `minReplicaCount` at
//! most `maxReplicaCount` (default 100), and a Pod's metadata only. Plus the test helpers
//! for HPAs and ScaledObjects with floors, and people and GitOps tools changing fields.

use super::ApiDouble;
use super::store::{ApiFailure, Store, merge_patch, now, own_spec_field};
use serde_json::{Value, json};

fn invalid(message: String) -> ApiFailure {
    ApiFailure::new(422, "Invalid", message)
}

/// The API server's and KEDA's validation of `obj` after a patch.
fn validate(resource: &str, obj: &mut Value) -> Result<(), ApiFailure> {
    match resource {
        "horizontalpodautoscalers" => {
            // Defaulted by the API server when absent.
            if obj["spec"]["minReplicas"].is_null() {
                obj["spec"]["minReplicas"] = json!(1);
            }
            let min = obj["spec"]["minReplicas"].as_i64().unwrap_or(-1);
            let max = obj["spec"]["maxReplicas"].as_i64().unwrap_or(0);
            if min < 1 {
                return Err(invalid(format!(
                    "HorizontalPodAutoscaler.autoscaling \"{}\" is invalid: spec.minReplicas: Invalid value: {min}: must be greater than or equal to 1",
                    obj["metadata"]["name"]
                )));
            }
            if min > max {
                return Err(invalid(format!(
                    "HorizontalPodAutoscaler.autoscaling \"{}\" is invalid: spec.maxReplicas: Invalid value: {max}: must be greater than or equal to `minReplicas`",
                    obj["metadata"]["name"]
                )));
            }
        }
        "scaledobjects" => {
            let min = obj["spec"]["minReplicaCount"].as_i64().unwrap_or(0);
            let max = obj["spec"]["maxReplicaCount"].as_i64().unwrap_or(100);
            if min < 0 || min > max {
                return Err(invalid(format!(
                    "admission webhook \"vscaledobject.kb.io\" denied the request: MinReplicaCount={min} must be less than MaxReplicaCount={max}"
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

impl Store {
    /// PATCH (merge patch) by `manager`: 404 if missing, 409 on a stale `resourceVersion`,
    /// 422 when the result is invalid; the spec fields it changed are the manager's.
    pub fn patch_managed(
        &mut self,
        resource: &str,
        ns: &str,
        name: &str,
        patch: &Value,
        manager: &str,
    ) -> Result<Value, ApiFailure> {
        let Some(stored) = self.get(resource, ns, name) else {
            return Err(ApiFailure::new(
                404,
                "NotFound",
                format!("{resource} \"{name}\" not found"),
            ));
        };
        self.check_rv(&stored, patch, &format!("{resource} \"{name}\""))?;
        let mut obj = stored.clone();
        merge_patch(&mut obj, patch);
        if resource == "pods" && obj["spec"] != stored["spec"] {
            return Err(invalid(format!(
                "Pod \"{name}\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`, ..."
            )));
        }
        validate(resource, &mut obj)?;
        self.finish_update(resource, ns, name, &stored, obj, manager)
    }

    /// Store `obj` replacing `stored`: the manager owns the spec fields it changed, and a
    /// spec change bumps `generation`.
    fn finish_update(
        &mut self,
        resource: &str,
        ns: &str,
        name: &str,
        stored: &Value,
        mut obj: Value,
        manager: &str,
    ) -> Result<Value, ApiFailure> {
        let api_version = obj["apiVersion"].clone();
        let changed: Vec<String> = obj["spec"]
            .as_object()
            .map(|spec| {
                spec.iter()
                    .filter(|(k, v)| stored["spec"][k.as_str()] != **v)
                    .map(|(k, _)| k.clone())
                    .chain(
                        stored["spec"]
                            .as_object()
                            .into_iter()
                            .flat_map(|s| s.keys())
                            .filter(|k| obj["spec"][k.as_str()].is_null())
                            .cloned(),
                    )
                    .collect()
            })
            .unwrap_or_default();
        for field in &changed {
            own_spec_field(&mut obj, manager, field, &api_version, None);
        }
        if obj["spec"] != stored["spec"] {
            let generation = stored["metadata"]["generation"].as_i64().unwrap_or(1);
            obj["metadata"]["generation"] = json!(generation + 1);
        }
        Ok(self.store(resource, ns, name, obj))
    }

    /// An HPA targeting Deployment `target` with `minReplicas` (unset: the API server's 1)
    /// and `maxReplicas`, as `kubectl apply` created it.
    pub fn put_hpa_with(&mut self, ns: &str, name: &str, target: &str, min: Option<u32>, max: u32) {
        let mut obj = json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {
                "name": name, "namespace": ns, "generation": 1,
                "uid": format!("uid-horizontalpodautoscalers-{ns}-{name}"),
                "creationTimestamp": now(),
            },
            "spec": {
                "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": target },
                "minReplicas": min.unwrap_or(1), "maxReplicas": max,
            },
        });
        let api_version = obj["apiVersion"].clone();
        for field in ["minReplicas", "maxReplicas", "scaleTargetRef"] {
            own_spec_field(
                &mut obj,
                "kubectl-client-side-apply",
                field,
                &api_version,
                None,
            );
        }
        self.store("horizontalpodautoscalers", ns, name, obj);
    }

    /// The HPA KEDA makes for ScaledObject `so` (labelled and owned by it).
    pub fn put_keda_hpa(&mut self, ns: &str, name: &str, target: &str, so: &str) {
        let obj = json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {
                "name": name, "namespace": ns,
                "labels": { "scaledobject.keda.sh/name": so, "app.kubernetes.io/managed-by": "keda-operator" },
                "ownerReferences": [ { "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
                                       "name": so, "uid": format!("uid-so-{so}"), "controller": true } ],
            },
            "spec": {
                "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": target },
                "minReplicas": 1, "maxReplicas": 100,
            },
        });
        self.store("horizontalpodautoscalers", ns, name, obj);
    }

    /// A ScaledObject targeting Deployment `target` with `minReplicaCount` and
    /// `maxReplicaCount` (each left unset when `None`); installs KEDA.
    pub fn put_scaled_object_with(
        &mut self,
        ns: &str,
        name: &str,
        target: &str,
        min: Option<u32>,
        max: Option<u32>,
    ) {
        self.keda_installed = true;
        let mut spec = json!({ "scaleTargetRef": { "name": target }, "triggers": [] });
        if let Some(min) = min {
            spec["minReplicaCount"] = json!(min);
        }
        if let Some(max) = max {
            spec["maxReplicaCount"] = json!(max);
        }
        let mut obj = json!({
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": { "name": name, "namespace": ns, "generation": 1,
                          "uid": format!("uid-scaledobjects-{ns}-{name}"), "creationTimestamp": now() },
            "spec": spec,
        });
        let api_version = obj["apiVersion"].clone();
        for field in ["minReplicaCount", "maxReplicaCount", "scaleTargetRef"] {
            if !obj["spec"][field].is_null() {
                own_spec_field(
                    &mut obj,
                    "kubectl-client-side-apply",
                    field,
                    &api_version,
                    None,
                );
            }
        }
        self.store("scaledobjects", ns, name, obj);
    }

    /// Someone (`manager`, e.g. `kubectl-edit`) sets `spec.<field>` of an object to `value`
    /// (`None` removes it), validated like a patch. Not recorded as a request.
    pub fn edit_spec_by_hand(
        &mut self,
        resource: &str,
        ns: &str,
        name: &str,
        field: &str,
        value: Option<u64>,
        manager: &str,
    ) {
        let patch = json!({ "spec": { field: value } });
        self.patch_managed(resource, ns, name, &patch, manager)
            .unwrap_or_else(|f| panic!("edit by hand refused: {}", f.message));
    }
}

impl ApiDouble {
    /// An `autoscaling/v2` HPA targeting Deployment `target` with `minReplicas` (unset: 1)
    /// and `maxReplicas`.
    pub fn put_hpa_with(&self, ns: &str, name: &str, target: &str, min: Option<u32>, max: u32) {
        self.with(|s| s.put_hpa_with(ns, name, target, min, max));
    }

    /// The HPA KEDA makes for ScaledObject `so`.
    pub fn put_keda_hpa(&self, ns: &str, name: &str, target: &str, so: &str) {
        self.with(|s| s.put_keda_hpa(ns, name, target, so));
    }

    /// A KEDA ScaledObject targeting Deployment `target` with `minReplicaCount` and
    /// `maxReplicaCount` (unset when `None`).
    pub fn put_scaled_object_with(
        &self,
        ns: &str,
        name: &str,
        target: &str,
        min: Option<u32>,
        max: Option<u32>,
    ) {
        self.with(|s| s.put_scaled_object_with(ns, name, target, min, max));
    }

    /// A person or tool (`manager`) sets `spec.<field>` of an object of `resource` (plural).
    pub fn edit_spec_by_hand(
        &self,
        resource: &str,
        ns: &str,
        name: &str,
        field: &str,
        value: Option<u64>,
        manager: &str,
    ) {
        self.with(|s| s.edit_spec_by_hand(resource, ns, name, field, value, manager));
    }

    /// `spec.<field>` of an object, as a number (`None`: unset or missing object).
    pub fn spec_number(&self, resource: &str, ns: &str, name: &str, field: &str) -> Option<u64> {
        self.get(resource, ns, name)
            .and_then(|o| o["spec"][field].as_u64())
    }

    /// An annotation of an object.
    pub fn annotation(&self, resource: &str, ns: &str, name: &str, key: &str) -> Option<String> {
        self.get(resource, ns, name).and_then(|o| {
            o["metadata"]["annotations"][key]
                .as_str()
                .map(str::to_string)
        })
    }

    /// A GitOps tool (`manager`, e.g. `argocd-controller`) syncs the Deployment's
    /// `spec.replicas` back to `replicas` (an Update of the Deployment, not of `/scale`).
    pub fn sync_replicas_as(&self, ns: &str, name: &str, replicas: u32, manager: &str) {
        self.with(|s| {
            let instant = s.instant_rollout;
            let Some(stored) = s.get("deployments", ns, name) else {
                return;
            };
            let mut d = stored.clone();
            d["spec"]["replicas"] = json!(replicas);
            if instant {
                d["status"]["replicas"] = json!(replicas);
                d["status"]["readyReplicas"] = json!(replicas);
            }
            s.finish_update("deployments", ns, name, &stored, d, manager)
                .expect("sync");
        });
    }

    /// Successful PATCHes of pods, in order, as `(position in writes(), pod, body)`.
    pub fn pod_patches(&self) -> Vec<(usize, String, Value)> {
        self.writes()
            .into_iter()
            .enumerate()
            .filter(|(_, w)| w.method == "PATCH" && w.path.contains("/pods/") && w.status < 300)
            .map(|(i, w)| {
                let name = w.path.rsplit('/').next().unwrap_or_default().to_string();
                (i, name, w.body)
            })
            .collect()
    }

    /// Positions in `writes()` of successful `/scale` patches, with the replicas set.
    pub fn scale_patches(&self) -> Vec<(usize, u32)> {
        self.writes()
            .into_iter()
            .enumerate()
            .filter(|(_, w)| w.method == "PATCH" && w.path.ends_with("/scale") && w.status < 300)
            .filter_map(|(i, w)| w.body["spec"]["replicas"].as_u64().map(|r| (i, r as u32)))
            .collect()
    }

    /// Set an annotation on a pod (someone else's, not through a request).
    pub fn with_pod_annotation(&self, ns: &str, name: &str, key: &str, value: &str) {
        self.with(|s| {
            if let Some(mut p) = s.get("pods", ns, name) {
                p["metadata"]["annotations"][key] = json!(value);
                s.store("pods", ns, name, p);
            }
        });
    }

    /// A pod of Deployment `deployment` created at `created` (RFC 3339), ready or not.
    pub fn put_pod_created(
        &self,
        ns: &str,
        name: &str,
        deployment: &str,
        ip: &str,
        ready: bool,
        created: &str,
    ) {
        self.with(|s| {
            s.put_pod(ns, name, deployment, ip, ready);
            if let Some(mut p) = s.get("pods", ns, name) {
                p["metadata"]["creationTimestamp"] = json!(created);
                s.store("pods", ns, name, p);
            }
        });
    }
}
