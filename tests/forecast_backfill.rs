//! The forecast anticipates the morning rise from history alone: fourteen days of a
//! daily-shaped load, loaded into a real Prometheus with `promtool tsdb create-blocks-from
//! openmetrics`, end at 06:00 of a day, just before the rise; the controller starts then
//! (in shadow mode, with an hour of pod start-up), backfills its forecaster from that
//! history with range queries, and at its first tick already forecasts the rise with the
//! daily model and sizes the workload for it. The same target without a backfill
//! (`forecast.history: 0s`) sees only the night's level.
//!
//! Prometheus's "now" is the wall clock, so the history ends at the test's real start and
//! the synthetic day is put in phase with it: the wall clock's now is 06:00.
//!
//! `startupTime` is at most 1h (config validation: the longest lead the forecast plans
//! for), so the rise is placed within that hour (06:15 to 06:45): the lead window from
//! 06:00 holds the whole rise and the day's level after it, and none of it has happened yet.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;
#[path = "support/prometheus.rs"]
#[allow(dead_code)]
mod prometheus;
#[path = "support/skip.rs"]
mod skip;

use api_double::ApiDouble;
use controller_harness::{Running, eventually, sample, start_full};
use prescale::config::Config;
use prescale::metrics::prometheus::{MAX_POINTS_PER_QUERY, plan_chunks};
use prescale::metrics::{MetricsSource, Sources};
use prometheus::PrometheusServer;
use serde_json::Value;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const TEST: &str = "the_backfilled_forecast_anticipates_the_morning_rise";
const NS: &str = "shop";
const DAYS: u64 = 14;
/// Seconds between the history's samples.
const STEP: u64 = 60;
/// The target's interval (also the backfill's step).
const INTERVAL_S: u64 = 60;
/// The pod start-up lead time: the largest `startupTime` the config accepts.
const STARTUP_S: u64 = 3_600;
/// Documents/s at night and through the working day.
const NIGHT: f64 = 5.0;
const DAY: f64 = 20.0;
/// Documents/s one replica serves (the configured hint; no completions to learn from).
const PER_REPLICA: f64 = 1.0;

/// The synthetic day's arrival rate at `hour` (0 to 24): quiet nights, a morning rise from
/// 06:15 to 06:45, a busy day, an evening fall from 17:00 to 20:00.
fn shape(hour: f64) -> f64 {
    let ramp = |from: f64, to: f64, start: f64, end: f64| {
        from + (to - from) * ((hour - start) / (end - start)).clamp(0.0, 1.0)
    };
    if hour < 12.0 {
        ramp(NIGHT, DAY, 6.25, 6.75)
    } else {
        ramp(DAY, NIGHT, 17.0, 20.0)
    }
}

/// The hour of the synthetic day at Unix time `t`, with `six` (Unix seconds) at 06:00.
fn hour_at(t: f64, six: f64) -> f64 {
    (t - six + 6.0 * 3_600.0).rem_euclid(86_400.0) / 3_600.0
}

/// Fourteen days ending at `end` (06:00), as OpenMetrics: an arrivals counter growing by
/// each minute's documents (the shape with ±10 % deterministic noise), and an empty queue
/// (the workers kept up).
fn history(end: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(10);
    let start = end - DAYS * 86_400;
    let mut out = String::from("# TYPE arrivals counter\n");
    let mut total = 0.0;
    for t in (start..=end).step_by(STEP as usize) {
        if t > start {
            let mid = t as f64 - STEP as f64 / 2.0;
            let noise = 1.0 + 0.1 * (2.0 * rng.f64() - 1.0);
            total += shape(hour_at(mid, end as f64)) * STEP as f64 * noise;
        }
        let _ = writeln!(out, "arrivals_total {total} {t}");
    }
    out.push_str("# TYPE queue_depth gauge\n");
    for t in (start..=end).step_by(STEP as usize) {
        let _ = writeln!(out, "queue_depth 0 {t}");
    }
    out.push_str("# EOF\n");
    out
}

/// One shadow target of the Deployment of the same name; `extra` adds keys.
fn target(name: &str, extra: &str) -> String {
    format!(
        "  - name: {name}
    scaleTargetRef: {{ namespace: {NS}, name: {name} }}
    mode: shadow
    interval: {INTERVAL_S}s
    startupTime: {STARTUP_S}s
    maxReplicas: 100
    capacity: {{ perReplica: {PER_REPLICA} }}
    # One step to what the lead window needs (an hour-long start-up is paid once).
    behavior:
      scaleUp:
        policies: [ {{ type: Pods, value: 100, period: 15s }} ]
    metrics:
      queueDepth: {{ promql: 'sum(queue_depth)' }}
      arrivalRate: {{ promql: 'sum(rate(arrivals_total[5m]))' }}
{extra}"
    )
}

/// The `kind` entry of a recommendation's reasons.
fn reason<'a>(rec: &'a Value, kind: &str) -> Option<&'a Value> {
    rec["reasons"]
        .as_array()?
        .iter()
        .find(|r| r["kind"] == kind)
}

