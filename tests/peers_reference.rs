//! The predictive peers against the reference files (`shared/bench-reference.json`, default
//! parameters, and `shared/bench-reference-slowpods.json`, 300 s start-up and 120 s SLO),
//! scored by an independent implementation of BENCH.md and the peers' definitions:
//! `seasonal-naive` reproduces every score of both files on the five public traces (relative
//! 1e-6, scale events exactly). `holt-winters` is a numerical fit (statsmodels' on the
//! reference's side): it reproduces worldcup98_2days in both files (no fit before 48 h), and
//! the first four days of nab_elb_requests as `tools/peers_statsmodels.py` scores them with
//! statsmodels itself (the whole trace matches `bench-reference.json` too, see the README,
//! but takes a minute in a debug build). Skips, loudly, when `../shared` is absent (and
//! fails under `CI=true`).

use std::path::{Path, PathBuf};

use prescale::config::TargetConfig;
use prescale::simulate::policies::PolicyName;
use prescale::simulate::{Bench, BenchParams, Load, Scores, Trace};

fn shared() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.join("bench-reference-slowpods.json").exists() {
        return Some(dir);
    }
    let message = "SKIPPED: ../shared/bench-reference*.json are absent; the peers' reference check needs the shared traces";
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{message} (CI=true)"
    );
    eprintln!("{message}");
    None
}

/// The reference file's parameters, as the bench's.
fn params(reference: &serde_json::Value) -> BenchParams {
    let p = &reference["params"];
    let number = |key: &str| {
        p[key]
            .as_f64()
            .unwrap_or_else(|| panic!("params.{key} in the reference"))
    };
    BenchParams {
        mu: number("mu"),
        peak_replicas: number("peak_replicas"),
        tick: number("tick"),
        startup: number("startup"),
        slo_wait: number("slo_wait"),
        min_replicas: number("min_replicas") as u32,
        max_replicas: number("max_replicas") as u32,
        warmup_days: None,
        horizon_days: number("horizon_days"),
    }
}

