//! A decision and the reasons behind it.

use crate::forecast::Season;

/// What set the replicas the plan needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Signal {
    /// The arrivals already seen (the highest rate of the last lead window) and the recent
    /// level: the rise has happened.
    Reactive,
    /// The documents already waiting: more than the arrivals alone need, to drain them.
    BacklogDrain,
    /// A rise the forecast sees coming within the lead window.
    Forecast,
}

/// Limits that can change the proposal, named with HPA's vocabulary plus prescale's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Limit {
    /// Scale-up held back by the scale-up stabilisation window.
    ScaleUpStabilized,
    /// Scale-down held back by the scale-down stabilisation window.
    ScaleDownStabilized,
    /// Scale-up capped by a scale-up rate policy.
    ScaleUpLimit,
    /// Scale-down capped by a scale-down rate policy.
    ScaleDownLimit,
    /// Raised to `minReplicas`.
    TooFewReplicas,
    /// Lowered to `maxReplicas`.
    TooManyReplicas,
    /// A scale-down held because the last scale-up was too recent.
    Cooldown,
    /// A scale-down held by the plan: the pods are needed again within the hold window, or
    /// too few are spare to be worth a pod start.
    Hold,
}

/// Why a decision is what it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Reason {
    /// The arrival forecast over the lead window.
    Forecast {
        /// The model that forecast.
        model: Season,
        /// Highest expected arrival rate, documents/s.
        rate: f64,
        /// With the margin: what capacity covers, documents/s.
        upper: f64,
    },
    /// What the planner found: the fewest pods for the lead window (`need`), what a
    /// scale-up asks for so that it lasts (`step`), and the fewest pods for the hold
    /// window (`keep`); each is computed only when it matters.
    Plan {
        /// Replicas the lead window needs.
        need: u32,
        /// Replicas a scale-up asks for, when scaling up.
        #[serde(skip_serializing_if = "Option::is_none")]
        step: Option<u32>,
        /// Replicas the hold window needs, when there are more than `need`.
        #[serde(skip_serializing_if = "Option::is_none")]
        keep: Option<u32>,
    },
    /// What set `need`.
    Winner {
        /// Which signal.
        signal: Signal,
    },
    /// A limit changed the recommendation.
    Limited {
        /// Which limit.
        limit: Limit,
        /// Recommendation before the limit.
        from: u32,
        /// Recommendation after it.
        to: u32,
    },
    /// A required metric was missing or stale: no scale-down this tick.
    MetricsMissing {
        /// Which metric (`queueDepth`, `arrivalRate`).
        metric: &'static str,
        /// Consecutive failed ticks so far.
        failures: u32,
    },
    /// A scheduled window (`schedules:`) is in force and bounds the replicas.
    Schedule {
        /// The window's name.
        name: String,
        /// Its floor, when in force (from a start-up lead time before its start).
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        /// Its ceiling, when in force.
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
    },
    /// The activation rule (KEDA's `activationThreshold`) of a target that may sleep at
    /// zero replicas decided 0 <-> 1: woke it (or kept it awake), or let it sleep.
    Activation {
        /// Whether the target is (kept) awake.
        active: bool,
        /// What woke it: `queueDepth`, `arrivalRate` (a reading above its threshold) or
        /// `forecast` (documents expected within the lead window); none when it sleeps.
        #[serde(skip_serializing_if = "Option::is_none")]
        trigger: Option<&'static str>,
    },
    /// The fallback behaviour applied after `failureThreshold` failed ticks.
    Fallback {
        /// Replicas the fallback chose.
        replicas: u32,
    },
}

/// The result of one [`crate::core::decide`] call.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Decision {
    /// Desired replicas, within the bounds.
    pub replicas: u32,
    /// Why, in the order the decision was built.
    pub reasons: Vec<Reason>,
    /// Highest forecast arrival rate (documents/s) over the lead time, when a forecast exists.
    pub forecast_rate: Option<f64>,
    /// That forecast plus its error margin: the rate the plan provisions for.
    pub forecast_upper: Option<f64>,
    /// The model that forecast, when a forecast exists.
    pub forecast_model: Option<Season>,
    /// The learned per-replica capacity used (documents/s).
    pub capacity_per_replica: f64,
    /// The start-up lead time used, seconds.
    pub startup_s: f64,
}
