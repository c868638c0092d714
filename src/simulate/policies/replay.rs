//! Replays a schedule written by `--decisions-out`, so a schedule can be re-scored.

use std::path::Path;

use crate::simulate::{BenchObservation, BenchPolicy};

/// A recorded `t,desired` schedule played back tick by tick.
pub struct Replay {
    desired: Vec<u32>,
}

/// Why a schedule cannot be replayed.
#[derive(Debug, thiserror::Error)]
#[error(
    "{origin}:{line}: {problem}; the file must be CSV `t,desired` with one row per tick, as --decisions-out writes it"
)]
pub struct ReplayError {
    origin: String,
    line: usize,
    problem: String,
}

impl Replay {
    /// Read a schedule file.
    pub fn load(path: &Path) -> Result<Replay, ReplayError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ReplayError {
            origin: origin.clone(),
            line: 0,
            problem: e.to_string(),
        })?;
        Self::parse(&text, &origin)
    }

    /// Parse schedule text.
    pub fn parse(text: &str, origin: &str) -> Result<Replay, ReplayError> {
        let err = |line, problem: String| ReplayError {
            origin: origin.to_string(),
            line,
            problem,
        };
        let mut desired = Vec::new();
        for (i, row) in text.lines().enumerate().skip(1) {
            let Some((_, d)) = row.split_once(',') else {
                return Err(err(i + 1, format!("`{row}` has no comma")));
            };
            let d: u32 = d
                .trim()
                .parse()
                .map_err(|_| err(i + 1, format!("`{}` is not a replica count", d.trim())))?;
            desired.push(d);
        }
        Ok(Replay { desired })
    }

    /// Ticks in the schedule.
    pub fn len(&self) -> usize {
        self.desired.len()
    }

    /// Whether the schedule is empty.
    pub fn is_empty(&self) -> bool {
        self.desired.is_empty()
    }
}

impl BenchPolicy for Replay {
    fn decide(&mut self, obs: &BenchObservation) -> u32 {
        self.desired.get(obs.tick).copied().unwrap_or(obs.pods)
    }
}
