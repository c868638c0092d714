//! The scrape source against a real HTTP exporter. Time is passed in explicitly, so rates are
//! exact and nothing sleeps.

mod support;

use prescale::config::{Aggregate, Config, MetricSource, ScrapeFrom, TargetConfig};
use prescale::metrics::scrape::{ScrapeSource, ScrapeSpec};
use prescale::metrics::{MetricKind, Sources, unix_seconds};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use support::exporter::{Exporter, WAIT_P95};
use support::target;

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn at(seconds: u64) -> SystemTime {
    t0() + Duration::from_secs(seconds)
}

fn docs() -> BTreeMap<String, String> {
    BTreeMap::from([("queue".to_string(), "docs".to_string())])
}

fn scrape(url: &str, metric: &str, quantile: Option<f64>) -> MetricSource {
    MetricSource::Scrape {
        from: ScrapeFrom::Url(url.to_string()),
        metric: metric.to_string(),
        labels: docs(),
        aggregate: None,
        quantile,
    }
}

fn sources() -> Sources {
    Sources::new(&Config::default()).expect("sources")
}

fn scraping(exporter: &Exporter) -> TargetConfig {
    let mut t = target("docs", Duration::from_secs(15));
    t.metrics.queue_depth = Some(scrape(&exporter.url(), "queue_depth", None));
    t.metrics.arrival_rate = Some(scrape(&exporter.url(), "documents_enqueued_total", None));
    t.metrics.wait_p95 = Some(scrape(&exporter.url(), "queue_wait_seconds", Some(0.95)));
    // Completions from the histogram's `_count`, which the page leaves untyped.
    t.metrics.completions = Some(scrape(&exporter.url(), "queue_wait_seconds_count", None));
    t
}

#[tokio::test]
async fn gauges_are_read_counters_become_rates_and_histograms_quantiles() {
    let exporter = Exporter::start();
    let sources = sources();
    let t = scraping(&exporter);
    exporter.set_queue_depth(12.0);
    exporter.set_enqueued(100.0);
    exporter.set_wait_buckets([10.0, 20.0, 30.0, 30.0]);

    let first = sources.read_at(&t, at(0)).await;
    assert_eq!(first.queue_depth, Some(Ok(12.0)));
    let e = first.arrival_rate.expect("configured").unwrap_err();
    assert_eq!(e.reason(), "first_sample", "{e}");
    assert_eq!(
        first.wait_s.expect("configured").unwrap_err().reason(),
        "first_sample"
    );

    // 50 more documents in 10 s; waits in this window: 50 <= 1s, 90 <= 2s, 100 <= 4s.
    exporter.set_enqueued(150.0);
    exporter.set_wait_buckets([60.0, 110.0, 130.0, 130.0]);
    let second = sources.read_at(&t, at(10)).await;
    assert_eq!(second.arrival_rate, Some(Ok(5.0)));
    assert_eq!(second.wait_s, Some(Ok(WAIT_P95)));
    assert_eq!(
        second.completion_rate,
        Some(Ok(10.0)),
        "100 waits ended in 10 s"
    );

    // The process restarted: the counter counts again from zero.
    exporter.set_enqueued(30.0);
    let third = sources.read_at(&t, at(20)).await;
    assert_eq!(third.arrival_rate, Some(Ok(3.0)));
    // No waits observed in this window: no quantile, and no made-up number.
    assert_eq!(
        third.wait_s.expect("configured").unwrap_err().reason(),
        "no_observations"
    );
}

#[tokio::test]
async fn targets_keep_separate_counter_memories() {
    let exporter = Exporter::start();
    let sources = sources();
    let a = scraping(&exporter);
    let mut b = scraping(&exporter);
    b.name = "other".into();
    exporter.set_enqueued(100.0);
    sources.read_at(&a, at(0)).await;
    exporter.set_enqueued(200.0);
    // `b`'s first scrape must not use `a`'s previous value.
    let e = sources
        .read_at(&b, at(10))
        .await
        .arrival_rate
        .unwrap()
        .unwrap_err();
    assert_eq!(e.reason(), "first_sample");
    assert_eq!(
        sources.read_at(&a, at(10)).await.arrival_rate,
        Some(Ok(10.0))
    );
}

