//! [`NamespacedCache`]: objects of one kind in the namespaces the targets live in, kept by
//! one list-then-watch per namespace and stored in a compact form (only what a tick reads),
//! so a tick reads memory instead of calling the API server.
//!
//! The namespaces followed change with the config ([`NamespacedCache::follow`]): a new
//! namespace starts its watch (a list, then changes from the list's resourceVersion), a
//! namespace no target uses any more stops its watch and forgets its objects. A watch that
//! fails backs off (kube-runtime's default: 0.8 s doubling to 30 s) and keeps its last known
//! objects for [`STALE_AFTER`]; past that its answers are errors, not guesses.

use super::ClusterError;
use futures::StreamExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};

/// How long a namespace's objects are trusted while its watch keeps failing: long enough to
/// ride out an API server restart, short enough that a tick never decides on a state hours
/// old.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// Turns an object as the API serves it into what the cache keeps.
pub type Convert<K, V> = Arc<dyn Fn(&K) -> V + Send + Sync>;

/// The API of kind `K` in one namespace.
pub type NamespacedApi<K> = Arc<dyn Fn(&str) -> Api<K> + Send + Sync>;

/// Why a watch fails: the API server's status code, if it answered, and the error.
#[derive(Debug, Clone)]
struct Failure {
    code: Option<u16>,
    error: String,
}

impl Failure {
    fn of(e: &watcher::Error) -> Self {
        let code = match e {
            watcher::Error::InitialListFailed(kube::Error::Api(s))
            | watcher::Error::WatchStartFailed(kube::Error::Api(s))
            | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
            watcher::Error::WatchError(s) => Some(s.code),
            _ => None,
        };
        Self {
            code,
            error: e.to_string(),
        }
    }
}

/// One namespace's objects and the state of its watch.
struct Namespace<V> {
    objects: HashMap<String, Arc<V>>,
    /// Filled from a complete list at least once.
    synced: bool,
    /// Since when the watch has been failing (reset by any event), and why.
    failing_since: Option<(Instant, Failure)>,
    /// Identifies the watch task that owns this entry, so a stopped task's late events are
    /// ignored.
    epoch: u64,
    task: JoinHandle<()>,
}

struct Inner<V> {
    namespaces: HashMap<String, Namespace<V>>,
    epochs: u64,
}

/// Objects of kind `K` in the followed namespaces, kept as `V` and keyed by name.
pub struct NamespacedCache<K, V> {
    api: NamespacedApi<K>,
    /// `Deployments (apps/v1)`: names the cache in logs and errors.
    what: Arc<str>,
    convert: Convert<K, V>,
    inner: Arc<RwLock<Inner<V>>>,
    /// Bumped on every change of any namespace's sync state (for [`Self::wait_synced`]).
    synced_tx: watch::Sender<u64>,
}

impl<K, V> NamespacedCache<K, V>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + Debug
        + Send
        + 'static,
    V: Send + Sync + 'static,
{
    /// An empty cache of a built-in kind, following no namespace yet.
    pub fn new(client: Client, what: &'static str, convert: fn(&K) -> V) -> Self {
        Self::with_api(
            Arc::new(move |ns: &str| Api::namespaced(client.clone(), ns)),
            what,
            Arc::new(convert),
        )
    }
}

