//! Property tests of the decision core: over random configs and random observation
//! sequences, `decide` keeps the promises a user relies on (bounds, no blind scale-down,
//! HPA's stabilisation and rate limits, the cooldown, KEDA's fallback, determinism).
//!
//! The test keeps its own record of what happened to the workload (the replica changes and
//! when they happened, the recommendations of each tick) and checks every decision against
//! it, so a property fails when the core's own bookkeeping drifts from what happened.

use std::time::Duration;

use prescale::config::{
    Behavior, FallbackBehavior, MetricSource, PolicyKind, ScalingPolicy, ScalingRules,
    SelectPolicy, TargetConfig,
};
use prescale::core::{Decision, Limit, Observation, Reason, TargetState, decide};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Random configs
// ---------------------------------------------------------------------------------------

fn policy() -> impl Strategy<Value = ScalingPolicy> {
    (
        prop_oneof![Just(PolicyKind::Pods), Just(PolicyKind::Percent)],
        15u64..=600,
    )
        .prop_flat_map(|(kind, period)| {
            // HPA: Pods > 0; Percent > 0 (a scale-down percentage above 100 is meaningless).
            let values = match kind {
                PolicyKind::Pods => 1u32..=10,
                PolicyKind::Percent => 1u32..=200,
            };
            values.prop_map(move |value| ScalingPolicy {
                kind,
                value,
                period: Duration::from_secs(period),
            })
        })
}

fn select_policy() -> impl Strategy<Value = SelectPolicy> {
    prop_oneof![
        4 => Just(SelectPolicy::Max),
        3 => Just(SelectPolicy::Min),
        1 => Just(SelectPolicy::Disabled),
    ]
}

fn rules(down: bool) -> impl Strategy<Value = ScalingRules> {
    (
        0u64..600,
        select_policy(),
        prop::collection::vec(policy(), 0..=3),
    )
        .prop_map(move |(window, select_policy, mut policies)| {
            if down {
                for p in &mut policies {
                    if p.kind == PolicyKind::Percent {
                        p.value = p.value.min(100);
                    }
                }
            }
            ScalingRules {
                stabilization_window: Duration::from_secs(window),
                select_policy,
                policies,
            }
        })
}

fn fallback_behavior() -> impl Strategy<Value = FallbackBehavior> {
    prop_oneof![
        Just(FallbackBehavior::Static),
        Just(FallbackBehavior::CurrentReplicas),
        Just(FallbackBehavior::CurrentReplicasIfHigher),
        Just(FallbackBehavior::CurrentReplicasIfLower),
    ]
}

fn source() -> MetricSource {
    MetricSource::Promql {
        query: "q".into(),
        aggregate: None,
        ignore_null_values: false,
    }
}

prop_compose! {
    fn config()(
        (min, max) in (1u32..=50).prop_flat_map(|min| (Just(min), min..=50)),
        interval in prop_oneof![Just(15u64), 5u64..=60],
        startup in 0u64..=300,
        slo in 10u64..=300,
        per_replica in 0.5f64..5.0,
        scale_up in rules(false),
        scale_down in rules(true),
        cooldown in 0u64..600,
        threshold in 1u32..=5,
        behavior in fallback_behavior(),
        fallback_replicas in 0u32..=60,
        forecast in any::<bool>(),
        history_h in 1u64..=48,
        utilization in 0.5f64..=1.0,
        // Which demand metrics the target configures (none: both are expected).
        configured in 0u8..4,
    ) -> TargetConfig {
        let mut c = TargetConfig {
            interval: Duration::from_secs(interval),
            min_replicas: min,
            max_replicas: max,
            startup_time: Duration::from_secs(startup),
            behavior: Behavior {
                scale_up,
                scale_down,
                scale_down_cooldown: Duration::from_secs(cooldown),
            },
            ..TargetConfig::default()
        };
        c.slo.queue_wait = Duration::from_secs(slo);
        c.capacity.per_replica = per_replica;
        c.fallback.failure_threshold = threshold;
        c.fallback.behavior = behavior;
        c.fallback.replicas = fallback_replicas;
        c.forecast.enabled = forecast;
        // Short histories keep the state small enough to compare by value every segment.
        c.forecast.history = Duration::from_secs(history_h * 3600);
        c.forecast.target_utilization = utilization;
        c.metrics.queue_depth = (configured & 1 != 0).then(source);
        c.metrics.arrival_rate = (configured & 2 != 0).then(source);
        c
    }
}

// ---------------------------------------------------------------------------------------
// Random observation sequences: segments of ticks with the same readings
// ---------------------------------------------------------------------------------------

