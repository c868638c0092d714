//! The shard-count fence: replicas started with different `--shards` never act at once.
//!
//! Replicas with different shard counts hold different Leases for the same targets
//! (`prescale-leader-00-of-04` and `prescale-leader-00-of-06` may both cover a Deployment),
//! so without a fence a rolling change of `--shards` would have two writers. One more Lease,
//! `<lease-name>-shards`, records the count in force (annotation `prescale.io/shards`) and a
//! generation that every change of it raises. Kubernetes' optimistic concurrency on that one
//! object does the rest:
//! - a term (a Lease taken, or renewed after leadership lapsed) starts only under the count in
//!   force: the elector reads the fence, writes its Lease, then updates the fence with the
//!   `resourceVersion` it read (recording who acquired). The term starts only if that update
//!   succeeds, or, after a 409, the fence still has this count at the same generation;
//! - a replica with another count changes the fence only when every Lease of the count in
//!   force is free or expired (nobody leads under it: a leader stops at its last renewal plus
//!   the renew deadline, before anyone else sees its Lease expire), with the
//!   `resourceVersion` it read before looking at them. An acquisition under the old count
//!   in between changed that version, so the change fails with 409 and is tried again.
//!
//! A rolling update from `--shards 4` to `--shards 6` therefore runs as: the new replicas wait
//! (`prescale_shards_fenced` 1) while any old replica leads; the old replicas release their
//! Leases when they stop; the first new replica to see them all free or expired moves the
//! fence; the old count can no longer start a term.

use super::protocol::{Observed, may_acquire};
use super::shard::lease_name;
use crate::actuator::ClusterError;
use crate::controller::Health;
use crate::telemetry::Telemetry;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio::time::{Duration, Instant};

/// The shard count in force, on the fence Lease.
pub const SHARDS_ANNOTATION: &str = "prescale.io/shards";
/// Raised at every change of the count.
pub const GENERATION_ANNOTATION: &str = "prescale.io/shards-generation";
/// Who started the last term under the count, and when (each acquisition writes it, which
/// is what makes a concurrent change of the count fail).
pub const ACQUIRED_ANNOTATION: &str = "prescale.io/acquired";
/// Times an acquisition re-reads the fence after a 409 from a replica of the same count.
const CONFIRM_ATTEMPTS: usize = 4;

/// The name of the fence Lease for Leases named from `base`.
pub fn fence_name(base: &str) -> String {
    format!("{base}-shards")
}

/// The count in force and its generation, as the fence records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// `--shards` of the replicas that may lead.
    pub shards: u32,
    /// Raised at every change of `shards`.
    pub generation: u64,
}

impl Record {
    /// Read from the fence Lease; `None` when its annotations are missing or not numbers.
    pub fn of(lease: &Lease) -> Option<Record> {
        let a = lease.metadata.annotations.as_ref()?;
        Some(Record {
            shards: a.get(SHARDS_ANNOTATION)?.parse().ok().filter(|&s| s > 0)?,
            generation: a.get(GENERATION_ANNOTATION)?.parse().ok()?,
        })
    }

    fn write(self, lease: &mut Lease) {
        let a = lease.metadata.annotations.get_or_insert_with(BTreeMap::new);
        a.insert(SHARDS_ANNOTATION.into(), self.shards.to_string());
        a.insert(GENERATION_ANNOTATION.into(), self.generation.to_string());
    }
}

/// Leave to start a term, to be confirmed once the Lease is written: the fence as the
/// admission read (or wrote) it, its `resourceVersion` included, and the record it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    fence: Box<Lease>,
    record: Record,
}

/// What the fence says to an elector about to start a term.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Go on: write the Lease, then [`Fence::confirm`].
    Admitted(Ticket),
    /// Replicas with another count may be leading: wait.
    Fenced {
        /// The count in force (`None`: the fence is unreadable).
        shards: Option<u32>,
    },
}

