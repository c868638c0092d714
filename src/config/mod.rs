//! The configuration file: raw types as written in YAML, the validated types the rest of
//! prescale uses, defaults, validation and its errors.
//!
//! Nothing downstream sees an unchecked value: [`Config`] and [`TargetConfig`] can only be
//! built by validation (or from their defaults, which are valid).
//!
//! The path from text to [`Config`]: `decode` (YAML to [`raw::RawConfig`]; syntax, unknown
//! keys and wrong types stop here, one at a time), `locate` (where each key was written),
//! `validate` (merge `defaults:` into each target, check every value, collect all problems).

mod backtest;
mod decode;
mod duration;
mod effective;
mod error;
mod load;
mod locate;
pub mod raw;
mod schedule;
mod schema;
mod suggest;
mod types;
mod validate;

pub use backtest::{Backtest, BacktestQueries, HistoryQuery, QueryOrigin};
pub use duration::{DurationText, format_duration, parse_duration};
pub use effective::effective;
pub use error::{ConfigError, Problem, Report};
pub use load::{Loaded, load, load_defaults, load_with_warnings, parse, parse_with_warnings};
pub use locate::Position;
pub use schedule::Schedule;
pub use schema::schema;
pub use types::*;
pub use validate::{DEFAULT_MAX_CONCURRENT_QUERIES, DEFAULT_RETRIES, DEFAULT_TIMEOUT};
