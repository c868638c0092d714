//! `prescale simulate` through the built binary: the outputs a user and the README rely on.
//! Tests that need the public traces skip, loudly, when `../shared` is absent (and fail
//! then under CI).

#[path = "support/skip.rs"]
mod skip;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn prescale(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prescale"))
        .arg("simulate")
        .args(args)
        .output()
        .expect("the prescale binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs and parses stdout as exactly one JSON object (trailing data would fail the parse).
fn json(args: &[&str]) -> Value {
    let out = prescale(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let value: Value = serde_json::from_str(&stdout(&out)).expect("stdout is one JSON value");
    assert!(value.is_object());
    value
}

fn shared(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.join("bench-reference.json").exists() {
        Some(dir)
    } else {
        skip::skip(
            test,
            "../shared is absent",
            "this test needs the public traces in ../shared beside the project",
        );
        None
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn close(what: &str, got: &Value, want: &Value) {
    let (g, w) = (got.as_f64().unwrap(), want.as_f64().unwrap());
    assert!(
        g == w || (g - w).abs() <= 1e-6 * w.abs(),
        "{what}: got {g:e}, want {w:e}"
    );
}

const SCORES: [&str; 5] = [
    "late_fraction",
    "p99_wait_s",
    "replica_hours",
    "cost_vs_oracle",
    "scale_events",
];

#[test]
fn json_reports_the_policy_and_the_references_as_the_reference_implementation_does() {
    let Some(shared) =
        shared("json_reports_the_policy_and_the_references_as_the_reference_implementation_does")
    else {
        return;
    };
    let trace = shared.join("traces/worldcup98_2days.csv");
    let got = json(&["--trace", path(&trace), "--json"]);
    let text = std::fs::read_to_string(shared.join("bench-reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let want = &reference["traces"]["worldcup98_2days"];

    assert_eq!(got["policy"], "prescale");
    for key in SCORES {
        assert!(got[key].is_number(), "top-level {key}: {got}");
    }
    assert_eq!(got["trace"]["name"], "worldcup98_2days");
    assert_eq!(got["trace"]["synthetic"], false);
    assert_eq!(got["params"]["peak_replicas"], 40.0);
    for key in ["horizon_days", "warmup_days", "r99_per_s", "k"] {
        close(key, &got["info"][key], &want["info"][key]);
    }
    for key in ["step_s", "ticks", "scored_ticks"] {
        assert_eq!(got["info"][key], want["info"][key], "info {key}");
    }
    for policy in ["oracle", "static", "hpa", "keda-queue"] {
        let (g, w) = (&got["references"][policy], &want["policies"][policy]);
        for key in SCORES {
            close(&format!("{policy} {key}"), &g[key], &w[key]);
        }
    }
}

#[test]
fn the_default_run_needs_no_files_and_prints_the_table_for_the_synthetic_scenario() {
    let out = prescale(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("trace synthetic"), "{table}");
    for policy in ["prescale", "oracle", "static", "hpa", "keda-queue"] {
        assert!(
            table.lines().any(|l| l.starts_with(policy)),
            "no {policy} row in\n{table}"
        );
    }
    let got = json(&["--json", "--policy", "hpa"]);
    assert_eq!(got["trace"]["name"], "synthetic");
    assert_eq!(got["trace"]["synthetic"], true);
    assert_eq!(got["policy"], "hpa");
    assert_eq!(
        got["late_fraction"], got["references"]["hpa"]["late_fraction"],
        "a reference chosen as the policy is the same run"
    );
}

#[test]
fn a_written_schedule_replays_to_the_same_scores() {
    let dir = tempfile::tempdir().unwrap();
    for policy in ["hpa", "prescale"] {
        let csv = dir.path().join(format!("{policy}.csv"));
        let direct = json(&[
            "--policy",
            policy,
            "--horizon-days",
            "3",
            "--decisions-out",
            path(&csv),
            "--json",
        ]);
        let text = std::fs::read_to_string(&csv).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("t,desired"));
        assert_eq!(lines.next().map(|l| l.split(',').next()), Some(Some("0")));
        assert_eq!(lines.next().map(|l| l.split(',').next()), Some(Some("15")));
        assert_eq!(
            text.lines().count() as u64 - 1,
            direct["info"]["ticks"].as_u64().unwrap()
        );
        let replayed = json(&["--replay", path(&csv), "--horizon-days", "3", "--json"]);
        assert_eq!(replayed["policy"], "replay");
        for key in SCORES {
            assert_eq!(replayed[key], direct[key], "{policy} {key}");
        }
    }
    // The same schedule on a different horizon does not fit: refused, not mis-scored.
    let out = prescale(&["--replay", path(&dir.path().join("hpa.csv"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--decisions-out for the same trace"));
}

#[test]
fn bad_input_exits_1_with_one_line_naming_the_place_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let malformed = dir.path().join("bad.csv");
    std::fs::write(&malformed, "timestamp_s,value\n0,1\n60,x\n").unwrap();
    let missing = dir.path().join("missing.csv");
    let svg = dir.path().join("p.svg");
    let cases: [(Vec<&str>, &[&str]); 5] = [
        (
            vec!["--trace", path(&missing)],
            &["missing.csv", "omit --trace"],
        ),
        (
            vec!["--trace", path(&malformed)],
            &["bad.csv:3", "`x` is not a number", "each row is"],
        ),
        (
            vec!["--min", "5", "--max", "4"],
            &["--min 5", "at most --max"],
        ),
        (
            vec!["--warmup-days", "12"],
            &["--warmup-days 12", "shorter"],
        ),
        (
            vec!["--plot", path(&svg), "--plot-window", "20:30"],
            &["--plot-window 20:30", "starts before"],
        ),
    ];
    for (args, needles) in cases {
        let out = prescale(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
        for needle in needles {
            assert!(err.contains(needle), "{args:?}: {needle:?} not in {err}");
        }
    }
}

#[test]
fn plot_writes_an_svg_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    for (name, window) in [("all.svg", None), ("day.svg", Some("3:4"))] {
        let svg = dir.path().join(name);
        let mut args = vec!["--policy", "hpa", "--plot", path(&svg)];
        if let Some(w) = window {
            args.extend(["--plot-window", w]);
        }
        let out = prescale(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.starts_with("<svg"), "{name}");
        assert!(text.trim_end().ends_with("</svg>"), "{name}");
        assert!(
            (20_000..1_000_000).contains(&text.len()),
            "{name}: {} bytes",
            text.len()
        );
        assert!(text.contains("hpa ready") && text.contains("SLO 60 s"));
        let unit = if window.is_some() { "hours" } else { "days" };
        assert!(text.contains(unit), "{name}: x axis in {unit}");
    }
}

#[test]
fn all_traces_prints_the_results_table_with_the_peers_and_the_goal() {
    let Some(shared) = shared("all_traces_prints_the_results_table_with_the_peers_and_the_goal")
    else {
        return;
    };
    let traces = shared.join("traces");
    let reference = shared.join("bench-reference.json");
    let out = prescale(&[
        "--all-traces",
        path(&traces),
        "--reference",
        path(&reference),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    let header = table
        .lines()
        .find(|l| l.starts_with("| trace"))
        .expect("a header row");
    for column in [
        "prescale",
        "hpa",
        "seasonal-naive",
        "holt-winters",
        "events",
        "bar",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let text = std::fs::read_to_string(&reference).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    for (name, expected) in reference["traces"].as_object().unwrap() {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row for {name} in\n{table}"));
        let holt = &expected["policies"]["holt-winters"];
        let cell = format!(
            "{:.2}% / {:.2}×",
            100.0 * holt["late_fraction"].as_f64().unwrap(),
            holt["cost_vs_oracle"].as_f64().unwrap()
        );
        assert!(row.contains(&cell), "{name}: {cell} not in {row}");
        // Issue 10's bar, at the defaults, on every public trace.
        assert!(row.ends_with("| met |"), "the bar on {name}: {row}");
    }
}

#[test]
fn all_traces_computes_the_peers_in_the_run_and_compares_them_with_the_reference() {
    let Some(shared) =
        shared("all_traces_computes_the_peers_in_the_run_and_compares_them_with_the_reference")
    else {
        return;
    };
    // One short trace (2 days: no Holt-Winters fit before 48 h, so a quick run).
    let dir = tempfile::tempdir().unwrap();
    let trace = "worldcup98_2days";
    std::fs::copy(
        shared.join("traces").join(format!("{trace}.csv")),
        dir.path().join(format!("{trace}.csv")),
    )
    .unwrap();
    let reference = shared.join("bench-reference.json");
    let args = [
        "--all-traces",
        path(dir.path()),
        "--reference",
        path(&reference),
        "--peers",
        "computed",
    ];
    let out = prescale(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("Peers (seasonal-naive, holt-winters) computed in this run."));
    assert!(table.contains("Peers computed in this run beside --reference"));
    assert!(!table.contains("Warning:"), "{table}");
    for peer in ["seasonal-naive", "holt-winters"] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {trace} | {peer} |")))
            .unwrap_or_else(|| panic!("no comparison row for {peer} in\n{table}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[3], cells[4], "computed and reference agree: {row}");
    }

    let mut with_json = args.to_vec();
    with_json.push("--json");
    let report = json(&with_json);
    assert_eq!(report["peer_source"], "computed");
    let row = &report["traces"][0];
    let want = &serde_json::from_str::<Value>(&std::fs::read_to_string(&reference).unwrap())
        .unwrap()["traces"][trace]["policies"];
    for peer in ["seasonal-naive", "holt-winters"] {
        for score in SCORES {
            close(
                &format!("{peer} {score}"),
                &row["computed_peers"][peer][score],
                &want[peer][score],
            );
        }
        assert_eq!(
            row["peers"][peer]["scale_events"],
            want[peer]["scale_events"]
        );
    }
    assert_eq!(report["peer_checks"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_peer_is_a_policy_of_its_own() {
    let Some(shared) = shared("a_peer_is_a_policy_of_its_own") else {
        return;
    };
    let trace = shared.join("traces/worldcup98_2days.csv");
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("bench-reference.json")).unwrap(),
    )
    .unwrap();
    let got = json(&[
        "--trace",
        path(&trace),
        "--policy",
        "seasonal-naive",
        "--json",
    ]);
    assert_eq!(got["policy"], "seasonal-naive");
    let want = &reference["traces"]["worldcup98_2days"]["policies"]["seasonal-naive"];
    for score in SCORES {
        close(score, &got[score], &want[score]);
    }
}
