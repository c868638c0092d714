//! `prescale tune --trace` through the built binary: it searches the knobs on the first part
//! of the replay, reports the held-back part, and prints YAML that, pasted into the target,
//! gives the tuned values.

use std::process::{Command, Output};

use serde_json::Value;

const CONFIG: &str = "targets:
  - name: ocr
    scaleTargetRef: {namespace: docs, name: ocr}
    interval: 60s
    maxReplicas: 100
    metrics:
      queueDepth: {scrape: {url: 'http://ocr.docs.svc:8080/metrics', metric: docs_queue_depth}}
      arrivalRate: {scrape: {url: 'http://ocr.docs.svc:8080/metrics', metric: docs_enqueued_total}}
";

/// Three days of a daily cycle with a lunchtime burst, arrivals per 5 minutes.
fn daily_trace() -> String {
    let mut out = String::from("timestamp_s,value\n");
    for i in 0..(3 * 288) {
        let t = i as f64 * 300.0;
        let day = (t / 86_400.0).fract();
        let mut rate = 20.0 + 15.0 * (std::f64::consts::TAU * (day - 0.25)).sin();
        if (0.5..0.52).contains(&day) {
            rate *= 2.0;
        }
        out.push_str(&format!("{},{}\n", i * 300, (rate * 300.0).round()));
    }
    out
}

fn tune(dir: &std::path::Path, extra: &[&str]) -> Output {
    let config = dir.join("prescale.yaml");
    let trace = dir.join("ocr.csv");
    std::fs::write(&config, CONFIG).unwrap();
    std::fs::write(&trace, daily_trace()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_prescale"))
        .args(["tune", "--config"])
        .arg(&config)
        .args(["--target", "ocr", "--trace"])
        .arg(&trace)
        .args(extra)
        .output()
        .expect("the prescale binary runs")
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn tune_searches_on_the_first_part_reports_the_held_back_part_and_prints_pasteable_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let out = tune(dir.path(), &["--max-late", "0.001", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();

    // Three days, one of warm-up: two days replayed at 60 s, the last 30 % held back.
    let ticks = r["split"]["ticks"].as_u64().unwrap();
    assert_eq!(ticks, 2 * 1440);
    assert_eq!(r["split"]["at"].as_u64().unwrap(), 2016);
    let knobs: Vec<&str> = r["knobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        knobs,
        [
            "forecast.missCost",
            "forecast.errorQuantile",
            "plan.waitTarget",
            "plan.releaseTolerance",
            "behavior.scaleDown.stabilizationWindow",
            "behavior.scaleDownCooldown",
            "forecast.targetUtilization"
        ]
    );

    // On the tuning part the result is at least as good as the target's own knobs.
    let max = f(&r["max_late"]);
    let (tuned, current) = (&r["tuned"]["tuning"], &r["current"]["tuning"]);
    let (tl, cl) = (f(&tuned["late_fraction"]), f(&current["late_fraction"]));
    let (th, ch) = (f(&tuned["replica_hours"]), f(&current["replica_hours"]));
    assert!(
        (tl <= max && (cl > max || th <= ch)) || (tl > max && cl > max && tl <= cl),
        "tuned {tuned} against current {current}"
    );
    // The held-back part is scored on its own ticks, and the verdict on it is reported.
    let held = &r["tuned"]["holdout"];
    assert!(f(&held["replica_hours"]) > 0.0);
    assert!(f(&held["replica_hours"]) < th, "a shorter part costs less");
    assert_eq!(
        r["met_on_holdout"].as_bool().unwrap(),
        f(&held["late_fraction"]) <= max
    );
    assert!(r["evaluations"].as_u64().unwrap() > 10);

    // The snippet, pasted into the target, gives the tuned values.
    let snippet = r["snippet"].as_str().unwrap();
    let pasted = format!("{CONFIG}{snippet}");
    let config =
        prescale::config::parse(&pasted, "pasted.yaml").unwrap_or_else(|e| panic!("{e}\n{pasted}"));
    let target = &config.targets[0];
    for (knob, k) in prescale::tune::KNOBS
        .iter()
        .zip(r["knobs"].as_array().unwrap())
    {
        assert_eq!(
            knob.format((knob.get)(target)),
            k["tuned"].as_str().unwrap()
        );
    }
}

#[test]
fn a_holdout_that_leaves_nothing_to_tune_on_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = tune(dir.path(), &["--holdout", "0.95"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--holdout 0.95"), "{stderr}");
}
