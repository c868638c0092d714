//! One task per target; targets are added, changed and removed when a config is applied.
//!
//! Each target runs on its own task with its own ticker, so a slow or failing target never
//! stalls another. A changed target keeps running and receives its new config; its learned
//! state is kept unless it now scales a different Deployment.

use super::Shared;
use super::tick::{TargetTask, TickOutcome};
use crate::actuator::Followed;
use crate::config::{Config, TargetConfig};
use crate::telemetry::StageLabels;
use futures::FutureExt;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval_at};

struct Running {
    /// Shared with the task (one copy of the target's settings, not one per holder).
    /// Dropping it stops the task, after its tick in flight: one channel for both, since a
    /// second one (a stop flag) took 350 bytes per target.
    config: watch::Sender<Arc<TargetConfig>>,
    handle: JoinHandle<()>,
}

/// What applying a config changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Targets started.
    pub added: Vec<String>,
    /// Targets stopped.
    pub removed: Vec<String>,
    /// Targets whose settings changed.
    pub changed: Vec<String>,
}

/// Owns the targets' tasks.
pub struct Supervisor {
    shared: Arc<Shared>,
    running: BTreeMap<String, Running>,
}

impl Supervisor {
    /// No targets yet: call [`Supervisor::apply`].
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            running: BTreeMap::new(),
        }
    }

    /// Make the running targets match `config`: start new ones, stop removed ones (each
    /// finishes its tick in flight), and hand changed settings to the running task.
    pub async fn apply(&mut self, config: &Config) -> Applied {
        let mut applied = Applied::default();
        // Caches follow the namespaces of the new config before its targets tick; those of
        // removed targets are dropped after the targets stop (below).
        let followed = Followed::of(config);
        let mut both = followed.clone();
        for r in self.running.values() {
            let c = r.config.borrow();
            both.deployments
                .insert(c.scale_target_ref.namespace.clone());
            if crate::metrics::scrapes_pods(&c) {
                both.pods.insert(c.scale_target_ref.namespace.clone());
            }
        }
        self.shared.reads.follow(&both);
        let wanted: BTreeMap<&str, &TargetConfig> = config
            .targets
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();

        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|n| !wanted.contains_key(n.as_str()))
            .cloned()
            .collect();
        for name in gone {
            if let Some(r) = self.running.remove(&name) {
                stop(r).await;
            }
            self.shared.source().forget(&name);
            self.shared.telemetry.place_target(&name, None);
            self.shared.reports.remove(&name);
            self.shared.live_reports.remove(&name);
            self.shared.health.target_removed(&name);
            applied.removed.push(name);
        }

        self.shared.reads.follow(&followed);

        for (name, target) in wanted {
            match self.running.get(name) {
                Some(r) if **r.config.borrow() == *target => {}
                Some(r) => {
                    // The task picks the new config up before its next tick.
                    self.place(target);
                    r.config.send_replace(Arc::new(target.clone()));
                    applied.changed.push(name.to_string());
                }
                None => {
                    self.start(target.clone());
                    applied.added.push(name.to_string());
                }
            }
        }
        applied
    }

    /// Whether the running targets are exactly those of `config`, with the same settings
    /// (applying it would change nothing).
    pub fn runs(&self, config: &Config) -> bool {
        self.running.len() == config.targets.len()
            && config.targets.iter().all(|t| {
                self.running
                    .get(&t.name)
                    .is_some_and(|r| **r.config.borrow() == *t)
            })
    }

    /// Record the target's shard, whose holder exports its series.
    fn place(&self, target: &TargetConfig) {
        let shard = self.shared.leaders.shard_of(&target.scale_target_ref);
        self.shared
            .telemetry
            .place_target(&target.name, Some(shard));
    }

    fn start(&mut self, config: TargetConfig) {
        self.place(&config);
        let name = config.name.clone();
        self.shared.health.target_started(&name, config.interval);
        let config = Arc::new(config);
        let (config_tx, config_rx) = watch::channel(config.clone());
        let shared = self.shared.clone();
        // Boxed: an async fn keeps its arguments in its future besides the locals they
        // move into, so a task passed by value would sit in every target's future twice.
        let handle = tokio::spawn(run_target(
            Box::new(TargetTask::new(config)),
            shared,
            config_rx,
        ));
        self.running.insert(
            name,
            Running {
                config: config_tx,
                handle,
            },
        );
    }

    /// Stop every target, each after its tick in flight.
    pub async fn shutdown(&mut self) {
        // Every sender dropped first, so that the targets stop together.
        let handles: Vec<(String, JoinHandle<()>)> = std::mem::take(&mut self.running)
            .into_iter()
            .map(|(name, r)| (name, r.handle))
            .collect();
        for (name, handle) in handles {
            if let Err(e) = handle.await {
                tracing::error!(target_name = %name, error = %e, "target task ended abnormally");
            }
        }
    }
}

async fn stop(r: Running) {
    let Running { config, handle } = r;
    drop(config);
    if let Err(e) = handle.await {
        tracing::error!(error = %e, "target task ended abnormally");
    }
}

