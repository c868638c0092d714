//! The result of one `prescale simulate` run: as one JSON object, or as a table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::evaluate::Results;
use crate::simulate::{BenchParams, Load, Scores, Trace};

const DAY_S: f64 = 86_400.0;

/// Which trace a run used.
#[derive(Debug, Clone, Serialize)]
pub struct TraceLabel {
    /// The file's stem, or `synthetic`.
    pub name: String,
    /// Whether it is the built-in synthetic scenario.
    pub synthetic: bool,
    /// The file, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// How the trace became the bench's load (the names of `bench-reference.json`'s `info`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LoadInfo {
    /// Simulated days.
    pub horizon_days: f64,
    /// Simulated but not scored, days.
    pub warmup_days: f64,
    /// The trace's step, seconds.
    pub step_s: u64,
    /// Ticks simulated.
    pub ticks: usize,
    /// Ticks scored.
    pub scored_ticks: usize,
    /// 99th percentile of the trace's rate, per second.
    pub r99_per_s: f64,
    /// Scale factor applied to the trace.
    pub k: f64,
}

impl LoadInfo {
    /// Describe `load`, made from `trace`.
    pub fn new(trace: &Trace, load: &Load) -> Self {
        LoadInfo {
            horizon_days: load.end_s / DAY_S,
            warmup_days: load.warmup_s / DAY_S,
            step_s: trace.step_s,
            ticks: load.ticks(),
            scored_ticks: load.ticks() - load.first_scored_tick(),
            r99_per_s: load.r99,
            k: load.k,
        }
    }
}

/// Everything `prescale simulate --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The chosen policy (`replay` for a replayed schedule).
    pub policy: String,
    /// Its scores.
    #[serde(flatten)]
    pub scores: Scores,
    /// The replayed schedule's file, for `--replay`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The trace.
    pub trace: TraceLabel,
    /// The bench parameters.
    pub params: BenchParams,
    /// How the trace was scaled and cut.
    pub info: LoadInfo,
    /// The reference policies' scores in the same run, by name.
    pub references: BTreeMap<String, Scores>,
    /// The references in report order (the map above is sorted by name).
    #[serde(skip)]
    pub reference_order: Vec<String>,
}

impl Summary {
    /// Summarise `results`.
    pub fn new(
        trace: TraceLabel,
        params: BenchParams,
        info: LoadInfo,
        results: &Results,
        schedule: Option<String>,
    ) -> Self {
        Summary {
            policy: results.chosen.policy.clone(),
            scores: results.chosen.scores,
            schedule,
            trace,
            params,
            info,
            references: results
                .references
                .iter()
                .map(|(n, e)| (n.as_str().to_string(), e.scores))
                .collect(),
            reference_order: results
                .references
                .iter()
                .map(|(n, _)| n.as_str().to_string())
                .collect(),
        }
    }

    /// One line saying what was simulated.
    pub fn info_line(&self) -> String {
        let i = &self.info;
        let what = if self.trace.synthetic {
            format!("{} (built-in scenario)", self.trace.name)
        } else {
            self.trace.name.clone()
        };
        format!(
            "trace {what}: {:.2} days at {} s steps, {} ticks of {} s, warm-up {:.2} days ({} ticks scored); \
             r99 {:.4}/s scaled by k = {:.6} to {} replicas",
            i.horizon_days,
            i.step_s,
            i.ticks,
            self.params.tick,
            i.warmup_days,
            i.scored_ticks,
            i.r99_per_s,
            i.k,
            self.params.peak_replicas,
        )
    }

    /// The table: the chosen policy first, then the references (the chosen one marked if it
    /// is a reference itself). Aligned text, or Markdown.
    pub fn table(&self, markdown: bool) -> String {
        let mut rows: Vec<(String, Scores)> = Vec::new();
        let chosen_is_reference = self.references.contains_key(&self.policy);
        if !chosen_is_reference {
            rows.push((self.policy.clone(), self.scores));
        }
        for name in &self.reference_order {
            if let Some(scores) = self.references.get(name) {
                let mark = if *name == self.policy { " *" } else { "" };
                rows.push((format!("{name}{mark}"), *scores));
            }
        }
        let header = [
            "policy",
            "late %",
            "p99 wait s",
            "replica-hours",
            "cost vs oracle",
            "scale events",
        ];
        let cells: Vec<[String; 6]> = rows
            .iter()
            .map(|(name, s)| {
                [
                    name.clone(),
                    format!("{:.3}", 100.0 * s.late_fraction),
                    format!("{:.1}", s.p99_wait_s),
                    format!("{:.1}", s.replica_hours),
                    format!("{:.3}", s.cost_vs_oracle),
                    s.scale_events.to_string(),
                ]
            })
            .collect();
        let mut out = String::new();
        if markdown {
            let _ = writeln!(out, "{}\n", self.info_line());
            let _ = writeln!(out, "| {} |", header.join(" | "));
            let _ = writeln!(out, "|---|{}", "---:|".repeat(header.len() - 1));
            for row in &cells {
                let _ = writeln!(out, "| {} |", row.join(" | "));
            }
        } else {
            let _ = writeln!(out, "{}", self.info_line());
            let widths: Vec<usize> = (0..header.len())
                .map(|c| {
                    cells
                        .iter()
                        .map(|r| r[c].len())
                        .chain([header[c].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |row: &[String]| {
                let mut s = format!("{:<w$}", row[0], w = widths[0]);
                for (cell, w) in row.iter().zip(&widths).skip(1) {
                    let _ = write!(s, "  {cell:>w$}");
                }
                s
            };
            let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
            let _ = writeln!(out, "{}", line(&head));
            for (i, row) in cells.iter().enumerate() {
                if i == 1 && !chosen_is_reference {
                    let _ = writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 10));
                }
                let _ = writeln!(out, "{}", line(row));
            }
        }
        if chosen_is_reference {
            let _ = writeln!(out, "* the chosen policy");
        }
        out
    }
}
