//! What the live report adds up: per schedule, replica-seconds paid and documents whose
//! wait is settled (and how many of them were late); and how much time was modelled.

use std::ops::AddAssign;

/// Sums for one schedule (what ran, or what prescale recommends).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleTotals {
    /// Pod-seconds paid for, starting pods included.
    pub replica_seconds: f64,
    /// Documents whose wait is settled (counted when it is, at most the SLO after arrival).
    pub documents: f64,
    /// Of those, documents that waited longer than the SLO.
    pub late_documents: f64,
}

impl AddAssign for ScheduleTotals {
    fn add_assign(&mut self, other: Self) {
        self.replica_seconds += other.replica_seconds;
        self.documents += other.documents;
        self.late_documents += other.late_documents;
    }
}

impl ScheduleTotals {
    /// `late_documents / documents`, or `None` before any document is settled.
    pub fn late_fraction(&self) -> Option<f64> {
        (self.documents > 0.0).then(|| self.late_documents / self.documents)
    }
}

/// Both schedules over the same modelled time.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// What ran: the Deployment's `spec.replicas`, serving with its ready replicas.
    pub actual: ScheduleTotals,
    /// What prescale recommends, its new pods ready a start-up time after being asked for.
    pub recommended: ScheduleTotals,
    /// Seconds both schedules were modelled (ticks with arrivals known).
    pub modelled_seconds: f64,
    /// Seconds not modelled: no arrivals known, or too long between two ticks.
    pub unmodelled_seconds: f64,
}

impl AddAssign for Totals {
    fn add_assign(&mut self, other: Self) {
        self.actual += other.actual;
        self.recommended += other.recommended;
        self.modelled_seconds += other.modelled_seconds;
        self.unmodelled_seconds += other.unmodelled_seconds;
    }
}
