//! One target's tick: read the Deployment and the metrics, decide, turn the decision into
//! an intent, apply it (active leader only), and report it on every surface.

use super::Shared;
use super::cpu_time::TickSampler;
use super::floor::FloorReport;
use super::floor_plan::OwnerEdit;
use super::gitops::{GitOpsResets, is_gitops};
use super::intent::{Guards, Hold, Intent, plan};
use super::observe::observation;
use super::report::{ReportSlot, TargetReport};
use crate::actuator::{ClusterError, DeploymentView, EventLimiter, EventSpec, FIELD_MANAGER};
use crate::config::{Mode, TargetConfig};
use crate::core::{Reason, TargetState, decide};
use crate::live_report::{ForecastError, LiveSlot, LiveTracker};
use crate::metrics::{PodEndpoints, scrapes_pods};
use crate::telemetry::{MetricErrorLabels, ResultLabels, StageLabels, TargetLabels, TargetSeries};
use futures::StreamExt;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::time::Instant;

/// Label values of `prescale_write_blocked{kind}`.
pub const BLOCK_KINDS: &[&str] = &[
    "hpa",
    "scaledobject",
    "paused",
    "manual_scale",
    "unsynced",
    "backoff",
    "no_autoscaler",
    "gitops",
];

/// Re-reads after a 409 before giving up until the next tick.
const CONFLICT_RETRIES: u32 = 2;

/// The least time a person's change of `spec.replicas` is left alone: HPA's default
/// scale-down stabilisation, long enough for the person to finish what they are doing.
pub const MANUAL_SCALE_HOLD: std::time::Duration = std::time::Duration::from_secs(300);

/// Longest wait for the next chunk of arrival-rate history when a target starts.
pub const WARM_UP_STALL: std::time::Duration = std::time::Duration::from_secs(60);

/// Longest back-off after repeated 429/5xx answers, in ticks.
pub(super) const MAX_SKIPPED_TICKS: u32 = 16;

/// What a target remembers between ticks besides the decision core's state.
#[derive(Debug, Default)]
pub(super) struct Memory {
    /// `spec.replicas` as last seen or written by us: any other value next tick was set by
    /// someone else.
    pub(super) expected_replicas: Option<u32>,
    /// The Deployment's uid when `expected_replicas` was recorded: a re-created Deployment
    /// (new uid) starts afresh rather than counting as a manual scale.
    pub(super) expected_uid: Option<String>,
    /// Writes are withheld until then after a manual scale.
    pub(super) manual_until: Option<Instant>,
    /// Consecutive failed writes (429/5xx/timeouts).
    pub(super) write_failures: u32,
    /// Ticks left to skip writing (back-off).
    pub(super) skip_writes: u32,
    /// Blocking conditions already reported by an Event, so each is reported once per episode.
    pub(super) reported_blocks: BTreeSet<String>,
    /// The last tick's failure, so a repeated one is not logged every tick.
    pub(super) last_failure: Option<String>,
    /// Blocking conditions already logged (once per episode, leader or not).
    pub(super) logged_blocks: BTreeSet<String>,
    /// `prescale_decision_reason` labels currently set, so stale ones are removed.
    pub(super) reason_labels: Vec<std::borrow::Cow<'static, str>>,
    /// The [`TargetSeries::generation`] `reason_labels` and `blocked` were set in.
    pub(super) series_generation: u64,
    /// `prescale_write_blocked` series set, one bit per kind of [`BLOCK_KINDS`].
    pub(super) blocked: u32,
    /// The Deployment's `matchExpressions` were reported as ignored (once per target).
    pub(super) warned_match_expressions: bool,
    /// Rate limit of this target's decision Events.
    pub(super) events: EventLimiter,
    /// The floor under the HPA or ScaledObject, this tick (floor targets only).
    pub(super) floor: Option<Arc<FloorReport>>,
    /// The owner's last change of a floor's field that was reported.
    pub(super) last_owner_edit: Option<OwnerEdit>,
    /// Conditions found this tick that keep prescale from writing, besides those the
    /// report derives itself: `(kind, note)`.
    pub(super) blocks: Vec<(String, String)>,
    /// Resets of `spec.replicas` by a GitOps tool.
    pub(super) gitops: GitOpsResets,
    /// Why writes are left to a GitOps tool, while they are.
    pub(super) gitops_note: Option<String>,
    /// What prescale knows of the Deployment that a watch cache may not show yet (its own
    /// write, or a fresh read after a 409).
    pub(super) ahead_of_cache: Option<AheadOfCache>,
    /// What the last decision log line at info level said, so an unchanged decision is
    /// logged at debug level only.
    pub(super) last_logged: Option<LoggedDecision>,
    /// Room for a tick's `prescale_decision_reason` labels, kept between ticks.
    pub(super) label_scratch: Vec<std::borrow::Cow<'static, str>>,
}

