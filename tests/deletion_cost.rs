//! Work-aware scale-down (`podDeletionCost.enabled`), through the real kube client against
//! the API double: before prescale lowers `spec.replicas`, it marks the pods that should go
//! first with `controller.kubernetes.io/pod-deletion-cost`, and only then writes `/scale`.
//! Without per-pod metrics, not-ready pods go first, then the newest; with them (scraped
//! from each pod by the real scrape source), the least busy. A refused mark holds the
//! scale-down and names the grant; marks from an earlier scale-down that no longer apply
//! are cleared; a cost somebody else set is left alone.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/exporter.rs"]
#[allow(dead_code)]
mod exporter;
#[path = "support/metrics_double.rs"]
mod metrics_double;

use api_double::{ApiDouble, Fault};
use controller_harness::{HEAD, TEST_SPEED, eventually, start, start_full};
use exporter::Exporter;
use prescale::actuator::{DELETION_COST_ANNOTATION, PRESCALE_COST_ANNOTATION};
use prescale::config::Config;
use prescale::metrics::{MetricsSource, Sources};
use std::sync::Arc;

const NS: &str = "shop";

/// A target on Deployment `web` at test speed ([`TEST_SPEED`]).
fn target(metrics: &str, extra: &str) -> String {
    format!(
        "  - name: web
    scaleTargetRef: {{ namespace: {NS}, name: web }}
    mode: active
{TEST_SPEED}    minReplicas: 1
    maxReplicas: 20
    podDeletionCost: {{ enabled: true{extra} }}
    metrics:
{metrics}"
    )
}

fn cost(api: &ApiDouble, pod: &str) -> Option<String> {
    api.annotation("pods", NS, pod, DELETION_COST_ANNOTATION)
}

