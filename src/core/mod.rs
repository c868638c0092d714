//! The decision core: a pure function of (config, state, observation) that returns the
//! desired replicas and the reasons for it. No clock, no I/O, no randomness: time comes in
//! the observation. The controller, the simulator and the shadow report all call [`decide`].

mod activation;
mod behavior;
mod capacity;
mod decide;
mod observation;
mod plan;
mod reason;
mod schedule;
mod scratch;
mod starting;
mod startup;
mod state;

pub use decide::decide;
pub use observation::Observation;
pub use reason::{Decision, Limit, Reason, Signal};
pub use schedule::{Bounds, bounds_at, in_force};
pub use state::TargetState;