/// What a decision log line at info level said: what is recommended, what runs, what was
/// done, which reasons shaped it.
#[derive(Debug, PartialEq)]
pub(super) struct LoggedDecision {
    pub(super) recommended: u32,
    pub(super) current: u32,
    pub(super) action: &'static str,
    pub(super) reasons: Vec<std::borrow::Cow<'static, str>>,
}

/// The Deployment as prescale last wrote or read it directly, and the `resourceVersion`s it
/// knows to be older: a watch cache still showing one of those has not caught up, and is
/// read as this view instead (it never goes back in time, which would look like someone
/// else's change of `spec.replicas`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AheadOfCache {
    outdated: Vec<String>,
    view: Arc<DeploymentView>,
}

/// Outdated versions remembered at most (a write and a re-read or two within one tick).
const OUTDATED_KEPT: usize = 4;

impl AheadOfCache {
    /// `view` (read from a cache) corrected to what prescale knows; `false` when the cache
    /// has caught up (and this is no longer needed).
    fn correct(&self, view: &mut Arc<DeploymentView>) -> bool {
        if self.outdated.contains(&view.resource_version) {
            *view = self.view.clone();
            true
        } else {
            false
        }
    }
}

impl Memory {
    /// `fresh` is newer than version `outdated` (and than any remembered before).
    fn ahead(&mut self, outdated: &str, fresh: DeploymentView) {
        let mut known = self
            .ahead_of_cache
            .take()
            .map(|a| a.outdated)
            .unwrap_or_default();
        if !known.iter().any(|rv| rv == outdated) {
            known.push(outdated.to_string());
        }
        if known.len() > OUTDATED_KEPT {
            known.remove(0);
        }
        // Never mistake the fresh view itself for an outdated one.
        known.retain(|rv| *rv != fresh.resource_version || fresh.resource_version == outdated);
        self.ahead_of_cache = Some(AheadOfCache {
            outdated: known,
            view: Arc::new(fresh),
        });
    }
}

/// A target's task state: its config, the decision core's state, the controller's memory,
/// and the live report's model of both schedules.
pub struct TargetTask {
    /// Effective config (shared with the supervisor that hands the task its changes).
    pub config: Arc<TargetConfig>,
    /// The decision core's state (learned capacity, start-up time, history).
    pub state: TargetState,
    pub(super) memory: Memory,
    /// What ran vs what prescale recommends, modelled tick by tick.
    pub(super) live: LiveTracker,
    /// The forecast's recent error.
    pub(super) forecast_error: ForecastError,
    /// The labels of this target's series, made once (not per series per tick).
    labels: TargetLabels,
    /// `namespace/name` of the scaled object, made once (not per tick).
    pub(super) deployment: Arc<str>,
    /// This target's entry in `/recommendations`, once it has one.
    pub(super) report: Option<ReportSlot>,
    /// This target's entry in the live report (`/report`), once it has one; taken again
    /// after a change of config.
    pub(super) live_slot: Option<LiveSlot>,
    /// Handles on this target's series.
    pub(super) series: TargetSeries,
    /// Which ticks' CPU time is measured.
    cpu_sampler: TickSampler,
}

