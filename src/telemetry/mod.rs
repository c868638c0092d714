//! Telemetry: every `prescale_*` metric in one registry, and the tracing subscriber.
//!
//! Keeping all metric names in one place means the names a dashboard relies on are defined
//! once and cannot drift between the controller, the leader elector and the reloader.

mod block_family;
mod logging;
mod metrics;
mod shard_export;
mod target_series;

pub use block_family::{
    BlockFamily, Cell, FloatCounterKind, FloatGaugeKind, IntGaugeKind, TickHistogramKind,
};
pub use logging::init_tracing;
pub use metrics::{
    EventLabels, FloatCounter, FloatGauge, MetricErrorLabels, ReasonLabels, ReloadLabels,
    ResultLabels, SCHEDULES, ScheduleCounters, ScheduleLabels, StageLabels, TargetFloatCounters,
    TargetFloatGauges, TargetIntGauges, TargetLabels, Telemetry, TickHistograms, WarningLabels,
};
pub use target_series::{Handles, TargetSeries};
