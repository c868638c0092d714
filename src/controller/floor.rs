//! Acting through a floor (`actuation: hpaMinReplicas | kedaMinReplicaCount`): find the
//! HPA or ScaledObject in charge of the Deployment (from the watch caches), plan the floor
//! (`floor_plan.rs`), and as the active leader read it fresh and write the plan with its
//! `resourceVersion` (a 409 re-reads and plans again). Shadow mode and followers report the
//! floor they would set from the cached object, with no API call.

use super::Shared;
use super::floor_plan::{FloorPlan, OwnerEdit, plan_floor};
use super::intent::Hold;
use super::tick::{TargetTask, TickOutcome, deployment_name};
use crate::actuator::{
    ClusterError, DeploymentView, EventSpec, FloorCandidates, FloorKind, FloorObject,
};
use crate::config::Mode;
use crate::core::Decision;
use crate::leader::LeadershipLost;
use crate::telemetry::ResultLabels;
use k8s_openapi::api::core::v1::ObjectReference;
use std::sync::Arc;

/// Re-reads after a 409 before giving up until the next tick.
const CONFLICT_RETRIES: u32 = 2;

/// The floor of a target, as `GET /recommendations` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FloorReport {
    /// `HorizontalPodAutoscaler` or `ScaledObject`.
    pub kind: &'static str,
    /// Its name (in the target's namespace).
    pub name: String,
    /// The field: `minReplicas` or `minReplicaCount`.
    pub field: &'static str,
    /// The owner's own value, returned to when the floor falls back (`None`: unset).
    pub owner_value: Option<u32>,
    /// The floor in force after this tick (active leader), or the one prescale would set.
    pub floor: u32,
    /// The object's max, which caps the floor.
    pub max: u32,
    /// Whether prescale holds a floor above the owner's value.
    pub holding: bool,
    /// The object, for Events.
    #[serde(skip)]
    pub reference: std::sync::Arc<ObjectReference>,
}

impl FloorReport {
    fn of(obj: &FloorObject, plan: &FloorPlan) -> Self {
        let owner_in_force = plan.owner.unwrap_or(obj.kind.default_min());
        Self {
            kind: obj.kind.kind_name(),
            name: obj.name.clone(),
            field: obj.kind.min_field(),
            owner_value: plan.owner,
            floor: plan.floor,
            max: obj.max,
            holding: plan.floor > owner_in_force,
            reference: obj.reference.clone(),
        }
    }
}

