//! The simulator benchmark: CPU time of the bench (shared/BENCH.md) on every public trace ×
//! (the four reference policies + prescale), and, in the same run, a straightforward
//! per-tick implementation of the same queue model as the baseline it is compared with.
//!
//! `cargo bench --bench simulate [-- --json] [-- --runs N]`. Reads `../shared/traces/*.csv`;
//! falls back to the built-in synthetic scenario (with a message) when they are absent.
//!
//! Targets (from the issue): all traces × 5 policies under 1 s CPU in release, and at least
//! 20× faster than the straightforward implementation.

use std::path::{Path, PathBuf};

use prescale::config::TargetConfig;
use prescale::simulate::policies::PolicyName;
use prescale::simulate::{
    Bench, BenchObservation, BenchParams, BenchPolicy, Load, Scores, Trace, policy, synthetic,
};
use serde_json::json;

const TARGET_TOTAL_S: f64 = 1.0;
const TARGET_RATIO: f64 = 20.0;
/// Relative tolerance for the baseline's scores: it sums in another order, so the last bits
/// may differ; any real disagreement is far larger.
const SCORE_TOLERANCE: f64 = 1e-9;

/// The policies timed on each trace, the oracle first (every cost is relative to it).
const POLICIES: [PolicyName; 5] = [
    PolicyName::Oracle,
    PolicyName::Static,
    PolicyName::Hpa,
    PolicyName::KedaQueue,
    PolicyName::Prescale,
];

/// CPU time of this process, seconds (all threads; the bench uses one).
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_PROCESS_CPUTIME_ID exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = cpu_seconds();
    let out = f();
    (out, cpu_seconds() - start)
}

struct Options {
    json: bool,
    runs: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 5;
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        match args.get(i + 1).and_then(|n| n.parse().ok()) {
            Some(n) if n > 0 => runs = n,
            _ => {
                eprintln!("error: --runs needs a whole number > 0, e.g. --runs 5");
                std::process::exit(1);
            }
        }
    }
    // cargo passes `--bench`; everything else unknown is ignored the same way.
    Options {
        json: args.iter().any(|a| a == "--json"),
        runs,
    }
}

fn traces() -> (Vec<Trace>, f64) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/traces");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "csv"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        eprintln!(
            "note: {} has no traces; benchmarking the built-in synthetic scenario instead",
            dir.display()
        );
        return (vec![synthetic::trace()], 0.0);
    }
    let (traces, parse_s) = timed(|| {
        files
            .iter()
            .map(|f| {
                let mut t = Trace::load(f).unwrap_or_else(|e| panic!("{e}"));
                t.name = stem(f);
                t
            })
            .collect()
    });
    (traces, parse_s)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

/// Best (lowest) CPU seconds per trace and policy, and per whole sweep.
struct Timings {
    /// `[trace][policy]`; the oracle's cell includes scaling the trace to the load.
    cells: Vec<[f64; 5]>,
    total: f64,
    scores: Vec<[Scores; 5]>,
}

/// One sweep: every trace scaled and every policy run and scored, as `prescale simulate` does.
fn sweep(traces: &[Trace], params: BenchParams, config: &TargetConfig) -> Timings {
    let start = cpu_seconds();
    let mut cells = Vec::with_capacity(traces.len());
    let mut scores = Vec::with_capacity(traces.len());
    for trace in traces {
        let mut cell = [0.0; 5];
        let (load, scale_s) = timed(|| Load::new(trace, &params).unwrap_or_else(|e| panic!("{e}")));
        let (bench, oracle_s) = timed(|| Bench::new(&load, params));
        cell[0] = scale_s + oracle_s;
        let mut row = [bench.oracle().scores; 5];
        for (i, name) in POLICIES.iter().enumerate().skip(1) {
            let (evaluation, s) = timed(|| bench.evaluate_named(*name, config, |_| {}));
            cell[i] = s;
            row[i] = evaluation.scores;
        }
        cells.push(cell);
        scores.push(row);
    }
    let total = cpu_seconds() - start;
    Timings {
        cells,
        total,
        scores,
    }
}

fn best(a: Timings, b: Timings) -> Timings {
    let cells = a
        .cells
        .iter()
        .zip(&b.cells)
        .map(|(x, y)| std::array::from_fn(|i| x[i].min(y[i])))
        .collect();
    Timings {
        cells,
        total: a.total.min(b.total),
        scores: a.scores,
    }
}

