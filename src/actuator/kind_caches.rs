//! [`KindCaches`]: objects of the configured kinds other than Deployments (StatefulSets, Argo
//! Rollouts, custom resources with `/scale`), one watch-backed [`NamespacedCache`] per kind,
//! started once discovery has found the kind. Until then (or while discovery says the kind
//! cannot be scaled) a read answers with discovery's reason, and discovery is asked again in
//! the background, so a CRD installed later is picked up without a restart.

use super::namespaced_cache::NamespacedCache;
use super::object_view::view_of_object;
use super::scale_kind::{KindKey, RETRY_AFTER, ScaleKinds};
use super::{ClusterError, DeploymentView};
use crate::config::ScaleTargetRef;
use kube::Client;
use kube::api::{Api, DynamicObject};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// First wait before asking discovery again after a failed call (timeout, 5xx); doubles up
/// to [`RETRY_AFTER`].
const FIRST_RETRY: Duration = Duration::from_secs(2);

type Cache = Arc<NamespacedCache<DynamicObject, DeploymentView>>;

struct Kind {
    namespaces: BTreeSet<String>,
    cache: Option<Cache>,
    /// Why there is no cache yet, once discovery has answered.
    problem: Option<ClusterError>,
    resolver: JoinHandle<()>,
}

/// Watch-backed caches of the non-Deployment kinds the targets scale.
pub struct KindCaches {
    client: Client,
    kinds: ScaleKinds,
    inner: Arc<Mutex<HashMap<KindKey, Kind>>>,
    /// Bumped when a kind's cache starts or its problem changes (for [`Self::wait_synced`]).
    changed: watch::Sender<u64>,
}

impl KindCaches {
    /// No kind followed yet; watches through `client`, discovery through `kinds`.
    pub fn new(client: Client, kinds: ScaleKinds) -> Self {
        Self {
            client,
            kinds,
            inner: Arc::new(Mutex::new(HashMap::new())),
            changed: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<KindKey, Kind>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follow exactly `wanted`: per kind, the namespaces its targets live in.
    pub fn follow(&self, wanted: &BTreeMap<KindKey, BTreeSet<String>>) {
        let mut inner = self.lock();
        inner.retain(|key, kind| {
            let keep = wanted.contains_key(key);
            if !keep {
                kind.resolver.abort();
                if let Some(c) = &kind.cache {
                    c.stop();
                }
            }
            keep
        });
        for (key, namespaces) in wanted {
            if let Some(kind) = inner.get_mut(key) {
                kind.namespaces = namespaces.clone();
                if let Some(c) = &kind.cache {
                    c.follow(namespaces);
                }
                continue;
            }
            let resolver = tokio::spawn(resolve_then_watch(
                key.clone(),
                self.client.clone(),
                self.kinds.clone(),
                self.inner.clone(),
                self.changed.clone(),
            ));
            inner.insert(
                key.clone(),
                Kind {
                    namespaces: namespaces.clone(),
                    cache: None,
                    problem: None,
                    resolver,
                },
            );
        }
    }

    /// The object `target` names: `Ok(None)` when its kind's cache has synced and it does
    /// not exist; discovery's reason while the kind cannot be scaled.
    pub fn get(
        &self,
        target: &ScaleTargetRef,
    ) -> Result<Option<Arc<DeploymentView>>, ClusterError> {
        let key = super::scale_kind::kind_key(target);
        let (cache, problem) = {
            let inner = self.lock();
            let kind = inner.get(&key);
            (
                kind.and_then(|k| k.cache.clone()),
                kind.and_then(|k| k.problem.clone()),
            )
        };
        match (cache, problem) {
            (Some(c), _) => c.get(&target.namespace, &target.name),
            // Discovery's answer was for the kind: say which object it stops.
            (None, Some(ClusterError::Unscalable { problem, .. })) => {
                Err(ClusterError::Unscalable {
                    what: target.to_string(),
                    problem,
                })
            }
            (None, Some(p)) => Err(p),
            (None, None) => Err(ClusterError::NotSynced {
                what: format!("{target}: API discovery of {} {}", key.0, key.1),
            }),
        }
    }

    /// Wait until `target`'s kind has a synced cache for its namespace, or discovery has
    /// said why it cannot have one.
    pub async fn wait_synced(&self, target: &ScaleTargetRef) {
        let key = super::scale_kind::kind_key(target);
        let mut rx = self.changed.subscribe();
        loop {
            let state = {
                let inner = self.lock();
                inner
                    .get(&key)
                    .map(|k| (k.cache.clone(), k.problem.is_some()))
            };
            match state {
                None | Some((None, true)) => return,
                Some((Some(cache), _)) => return cache.wait_synced(&target.namespace).await,
                Some((None, false)) => {}
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Objects kept, over all kinds.
    pub(super) fn len(&self) -> usize {
        self.lock()
            .values()
            .filter_map(|k| k.cache.as_ref().map(|c| c.len()))
            .sum()
    }

    /// Stop every watch and discovery retry.
    pub fn stop(&self) {
        for (_, kind) in self.lock().drain() {
            kind.resolver.abort();
            if let Some(c) = kind.cache {
                c.stop();
            }
        }
    }
}

impl Drop for KindCaches {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Ask discovery for `key` until it finds the kind with `/scale`, then start its cache on
/// the namespaces wanted by then.
async fn resolve_then_watch(
    key: KindKey,
    client: Client,
    kinds: ScaleKinds,
    inner: Arc<Mutex<HashMap<KindKey, Kind>>>,
    changed: watch::Sender<u64>,
) {
    let probe = ScaleTargetRef {
        api_version: key.0.clone(),
        kind: key.1.clone(),
        ..ScaleTargetRef::default()
    };
    let mut retry = FIRST_RETRY;
    loop {
        match kinds.resolve(&probe).await {
            Ok(ar) => {
                let what = format!("{}s ({})", ar.kind, ar.api_version);
                let api_client = client.clone();
                let api_ar = ar.clone();
                let cache: Cache = Arc::new(NamespacedCache::with_api(
                    Arc::new(move |ns: &str| Api::namespaced_with(api_client.clone(), ns, &api_ar)),
                    what,
                    Arc::new(move |o: &DynamicObject| view_of_object(&ar, o)),
                ));
                let mut guard = inner.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(kind) = guard.get_mut(&key) {
                    cache.follow(&kind.namespaces);
                    kind.cache = Some(cache);
                    kind.problem = None;
                }
                drop(guard);
                changed.send_modify(|n| *n += 1);
                return;
            }
            Err(e) => {
                let wait = if matches!(e, ClusterError::Unscalable { .. }) {
                    RETRY_AFTER
                } else {
                    tracing::warn!(api_version = %key.0, kind = %key.1, error = %e, "API discovery failed; retrying");
                    let wait = retry;
                    retry = (retry * 2).min(RETRY_AFTER);
                    wait
                };
                if let Some(kind) = inner
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_mut(&key)
                {
                    kind.problem = Some(e);
                }
                changed.send_modify(|n| *n += 1);
                tokio::time::sleep(wait).await;
            }
        }
    }
}
