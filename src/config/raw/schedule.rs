//! A scheduled window (`schedules:`), as written.

use crate::config::duration::DurationText;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A scheduled window, like KEDA's cron scaler: from every time `cron` names (in
/// `timezone`), for `duration`, the target's replicas are at least `minReplicas` and at most
/// `maxReplicas`. prescale raises the floor a start-up lead time early, so the pods are
/// ready at the cron time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Schedule")]
pub struct RawSchedule {
    /// Name of the window, unique in the list: it names the window in reasons, logs, Events
    /// and the `prescale_decision_reason{reason="schedule:NAME"}` metric.
    pub name: String,
    /// When the window starts: a 5-field cron expression (minute hour day-of-month month
    /// day-of-week), like KEDA's `start`, e.g. `0 2 * * *` (02:00 every day).
    pub cron: String,
    /// IANA time zone the cron expression is read in, e.g. `Europe/Berlin`. Default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// How long the window lasts from each start (> 0), e.g. `2h`.
    pub duration: DurationText,
    /// Replicas at least, while the window is on. At least one of `minReplicas` and
    /// `maxReplicas` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<u32>,
    /// Replicas at most, while the window is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<u32>,
}
