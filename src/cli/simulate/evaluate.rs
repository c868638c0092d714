//! Runs the chosen policy and the four reference policies on one load, in one bench.

use std::path::PathBuf;

use super::progress::Progress;
use crate::config::TargetConfig;
use crate::simulate::policies::{PolicyName, Replay};
use crate::simulate::{Bench, Evaluation};

/// The policy a run scores beside the references.
pub enum Chosen {
    /// A policy known by name.
    Named(PolicyName),
    /// A schedule written by `--decisions-out`, played back.
    Replay {
        /// The schedule.
        replay: Replay,
        /// Where it came from.
        path: PathBuf,
    },
}

/// The label a replayed schedule carries in reports.
pub const REPLAY_LABEL: &str = "replay";

/// One load's results: the chosen policy beside the four references.
pub struct Results {
    /// The chosen policy.
    pub chosen: Evaluation,
    /// The references, in [`PolicyName::REFERENCES`] order.
    pub references: Vec<(PolicyName, Evaluation)>,
}

/// Evaluate `chosen` and the references on `bench`; `done` counts simulated ticks for the
/// progress bar across calls.
pub fn evaluate(
    bench: &Bench,
    chosen: Chosen,
    config: &TargetConfig,
    progress: &Progress,
    done: &mut u64,
) -> Results {
    let ticks = bench.oracle().run.desired.len() as u64;
    let mut references = Vec::with_capacity(PolicyName::REFERENCES.len());
    for name in PolicyName::REFERENCES {
        let evaluation = bench.evaluate_named(name, config, progress.run(name.as_str(), *done));
        *done += ticks;
        references.push((name, evaluation));
    }
    let chosen = match chosen {
        Chosen::Named(name) => match references.iter().find(|(n, _)| *n == name) {
            Some((_, evaluation)) => evaluation.clone(),
            None => bench.evaluate_named(name, config, progress.run(name.as_str(), *done)),
        },
        Chosen::Replay { mut replay, .. } => {
            bench.evaluate(REPLAY_LABEL, &mut replay, progress.run(REPLAY_LABEL, *done))
        }
    };
    *done += ticks;
    Results { chosen, references }
}

/// Ticks the progress bar counts for one load: the references and the chosen policy.
pub fn ticks_per_load(ticks: usize) -> u64 {
    (PolicyName::REFERENCES.len() as u64 + 1) * ticks as u64
}
