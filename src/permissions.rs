//! The Kubernetes API calls prescale makes, per feature: the one list that `deploy/`'s RBAC
//! is tested against (`tests/deploy_manifests.rs`), so each overlay grants exactly what the
//! features it enables use and nothing more. `tests/api_calls.rs` drives the controller in
//! each mode and checks the calls it makes equal this list, both ways.
//!
//! Every install grants the [`Feature::Core`] calls; an overlay (or a component in your own
//! overlay) adds the calls of each feature it enables: pods listed only where metrics are
//! scraped from every pod or pod deletion costs are written, HPAs and ScaledObjects patched
//! only where prescale raises their floor.

/// What a group of calls is for. An install grants [`Feature::Core`] and the features its
/// config uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// Every install: read targets, write `/scale`, watch HPAs and ScaledObjects (the
    /// conflict check), Events, the leader Lease.
    Core,
    /// Metrics scraped from every ready pod (`scrape: {pods: ...}`): list the target's pods.
    /// Overlay `deploy/overlays/pod-metrics` (component `deploy/components/pod-metrics`).
    PodMetrics,
    /// Work-aware scale-down (`podDeletionCost.enabled`): list the target's pods and
    /// annotate the ones to remove first. Overlay `deploy/overlays/pod-deletion-cost`.
    PodDeletionCost,
    /// A floor under an HPA or ScaledObject (`actuation: hpaMinReplicas` or
    /// `kedaMinReplicaCount`): read and patch the autoscaler that targets the Deployment.
    /// Overlay `deploy/overlays/autoscaler-floor`.
    AutoscalerFloor,
    /// Targets that scale a StatefulSet (`scaleTargetRef: {kind: StatefulSet}`): read
    /// StatefulSets and write their `/scale`. Overlay `deploy/overlays/statefulsets`.
    StatefulSets,
    /// Targets that scale an Argo Rollout (`apiVersion: argoproj.io/v1alpha1`, `kind:
    /// Rollout`). Overlay `deploy/overlays/argo-rollouts`. Any other kind with `/scale` is
    /// granted the same way (docs/deploy.md, "Other kinds").
    ArgoRollouts,
}

impl Feature {
    /// Every feature, [`Feature::Core`] first.
    pub const ALL: [Feature; 6] = [
        Feature::Core,
        Feature::PodMetrics,
        Feature::PodDeletionCost,
        Feature::AutoscalerFloor,
        Feature::StatefulSets,
        Feature::ArgoRollouts,
    ];
}

/// One group of API calls on one resource, for one feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiCall {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// Resource, with `/subresource` where one is used.
    pub resource: &'static str,
    /// Verbs used.
    pub verbs: &'static [&'static str],
    /// Where the calls are made.
    pub scope: Scope,
    /// The feature that makes them.
    pub feature: Feature,
}

/// Where a permission is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// In every namespace the targets live in: a ClusterRole, or in a namespaced install
    /// (`deploy/overlays/namespaced`, `prescale run --namespaces`) a Role in each watched
    /// namespace.
    Cluster,
    /// Only in prescale's own namespace: a Role.
    OwnNamespace,
}

