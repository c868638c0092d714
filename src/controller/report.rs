//! The latest decision of every target, as served by `GET /recommendations`.

use crate::core::Reason;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

/// One target's latest tick, in the JSON shape of `GET /recommendations`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetReport {
    /// Target name (shared with the target's task: not copied per tick).
    pub target: Arc<str>,
    /// `namespace/name` of the Deployment.
    pub deployment: Arc<str>,
    /// `shadow` or `active`.
    pub mode: crate::config::Mode,
    /// `spec.replicas` at the last tick.
    pub current_replicas: Option<u32>,
    /// `status.readyReplicas` at the last tick.
    pub ready_replicas: Option<u32>,
    /// What the decision core recommends.
    pub recommended_replicas: Option<u32>,
    /// Why.
    pub reasons: Vec<Reason>,
    /// Forecast arrival rate over the lead time, documents/s.
    pub forecast_arrival_rate: Option<f64>,
    /// The forecast plus the margin its errors at the lead-window horizon call for: the
    /// arrival rate capacity is planned for, documents/s.
    pub forecast_arrival_rate_upper: Option<f64>,
    /// The model that forecast: `none` (the recent level), `daily` or `weekly`.
    pub forecast_model: Option<crate::forecast::Season>,
    /// The lead time the forecast covers: the start-up time in use, seconds.
    pub startup_seconds: Option<f64>,
    /// Learned per-replica capacity, documents/s.
    pub capacity_per_replica: Option<f64>,
    /// What prescale did with the recommendation: `scaled`, or `hold:<why>`.
    pub action: Cow<'static, str>,
    /// Unix time of the tick, seconds.
    pub updated_at: f64,
    /// The error that cut the last tick short, if any.
    pub error: Option<String>,
    /// Floor targets: the HPA's or ScaledObject's floor, held or (shadow, followers) that
    /// would be set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<Arc<super::FloorReport>>,
    /// Ticks finished since the target started on this instance, leader or not (so a
    /// follower's progress can be seen too: per-target metrics are the leader's alone).
    pub ticks: u64,
}

/// Latest report per target, shared by the target tasks (writers) and the admin server.
#[derive(Clone, Default)]
pub struct Reports {
    inner: Arc<RwLock<BTreeMap<String, ReportSlot>>>,
}

/// One target's entry in [`Reports`], kept by its task so that a tick writes its report
/// without looking the name up among thousands under the map's lock.
#[derive(Clone, Default)]
pub struct ReportSlot(Arc<Mutex<Option<TargetReport>>>);

impl ReportSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<TargetReport>> {
        // Poisoned only by a panic mid-assignment of plain data: still usable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Store the target's latest report (its count of ticks carries on).
    pub fn put(&self, report: TargetReport) {
        let mut slot = self.lock();
        let ticks = slot.as_ref().map_or(0, |r| r.ticks);
        *slot = Some(TargetReport { ticks, ..report });
    }

    /// Store the target's latest report with `reasons` copied into the last report's list
    /// (its room reused: a tick allocates nothing for an unchanged number of reasons).
    /// `report.reasons` is ignored.
    pub fn put_with_reasons(&self, report: TargetReport, reasons: &[Reason]) {
        let mut slot = self.lock();
        let (ticks, mut kept) = match slot.take() {
            Some(r) => (r.ticks, r.reasons),
            None => (0, Vec::new()),
        };
        kept.clear();
        kept.extend_from_slice(reasons);
        *slot = Some(TargetReport {
            ticks,
            reasons: kept,
            ..report
        });
    }

    /// Count a finished tick (one that reported).
    pub fn tick_finished(&self) {
        if let Some(r) = self.lock().as_mut() {
            r.ticks += 1;
        }
    }
}

impl Reports {
    /// The slot of `target`, added if it has none yet.
    pub fn slot(&self, target: &str) -> ReportSlot {
        // A poisoned lock only means a writer panicked mid-insert of a plain map; the map is
        // still usable, and a report must never take the controller down.
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = map.get(target) {
            return slot.clone();
        }
        map.entry(target.to_string()).or_default().clone()
    }

    /// Store a target's latest report.
    pub fn put(&self, report: TargetReport) {
        let target = report.target.clone();
        self.slot(&target).put(report);
    }

    /// Forget a removed target.
    pub fn remove(&self, target: &str) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        map.remove(target);
    }

    /// All reports, ordered by target name.
    pub fn all(&self) -> Vec<TargetReport> {
        let map = self.inner.read().unwrap_or_else(|p| p.into_inner());
        map.values()
            .filter_map(|slot| slot.lock().clone())
            .collect()
    }
}
