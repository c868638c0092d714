//! Routing: `/api/v1/...` and `/apis/GROUP/VERSION/[namespaces/NS/]RESOURCE[/NAME[/scale]]`;
//! `?watch=true` on a collection streams changes as the API server does.

use super::store::{ApiFailure, FaultKind, Request, Store, Write, scalable};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

type Shared = Arc<Mutex<Store>>;

pub fn router(store: Shared) -> Router {
    Router::new().fallback(handle).with_state(store)
}

/// apiVersion and list kind of each resource the double serves.
fn resource_info(resource: &str) -> Option<(&'static str, &'static str)> {
    Some(match resource {
        "deployments" => ("apps/v1", "DeploymentList"),
        "statefulsets" => ("apps/v1", "StatefulSetList"),
        "rollouts" => ("argoproj.io/v1alpha1", "RolloutList"),
        "workers" => ("example.com/v1", "WorkerList"),
        "widgets" => ("example.com/v1", "WidgetList"),
        "horizontalpodautoscalers" => ("autoscaling/v2", "HorizontalPodAutoscalerList"),
        "scaledobjects" => ("keda.sh/v1alpha1", "ScaledObjectList"),
        "leases" => ("coordination.k8s.io/v1", "LeaseList"),
        "events" => ("events.k8s.io/v1", "EventList"),
        "pods" => ("v1", "PodList"),
        _ => return None,
    })
}

