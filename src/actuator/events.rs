//! Kubernetes Events (`events.k8s.io/v1`) on the scaled Deployment or on prescale's own Pod,
//! published from a queue at a bounded rate.
//!
//! Rate limiting is one design in two steps. What is worth saying is decided per stream
//! before anything is queued: a target's decision Events go through its
//! [`super::EventLimiter`] (only on a change, at most one per `events.minInterval` unless the
//! direction turns), and one-off conditions (`OtherAutoscaler`, `ManualScale`...) are said
//! once per episode by their callers. How fast it goes out is this queue's: one bucket for
//! the whole controller (`--events-per-second`, `--events-burst`), with what is still
//! pending coalesced per object and reason.
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
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use prometheus_client::metrics::counter::Counter;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::time::{Duration, Instant};

/// One Event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    /// `Warning` instead of `Normal`.
    pub warning: bool,
    /// PascalCase reason, e.g. `Recommendation`, `Rescaled`, `OtherAutoscaler`: one of a
    /// fixed set (an Event's reason is a machine-readable constant), so no copy per Event.
    pub reason: &'static str,
    /// PascalCase action, e.g. `Recommend`, `Scale`, `HoldWrites`.
    pub action: &'static str,
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
    regarding: Arc<ObjectReference>,
    event: EventSpec,
    still_valid: Option<Validity>,
}

/// Whether a queued Event may still be published when its turn comes.
pub type Validity = Arc<dyn Fn() -> bool + Send + Sync>;

/// `(object, reason)`: at most one pending Event each. Shared by the queue's order and its
/// map: at thousands of targets nearly every target has an Event waiting its turn.
type Key = (String, &'static str);

#[derive(Default)]
struct Queue {
    order: VecDeque<Arc<Key>>,
    pending: HashMap<Arc<Key>, Pending>,
    closed: bool,
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Notify,
    telemetry: Arc<Telemetry>,
    /// `prescale_events_total`'s series, one per result, looked up once.
    counts: Counts,
}

/// What became of Events, by result (the series of `prescale_events_total`).
struct Counts {
    published: Counter,
    failed: Counter,
    dropped: Counter,
    coalesced: Counter,
}

impl Counts {
    fn of(telemetry: &Telemetry) -> Self {
        let series = |result: &str| {
            telemetry
                .events
                .get_or_create(&EventLabels {
                    result: result.into(),
                })
                .clone()
        };
        Self {
            published: series("published"),
            failed: series("failed"),
            dropped: series("dropped"),
            coalesced: series("coalesced"),
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
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
        let reporter = Reporter {
            controller: "prescale".into(),
            instance,
        };
        Self::with_publisher(
            Arc::new(KubePublisher { client, reporter }),
            limits,
            telemetry,
        )
    }

    /// A sink whose queue is published through `publisher`.
    pub fn with_publisher(
        publisher: Arc<dyn PublishEvent>,
        limits: EventLimits,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            counts: Counts::of(&telemetry),
            telemetry,
        });
        tokio::spawn(publish_queue(inner.clone(), publisher, limits));
        Self { inner }
    }

    /// Queue `event` about `regarding`. Returns at once.
    pub async fn publish(&self, regarding: &Arc<ObjectReference>, event: EventSpec) {
        self.enqueue(regarding, event, None);
    }

    /// Queue `event` about `regarding`, to be published only if `still_valid` holds when its
    /// turn comes (an instance that no longer leads the target does not report on it).
    pub fn publish_if(
        &self,
        regarding: &Arc<ObjectReference>,
        event: EventSpec,
        still_valid: Validity,
    ) {
        self.enqueue(regarding, event, Some(still_valid));
    }

    fn enqueue(
        &self,
        regarding: &Arc<ObjectReference>,
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
            event.reason,
        );
        let mut q = self.inner.lock();
        if q.closed {
            return;
        }
        if let Some(pending) = q.pending.get_mut(&key) {
            // The newer Event replaces the pending one in place (its turn kept).
            pending.regarding = regarding.clone();
            pending.event = event;
            pending.still_valid = still_valid;
            drop(q);
            self.inner.counts.coalesced.inc();
            return;
        }
        let key = Arc::new(key);
        q.order.push_back(key.clone());
        q.pending.insert(
            key,
            Pending {
                regarding: regarding.clone(),
                event,
                still_valid,
            },
        );
        let len = q.order.len();
        drop(q);
        self.inner.telemetry.events_pending.set(len as i64);
        self.inner.wake.notify_one();
    }

    /// Stop publishing; Events still queued are dropped (counted as `dropped`).
    pub fn close(&self) {
        let dropped = {
            let mut q = self.inner.lock();
            q.closed = true;
            q.order.clear();
            std::mem::take(&mut q.pending).len()
        };
        self.inner.counts.dropped.inc_by(dropped as u64);
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

/// Publishes one Event: the Kubernetes API, or a recorder in tests.
pub trait PublishEvent: Send + Sync {
    /// Publish `event` about `regarding`; the error says why not.
    fn publish<'a>(
        &'a self,
        regarding: &'a ObjectReference,
        event: &'a EventSpec,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// `events.k8s.io/v1` Events through kube's recorder.
struct KubePublisher {
    client: Client,
    reporter: Reporter,
}

impl PublishEvent for KubePublisher {
    fn publish<'a>(
        &'a self,
        regarding: &'a ObjectReference,
        event: &'a EventSpec,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut note = event.note.clone();
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
                reason: event.reason.into(),
                note: Some(note),
                action: event.action.into(),
                secondary: None,
            };
            // A recorder per Event: kube's Recorder would fold a repeated reason into a
            // series (and keep the first note).
            let recorder = Recorder::new(self.client.clone(), self.reporter.clone());
            match tokio::time::timeout(PUBLISH_TIMEOUT, recorder.publish(&ev, regarding)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {}s", PUBLISH_TIMEOUT.as_secs())),
            }
        })
    }
}

