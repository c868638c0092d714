//! The Kubernetes API calls prescale makes: the one list that `deploy/`'s RBAC is tested
//! against (`tests/deploy_manifests.rs`), so the ClusterRole grants exactly what the code
//! uses and nothing more. `tests/api_calls.rs` drives the controller through every path
//! that touches the API and checks the calls it makes equal this list, both ways.

/// One group of API calls on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiCall {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// Resource, with `/subresource` where one is used.
    pub resource: &'static str,
    /// Verbs used.
    pub verbs: &'static [&'static str],
    /// Cluster-wide (ClusterRole) or only in prescale's own namespace (Role).
    pub scope: Scope,
}

/// Where a permission is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// In every namespace the targets live in: a ClusterRole.
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
    },
    // Active mode writes `spec.replicas` with a merge patch of the scale subresource only
    // (the patch returns the Scale; it is never read on its own).
    ApiCall {
        group: "apps",
        resource: "deployments/scale",
        verbs: &["patch"],
        scope: Scope::Cluster,
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
    },
    // Conflict detection: one cluster-wide list-then-watch each, shared by all targets.
    ApiCall {
        group: "autoscaling",
        resource: "horizontalpodautoscalers",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    // Only while KEDA is installed ([`DISCOVERY`] says whether it is).
    ApiCall {
        group: "keda.sh",
        resource: "scaledobjects",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    // Events are always created afresh (never folded into a series with a patch): see
    // `actuator::EventSink`.
    ApiCall {
        group: "events.k8s.io",
        resource: "events",
        verbs: &["create"],
        scope: Scope::Cluster,
    },
    // Leader election: read the Lease, create it, renew / take over / release it.
    ApiCall {
        group: "coordination.k8s.io",
        resource: "leases",
        verbs: &["get", "create", "update"],
        scope: Scope::OwnNamespace,
    },
];

/// API discovery paths prescale reads (non-resource URLs). Kubernetes grants them to every
/// authenticated user through the built-in `system:discovery` ClusterRole, so `deploy/`
/// grants nothing for them. Whether KEDA is installed is found here, every few minutes
/// while it is not, instead of failing ScaledObject lists.
pub const DISCOVERY: &[&str] = &["/apis/keda.sh/v1alpha1"];
