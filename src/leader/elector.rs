//! The election loop: acquire, renew, step down, release.
//!
//! As client-go's `renew`, each attempt (the Lease read and its update) runs under one
//! deadline, not one per call: a leader's attempt may last until its leadership ends, a
//! follower's for the renew deadline. Leadership ends at the start of the last successful
//! renewal plus the renew deadline: a timer steps down at that instant whatever is in
//! flight, and writers check the same instant themselves ([`super::LeaderToken`]). The
//! start of the attempt is the safe side: the API server recorded the renewal after it, and
//! another instance counts the Lease's duration from when it saw the renewal, later still.

use super::board::{REQUEST_ANNOTATION, ShardBoard};
use super::fence::{Admission, Fence, Ticket};
use super::leadership::LeadershipSender;
use super::protocol::{Observed, may_acquire};
use super::settings::LeaseSettings;
use crate::actuator::ClusterError;
use crate::controller::Health;
use crate::telemetry::Telemetry;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::time::{Duration, Instant};

/// Runs the election and publishes on its [`LeadershipSender`] whether, and until when,
/// this instance leads.
pub struct LeaderElector {
    api: Api<Lease>,
    settings: LeaseSettings,
    leader: LeadershipSender,
    telemetry: Arc<Telemetry>,
    health: Arc<Health>,
    observed: Option<Observed>,
    /// With `--shards` above 1: this elector's shard and what the replica's electors share.
    shard: Option<(usize, Arc<ShardBoard>)>,
    /// Attempts made (varies the jitter of a follower's next attempt).
    attempts: u64,
    /// Keeps replicas run with another `--shards` from leading at the same time.
    fence: Arc<Fence>,
}

/// What one attempt found.
enum Attempt {
    /// This instance holds the Lease now.
    Holding,
    /// Someone else does (or, sharded, the shard is left to another replica).
    HeldByOther,
    /// Sharded: another replica wrote to the Lease between this leader's read and its
    /// renewal (a request for the shard). Not a loss of the Lease: the term lasts until its
    /// deadline unless the next renewal succeeds, as in client-go.
    Raced,
    /// Sharded: hand the shard over to a replica with fewer (stop acting, then release).
    HandOver,
    /// Replicas run with another `--shards` may lead: no term starts ([`Fence`]).
    Fenced,
}

fn now_micro() -> MicroTime {
    MicroTime(Timestamp::now())
}

/// `leaseDurationSeconds` (the settings are validated to whole seconds).
fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX).max(1)
}

impl LeaderElector {
    /// An elector that reports leadership on `leader`. `settings` should have passed
    /// [`LeaseSettings::validate`].
    pub fn new(
        client: Client,
        settings: LeaseSettings,
        leader: LeadershipSender,
        telemetry: Arc<Telemetry>,
        health: Arc<Health>,
    ) -> Self {
        let api = Api::namespaced(client, &settings.namespace);
        let fence = Arc::new(Fence::new(
            api.clone(),
            &settings.name,
            settings.shards,
            &settings.identity,
            health.clone(),
            telemetry.clone(),
        ));
        Self {
            api,
            fence,
            settings,
            leader,
            telemetry,
            health,
            observed: None,
            shard: None,
            attempts: 0,
        }
    }

    /// Elect for shard `shard` of `board`'s replica: take a free Lease only below the fair
    /// share, ask for and hand over shards to balance ([`super::share`]), under `fence`,
    /// which the replica's electors share (named from the replica's Lease, not the shard's).
    pub fn for_shard(mut self, shard: usize, board: Arc<ShardBoard>, fence: Arc<Fence>) -> Self {
        self.shard = Some((shard, board));
        self.fence = fence;
        self
    }

