//! The stretch of history a backtest reads, and the grid of instants it is read at.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The window asked for, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// First instant.
    pub from: f64,
    /// Last instant.
    pub to: f64,
}

/// Why a window cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WindowError {
    /// `--from`/`--to` is not a time.
    #[error(
        "{flag} `{value}` is not a time; write RFC 3339 (`2024-05-01T00:00:00Z`, or `2024-05-01 00:00:00` for UTC) or Unix seconds"
    )]
    BadTime {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
    },
    /// The window is empty or reversed.
    #[error("the window {from} to {to} is empty; --to must be later than --from")]
    Empty {
        /// `--from` as given.
        from: String,
        /// `--to` as given.
        to: String,
    },
    /// Only one of `--from` and `--to`.
    #[error("--from and --to go together; give both, or --last DURATION")]
    HalfOpen,
    /// `--last 0s`.
    #[error("--last must be longer than 0s, e.g. `--last 14d`")]
    ZeroLast,
}

impl Window {
    /// The window from the flags: `--from`/`--to`, else the `last` before `now`.
    pub fn from_flags(
        last: Duration,
        from: Option<&str>,
        to: Option<&str>,
        now: SystemTime,
    ) -> Result<Window, WindowError> {
        match (from, to) {
            (Some(f), Some(t)) => {
                let window = Window {
                    from: parse_time("--from", f)?,
                    to: parse_time("--to", t)?,
                };
                if window.to <= window.from {
                    return Err(WindowError::Empty {
                        from: f.into(),
                        to: t.into(),
                    });
                }
                Ok(window)
            }
            (None, None) => {
                if last.is_zero() {
                    return Err(WindowError::ZeroLast);
                }
                let to = unix(now);
                Ok(Window {
                    from: to - last.as_secs_f64(),
                    to,
                })
            }
            _ => Err(WindowError::HalfOpen),
        }
    }

    /// Its length.
    pub fn length(&self) -> Duration {
        Duration::from_secs_f64((self.to - self.from).max(0.0))
    }
}

/// An RFC 3339 time (a space for the `T` and no offset mean UTC) or Unix seconds.
pub fn parse_time(flag: &'static str, text: &str) -> Result<f64, WindowError> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Ok(seconds);
    }
    humantime::parse_rfc3339_weak(text)
        .map(unix)
        .map_err(|_| WindowError::BadTime {
            flag,
            value: text.into(),
        })
}

/// `t` as Unix seconds.
fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Unix seconds as `2024-05-01 00:00 UTC` (seconds shown only when not whole minutes).
pub fn format_time(t: f64) -> String {
    let Some(at) = UNIX_EPOCH.checked_add(Duration::from_secs_f64(t.max(0.0))) else {
        return format!("{t} (Unix seconds)");
    };
    let text = humantime::format_rfc3339_seconds(at).to_string();
    // `2024-05-01T00:00:00Z`
    let (date, time) = text.split_once('T').unwrap_or((&text, ""));
    let time = time.trim_end_matches('Z');
    let time = time.strip_suffix(":00").unwrap_or(time);
    format!("{date} {time} UTC")
}

/// Instants `start + k * step`, `k = 0 .. points`: where range queries are evaluated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    /// First instant, Unix seconds (a multiple of `step`).
    pub start: f64,
    /// Seconds between instants: the target's interval.
    pub step: f64,
    /// How many instants.
    pub points: usize,
}

impl Grid {
    /// The step-aligned instants of `history` ending at `end`, exactly those the
    /// controller's chunked range queries ask for
    /// ([`crate::metrics::prometheus::plan_chunks`]).
    pub fn ending_at(end: f64, history: Duration, step: Duration) -> Grid {
        let step_s = step.as_secs_f64();
        let last = (end / step_s).floor();
        let steps = (history.as_secs_f64() / step_s).floor();
        Grid {
            start: (last - steps) * step_s,
            step: step_s,
            points: steps as usize + 1,
        }
    }

    /// The instant of point `k`.
    pub fn time(&self, k: usize) -> f64 {
        self.start + k as f64 * self.step
    }

    /// The point at `t`, if `t` is (within rounding) one of the instants.
    pub fn index(&self, t: f64) -> Option<usize> {
        let k = ((t - self.start) / self.step).round();
        let on_grid = (self.start + k * self.step - t).abs() < 1e-3;
        (k >= 0.0 && (k as usize) < self.points && on_grid).then_some(k as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::prometheus::{MAX_POINTS_PER_QUERY, plan_chunks};

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        assert_eq!(parse_time("--from", "1704067200"), Ok(1_704_067_200.0));
        assert_eq!(
            parse_time("--from", "2024-01-01T00:00:00Z"),
            Ok(1_704_067_200.0)
        );
        assert_eq!(
            parse_time("--from", "2024-01-01 01:00:00"),
            Ok(1_704_070_800.0)
        );
        let e = parse_time("--to", "yesterday").unwrap_err();
        assert!(e.to_string().contains("--to `yesterday`"), "{e}");
        assert_eq!(format_time(1_704_070_800.0), "2024-01-01 01:00 UTC");
        assert_eq!(format_time(1_704_070_805.0), "2024-01-01 01:00:05 UTC");
    }

    #[test]
    fn the_window_comes_from_last_or_from_and_to() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let w = Window::from_flags(Duration::from_secs(86_400), None, None, now).unwrap();
        assert_eq!((w.from, w.to), (913_600.0, 1_000_000.0));
        let w = Window::from_flags(Duration::ZERO, Some("100"), Some("200"), now).unwrap();
        assert_eq!((w.from, w.to), (100.0, 200.0));
        assert_eq!(
            Window::from_flags(Duration::ZERO, Some("100"), None, now),
            Err(WindowError::HalfOpen)
        );
        assert!(matches!(
            Window::from_flags(Duration::ZERO, Some("200"), Some("100"), now),
            Err(WindowError::Empty { .. })
        ));
        assert_eq!(
            Window::from_flags(Duration::ZERO, None, None, now),
            Err(WindowError::ZeroLast)
        );
    }

    #[test]
    fn the_grid_is_the_instants_the_chunked_range_queries_return() {
        let step = Duration::from_secs(15);
        let history = Duration::from_secs(3 * 86_400 + 7);
        let end = 1_700_000_011.0;
        let grid = Grid::ending_at(end, history, step);
        let chunks = plan_chunks(end, history, step, MAX_POINTS_PER_QUERY);
        assert_eq!(grid.start, chunks[0].0);
        assert_eq!(grid.time(grid.points - 1), chunks.last().unwrap().1);
        assert_eq!(grid.index(grid.start + 30.0), Some(2));
        assert_eq!(grid.index(grid.start + 31.0), None);
        assert_eq!(grid.index(grid.start - 15.0), None);
    }
}