/// Places in the interval when ticks are spread evenly (a zero slot).
const SPREAD_PHASES: u128 = 10_000;

/// Where in the interval a target's ticks fall after the first: one of the interval's
/// `slot`-wide slots (`--tick-slot`), chosen from a hash of the target's name (FNV-1a), so
/// thousands of targets spread their API calls and queries over the interval instead of all
/// firing at once, and a target keeps its place across restarts. The targets of a slot tick
/// together, one after another on the same threads: a tick run alone between other work
/// finds the decision core's code and tables evicted from the CPU caches, and `decide` took
/// about 8 times as long in the running controller as in `cargo bench --bench decide` (its
/// `--cold N --evict KB` shows the eviction alone). A zero slot spreads the ticks evenly.
fn phase(
    name: &str,
    period: std::time::Duration,
    slot: std::time::Duration,
) -> std::time::Duration {
    let hash = crate::leader::fnv1a(name.bytes());
    let slots = if slot.is_zero() {
        SPREAD_PHASES
    } else {
        (period.as_nanos() / slot.as_nanos()).clamp(1, SPREAD_PHASES)
    };
    let slot = u128::from(hash) % slots;
    std::time::Duration::from_nanos(u64::try_from(period.as_nanos() * slot / slots).unwrap_or(0))
}

/// How long from `now_s` (the controller's clock, Unix seconds) until the interval's `phase`
/// comes round: phases count from the clock's multiples of the period, so every target of a
/// slot ticks at the same instants, whenever each started.
fn until_phase(
    now_s: f64,
    phase: std::time::Duration,
    period: std::time::Duration,
) -> std::time::Duration {
    let period_s = period.as_secs_f64();
    if !(now_s.is_finite() && period_s > 0.0) {
        return phase;
    }
    let wait = (phase.as_secs_f64() - now_s.rem_euclid(period_s)).rem_euclid(period_s);
    std::time::Duration::try_from_secs_f64(wait).unwrap_or(phase)
}

/// Longest wait for a target's namespace to be listed before its first tick.
const SYNC_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Completes once the supervisor has dropped the target's config sender: the target is
/// stopped. Changes before that are passed over (`rx` is the task's spare copy).
async fn stopped(rx: &mut watch::Receiver<Arc<TargetConfig>>) {
    while rx.changed().await.is_ok() {}
}

fn ticker(period: std::time::Duration) -> tokio::time::Interval {
    // interval_at keeps ticks on a fixed schedule (no drift from the tick's own duration);
    // Skip drops the ticks a slow tick overran instead of firing them back to back.
    let mut t = interval_at(Instant::now(), period);
    t.set_missed_tick_behavior(MissedTickBehavior::Skip);
    t
}

async fn run_target(
    mut task: Box<TargetTask>,
    shared: Arc<Shared>,
    mut config: watch::Receiver<Arc<TargetConfig>>,
) {
    // A copy of the receiver watches for the sender's drop (the stop), so that waiting
    // for it never marks a new config seen before the loop below reads it.
    let mut closing = config.clone();
    let name = task.config.name.clone();
    tracing::debug!(target_name = %name, "target started");
    let scale_target = task.config.scale_target_ref.clone();
    let ready = async {
        // The first tick reads the Deployment from the cache: wait for its namespace's list
        // (bounded: a cache that cannot sync makes each tick fail with the reason instead).
        let _ = tokio::time::timeout(SYNC_DEADLINE, shared.reads.wait_synced(&scale_target)).await;
        Box::pin(task.warm_up(&shared)).await;
    };
    tokio::select! {
        biased;
        () = stopped(&mut closing) => {
            tracing::info!(target_name = %name, "target stopped before its first tick");
            return;
        }
        () = ready => {}
    }
    let mut interval = ticker(task.config.interval);
    // The first tick comes at once (readiness waits for it); the next ones are moved to the
    // target's phase of the interval.
    let mut unphased = true;
    loop {
        tokio::select! {
            biased;
            () = stopped(&mut closing) => break,
            changed = config.changed() => {
                if changed.is_err() {
                    break;
                }
                let new = config.borrow_and_update().clone();
                if new.metrics != task.config.metrics {
                    // Remembered counters and logged states belong to the old queries.
                    shared.source().forget(&name);
                }
                if new.scale_target_ref != task.config.scale_target_ref {
                    // Its series are labelled with the old Deployment: drop them.
                    task.forget_series(&shared);
                }
                if task.reconfigure(new) {
                    Box::pin(task.warm_up(&shared)).await;
                }
                interval = ticker(task.config.interval);
                unphased = true;
                tracing::info!(target_name = %name, "target config changed");
            }
            scheduled = interval.tick() => {
                let started = Instant::now();
                shared
                    .telemetry
                    .tick_lag
                    .observe(started.saturating_duration_since(scheduled).as_secs_f64());
                if std::mem::take(&mut unphased) {
                    let wait = until_phase(shared.now(), phase(&name, task.config.interval, shared.tick_slot), task.config.interval);
                    if !wait.is_zero() {
                        interval.reset_at(started + wait);
                    }
                }
                // A panic in one tick (a bug) must not end the target or take others down:
                // it is logged and counted, the learned state is started afresh (it may be
                // half-updated), and the next tick runs as usual.
                // Boxed: a tick's future (its reads, write and reports) is large, and held
                // inline it would sit in every idle target's task between ticks.
                let ticked = AssertUnwindSafe(Box::pin(task.tick(&shared))).catch_unwind().await;
                let outcome = match ticked {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        tracing::error!(target_name = %name, "tick panicked; restarting the target's learned state");
                        shared
                            .telemetry
                            .tick_errors
                            .get_or_create(&StageLabels { target: task.labels(), stage: "panic".into() })
                            .inc();
                        task.reset_state();
                        TickOutcome::Failed("tick panicked".into())
                    }
                };
                let took = started.elapsed();
                let labels = task.labels();
                task.series
                    .always(&shared.telemetry, &labels)
                    .tick_duration
                    .observe(took.as_secs_f64());
                if took > task.config.interval {
                    tracing::warn!(target_name = %name, took_s = took.as_secs_f64(), interval_s = task.config.interval.as_secs_f64(), "tick took longer than the interval; skipping missed ticks");
                }
                tracing::debug!(target_name = %name, ?outcome, "tick done");
                shared.health.target_ticked(&name, task.config.interval);
                // A task without a slot has not reported yet: nothing to count.
                if let Some(slot) = &task.report {
                    slot.tick_finished();
                }
            }
        }
    }
    task.forget_series(&shared);
    tracing::debug!(target_name = %name, "target stopped");
}