/// How a tick ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickOutcome {
    /// `spec.replicas` was changed.
    Scaled {
        /// Before.
        from: u32,
        /// After.
        to: u32,
    },
    /// The floor under the HPA or ScaledObject was changed.
    Floored {
        /// The min in force before.
        from: u32,
        /// The min in force after.
        to: u32,
        /// The floor was returned to the owner's own value.
        returned: bool,
    },
    /// A recommendation was made and not written.
    Held(Hold),
    /// The tick stopped early; the error is logged, counted and reported.
    Failed(String),
}

pub(super) fn deployment_name(c: &TargetConfig) -> String {
    format!(
        "{}/{}",
        c.scale_target_ref.namespace, c.scale_target_ref.name
    )
}

impl TargetTask {
    /// A fresh task with the decision core's default state.
    pub fn new(config: impl Into<Arc<TargetConfig>>) -> Self {
        let config = config.into();
        let state = TargetState::new(&config);
        Self::with_state(config, state)
    }

    /// A task that continues with `state` learned earlier.
    pub fn with_state(config: impl Into<Arc<TargetConfig>>, state: TargetState) -> Self {
        let config = config.into();
        Self {
            live: live_tracker(&config),
            forecast_error: ForecastError::default(),
            labels: TargetLabels::of(&config),
            deployment: deployment_name(&config).into(),
            report: None,
            live_slot: None,
            series: TargetSeries::default(),
            cpu_sampler: TickSampler::new(phase_seed(&config.name)),
            config,
            state,
            memory: Memory::default(),
        }
    }

    /// Take a new config. The learned state and the controller's memory are kept unless the
    /// target now scales a different Deployment, whose behaviour they do not describe.
    /// Returns whether the state was started afresh (and so wants warming up again).
    pub fn reconfigure(&mut self, config: impl Into<Arc<TargetConfig>>) -> bool {
        let config = config.into();
        let reset = config.scale_target_ref != self.config.scale_target_ref;
        if reset {
            self.state = TargetState::new(&config);
            self.memory = Memory::default();
            self.live = live_tracker(&config);
            self.forecast_error = ForecastError::default();
        } else {
            self.live.reconfigure(
                config.slo.queue_wait.as_secs_f64(),
                config.interval.as_secs_f64(),
            );
        }
        self.labels = TargetLabels::of(&config);
        self.deployment = deployment_name(&config).into();
        self.live_slot = None;
        self.series.forget();
        self.config = config;
        reset
    }

    /// Warm the forecaster with the source's arrival-rate history, so the first forecasts
    /// are not made from nothing. The history arrives in chunks, oldest first, each fed to
    /// the forecaster as it comes; when none arrives for [`WARM_UP_STALL`] (a Prometheus
    /// that is down, or thousands of targets queued for the backfill limit) the target
    /// starts with what it has and the forecaster learns from the ticks as they come.
    pub async fn warm_up(&mut self, shared: &Shared) {
        let source = shared.source();
        let config = &self.config;
        let mut chunks = source.history_stream(config);
        let mut samples = 0usize;
        loop {
            match tokio::time::timeout(WARM_UP_STALL, chunks.next()).await {
                Ok(None) => break,
                Ok(Some(Ok(chunk))) => {
                    self.state.backfill(config, chunk.step_s, &chunk.samples);
                    samples += chunk.samples.len();
                }
                Ok(Some(Err(e))) => {
                    tracing::warn!(target_name = %config.name, error = %e, samples, "arrival-rate history incomplete; the forecaster learns from now on");
                    break;
                }
                Err(_) => {
                    tracing::warn!(target_name = %config.name, stalled_s = WARM_UP_STALL.as_secs(), samples, "arrival-rate history stalled; the forecaster learns from now on");
                    break;
                }
            }
        }
        if samples > 0 {
            tracing::debug!(target_name = %config.name, samples, "forecaster warmed up with arrival-rate history");
        }
    }