    /// A term starting now (not a renewal within one) must be admitted by the fence first.
    /// `None`: fenced, no term may start now; `Some(None)`: a renewal within the term.
    async fn admit(&self) -> Result<Option<Option<Ticket>>, ClusterError> {
        if self.leading_until().is_some() {
            return Ok(Some(None));
        }
        Ok(
            match self.fence.admit(self.settings.lease_duration).await? {
                Admission::Admitted(ticket) => Some(Some(ticket)),
                Admission::Fenced { .. } => None,
            },
        )
    }

    /// After the Lease was written: whether the term the fence admitted may start; if not,
    /// the Lease just taken is given back.
    async fn confirmed(&mut self, ticket: Option<Ticket>) -> Result<Attempt, ClusterError> {
        let Some(ticket) = ticket else {
            return Ok(Attempt::Holding);
        };
        if self.fence.confirm(ticket).await? {
            return Ok(Attempt::Holding);
        }
        tracing::info!(lease = %self.what(), "the --shards fence moved while taking the Lease: giving it back");
        self.release().await;
        Ok(Attempt::Fenced)
    }

    fn what(&self) -> String {
        format!("Lease {}/{}", self.settings.namespace, self.settings.name)
    }

    /// One API call of an attempt; the attempt's deadline bounds it (see [`Self::run`]).
    async fn call<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ClusterError> {
        match f.await {
            Ok(v) => {
                self.health.set_kube_answered(true);
                Ok(v)
            }
            Err(e) => {
                let e = ClusterError::from_kube(self.what(), e);
                self.health.set_kube_answered(e.api_answered());
                Err(e)
            }
        }
    }

