//! Metrics scraped from every ready pod of a target: the real controller lists the
//! Deployment's pods from the API double each tick, and the real scrape source reads two
//! exporters that share a port on different loopback addresses, as two pods of one
//! Deployment do. Pods that are not ready, terminating or of another Deployment are never
//! scraped (their addresses have no server: scraping one would fail every read).

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/exporter.rs"]
#[allow(dead_code)]
mod exporter;
#[path = "support/metrics_double.rs"]
mod metrics_double;
#[path = "support/skip.rs"]
mod skip;

use api_double::ApiDouble;
use controller_harness::{Running, eventually, start_full};
use exporter::Exporter;
use futures::future::BoxFuture;
use prescale::config::{Config, TargetConfig};
use prescale::metrics::{MetricsSource, PodEndpoints, Reading, Sources, TargetReadings};
use std::sync::{Arc, Mutex};

const NS: &str = "shop";

/// The real [`Sources`], keeping the last readings it returned so the test can see them.
struct Recorded {
    inner: Sources,
    last: Arc<Mutex<TargetReadings>>,
}

impl Recorded {
    fn keep(&self, readings: TargetReadings) -> TargetReadings {
        *self.last.lock().expect("lock") = readings.clone();
        readings
    }
}

impl MetricsSource for Recorded {
    fn read<'a>(&'a self, target: &'a TargetConfig) -> BoxFuture<'a, TargetReadings> {
        Box::pin(async move { self.keep(self.inner.read(target).await) })
    }

    fn read_with<'a>(
        &'a self,
        target: &'a TargetConfig,
        pods: &'a PodEndpoints,
    ) -> BoxFuture<'a, TargetReadings> {
        Box::pin(async move { self.keep(self.inner.read_with(target, pods).await) })
    }
}

fn config(port: u16) -> String {
    format!(
        "targets:
  - name: workers
    scaleTargetRef: {{ namespace: {NS}, name: workers }}
    mode: shadow
    interval: 300ms
    metrics:
      queueDepth:
        scrape: {{ pods: {{ port: {port} }}, metric: queue_depth, labels: {{ queue: docs }} }}
      arrivalRate:
        scrape:
          pods: {{ port: {port}, path: /metrics, scheme: http }}
          metric: documents_enqueued_total
          labels: {{ queue: docs }}
      waitP95:
        scrape:
          pods: {{ port: {port} }}
          metric: queue_wait_seconds
          labels: {{ queue: docs }}
          quantile: 0.95
"
    )
}

fn value(r: &Option<Reading>) -> Option<f64> {
    r.as_ref().and_then(|r| r.as_ref().ok().copied())
}

fn close(got: Option<f64>, want: f64, tolerance: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() <= tolerance)
}

