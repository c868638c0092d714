//! The Kubernetes API calls prescale makes: the one list that `deploy/`'s RBAC is tested
//! against, so the ClusterRole grants exactly what the code uses and nothing more.

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
    ApiCall {
        group: "apps",
        resource: "deployments",
        verbs: &["get", "list", "watch"],
        scope: Scope::Cluster,
    },
    ApiCall {
        group: "apps",
        resource: "deployments/scale",
        verbs: &["get", "patch"],
        scope: Scope::Cluster,
    },
    ApiCall {
        group: "autoscaling",
        resource: "horizontalpodautoscalers",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    ApiCall {
        group: "keda.sh",
        resource: "scaledobjects",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    ApiCall {
        group: "",
        resource: "pods",
        verbs: &["list", "watch"],
        scope: Scope::Cluster,
    },
    ApiCall {
        group: "events.k8s.io",
        resource: "events",
        verbs: &["create", "patch"],
        scope: Scope::Cluster,
    },
    ApiCall {
        group: "coordination.k8s.io",
        resource: "leases",
        verbs: &["get", "create", "update"],
        scope: Scope::OwnNamespace,
    },
];
