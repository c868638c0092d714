//! One model, two paths: a public trace loaded into a real Prometheus as history (with
//! `promtool tsdb create-blocks-from openmetrics`), then `prescale backtest` on it, gives
//! exactly `prescale simulate --trace`'s schedule and scores for the same trace and
//! parameters.
//!
//! The history is what the controller would query: a counter of arrivals (restarted once,
//! as a worker restart resets it), a queue-depth gauge, a completions counter, a wait gauge,
//! and kube-state-metrics' replicas and ready replicas of the Deployment. What ran is the
//! `hpa` reference policy's run on the same trace, so its backtest scores must be
//! `simulate`'s `hpa` row.
//!
//! Parameters are chosen so the two paths see the same floating-point load: the bench
//! rescales a trace by `k = peak_replicas * mu / r99`; with `mu` a power of two and
//! `peak_replicas = r99 / mu`, `k` is exactly 1, and a counter that grows by a quarter of a
//! minute's count every 15 s makes `irate()` return exactly the bench's rate.
//!
//! The one documented difference is the warm-up (README, "Is it right for my workload?"):
//! `simulate` simulates its warm-up, a backtest backfills the forecaster with it as the
//! controller does. With no warm-up the paths are identical; with 12 hours, what ran and
//! the oracle still score identically on the same ticks, and prescale's first replayed
//! decision already has a forecast.
//!
//! `BACKTEST_DOCS_DIR=docs cargo test --test backtest_prometheus -- --nocapture` also
//! writes the README's SVG into `docs/` and prints the README's output.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use prescale::simulate::policies::{Hpa, HpaMetric};
use prescale::simulate::{
    BenchObservation, BenchParams, BenchPolicy, HPA_TARGET_UTILIZATION, Load, Trace, run,
};
use serde_json::Value;
use support::prometheus::PrometheusServer;

/// 2024-01-01T00:00:00Z: the history's start, on the hour (the forecaster re-estimates its
/// margin at whole hours of Unix time, and the bench's t = 0 is a whole hour too).
const T0: u64 = 1_704_067_200;
const TICK: u64 = 15;
/// The tick at which the arrivals counter restarts from zero.
const RESET_TICK: usize = 5_000;
const TRACE: &str = "worldcup98_2days";

fn skip(test: &str, why: &str) {
    let message = format!("SKIPPED {test}: {why}");
    if std::env::var_os("CI").is_some() {
        panic!("{message}; under CI this is a failure");
    }
    eprintln!("\n!!!!!!!!!! {message} !!!!!!!!!!\n");
}

fn promtool() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PROMTOOL_BIN") {
        return Some(PathBuf::from(path));
    }
    let sibling = support::prometheus::binary()?.with_file_name("promtool");
    sibling.exists().then_some(sibling)
}

fn prescale(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prescale"))
        .args(args)
        .output()
        .expect("the prescale binary runs")
}