    /// Start the decision core's state afresh (after a tick panicked half-way through it).
    pub fn reset_state(&mut self) {
        self.state = TargetState::new(&self.config);
    }

    /// Remove this target's metric series (it was removed from the config or is stopping),
    /// so dashboards do not show a stopped target's last values forever.
    pub fn forget_series(&mut self, shared: &Shared) {
        let reasons = std::mem::take(&mut self.memory.reason_labels);
        shared.telemetry.forget_target(&self.labels(), &reasons);
        self.series.forget();
        self.memory.blocked = 0;
    }

    /// Writes are withheld this long after a person's `kubectl scale`: at least
    /// [`MANUAL_SCALE_HOLD`], longer when the target's own scale-down cooldown or
    /// stabilisation window is longer (prescale would not undo its own scale-up sooner).
    fn manual_cooldown(&self) -> std::time::Duration {
        let b = &self.config.behavior;
        MANUAL_SCALE_HOLD
            .max(b.scale_down_cooldown)
            .max(b.scale_down.stabilization_window)
            .max(b.scale_up.stabilization_window)
    }

    pub(super) fn labels(&self) -> TargetLabels {
        self.labels.clone()
    }

    fn count_error(&self, shared: &Shared, stage: &str) {
        shared
            .telemetry
            .tick_errors
            .get_or_create(&StageLabels {
                target: self.labels(),
                stage: stage.into(),
            })
            .inc();
    }

