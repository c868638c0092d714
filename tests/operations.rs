//! Operating prescale next to people, through the real kube client against the API double:
//! decision Events are rate-limited like Kubernetes' event aggregation. (A GitOps tool's
//! reset of `spec.replicas` is a scenario of the fault matrix, `tests/fault_matrix.rs`.)

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;

use api_double::ApiDouble;
use controller_harness::{HEAD, Setup, TEST_SPEED, eventually, start_with};
use metrics_double::SetMetrics;
use std::sync::Arc;

const NS: &str = "shop";

/// The notes of the Events about `object` with `reason`, in creation order.
fn notes(api: &ApiDouble, object: &str, reason: &str) -> Vec<String> {
    api.events_about(object)
        .iter()
        .filter(|e| e["reason"] == reason)
        .filter_map(|e| e["note"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendation_events_are_rate_limited_but_every_turn_is_published() {
    let api = ApiDouble::start().await;
    // Ten replicas running: the recommendation is a release to what each rate needs, with
    // no backlog building while pods would start (in shadow mode none do).
    api.put_deployment(NS, "web", 10, 10);
    // Shadow at test speed (the recommendation is the arrival rate), the default 5-minute
    // Event interval.
    let yaml = format!(
        "{HEAD}  - name: web
    scaleTargetRef: {{ namespace: {NS}, name: web }}
    mode: shadow
{TEST_SPEED}    metrics:
      queueDepth: {{ promql: 'sum(queue_depth)' }}
      arrivalRate: {{ promql: 'sum(rate(arrivals_total[1m]))' }}
"
    );
    // The ramp's first reading is there from the first tick, so the first recommendation
    // (and Event) is its first step, not a hold on readings still missing.
    let readings = Arc::new(SetMetrics::default());
    readings.set("web", 0.0, 2.0);
    let c = start_with(
        &api,
        &yaml,
        Setup {
            metrics: Some(readings),
            ..Setup::default()
        },
    )
    .await;
    let recommends = |n: u64| {
        let c = &c;
        async move {
            c.recommendation("web")
                .await
                .is_some_and(|r| r["recommendedReplicas"] == n)
        }
    };
    // A ramp: 2, 3, 4, 5 documents/s, each recommendation seen before the next.
    for rate in [2u64, 3, 4, 5] {
        c.metrics.set("web", 0.0, rate as f64);
        eventually(10, &format!("recommends {rate}"), || recommends(rate)).await;
    }
    // Then the load falls: a turn, published at once.
    c.metrics.set("web", 0.0, 1.0);
    // The recommendation follows the arrivals of the last lead window down, a step a tick.
    eventually(10, "recommends 1", || recommends(1)).await;
    let published = notes(&api, "web", "Recommendation");
    // The first recommendation, the first move up, none of the rest of the ramp within 5
    // minutes, then the turn (the first step down, published at once), which says how many
    // were held back (the ramp's later steps, and any the core took on the way); the later
    // steps down are held back in their turn.
    assert_eq!(published.len(), 3, "{published:?}");
    let value = |note: &str| -> u64 {
        note.trim_start_matches("recommends ")
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a number")
    };
    assert!(value(&published[1]) > value(&published[0]), "{published:?}");
    assert!(
        value(&published[1]) < 5,
        "the top of the ramp was held back: {published:?}"
    );
    // "... (N smaller change(s) since the last Event not published: events.minInterval)"
    let held_back: f64 = published[2]
        .rsplit(" (")
        .next()
        .filter(|t| t.contains("smaller change(s)"))
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the count held back");
    assert!(held_back >= 2.0, "{}", published[2]);
    assert!(value(&published[2]) < 5, "a step down: {published:?}");
    let suppressed = c
        .metric("prescale_events_suppressed_total{target=\"web\"}")
        .await
        .expect("the suppressed count");
    // The ramp's held-back steps, then the steps down after the turn (at most one per
    // value between the turn and 1; none when the step published as the turn is the one
    // that reaches 1, which depends on where the ticks fall against the readings' changes).
    let after_turn = suppressed - held_back;
    assert!(
        (0.0..=(value(&published[2]) - 1) as f64).contains(&after_turn),
        "{suppressed} suppressed, {held_back} before the turn: {published:?}"
    );
    c.stop().await.expect("clean stop");
}
