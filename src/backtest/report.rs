//! What `prescale backtest` prints for a target: the scores of the three schedules, the
//! model it used, the verdict and the notes, as text or JSON; and the decisions CSV.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::config::{TargetConfig, format_duration};
use crate::core::Reason;
use crate::simulate::{Evaluation, Scores};

use super::prepare::{Coverage, Prepared, WhatRan};
use super::replay::Learned;
use super::score::{Outcome, WaitCheck};
use super::verdict::{change_pct, verdict};
use super::window::format_time;

/// Where a model parameter came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// Learned from the history, as the controller learns it.
    Learned,
    /// The target's config.
    Configured,
}

impl Source {
    fn describe(self, flag: &str) -> String {
        match self {
            Source::Flag => flag.to_string(),
            Source::Learned => "learned from the history".into(),
            Source::Configured => "configured".into(),
        }
    }
}

/// The model's parameters for a target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelReport {
    /// Documents/s one ready replica serves.
    pub capacity_per_replica: f64,
    /// Where that came from.
    pub capacity_source: Source,
    /// What the shadow pass over the history learned, whichever capacity is used (the
    /// configured hint when there was nothing to learn from).
    pub learned_capacity_per_replica: f64,
    /// Saturated instants the capacity was measured on (0: a lower bound, or not learned).
    pub saturated_samples: usize,
    /// From a scale-up until the new pods are ready, seconds.
    pub startup_s: f64,
    /// Where that came from.
    pub startup_source: Source,
    /// Queue-wait SLO, seconds.
    pub slo_s: f64,
    /// Pods at the first decision.
    pub start_pods: u32,
    /// Documents waiting at the first decision.
    pub start_backlog: f64,
}

/// One schedule's scores, and its replica-hours against what ran.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScheduleReport {
    /// The scores (BENCH.md's, over the scored ticks).
    #[serde(flatten)]
    pub scores: Scores,
    /// `100 * (hours - hours(what ran)) / hours(what ran)`; `None` when what ran is unknown.
    pub vs_what_ran_pct: Option<f64>,
}

/// Everything `prescale backtest` reports about one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// The target's name.
    pub target: String,
    /// Its Deployment, `namespace/name`.
    pub deployment: String,
    /// Tick length (the target's interval), seconds.
    pub tick_s: f64,
    /// The window and how much of it had data.
    pub window: Coverage,
    /// The queue model's parameters.
    pub model: ModelReport,
    /// What ran; `None` when unknown (see `what_ran_unknown`).
    pub what_ran: Option<ScheduleReport>,
    /// Why what ran is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_ran_unknown: Option<String>,
    /// prescale in charge.
    pub prescale: ScheduleReport,
    /// The oracle.
    pub oracle: ScheduleReport,
    /// The model's p95 wait of what ran beside the observed one.
    pub wait_p95: Option<WaitCheck>,
    /// The one-line verdict.
    pub verdict: String,
    /// The queries read, by config key.
    pub queries: BTreeMap<String, String>,
    /// What the user should know about the history and the model.
    pub notes: Vec<String>,
}

/// The model parameters chosen for a target, and from where.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chosen {
    /// Documents/s per ready replica.
    pub capacity: (f64, Source),
    /// Pod start-up, seconds.
    pub startup_s: (f64, Source),
}

impl Chosen {
    /// The flags when given, else what was learned, else the target's config.
    pub fn new(
        target: &TargetConfig,
        learned: &Learned,
        capacity_flag: Option<f64>,
        startup_flag: Option<f64>,
    ) -> Chosen {
        let capacity = match capacity_flag {
            Some(c) => (c, Source::Flag),
            None if learned.capacity_learnable => (learned.capacity_per_replica, Source::Learned),
            None => (target.capacity.per_replica, Source::Configured),
        };
        let startup_s = match startup_flag {
            Some(s) => (s, Source::Flag),
            None if learned.startup_learned => (learned.startup_s, Source::Learned),
            None => (target.startup_time.as_secs_f64(), Source::Configured),
        };
        Chosen {
            capacity,
            startup_s,
        }
    }
}

