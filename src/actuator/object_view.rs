//! What a tick needs to know about an object of any scalable kind (a StatefulSet, an Argo
//! Rollout, a custom resource), read as a [`DynamicObject`]: the same [`DeploymentView`] a
//! Deployment gives, from the fields these kinds share by convention.
//!
//! - replicas: `spec.replicas` (1 when unset, as the API server defaults it for the built-in
//!   kinds; the path a CRD's `specReplicasPath` conventionally names);
//! - ready replicas: `status.readyReplicas` where the kind reports it (StatefulSet, ReplicaSet,
//!   Rollout and most operators), else `status.replicas` (a CRD's `statusReplicasPath`): a
//!   kind that does not say which pods are ready is taken as all ready;
//! - the pod selector: `spec.selector` as a label selector, else the string selector in
//!   `status.selector` (a CRD's `labelSelectorPath`, as `/scale` reports it).
//!
//! An object without `status.readyReplicas` or without a selector is marked
//! [`DeploymentView::from_scale`]: its ready replicas and selector are then read from its
//! `/scale` subresource's status, which serves the paths its CRD declares.

use super::{DeploymentView, PAUSED_ANNOTATION};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{ApiResource, DynamicObject};
use serde_json::Value;
use std::collections::BTreeMap;

fn count(v: &Value) -> Option<u32> {
    v.as_i64().map(|n| n.clamp(0, i64::from(u32::MAX)) as u32)
}

/// The view of `obj`, an object of the kind `ar` serves.
pub fn view_of_object(ar: &ApiResource, obj: &DynamicObject) -> DeploymentView {
    let meta = &obj.metadata;
    let spec = &obj.data["spec"];
    let status = &obj.data["status"];
    let status_replicas = count(&status["replicas"]);
    let (match_labels, has_match_expressions, has_selector) = selector(spec, status);
    DeploymentView {
        from_scale: status["readyReplicas"].is_null() || !has_selector,
        replicas: count(&spec["replicas"]).unwrap_or(1),
        ready: count(&status["readyReplicas"])
            .or(status_replicas)
            .unwrap_or(0),
        status_replicas: status_replicas.unwrap_or(0),
        generation: meta.generation.unwrap_or(0),
        observed_generation: status["observedGeneration"].as_i64().unwrap_or(0),
        resource_version: meta.resource_version.clone().unwrap_or_default(),
        paused: meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(PAUSED_ANNOTATION))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        replicas_owner: meta
            .managed_fields
            .as_deref()
            .and_then(super::kube::replicas_owner),
        reference: std::sync::Arc::new(ObjectReference {
            api_version: Some(ar.api_version.clone()),
            kind: Some(ar.kind.clone()),
            name: meta.name.clone(),
            namespace: meta.namespace.clone(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            field_path: None,
        }),
        match_labels,
        has_match_expressions,
    }
}

