//! A decision and the reasons behind it.

/// The signals that propose a replica count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Signal {
    /// Replicas to serve the observed arrival rate at the target utilisation.
    Reactive,
    /// Replicas to drain the current backlog within the wait SLO.
    BacklogDrain,
    /// Extra replicas because the observed wait is near the SLO.
    LatencyGuard,
    /// Replicas for the arrivals forecast over the start-up lead time.
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
}

/// Why a decision is what it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Reason {
    /// A signal's raw proposal.
    Proposal {
        /// Which signal.
        signal: Signal,
        /// Replicas it asked for.
        replicas: u32,
    },
    /// The signal whose proposal set the raw recommendation.
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
    /// That forecast plus its error margin: the rate the Forecast signal provisions for.
    pub forecast_upper: Option<f64>,
    /// The learned per-replica capacity used (documents/s).
    pub capacity_per_replica: f64,
    /// The start-up lead time used, seconds.
    pub startup_s: f64,
}