impl TargetReport {
    /// The report of `outcome`.
    pub fn new(
        target: &TargetConfig,
        prepared: &Prepared,
        learned: &Learned,
        chosen: &Chosen,
        outcome: &Outcome,
        queries: BTreeMap<String, String>,
        mut notes: Vec<String>,
    ) -> TargetReport {
        let ran_hours = outcome.what_ran.as_ref().map(|e| e.scores.replica_hours);
        let schedule = |e: &Evaluation| ScheduleReport {
            scores: e.scores,
            vs_what_ran_pct: ran_hours.and_then(|h| change_pct(e.scores.replica_hours, h)),
        };
        if chosen.capacity.1 == Source::Learned && learned.saturated_samples == 0 {
            notes.push(format!(
                "capacity: the replicas were never saturated, so {:.3} documents/s per replica is only the most they were seen to serve; pass --capacity if you know more",
                chosen.capacity.0
            ));
        }
        if chosen.capacity.1 == Source::Configured {
            notes.push(
                "capacity: no completions and ready-replicas history to learn it from, so the configured capacity.perReplica is used; pass --capacity to override"
                    .into(),
            );
        }
        let r = &target.scale_target_ref;
        TargetReport {
            target: target.name.clone(),
            deployment: format!("{}/{}", r.namespace, r.name),
            tick_s: prepared.tick,
            window: prepared.coverage,
            model: ModelReport {
                capacity_per_replica: chosen.capacity.0,
                capacity_source: chosen.capacity.1,
                learned_capacity_per_replica: learned.capacity_per_replica,
                saturated_samples: learned.saturated_samples,
                startup_s: chosen.startup_s.0,
                startup_source: chosen.startup_s.1,
                slo_s: outcome.model.params.slo_wait,
                start_pods: outcome.model.start.pods,
                start_backlog: outcome.model.start.backlog,
            },
            what_ran: outcome.what_ran.as_ref().map(|e| ScheduleReport {
                vs_what_ran_pct: None,
                ..schedule(e)
            }),
            what_ran_unknown: match &prepared.what_ran {
                WhatRan::Unknown { reason } => Some(reason.clone()),
                WhatRan::Known { .. } => None,
            },
            prescale: schedule(&outcome.prescale),
            oracle: schedule(&outcome.oracle),
            wait_p95: outcome.wait_p95,
            verdict: verdict(
                &outcome.prescale.scores,
                outcome.what_ran.as_ref().map(|e| &e.scores),
            ),
            queries,
            notes,
        }
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let w = &self.window;
        let mut out = String::new();
        let scored = w.ticks - w.gap_ticks;
        let _ = writeln!(
            out,
            "{} ({}): {} to {}, {} s ticks; warm-up {} backfilled ({} samples), then {:.2} days replayed, {scored} ticks scored",
            self.target,
            self.deployment,
            format_time(w.data_from),
            format_time(w.data_to),
            self.tick_s,
            duration(w.warmup_s),
            w.warmup_samples,
            w.ticks as f64 * self.tick_s / 86_400.0,
        );
        let m = &self.model;
        let _ = writeln!(
            out,
            "model: {} documents/s per ready replica ({}), new pods ready after {} ({}), SLO {}",
            significant(m.capacity_per_replica),
            m.capacity_source.describe("--capacity"),
            duration(m.startup_s),
            m.startup_source.describe("--startup"),
            duration(m.slo_s),
        );
        let mut rows = Vec::new();
        let row = |name: &str, s: &ScheduleReport| {
            vec![
                name.to_string(),
                format!("{:.1}", s.scores.replica_hours),
                s.vs_what_ran_pct
                    .map_or_else(|| "-".into(), |p| format!("{p:+.1} %")),
                format!("{:.3}", 100.0 * s.scores.late_fraction),
                format!("{:.1}", s.scores.p99_wait_s),
                s.scores.scale_events.to_string(),
            ]
        };
        match &self.what_ran {
            Some(s) => rows.push(row("what ran", s)),
            None => rows.push(vec![
                "what ran".into(),
                "unknown".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]),
        }
        rows.push(row("prescale", &self.prescale));
        rows.push(row("oracle", &self.oracle));
        out.push_str(&table(
            &[
                "schedule",
                "replica-hours",
                "vs what ran",
                "late %",
                "p99 wait s",
                "scale events",
            ],
            &rows,
        ));
        if let Some(reason) = &self.what_ran_unknown {
            let _ = writeln!(out, "what ran is unknown: {reason}");
        }
        if let Some(c) = &self.wait_p95 {
            let _ = writeln!(
                out,
                "p95 wait of what ran: modelled {:.1} s, observed {:.1} s (over {} ticks): how closely the model follows this workload",
                c.modelled_s, c.observed_s, c.ticks
            );
        }
        let _ = writeln!(out, "{}", self.verdict);
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }
}

/// An aligned text table: the first column left-aligned, the others right-aligned.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (c, cell) in cells.iter().enumerate() {
            let w = widths.get(c).copied().unwrap_or(0);
            if c == 0 {
                let _ = write!(s, "{cell:<w$}");
            } else {
                let _ = write!(s, "  {cell:>w$}");
            }
        }
        s.trim_end().to_string()
    };
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = format!("{}\n", line(&head));
    for r in rows {
        let _ = writeln!(out, "{}", line(r));
    }
    out
}