    /// client-go's `tryAcquireOrRenew`: create the Lease, renew it, or take it over when it
    /// expired, always writing with the `resourceVersion` read so a race is lost with 409.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, ClusterError> {
        let s = self.settings.clone();
        let existing = match self.call(self.api.get(&s.name)).await {
            Ok(l) => l,
            Err(ClusterError::NotFound { .. }) => {
                if let Some((shard, board)) = &self.shard {
                    board.saw(*shard, None);
                }
                let Some(_reserved) = self.acquiring(None) else {
                    return Ok(Attempt::HeldByOther);
                };
                let Some(ticket) = self.admit().await? else {
                    return Ok(Attempt::Fenced);
                };
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(s.name.clone()),
                        namespace: Some(s.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(s.identity.clone()),
                        lease_duration_seconds: Some(seconds(s.lease_duration)),
                        acquire_time: Some(now_micro()),
                        renew_time: Some(now_micro()),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                return match self
                    .call(self.api.create(&PostParams::default(), &lease))
                    .await
                {
                    Ok(created) => {
                        self.observe(&created);
                        self.saw_mine();
                        self.confirmed(ticket).await
                    }
                    // Another instance created it first.
                    Err(ClusterError::Conflict { .. }) => Ok(Attempt::HeldByOther),
                    Err(e) => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        self.observe(&existing);
        let spec = existing.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.as_deref();
        let lease_duration = spec
            .lease_duration_seconds
            .map(|d| Duration::from_secs(d.max(0) as u64))
            .unwrap_or(s.lease_duration);
        let Some(observed) = self.observed.clone() else {
            return Ok(Attempt::HeldByOther);
        };
        let now = Instant::now();
        if !may_acquire(holder, &s.identity, &observed, lease_duration, now) {
            if let Some(holder) = holder {
                return self.held_by_other(existing.clone(), holder).await;
            }
            return Ok(Attempt::HeldByOther);
        }
        let renewing = holder == Some(s.identity.as_str());
        let mut lease = existing;
        // Sharded: the fair-share rules may keep this replica from taking or keeping it.
        let _reserved = match self.gate(&mut lease, renewing, &observed, now) {
            Gate::Go(reserved) => reserved,
            Gate::Stop(attempt) => return Ok(attempt),
        };
        let Some(ticket) = self.admit().await? else {
            return Ok(Attempt::Fenced);
        };
        lease.spec = Some(LeaseSpec {
            holder_identity: Some(s.identity.clone()),
            lease_duration_seconds: Some(seconds(s.lease_duration)),
            acquire_time: if renewing {
                spec.acquire_time.clone()
            } else {
                Some(now_micro())
            },
            renew_time: Some(now_micro()),
            lease_transitions: Some(
                spec.lease_transitions.unwrap_or(0) + if renewing { 0 } else { 1 },
            ),
            ..spec
        });
        match self
            .call(self.api.replace(&s.name, &PostParams::default(), &lease))
            .await
        {
            Ok(updated) => {
                self.observe(&updated);
                self.saw_mine();
                self.confirmed(ticket).await
            }
            Err(ClusterError::Conflict { .. }) if renewing && self.shard.is_some() => {
                Ok(Attempt::Raced)
            }
            Err(ClusterError::Conflict { .. }) => Ok(Attempt::HeldByOther),
            Err(e) => Err(e),
        }
    }

    /// Sharded, before taking or renewing the Lease: hand it over if asked for and over the
    /// share, drop a declined request, leave a released Lease to its requester, and take a
    /// free one only below the fair share (the reservation lasts while the returned guard
    /// does). Unsharded: go.
    fn gate(&self, lease: &mut Lease, renewing: bool, observed: &Observed, now: Instant) -> Gate {
        let Some((shard, board)) = &self.shard else {
            return Gate::Go(None);
        };
        let me = self.settings.identity.as_str();
        let request = requested_by(lease);
        if renewing {
            board.saw(*shard, Some(me));
            if let Some(r) = request.as_deref() {
                if board.begin_hand_over(*shard, r) {
                    return Gate::Stop(Attempt::HandOver);
                }
                // Declined: the renewal drops the request (the requester asks again later
                // if it still has fewer).
                tracing::debug!(lease = %self.what(), requester = r, "not handing the shard over: the counts are balanced");
                set_request(lease, None);
            }
            return Gate::Go(None);
        }
        board.saw(*shard, None);
        match request.as_deref() {
            // Granted to this replica: take it, and clear the request.
            Some(r) if r == me => {
                set_request(lease, None);
                Gate::Go(None)
            }
            // Kept for the requester for one lease duration after its release.
            Some(_) if now < observed.at + self.settings.lease_duration => {
                Gate::Stop(Attempt::HeldByOther)
            }
            _ => match self.acquiring(Some(lease)) {
                Some(reserved) => Gate::Go(Some(reserved)),
                None => Gate::Stop(Attempt::HeldByOther),
            },
        }
    }

    /// Sharded: this replica holds the shard now.
    fn saw_mine(&self) {
        if let Some((shard, board)) = &self.shard {
            board.saw(*shard, Some(&self.settings.identity));
        }
    }

    /// Sharded: reserve an acquisition below the fair share (released when the returned
    /// guard drops), clearing a stale request from `lease`; unsharded: always `Some`.
    fn acquiring(&self, lease: Option<&mut Lease>) -> Option<Acquiring> {
        let Some((_, board)) = &self.shard else {
            return Some(Acquiring(None));
        };
        if !board.begin_acquire() {
            return None;
        }
        if let Some(lease) = lease {
            set_request(lease, None);
        }
        Some(Acquiring(Some(board.clone())))
    }

    /// The Lease is held by a live `holder`. Sharded: record it, and ask for the shard
    /// when this replica has at least two fewer than the holder.
    async fn held_by_other(
        &mut self,
        mut lease: Lease,
        holder: &str,
    ) -> Result<Attempt, ClusterError> {
        let Some((shard, board)) = self.shard.clone() else {
            return Ok(Attempt::HeldByOther);
        };
        let holder = (!holder.is_empty()).then_some(holder);
        board.saw(shard, holder);
        if holder.is_none() || !board.begin_request(shard) {
            return Ok(Attempt::HeldByOther);
        }
        let name = self.settings.name.clone();
        set_request(&mut lease, Some(&self.settings.identity));
        match self
            .call(self.api.replace(&name, &PostParams::default(), &lease))
            .await
        {
            Ok(updated) => {
                self.observe(&updated);
                tracing::info!(lease = %self.what(), holder = holder.unwrap_or_default(), "asked for the shard: this replica holds at least two fewer");
            }
            Err(e) => {
                board.request_failed(shard);
                tracing::debug!(lease = %self.what(), error = %e, "asking for the shard failed; asking again later");
            }
        }
        Ok(Attempt::HeldByOther)
    }

    fn observe(&mut self, lease: &Lease) {
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        self.observed = Some(Observed::update(self.observed.take(), &rv, Instant::now()));
    }

    /// Lead until `until` (a renewal, or a newly gained term).
    fn lead_until(&mut self, until: Instant) {
        let was = self.leader.is_leading(Instant::now());
        self.leader.lead_until(until);
        self.set_leading(true);
        if !was {
            self.telemetry.leader_transitions.inc();
            tracing::info!(identity = %self.settings.identity, lease = %self.what(), "became leader");
        }
    }

    /// Stop leading; `why` is logged (a warning) when this ends a term.
    fn step_down(&mut self, why: &str) {
        let was = matches!(self.leader.term(), super::Term::Leading { .. });
        self.leader.step_down();
        self.set_leading(false);
        if was {
            tracing::warn!(identity = %self.settings.identity, lease = %self.what(), why, "lost leadership");
        }
    }

    /// Stop leading on shutdown (logged as the normal event it is).
    fn step_down_to_stop(&mut self) {
        self.step_down_to("shut down");
    }

    /// Stop leading on purpose (logged as the normal event it is).
    fn step_down_to(&mut self, why: &str) {
        if matches!(self.leader.term(), super::Term::Leading { .. }) {
            tracing::info!(identity = %self.settings.identity, lease = %self.what(), "stepping down to {why}");
        }
        self.leader.step_down();
        self.set_leading(false);
    }

    /// `prescale_is_leader` follows the single Lease, or shard 0's (the holder of shard 0
    /// does what only one replica must); `prescale_shards_held` counts the shards led.
    fn set_leading(&self, leading: bool) {
        match &self.shard {
            None => {
                self.telemetry.is_leader.set(i64::from(leading));
                self.telemetry.shards_held.set(i64::from(leading));
            }
            Some((shard, board)) => {
                if *shard == 0 {
                    self.telemetry.is_leader.set(i64::from(leading));
                }
                board.set_leading(*shard, leading);
            }
        }
    }

    /// When the current term ends, if leading.
    fn leading_until(&self) -> Option<Instant> {
        match self.leader.term() {
            super::Term::Leading { until, .. } => until,
            super::Term::Follower => None,
        }
    }

    /// Run until `stop` turns true, then step down and release the Lease if held.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let renew_deadline = self.settings.renew_deadline;
        loop {
            let started = Instant::now();
            // One deadline for the whole attempt: a leader's ends with its leadership, a
            // follower's after the renew deadline.
            let deadline = self
                .leading_until()
                .unwrap_or(started + renew_deadline)
                .min(started + renew_deadline);
            let attempt = tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await;
            match attempt {
                Ok(Ok(Attempt::Holding)) => {
                    let until = started + renew_deadline;
                    if Instant::now() < until {
                        self.lead_until(until);
                    }
                }
                Ok(Ok(Attempt::HeldByOther)) => self.step_down("another instance holds the Lease"),
                Ok(Ok(Attempt::Raced)) => {
                    tracing::debug!(lease = %self.what(), "the Lease changed between its read and its renewal; renewing again at the next attempt");
                }
                Ok(Ok(Attempt::HandOver)) => self.hand_over().await,
                Ok(Ok(Attempt::Fenced)) => {
                    self.step_down("replicas run with another --shards may lead")
                }
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.what(), error = %e, "leader election attempt failed");
                }
                Err(_) => {
                    self.health.set_kube_answered(false);
                    tracing::warn!(lease = %self.what(), deadline_s = (deadline - started).as_secs_f64(), "leader election attempt got no answer before its deadline");
                }
            }
            // Until the next attempt, step down the instant leadership ends. Sharded, a
            // follower's attempts are jittered so replicas do not all go for a free Lease
            // at once.
            self.attempts += 1;
            let mut next = Instant::now() + self.settings.retry_period;
            if let Some((shard, board)) = &self.shard
                && self.leading_until().is_none()
            {
                next += self
                    .settings
                    .retry_period
                    .mul_f64(board.jitter(*shard, self.attempts));
            }
            loop {
                let ends = self.leading_until().filter(|u| *u < next);
                tokio::select! {
                    _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => {
                        self.shut_down().await;
                        return;
                    }
                    () = tokio::time::sleep_until(next) => break,
                    () = tokio::time::sleep_until(ends.unwrap_or(next)), if ends.is_some() => {
                        self.step_down("the renew deadline passed without a successful renewal");
                    }
                }
            }
        }
    }

