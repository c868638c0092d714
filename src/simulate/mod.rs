//! The bench of `shared/BENCH.md`: the trace scaled to a load, the fluid queue model, the
//! reference policies and the scores. Pure: no clock, no I/O beyond reading files asked for.

mod bench;
mod fluid_queue;
mod load;
mod model;
mod params;
pub mod plot;
mod pods;
pub mod policies;
mod score;
pub mod synthetic;
mod trace;

pub use bench::{Bench, Evaluation, HPA_TARGET_UTILIZATION, KEDA_QUEUE_PER_REPLICA, policy};
pub use fluid_queue::{FluidQueue, Settled, Step};
pub use load::{Load, LoadError, default_warmup_days, percentile_linear};
pub use model::{BenchObservation, BenchPolicy, Run, Setup, Start, run, run_observed, run_with};
pub use params::{BenchParams, ParamError, bench_ceil};
pub use pods::Pods;
pub use score::{Scores, score, score_where, waits, weighted_quantile};
pub use trace::{Trace, TraceError};
