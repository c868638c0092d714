//! `prescale tune`: search a target's knobs on its backtest (or on a load trace), tuning on
//! the first part of the window and checking the result on the held-back last part.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::CliResult;
use super::backtest::{
    BacktestError, ModelArgs, WindowArgs, connect, load_target, runtime, select_targets,
};
use crate::backtest::history::from_trace;
use crate::backtest::report::{Chosen, table};
use crate::backtest::verdict::{change_pct, percent};
use crate::backtest::window::format_time;
use crate::backtest::{Model, Prepared, WhatRan, learn, prepare};
use crate::config::TargetConfig;
use crate::simulate::{Run, Scores, Trace};
use crate::tune::search::MAX_ROUNDS;
use crate::tune::{Evaluated, KNOBS, Objective, Search, Split, snippet};

/// Arguments of `prescale tune`.
#[derive(Debug, clap::Args)]
pub struct TuneArgs {
    /// The prescale configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The target to tune.
    #[arg(long, value_name = "NAME")]
    pub target: String,
    /// The window of Prometheus history (ignored with --trace).
    #[command(flatten)]
    pub window: WindowArgs,
    /// Tune on a load trace instead of Prometheus history: CSV `timestamp_s,value`,
    /// arrivals per step in the target's own units (nothing is rescaled).
    #[arg(long, value_name = "CSV", conflicts_with_all = ["from", "to", "last"])]
    pub trace: Option<PathBuf>,
    /// The late fraction to stay at or under (0.001 = 0.1 % of documents over the SLO).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.001)]
    pub max_late: f64,
    /// The last part of the replay held back to check the result on, as a fraction.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.3)]
    pub holdout: f64,
    /// The model's capacity, start-up and warm-up.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// One schedule's scores on the two parts.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Parts {
    /// On the tuning part.
    pub tuning: Scores,
    /// On the held-back part.
    pub holdout: Scores,
}

/// A knob's value before and after.
#[derive(Debug, Clone, Serialize)]
pub struct KnobChange {
    /// Its key path in the target.
    pub path: &'static str,
    /// The target's value.
    pub current: String,
    /// The value found.
    pub tuned: String,
}

/// Everything `prescale tune` reports.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    /// The target.
    pub target: String,
    /// What was replayed: `prometheus` or the trace file.
    pub source: String,
    /// First decision, Unix seconds (0 for a trace).
    pub from: f64,
    /// End of the replay.
    pub to: f64,
    /// Tick length, seconds.
    pub tick_s: f64,
    /// Where the held-back part starts.
    pub split: Split,
    /// The late fraction asked for.
    pub max_late: f64,
    /// Documents/s per ready replica in the model.
    pub capacity_per_replica: f64,
    /// Pod start-up in the model, seconds.
    pub startup_s: f64,
    /// Every knob, before and after.
    pub knobs: Vec<KnobChange>,
    /// The target's own knobs.
    pub current: Parts,
    /// The knobs found.
    pub tuned: Parts,
    /// The oracle.
    pub oracle: Parts,
    /// What ran, when known.
    pub what_ran: Option<Parts>,
    /// Whether the tuned knobs met `max_late` on the held-back part.
    pub met_on_holdout: bool,
    /// Configurations replayed.
    pub evaluations: usize,
    /// Passes over the knobs.
    pub rounds: usize,
    /// Wall time of the search, seconds.
    pub elapsed_s: f64,
    /// Wall time of its first replay alone (the target's own knobs), seconds: what one
    /// configuration costs, measured in the same run.
    pub one_replay_s: f64,
    /// The YAML to paste into the target.
    pub snippet: String,
    /// What the user should know about the history.
    pub notes: Vec<String>,
}

/// Run `prescale tune`.
pub fn run(args: TuneArgs) -> CliResult {
    args.model.check()?;
    if !(args.max_late.is_finite() && (0.0..1.0).contains(&args.max_late)) {
        return Err(BacktestError::Flag {
            flag: "max-late",
            value: args.max_late.to_string(),
            fix: "must be a fraction from 0 up to (not including) 1, e.g. 0.001",
        }
        .into());
    }
    let config = crate::config::load(&args.config)?;
    let target = select_targets(&config, std::slice::from_ref(&args.target), &args.config)?[0];
    let (prepared, chosen, notes, source) = match &args.trace {
        Some(path) => {
            let (prepared, chosen) = from_trace_file(path, target, &args.model)?;
            (prepared, chosen, Vec::new(), path.display().to_string())
        }
        None => {
            let (client, window) = connect(&config, &args.config, &args.window)?;
            let loaded = runtime()?.block_on(load_target(&client, target, &window, &args.model))?;
            let mut notes = loaded.fetched.notes;
            notes.extend(loaded.prepared.notes.iter().cloned());
            (loaded.prepared, loaded.chosen, notes, "prometheus".into())
        }
    };
    let report = tune(target, &prepared, &chosen, &args, notes, source)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    Ok(())
}

