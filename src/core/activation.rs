//! Scale to zero and back: KEDA's `activationThreshold` deciding 0 <-> 1 for a target whose
//! bounds allow zero replicas.
//!
//! At zero replicas a target wakes (to at least one, or what the plan asks) when the queue
//! depth or the arrival rate exceeds its threshold, or when the forecast expects documents
//! within the lead window and its upper bound exceeds the arrival threshold: the forecast
//! wakes it a lead time before its usual first arrivals. At one or more it sleeps only when
//! the plan needs at most the one pod, nothing is missing, the readings are at or below the
//! thresholds and the forecast expects no document within the hold window; the behaviour
//! rules (stabilisation, cooldown, rate limits) then apply to that zero as to any release.
//!
//! The forecast's upper bound is `(sqrt(rate) + margin)²`: a forecast of no documents still
//! has an upper bound of `margin²`, so the upper bound alone would never let a target sleep.
//! It wakes a target only where the forecast itself expects at least one document.

use super::{Observation, Reason};
use crate::config::TargetConfig;

/// Documents the forecast must expect over a horizon before it wakes or keeps awake a
/// target: one (less is a forecast of nothing, whatever its margin).
const EXPECTED_DOCUMENTS: f64 = 1.0;

/// What the forecast expects over a horizon.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Expected {
    /// Documents expected (from the forecast without its margin).
    pub documents: f64,
    /// The highest upper bound, documents/s.
    pub upper: f64,
}

impl Expected {
    /// What an `upper` path and its `central` rates (tick by tick, the same length)
    /// expect: the documents of the central rates, the highest upper bound.
    pub fn from_paths(upper: &[f64], central: &[f64], interval: f64) -> Self {
        upper
            .iter()
            .zip(central)
            .fold(Self::default(), |e, (&up, &rate)| Expected {
                documents: e.documents + rate * interval,
                upper: e.upper.max(up),
            })
    }

    /// Whether this forecast wakes a target with arrival threshold `threshold`.
    fn wakes(&self, threshold: f64) -> bool {
        self.documents >= EXPECTED_DOCUMENTS && self.upper > threshold
    }
}

/// What the activation rule needs from a tick.
pub struct Inputs {
    /// The arrival rate read or derived this tick, documents/s.
    pub arrival_rate: Option<f64>,
    /// What the forecast expects over the lead window.
    pub lead: Expected,
    /// What the forecast expects over the hold window.
    pub hold: Expected,
    /// Whether a required metric is missing this tick.
    pub missing: bool,
}

