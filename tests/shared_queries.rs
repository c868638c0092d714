//! Shared queries against a real Prometheus holding six hours of history for four queues
//! (loaded with `promtool tsdb create-blocks-from openmetrics`): one instant query per
//! interval however many targets read it, each target getting its own series by labels;
//! the history of all targets starting together fetched in one batch of range queries, in
//! 5-minute means, each target getting its own.

mod support;

use futures::StreamExt;
use futures::future::BoxFuture;
use prescale::config::{MetricSource, TargetConfig};
use prescale::metrics::prometheus::{InstantResult, PromApi, PromClient, RangeResult};
use prescale::metrics::{MetricError, MetricKind, Sources, unix_seconds};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};
use support::prometheus::{PrometheusServer, promtool, skip_without_binary};
use support::{prometheus_config, target};

/// Documents per second enqueued on each queue, constant over the whole history.
const QUEUES: [(&str, &str, f64); 4] = [
    ("shop", "d1", 1.0),
    ("shop", "d2", 2.0),
    ("shop", "d3", 3.0),
    ("batch", "d1", 10.0),
];
const HISTORY: Duration = Duration::from_secs(6 * 3600);
const QUERY: &str = "sum by (namespace, deployment) (rate(docs_enqueued_total[10m]))";

struct Env {
    prometheus: PrometheusServer,
    /// The newest sample's time, Unix seconds.
    end: f64,
}

/// Six hours of counters every 15 s, ending a minute ago, as OpenMetrics.
fn history(end: f64) -> String {
    let mut text =
        String::from("# HELP docs_enqueued Documents enqueued.\n# TYPE docs_enqueued counter\n");
    for (ns, deployment, rate) in QUEUES {
        let mut t = end - HISTORY.as_secs_f64();
        while t <= end {
            let total = 1000.0 + rate * (t - (end - HISTORY.as_secs_f64()));
            text.push_str(&format!(
                "docs_enqueued_total{{namespace=\"{ns}\",deployment=\"{deployment}\"}} {total} {t}\n"
            ));
            t += 15.0;
        }
    }
    text.push_str("# EOF\n");
    text
}

fn env(test: &str) -> Option<&'static Env> {
    static ENV: OnceLock<Result<Option<Env>, String>> = OnceLock::new();
    let env = ENV
        .get_or_init(|| {
            let (Some(mut prometheus), Some(promtool)) =
                (PrometheusServer::start(&[])?, promtool())
            else {
                return Ok(None);
            };
            prometheus.stop();
            let end = (unix_seconds(SystemTime::now()) / 15.0).floor() * 15.0 - 60.0;
            let input = prometheus.dir().join("history.om");
            std::fs::write(&input, history(end)).map_err(|e| e.to_string())?;
            let out = std::process::Command::new(promtool)
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(&input)
                .arg(prometheus.data_dir())
                .output()
                .map_err(|e| format!("promtool: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "promtool failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            prometheus.restart();
            Ok(Some(Env { prometheus, end }))
        })
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"))
        .as_ref();
    if env.is_none() {
        skip_without_binary(test);
    }
    env
}

/// Prometheus's API, counting the queries asked.
struct Counting {
    inner: PromClient,
    instant: AtomicUsize,
    range: AtomicUsize,
}

impl PromApi for Counting {
    fn instant<'a>(
        &'a self,
        query: &'a str,
        at: SystemTime,
    ) -> BoxFuture<'a, Result<InstantResult, MetricError>> {
        self.instant.fetch_add(1, Ordering::SeqCst);
        self.inner.instant(query, at)
    }

    fn range<'a>(
        &'a self,
        query: &'a str,
        start: f64,
        end: f64,
        step: Duration,
    ) -> BoxFuture<'a, Result<RangeResult, MetricError>> {
        self.range.fetch_add(1, Ordering::SeqCst);
        self.inner.range(query, start, end, step)
    }
}

fn counting(env: &Env) -> (Arc<Counting>, Sources) {
    let config = prometheus_config(&env.prometheus.url());
    let api = Arc::new(Counting {
        inner: PromClient::new(&config).expect("client"),
        instant: AtomicUsize::new(0),
        range: AtomicUsize::new(0),
    });
    let sources = Sources::with_prometheus_api(Some(api.clone())).expect("sources");
    (api, sources)
}