#[cfg(test)]
mod tests {
    use super::{phase, stopped, until_phase};
    use crate::config::TargetConfig;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::watch;

    /// The stop is the config sender's drop, watched on a copy of the receiver: a config
    /// sent just before it (while the task was warming up, say) is still there for the
    /// task's own receiver, and the stop is seen without it.
    #[tokio::test]
    async fn the_stop_is_seen_without_taking_a_config_change_from_the_task() {
        let first = Arc::new(TargetConfig::default());
        let (tx, mut rx) = watch::channel(first);
        let mut closing = rx.clone();
        let changed = Arc::new(TargetConfig {
            name: "changed".into(),
            ..TargetConfig::default()
        });
        tx.send_replace(changed);
        // Sent, not dropped: polled once, the stop takes the change and waits on.
        assert!(
            futures::FutureExt::now_or_never(stopped(&mut closing)).is_none(),
            "a config change is not a stop"
        );
        drop(tx);
        stopped(&mut closing).await;
        assert!(rx.changed().await.is_ok(), "the task still sees the change");
        assert_eq!(rx.borrow_and_update().name, "changed");
        assert!(rx.changed().await.is_err(), "then the stop");
    }

    #[test]
    fn targets_of_a_slot_tick_together_whenever_each_started() {
        let period = Duration::from_secs(15);
        let slot = Duration::from_secs(1);
        let phases: std::collections::BTreeSet<Duration> = (0..1000)
            .map(|i| phase(&format!("target-{i}"), period, slot))
            .collect();
        // Gathered in the interval's 15 slots, every slot used; spread evenly without slots.
        assert_eq!(phases.len(), 15);
        let spread: std::collections::BTreeSet<Duration> = (0..1000)
            .map(|i| phase(&format!("target-{i}"), period, Duration::ZERO))
            .collect();
        assert!(spread.len() > 900, "{}", spread.len());
        // Two targets of one slot started at different times tick at the same clock times.
        let p = phase("target-7", period, slot);
        let first_ticks: Vec<f64> = [1_700_000_003.25, 1_700_000_011.5, 1_700_000_014.99]
            .iter()
            .map(|&now| {
                let wait = until_phase(now, p, period);
                assert!(wait < period);
                (now + wait.as_secs_f64()).rem_euclid(15.0)
            })
            .collect();
        for at in first_ticks {
            assert!((at - p.as_secs_f64()).abs() < 1e-3, "{at} vs {p:?}");
        }
        // A clock that cannot be read gives the phase itself.
        assert_eq!(until_phase(f64::NAN, p, period), p);
    }

    #[test]
    fn targets_spread_over_the_interval_and_keep_their_place() {
        let period = Duration::from_secs(15);
        let phases: Vec<Duration> = (0..1000)
            .map(|i| phase(&format!("target-{i}"), period, Duration::from_secs(1)))
            .collect();
        assert!(phases.iter().all(|p| *p < period));
        assert_eq!(
            phase("target-7", period, Duration::from_secs(1)),
            phases[7],
            "the same name, the same place"
        );
        // Every second of the interval gets some targets, none gets a crowd.
        let mut per_second = [0u32; 15];
        for p in &phases {
            per_second[p.as_secs() as usize] += 1;
        }
        assert!(
            per_second.iter().all(|&n| (30..=110).contains(&n)),
            "{per_second:?}"
        );
    }
}
