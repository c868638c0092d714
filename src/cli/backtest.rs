//! `prescale backtest`: replay the decision core over each target's own Prometheus history
//! and score what ran, prescale and the oracle on the bench's queue model.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::CliResult;
use crate::backtest::report::{Chosen, TargetReport, decisions_csv};
use crate::backtest::window::{Window, WindowError, format_time};
use crate::backtest::{Fetched, Learned, Prepared, backtest, fetch, learn, prepare};
use crate::config::{Config, TargetConfig, parse_duration};
use crate::metrics::MetricError;
use crate::metrics::prometheus::PromClient;
use crate::simulate::plot::{PlotInput, render_svg};

/// Arguments of `prescale backtest`.
#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// The prescale configuration file (its `prometheus:` section and its targets).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Backtest only this target (repeat for several); default: every target.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// The window of history.
    #[command(flatten)]
    pub window: WindowArgs,
    /// The model's capacity, start-up and warm-up.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print one JSON object (every target's report).
    #[arg(long)]
    pub json: bool,
    /// Write one SVG per target into DIR (`DIR/TARGET.svg`): the load as replicas needed,
    /// what ran, prescale and the oracle, and the queue waits against the SLO.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Write one CSV per target into DIR (`DIR/TARGET.csv`): every replayed tick with what
    /// ran, prescale's decision and its reasons, and the oracle's.
    #[arg(long, value_name = "DIR")]
    pub decisions_out: Option<PathBuf>,
}

/// The window of history to read.
#[derive(Debug, Clone, clap::Args)]
pub struct WindowArgs {
    /// Read this much history, up to now.
    #[arg(long, value_name = "DURATION", default_value = "14d", value_parser = flag_duration)]
    pub last: Duration,
    /// Start of the window instead of --last: RFC 3339 (`2024-05-01T00:00:00Z`) or Unix
    /// seconds; needs --to.
    #[arg(long, value_name = "TIME", requires = "to", conflicts_with = "last")]
    pub from: Option<String>,
    /// End of the window, with --from.
    #[arg(long, value_name = "TIME", requires = "from", conflicts_with = "last")]
    pub to: Option<String>,
}

/// How the queue model and the warm-up are set up.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Documents/s one ready replica serves, for every schedule [default: learned from the
    /// history as the controller learns it, else the target's capacity.perReplica].
    #[arg(long, value_name = "DOCS_PER_S")]
    pub capacity: Option<f64>,
    /// From a scale-up until the new pods are ready, in the model [default: learned from
    /// the history (replicas against ready replicas), else the target's startupTime].
    #[arg(long, value_name = "DURATION", value_parser = flag_duration)]
    pub startup: Option<Duration>,
    /// The first part of the data that only warms the forecaster, backfilled as the
    /// controller backfills it when it starts [default: as BENCH.md's warm-up: 7d with 14
    /// days of data or more, 1d with 3 days or more, 12h below].
    #[arg(long, value_name = "DURATION", value_parser = flag_duration)]
    pub warmup: Option<Duration>,
}

/// Why `prescale backtest` or `prescale tune` stopped.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// A `--target` names no target.
    #[error("no target named {name:?} in {path}; its targets are: {}", known.join(", "))]
    UnknownTarget {
        /// The name asked for.
        name: String,
        /// The config file.
        path: PathBuf,
        /// The names that exist.
        known: Vec<String>,
    },
    /// No `prometheus:` section.
    #[error(
        "{path}: the history is read from Prometheus, and the file has no `prometheus:` section; add `prometheus: {{url: http://prometheus.monitoring.svc:9090}}`"
    )]
    NoPrometheus {
        /// The config file.
        path: PathBuf,
    },
    /// The Prometheus client could not be built.
    #[error("cannot set up the Prometheus client: {0}")]
    Client(#[from] MetricError),
    /// The window flags are wrong.
    #[error(transparent)]
    Window(#[from] WindowError),
    /// A flag's value is out of range.
    #[error("--{flag} {value}: {fix}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// Its value.
        value: String,
        /// What to pass instead.
        fix: &'static str,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// An output file could not be written.
    #[error(
        "{flag} {path}: cannot write ({source}); check that the directory can be created and written"
    )]
    Write {
        /// The flag naming the directory.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Some targets failed (each printed with its reason).
    #[error("{failed} of {total} target(s) could not be backtested; see the messages above")]
    Failed {
        /// How many failed.
        failed: usize,
        /// How many were asked for.
        total: usize,
    },
}

/// Parse a duration flag as the config file writes durations (`90s`, `14d`, `1h30m`).
pub fn flag_duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| format!("{e}; write e.g. `90s`, `12h` or `14d`"))
}

/// The targets named by `--target` (all when none), or which name is unknown.
pub fn select_targets<'c>(
    config: &'c Config,
    names: &[String],
    path: &Path,
) -> Result<Vec<&'c TargetConfig>, BacktestError> {
    if names.is_empty() {
        return Ok(config.targets.iter().collect());
    }
    names
        .iter()
        .map(|name| {
            config
                .targets
                .iter()
                .find(|t| &t.name == name)
                .ok_or_else(|| BacktestError::UnknownTarget {
                    name: name.clone(),
                    path: path.to_path_buf(),
                    known: config.targets.iter().map(|t| t.name.clone()).collect(),
                })
        })
        .collect()
}

