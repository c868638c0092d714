//! A validated scheduled window (`schedules:`); [`crate::core`] decides when it is on.

use std::time::Duration;

/// A scheduled window, like KEDA's cron scaler: from every time `cron` names in `timezone`,
/// for `duration`, the replicas stay within `min_replicas..=max_replicas`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Unique within the target: names the window in reasons and metrics.
    pub name: String,
    /// The parsed 5-field cron expression.
    pub cron: croner::Cron,
    /// The expression as written (for `prescale check`'s effective settings).
    pub cron_text: String,
    /// The time zone the expression is read in.
    pub timezone: jiff::tz::TimeZone,
    /// Its IANA name as written (`UTC` by default).
    pub timezone_name: String,
    /// How long the window lasts from each start.
    pub duration: Duration,
    /// Replicas at least while the window is on.
    pub min_replicas: Option<u32>,
    /// Replicas at most while the window is on.
    pub max_replicas: Option<u32>,
}

impl Schedule {
    /// Parse a 5-field cron expression (seconds are not allowed, as in KEDA and crontab).
    pub fn parse_cron(text: &str) -> Result<croner::Cron, croner::errors::CronError> {
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(text)
    }
}