/// A run of ticks that read the same values (a metric is `None` when missing).
#[derive(Debug, Clone)]
struct Segment {
    ticks: usize,
    arrival_rate: Option<f64>,
    queue_depth: Option<f64>,
    completion_rate: Option<f64>,
    wait_s: Option<f64>,
    /// A person sets the replicas to this at the start of the segment.
    manual: Option<u32>,
}

/// A reading up to `max`, sometimes missing, and now and then absurd: a counter queried
/// without `rate()` reads ~1e9/s and grows without bound (arithmetic on it saturates).
fn reading(max: f64) -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        8 => (0.0..max).prop_map(Some),
        2 => Just(None),
        1 => prop_oneof![Just(1e9), Just(1e15), Just(f64::MAX)].prop_map(Some),
    ]
}

fn segment() -> impl Strategy<Value = Segment> {
    (
        1usize..=8,
        reading(120.0),
        reading(2000.0),
        reading(120.0),
        reading(300.0),
        prop_oneof![6 => Just(None), 1 => (0u32..=60).prop_map(Some)],
    )
        .prop_map(
            |(ticks, arrival_rate, queue_depth, completion_rate, wait_s, manual)| Segment {
                ticks,
                arrival_rate,
                queue_depth,
                completion_rate,
                wait_s,
                manual,
            },
        )
}

fn scenario() -> impl Strategy<Value = (TargetConfig, u32, Vec<Segment>)> {
    (config(), 0u32..=60, prop::collection::vec(segment(), 1..40))
}

// ---------------------------------------------------------------------------------------
// The test's own record of what happened
// ---------------------------------------------------------------------------------------

/// What the workload went through, kept by the test independently of the core.
#[derive(Debug, Default)]
struct World {
    /// The recommendation each tick fed to the behaviour rules: `(t, replicas)`.
    recommendations: Vec<(f64, u32)>,
    /// prescale's own replica changes `(t, +added / -removed)`, when it decided them (HPA's
    /// scale events: a person's changes do not count against the rate limits).
    events: Vec<(f64, i64)>,
    /// Time of the last increase, by anyone.
    last_increase: Option<f64>,
    /// Consecutive ticks with a demand metric missing.
    failures: u32,
}

impl World {
    fn change(&mut self, t: f64, from: u32, to: u32, ours: bool) {
        if ours && to != from {
            self.events.push((t, i64::from(to) - i64::from(from)));
        }
        if to > from {
            self.last_increase = Some(t);
        }
    }

    /// HPA's `periodStartReplicas`: current − added in the period + removed in the period,
    /// over the changes strictly after `t - period` (`timestamp.After(cutoff)`).
    fn period_start(&self, t: f64, period: Duration, current: u32) -> i64 {
        let cutoff = t - period.as_secs_f64();
        let net: i64 = self
            .events
            .iter()
            .filter(|(at, _)| *at > cutoff)
            .map(|(_, d)| d)
            .sum();
        i64::from(current) - net
    }

    /// The most replicas the scale-up policies allow at `t` (`None`: unlimited).
    /// Same arithmetic as kube-controller-manager's `calculateScaleUpLimitWithScalingRules`,
    /// float rounding included (Percent rounds up).
    fn up_allowed(&self, rules: &ScalingRules, t: f64, current: u32) -> Option<i64> {
        let each = rules.policies.iter().map(|p| {
            let start = self.period_start(t, p.period, current);
            match p.kind {
                PolicyKind::Pods => start + i64::from(p.value),
                PolicyKind::Percent => {
                    (start as f64 * (1.0 + f64::from(p.value) / 100.0)).ceil() as i64
                }
            }
        });
        match rules.select_policy {
            SelectPolicy::Disabled => Some(i64::from(current)),
            SelectPolicy::Max => each.max(),
            SelectPolicy::Min => each.min(),
        }
    }

    /// The fewest replicas the scale-down policies allow at `t` (`None`: unlimited).
    /// As `calculateScaleDownLimitWithBehaviors`: Percent rounds down.
    fn down_allowed(&self, rules: &ScalingRules, t: f64, current: u32) -> Option<i64> {
        let each = rules.policies.iter().map(|p| {
            let start = self.period_start(t, p.period, current);
            match p.kind {
                PolicyKind::Pods => start - i64::from(p.value),
                PolicyKind::Percent => (start as f64 * (1.0 - f64::from(p.value) / 100.0)) as i64,
            }
        });
        match rules.select_policy {
            SelectPolicy::Disabled => Some(i64::from(current)),
            // Max: the policy allowing the largest change, the lowest floor.
            SelectPolicy::Max => each.min(),
            SelectPolicy::Min => each.max(),
        }
    }
}