/// Every API call the controller makes.
pub const API_CALLS: &[ApiCall] = &[
    // Each tick reads its target's Deployment (replicas, status, the pause annotation, the
    // resourceVersion its write carries) from a cache kept by one list-then-watch per
    // namespace that has targets (`--cluster-reads watch`, the default); a `get` re-reads it
    // after a 409, and reads it on every tick with `--cluster-reads get`.
    ApiCall {
        group: "apps",
        resource: "deployments",
        verbs: &["get", "list", "watch"],
        scope: Scope::Cluster,
        feature: Feature::Core,
    },
    // Active mode writes `spec.replicas` with a merge patch of the scale subresource only
    // (the patch returns the Scale; it is never read on its own).
    ApiCall {
        group: "apps",
        resource: "deployments/scale",
        verbs: &["patch"],
        scope: Scope::Cluster,
        feature: Feature::Core,
    },
    // Conflict detection, and finding the HPA or ScaledObject a floor goes under: one
    // list-then-watch each (cluster-wide, or per watched namespace), shared by all targets.
    ApiCall {
        group: "autoscaling",
        resource: "horizontalpodautoscalers",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
        feature: Feature::Core,
    },
    // Only while KEDA is installed ([`DISCOVERY`] says whether it is).
    ApiCall {
        group: "keda.sh",
        resource: "scaledobjects",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
        feature: Feature::Core,
    },
    // Events are always created afresh (never folded into a series with a patch): see
    // `actuator::EventSink`. About targets in their namespaces...
    ApiCall {
        group: "events.k8s.io",
        resource: "events",
        verbs: &["create"],
        scope: Scope::Cluster,
        feature: Feature::Core,
    },
    // ...and about prescale's own Pod (`ConfigRejected`) in its own namespace, which a
    // namespaced install does not otherwise cover.
    ApiCall {
        group: "events.k8s.io",
        resource: "events",
        verbs: &["create"],
        scope: Scope::OwnNamespace,
        feature: Feature::Core,
    },
    // Leader election: read the Lease, create it, renew / take over / release it; the same
    // on the `--shards` fence Lease.
    ApiCall {
        group: "coordination.k8s.io",
        resource: "leases",
        verbs: &["get", "create", "update"],
        scope: Scope::OwnNamespace,
        feature: Feature::Core,
    },
    // Metrics scraped from every ready pod (`scrape: {pods: ...}`): the pods of the
    // namespaces of such targets are kept by a list-then-watch (their IPs, labels and
    // readiness); with `--cluster-reads get` each tick lists the Deployment's pods by its
    // selector's matchLabels instead. Namespaces without such targets are never listed.
    ApiCall {
        group: "",
        resource: "pods",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
        feature: Feature::PodMetrics,
    },
    // Work-aware scale-down: before a scale-down, list the Deployment's pods and set
    // `controller.kubernetes.io/pod-deletion-cost` on the ones to remove first (a merge
    // patch of their annotations, nothing else).
    ApiCall {
        group: "",
        resource: "pods",
        verbs: &["list", "patch"],
        scope: Scope::Cluster,
        feature: Feature::PodDeletionCost,
    },
    // A floor under the autoscaler in charge: read it fresh (its annotations and
    // managedFields tell the owner's value and who changed it), then merge-patch
    // `spec.minReplicas` / `spec.minReplicaCount` with its resourceVersion.
    ApiCall {
        group: "autoscaling",
        resource: "horizontalpodautoscalers",
        verbs: &["get", "patch"],
        scope: Scope::Cluster,
        feature: Feature::AutoscalerFloor,
    },
    ApiCall {
        group: "keda.sh",
        resource: "scaledobjects",
        verbs: &["get", "patch"],
        scope: Scope::Cluster,
        feature: Feature::AutoscalerFloor,
    },
    // Another kind than Deployment is read and written like a Deployment: from a
    // list-then-watch per namespace (a `get` after a 409, or every tick with
    // `--cluster-reads get`), and `spec.replicas` written through `/scale` only. Its
    // `apiVersion` is looked up through discovery first ([`kind_discovery_path`]).
    ApiCall {
        group: "apps",
        resource: "statefulsets",
        verbs: &["get", "list", "watch"],
        scope: Scope::Cluster,
        feature: Feature::StatefulSets,
    },
    ApiCall {
        group: "apps",
        resource: "statefulsets/scale",
        verbs: &["patch"],
        scope: Scope::Cluster,
        feature: Feature::StatefulSets,
    },
    ApiCall {
        group: "argoproj.io",
        resource: "rollouts",
        verbs: &["get", "list", "watch"],
        scope: Scope::Cluster,
        feature: Feature::ArgoRollouts,
    },
    ApiCall {
        group: "argoproj.io",
        resource: "rollouts/scale",
        verbs: &["patch"],
        scope: Scope::Cluster,
        feature: Feature::ArgoRollouts,
    },
];

/// The calls of `features` (duplicates merged by the caller's set), in `scope` or any.
pub fn calls_of(
    features: &[Feature],
    scope: Option<Scope>,
) -> Vec<(&'static str, &'static str, &'static str)> {
    API_CALLS
        .iter()
        .filter(|c| features.contains(&c.feature) && scope.is_none_or(|s| c.scope == s))
        .flat_map(|c| c.verbs.iter().map(move |v| (c.group, c.resource, *v)))
        .collect()
}
/// API discovery paths prescale always reads (non-resource URLs). Kubernetes grants them to
/// every authenticated user through the built-in `system:discovery` ClusterRole, so
/// `deploy/` grants nothing for them. Whether KEDA is installed is found here, every few
/// minutes while it is not, instead of failing ScaledObject lists. Targets of other kinds
/// than Deployment add their own group version's path ([`kind_discovery_path`]).
pub const DISCOVERY: &[&str] = &["/apis/keda.sh/v1alpha1"];

/// The discovery path read for a target that scales a kind served in `api_version`
/// (`/apis/apps/v1`, or `/api/v1` for the core group): the resource name and whether it has
/// `/scale` are found there.
pub fn kind_discovery_path(api_version: &str) -> String {
    if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    }
}
