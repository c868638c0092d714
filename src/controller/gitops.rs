//! A GitOps tool resetting `spec.replicas` is not a person's `kubectl scale`.
//!
//! A person's change is honoured: prescale holds its writes for the manual cooldown. A
//! GitOps controller (Argo CD, Flux, Helm controller...) that has `spec.replicas` in its
//! manifest puts it back on every sync; treating each sync as a person's decision would
//! block prescale for good, one cooldown after another. So a change whose field manager is
//! a GitOps controller's is told apart (by `managedFields`): the first reset of an episode
//! is answered by writing the recommendation back at once (a one-off sync), with a Warning
//! Event naming the fix (Argo CD `ignoreDifferences`, or `spec.replicas` out of the
//! manifest); a second reset within [`FIGHT_WINDOW`] means the tool resets every write, and
//! prescale stops fighting it for [`FIGHT_HOLD`], then tries once more.

use std::time::Duration;
use tokio::time::Instant;

/// Field managers of GitOps controllers, as they appear in `managedFields`: Argo CD's
/// application controller (client-side and server-side apply), Flux's kustomize and helm
/// controllers, Rancher Fleet's agent.
pub const GITOPS_FIELD_MANAGERS: &[&str] = &[
    "argocd-controller",
    "argocd-application-controller",
    "kustomize-controller",
    "helm-controller",
    "fleet-agent",
];

/// A second reset within this long of the last one means the tool resets every write.
pub const FIGHT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// How long prescale leaves `spec.replicas` to a GitOps tool that keeps resetting it.
pub const FIGHT_HOLD: Duration = Duration::from_secs(60 * 60);

/// Whether `manager` is a GitOps controller's field manager.
pub fn is_gitops(manager: &str) -> bool {
    GITOPS_FIELD_MANAGERS.contains(&manager)
}

/// What a reset means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetVerdict {
    /// The first reset of an episode: write the recommendation back; say so once.
    WriteBack,
    /// Another reset soon after: the tool resets every write; hold until the instant.
    Hold(Instant),
    /// Another reset while already holding (nothing new to say).
    StillHolding,
}

/// The GitOps resets of one target.
#[derive(Debug, Clone, Default)]
pub struct GitOpsResets {
    last_reset: Option<Instant>,
    hold_until: Option<Instant>,
}

impl GitOpsResets {
    /// A GitOps tool reset `spec.replicas` at `now`.
    pub fn reset(&mut self, now: Instant) -> ResetVerdict {
        let previous = self.last_reset.replace(now);
        if self.holding(now) {
            return ResetVerdict::StillHolding;
        }
        match previous {
            Some(at) if now.saturating_duration_since(at) <= FIGHT_WINDOW => {
                let until = now + FIGHT_HOLD;
                self.hold_until = Some(until);
                ResetVerdict::Hold(until)
            }
            _ => ResetVerdict::WriteBack,
        }
    }

    /// Whether prescale leaves `spec.replicas` alone at `now`.
    pub fn holding(&self, now: Instant) -> bool {
        self.hold_until.is_some_and(|u| now < u)
    }
}

impl super::tick::TargetTask {
    /// `spec.replicas` was changed from `expected` by the GitOps tool `manager`: count it,
    /// and write back (first reset) or leave it (a tool that resets every write), saying so
    /// with a Warning Event (leader, active mode).
    pub(super) async fn notice_gitops_reset(
        &mut self,
        shared: &super::Shared,
        view: &crate::actuator::DeploymentView,
        expected: u32,
        manager: &str,
    ) {
        shared
            .telemetry
            .gitops_resets
            .get_or_create(&self.labels())
            .inc();
        let now = Instant::now();
        let deployment = super::tick::deployment_name(&self.config);
        let fix = "add `ignoreDifferences: [{group: apps, kind: Deployment, jsonPointers: [/spec/replicas]}]` with the `RespectIgnoreDifferences=true` sync option to the Argo CD Application, or remove `spec.replicas` from the manifest in git (Flux, Helm); see docs/deploy.md, GitOps";
        let (warn, reason, note) = match self.memory.gitops.reset(now) {
            ResetVerdict::WriteBack => (
                true,
                "GitOpsReset",
                format!(
                    "spec.replicas was reset from {expected} to {} by {manager} (a GitOps sync), not by a person: prescale writes its recommendation back; {fix}",
                    view.replicas
                ),
            ),
            ResetVerdict::Hold(_) => (
                true,
                "GitOpsConflict",
                format!(
                    "{manager} reset spec.replicas again (to {}) within {} min of the last reset: it resets every write, so prescale leaves {deployment} to it for {} min rather than fight; {fix}",
                    view.replicas,
                    FIGHT_WINDOW.as_secs() / 60,
                    FIGHT_HOLD.as_secs() / 60
                ),
            ),
            ResetVerdict::StillHolding => (false, "", String::new()),
        };
        if !warn {
            return;
        }
        tracing::warn!(target_name = %self.config.name, deployment = %deployment, manager, "{note}");
        if reason == "GitOpsConflict" {
            // Reported as a blocked write while the hold lasts (gauge, one Warning Event).
            self.memory.gitops_note = Some(note);
            return;
        }
        if self.config.mode == crate::config::Mode::Active && shared.leads(&self.config) {
            shared
                .events
                .publish(
                    &view.reference,
                    crate::actuator::EventSpec {
                        warning: true,
                        reason,
                        action: "GitOpsSync",
                        note,
                    },
                )
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_cd_flux_and_helm_are_gitops_and_kubectl_is_not() {
        for m in [
            "argocd-controller",
            "kustomize-controller",
            "helm-controller",
        ] {
            assert!(is_gitops(m), "{m}");
        }
        for m in [
            "kubectl",
            "kubectl-edit",
            "prescale",
            "kube-controller-manager",
        ] {
            assert!(!is_gitops(m), "{m}");
        }
    }

    #[test]
    fn a_one_off_sync_is_written_back_and_a_tool_that_resets_every_write_is_left_alone() {
        let start = Instant::now();
        let mut r = GitOpsResets::default();
        assert_eq!(r.reset(start), ResetVerdict::WriteBack);
        assert!(!r.holding(start));
        // Reset again 3 minutes after prescale wrote back: a fight.
        let second = start + Duration::from_secs(180);
        assert_eq!(r.reset(second), ResetVerdict::Hold(second + FIGHT_HOLD));
        assert!(r.holding(second + Duration::from_secs(60)));
        assert_eq!(
            r.reset(second + Duration::from_secs(60)),
            ResetVerdict::StillHolding
        );
        // After the hold prescale tries once more; a reset long after the last is a new
        // episode.
        let later = second + FIGHT_HOLD + FIGHT_WINDOW + Duration::from_secs(1);
        assert!(!r.holding(later));
        assert_eq!(r.reset(later), ResetVerdict::WriteBack);
    }
}