/// `matchLabels`, whether anything else (set-based terms) was left out, and whether the
/// object has a selector at all.
fn selector(spec: &Value, status: &Value) -> (BTreeMap<String, String>, bool, bool) {
    let s = &spec["selector"];
    if s.is_object() {
        let labels = s["matchLabels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let expressions = s["matchExpressions"]
            .as_array()
            .is_some_and(|e| !e.is_empty());
        return (labels, expressions, true);
    }
    match status["selector"].as_str().or_else(|| s.as_str()) {
        Some(text) => {
            let (labels, other) = parse_selector(text);
            (labels, other, true)
        }
        None => (BTreeMap::new(), false, false),
    }
}

/// Ready replicas and the pod selector from a `/scale` subresource's status (an object that
/// reports neither: [`DeploymentView::from_scale`]). `Scale` tells no readiness, so its
/// `status.replicas` are taken as ready.
pub fn apply_scale_status(
    view: &mut DeploymentView,
    status: Option<&k8s_openapi::api::autoscaling::v1::ScaleStatus>,
) {
    let Some(status) = status else { return };
    let replicas = status.replicas.max(0) as u32;
    view.ready = replicas;
    view.status_replicas = replicas;
    if let Some(selector) = status.selector.as_deref() {
        let (labels, other) = parse_selector(selector);
        view.match_labels = labels;
        view.has_match_expressions = other;
    }
}

/// A label selector string (`app=web,tier in (a,b)`): its equality terms, and whether it has
/// others.
fn parse_selector(text: &str) -> (BTreeMap<String, String>, bool) {
    let mut labels = BTreeMap::new();
    let mut other = false;
    // Set-based terms contain commas inside parentheses: split only outside them.
    let mut depth = 0usize;
    let mut terms = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    for term in terms.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let equality = term
            .split_once("==")
            .or_else(|| term.split_once('='))
            .filter(|(k, _)| !k.ends_with('!') && !k.contains(' '));
        match equality {
            Some((k, v)) => {
                labels.insert(k.trim().to_string(), v.trim().to_string());
            }
            None => other = true,
        }
    }
    (labels, other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statefulsets() -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("apps", "v1", "StatefulSet"),
            "statefulsets",
        )
    }

    fn object(v: Value) -> DynamicObject {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("test object: {e}"))
    }

    #[test]
    fn a_statefulset_reads_like_a_deployment() {
        let view = view_of_object(
            &statefulsets(),
            &object(json!({
                "apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": { "name": "db", "namespace": "shop", "resourceVersion": "7",
                              "generation": 3, "uid": "u1",
                              "annotations": { "prescale.io/paused": "true" } },
                "spec": { "replicas": 4, "selector": { "matchLabels": { "app": "db" } } },
                "status": { "replicas": 4, "readyReplicas": 2, "observedGeneration": 3 },
            })),
        );
        assert_eq!((view.replicas, view.ready, view.status_replicas), (4, 2, 4));
        assert_eq!(view.resource_version, "7");
        assert!(view.paused);
        assert_eq!(view.match_labels.get("app").map(String::as_str), Some("db"));
        assert_eq!(view.reference.kind.as_deref(), Some("StatefulSet"));
        assert_eq!(view.reference.api_version.as_deref(), Some("apps/v1"));
        assert!(
            !view.from_scale,
            "a StatefulSet reports its own ready count"
        );
    }

    #[test]
    fn a_custom_resource_without_the_conventions_reads_its_scale_status() {
        let ar = ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("example.com", "v1", "Worker"),
            "workers",
        );
        let mut view = view_of_object(
            &ar,
            &object(json!({
                "metadata": { "name": "ocr", "namespace": "docs", "resourceVersion": "9" },
                "spec": { "replicas": 3 },
                "status": { "current": 2, "labelSelector": "app=ocr" },
            })),
        );
        assert!(view.from_scale);
        assert!(view.match_labels.is_empty());
        apply_scale_status(
            &mut view,
            Some(&k8s_openapi::api::autoscaling::v1::ScaleStatus {
                replicas: 2,
                selector: Some("app=ocr,tier!=cpu".into()),
            }),
        );
        assert_eq!((view.replicas, view.ready, view.status_replicas), (3, 2, 2));
        assert_eq!(
            view.match_labels.get("app").map(String::as_str),
            Some("ocr")
        );
        assert!(view.has_match_expressions, "`!=` is not an equality");
    }

    #[test]
    fn a_custom_resource_without_ready_replicas_counts_its_replicas_and_string_selector() {
        let ar = ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("example.com", "v1", "Worker"),
            "workers",
        );
        let view = view_of_object(
            &ar,
            &object(json!({
                "apiVersion": "example.com/v1", "kind": "Worker",
                "metadata": { "name": "ocr", "namespace": "docs", "resourceVersion": "9" },
                "spec": { "replicas": 3 },
                "status": { "replicas": 3, "selector": "app=ocr,tier in (gpu,cpu)" },
            })),
        );
        assert_eq!((view.replicas, view.ready), (3, 3));
        assert_eq!(
            view.match_labels.get("app").map(String::as_str),
            Some("ocr")
        );
        assert_eq!(view.match_labels.len(), 1);
        assert!(view.has_match_expressions);
    }

    #[test]
    fn missing_and_negative_counts_are_safe() {
        let view = view_of_object(
            &statefulsets(),
            &object(json!({
                "metadata": { "name": "db", "namespace": "shop" },
                "spec": {}, "status": { "readyReplicas": -2 },
            })),
        );
        assert_eq!((view.replicas, view.ready, view.status_replicas), (1, 0, 0));
    }
}
