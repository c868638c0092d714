//! End to end: the controller against the API double with load signals: raise the queue,
//! and an active target's replicas rise; a shadow target's do not move, while the
//! recommendation shows in `/recommendations`, the metrics and an Event.
//!
//! The readings come from `SetMetrics`, a test implementation of prescale's own
//! `MetricsSource` trait. Once the real-Prometheus harness (metrics branch) is merged, swap
//! it for the test exporter scraped by a real Prometheus and the Prometheus source: the
//! harness's `start` takes the source in one line, and `c.metrics.set` becomes the
//! exporter's setter.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;

use api_double::ApiDouble;
use controller_harness::{eventually, start};

const NS: &str = "shop";

fn config(mode: &str) -> String {
    format!(
        "prometheus:
  url: http://127.0.0.1:9
targets:
  - name: docs
    scaleTargetRef: {{ namespace: shop, name: docs }}
    mode: {mode}
    interval: 200ms
    minReplicas: 1
    maxReplicas: 20
    startupTime: 30s
    capacity: {{ perReplica: 2.0 }}
    metrics:
      queueDepth: {{ promql: 'sum(docs_queue_depth)' }}
      arrivalRate: {{ promql: 'sum(rate(docs_arrivals_total[1m]))' }}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_the_queue_raises_an_active_targets_replicas() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "docs", 1, 1);
    let c = start(&api, &config("active")).await;
    c.metrics.set("docs", 0.0, 1.0);
    eventually(10, "first decision", || async {
        c.recommendation("docs").await.is_some()
    })
    .await;
    assert_eq!(api.replicas(NS, "docs"), Some(1));

    c.metrics.set("docs", 2000.0, 40.0);
    eventually(30, "replicas rise", || async {
        api.replicas(NS, "docs").is_some_and(|r| r > 1)
    })
    .await;
    assert!(api.event_reasons("docs").contains(&"Rescaled".to_string()));
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_the_queue_in_shadow_mode_only_recommends() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "docs", 1, 1);
    let c = start(&api, &config("shadow")).await;
    c.metrics.set("docs", 2000.0, 40.0);
    eventually(
        30,
        "a recommendation above the current replicas",
        || async {
            c.recommendation("docs")
                .await
                .is_some_and(|r| r["recommendedReplicas"].as_u64().is_some_and(|n| n > 1))
        },
    )
    .await;
    let r = c.recommendation("docs").await.expect("report");
    assert!(!r["reasons"].as_array().expect("reasons").is_empty());
    assert!(
        c.metric("prescale_recommended_replicas{target=\"docs\"}")
            .await
            .is_some_and(|v| v > 1.0)
    );
    assert!(
        api.event_reasons("docs")
            .contains(&"Recommendation".to_string())
    );
    assert_eq!(api.replicas(NS, "docs"), Some(1));
    assert!(api.scale_writes().is_empty());
    c.stop().await.expect("clean stop");
}
