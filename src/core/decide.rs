//! The decision function.

use super::activation::{Expected, Inputs, activate};
use super::plan::{Start, backlog_at_lead, fewest_pods, replicas_for, stretch_pods};
use super::schedule::{Bounds, bounds_at};
use super::state::PreviousTick;
use super::{Decision, Limit, Observation, Reason, Signal, TargetState};
use crate::config::{FallbackBehavior, MetricSource, ScrapeFrom, TargetConfig};
use crate::forecast::{Prediction, Season, central};

/// Decide the desired replicas for one target at `obs.t`.
///
/// Pure: the same config, state and observation always give the same decision and the
/// same next state. The order is: learn from the observation (capacity, start-up time,
/// arrival history and the forecast's record), plan (the fewest pods that keep waits within
/// target over the lead window, given the backlog and the pods already starting), keep
/// replicas calm (a scale-up asks for what lasts; a release waits until the pods are not
/// needed for the hold window), never scale down on missing metrics, replace the plan by the
/// fallback on the `failureThreshold`-th consecutive failed tick, then apply the behaviour
/// rules (stabilisation, cooldown, rate limits) and the bounds: the target's, narrowed by the
/// scheduled windows in force at `obs.t` (a window's floor binds the planner too, so a
/// release never undoes it).
///
/// ```
/// use prescale::config::TargetConfig;
/// use prescale::core::{Observation, Reason, Signal, TargetState, decide};
///
/// let config = TargetConfig::default(); // 1 document/s per replica, 90 s start-up, 60 s SLO
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
/// // New pods are ready in 90 s, when the queue will hold about 780 documents: draining them
/// // in time needs more than the 12 replicas the arrivals alone need; the default scale-up
/// // limit (max(2 × 4, 4 + 4) per 15 s) caps this tick at 8.
/// assert!(decision.reasons.contains(&Reason::Winner { signal: Signal::BacklogDrain }));
/// assert_eq!(decision.replicas, 8);
/// ```
pub fn decide(config: &TargetConfig, state: &mut TargetState, obs: &Observation) -> Decision {
    let interval = config.interval.as_secs_f64();
    let mut reasons = Vec::new();
    let arrival_rate = arrival_rate(config, state, obs, interval);
    learn(config, state, obs, arrival_rate, interval);

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
    // Scheduled windows narrow the bounds for the planner (a floor holds its release too),
    // the fallback and the behaviour rules alike.
    let bounds = bounds_at(config, obs.t, lead, &mut reasons);
    let plan = plan(config, state, obs, arrival_rate, lead, bounds);
    if let Some(p) = plan.prediction {
        reasons.push(Reason::Forecast {
            model: p.season,
            rate: p.rate,
            upper: p.upper,
        });
    }
    reasons.push(Reason::Plan {
        need: plan.need,
        step: plan.step,
        keep: plan.keep,
    });
    reasons.push(Reason::Winner {
        signal: plan.signal,
    });
    let mut recommendation = plan.replicas;
    if plan.step.is_none() && recommendation > plan.keep.unwrap_or(plan.need) {
        reasons.push(Reason::Limited {
            limit: Limit::Hold,
            from: plan.keep.unwrap_or(plan.need),
            to: recommendation,
        });
    }
    if !missing.is_empty() {
        // HPA's rule: a missing metric never causes a scale-down.
        recommendation = recommendation.max(obs.current);
    }

    // Scale to zero and back (KEDA's activation), where the bounds allow zero replicas.
    let inputs = Inputs {
        arrival_rate,
        lead: plan.lead,
        hold: plan.hold,
        missing: !missing.is_empty(),
    };
    recommendation = activate(
        config,
        obs,
        bounds.min,
        &inputs,
        recommendation,
        &mut reasons,
    );

    if state.failures >= config.fallback.failure_threshold {
        // As in KEDA, the fallback replaces the recommendation and still goes through the
        // behaviour rules, so a static fallback cannot drop a workload faster than allowed.
        recommendation = fallback_replicas(config, obs.current, bounds);
        reasons.push(Reason::Fallback {
            replicas: recommendation,
        });
    }
    let replicas = state.behavior.apply(
        config,
        bounds,
        obs.t,
        obs.current,
        recommendation,
        &mut reasons,
    );
    state.starting.record(obs.t, obs.current, replicas, lead);
    state.previous = Some(PreviousTick {
        t: obs.t,
        current: obs.current,
        decided: replicas,
    });
    Decision {
        replicas,
        reasons,
        forecast_rate: plan.prediction.map(|p| p.rate),
        forecast_upper: plan.prediction.map(|p| p.upper),
        forecast_model: plan.prediction.map(|p| p.season),
        capacity_per_replica: state.capacity.per_replica(),
        startup_s: lead,
    }
}

