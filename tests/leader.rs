//! Leader election against the API double's Lease semantics, in-process: one leader at a
//! time, a cut-off leader steps down before the Lease can pass on, a renewal slower than
//! the renew deadline ends leadership at the deadline (not when its calls time out one by
//! one), and hand-over on release.

#[path = "support/api_double/mod.rs"]
mod api_double;

use api_double::{ApiDouble, Fault, FaultKind};
use prescale::controller::Health;
use prescale::leader::{LeaderElector, Leadership, LeaseSettings, Term};
use prescale::telemetry::Telemetry;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

struct Instance {
    leader: Leadership,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// Every published term with when it was published, in order.
    terms: Arc<Mutex<Vec<(Instant, Term)>>>,
}

impl Instance {
    fn leads(&self) -> bool {
        self.leader.is_leader()
    }

    /// The instants at which this instance started and stopped leading: (start, end).
    fn leading_spans(&self) -> Vec<(Instant, Option<Instant>)> {
        let mut spans: Vec<(Instant, Option<Instant>)> = Vec::new();
        for (at, term) in self.terms.lock().expect("terms").iter() {
            match term {
                Term::Leading { .. } if spans.last().is_none_or(|s| s.1.is_some()) => {
                    spans.push((*at, None));
                }
                Term::Follower => {
                    if let Some(last) = spans.last_mut()
                        && last.1.is_none()
                    {
                        last.1 = Some(*at);
                    }
                }
                Term::Leading { .. } => {}
            }
        }
        spans
    }
}

async fn start(
    api: &ApiDouble,
    dir: &std::path::Path,
    identity: &str,
    lease: LeaseSettings,
) -> Instance {
    let client = api.client_as(dir, identity).await;
    let settings = LeaseSettings {
        identity: identity.into(),
        ..lease
    };
    settings.validate().expect("valid lease settings");
    let (tx, leader) = prescale::leader::channel();
    let (stop, stop_rx) = watch::channel(false);
    let terms = Arc::new(Mutex::new(Vec::new()));
    // Record each published term the moment it is published.
    {
        let (mut rx, terms) = (leader.clone(), terms.clone());
        tokio::spawn(async move {
            while rx.changed().await {
                terms
                    .lock()
                    .expect("terms")
                    .push((Instant::now(), rx.term()));
            }
        });
    }
    let elector = LeaderElector::new(
        client,
        settings,
        tx,
        Arc::new(Telemetry::new()),
        Arc::new(Health::default()),
    );
    Instance {
        leader,
        stop,
        task: tokio::spawn(elector.run(stop_rx)),
        terms,
    }
}

fn quick() -> LeaseSettings {
    LeaseSettings {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_millis(2000),
        retry_period: Duration::from_millis(100),
        ..LeaseSettings::new("prescale-leader".into(), "prescale".into(), String::new())
    }
}

fn holder(api: &ApiDouble) -> Option<String> {
    api.get("leases", "prescale", "prescale-leader")
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
}

/// Lease requests by `token` answered with `status` (or any status when `None`).
fn lease_requests(api: &ApiDouble, token: &str, method: &str, status: Option<u16>) -> usize {
    api.requests()
        .iter()
        .filter(|r| {
            r.token.as_deref() == Some(token)
                && r.method == method
                && r.path.contains("/leases/")
                && status.is_none_or(|s| r.status == s)
        })
        .count()
}

async fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// No instant at which both led: every span of one ends before a span of the other starts.
fn never_both(a: &Instance, b: &Instance) {
    for (a_start, a_end) in a.leading_spans() {
        for (b_start, b_end) in b.leading_spans() {
            let a_before_b = a_end.is_some_and(|e| e <= b_start);
            let b_before_a = b_end.is_some_and(|e| e <= a_start);
            assert!(
                a_before_b || b_before_a,
                "two leaders at once: a {a_start:?}..{a_end:?}, b {b_start:?}..{b_end:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_at_a_time_a_cut_off_leader_steps_down_before_take_over_and_release_on_stop() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start(&api, dir.path(), "a", quick()).await;
    wait_for(10, "a leads", || a.leads()).await;
    let b = start(&api, dir.path(), "b", quick()).await;

    // While a renews (ten more renewals), b stays a follower.
    let renewals = lease_requests(&api, "a", "PUT", Some(200));
    wait_for(10, "a renews ten times", || {
        lease_requests(&api, "a", "PUT", Some(200)) >= renewals + 10
    })
    .await;
    assert!(b.leading_spans().is_empty(), "b led while a renewed");
    assert_eq!(holder(&api).as_deref(), Some("a"));

    // a is cut off from the API server (its Lease calls fail) without crashing: it steps
    // down after its renew deadline, before b may take over at the lease's expiry.
    for method in ["GET", "PUT"] {
        api.inject(Fault::status(method, "/leases/", 500, 10_000).for_token("a"));
    }
    wait_for(10, "b takes over", || b.leads()).await;
    assert!(!a.leads(), "a stepped down");
    let lease = api
        .get("leases", "prescale", "prescale-leader")
        .expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], "b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    // a keeps trying (five more failed attempts) and never gets back in while cut off.
    let failed = lease_requests(&api, "a", "GET", Some(500));
    wait_for(10, "a tries again", || {
        lease_requests(&api, "a", "GET", Some(500)) >= failed + 5
    })
    .await;
    assert_eq!(a.leading_spans().len(), 1, "a led again while cut off");
    never_both(&a, &b);
    a.task.abort();
    drop(a.stop);

    // b stops: it releases the Lease, so a successor need not wait for expiry.
    b.stop.send_replace(true);
    let b_leadership = b.leader.clone();
    b.task.await.expect("b stops");
    assert_eq!(holder(&api), None, "released");
    assert!(!b_leadership.is_leader());
    let c = start(&api, dir.path(), "c", quick()).await;
    wait_for(10, "c leads at once after the release", || c.leads()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_slower_than_the_deadline_ends_leadership_at_the_deadline() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = LeaseSettings {
        lease_duration: Duration::from_secs(5),
        renew_deadline: Duration::from_secs(3),
        retry_period: Duration::from_millis(200),
        ..quick()
    };
    let a = start(&api, dir.path(), "a", settings.clone()).await;
    wait_for(10, "a leads", || a.leads()).await;
    let b = start(&api, dir.path(), "b", settings.clone()).await;
    wait_for(10, "b has read the Lease", || {
        lease_requests(&api, "b", "GET", Some(200)) > 0
    })
    .await;

    // Each of a's Lease calls now takes 2 s: the read answers (within any per-call
    // timeout of 3 s), the update never does. One deadline for the whole attempt cuts the
    // attempt at the end of a's leadership; a timeout per call would let a lead on for
    // another call's worth of time while b may already take over.
    api.inject(Fault {
        method: Some("GET"),
        path_contains: "/leases/".into(),
        kind: FaultKind::DelayThenServe(Duration::from_secs(2)),
        times: 10_000,
        token: Some("a".into()),
    });
    api.inject(Fault {
        method: Some("PUT"),
        path_contains: "/leases/".into(),
        kind: FaultKind::Delay(Duration::from_secs(30)),
        times: 10_000,
        token: Some("a".into()),
    });
    wait_for(20, "b takes over", || b.leads()).await;

    // a stopped at the deadline it had published (the start of its last successful
    // renewal plus the renew deadline), give or take the scheduler.
    let terms = a.terms.lock().expect("terms").clone();
    let step_down = terms
        .iter()
        .position(|(_, t)| *t == Term::Follower)
        .expect("a stepped down");
    let (ended, _) = terms[step_down];
    let Some((
        _,
        Term::Leading {
            until: Some(until), ..
        },
    )) = step_down.checked_sub(1).map(|i| terms[i])
    else {
        panic!("a's last term before stepping down: {terms:?}");
    };
    assert!(
        ended >= until && ended - until < Duration::from_millis(500),
        "a stepped down {:?} after its deadline",
        ended.saturating_duration_since(until)
    );
    never_both(&a, &b);
    assert!(!a.leads());
    for i in [a, b] {
        i.stop.send_replace(true);
        i.task.abort();
    }
}
