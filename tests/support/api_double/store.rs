//! The double's objects and their semantics: resourceVersion, generation, conflicts.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// A recorded write request.
#[derive(Debug, Clone)]
pub struct Write {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Request body (JSON).
    pub body: Value,
    /// Status of the answer.
    pub status: u16,
    /// The bearer token the client sent: tells apart instances given different kubeconfigs.
    pub token: Option<String>,
    /// The write succeeded but changed nothing (the API server then keeps the
    /// resourceVersion and writes nothing to etcd).
    pub noop: bool,
}

/// A recorded request of any method, reads and watches included: what RBAC would check.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Query string (without `?`), empty when there is none.
    pub query: String,
    /// Status of the answer (a watch: of the response head).
    pub status: u16,
    /// The bearer token the client sent.
    pub token: Option<String>,
}

impl Request {
    /// The RBAC check this request needs: (API group, resource with `/subresource`, verb),
    /// by the API server's conventions. `None` for a path that is not a resource.
    pub fn rbac(&self) -> Option<(String, String, String)> {
        let segs: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let (group, rest) = match segs.as_slice() {
            ["api", _v, rest @ ..] => (String::new(), rest),
            ["apis", g, _v, rest @ ..] => (g.to_string(), rest),
            _ => return None,
        };
        let rest = match rest {
            ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail,
            tail => tail,
        };
        let (resource, name) = match rest {
            [r] => (r.to_string(), false),
            [r, _name] => (r.to_string(), true),
            [r, _name, sub] => (format!("{r}/{sub}"), true),
            _ => return None,
        };
        let watch = self
            .query
            .split('&')
            .any(|kv| kv == "watch=true" || kv == "watch=1");
        let verb = match (self.method.as_str(), name) {
            ("GET", _) if watch => "watch",
            ("GET", true) => "get",
            ("GET", false) => "list",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", true) => "delete",
            ("DELETE", false) => "deletecollection",
            _ => return None,
        };
        Some((group, resource, verb.to_string()))
    }
}

/// One change to an object, as a watch reports it.
#[derive(Debug, Clone)]
pub struct Change {
    /// The resourceVersion the change produced.
    pub rv: u64,
    /// Plural resource.
    pub resource: String,
    /// Namespace.
    pub ns: String,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// The object after the change (before deletion, with the deletion's resourceVersion).
    pub object: Value,
}

/// What an injected fault does.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this status and a `Status` body (429 also sends `Retry-After: 1`).
    Status(u16),
    /// Answer 504 only after this delay (a hung API server); the request is not served.
    Delay(Duration),
    /// Serve the request normally, but only after this delay (a slow API server, or a
    /// request held up on the network): a write is applied when the delay ends, with the
    /// ordinary resourceVersion rules as they are then. Counted by
    /// [`Store::delayed_in_flight`] until it is answered or the client gives up on it.
    DelayThenServe(Duration),
    /// Just before serving the request, a person scales the Deployment named in the path
    /// to this many replicas: a real race, which the request then loses (or not) by the
    /// double's ordinary resourceVersion rules.
    ConcurrentScale(u32),
}

/// A fault for requests whose method matches (any when `None`) and whose path contains
/// `path_contains`, for the next `times` such requests.
#[derive(Debug, Clone)]
pub struct Fault {
    /// `GET`, `PATCH`...; `None` for any.
    pub method: Option<&'static str>,
    /// Substring of the path.
    pub path_contains: String,
    /// The fault.
    pub kind: FaultKind,
    /// How many requests it affects.
    pub times: u32,
    /// Only requests with this bearer token (one instance); `None` for any.
    pub token: Option<String>,
}

impl Fault {
    /// `times` answers of `status` to `method` requests on paths containing `path`.
    pub fn status(method: &'static str, path: &str, status: u16, times: u32) -> Self {
        Self {
            method: Some(method),
            path_contains: path.into(),
            kind: FaultKind::Status(status),
            times,
            token: None,
        }
    }

    /// Only for the client authenticating with `token`.
    pub fn for_token(self, token: &str) -> Self {
        Self {
            token: Some(token.into()),
            ..self
        }
    }
}

type Key = (String, String, String);

