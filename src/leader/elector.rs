//! The election loop: acquire, renew, step down, release.
//!
//! As client-go's `renew`, each attempt (the Lease read and its update) runs under one
//! deadline, not one per call: a leader's attempt may last until its leadership ends, a
//! follower's for the renew deadline. Leadership ends at the start of the last successful
//! renewal plus the renew deadline: a timer steps down at that instant whatever is in
//! flight, and writers check the same instant themselves ([`super::LeaderToken`]). The
//! start of the attempt is the safe side: the API server recorded the renewal after it, and
//! another instance counts the Lease's duration from when it saw the renewal, later still.

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
}

/// What one attempt found.
enum Attempt {
    /// This instance holds the Lease now.
    Holding,
    /// Someone else does.
    HeldByOther,
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
        Self {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            leader,
            telemetry,
            health,
            observed: None,
        }
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
                        Ok(Attempt::Holding)
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
        if !may_acquire(
            holder,
            &s.identity,
            &observed,
            lease_duration,
            Instant::now(),
        ) {
            return Ok(Attempt::HeldByOther);
        }
        let renewing = holder == Some(s.identity.as_str());
        let mut lease = existing;
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
                Ok(Attempt::Holding)
            }
            Err(ClusterError::Conflict { .. }) => Ok(Attempt::HeldByOther),
            Err(e) => Err(e),
        }
    }

    fn observe(&mut self, lease: &Lease) {
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        self.observed = Some(Observed::update(self.observed.take(), &rv, Instant::now()));
    }

    /// Lead until `until` (a renewal, or a newly gained term).
    fn lead_until(&mut self, until: Instant) {
        let was = self.leader.is_leading(Instant::now());
        self.leader.lead_until(until);
        self.telemetry.is_leader.set(1);
        if !was {
            self.telemetry.leader_transitions.inc();
            tracing::info!(identity = %self.settings.identity, lease = %self.what(), "became leader");
        }
    }

    /// Stop leading; `why` is logged (a warning) when this ends a term.
    fn step_down(&mut self, why: &str) {
        let was = matches!(self.leader.term(), super::Term::Leading { .. });
        self.leader.step_down();
        self.telemetry.is_leader.set(0);
        if was {
            tracing::warn!(identity = %self.settings.identity, lease = %self.what(), why, "lost leadership");
        }
    }

    /// Stop leading on shutdown (logged as the normal event it is).
    fn step_down_to_stop(&mut self) {
        if matches!(self.leader.term(), super::Term::Leading { .. }) {
            tracing::info!(identity = %self.settings.identity, lease = %self.what(), "stepping down to shut down");
        }
        self.leader.step_down();
        self.telemetry.is_leader.set(0);
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
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.what(), error = %e, "leader election attempt failed");
                }
                Err(_) => {
                    self.health.set_kube_answered(false);
                    tracing::warn!(lease = %self.what(), deadline_s = (deadline - started).as_secs_f64(), "leader election attempt got no answer before its deadline");
                }
            }
            // Until the next attempt, step down the instant leadership ends.
            let next = Instant::now() + self.settings.retry_period;
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
