//! One election per shard: this replica's leadership of each, and which one a target's
//! writes are made under.
//!
//! With `--shards 1` (the default) this is the single Lease of before, under its old name.
//! With N shards each shard has its Lease (`<name>-NN-of-NN`) and its own
//! [`super::LeaderElector`]; the electors of one replica share a [`ShardBoard`] that keeps
//! the replica to its fair share ([`super::share`]). A target is written under its shard's
//! [`Leadership`] only, so never-two-writers holds per target exactly as with one Lease.

use super::board::ShardBoard;
use super::elector::LeaderElector;
use super::fence::Fence;
use super::leadership::{Leadership, channel};
use super::settings::LeaseSettings;
use super::shard::{lease_name, shard_of};
use crate::config::{ScaleTargetRef, api_group};
use crate::controller::Health;
use crate::telemetry::Telemetry;
use futures::FutureExt;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// This replica's leadership of every shard.
#[derive(Debug, Clone)]
pub struct ShardLeaders {
    shards: Vec<Leadership>,
}

impl ShardLeaders {
    /// One shard: the single Lease, or no election at all.
    pub fn single(leader: Leadership) -> Self {
        Self {
            shards: vec![leader],
        }
    }

    /// How many shards there are.
    pub fn count(&self) -> u32 {
        self.shards.len() as u32
    }

    /// The shard of the object `target` scales.
    pub fn shard_of(&self, target: &ScaleTargetRef) -> u32 {
        shard_of(
            api_group(&target.api_version),
            &target.kind,
            &target.namespace,
            &target.name,
            self.count(),
        )
    }

    /// The leadership writes to `target` are made under.
    pub fn of(&self, target: &ScaleTargetRef) -> &Leadership {
        &self.shards[self.shard_of(target) as usize]
    }

    /// The leadership of shard 0: what only one replica must do for the whole controller
    /// (an Event about a rejected config) is done by its holder.
    pub fn cluster(&self) -> &Leadership {
        &self.shards[0]
    }

    /// The shards this replica leads at this instant.
    pub fn held(&self) -> Vec<u32> {
        (0..self.count())
            .filter(|i| self.shards[*i as usize].is_leader())
            .collect()
    }

    /// Wait until any shard's published term changes; `false` once every elector is gone.
    pub async fn changed(&mut self) -> bool {
        let mut live: Vec<_> = self
            .shards
            .iter_mut()
            .map(|l| l.changed().boxed())
            .collect();
        while !live.is_empty() {
            let (changed, _, rest) = futures::future::select_all(live).await;
            if changed {
                return true;
            }
            live = rest;
        }
        false
    }
}

/// Start one elector per shard of `settings` (`settings.shards` of them), each stopping
/// and releasing its Lease when `stop` turns true.
pub fn elect(
    client: kube::Client,
    settings: LeaseSettings,
    telemetry: Arc<Telemetry>,
    health: Arc<Health>,
    stop: watch::Receiver<bool>,
) -> (ShardLeaders, Vec<JoinHandle<()>>) {
    let shards = settings.shards.max(1);
    if shards == 1 {
        let (tx, rx) = channel();
        let elector = LeaderElector::new(client, settings, tx, telemetry, health);
        return (
            ShardLeaders::single(rx),
            vec![tokio::spawn(elector.run(stop))],
        );
    }
    let fence = Arc::new(Fence::new(
        kube::Api::namespaced(client.clone(), &settings.namespace),
        &settings.name,
        shards,
        &settings.identity,
        health.clone(),
        telemetry.clone(),
    ));
    let board = ShardBoard::new(
        shards as usize,
        settings.identity.clone(),
        settings.lease_duration,
        telemetry.clone(),
    );
    let mut leaders = Vec::new();
    let mut tasks = Vec::new();
    for shard in 0..shards {
        let (tx, rx) = channel();
        let shard_settings = LeaseSettings {
            name: lease_name(&settings.name, shard, shards),
            ..settings.clone()
        };
        let elector = LeaderElector::new(
            client.clone(),
            shard_settings,
            tx,
            telemetry.clone(),
            health.clone(),
        )
        .for_shard(shard as usize, board.clone(), fence.clone());
        tasks.push(tokio::spawn(elector.run(stop.clone())));
        leaders.push(rx);
    }
    (ShardLeaders { shards: leaders }, tasks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::{Duration, Instant};

    #[tokio::test(start_paused = true)]
    async fn a_target_is_written_under_its_shards_leadership_only() {
        let mut txs = Vec::new();
        let mut rxs = Vec::new();
        for _ in 0..3 {
            let (tx, rx) = channel();
            txs.push(tx);
            rxs.push(rx);
        }
        let mut leaders = ShardLeaders { shards: rxs };
        let web = ScaleTargetRef::deployment("shop", "web");
        let shard = leaders.shard_of(&web);
        assert_eq!(
            shard,
            shard_of("apps", "Deployment", "shop", "web", 3),
            "the same hash as the Lease names use"
        );
        assert!(leaders.of(&web).token().is_none());
        let other = (shard + 1) % 3;
        txs[other as usize].lead_until(Instant::now() + Duration::from_secs(10));
        assert!(leaders.changed().await);
        assert!(leaders.of(&web).token().is_none(), "another shard's Lease");
        assert_eq!(leaders.held(), vec![other]);
        txs[shard as usize].lead_until(Instant::now() + Duration::from_secs(10));
        assert!(leaders.of(&web).token().is_some());
        assert_eq!(leaders.cluster().is_leader(), shard == 0 || other == 0);
        drop(txs);
        while leaders.changed().await {}
    }
}
