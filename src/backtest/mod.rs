//! `prescale backtest`: the decision core replayed over a target's own Prometheus history,
//! and what following it would have meant, on BENCH.md's queue model.
//!
//! The path: [`fetch`] reads the target's series over a [`window`] (an adapter over the
//! controller's Prometheus client); [`history`] and [`prepare`] turn them into the replay's
//! input (gaps, resets, retention, the warm-up backfill); [`replay`] drives
//! [`crate::core::decide`] tick by tick and learns capacity and start-up as the shadow
//! controller would; [`score`] runs what ran, prescale and the oracle on the queue model of
//! [`crate::simulate`]; [`verdict`] and [`report`] say what it means. Everything but
//! [`fetch`] is pure.

pub mod fetch;
pub mod history;
pub mod prepare;
pub mod replay;
pub mod report;
pub mod score;
pub mod verdict;
pub mod window;

pub use fetch::{FetchError, Fetched, fetch};
pub use history::History;
pub use prepare::{PrepareError, Prepared, WhatRan, prepare};
pub use replay::{ClosedLoop, Learned, Recorded, learn};
pub use score::{Model, Outcome, WaitCheck, backtest};
pub use verdict::verdict;
pub use window::{Grid, Window};
