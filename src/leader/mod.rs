//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics: only
//! the leader writes to workloads and publishes Events; followers keep computing so that a
//! hand-over is warm.

mod elector;
mod protocol;

pub use elector::{LeaderElector, LeaseSettings};
pub use protocol::{Observed, may_acquire};
