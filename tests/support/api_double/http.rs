//! Routing: `/api/v1/...` and `/apis/GROUP/VERSION/[namespaces/NS/]RESOURCE[/NAME[/scale]]`;
//! `?watch=true` on a collection streams changes as the API server does.

use super::store::{ApiFailure, FaultKind, Request, Store, Write};
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
        Some(FaultKind::ConcurrentScale(replicas)) => {
            let mut s = store.lock().expect("store lock");
            if let Some(t) = parse(&path)
                && let (Some(ns), Some(name)) = (&t.ns, &t.name)
            {
                s.scale_by_hand(ns, name, replicas);
            }
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            serve(&mut s, &method, &uri, &body_json, content_type)
        }
        None if method == Method::GET && is_watch(&uri) => {
            let watched = super::watch::start(&store, &uri);
            let code = match &watched {
                Ok(_) => 200,
                Err(f) => f.code,
            };
            record(&store, &method, &uri, code, token);
            return match watched {
                Ok(r) => r,
                Err(f) => status_response(f),
            };
        }
        None => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let mut s = store.lock().expect("store lock");
            serve(&mut s, &method, &uri, &body_json, content_type)
        }
    };
    let code = match &resp {
        Ok((c, _)) => *c,
        Err(f) => f.code,
    };
    record(&store, &method, &uri, code, token.clone());
    if method != Method::GET {
        store.lock().expect("store lock").writes.push(Write {
            method: method.to_string(),
            path: path.clone(),
            body: body_json,
            status: code,
            token,
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

/// `?watch=true` (or `1`): a watch of the collection.
pub fn is_watch(uri: &Uri) -> bool {
    uri.query()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1")
}

fn record(store: &Shared, method: &Method, uri: &Uri, status: u16, token: Option<String>) {
    store.lock().expect("store lock").requests.push(Request {
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
        ("GET", Some(name), Some("scale")) if t.resource == "deployments" => {
            s.scale_of(&ns, name).map(|v| (200, v))
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
                Some("scale") if t.resource == "deployments" => {
                    s.patch_scale(&ns, name, body, &manager).map(|v| (200, v))
                }
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