    /// Step down first (so nothing acts on a Lease another instance may take at once),
    /// then release it if this instance held it.
    async fn shut_down(&mut self) {
        let held = self.leader.is_leading(Instant::now());
        self.step_down_to_stop();
        if held {
            let deadline = self.settings.renew_deadline;
            if tokio::time::timeout(deadline, self.release())
                .await
                .is_err()
            {
                tracing::warn!(lease = %self.what(), "releasing the Lease got no answer in time; it expires on its own");
            }
        }
    }

    /// Hand the shard over: stop acting first, then release the Lease, which keeps the
    /// request so the requester takes it (or anyone after a lease duration).
    async fn hand_over(&mut self) {
        self.step_down_to("handing the shard over to a replica with fewer");
        let deadline = self.settings.renew_deadline;
        if tokio::time::timeout(deadline, self.release())
            .await
            .is_err()
        {
            tracing::warn!(lease = %self.what(), "releasing the Lease got no answer in time; it expires on its own");
        }
        if let Some((shard, board)) = &self.shard {
            board.end_hand_over(*shard);
        }
    }

    /// Give the Lease up so a follower takes over at once instead of after its expiry.
    async fn release(&mut self) {
        let s = self.settings.clone();
        let Ok(mut lease) = self.call(self.api.get(&s.name)).await else {
            tracing::warn!(lease = %self.what(), "cannot read the Lease to release it; it expires on its own");
            return;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(s.identity.as_str()) {
            return;
        }
        lease.spec = Some(LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            renew_time: Some(now_micro()),
            ..spec
        });
        match self
            .call(self.api.replace(&s.name, &PostParams::default(), &lease))
            .await
        {
            Ok(_) => tracing::info!(lease = %self.what(), "released the Lease"),
            Err(e) => {
                tracing::warn!(lease = %self.what(), error = %e, "releasing the Lease failed; it expires on its own")
            }
        }
    }
}

/// Whether an attempt goes on to write the Lease (holding a reservation, if any).
enum Gate {
    Go(Option<Acquiring>),
    Stop(Attempt),
}

/// A reserved acquisition of a free shard; ends when dropped (won, lost or cancelled).
struct Acquiring(Option<Arc<ShardBoard>>);

impl Drop for Acquiring {
    fn drop(&mut self) {
        if let Some(board) = &self.0 {
            board.end_acquire();
        }
    }
}

/// The replica that asked for this shard, if any.
fn requested_by(lease: &Lease) -> Option<String> {
    lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REQUEST_ANNOTATION))
        .filter(|r| !r.is_empty())
        .cloned()
}

/// Ask for the shard as `who`, or drop the request.
fn set_request(lease: &mut Lease, who: Option<&str>) {
    let annotations = lease
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    match who {
        Some(who) => {
            annotations.insert(REQUEST_ANNOTATION.to_string(), who.to_string());
        }
        None => {
            annotations.remove(REQUEST_ANNOTATION);
        }
    }
    if annotations.is_empty() {
        lease.metadata.annotations = None;
    }
}