/// The demand metrics `config` expects that `obs` lacks, named as the core names them.
fn missing(config: &TargetConfig, obs: &Observation) -> Vec<&'static str> {
    let m = &config.metrics;
    let none = m.queue_depth.is_none() && m.arrival_rate.is_none();
    let mut out = Vec::new();
    if (none || m.queue_depth.is_some()) && obs.queue_depth.is_none() {
        out.push("queueDepth");
    }
    if (none || m.arrival_rate.is_some()) && obs.arrival_rate.is_none() {
        out.push("arrivalRate");
    }
    out
}

/// KEDA's fallback replicas for `current`, within the bounds.
fn fallback_replicas(config: &TargetConfig, current: u32) -> u32 {
    let f = config.fallback;
    let r = match f.behavior {
        FallbackBehavior::Static => f.replicas,
        FallbackBehavior::CurrentReplicas => current,
        FallbackBehavior::CurrentReplicasIfHigher => current.max(f.replicas),
        FallbackBehavior::CurrentReplicasIfLower => current.min(f.replicas),
    };
    r.clamp(config.min_replicas, config.max_replicas)
}

/// The raw recommendation of a tick from its reasons: the plan's step up, or the replicas
/// a hold kept, or what the hold window needs (`keep`, else `need`); never below `current`
/// while a metric is missing.
fn raw_recommendation(decision: &Decision, current: u32, missing: bool) -> u32 {
    let held = decision.reasons.iter().find_map(|r| match r {
        Reason::Limited {
            limit: Limit::Hold,
            to,
            ..
        } => Some(*to),
        _ => None,
    });
    let planned = decision.reasons.iter().find_map(|r| match r {
        Reason::Plan { need, step, keep } => Some(step.or(held).unwrap_or(keep.unwrap_or(*need))),
        _ => None,
    });
    let raw = planned.unwrap_or(current);
    if missing { raw.max(current) } else { raw }
}