/// The arrival rate of the last interval: observed, or where no arrival metric is
/// configured but the queue is, what entered the queue: its change plus what left it.
/// What left is the completion metric where there is one. Without one, a document or more
/// still waiting per ready replica means they were busy all interval (they served their
/// capacity); a shorter queue says only that the documents waiting before left: a lower
/// bound, as arrivals that idle replicas absorbed leave no trace in the queue.
fn arrival_rate(
    config: &TargetConfig,
    state: &TargetState,
    obs: &Observation,
    interval: f64,
) -> Option<f64> {
    if obs.arrival_rate.is_some() {
        return obs.arrival_rate;
    }
    let m = &config.metrics;
    if m.arrival_rate.is_some() || m.queue_depth.is_none() {
        return None;
    }
    let (now, before) = (obs.queue_depth?, state.previous_queue?);
    let left = match obs.completion_rate {
        Some(done) => done,
        None if m.completions.is_some() => return None,
        // A document or more waiting for every ready replica: they were all busy.
        None if obs.ready > 0 && now >= f64::from(obs.ready) => {
            f64::from(obs.ready) * state.capacity.per_replica()
        }
        // Otherwise what was waiting left, and what waits now arrived: a lower bound.
        None => before / interval,
    };
    Some(((now - before) / interval + left).max(0.0))
}

/// Update what the state learns from each observation.
fn learn(
    config: &TargetConfig,
    state: &mut TargetState,
    obs: &Observation,
    arrival_rate: Option<f64>,
    interval: f64,
) {
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
        .starting
        .reconcile(obs.current.saturating_sub(obs.ready));
    state.previous_queue = obs.queue_depth;
    state
        .forecaster
        .set_margin_rule(super::state::margin_rule(config));
    if let Some(rate) = arrival_rate {
        let window = state.startup_s(config) + interval;
        let slack = config.plan.wait_target * config.slo.queue_wait.as_secs_f64();
        state
            .forecaster
            .observe(obs.t, interval, rate, window, slack);
    }
}

/// The planner's result.
struct Plan {
    /// What to ask for, before the missing-metric, fallback and behaviour rules.
    replicas: u32,
    need: u32,
    step: Option<u32>,
    keep: Option<u32>,
    signal: Signal,
    prediction: Option<Prediction>,
    /// What the forecast expects over the lead window and over the hold window.
    lead: Expected,
    hold: Expected,
}

/// Longest hold and step the planner looks at, seconds (the forecaster caches two hours).
const MAX_HOLD_S: f64 = 7200.0;
/// Shortest hold by default: below it, releasing and asking again within minutes is churn.
const MIN_HOLD_S: f64 = 600.0;
/// Documents the plan may leave late beyond what the most pods would, per document
/// arriving in the horizon: tiny, so the plan stops only where more pods stop helping.
const LATE_TOLERANCE: f64 = 1e-4;
/// A backlog is drained by at most this multiple of the replicas the arrivals need.
const DRAIN_CAP: u32 = 3;
/// Seconds of the SLO kept free, per second of start-up, for arrivals above the forecast's
/// band: what the band misses piles up for as long as new pods take to come, so the upper
/// forecast is served within the SLO less this reserve (never less than one interval: a
/// miss waits at least until the next tick sees it), and the central forecast within
/// `plan.waitTarget` of it. Short start-ups leave most of the SLO to the band; long ones
/// fall back to the central forecast's wait target alone.
const MISS_RESERVE: f64 = 0.12;
/// Lead windows the hold rule measures the upper forecast's peaks over: a longer stretch of
/// it is a level, which the central forecast holds.
const PEAK_WINDOWS: usize = 2;

