//! The reference policies reproduce `shared/bench-reference.json` exactly (relative 1e-6) on
//! every public trace. Skips, loudly, when `../shared` is absent (a user's machine); fails
//! then under CI.

#[path = "support/skip.rs"]
mod skip;

use std::path::PathBuf;

use prescale::config::TargetConfig;
use prescale::simulate::policies::PolicyName;
use prescale::simulate::{Bench, BenchParams, Load, Trace};

fn shared() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.join("bench-reference.json").exists() {
        Some(dir)
    } else {
        skip::skip(
            "reference_policies_match_the_independent_implementation",
            "../shared/bench-reference.json is absent",
            "the reference check needs ../shared (the public traces) beside the project",
        );
        None
    }
}

fn close(what: &str, got: f64, want: f64) {
    let scale = want.abs().max(1e-300);
    assert!(
        (got - want).abs() / scale <= 1e-6 || got == want,
        "{what}: got {got:e}, want {want:e}"
    );
}

#[test]
fn reference_policies_match_the_independent_implementation() {
    let Some(shared) = shared() else { return };
    let text = std::fs::read_to_string(shared.join("bench-reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let traces = reference["traces"].as_object().unwrap();
    assert_eq!(traces.len(), 5);
    let params = BenchParams::default();
    for (name, expected) in traces {
        let trace = Trace::load(&shared.join("traces").join(format!("{name}.csv"))).unwrap();
        let load = Load::new(&trace, &params).unwrap();
        let info = &expected["info"];
        close(
            &format!("{name} r99"),
            load.r99,
            info["r99_per_s"].as_f64().unwrap(),
        );
        close(&format!("{name} k"), load.k, info["k"].as_f64().unwrap());
        assert_eq!(
            load.ticks() as u64,
            info["ticks"].as_u64().unwrap(),
            "{name} ticks"
        );
        assert_eq!(
            (load.ticks() - load.first_scored_tick()) as u64,
            info["scored_ticks"].as_u64().unwrap(),
            "{name} scored ticks"
        );
        let bench = Bench::new(&load, params);
        for policy in PolicyName::REFERENCES {
            let got = bench
                .evaluate_named(policy, &TargetConfig::default(), |_| {})
                .scores;
            let want = &expected["policies"][policy.as_str()];
            let what = |score: &str| format!("{name} {} {score}", policy.as_str());
            close(
                &what("late_fraction"),
                got.late_fraction,
                want["late_fraction"].as_f64().unwrap(),
            );
            close(
                &what("p99_wait_s"),
                got.p99_wait_s,
                want["p99_wait_s"].as_f64().unwrap(),
            );
            close(
                &what("replica_hours"),
                got.replica_hours,
                want["replica_hours"].as_f64().unwrap(),
            );
            close(
                &what("cost_vs_oracle"),
                got.cost_vs_oracle,
                want["cost_vs_oracle"].as_f64().unwrap(),
            );
            assert_eq!(
                got.scale_events,
                want["scale_events"].as_u64().unwrap(),
                "{}",
                what("scale_events")
            );
        }
    }
}