    /// Bytes of a tick's future, which every target's task allocates (boxed) for each tick,
    /// and which every target holds at once in its first tick at start-up. A future is as
    /// large as its largest await, so a rare await held inline sets it for all (10.7 KB
    /// before the rare ones were boxed): the controller bench reports it
    /// (`tick_future_bytes`), where such a regression shows before the start-up peak does.
    pub fn tick_future_bytes() -> usize {
        fn size<'a, F: std::future::Future>(_: fn(&'a mut TargetTask, &'a Shared) -> F) -> usize {
            std::mem::size_of::<F>()
        }
        size(TargetTask::tick)
    }

    /// Run one tick.
    pub async fn tick(&mut self, shared: &Shared) -> TickOutcome {
        self.memory.blocks.clear();
        // The config shared, not its reference's strings copied, every tick.
        let config = self.config.clone();
        let target = &config.scale_target_ref;
        let view = match shared.reads.deployment(target).await {
            Ok(mut v) => {
                if let Some(a) = &self.memory.ahead_of_cache
                    && !a.correct(&mut v)
                {
                    self.memory.ahead_of_cache = None;
                }
                shared.health.set_kube_answered(true);
                self.memory.last_failure = None;
                v
            }
            Err(e) => {
                shared.health.set_kube_answered(e.api_answered());
                if matches!(e, ClusterError::NotFound { .. }) {
                    // When it comes back, its replicas are not a manual change.
                    self.memory.expected_replicas = None;
                }
                return self.fail(shared, "deployment", &e.to_string());
            }
        };
        // Under a floor, spec.replicas is the HPA's or KEDA's to change, not a person's.
        if !self.config.actuation.is_floor() {
            self.notice_manual_scale(shared, &view).await;
            if self.config.mode == Mode::Active
                && self.memory.gitops.holding(Instant::now())
                && let Some(note) = &self.memory.gitops_note
            {
                self.memory.blocks.push(("gitops".into(), note.clone()));
            }
        }

        let source = shared.source();
        let pods = if scrapes_pods(&self.config) {
            self.ready_pods(shared, &view).await
        } else {
            // The shared name, not a copy per tick.
            PodEndpoints::not_listed(self.deployment.clone())
        };
        let readings = source.read_with(&self.config, &pods).await;
        // From here on the tick's work is counted, paused across awaits on the network.
        let mut cpu = self.cpu_sampler.next_tick();
        cpu.resume();
        let now = shared.now();
        let (mut obs, failures) = observation(now, &view, &readings);
        for f in &failures {
            shared
                .telemetry
                .metric_errors
                .get_or_create(&MetricErrorLabels {
                    target: self.labels(),
                    metric: f.metric.into(),
                    reason: f.error.reason().into(),
                })
                .inc();
            // The source logs a metric's failures when its state changes; per tick, debug.
            tracing::debug!(target_name = %self.config.name, metric = f.metric, error = %f.error, "metric read failed");
        }
        if !failures.is_empty() {
            self.count_error(shared, "metrics");
        }

        // Keep a copy where a write may follow: after a 409 the decision is made again from
        // the same state with the Deployment as it is now, so one tick never advances the
        // state twice. (Shadow targets and followers never write: no copy, which at
        // thousands of targets is most of a tick's allocation.)
        let before = (self.config.mode == Mode::Active && shared.leads(&self.config))
            .then(|| self.state.clone());
        let mut decision = decide(&self.config, &mut self.state, &obs);

        if self.config.actuation.is_floor() {
            cpu.pause();
            // Boxed, like the other rare large awaits below: inline, the biggest of them set
            // the size of every tick's future (10.7 KB, against 2.8 KB with them boxed),
            // and every target is in a tick at once at start-up.
            let (outcome, error) = Box::pin(self.act_on_floor(shared, &view, &decision)).await;
            cpu.resume();
            self.account(shared, &obs, &decision, &outcome);
            self.report(shared, &obs, &view, &decision, &outcome, &[], error)
                .await;
            shared.telemetry.tick_cpu.inc_by(cpu.finish());
            return outcome;
        }

        let mut others = Vec::new();
        let mut check_failed = false;
        if self.config.mode == Mode::Active {
            match shared.autoscalers.other_autoscalers(target) {
                Ok(found) => others = found,
                Err(e) => {
                    // Cannot tell whether someone else owns the Deployment: do not write.
                    // (The caches log their own failures once per episode.)
                    check_failed = true;
                    self.count_error(shared, "conflicts");
                    tracing::debug!(target_name = %self.config.name, error = %e, "cannot check for other autoscalers; not writing this tick");
                }
            }
        }

        let mut view = view;
        let mut conflicts = 0;
        let mut error = None;
        let outcome = loop {
            // The write is made under this term's token: checked against the clock right
            // before sending, and cancelled if the term ends while it is in flight.
            let mut token = shared.leadership(&self.config).token();
            // Leadership gained after this tick decided (no copy of the state was kept to
            // decide again from after a 409): write from the next tick on.
            let leading = token.is_some() && (before.is_some() || self.config.mode != Mode::Active);
            let guards = Guards {
                leader: leading,
                paused: view.paused,
                other_autoscaler: !others.is_empty(),
                manual_cooldown: self.memory.manual_until.is_some_and(|u| Instant::now() < u),
                gitops_conflict: self.memory.gitops.holding(Instant::now()),
                unsynced: check_failed,
                backoff: self.memory.skip_writes > 0,
            };
            match plan(self.config.mode, guards, view.replicas, decision.replicas) {
                Intent::Hold(h) => break TickOutcome::Held(h),
                Intent::Write { from, to } => {
                    let Some(token) = token.as_mut() else {
                        self.count_write(shared, "cancelled");
                        tracing::warn!(target_name = %self.config.name, from, to, "not writing: this instance stopped leading");
                        break TickOutcome::Held(Hold::Follower);
                    };
                    // Work-aware scale-down: the pods to remove first are marked before
                    // the write (under the same term's token), or the write waits (a
                    // refused mark is not worked around).
                    cpu.pause();
                    if to < from && self.config.pod_deletion_cost.enabled {
                        let marked = Box::pin(token.guard(self.mark_pods_for_scale_down(
                            shared,
                            &view,
                            from - to,
                        )))
                        .await;
                        match marked {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => {
                                self.count_error(shared, "deletion_cost");
                                self.note_write_failure(&e.source);
                                tracing::warn!(target_name = %self.config.name, error = %e, "scale-down not written");
                                error = Some(e.to_string());
                                break TickOutcome::Failed(e.to_string());
                            }
                            Err(lost) => {
                                self.count_write(shared, "cancelled");
                                tracing::warn!(target_name = %self.config.name, from, to, error = %lost, "not marking pods: this instance stopped leading");
                                break TickOutcome::Held(Hold::Follower);
                            }
                        }
                    }
                    let written = Box::pin(token.guard(shared.cluster.scale(
                        target,
                        from,
                        to,
                        &view.resource_version,
                    )))
                    .await;
                    let written = match written {
                        Ok(written) => written,
                        Err(lost) => {
                            self.count_write(shared, "cancelled");
                            tracing::warn!(target_name = %self.config.name, from, to, error = %lost, "not writing: this instance stopped leading");
                            break TickOutcome::Held(Hold::Follower);
                        }
                    };
                    match written {
                        Ok(resource_version) => {
                            self.count_write(shared, "ok");
                            let mut written = DeploymentView::clone(&view);
                            written.replicas = to;
                            written.replicas_owner = Some(FIELD_MANAGER.to_string());
                            if let Some(rv) = resource_version {
                                written.resource_version = rv;
                            }
                            self.memory.ahead(&view.resource_version, written);
                            self.memory.expected_replicas = Some(to);
                            self.memory.write_failures = 0;
                            break TickOutcome::Scaled { from, to };
                        }
                        Err(
                            e @ (ClusterError::Conflict { .. }
                            | ClusterError::NoResourceVersion { .. }),
                        ) if conflicts < CONFLICT_RETRIES && before.is_some() => {
                            conflicts += 1;
                            self.count_write(shared, e.label());
                            tracing::info!(target_name = %self.config.name, error = %e, "re-reading the scaled object and deciding again");
                            match Box::pin(shared.cluster.read_deployment(target)).await {
                                Ok(v) => {
                                    self.memory.ahead(&view.resource_version, v.clone());
                                    view = Arc::new(v);
                                }
                                Err(e) => {
                                    error = Some(e.to_string());
                                    break TickOutcome::Failed(e.to_string());
                                }
                            }
                            self.notice_manual_scale(shared, &view).await;
                            cpu.resume();
                            if let Some(before) = &before {
                                self.state = before.clone();
                            }
                            obs.current = view.replicas;
                            obs.ready = view.ready;
                            decision = decide(&self.config, &mut self.state, &obs);
                        }
                        Err(e) => {
                            self.count_write(shared, e.label());
                            self.count_error(shared, "scale");
                            self.note_write_failure(&e);
                            tracing::warn!(target_name = %self.config.name, error = %e, "scale write failed");
                            error = Some(e.to_string());
                            break TickOutcome::Failed(e.to_string());
                        }
                    }
                }
            }
        };
        if matches!(outcome, TickOutcome::Held(_)) && self.memory.skip_writes > 0 && !check_failed {
            self.memory.skip_writes -= 1;
        }

        cpu.resume();
        self.account(shared, &obs, &decision, &outcome);
        // Publishing an Event only queues it: nothing below waits on the network.
        self.report(shared, &obs, &view, &decision, &outcome, &others, error)
            .await;
        shared.telemetry.tick_cpu.inc_by(cpu.finish());
        outcome
    }

    /// The Deployment's ready pods, for metrics scraped from every pod. Pods are found by
    /// the selector's `matchLabels`; `matchExpressions` are ignored (said once).
    async fn ready_pods(&mut self, shared: &Shared, view: &DeploymentView) -> PodEndpoints {
        let deployment = deployment_name(&self.config);
        if view.has_match_expressions && !self.memory.warned_match_expressions {
            self.memory.warned_match_expressions = true;
            tracing::warn!(target_name = %self.config.name, deployment = %deployment, "the scaled object's selector has set-based terms (matchExpressions); pods to scrape are found by its matchLabels only");
        }
        let listed = if view.match_labels.is_empty() {
            Err(Cow::Borrowed(
                "its selector has no matchLabels, and pods to scrape are found by matchLabels only; add matchLabels to the scaled object's selector or scrape a `url`",
            ))
        } else {
            shared
                .reads
                .ready_pods(&self.config.scale_target_ref.namespace, &view.match_labels)
                .await
                .map_err(|e| match e {
                    ClusterError::Rejected { code: 403, .. }
                    | ClusterError::WatchFailing {
                        code: Some(403), ..
                    } => {
                        format!(
                            "{e}; grant `list` and `watch` on pods (see deploy/base/clusterrole.yaml)"
                        )
                    }
                    e => e.to_string(),
                })
                .map_err(Cow::Owned)
        };
        PodEndpoints {
            deployment: deployment.into(),
            listed,
        }
    }

    fn count_write(&self, shared: &Shared, result: &str) {
        shared
            .telemetry
            .scale_writes
            .get_or_create(&ResultLabels {
                target: self.labels(),
                result: result.into(),
            })
            .inc();
    }

    /// A change of `spec.replicas` that prescale did not make: report it and hold writes
    /// for the cooldown rather than fight a person's decision.
    async fn notice_manual_scale(&mut self, shared: &Shared, view: &DeploymentView) {
        // Compared in place: a copy of the uid every tick is an allocation per target-tick.
        let same_object = self.memory.expected_uid == view.reference.uid;
        let Some(expected) = self.memory.expected_replicas.filter(|_| same_object) else {
            // First sight of this Deployment (or a re-created one): nothing to compare with,
            // and a cooldown for a deleted object does not carry over to its successor.
            self.memory.expected_replicas = Some(view.replicas);
            self.memory.expected_uid.clone_from(&view.reference.uid);
            self.memory.manual_until = None;
            return;
        };
        if view.replicas == expected {
            return;
        }
        self.memory.expected_replicas = Some(view.replicas);
        if view.replicas_owner.as_deref() == Some(FIELD_MANAGER) {
            // Another prescale instance (the leader, seen from a follower, or this
            // instance's predecessor) made the change: not a person's decision.
            return;
        }
        if let Some(manager) = view.replicas_owner.as_deref().filter(|m| is_gitops(m)) {
            let manager = manager.to_string();
            self.notice_gitops_reset(shared, view, expected, &manager)
                .await;
            return;
        }
        let cooldown = self.manual_cooldown();
        self.memory.manual_until = Some(Instant::now() + cooldown);
        shared
            .telemetry
            .manual_scale
            .get_or_create(&self.labels())
            .inc();
        tracing::warn!(
            target_name = %self.config.name,
            deployment = %deployment_name(&self.config),
            from = expected,
            to = view.replicas,
            cooldown_s = cooldown.as_secs(),
            "spec.replicas was changed by someone else; not writing until the cooldown ends"
        );
        if self.config.mode == Mode::Active && shared.leads(&self.config) {
            shared
                .events
                .publish(
                    &view.reference,
                    EventSpec {
                        warning: true,
                        reason: "ManualScale",
                        action: "HoldWrites",
                        note: format!(
                            "spec.replicas changed from {expected} to {} by someone other than prescale; prescale will not change it for {}s",
                            view.replicas,
                            cooldown.as_secs()
                        ),
                    },
                )
                .await;
        }
    }

    fn fail(&mut self, shared: &Shared, stage: &str, error: &str) -> TickOutcome {
        self.count_error(shared, stage);
        // The same failure every tick (a deleted Deployment) is logged once at warn; the
        // counter and the report still show every tick.
        if self.memory.last_failure.as_deref() != Some(error) {
            tracing::warn!(target_name = %self.config.name, deployment = %deployment_name(&self.config), stage, error, "tick failed");
            self.memory.last_failure = Some(error.to_string());
        } else {
            tracing::debug!(target_name = %self.config.name, stage, error, "tick failed again");
        }
        self.put_report(
            shared,
            TargetReport {
                target: self.labels.target.clone(),
                deployment: self.deployment.clone(),
                mode: self.config.mode,
                current_replicas: None,
                ready_replicas: None,
                recommended_replicas: None,
                reasons: Vec::new(),
                forecast_arrival_rate: None,
                forecast_arrival_rate_upper: None,
                forecast_model: None,
                startup_seconds: None,
                capacity_per_replica: None,
                action: "error".into(),
                updated_at: shared.now(),
                error: Some(error.to_string()),
                floor: None,
                ticks: 0,
            },
            &[],
        );
        TickOutcome::Failed(error.to_string())
    }

    /// Store this tick's report for `/recommendations`, with `reasons` (not
    /// `report.reasons`).
    pub(super) fn put_report(&mut self, shared: &Shared, report: TargetReport, reasons: &[Reason]) {
        self.report
            .get_or_insert_with(|| shared.reports.slot(&self.config.name))
            .put_with_reasons(report, reasons);
    }
}