fn json(args: &[&str]) -> Value {
    let out = prescale(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON value")
}

fn close(what: &str, got: &Value, want: &Value) {
    let (g, w) = (got.as_f64().unwrap(), want.as_f64().unwrap());
    assert!(
        g == w || (g - w).abs() <= 1e-6 * w.abs().max(1e-12),
        "{what}: backtest {g:e}, simulate {w:e}"
    );
}

const SCORES: [&str; 5] = [
    "late_fraction",
    "p99_wait_s",
    "replica_hours",
    "cost_vs_oracle",
    "scale_events",
];

/// The `hpa` reference policy, remembering what it observed (the queue and the wait a
/// worker's histogram would have recorded).
struct Recorded {
    hpa: Hpa,
    seen: Vec<BenchObservation>,
}

impl BenchPolicy for Recorded {
    fn decide(&mut self, obs: &BenchObservation) -> u32 {
        self.seen.push(*obs);
        self.hpa.decide(obs)
    }
}

/// The history as OpenMetrics text: every series sampled at T0 + 15 k.
fn openmetrics(trace: &Trace, params: &BenchParams, load: &Load) -> String {
    let mut what_ran = Recorded {
        hpa: Hpa::new(HpaMetric::Utilization(HPA_TARGET_UTILIZATION), params),
        seen: Vec::new(),
    };
    let ran = run(load, params, &mut what_ran);
    let ticks = load.ticks();
    let per_tick = (trace.step_s / TICK) as usize;
    let at = |k: usize| T0 + TICK * k as u64;
    let mut out = String::new();

    // Arrivals: a quarter of the minute's count per 15 s (exact in binary), restarted once.
    let _ = writeln!(out, "# TYPE docs_arrived counter");
    let _ = writeln!(out, "docs_arrived_total 0 {}", T0 - TICK);
    let mut total = 0.0;
    let mut before_reset = 0.0;
    let _ = writeln!(out, "docs_arrived_total 0 {T0}");
    for j in 0..ticks {
        total += trace.values[j / per_tick] / per_tick as f64;
        if j + 1 == RESET_TICK {
            before_reset = total - trace.values[j / per_tick] / per_tick as f64;
        }
        let _ = writeln!(
            out,
            "docs_arrived_total {} {}",
            total - before_reset,
            at(j + 1)
        );
    }
    let _ = writeln!(out, "# TYPE docs_completed counter");
    let mut done = 0.0;
    let _ = writeln!(out, "docs_completed_total 0 {T0}");
    for (j, served) in ran.served.iter().enumerate() {
        done += served;
        let _ = writeln!(out, "docs_completed_total {done} {}", at(j + 1));
    }
    let _ = writeln!(out, "# TYPE docs_queue_depth gauge");
    for k in 0..=ticks {
        let backlog = ran.cum_arrivals[k] - ran.cum_departures[k];
        let _ = writeln!(out, "docs_queue_depth {backlog} {}", at(k));
    }
    let _ = writeln!(out, "# TYPE docs_wait_p95_seconds gauge");
    for (k, obs) in what_ran.seen.iter().enumerate() {
        let _ = writeln!(out, "docs_wait_p95_seconds {} {}", obs.wait_s, at(k));
    }
    let labels = r#"{namespace="docs",deployment="worker"}"#;
    for (name, series) in [
        ("kube_deployment_spec_replicas", &ran.pods),
        ("kube_deployment_status_replicas_ready", &ran.ready),
    ] {
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name}{labels} 1 {T0}");
        for (j, n) in series.iter().enumerate() {
            let _ = writeln!(out, "{name}{labels} {n} {}", at(j + 1));
        }
    }
    out.push_str("# EOF\n");
    out
}

fn config(url: &str) -> String {
    format!(
        "prometheus:
  url: {url}
  timeout: 30s
targets:
  - name: worker
    scaleTargetRef: {{namespace: docs, name: worker}}
    minReplicas: 1
    maxReplicas: 200
    startupTime: 90s
    metrics:
      queueDepth: {{promql: 'sum(docs_queue_depth)'}}
      arrivalRate: {{promql: 'sum(irate(docs_arrived_total[1m]))'}}
      completions: {{promql: 'sum(irate(docs_completed_total[1m]))'}}
      waitP95: {{promql: 'max(docs_wait_p95_seconds)'}}
  # The same workload read with a gap every day from 05:00 to 06:00 (as a Prometheus
  # outage would leave), and no kube-state-metrics series for its Deployment.
  - name: gappy
    scaleTargetRef: {{namespace: docs, name: gappy}}
    maxReplicas: 200
    metrics:
      queueDepth: {{promql: 'sum(docs_queue_depth)'}}
      arrivalRate: {{promql: 'sum(irate(docs_arrived_total[1m])) unless on() hour() == 5'}}
  - name: broken
    scaleTargetRef: {{namespace: docs, name: broken}}
    metrics:
      arrivalRate: {{promql: 'sum(rate(docs_arrived_total[1m])'}}
"
    )
}

/// The `prescale`/`desired` column of a decisions CSV.
fn column(path: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(i).unwrap_or("").to_string())
        .collect()
}

/// The trace's history in a running Prometheus, and a config naming it.
struct History {
    /// Kept running for the test.
    _server: PrometheusServer,
    dir: tempfile::TempDir,
    config_path: PathBuf,
    trace_path: PathBuf,
    params: BenchParams,
    /// Documents/s per replica the history was made with.
    mu: f64,
}