/// The recommendation `proposed` (the plan's, after the hold and missing-metric rules) with
/// the activation rule applied; a no-op unless the bounds' floor is zero.
pub fn activate(
    config: &TargetConfig,
    obs: &Observation,
    floor: u32,
    inputs: &Inputs,
    proposed: u32,
    reasons: &mut Vec<Reason>,
) -> u32 {
    if floor > 0 {
        return proposed;
    }
    let a = &config.activation;
    let trigger = if obs.queue_depth.is_some_and(|q| q > a.queue_depth) {
        Some("queueDepth")
    } else if inputs.arrival_rate.is_some_and(|r| r > a.arrival_rate) {
        Some("arrivalRate")
    } else {
        None
    };
    if obs.current == 0 {
        let trigger = trigger.or(inputs.lead.wakes(a.arrival_rate).then_some("forecast"));
        reasons.push(Reason::Activation {
            active: trigger.is_some(),
            trigger,
        });
        return if trigger.is_some() {
            proposed.max(1)
        } else {
            0
        };
    }
    if let Some(trigger) = trigger {
        if proposed == 0 {
            reasons.push(Reason::Activation {
                active: true,
                trigger: Some(trigger),
            });
        }
        return proposed.max(1);
    }
    let sleeps = proposed <= 1 && !inputs.missing && !inputs.hold.wakes(a.arrival_rate);
    if sleeps {
        reasons.push(Reason::Activation {
            active: false,
            trigger: None,
        });
        return 0;
    }
    proposed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Activation;
    use crate::core::{Decision, TargetState, decide};
    use std::time::Duration;

    fn sleeper(activation: Activation) -> TargetConfig {
        TargetConfig {
            min_replicas: 0,
            activation,
            ..TargetConfig::default()
        }
    }

    /// One tick at `t` with `current` replicas all ready.
    fn tick(
        config: &TargetConfig,
        state: &mut TargetState,
        t: f64,
        current: u32,
        queue: f64,
        arrivals: f64,
        completions: f64,
    ) -> Decision {
        let obs = Observation {
            t,
            queue_depth: Some(queue),
            arrival_rate: Some(arrivals),
            completion_rate: Some(completions),
            wait_s: Some(0.0),
            ready: current,
            current,
        };
        let d = decide(config, state, &obs);
        assert!(
            d.capacity_per_replica.is_finite() && d.capacity_per_replica > 0.0,
            "{d:?}"
        );
        assert!(d.forecast_upper.is_none_or(f64::is_finite), "{d:?}");
        d
    }

    fn activation(d: &Decision) -> Option<(bool, Option<&'static str>)> {
        d.reasons.iter().find_map(|r| match r {
            Reason::Activation { active, trigger } => Some((*active, *trigger)),
            _ => None,
        })
    }

    #[test]
    fn a_sleeping_target_wakes_on_the_first_document() {
        let config = sleeper(Activation::default());
        let mut state = TargetState::new(&config);
        // An hour asleep with nothing arriving: it stays at zero, and says so.
        let mut t = 0.0;
        while t < 3600.0 {
            let d = tick(&config, &mut state, t, 0, 0.0, 0.0, 0.0);
            assert_eq!(d.replicas, 0, "at {t}: {d:?}");
            assert_eq!(activation(&d), Some((false, None)), "{d:?}");
            t += 15.0;
        }
        // The first document: awake.
        let d = tick(&config, &mut state, t, 0, 1.0, 1.0 / 15.0, 0.0);
        assert!(d.replicas >= 1, "{d:?}");
        assert_eq!(activation(&d), Some((true, Some("queueDepth"))), "{d:?}");
    }

    #[test]
    fn below_the_activation_threshold_it_stays_asleep() {
        let config = sleeper(Activation {
            queue_depth: 5.0,
            arrival_rate: 1.0,
        });
        let mut state = TargetState::new(&config);
        for k in 0..40 {
            let d = tick(&config, &mut state, f64::from(k) * 15.0, 0, 5.0, 1.0, 0.0);
            assert_eq!(d.replicas, 0, "tick {k}: {d:?}");
        }
        // Over either threshold: awake.
        let d = tick(&config, &mut state, 600.0, 0, 5.0, 1.5, 0.0);
        assert_eq!(activation(&d), Some((true, Some("arrivalRate"))), "{d:?}");
        assert!(d.replicas >= 1, "{d:?}");
        let mut state = TargetState::new(&config);
        let d = tick(&config, &mut state, 0.0, 0, 6.0, 0.0, 0.0);
        assert_eq!(activation(&d), Some((true, Some("queueDepth"))), "{d:?}");
    }

    #[test]
    fn after_the_load_is_gone_it_sleeps_within_the_hold_and_behaviour_rules_keeping_capacity() {
        let mut config = sleeper(Activation::default());
        config.behavior.scale_down.stabilization_window = Duration::from_secs(300);
        let mut state = TargetState::new(&config);
        let (mut t, mut current) = (0.0, 0);
        // Half an hour of 4 documents/s, served 2/s per replica with a backlog: capacity is
        // learned at 2/s.
        while t < 1800.0 {
            let served = 2.0 * f64::from(current);
            let d = tick(&config, &mut state, t, current, 20.0, 4.0, served);
            current = d.replicas;
            t += 15.0;
        }
        assert!(current >= 2, "{current}");
        let learned = state.capacity_per_replica();
        assert!((learned - 2.0).abs() < 0.2, "{learned}");
        // The load stops: the queue drains and nothing arrives any more.
        let stopped = t;
        let mut slept_at = None;
        while t < stopped + 4.0 * 3600.0 {
            let d = tick(&config, &mut state, t, current, 0.0, 0.0, 0.0);
            if d.replicas == 0 && slept_at.is_none() {
                slept_at = Some(t);
                assert_eq!(activation(&d), Some((false, None)), "{d:?}");
            }
            if slept_at.is_some() {
                assert_eq!(d.replicas, 0, "asleep for good at {t}: {d:?}");
            }
            current = d.replicas;
            t += 15.0;
        }
        let slept_at = slept_at.expect("asleep within four hours of the load stopping");
        eprintln!("asleep {} s after the load stopped", slept_at - stopped);
        // Not before the planner's hold (the peak of the last lead window has to pass, and
        // the hold's 10 minutes) nor the 300 s scale-down stabilisation window.
        assert!(
            slept_at - stopped >= 300.0,
            "asleep {} s after",
            slept_at - stopped
        );
        // Hours at zero ready replicas: nothing learned from them, nothing lost.
        assert_eq!(state.capacity_per_replica(), learned);
        // And it wakes again on the next document, with the same capacity.
        let d = tick(&config, &mut state, t, 0, 1.0, 0.1, 0.0);
        assert!(d.replicas >= 1, "{d:?}");
        assert_eq!(d.capacity_per_replica, learned);
    }

    #[test]
    fn a_sleeping_target_whose_queue_is_scraped_from_its_pods_does_not_fall_back() {
        use crate::config::{MetricSource, ScrapeFrom, ScrapeScheme};
        let mut config = sleeper(Activation::default());
        config.metrics.queue_depth = Some(MetricSource::Scrape {
            from: ScrapeFrom::Pods {
                port: 9100,
                path: "/metrics".into(),
                scheme: ScrapeScheme::Http,
            },
            metric: "docs_queued".into(),
            labels: Default::default(),
            aggregate: Some(crate::config::Aggregate::Sum),
            quantile: None,
        });
        let mut state = TargetState::new(&config);
        for k in 0..20 {
            // No pods, so nothing to scrape: absent, not failing.
            let obs = Observation {
                t: f64::from(k) * 15.0,
                ..Observation::default()
            };
            let d = decide(&config, &mut state, &obs);
            assert_eq!(d.replicas, 0, "tick {k}: {d:?}");
            assert_eq!(state.failures(), 0);
        }
        // With a pod, the same absence is a failure (held, then the fallback).
        let obs = Observation {
            t: 300.0,
            ready: 1,
            current: 1,
            ..Observation::default()
        };
        let d = decide(&config, &mut state, &obs);
        assert_eq!(d.replicas, 1, "{d:?}");
        assert_eq!(state.failures(), 1);
    }

    #[test]
    fn a_margin_alone_expects_nothing() {
        let margin = 0.5;
        let path = vec![margin * margin; 10];
        let from_path = |path: &[f64]| {
            let central: Vec<f64> = path
                .iter()
                .map(|&up| crate::forecast::central(up, margin))
                .collect();
            Expected::from_paths(path, &central, 15.0)
        };
        let e = from_path(&path);
        assert!(e.documents.abs() < 1e-9, "{e:?}");
        assert!(!e.wakes(0.0));
        // A forecast of 0.1/s over 150 s: 15 documents.
        let up = (0.1_f64.sqrt() + margin).powi(2);
        let e = from_path(&[up; 10]);
        assert!((e.documents - 15.0).abs() < 1e-9, "{e:?}");
        assert!(e.wakes(0.0) && e.wakes(up - 0.01) && !e.wakes(up));
    }
}
