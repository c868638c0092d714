//! The bench's parameters (BENCH.md, "Parameters").

/// Bench parameters, with BENCH.md's defaults.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BenchParams {
    /// Documents per second one ready replica serves.
    pub mu: f64,
    /// The load is scaled so that its 99th-percentile rate needs this many replicas.
    pub peak_replicas: f64,
    /// Decision interval, seconds.
    pub tick: f64,
    /// From a decision that adds a pod until that pod is ready, seconds.
    pub startup: f64,
    /// Queue-wait target, seconds.
    pub slo_wait: f64,
    /// Lower bound every policy is held to; 0 lets prescale (with `minReplicas: 0`) and
    /// the oracle scale to zero, while the reactive policies keep one replica.
    pub min_replicas: u32,
    /// Upper bound every policy is held to.
    pub max_replicas: u32,
    /// Simulated but not scored, days; `None`: BENCH.md's rule from the horizon.
    pub warmup_days: Option<f64>,
    /// At most this much of the trace is simulated, days.
    pub horizon_days: f64,
}

impl Default for BenchParams {
    fn default() -> Self {
        Self {
            mu: 1.0,
            peak_replicas: 40.0,
            tick: 15.0,
            startup: 90.0,
            slo_wait: 60.0,
            min_replicas: 1,
            max_replicas: 200,
            warmup_days: None,
            horizon_days: 35.0,
        }
    }
}

impl BenchParams {
    /// Tell a target's config what BENCH.md lets a policy be told: the bounds, the tick,
    /// the start-up time, the SLO and the per-replica capacity (its starting hint).
    pub fn tell(&self, config: &mut crate::config::TargetConfig) {
        config.min_replicas = self.min_replicas;
        config.max_replicas = self.max_replicas;
        config.interval = std::time::Duration::from_secs_f64(self.tick);
        config.startup_time = std::time::Duration::from_secs_f64(self.startup);
        config.slo.queue_wait = std::time::Duration::from_secs_f64(self.slo_wait);
        config.capacity.per_replica = self.mu;
    }
}

/// Every `ceil` in BENCH.md: `ceil(x - 1e-9)`, so float noise never adds a replica.
pub fn bench_ceil(x: f64) -> f64 {
    (x - 1e-9).ceil()
}

/// Why parameters cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("--{flag} {value}: {fix}")]
pub struct ParamError {
    /// The flag.
    pub flag: &'static str,
    /// Its value.
    pub value: String,
    /// What to pass instead.
    pub fix: &'static str,
}

impl BenchParams {
    /// Check the parameters make a meaningful bench.
    pub fn validate(&self) -> Result<(), ParamError> {
        let positive = |flag, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(ParamError {
                    flag,
                    value: v.to_string(),
                    fix: "must be a number > 0",
                })
            }
        };
        positive("mu", self.mu)?;
        positive("peak-replicas", self.peak_replicas)?;
        positive("tick", self.tick)?;
        positive("horizon-days", self.horizon_days)?;
        if !(self.startup.is_finite() && self.startup >= 0.0) {
            return Err(ParamError {
                flag: "startup",
                value: self.startup.to_string(),
                fix: "must be a number of seconds >= 0",
            });
        }
        positive("slo-wait", self.slo_wait)?;
        if self.tick.fract() != 0.0 {
            return Err(ParamError {
                flag: "tick",
                value: self.tick.to_string(),
                fix: "must be a whole number of seconds",
            });
        }
        if self.min_replicas > self.max_replicas || self.max_replicas == 0 {
            return Err(ParamError {
                flag: "min",
                value: self.min_replicas.to_string(),
                fix: "must be at most --max, which must be at least 1",
            });
        }
        if let Some(w) = self.warmup_days
            && !(w.is_finite() && w >= 0.0)
        {
            return Err(ParamError {
                flag: "warmup-days",
                value: w.to_string(),
                fix: "must be a number of days >= 0",
            });
        }
        Ok(())
    }
}
