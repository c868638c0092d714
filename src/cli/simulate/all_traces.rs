//! `prescale simulate --all-traces DIR [--reference FILE] [--peers computed]`: prescale beside
//! the reference policies (and the predictive peers, from `bench-reference.json` or computed
//! in the run) on every trace of a directory, as the Markdown table of the README.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::error::SimulateError;
use super::evaluate::{Chosen, evaluate, ticks_per_load};
use super::peers::{self, PeerCheck, PeerSource};
use super::progress::Progress;
use super::summary::LoadInfo;
use super::{load_trace, scored_load};
use crate::config::TargetConfig;
use crate::simulate::policies::PolicyName;
use crate::simulate::{Bench, BenchParams, Scores};

/// The predictive peers of `bench-reference.json`: the bar prescale has to clear.
pub const PEERS: [&str; 2] = ["seasonal-naive", "holt-winters"];

/// Relative slack when comparing prescale's scores with a peer's: the two come from
/// different implementations of the same arithmetic, so equal results can differ in the
/// last bits.
const TIE: f64 = 1e-9;

/// A peer's scores, from the reference file or computed in the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PeerScores {
    /// Arrival-weighted fraction of late documents.
    pub late_fraction: f64,
    /// Replica-hours relative to the oracle.
    pub cost_vs_oracle: f64,
    /// Decisions that changed the pod count (when known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_events: Option<u64>,
}

/// One trace's row.
#[derive(Debug, Clone, Serialize)]
pub struct TraceRow {
    /// The file's stem.
    pub trace: String,
    /// How it was scaled and cut.
    pub info: LoadInfo,
    /// prescale's scores.
    pub prescale: Scores,
    /// The reference policies' scores, by name.
    pub references: BTreeMap<String, Scores>,
    /// The peers' scores by name: computed in the run, or from the reference file when it
    /// has this trace.
    pub peers: BTreeMap<String, PeerScores>,
    /// The peers' full scores, when computed in the run.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub computed_peers: BTreeMap<String, Scores>,
    /// Whether prescale is no later and no costlier than the best peer (None: no peers).
    pub meets_goal: Option<bool>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The bench parameters.
    pub params: BenchParams,
    /// One row per trace, by file name.
    pub traces: Vec<TraceRow>,
    /// Where the peers' scores come from.
    pub peer_source: PeerSource,
    /// Computed peers beside `--reference`'s, when both are there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peer_checks: Vec<PeerCheck>,
}