/// The decisions of a backtest, one row per replayed tick: `t` (seconds from the first
/// decision, as `prescale simulate --decisions-out` writes it), its Unix time, the
/// observed arrival rate of the tick (empty in a gap), what ran, prescale's decision, the
/// oracle's, prescale's forecast rate and its reasons.
pub fn decisions_csv(prepared: &Prepared, outcome: &Outcome) -> String {
    let mut out =
        String::from("t,unix_time,arrival_rate,what_ran,prescale,oracle,forecast_rate,reasons\n");
    let tick = prepared.tick;
    for (j, decision) in outcome.decisions.iter().enumerate() {
        let t = tick * j as f64;
        let rate = if prepared.known[j] {
            prepared.rates[j].to_string()
        } else {
            String::new()
        };
        let ran = outcome
            .what_ran
            .as_ref()
            .map_or_else(String::new, |e| e.run.desired[j].to_string());
        let forecast = decision
            .forecast_rate
            .map_or_else(String::new, |f| format!("{f:.4}"));
        let _ = writeln!(
            out,
            "{},{},{rate},{ran},{},{},{forecast},{}",
            trim_float(t),
            trim_float(prepared.origin + t),
            decision.replicas,
            outcome.oracle.run.desired[j],
            reasons(&decision.reasons),
        );
    }
    out
}

/// Reasons compactly, `;`-separated:
/// `forecast=Daily 11.20/14.05; need=12 step=14; winner=Forecast; ScaleUpLimit 14->8`.
pub fn reasons(reasons: &[Reason]) -> String {
    reasons
        .iter()
        .map(|r| match r {
            Reason::Forecast { model, rate, upper } => {
                format!("forecast={model:?} {rate:.2}/{upper:.2}")
            }
            Reason::Plan { need, step, keep } => {
                let mut plan = format!("need={need}");
                if let Some(step) = step {
                    plan.push_str(&format!(" step={step}"));
                }
                if let Some(keep) = keep {
                    plan.push_str(&format!(" keep={keep}"));
                }
                plan
            }
            Reason::Winner { signal } => format!("winner={signal:?}"),
            Reason::Limited { limit, from, to } => format!("{limit:?} {from}->{to}"),
            Reason::MetricsMissing { metric, failures } => {
                format!("MetricsMissing {metric} x{failures}")
            }
            Reason::Fallback { replicas } => format!("Fallback {replicas}"),
            Reason::Activation { active, trigger } => match (active, trigger) {
                (true, Some(by)) => format!("activation=awake by {by}"),
                (true, None) => "activation=awake".to_owned(),
                (false, _) => "activation=asleep".to_owned(),
            },
            Reason::Schedule { name, min, max } => {
                let bound = |b: &Option<u32>| b.map_or("-".to_owned(), |b| b.to_string());
                format!("schedule={name} {}..{}", bound(min), bound(max))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whole numbers without a fraction, others as Rust prints them (shortest round trip).
fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

/// A measured rate to four significant figures (`63.55`, `0.1067`), whole numbers as they are.
fn significant(v: f64) -> String {
    if v.fract() == 0.0 || !v.is_finite() || v == 0.0 {
        return trim_float(v);
    }
    let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let text = format!("{v:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// Whole seconds as the config writes durations (`90s`, `12h`), others as `97.5 s`.
fn duration(seconds: f64) -> String {
    if seconds.fract() == 0.0 {
        format_duration(std::time::Duration::from_secs_f64(seconds.max(0.0)))
    } else {
        format!("{seconds:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Limit, Signal};

    #[test]
    fn measured_rates_read_to_four_significant_figures() {
        assert_eq!(significant(63.55461201912048), "63.55");
        assert_eq!(significant(0.10666666), "0.1067");
        assert_eq!(significant(1234.5678), "1235");
        assert_eq!(significant(64.0), "64");
        assert_eq!(significant(2.5), "2.5");
    }

    #[test]
    fn tables_align_and_reasons_read_compactly() {
        let t = table(
            &["a", "bb"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["w".into(), "1234".into()],
            ],
        );
        assert_eq!(t, "a      bb\nxyz     1\nw    1234\n");
        let r = reasons(&[
            Reason::Forecast {
                model: crate::forecast::Season::Daily,
                rate: 11.2,
                upper: 14.05,
            },
            Reason::Plan {
                need: 12,
                step: Some(14),
                keep: None,
            },
            Reason::Winner {
                signal: Signal::Forecast,
            },
            Reason::Limited {
                limit: Limit::ScaleUpLimit,
                from: 14,
                to: 8,
            },
        ]);
        assert_eq!(
            r,
            "forecast=Daily 11.20/14.05; need=12 step=14; winner=Forecast; ScaleUpLimit 14->8"
        );
    }
}