/// A number that differs among target names (the phase of their measured ticks).
fn phase_seed(name: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

fn live_tracker(config: &TargetConfig) -> LiveTracker {
    LiveTracker::new(
        config.slo.queue_wait.as_secs_f64(),
        config.interval.as_secs_f64(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ScaleTargetRef;

    fn config(deployment: &str, min: u32) -> TargetConfig {
        TargetConfig {
            scale_target_ref: ScaleTargetRef::deployment("ns", deployment),
            min_replicas: min,
            ..TargetConfig::default()
        }
    }

    #[test]
    fn reconfiguring_the_same_deployment_keeps_what_was_learned_and_seen() {
        let mut task = TargetTask::new(config("web", 1));
        task.memory.expected_replicas = Some(4);
        task.memory.write_failures = 2;
        task.reconfigure(config("web", 3));
        assert_eq!(task.config.min_replicas, 3);
        assert_eq!(task.memory.expected_replicas, Some(4));
        assert_eq!(task.memory.write_failures, 2);
    }

    fn view(replicas: u32, rv: &str) -> DeploymentView {
        DeploymentView {
            replicas,
            ready: replicas,
            status_replicas: replicas,
            generation: 1,
            observed_generation: 1,
            resource_version: rv.into(),
            paused: false,
            replicas_owner: Some("kubectl".into()),
            reference: Default::default(),
            match_labels: Default::default(),
            has_match_expressions: false,
            from_scale: false,
        }
    }

    #[test]
    fn a_cache_behind_prescale_never_goes_back_in_time() {
        let mut memory = Memory::default();
        // Read 1 replica at version 10 from the cache; the write lost with 409; a GET said
        // 2 replicas at version 11; the second write made it 3 at version 12.
        memory.ahead("10", view(2, "11"));
        let mut written = view(3, "12");
        written.replicas_owner = Some(FIELD_MANAGER.into());
        memory.ahead("11", written.clone());
        let ahead = memory.ahead_of_cache.clone().expect("ahead");
        for stale in ["10", "11"] {
            let mut cached = Arc::new(view(1, stale));
            assert!(ahead.correct(&mut cached));
            assert_eq!(
                *cached, written,
                "the cache at {stale} is read as the write"
            );
        }
        // The cache caught up (the write itself, or anything after it): read as it is.
        for caught_up in ["12", "13"] {
            let mut cached = Arc::new(view(3, caught_up));
            assert!(!ahead.correct(&mut cached));
            assert_eq!(cached.resource_version, caught_up);
        }
    }

    #[test]
    fn pointing_a_target_at_another_deployment_starts_afresh() {
        let mut task = TargetTask::new(config("web", 1));
        task.memory.expected_replicas = Some(4);
        task.reconfigure(config("api", 1));
        assert_eq!(task.memory.expected_replicas, None);
        assert_eq!(task.config.scale_target_ref.name, "api");
    }
}
