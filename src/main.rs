//! The `prescale` command line: parsing and wiring only.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "prescale",
    version,
    about = "Scales Kubernetes Deployments ahead of load"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score a policy on a load trace with the bench model (shared/BENCH.md).
    Simulate(Box<prescale::cli::simulate::SimulateArgs>),
    /// Replay the decision core over each target's Prometheus history: what ran, prescale
    /// and the oracle on the bench's queue model, and a verdict.
    Backtest(Box<prescale::cli::backtest::BacktestArgs>),
    /// Validate a configuration file and show each target's effective settings.
    Check(prescale::cli::check::CheckArgs),
    /// Configuration file tools (JSON Schema).
    Config(prescale::cli::config::ConfigArgs),
    /// Evaluate each configured metric once and show values, series, history and errors.
    Probe(prescale::cli::probe::ProbeArgs),
    /// Search a target's knobs on its backtest for the lowest cost within a late fraction,
    /// checked on held-back history, and print the YAML to paste.
    Tune(Box<prescale::cli::tune::TuneArgs>),
    /// Run the controller against a cluster (in-cluster config, or KUBECONFIG outside).
    Run(prescale::cli::run::RunArgs),
    /// The running controller's live shadow report: replica-hours and modelled late
    /// documents of what ran and of what prescale recommends, per target.
    Report(prescale::cli::report::ReportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(args) => prescale::cli::simulate::run(*args),
        Command::Backtest(args) => prescale::cli::backtest::run(*args),
        Command::Check(args) => prescale::cli::check::run(args),
        Command::Config(args) => prescale::cli::config::run(args),
        Command::Probe(args) => prescale::cli::probe::run(args),
        Command::Run(args) => prescale::cli::run::run(args),
        Command::Report(args) => prescale::cli::report::run(args),
        Command::Tune(args) => prescale::cli::tune::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