/// Drive `decide` like the controller does and check every decision; `Err` names the
/// first broken promise.
fn check(config: &TargetConfig, initial: u32, segments: &[Segment]) -> Result<(), TestCaseError> {
    let interval = config.interval.as_secs_f64();
    let b = &config.behavior;
    let (lo, hi) = (config.min_replicas, config.max_replicas);
    let mut state = TargetState::new(config);
    let mut world = World::default();
    let mut t = 0.0;
    let mut current = initial;
    // The previous tick: (t, current, decided).
    let mut previous: Option<(f64, u32, u32)> = None;
    for segment in segments {
        for tick in 0..segment.ticks {
            t += interval;
            // The actuator applied the last decision right after it was made; a person's
            // change replaces it (we only see the net change, when we look next).
            if let Some((at, before, decided)) = previous {
                match segment.manual.filter(|&m| tick == 0 && m != decided) {
                    Some(m) => {
                        current = m;
                        world.change(t, before, m, false);
                    }
                    None => {
                        current = decided;
                        world.change(at, before, decided, true);
                    }
                }
            }
            let obs = Observation {
                t,
                queue_depth: segment.queue_depth,
                arrival_rate: segment.arrival_rate,
                completion_rate: segment.completion_rate,
                wait_s: segment.wait_s,
                ready: current.saturating_sub(tick as u32 % 3),
                current,
            };

            // Determinism: the same state and observation give the same decision and state.
            let mut twin = state.clone();
            let d = decide(config, &mut state, &obs);
            let d_twin = decide(config, &mut twin, &obs);
            prop_assert_eq!(&d, &d_twin);
            if tick + 1 == segment.ticks {
                prop_assert_eq!(format!("{state:?}"), format!("{twin:?}"));
            }

            let r = d.replicas;
            let c = current;
            let at = format!("t={t} current={c} decided={r} reasons={:?}", d.reasons);

            // Bounds.
            prop_assert!((lo..=hi).contains(&r), "out of bounds: {at}");

            // Missing metrics: each is reported with the consecutive count.
            let gone = missing(config, &obs);
            world.failures = if gone.is_empty() {
                0
            } else {
                world.failures + 1
            };
            let reported: Vec<_> = d
                .reasons
                .iter()
                .filter_map(|r| match r {
                    Reason::MetricsMissing { metric, failures } => Some((*metric, *failures)),
                    _ => None,
                })
                .collect();
            let expected: Vec<_> = gone.iter().map(|m| (*m, world.failures)).collect();
            prop_assert_eq!(reported, expected, "{}", at);
            prop_assert_eq!(state.failures(), world.failures);

            // Fallback: exactly from the threshold-th consecutive failed tick, with the
            // behaviour's replicas as the recommendation (which then goes through the
            // behaviour rules, as KEDA's fallback goes through the HPA); gone as soon as the
            // metrics return.
            let fallback = d.reasons.iter().find_map(|r| match r {
                Reason::Fallback { replicas } => Some(*replicas),
                _ => None,
            });
            if world.failures >= config.fallback.failure_threshold {
                let want = fallback_replicas(config, c);
                prop_assert_eq!(fallback, Some(want), "{}", at);
            } else {
                prop_assert_eq!(fallback, None, "{}", at);
            }

            {
                // No blind scale-down: before the fallback, a missing demand metric never
                // takes replicas below a current count that is within the bounds.
                if fallback.is_none() && !gone.is_empty() && c <= hi {
                    prop_assert!(r >= c, "scaled down with {gone:?} missing: {at}");
                }

                // The raw recommendation is the plan's, or the fallback's.
                let raw = fallback.unwrap_or_else(|| raw_recommendation(&d, c, !gone.is_empty()));
                world.recommendations.push((t, raw));

                // Stabilisation, as HPA's `stabilizeRecommendationWithBehaviors`:
                //   up   = min of the raw recommendations with time > t - scaleUp.window
                //   down = max of the raw recommendations with time > t - scaleDown.window
                // (both windows include this tick's raw recommendation), and the stabilised
                // recommendation is `current` clamped to [up, down]. Every later rule
                // (cooldown, rate limits) only moves the value towards `current`, and the
                // bounds clamp it, so the decision obeys:
                //   decision >= min(current, down, maxReplicas)  (scale-down stabilisation)
                //   decision <= max(current, up, minReplicas)    (scale-up stabilisation)
                let window = |w: Duration| {
                    let cutoff = t - w.as_secs_f64();
                    world
                        .recommendations
                        .iter()
                        .filter(move |(at, _)| *at > cutoff || *at == t)
                        .map(|(_, r)| *r)
                };
                let down = window(b.scale_down.stabilization_window)
                    .max()
                    .unwrap_or(raw);
                let up = window(b.scale_up.stabilization_window).min().unwrap_or(raw);
                prop_assert!(
                    r >= c.min(down).min(hi),
                    "below the scale-down window's max {down}: {at}"
                );
                prop_assert!(
                    r <= c.max(up).max(lo),
                    "above the scale-up window's min {up}: {at}"
                );

                // Rate limits over the policies' periods (the bounds may still apply).
                if r > c
                    && let Some(allowed) = world.up_allowed(&b.scale_up, t, c)
                {
                    prop_assert!(
                        i64::from(r) <= allowed.max(i64::from(lo)),
                        "scale-up beyond the policies' {allowed}: {at} events={:?}",
                        world.events
                    );
                }
                if r < c
                    && let Some(allowed) = world.down_allowed(&b.scale_down, t, c)
                {
                    prop_assert!(
                        i64::from(r) >= allowed.min(i64::from(hi)),
                        "scale-down beyond the policies' {allowed}: {at} events={:?}",
                        world.events
                    );
                }

                // Cooldown: no decrease within `scale_down_cooldown` of the last increase
                // (unless `current` is above maxReplicas).
                let cooldown = b.scale_down_cooldown.as_secs_f64();
                if r < c
                    && let Some(up_at) = world.last_increase
                    && t - up_at < cooldown
                {
                    prop_assert_eq!(
                        r,
                        hi,
                        "scaled down {}s after an increase: {}",
                        t - up_at,
                        at
                    );
                }
            }

            previous = Some((t, c, r));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn decisions_keep_every_promise((config, initial, segments) in scenario()) {
        check(&config, initial, &segments)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Long outages and recoveries: the fallback appears at the threshold and clears when
    /// the metrics return, for every fallback behaviour.
    #[test]
    fn fallback_comes_and_goes_with_the_metrics(
        config in config(),
        initial in 0u32..=60,
        outages in prop::collection::vec((1usize..=10, 1usize..=10, 0u32..=60), 1..6),
    ) {
        let mut segments = Vec::new();
        for (healthy, missing, manual) in outages {
            segments.push(Segment {
                ticks: healthy,
                arrival_rate: Some(10.0),
                queue_depth: Some(5.0),
                completion_rate: Some(10.0),
                wait_s: Some(1.0),
                manual: None,
            });
            segments.push(Segment {
                ticks: missing,
                arrival_rate: None,
                queue_depth: None,
                completion_rate: None,
                wait_s: None,
                manual: Some(manual),
            });
        }
        check(&config, initial, &segments)?;
    }
}
