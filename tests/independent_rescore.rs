//! The schedules prescale's bench produces, re-scored by an independent implementation of
//! `shared/BENCH.md` (`tools/rescore.py`, written without reading `src/simulate/`), give the
//! same scores as the Rust bench reports. A user can then trust that a published score is the
//! score of BENCH.md's model, not of one reading of it.
//!
//! Skips, loudly, when `../shared` (the public traces) or `python3` is absent; fails then
//! under CI.

#[path = "support/skip.rs"]
mod skip;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use prescale::config::TargetConfig;
use prescale::simulate::policies::PolicyName;
use prescale::simulate::{Bench, BenchParams, Evaluation, Load, Scores, Trace};

const TRACES: [&str; 5] = [
    "nasa_http_jul95",
    "alibaba_genai_requests",
    "nab_elb_requests",
    "nab_nyc_taxi",
    "worldcup98_2days",
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The public traces and a `python3` to run `tools/rescore.py`, or `None` after saying
/// which is missing (a failure under CI).
fn traces_and_python(test: &str) -> Option<PathBuf> {
    let dir = manifest_dir().join("../shared/traces");
    if !dir.is_dir() {
        skip::skip(
            test,
            "../shared/traces is absent",
            "the independent re-scoring needs the public traces in ../shared beside the project",
        );
        return None;
    }
    let python = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !python {
        skip::skip(
            test,
            "python3 is absent, so tools/rescore.py cannot run",
            "install python3 (`.ci/install-rescore.sh`)",
        );
        return None;
    }
    Some(dir)
}

/// Write the schedule a run applied as `t,desired`, one row per tick.
fn write_schedule(eval: &Evaluation, tick: f64) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut text = String::from("t,desired\n");
    for (j, desired) in eval.run.desired.iter().enumerate() {
        text.push_str(&format!("{},{desired}\n", (tick as usize) * j));
    }
    file.write_all(text.as_bytes()).unwrap();
    file.flush().unwrap();
    file
}