fn plan(
    config: &TargetConfig,
    state: &mut TargetState,
    obs: &Observation,
    arrival_rate: Option<f64>,
    lead: f64,
    bounds: Bounds,
) -> Plan {
    let interval = config.interval.as_secs_f64();
    let window = lead + interval;
    let step_ahead = config
        .plan
        .step_ahead
        .map_or(lead, |d| d.as_secs_f64())
        .min(MAX_HOLD_S);
    let hold = config
        .plan
        .hold_for
        .map_or((2.0 * lead).max(MIN_HOLD_S), |d| d.as_secs_f64())
        .min(MAX_HOLD_S)
        .max(step_ahead);
    let ticks = |seconds: f64| ((seconds / interval).ceil() as usize).max(1);
    let (need_ticks, step_ticks, hold_ticks) = (
        ticks(window),
        ticks(window + step_ahead),
        ticks(window + hold),
    );
    let lead_ticks = need_ticks;
    // The path reaches the hold window; a backlog to drain extends it (up to two hours more)
    // below, so the common tick forecasts no further than it plans.
    let longest_path = hold_ticks + ticks(MAX_HOLD_S);

    let mut scratch = super::scratch::take();
    let mut path = std::mem::take(&mut scratch.path);
    let prediction = fill_path(config, state, obs, interval, hold_ticks, window, &mut path);
    let margin = prediction.map_or(0.0, |p| p.margin);
    let mut starting = std::mem::take(&mut scratch.ready_times);
    let pods_starting = obs.current.saturating_sub(obs.ready);
    state
        .starting
        .ready_times(obs.t, interval, pods_starting, lead, &mut starting);
    let per_replica = state.capacity.per_replica() * config.forecast.target_utilization;
    // Two levels: the forecast itself within the wait target, and its upper band within what
    // the SLO leaves beyond the reserve for misses.
    let slo = config.slo.queue_wait.as_secs_f64();
    let central_wait = config.plan.wait_target * slo;
    let reserve = (MISS_RESERVE * lead).max(interval);
    let upper_wait = (slo - reserve).min(slo).max(central_wait);
    let (lo, hi) = (bounds.min, bounds.max.max(bounds.min));
    let current = obs.current.clamp(lo, hi);
    // The most the plan may ask for: `DRAIN_CAP` times what the arrivals need (new pods come
    // a lead time later, and more would only overshoot), or what is there now.
    let lead_rate = path[..need_ticks.min(path.len())]
        .iter()
        .fold(0.0_f64, |m, &r| m.max(r));
    let serve = replicas_for(lead_rate, per_replica);
    let hi = DRAIN_CAP
        .saturating_mul(serve.max(1))
        .max(current)
        .clamp(lo, hi);
    // Where a backlog will be there when new pods are, count the documents until the most
    // pods would have drained it: otherwise every choice looks equally late, and the fewest
    // pods would win while the queue grows.
    let backlog = backlog_at_lead(&start_at(
        obs,
        interval,
        lead,
        per_replica,
        &starting,
        &path,
    ));
    let surplus = f64::from(hi) * per_replica - lead_rate;
    let drain_ticks = if backlog > 0.0 && surplus > 0.0 {
        ticks((backlog / surplus).min(MAX_HOLD_S))
    } else {
        0
    };
    let need_ticks = (need_ticks + drain_ticks).min(longest_path);
    if need_ticks > path.len() {
        // The same forecast from `t`, further out: the first ticks are unchanged.
        fill_path(config, state, obs, interval, need_ticks, window, &mut path);
    }
    let start = start_at(obs, interval, lead, per_replica, &starting, &path);
    let need_ticks = need_ticks.min(path.len());
    let tolerance =
        |n: usize| LATE_TOLERANCE * path[..n.min(path.len())].iter().sum::<f64>() * interval;
    let mut central_path = std::mem::take(&mut scratch.central);
    central_from_upper(&path, margin, &mut central_path);
    // (The path's first ticks are the same however far it was filled.)
    let expected = |n: usize| {
        let n = n.min(path.len());
        Expected::from_paths(&path[..n], &central_path[..n], interval)
    };
    let (lead_expected, hold_expected) = (expected(lead_ticks), expected(hold_ticks));
    let upper_need = fewest_pods(
        &start,
        lo,
        hi,
        serve,
        need_ticks,
        upper_wait,
        tolerance(need_ticks),
    );
    // The central level searched from the upper band's answer up: where that serves the
    // central forecast too (nearly every tick), one queue run says so.
    let need = fewest_pods(
        &start_at(obs, interval, lead, per_replica, &starting, &central_path),
        upper_need,
        hi,
        upper_need,
        need_ticks,
        central_wait,
        tolerance(need_ticks),
    );
    let (replicas, step, keep) = if need > current {
        let step_ticks = step_ticks.max(need_ticks);
        let step = fewest_pods(
            &start,
            need,
            hi,
            need,
            step_ticks,
            upper_wait,
            tolerance(step_ticks),
        );
        // A step up that lasts: the HPA's tolerance above what the plan needs, so the next
        // small rise does not cost another pod start.
        let step = step
            .max((f64::from(need) * (1.0 + config.plan.release_tolerance)).ceil() as u32)
            .min(hi.max(need));
        (step, Some(step), None)
    } else {
        // Spare pods go only when the hold window does not need them (its upper peaks, its
        // central level, and what arrives now), and only enough of them at once to be worth
        // the pod starts they may cost later.
        let hold_ticks = hold_ticks.max(need_ticks);
        let peaks = stretch_pods(
            &path,
            hold_ticks,
            PEAK_WINDOWS * ticks(window),
            interval,
            per_replica,
            upper_wait,
        );
        let level = central_path[..hold_ticks.min(central_path.len())]
            .iter()
            .fold(0.0_f64, |m, &r| m.max(r));
        let keep = peaks
            .max(replicas_for(level, per_replica))
            .max(replicas_for(arrival_rate.unwrap_or(0.0), per_replica))
            .clamp(need, current);
        let spare = current - keep;
        let worth = (config.plan.release_tolerance * f64::from(current))
            .ceil()
            .max(1.0) as u32;
        let replicas = if spare >= worth { keep } else { current };
        (replicas, None, (keep > need).then_some(keep))
    };
    let signal = if need > serve && obs.queue_depth.is_some_and(|q| q > 0.0) {
        Signal::BacklogDrain
    } else if prediction.is_some_and(|p| {
        p.season != Season::None && p.rate > state.forecaster.recent_peak().unwrap_or(0.0)
    }) {
        Signal::Forecast
    } else {
        Signal::Reactive
    };
    super::scratch::give_back(super::scratch::Scratch {
        path,
        central: central_path,
        ready_times: starting,
    });
    Plan {
        replicas,
        need,
        step,
        keep,
        signal,
        prediction,
        lead: lead_expected,
        hold: hold_expected,
    }
}