fn read(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Run `peer` on `trace` with the reference's parameters; its scores and the reference's.
fn scores(shared: &Path, file: &str, trace: &str, peer: PolicyName) -> (Scores, serde_json::Value) {
    let reference = read(&shared.join(file));
    let params = params(&reference);
    let trace_file = shared.join("traces").join(format!("{trace}.csv"));
    let trace_data = Trace::load(&trace_file).unwrap_or_else(|e| panic!("{e}"));
    let load = Load::new(&trace_data, &params).unwrap_or_else(|e| panic!("{e}"));
    let bench = Bench::new(&load, params);
    let got = bench
        .evaluate_named(peer, &TargetConfig::default(), |_| {})
        .scores;
    let want = reference["traces"][trace]["policies"][peer.as_str()].clone();
    assert!(
        want.is_object(),
        "{file} has no {} on {trace}",
        peer.as_str()
    );
    (got, want)
}

fn assert_same(what: &str, got: &Scores, want: &serde_json::Value, tolerance: f64) {
    let close = |score: &str, got: f64| {
        let want = want[score].as_f64().unwrap_or(f64::NAN);
        let scale = want.abs().max(1e-300);
        assert!(
            got == want || (got - want).abs() / scale <= tolerance,
            "{what} {score}: got {got:e}, reference {want:e}"
        );
    };
    close("late_fraction", got.late_fraction);
    close("p99_wait_s", got.p99_wait_s);
    close("replica_hours", got.replica_hours);
    close("cost_vs_oracle", got.cost_vs_oracle);
    assert_eq!(
        Some(got.scale_events),
        want["scale_events"].as_u64(),
        "{what} scale_events"
    );
}

/// How far the Holt-Winters peer's scores may be from statsmodels': relative, for late
/// fraction, p99 wait, replica-hours and cost, and for the count of scale events. Measured:
/// the largest difference on this slice is 1.0 % (late fraction at 300 s / 120 s: 34.88 %
/// against 34.54 %; at 90 s / 60 s 20.98 % against 20.86 %). A few of
/// the 48 fits end elsewhere than scipy's L-BFGS-B does (both stop on a flat stretch by the
/// relative-reduction test, at SSEs a few percent apart, either side), which moves a few
/// hours' forecasts across a replica boundary.
const HOLT_WINTERS_TOLERANCE: f64 = 0.02;

/// Like [`assert_same`], for a peer whose fit is numerical: every score within `tolerance`.
fn assert_near(what: &str, got: &Scores, want: &serde_json::Value, tolerance: f64) {
    let close = |score: &str, got: f64| {
        let want = want[score].as_f64().unwrap_or(f64::NAN);
        assert!(
            (got - want).abs() <= tolerance * want.abs(),
            "{what} {score}: got {got:e}, statsmodels {want:e}"
        );
    };
    close("late_fraction", got.late_fraction);
    close("p99_wait_s", got.p99_wait_s);
    close("replica_hours", got.replica_hours);
    close("cost_vs_oracle", got.cost_vs_oracle);
    close("scale_events", got.scale_events as f64);
}

const FILES: [&str; 2] = ["bench-reference.json", "bench-reference-slowpods.json"];

#[test]
fn seasonal_naive_reproduces_both_reference_files_on_every_trace() {
    let Some(shared) = shared() else { return };
    for file in FILES {
        let reference = read(&shared.join(file));
        let Some(traces) = reference["traces"].as_object() else {
            panic!("{file} has no traces");
        };
        assert_eq!(traces.len(), 5, "{file}");
        for trace in traces.keys() {
            let (got, want) = scores(&shared, file, trace, PolicyName::SeasonalNaive);
            assert_same(&format!("{file} {trace} seasonal-naive"), &got, &want, 1e-6);
        }
    }
}

#[test]
fn holt_winters_fits_nothing_before_48_hours() {
    let Some(shared) = shared() else { return };
    for file in FILES {
        let (got, want) = scores(&shared, file, "worldcup98_2days", PolicyName::HoltWinters);
        assert_same(
            &format!("{file} worldcup98_2days holt-winters"),
            &got,
            &want,
            1e-6,
        );
    }
}

/// `python3 tools/peers_statsmodels.py --trace ../shared/traces/nab_elb_requests.csv
/// --peer holt-winters --horizon-days 4 [--startup 300 --slo-wait 120]` with statsmodels
/// 0.15.0, scipy 1.17.1: 48 hourly fits (48 h to 95 h).
const ELB_FOUR_DAYS: [(f64, f64, &str); 2] = [
    (
        90.0,
        60.0,
        r#"{"late_fraction": 0.20859956992549936, "p99_wait_s": 332.56157697431627, "replica_hours": 1611.0083333333334, "scale_events": 1139, "cost_vs_oracle": 2.082908644263196}"#,
    ),
    (
        300.0,
        120.0,
        r#"{"late_fraction": 0.3453622993625583, "p99_wait_s": 1383.018089415913, "replica_hours": 1405.8875, "scale_events": 769, "cost_vs_oracle": 1.461548124404401}"#,
    ),
];

#[test]
fn holt_winters_matches_statsmodels_on_four_days_of_the_elb_trace() {
    let Some(shared) = shared() else { return };
    let trace =
        Trace::load(&shared.join("traces/nab_elb_requests.csv")).unwrap_or_else(|e| panic!("{e}"));
    for (startup, slo_wait, want) in ELB_FOUR_DAYS {
        let params = BenchParams {
            startup,
            slo_wait,
            horizon_days: 4.0,
            ..BenchParams::default()
        };
        let load = Load::new(&trace, &params).unwrap_or_else(|e| panic!("{e}"));
        let got = Bench::new(&load, params)
            .evaluate_named(PolicyName::HoltWinters, &TargetConfig::default(), |_| {})
            .scores;
        let want: serde_json::Value = serde_json::from_str(want).unwrap_or_else(|e| panic!("{e}"));
        let what = format!("nab_elb_requests[..4 days] holt-winters at {startup} s / {slo_wait} s");
        assert_near(&what, &got, &want, HOLT_WINTERS_TOLERANCE);
    }
}
