//! `prescale simulate`.

/// Arguments of `prescale simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {}

/// Run `prescale simulate`.
pub fn run(args: SimulateArgs) -> anyhow_free::Result {
    let _ = args;
    Ok(())
}

mod anyhow_free {
    pub type Result = std::result::Result<(), String>;
}