impl<K, V> NamespacedCache<K, V>
where
    K: Resource + Clone + serde::de::DeserializeOwned + Debug + Send + 'static,
    V: Send + Sync + 'static,
{
    /// An empty cache of the objects `api` serves per namespace (any kind, e.g. a
    /// `DynamicObject` kind found through discovery), following no namespace yet.
    pub fn with_api(
        api: NamespacedApi<K>,
        what: impl Into<Arc<str>>,
        convert: Convert<K, V>,
    ) -> Self {
        Self {
            api,
            what: what.into(),
            convert,
            inner: Arc::new(RwLock::new(Inner {
                namespaces: HashMap::new(),
                epochs: 0,
            })),
            synced_tx: watch::channel(0).0,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner<V>> {
        // A writer that panicked left a plain map behind: still usable.
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Follow exactly `namespaces`: start a watch for each new one, stop the ones no longer
    /// wanted (forgetting their objects).
    pub fn follow(&self, namespaces: &BTreeSet<String>) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let gone: Vec<String> = inner
            .namespaces
            .keys()
            .filter(|ns| !namespaces.contains(*ns))
            .cloned()
            .collect();
        for ns in gone {
            if let Some(n) = inner.namespaces.remove(&ns) {
                n.task.abort();
                tracing::info!(resource = %self.what, namespace = %ns, "no target in the namespace any more; its watch stopped");
            }
        }
        for ns in namespaces {
            if inner.namespaces.contains_key(ns) {
                continue;
            }
            inner.epochs += 1;
            let epoch = inner.epochs;
            let task = tokio::spawn(keep_watching(
                (self.api)(ns),
                ns.clone(),
                epoch,
                self.what.clone(),
                self.convert.clone(),
                self.inner.clone(),
                self.synced_tx.clone(),
            ));
            inner.namespaces.insert(
                ns.clone(),
                Namespace {
                    objects: HashMap::new(),
                    synced: false,
                    failing_since: None,
                    epoch,
                    task,
                },
            );
        }
        self.synced_tx.send_modify(|n| *n += 1);
    }

    /// Stop every watch (at shutdown).
    pub fn stop(&self) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        for (_, n) in inner.namespaces.drain() {
            n.task.abort();
        }
    }

    /// The object `name` in `namespace`: `Ok(None)` when the cache is synced and it does
    /// not exist; an error when the namespace is not followed, not synced yet, or its watch
    /// has failed for longer than [`STALE_AFTER`].
    pub fn get(&self, namespace: &str, name: &str) -> Result<Option<Arc<V>>, ClusterError> {
        let inner = self.read();
        let n = self.usable(&inner, namespace)?;
        Ok(n.objects.get(name).cloned())
    }

    /// Every object in `namespace` that `keep` accepts, with its name.
    pub fn filter(
        &self,
        namespace: &str,
        mut keep: impl FnMut(&V) -> bool,
    ) -> Result<Vec<(String, Arc<V>)>, ClusterError> {
        let inner = self.read();
        let n = self.usable(&inner, namespace)?;
        Ok(n.objects
            .iter()
            .filter(|(_, v)| keep(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn usable<'i>(
        &self,
        inner: &'i Inner<V>,
        namespace: &str,
    ) -> Result<&'i Namespace<V>, ClusterError> {
        let not_synced = || ClusterError::NotSynced {
            what: format!("{} in namespace {namespace}", self.what),
        };
        let n = inner.namespaces.get(namespace).ok_or_else(not_synced)?;
        match &n.failing_since {
            // Never listed, or listed but failing for too long: an error naming the cause.
            Some((since, failure)) if !n.synced || since.elapsed() > STALE_AFTER => {
                Err(ClusterError::WatchFailing {
                    what: format!("{} in namespace {namespace}", self.what),
                    code: failure.code,
                    error: Some(failure.error.clone()),
                    failing_for: since.elapsed(),
                    bound: STALE_AFTER,
                })
            }
            _ if !n.synced => Err(not_synced()),
            _ => Ok(n),
        }
    }

    /// Namespaces followed but not synced yet.
    pub fn unsynced(&self) -> Vec<String> {
        let inner = self.read();
        let mut v: Vec<String> = inner
            .namespaces
            .iter()
            .filter(|(_, n)| !n.synced)
            .map(|(ns, _)| ns.clone())
            .collect();
        v.sort();
        v
    }

    /// Wait until `namespace` has synced, or its watch has failed (a read then says why,
    /// e.g. RBAC, instead of a tick waiting for a list that may never come); at once if it
    /// is not followed.
    pub async fn wait_synced(&self, namespace: &str) {
        let mut rx = self.synced_tx.subscribe();
        loop {
            {
                let inner = self.read();
                match inner.namespaces.get(namespace) {
                    Some(n) if !n.synced && n.failing_since.is_none() => {}
                    _ => return,
                }
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Objects kept, over all namespaces.
    pub fn len(&self) -> usize {
        self.read()
            .namespaces
            .values()
            .map(|n| n.objects.len())
            .sum()
    }

    /// No object kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K, V> Drop for NamespacedCache<K, V> {
    fn drop(&mut self) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        for (_, n) in inner.namespaces.drain() {
            n.task.abort();
        }
    }
}

/// One namespace's watch: apply every event to the shared entry (if this task still owns
/// it), until aborted.
async fn keep_watching<K, V>(
    api: Api<K>,
    namespace: String,
    epoch: u64,
    what: Arc<str>,
    convert: Convert<K, V>,
    inner: Arc<RwLock<Inner<V>>>,
    synced_tx: watch::Sender<u64>,
) where
    K: Resource + Clone + serde::de::DeserializeOwned + Debug + Send + 'static,
    V: Send + Sync + 'static,
{
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    // A re-list fills this, then replaces the namespace's objects at once (objects deleted
    // while the watch was down disappear).
    let mut relist: Option<HashMap<String, Arc<V>>> = None;
    while let Some(next) = stream.next().await {
        let mut guard = inner.write().unwrap_or_else(|p| p.into_inner());
        let Some(n) = guard
            .namespaces
            .get_mut(&namespace)
            .filter(|n| n.epoch == epoch)
        else {
            return;
        };
        match next {
            Ok(event) => {
                if let Some((since, _)) = n.failing_since.take() {
                    tracing::info!(resource = %what, namespace = %namespace, failed_for_s = since.elapsed().as_secs(), "watch recovered");
                }
                match event {
                    Event::Init => relist = Some(HashMap::new()),
                    Event::InitApply(o) => {
                        if let (Some(buffer), Some(name)) = (relist.as_mut(), o.meta().name.clone())
                        {
                            buffer.insert(name, Arc::new(convert(&o)));
                        }
                    }
                    Event::InitDone => {
                        if let Some(buffer) = relist.take() {
                            n.objects = buffer;
                        }
                        if !n.synced {
                            tracing::info!(resource = %what, namespace = %namespace, count = n.objects.len(), "cache synced");
                        }
                        n.synced = true;
                        drop(guard);
                        synced_tx.send_modify(|c| *c += 1);
                    }
                    Event::Apply(o) => {
                        if let Some(name) = o.meta().name.clone() {
                            n.objects.insert(name, Arc::new(convert(&o)));
                        }
                    }
                    Event::Delete(o) => {
                        if let Some(name) = &o.meta().name {
                            n.objects.remove(name);
                        }
                    }
                }
            }
            Err(e) => {
                if n.failing_since.is_none() {
                    tracing::warn!(resource = %what, namespace = %namespace, error = %e, "watch failed; keeping the last known objects and retrying with back-off");
                    n.failing_since = Some((Instant::now(), Failure::of(&e)));
                    drop(guard);
                    synced_tx.send_modify(|c| *c += 1);
                } else {
                    tracing::debug!(resource = %what, namespace = %namespace, error = %e, "watch failed again");
                }
            }
        }
    }
}