/// One replica's view of the fence, shared by its electors.
pub struct Fence {
    api: Api<Lease>,
    name: String,
    base: String,
    shards: u32,
    identity: String,
    health: Arc<Health>,
    telemetry: Arc<Telemetry>,
    /// The Leases of the count in force as observed (expiry is measured from when this
    /// replica first saw each record, on its own clock, as for any Lease).
    observed: Mutex<HashMap<String, Observed>>,
}

impl Fence {
    /// The fence for Leases named from `base` in `api`'s namespace, for a replica running
    /// `shards` shards as `identity`.
    pub fn new(
        api: Api<Lease>,
        base: &str,
        shards: u32,
        identity: &str,
        health: Arc<Health>,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        Fence {
            api,
            name: fence_name(base),
            base: base.to_string(),
            shards: shards.max(1),
            identity: identity.to_string(),
            health,
            telemetry,
            observed: Mutex::new(HashMap::new()),
        }
    }

    fn what(&self) -> String {
        format!("Lease {} (the --shards fence)", self.name)
    }

    async fn call<T>(
        &self,
        f: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ClusterError> {
        let result = f.await.map_err(|e| ClusterError::from_kube(self.what(), e));
        self.health
            .set_kube_answered(result.as_ref().map_or_else(|e| e.api_answered(), |_| true));
        result
    }

    fn fenced(&self, fenced: bool) {
        self.telemetry.shards_fenced.set(i64::from(fenced));
    }

    /// Before a term starts: admitted under this replica's count (creating the fence, or
    /// moving it to this count when nobody leads under the old one), or fenced.
    pub async fn admit(&self, lease_duration: Duration) -> Result<Admission, ClusterError> {
        let fence = match self.call(self.api.get(&self.name)).await {
            Ok(fence) => fence,
            Err(ClusterError::NotFound { .. }) => return self.create().await,
            Err(e) => return Err(e),
        };
        let Some(record) = Record::of(&fence) else {
            tracing::warn!(fence = %self.what(), "the fence's annotations are missing or not numbers: no term starts until it is fixed (delete it while no prescale replica runs, and it is created again)");
            self.fenced(true);
            return Ok(Admission::Fenced { shards: None });
        };
        if record.shards == self.shards {
            self.fenced(false);
            return Ok(Admission::Admitted(Ticket {
                fence: Box::new(fence),
                record,
            }));
        }
        if !self
            .nobody_leads_under(record.shards, lease_duration)
            .await?
        {
            if self.telemetry.shards_fenced.get() == 0 {
                tracing::info!(fence = %self.what(), running = record.shards, mine = self.shards, "replicas run with another --shards: this one waits until none of them leads");
            }
            self.fenced(true);
            return Ok(Admission::Fenced {
                shards: Some(record.shards),
            });
        }
        let next = Record {
            shards: self.shards,
            generation: record.generation + 1,
        };
        let mut moved = fence;
        next.write(&mut moved);
        match self
            .call(self.api.replace(&self.name, &PostParams::default(), &moved))
            .await
        {
            Ok(updated) => {
                tracing::info!(fence = %self.what(), from = record.shards, to = self.shards, "no replica leads under the old --shards: the fence moved to this one");
                self.observed.lock().await.clear();
                self.fenced(false);
                Ok(Admission::Admitted(Ticket {
                    fence: Box::new(updated),
                    record: next,
                }))
            }
            // Someone acquired or moved it since it was read: look again next time.
            Err(ClusterError::Conflict { .. }) => Ok(Admission::Fenced {
                shards: Some(record.shards),
            }),
            Err(e) => Err(e),
        }
    }

    async fn create(&self) -> Result<Admission, ClusterError> {
        let record = Record {
            shards: self.shards,
            generation: 1,
        };
        let mut fence = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                ..ObjectMeta::default()
            },
            spec: None,
        };
        record.write(&mut fence);
        match self
            .call(self.api.create(&PostParams::default(), &fence))
            .await
        {
            Ok(created) => {
                self.fenced(false);
                Ok(Admission::Admitted(Ticket {
                    fence: Box::new(created),
                    record,
                }))
            }
            // Another replica created it first: read it next time.
            Err(ClusterError::Conflict { .. }) => Ok(Admission::Fenced { shards: None }),
            Err(e) => Err(e),
        }
    }

    /// Whether every Lease of `shards` shards is free or expired, as this replica has
    /// observed them (a missing Lease is free).
    async fn nobody_leads_under(
        &self,
        shards: u32,
        lease_duration: Duration,
    ) -> Result<bool, ClusterError> {
        let mut observed = self.observed.lock().await;
        let mut free = true;
        for shard in 0..shards {
            let name = lease_name(&self.base, shard, shards);
            let lease = match self.call(self.api.get(&name)).await {
                Ok(lease) => lease,
                Err(ClusterError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            let rv = lease.metadata.resource_version.clone().unwrap_or_default();
            let now = Instant::now();
            let seen = Observed::update(observed.remove(&name), &rv, now);
            let spec = lease.spec.unwrap_or_default();
            let duration = spec
                .lease_duration_seconds
                .map_or(lease_duration, |d| Duration::from_secs(d.max(0) as u64));
            // Held by this identity under another count is still someone else's term.
            let holder = spec.holder_identity.as_deref();
            let expired = match holder {
                Some(h) if h == self.identity => now >= seen.at + duration,
                _ => may_acquire(holder, &self.identity, &seen, duration, now),
            };
            free &= expired;
            observed.insert(name, seen);
        }
        Ok(free)
    }

    /// After the Lease was written for a new term: whether the term may start. It may when
    /// the fence is updated (this acquisition recorded) with the version `ticket` read, or
    /// when it still has this count at the ticket's generation after another acquisition
    /// under it won the race. `false` when the count moved meanwhile.
    pub async fn confirm(&self, ticket: Ticket) -> Result<bool, ClusterError> {
        let Ticket { mut fence, record } = ticket;
        for _ in 0..CONFIRM_ATTEMPTS {
            // Written with the version last read: an update in between (a move of the count,
            // or another acquisition) fails this one.
            fence
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(
                    ACQUIRED_ANNOTATION.into(),
                    format!("{} {}", self.identity, Timestamp::now()),
                );
            match self
                .call(self.api.replace(&self.name, &PostParams::default(), &fence))
                .await
            {
                Ok(_) => return Ok(true),
                Err(ClusterError::Conflict { .. }) => {
                    // Another acquisition under this count won, or the count moved: read
                    // again; the count and generation decide.
                    let Ok(now) = self.call(self.api.get(&self.name)).await else {
                        return Ok(false);
                    };
                    if Record::of(&now) != Some(record) {
                        return Ok(false);
                    }
                    *fence = now;
                }
                Err(ClusterError::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(annotations: &[(&str, &str)]) -> Lease {
        Lease {
            metadata: ObjectMeta {
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: None,
        }
    }

    #[test]
    fn the_record_reads_back_what_it_writes_and_rejects_garbage() {
        let r = Record {
            shards: 6,
            generation: 3,
        };
        let mut l = lease(&[]);
        r.write(&mut l);
        assert_eq!(Record::of(&l), Some(r));
        assert_eq!(
            Record::of(&lease(&[
                (SHARDS_ANNOTATION, "six"),
                (GENERATION_ANNOTATION, "1")
            ])),
            None
        );
        assert_eq!(
            Record::of(&lease(&[
                (SHARDS_ANNOTATION, "0"),
                (GENERATION_ANNOTATION, "1")
            ])),
            None
        );
        assert_eq!(Record::of(&lease(&[(SHARDS_ANNOTATION, "4")])), None);
    }

    #[test]
    fn the_fence_is_named_apart_from_every_shard_lease() {
        assert_eq!(fence_name("prescale-leader"), "prescale-leader-shards");
        for shards in 1..=64 {
            for s in 0..shards {
                assert_ne!(
                    lease_name("prescale-leader", s, shards),
                    fence_name("prescale-leader")
                );
            }
        }
    }
}
