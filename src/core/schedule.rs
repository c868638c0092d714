//! Which scheduled windows (`schedules:`, KEDA's cron scaler) are in force at an
//! observation's time, and the replica bounds they set. Pure: the time is `obs.t`, read as
//! Unix seconds (the controller's clock; the simulator's traces start at 0, so there a
//! window's times are relative to 1970-01-01T00:00 UTC, a Thursday).

use super::Reason;
use crate::config::{Schedule, TargetConfig};
use jiff::{Timestamp, Zoned};

/// The bounds on replicas at one time: the target's own, narrowed by the windows in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Replicas at least.
    pub min: u32,
    /// Replicas at most (never below `min`).
    pub max: u32,
}

/// The bounds at time `t` (Unix seconds), with a [`Reason::Schedule`] pushed for every
/// window in force. A window's floor holds from `lead` seconds before its start (the pods
/// take that long to be ready) until its end; its ceiling from its start to its end. The
/// highest floor and the lowest ceiling win; a floor above a ceiling wins over it; the
/// target's own `minReplicas`/`maxReplicas` apply last.
pub fn bounds_at(config: &TargetConfig, t: f64, lead: f64, reasons: &mut Vec<Reason>) -> Bounds {
    let mut floor = config.min_replicas;
    let mut ceiling = config.max_replicas.max(config.min_replicas);
    for window in &config.schedules {
        let min = window.min_replicas.filter(|_| in_force(window, t, lead));
        let max = window.max_replicas.filter(|_| in_force(window, t, 0.0));
        if min.is_none() && max.is_none() {
            continue;
        }
        floor = floor.max(min.unwrap_or(0));
        ceiling = ceiling.min(max.unwrap_or(u32::MAX));
        reasons.push(Reason::Schedule {
            name: window.name.clone(),
            min,
            max,
        });
    }
    let max = config.max_replicas.max(config.min_replicas);
    let min = floor.min(max);
    Bounds {
        min,
        max: ceiling.max(min).max(config.min_replicas).min(max),
    }
}

/// Whether `window` is on at `t + ahead`, or started at most `ahead` seconds after `t`: the
/// latest start at or before `t + ahead` ends last, so it alone decides.
pub fn in_force(window: &Schedule, t: f64, ahead: f64) -> bool {
    let Some(at) = zoned(t + ahead.max(0.0), window) else {
        return false;
    };
    // No start found within croner's search limit (a date that never comes): never on.
    let Ok(start) = window.cron.find_previous_occurrence(&at, true) else {
        return false;
    };
    let end = start.timestamp().as_second() as f64 + window.duration.as_secs_f64();
    t < end
}