fn status_response(f: ApiFailure) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": f.message, "reason": f.reason, "code": f.code,
    });
    let code = StatusCode::from_u16(f.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (code, axum::Json(body)).into_response();
    if f.code == 429 {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    resp
}

fn reason_for(code: u16) -> &'static str {
    match code {
        404 => "NotFound",
        409 => "Conflict",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

pub(super) struct Target {
    pub(super) api_version: String,
    /// `None` for a cluster-wide collection (all namespaces).
    pub(super) ns: Option<String>,
    pub(super) resource: String,
    pub(super) name: Option<String>,
    pub(super) sub: Option<String>,
}

fn parse(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => (v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
        _ => return None,
    };
    match rest {
        ["namespaces", ns, resource, tail @ ..] if tail.len() <= 2 => Some(Target {
            api_version,
            ns: Some(ns.to_string()),
            resource: resource.to_string(),
            name: tail.first().map(|s| s.to_string()),
            sub: tail.get(1).map(|s| s.to_string()),
        }),
        [resource] => Some(Target {
            api_version,
            ns: None,
            resource: resource.to_string(),
            name: None,
            sub: None,
        }),
        _ => None,
    }
}

async fn handle(
    State(store): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let fault =
        store
            .lock()
            .expect("store lock")
            .take_fault(method.as_str(), &path, token.as_deref());
    let resp = match fault {
        Some(FaultKind::Status(code)) => Err(ApiFailure::new(
            code,
            reason_for(code),
            format!("injected fault {code}"),
        )),
        Some(FaultKind::Delay(d)) => {
            tokio::time::sleep(d).await;
            Err(ApiFailure::new(504, "Timeout", "injected delay"))
        }
        Some(FaultKind::DelayThenServe(d)) => {
            // Held while the request waits, so tests can wait for it to be answered or
            // dropped (a client that gives up closes the connection, and hyper drops this).
            let _delayed = Delayed::start(&store, token.clone());
            tokio::time::sleep(d).await;
            // Served below, under the one lock that also records it.
            return serve_and_record(&store, &method, &uri, &body_json, &content_type, token);
        }
        Some(FaultKind::ConcurrentScale(replicas)) => {
            if let Some(t) = parse(&path)
                && let (Some(ns), Some(name)) = (&t.ns, &t.name)
            {
                store
                    .lock()
                    .expect("store lock")
                    .scale_by_hand(ns, name, replicas);
            }
            return serve_and_record(&store, &method, &uri, &body_json, &content_type, token);
        }
        None if method == Method::GET && is_watch(&uri) => {
            let watched = super::watch::start(&store, &uri);
            let code = match &watched {
                Ok(_) => 200,
                Err(f) => f.code,
            };
            record(
                &mut store.lock().expect("store lock"),
                &method,
                &uri,
                code,
                token,
            );
            return match watched {
                Ok(r) => r,
                Err(f) => status_response(f),
            };
        }
        None => {
            return serve_and_record(&store, &method, &uri, &body_json, &content_type, token);
        }
    };
    let mut s = store.lock().expect("store lock");
    answer(&mut s, &method, &uri, body_json, resp, token)
}

/// A request held by [`FaultKind::DelayThenServe`]: counted in
/// [`Store::delayed_in_flight`] until dropped (answered, or abandoned by the client).
struct Delayed {
    store: Shared,
    token: Option<String>,
}

impl Delayed {
    fn start(store: &Shared, token: Option<String>) -> Self {
        store
            .lock()
            .expect("store lock")
            .delayed_in_flight
            .push(token.clone());
        Self {
            store: store.clone(),
            token,
        }
    }
}

impl Drop for Delayed {
    fn drop(&mut self) {
        let mut s = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = s.delayed_in_flight.iter().position(|t| *t == self.token) {
            s.delayed_in_flight.remove(i);
        }
    }
}

/// Serve a request and record it under one hold of the lock, so the recorded order of
/// writes is the order in which they were applied.
fn serve_and_record(
    store: &Shared,
    method: &Method,
    uri: &Uri,
    body: &Value,
    content_type: &str,
    token: Option<String>,
) -> Response {
    let mut s = store.lock().expect("store lock");
    s.last_write_noop = false;
    let resp = if method == Method::GET && is_discovery(uri.path()) {
        discovery(&s, uri.path())
    } else {
        serve(&mut s, method, uri, body, content_type)
    };
    answer(&mut s, method, uri, body.clone(), resp, token)
}

/// Record a request (and, for a write, its body and outcome) and turn it into a response.
fn answer(
    s: &mut Store,
    method: &Method,
    uri: &Uri,
    body: Value,
    resp: Result<(u16, Value), ApiFailure>,
    token: Option<String>,
) -> Response {
    let code = match &resp {
        Ok((c, _)) => *c,
        Err(f) => f.code,
    };
    record(s, method, uri, code, token.clone());
    if method != Method::GET {
        let noop = code < 300 && s.last_write_noop;
        s.writes.push(Write {
            method: method.to_string(),
            path: uri.path().to_string(),
            body,
            status: code,
            token,
            noop,
        });
    }
    match resp {
        Ok((c, v)) => (
            StatusCode::from_u16(c).unwrap_or(StatusCode::OK),
            axum::Json(v),
        )
            .into_response(),
        Err(f) => status_response(f),
    }
}

/// `GET /apis/GROUP/VERSION`: API discovery of one group version.
fn is_discovery(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(segs.as_slice(), ["apis", _, _])
}

/// The `APIResourceList` of a group version the double serves; 404 for one it does not
/// (KEDA's `keda.sh/v1alpha1` while KEDA is not installed).
fn discovery(s: &Store, path: &str) -> Result<(u16, Value), ApiFailure> {
    let group_version = path.trim_matches('/').trim_start_matches("apis/");
    let mut resources: Vec<Value> = Vec::new();
    for r in [
        "deployments",
        "statefulsets",
        "horizontalpodautoscalers",
        "scaledobjects",
        "leases",
        "events",
        "rollouts",
        "workers",
        "widgets",
    ] {
        let Some((version, list)) = resource_info(r) else {
            continue;
        };
        if version != group_version || (r == "scaledobjects" && !s.keda_installed) {
            continue;
        }
        let kind = list.trim_end_matches("List");
        resources.push(json!({
            "name": r, "singularName": "", "namespaced": true, "kind": kind,
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        }));
        // Subresources are listed as `RESOURCE/SUB`, with the kind they serve.
        resources.push(json!({
            "name": format!("{r}/status"), "singularName": "", "namespaced": true,
            "kind": kind, "verbs": ["get", "patch", "update"],
        }));
        if scalable(r).is_some() {
            resources.push(json!({
                "name": format!("{r}/scale"), "singularName": "", "namespaced": true,
                "group": "autoscaling", "version": "v1", "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if resources.is_empty() {
        return Err(ApiFailure::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        ));
    }
    Ok((
        200,
        json!({
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": group_version, "resources": resources,
        }),
    ))
}

/// `?watch=true` (or `1`): a watch of the collection.
pub fn is_watch(uri: &Uri) -> bool {
    uri.query()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1")
}

fn record(s: &mut Store, method: &Method, uri: &Uri, status: u16, token: Option<String>) {
    s.requests.push(Request {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        status,
        token,
    });
}

/// The collection a request names, checked: the resource is served in that apiVersion
/// (and, for ScaledObjects, KEDA is installed). Returns the target, apiVersion, list kind.
pub(super) fn resolve(
    s: &Store,
    path: &str,
) -> Result<(Target, &'static str, &'static str), ApiFailure> {
    let not_found = || {
        ApiFailure::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    };
    let t = parse(path).ok_or_else(not_found)?;
    let (api_version, list_kind) = resource_info(&t.resource).ok_or_else(not_found)?;
    if api_version != t.api_version || (t.resource == "scaledobjects" && !s.keda_installed) {
        return Err(not_found());
    }
    Ok((t, api_version, list_kind))
}

fn serve(
    s: &mut Store,
    method: &Method,
    uri: &Uri,
    body: &Value,
    content_type: &str,
) -> Result<(u16, Value), ApiFailure> {
    let path = uri.path();
    // The API server names a write's field manager from `?fieldManager=`.
    let manager = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("fieldManager="))
        .unwrap_or("unknown")
        .to_string();
    let not_found = || {
        ApiFailure::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    };
    let (t, api_version, list_kind) = resolve(s, path)?;
    let what = |name: &str| format!("{} \"{name}\" not found", t.resource);
    if let ("GET", None) = (method.as_str(), t.name.as_deref()) {
        let selector = label_selector(uri)?;
        let items: Vec<Value> = s
            .list(&t.resource, t.ns.as_deref())
            .into_iter()
            .filter(|o| {
                selector
                    .iter()
                    .all(|(k, v)| o["metadata"]["labels"][k].as_str() == Some(v.as_str()))
            })
            .collect();
        return Ok((
            200,
            json!({
                "apiVersion": api_version, "kind": list_kind,
                "metadata": { "resourceVersion": s.list_rv() },
                "items": items,
            }),
        ));
    }
    // Everything else names one namespace.
    let Some(ns) = t.ns.clone() else {
        return Err(ApiFailure::new(
            405,
            "MethodNotAllowed",
            format!("{method} {path}"),
        ));
    };
    match (method.as_str(), t.name.as_deref(), t.sub.as_deref()) {
        ("GET", Some(name), None) => s
            .get(&t.resource, &ns, name)
            .map(|v| (200, v))
            .ok_or_else(|| ApiFailure::new(404, "NotFound", what(name))),
        ("GET", Some(name), Some("scale")) if scalable(&t.resource).is_some() => {
            s.scale_of(&t.resource, &ns, name).map(|v| (200, v))
        }
        ("POST", None, None) => s.create(&t.resource, &ns, body.clone()).map(|v| (201, v)),
        ("PUT", Some(name), None) => s
            .replace(&t.resource, &ns, name, body.clone())
            .map(|v| (200, v)),
        ("PATCH", Some(name), sub) => {
            if !content_type.starts_with("application/merge-patch+json") {
                return Err(ApiFailure::new(
                    415,
                    "UnsupportedMediaType",
                    format!("the double supports merge patches only, got {content_type}"),
                ));
            }
            match sub {
                None => s
                    .patch_managed(&t.resource, &ns, name, body, &manager)
                    .map(|v| (200, v)),
                Some("scale") if scalable(&t.resource).is_some() => s
                    .patch_scale(&t.resource, &ns, name, body, &manager)
                    .map(|v| (200, v)),
                Some(_) => Err(not_found()),
            }
        }
        _ => Err(ApiFailure::new(
            405,
            "MethodNotAllowed",
            format!("{method} {path}"),
        )),
    }
}

/// The `labelSelector` of a list as equalities (`k=v,k2==v2`); other selector syntax
/// (`!=`, `in`, existence) is answered 400, as the double does not implement it.
fn label_selector(uri: &Uri) -> Result<Vec<(String, String)>, ApiFailure> {
    let url = reqwest::Url::parse(&format!("http://double/?{}", uri.query().unwrap_or("")))
        .map_err(|e| ApiFailure::new(400, "BadRequest", format!("bad query: {e}")))?;
    let Some((_, selector)) = url.query_pairs().find(|(k, _)| k == "labelSelector") else {
        return Ok(Vec::new());
    };
    selector
        .split(',')
        .filter(|term| !term.is_empty())
        .map(|term| {
            let (k, v) = term
                .split_once("==")
                .or_else(|| term.split_once('='))
                .filter(|(k, _)| !k.ends_with('!'))
                .ok_or_else(|| {
                    ApiFailure::new(
                        400,
                        "BadRequest",
                        format!("the double supports equality selectors only, got `{term}`"),
                    )
                })?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}