/// The central forecast of each tick of an `upper` path widened by `margin`, into `out`: a
/// path holds one value per bucket for many ticks, so each is converted once.
fn central_from_upper(upper: &[f64], margin: f64, out: &mut Vec<f64>) {
    out.clear();
    let mut last: Option<(f64, f64)> = None;
    for &up in upper {
        let rate = match last {
            Some((u, rate)) if u.to_bits() == up.to_bits() => rate,
            _ => central(up, margin),
        };
        last = Some((up, rate));
        out.push(rate);
    }
}

/// Where the queue starts from at `obs.t`, with `arrivals` ahead.
fn start_at<'a>(
    obs: &Observation,
    interval: f64,
    lead: f64,
    per_replica: f64,
    starting: &'a [(f64, u32)],
    arrivals: &'a [f64],
) -> Start<'a> {
    Start {
        t: obs.t,
        interval,
        lead,
        per_replica,
        backlog: obs.queue_depth.unwrap_or(0.0),
        head_wait: obs.wait_s.unwrap_or_else(|| {
            obs.queue_depth.unwrap_or(0.0) / (per_replica * f64::from(obs.ready.max(1)))
        }),
        ready: obs.ready.min(obs.current),
        starting,
        arrivals,
    }
}

/// The upper forecast arrival rate of each of `ticks` ticks from `obs.t` into `path` (what
/// arrived in the last lead window, held, when the forecast is off; zeros before anything
/// was seen), and the forecast's summary over the lead `window` when there is one.
fn fill_path(
    config: &TargetConfig,
    state: &TargetState,
    obs: &Observation,
    interval: f64,
    ticks: usize,
    window: f64,
    path: &mut Vec<f64>,
) -> Option<Prediction> {
    let prediction = if config.forecast.enabled {
        state
            .forecaster
            .upper_path(obs.t, interval, ticks, window, path)
    } else {
        path.clear();
        if let Some(peak) = state.forecaster.recent_peak() {
            path.resize(ticks, peak);
        }
        None
    };
    if path.is_empty() {
        path.resize(ticks, 0.0);
    }
    prediction
}

/// The demand metrics that are expected but missing. A target's configured demand metrics
/// are expected; with none configured (the bench, tests) both are. A target asleep at zero
/// replicas has no pod to scrape: a metric scraped from its pods is absent, not failing
/// (counting it would fall back and wake the target for nothing). A Prometheus query that
/// reads 0 is a reading, not a missing metric.
fn missing_metrics(config: &TargetConfig, obs: &Observation) -> Vec<&'static str> {
    let m = &config.metrics;
    let none_configured = m.queue_depth.is_none() && m.arrival_rate.is_none();
    let asleep = obs.current == 0 && obs.ready == 0;
    let expected = |source: &Option<MetricSource>| {
        source.as_ref().is_some_and(|s| {
            !(asleep
                && matches!(
                    s,
                    MetricSource::Scrape {
                        from: ScrapeFrom::Pods { .. },
                        ..
                    }
                ))
        })
    };
    let mut missing = Vec::new();
    if (none_configured || expected(&m.queue_depth)) && obs.queue_depth.is_none() {
        missing.push("queueDepth");
    }
    if (none_configured || expected(&m.arrival_rate)) && obs.arrival_rate.is_none() {
        missing.push("arrivalRate");
    }
    missing
}

/// KEDA's fallback behaviours, within the bounds.
fn fallback_replicas(config: &TargetConfig, current: u32, bounds: Bounds) -> u32 {
    let f = &config.fallback;
    let replicas = match f.behavior {
        FallbackBehavior::Static => f.replicas,
        FallbackBehavior::CurrentReplicas => current,
        FallbackBehavior::CurrentReplicasIfHigher => current.max(f.replicas),
        FallbackBehavior::CurrentReplicasIfLower => current.min(f.replicas),
    };
    replicas.clamp(bounds.min, bounds.max)
}
