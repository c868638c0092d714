//! What `/readyz` checks: config loaded, the autoscaler caches synced, every target ticked
//! once, the API server answering.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Readiness facts, updated by the controller's tasks.
#[derive(Default)]
pub struct Health {
    config_loaded: AtomicBool,
    kube_answered: AtomicBool,
    autoscalers_synced: AtomicBool,
    /// Per target: has it finished a tick since it started?
    ticked: Mutex<BTreeMap<String, bool>>,
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
        self.kube_answered.store(answered, Ordering::Relaxed);
    }

    /// A target started: it is not ready until its first tick is done.
    pub fn target_started(&self, target: &str) {
        self.lock().insert(target.to_string(), false);
    }

    /// A target finished a tick.
    pub fn target_ticked(&self, target: &str) {
        self.lock().insert(target.to_string(), true);
    }

    /// A target was removed.
    pub fn target_removed(&self, target: &str) {
        self.lock().remove(target);
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
            .filter(|(_, done)| !**done)
            .map(|(t, _)| t.clone())
            .collect();
        if !waiting.is_empty() {
            return Some(format!("first tick not done for: {}", waiting.join(", ")));
        }
        if !self.kube_answered.load(Ordering::Relaxed) {
            return Some("the Kubernetes API server did not answer the last call".into());
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, bool>> {
        self.ticked.lock().unwrap_or_else(|p| p.into_inner())
    }
}
