//! The decision function.

use super::signals::{Inputs, proposals};
use super::state::PreviousTick;
use super::{Decision, Observation, Reason, TargetState};
use crate::config::{FallbackBehavior, TargetConfig};

/// Decide the desired replicas for one target at `obs.t`.
///
/// Pure: the same config, state and observation always give the same decision and the
/// same next state. The order is: learn from the observation (capacity, start-up time,
/// arrival history), let every signal propose, take the highest proposal, never scale down
/// on missing metrics, replace the proposal by the fallback on the `failureThreshold`-th
/// consecutive failed tick, then apply the behaviour rules (stabilisation, cooldown, rate
/// limits) and the bounds.
///
/// ```
/// use prescale::config::TargetConfig;
/// use prescale::core::{Observation, Reason, Signal, TargetState, decide};
///
/// let config = TargetConfig::default(); // 1 document/s per replica, bounds 1..=50
/// let mut state = TargetState::new(&config);
/// // 12 documents/s arriving, 60 waiting, 4 replicas all ready.
/// let obs = Observation {
///     t: 0.0,
///     queue_depth: Some(60.0),
///     arrival_rate: Some(12.0),
///     completion_rate: Some(4.0),
///     wait_s: Some(15.0),
///     ready: 4,
///     current: 4,
/// };
/// let decision = decide(&config, &mut state, &obs);
/// // The backlog drain wins (12/s plus 60 documents within half the 60 s SLO = 14
/// // replicas), and the default scale-up limit (max(2 × 4, 4 + 4) per 15 s) caps it at 8.
/// assert!(decision.reasons.contains(&Reason::Winner { signal: Signal::BacklogDrain }));
/// assert_eq!(decision.replicas, 8);
/// ```
pub fn decide(config: &TargetConfig, state: &mut TargetState, obs: &Observation) -> Decision {
    let interval = config.interval.as_secs_f64();
    let mut reasons = Vec::new();
    learn(config, state, obs, interval);

    let missing = missing_metrics(config, obs);
    if missing.is_empty() {
        state.failures = 0;
    } else {
        state.failures = state.failures.saturating_add(1);
        for metric in &missing {
            reasons.push(Reason::MetricsMissing {
                metric,
                failures: state.failures,
            });
        }
    }

    let lead = state.startup_s(config);
    let prediction = if config.forecast.enabled {
        state.forecaster.predict(obs.t, obs.t + lead + interval)
    } else {
        None
    };
    let inputs = Inputs {
        per_replica: state.capacity.per_replica(),
        arrival_rate: obs.arrival_rate.map(|_| recent_peak(state)),
        queue_depth: obs.queue_depth,
        wait_s: obs.wait_s,
        slo_s: config.slo.queue_wait.as_secs_f64(),
        target_utilization: config.forecast.target_utilization,
        prediction,
    };
    let mut raw: Option<(super::Signal, u32)> = None;
    for (signal, replicas) in proposals(&inputs) {
        reasons.push(Reason::Proposal { signal, replicas });
        if raw.is_none_or(|(_, r)| replicas > r) {
            raw = Some((signal, replicas));
        }
    }
    if let Some((signal, _)) = raw {
        reasons.push(Reason::Winner { signal });
    }
    let mut recommendation = raw.map_or(obs.current, |(_, r)| r);
    if !missing.is_empty() {
        // HPA's rule: a missing metric never causes a scale-down.
        recommendation = recommendation.max(obs.current);
    }

    if state.failures >= config.fallback.failure_threshold {
        // As in KEDA, the fallback replaces the recommendation and still goes through the
        // behaviour rules, so a static fallback cannot drop a workload faster than allowed.
        recommendation = fallback_replicas(config, obs.current);
        reasons.push(Reason::Fallback {
            replicas: recommendation,
        });
    }
    let replicas = state
        .behavior
        .apply(config, obs.t, obs.current, recommendation, &mut reasons);
    state.previous = Some(PreviousTick {
        t: obs.t,
        current: obs.current,
        decided: replicas,
    });
    Decision {
        replicas,
        reasons,
        forecast_rate: prediction.map(|p| p.rate),
        forecast_upper: prediction.map(|p| p.upper),
        capacity_per_replica: state.capacity.per_replica(),
        startup_s: lead,
    }
}

/// Update what the state learns from each observation.
fn learn(config: &TargetConfig, state: &mut TargetState, obs: &Observation, interval: f64) {
    if let Some(previous) = state.previous {
        // Our own change happened when we decided it; anyone else's, some time before now.
        let ours = obs.current == previous.decided;
        let changed_at = if ours { previous.t } else { obs.t };
        if obs.current != previous.current {
            state
                .behavior
                .record_change(changed_at, previous.current, obs.current, ours);
        }
        state.startup.observe(
            obs.t,
            changed_at,
            previous.current,
            obs.current,
            obs.ready,
            interval,
        );
    }
    state
        .capacity
        .observe(obs.queue_depth, obs.completion_rate, obs.ready);
    state
        .forecaster
        .set_error_quantile(config.forecast.error_quantile);
    if let Some(rate) = obs.arrival_rate {
        state.forecaster.observe(obs.t, interval, rate);
        // Capacity released now takes a whole lead time to come back, so the reactive
        // signal covers the highest rate of the last lead time and interval.
        let window = state.startup_s(config) + interval;
        state.recent_rates.push_back((obs.t, rate));
        while state
            .recent_rates
            .front()
            .is_some_and(|&(at, _)| at <= obs.t - window)
        {
            state.recent_rates.pop_front();
        }
    }
}

/// The highest arrival rate of the recent window.
fn recent_peak(state: &TargetState) -> f64 {
    state.recent_rates.iter().fold(0.0, |m, &(_, r)| m.max(r))
}

/// The demand metrics that are expected but missing. A target's configured demand metrics
/// are expected; with none configured (the bench, tests) both are.
fn missing_metrics(config: &TargetConfig, obs: &Observation) -> Vec<&'static str> {
    let m = &config.metrics;
    let none_configured = m.queue_depth.is_none() && m.arrival_rate.is_none();
    let mut missing = Vec::new();
    if (none_configured || m.queue_depth.is_some()) && obs.queue_depth.is_none() {
        missing.push("queueDepth");
    }
    if (none_configured || m.arrival_rate.is_some()) && obs.arrival_rate.is_none() {
        missing.push("arrivalRate");
    }
    missing
}

/// KEDA's fallback behaviours, within the bounds.
fn fallback_replicas(config: &TargetConfig, current: u32) -> u32 {
    let f = &config.fallback;
    let replicas = match f.behavior {
        FallbackBehavior::Static => f.replicas,
        FallbackBehavior::CurrentReplicas => current,
        FallbackBehavior::CurrentReplicasIfHigher => current.max(f.replicas),
        FallbackBehavior::CurrentReplicasIfLower => current.min(f.replicas),
    };
    replicas.clamp(config.min_replicas, config.max_replicas)
}
