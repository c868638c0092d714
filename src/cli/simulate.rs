//! `prescale simulate`: score a policy on a load trace (or the built-in synthetic scenario)
//! with the bench model of shared/BENCH.md, beside the four reference policies, computed in
//! the same run. `--all-traces DIR` prints the README's results table instead.

mod all_traces;
mod decisions;
mod error;
mod evaluate;
mod peers;
mod progress;
mod summary;

use std::error::Error;
use std::io::Write as _;
use std::path::{Path, PathBuf};

pub use all_traces::{PEERS, PeerScores, Report, meets_goal};
pub use error::SimulateError;
pub use peers::{EXACT_PEER_TOLERANCE, PeerCheck, PeerSource};
pub use summary::{LoadInfo, Summary, TraceLabel};

use super::CliResult;
use crate::config::TargetConfig;
use crate::simulate::plot::{DayWindow, PlotInput, render_svg};
use crate::simulate::policies::{PolicyName, Replay};
use crate::simulate::synthetic::{self, SYNTHETIC_NAME};
use crate::simulate::{Bench, BenchParams, Load, Trace, TraceError};
use evaluate::{Chosen, REPLAY_LABEL, evaluate, ticks_per_load};
use progress::Progress;

/// Arguments of `prescale simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Load trace, CSV `timestamp_s,value`; without it, a built-in synthetic 10-day scenario.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// The policy to score beside the references.
    #[arg(long, value_enum, default_value_t = PolicyName::Prescale)]
    pub policy: PolicyName,
    /// The prescale policy's config file (its first target; the defaults without targets).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Score a schedule written by --decisions-out (CSV `t,desired`) instead of a policy.
    #[arg(long, value_name = "FILE", conflicts_with = "policy")]
    pub replay: Option<PathBuf>,
    /// The bench parameters (shared/BENCH.md).
    #[command(flatten)]
    pub params: ParamArgs,
    /// Print one JSON object (scores, trace, parameters, load info, reference scores).
    #[arg(long)]
    pub json: bool,
    /// Print the table as Markdown.
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// Write the chosen policy's decisions as CSV `t,desired`.
    #[arg(long, value_name = "FILE")]
    pub decisions_out: Option<PathBuf>,
    /// Draw the load, the ready replicas (policy and oracle) and the queue wait as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Plot only these days, e.g. `3:4` for the fourth day.
    #[arg(long, value_name = "START_DAY:END_DAY", requires = "plot")]
    pub plot_window: Option<DayWindow>,
    /// Run prescale and the references on every *.csv in DIR and print a Markdown table.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["trace", "replay", "decisions_out", "plot", "policy"]
    )]
    pub all_traces: Option<PathBuf>,
    /// With --all-traces: shared/bench-reference.json, to add the peers' scores and the goal.
    #[arg(long, value_name = "FILE", requires = "all_traces")]
    pub reference: Option<PathBuf>,
    /// With --all-traces: where the predictive peers' scores come from: `reference` (the
    /// --reference file's) or `computed` (run seasonal-naive and holt-winters on every trace,
    /// at any parameters; with --reference too, the two are compared).
    #[arg(long, value_enum, value_name = "SOURCE", default_value_t = PeerSource::Reference, requires = "all_traces")]
    pub peers: PeerSource,
}

/// The bench parameters as flags, with BENCH.md's defaults.
#[derive(Debug, clap::Args)]
pub struct ParamArgs {
    /// Documents per second one ready replica serves.
    #[arg(long, default_value_t = 1.0)]
    pub mu: f64,
    /// Scale the load so its 99th-percentile rate needs this many replicas.
    #[arg(long, default_value_t = 40.0)]
    pub peak_replicas: f64,
    /// Decision interval, seconds.
    #[arg(long, default_value_t = 15.0)]
    pub tick: f64,
    /// Seconds from a scale-up decision until the new pod is ready.
    #[arg(long, default_value_t = 90.0)]
    pub startup: f64,
    /// Queue-wait target, seconds: a document that waits longer is late.
    #[arg(long, default_value_t = 60.0)]
    pub slo_wait: f64,
    /// Lower bound on replicas for every policy. 0: prescale may scale to zero (its
    /// `activationThreshold` decides 0 <-> 1) and so may the oracle; the HPA-based policies
    /// keep one replica (they cannot wake from zero)
    #[arg(long = "min", default_value_t = 1)]
    pub min_replicas: u32,
    /// Upper bound on replicas for every policy.
    #[arg(long = "max", default_value_t = 200)]
    pub max_replicas: u32,
    /// Simulated but not scored, days [default: 7; 1 under a 14-day horizon; 0.5 under 3].
    #[arg(long)]
    pub warmup_days: Option<f64>,
    /// Simulate at most this many days of the trace.
    #[arg(long, default_value_t = 35.0)]
    pub horizon_days: f64,
}

impl ParamArgs {
    /// The parameters, validated.
    pub fn to_params(&self) -> Result<BenchParams, SimulateError> {
        let params = BenchParams {
            mu: self.mu,
            peak_replicas: self.peak_replicas,
            tick: self.tick,
            startup: self.startup,
            slo_wait: self.slo_wait,
            min_replicas: self.min_replicas,
            max_replicas: self.max_replicas,
            warmup_days: self.warmup_days,
            horizon_days: self.horizon_days,
        };
        params.validate()?;
        Ok(params)
    }
}