/// All objects by (resource, namespace, name).
pub struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    /// Recorded write requests.
    pub writes: Vec<Write>,
    /// Every request, reads and watches included.
    pub requests: Vec<Request>,
    /// Every change since the start or the last compaction, for watches to replay.
    pub changes: Vec<Change>,
    /// Changes at or before this resourceVersion were compacted away: a watch from an
    /// older version gets `410 Gone`.
    pub horizon: u64,
    /// Watches are cut off (an API server restart): open ones end, new ones get 503.
    pub watches_down: bool,
    /// Ticks on every change, so open watches wake up.
    pub changed: tokio::sync::watch::Sender<u64>,
    /// Injected faults.
    pub faults: Vec<Fault>,
    /// Whether `scaledobjects` exists (KEDA installed).
    pub keda_installed: bool,
    /// Status follows spec on every scale.
    pub instant_rollout: bool,
    /// Set by a write that changed nothing (read when the write is recorded).
    pub last_write_noop: bool,
    /// Requests held by [`FaultKind::DelayThenServe`], by bearer token, not yet answered
    /// or given up on by the client.
    pub delayed_in_flight: Vec<Option<String>>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            rv: 100,
            objects: BTreeMap::new(),
            writes: Vec::new(),
            requests: Vec::new(),
            changes: Vec::new(),
            horizon: 100,
            watches_down: false,
            changed: tokio::sync::watch::channel(100).0,
            faults: Vec::new(),
            keda_installed: false,
            instant_rollout: true,
            last_write_noop: false,
            delayed_in_flight: Vec::new(),
        }
    }
}

/// A failed request: status code, reason, message.
#[derive(Debug)]
pub struct ApiFailure {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiFailure {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
        }
    }
}

pub(super) fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// Record in `managedFields` that `manager` now owns `spec.<field>` (taking it from
/// whoever owned it), as the API server does for an Update, through `subresource` if any.
pub(super) fn own_spec_field(
    obj: &mut Value,
    manager: &str,
    field: &str,
    api_version: &Value,
    subresource: Option<&str>,
) {
    let key = format!("f:{field}");
    let mut entries = obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for e in entries.iter_mut() {
        if let Some(spec) = e["fieldsV1"]["f:spec"].as_object_mut() {
            spec.remove(&key);
        }
    }
    let time = k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .expect("round")
        .to_string();
    match entries
        .iter_mut()
        .find(|e| e["manager"] == manager && e["subresource"] == json!(subresource))
    {
        Some(e) => {
            e["fieldsV1"]["f:spec"][key] = json!({});
            e["time"] = json!(time);
        }
        None => entries.push(json!({
            "manager": manager, "operation": "Update", "apiVersion": api_version,
            "time": time, "fieldsType": "FieldsV1",
            "fieldsV1": { "f:spec": { key: {} } },
            "subresource": subresource,
        })),
    }
    obj["metadata"]["managedFields"] = json!(entries);
}

/// [`own_spec_field`] for a Deployment's `spec.replicas`.
fn own_replicas(d: &mut Value, manager: &str, subresource: Option<&str>) {
    own_spec_field(d, manager, "replicas", &json!("apps/v1"), subresource);
}

/// Where the `Worker` custom resource keeps its replica count, as its CRD's
/// `statusReplicasPath: .status.current` would declare (not `status.replicas`).
pub const WORKER_REPLICAS_PATH: &str = "current";
/// Where custom resources keep their selector string, as their CRD's
/// `labelSelectorPath: .status.labelSelector` would declare (not `status.selector`).
pub const WORKER_SELECTOR_PATH: &str = "labelSelector";

/// The resources the double serves with a `/scale` subresource, with their qualified name
/// for messages (`deployments.apps`). `widgets` (example.com/v1) is served without one.
pub fn scalable(resource: &str) -> Option<&'static str> {
    Some(match resource {
        "deployments" => "deployments.apps",
        "statefulsets" => "statefulsets.apps",
        "rollouts" => "rollouts.argoproj.io",
        "workers" => "workers.example.com",
        _ => return None,
    })
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

