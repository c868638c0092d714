//! `prescale simulate`.

use super::CliResult;

/// Arguments of `prescale simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {}

/// Run `prescale simulate`.
pub fn run(args: SimulateArgs) -> CliResult {
    let _ = args;
    Ok(())
}