/// Every pod patch came before the scale-down to `to`, which followed them.
fn marked_before_scaling_to(api: &ApiDouble, to: u32) -> bool {
    let Some((scale_at, _)) = api.scale_patches().into_iter().find(|(_, r)| *r == to) else {
        return false;
    };
    let pods = api.pod_patches();
    !pods.is_empty() && pods.iter().all(|(at, _, _)| *at < scale_at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_then_newest_pods_are_marked_before_the_scale_down_and_only_then() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 4, 4);
    api.put_pod_created(
        NS,
        "web-old-1",
        "web",
        "10.0.0.1",
        true,
        "2026-01-01T00:00:00Z",
    );
    api.put_pod_created(
        NS,
        "web-old-2",
        "web",
        "10.0.0.2",
        true,
        "2026-01-01T01:00:00Z",
    );
    api.put_pod_created(
        NS,
        "web-starting",
        "web",
        "10.0.0.3",
        false,
        "2026-01-01T02:00:00Z",
    );
    api.put_pod_created(
        NS,
        "web-new",
        "web",
        "10.0.0.4",
        true,
        "2026-01-01T03:00:00Z",
    );
    // Someone protects old-1 with their own cost: prescale leaves it alone.
    api.with_pod_annotation(NS, "web-old-1", DELETION_COST_ANNOTATION, "1000");
    let yaml = format!(
        "{HEAD}{}",
        target(
            "      queueDepth: { promql: 'sum(queue_depth)' }\n      arrivalRate: { promql: 'sum(rate(arrivals_total[1m]))' }\n",
            ""
        )
    );
    // The marks are refused (no `patch` on pods): the scale-down waits, and says why.
    api.inject(Fault::status("PATCH", "/pods/", 403, 1000));
    let c = start(&api, &yaml).await;
    c.metrics.set("web", 0.0, 2.0);
    eventually(10, "the refused mark reported", || async {
        c.recommendation("web").await.is_some_and(|r| {
            r["error"].as_str().is_some_and(|e| {
                e.contains("403") && e.contains("deploy/overlays/pod-deletion-cost")
            })
        })
    })
    .await;
    assert!(api.scale_patches().is_empty(), "scaled down without marks");
    assert_eq!(api.replicas(NS, "web"), Some(4));

    // Granted: 4 -> 2 removes the pod that is not ready and the newest.
    api.clear_faults();
    eventually(10, "scaled down to 2", || async {
        api.replicas(NS, "web") == Some(2)
    })
    .await;
    assert_eq!(cost(&api, "web-starting").as_deref(), Some("-1000"));
    assert_eq!(cost(&api, "web-new").as_deref(), Some("-999"));
    assert_eq!(cost(&api, "web-old-2"), None);
    assert_eq!(cost(&api, "web-old-1").as_deref(), Some("1000"), "not ours");
    assert!(
        marked_before_scaling_to(&api, 2),
        "marks then /scale: {:?}",
        api.writes()
    );
    assert_eq!(
        api.annotation("pods", NS, "web-new", PRESCALE_COST_ANNOTATION)
            .as_deref(),
        Some("-999"),
        "prescale remembers its own mark"
    );

    // The ReplicaSet removed the two marked pods; a new pod came up on the next scale-up.
    api.delete("pods", NS, "web-starting");
    api.delete("pods", NS, "web-new");
    let patches_before = api.pod_patches().len();
    c.metrics.set("web", 0.0, 3.0);
    eventually(10, "scaled up to 3", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    assert_eq!(
        api.pod_patches().len(),
        patches_before,
        "a scale-up marks nothing: {:?}",
        api.writes()
    );
    api.put_pod_created(
        NS,
        "web-newer",
        "web",
        "10.0.0.5",
        true,
        "2026-01-02T00:00:00Z",
    );

    // 3 -> 2: the newest ready pod goes first.
    c.metrics.set("web", 0.0, 2.0);
    eventually(10, "scaled down to 2 again", || async {
        api.replicas(NS, "web") == Some(2)
    })
    .await;
    assert_eq!(cost(&api, "web-newer").as_deref(), Some("-1000"));
    assert_eq!(cost(&api, "web-old-2"), None);
    c.stop().await.expect("clean stop");
}

/// Three exporters sharing a port on 127.0.0.2-4 (three pods of one Deployment), or `None`
/// when this machine does not route those addresses: then the test says SKIPPED, and fails
/// under `CI=true`.
fn three_pods() -> Option<[Exporter; 3]> {
    match Exporter::start_sharing_port(&["127.0.0.2", "127.0.0.3", "127.0.0.4"]) {
        Ok(pods) => pods.try_into().ok(),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "cannot bind 127.0.0.x ({e}): CI must route 127.0.0.0/8 on lo"
            );
            eprintln!("SKIPPED: cannot bind 127.0.0.x ({e}); this test needs 127.0.0.0/8 on lo");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_per_pod_work_the_least_busy_pods_go_first() {
    let Some([a, b, c]) = three_pods() else {
        return;
    };
    // In-flight documents per pod: a is halfway through a long one.
    a.set_queue_depth(5.0);
    b.set_queue_depth(0.0);
    c.set_queue_depth(2.0);
    let port = a.port();

    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 3, 3);
    api.put_pod(NS, "web-a", "web", "127.0.0.2", true);
    api.put_pod(NS, "web-b", "web", "127.0.0.3", true);
    api.put_pod(NS, "web-c", "web", "127.0.0.4", true);
    // Nothing arrives (the enqueued counter stands still): what waits is the pods' own work.
    let yaml = target(
        &format!(
            "      queueDepth:\n        scrape: {{ pods: {{ port: {port} }}, metric: queue_depth, labels: {{ queue: docs }} }}\n      arrivalRate:\n        scrape: {{ pods: {{ port: {port} }}, metric: documents_enqueued_total, labels: {{ queue: docs }} }}\n"
        ),
        &format!(
            ", inFlight: {{ scrape: {{ pods: {{ port: {port} }}, metric: queue_depth, labels: {{ queue: docs }} }} }}"
        ),
    )
    // 60 s to wait: the 7 documents drain with one replica within it.
    .replace("queueWait: 1s", "queueWait: 60s");
    let factory: prescale::controller::SourceFactory = Arc::new(|c: &Config| {
        Sources::new(c)
            .map(|s| Arc::new(s) as Arc<dyn MetricsSource>)
            .map_err(|e| e.to_string())
    });
    let ctl = start_full(&api, &format!("targets:\n{yaml}"), None, Some(factory)).await;
    // A backlog of 7 drains with one replica within the SLO: 3 -> 1 removes two pods.
    eventually(15, "scaled down to 1", || async {
        api.replicas(NS, "web") == Some(1)
    })
    .await;
    assert_eq!(
        cost(&api, "web-b").as_deref(),
        Some("-1000"),
        "idle goes first"
    );
    assert_eq!(cost(&api, "web-c").as_deref(), Some("-999"));
    assert_eq!(cost(&api, "web-a"), None, "the busy pod is kept");
    assert!(marked_before_scaling_to(&api, 1), "{:?}", api.writes());
    ctl.stop().await.expect("clean stop");
}
