//! Leader faults, with two replicas and the API double's log of every `/scale` write with
//! its writer: a partition between the leader and the API server (in-process), and a
//! leader paused past its lease (SIGSTOP) or killed mid-tick (SIGKILL) as real `prescale
//! run` processes.

use crate::api_double::{ApiDouble, Fault, FaultKind};
use crate::controller_harness::{
    Running, Setup, eventually, leader_and_follower, lease_holder, one_target, quick_lease,
    start_with,
};
use crate::measure::{Figures, NS, Recovery, Row, figures, stop_counting_panics};
use crate::process_harness::{holder, signal, spawn, wait_exit, wait_for};
use std::time::{Duration, Instant};

async fn replica(api: &ApiDouble, identity: &str) -> Running {
    start_with(
        api,
        &one_target("web", "web", "active", 3),
        Setup {
            lease: Some(quick_lease(identity)),
            token: Some(identity.to_string()),
            ..Setup::default()
        },
    )
    .await
}

fn writes_by(api: &ApiDouble) -> Vec<(String, u32)> {
    api.applied_scale_writes()
        .into_iter()
        .map(|w| (w.writer, w.replicas))
        .collect()
}

/// Every request of the leader hangs (Lease renewals, reads, writes): it steps down at its
/// renew deadline, the other replica takes over once the Lease expires, and the old leader
/// comes back as a follower when the partition heals.
pub async fn partition() -> Row {
    let api = ApiDouble::start().await;
    let (a, b) = leader_and_follower(&api, |identity| replica(&api, identity)).await;

    api.inject(Fault {
        method: None,
        path_contains: "/".into(),
        kind: FaultKind::Delay(Duration::from_secs(60)),
        times: 1_000_000,
        token: Some("a".into()),
    });
    let cut = Instant::now();
    a.write_config(&one_target("web", "web", "active", 4));
    b.write_config(&one_target("web", "web", "active", 4));
    // a's admin server is local: it says when a stepped down, which must be before b
    // can take the Lease (the renew deadline, 2 s, is shorter than the lease, 3 s).
    eventually(10, "a steps down", || async {
        a.metric("prescale_is_leader").await == Some(0.0)
    })
    .await;
    let stepped_down = cut.elapsed().as_secs_f64();
    assert_eq!(
        lease_holder(&api).as_deref(),
        Some("a"),
        "a stepped down first"
    );
    eventually(15, "b takes over and scales web to 4", || async {
        lease_holder(&api).as_deref() == Some("b") && api.replicas(NS, "web") == Some(4)
    })
    .await;
    let took = cut.elapsed().as_secs_f64();
    println!("partition: a stepped down after {stepped_down:.1} s, b wrote after {took:.1} s");

    api.clear_faults();
    eventually(15, "a is back, as a follower", || async {
        a.recommendation("web")
            .await
            .is_some_and(|r| r["action"] == "hold:follower")
    })
    .await;
    a.more_ticks("web", 3).await;
    assert_eq!(
        writes_by(&api),
        [("a".to_string(), 3), ("b".to_string(), 4)]
    );
    let row = Row {
        fault: "network partition between the leader and the API server",
        property: "the leader stops acting at its renew deadline; the other replica takes over after the lease; never two writers; the old leader rejoins as a follower",
        measured: "a stepped down (prescale_is_leader 0) while it still held the Lease; /scale writes a:3, b:4; a `hold:follower` once healed".into(),
        figures: Figures {
            panics: stop_counting_panics(b, &["web"]).await,
            ..figures(&api, a, &["web"], 1, None).await
        },
        recovery: Recovery::Seconds { took, bound: 6 },
    };
    api.assert_never_two_writers();
    row
}

