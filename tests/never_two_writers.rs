//! Never two writers, in-process: two controllers with leader election against the API
//! double, which records every `/scale` write with the writer's identity in the order it
//! was applied. Under API delays longer than the renew deadline, no replica's write is
//! applied after another replica's first write to the same Deployment, unless it took the
//! Lease back after that write ([`api_double::ApiDouble::assert_never_two_writers`]):
//!
//! 1. the leader's write is in flight when its renewals hang: leadership ends at its
//!    deadline and the write is cancelled; the other replica takes over and writes;
//! 2. the new leader's read of the Deployment is answered only after its leadership ended
//!    and the other replica took over and wrote, so the read carries the fresh
//!    resourceVersion that a write would succeed with: the deadline, checked right before
//!    writing, stops it.
//!
//! (A leader paused with SIGSTOP or killed mid-tick is `tests/process.rs`.)
//!
//! Both controllers read their Deployment with a GET every tick (`ReadMode::Get`, `prescale
//! run --cluster-reads get`) so that the read of step 2 can be held up; with the default
//! watch caches a tick reads memory, and its only request to the API server before a write
//! is the write itself, which step 1 covers.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;

use api_double::{ApiDouble, Fault, FaultKind};
use controller_harness::{
    Running, Setup, eventually, leader_and_follower, lease_holder, one_target, quick_lease,
    start_with, test_watch_settings,
};
use std::time::Duration;

const NS: &str = "shop";

async fn start(api: &ApiDouble, identity: &str, min: u32) -> Running {
    start_with(
        api,
        &one_target("web", "web", "active", min),
        Setup {
            lease: Some(quick_lease(identity)),
            token: Some(identity.to_string()),
            watch: Some(test_watch_settings()),
            // The API calls' deadline is production's: longer than the delays below, so a
            // held-up request is answered late rather than given up on.
            api_deadline: Some(Duration::from_secs(10)),
            reads: prescale::controller::ReadMode::Get,
            ..Setup::default()
        },
    )
    .await
}

/// Every Lease call of `token` hangs (a partitioned leader): it can no longer renew.
fn hang_lease_calls(api: &ApiDouble, token: &str) {
    for method in ["GET", "PUT"] {
        api.inject(Fault {
            method: Some(method),
            path_contains: "/leases/".into(),
            kind: FaultKind::Delay(Duration::from_secs(60)),
            times: 10_000,
            token: Some(token.into()),
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_write_after_another_replicas_first_write_under_api_delays() {
    let api = ApiDouble::start().await;
    let (a, b) = leader_and_follower(&api, |identity| start(&api, identity, 3)).await;

    // 1. a's next write is held up in the network for 8 s; while it is in flight a's
    //    renewals start to hang. a's leadership ends at its deadline (at most 2 s on) and
    //    the write is cancelled; b takes over once the Lease expires and writes itself.
    api.serve_late(
        "a",
        "PATCH",
        "/deployments/web/scale",
        Duration::from_secs(8),
    );
    a.write_config(&one_target("web", "web", "active", 4));
    b.write_config(&one_target("web", "web", "active", 4));
    eventually(10, "a's write to 4 is in flight", || async {
        api.delayed_in_flight(Some("a")) == 1
    })
    .await;
    let in_flight_since = std::time::Instant::now();
    hang_lease_calls(&api, "a");
    eventually(15, "b takes over and scales web to 4", || async {
        lease_holder(&api).as_deref() == Some("b") && api.replicas(NS, "web") == Some(4)
    })
    .await;
    assert_eq!(a.metric("prescale_is_leader").await, Some(0.0));
    // a's write was cancelled at its renew deadline (at most 2 s in), not answered when
    // the double's 8 s delay ended: a gave up on it. (Per-target counters such as
    // `prescale_scale_writes_total{result="cancelled"}` are the leader's alone, so a
    // follower's are not exported; its report says why it held.)
    eventually(15, "a's held-up write is over", || async {
        api.delayed_in_flight(Some("a")) == 0
    })
    .await;
    assert!(
        in_flight_since.elapsed() < Duration::from_secs(8),
        "a's write in flight was cancelled when its leadership ended, before the double answered it"
    );
    assert!(
        !api.applied_scale_writes()
            .iter()
            .any(|w| w.writer == "a" && w.replicas == 4),
        "a's cancelled write was never applied"
    );
    api.assert_never_two_writers();

    // 2. a can reach the API server again. The Deployment is paused while both get new
    //    configs: b (leading) wants 6, a wants 5. b's next read of the Deployment is held
    //    up for 6 s, b's renewals start to hang and the pause is lifted: b's leadership
    //    ends, a takes over and writes 5, and only then is b's read answered, unpaused and
    //    with the resourceVersion of a's write, which a write of 6 would succeed with. The
    //    deadline, checked right before writing, stops it.
    let lease_reads_of_a = || {
        api.requests()
            .iter()
            .filter(|r| {
                r.token.as_deref() == Some("a") && r.path.contains("/leases/") && r.status == 200
            })
            .count()
    };
    let before = lease_reads_of_a();
    api.clear_faults();
    eventually(10, "a reads the Lease again", || async {
        lease_reads_of_a() > before
    })
    .await;
    api.annotate(NS, "web", "prescale.io/paused", "true");
    a.write_config(&one_target("web", "web", "active", 5));
    b.write_config(&one_target("web", "web", "active", 6));
    eventually(
        10,
        "b, leading, would write 6 but for the pause",
        || async {
            b.recommendation("web")
                .await
                .is_some_and(|r| r["recommendedReplicas"] == 6 && r["action"] == "hold:paused")
        },
    )
    .await;
    api.serve_late("b", "GET", "/deployments/web", Duration::from_secs(6));
    eventually(10, "b's read is held up", || async {
        api.delayed_in_flight(Some("b")) == 1
    })
    .await;
    hang_lease_calls(&api, "b");
    api.annotate(NS, "web", "prescale.io/paused", "false");
    eventually(15, "a takes over and scales web to 5", || async {
        lease_holder(&api).as_deref() == Some("a") && api.replicas(NS, "web") == Some(5)
    })
    .await;
    eventually(15, "b's read is answered", || async {
        api.delayed_in_flight(Some("b")) == 0
    })
    .await;
    // b finishes that tick and two more: it wants 6 and must not write it.
    b.more_ticks("web", 3).await;
    assert_eq!(api.replicas(NS, "web"), Some(5));
    let report = b.recommendation("web").await.expect("report");
    assert_eq!(
        (
            report["recommendedReplicas"].clone(),
            report["action"].clone()
        ),
        (serde_json::json!(6), serde_json::json!("hold:follower"))
    );
    api.assert_never_two_writers();
    let writers: Vec<(String, u32)> = api
        .applied_scale_writes()
        .into_iter()
        .map(|w| (w.writer, w.replicas))
        .collect();
    assert_eq!(
        writers,
        [
            ("a".to_string(), 3),
            ("b".to_string(), 4),
            ("a".to_string(), 5)
        ]
    );

    api.clear_faults();
    for c in [a, b] {
        c.stop().await.expect("clean stop");
    }
}
