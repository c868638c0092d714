//! `prescale tune`: search the knobs that matter on a target's backtest for the lowest cost
//! at or under the late fraction asked for, tuning on the first part of the window and
//! reporting on the held-back last part, then print the YAML to paste.
//!
//! [`knobs`] lists what is searched (one place to add a knob); [`split`] holds back the last
//! part; [`search`] replays candidates with the backtest's closed loop
//! ([`crate::backtest::ClosedLoop`]) on its queue model; [`snippet`] writes the YAML.

pub mod knobs;
pub mod search;
pub mod snippet;
pub mod split;

pub use knobs::{KNOBS, Knob};
pub use search::{Evaluated, Objective, Search, Tuned};
pub use snippet::snippet;
pub use split::{Split, SplitError};
