//! What can go wrong in `prescale simulate`, each message naming the flag or file and the fix.

use std::path::PathBuf;

use crate::simulate::plot::PlotError;
use crate::simulate::policies::ReplayError;
use crate::simulate::{LoadError, ParamError, TraceError};

/// Why `prescale simulate` stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The trace file could not be read at all.
    #[error(
        "{path}: cannot read the trace ({source}); check the path given to --trace, or omit --trace to run the built-in synthetic scenario"
    )]
    TraceUnreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The trace file is not a valid trace (the message names the line and the fix).
    #[error(transparent)]
    Trace(TraceError),
    /// A bench parameter flag is out of range.
    #[error(transparent)]
    Params(#[from] ParamError),
    /// The trace cannot be scaled with these parameters.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The tick does not divide the trace's step.
    #[error(
        "--tick {tick}: {trace} has {step} s steps, which the tick must divide; pass a --tick that divides {step}, e.g. 15"
    )]
    TickStep {
        /// The trace.
        trace: String,
        /// The tick asked for.
        tick: f64,
        /// The trace's step, seconds.
        step: u64,
    },
    /// The warm-up covers the whole horizon, so there would be nothing to score.
    #[error(
        "--warmup-days {warmup}: {trace} is only {horizon:.2} days long, so nothing would be scored; pass a warm-up shorter than the horizon"
    )]
    WarmupTooLong {
        /// The trace.
        trace: String,
        /// Warm-up asked for, days.
        warmup: f64,
        /// Simulated days.
        horizon: f64,
    },
    /// The `--config` file could not be used.
    #[error("--config {path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What the config loader said.
        message: String,
    },
    /// The `--replay` schedule could not be read.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The `--replay` schedule does not fit the trace.
    #[error(
        "--replay {path}: the schedule has {rows} rows but the simulated horizon has {ticks} ticks; replay a schedule written by --decisions-out for the same trace and parameters"
    )]
    ReplayLength {
        /// The schedule file.
        path: PathBuf,
        /// Its rows.
        rows: usize,
        /// Ticks simulated.
        ticks: usize,
    },
    /// An output file could not be written.
    #[error(
        "{flag} {path}: cannot write the file ({source}); check that its directory exists and is writable"
    )]
    Write {
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Standard output could not be written.
    #[error("cannot write to standard output ({0}); check where the output is redirected")]
    Stdout(std::io::Error),
    /// The plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// The `--all-traces` directory could not be listed or holds no trace.
    #[error(
        "--all-traces {path}: {problem}; point it at a directory of `timestamp_s,value` CSV traces, e.g. ../shared/traces"
    )]
    TracesDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The `--reference` file could not be used.
    #[error("--reference {path}: {problem}; pass shared/bench-reference.json unchanged")]
    Reference {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// `--reference` scores were computed with other parameters than this run's.
    #[error(
        "--reference {path}: its scores were computed with the default bench parameters, this run uses others ({differs}); drop the parameter flags or the --reference flag"
    )]
    ReferenceParams {
        /// The file.
        path: PathBuf,
        /// Which parameter differs.
        differs: String,
    },
}
