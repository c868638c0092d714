//! The body of `GET /report` (what `prescale report --json` prints), and the one-line
//! verdict: "prescale: 31 % fewer replica-hours, late 0.0 % (what ran: 0.4 %)".

use super::{ScheduleTotals, Window};
use crate::config::Mode;

/// The whole report: every target over one window.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveReport {
    /// When the report was made, Unix seconds.
    pub generated_at: f64,
    /// The window asked for (`24h`), or `None` for everything since each target started.
    pub since: Option<String>,
    /// Whether the instance that answered holds the leader Lease. Every instance models
    /// every target; only the leader exports the `prescale_report_*` counters.
    pub leader: bool,
    /// The longest `since` this controller can answer, seconds.
    pub retention_seconds: f64,
    /// One entry per target, by name.
    pub targets: Vec<TargetSummary>,
}

/// One schedule's numbers over the window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSummary {
    /// Replica-hours paid for, starting pods included.
    pub replica_hours: f64,
    /// Documents whose wait is settled.
    pub documents: f64,
    /// Of those, documents that waited longer than the SLO.
    pub late_documents: f64,
    /// `late_documents / documents`; `None` before any document is settled.
    pub late_fraction: Option<f64>,
}

impl From<&ScheduleTotals> for ScheduleSummary {
    fn from(t: &ScheduleTotals) -> Self {
        ScheduleSummary {
            replica_hours: t.replica_seconds / 3600.0,
            documents: t.documents,
            late_documents: t.late_documents,
            late_fraction: t.late_fraction(),
        }
    }
}

/// One target's numbers over the window.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSummary {
    /// Target name.
    pub target: String,
    /// The Deployment's namespace.
    pub namespace: String,
    /// The Deployment's name.
    pub deployment: String,
    /// `shadow` or `active`.
    pub mode: Mode,
    /// Start of the window for this target, Unix seconds (`None` before its first tick).
    pub window_start: Option<f64>,
    /// Seconds in which both schedules were modelled.
    pub modelled_seconds: f64,
    /// Seconds not modelled (no arrivals known, or too long between ticks).
    pub unmodelled_seconds: f64,
    /// What ran.
    pub actual: ScheduleSummary,
    /// What prescale recommends.
    pub recommended: ScheduleSummary,
    /// `recommended / actual - 1` of the replica-hours (-0.31: 31 % fewer); `None` when
    /// nothing ran.
    pub replica_hours_change: Option<f64>,
    /// The one-line verdict.
    pub verdict: String,
}

impl TargetSummary {
    /// The summary of `window` (or of nothing yet) for a target.
    pub fn new(
        target: &str,
        namespace: &str,
        deployment: &str,
        mode: Mode,
        window: Option<&Window>,
    ) -> Self {
        let totals = window.map(|w| w.totals).unwrap_or_default();
        let actual = ScheduleSummary::from(&totals.actual);
        let recommended = ScheduleSummary::from(&totals.recommended);
        let replica_hours_change = (actual.replica_hours > 0.0)
            .then(|| recommended.replica_hours / actual.replica_hours - 1.0);
        let verdict = verdict(
            totals.modelled_seconds,
            replica_hours_change,
            &actual,
            &recommended,
        );
        TargetSummary {
            target: target.to_string(),
            namespace: namespace.to_string(),
            deployment: deployment.to_string(),
            mode,
            window_start: window.map(|w| w.start),
            modelled_seconds: totals.modelled_seconds,
            unmodelled_seconds: totals.unmodelled_seconds,
            actual,
            recommended,
            replica_hours_change,
            verdict,
        }
    }
}

/// A late fraction as a percentage with one decimal; small non-zero fractions keep two
/// decimals so that "some" never reads as "none".
pub fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p == 0.0 || p >= 0.1 {
        format!("{p:.1} %")
    } else if p >= 0.01 {
        format!("{p:.2} %")
    } else {
        "< 0.01 %".to_string()
    }
}