fn main() {
    let opts = options();
    let params = BenchParams::default();
    let config = TargetConfig::default();
    let (traces, parse_s) = traces();

    let mut timings = sweep(&traces, params, &config);
    for _ in 1..opts.runs {
        timings = best(timings, sweep(&traces, params, &config));
    }

    // The baseline on the shortest trace: it is quadratic in the trace length, so a long
    // trace would take minutes (and flatter the ratio).
    let (index, trace) = traces
        .iter()
        .enumerate()
        .min_by_key(|(_, t)| t.values.len() * t.step_s as usize)
        .expect("at least one trace");
    let load = Load::new(trace, &params).unwrap_or_else(|e| panic!("{e}"));
    let mut baseline_cells = [f64::INFINITY; 5];
    let mut baseline_scores = Vec::new();
    let baseline_runs = opts.runs.min(2);
    for _ in 0..baseline_runs {
        baseline_scores.clear();
        let mut oracle_hours = None;
        for (i, name) in POLICIES.iter().enumerate() {
            let (scores, s) = timed(|| {
                let mut p = policy(*name, &load, &params, &config);
                let run = baseline::run(&load, &params, p.as_mut());
                baseline::score(&load, &params, &run, oracle_hours)
            });
            if *name == PolicyName::Oracle {
                oracle_hours = Some(scores.replica_hours);
            }
            baseline_cells[i] = baseline_cells[i].min(s);
            baseline_scores.push(scores);
        }
    }
    let mismatches: Vec<String> = POLICIES
        .iter()
        .zip(&baseline_scores)
        .zip(&timings.scores[index])
        .filter(|((_, b), o)| !same_scores(b, o))
        .map(|((name, b), o)| format!("{}: baseline {b:?}, optimised {o:?}", name.as_str()))
        .collect();
    // The model's share of the optimised cell, as in the baseline: without scaling the trace.
    let (_, scale_s) = timed(|| Load::new(trace, &params));
    let optimised_s = timings.cells[index].iter().sum::<f64>() - scale_s;
    let baseline_s: f64 = baseline_cells.iter().sum();
    let ratio = baseline_s / optimised_s;
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };

    if opts.json {
        let per_trace: Vec<_> = traces
            .iter()
            .zip(&timings.cells)
            .map(|(t, cells)| {
                let seconds: serde_json::Map<_, _> = POLICIES
                    .iter()
                    .zip(cells)
                    .map(|(p, s)| (p.as_str().to_string(), json!(s)))
                    .collect();
                json!({
                    "trace": t.name,
                    "rows": t.values.len(),
                    "cpu_s": seconds,
                    "total_cpu_s": cells.iter().sum::<f64>(),
                })
            })
            .collect();
        let out = json!({
            "profile": profile,
            "runs": opts.runs,
            "parse_cpu_s": parse_s,
            "traces": per_trace,
            "total_cpu_s": timings.total,
            "target_total_cpu_s": TARGET_TOTAL_S,
            "meets_total_target": timings.total < TARGET_TOTAL_S,
            "baseline": {
                "trace": trace.name,
                "ticks": load.ticks(),
                "runs": baseline_runs,
                "optimised_cpu_s": optimised_s,
                "baseline_cpu_s": baseline_s,
                "ratio": ratio,
                "target_ratio": TARGET_RATIO,
                "meets_ratio_target": ratio >= TARGET_RATIO,
                "scores_match": mismatches.is_empty(),
            },
        });
        println!("{out}");
    } else {
        println!(
            "simulator benchmark ({profile} build), CPU time, best of {} runs",
            opts.runs
        );
        println!(
            "{:<24} {:>9} {:>9} {:>9} {:>9} {:>11} {:>9} {:>9}",
            "trace", "ticks", "oracle*", "static", "hpa", "keda-queue", "prescale", "total"
        );
        for (t, cells) in traces.iter().zip(&timings.cells) {
            let ticks = Load::new(t, &params).map_or(0, |l| l.ticks());
            println!(
                "{:<24} {:>9} {:>8.4}s {:>8.4}s {:>8.4}s {:>10.4}s {:>8.4}s {:>8.4}s",
                t.name,
                ticks,
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                cells.iter().sum::<f64>()
            );
        }
        println!("* oracle includes scaling the trace to the load; trace parsing: {parse_s:.4}s");
        println!(
            "all traces × 5 policies: {:.4}s CPU (target < {TARGET_TOTAL_S} s): {}",
            timings.total,
            if timings.total < TARGET_TOTAL_S {
                "met"
            } else {
                "NOT met"
            }
        );
        println!(
            "baseline (straightforward per-tick model, quadratic waits) on {} ({} ticks), best of {baseline_runs}: \
             {baseline_s:.4}s vs optimised {optimised_s:.4}s → {ratio:.0}× (target ≥ {TARGET_RATIO}×): {}",
            trace.name,
            load.ticks(),
            if ratio >= TARGET_RATIO {
                "met"
            } else {
                "NOT met"
            }
        );
        println!(
            "baseline scores equal the optimised ones (relative {SCORE_TOLERANCE:e}): {}",
            if mismatches.is_empty() { "yes" } else { "NO" }
        );
    }
    if !mismatches.is_empty() {
        for m in &mismatches {
            eprintln!("MISMATCH {m}");
        }
        std::process::exit(1);
    }
}

