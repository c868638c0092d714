//! Leader election against the API double's Lease semantics, in-process: one leader at a
//! time, a cut-off leader steps down before the Lease can pass on, hand-over on release.

#[path = "support/api_double/mod.rs"]
mod api_double;

use api_double::{ApiDouble, Fault};
use prescale::controller::Health;
use prescale::leader::{LeaderElector, LeaseSettings};
use prescale::telemetry::Telemetry;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

struct Instance {
    leader: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(api: &ApiDouble, dir: &std::path::Path, identity: &str) -> Instance {
    let client = api.client_as(dir, identity).await;
    let settings = LeaseSettings {
        lease_duration: Duration::from_millis(3000),
        renew_deadline: Duration::from_millis(2000),
        retry_period: Duration::from_millis(100),
        ..LeaseSettings::new("prescale-leader".into(), "prescale".into(), identity.into())
    };
    let (tx, rx) = watch::channel(false);
    let (stop, stop_rx) = watch::channel(false);
    let elector = LeaderElector::new(
        client,
        settings,
        tx,
        Arc::new(Telemetry::new()),
        Arc::new(Health::default()),
    );
    Instance {
        leader: rx,
        stop,
        task: tokio::spawn(elector.run(stop_rx)),
    }
}

fn holder(api: &ApiDouble) -> Option<String> {
    api.get("leases", "prescale", "prescale-leader")
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
}

async fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_at_a_time_a_cut_off_leader_steps_down_before_take_over_and_release_on_stop() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start(&api, dir.path(), "a").await;
    wait_for(10, "a leads", || *a.leader.borrow()).await;
    let b = start(&api, dir.path(), "b").await;

    // Watch both flags: they must never be true at once.
    let both = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (ra, rb, both) = (a.leader.clone(), b.leader.clone(), both.clone());
        tokio::spawn(async move {
            loop {
                if *ra.borrow() && *rb.borrow() {
                    both.store(true, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!*b.leader.borrow(), "b must not lead while a renews");
    assert_eq!(holder(&api).as_deref(), Some("a"));

    // a is cut off from the API server (its Lease calls fail) without crashing: it steps
    // down after its renew deadline, before b may take over at the lease's expiry, so there
    // are never two leaders.
    for method in ["GET", "PUT"] {
        api.inject(Fault::status(method, "/leases/", 500, 10_000).for_token("a"));
    }
    wait_for(10, "b takes over", || *b.leader.borrow()).await;
    assert!(!*a.leader.borrow(), "a stepped down");
    let lease = api
        .get("leases", "prescale", "prescale-leader")
        .expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], "b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    watcher.abort();
    assert!(!both.load(Ordering::SeqCst), "two leaders at once");
    // a never got back in while cut off, and b keeps the Lease.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!*a.leader.borrow());
    a.task.abort();
    drop(a.stop);

    // b stops: it releases the Lease, so a successor need not wait for expiry.
    b.stop.send_replace(true);
    b.task.await.expect("b stops");
    assert_eq!(holder(&api), None, "released");
    assert!(!*b.leader.borrow());
    let c = start(&api, dir.path(), "c").await;
    wait_for(10, "c leads at once after the release", || {
        *c.leader.borrow()
    })
    .await;
}