/// Load the trace into a fresh Prometheus as history; `None` (skipped, a failure under CI)
/// without the trace, promtool or Prometheus.
fn history(test: &str) -> Option<History> {
    let trace_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/traces")
        .join(format!("{TRACE}.csv"));
    if !trace_path.exists() {
        skip(test, &format!("{} is absent", trace_path.display()));
        return None;
    }
    let Some(promtool) = promtool() else {
        skip(test, "no promtool (Debian's prometheus package ships it)");
        return None;
    };
    let Some(mut server) = PrometheusServer::start(&[]).expect("Prometheus starts") else {
        skip(test, "no Prometheus binary");
        return None;
    };

    // Parameters under which the bench's rescaled load is the trace's own rate (k = 1).
    let trace = Trace::load(&trace_path).unwrap();
    let r99 = Load::new(&trace, &BenchParams::default()).unwrap().r99;
    let mu = 2f64.powi((r99 / 40.0).log2().round() as i32);
    let params = BenchParams {
        mu,
        peak_replicas: r99 / mu,
        warmup_days: Some(0.0),
        ..BenchParams::default()
    };
    let load = Load::new(&trace, &params).unwrap();
    assert_eq!(load.k, 1.0);

    // The history, loaded into Prometheus's TSDB.
    let dir = tempfile::tempdir().unwrap();
    server.load_history(&promtool, &openmetrics(&trace, &params, &load));
    let config_path = dir.path().join("prescale.yaml");
    std::fs::write(&config_path, config(&server.url())).unwrap();
    Some(History {
        _server: server,
        dir,
        config_path,
        trace_path,
        params,
        mu,
    })
}

fn p(x: &Path) -> String {
    x.to_str().unwrap().to_string()
}

