//! Every target's windowed totals, shared by the target tasks (writers) and the admin
//! server's `GET /report` (reader).

use super::{HourlyTotals, LiveReport, RETENTION_S, TargetSummary, Totals};
use crate::config::{Mode, TargetConfig};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

#[derive(Debug, Clone)]
struct Entry {
    namespace: String,
    deployment: String,
    mode: Mode,
    totals: HourlyTotals,
}

/// One target's entry, kept by its task so that a tick adds to its totals without looking
/// its name up among thousands under the map's lock. Taken again after a change of config
/// ([`LiveReports::slot`] starts the totals afresh for another Deployment).
#[derive(Debug, Clone)]
pub struct LiveSlot(Arc<Mutex<Entry>>);

impl LiveSlot {
    /// Add what the target's tick at `t` contributed.
    pub fn add(&self, t: f64, delta: &Totals) {
        // A poisoned lock only means a writer panicked mid-update of plain sums; a report
        // must never take the controller down.
        let mut entry = self.0.lock().unwrap_or_else(|p| p.into_inner());
        entry.totals.add(t, delta);
    }
}

/// Windowed totals per target name.
#[derive(Clone, Default)]
pub struct LiveReports {
    inner: Arc<RwLock<BTreeMap<String, LiveSlot>>>,
}

impl LiveReports {
    /// The entry of `config`'s target, added if it has none. A target now pointing at
    /// another Deployment starts afresh: the old totals describe another workload.
    pub fn slot(&self, config: &TargetConfig) -> LiveSlot {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let r = &config.scale_target_ref;
        if let Some(slot) = map.get(&config.name) {
            let mut entry = slot.0.lock().unwrap_or_else(|p| p.into_inner());
            if entry.namespace != r.namespace || entry.deployment != r.name {
                entry.namespace = r.namespace.clone();
                entry.deployment = r.name.clone();
                entry.totals = HourlyTotals::default();
            }
            entry.mode = config.mode;
            drop(entry);
            return slot.clone();
        }
        map.entry(config.name.clone())
            .or_insert_with(|| {
                LiveSlot(Arc::new(Mutex::new(Entry {
                    namespace: r.namespace.clone(),
                    deployment: r.name.clone(),
                    mode: config.mode,
                    totals: HourlyTotals::default(),
                })))
            })
            .clone()
    }

    /// Forget a removed target.
    pub fn remove(&self, target: &str) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        map.remove(target);
    }

    /// The report at `now` over the last `since` (its text and seconds), or since each
    /// target started.
    pub fn report(&self, now: f64, since: Option<(&str, f64)>, leader: bool) -> LiveReport {
        let map = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let targets = map
            .iter()
            .map(|(name, slot)| {
                let e = slot.0.lock().unwrap_or_else(|p| p.into_inner());
                let window = match since {
                    Some((_, s)) => e.totals.since(now, s),
                    None => e.totals.lifetime(),
                };
                TargetSummary::new(name, &e.namespace, &e.deployment, e.mode, window.as_ref())
            })
            .collect();
        LiveReport {
            generated_at: now,
            since: since.map(|(text, _)| text.to_string()),
            leader,
            retention_seconds: RETENTION_S,
            targets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ScaleTargetRef;

    fn config(deployment: &str) -> TargetConfig {
        TargetConfig {
            name: "t".into(),
            scale_target_ref: ScaleTargetRef::deployment("ns", deployment),
            ..TargetConfig::default()
        }
    }

    fn modelled(s: f64) -> Totals {
        Totals {
            modelled_seconds: s,
            ..Totals::default()
        }
    }

    #[test]
    fn totals_add_up_per_target_and_restart_for_another_deployment() {
        let store = LiveReports::default();
        store.slot(&config("a")).add(10.0, &modelled(1.0));
        store.slot(&config("a")).add(20.0, &modelled(2.0));
        let r = store.report(30.0, None, true);
        assert_eq!(r.targets[0].modelled_seconds, 3.0);
        assert_eq!(r.targets[0].window_start, Some(10.0));
        store.slot(&config("b")).add(40.0, &modelled(5.0));
        let r = store.report(50.0, Some(("1h", 3600.0)), false);
        assert_eq!(r.targets[0].deployment, "b");
        assert_eq!(r.targets[0].modelled_seconds, 5.0);
        assert_eq!(r.since.as_deref(), Some("1h"));
        store.remove("t");
        assert!(store.report(60.0, None, true).targets.is_empty());
    }

    #[test]
    fn a_kept_slot_adds_to_the_report_and_is_started_afresh_for_another_deployment() {
        let store = LiveReports::default();
        let slot = store.slot(&config("a"));
        slot.add(10.0, &modelled(1.0));
        slot.add(20.0, &modelled(2.0));
        assert_eq!(
            store.report(30.0, None, true).targets[0].modelled_seconds,
            3.0
        );
        // Taken again for the same Deployment (a reloaded config): the totals carry on.
        store.slot(&config("a")).add(40.0, &modelled(4.0));
        assert_eq!(
            store.report(50.0, None, true).targets[0].modelled_seconds,
            7.0
        );
        let other = store.slot(&config("b"));
        other.add(60.0, &modelled(5.0));
        let r = store.report(70.0, None, true);
        assert_eq!(r.targets[0].deployment, "b");
        assert_eq!(r.targets[0].modelled_seconds, 5.0);
    }
}
