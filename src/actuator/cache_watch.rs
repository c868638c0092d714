//! Keeping one watch-backed cache filled: list, watch, and on failure retry with a back-off
//! that only real progress resets, keeping the last known state meanwhile.
//!
//! kube-runtime's watcher emits `Event::Init` *before* each re-list, and its stream
//! back-off (`default_backoff`) resets on any `Ok` item, `Init` included: a list that fails
//! every time is then retried every ~1 s forever (two INFO lines each time, measured against
//! a real API server for KEDA's missing CRD). Here the back-off is prescale's own and resets
//! only on progress: a complete list (`InitDone`) or a change streamed by an open watch.

use kube::Resource;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector;
use kube::runtime::watcher::{self, Event};
use std::fmt::Debug;
use std::hash::Hash;
use tokio::sync::watch;
use tokio::time::{Duration, Instant};

/// How the autoscaler watches behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSettings {
    /// A watch failing for this long makes its cache untrusted: writes hold until it
    /// recovers, since an HPA created meanwhile would be missing from it.
    pub stale_after: Duration,
    /// While KEDA's CRD is absent, discovery checks for it this often.
    pub crd_recheck: Duration,
    /// First wait after a failure; doubled on each failure in a row.
    pub backoff_min: Duration,
    /// Longest wait between attempts.
    pub backoff_max: Duration,
}

impl Default for WatchSettings {
    fn default() -> Self {
        Self {
            stale_after: Duration::from_secs(60),
            crd_recheck: Duration::from_secs(300),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// What a cache's watch has achieved, published for the readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchHealth {
    /// Filled from a complete list at least once (or known to be empty: the CRD is absent).
    pub synced: bool,
    /// Failing without progress since then; `None` while healthy.
    pub failing_since: Option<Instant>,
}

/// Exponential back-off with jitter (a wait between half and all of the nominal one).
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Starting at `min`, capped at `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            failures: 0,
        }
    }

    /// The wait before the next attempt after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self
            .min
            .saturating_mul(1u32 << self.failures.min(16))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        nominal.mul_f64(0.5 + fastrand::f64() / 2.0)
    }

    /// Progress: the next failure starts again at `min`.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Why [`keep_watching`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Asked to stop.
    Stopped,
    /// The API server does not serve the resource (404): its CRD is not installed.
    Absent,
}

/// The watch failed because the resource does not exist on the API server (404).
pub fn resource_absent(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code == 404,
        watcher::Error::WatchError(s) => s.code == 404,
        _ => false,
    }
}

/// A watch resuming from a version the API server compacted away (410 Gone): routine, the
/// watcher lists again at once.
fn expired(e: &watcher::Error) -> bool {
    matches!(e, watcher::Error::WatchError(s) if s.code == 410)
}

/// One cache's watch: what it is of (for logs) and what to do on 404.
pub struct Watched<'a> {
    /// E.g. `HorizontalPodAutoscalers (autoscaling/v2)`.
    pub what: &'static str,
    /// Return [`Ended::Absent`] on 404 (an optional CRD) instead of retrying.
    pub absent_ends: bool,
    /// Published health.
    pub health: &'a watch::Sender<WatchHealth>,
    /// Timings.
    pub settings: WatchSettings,
}

/// Keep `writer`'s cache of `api` filled until `stop` (or, with `absent_ends`, until the
/// resource turns out not to exist). Failures are logged once per episode.
pub async fn keep_watching<K>(
    api: Api<K>,
    writer: &mut reflector::store::Writer<K>,
    watched: Watched<'_>,
    stop: &mut watch::Receiver<bool>,
) -> Ended
where
    K: Resource + Clone + serde::de::DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    let what = watched.what;
    let stream = watcher::watcher(api, watcher::Config::default())
        // Only the name, namespace, labels, owners, spec and prescale's own annotations
        // (the floor it holds) are read: dropping managedFields and the other annotations
        // (kubectl's last-applied copy) keeps a large cluster's cache small.
        .modify(|o: &mut K| {
            let meta = o.meta_mut();
            meta.managed_fields = None;
            if let Some(a) = meta.annotations.as_mut() {
                a.retain(|k, _| k.starts_with(super::PRESCALE_ANNOTATION_PREFIX));
            }
        });
    let mut stream = std::pin::pin!(stream);
    let mut backoff = Backoff::new(watched.settings.backoff_min, watched.settings.backoff_max);
    loop {
        let next = tokio::select! {
            _ = stop.wait_for(|s| *s) => return Ended::Stopped,
            next = futures::StreamExt::next(&mut stream) => next,
        };
        let event = match next {
            None => return Ended::Stopped,
            Some(Ok(event)) => event,
            Some(Err(e)) if watched.absent_ends && resource_absent(&e) => return Ended::Absent,
            Some(Err(e)) if expired(&e) => {
                tracing::debug!(resource = what, error = %e, "watch expired; listing again");
                continue;
            }
            Some(Err(e)) => {
                let was_failing = watched.health.borrow().failing_since.is_some();
                if was_failing {
                    tracing::debug!(resource = what, error = %e, "watch failed again");
                } else {
                    tracing::warn!(resource = what, error = %e, "watch failed; keeping the last known state and retrying with back-off");
                    watched
                        .health
                        .send_modify(|h| h.failing_since = Some(Instant::now()));
                }
                let delay = backoff.next_delay();
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return Ended::Stopped,
                    () = tokio::time::sleep(delay) => {}
                }
                continue;
            }
        };
        writer.apply_watcher_event(&event);
        // `Init` starts a list and `InitApply` carries its items: neither is progress yet.
        let progress = matches!(event, Event::InitDone | Event::Apply(_) | Event::Delete(_));
        if !progress {
            continue;
        }
        backoff.reset();
        let before = *watched.health.borrow();
        watched.health.send_replace(WatchHealth {
            synced: true,
            failing_since: None,
        });
        if matches!(event, Event::InitDone) {
            let count = writer.as_reader().len();
            if before.synced {
                tracing::debug!(resource = what, count, "cache listed again");
            } else {
                tracing::info!(resource = what, count, "cache synced");
            }
        }
        if before.failing_since.is_some() {
            tracing::info!(resource = what, "watch recovered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_to_its_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let nominal = [1, 2, 4, 8, 16, 30, 30];
        for n in nominal {
            let d = b.next_delay();
            let full = Duration::from_secs(n);
            assert!(d >= full / 2 && d <= full, "{d:?} for {full:?}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }
}
