//! A decision on every surface: metrics, the `/recommendations` report, a structured log
//! line, and Kubernetes Events (leader only, on changes, not every tick).

use super::Shared;
use super::intent::Hold;
use super::report::TargetReport;
use super::tick::{BLOCK_KINDS, LoggedDecision, TargetTask, TickOutcome, deployment_name};
use crate::actuator::{DeploymentView, EventSpec, FloorKind, OtherAutoscaler, Verdict};
use crate::config::Mode;
use crate::core::{Decision, Limit, Observation, Reason, Signal};
use crate::forecast::Season;
use crate::telemetry::{ReasonLabels, WarningLabels};
use std::borrow::Cow;
use tokio::time::Instant;

/// The Event reason for a kind of blocked write.
fn block_reason(kind: &str) -> &'static str {
    match kind {
        "paused" => "Paused",
        "no_autoscaler" => "NoAutoscaler",
        "gitops" => "GitOpsConflict",
        _ => "OtherAutoscaler",
    }
}

/// The `reason` label of `prescale_decision_reason` for a reason that shaped the result
/// (the winner, limits, missing metrics, the fallback); the forecast and the plan's numbers
/// have gauges of their own.
fn reason_label(r: &Reason) -> Option<Cow<'static, str>> {
    match r {
        // The model that forecast (`forecast:daily`): its rate and band are gauges of their own.
        Reason::Forecast { model, .. } => Some(unit_label(UnitLabel::Forecast(*model)).into()),
        Reason::Plan { .. } => None,
        Reason::Winner { signal } => Some(unit_label(UnitLabel::Winner(*signal)).into()),
        Reason::Limited { limit, .. } => Some(unit_label(UnitLabel::Limited(*limit)).into()),
        Reason::MetricsMissing { metric, .. } => Some(format!("metricsMissing:{metric}").into()),
        Reason::Fallback { .. } => Some("fallback".into()),
        Reason::Activation { active, trigger } => Some(match (active, trigger) {
            (true, Some(by)) => format!("activation:{by}").into(),
            (true, None) => "activation:awake".into(),
            (false, _) => "activation:asleep".into(),
        }),
        Reason::Schedule { name, .. } => Some(format!("schedule:{name}").into()),
    }
}

/// The reasons whose label is the name of a unit variant, as serialized.
#[derive(Debug, Clone, Copy, PartialEq)]
enum UnitLabel {
    Forecast(Season),
    Winner(Signal),
    Limited(Limit),
}

