//! The election loop: acquire, renew, step down, release.

use super::protocol::{Observed, may_acquire};
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

/// Where the Lease is and how it is held.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// Lease name (`prescale-leader`).
    pub name: String,
    /// The controller's own namespace.
    pub namespace: String,
    /// This instance's identity (the Pod name).
    pub identity: String,
    /// How long a Lease holds without renewal (client-go: 15 s).
    pub lease_duration: Duration,
    /// A leader that cannot renew for this long steps down (client-go: 10 s).
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew (client-go: 2 s).
    pub retry_period: Duration,
}

impl LeaseSettings {
    /// client-go's defaults for `name` in `namespace`, held as `identity`.
    pub fn new(name: String, namespace: String, identity: String) -> Self {
        Self {
            name,
            namespace,
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Runs the election and publishes `true` on its channel while this instance leads.
pub struct LeaderElector {
    api: Api<Lease>,
    settings: LeaseSettings,
    leader: watch::Sender<bool>,
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

fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX).max(1)
}

impl LeaderElector {
    /// An elector that reports leadership on `leader`.
    pub fn new(
        client: Client,
        settings: LeaseSettings,
        leader: watch::Sender<bool>,
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

    async fn call<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ClusterError> {
        // A call that outlives the renew deadline is as good as failed.
        match tokio::time::timeout(self.settings.renew_deadline, f).await {
            Ok(Ok(v)) => {
                self.health.set_kube_answered(true);
                Ok(v)
            }
            Ok(Err(e)) => {
                let e = ClusterError::from_kube(self.what(), e);
                self.health.set_kube_answered(e.api_answered());
                Err(e)
            }
            Err(_) => {
                self.health.set_kube_answered(false);
                Err(ClusterError::Timeout {
                    what: self.what(),
                    after: self.settings.renew_deadline,
                })
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

    fn set_leader(&self, leading: bool) {
        let was = self.leader.send_replace(leading);
        self.telemetry.is_leader.set(i64::from(leading));
        if leading && !was {
            self.telemetry.leader_transitions.inc();
            tracing::info!(identity = %self.settings.identity, lease = %self.what(), "became leader");
        } else if !leading && was {
            tracing::warn!(identity = %self.settings.identity, lease = %self.what(), "lost leadership");
        }
    }

    /// Run until `stop` turns true, then release the Lease if held.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut last_renewal: Option<Instant> = None;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Holding) => {
                    last_renewal = Some(Instant::now());
                    self.set_leader(true);
                }
                Ok(Attempt::HeldByOther) => {
                    last_renewal = None;
                    self.set_leader(false);
                }
                Err(e) => {
                    tracing::warn!(lease = %self.what(), error = %e, "leader election attempt failed");
                    // A leader that cannot renew within the deadline steps down before its
                    // Lease can expire and another instance takes over.
                    let overdue =
                        last_renewal.is_none_or(|t| t.elapsed() >= self.settings.renew_deadline);
                    if overdue {
                        self.set_leader(false);
                    }
                }
            }
            tokio::select! {
                _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => break,
                _ = tokio::time::sleep(self.settings.retry_period) => {}
            }
        }
        if *self.leader.borrow() {
            self.release().await;
        }
        self.set_leader(false);
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
