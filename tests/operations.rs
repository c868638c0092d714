//! Operating prescale next to GitOps and people, through the real kube client against the
//! API double: a GitOps tool's reset of `spec.replicas` is told from a person's scale by its
//! field manager (written back at once, then left alone if it resets every write), and
//! decision Events are rate-limited like Kubernetes' event aggregation.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;

use api_double::ApiDouble;
use controller_harness::{HEAD, TEST_SPEED, eventually, one_target, start};

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
async fn a_gitops_reset_is_written_back_once_and_a_tool_resetting_every_write_is_left_alone() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let c = start(&api, &one_target("web", "web", "active", 3)).await;
    eventually(10, "prescale scaled to 3", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;

    // Argo CD syncs the manifest's replicas: 1. Not a person: prescale writes 3 back at
    // once (a person's scale would hold writes for 5 minutes), and says how to stop it.
    api.sync_replicas_as(NS, "web", 1, "argocd-controller");
    // The Event is queued by the tick that writes: wait for it too.
    eventually(10, "3 written back after the sync, and said", || async {
        api.replicas(NS, "web") == Some(3)
            && api.scale_writes().len() == 2
            && !notes(&api, "web", "GitOpsReset").is_empty()
    })
    .await;
    let reset = notes(&api, "web", "GitOpsReset");
    assert_eq!(reset.len(), 1, "{reset:?}");
    assert!(
        reset[0].contains("argocd-controller") && reset[0].contains("ignoreDifferences"),
        "{}",
        reset[0]
    );
    assert!(notes(&api, "web", "ManualScale").is_empty());
    assert_eq!(
        c.metric("prescale_gitops_resets_total{target=\"web\"}")
            .await,
        Some(1.0)
    );

    // It resets again: the tool resets every write. prescale stops fighting it.
    api.sync_replicas_as(NS, "web", 1, "argocd-controller");
    eventually(10, "writes left to the GitOps tool, said", || async {
        c.recommendation("web")
            .await
            .is_some_and(|r| r["action"] == "hold:gitops")
            && c.metric("prescale_write_blocked{target=\"web\",kind=\"gitops\"}")
                .await
                == Some(1.0)
            && !notes(&api, "web", "GitOpsConflict").is_empty()
    })
    .await;
    c.more_ticks("web", 5).await;
    assert_eq!(api.replicas(NS, "web"), Some(1));
    assert_eq!(api.scale_writes(), vec![3, 3], "no write while left alone");
    c.stop().await.expect("clean stop");
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
    let c = start(&api, &yaml).await;
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
    // value between the turn and 1).
    let after_turn = suppressed - held_back;
    assert!(
        (1.0..=(value(&published[2]) - 1) as f64).contains(&after_turn),
        "{suppressed} suppressed, {held_back} before the turn: {published:?}"
    );
    c.stop().await.expect("clean stop");
}