/// A trace file as the replay's input, with the model's capacity and start-up.
fn from_trace_file(
    path: &std::path::Path,
    target: &TargetConfig,
    model: &ModelArgs,
) -> Result<(Prepared, Chosen), String> {
    let trace = Trace::load(path).map_err(|e| e.to_string())?;
    let tick = target.interval.as_secs_f64();
    let history = from_trace(&trace, tick).ok_or_else(|| {
        format!(
            "--trace {}: its step ({} s) is not a multiple of target {}'s interval ({tick} s); resample the trace or change the interval",
            path.display(),
            trace.step_s,
            target.name
        )
    })?;
    let prepared =
        prepare(&history, model.warmup).map_err(|e| format!("--trace {}: {e}", path.display()))?;
    let chosen = Chosen::new(
        target,
        &learn(target, &history),
        model.capacity,
        model.startup.map(|d| d.as_secs_f64()),
    );
    Ok((prepared, chosen))
}

fn tune(
    target: &TargetConfig,
    prepared: &Prepared,
    chosen: &Chosen,
    args: &TuneArgs,
    notes: Vec<String>,
    source: String,
) -> Result<TuneReport, Box<dyn std::error::Error + Send + Sync>> {
    let model = Model::new(prepared, target, chosen.capacity.0, chosen.startup_s.0);
    let split = Split::new(prepared.coverage.ticks, args.holdout, &model.scored)?;
    let parts = |run: &Run, hours: Option<(f64, f64)>| Parts {
        tuning: model.score(run, hours.map(|h| h.0), |j| split.tuning(j)),
        holdout: model.score(run, hours.map(|h| h.1), |j| !split.tuning(j)),
    };
    let oracle = parts(&model.oracle(), None);
    let oracle_hours = (oracle.tuning.replica_hours, oracle.holdout.replica_hours);
    let what_ran = match &prepared.what_ran {
        WhatRan::Known { replicas, ready } => Some(parts(
            &model.what_ran(replicas, ready.as_deref()),
            Some(oracle_hours),
        )),
        WhatRan::Unknown { .. } => None,
    };
    let objective = Objective {
        max_late: args.max_late,
    };
    let search = Search {
        config: target,
        prepared,
        model: &model,
        split,
        oracle_hours,
        objective,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let bar = progress_bar();
    let started = Instant::now();
    let first_replay = std::sync::OnceLock::new();
    let tuned = search.run(&|done, expected| {
        if done == 1 {
            let _ = first_replay.set(started.elapsed().as_secs_f64());
        }
        if let Some(bar) = &bar {
            bar.set_length(expected as u64);
            bar.set_position(done as u64);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    let as_parts = |e: &Evaluated| Parts {
        tuning: e.tuning,
        holdout: e.holdout,
    };
    let best_config = crate::tune::knobs::apply(target, &tuned.best.values);
    Ok(TuneReport {
        target: target.name.clone(),
        source,
        from: prepared.origin,
        to: prepared.origin + prepared.coverage.ticks as f64 * prepared.tick,
        tick_s: prepared.tick,
        split,
        max_late: args.max_late,
        capacity_per_replica: chosen.capacity.0,
        startup_s: chosen.startup_s.0,
        knobs: KNOBS
            .iter()
            .enumerate()
            .map(|(i, k)| KnobChange {
                path: k.path,
                current: k.format(tuned.current.values[i]),
                tuned: k.format(tuned.best.values[i]),
            })
            .collect(),
        current: as_parts(&tuned.current),
        tuned: as_parts(&tuned.best),
        oracle,
        what_ran,
        met_on_holdout: objective.met(&tuned.best.holdout),
        evaluations: tuned.evaluations,
        rounds: tuned.rounds,
        elapsed_s,
        one_replay_s: first_replay.get().copied().unwrap_or(elapsed_s),
        snippet: snippet(&best_config),
        notes,
    })
}

/// A bar on stderr, only on a terminal (a pipe or a CI log gets none).
fn progress_bar() -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(1);
        let style = ProgressStyle::with_template(
            "replaying configurations [{bar:40}] {pos}/{len} {elapsed_precise} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar
    })
}

/// The report as text.
pub fn text(r: &TuneReport) -> String {
    let when = |t: f64| {
        if r.source == "prometheus" {
            format_time(t)
        } else {
            format!("{:.2} d", t / 86_400.0)
        }
    };
    let days = |ticks: usize| ticks as f64 * r.tick_s / 86_400.0;
    let mut out = format!(
        "tune {} on {} ({} to {}): tuned on the first {:.2} days, checked on the last {:.2} days held back; {} configurations replayed in {} round(s) of at most {MAX_ROUNDS}, {:.1} s (one replay: {:.2} s)\n",
        r.target,
        r.source,
        when(r.from),
        when(r.to),
        days(r.split.at),
        days(r.split.ticks - r.split.at),
        r.evaluations,
        r.rounds,
        r.elapsed_s,
        r.one_replay_s,
    );
    out.push_str(&format!(
        "asked: late at most {}; model: {} documents/s per ready replica, pods ready after {} s\n\n",
        percent(r.max_late),
        r.capacity_per_replica,
        r.startup_s
    ));
    let knobs: Vec<Vec<String>> = r
        .knobs
        .iter()
        .map(|k| vec![k.path.to_string(), k.current.clone(), k.tuned.clone()])
        .collect();
    out.push_str(&table(&["knob", "current", "tuned"], &knobs));
    out.push('\n');
    let row = |name: &str, p: &Parts| {
        vec![
            name.to_string(),
            format!("{:.1}", p.tuning.replica_hours),
            format!("{:.3}", 100.0 * p.tuning.late_fraction),
            format!("{:.1}", p.holdout.replica_hours),
            format!("{:.3}", 100.0 * p.holdout.late_fraction),
            format!("{:.1}", p.holdout.p99_wait_s),
        ]
    };
    let mut rows = vec![row("current", &r.current), row("tuned", &r.tuned)];
    if let Some(ran) = &r.what_ran {
        rows.push(row("what ran", ran));
    }
    rows.push(row("oracle", &r.oracle));
    out.push_str(&table(
        &[
            "schedule",
            "tuning: replica-h",
            "late %",
            "held back: replica-h",
            "late %",
            "p99 wait s",
        ],
        &rows,
    ));
    out.push('\n');
    let unchanged = r.knobs.iter().all(|k| k.current == k.tuned);
    if unchanged {
        out.push_str(
            "the target's own knobs are the best found on the tuning part: nothing to change\n",
        );
    } else {
        let (t, c) = (&r.tuned.holdout, &r.current.holdout);
        let cost = match change_pct(t.replica_hours, c.replica_hours) {
            Some(p) if p < 0.0 => format!("{:.0} % fewer replica-hours than now", -p),
            Some(p) => format!("{p:.0} % more replica-hours than now"),
            None => format!("{:.1} replica-hours", t.replica_hours),
        };
        out.push_str(&format!(
            "held back: tuned {cost}, late {:.3} % (now {:.3} %): {} the {} asked\n",
            100.0 * t.late_fraction,
            100.0 * c.late_fraction,
            if r.met_on_holdout { "within" } else { "ABOVE" },
            percent(r.max_late),
        ));
    }
    if !r.met_on_holdout {
        out.push_str("warning: on the held-back part the tuned knobs are later than asked: the choice does not carry over; try a lower --max-late or a longer window\n");
    }
    let (t, c) = (&r.tuned.holdout, &r.current.holdout);
    if !unchanged && t.replica_hours > c.replica_hours && t.late_fraction >= c.late_fraction {
        out.push_str("warning: on the held-back part the tuned knobs cost more than the current ones and are no more punctual: keep the current knobs (the tuning part does not describe the rest; try a longer window)\n");
    }
    out.push_str(&format!(
        "\npaste into target {} (merge with its own forecast:, plan: and behavior: keys):\n{}",
        r.target, r.snippet
    ));
    for note in &r.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}
