//! A Kubernetes API double for tests: an HTTP server on 127.0.0.1 with the API's real
//! semantics for the calls prescale makes (see `src/permissions.rs`), reached through the
//! real kube client from a kubeconfig.
//!
//! - Deployments with the `/scale` subresource; `resourceVersion` on every object, and 409
//!   Conflict on a write that carries a stale one; `generation` bumps on spec changes.
//! - HPAs and KEDA ScaledObjects to list and watch, in a namespace or cluster-wide
//!   (ScaledObjects 404 while "KEDA is not installed"); lists carry the collection's
//!   `resourceVersion`, watches stream changes from one (see `watch.rs`).
//! - Leases with create (409 AlreadyExists) and update (409 on stale resourceVersion).
//! - Merge patches of any object record their field manager in `managedFields` for each
//!   spec field they change; HPAs (`minReplicas` defaulted, 1..=`maxReplicas`),
//!   ScaledObjects (`minReplicaCount` <= `maxReplicaCount`, KEDA's webhook) and Pods
//!   (metadata only) are validated with 422 (see `managed.rs`).
//! - Events (create, merge patch).
//! - Pods to list, by namespace and an equality `labelSelector` (`k=v,k2=v2`), with
//!   `podIP`, the `Ready` condition and `deletionTimestamp` set by the test.
//! - Discovery of a group version (`GET /apis/GROUP/VERSION`), 404 for KEDA's while it is
//!   not installed.
//! - Injectable faults (any status code, a delayed 504, or a request served late) matched
//!   by method, path and the client's token.
//! - Every write request is recorded with its answer and the writer's identity (its bearer
//!   token), in the order the writes were applied, so tests assert exactly what was written
//!   and by whom ([`ApiDouble::assert_never_two_writers`]); every request of any kind is
//!   recorded too ([`ApiDouble::requests`]), with the RBAC check it needs
//!   ([`Request::rbac`]).
//! - An update or patch that changes nothing keeps the resourceVersion, as the API server's
//!   no-op updates do.
#![allow(dead_code, unused_imports)]

mod http;
mod kubeconfig;
mod managed;
mod store;
mod watch;

pub use store::{Fault, FaultKind, Request, Write};

/// A `/scale` patch the API server applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleWrite {
    /// `/apis/apps/v1/namespaces/NS/deployments/NAME`.
    pub deployment: String,
    /// The writer's bearer token (its identity).
    pub writer: String,
    /// `spec.replicas` written.
    pub replicas: u32,
    /// The patch changed nothing.
    pub noop: bool,
}

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Store;

/// A running API double. Dropping it stops nothing: the server lives as long as the test's
/// runtime.
#[derive(Clone)]
pub struct ApiDouble {
    store: Arc<Mutex<Store>>,
    addr: std::net::SocketAddr,
}