/// Wait until the last readings satisfy `cond`, failing with what was read.
async fn readings_until(
    last: &Mutex<TargetReadings>,
    what: &str,
    cond: impl Fn(&TargetReadings) -> bool,
) {
    let ok = || async { cond(&last.lock().expect("lock")) };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while !ok().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last readings: {:?}",
            last.lock().expect("lock")
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn errors(c: &Running, metric: &str, reason: &str) -> f64 {
    c.metric(&format!(
        "prescale_metric_errors_total{{target=\"workers\",metric=\"{metric}\",reason=\"{reason}\"}}"
    ))
    .await
    .unwrap_or(0.0)
}

/// Two exporters on 127.0.0.2 and 127.0.0.3 with one port, or `None` (skipped loudly, a
/// failure under CI) when this machine does not route those loopback addresses.
fn two_pods(test: &str) -> Option<(Exporter, Exporter)> {
    let fix = "this test needs all of 127.0.0.0/8 routed to lo (Linux does so by default)";
    match Exporter::start_sharing_port(&["127.0.0.2", "127.0.0.3"]) {
        Ok(pods) => {
            let [a, b]: [Exporter; 2] = pods.try_into().ok()?;
            Some((a, b))
        }
        Err(e) => {
            skip::skip(test, &format!("cannot bind {e}"), fix);
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ready_pod_is_scraped_and_combined() {
    let Some((a, b)) = two_pods("every_ready_pod_is_scraped_and_combined") else {
        return;
    };
    for pod in [&a, &b] {
        pod.set_timestamps(true);
    }
    a.set_queue_depth(4.0);
    a.set_arrival_rate(3.0);
    // Pod a's waits are all at most 1 s, pod b's all in (2 s, 4 s].
    a.set_wait_rate_as(10.0, [1.0, 1.0, 1.0, 1.0]);
    b.set_queue_depth(6.0);
    b.set_arrival_rate(5.0);
    b.set_wait_rate_as(10.0, [0.0, 0.0, 1.0, 1.0]);

    let api = ApiDouble::start().await;
    api.put_deployment(NS, "workers", 4, 2);
    api.put_pod(NS, "workers-a", "workers", "127.0.0.2", true);
    api.put_pod(NS, "workers-b", "workers", "127.0.0.3", true);
    // Nothing listens at these addresses: scraping any of them would fail the reads.
    api.put_pod(NS, "workers-starting", "workers", "127.0.0.4", false);
    api.put_pod(NS, "workers-leaving", "workers", "127.0.0.5", true);
    api.set_pod_deleting(NS, "workers-leaving");
    api.put_deployment(NS, "other", 1, 1);
    api.put_pod(NS, "other-a", "other", "127.0.0.6", true);

    let last = Arc::new(Mutex::new(TargetReadings::default()));
    let kept = last.clone();
    let factory: prescale::controller::SourceFactory = Arc::new(move |c: &Config| {
        let inner = Sources::new(c).map_err(|e| e.to_string())?;
        Ok(Arc::new(Recorded {
            inner,
            last: kept.clone(),
        }) as Arc<dyn MetricsSource>)
    });
    let c = start_full(&api, &config(a.port()), None, Some(factory)).await;

    // The queue is the pods' sum; arrivals the sum of their rates (3 + 5); the p95 from
    // their merged bucket increases: of 20 waits/s, 10 <= 1 s and 10 in (2, 4], so rank 19
    // lies in (2, 4] at 2 + 2 * (19 - 10) / 10 = 3.8 (each pod's own p95 would be 0.95 and
    // 3.9). Timestamps are whole milliseconds, hence the tolerance.
    readings_until(&last, "the sums over both ready pods", |r| {
        value(&r.queue_depth) == Some(10.0)
            && close(value(&r.arrival_rate), 8.0, 0.2)
            && close(value(&r.wait_s), 3.8, 0.02)
    })
    .await;

    // Pod b stops being ready: only pod a is read, and its rate goes on without a gap.
    api.set_pod_ready(NS, "workers-b", false);
    readings_until(&last, "pod a's values alone", |r| {
        value(&r.queue_depth) == Some(4.0)
            && close(value(&r.arrival_rate), 3.0, 0.1)
            && close(value(&r.wait_s), 0.95, 0.02)
    })
    .await;
    assert_eq!(
        errors(&c, "queueDepth", "unreachable").await,
        0.0,
        "a pod that is not ready, terminating or of another Deployment was scraped"
    );

    // No ready pod at all: the metric is missing, and counted as such.
    api.set_pod_ready(NS, "workers-a", false);
    readings_until(
        &last,
        "no ready pods",
        |r| matches!(&r.queue_depth, Some(Err(e)) if e.reason() == "no_ready_pods"),
    )
    .await;
    eventually(10, "no_ready_pods counted", || async {
        errors(&c, "queueDepth", "no_ready_pods").await >= 1.0
    })
    .await;

    // Pod b is back: its counters start afresh (no rate from before it left), and the sum
    // follows again.
    api.set_pod_ready(NS, "workers-b", true);
    readings_until(&last, "pod b's values alone", |r| {
        value(&r.queue_depth) == Some(6.0) && close(value(&r.arrival_rate), 5.0, 0.15)
    })
    .await;

    c.stop().await.expect("clean stop");
}

/// Pods that cannot be listed (RBAC without `list`/`watch` on pods) make the metric missing,
/// with a reason of its own and what to grant: from the watch cache (the default) and from
/// the list of each tick (`--cluster-reads get`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_pod_list_is_its_own_reason_and_says_what_to_grant() {
    for reads in [
        prescale::controller::ReadMode::Watch,
        prescale::controller::ReadMode::Get,
    ] {
        let api = ApiDouble::start().await;
        api.put_deployment(NS, "workers", 1, 1);
        api.inject(api_double::Fault::status("GET", "/pods", 403, 100_000));
        let last = Arc::new(Mutex::new(TargetReadings::default()));
        let source = Recorded {
            inner: Sources::new(&Config::default()).expect("sources"),
            last: last.clone(),
        };
        let setup = controller_harness::Setup {
            factory: Some(prescale::controller::fixed_source(Arc::new(source))),
            reads,
            ..controller_harness::Setup::default()
        };
        let c = controller_harness::start_with(&api, &config(9), setup).await;
        readings_until(&last, "the pod list refused", |r| {
            matches!(&r.queue_depth, Some(Err(e)) if e.reason() == "pod_list"
                && e.to_string().contains("403") && e.to_string().contains("grant `list` and `watch` on pods"))
        })
        .await;
        c.stop().await.expect("clean stop");
    }
}
