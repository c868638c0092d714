//! Telemetry: every `prescale_*` metric in one registry, and the tracing subscriber.
//!
//! Keeping all metric names in one place means the names a dashboard relies on are defined
//! once and cannot drift between the controller, the leader elector and the reloader.

mod logging;
mod metrics;
mod shard_export;
mod target_series;

pub use logging::init_tracing;
pub use metrics::{
    EventLabels, FloatCounter, FloatGauge, MetricErrorLabels, ReasonLabels, ReloadLabels,
    ResultLabels, SCHEDULES, ScheduleLabels, StageLabels, TargetLabels, Telemetry, WarningLabels,
};
pub use target_series::{Handles, TargetSeries};