impl ModelArgs {
    /// The flags, checked.
    pub fn check(&self) -> Result<(), BacktestError> {
        if let Some(c) = self.capacity
            && !(c.is_finite() && c > 0.0)
        {
            return Err(BacktestError::Flag {
                flag: "capacity",
                value: c.to_string(),
                fix: "must be a number of documents per second above 0",
            });
        }
        Ok(())
    }
}

/// The Prometheus client for `config`, and the window asked for.
pub fn connect(
    config: &Config,
    path: &Path,
    window: &WindowArgs,
) -> Result<(PromClient, Window), BacktestError> {
    let prometheus = config
        .prometheus
        .as_ref()
        .ok_or_else(|| BacktestError::NoPrometheus {
            path: path.to_path_buf(),
        })?;
    let client = PromClient::new(prometheus)?;
    let window = Window::from_flags(
        window.last,
        window.from.as_deref(),
        window.to.as_deref(),
        SystemTime::now(),
    )?;
    Ok((client, window))
}

/// A runtime for the queries (two workers: the machine's Prometheus work is I/O).
pub fn runtime() -> Result<tokio::runtime::Runtime, BacktestError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(BacktestError::Runtime)
}

/// A target's history read, learned from and cut for the replay.
pub struct Loaded {
    /// What was read.
    pub fetched: Fetched,
    /// What the shadow controller learned from it.
    pub learned: Learned,
    /// The replay's input.
    pub prepared: Prepared,
    /// The model's capacity and start-up.
    pub chosen: Chosen,
}

/// Read `target`'s history over `window` and prepare its replay.
pub async fn load_target(
    client: &PromClient,
    target: &TargetConfig,
    window: &Window,
    model: &ModelArgs,
) -> Result<Loaded, String> {
    let fetched = fetch(client, target, window)
        .await
        .map_err(|e| e.to_string())?;
    let prepared = prepare(&fetched.history, model.warmup)
        .map_err(|e| format!("target {}: {e}", target.name))?;
    let learned = learn(target, &fetched.history);
    let chosen = Chosen::new(
        target,
        &learned,
        model.capacity,
        model.startup.map(|d| d.as_secs_f64()),
    );
    Ok(Loaded {
        fetched,
        learned,
        prepared,
        chosen,
    })
}

/// Run `prescale backtest`.
pub fn run(args: BacktestArgs) -> CliResult {
    args.model.check()?;
    let config = crate::config::load(&args.config)?;
    let targets = select_targets(&config, &args.targets, &args.config)?;
    let (client, window) = connect(&config, &args.config, &args.window)?;
    let runtime = runtime()?;
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for target in &targets {
        let result = runtime
            .block_on(load_target(&client, target, &window, &args.model))
            .and_then(|loaded| report(target, loaded, &args).map_err(|e| e.to_string()));
        match result {
            Ok(report) => reports.push(report),
            Err(e) => failures.push((target.name.clone(), e)),
        }
    }
    if args.json {
        let errors: Vec<serde_json::Value> = failures
            .iter()
            .map(|(t, e)| serde_json::json!({"target": t, "error": e}))
            .collect();
        let out = serde_json::json!({
            "window": {"from": window.from, "to": window.to},
            "targets": reports,
            "errors": errors,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let texts: Vec<String> = reports.iter().map(TargetReport::text).collect();
        print!("{}", texts.join("\n"));
    }
    for (_, e) in &failures {
        eprintln!("error: {e}");
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(BacktestError::Failed {
            failed: failures.len(),
            total: targets.len(),
        }
        .into())
    }
}

/// Score `loaded`, write its plot and decisions if asked, and report it.
fn report(
    target: &TargetConfig,
    loaded: Loaded,
    args: &BacktestArgs,
) -> Result<TargetReport, BacktestError> {
    let Loaded {
        fetched,
        learned,
        prepared,
        chosen,
    } = loaded;
    let outcome = backtest(
        &prepared,
        target,
        chosen.capacity.0,
        chosen.startup_s.0,
        args.decisions_out.is_some(),
    );
    if let Some(dir) = &args.decisions_out {
        write(
            dir,
            "--decisions-out",
            &format!("{}.csv", target.name),
            &decisions_csv(&prepared, &outcome),
        )?;
    }
    let mut notes = fetched.notes;
    notes.extend(prepared.notes.iter().cloned());
    if let Some(dir) = &args.plot {
        let model = &outcome.model;
        let svg = render_svg(&PlotInput {
            title: format!(
                "{}: what ran, prescale and the oracle, replayed {} to {} (after a {} warm-up)",
                target.name,
                format_time(prepared.origin),
                format_time(prepared.coverage.data_to),
                crate::config::format_duration(Duration::from_secs_f64(prepared.coverage.warmup_s)),
            ),
            load: &model.load,
            params: &model.params,
            policy: &outcome.prescale,
            oracle: &outcome.oracle,
            window: None,
            baseline: outcome.what_ran.as_ref(),
            origin: Some(format_time(prepared.origin)),
            scored: Some(&model.scored),
        });
        match svg {
            Ok(svg) => write(dir, "--plot", &format!("{}.svg", target.name), &svg)?,
            Err(e) => notes.push(format!("no plot: {e}")),
        }
    }
    Ok(TargetReport::new(
        target,
        &prepared,
        &learned,
        &chosen,
        &outcome,
        fetched.queries,
        notes,
    ))
}

/// Write `name` into `dir`, creating the directory.
pub fn write(dir: &Path, flag: &'static str, name: &str, text: &str) -> Result<(), BacktestError> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|source| BacktestError::Write { flag, path, source })
}
