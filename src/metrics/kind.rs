//! The four signals a target reads.

/// Which of a target's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MetricKind {
    /// Documents waiting.
    QueueDepth,
    /// Documents arriving per second.
    ArrivalRate,
    /// Documents completed per second.
    Completions,
    /// Queue wait (p95), seconds.
    WaitP95,
}

impl MetricKind {
    /// All kinds, in the order they are reported.
    pub const ALL: [MetricKind; 4] = [
        Self::QueueDepth,
        Self::ArrivalRate,
        Self::Completions,
        Self::WaitP95,
    ];

    /// The config key, also the `metric` label of `prescale_metric_errors_total`.
    pub fn name(self) -> &'static str {
        match self {
            Self::QueueDepth => "queueDepth",
            Self::ArrivalRate => "arrivalRate",
            Self::Completions => "completions",
            Self::WaitP95 => "waitP95",
        }
    }
}

impl std::fmt::Display for MetricKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
