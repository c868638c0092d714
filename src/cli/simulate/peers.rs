//! The predictive peers of issue 10's bar in `simulate --all-traces`: read from `--reference`
//! (the default), or computed in the run (`--peers computed`) so the bar can be measured at
//! any start-up and SLO and on any trace. With both, the reference's values are shown beside
//! the computed ones and the differences are reported.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use super::all_traces::PeerScores;
use super::progress::Progress;
use crate::config::TargetConfig;
use crate::simulate::policies::PolicyName;
use crate::simulate::{Bench, BenchParams, Load, Scores};

/// Relative difference above which a computed `seasonal-naive` disagrees with the reference:
/// its definition is exact, so any larger difference means the bench or the reading of the
/// definition changed.
pub const EXACT_PEER_TOLERANCE: f64 = 1e-6;

/// Where the peers' scores come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerSource {
    /// `--reference`'s scores (only for the parameters that file was computed with).
    #[default]
    Reference,
    /// Run `seasonal-naive` and `holt-winters` on each trace in the same run.
    Computed,
}

impl From<&Scores> for PeerScores {
    fn from(s: &Scores) -> Self {
        PeerScores {
            late_fraction: s.late_fraction,
            cost_vs_oracle: s.cost_vs_oracle,
            scale_events: Some(s.scale_events),
        }
    }
}

/// Run every peer on every load, several loads at once (one worker per core: the
/// Holt-Winters fits make the peers far slower than the other policies). One map per load, in
/// `loads`' order.
pub fn compute_all(
    loads: &[Load],
    params: BenchParams,
    config: &TargetConfig,
    progress: &Progress,
) -> Vec<BTreeMap<String, Scores>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(loads.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let mut out = vec![BTreeMap::new(); loads.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(load) = loads.get(index) else {
                            break done;
                        };
                        done.push((index, run_peers(load, params, config, progress)));
                    }
                })
            })
            .collect();
        let mut finished = Vec::new();
        for handle in handles {
            match handle.join() {
                Ok(done) => finished.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        for (index, scores) in finished {
            out[index] = scores;
        }
    });
    out
}

/// Both peers on one load.
fn run_peers(
    load: &Load,
    params: BenchParams,
    config: &TargetConfig,
    progress: &Progress,
) -> BTreeMap<String, Scores> {
    let bench = Bench::new(load, params);
    let mut out = BTreeMap::new();
    for peer in PolicyName::PEERS {
        let reported = Cell::new(0_u64);
        let evaluation = bench.evaluate_named(peer, config, |tick| {
            progress.add(tick as u64 - reported.get());
            reported.set(tick as u64);
        });
        progress.add(load.ticks() as u64 - reported.get());
        out.insert(peer.as_str().to_string(), evaluation.scores);
    }
    out
}

/// A computed peer beside the reference's scores for it, on one trace.
#[derive(Debug, Clone, Serialize)]
pub struct PeerCheck {
    /// The trace.
    pub trace: String,
    /// The peer.
    pub peer: String,
    /// Computed in this run.
    pub computed: PeerScores,
    /// From `--reference`.
    pub reference: PeerScores,
    /// Largest relative difference of late fraction and cost (absolute where the reference is
    /// 0).
    pub max_relative_difference: f64,
    /// Whether the difference is beyond what the peer's definition allows: above
    /// [`EXACT_PEER_TOLERANCE`] for `seasonal-naive`; `holt-winters` is never flagged (its
    /// fit reproduces statsmodels' to the optimiser's tolerance, not bit for bit).
    pub disagrees: bool,
}

/// Compare the computed peers of one trace with the reference's.
pub fn check(
    trace: &str,
    computed: &BTreeMap<String, Scores>,
    reference: &BTreeMap<String, PeerScores>,
) -> Vec<PeerCheck> {
    computed
        .iter()
        .filter_map(|(peer, scores)| {
            let reference = *reference.get(peer)?;
            let computed = PeerScores::from(scores);
            let difference =
                relative_difference(computed.late_fraction, reference.late_fraction).max(
                    relative_difference(computed.cost_vs_oracle, reference.cost_vs_oracle),
                );
            let events_differ = reference
                .scale_events
                .is_some_and(|e| Some(e) != computed.scale_events);
            let exact = peer == PolicyName::SeasonalNaive.as_str();
            Some(PeerCheck {
                trace: trace.to_string(),
                peer: peer.clone(),
                computed,
                reference,
                max_relative_difference: difference,
                disagrees: exact && (difference > EXACT_PEER_TOLERANCE || events_differ),
            })
        })
        .collect()
}

