//! `GET COLLECTION?watch=true`: newline-delimited `{"type":...,"object":...}` events over a
//! chunked response, as the API server streams them.
//!
//! - From `resourceVersion=N`: every change after N, then changes as they happen.
//! - Without one (or `0`): `ADDED` for every object that exists now, then changes.
//! - N older than the compaction horizon: one `ERROR` event with a `410 Gone` Status (the
//!   client must list again), then the stream ends. An open watch that had not caught up
//!   when the history was compacted ends the same way.
//! - `allowWatchBookmarks=true`: a `BOOKMARK` with the current resourceVersion when the
//!   watch has been idle for a second and the version moved on (the API server sends one
//!   about every minute).
//! - `timeoutSeconds=S`: the stream ends after S seconds. Uninstalling KEDA ends its watches;
//!   cutting watches off ends them all, and new ones get 503 until they are back.

use super::http::resolve;
use super::store::ApiFailure;
use super::store::Store;
use axum::body::{Body, Bytes};
use axum::http::{Uri, header};
use axum::response::Response;
use futures::SinkExt;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Idle time after which a bookmark is sent.
const BOOKMARK_EVERY: Duration = Duration::from_secs(1);

fn param<'a>(uri: &'a Uri, key: &str) -> Option<&'a str> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// The `ERROR` event for a watch whose next change was compacted away.
fn expired(rv: u64, horizon: u64) -> Bytes {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "reason": "Expired", "code": 410,
        "message": format!("too old resource version: {rv} ({horizon})"),
    });
    line("ERROR", &status)
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut s = json!({ "type": kind, "object": object }).to_string();
    s.push('\n');
    Bytes::from(s)
}

/// Start a watch; the answer streams until the client goes away, the timeout passes, or
/// the resource is removed.
pub fn start(store: &Arc<Mutex<Store>>, uri: &Uri) -> Result<Response, ApiFailure> {
    let s = store.lock().expect("store lock");
    let (t, api_version, list_kind) = resolve(&s, uri.path())?;
    if t.name.is_some() {
        return Err(ApiFailure::new(
            405,
            "MethodNotAllowed",
            "the double watches collections only",
        ));
    }
    if s.watches_down {
        return Err(ApiFailure::new(
            503,
            "ServiceUnavailable",
            "watches are down (injected)",
        ));
    }
    let kind = list_kind.trim_end_matches("List").to_string();
    let bookmarks = param(uri, "allowWatchBookmarks") == Some("true");
    let timeout = param(uri, "timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let from = param(uri, "resourceVersion").unwrap_or("");
    let mut first = Vec::new();
    let mut too_old = false;
    let cursor = match from {
        "" | "0" => {
            for obj in s.list(&t.resource, t.ns.as_deref()) {
                first.push(line("ADDED", &obj));
            }
            s.rv()
        }
        v => {
            let rv: u64 = v.parse().map_err(|_| {
                ApiFailure::new(400, "BadRequest", format!("invalid resourceVersion {v}"))
            })?;
            if rv < s.horizon {
                too_old = true;
                first.push(expired(rv, s.horizon));
            }
            rv
        }
    };
    let changed = s.changed.subscribe();
    drop(s);

    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, Infallible>>(64);
    let store = store.clone();
    tokio::spawn(async move {
        for l in first {
            if tx.send(Ok(l)).await.is_err() {
                return;
            }
        }
        if too_old {
            return;
        }
        let mut changed = changed;
        let mut cursor = cursor;
        let mut bookmarked = cursor;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changed.borrow_and_update();
            let next = {
                let s = store.lock().expect("store lock");
                if s.watches_down {
                    // Cut off: whatever was not sent yet is lost with the connection.
                    return;
                }
                if cursor < s.horizon {
                    // Changes this watch has not sent yet were compacted away.
                    Err(expired(cursor, s.horizon))
                } else {
                    Ok((
                        s.changes_after(&t.resource, t.ns.as_deref(), cursor),
                        s.rv(),
                        t.resource != "scaledobjects" || s.keda_installed,
                    ))
                }
            };
            let (batch, now, present) = match next {
                Ok(next) => next,
                Err(gone) => {
                    let _ = tx.send(Ok(gone)).await;
                    return;
                }
            };
            for c in batch {
                cursor = c.rv;
                if tx.send(Ok(line(c.kind, &c.object))).await.is_err() {
                    return;
                }
            }
            if !present {
                return;
            }
            // Every change up to `now` that this watch sees has been sent.
            cursor = cursor.max(now);
            tokio::select! {
                r = changed.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(BOOKMARK_EVERY) => {
                    if bookmarks && cursor > bookmarked {
                        let mark = json!({
                            "kind": kind, "apiVersion": api_version,
                            "metadata": { "resourceVersion": cursor.to_string() },
                        });
                        if tx.send(Ok(line("BOOKMARK", &mark))).await.is_err() {
                            return;
                        }
                        bookmarked = cursor;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    });
    Ok(Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(rx))
        .expect("watch response"))
}
