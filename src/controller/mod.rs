//! The controller loop: one task per target reads the Deployment and the metrics, calls the
//! decision core, and acts by mode; the supervisor adds and removes targets on reload.

mod accounting;
mod clock;
mod cpu_time;
mod deletion_cost;
mod deletion_order;
mod floor;
mod floor_plan;
mod gitops;
mod health;
mod intent;
mod observe;
mod report;
mod runtime;
mod scope;
mod supervisor;
mod surfaces;
mod tick;
mod writers;

pub use clock::{Clock, system_clock};
pub use deletion_cost::{MarkError, in_flight_source};
pub use deletion_order::{CostPlan, FIRST_COST, PodFacts, plan_costs};
pub use floor::FloorReport;
pub use floor_plan::{FloorPlan, OwnerEdit, plan_floor};
pub use gitops::{
    FIGHT_HOLD, FIGHT_WINDOW, GITOPS_FIELD_MANAGERS, GitOpsResets, ResetVerdict, is_gitops,
};
pub use health::Health;
pub use intent::{Guards, Hold, Intent, plan};
pub use observe::{MetricFailure, observation};
pub use report::{ReportSlot, Reports, TargetReport};
pub use runtime::{ReadMode, RunError, RunOptions, SourceFactory, fixed_source, run};
pub use scope::check_namespaces;
pub use supervisor::{Applied, Supervisor};
pub use tick::{BLOCK_KINDS, TargetTask, TickOutcome};
pub use writers::check_one_writer;

use crate::actuator::{AutoscalerCache, ClusterReads, EventSink, KubeCluster};
use crate::config::TargetConfig;
use crate::leader::{Leadership, ShardLeaders};
use crate::live_report::LiveReports;
use crate::metrics::MetricsSource;
use crate::telemetry::Telemetry;
use std::sync::Arc;

/// What every target's task shares.
pub struct Shared {
    /// Writes to the cluster, and the fresh read after a 409.
    pub cluster: KubeCluster,
    /// Where ticks read their Deployments and pods (watch-backed caches by default).
    pub reads: Arc<dyn ClusterReads>,
    /// HPAs and ScaledObjects, watched once for all targets (the conflict check).
    pub autoscalers: AutoscalerCache,
    /// Kubernetes Events (published by the leader only).
    pub events: EventSink,
    /// Metric readings for a target; replaced when a reload changes where metrics come
    /// from (the `prometheus:` section). Read it through [`Shared::source`].
    pub source: std::sync::RwLock<Arc<dyn MetricsSource>>,
    /// All `prescale_*` metrics.
    pub telemetry: Arc<Telemetry>,
    /// Whether this instance leads each shard now, and the tokens writes are made under.
    pub leaders: ShardLeaders,
    /// Latest decision per target, for `/recommendations`.
    pub reports: Reports,
    /// Readiness facts for `/readyz`.
    pub health: Arc<Health>,
    /// Windowed live-report totals per target, for `/report`.
    pub live_reports: LiveReports,
    /// The wall clock every tick reads.
    pub clock: Clock,
    /// Width of the slots targets' ticks are gathered in (zero: spread evenly).
    pub tick_slot: std::time::Duration,
}

impl Shared {
    /// The metrics source in force now.
    pub fn source(&self) -> Arc<dyn MetricsSource> {
        self.source
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Put a new metrics source in force (after a reload).
    pub fn set_source(&self, source: Arc<dyn MetricsSource>) {
        *self.source.write().unwrap_or_else(|p| p.into_inner()) = source;
    }

    /// Unix time now, from the controller's clock.
    pub fn now(&self) -> f64 {
        (self.clock)()
    }

    /// Whether this instance does what only one replica must for the whole controller at
    /// this instant: it leads (with --shards above 1: it leads shard 0).
    pub fn is_leader(&self) -> bool {
        self.leaders.cluster().is_leader()
    }

    /// Whether this instance leads `target`'s shard at this instant: it may write to it
    /// and publish its Events.
    pub fn leads(&self, target: &TargetConfig) -> bool {
        self.leadership(target).is_leader()
    }

    /// The leadership `target`'s writes are made under (its shard's).
    pub fn leadership(&self, target: &TargetConfig) -> &Leadership {
        self.leaders.of(&target.scale_target_ref)
    }
}
