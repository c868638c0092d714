//! The live shadow report: what following prescale would have meant on this cluster, in its
//! own units, from the running controller's own ticks.
//!
//! Per target, two schedules are advanced tick by tick with BENCH.md's fluid queue on the
//! observed arrivals ([`LiveTracker`]): what ran, and what prescale recommends. Each tick
//! adds replica-seconds, settled documents and late documents for both ([`Totals`]); the
//! controller exports them as `prescale_report_*` counters (any window in Grafana) and keeps
//! a week of sums, hourly for the last day ([`HourlyTotals`]), for `GET /report` and
//! `prescale report` ([`LiveReport`], [`render`]). [`ForecastError`] tracks the forecast's
//! recent error for the alert on it. Everything here is pure: time comes in with the ticks.

mod forecast_error;
mod since;
mod store;
mod summary;
mod table;
mod totals;
mod tracker;
mod window;

pub use forecast_error::ForecastError;
pub use since::{SinceError, parse_since};
pub use store::{LiveReports, LiveSlot};
pub use summary::{LiveReport, ScheduleSummary, TargetSummary, percent, verdict};
pub use table::{hours, render, span};
pub use totals::{ScheduleTotals, Totals};
pub use tracker::{LiveTracker, MAX_STEP_INTERVALS, TickInput};
pub use window::{BUCKET_S, HOURLY_WINDOW_S, HourlyTotals, RETAINED_HOURS, RETENTION_S, Window};
