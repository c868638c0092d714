//! The bench's policies: the four reference anchors, the two predictive peers of issue 10's
//! bar and prescale itself.

pub mod holt_winters;
mod hpa;
mod oracle;
mod prescale;
mod replay;
mod seasonal_naive;

pub use holt_winters::{HoltWinters, HourlyForecasts};
pub use hpa::{DefaultBehavior, Hpa, HpaMetric};
pub use oracle::{Oracle, Static};
pub use prescale::Prescale;
pub use replay::{Replay, ReplayError};
pub use seasonal_naive::SeasonalNaive;

/// The policies `prescale simulate` knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyName {
    /// The decision core with the given (or default) config.
    Prescale,
    /// Perfect foresight, zero queue: the cost floor.
    Oracle,
    /// Provisioned for the peak all the time.
    Static,
    /// The Kubernetes HPA on CPU-like utilisation, target 0.7.
    Hpa,
    /// KEDA's queue-length trigger, 30 documents per replica.
    KedaQueue,
    /// Peer: the HPA with a floor from the arrivals one season (a week; a day) ago.
    SeasonalNaive,
    /// Peer: the HPA with a floor from hourly Holt-Winters forecasts (statsmodels' fit).
    HoltWinters,
}

impl PolicyName {
    /// The four reference policies, in report order.
    pub const REFERENCES: [PolicyName; 4] = [
        PolicyName::Oracle,
        PolicyName::Static,
        PolicyName::Hpa,
        PolicyName::KedaQueue,
    ];

    /// The two predictive peers of issue 10's bar (`shared/bench-reference.json`, "peers").
    pub const PEERS: [PolicyName; 2] = [PolicyName::SeasonalNaive, PolicyName::HoltWinters];

    /// The name as written on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyName::Prescale => "prescale",
            PolicyName::Oracle => "oracle",
            PolicyName::Static => "static",
            PolicyName::Hpa => "hpa",
            PolicyName::KedaQueue => "keda-queue",
            PolicyName::SeasonalNaive => "seasonal-naive",
            PolicyName::HoltWinters => "holt-winters",
        }
    }
}
