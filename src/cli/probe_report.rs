//! What `prescale probe` found, and how it is printed.

use crate::metrics::{MetricError, MetricKind};
use serde::Serialize;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// Everything `prescale probe` found.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// One entry per probed target.
    pub targets: Vec<TargetProbe>,
}

/// One target's metrics and history.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetProbe {
    /// The target's name.
    pub name: String,
    /// Its interval, seconds.
    pub interval_s: f64,
    /// Each configured metric.
    pub metrics: Vec<MetricProbe>,
    /// What the arrival-rate backfill found.
    pub backfill: BackfillProbe,
}

/// One metric evaluated once.
#[derive(Debug, Clone, Serialize)]
pub struct MetricProbe {
    /// Which metric.
    pub metric: MetricKind,
    /// Where it comes from, as configured.
    pub source: String,
    /// The value, when it could be read.
    pub value: Option<f64>,
    /// The series seen, as `name{labels} value`.
    pub series: Vec<String>,
    /// Warnings the source attached.
    pub warnings: Vec<String>,
    /// Why there is no value.
    pub error: Option<ProbeError>,
}

/// A failure, with its stable reason label and its message (which says what to fix).
#[derive(Debug, Clone, Serialize)]
pub struct ProbeError {
    /// The `reason` label it is counted under.
    pub reason: &'static str,
    /// What went wrong and what to do.
    pub message: String,
}

impl From<&MetricError> for ProbeError {
    fn from(e: &MetricError) -> Self {
        Self {
            reason: e.reason(),
            message: e.to_string(),
        }
    }
}

/// What the backfill found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillProbe {
    /// History asked for (`forecast.history`), seconds.
    pub requested_s: f64,
    /// Samples found.
    pub samples: usize,
    /// Oldest sample, Unix seconds.
    pub first: Option<f64>,
    /// Newest sample, Unix seconds.
    pub last: Option<f64>,
    /// Why none could be fetched.
    pub error: Option<ProbeError>,
    /// Why there is nothing to fetch (scraped or disabled), if so.
    pub note: Option<String>,
}

impl ProbeReport {
    /// Metrics (and backfills) that failed.
    pub fn failures(&self) -> usize {
        self.targets
            .iter()
            .map(|t| {
                t.metrics.iter().filter(|m| m.error.is_some()).count()
                    + usize::from(t.backfill.error.is_some())
            })
            .sum()
    }

    /// The report as text for a person tuning queries.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for target in &self.targets {
            let _ = writeln!(
                out,
                "target {} (interval {})",
                target.name,
                humantime::format_duration(Duration::from_secs_f64(target.interval_s))
            );
            if target.metrics.is_empty() {
                let _ = writeln!(out, "  no metrics configured");
            }
            for m in &target.metrics {
                let _ = writeln!(out, "  {}: {}", m.metric, m.source);
                match (&m.value, &m.error) {
                    (Some(v), _) => {
                        let _ = writeln!(out, "    value: {v}");
                    }
                    (None, Some(e)) => {
                        let _ = writeln!(out, "    ERROR [{}]: {}", e.reason, e.message);
                    }
                    (None, None) => {}
                }
                for s in &m.series {
                    let _ = writeln!(out, "    series: {s}");
                }
                for w in &m.warnings {
                    let _ = writeln!(out, "    warning: {w}");
                }
            }
            let _ = writeln!(out, "  backfill: {}", target.backfill.summary());
        }
        out
    }
}

impl BackfillProbe {
    fn summary(&self) -> String {
        let requested = humantime::format_duration(Duration::from_secs(self.requested_s as u64));
        if let Some(e) = &self.error {
            return format!("ERROR [{}]: {}", e.reason, e.message);
        }
        if let Some(note) = &self.note {
            return note.clone();
        }
        match (self.first, self.last) {
            (Some(first), Some(last)) => format!(
                "{} samples from {} to {} ({} of the {requested} asked for)",
                self.samples,
                timestamp(first),
                timestamp(last),
                humantime::format_duration(Duration::from_secs((last - first).max(0.0) as u64)),
            ),
            _ => format!(
                "no history in the last {requested}: the forecast starts cold (check the arrival-rate query over a past range in Prometheus)"
            ),
        }
    }
}

fn timestamp(unix_s: f64) -> String {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(unix_s.max(0.0));
    humantime::format_rfc3339_seconds(t).to_string()
}
