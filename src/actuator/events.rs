//! Kubernetes Events (`events.k8s.io/v1`) on the scaled Deployment or on prescale's own Pod,
//! published from a queue at a bounded rate.
//!
//! A tick never waits for an Event: [`EventSink::publish`] queues it and one task publishes
//! the queue, at most [`EventLimits::per_second`] on average (bursts of
//! [`EventLimits::burst`]). At most one Event is pending per object and reason: a newer one
//! replaces the pending one's note in place (a recommendation that changed twice before it
//! could be published is published once, with the latest text). So 10,000 targets starting
//! at once, each with its first `Recommendation`, are a steady trickle over the first
//! minutes rather than 10,000 POSTs in one second, and the queue never holds more than one
//! Event per target and reason.

use crate::telemetry::{EventLabels, Telemetry};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::time::{Duration, Instant};

/// One Event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    /// `Warning` instead of `Normal`.
    pub warning: bool,
    /// PascalCase reason, e.g. `Recommendation`, `Rescaled`, `OtherAutoscaler`.
    pub reason: String,
    /// PascalCase action, e.g. `Recommend`, `Scale`, `HoldWrites`.
    pub action: String,
    /// Human-readable note (at most 1 kB).
    pub note: String,
}

/// How fast Events are published.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventLimits {
    /// Events per second on average.
    pub per_second: f64,
    /// Events that may be published at once after a quiet period.
    pub burst: u32,
}

impl Default for EventLimits {
    /// 5 a second, bursts of 50: a few hundred targets' first Events go out at start-up at
    /// once, and a cluster-wide controller never becomes the API server's main Event source.
    fn default() -> Self {
        Self {
            per_second: 5.0,
            burst: 50,
        }
    }
}

/// Longest wait for the API server to take one Event.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// A pending Event: whom it is about, what it says, and whether it may still be published
/// (e.g. this instance still leads the target's shard).
struct Pending {
    regarding: ObjectReference,
    event: EventSpec,
    still_valid: Option<Validity>,
}

/// Whether a queued Event may still be published when its turn comes.
pub type Validity = Arc<dyn Fn() -> bool + Send + Sync>;

/// `(object, reason)`: at most one pending Event each.
type Key = (String, String);

#[derive(Default)]
struct Queue {
    order: VecDeque<Key>,
    pending: HashMap<Key, Pending>,
    closed: bool,
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Notify,
    telemetry: Arc<Telemetry>,
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, result: &str) {
        self.telemetry
            .events
            .get_or_create(&EventLabels {
                result: result.into(),
            })
            .inc();
    }
}

/// Publishes Events; a failure is logged and counted and never fails the caller, since an
/// Event is a report and the tick that produced it must go on.
///
/// Each Event is created afresh: kube's `Recorder` folds Events with the same reason into a
/// series and keeps the first note, which would hide a changed recommendation behind the
/// old text. prescale publishes only on changes, so a new Event each time is not spam.
#[derive(Clone)]
pub struct EventSink {
    inner: Arc<Inner>,
}

impl EventSink {
    /// Events reported as controller `prescale`, instance `instance` (the Pod name),
    /// published at most as fast as `limits` allow by a task started now (it ends at
    /// [`EventSink::close`]).
    pub fn new(
        client: Client,
        instance: Option<String>,
        limits: EventLimits,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            telemetry,
        });
        let reporter = Reporter {
            controller: "prescale".into(),
            instance,
        };
        tokio::spawn(publish_queue(inner.clone(), client, reporter, limits));
        Self { inner }
    }

    /// Queue `event` about `regarding`. Returns at once.
    pub async fn publish(&self, regarding: &ObjectReference, event: EventSpec) {
        self.enqueue(regarding, event, None);
    }

    /// Queue `event` about `regarding`, to be published only if `still_valid` holds when its
    /// turn comes (an instance that no longer leads the target does not report on it).
    pub fn publish_if(&self, regarding: &ObjectReference, event: EventSpec, still_valid: Validity) {
        self.enqueue(regarding, event, Some(still_valid));
    }

    fn enqueue(
        &self,
        regarding: &ObjectReference,
        event: EventSpec,
        still_valid: Option<Validity>,
    ) {
        let key = (
            format!(
                "{}/{}/{}",
                regarding.kind.as_deref().unwrap_or(""),
                regarding.namespace.as_deref().unwrap_or(""),
                regarding.name.as_deref().unwrap_or("")
            ),
            event.reason.clone(),
        );
        let pending = Pending {
            regarding: regarding.clone(),
            event,
            still_valid,
        };
        let mut q = self.inner.lock();
        if q.closed {
            return;
        }
        if q.pending.insert(key.clone(), pending).is_some() {
            drop(q);
            self.inner.count("coalesced");
        } else {
            q.order.push_back(key);
            let len = q.order.len();
            drop(q);
            self.inner.telemetry.events_pending.set(len as i64);
            self.inner.wake.notify_one();
        }
    }

    /// Stop publishing; Events still queued are dropped (counted as `dropped`).
    pub fn close(&self) {
        let dropped = {
            let mut q = self.inner.lock();
            q.closed = true;
            q.order.clear();
            std::mem::take(&mut q.pending).len()
        };
        for _ in 0..dropped {
            self.inner.count("dropped");
        }
        self.inner.telemetry.events_pending.set(0);
        self.inner.wake.notify_one();
    }

    /// Events waiting to be published.
    pub fn pending(&self) -> usize {
        self.inner.lock().order.len()
    }
}

