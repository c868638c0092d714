//! `since`: how far back a report looks (`?since=24h`, `prescale report --since 24h`).

use super::RETENTION_S;

/// Why a `since` cannot be answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SinceError {
    /// Not a duration.
    #[error("since {value:?} is not a duration ({reason}); write one such as 90m, 24h or 7d")]
    Unparsable {
        /// What was given.
        value: String,
        /// humantime's complaint.
        reason: String,
    },
    /// Zero.
    #[error("since {value:?} is empty: ask for a window longer than 0, such as 1h")]
    Zero {
        /// What was given.
        value: String,
    },
    /// Longer than the totals kept.
    #[error(
        "since {value} is longer than the 7d of totals the controller keeps: ask for at most 7d, or graph the prescale_report_* counters in Prometheus for longer windows"
    )]
    TooLong {
        /// What was given.
        value: String,
    },
}

/// Parse a `since` value into seconds, within what the controller keeps.
pub fn parse_since(value: &str) -> Result<f64, SinceError> {
    let d = humantime::parse_duration(value.trim()).map_err(|e| SinceError::Unparsable {
        value: value.to_string(),
        reason: e.to_string(),
    })?;
    let seconds = d.as_secs_f64();
    if seconds <= 0.0 {
        return Err(SinceError::Zero {
            value: value.to_string(),
        });
    }
    if seconds > RETENTION_S {
        return Err(SinceError::TooLong {
            value: value.to_string(),
        });
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_up_to_a_week_are_accepted() {
        assert_eq!(parse_since("24h"), Ok(86_400.0));
        assert_eq!(parse_since("90m"), Ok(5_400.0));
        assert_eq!(parse_since("7d"), Ok(RETENTION_S));
    }

    #[test]
    fn bad_zero_and_too_long_windows_say_what_to_write() {
        let e = parse_since("yesterday").unwrap_err().to_string();
        assert!(e.contains("such as 90m, 24h or 7d"), "{e}");
        assert!(matches!(parse_since("0s"), Err(SinceError::Zero { .. })));
        let e = parse_since("30d").unwrap_err().to_string();
        assert!(
            e.contains("at most 7d") && e.contains("prescale_report_"),
            "{e}"
        );
    }
}