#[test]
fn backtest_on_a_trace_loaded_into_prometheus_is_simulate_on_the_trace() {
    let test = "backtest_on_a_trace_loaded_into_prometheus_is_simulate_on_the_trace";
    let Some(h) = history(test) else { return };
    let (dir, config_path, trace_path, params, mu) =
        (&h.dir, &h.config_path, &h.trace_path, &h.params, h.mu);
    let from = T0.to_string();
    let to = (T0 + 2 * 86_400).to_string();
    let mu_flag = mu.to_string();
    let backtest_at = |capacity: &str, warmup: &str, out: &Path| {
        json(&[
            "backtest",
            "--config",
            &p(config_path),
            "--target",
            "worker",
            "--from",
            &from,
            "--to",
            &to,
            "--warmup",
            warmup,
            "--capacity",
            capacity,
            "--startup",
            "90s",
            "--json",
            "--decisions-out",
            &p(out),
        ])
    };
    let backtest = |warmup: &str, out: &Path| backtest_at(&mu_flag, warmup, out);
    let simulate = |warmup_days: &str, out: &Path| {
        json(&[
            "simulate",
            "--trace",
            &p(trace_path),
            "--mu",
            &mu_flag,
            "--peak-replicas",
            &params.peak_replicas.to_string(),
            "--warmup-days",
            warmup_days,
            "--json",
            "--decisions-out",
            &p(out),
        ])
    };

    // No warm-up: the same decisions, the same scores.
    let got = backtest("0s", &dir.path().join("bt0"));
    let want = simulate("0", &dir.path().join("sim0.csv"));
    let report = &got["targets"][0];
    assert_eq!(got["errors"], serde_json::json!([]));
    assert_eq!(report["window"]["ticks"], want["info"]["ticks"]);
    assert_eq!(report["window"]["gap_ticks"], 0);
    assert_eq!(
        column(&dir.path().join("bt0/worker.csv"), "prescale"),
        column(&dir.path().join("sim0.csv"), "desired"),
        "prescale's decisions"
    );
    for key in SCORES {
        close(
            &format!("prescale {key}"),
            &report["prescale"][key],
            &want[key],
        );
        close(
            &format!("oracle {key}"),
            &report["oracle"][key],
            &want["references"]["oracle"][key],
        );
        close(
            &format!("what ran {key}"),
            &report["what_ran"][key],
            &want["references"]["hpa"][key],
        );
    }
    // The shadow pass learned the per-replica capacity the history was made with.
    let model = &report["model"];
    assert!(model["saturated_samples"].as_u64().unwrap() > 0, "{model}");
    let learned = model["learned_capacity_per_replica"].as_f64().unwrap();
    assert!(
        (learned - mu).abs() < 0.01 * mu,
        "learned {learned}, made with {mu}"
    );
    // The history's wait gauge is the wait the queue model gave what ran (the document
    // dequeued at each tick's end); the backtest models the wait of each tick's mid-point
    // arrival. Over every scored tick their p95s must agree to within a tick.
    let wait = &report["wait_p95"];
    assert_eq!(wait["ticks"], report["window"]["ticks"], "{wait}");
    let (modelled, observed) = (
        wait["modelled_s"].as_f64().unwrap(),
        wait["observed_s"].as_f64().unwrap(),
    );
    assert!(
        (modelled - observed).abs() <= TICK as f64,
        "p95 wait of what ran: modelled {modelled} s, observed {observed} s"
    );
    // On this history what ran rarely queued (both p95s are 0 s); the check still tells a
    // model that does not fit: with a per-replica capacity 40 % below the one the history
    // was made with, the model queues what ran far beyond what it recorded.
    let too_low = (0.6 * mu).to_string();
    let misfit = backtest_at(&too_low, "0s", &dir.path().join("misfit"));
    let wait = &misfit["targets"][0]["wait_p95"];
    assert_eq!(wait["observed_s"].as_f64().unwrap(), observed, "{wait}");
    assert!(
        wait["modelled_s"].as_f64().unwrap() > observed + 60.0,
        "a misfit model's p95 wait should be far from the observed: {wait}"
    );
    let first_forecast = |run: &str| -> f64 {
        column(&dir.path().join(run).join("worker.csv"), "forecast_rate")[0]
            .parse()
            .unwrap_or_else(|e| panic!("{run}: first forecast_rate: {e}"))
    };
    // No warm-up: the forecaster knows only the first tick, where nothing had arrived yet
    // (the bench's initial state), and forecasts that level.
    assert_eq!(first_forecast("bt0"), 0.0, "no warm-up: a cold forecaster");

    // Half a day of warm-up: backfilled, not simulated. What ran and the oracle score the
    // same on the same ticks; prescale starts with a warm forecaster.
    let got = backtest("12h", &dir.path().join("bt12"));
    let want = simulate("0.5", &dir.path().join("sim12.csv"));
    let report = &got["targets"][0];
    assert_eq!(report["window"]["warmup_samples"], 2_880);
    assert_eq!(report["window"]["ticks"], want["info"]["scored_ticks"]);
    for key in SCORES {
        close(
            &format!("what ran {key}"),
            &report["what_ran"][key],
            &want["references"]["hpa"][key],
        );
    }
    for key in ["late_fraction", "p99_wait_s", "replica_hours"] {
        close(
            &format!("oracle {key}"),
            &report["oracle"][key],
            &want["references"]["oracle"][key],
        );
    }
    assert!(
        first_forecast("bt12") > 0.0,
        "the backfilled forecaster forecasts the load at the first decision"
    );

    // The text a user reads, and the picture (the README shows both): every default, the
    // capacity and start-up learned from the history.
    let plots = dir.path().join("plots");
    let out = prescale(&[
        "backtest",
        "--config",
        &p(config_path),
        "--target",
        "worker",
        "--from",
        "2024-01-01T00:00:00Z",
        "--to",
        "2024-01-03T00:00:00Z",
        "--plot",
        &p(&plots),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("prescale: "), "{text}");
    assert!(text.contains("(what ran: "), "{text}");
    let svg = std::fs::read_to_string(plots.join("worker.svg")).unwrap();
    assert!(svg.contains("what ran ready") && svg.contains("prescale ready"));
    println!("{text}");
    if let Some(docs) = std::env::var_os("BACKTEST_DOCS_DIR") {
        std::fs::write(Path::new(&docs).join("backtest-worldcup.svg"), svg).unwrap();
    }

    // Bad history: a window starting a day before the data, an hour-long gap each day, and
    // no replicas history. The best honest result, with what was wrong said.
    let day_before = (T0 - 86_400).to_string();
    let got = json(&[
        "backtest",
        "--config",
        &p(config_path),
        "--target",
        "gappy",
        "--from",
        &day_before,
        "--to",
        &to,
        "--capacity",
        &mu_flag,
        "--json",
    ]);
    let report = &got["targets"][0];
    let notes = report["notes"].to_string();
    assert_eq!(report["window"]["data_from"], T0 as f64, "{report}");
    assert!(notes.contains("retention"), "{notes}");
    // Default warm-up on two days of data: 12 h. The replay (day 1 12:00 to day 2 24:00)
    // holds one 05:00-06:00 gap: 240 ticks, not scored.
    assert_eq!(report["window"]["gap_ticks"], 240, "{report}");
    assert!(notes.contains("missing for 240 ticks"), "{notes}");
    assert!(report["what_ran"].is_null());
    assert!(notes.contains("kube-state-metrics"), "{notes}");
    assert!(
        report["verdict"]
            .as_str()
            .unwrap()
            .contains("what ran: unknown"),
        "{report}"
    );
    let scored = report["window"]["ticks"].as_f64().unwrap() - 240.0;
    let hours = report["prescale"]["replica_hours"].as_f64().unwrap();
    assert!(hours > 0.0 && hours <= 200.0 * scored * 15.0 / 3600.0);

    // A query Prometheus rejects fails its target, naming it, the query and the reason.
    let out = prescale(&[
        "backtest",
        "--config",
        &p(config_path),
        "--target",
        "broken",
        "--last",
        "1h",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("target broken: arrivalRate query `sum(rate(docs_arrived_total[1m])`")
            && stderr.contains("bad_data"),
        "{stderr}"
    );
}

/// `prescale tune` on the same history, read from Prometheus with `--from/--to`: the target
/// read with a daily gap and no kube-state-metrics series, over a window starting a day
/// before the data. It tunes on the first 70 % of the replay and reports the rest, says
/// what was wrong with the history, replays exactly what `backtest` replays for the
/// target's own knobs, and prints YAML that, pasted into the target, is a valid config
/// with the tuned values.
#[test]
fn tune_reads_its_history_from_prometheus_and_prints_a_pasteable_snippet() {
    let test = "tune_reads_its_history_from_prometheus_and_prints_a_pasteable_snippet";
    let Some(h) = history(test) else { return };
    let config = p(&h.config_path);
    let (from, to) = ((T0 - 86_400).to_string(), (T0 + 86_400).to_string());
    let mu = h.mu.to_string();
    let window = [
        "--target",
        "gappy",
        "--from",
        &from,
        "--to",
        &to,
        "--warmup",
        "3h",
        "--capacity",
        &mu,
        "--startup",
        "90s",
        "--json",
    ];
    let tuned = json(&[&["tune", "--config", &config][..], &window[..]].concat());

    // Data from T0 (the day before is beyond the history), 3 h of it warm the forecaster:
    // 21 h replayed at 15 s, the last 30 % held back.
    assert_eq!(tuned["source"], "prometheus");
    assert_eq!(tuned["from"], (T0 + 3 * 3600) as f64, "{tuned}");
    assert_eq!(tuned["split"]["ticks"], 21 * 240);
    assert_eq!(tuned["split"]["at"], 3528);
    let notes = tuned["notes"].to_string();
    assert!(notes.contains("retention"), "{notes}");
    assert!(notes.contains("missing for 240 ticks"), "{notes}");
    assert!(notes.contains("kube-state-metrics"), "{notes}");
    assert!(tuned["what_ran"].is_null(), "what ran is unknown");

    // The target's own knobs, scored on both parts, are the backtest of the same window.
    let backtest = json(&[&["backtest", "--config", &config][..], &window[..]].concat());
    let report = &backtest["targets"][0];
    for schedule in ["current", "oracle"] {
        let parts = &tuned[schedule];
        let whole = if schedule == "current" {
            &report["prescale"]
        } else {
            &report["oracle"]
        };
        let sum = parts["tuning"]["replica_hours"].as_f64().unwrap()
            + parts["holdout"]["replica_hours"].as_f64().unwrap();
        close(
            &format!("{schedule} replica_hours, both parts"),
            &serde_json::json!(sum),
            &whole["replica_hours"],
        );
        for part in ["tuning", "holdout"] {
            assert!(parts[part]["replica_hours"].as_f64().unwrap() > 0.0);
        }
    }
    assert!(tuned["evaluations"].as_u64().unwrap() > 10, "{tuned}");

    // The snippet, pasted under the target, is a valid config with the tuned values.
    let snippet = tuned["snippet"].as_str().unwrap();
    let text = std::fs::read_to_string(&h.config_path).unwrap();
    let (head, rest) = text.split_once("  - name: broken").unwrap();
    let pasted = format!("{head}{snippet}  - name: broken{rest}");
    let parsed =
        prescale::config::parse(&pasted, "pasted.yaml").unwrap_or_else(|e| panic!("{e}\n{pasted}"));
    let target = parsed.targets.iter().find(|t| t.name == "gappy").unwrap();
    let knobs = tuned["knobs"].as_array().unwrap();
    assert_eq!(knobs.len(), prescale::tune::KNOBS.len());
    for (knob, k) in prescale::tune::KNOBS.iter().zip(knobs) {
        assert_eq!(k["path"], knob.path);
        assert_eq!(
            knob.format((knob.get)(target)),
            k["tuned"].as_str().unwrap(),
            "{}",
            knob.path
        );
    }
}
