//! The text form of a [`LiveReport`], as `GET /report?format=text` serves it and
//! `prescale report` prints it: a line naming the window, then one row per target, aligned
//! like `kubectl top`.

use super::{HOURLY_WINDOW_S, LiveReport, ScheduleSummary, parse_since, percent};
use crate::config::Mode;

const HEADER: [&str; 9] = [
    "TARGET",
    "DEPLOYMENT",
    "MODE",
    "MODELLED",
    "REPLICA-H RAN",
    "REPLICA-H PRESCALE",
    "LATE RAN",
    "LATE PRESCALE",
    "VERDICT",
];

/// A span of seconds as `2d3h`, `23h58m`, `5m3s` or `42s`.
pub fn span(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

/// Replica-hours with the precision their size deserves.
pub fn hours(h: f64) -> String {
    match h.abs() {
        0.0 => "0".to_string(),
        x if x >= 100.0 => format!("{h:.0}"),
        x if x >= 10.0 => format!("{h:.1}"),
        x if x >= 1.0 => format!("{h:.2}"),
        _ => format!("{h:.4}"),
    }
}

fn late(s: &ScheduleSummary) -> String {
    s.late_fraction.map_or_else(|| "-".to_string(), percent)
}

/// The text report.
pub fn render(report: &LiveReport) -> String {
    let window = match &report.since {
        Some(since) if parse_since(since).is_ok_and(|s| s > HOURLY_WINDOW_S) => {
            format!("last {since} (six-hour totals before the last day: up to six hours more)")
        }
        Some(since) => format!("last {since} (hourly totals: up to an hour more)"),
        None => "since each target started on this instance".to_string(),
    };
    let who = if report.leader {
        "the leader"
    } else {
        "a stand-by instance (its own model of the same ticks)"
    };
    let mut out = format!("Window: {window}; answered by {who}.\n");
    if report.targets.is_empty() {
        out.push_str("No targets.\n");
        return out;
    }
    let rows: Vec<[String; 9]> = report
        .targets
        .iter()
        .map(|t| {
            [
                t.target.clone(),
                format!("{}/{}", t.namespace, t.deployment),
                match t.mode {
                    Mode::Shadow => "shadow".into(),
                    Mode::Active => "active".into(),
                },
                span(t.modelled_seconds),
                hours(t.actual.replica_hours),
                hours(t.recommended.replica_hours),
                late(&t.actual),
                late(&t.recommended),
                t.verdict.clone(),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&HEADER.map(String::from));
    for row in &rows {
        line(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live_report::{ScheduleTotals, TargetSummary, Totals, Window};

    #[test]
    fn spans_read_like_kubectl_ages() {
        assert_eq!(span(0.2), "0s");
        assert_eq!(span(42.0), "42s");
        assert_eq!(span(303.0), "5m3s");
        assert_eq!(span(86_280.0), "23h58m");
        assert_eq!(span(2.0 * 86_400.0 + 3.0 * 3600.0 + 10.0), "2d3h");
    }

    #[test]
    fn one_aligned_row_per_target_with_its_verdict() {
        let window = Window {
            start: 0.0,
            totals: Totals {
                actual: ScheduleTotals {
                    replica_seconds: 100.0 * 3600.0,
                    documents: 1000.0,
                    late_documents: 4.0,
                },
                recommended: ScheduleTotals {
                    replica_seconds: 69.0 * 3600.0,
                    documents: 1000.0,
                    late_documents: 0.0,
                },
                modelled_seconds: 86_400.0,
                unmodelled_seconds: 0.0,
            },
        };
        let report = LiveReport {
            generated_at: 0.0,
            since: Some("24h".into()),
            leader: true,
            retention_seconds: 0.0,
            targets: vec![
                TargetSummary::new("docs", "shop", "docs", Mode::Shadow, Some(&window)),
                TargetSummary::new("ocr-long-name", "shop", "ocr", Mode::Active, None),
            ],
        };
        let text = render(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Window: last 24h (hourly totals: up to an hour more); answered by the leader."
        );
        assert!(lines[1].starts_with("TARGET         DEPLOYMENT  MODE    MODELLED"));
        assert!(
            lines[2].starts_with("docs           shop/docs   shadow  1d0h      100            69.0")
                && lines[2].ends_with(
                    "0.4 %     0.0 %          prescale: 31 % fewer replica-hours, late 0.0 % (what ran: 0.4 %)"
                ),
            "{text}"
        );
        assert!(
            lines[3].starts_with("ocr-long-name  shop/ocr    active  0s        0              0                   -         -  "),
            "{text}"
        );
    }

    #[test]
    fn a_window_past_a_day_says_it_may_start_up_to_six_hours_early() {
        let report = |since: &str| LiveReport {
            generated_at: 0.0,
            since: Some(since.into()),
            leader: true,
            retention_seconds: 0.0,
            targets: Vec::new(),
        };
        assert!(
            render(&report("1d"))
                .starts_with("Window: last 1d (hourly totals: up to an hour more)")
        );
        assert!(render(&report("25h")).starts_with(
            "Window: last 25h (six-hour totals before the last day: up to six hours more)"
        ));
    }
}
