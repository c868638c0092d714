//! `prescale config ...`: tools for the configuration file.

use super::CliResult;

/// Arguments of `prescale config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// `prescale config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema of the configuration file (for editors and the CRD).
    Schema,
}

/// Run `prescale config`.
pub fn run(args: ConfigArgs) -> CliResult {
    match args.command {
        ConfigCommand::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::config::schema())?
            );
        }
    }
    Ok(())
}