/// Run prescale and the references (and the peers, when `peer_source` says so) on every
/// `*.csv` in `dir`.
pub fn report(
    dir: &Path,
    reference: Option<&Path>,
    peer_source: PeerSource,
    params: BenchParams,
    config: &TargetConfig,
) -> Result<Report, SimulateError> {
    let reference = reference
        .map(|path| read_reference(path, &params))
        .transpose()?;
    let files = trace_files(dir)?;
    let traces = files
        .iter()
        .map(|path| load_trace(path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut loads = Vec::with_capacity(traces.len());
    for trace in &traces {
        loads.push(scored_load(trace, &params)?);
    }
    let peer_runs = match peer_source {
        PeerSource::Reference => 0,
        PeerSource::Computed => PolicyName::PEERS.len() as u64,
    };
    let total: u64 = loads
        .iter()
        .map(|l| ticks_per_load(l.ticks()) + peer_runs * l.ticks() as u64)
        .sum();
    let progress = Progress::new(total);
    // The peers first, several traces at once; then the rest, one trace after the other.
    let mut computed = match peer_source {
        PeerSource::Reference => Vec::new(),
        PeerSource::Computed => {
            progress.trace("peers");
            peers::compute_all(&loads, params, config, &progress)
        }
    }
    .into_iter();
    let mut done = peer_runs * loads.iter().map(|l| l.ticks() as u64).sum::<u64>();
    let mut rows = Vec::with_capacity(traces.len());
    let mut peer_checks = Vec::new();
    for ((path, trace), load) in files.iter().zip(&traces).zip(&loads) {
        let name = stem(path);
        progress.trace(&name);
        let bench = Bench::new(load, params);
        let chosen = Chosen::Named(PolicyName::Prescale);
        let results = evaluate(&bench, chosen, config, &progress, &mut done);
        let reference_peers = reference
            .as_ref()
            .map(|r| peer_scores(r, &name))
            .unwrap_or_default();
        let (peers, computed_peers) = match peer_source {
            PeerSource::Reference => (reference_peers, BTreeMap::new()),
            PeerSource::Computed => {
                let computed = computed.next().unwrap_or_default();
                peer_checks.extend(peers::check(&name, &computed, &reference_peers));
                let scores = computed
                    .iter()
                    .map(|(n, s)| (n.clone(), PeerScores::from(s)))
                    .collect();
                (scores, computed)
            }
        };
        let meets_goal = meets_goal(&results.chosen.scores, &peers);
        rows.push(TraceRow {
            trace: name,
            info: LoadInfo::new(trace, load),
            prescale: results.chosen.scores,
            references: results
                .references
                .iter()
                .map(|(n, e)| (n.as_str().to_string(), e.scores))
                .collect(),
            peers,
            computed_peers,
            meets_goal,
        });
    }
    progress.finish();
    Ok(Report {
        params,
        traces: rows,
        peer_source,
        peer_checks,
    })
}

impl Report {
    /// The Markdown table: one row per trace, each cell `late % / cost vs oracle`.
    pub fn markdown(&self) -> String {
        let with_peers = self.traces.iter().any(|r| !r.peers.is_empty());
        let mut columns = vec!["prescale".to_string()];
        columns.extend(
            PolicyName::REFERENCES
                .iter()
                .map(|n| n.as_str().to_string()),
        );
        if with_peers {
            columns.extend(PEERS.iter().map(|p| p.to_string()));
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Each cell: late % / cost vs oracle (shared/BENCH.md; mu {}, peak {} replicas, start-up {} s, SLO {} s).",
            self.params.mu, self.params.peak_replicas, self.params.startup, self.params.slo_wait
        );
        if with_peers {
            if self.peer_source == PeerSource::Computed {
                let _ = writeln!(
                    out,
                    "Peers (seasonal-naive, holt-winters) computed in this run."
                );
            }
            let _ = writeln!(
                out,
                "Goal: prescale no later than the better peer and no costlier than the cheaper peer."
            );
        }
        out.push('\n');
        let goal = if with_peers { " goal met |" } else { "" };
        let _ = writeln!(out, "| trace | {} |{goal}", columns.join(" | "));
        let _ = writeln!(
            out,
            "|---|{}{}",
            "---:|".repeat(columns.len()),
            if with_peers { "---|" } else { "" }
        );
        for row in &self.traces {
            let mut cells = vec![cell(
                row.prescale.late_fraction,
                row.prescale.cost_vs_oracle,
            )];
            for name in PolicyName::REFERENCES {
                match row.references.get(name.as_str()) {
                    Some(s) => cells.push(cell(s.late_fraction, s.cost_vs_oracle)),
                    None => cells.push("n/a".into()),
                }
            }
            if with_peers {
                for peer in PEERS {
                    match row.peers.get(peer) {
                        Some(p) => cells.push(cell(p.late_fraction, p.cost_vs_oracle)),
                        None => cells.push("n/a".into()),
                    }
                }
                cells.push(goal_cell(row));
            }
            let _ = writeln!(out, "| {} | {} |", row.trace, cells.join(" | "));
        }
        out.push_str(&peers::markdown(&self.peer_checks));
        out
    }
}

fn cell(late: f64, cost: f64) -> String {
    format!("{:.2}% / {:.2}×", 100.0 * late, cost)
}

fn goal_cell(row: &TraceRow) -> String {
    let Some(met) = row.meets_goal else {
        return "no peer scores".into();
    };
    if met {
        return "yes".into();
    }
    let (late, cost) = best_peer(&row.peers);
    let mut why = Vec::new();
    if !no_worse(row.prescale.late_fraction, late) {
        why.push(format!(
            "late {:.2}% > {:.2}%",
            100.0 * row.prescale.late_fraction,
            100.0 * late
        ));
    }
    if !no_worse(row.prescale.cost_vs_oracle, cost) {
        why.push(format!(
            "cost {:.2}× > {:.2}×",
            row.prescale.cost_vs_oracle, cost
        ));
    }
    format!("no: {}", why.join(", "))
}

/// The lowest late fraction and the lowest cost among the peers.
fn best_peer(peers: &BTreeMap<String, PeerScores>) -> (f64, f64) {
    peers
        .values()
        .fold((f64::INFINITY, f64::INFINITY), |(l, c), p| {
            (l.min(p.late_fraction), c.min(p.cost_vs_oracle))
        })
}

fn no_worse(ours: f64, bar: f64) -> bool {
    ours <= bar + TIE * bar.abs().max(1e-12)
}

/// The goal: late ≤ the lowest peer late fraction AND cost ≤ the lowest peer cost.
pub fn meets_goal(prescale: &Scores, peers: &BTreeMap<String, PeerScores>) -> Option<bool> {
    if peers.is_empty() {
        return None;
    }
    let (late, cost) = best_peer(peers);
    Some(no_worse(prescale.late_fraction, late) && no_worse(prescale.cost_vs_oracle, cost))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn trace_files(dir: &Path) -> Result<Vec<PathBuf>, SimulateError> {
    let problem = |problem: String| SimulateError::TracesDir {
        path: dir.to_path_buf(),
        problem,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| problem(format!("cannot list it ({e})")))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| problem(format!("cannot list it ({e})")))?
            .path();
        if path.is_file() && path.extension().is_some_and(|x| x == "csv") {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(problem("it holds no *.csv file".into()));
    }
    files.sort();
    Ok(files)
}

/// Read the reference file, checking it was computed with this run's parameters.
fn read_reference(path: &Path, params: &BenchParams) -> Result<Value, SimulateError> {
    let problem = |problem: String| SimulateError::Reference {
        path: path.to_path_buf(),
        problem,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| problem(format!("cannot read it ({e})")))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| problem(format!("not valid JSON ({e})")))?;
    if !value["traces"].is_object() {
        return Err(problem("it has no `traces` object".into()));
    }
    let file = &value["params"];
    let ours = [
        ("mu", params.mu),
        ("peak_replicas", params.peak_replicas),
        ("tick", params.tick),
        ("startup", params.startup),
        ("slo_wait", params.slo_wait),
        ("min_replicas", params.min_replicas as f64),
        ("max_replicas", params.max_replicas as f64),
        ("horizon_days", params.horizon_days),
    ];
    for (key, v) in ours {
        if file[key].as_f64() != Some(v) {
            return Err(SimulateError::ReferenceParams {
                path: path.to_path_buf(),
                differs: format!("{key}: {} there, {v} here", file[key]),
            });
        }
    }
    if let Some(w) = params.warmup_days {
        return Err(SimulateError::ReferenceParams {
            path: path.to_path_buf(),
            differs: format!("warmup_days: BENCH.md's rule there, {w} here"),
        });
    }
    Ok(value)
}

fn peer_scores(reference: &Value, trace: &str) -> BTreeMap<String, PeerScores> {
    PEERS
        .iter()
        .filter_map(|peer| {
            let p = &reference["traces"][trace]["policies"][*peer];
            Some((
                peer.to_string(),
                PeerScores {
                    late_fraction: p["late_fraction"].as_f64()?,
                    cost_vs_oracle: p["cost_vs_oracle"].as_f64()?,
                    scale_events: p["scale_events"].as_u64(),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(late: f64, cost: f64) -> Scores {
        Scores {
            late_fraction: late,
            p99_wait_s: 0.0,
            replica_hours: 1.0,
            cost_vs_oracle: cost,
            scale_events: 0,
        }
    }

    fn peer(name: &str, late: f64, cost: f64) -> (String, PeerScores) {
        (
            name.into(),
            PeerScores {
                late_fraction: late,
                cost_vs_oracle: cost,
                scale_events: None,
            },
        )
    }

    #[test]
    fn the_goal_needs_the_lowest_late_and_the_lowest_cost_of_the_peers() {
        let peers: BTreeMap<_, _> = [peer("a", 0.01, 1.2), peer("b", 0.0, 1.5)].into();
        assert_eq!(meets_goal(&scores(0.0, 1.2), &peers), Some(true));
        assert_eq!(
            meets_goal(&scores(0.0, 1.3), &peers),
            Some(false),
            "costlier than a"
        );
        assert_eq!(
            meets_goal(&scores(0.005, 1.0), &peers),
            Some(false),
            "later than b"
        );
        assert_eq!(
            meets_goal(&scores(0.0, 1.2 * (1.0 + 1e-12)), &peers),
            Some(true),
            "a tie in the last bits counts as a tie"
        );
        assert_eq!(meets_goal(&scores(0.0, 1.0), &BTreeMap::new()), None);
    }
}