impl Store {
    fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }

    fn key(resource: &str, ns: &str, name: &str) -> Key {
        (resource.into(), ns.into(), name.into())
    }

    /// The fault for this request, if one is armed (and count it down).
    pub fn take_fault(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
    ) -> Option<FaultKind> {
        let f = self.faults.iter_mut().find(|f| {
            f.times > 0
                && f.method.is_none_or(|m| m == method)
                && (f.token.is_none() || f.token.as_deref() == token)
                && path.contains(f.path_contains.as_str())
        })?;
        f.times -= 1;
        Some(f.kind.clone())
    }

    pub fn get(&self, resource: &str, ns: &str, name: &str) -> Option<Value> {
        self.objects.get(&Self::key(resource, ns, name)).cloned()
    }

    /// Objects of `resource` in `ns` (all namespaces when `None`).
    pub fn list(&self, resource: &str, ns: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((r, n, _), _)| r == resource && ns.is_none_or(|ns| ns == n))
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn list_rv(&self) -> String {
        self.rv.to_string()
    }

    pub(super) fn store(&mut self, resource: &str, ns: &str, name: &str, mut obj: Value) -> Value {
        obj["metadata"]["resourceVersion"] = json!(self.next_rv());
        let kind = match self
            .objects
            .insert(Self::key(resource, ns, name), obj.clone())
        {
            Some(_) => "MODIFIED",
            None => "ADDED",
        };
        self.record_change(resource, ns, kind, obj.clone());
        obj
    }

    fn record_change(&mut self, resource: &str, ns: &str, kind: &'static str, object: Value) {
        self.changes.push(Change {
            rv: self.rv,
            resource: resource.into(),
            ns: ns.into(),
            kind,
            object,
        });
        self.changed.send_replace(self.rv);
    }

    /// End every open watch and refuse new ones (503) until [`Store::set_watches_down`]
    /// is called with `false`.
    pub fn set_watches_down(&mut self, down: bool) {
        self.watches_down = down;
        self.changed.send_replace(self.rv);
    }

    /// Forget the change history up to now (etcd compaction): a watch from an older
    /// resourceVersion gets `410 Gone` and must list again.
    pub fn compact(&mut self) {
        self.changes.clear();
        self.horizon = self.rv;
    }

    /// The changes a watch of `resource` (in `ns`, or all namespaces) sees after `rv`.
    pub fn changes_after(&self, resource: &str, ns: Option<&str>, rv: u64) -> Vec<Change> {
        self.changes
            .iter()
            .filter(|c| c.rv > rv && c.resource == resource && ns.is_none_or(|n| n == c.ns))
            .cloned()
            .collect()
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// POST: create, 409 AlreadyExists if it exists.
    pub fn create(
        &mut self,
        resource: &str,
        ns: &str,
        mut obj: Value,
    ) -> Result<Value, ApiFailure> {
        let Some(name) = obj["metadata"]["name"].as_str().map(str::to_string) else {
            return Err(ApiFailure::new(
                422,
                "Invalid",
                "metadata.name: Required value",
            ));
        };
        if self.get(resource, ns, &name).is_some() {
            return Err(ApiFailure::new(
                409,
                "AlreadyExists",
                format!("{resource} \"{name}\" already exists"),
            ));
        }
        obj["metadata"]["namespace"] = json!(ns);
        obj["metadata"]["uid"] = json!(format!("uid-{resource}-{ns}-{name}-{}", self.rv + 1));
        obj["metadata"]["creationTimestamp"] = json!(now());
        obj["metadata"]["generation"] = json!(1);
        Ok(self.store(resource, ns, &name, obj))
    }

    pub(super) fn check_rv(
        &self,
        stored: &Value,
        sent: &Value,
        what: &str,
    ) -> Result<(), ApiFailure> {
        match sent["metadata"]["resourceVersion"].as_str() {
            Some(rv) if Some(rv) != stored["metadata"]["resourceVersion"].as_str() => {
                Err(ApiFailure::new(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {what}: the object has been modified; please apply your changes to the latest version and try again"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// PUT: replace; 409 on a stale resourceVersion, 404 if missing.
    pub fn replace(
        &mut self,
        resource: &str,
        ns: &str,
        name: &str,
        mut obj: Value,
    ) -> Result<Value, ApiFailure> {
        let Some(stored) = self.get(resource, ns, name) else {
            return Err(ApiFailure::new(
                404,
                "NotFound",
                format!("{resource} \"{name}\" not found"),
            ));
        };
        if obj["metadata"]["name"].as_str() != Some(name) {
            return Err(ApiFailure::new(
                422,
                "Invalid",
                "metadata.name: does not match the path",
            ));
        }
        self.check_rv(&stored, &obj, &format!("{resource} \"{name}\""))?;
        for k in ["uid", "creationTimestamp", "namespace"] {
            obj["metadata"][k] = stored["metadata"][k].clone();
        }
        let generation = stored["metadata"]["generation"].as_i64().unwrap_or(1);
        obj["metadata"]["generation"] = json!(if obj["spec"] != stored["spec"] {
            generation + 1
        } else {
            generation
        });
        Ok(self.store_unless_unchanged(resource, ns, name, &stored, obj))
    }

    /// Store `obj` unless it equals `stored` but for its resourceVersion: as the API server,
    /// an update that changes nothing is a no-op that keeps the resourceVersion.
    fn store_unless_unchanged(
        &mut self,
        resource: &str,
        ns: &str,
        name: &str,
        stored: &Value,
        mut obj: Value,
    ) -> Value {
        obj["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"].clone();
        if obj == *stored {
            self.last_write_noop = true;
            return obj;
        }
        self.store(resource, ns, name, obj)
    }

    /// `resource`'s `Scale` (`autoscaling/v1`), for the resources served with `/scale`
    /// ([`scalable`]): spec and status replicas from `spec.replicas` and `status.replicas`,
    /// the selector as a string (from `spec.selector.matchLabels`, else `status.selector`,
    /// as a CRD's `labelSelectorPath` gives it).
    pub fn scale_of(&self, resource: &str, ns: &str, name: &str) -> Result<Value, ApiFailure> {
        let qualified = scalable(resource).ok_or_else(|| {
            ApiFailure::new(
                404,
                "NotFound",
                format!("{resource} has no scale subresource"),
            )
        })?;
        let d = self.get(resource, ns, name).ok_or_else(|| {
            ApiFailure::new(404, "NotFound", format!("{qualified} \"{name}\" not found"))
        })?;
        let selector = match d["spec"]["selector"]["matchLabels"].as_object() {
            Some(labels) => labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(","),
            None => d["status"][WORKER_SELECTOR_PATH]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        };
        let status_replicas = if resource == "workers" {
            d["status"][WORKER_REPLICAS_PATH].clone()
        } else {
            d["status"]["replicas"].clone()
        };
        Ok(json!({
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {
                "name": name, "namespace": ns,
                "uid": d["metadata"]["uid"],
                "resourceVersion": d["metadata"]["resourceVersion"],
                "creationTimestamp": d["metadata"]["creationTimestamp"],
            },
            "spec": { "replicas": d["spec"]["replicas"] },
            "status": { "replicas": status_replicas, "selector": selector },
        }))
    }

    /// PATCH `/scale` of `resource`: only `spec.replicas` may change.
    pub fn patch_scale(
        &mut self,
        resource: &str,
        ns: &str,
        name: &str,
        patch: &Value,
        manager: &str,
    ) -> Result<Value, ApiFailure> {
        let scale = self.scale_of(resource, ns, name)?;
        let qualified = scalable(resource).unwrap_or(resource);
        self.check_rv(&scale, patch, &format!("{qualified} \"{name}\""))?;
        let mut merged = scale.clone();
        merge_patch(&mut merged, patch);
        let Some(replicas) = merged["spec"]["replicas"].as_i64().filter(|r| *r >= 0) else {
            return Err(ApiFailure::new(
                422,
                "Invalid",
                "spec.replicas: must be a non-negative integer",
            ));
        };
        let rollout = self.instant_rollout;
        let mut d = self.get(resource, ns, name).expect("checked above");
        if d["spec"]["replicas"] == json!(replicas) {
            // Nothing changes: the API server writes nothing and keeps the resourceVersion.
            self.last_write_noop = true;
            return self.scale_of(resource, ns, name);
        }
        d["spec"]["replicas"] = json!(replicas);
        let api_version = d["apiVersion"].clone();
        own_spec_field(&mut d, manager, "replicas", &api_version, Some("scale"));
        let generation = d["metadata"]["generation"].as_i64().unwrap_or(1);
        d["metadata"]["generation"] = json!(generation + 1);
        d["status"]["observedGeneration"] = json!(generation + 1);
        if rollout {
            if resource == "workers" {
                d["status"][WORKER_REPLICAS_PATH] = json!(replicas);
            } else {
                d["status"]["replicas"] = json!(replicas);
            }
            if !d["status"]["readyReplicas"].is_null() {
                d["status"]["readyReplicas"] = json!(replicas);
            }
        }
        self.store(resource, ns, name, d);
        self.scale_of(resource, ns, name)
    }

    /// Create or replace an object of `resource` (a scalable kind other than Deployment:
    /// [`scalable`]) named `name`, selecting pods `app: name`, with `replicas` in spec;
    /// `ready: None` leaves `status.readyReplicas` and `spec.selector` out, as a custom
    /// resource that keeps its count and selector where its CRD's scale paths say
    /// ([`WORKER_REPLICAS_PATH`] for a `Worker`, `status.replicas` for a `Widget`;
    /// [`WORKER_SELECTOR_PATH`] for both).
    pub fn put_scalable(
        &mut self,
        resource: &str,
        ns: &str,
        name: &str,
        replicas: u32,
        ready: Option<u32>,
    ) {
        let (api_version, kind) = match resource {
            "statefulsets" => ("apps/v1", "StatefulSet"),
            "rollouts" => ("argoproj.io/v1alpha1", "Rollout"),
            "workers" => ("example.com/v1", "Worker"),
            "widgets" => ("example.com/v1", "Widget"),
            other => panic!("the double has no scalable resource {other}"),
        };
        let mut obj = json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {
                "name": name, "namespace": ns, "generation": 1,
                "uid": format!("uid-{resource}-{ns}-{name}-{}", self.rv + 1),
                "creationTimestamp": now(),
            },
            "spec": { "replicas": replicas },
            "status": { "observedGeneration": 1 },
        });
        match ready {
            Some(ready) => {
                obj["spec"]["selector"] = json!({ "matchLabels": { "app": name } });
                obj["status"]["replicas"] = json!(replicas);
                obj["status"]["readyReplicas"] = json!(ready);
            }
            None => {
                let count = if resource == "workers" {
                    WORKER_REPLICAS_PATH
                } else {
                    "replicas"
                };
                obj["status"][count] = json!(replicas);
                obj["status"][WORKER_SELECTOR_PATH] = json!(format!("app={name}"));
            }
        }
        own_spec_field(
            &mut obj,
            "kubectl-client-side-apply",
            "replicas",
            &json!(api_version),
            None,
        );
        self.store(resource, ns, name, obj);
    }

    pub fn put_deployment(&mut self, ns: &str, name: &str, replicas: u32, ready: u32) {
        let obj = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name, "namespace": ns, "generation": 1,
                "uid": format!("uid-deployments-{ns}-{name}-{}", self.rv + 1),
                "creationTimestamp": now(),
            },
            "spec": {
                "replicas": replicas,
                "selector": { "matchLabels": { "app": name } },
                "template": { "metadata": { "labels": { "app": name } },
                              "spec": { "containers": [ { "name": "app", "image": "app" } ] } },
            },
            "status": { "replicas": replicas, "readyReplicas": ready, "observedGeneration": 1 },
        });
        let mut obj = obj;
        own_replicas(&mut obj, "kubectl-client-side-apply", None);
        self.store("deployments", ns, name, obj);
    }

    pub fn set_ready(&mut self, ns: &str, name: &str, ready: u32) {
        if let Some(mut d) = self.get("deployments", ns, name) {
            d["status"]["readyReplicas"] = json!(ready);
            let have = d["status"]["replicas"].as_u64().unwrap_or(0);
            d["status"]["replicas"] = json!(have.max(u64::from(ready)));
            self.store("deployments", ns, name, d);
        }
    }

    pub fn scale_by_hand(&mut self, ns: &str, name: &str, replicas: u32) {
        if let Some(mut d) = self.get("deployments", ns, name) {
            d["spec"]["replicas"] = json!(replicas);
            own_replicas(&mut d, "kubectl", Some("scale"));
            let generation = d["metadata"]["generation"].as_i64().unwrap_or(1);
            d["metadata"]["generation"] = json!(generation + 1);
            if self.instant_rollout {
                d["status"]["replicas"] = json!(replicas);
                d["status"]["readyReplicas"] = json!(replicas);
            }
            self.store("deployments", ns, name, d);
        }
    }

    pub fn replicas(&self, ns: &str, name: &str) -> Option<u32> {
        self.get("deployments", ns, name)
            .and_then(|d| d["spec"]["replicas"].as_u64())
            .map(|r| r as u32)
    }

    pub fn annotate(&mut self, ns: &str, name: &str, key: &str, value: &str) {
        if let Some(mut d) = self.get("deployments", ns, name) {
            d["metadata"]["annotations"][key] = json!(value);
            self.store("deployments", ns, name, d);
        }
    }

    pub fn delete(&mut self, resource: &str, ns: &str, name: &str) {
        let removed = self.objects.remove(&Self::key(resource, ns, name));
        self.rv += 1;
        if let Some(mut obj) = removed {
            obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
            self.record_change(resource, ns, "DELETED", obj);
        }
    }

    /// KEDA's CRD is deleted: its ScaledObjects are deleted with it (watchers see that),
    /// then its paths answer 404.
    pub fn uninstall_keda(&mut self) {
        let all: Vec<Key> = self
            .objects
            .keys()
            .filter(|(r, _, _)| r == "scaledobjects")
            .cloned()
            .collect();
        for (r, ns, name) in all {
            self.delete(&r, &ns, &name);
        }
        self.keda_installed = false;
        self.changed.send_replace(self.rv);
    }

    pub fn put_hpa(&mut self, ns: &str, name: &str, target: &str) {
        let obj = json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": { "name": name, "namespace": ns },
            "spec": {
                "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": target },
                "minReplicas": 1, "maxReplicas": 10,
            },
        });
        self.store("horizontalpodautoscalers", ns, name, obj);
    }

    pub fn put_scaled_object(&mut self, ns: &str, name: &str, target: &str) {
        self.keda_installed = true;
        let obj = json!({
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": { "name": name, "namespace": ns },
            "spec": { "scaleTargetRef": { "name": target }, "triggers": [] },
        });
        self.store("scaledobjects", ns, name, obj);
    }

    /// A pod of Deployment `deployment` (labels `app: deployment`, as `put_deployment`'s
    /// selector), with `ip` as `status.podIP` and its `Ready` condition as `ready`.
    pub fn put_pod(&mut self, ns: &str, name: &str, deployment: &str, ip: &str, ready: bool) {
        let obj = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name, "namespace": ns,
                "uid": format!("uid-pods-{ns}-{name}-{}", self.rv + 1),
                "creationTimestamp": now(),
                "labels": { "app": deployment, "pod-template-hash": "5d8f7c" },
            },
            "spec": { "containers": [ { "name": "app", "image": "app" } ] },
            "status": {
                "phase": "Running",
                "podIP": ip,
                "conditions": [ { "type": "Ready", "status": if ready { "True" } else { "False" } } ],
            },
        });
        self.store("pods", ns, name, obj);
    }

    /// Set a pod's `Ready` condition.
    pub fn set_pod_ready(&mut self, ns: &str, name: &str, ready: bool) {
        if let Some(mut p) = self.get("pods", ns, name) {
            p["status"]["conditions"] =
                json!([ { "type": "Ready", "status": if ready { "True" } else { "False" } } ]);
            self.store("pods", ns, name, p);
        }
    }

    /// Set a pod's `metadata.deletionTimestamp` (it is terminating; still listed).
    pub fn set_pod_deleting(&mut self, ns: &str, name: &str) {
        if let Some(mut p) = self.get("pods", ns, name) {
            p["metadata"]["deletionTimestamp"] = json!(now());
            self.store("pods", ns, name, p);
        }
    }
}
