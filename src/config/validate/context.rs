//! What validation carries along: positions to point at, and the problems found so far.
//! Every check records its problem and carries on, so one run reports everything.

use crate::config::duration::{DURATION_HINT, DurationText, format_duration, parse_duration};
use crate::config::error::Problem;
use crate::config::locate::Positions;
use std::time::Duration;

/// A value taken from the file, with the key path it was written at.
#[derive(Debug, Clone)]
pub struct Picked<'a, T> {
    /// The value as written.
    pub value: &'a T,
    /// Where: `targets[0].interval` or `defaults.interval`.
    pub path: String,
}

impl<'a, T> Picked<'a, T> {
    /// `value` written at `path`.
    pub fn new(value: &'a T, path: String) -> Self {
        Self { value, path }
    }
}

/// Problems and warnings found so far.
pub struct Cx<'a> {
    positions: &'a Positions,
    /// Errors: the file is rejected if there is any.
    pub problems: Vec<Problem>,
    /// Worth saying, but the file is valid.
    pub warnings: Vec<Problem>,
}

/// Limits of a duration setting.
#[derive(Debug, Clone, Copy)]
pub struct DurationRule {
    /// Reject `0s`.
    pub positive: bool,
    /// Reject anything shorter (other than a `0s` that `positive` allows), with why.
    pub min: Option<(Duration, &'static str)>,
    /// Reject anything longer, with why (e.g. "Kubernetes HPA's limit").
    pub max: Option<(Duration, &'static str)>,
}

impl DurationRule {
    /// Longer than zero.
    pub const POSITIVE: Self = Self {
        positive: true,
        min: None,
        max: None,
    };
}

impl<'a> Cx<'a> {
    /// An empty context pointing into `positions`.
    pub fn new(positions: &'a Positions) -> Self {
        Self {
            positions,
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The positions this context points into (for a nested context).
    pub fn positions(&self) -> &'a Positions {
        self.positions
    }

    /// Take on the problems and warnings a nested context found.
    pub fn absorb(&mut self, other: Cx<'_>) {
        self.problems.extend(other.problems);
        self.warnings.extend(other.warnings);
    }

    /// Record a problem at `path`.
    pub fn error(&mut self, path: &str, message: impl Into<String>, hint: impl Into<String>) {
        let problem = self.problem(path, message.into(), hint.into());
        self.problems.push(problem);
    }

    /// Record a warning at `path`.
    pub fn warn(&mut self, path: &str, message: impl Into<String>, hint: impl Into<String>) {
        let problem = self.problem(path, message.into(), hint.into());
        self.warnings.push(problem);
    }

    fn problem(&self, path: &str, message: String, hint: String) -> Problem {
        Problem {
            position: self.positions.find(path),
            path: path.to_owned(),
            message,
            hint,
        }
    }

    /// "`path` (line N)", to name another key in a message.
    pub fn at(&self, path: &str) -> String {
        match self.positions.find(path) {
            Some(position) => format!("{path} (line {})", position.line),
            None => path.to_owned(),
        }
    }

    /// Parse and bound-check a duration; `None` (and a recorded problem) when it is bad.
    pub fn duration(
        &mut self,
        picked: &Picked<'_, DurationText>,
        rule: DurationRule,
    ) -> Option<Duration> {
        let duration = match parse_duration(&picked.value.0) {
            Ok(duration) => duration,
            Err(message) => {
                self.error(&picked.path, message, DURATION_HINT);
                return None;
            }
        };
        if rule.positive && duration.is_zero() {
            self.error(
                &picked.path,
                "must be longer than 0s",
                "write a positive duration, e.g. `15s`",
            );
            return None;
        }
        if let Some((min, why)) = rule.min
            && duration < min
            && !duration.is_zero()
        {
            let min = format_duration(min);
            self.error(
                &picked.path,
                format!("`{}` is shorter than {min} ({why})", picked.value.0),
                format!("write at least `{min}`"),
            );
            return None;
        }
        if let Some((max, why)) = rule.max
            && duration > max
        {
            let max = format_duration(max);
            self.error(
                &picked.path,
                format!("`{}` is longer than {max} ({why})", picked.value.0),
                format!("write at most `{max}`"),
            );
            return None;
        }
        Some(duration)
    }

    /// A whole number of at least `min`.
    pub fn at_least(&mut self, picked: &Picked<'_, u32>, min: u32) -> Option<u32> {
        let value = *picked.value;
        if value < min {
            self.error(
                &picked.path,
                format!("{value} is less than {min}"),
                format!("write a whole number >= {min}"),
            );
            return None;
        }
        Some(value)
    }

    /// A number within `bounds`.
    pub fn within(&mut self, picked: &Picked<'_, f64>, bounds: Bounds) -> Option<f64> {
        let value = *picked.value;
        let above = if bounds.low_inclusive {
            value >= bounds.low
        } else {
            value > bounds.low
        };
        let below = match bounds.high {
            None => value.is_finite(),
            Some((high, true)) => value <= high,
            Some((high, false)) => value < high,
        };
        if above && below {
            return Some(value);
        }
        self.error(
            &picked.path,
            format!("{value} is not {}", bounds.spelled),
            format!(
                "write a number {}, e.g. `{}`",
                bounds.spelled, bounds.example
            ),
        );
        None
    }
}

/// A quantile strictly between 0 and 1 (`forecast.errorQuantile`, `scrape.quantile`).
pub const QUANTILE: Bounds = Bounds {
    low: 0.0,
    low_inclusive: false,
    high: Some((1.0, false)),
    spelled: "in (0, 1)",
    example: "0.95",
};

/// An interval of acceptable numbers.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Lower end.
    pub low: f64,
    /// Whether `low` itself is allowed.
    pub low_inclusive: bool,
    /// Upper end and whether it is allowed; `None`: unbounded (but finite).
    pub high: Option<(f64, bool)>,
    /// How messages spell the interval, e.g. `in (0, 1]`.
    pub spelled: &'static str,
    /// A good value, for the hint.
    pub example: &'static str,
}