impl ApiDouble {
    /// Start on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let store = Arc::new(Mutex::new(Store::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let app = http::router(store.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("api double serve");
        });
        Self { store, addr }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Write a kubeconfig pointing at this double into `dir`; its bearer token is `token`
    /// (recorded with each write). Returns its path.
    pub fn write_kubeconfig(&self, dir: &Path, token: &str) -> PathBuf {
        kubeconfig::write(dir, &self.url(), token)
    }

    /// A real kube client configured from a kubeconfig file written into `dir`.
    pub async fn client(&self, dir: &Path) -> kube::Client {
        self.client_as(dir, "test").await
    }

    /// A real kube client that authenticates with `token` (to tell instances apart).
    pub async fn client_as(&self, dir: &Path, token: &str) -> kube::Client {
        kube::Client::try_from(self.config_as(dir, token).await).expect("client")
    }

    /// A real kube client without kube's built-in retries of 429/503/504, as prescale's
    /// watches use.
    pub async fn watch_client_as(&self, dir: &Path, token: &str) -> kube::Client {
        let mut config = self.config_as(dir, token).await;
        config.default_retry = false;
        kube::Client::try_from(config).expect("client")
    }

    async fn config_as(&self, dir: &Path, token: &str) -> kube::Config {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let path = self.write_kubeconfig(dir, token);
        let kc = kube::config::Kubeconfig::read_from(&path).expect("read kubeconfig");
        kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config from kubeconfig")
    }

    fn with<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.store.lock().expect("store lock"))
    }

    /// Create or replace a Deployment with `replicas` in spec and `ready` ready.
    pub fn put_deployment(&self, ns: &str, name: &str, replicas: u32, ready: u32) {
        self.with(|s| s.put_deployment(ns, name, replicas, ready));
    }

    /// Create or replace an object of another scalable kind (`statefulsets`, `rollouts`,
    /// `workers`; `widgets` has no `/scale`) selecting pods `app: name`; `ready: None` leaves
    /// `status.readyReplicas` out and gives the selector as a string in `status.selector`.
    pub fn put_scalable(
        &self,
        resource: &str,
        ns: &str,
        name: &str,
        replicas: u32,
        ready: Option<u32>,
    ) {
        self.with(|s| s.put_scalable(resource, ns, name, replicas, ready));
    }

    /// `spec.replicas` of an object of `resource`.
    pub fn replicas_of(&self, resource: &str, ns: &str, name: &str) -> Option<u32> {
        self.get(resource, ns, name)
            .and_then(|o| o["spec"]["replicas"].as_u64())
            .map(|r| r as u32)
    }

    /// Status follows spec at once on every scale (a deployment controller with instant
    /// pods); on by default. Off: tests set readiness with [`ApiDouble::set_ready`].
    pub fn set_instant_rollout(&self, on: bool) {
        self.with(|s| s.instant_rollout = on);
    }

    /// Set `status.readyReplicas` (and `status.replicas` to at least it).
    pub fn set_ready(&self, ns: &str, name: &str, ready: u32) {
        self.with(|s| s.set_ready(ns, name, ready));
    }

    /// A person's `kubectl scale`: spec.replicas changes, resourceVersion bumps, and the
    /// change is not in [`ApiDouble::writes`] (which records requests to the API).
    pub fn scale_by_hand(&self, ns: &str, name: &str, replicas: u32) {
        self.with(|s| s.scale_by_hand(ns, name, replicas));
    }

    /// Set an annotation on a Deployment.
    pub fn annotate(&self, ns: &str, name: &str, key: &str, value: &str) {
        self.with(|s| s.annotate(ns, name, key, value));
    }

    /// Delete an object of `resource` (plural, e.g. `deployments`).
    pub fn delete(&self, resource: &str, ns: &str, name: &str) {
        self.with(|s| s.delete(resource, ns, name));
    }

    /// A pod of Deployment `deployment` (matching its selector `app: deployment`) with IP
    /// `ip` and its `Ready` condition `ready`. Replaces one of the same name with a new uid
    /// (a pod re-created under its name).
    pub fn put_pod(&self, ns: &str, name: &str, deployment: &str, ip: &str, ready: bool) {
        self.with(|s| s.put_pod(ns, name, deployment, ip, ready));
    }

    /// Set a pod's `Ready` condition.
    pub fn set_pod_ready(&self, ns: &str, name: &str, ready: bool) {
        self.with(|s| s.set_pod_ready(ns, name, ready));
    }

    /// Mark a pod terminating (`metadata.deletionTimestamp` set; it is still listed).
    pub fn set_pod_deleting(&self, ns: &str, name: &str) {
        self.with(|s| s.set_pod_deleting(ns, name));
    }

    /// An `autoscaling/v2` HPA targeting Deployment `target`.
    pub fn put_hpa(&self, ns: &str, name: &str, target: &str) {
        self.with(|s| s.put_hpa(ns, name, target));
    }

    /// A KEDA ScaledObject targeting Deployment `target` (installs KEDA).
    pub fn put_scaled_object(&self, ns: &str, name: &str, target: &str) {
        self.with(|s| s.put_scaled_object(ns, name, target));
    }

    /// KEDA's CRD is removed: its ScaledObjects are deleted (watches see `DELETED`), open
    /// watches end, and its paths answer 404 until a ScaledObject is put again.
    pub fn uninstall_keda(&self) {
        self.with(|s| s.uninstall_keda());
    }

    /// Compact the change history: a watch resuming from an older resourceVersion gets
    /// `410 Gone` and must list again.
    pub fn compact(&self) {
        self.with(|s| s.compact());
    }

    /// Cut every watch off (an API server restart, a network cut): open watches end,
    /// new ones get 503 until [`ApiDouble::restore_watches`]. Lists and other calls work.
    pub fn cut_watches(&self) {
        self.with(|s| s.set_watches_down(true));
    }

    /// Serve watches again.
    pub fn restore_watches(&self) {
        self.with(|s| s.set_watches_down(false));
    }

    /// Every request so far (any method, watches included), in order.
    pub fn requests(&self) -> Vec<Request> {
        self.with(|s| s.requests.clone())
    }

    /// Inject a fault.
    pub fn inject(&self, fault: Fault) {
        self.with(|s| s.faults.push(fault));
    }

    /// The next `method` request of the client with `token` on a path containing `path`
    /// is served only after `delay` ([`FaultKind::DelayThenServe`]).
    pub fn serve_late(&self, token: &str, method: &'static str, path: &str, delay: Duration) {
        self.inject(Fault {
            method: Some(method),
            path_contains: path.into(),
            kind: FaultKind::DelayThenServe(delay),
            times: 1,
            token: Some(token.into()),
        });
    }

    /// Requests the injected faults are still armed for (0: every fault has fired).
    pub fn faults_armed(&self) -> u32 {
        self.with(|s| s.faults.iter().map(|f| f.times).sum())
    }

    /// Remove every injected fault.
    pub fn clear_faults(&self) {
        self.with(|s| s.faults.clear());
    }

    /// Every write request so far, in order, with its answer's status.
    pub fn writes(&self) -> Vec<Write> {
        self.with(|s| s.writes.clone())
    }

    /// Requests held by [`FaultKind::DelayThenServe`] that are neither answered nor given
    /// up on by the client yet: all of them, or those of the client with `token`.
    pub fn delayed_in_flight(&self, token: Option<&str>) -> usize {
        self.with(|s| {
            s.delayed_in_flight
                .iter()
                .filter(|t| token.is_none() || t.as_deref() == token)
                .count()
        })
    }

    /// Every `/scale` patch the API server applied (2xx), in the order applied: the
    /// Deployment's path, the writer's token, the replicas written and whether it changed
    /// nothing.
    pub fn applied_scale_writes(&self) -> Vec<ScaleWrite> {
        self.writes()
            .into_iter()
            .filter(|w| w.method == "PATCH" && w.path.ends_with("/scale") && w.status < 300)
            .map(|w| ScaleWrite {
                deployment: w.path.trim_end_matches("/scale").to_string(),
                writer: w.token.unwrap_or_default(),
                replicas: w.body["spec"]["replicas"].as_u64().unwrap_or(0) as u32,
                noop: w.noop,
            })
            .collect()
    }

    /// Never two writers. For every Deployment, once a replica's write has been applied,
    /// another replica's write is applied only if that replica took the leader Lease after
    /// it (so `a a b b`, and `a b a` with a taking the Lease back after b's write, pass;
    /// an old leader's write landing after the new leader's first write fails). And no
    /// applied `/scale` patch changed nothing (prescale never sends one). The write log
    /// holds Lease updates and `/scale` patches in the order they were applied, with the
    /// writer's token, which the tests set equal to its Lease identity. Panics with the log.
    pub fn assert_never_two_writers(&self) {
        self.assert_never_two_writers_under(|_| None);
    }

    /// [`Self::assert_never_two_writers`] with one Lease per shard: a write to a Deployment
    /// (its path, `/apis/apps/v1/namespaces/NS/deployments/NAME`) counts as made under the
    /// Lease `lease_of` names for it (`None`: any Lease, as with a single one), and another
    /// replica may write to it only after taking that Lease.
    pub fn assert_never_two_writers_under(&self, lease_of: impl Fn(&str) -> Option<String>) {
        let scale = self.applied_scale_writes();
        assert!(
            !scale.iter().any(|w| w.noop),
            "a /scale patch that changed nothing was sent: {scale:#?}"
        );
        let second = self.second_writer_writes_under(lease_of);
        assert!(
            second.is_empty(),
            "{}: two writers. /scale writes: {scale:#?}",
            second.join("; ")
        );
    }

    /// The applied `/scale` writes that broke the rule of
    /// [`ApiDouble::assert_never_two_writers`] (a replica writing after another replica's
    /// first write without taking the Lease since), each described; empty when there were
    /// never two writers.
    pub fn second_writer_writes(&self) -> Vec<String> {
        self.second_writer_writes_under(|_| None)
    }

    /// [`Self::second_writer_writes`] with one Lease per shard (`lease_of` as in
    /// [`Self::assert_never_two_writers_under`]).
    pub fn second_writer_writes_under(
        &self,
        lease_of: impl Fn(&str) -> Option<String>,
    ) -> Vec<String> {
        let log: Vec<Write> = self.writes();
        // Per Lease: its holder, and where in the log each identity last took it.
        let mut holders: std::collections::BTreeMap<String, Option<String>> = Default::default();
        let mut took_lease: std::collections::BTreeMap<(String, String), usize> =
            Default::default();
        // Per Deployment: the current run's writer and where its first write is.
        let mut runs: std::collections::BTreeMap<String, (String, usize)> = Default::default();
        let mut broken = Vec::new();
        for (i, w) in log.iter().enumerate() {
            if w.status >= 300 {
                continue;
            }
            if w.path.contains("/leases/") || (w.method == "POST" && w.path.ends_with("/leases")) {
                let lease = w.body["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let now = w.body["spec"]["holderIdentity"]
                    .as_str()
                    .map(str::to_string);
                let holder = holders.entry(lease.clone()).or_default();
                if now != *holder
                    && let Some(h) = &now
                {
                    took_lease.insert((lease, h.clone()), i);
                }
                *holder = now;
                continue;
            }
            if !(w.method == "PATCH" && w.path.ends_with("/scale")) {
                continue;
            }
            let writer = w.token.clone().unwrap_or_default();
            let deployment = w.path.trim_end_matches("/scale").to_string();
            match runs.get(&deployment) {
                Some((current, _)) if *current == writer => {}
                Some((current, first)) => {
                    let lease = lease_of(&deployment);
                    let took = took_lease
                        .iter()
                        .filter(|((l, h), _)| {
                            *h == writer && lease.as_ref().is_none_or(|want| want == l)
                        })
                        .map(|(_, at)| *at)
                        .max();
                    if took.is_none_or(|at| at <= *first) {
                        broken.push(format!(
                            "{writer} wrote to {deployment} after {current}'s first write without taking the Lease since"
                        ));
                    }
                    runs.insert(deployment, (writer, i));
                }
                None => {
                    runs.insert(deployment, (writer, i));
                }
            }
        }
        broken
    }

    /// Successful `/scale` patches: the replica counts prescale set, in order.
    pub fn scale_writes(&self) -> Vec<u32> {
        self.writes()
            .iter()
            .filter(|w| w.method == "PATCH" && w.path.ends_with("/scale") && w.status < 300)
            .filter_map(|w| w.body["spec"]["replicas"].as_u64().map(|r| r as u32))
            .collect()
    }

    /// A Deployment's `spec.replicas`.
    pub fn replicas(&self, ns: &str, name: &str) -> Option<u32> {
        self.with(|s| s.replicas(ns, name))
    }

    /// An object as stored.
    pub fn get(&self, resource: &str, ns: &str, name: &str) -> Option<serde_json::Value> {
        self.with(|s| s.get(resource, ns, name))
    }

    /// Every stored Event (`events.k8s.io/v1`).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.with(|s| s.list("events", None))
    }

    /// The Events about object `name`, in creation order.
    pub fn events_about(&self, name: &str) -> Vec<serde_json::Value> {
        let mut evs: Vec<_> = self
            .events()
            .into_iter()
            .filter(|e| e["regarding"]["name"] == name)
            .collect();
        evs.sort_by_key(|e| {
            e["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        });
        evs
    }

    /// Reasons of the Events about object `name`, in creation order.
    pub fn event_reasons(&self, name: &str) -> Vec<String> {
        self.events_about(name)
            .iter()
            .filter_map(|e| e["reason"].as_str().map(str::to_string))
            .collect()
    }
}