/// `t` (Unix seconds) in the window's time zone; `None` outside jiff's range.
fn zoned(t: f64, window: &Schedule) -> Option<Zoned> {
    if !t.is_finite() {
        return None;
    }
    let seconds = t.floor();
    let nanos = ((t - seconds) * 1e9) as i32;
    let ts = Timestamp::new(seconds as i64, nanos.clamp(0, 999_999_999)).ok()?;
    Some(ts.to_zoned(window.timezone.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn window(cron: &str, tz: &str, hours: u64, min: Option<u32>, max: Option<u32>) -> Schedule {
        Schedule {
            name: "nightly".into(),
            cron: Schedule::parse_cron(cron).unwrap(),
            cron_text: cron.into(),
            timezone: jiff::tz::TimeZone::get(tz).unwrap(),
            timezone_name: tz.into(),
            duration: Duration::from_secs(hours * 3600),
            min_replicas: min,
            max_replicas: max,
        }
    }

    /// Unix seconds of an RFC 3339 instant.
    fn at(text: &str) -> f64 {
        text.parse::<Timestamp>().unwrap().as_second() as f64
    }

    #[test]
    fn a_window_is_on_from_its_start_for_its_duration() {
        let w = window("0 2 * * *", "UTC", 2, Some(5), None);
        assert!(!in_force(&w, at("2026-06-10T01:59:59Z"), 0.0));
        assert!(in_force(&w, at("2026-06-10T02:00:00Z"), 0.0));
        assert!(in_force(&w, at("2026-06-10T03:59:59Z"), 0.0));
        assert!(!in_force(&w, at("2026-06-10T04:00:00Z"), 0.0));
        // Looking ahead by the lead time: on 90 s before the start, not 91 s.
        assert!(in_force(&w, at("2026-06-10T01:58:30Z"), 90.0));
        assert!(!in_force(&w, at("2026-06-10T01:58:29Z"), 90.0));
        // Every day, not only once.
        assert!(in_force(&w, at("2026-06-11T02:30:00Z"), 0.0));
    }

    #[test]
    fn the_start_is_the_wall_clock_time_in_the_zone_across_daylight_saving_changes() {
        let w = window("0 2 * * *", "Europe/Berlin", 2, Some(5), None);
        // Winter (CET, UTC+1): 02:00 Berlin is 01:00 UTC.
        assert!(!in_force(&w, at("2026-03-28T00:59:00Z"), 0.0));
        assert!(in_force(&w, at("2026-03-28T01:00:00Z"), 0.0));
        // The last Sunday of March (2026-03-29) skips 02:00-03:00: the window starts when
        // the clock jumps, at 03:00 CEST (01:00 UTC), and lasts its two hours.
        assert!(!in_force(&w, at("2026-03-29T00:59:00Z"), 0.0));
        assert!(in_force(&w, at("2026-03-29T01:00:00Z"), 0.0));
        assert!(in_force(&w, at("2026-03-29T02:59:00Z"), 0.0));
        assert!(!in_force(&w, at("2026-03-29T03:00:00Z"), 0.0));
        // Summer (CEST, UTC+2): 02:00 Berlin is 00:00 UTC.
        assert!(!in_force(&w, at("2026-03-30T23:59:00Z"), 0.0));
        assert!(in_force(&w, at("2026-03-31T00:00:00Z"), 0.0));
        assert!(!in_force(&w, at("2026-03-31T02:00:00Z"), 0.0));
        // The last Sunday of October (2026-10-25) has 02:00 twice: the window starts at the
        // first (00:00 UTC) and starts only once, so it ends two hours later.
        assert!(!in_force(&w, at("2026-10-24T23:59:00Z"), 0.0));
        assert!(in_force(&w, at("2026-10-25T00:00:00Z"), 0.0));
        assert!(in_force(&w, at("2026-10-25T01:59:00Z"), 0.0));
        assert!(!in_force(&w, at("2026-10-25T02:00:00Z"), 0.0));
        // Winter again: 01:00 UTC.
        assert!(!in_force(&w, at("2026-10-26T00:59:00Z"), 0.0));
        assert!(in_force(&w, at("2026-10-26T01:00:00Z"), 0.0));
    }

    #[test]
    fn the_highest_floor_and_the_lowest_ceiling_win_within_the_targets_bounds() {
        let mut config = TargetConfig {
            min_replicas: 2,
            max_replicas: 40,
            ..TargetConfig::default()
        };
        let mut batch = window("0 2 * * *", "UTC", 2, Some(10), None);
        batch.name = "batch".into();
        let mut launch = window("0 1 * * *", "UTC", 3, Some(20), Some(30));
        launch.name = "launch".into();
        let mut quiet = window("0 3 * * *", "UTC", 1, None, Some(25));
        quiet.name = "quiet".into();
        config.schedules = vec![batch, launch, quiet];
        let mut reasons = Vec::new();
        let b = bounds_at(&config, at("2026-06-10T03:30:00Z"), 0.0, &mut reasons);
        assert_eq!(b, Bounds { min: 20, max: 25 });
        let names: Vec<_> = reasons
            .iter()
            .map(|r| match r {
                Reason::Schedule { name, .. } => name.as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(names, ["batch", "launch", "quiet"]);
        // Outside every window: the target's own bounds, no reason.
        reasons.clear();
        let b = bounds_at(&config, at("2026-06-10T12:00:00Z"), 0.0, &mut reasons);
        assert_eq!(b, Bounds { min: 2, max: 40 });
        assert!(reasons.is_empty());
    }

    #[test]
    fn a_floor_above_a_ceiling_wins_and_the_targets_max_still_applies() {
        let mut config = TargetConfig {
            min_replicas: 1,
            max_replicas: 12,
            ..TargetConfig::default()
        };
        let floor = window("0 2 * * *", "UTC", 2, Some(12), None);
        let mut cap = window("0 2 * * *", "UTC", 2, None, Some(4));
        cap.name = "cap".into();
        config.schedules = vec![floor, cap];
        let b = bounds_at(&config, at("2026-06-10T02:10:00Z"), 0.0, &mut Vec::new());
        assert_eq!(b, Bounds { min: 12, max: 12 });
    }

    #[test]
    fn the_simulators_time_zero_is_the_unix_epoch() {
        // 1970-01-01 was a Thursday: a Thursday 00:00 window is on at the trace's start.
        let w = window("0 0 * * THU", "UTC", 1, Some(3), None);
        assert!(in_force(&w, 0.0, 0.0));
        assert!(!in_force(&w, 3600.0, 0.0));
    }
}
