//! What the RBAC objects of a rendered kustomization let a ServiceAccount do, evaluated the
//! way the API server's RBAC authorizer does for the rule shapes `deploy/` uses: a
//! ClusterRoleBinding grants its ClusterRole everywhere, a RoleBinding grants its Role (or
//! ClusterRole) in the binding's namespace only. Wildcards, `resourceNames`,
//! `nonResourceURLs` and aggregated roles are refused, so nothing is granted that this
//! evaluation does not see.
#![allow(dead_code)]

use crate::render::{of_kind, str_at};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// (API group, resource) -> verbs.
pub type Grants = BTreeMap<(String, String), BTreeSet<String>>;

/// One permission: where (`None`: every namespace and cluster-scoped resources, from a
/// ClusterRoleBinding; `Some(ns)`: in `ns` only), API group, resource, verb.
pub type Permission = (Option<String>, String, String, String);

/// A list of strings at `value`, panicking with `what` otherwise.
pub fn strings(value: &Value, what: &str) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what} must be a list: {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

/// What a Role or ClusterRole grants, refusing wildcards and anything `API_CALLS` cannot
/// express (non-resource URLs, resource names, aggregation).
pub fn granted(role: &Value) -> Grants {
    let name = str_at(role, "/metadata/name");
    assert!(
        role.get("aggregationRule").is_none(),
        "{name}: no aggregated roles"
    );
    let mut grants = Grants::new();
    for rule in role["rules"].as_array().expect("rules") {
        assert!(
            rule.get("nonResourceURLs").is_none() && rule.get("resourceNames").is_none(),
            "{name}: unexpected rule shape {rule}"
        );
        let groups = strings(&rule["apiGroups"], "apiGroups");
        let resources = strings(&rule["resources"], "resources");
        let verbs = strings(&rule["verbs"], "verbs");
        for s in groups.iter().chain(&resources).chain(&verbs) {
            assert!(!s.contains('*'), "{name}: wildcard `{s}` in {rule}");
        }
        for group in &groups {
            for resource in &resources {
                grants
                    .entry((group.clone(), resource.clone()))
                    .or_default()
                    .extend(verbs.iter().cloned());
            }
        }
    }
    grants
}

/// Everything a ServiceAccount is granted, by where.
pub struct Access(BTreeMap<Option<String>, Grants>);

impl Access {
    /// What `docs` grant the ServiceAccount `sa_namespace/sa_name` through the bindings
    /// that name it.
    pub fn of(docs: &[Value], sa_namespace: &str, sa_name: &str) -> Access {
        let mut by_scope: BTreeMap<Option<String>, Grants> = BTreeMap::new();
        for kind in ["ClusterRoleBinding", "RoleBinding"] {
            for binding in of_kind(docs, kind) {
                let binding_ns = binding["metadata"]["namespace"].as_str();
                let names_it = binding["subjects"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| {
                        s["kind"] == "ServiceAccount"
                            && s["name"] == sa_name
                            && s["namespace"].as_str().or(binding_ns) == Some(sa_namespace)
                    });
                if !names_it {
                    continue;
                }
                let role_kind = str_at(binding, "/roleRef/kind");
                let role_name = str_at(binding, "/roleRef/name");
                let role = of_kind(docs, role_kind)
                    .into_iter()
                    .find(|r| {
                        r["metadata"]["name"] == role_name
                            && (role_kind == "ClusterRole"
                                || r["metadata"]["namespace"].as_str() == binding_ns)
                    })
                    .unwrap_or_else(|| {
                        panic!("{kind} {binding_ns:?}/{role_name}: its {role_kind} is missing")
                    });
                let scope = match kind {
                    "ClusterRoleBinding" => None,
                    _ => Some(binding_ns.expect("a RoleBinding's namespace").to_owned()),
                };
                let grants = by_scope.entry(scope).or_default();
                for (key, verbs) in granted(role) {
                    grants.entry(key).or_default().extend(verbs);
                }
            }
        }
        Access(by_scope)
    }

    /// The grants that hold exactly at `scope` (not counting cluster-wide ones there).
    pub fn at(&self, scope: Option<&str>) -> Grants {
        self.0
            .get(&scope.map(str::to_owned))
            .cloned()
            .unwrap_or_default()
    }

    /// The namespaces where a RoleBinding grants something.
    pub fn namespaces(&self) -> BTreeSet<String> {
        self.0.keys().flatten().cloned().collect()
    }

    /// May the ServiceAccount `verb` `group`/`resource` in `namespace` (`None`: a
    /// cluster-wide request, e.g. a list across all namespaces)?
    pub fn allows(&self, namespace: Option<&str>, group: &str, resource: &str, verb: &str) -> bool {
        let holds = |scope: Option<&str>| {
            self.at(scope)
                .get(&(group.to_owned(), resource.to_owned()))
                .is_some_and(|verbs| verbs.contains(verb))
        };
        holds(None) || namespace.is_some_and(|ns| holds(Some(ns)))
    }

    /// Every permission granted.
    pub fn each(&self) -> BTreeSet<Permission> {
        self.0
            .iter()
            .flat_map(|(scope, grants)| {
                grants.iter().flat_map(move |((group, resource), verbs)| {
                    verbs.iter().map(move |verb| {
                        (scope.clone(), group.clone(), resource.clone(), verb.clone())
                    })
                })
            })
            .collect()
    }
}