/// Start `tools/rescore.py` on a schedule; it runs its own oracle for `cost_vs_oracle`.
fn spawn_rescore(trace: &Path, schedule: &Path, params: &BenchParams) -> Child {
    let mut cmd = Command::new("python3");
    cmd.arg(manifest_dir().join("tools/rescore.py"))
        .arg("--trace")
        .arg(trace)
        .arg("--decisions")
        .arg(schedule)
        .args(["--mu", &params.mu.to_string()])
        .args(["--peak-replicas", &params.peak_replicas.to_string()])
        .args(["--startup", &params.startup.to_string()])
        .args(["--slo-wait", &params.slo_wait.to_string()])
        .args(["--min", &params.min_replicas.to_string()])
        .args(["--max", &params.max_replicas.to_string()])
        .args(["--horizon-days", &params.horizon_days.to_string()]);
    if let Some(days) = params.warmup_days {
        cmd.args(["--warmup-days", &days.to_string()]);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

fn close(what: &str, got: f64, want: f64) {
    let scale = want.abs().max(1e-300);
    assert!(
        got == want || (got - want).abs() / scale <= 1e-6,
        "{what}: rescore.py says {got:e}, the Rust bench {want:e}"
    );
}

/// One schedule waiting for its independent scores.
struct Pending {
    what: String,
    rust: Scores,
    ticks: usize,
    scored_ticks: usize,
    r99: f64,
    k: f64,
    child: Child,
    _schedule: tempfile::NamedTempFile,
}

fn check(p: Pending) {
    let out = p.child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}: rescore.py failed: {}",
        p.what,
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let num = |key: &str| {
        got[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{}: no {key} in {got}", p.what))
    };
    let what = |key: &str| format!("{} {key}", p.what);
    assert_eq!(
        got["ticks"].as_u64(),
        Some(p.ticks as u64),
        "{}",
        what("ticks")
    );
    assert_eq!(
        got["scored_ticks"].as_u64(),
        Some(p.scored_ticks as u64),
        "{}",
        what("scored_ticks")
    );
    close(&what("r99_per_s"), num("r99_per_s"), p.r99);
    close(&what("k"), num("k"), p.k);
    close(
        &what("late_fraction"),
        num("late_fraction"),
        p.rust.late_fraction,
    );
    close(&what("p99_wait_s"), num("p99_wait_s"), p.rust.p99_wait_s);
    close(
        &what("replica_hours"),
        num("replica_hours"),
        p.rust.replica_hours,
    );
    close(
        &what("cost_vs_oracle"),
        num("cost_vs_oracle"),
        p.rust.cost_vs_oracle,
    );
    assert_eq!(
        got["scale_events"].as_u64(),
        Some(p.rust.scale_events),
        "{}",
        what("scale_events")
    );
    eprintln!("{}: the independent scores agree", p.what);
}

#[test]
fn non_default_parameters_mean_the_same_to_both_implementations() {
    let Some(dir) =
        traces_and_python("non_default_parameters_mean_the_same_to_both_implementations")
    else {
        return;
    };
    // A start-up that is not a whole number of ticks, bounds that bind, a shorter horizon
    // and an explicit warm-up: every parameter the rescorer is told must be read the same way.
    let params = BenchParams {
        mu: 2.0,
        peak_replicas: 20.0,
        startup: 100.0,
        slo_wait: 30.0,
        min_replicas: 2,
        max_replicas: 15,
        warmup_days: Some(0.25),
        horizon_days: 1.5,
        ..BenchParams::default()
    };
    let mut pending = Vec::new();
    for name in ["worldcup98_2days", "nab_elb_requests"] {
        let path = dir.join(format!("{name}.csv"));
        let trace = Trace::load(&path).unwrap();
        let load = Load::new(&trace, &params).unwrap();
        let bench = Bench::new(&load, params);
        for policy in [PolicyName::Prescale, PolicyName::KedaQueue] {
            let eval = bench.evaluate_named(policy, &TargetConfig::default(), |_| {});
            let schedule = write_schedule(&eval, params.tick);
            let child = spawn_rescore(&path, schedule.path(), &params);
            pending.push(Pending {
                what: format!("{name} {} (non-default parameters)", policy.as_str()),
                rust: eval.scores,
                ticks: load.ticks(),
                scored_ticks: load.ticks() - load.first_scored_tick(),
                r99: load.r99,
                k: load.k,
                child,
                _schedule: schedule,
            });
        }
    }
    for p in pending {
        check(p);
    }
}

#[test]
fn prescale_and_hpa_schedules_rescored_independently_give_the_same_scores() {
    let Some(dir) =
        traces_and_python("prescale_and_hpa_schedules_rescored_independently_give_the_same_scores")
    else {
        return;
    };
    let params = BenchParams::default();
    let started = std::time::Instant::now();
    let mut pending = Vec::new();
    for name in TRACES {
        let path = dir.join(format!("{name}.csv"));
        let trace = Trace::load(&path).unwrap();
        let load = Load::new(&trace, &params).unwrap();
        let bench = Bench::new(&load, params);
        for policy in [PolicyName::Prescale, PolicyName::Hpa] {
            let eval = bench.evaluate_named(policy, &TargetConfig::default(), |_| {});
            assert_eq!(
                eval.run.desired.len(),
                load.ticks(),
                "{name} schedule length"
            );
            let schedule = write_schedule(&eval, params.tick);
            // Python re-scores this schedule while Rust runs the next one.
            let child = spawn_rescore(&path, schedule.path(), &params);
            pending.push(Pending {
                what: format!("{name} {}", policy.as_str()),
                rust: eval.scores,
                ticks: load.ticks(),
                scored_ticks: load.ticks() - load.first_scored_tick(),
                r99: load.r99,
                k: load.k,
                child,
                _schedule: schedule,
            });
        }
    }
    eprintln!("Rust bench runs done after {:?}", started.elapsed());
    for p in pending {
        check(p);
    }
    eprintln!("independent re-scoring done after {:?}", started.elapsed());
}
