//! The controller's edge to the cluster: read the scaled object, a Deployment or any kind
//! with a `/scale` subresource (from watch-backed caches, or a GET per tick), find other
//! autoscalers that own it (from watch-backed caches), write replicas through `/scale`, and
//! publish Events. Only the calls listed in
//! [`crate::permissions::API_CALLS`] are made here.

mod autoscalers;
mod cache_watch;
mod crd_presence;
mod deletion_cost;
mod error;
mod events;
mod events_limit;
mod floor;
mod floor_cache;
mod kind_caches;
mod kube;
mod namespaced_cache;
mod object_view;
mod pods;
mod reads;
mod scale_kind;
mod watched_reads;

pub use autoscalers::{
    AutoscalerCache, hpa_targets, scaled_object_resource, scaled_object_targets,
};
pub use cache_watch::{WatchHealth, WatchSettings};
pub use deletion_cost::{
    CostMark, DELETION_COST_ANNOTATION, PRESCALE_COST_ANNOTATION, cost_mark, cost_patch,
};
pub use error::ClusterError;
pub use events::{EventLimits, EventSink, EventSpec, PublishEvent, Validity};
pub use events_limit::{Direction, EventLimiter, Verdict};
pub use floor::{
    FLOOR_ANNOTATION, FloorKind, FloorObject, FloorPatch, Held, OWNER_MIN_ANNOTATION, floor_object,
    floor_targets, keda_owner,
};
pub use floor_cache::FloorCandidates;
pub use kube::{KubeCluster, view_of};
pub use namespaced_cache::{NamespacedCache, STALE_AFTER};
pub use object_view::view_of_object;
pub use pods::{ready_endpoint, selector_query};
pub use reads::{ClusterReads, DirectReads, Followed};
pub use scale_kind::{KindKey, ScaleKinds, kind_key};
pub use watched_reads::{PodEntry, WatchedReads};

/// What a tick needs to know about the scaled object: a Deployment, or any kind with a
/// `/scale` subresource read the same way (`object_view`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentView {
    /// `spec.replicas` (1 when unset, as the API server defaults it).
    pub replicas: u32,
    /// `status.readyReplicas`.
    pub ready: u32,
    /// `status.replicas`: pods that exist, ready or not.
    pub status_replicas: u32,
    /// `metadata.generation`.
    pub generation: i64,
    /// `status.observedGeneration`.
    pub observed_generation: i64,
    /// `metadata.resourceVersion`, sent with a write so a concurrent change loses with 409.
    pub resource_version: String,
    /// The annotation `prescale.io/paused: "true"` is set.
    pub paused: bool,
    /// The field manager that owns `spec.replicas` (from `managedFields`): `prescale` when
    /// an instance of prescale set it last, e.g. `kubectl` after a person's `kubectl scale`.
    /// `None` when the API server reports no managed fields.
    pub replicas_owner: Option<String>,
    /// Reference used as the `regarding` object of Events: shared, since at thousands of
    /// targets nearly every target has an Event waiting in the queue, each holding one.
    pub reference: std::sync::Arc<k8s_openapi::api::core::v1::ObjectReference>,
    /// `spec.selector.matchLabels`: finds the Deployment's pods (for metrics scraped from
    /// every ready pod).
    pub match_labels: std::collections::BTreeMap<String, String>,
    /// `spec.selector.matchExpressions` is not empty; pods are found by `matchLabels` only.
    pub has_match_expressions: bool,
    /// The object reports no ready count or no pod selector of its own (a custom resource
    /// without those conventions): both are read from its `/scale` subresource's status.
    pub from_scale: bool,
}

/// Another autoscaler that targets the same Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtherAutoscaler {
    /// An `autoscaling/v2` HorizontalPodAutoscaler, by name.
    Hpa(String),
    /// A KEDA `keda.sh/v1alpha1` ScaledObject, by name.
    ScaledObject(String),
}

impl OtherAutoscaler {
    /// Short stable label for metrics (`hpa`, `scaledobject`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hpa(_) => "hpa",
            Self::ScaledObject(_) => "scaledobject",
        }
    }
}

impl std::fmt::Display for OtherAutoscaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hpa(n) => write!(f, "HorizontalPodAutoscaler {n}"),
            Self::ScaledObject(n) => write!(f, "ScaledObject {n}"),
        }
    }
}

/// The field manager prescale writes with, so its writes are recognised in `managedFields`.
pub const FIELD_MANAGER: &str = "prescale";

/// The annotation that pauses writes to a Deployment.
pub const PAUSED_ANNOTATION: &str = "prescale.io/paused";

/// prescale's own annotations start with this.
pub const PRESCALE_ANNOTATION_PREFIX: &str = "prescale.io/";