/// "prescale: 31 % fewer replica-hours, late 0.0 % (what ran: 0.4 %)".
pub fn verdict(
    modelled_seconds: f64,
    replica_hours_change: Option<f64>,
    actual: &ScheduleSummary,
    recommended: &ScheduleSummary,
) -> String {
    if modelled_seconds <= 0.0 {
        return "prescale: nothing modelled yet (needs two ticks with arrivals known)".into();
    }
    let cost = match replica_hours_change {
        None => format!("{:.1} replica-hours (none ran)", recommended.replica_hours),
        Some(c) if (c * 100.0).abs() < 0.5 => "the same replica-hours".into(),
        Some(c) if c < 0.0 => format!("{:.0} % fewer replica-hours", -c * 100.0),
        Some(c) => format!("{:.0} % more replica-hours", c * 100.0),
    };
    let late = match (recommended.late_fraction, actual.late_fraction) {
        (Some(r), Some(a)) => format!("late {} (what ran: {})", percent(r), percent(a)),
        _ => "no document settled yet".into(),
    };
    format!("prescale: {cost}, {late}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live_report::Totals;

    fn schedule(hours: f64, documents: f64, late: f64) -> ScheduleSummary {
        ScheduleSummary::from(&ScheduleTotals {
            replica_seconds: hours * 3600.0,
            documents,
            late_documents: late,
        })
    }

    #[test]
    fn the_verdict_reads_like_the_backtests() {
        let actual = schedule(100.0, 1000.0, 4.0);
        let recommended = schedule(69.0, 1000.0, 0.0);
        assert_eq!(
            verdict(3600.0, Some(-0.31), &actual, &recommended),
            "prescale: 31 % fewer replica-hours, late 0.0 % (what ran: 0.4 %)"
        );
        assert_eq!(
            verdict(3600.0, Some(0.12), &actual, &schedule(112.0, 1000.0, 0.0)),
            "prescale: 12 % more replica-hours, late 0.0 % (what ran: 0.4 %)"
        );
        assert_eq!(
            verdict(3600.0, Some(0.001), &actual, &actual),
            "prescale: the same replica-hours, late 0.4 % (what ran: 0.4 %)"
        );
    }

    #[test]
    fn the_verdict_says_when_there_is_nothing_to_compare_yet() {
        let empty = schedule(0.0, 0.0, 0.0);
        assert!(verdict(0.0, None, &empty, &empty).contains("nothing modelled yet"));
        assert_eq!(
            verdict(
                15.0,
                Some(0.0),
                &schedule(1.0, 0.0, 0.0),
                &schedule(1.0, 0.0, 0.0)
            ),
            "prescale: the same replica-hours, no document settled yet"
        );
    }

    #[test]
    fn small_late_fractions_are_never_shown_as_zero() {
        assert_eq!(percent(0.0), "0.0 %");
        assert_eq!(percent(0.004), "0.4 %");
        assert_eq!(percent(0.0004), "0.04 %");
        assert_eq!(percent(0.000_001), "< 0.01 %");
    }

    #[test]
    fn the_summary_computes_hours_fractions_and_the_change() {
        let window = Window {
            start: 10.0,
            totals: Totals {
                actual: ScheduleTotals {
                    replica_seconds: 7200.0,
                    documents: 100.0,
                    late_documents: 2.0,
                },
                recommended: ScheduleTotals {
                    replica_seconds: 3600.0,
                    documents: 100.0,
                    late_documents: 0.0,
                },
                modelled_seconds: 3600.0,
                unmodelled_seconds: 5.0,
            },
        };
        let s = TargetSummary::new("t", "ns", "d", Mode::Shadow, Some(&window));
        assert_eq!(s.actual.replica_hours, 2.0);
        assert_eq!(s.replica_hours_change, Some(-0.5));
        assert_eq!(s.actual.late_fraction, Some(0.02));
        assert_eq!(s.window_start, Some(10.0));
        assert_eq!(
            s.verdict,
            "prescale: 50 % fewer replica-hours, late 0.0 % (what ran: 2.0 %)"
        );
    }
}