thread_local! {
    /// Labels made so far: one per value of the three enums, serialized once per thread and
    /// kept for the process, rather than serialized again on every tick of every target.
    static UNIT_LABELS: std::cell::RefCell<Vec<(UnitLabel, &'static str)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn unit_label(key: UnitLabel) -> &'static str {
    UNIT_LABELS.with_borrow_mut(|labels| {
        if let Some((_, label)) = labels.iter().find(|(k, _)| *k == key) {
            return *label;
        }
        let name = |v: serde_json::Value| v.as_str().map(str::to_string).unwrap_or_default();
        let label = match key {
            UnitLabel::Forecast(model) => format!(
                "forecast:{}",
                name(serde_json::to_value(model).unwrap_or_default())
            ),
            UnitLabel::Winner(signal) => format!(
                "winner:{}",
                name(serde_json::to_value(signal).unwrap_or_default())
            ),
            UnitLabel::Limited(limit) => format!(
                "limited:{}",
                name(serde_json::to_value(limit).unwrap_or_default())
            ),
        };
        // Bounded: one per value of three small enums, per thread.
        let label: &'static str = Box::leak(label.into_boxed_str());
        labels.push((key, label));
        label
    })
}

/// Whether a reason's label makes a decision log line at info level when it comes or goes:
/// every reason that shaped the result does, but the forecast's model alone does not (the
/// forecaster moving between its daily, weekly and recent-level models, at the same
/// recommendation, is not a decision a user wants a line for; `/recommendations`, the
/// `prescale_decision_reason` series and the debug level still show it).
fn logged_label(label: &str) -> bool {
    !label.starts_with("forecast:")
}

/// Whether the labels that make a log line (see [`logged_label`]) are those logged last.
fn same_logged_labels(now: &[Cow<'static, str>], logged: &[Cow<'static, str>]) -> bool {
    now.iter().filter(|l| logged_label(l)).eq(logged.iter())
}

impl TargetTask {
    /// Put the decision on every surface: metrics, the JSON report, a log line, Events.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn report(
        &mut self,
        shared: &Shared,
        obs: &Observation,
        view: &DeploymentView,
        decision: &Decision,
        outcome: &TickOutcome,
        others: &[OtherAutoscaler],
        error: Option<String>,
    ) {
        let t = &shared.telemetry;
        let l = self.labels();
        let h = self.series.always(t, &l);
        h.recommended_replicas.set(i64::from(decision.replicas));
        h.current_replicas.set(i64::from(view.replicas));
        h.ready_replicas.set(i64::from(view.ready));
        h.slo_queue_wait_seconds
            .set(self.config.slo.queue_wait.as_secs_f64());
        h.metrics_missing_ticks
            .set(i64::from(self.state.failures()));
        h.capacity_per_replica.set(decision.capacity_per_replica);
        h.startup_seconds.set(decision.startup_s);
        for (key, family, value) in [
            (0, &t.forecast_arrival_rate, decision.forecast_rate),
            (1, &t.forecast_arrival_rate_upper, decision.forecast_upper),
            (2, &t.observed_queue_depth, obs.queue_depth),
            (3, &t.observed_arrival_rate, obs.arrival_rate),
            (4, &t.observed_completion_rate, obs.completion_rate),
            (5, &t.observed_queue_wait_seconds, obs.wait_s),
        ] {
            self.series.set_or_remove(t, key, family, &l, value);
        }

        // The list's room is kept between ticks (no allocation for the same reasons).
        let mut labels = std::mem::take(&mut self.memory.label_scratch);
        labels.clear();
        labels.extend(decision.reasons.iter().filter_map(reason_label));
        // The same reasons as last tick, in the same set of series: nothing to change.
        let generation = self.series.generation(t);
        let same_reasons = labels == self.memory.reason_labels;
        if !same_reasons || generation != self.memory.series_generation {
            for old in &self.memory.reason_labels {
                if !labels.iter().any(|l| l == old) {
                    t.decision_reason.remove(&ReasonLabels {
                        target: l.clone(),
                        reason: old.clone(),
                    });
                }
            }
            for new in &labels {
                t.decision_reason
                    .get_or_create(&ReasonLabels {
                        target: l.clone(),
                        reason: new.clone(),
                    })
                    .set(1);
            }
        }

        let floor = self.memory.floor.clone();
        self.series.set_or_remove_count(
            t,
            0,
            &t.floor_replicas,
            &l,
            floor.as_ref().map(|f| f.floor),
        );
        self.series.set_or_remove_count(
            t,
            1,
            &t.floor_owner_replicas,
            &l,
            floor
                .as_ref()
                .map(|f| f.owner_value.unwrap_or(0))
                .filter(|_| self.config.actuation.is_floor()),
        );
        let action: &'static str = match outcome {
            TickOutcome::Scaled { .. } => "scaled",
            TickOutcome::Floored { .. } => "floor_set",
            TickOutcome::Held(h) => h.action(),
            TickOutcome::Failed(_) => "error",
        };
        // One info line when the decision changes (what is recommended, what runs, what was
        // done, which reasons shaped it; not the forecast's model alone); the same decision
        // again is logged at debug level only. `/recommendations` always has the full latest record.
        let changed = !self.memory.last_logged.as_ref().is_some_and(|l| {
            l.recommended == decision.replicas
                && l.current == view.replicas
                && l.action == action
                && same_logged_labels(&labels, &l.reasons)
        });
        // Serialized once for the line and for a decision Event that follows it.
        let reasons_json = (changed || tracing::enabled!(tracing::Level::DEBUG))
            .then(|| serde_json::to_string(&decision.reasons).unwrap_or_default());
        if let Some(reasons_json) = &reasons_json {
            macro_rules! decision_line {
                ($level:ident) => {
                    tracing::$level!(
                        target_name = %self.config.name,
                        deployment = %self.deployment,
                        mode = match self.config.mode {
                            Mode::Shadow => "shadow",
                            Mode::Active => "active",
                        },
                        current = view.replicas,
                        ready = view.ready,
                        recommended = decision.replicas,
                        forecast_rate = decision.forecast_rate,
                        capacity_per_replica = decision.capacity_per_replica,
                        startup_s = decision.startup_s,
                        action,
                        reasons = %reasons_json,
                        "decision"
                    )
                };
            }
            if changed {
                decision_line!(info);
            } else {
                decision_line!(debug);
            }
        }
        if changed {
            self.memory.last_logged = Some(LoggedDecision {
                recommended: decision.replicas,
                current: view.replicas,
                action,
                reasons: labels.iter().filter(|l| logged_label(l)).cloned().collect(),
            });
        }
        if !same_reasons {
            self.memory.reason_labels.clone_from(&labels);
        }
        self.memory.label_scratch = labels;
        self.put_report(
            shared,
            TargetReport {
                target: l.target.clone(),
                deployment: self.deployment.clone(),
                mode: self.config.mode,
                current_replicas: Some(view.replicas),
                ready_replicas: Some(view.ready),
                recommended_replicas: Some(decision.replicas),
                reasons: Vec::new(),
                forecast_arrival_rate: decision.forecast_rate,
                forecast_arrival_rate_upper: decision.forecast_upper,
                forecast_model: decision.forecast_model,
                startup_seconds: Some(decision.startup_s),
                capacity_per_replica: Some(decision.capacity_per_replica),
                action: action.into(),
                updated_at: shared.now(),
                error,
                floor,
                ticks: 0,
            },
            &decision.reasons,
        );

        self.report_blocks(shared, view, decision, outcome, others)
            .await;
        self.publish_decision_event(shared, view, decision, outcome, reasons_json)
            .await;
    }

    /// Gauges and once-per-episode warning Events for conditions that keep prescale from
    /// writing to an active target.
    async fn report_blocks(
        &mut self,
        shared: &Shared,
        view: &DeploymentView,
        decision: &Decision,
        outcome: &TickOutcome,
        others: &[OtherAutoscaler],
    ) {
        let mut active: Vec<(String, String)> = Vec::new();
        if self.config.mode == Mode::Active {
            for o in others {
                active.push((
                    o.kind().to_string(),
                    format!(
                        "{o} targets this Deployment; prescale will not write to it (it recommends {} replicas)",
                        decision.replicas
                    ),
                ));
            }
            if view.paused {
                active.push((
                    "paused".into(),
                    format!(
                        "annotation prescale.io/paused is \"true\"; prescale will not write to this Deployment (it recommends {} replicas)",
                        decision.replicas
                    ),
                ));
            }
        }
        // Found by the tick itself (a floor target without its autoscaler, a GitOps tool
        // resetting replicas); reported in either mode, since shadow would be blocked too.
        active.extend(self.memory.blocks.iter().cloned());
        // Shadow mode never writes, so nothing is "blocked" there.
        let manual = self.config.mode == Mode::Active
            && self.memory.manual_until.is_some_and(|u| Instant::now() < u);
        let backoff = matches!(outcome, TickOutcome::Held(Hold::Backoff));
        let unsynced = matches!(outcome, TickOutcome::Held(Hold::Unsynced));
        let t = &shared.telemetry;
        // The series set are known (`memory.blocked`), so a tick with nothing blocked,
        // as before, looks nothing up; after every series was dropped, none is set.
        let generation = self.series.generation(t);
        if generation != self.memory.series_generation {
            self.memory.blocked = 0;
        }
        for (bit, kind) in BLOCK_KINDS.iter().enumerate() {
            let on = active.iter().any(|(k, _)| k == kind)
                || (*kind == "manual_scale" && manual)
                || (*kind == "unsynced" && unsynced)
                || (*kind == "backoff" && backoff);
            let was = self.memory.blocked & (1 << bit) != 0;
            if !on && !was {
                if !self.memory.reported_blocks.is_empty() || !self.memory.logged_blocks.is_empty()
                {
                    self.memory.reported_blocks.remove(*kind);
                    self.memory.logged_blocks.remove(*kind);
                }
                continue;
            }
            let labels = WarningLabels {
                target: self.labels(),
                kind: kind.to_string(),
            };
            if on {
                t.write_blocked.get_or_create(&labels).set(1);
                self.memory.blocked |= 1 << bit;
            } else {
                t.write_blocked.remove(&labels);
                self.memory.blocked &= !(1 << bit);
                self.memory.reported_blocks.remove(*kind);
                self.memory.logged_blocks.remove(*kind);
            }
        }
        self.memory.series_generation = generation;
        let leader = shared.leads(&self.config);
        for (kind, note) in active {
            // Logged once per episode by every instance; an Event once per episode by the
            // leader (a new leader reports it again).
            if self.memory.logged_blocks.insert(kind.clone()) {
                tracing::warn!(target_name = %self.config.name, kind = %kind, "{note}");
            }
            if leader && !self.memory.reported_blocks.contains(&kind) {
                let reason = block_reason(&kind);
                shared
                    .events
                    .publish(
                        &view.reference,
                        EventSpec {
                            warning: true,
                            reason,
                            action: "HoldWrites",
                            note,
                        },
                    )
                    .await;
                self.memory.reported_blocks.insert(kind);
            }
        }
    }

    /// `Recommendation` (shadow) when the recommendation changes, `Rescaled` (active) when
    /// prescale wrote `/scale`, `FloorRaised` / `FloorLowered` / `FloorReturned` when it
    /// wrote a floor. Only the leader publishes. Events are rate-limited in two steps, one
    /// design ([`crate::actuator::EventSink`]): per target here, at most one per
    /// `events.minInterval` unless the direction changes (an unchanged value never), like
    /// Kubernetes' event aggregation; then the sink's queue, at most `--events-per-second`
    /// for the whole controller, coalescing what is still pending per object and reason.
    async fn publish_decision_event(
        &mut self,
        shared: &Shared,
        view: &DeploymentView,
        decision: &Decision,
        outcome: &TickOutcome,
        reasons_json: Option<String>,
    ) {
        if !shared.leads(&self.config) {
            return;
        }
        let value = match (self.config.mode, outcome) {
            (Mode::Active, TickOutcome::Scaled { to, .. })
            | (Mode::Active, TickOutcome::Floored { to, .. }) => *to,
            // A floor target's Recommendation names the floor it would set: until the
            // autoscaler is known (its cache not yet synced, or none found, which is said
            // by its own Warning) there is nothing worth a first Event, and publishing one
            // without the floor would leave the unchanged value unsaid afterwards.
            (Mode::Shadow, _)
                if FloorKind::of(self.config.actuation).is_some()
                    && self.memory.floor.is_none() =>
            {
                return;
            }
            (Mode::Shadow, _) => decision.replicas,
            _ => return,
        };
        let suppressed =
            match self
                .memory
                .events
                .check(value, Instant::now(), self.config.events.min_interval)
            {
                Verdict::Unchanged => return,
                Verdict::Suppress => {
                    shared
                        .telemetry
                        .events_suppressed
                        .get_or_create(&self.labels())
                        .inc();
                    return;
                }
                Verdict::Publish { suppressed } => suppressed,
            };
        // Built only for an Event that is published (or taken from the decision's log line):
        // at thousands of targets, serializing every tick's reasons would cost more than the
        // decision.
        let reasons = reasons_json
            .unwrap_or_else(|| serde_json::to_string(&decision.reasons).unwrap_or_default());
        let floor = self.memory.floor.clone();
        let (regarding, mut event) = match (self.config.mode, outcome) {
            (Mode::Active, TickOutcome::Scaled { from, to }) => (
                &view.reference,
                EventSpec {
                    warning: false,
                    reason: "Rescaled",
                    action: "Scale",
                    note: format!("scaled from {from} to {to} replicas; reasons: {reasons}"),
                },
            ),
            (Mode::Active, TickOutcome::Floored { from, to, returned }) => {
                let Some(f) = floor.as_ref() else { return };
                let (reason, what) = if *returned {
                    (
                        "FloorReturned",
                        format!("returned to the owner's value {to}"),
                    )
                } else if to > from {
                    ("FloorRaised", format!("raised from {from} to {to}"))
                } else {
                    ("FloorLowered", format!("lowered from {from} to {to}"))
                };
                (
                    &f.reference,
                    EventSpec {
                        warning: false,
                        reason,
                        action: "SetFloor",
                        note: format!(
                            "{} {} spec.{} {what} for Deployment {} (prescale recommends {} replicas; the owner's value is {}); reasons: {reasons}",
                            f.kind,
                            f.name,
                            f.field,
                            deployment_name(&self.config),
                            decision.replicas,
                            f.owner_value
                                .map_or_else(|| "unset".into(), |v| v.to_string()),
                        ),
                    },
                )
            }
            _ => {
                let floor_note = floor
                    .as_ref()
                    .map(|f| {
                        format!(
                            "; would set {} {} spec.{} to {}",
                            f.kind, f.name, f.field, f.floor
                        )
                    })
                    .unwrap_or_default();
                (
                    &view.reference,
                    EventSpec {
                        warning: false,
                        reason: "Recommendation",
                        action: "Recommend",
                        note: format!(
                            "recommends {} replicas (now {}, {} ready){floor_note}; shadow mode, not applied; reasons: {reasons}",
                            decision.replicas, view.replicas, view.ready
                        ),
                    },
                )
            }
        };
        if suppressed > 0 {
            event.note = format!(
                "{} ({suppressed} smaller change(s) since the last Event not published: events.minInterval)",
                event.note
            );
        }
        shared.events.publish(regarding, event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_forecast_model_alone_is_no_new_decision_to_log() {
        let logged: Vec<Cow<'static, str>> = vec!["winner:forecast".into()];
        let labels = |l: &[&'static str]| l.iter().map(|s| Cow::Borrowed(*s)).collect::<Vec<_>>();
        assert!(same_logged_labels(
            &labels(&["forecast:weekly", "winner:forecast"]),
            &logged
        ));
        assert!(same_logged_labels(
            &labels(&["forecast:none", "winner:forecast"]),
            &logged
        ));
        // Another winner, a limit or a missing metric is.
        assert!(!same_logged_labels(
            &labels(&["forecast:none", "winner:reactive"]),
            &logged
        ));
        assert!(!same_logged_labels(
            &labels(&["winner:forecast", "limited:ScaleUpLimit"]),
            &logged
        ));
    }

    #[test]
    fn reason_labels_name_the_forecast_model_the_winner_and_limits_but_not_the_plan() {
        let reasons = [
            Reason::Forecast {
                model: crate::forecast::Season::Daily,
                rate: 4.0,
                upper: 5.0,
            },
            Reason::Plan {
                need: 3,
                step: None,
                keep: None,
            },
            Reason::Winner {
                signal: Signal::BacklogDrain,
            },
            Reason::Limited {
                limit: Limit::ScaleUpLimit,
                from: 9,
                to: 6,
            },
        ];
        let labels: Vec<_> = reasons.iter().filter_map(reason_label).collect();
        assert_eq!(
            labels,
            [
                "forecast:daily",
                "winner:backlogDrain",
                "limited:ScaleUpLimit"
            ]
        );
    }
}