fn same_scores(a: &Scores, b: &Scores) -> bool {
    let close = |x: f64, y: f64| x == y || (x - y).abs() <= SCORE_TOLERANCE * y.abs().max(1e-300);
    close(a.late_fraction, b.late_fraction)
        && close(a.p99_wait_s, b.p99_wait_s)
        && close(a.replica_hours, b.replica_hours)
        && close(a.cost_vs_oracle, b.cost_vs_oracle)
        && a.scale_events == b.scale_events
}

/// The queue model of BENCH.md written the way one would write it first: pods as a list of
/// ready times scanned every tick, each observation recomputed from scratch, and every wait
/// found by a linear search from the start of the run.
mod baseline {
    use super::*;

    /// What a run leaves for scoring.
    pub struct Run {
        arrivals: Vec<f64>,
        pods: Vec<usize>,
        changed: Vec<bool>,
        cum_arrivals: Vec<f64>,
        cum_departures: Vec<f64>,
    }

    /// First time the piecewise-linear `cum` reaches `x`, searching from t = 0.
    fn first_reach(cum: &[f64], x: f64, tick: f64) -> Option<f64> {
        for k in 0..cum.len() {
            if cum[k] >= x {
                if k == 0 {
                    return Some(0.0);
                }
                let (lo, hi) = (cum[k - 1], cum[k]);
                return Some(tick * (k - 1) as f64 + tick * (x - lo) / (hi - lo));
            }
        }
        None
    }

    pub fn run(load: &Load, params: &BenchParams, policy: &mut dyn BenchPolicy) -> Run {
        let tick = load.tick;
        let mut ready_times: Vec<f64> = vec![0.0];
        let mut backlog = 0.0;
        let mut out = Run {
            arrivals: Vec::new(),
            pods: Vec::new(),
            changed: Vec::new(),
            cum_arrivals: vec![0.0],
            cum_departures: vec![0.0],
        };
        let mut served_prev = 0.0;
        let mut ready_prev = 1;
        for j in 0..load.ticks() {
            let t = tick * j as f64;
            let d_now = out.cum_departures[j];
            let dequeued_arrival = first_reach(&out.cum_arrivals, d_now, tick).unwrap_or(t);
            let obs = BenchObservation {
                tick: j,
                t,
                queue_depth: backlog,
                arrivals: if j == 0 {
                    0.0
                } else {
                    tick * load.rates[j - 1]
                },
                completions: served_prev,
                ready: ready_prev,
                pods: ready_times.len() as u32,
                wait_s: t - dequeued_arrival,
            };
            let desired = policy
                .decide(&obs)
                .clamp(params.min_replicas, params.max_replicas) as usize;
            let before = ready_times.len();
            while ready_times.len() < desired {
                ready_times.push(t + params.startup);
            }
            if ready_times.len() > desired {
                // Latest ready time first: starting pods go before ready ones.
                ready_times.sort_by(f64::total_cmp);
                ready_times.truncate(desired);
            }
            out.changed.push(ready_times.len() != before);
            let ready = ready_times.iter().filter(|&&r| r <= t).count();
            let arrivals = tick * load.rates[j];
            let served = (backlog + arrivals).min(tick * (params.mu * ready as f64));
            backlog = backlog + arrivals - served;
            let cum = out.cum_arrivals[j] + arrivals;
            out.cum_arrivals.push(cum);
            out.cum_departures.push(cum - backlog);
            out.arrivals.push(arrivals);
            out.pods.push(ready_times.len());
            served_prev = served;
            ready_prev = ready as u32;
        }
        out
    }

    pub fn score(
        load: &Load,
        params: &BenchParams,
        run: &Run,
        oracle_hours: Option<f64>,
    ) -> Scores {
        let tick = load.tick;
        let first = load.first_scored_tick();
        let mut weighted = Vec::new();
        let (mut total, mut late, mut hours, mut events) = (0.0, 0.0, 0.0, 0);
        for j in first..run.arrivals.len() {
            let mid = tick * j as f64 + tick / 2.0;
            let (a0, a1) = (run.cum_arrivals[j], run.cum_arrivals[j + 1]);
            let at_mid = a0 + (a1 - a0) * 0.5;
            let wait = match first_reach(&run.cum_departures, at_mid, tick) {
                Some(t) => t - mid,
                None => load.end_s - mid,
            }
            .max(0.0);
            total += run.arrivals[j];
            if wait > params.slo_wait {
                late += run.arrivals[j];
            }
            weighted.push((wait, run.arrivals[j]));
            hours += run.pods[j] as f64 * tick / 3600.0;
            if run.changed[j] {
                events += 1;
            }
        }
        weighted.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut cumulative = 0.0;
        let mut p99 = weighted.last().map_or(0.0, |w| w.0);
        for (w, a) in &weighted {
            cumulative += a;
            if cumulative >= 0.99 * total {
                p99 = *w;
                break;
            }
        }
        Scores {
            late_fraction: if total > 0.0 { late / total } else { 0.0 },
            p99_wait_s: p99,
            replica_hours: hours,
            cost_vs_oracle: hours / oracle_hours.unwrap_or(hours),
            scale_events: events,
        }
    }
}