#[tokio::test]
async fn several_series_need_an_aggregate() {
    let exporter = Exporter::start();
    exporter.set_queue_depth(7.0);
    let sources = sources();
    let mut t = target("docs", Duration::from_secs(15));
    let all_queues = |aggregate| MetricSource::Scrape {
        from: ScrapeFrom::Url(exporter.url()),
        metric: "queue_depth".into(),
        labels: BTreeMap::new(),
        aggregate,
        quantile: None,
    };
    t.metrics.queue_depth = Some(all_queues(None));
    let e = sources
        .evaluate(&t, MetricKind::QueueDepth, at(0))
        .await
        .unwrap();
    let error = e.value.unwrap_err();
    assert_eq!(error.reason(), "multiple_series");
    assert!(error.to_string().contains(r#"queue="other""#), "{error}");
    t.metrics.queue_depth = Some(all_queues(Some(Aggregate::Sum)));
    let e = sources
        .evaluate(&t, MetricKind::QueueDepth, at(0))
        .await
        .unwrap();
    assert_eq!(e.value, Ok(8.0));
    t.metrics.queue_depth = Some(all_queues(Some(Aggregate::Max)));
    let e = sources
        .evaluate(&t, MetricKind::QueueDepth, at(0))
        .await
        .unwrap();
    assert_eq!(e.value, Ok(7.0));
}

#[tokio::test]
async fn rates_from_several_pods_are_added() {
    let (a, b) = (Exporter::start(), Exporter::start());
    let source = ScrapeSource::new().unwrap();
    let labels = docs();
    let spec = ScrapeSpec {
        metric: "documents_enqueued_total",
        labels: &labels,
        aggregate: Some(Aggregate::Sum),
        quantile: None,
    };
    let urls = [a.url(), b.url()];
    a.set_enqueued(100.0);
    b.set_enqueued(10.0);
    let first = source
        .evaluate("docs/arrivalRate", &urls, &spec, at(0))
        .await;
    assert_eq!(first.value.unwrap_err().reason(), "first_sample");
    a.set_enqueued(150.0);
    b.set_enqueued(30.0);
    let second = source
        .evaluate("docs/arrivalRate", &urls, &spec, at(10))
        .await;
    assert_eq!(second.value, Ok(5.0 + 2.0));
    assert_eq!(second.series.len(), 2, "{:?}", second.series);
}

/// `(instance, URL)` of pods named like the controller names them (`name/uid`).
fn pods(list: &[(&str, &Exporter)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(instance, e)| (instance.to_string(), e.url()))
        .collect()
}

#[tokio::test]
async fn each_pod_keeps_its_own_counters_and_a_gone_pod_is_forgotten() {
    let (a, b) = (Exporter::start(), Exporter::start());
    let source = ScrapeSource::new().unwrap();
    let labels = docs();
    let spec = ScrapeSpec {
        metric: "documents_enqueued_total",
        labels: &labels,
        aggregate: Some(Aggregate::Sum),
        quantile: None,
    };
    let key = "docs/arrivalRate";
    let rate = |e: prescale::metrics::Evaluation| e.value;
    a.set_enqueued(100.0);
    b.set_enqueued(1000.0);
    let both = pods(&[("a/u1", &a), ("b/u1", &b)]);
    let first = source.evaluate_instances(key, &both, &spec, at(0)).await;
    assert_eq!(first.value.unwrap_err().reason(), "first_sample");
    a.set_enqueued(150.0);
    b.set_enqueued(1100.0);
    let r = source.evaluate_instances(key, &both, &spec, at(10)).await;
    assert_eq!(rate(r), Ok(5.0 + 10.0));

    // Pod b is replaced by a new pod (new uid) at the same address, counting from 5: it
    // has no rate until its second scrape, and is neither negative nor read as a reset
    // of the old pod's counter.
    b.set_enqueued(5.0);
    a.set_enqueued(200.0);
    let replaced = pods(&[("a/u1", &a), ("b/u2", &b)]);
    let r = source
        .evaluate_instances(key, &replaced, &spec, at(20))
        .await;
    assert_eq!(rate(r), Ok(5.0));
    a.set_enqueued(250.0);
    b.set_enqueued(25.0);
    let r = source
        .evaluate_instances(key, &replaced, &spec, at(30))
        .await;
    assert_eq!(rate(r), Ok(5.0 + 2.0));

    // Pod b leaves (not ready); a's rate goes on. When b comes back its old value is
    // forgotten: no rate over the time it was away.
    let only_a = pods(&[("a/u1", &a)]);
    a.set_enqueued(300.0);
    let r = source.evaluate_instances(key, &only_a, &spec, at(40)).await;
    assert_eq!(rate(r), Ok(5.0));
    a.set_enqueued(350.0);
    b.set_enqueued(1025.0);
    let r = source
        .evaluate_instances(key, &replaced, &spec, at(50))
        .await;
    assert_eq!(rate(r), Ok(5.0));
}

#[tokio::test]
async fn a_quantile_across_pods_comes_from_their_added_bucket_increases() {
    let (a, b) = (Exporter::start(), Exporter::start());
    let source = ScrapeSource::new().unwrap();
    let labels = docs();
    let spec = |aggregate| ScrapeSpec {
        metric: "queue_wait_seconds",
        labels: &labels,
        aggregate: Some(aggregate),
        quantile: Some(0.95),
    };
    let both = pods(&[("a/u1", &a), ("b/u1", &b)]);
    for (key, aggregate) in [("sum", Aggregate::Sum), ("max", Aggregate::Max)] {
        let first = source
            .evaluate_instances(key, &both, &spec(aggregate), at(0))
            .await;
        assert_eq!(first.value.unwrap_err().reason(), "first_sample");
    }
    // In the window, pod a saw 10 waits <= 1 s and pod b 10 in (2 s, 4 s].
    a.set_wait_buckets([10.0, 10.0, 10.0, 10.0]);
    b.set_wait_buckets([0.0, 0.0, 10.0, 10.0]);
    // Summed by bucket: [10, 10, 20, 20]; rank 19 lies in (2, 4]: 2 + 2 * 9 / 10.
    let sum = source
        .evaluate_instances("sum", &both, &spec(Aggregate::Sum), at(10))
        .await;
    assert_eq!(sum.value, Ok(3.8));
    // `max`: the larger of each pod's own p95 (0.95 and 3.9).
    let max = source
        .evaluate_instances("max", &both, &spec(Aggregate::Max), at(10))
        .await;
    assert_eq!(max.value, Ok(3.9));

    // Next window pod b is idle: it has no quantile of its own and is left out of `max`,
    // and adds nothing to the sum.
    a.set_wait_buckets([20.0, 20.0, 20.0, 20.0]);
    let sum = source
        .evaluate_instances("sum", &both, &spec(Aggregate::Sum), at(20))
        .await;
    assert_eq!(sum.value, Ok(0.95));
    let max = source
        .evaluate_instances("max", &both, &spec(Aggregate::Max), at(20))
        .await;
    assert_eq!(max.value, Ok(0.95));

    // Both idle: no observations, so no quantile.
    let max = source
        .evaluate_instances("max", &both, &spec(Aggregate::Max), at(30))
        .await;
    assert_eq!(max.value.unwrap_err().reason(), "no_observations");
}

#[tokio::test]
async fn garbage_wrong_names_and_wrong_types_are_clear_errors() {
    let exporter = Exporter::start();
    let sources = sources();
    let mut t = target("docs", Duration::from_secs(15));

    t.metrics.queue_depth = Some(scrape(&exporter.url(), "queue_dept", None));
    let e = sources
        .read_at(&t, at(0))
        .await
        .queue_depth
        .unwrap()
        .unwrap_err();
    assert_eq!(e.reason(), "metric_not_found");
    assert!(
        e.to_string().contains("queue_depth"),
        "names what exists: {e}"
    );

    t.metrics.queue_depth = Some(scrape(&exporter.url(), "queue_wait_seconds", None));
    let e = sources
        .read_at(&t, at(0))
        .await
        .queue_depth
        .unwrap()
        .unwrap_err();
    assert_eq!(e.reason(), "wrong_metric_type");
    assert!(e.to_string().contains("quantile"), "{e}");

    t.metrics.queue_depth = Some(scrape(&exporter.url(), "queue_depth", Some(0.5)));
    let e = sources
        .read_at(&t, at(0))
        .await
        .queue_depth
        .unwrap()
        .unwrap_err();
    assert_eq!(e.reason(), "wrong_metric_type");

    exporter.serve_raw(Some("<!doctype html>\n<title>Login</title>\n"));
    t.metrics.queue_depth = Some(scrape(&exporter.url(), "queue_depth", None));
    let e = sources
        .read_at(&t, at(0))
        .await
        .queue_depth
        .unwrap()
        .unwrap_err();
    assert_eq!(e.reason(), "bad_exposition");
    let text = e.to_string();
    assert!(
        text.contains(&exporter.url()) && text.contains("<!doctype html>"),
        "{text}"
    );
}

#[tokio::test]
async fn a_negative_gauge_is_a_metric_error_not_a_zero() {
    let exporter = Exporter::start();
    let mut t = target("docs", Duration::from_secs(15));
    t.metrics.queue_depth = Some(scrape(&exporter.url(), "queue_depth", None));
    exporter.set_queue_depth(-4.0);
    let e = sources()
        .read_at(&t, at(0))
        .await
        .queue_depth
        .expect("configured")
        .expect_err("negative");
    assert_eq!(e.reason(), "negative");
    assert!(
        e.to_string()
            .contains("`queue_depth{queue=\"docs\"}` evaluated to -4"),
        "{e}"
    );
    exporter.set_queue_depth(0.0);
    assert_eq!(
        sources().read_at(&t, at(0)).await.queue_depth,
        Some(Ok(0.0))
    );
}

#[tokio::test]
async fn an_endpoint_that_is_down_is_unreachable() {
    let url = {
        let exporter = Exporter::start();
        exporter.url()
    };
    let mut t = target("docs", Duration::from_secs(15));
    t.metrics.queue_depth = Some(scrape(&url, "queue_depth", None));
    let e = sources()
        .read_at(&t, at(0))
        .await
        .queue_depth
        .unwrap()
        .unwrap_err();
    assert_eq!(e.reason(), "unreachable");
    assert!(e.to_string().contains(&url), "{e}");
}

#[tokio::test]
async fn a_sample_older_than_two_intervals_is_stale() {
    let exporter = Exporter::start();
    let sources = sources();
    let mut t = target("docs", Duration::from_secs(15));
    t.metrics.queue_depth = Some(MetricSource::Scrape {
        from: ScrapeFrom::Url(exporter.url()),
        metric: "queue_depth".into(),
        labels: BTreeMap::new(),
        aggregate: None,
        quantile: None,
    });
    let stamped = |age_s: u64| {
        let ms = (unix_seconds(at(100)) as u64 - age_s) * 1000;
        format!("# TYPE queue_depth gauge\nqueue_depth 5 {ms}\n")
    };
    exporter.serve_raw(Some(&stamped(28)));
    assert_eq!(
        sources.read_at(&t, at(100)).await.queue_depth,
        Some(Ok(5.0))
    );
    exporter.serve_raw(Some(&stamped(31)));
    let e = sources
        .read_at(&t, at(100))
        .await
        .queue_depth
        .unwrap()
        .unwrap_err();
    assert_eq!(e.reason(), "stale", "{e}");
}