/// Why a floor target has no autoscaler to raise, as a blocking note.
fn missing_note(
    kind: FloorKind,
    deployment: &str,
    c: &FloorCandidates,
    recommended: u32,
) -> String {
    let field = format!("{}.spec.{}", kind.kind_name(), kind.min_field());
    let mut note = match c.found.len() {
        0 => format!(
            "no {} targets Deployment {deployment}, so there is no {field} to raise (prescale recommends {recommended} replicas)",
            kind.kind_name()
        ),
        _ => format!(
            "{} {}s target Deployment {deployment} ({}): prescale does not know whose {field} to raise (it recommends {recommended} replicas); leave one",
            c.found.len(),
            kind.kind_name(),
            c.found
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    for (hpa, so) in &c.keda_made {
        note.push_str(&format!(
            "; HPA {hpa} is KEDA's, for ScaledObject {so}: use `actuation: kedaMinReplicaCount`"
        ));
    }
    for u in &c.unreadable {
        note.push_str(&format!("; cannot read {u}"));
    }
    note
}

impl TargetTask {
    /// Act on `decision` through the floor of the autoscaler in charge. Returns the outcome
    /// and the error that cut it short, if any.
    pub(super) async fn act_on_floor(
        &mut self,
        shared: &Shared,
        view: &DeploymentView,
        decision: &Decision,
    ) -> (TickOutcome, Option<String>) {
        self.memory.floor = None;
        let Some(kind) = FloorKind::of(self.config.actuation) else {
            return (TickOutcome::Held(Hold::Unchanged), None);
        };
        let target = self.config.scale_target_ref.clone();
        let candidates = match shared.autoscalers.floor_candidates(kind, &target) {
            Ok(c) => c,
            Err(e) => {
                // The caches log their own failures; no floor is written on a guess.
                self.count_floor_error(shared, "conflicts");
                tracing::debug!(target_name = %self.config.name, error = %e, "cannot find the autoscaler yet; not writing this tick");
                return (TickOutcome::Held(Hold::Backoff), None);
            }
        };
        let cached = match candidates.found.as_slice() {
            [one] => one.clone(),
            _ => {
                let note = missing_note(
                    kind,
                    &deployment_name(&self.config),
                    &candidates,
                    decision.replicas,
                );
                self.memory.blocks.push(("no_autoscaler".into(), note));
                return (TickOutcome::Held(Hold::NoAutoscaler), None);
            }
        };
        let recommended = decision.replicas;
        let hold = if self.config.mode == Mode::Shadow {
            Some(Hold::Shadow)
        } else if view.paused {
            Some(Hold::Paused)
        } else if !shared.leads(&self.config) {
            Some(Hold::Follower)
        } else if self.memory.skip_writes > 0 {
            self.memory.skip_writes -= 1;
            Some(Hold::Backoff)
        } else {
            None
        };
        if let Some(hold) = hold {
            // What prescale would set, from the cached object: no API call.
            self.memory.floor = Some(Arc::new(FloorReport::of(
                &cached,
                &plan_floor(&cached, recommended),
            )));
            return (TickOutcome::Held(hold), None);
        }

        let mut conflicts = 0;
        loop {
            let fresh = match shared
                .cluster
                .read_floor_object(kind, &cached.namespace, &cached.name)
                .await
            {
                Ok(o) => o,
                Err(e) => return self.floor_failed(shared, kind, "read", e),
            };
            let plan = plan_floor(&fresh, recommended);
            self.memory.floor = Some(Arc::new(FloorReport::of(&fresh, &plan)));
            if let Some(edit) = &plan.owner_edit {
                self.report_owner_edit(shared, &fresh, edit).await;
            }
            if let Some(asked) = plan.capped_from {
                tracing::info!(target_name = %self.config.name, object = %fresh, recommended = asked, max = fresh.max, "the floor is capped at the autoscaler's max");
            }
            let Some(patch) = plan.write.clone() else {
                return (TickOutcome::Held(Hold::Unchanged), None);
            };
            // Written under this term's token, like a /scale write: not sent, or cancelled
            // in flight, once the term ends.
            let written = match shared.leadership(&self.config).token() {
                Some(mut token) => {
                    token
                        .guard(shared.cluster.patch_floor(&fresh, &patch))
                        .await
                }
                None => Err(LeadershipLost),
            };
            let Ok(written) = written else {
                self.count_floor_write(shared, "cancelled");
                tracing::warn!(target_name = %self.config.name, object = %fresh, "not writing the floor: this instance stopped leading");
                return (TickOutcome::Held(Hold::Follower), None);
            };
            match written {
                Ok(_) => {
                    self.count_floor_write(shared, "ok");
                    self.memory.write_failures = 0;
                    tracing::info!(
                        target_name = %self.config.name,
                        object = %fresh,
                        field = kind.min_field(),
                        from = plan.current,
                        to = plan.floor,
                        owner_value = ?plan.owner,
                        "floor written"
                    );
                    return (
                        TickOutcome::Floored {
                            from: plan.current,
                            to: plan.floor,
                            returned: patch.hold.is_none(),
                        },
                        None,
                    );
                }
                Err(ClusterError::Conflict { .. }) if conflicts < CONFLICT_RETRIES => {
                    conflicts += 1;
                    self.count_floor_write(shared, "conflict");
                    tracing::info!(target_name = %self.config.name, object = %fresh, "409 on the floor: re-reading and planning again");
                }
                Err(e) => return self.floor_failed(shared, kind, "write", e),
            }
        }
    }

    /// An Event (once per edit) and a log line: the owner's new value is the one returned to.
    async fn report_owner_edit(&mut self, shared: &Shared, obj: &FloorObject, edit: &OwnerEdit) {
        if self.memory.last_owner_edit.as_ref() == Some(edit) {
            return;
        }
        self.memory.last_owner_edit = Some(edit.clone());
        let show = |v: Option<u32>| v.map_or_else(|| "unset".to_string(), |v| v.to_string());
        let by = edit
            .by
            .as_deref()
            .map(|m| format!(" by {m}"))
            .unwrap_or_default();
        let note = format!(
            "spec.{} changed from {} to {}{by} while prescale held a floor of {}: {} is now the owner's value, which prescale returns to when its recommendation falls back",
            obj.kind.min_field(),
            edit.floor,
            show(edit.to),
            edit.floor,
            show(edit.to)
        );
        tracing::warn!(target_name = %self.config.name, object = %obj, remembered_owner_value = ?edit.from, "{note}");
        shared
            .events
            .publish(
                &obj.reference,
                EventSpec {
                    warning: false,
                    reason: "FloorOwnerChanged",
                    action: "AdoptOwnerValue",
                    note,
                },
            )
            .await;
    }

    fn floor_failed(
        &mut self,
        shared: &Shared,
        kind: FloorKind,
        step: &str,
        e: ClusterError,
    ) -> (TickOutcome, Option<String>) {
        self.count_floor_write(shared, e.label());
        self.count_floor_error(shared, "floor");
        self.note_write_failure(&e);
        let mut error = e.to_string();
        if let ClusterError::Rejected { code: 403, .. } = e {
            let resource = match kind {
                FloorKind::Hpa => "horizontalpodautoscalers",
                FloorKind::ScaledObject => "scaledobjects",
            };
            error.push_str(&format!(
                "; grant get and patch on {resource} (deploy/overlays/autoscaler-floor, or deploy/components/autoscaler-floor in your overlay)"
            ));
        }
        tracing::warn!(target_name = %self.config.name, step, error = %error, "floor not written");
        (TickOutcome::Failed(error.clone()), Some(error))
    }

    /// After a failed write: 429/5xx and timeouts back off, skipping 0, 1, 3, 7... ticks.
    pub(super) fn note_write_failure(&mut self, e: &ClusterError) {
        if matches!(
            e,
            ClusterError::Unavailable { .. }
                | ClusterError::Timeout { .. }
                | ClusterError::Transport { .. }
        ) {
            self.memory.write_failures += 1;
            let n = self.memory.write_failures.min(5);
            self.memory.skip_writes = ((1u32 << (n - 1)) - 1).min(super::tick::MAX_SKIPPED_TICKS);
        }
    }

    fn count_floor_write(&self, shared: &Shared, result: &str) {
        shared
            .telemetry
            .floor_writes
            .get_or_create(&ResultLabels {
                target: self.labels(),
                result: result.into(),
            })
            .inc();
    }

    fn count_floor_error(&self, shared: &Shared, stage: &str) {
        shared
            .telemetry
            .tick_errors
            .get_or_create(&crate::telemetry::StageLabels {
                target: self.labels(),
                stage: stage.into(),
            })
            .inc();
    }
}
