//! `prescale check --config FILE`: validate a configuration file and show the effective
//! settings of every target (defaults merged in), or every problem with its line.

use super::CliResult;
use crate::config::{self, ConfigError, Loaded};
use std::path::PathBuf;

/// Arguments of `prescale check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The configuration file to check.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Print the effective settings as JSON instead of YAML.
    #[arg(long)]
    pub json: bool,
}

/// Run `prescale check`: exit 0 and print the effective settings when the file is valid;
/// otherwise the error lists every problem and the command exits 1.
pub fn run(args: CheckArgs) -> CliResult {
    let origin = args.config.display().to_string();
    let Loaded { config, warnings } =
        config::load_with_warnings(&args.config).map_err(|error| summarise(&origin, error))?;
    for warning in warnings.to_string().lines() {
        eprintln!("warning: {warning}");
    }
    let effective = config::effective(&config);
    let text = if args.json {
        serde_json::to_string_pretty(&effective)? + "\n"
    } else {
        let targets = config.targets.len();
        let plural = if targets == 1 { "" } else { "s" };
        format!(
            "# {origin}: valid, {targets} target{plural}; effective settings (defaults merged in):\n{}",
            serde_saphyr::to_string(&effective)?
        )
    };
    print!("{text}");
    Ok(())
}

/// The error report, followed by how many problems there are when more than one.
fn summarise(origin: &str, error: ConfigError) -> Box<dyn std::error::Error + Send + Sync> {
    let count = error.problems().len();
    if count > 1 {
        format!("{error}\n{origin}: {count} problems").into()
    } else {
        error.into()
    }
}
