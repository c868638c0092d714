//! [`KubeCluster`]: the real cluster through the kube client.

use super::error::with_deadline;
use super::object_view::{apply_scale_status, view_of_object};
use super::scale_kind::ScaleKinds;
use super::{ClusterError, DeploymentView, FIELD_MANAGER, PAUSED_ANNOTATION};
use crate::config::ScaleTargetRef;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Client, Resource};
use std::time::Duration;

/// Reads and writes the scaled objects through the kube client, each call with a deadline
/// (the client itself has no read timeout, and a hung call must never stall a target
/// forever). Deployments go through the typed client; other kinds through the resource
/// discovery found for them ([`ScaleKinds`]).
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    deadline: Duration,
    kinds: ScaleKinds,
}

/// The manager owning `spec.replicas`: the entry whose fields include `f:spec.f:replicas`,
/// the most recent one if (with server-side apply) several share it.
pub(super) fn replicas_owner(entries: &[ManagedFieldsEntry]) -> Option<String> {
    entries
        .iter()
        .filter(|e| {
            e.fields_v1.as_ref().is_some_and(|f| {
                f.0.get("f:spec")
                    .and_then(|s| s.get("f:replicas"))
                    .is_some()
            })
        })
        .max_by_key(|e| e.time.as_ref().map(|t| t.0))
        .and_then(|e| e.manager.clone())
}

fn to_u32(v: Option<i32>) -> u32 {
    v.map(|v| v.max(0) as u32).unwrap_or(0)
}

impl KubeCluster {
    /// Wrap a client; every call gives up after `deadline`.
    pub fn new(client: Client, deadline: Duration) -> Self {
        Self {
            kinds: ScaleKinds::new(client.clone()),
            client,
            deadline,
        }
    }

    /// Where the configured kinds are served (shared with the watch caches).
    pub fn kinds(&self) -> &ScaleKinds {
        &self.kinds
    }

    /// The underlying client (for the leader elector and the event recorder).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// How long each call may take.
    pub(super) fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Read the object the target scales.
    pub async fn read_deployment(
        &self,
        target: &ScaleTargetRef,
    ) -> Result<DeploymentView, ClusterError> {
        let what = target.to_string();
        if target.is_deployment() {
            let api: Api<Deployment> = Api::namespaced(self.client.clone(), &target.namespace);
            let d = with_deadline(what, self.deadline, api.get(&target.name)).await?;
            return Ok(view_of(&d));
        }
        let (ar, api) = self.dynamic_api(target).await?;
        let o = with_deadline(what, self.deadline, api.get(&target.name)).await?;
        let mut view = view_of_object(&ar, &o);
        self.complete_from_scale(target, &mut view).await?;
        Ok(view)
    }

    /// The API of `target`'s kind (not a Deployment) in its namespace, as discovery found
    /// it.
    async fn dynamic_api(
        &self,
        target: &ScaleTargetRef,
    ) -> Result<(ApiResource, Api<DynamicObject>), ClusterError> {
        let ar = self.kinds.resolve(target).await?;
        let api = Api::namespaced_with(self.client.clone(), &target.namespace, &ar);
        Ok((ar, api))
    }

    /// For an object that reports no ready count or no pod selector of its own
    /// ([`DeploymentView::from_scale`]), read both from its `/scale` subresource's status
    /// (`status.replicas`, counted as ready, and the string `status.selector`): the paths
    /// its CRD declares, whatever they are. Nothing is read for any other object.
    pub async fn complete_from_scale(
        &self,
        target: &ScaleTargetRef,
        view: &mut DeploymentView,
    ) -> Result<(), ClusterError> {
        if !view.from_scale {
            return Ok(());
        }
        let (_, api) = self.dynamic_api(target).await?;
        let what = format!("{target} /scale");
        let scale = with_deadline(what, self.deadline, api.get_scale(&target.name)).await?;
        apply_scale_status(view, scale.status.as_ref());
        Ok(())
    }

    /// Set `spec.replicas` from `from` to `to` through the `/scale` subresource with a merge
    /// patch that carries the `resourceVersion` read this tick, so a concurrent change (a
    /// person's `kubectl scale`, another writer, a new leader) makes this write fail with
    /// 409 instead of overwriting it. Returns the Deployment's `resourceVersion` after the
    /// write (from the returned Scale), by which a watch cache that has not caught up with
    /// the write yet is recognised.
    ///
    /// Nothing is sent when `from == to` (a patch that changes nothing is still a request,
    /// and an audit-log entry): `Ok(None)`; nor without a `resourceVersion`: a patch without
    /// one is an unconditional write, so the caller reads the Deployment again
    /// ([`ClusterError::NoResourceVersion`]).
    pub async fn scale(
        &self,
        target: &ScaleTargetRef,
        from: u32,
        to: u32,
        resource_version: &str,
    ) -> Result<Option<String>, ClusterError> {
        let what = format!("{target} /scale");
        if from == to {
            return Ok(None);
        }
        if resource_version.trim().is_empty() {
            return Err(ClusterError::NoResourceVersion { what });
        }
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": resource_version },
            "spec": { "replicas": to },
        });
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        let patch = Patch::Merge(&patch);
        let scale = if target.is_deployment() {
            let api: Api<Deployment> = Api::namespaced(self.client.clone(), &target.namespace);
            with_deadline(
                what,
                self.deadline,
                api.patch_scale(&target.name, &pp, &patch),
            )
            .await?
        } else {
            let (_, api) = self.dynamic_api(target).await?;
            with_deadline(
                what,
                self.deadline,
                api.patch_scale(&target.name, &pp, &patch),
            )
            .await?
        };
        Ok(scale.metadata.resource_version)
    }
}

/// What a tick needs to know about Deployment `d` (from a GET or a watch event).
pub fn view_of(d: &Deployment) -> DeploymentView {
    let paused = d
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PAUSED_ANNOTATION))
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let spec_replicas = d.spec.as_ref().and_then(|s| s.replicas);
    let selector = d.spec.as_ref().map(|s| &s.selector);
    let status = d.status.as_ref();
    DeploymentView {
        // The API server defaults an unset spec.replicas to 1.
        replicas: spec_replicas.map(|r| r.max(0) as u32).unwrap_or(1),
        ready: to_u32(status.and_then(|s| s.ready_replicas)),
        status_replicas: to_u32(status.and_then(|s| s.replicas)),
        generation: d.metadata.generation.unwrap_or(0),
        observed_generation: status.and_then(|s| s.observed_generation).unwrap_or(0),
        resource_version: d.metadata.resource_version.clone().unwrap_or_default(),
        paused,
        replicas_owner: d
            .metadata
            .managed_fields
            .as_deref()
            .and_then(replicas_owner),
        reference: std::sync::Arc::new(d.object_ref(&())),
        match_labels: selector
            .and_then(|s| s.match_labels.clone())
            .unwrap_or_default(),
        has_match_expressions: selector
            .and_then(|s| s.match_expressions.as_ref())
            .is_some_and(|e| !e.is_empty()),
        from_scale: false,
    }
}
