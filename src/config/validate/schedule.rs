//! `schedules:`: scheduled windows (KEDA's cron scaler), merged and checked: a 5-field cron
//! expression, a known IANA time zone, a positive duration, bounds that fit the target's.

use super::context::{Cx, DurationRule, Picked};
use super::layers::Layers;
use crate::config::Schedule;
use crate::config::locate::join;
use crate::config::raw::RawSchedule;
use std::collections::HashMap;

/// The target's `minReplicas..=maxReplicas` when valid, and whether the target set either.
pub struct TargetRange {
    /// Lower bound.
    pub min: u32,
    /// Upper bound.
    pub max: u32,
    /// Whether the target wrote either bound itself.
    pub own: bool,
}

/// The effective `schedules` (the target's own list, else the inherited one): each window
/// checked on its own, then against the target's bounds when those are valid.
pub fn resolve_schedules(
    layers: &Layers<'_>,
    range: Option<TargetRange>,
    cx: &mut Cx<'_>,
) -> Vec<Schedule> {
    let Some(picked) = layers.pick("schedules", |s| s.schedules.as_ref()) else {
        return Vec::new();
    };
    let own = layers.is_own(&picked.path);
    // Windows inherited from `defaults:` are checked on their own once, for `defaults:`.
    let report = layers.concerns(own);
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut windows = Vec::new();
    for (index, raw) in picked.value.iter().enumerate() {
        let path = format!("{}[{index}]", picked.path);
        let mut local = Cx::new(cx.positions());
        let window = resolve_window(raw, &path, &mut local);
        if let Some(first) = names.insert(raw.name.as_str(), index) {
            let first_at = local.at(&format!("{}[{first}].name", picked.path));
            local.error(
                &join(&path, "name"),
                format!(
                    "duplicate window name \"{}\", first used at {first_at}",
                    raw.name
                ),
                "give each window of a target a unique name",
            );
        }
        if let (Some(window), Some(range)) = (&window, &range)
            && layers.concerns(own || range.own)
        {
            check_against_target(window, &path, range, &layers.whose(), cx);
        }
        if report {
            cx.absorb(local);
        }
        windows.extend(window);
    }
    windows
}

fn resolve_window(raw: &RawSchedule, path: &str, cx: &mut Cx<'_>) -> Option<Schedule> {
    let name_ok = check_name(&raw.name, &join(path, "name"), cx);
    let cron = match Schedule::parse_cron(&raw.cron) {
        Ok(cron) if never_starts(&cron) => {
            cx.error(
                &join(path, "cron"),
                format!(
                    "`{}` names a date that never comes (e.g. 30 February)",
                    raw.cron
                ),
                "check the day-of-month and month fields, e.g. `0 9 15 6 *` for 09:00 on 15 June",
            );
            None
        }
        Ok(cron) => Some(cron),
        Err(error) => {
            cx.error(
                &join(path, "cron"),
                format!("`{}` is not a valid 5-field cron expression ({error})", raw.cron),
                "write minute hour day-of-month month day-of-week, e.g. `0 2 * * *` for 02:00 every day",
            );
            None
        }
    };
    let timezone_name = raw.timezone.clone().unwrap_or_else(|| "UTC".to_owned());
    let timezone = match jiff::tz::TimeZone::get(&timezone_name) {
        Ok(tz) => Some(tz),
        Err(_) => {
            cx.error(
                &join(path, "timezone"),
                format!("unknown time zone `{timezone_name}`"),
                "write an IANA time zone name, e.g. `Europe/Berlin`, `America/New_York` or `UTC`",
            );
            None
        }
    };
    let duration_path = join(path, "duration");
    let duration = cx.duration(
        &Picked::new(&raw.duration, duration_path),
        DurationRule::POSITIVE,
    );
    let bounds_ok = check_bounds(raw, path, cx);
    Some(Schedule {
        name: raw.name.clone(),
        cron: cron?,
        cron_text: raw.cron.clone(),
        timezone: timezone?,
        timezone_name,
        duration: duration?,
        min_replicas: raw.min_replicas,
        max_replicas: raw.max_replicas,
    })
    .filter(|_| name_ok && bounds_ok)
}

/// Whether `cron` has no start at all: croner gives up after searching a few years.
fn never_starts(cron: &croner::Cron) -> bool {
    let epoch = jiff::Timestamp::UNIX_EPOCH.to_zoned(jiff::tz::TimeZone::UTC);
    cron.find_next_occurrence(&epoch, false).is_err()
}

/// A name that reads well in a metric label: letters, digits, `-`, `_` and `.`.
fn check_name(name: &str, path: &str, cx: &mut Cx<'_>) -> bool {
    let fine = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !fine {
        cx.error(
            path,
            format!("`{name}` is not a window name"),
            "write 1 to 63 letters, digits, `-`, `_` or `.`, e.g. `nightly-batch`",
        );
    }
    fine
}

/// At least one bound, and min not above max.
fn check_bounds(raw: &RawSchedule, path: &str, cx: &mut Cx<'_>) -> bool {
    match (raw.min_replicas, raw.max_replicas) {
        (None, None) => {
            cx.error(
                path,
                format!("window \"{}\" sets neither minReplicas nor maxReplicas", raw.name),
                "add `minReplicas: N` (a floor while the window is on) and/or `maxReplicas: N` (a ceiling)",
            );
            false
        }
        (Some(min), Some(max)) if min > max => {
            cx.error(
                &join(path, "minReplicas"),
                format!("minReplicas {min} is greater than the window's maxReplicas {max}"),
                "make the window's minReplicas <= its maxReplicas",
            );
            false
        }
        _ => true,
    }
}

/// A window's bounds must lie within the target's, or they could never apply.
fn check_against_target(
    window: &Schedule,
    path: &str,
    range: &TargetRange,
    whose: &str,
    cx: &mut Cx<'_>,
) {
    if let Some(min) = window.min_replicas
        && min > range.max
    {
        cx.error(
            &join(path, "minReplicas"),
            format!(
                "window \"{}\" asks for at least {min} replicas, above the maxReplicas {} of {whose}",
                window.name, range.max
            ),
            format!(
                "lower the window's minReplicas to at most {}, or raise the target's maxReplicas",
                range.max
            ),
        );
    }
    if let Some(max) = window.max_replicas
        && max < range.min
    {
        cx.error(
            &join(path, "maxReplicas"),
            format!(
                "window \"{}\" caps replicas at {max}, below the minReplicas {} of {whose}",
                window.name, range.min
            ),
            format!(
                "raise the window's maxReplicas to at least {}, or lower the target's minReplicas",
                range.min
            ),
        );
    }
}