/// Two `prescale run` processes (Lease 4 s, renew deadline 3 s, a GET of the Deployment
/// each tick). Paused mid-tick past its lease: a's read of the Deployment is held up and a
/// is stopped (SIGSTOP) while it waits; b takes over and writes; a's read is then answered
/// with the resourceVersion of b's write, which a write would succeed with: a's deadline,
/// checked against the clock before anything else of a has run, stops it. Killed
/// mid-tick: b's write is held up and b killed (SIGKILL); whether or not it lands, a
/// writes only after it took the Lease.
pub async fn killed_and_paused() -> Vec<Row> {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let dir_a = tempfile::tempdir().expect("tempdir");
    let dir_b = tempfile::tempdir().expect("tempdir");
    let a = spawn(&api, dir_a.path(), "a", 3).await;
    wait_for(30, "a leads and scales web to 3", || {
        holder(&api).as_deref() == Some("a") && api.replicas(NS, "web") == Some(3)
    })
    .await;
    let b = spawn(&api, dir_b.path(), "b", 3).await;
    b.more_ticks(3).await;

    // Paused. The Deployment is paused while the configs change (a, leading, wants 5; b
    // wants 4), so that a's held-up read is the tick's last request before its write.
    api.annotate(NS, "web", "prescale.io/paused", "true");
    a.set_min_replicas(5);
    b.set_min_replicas(4);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !a
        .recommendation()
        .await
        .is_some_and(|r| r["recommendedReplicas"] == 5 && r["action"] == "hold:paused")
    {
        assert!(tokio::time::Instant::now() < deadline, "a never wanted 5");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    api.serve_late("a", "GET", "/deployments/web", Duration::from_secs(8));
    wait_for(10, "a's read is held up", || {
        api.delayed_in_flight(Some("a")) == 1
    })
    .await;
    signal(&a.child, libc::SIGSTOP);
    let stopped = Instant::now();
    wait_for(30, "b takes over", || holder(&api).as_deref() == Some("b")).await;
    let paused_took = stopped.elapsed().as_secs_f64();
    api.annotate(NS, "web", "prescale.io/paused", "false");
    wait_for(10, "b scales web to 4", || {
        api.replicas(NS, "web") == Some(4)
    })
    .await;
    wait_for(15, "a's read is answered", || {
        api.delayed_in_flight(Some("a")) == 0
    })
    .await;
    signal(&a.child, libc::SIGCONT);
    a.more_ticks(3).await;
    assert_eq!(api.replicas(NS, "web"), Some(4), "{:?}", writes_by(&api));
    let report = a.recommendation().await.expect("a's report");
    assert_eq!(
        (
            report["recommendedReplicas"].clone(),
            report["action"].clone()
        ),
        (serde_json::json!(5), serde_json::json!("hold:follower"))
    );
    let paused = Row {
        fault: "leader paused past its lease (SIGSTOP mid-tick, read answered late)",
        property: "when it wakes, the old leader's deadline stops its write before anything else runs; never two writers",
        measured: "/scale writes a:3, b:4; a, continued, wants 5 and reports `hold:follower`"
            .into(),
        figures: Figures::of_writes(&api, 1, None),
        recovery: Recovery::Seconds {
            took: paused_took,
            bound: 8,
        },
    };

    // Killed mid-tick.
    api.serve_late(
        "b",
        "PATCH",
        "/deployments/web/scale",
        Duration::from_secs(2),
    );
    b.set_min_replicas(6);
    wait_for(10, "b's write is held up", || {
        api.delayed_in_flight(Some("b")) == 1
    })
    .await;
    a.set_min_replicas(7);
    let mut b = b;
    b.child.kill().expect("SIGKILL");
    let killed = Instant::now();
    wait_exit(&mut b.child, 10).await;
    wait_for(30, "a takes over and scales web to 7", || {
        holder(&api).as_deref() == Some("a") && api.replicas(NS, "web") == Some(7)
    })
    .await;
    let killed_took = killed.elapsed().as_secs_f64();
    wait_for(15, "b's held-up write is over", || {
        api.delayed_in_flight(Some("b")) == 0
    })
    .await;
    let log = writes_by(&api);
    let b_write_landed = log.contains(&("b".into(), 6));
    assert!(
        log == [("a".into(), 3), ("b".into(), 4), ("a".into(), 7)]
            || log
                == [
                    ("a".into(), 3),
                    ("b".into(), 4),
                    ("b".into(), 6),
                    ("a".into(), 7)
                ],
        "{log:?}"
    );
    let panics = u32::from(a.panicked()) + u32::from(b.panicked());
    let killed = Row {
        fault: "leader SIGKILLed mid-tick (its /scale write in flight)",
        property: "the survivor takes over after the lease and writes only after taking the Lease; the dead leader's write, landed or not, precedes it; never two writers",
        measured: "/scale writes a:3, b:4, [b:6 if the in-flight write landed], a:7".into(),
        figures: Figures {
            panics,
            ..Figures::of_writes(&api, 1, None)
        },
        recovery: Recovery::Seconds {
            took: killed_took,
            bound: 8,
        },
    };
    println!("killed mid-tick: b's in-flight write landed: {b_write_landed}");
    api.assert_never_two_writers();
    vec![
        Row {
            figures: Figures {
                panics: u32::from(a.panicked()),
                ..paused.figures
            },
            ..paused
        },
        killed,
    ]
}
