//! [`ScaleKinds`]: where the API server serves a configured `apiVersion`/`kind` and whether it
//! has a `/scale` subresource, found through API discovery (`GET /apis/GROUP/VERSION`, which
//! every authenticated user may read through `system:discovery`). Deployments need none:
//! they are read and written through the typed client.
//!
//! A kind that is found is remembered for the life of the process; one that is not (its CRD
//! not installed yet, no `/scale`) is asked again after [`RETRY_AFTER`], so installing the
//! CRD later needs no restart, and a hundred targets of a missing kind cost one discovery
//! call per [`RETRY_AFTER`], not one per tick.

use super::ClusterError;
use crate::config::ScaleTargetRef;
use kube::Client;
use kube::api::{ApiResource, GroupVersionKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How long a kind that discovery did not find (or found without `/scale`) is taken as
/// such before discovery is asked again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Longest wait for a discovery answer (also KEDA's, `crd_presence`).
pub(super) const DISCOVERY_DEADLINE: Duration = Duration::from_secs(30);

/// `apiVersion` and `kind`.
pub type KindKey = (String, String);

#[derive(Clone)]
enum Known {
    Found(ApiResource),
    /// Discovery answered that the kind cannot be scaled: why, and since when.
    Unscalable(String, Instant),
}

/// Discovery results per kind, shared by the reads and the writes.
#[derive(Clone)]
pub struct ScaleKinds {
    client: Client,
    known: Arc<Mutex<HashMap<KindKey, Known>>>,
}

/// The key of `target`'s kind.
pub fn kind_key(target: &ScaleTargetRef) -> KindKey {
    (target.api_version.clone(), target.kind.clone())
}

impl ScaleKinds {
    /// Ask discovery through `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            known: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The resource that serves `target`'s kind, with a `/scale` subresource. An error names
    /// what is missing (the group version, the kind, the subresource) and the fix; a failed
    /// discovery call (timeout, 5xx) is not remembered.
    pub async fn resolve(&self, target: &ScaleTargetRef) -> Result<ApiResource, ClusterError> {
        let key = kind_key(target);
        let cached = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let unscalable = |problem: String| ClusterError::Unscalable {
            what: target.to_string(),
            problem,
        };
        match cached {
            Some(Known::Found(ar)) => return Ok(ar),
            Some(Known::Unscalable(problem, at)) if at.elapsed() < RETRY_AFTER => {
                return Err(unscalable(problem));
            }
            _ => {}
        }
        let found = discover(&self.client, target).await;
        let remembered = match &found {
            Ok(ar) => Some(Known::Found(ar.clone())),
            Err(ClusterError::Unscalable { problem, .. }) => {
                Some(Known::Unscalable(problem.clone(), Instant::now()))
            }
            Err(_) => None,
        };
        if let Some(k) = remembered {
            if let Known::Unscalable(problem, _) = &k {
                tracing::warn!(api_version = %key.0, kind = %key.1, problem = %problem, "kind cannot be scaled; asking discovery again in {}s", RETRY_AFTER.as_secs());
            }
            self.known
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, k);
        }
        found
    }
}

/// One discovery call for `target`'s group version.
async fn discover(client: &Client, target: &ScaleTargetRef) -> Result<ApiResource, ClusterError> {
    let what = format!("{target}");
    let group_version = &target.api_version;
    let path = crate::permissions::kind_discovery_path(group_version);
    let asked = async {
        if target.group().is_empty() {
            client.list_core_api_resources(group_version).await
        } else {
            client.list_api_group_resources(group_version).await
        }
    };
    let list = match tokio::time::timeout(DISCOVERY_DEADLINE, asked).await {
        Ok(Ok(list)) => list,
        Ok(Err(kube::Error::Api(s))) if s.code == 404 => {
            return Err(ClusterError::Unscalable {
                what,
                problem: format!(
                    "the API server does not serve {group_version} (discovery {path}: 404); install the CRD or the API that serves {}, or fix scaleTargetRef.apiVersion",
                    target.kind
                ),
            });
        }
        Ok(Err(e)) => return Err(ClusterError::from_kube(format!("API discovery {path}"), e)),
        Err(_) => {
            return Err(ClusterError::Timeout {
                what: format!("API discovery {path}"),
                after: DISCOVERY_DEADLINE,
            });
        }
    };
    let Some(resource) = list
        .resources
        .iter()
        .find(|r| r.kind == target.kind && !r.name.contains('/'))
    else {
        let mut served: Vec<&str> = list
            .resources
            .iter()
            .filter(|r| !r.name.contains('/'))
            .map(|r| r.kind.as_str())
            .collect();
        served.sort_unstable();
        served.dedup();
        return Err(ClusterError::Unscalable {
            what,
            problem: format!(
                "{group_version} has no kind {} (it serves: {}); fix scaleTargetRef.kind or scaleTargetRef.apiVersion",
                target.kind,
                served.join(", ")
            ),
        });
    };
    if !resource.namespaced {
        return Err(ClusterError::Unscalable {
            what,
            problem: format!(
                "{}.{} is cluster-scoped, and a target scales an object in a namespace",
                resource.name,
                target.group()
            ),
        });
    }
    let scale = format!("{}/scale", resource.name);
    if !list.resources.iter().any(|r| r.name == scale) {
        return Err(ClusterError::Unscalable {
            what,
            problem: format!(
                "{}.{} has no /scale subresource, and prescale scales only through /scale; for a custom resource, add `subresources: {{scale: {{specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas, labelSelectorPath: .status.selector}}}}` to its CRD version",
                resource.name,
                target.group()
            ),
        });
    }
    let gvk = GroupVersionKind::gvk(target.group(), target.version(), &target.kind);
    Ok(ApiResource::from_gvk_with_plural(&gvk, &resource.name))
}