fn number(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

/// Range queries Prometheus has answered (its own request counter).
async fn range_queries(url: &str) -> f64 {
    prescale::metrics::tls::install_crypto_provider();
    let body = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("Prometheus's /metrics answers")
        .text()
        .await
        .expect("Prometheus's /metrics body");
    sample(
        &body,
        r#"prometheus_http_requests_total{code="200",handler="/api/v1/query_range"}"#,
    )
    .unwrap_or(0.0)
}

/// The first tick's recommendation of `name`.
async fn first_recommendation(c: &Running, name: &str) -> Value {
    eventually(120, &format!("the first tick of {name}"), || async {
        c.ticks(name).await >= 1.0
    })
    .await;
    c.recommendation(name).await.expect("a recommendation")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backfilled_forecast_anticipates_the_morning_rise() {
    let Some(promtool) = prometheus::promtool() else {
        skip::skip(
            TEST,
            "no promtool",
            "install Debian's prometheus package (.ci/install-prometheus.sh) or set PROMTOOL_BIN",
        );
        return;
    };
    let Some(mut server) = PrometheusServer::start(&[]).unwrap_or_else(|e| panic!("{e}")) else {
        prometheus::skip_without_binary(TEST);
        return;
    };

    // The history ends now, at 06:00 of the synthetic day.
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    server.load_history(&promtool, &history(end));
    let url = server.url();
    assert_eq!(range_queries(&url).await, 0.0);

    let api = ApiDouble::start().await;
    // Sized for the night: five replicas, all ready.
    api.put_deployment(NS, "warm", 5, 5);
    api.put_deployment(NS, "cold", 5, 5);
    let yaml = format!(
        "prometheus:\n  url: {url}\n  timeout: 30s\ntargets:\n{}{}",
        target("warm", ""),
        target("cold", "    forecast: { history: 0s }\n"),
    );
    // The real metric sources, as `prescale run` builds them.
    let factory: prescale::controller::SourceFactory = Arc::new(|c: &Config| {
        Sources::new(c)
            .map(|s| Arc::new(s) as Arc<dyn MetricsSource>)
            .map_err(|e| e.to_string())
    });
    let c = start_full(&api, &yaml, None, Some(factory)).await;
    let warm = first_recommendation(&c, "warm").await;
    let cold = first_recommendation(&c, "cold").await;

    // The highest rate of the lead window (start-up plus an interval) after 06:00, and the
    // replicas it needs: what the forecast must see coming.
    let window_s = (STARTUP_S + INTERVAL_S) as f64;
    let peak = (0..=60)
        .map(|i| shape(6.0 + f64::from(i) / 60.0 * window_s / 3_600.0))
        .fold(0.0, f64::max);
    let peak_replicas = (0.9 * peak / PER_REPLICA).ceil();

    // The history was read: one range query per chunk of at most 10,000 points.
    let chunks = plan_chunks(
        end as f64,
        Duration::from_secs(DAYS * 86_400),
        Duration::from_secs(INTERVAL_S),
        MAX_POINTS_PER_QUERY,
    )
    .len();
    assert_eq!(
        range_queries(&url).await,
        chunks as f64,
        "the backfill's range queries (the cold target reads none)"
    );

    // From the first tick, a seasonal model forecasts the rise the history shows every
    // morning, though the arrivals now are the night's. (Fourteen identical days: the weekly
    // season sees the rise as well as the daily one, and which of the two scores better is
    // down to the noise.)
    let forecast = reason(&warm, "forecast").unwrap_or_else(|| panic!("no forecast: {warm}"));
    let (rate, upper) = (
        number(&forecast["rate"], "rate"),
        number(&forecast["upper"], "upper"),
    );
    assert!(
        forecast["model"] == "daily" || forecast["model"] == "weekly",
        "a seasonal model: {warm}"
    );
    assert_eq!(warm["forecastModel"], forecast["model"], "{warm}");
    assert_eq!(
        warm["forecastArrivalRateUpper"], forecast["upper"],
        "{warm}"
    );
    assert!(
        rate >= 0.8 * peak,
        "forecast {rate} for a peak of {peak}: {warm}"
    );
    assert!(
        upper >= 0.9 * peak,
        "upper {upper} for a peak of {peak}: {warm}"
    );
    assert_eq!(
        reason(&warm, "winner"),
        Some(&serde_json::json!({"kind": "winner", "signal": "forecast"})),
        "{warm}"
    );
    // And asks now for the replicas the rise needs when they are ready.
    let replicas = number(&warm["recommendedReplicas"], "recommended replicas");
    assert!(
        replicas >= peak_replicas,
        "{replicas} replicas for a peak of {peak}/s at {PER_REPLICA}/s each: {warm}"
    );

    // Without the history, the same target sees only the night's level.
    let forecast = reason(&cold, "forecast").unwrap_or_else(|| panic!("no forecast: {cold}"));
    assert_eq!(forecast["model"], "none", "{cold}");
    let level = number(&forecast["upper"], "upper");
    assert!(level < 1.5 * NIGHT, "{cold}");
    let cold_replicas = number(&cold["recommendedReplicas"], "recommended replicas");
    assert!(cold_replicas < peak_replicas, "{cold}");

    eprintln!(
        "warm: {} rate {rate:.2} upper {upper:.2} replicas {replicas} (peak {peak}/s); cold: upper {level:.2} replicas {cold_replicas}",
        warm["reasons"][0]["model"]
    );
    c.stop().await.expect("the controller stops cleanly");
}
