//! What `/healthz` and `/readyz` check.
//!
//! - Live (`/healthz`): the control loop is not stuck: every target has finished a tick
//!   within [`stuck_after`] its interval (at least [`STUCK_FLOOR`]). A wedged loop (a call
//!   without a deadline, a deadlock) fails it, so the kubelet restarts the controller.
//! - Ready (`/readyz`): config loaded, the autoscaler caches synced, every target ticked
//!   once, and the API server answering. One slow or failed call does not drop readiness:
//!   only when no call has been answered for [`UNANSWERED_GRACE`] (both replicas of the
//!   controller would otherwise drop out of the Service together for one slow answer).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// A target is stuck when no tick finished for this many of its intervals...
pub const STUCK_INTERVALS: u32 = 5;
/// ...and at least this long: a first tick may wait a minute for the forecast's history,
/// and a tick with several slow API calls may take a few of their deadlines.
pub const STUCK_FLOOR: Duration = Duration::from_secs(180);
/// Readiness drops only after the API server has answered nothing for this long.
pub const UNANSWERED_GRACE: Duration = Duration::from_secs(60);

/// How long a target with `interval` may go without finishing a tick.
pub fn stuck_after(interval: Duration) -> Duration {
    (interval * STUCK_INTERVALS).max(STUCK_FLOOR)
}

#[derive(Debug, Clone, Copy)]
struct TargetHealth {
    interval: Duration,
    started: Instant,
    last_tick: Option<Instant>,
}

#[derive(Debug, Default, Clone, Copy)]
struct ApiHealth {
    /// The first failure since the last answer.
    failing_since: Option<Instant>,
}

/// Liveness and readiness facts, updated by the controller's tasks.
#[derive(Default)]
pub struct Health {
    config_loaded: AtomicBool,
    autoscalers_synced: AtomicBool,
    api: Mutex<ApiHealth>,
    targets: Mutex<BTreeMap<String, TargetHealth>>,
}

impl Health {
    /// A valid config is in force.
    pub fn set_config_loaded(&self) {
        self.config_loaded.store(true, Ordering::Relaxed);
    }

    /// The HPA and ScaledObject caches have been filled from a complete list once.
    pub fn set_autoscalers_synced(&self) {
        self.autoscalers_synced.store(true, Ordering::Relaxed);
    }

    /// Record whether the last API call got an answer from the API server.
    pub fn set_kube_answered(&self, answered: bool) {
        let mut api = self.api.lock().unwrap_or_else(|p| p.into_inner());
        if answered {
            api.failing_since = None;
        } else if api.failing_since.is_none() {
            api.failing_since = Some(Instant::now());
        }
    }

    /// A target started, ticking every `interval`: not ready until its first tick is done.
    pub fn target_started(&self, target: &str, interval: Duration) {
        self.lock().insert(
            target.to_string(),
            TargetHealth {
                interval,
                started: Instant::now(),
                last_tick: None,
            },
        );
    }

    /// A target finished a tick (its interval may have changed with a reload).
    pub fn target_ticked(&self, target: &str, interval: Duration) {
        let now = Instant::now();
        let mut targets = self.lock();
        // Found in place: the name is copied once per target, not per tick.
        if let Some(t) = targets.get_mut(target) {
            t.interval = interval;
            t.last_tick = Some(now);
        } else {
            targets.insert(
                target.to_string(),
                TargetHealth {
                    interval,
                    started: now,
                    last_tick: Some(now),
                },
            );
        }
    }

    /// A target was removed.
    pub fn target_removed(&self, target: &str) {
        self.lock().remove(target);
    }

    /// Why the controller is not live (a target's loop is stuck), or `None` when it is.
    pub fn not_live(&self) -> Option<String> {
        let now = Instant::now();
        let stuck: Vec<String> = self
            .lock()
            .iter()
            .filter_map(|(name, t)| {
                let since = t.last_tick.unwrap_or(t.started);
                let quiet = now.saturating_duration_since(since);
                (quiet > stuck_after(t.interval)).then(|| {
                    format!(
                        "{name} (no tick finished for {}s; interval {}s)",
                        quiet.as_secs(),
                        t.interval.as_secs_f64()
                    )
                })
            })
            .collect();
        (!stuck.is_empty()).then(|| format!("control loop stuck: {}", stuck.join(", ")))
    }

    /// Why the controller is not ready, or `None` when it is.
    pub fn not_ready(&self) -> Option<String> {
        if !self.config_loaded.load(Ordering::Relaxed) {
            return Some("no valid config loaded yet".into());
        }
        if !self.autoscalers_synced.load(Ordering::Relaxed) {
            return Some(
                "the HorizontalPodAutoscaler and ScaledObject caches have not synced yet".into(),
            );
        }
        let waiting: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, t)| t.last_tick.is_none())
            .map(|(name, _)| name.clone())
            .collect();
        if !waiting.is_empty() {
            return Some(format!("first tick not done for: {}", waiting.join(", ")));
        }
        let failing_since = self
            .api
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failing_since;
        if let Some(since) = failing_since {
            let for_how_long = Instant::now().saturating_duration_since(since);
            if for_how_long >= UNANSWERED_GRACE {
                return Some(format!(
                    "the Kubernetes API server has answered no call for {}s",
                    for_how_long.as_secs()
                ));
            }
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, TargetHealth>> {
        self.targets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready_health() -> Health {
        let h = Health::default();
        h.set_config_loaded();
        h.set_autoscalers_synced();
        h
    }

    #[tokio::test(start_paused = true)]
    async fn a_target_that_stops_finishing_ticks_makes_the_controller_not_live() {
        let h = ready_health();
        let interval = Duration::from_secs(60);
        h.target_started("docs", interval);
        h.target_ticked("docs", interval);
        assert_eq!(h.not_live(), None);
        // Ticking on time for an hour: live.
        for _ in 0..60 {
            tokio::time::advance(interval).await;
            h.target_ticked("docs", interval);
        }
        assert_eq!(h.not_live(), None);
        // Then the loop wedges: still live within five intervals, not after.
        tokio::time::advance(interval * STUCK_INTERVALS).await;
        assert_eq!(h.not_live(), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        let why = h.not_live().expect("stuck");
        assert!(why.contains("docs") && why.contains("301s"), "{why}");
        // A finished tick brings it back.
        h.target_ticked("docs", interval);
        assert_eq!(h.not_live(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_interval_gets_the_floor_and_a_first_tick_counts_from_the_start() {
        let h = ready_health();
        h.target_started("fast", Duration::from_secs(1));
        tokio::time::advance(STUCK_FLOOR).await;
        assert_eq!(h.not_live(), None, "within the floor");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(h.not_live().is_some(), "a first tick that never finishes");
        h.target_removed("fast");
        assert_eq!(h.not_live(), None, "a removed target is not waited for");
    }

    #[tokio::test(start_paused = true)]
    async fn one_failed_call_keeps_readiness_and_a_minute_of_silence_drops_it() {
        let h = ready_health();
        h.set_kube_answered(false);
        assert_eq!(h.not_ready(), None, "one slow call");
        tokio::time::advance(UNANSWERED_GRACE / 2).await;
        h.set_kube_answered(false);
        assert_eq!(h.not_ready(), None, "the first failure is what counts");
        tokio::time::advance(UNANSWERED_GRACE / 2).await;
        let why = h.not_ready().expect("not ready");
        assert!(why.contains("answered no call for 60s"), "{why}");
        h.set_kube_answered(true);
        assert_eq!(h.not_ready(), None);
    }
}