fn relative_difference(got: f64, want: f64) -> f64 {
    let scale = if want == 0.0 { 1.0 } else { want.abs() };
    (got - want).abs() / scale
}

/// The Markdown section comparing computed peers with the reference.
pub fn markdown(checks: &[PeerCheck]) -> String {
    let mut out = String::new();
    if checks.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\nPeers computed in this run beside --reference (late % / cost vs oracle / scale events):\n"
    );
    let _ = writeln!(
        out,
        "| trace | peer | computed | reference | max rel. diff |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for c in checks {
        let flag = if c.disagrees { " **differs**" } else { "" };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1e}{flag} |",
            c.trace,
            c.peer,
            cell(&c.computed),
            cell(&c.reference),
            c.max_relative_difference
        );
    }
    let disagreeing: Vec<String> = checks
        .iter()
        .filter(|c| c.disagrees)
        .map(|c| format!("{} on {}", c.peer, c.trace))
        .collect();
    if !disagreeing.is_empty() {
        let _ = writeln!(
            out,
            "\nWarning: {} differ from --reference by more than {EXACT_PEER_TOLERANCE:e} (or in scale events); the peer's definition is exact, so the bench or the peer has changed.",
            disagreeing.join(", ")
        );
    }
    out
}

fn cell(p: &PeerScores) -> String {
    let events = p
        .scale_events
        .map_or_else(|| "n/a".to_string(), |e| e.to_string());
    format!(
        "{:.4}% / {:.4}× / {events}",
        100.0 * p.late_fraction,
        p.cost_vs_oracle
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(late: f64, cost: f64, events: u64) -> Scores {
        Scores {
            late_fraction: late,
            p99_wait_s: 0.0,
            replica_hours: 1.0,
            cost_vs_oracle: cost,
            scale_events: events,
        }
    }

    fn reference(late: f64, cost: f64, events: u64) -> PeerScores {
        PeerScores {
            late_fraction: late,
            cost_vs_oracle: cost,
            scale_events: Some(events),
        }
    }

    #[test]
    fn only_seasonal_naive_is_held_to_the_exact_tolerance() {
        let computed: BTreeMap<_, _> = [
            ("holt-winters".to_string(), scores(0.1, 2.0002, 10)),
            ("seasonal-naive".to_string(), scores(0.1, 2.0, 10)),
        ]
        .into();
        let same: BTreeMap<_, _> = [
            ("holt-winters".to_string(), reference(0.1, 2.0, 11)),
            (
                "seasonal-naive".to_string(),
                reference(0.1, 2.0 * (1.0 + 1e-9), 10),
            ),
        ]
        .into();
        let checks = check("t", &computed, &same);
        assert_eq!(checks.len(), 2);
        assert!(checks.iter().all(|c| !c.disagrees), "{checks:?}");
        assert!((checks[0].max_relative_difference - 1e-4).abs() < 1e-9);

        let off: BTreeMap<_, _> = [("seasonal-naive".to_string(), reference(0.1, 2.0, 9))].into();
        let checks = check("t", &computed, &off);
        assert_eq!(checks.len(), 1, "only peers the reference has are compared");
        assert!(
            checks[0].disagrees,
            "a different scale-event count disagrees"
        );
        assert!(markdown(&checks).contains("Warning: seasonal-naive on t differ"));

        let zero: BTreeMap<_, _> = [("seasonal-naive".to_string(), reference(0.0, 2.0, 10))].into();
        let checks = check("t", &computed, &zero);
        assert!(
            checks[0].disagrees,
            "a late fraction of 0.1 against 0 is a difference"
        );
    }
}