/// A token bucket: `burst` tokens, refilled at `per_second`.
struct Bucket {
    tokens: f64,
    limits: EventLimits,
    at: Instant,
}

impl Bucket {
    fn new(limits: EventLimits) -> Self {
        Self {
            tokens: f64::from(limits.burst.max(1)),
            limits,
            at: Instant::now(),
        }
    }

    /// Take a token, waiting for one if need be.
    async fn take(&mut self) {
        let per_second = self.limits.per_second.max(1e-3);
        let cap = f64::from(self.limits.burst.max(1));
        loop {
            let now = Instant::now();
            self.tokens = (self.tokens + (now - self.at).as_secs_f64() * per_second).min(cap);
            self.at = now;
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                return;
            }
            let wait = Duration::from_secs_f64((1.0 - self.tokens) / per_second);
            tokio::time::sleep(wait).await;
        }
    }
}

async fn publish_queue(inner: Arc<Inner>, client: Client, reporter: Reporter, limits: EventLimits) {
    let mut bucket = Bucket::new(limits);
    loop {
        let next = {
            let mut q = inner.lock();
            if q.closed {
                return;
            }
            match q.order.pop_front() {
                Some(key) => {
                    let len = q.order.len();
                    let pending = q.pending.remove(&key);
                    drop(q);
                    inner.telemetry.events_pending.set(len as i64);
                    pending
                }
                None => None,
            }
        };
        let Some(pending) = next else {
            inner.wake.notified().await;
            continue;
        };
        if pending.still_valid.as_ref().is_some_and(|valid| !valid()) {
            inner.count("dropped");
            continue;
        }
        bucket.take().await;
        // A recorder per Event: kube's Recorder would fold a repeated reason into a series.
        let recorder = Recorder::new(client.clone(), reporter.clone());
        publish_one(&inner, &recorder, pending).await;
    }
}

async fn publish_one(inner: &Inner, recorder: &Recorder, pending: Pending) {
    let Pending {
        regarding, event, ..
    } = pending;
    let mut note = event.note;
    if note.len() > 1000 {
        let mut cut = 1000;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
    }
    let ev = Event {
        type_: if event.warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: event.reason.clone(),
        note: Some(note),
        action: event.action,
        secondary: None,
    };
    match tokio::time::timeout(PUBLISH_TIMEOUT, recorder.publish(&ev, &regarding)).await {
        Ok(Ok(())) => inner.count("published"),
        Ok(Err(e)) => {
            inner.count("failed");
            tracing::warn!(reason = %event.reason, error = %e, "publishing Event failed");
        }
        Err(_) => {
            inner.count("failed");
            tracing::warn!(reason = %event.reason, "publishing Event timed out after 10s");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_a_burst_then_the_rate() {
        let mut b = Bucket::new(EventLimits {
            per_second: 2.0,
            burst: 3,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            b.take().await;
        }
        assert_eq!(Instant::now(), t0, "the burst is immediate");
        for _ in 0..4 {
            b.take().await;
        }
        let took = Instant::now() - t0;
        assert!(
            took >= Duration::from_millis(1990) && took <= Duration::from_millis(2010),
            "{took:?}"
        );
    }
}