async fn publish_queue(inner: Arc<Inner>, publisher: Arc<dyn PublishEvent>, limits: EventLimits) {
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
                    let pending = q.pending.remove(&*key);
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
            inner.counts.dropped.inc();
            continue;
        }
        bucket.take().await;
        match publisher.publish(&pending.regarding, &pending.event).await {
            Ok(()) => {
                inner.counts.published.inc();
            }
            Err(e) => {
                inner.counts.failed.inc();
                tracing::warn!(reason = %pending.event.reason, error = %e, "publishing Event failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what was published and when.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<(Instant, String, String)>>);

    impl PublishEvent for Recorded {
        fn publish<'a>(
            &'a self,
            regarding: &'a ObjectReference,
            event: &'a EventSpec,
        ) -> BoxFuture<'a, Result<(), String>> {
            let name = regarding.name.clone().unwrap_or_default();
            let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
            all.push((Instant::now(), name, event.note.clone()));
            Box::pin(async { Ok(()) })
        }
    }

    fn about(name: &str) -> Arc<ObjectReference> {
        Arc::new(ObjectReference {
            kind: Some("Deployment".into()),
            namespace: Some("shop".into()),
            name: Some(name.into()),
            ..ObjectReference::default()
        })
    }

    fn recommends(n: u32) -> EventSpec {
        EventSpec {
            warning: false,
            reason: "Recommendation",
            action: "Recommend",
            note: format!("recommends {n}"),
        }
    }

    fn count(t: &Telemetry, result: &str) -> u64 {
        t.events
            .get_or_create(&EventLabels {
                result: result.into(),
            })
            .get()
    }

    #[tokio::test(start_paused = true)]
    async fn a_start_up_wave_is_published_at_the_rate_and_a_newer_event_replaces_a_pending_one() {
        let recorded = Arc::new(Recorded::default());
        let telemetry = Arc::new(Telemetry::new());
        let limits = EventLimits {
            per_second: 2.0,
            burst: 3,
        };
        let sink = EventSink::with_publisher(recorded.clone(), limits, telemetry.clone());
        let t0 = Instant::now();
        for i in 0..10 {
            sink.publish(&about(&format!("d{i}")), recommends(1)).await;
        }
        // d9's recommendation changes before its turn: one Event, with the new text.
        sink.publish(&about("d9"), recommends(7)).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let all = recorded.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let names: Vec<&str> = all.iter().map(|(_, n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9"],
            "in order, once each"
        );
        assert_eq!(all[9].2, "recommends 7");
        // The burst at once, then one every half second.
        for (i, (at, _, _)) in all.iter().enumerate() {
            let expected = Duration::from_millis(500 * (i.saturating_sub(2)) as u64);
            let at = *at - t0;
            assert!(
                at >= expected && at <= expected + Duration::from_millis(10),
                "Event {i} at {at:?}, expected {expected:?}"
            );
        }
        assert_eq!(count(&telemetry, "published"), 10);
        assert_eq!(count(&telemetry, "coalesced"), 1);
        assert_eq!(sink.pending(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_no_longer_valid_when_its_turn_comes_is_dropped() {
        let recorded = Arc::new(Recorded::default());
        let telemetry = Arc::new(Telemetry::new());
        let sink =
            EventSink::with_publisher(recorded.clone(), EventLimits::default(), telemetry.clone());
        sink.publish_if(&about("lost"), recommends(2), Arc::new(|| false));
        sink.publish_if(&about("kept"), recommends(2), Arc::new(|| true));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let all = recorded.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].1, "kept");
        assert_eq!(count(&telemetry, "dropped"), 1);
    }

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