fn shared_target(name: &str, ns: &str, deployment: &str, interval: Duration) -> TargetConfig {
    let mut t = target(name, interval);
    t.metrics.arrival_rate = Some(MetricSource::Shared {
        name: "enqueued".into(),
        query: QUERY.into(),
        labels: [
            ("namespace".to_string(), ns.to_string()),
            ("deployment".to_string(), deployment.to_string()),
        ]
        .into(),
        aggregate: None,
        ignore_null_values: false,
    });
    t.forecast.history = HISTORY;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instant_query_per_interval_serves_every_target_its_own_series() {
    let Some(env) = env("one_instant_query_per_interval_serves_every_target_its_own_series") else {
        return;
    };
    let (api, sources) = counting(env);
    let interval = Duration::from_millis(500);
    let mut targets: Vec<TargetConfig> = QUEUES
        .iter()
        .map(|(ns, d, _)| shared_target(&format!("{ns}-{d}"), ns, d, interval))
        .collect();
    targets.push(shared_target("missing", "shop", "nope", interval));
    // The same missing series, read as 0 where the target says so (`ignoreNullValues`).
    let mut idle = shared_target("idle", "shop", "nope", interval);
    if let Some(MetricSource::Shared {
        ignore_null_values, ..
    }) = &mut idle.metrics.arrival_rate
    {
        *ignore_null_values = true;
    }
    targets.push(idle);
    // Evaluated at the newest sample, where every rate window is full.
    let at = |env: &Env| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(env.end);
    let now = at(env);
    let values = futures::future::join_all(
        targets
            .iter()
            .map(|t| sources.evaluate(t, MetricKind::ArrivalRate, now)),
    )
    .await;
    assert_eq!(api.instant.load(Ordering::SeqCst), 1, "one query for all");
    for ((_, _, rate), evaluation) in QUEUES.iter().zip(&values) {
        let value = evaluation
            .as_ref()
            .expect("configured")
            .value
            .clone()
            .expect("a value");
        assert!((value - rate).abs() < 0.01 * rate, "{value} vs {rate}");
    }
    let missing = values[4].as_ref().expect("configured").value.clone();
    let e = missing.expect_err("no series for shop/nope");
    assert_eq!(e.reason(), "no_data");
    assert!(
        e.to_string()
            .contains(r#"{deployment="nope",namespace="shop"}"#)
            && e.to_string().contains("check the target's `match`"),
        "{e}"
    );
    let idle = values[5].as_ref().expect("configured");
    assert_eq!(idle.value, Ok(0.0));
    assert!(
        idle.warnings.iter().any(|w| w.contains("ignoreNullValues")),
        "{:?}",
        idle.warnings
    );

    // Within the interval: the same result. After it: one more query.
    sources
        .evaluate(&targets[0], MetricKind::ArrivalRate, at(env))
        .await;
    assert_eq!(api.instant.load(Ordering::SeqCst), 1);
    tokio::time::sleep(interval + Duration::from_millis(50)).await;
    for t in &targets {
        sources.evaluate(t, MetricKind::ArrivalRate, at(env)).await;
    }
    assert_eq!(api.instant.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_starting_together_share_one_batched_backfill_of_five_minute_means() {
    let Some(env) =
        env("targets_starting_together_share_one_batched_backfill_of_five_minute_means")
    else {
        return;
    };
    let (api, sources) = counting(env);
    let targets: Vec<TargetConfig> = QUEUES
        .iter()
        .map(|(ns, d, _)| shared_target(&format!("{ns}-{d}"), ns, d, Duration::from_secs(15)))
        .collect();
    let now = SystemTime::now();
    let histories = futures::future::join_all(targets.iter().map(|t| async {
        let mut chunks = sources.history_chunks(t, now);
        let mut samples = Vec::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.expect("history");
            assert_eq!(chunk.step_s, 300.0, "5-minute means");
            samples.extend(chunk.samples);
        }
        samples
    }))
    .await;
    let ranges = api.range.load(Ordering::SeqCst);
    // Six hours of 5-minute points for 4 series: the first hour, then the rest at once.
    assert_eq!(ranges, 2, "one batch for all four targets");
    let start = env.end - HISTORY.as_secs_f64();
    for ((ns, d, rate), history) in QUEUES.iter().zip(&histories) {
        // Every whole 5-minute bucket with a full 10-minute window of data behind it.
        let full: Vec<_> = history
            .iter()
            .filter(|(t, _)| *t >= start + 900.0 && *t <= env.end)
            .collect();
        assert!(full.len() >= 60, "{ns}/{d}: {} buckets", full.len());
        for (t, v) in &full {
            assert_eq!(t % 300.0, 0.0, "on 5-minute boundaries");
            assert!(
                (v - rate).abs() < 0.01 * rate,
                "{ns}/{d} at {t}: {v} vs {rate}"
            );
        }
        // Nothing older than the target's own history.
        assert!(
            history
                .iter()
                .all(|(t, _)| *t >= unix_seconds(now) - HISTORY.as_secs_f64())
        );
    }

    // The same history read per target, at the target's interval, averages to the same.
    let mut own = shared_target("own", "shop", "d2", Duration::from_secs(15));
    own.metrics.arrival_rate = Some(support::promql(
        r#"sum(rate(docs_enqueued_total{namespace="shop",deployment="d2"}[10m]))"#,
    ));
    let per_tick = sources.backfill(&own, now).await.expect("history");
    let (t, batched) = histories[1]
        .iter()
        .copied()
        .find(|(t, _)| *t >= start + 3600.0)
        .expect("a bucket");
    let in_bucket: Vec<f64> = per_tick
        .iter()
        .filter(|(s, _)| *s > t - 300.0 && *s <= t)
        .map(|(_, v)| *v)
        .collect();
    let mean = in_bucket.iter().sum::<f64>() / in_bucket.len() as f64;
    assert!(
        (mean - batched).abs() < 1e-6 * mean.abs().max(1.0),
        "{mean} vs {batched}"
    );
}
