//! The entry points: read, parse, validate.

use super::decode::decode;
use super::error::{ConfigError, Report};
use super::locate::Positions;
use super::types::{Config, TargetConfig};
use super::validate::{defaults_settings, validate};
use std::path::Path;

/// A valid configuration and what is worth saying about it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// Warnings (e.g. no targets); empty `problems` when there is nothing to say.
    pub warnings: Report,
}

/// Read and validate the configuration file at `path`. Warnings are logged.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let loaded = load_with_warnings(path)?;
    log_warnings(&loaded.warnings);
    Ok(loaded.config)
}

/// Validate configuration `text`; `origin` names it in messages (usually the file name).
/// Warnings are logged.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let loaded = parse_with_warnings(text, origin)?;
    log_warnings(&loaded.warnings);
    Ok(loaded.config)
}

/// [`load`], returning the warnings instead of logging them.
pub fn load_with_warnings(path: &Path) -> Result<Loaded, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        origin: origin.clone(),
        source,
    })?;
    parse_with_warnings(&text, &origin)
}

/// [`parse`], returning the warnings instead of logging them.
pub fn parse_with_warnings(text: &str, origin: &str) -> Result<Loaded, ConfigError> {
    let raw = decode(text, origin)?;
    let outcome = validate(&raw, &Positions::of(text));
    let warnings = Report::new(origin, outcome.warnings);
    match outcome.config {
        Ok(config) => Ok(Loaded { config, warnings }),
        Err(problems) => Err(ConfigError::Invalid(Report::new(origin, problems))),
    }
}

/// The settings `defaults:` in the file at `path` gives every target (the built-in defaults
/// where it is silent), validated like the rest of the file: what `prescale simulate
/// --config` runs when the file has no target. A file with only `defaults:` is enough.
pub fn load_defaults(path: &Path) -> Result<TargetConfig, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        origin: origin.clone(),
        source,
    })?;
    let raw = decode(&text, &origin)?;
    let positions = Positions::of(&text);
    let outcome = validate(&raw, &positions);
    if let Err(problems) = outcome.config {
        return Err(ConfigError::Invalid(Report::new(&origin, problems)));
    }
    Ok(defaults_settings(&raw, &positions))
}

fn log_warnings(warnings: &Report) {
    if !warnings.problems.is_empty() {
        tracing::warn!("{warnings}");
    }
}
