//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics: only
//! the leader writes to workloads and publishes Events; followers keep computing so that a
//! hand-over is warm.
//!
//! Never two writers: the leader stops acting at the start of its last successful renewal
//! plus the renew deadline, before any other instance may take the Lease (lease duration
//! after it saw that renewal). A timer steps down at that instant, a writer checks it
//! against the monotonic clock right before sending ([`LeaderToken`]), and a write in
//! flight is cancelled when it passes. A write that reached the API server before that
//! still carries the `resourceVersion` it was decided on, so it loses with 409 against any
//! write of a newer leader.
//!
//! Past one replica (`--shards N`), targets hash to N shards, each with its own Lease and
//! election ([`shards`]); a replica leads the shards it holds, at most its fair share
//! ([`share`]), and a target is written under its shard's leadership only. Replicas run
//! with different shard counts never lead at once ([`Fence`]).

mod board;
mod elector;
mod fence;
mod leadership;
mod protocol;
mod settings;
mod shard;
mod shards;
pub mod share;

pub use board::{REQUEST_ANNOTATION, ShardBoard};
pub use elector::LeaderElector;
pub use fence::{
    ACQUIRED_ANNOTATION, Admission, Fence, GENERATION_ANNOTATION, Record, SHARDS_ANNOTATION,
    Ticket, fence_name,
};
pub use leadership::{LeaderToken, Leadership, LeadershipLost, LeadershipSender, Term, channel};
pub use protocol::{Observed, may_acquire};
pub use settings::{LeaseSettings, LeaseSettingsError};
pub use shard::{MAX_SHARDS, fnv1a, lease_name, shard_of};
pub use shards::{ShardLeaders, elect};
