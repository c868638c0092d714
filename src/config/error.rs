//! The configuration's errors: each problem names the file, line, column, key path, what is
//! wrong and what to write instead.

use super::locate::Position;
use std::fmt;

/// One thing wrong with the file (or, as a warning, worth knowing about it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// Where in the file, when known.
    pub position: Option<Position>,
    /// Key path, e.g. `targets[0].behavior.scaleUp.policies[1].type`; empty for the whole
    /// file.
    pub path: String,
    /// What is wrong, e.g. `unknown value "pod"`.
    pub message: String,
    /// What to write instead, e.g. `write one of: Pods, Percent`.
    pub hint: String,
}

/// Problems found in one file, shown one per line as `file:line:column: path: message; hint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The file name used in messages.
    pub origin: String,
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl Report {
    /// A report of `problems`, sorted into file order with duplicates removed (a value
    /// inherited from `defaults:` is checked once per target but reported once).
    pub fn new(origin: &str, mut problems: Vec<Problem>) -> Self {
        problems.sort();
        problems.dedup();
        Self {
            origin: origin.to_owned(),
            problems,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.origin)?;
            if let Some(position) = problem.position {
                write!(f, ":{}:{}", position.line, position.column)?;
            }
            write!(f, ": ")?;
            if !problem.path.is_empty() {
                write!(f, "{}: ", problem.path)?;
            }
            write!(f, "{}", problem.message)?;
            if !problem.hint.is_empty() {
                write!(f, "; {}", problem.hint)?;
            }
        }
        Ok(())
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error(
        "{origin}: cannot read the configuration file: {source}; check the path and its permissions"
    )]
    Read {
        /// The file.
        origin: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has no content (nothing, or only comments).
    #[error(
        "{origin}: the configuration file is empty; it needs at least `targets:` (copy config/minimal.yaml to start)"
    )]
    Empty {
        /// The file.
        origin: String,
    },
    /// The file is not valid YAML, or its keys or value types do not match the format
    /// (unknown key, wrong type, unknown enum value). Parsing stops at the first such problem.
    #[error("{0}")]
    Syntax(Report),
    /// The file parsed but some values are not acceptable; every such problem is listed.
    #[error("{0}")]
    Invalid(Report),
}

impl ConfigError {
    /// The individual problems (empty for [`ConfigError::Read`] and [`ConfigError::Empty`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Syntax(report) | Self::Invalid(report) => &report.problems,
            Self::Read { .. } | Self::Empty { .. } => &[],
        }
    }
}
