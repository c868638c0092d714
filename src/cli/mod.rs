//! Command-line subcommands: each parses its own arguments and wires the library together.

pub mod backtest;
pub mod check;
pub mod config;
pub mod probe;
pub mod probe_report;
pub mod report;
pub mod run;
pub mod simulate;
pub mod tune;

/// What a subcommand returns: its error is printed as `error: {message}` and exits 1, so
/// every error's `Display` must say what went wrong and what to do about it.
pub type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