/// The prescale policy's config from `path`: the file's first target, or its `defaults` when
/// it has no targets.
/// A file with only `defaults:` (no target, no `prometheus:`) is enough.
pub fn load_policy_config(path: &Path) -> Result<TargetConfig, Box<dyn Error + Send + Sync>> {
    let config = crate::config::load(path)?;
    match config.targets.into_iter().next() {
        Some(target) => Ok(target),
        None => Ok(crate::config::load_defaults(path)?),
    }
}

/// Run `prescale simulate`.
pub fn run(args: SimulateArgs) -> CliResult {
    let params = args.params.to_params()?;
    let config = match &args.config {
        Some(path) => load_policy_config(path).map_err(|e| SimulateError::Config {
            path: path.clone(),
            message: e.to_string(),
        })?,
        None => TargetConfig::default(),
    };
    if let Some(dir) = &args.all_traces {
        let report =
            all_traces::report(dir, args.reference.as_deref(), args.peers, params, &config)?;
        if args.json {
            emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
        } else {
            emit(&report.markdown())?;
        }
        return Ok(());
    }
    let summary = run_one(&args, params, &config)?;
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&summary)?))?;
    } else {
        emit(&summary.table(args.markdown))?;
    }
    Ok(())
}

/// Simulate one trace; write the schedule and the plot if asked.
fn run_one(
    args: &SimulateArgs,
    params: BenchParams,
    config: &TargetConfig,
) -> Result<Summary, SimulateError> {
    let (trace, label) = match &args.trace {
        Some(path) => {
            let trace = load_trace(path)?;
            let label = TraceLabel {
                name: path
                    .file_stem()
                    .map_or_else(|| trace.name.clone(), |s| s.to_string_lossy().into_owned()),
                synthetic: false,
                path: Some(path.display().to_string()),
            };
            (trace, label)
        }
        None => {
            let label = TraceLabel {
                name: SYNTHETIC_NAME.into(),
                synthetic: true,
                path: None,
            };
            (synthetic::trace(), label)
        }
    };
    let load = scored_load(&trace, &params)?;
    let chosen = match &args.replay {
        Some(path) => {
            let replay = Replay::load(path)?;
            if replay.len() != load.ticks() {
                return Err(SimulateError::ReplayLength {
                    path: path.clone(),
                    rows: replay.len(),
                    ticks: load.ticks(),
                });
            }
            Chosen::Replay {
                replay,
                path: path.clone(),
            }
        }
        None => Chosen::Named(args.policy),
    };
    let schedule = match &chosen {
        Chosen::Replay { path, .. } => Some(path.display().to_string()),
        Chosen::Named(_) => None,
    };
    let progress = Progress::new(ticks_per_load(load.ticks()));
    let bench = Bench::new(&load, params);
    let results = evaluate(&bench, chosen, config, &progress, &mut 0);
    progress.finish();

    if let Some(path) = &args.decisions_out {
        let csv = decisions::schedule_csv(&results.chosen.run, load.tick);
        write(path, "--decisions-out", csv.as_bytes())?;
    }
    if let Some(path) = &args.plot {
        let policy = if results.chosen.policy == REPLAY_LABEL {
            schedule.clone().unwrap_or_default()
        } else {
            results.chosen.policy.clone()
        };
        let svg = render_svg(&PlotInput {
            title: format!("{policy} on {}", label.name),
            load: &load,
            params: &params,
            policy: &results.chosen,
            oracle: bench.oracle(),
            window: args.plot_window,
            baseline: None,
            origin: None,
            scored: None,
        })?;
        write(path, "--plot", svg.as_bytes())?;
    }
    let info = LoadInfo::new(&trace, &load);
    Ok(Summary::new(label, params, info, &results, schedule))
}

/// Read a trace file, saying what to do when it cannot be read.
fn load_trace(path: &Path) -> Result<Trace, SimulateError> {
    Trace::load(path).map_err(|e| match e {
        TraceError::Io { source, .. } => SimulateError::TraceUnreadable {
            path: path.to_path_buf(),
            source,
        },
        invalid => SimulateError::Trace(invalid),
    })
}

/// The trace as the bench's load, refusing a warm-up that leaves nothing to score.
fn scored_load(trace: &Trace, params: &BenchParams) -> Result<Load, SimulateError> {
    if trace.step_s as f64 % params.tick != 0.0 {
        return Err(SimulateError::TickStep {
            trace: trace.name.clone(),
            tick: params.tick,
            step: trace.step_s,
        });
    }
    let load = Load::new(trace, params)?;
    if load.first_scored_tick() >= load.ticks() {
        return Err(SimulateError::WarmupTooLong {
            trace: trace.name.clone(),
            warmup: load.warmup_s / 86_400.0,
            horizon: load.end_s / 86_400.0,
        });
    }
    Ok(load)
}

/// Print to stdout. A reader that closed the pipe early (`| head`) has what it wanted: that
/// is not an error, and must not panic as `print!` would.
fn emit(text: &str) -> Result<(), SimulateError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(SimulateError::Stdout(e)),
        _ => Ok(()),
    }
}

fn write(path: &Path, flag: &'static str, bytes: &[u8]) -> Result<(), SimulateError> {
    std::fs::write(path, bytes).map_err(|source| SimulateError::Write {
        flag,
        path: path.to_path_buf(),
        source,
    })
}
